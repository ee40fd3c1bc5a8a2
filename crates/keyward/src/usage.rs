//! Which assistant used which key on this computer: per key, per client (the name and version
//! an MCP client gives in `initialize`, or the program `keyward run` started), per day, the
//! calls, the errors and the last call. A small SQLite file in the data folder, readable by
//! its owner only, holding no secret and no arguments, and bounded: days older than
//! [`KEEP_DAYS`] are dropped as new ones are written.
//!
//! The key service knows when a key was last used; this knows by whom, here.

use std::path::Path;

use keyward_core::Timestamp;
use rusqlite::{Connection, params};
use serde::Serialize;
use time::OffsetDateTime;

/// How many days of usage are kept.
pub const KEEP_DAYS: i64 = 90;

#[derive(Debug, thiserror::Error)]
#[error("The usage record could not be read or written ({0}). Check that Keyward's data folder is writable.")]
pub struct UsageError(String);

impl From<rusqlite::Error> for UsageError {
    fn from(e: rusqlite::Error) -> Self {
        UsageError(e.to_string())
    }
}

/// One key's use by one client on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct UsageRow {
    pub key_id: String,
    /// `Claude Code 2.1.3`, `keyward run: ./export.sh`, …
    pub client: String,
    /// The day, `YYYY-MM-DD` (UTC).
    pub day: String,
    pub calls: u32,
    pub errors: u32,
    pub last_call: Timestamp,
}

pub struct Usage {
    conn: Connection,
}

impl Usage {
    /// Opens (or creates, owner-only) the record at `path`.
    pub fn open(path: &Path) -> Result<Usage, UsageError> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|e| UsageError(e.to_string()))?;
        }
        let conn = Connection::open(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| UsageError(e.to_string()))?;
        }
        // Several bridges write at once: each waits its turn rather than failing.
        conn.busy_timeout(std::time::Duration::from_secs(2))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS usage (
                server TEXT NOT NULL, key_id TEXT NOT NULL, client TEXT NOT NULL, day TEXT NOT NULL,
                calls INTEGER NOT NULL, errors INTEGER NOT NULL, last_call INTEGER NOT NULL,
                PRIMARY KEY (server, key_id, client, day))",
        )?;
        Ok(Usage { conn })
    }

    /// Counts one call (an error if `ok` is false) by `client` with `key_id` at `at`.
    pub fn record(&self, server: &str, key_id: &str, client: &str, ok: bool, at: OffsetDateTime) -> Result<(), UsageError> {
        let day = day_of(at);
        let client: String = client.chars().filter(|c| !c.is_control()).take(120).collect();
        let calls: i64 = self.conn.query_row(
            "INSERT INTO usage (server, key_id, client, day, calls, errors, last_call) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)
             ON CONFLICT (server, key_id, client, day) DO UPDATE SET
               calls = calls + 1, errors = errors + excluded.errors, last_call = max(last_call, excluded.last_call)
             RETURNING calls",
            params![server, key_id, client, day, i64::from(!ok), at.unix_timestamp()],
            |r| r.get(0),
        )?;
        // Old days can only have become old when a new day's row was started: prune then, not
        // on every call the bridge relays.
        if calls == 1 {
            let oldest = day_of(at - time::Duration::days(KEEP_DAYS));
            self.conn.execute("DELETE FROM usage WHERE day < ?1", params![oldest])?;
        }
        Ok(())
    }

    /// The usage of one key (or every key) of `server`, newest day first.
    pub fn rows(&self, server: &str, key_id: Option<&str>) -> Result<Vec<UsageRow>, UsageError> {
        let mut statement = self.conn.prepare(
            "SELECT key_id, client, day, calls, errors, last_call FROM usage
             WHERE server = ?1 AND (?2 IS NULL OR key_id = ?2) ORDER BY day DESC, last_call DESC",
        )?;
        let rows = statement.query_map(params![server, key_id], |r| {
            Ok(UsageRow {
                key_id: r.get(0)?,
                client: r.get(1)?,
                day: r.get(2)?,
                calls: r.get(3)?,
                errors: r.get(4)?,
                last_call: Timestamp::from_unix(r.get(5)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn day_of(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}-{:02}", at.year(), u8::from(at.month()), at.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_per_key_client_and_day_and_old_days_go() {
        let dir = tempfile::tempdir().unwrap();
        let usage = Usage::open(&dir.path().join("usage.db")).unwrap();
        let now = OffsetDateTime::now_utc();
        let long_ago = now - time::Duration::days(KEEP_DAYS + 5);
        usage.record("https://k", "K1", "old client", true, long_ago).unwrap();
        usage.record("https://k", "K1", "Claude Code 2.1", true, now).unwrap();
        usage.record("https://k", "K1", "Claude Code 2.1", false, now).unwrap();
        usage.record("https://k", "K1", "Cursor 1.0", true, now).unwrap();
        usage.record("https://k", "K2", "Cursor 1.0", true, now).unwrap();
        let rows = usage.rows("https://k", Some("K1")).unwrap();
        let summary: Vec<(&str, u32, u32)> = rows.iter().map(|r| (r.client.as_str(), r.calls, r.errors)).collect();
        assert!(summary.contains(&("Claude Code 2.1", 2, 1)) && summary.contains(&("Cursor 1.0", 1, 0)), "{summary:?}");
        assert_eq!(rows.len(), 2, "the day past the limit was dropped");
        assert_eq!(usage.rows("https://k", None).unwrap().len(), 3);
        assert!(usage.rows("https://other", None).unwrap().is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(dir.path().join("usage.db")).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
