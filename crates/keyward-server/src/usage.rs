//! `last_used_at` without a database write per request: uses are remembered in memory and
//! written in one transaction every few seconds (and at shutdown). Lists overlay what is
//! not yet written, so people always see the latest use.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::db::{Db, DbResult, now};

#[derive(Default)]
pub struct UsageTracker {
    pending: Mutex<HashMap<String, i64>>,
}

impl UsageTracker {
    /// Remembers a use of a key or a connection, by id.
    pub fn touch(&self, key_id: &str) {
        let t = now();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match pending.get_mut(key_id) {
            Some(at) => *at = t,
            None => {
                pending.insert(key_id.to_owned(), t);
            }
        }
    }

    /// The newest unwritten use of a key.
    pub fn pending(&self, key_id: &str) -> Option<i64> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).get(key_id).copied()
    }

    /// Writes every remembered use. On failure they are kept for the next try.
    pub async fn flush(&self, db: &Db) -> DbResult<()> {
        let batch: Vec<(String, i64)> = {
            let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.iter().map(|(k, v)| (k.clone(), *v)).collect()
        };
        if batch.is_empty() {
            return Ok(());
        }
        db.record_usage(batch.clone()).await?;
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        for (id, at) in batch {
            if pending.get(&id) == Some(&at) {
                pending.remove(&id);
            }
        }
        Ok(())
    }
}
