//! Config-file changes a person may still take back, by a number they were given: the app's
//! "Undo" after a one-click connect. Held in memory only, so an undo never outlives the
//! session that offered it (the change it names may since have been built on).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;

use crate::agents::{Agent, Wiring};

/// A config file Keyward just changed, and the number to undo it with.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Connected {
    pub undo: u32,
    pub agent: Agent,
    pub path: PathBuf,
    pub entry_name: String,
    /// False when the file already held exactly this entry.
    pub changed: bool,
    /// True when an entry of the same name was replaced, which undo puts back; false when
    /// the entry was added, which undo takes out.
    pub replaced: bool,
}

/// The changes that may still be undone, by number.
#[derive(Debug, Default)]
pub struct Undos {
    inner: Mutex<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    next: u32,
    wirings: HashMap<u32, Wiring>,
}

impl Undos {
    /// Keeps `wiring` for undo and describes it under a new number.
    pub fn offer(&self, wiring: Wiring) -> Connected {
        let mut registry = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let undo = registry.next;
        registry.next = registry.next.wrapping_add(1);
        let connected = Connected {
            undo,
            agent: wiring.agent,
            path: wiring.path.clone(),
            entry_name: wiring.entry_name.clone(),
            changed: wiring.changed,
            replaced: wiring.replaced_an_entry(),
        };
        registry.wirings.insert(undo, wiring);
        connected
    }

    /// The change offered under `undo`, taken out so it is undone at most once.
    pub fn take(&self, undo: u32) -> Option<Wiring> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).wirings.remove(&undo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wiring(entry_name: &str) -> Wiring {
        let json = serde_json::json!({"agent": "cursor", "path": "/tmp/mcp.json", "entry_name": entry_name, "backup": null, "changed": true});
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn each_change_gets_its_own_number_and_is_undone_at_most_once() {
        let undos = Undos::default();
        let first = undos.offer(wiring("keyward-a"));
        let second = undos.offer(wiring("keyward-b"));
        assert_ne!(first.undo, second.undo);
        assert_eq!((first.entry_name.as_str(), first.changed, first.replaced), ("keyward-a", true, false));
        assert_eq!(undos.take(second.undo).map(|w| w.entry_name), Some("keyward-b".into()));
        assert!(undos.take(second.undo).is_none(), "a change is undone once");
        assert_eq!(undos.take(first.undo).map(|w| w.entry_name), Some("keyward-a".into()));
    }
}
