//! Where Keyward wired each key on this machine, so that revoking or rotating a key finds
//! every entry it wrote: those in a file given with `--config PATH` as well as those in the
//! assistants' usual files. One small JSON file in the data folder, readable by its owner
//! only, holding no secret: which service and key, which assistant, which file, which entry.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Agent, ConfigError, file};

/// One entry Keyward wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The key service's origin: key ids are unique within one service.
    pub server: String,
    pub key_id: String,
    pub agent: Agent,
    /// Absolute, so it names the same file whatever folder a later command runs in.
    pub path: PathBuf,
    pub entry_name: String,
}

impl Placement {
    pub fn new(server: &str, key_id: &str, agent: Agent, path: &Path, entry_name: &str) -> Placement {
        Placement {
            server: server.to_owned(),
            key_id: key_id.to_owned(),
            agent,
            path: std::path::absolute(path).unwrap_or_else(|_| path.to_owned()),
            entry_name: entry_name.to_owned(),
        }
    }

    fn is_for(&self, server: &str, key_id: &str) -> bool {
        self.server == server && self.key_id == key_id
    }
}

/// The record file (`wired.json` in the data folder).
#[derive(Debug, Clone)]
pub struct Record {
    path: PathBuf,
}

/// The placements in the record's text. A damaged record is read as empty: it only helps
/// find entries, and the assistants' usual files are searched regardless.
fn parse(text: Option<&str>) -> Vec<Placement> {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
}

impl Record {
    pub fn at(path: PathBuf) -> Record {
        Record { path }
    }

    /// The entries recorded for a key.
    pub fn for_key(&self, server: &str, key_id: &str) -> Vec<Placement> {
        self.of_server(server).into_iter().filter(|p| p.key_id == key_id).collect()
    }

    /// Every entry recorded for keys of `server`.
    pub fn of_server(&self, server: &str) -> Vec<Placement> {
        let text = std::fs::read_to_string(&self.path).ok();
        parse(text.as_deref()).into_iter().filter(|p| p.server == server).collect()
    }

    /// Remembers an entry (before it is written, so no entry goes unrecorded).
    pub fn add(&self, placement: Placement) -> Result<(), ConfigError> {
        self.change(|placements| {
            if placements.contains(&placement) {
                return false;
            }
            placements.push(placement);
            true
        })
    }

    /// Forgets the entries of `key_id` that `which` picks.
    pub fn forget(&self, server: &str, key_id: &str, which: impl Fn(&Placement) -> bool) -> Result<(), ConfigError> {
        self.change(|placements| {
            let before = placements.len();
            placements.retain(|p| !(p.is_for(server, key_id) && which(p)));
            placements.len() != before
        })
    }

    /// Applies `edit` under the file's lock; it says whether it changed anything.
    fn change(&self, edit: impl FnOnce(&mut Vec<Placement>) -> bool) -> Result<(), ConfigError> {
        let mode = file::WriteMode { owner_only: true, skip_backup: true };
        file::update(&self.path, mode, |text| {
            let mut placements = parse(text);
            if !edit(&mut placements) {
                return Ok(file::Change::Keep);
            }
            serde_json::to_string_pretty(&placements).map(file::Change::Write).map_err(|e| ConfigError::Io(e.to_string()))
        })
        .map(|_| ())
        .map_err(|e| {
            ConfigError::Io(format!(
                "Keyward could not note where it wrote the entry in {} ({e}). Check that the folder is writable.",
                self.path.display()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_remembered_per_key_and_forgotten_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record::at(dir.path().join("wired.json"));
        let here = Placement::new("https://k.example", "Ab12Cd34", Agent::Codex, Path::new("/tmp/a.toml"), "keyward-a");
        let there = Placement::new("https://k.example", "Ab12Cd34", Agent::ClaudeCode, Path::new("/tmp/b.json"), "keyward-a");
        let other_service = Placement::new("https://other.example", "Ab12Cd34", Agent::Codex, Path::new("/tmp/a.toml"), "keyward-a");
        for p in [&here, &here, &there, &other_service] {
            record.add(p.clone()).unwrap();
        }
        assert_eq!(record.for_key("https://k.example", "Ab12Cd34"), [here.clone(), there.clone()], "each once, of this service only");
        record.forget("https://k.example", "Ab12Cd34", |p| p == &here).unwrap();
        assert_eq!(record.for_key("https://k.example", "Ab12Cd34"), [there]);
        record.forget("https://k.example", "Ab12Cd34", |_| true).unwrap();
        assert!(record.for_key("https://k.example", "Ab12Cd34").is_empty());
        assert_eq!(record.for_key("https://other.example", "Ab12Cd34"), [other_service]);
    }

    #[test]
    fn a_damaged_record_reads_as_empty_and_is_replaced_on_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("wired.json"), "{not json").unwrap();
        let record = Record::at(dir.path().join("wired.json"));
        assert!(record.for_key("https://k.example", "Ab12Cd34").is_empty());
        let here = Placement::new("https://k.example", "Ab12Cd34", Agent::Codex, Path::new("relative.toml"), "keyward-a");
        assert!(here.path.is_absolute());
        record.add(here.clone()).unwrap();
        assert_eq!(record.for_key("https://k.example", "Ab12Cd34"), [here]);
    }
}
