//! The verifier mirror: a SQLite copy of the store's key records (hashes and status, never
//! secrets), synced incrementally from `/api/mirror`, that answers "is this key good?"
//! offline and says how old its answer is.
//!
//! A repeat verification of the same key does not pay argon2 again: after a secret matches
//! its hash, the mirror keeps a salted SHA-256 digest of it (the salt is random per mirror
//! file), which confirms that exact secret and nothing else.

use std::path::{Path, PathBuf};

use keyward_core::wire::{KeyRecord, MirrorPage, Person};
use keyward_core::timestamp::unix_now;
use keyward_core::{ApiKey, KeyFacts, KeyStatus, Scopes, Timestamp, hashing};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::client::{ApiClient, ClientError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mirror_meta (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    salt BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS stores (
    server TEXT NOT NULL,
    store_id TEXT NOT NULL,
    store_name TEXT NOT NULL,
    brand TEXT NOT NULL,
    cursor TEXT NOT NULL,
    synced_at INTEGER NOT NULL,
    PRIMARY KEY (server, store_id)
);
CREATE TABLE IF NOT EXISTS keys (
    server TEXT NOT NULL,
    id TEXT NOT NULL,
    store_id TEXT NOT NULL,
    key_prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes TEXT NOT NULL,
    expires_at INTEGER,
    is_active INTEGER NOT NULL,
    revoked_at INTEGER,
    revokes_at INTEGER,
    updated_at INTEGER NOT NULL,
    verified_digest BLOB,
    PRIMARY KEY (server, id)
);
-- The last key list this machine fetched (labels, creators, last use: no secrets, no hashes),
-- so the app can still show which key is which while the key service is out of reach.
CREATE TABLE IF NOT EXISTS listed_keys (
    server TEXT NOT NULL,
    store_id TEXT NOT NULL,
    id TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (server, id)
);
";

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("The verifier mirror at {path} cannot be used ({detail}). Delete the file and run `keyward mirror sync` to rebuild it.")]
    Storage { path: PathBuf, detail: String },
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// What the mirror knows of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verdict {
    Malformed { reason: String },
    /// The mirror has no key with this id (it may be newer than the last sync, or of a store
    /// this machine has not synced).
    Unknown,
    /// The id is known but the secret is not that key's.
    WrongSecret { key_prefix: String },
    Revoked { key_prefix: String, at: Timestamp },
    Expired { key_prefix: String, at: Timestamp },
    Deactivated { key_prefix: String },
    Valid { key_prefix: String, scopes: Scopes },
}

impl Verdict {
    pub fn is_valid(&self) -> bool {
        matches!(self, Verdict::Valid { .. })
    }

    /// The key's prefix, when the mirror knows the key.
    pub fn key_prefix(&self) -> Option<&str> {
        match self {
            Verdict::Malformed { .. } | Verdict::Unknown => None,
            Verdict::WrongSecret { key_prefix }
            | Verdict::Revoked { key_prefix, .. }
            | Verdict::Expired { key_prefix, .. }
            | Verdict::Deactivated { key_prefix }
            | Verdict::Valid { key_prefix, .. } => Some(key_prefix),
        }
    }

    /// Whether the mirror knows this key cannot work, so nothing should be sent with it. An
    /// unknown key is not refused: it may be newer than the last sync, and the service decides.
    pub fn refuses(&self) -> bool {
        matches!(self, Verdict::Revoked { .. } | Verdict::Expired { .. } | Verdict::Deactivated { .. } | Verdict::WrongSecret { .. })
    }

    /// A sentence for people, naming the key and what to do.
    pub fn sentence(&self) -> String {
        match self {
            Verdict::Malformed { reason } => reason.clone(),
            Verdict::Unknown => "The mirror does not know this key. Run `keyward mirror sync`, or check the key was copied whole.".into(),
            Verdict::WrongSecret { key_prefix } => format!("This is not the secret of {key_prefix}; the key is not valid. Copy the key again."),
            Verdict::Revoked { key_prefix, .. } => format!("The key {key_prefix} was revoked. Create a new key in Keyward and connect it again."),
            Verdict::Expired { key_prefix, .. } => format!("The key {key_prefix} has expired. Create a new key in Keyward and connect it again."),
            Verdict::Deactivated { key_prefix } => format!("The key {key_prefix} is deactivated. Reactivate it in Keyward to use it again."),
            Verdict::Valid { key_prefix, scopes } => format!("The key {key_prefix} is valid ({}).", scopes.label().to_lowercase()),
        }
    }
}

/// A verdict and how old the knowledge behind it is.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Verification {
    #[serde(flatten)]
    pub verdict: Verdict,
    /// When the store this key belongs to was last synced, if known.
    pub synced_at: Option<Timestamp>,
    pub age_seconds: Option<i64>,
    /// The key's status when the secret is this key's (rotating out included, which the
    /// verdict counts as valid).
    pub key_status: Option<KeyStatus>,
}

/// How a store's mirror stands.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StoreMirror {
    pub server: String,
    pub store_id: String,
    pub store_name: String,
    pub keys: i64,
    pub synced_at: Timestamp,
    pub age_seconds: i64,
}

/// What a sync did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SyncReport {
    pub changed: usize,
    pub keys: i64,
    pub cursor: String,
}

pub struct Mirror {
    conn: Connection,
    path: PathBuf,
    salt: Vec<u8>,
}

impl Mirror {
    /// Opens (creating if needed) the mirror file.
    pub fn open(path: &Path) -> Result<Mirror, MirrorError> {
        let fail = |e: &dyn std::fmt::Display| MirrorError::Storage { path: path.to_owned(), detail: e.to_string() };
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|e| fail(&e))?;
        }
        let conn = Connection::open(path).map_err(|e| fail(&e))?;
        // Hashes only, but nobody else on the machine has any business reading them.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| fail(&e))?;
        }
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| fail(&e))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| fail(&e))?;
        conn.execute_batch(SCHEMA).map_err(|e| fail(&e))?;
        let salt: Option<Vec<u8>> = conn.query_row("SELECT salt FROM mirror_meta", [], |r| r.get(0)).optional().map_err(|e| fail(&e))?;
        let salt = match salt {
            Some(salt) => salt,
            None => {
                let mut salt = vec![0u8; 32];
                rand::fill(&mut salt[..]);
                conn.execute("INSERT OR IGNORE INTO mirror_meta (singleton, salt) VALUES (1, ?1)", [&salt]).map_err(|e| fail(&e))?;
                conn.query_row("SELECT salt FROM mirror_meta", [], |r| r.get(0)).map_err(|e| fail(&e))?
            }
        };
        Ok(Mirror { conn, path: path.to_owned(), salt })
    }

    fn storage(&self, e: rusqlite::Error) -> MirrorError {
        MirrorError::Storage { path: self.path.clone(), detail: e.to_string() }
    }

    /// The cursor to sync `store_id` of `server` from.
    pub fn cursor(&self, server: &str, store_id: &str) -> Result<String, MirrorError> {
        let cursor: Option<String> = self
            .conn
            .query_row("SELECT cursor FROM stores WHERE server = ?1 AND store_id = ?2", [server, store_id], |r| r.get(0))
            .optional()
            .map_err(|e| self.storage(e))?;
        Ok(cursor.unwrap_or_else(|| "0".into()))
    }

    /// Writes one page of changes and its cursor, in one transaction.
    pub fn apply(&mut self, server: &str, page: &MirrorPage) -> Result<usize, MirrorError> {
        let path = self.path.clone();
        let fail = move |e: rusqlite::Error| MirrorError::Storage { path: path.clone(), detail: e.to_string() };
        let tx = self.conn.transaction().map_err(&fail)?;
        let result = (|| -> rusqlite::Result<usize> {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO keys (server, id, store_id, key_prefix, secret_hash, scopes, expires_at, is_active, revoked_at, revokes_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (server, id) DO UPDATE SET store_id = ?3, key_prefix = ?4,
                    verified_digest = CASE WHEN secret_hash = ?5 THEN verified_digest ELSE NULL END,
                    secret_hash = ?5, scopes = ?6, expires_at = ?7, is_active = ?8, revoked_at = ?9, revokes_at = ?10, updated_at = ?11",
            )?;
            for r in &page.records {
                upsert.execute(params![
                    server,
                    r.id,
                    page.store.id,
                    r.key_prefix,
                    r.secret_hash,
                    r.scopes.to_db(),
                    r.expires_at.map(|t| t.unix_timestamp()),
                    r.is_active,
                    r.revoked_at.map(|t| t.unix_timestamp()),
                    r.revokes_at.map(|t| t.unix_timestamp()),
                    r.updated_at.unix_timestamp(),
                ])?;
            }
            drop(upsert);
            tx.execute(
                "INSERT INTO stores (server, store_id, store_name, brand, cursor, synced_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (server, store_id) DO UPDATE SET store_name = ?3, brand = ?4, cursor = ?5, synced_at = ?6",
                params![server, page.store.id, page.store.name, page.store.brand, page.cursor, unix_now()],
            )?;
            Ok(page.records.len())
        })();
        let n = result.map_err(&fail)?;
        tx.commit().map_err(&fail)?;
        Ok(n)
    }

    /// Fetches every change past the stored cursor from the signed-in `client`.
    pub async fn sync(&mut self, client: &ApiClient, store_id: &str) -> Result<SyncReport, MirrorError> {
        let server = client.server().to_owned();
        let mut cursor = self.cursor(&server, store_id)?;
        let mut changed = 0;
        loop {
            let page = client.mirror(&cursor).await?;
            changed += self.apply(&server, &page)?;
            cursor = page.cursor.clone();
            if !page.has_more {
                break;
            }
        }
        let keys = self.count(&server, store_id)?;
        Ok(SyncReport { changed, keys, cursor })
    }

    fn count(&self, server: &str, store_id: &str) -> Result<i64, MirrorError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM keys WHERE server = ?1 AND store_id = ?2", [server, store_id], |r| r.get(0))
            .map_err(|e| self.storage(e))
    }

    /// Every store this mirror holds, with its age.
    pub fn stores(&self) -> Result<Vec<StoreMirror>, MirrorError> {
        let mut stmt = self
            .conn
            .prepare("SELECT s.server, s.store_id, s.store_name, s.synced_at, (SELECT COUNT(*) FROM keys k WHERE k.server = s.server AND k.store_id = s.store_id) FROM stores s ORDER BY s.synced_at DESC")
            .map_err(|e| self.storage(e))?;
        let t = unix_now();
        let rows = stmt
            .query_map([], |r| {
                let synced: i64 = r.get(3)?;
                Ok(StoreMirror {
                    server: r.get(0)?,
                    store_id: r.get(1)?,
                    store_name: r.get(2)?,
                    synced_at: Timestamp::from_unix(synced),
                    age_seconds: (t - synced).max(0),
                    keys: r.get(4)?,
                })
            })
            .map_err(|e| self.storage(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.storage(e))
    }

    /// Answers offline whether `key` is good, and how old that answer is.
    /// `server`, if given, narrows the lookup to one key service.
    pub fn verify(&self, key: &str, server: Option<&str>) -> Result<Verification, MirrorError> {
        let key = match ApiKey::parse(key.trim()) {
            Ok(key) => key,
            Err(e) => {
                return Ok(Verification { verdict: Verdict::Malformed { reason: e.to_string() }, synced_at: None, age_seconds: None, key_status: None });
            }
        };
        let id = key.id();
        let row = self
            .conn
            .query_row(
                "SELECT k.server, k.key_prefix, k.secret_hash, k.scopes, k.expires_at, k.is_active, k.revoked_at, k.revokes_at,
                        k.verified_digest, s.synced_at
                 FROM keys k JOIN stores s ON s.server = k.server AND s.store_id = k.store_id
                 WHERE k.id = ?1 AND s.brand = ?2 AND (?3 IS NULL OR k.server = ?3)
                 ORDER BY s.synced_at DESC LIMIT 1",
                params![id.as_str(), key.brand(), server],
                |r| {
                    Ok(Row {
                        server: r.get(0)?,
                        key_prefix: r.get(1)?,
                        secret_hash: r.get(2)?,
                        scopes: r.get(3)?,
                        expires_at: r.get(4)?,
                        is_active: r.get(5)?,
                        revoked_at: r.get(6)?,
                        revokes_at: r.get(7)?,
                        digest: r.get(8)?,
                        synced_at: r.get(9)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.storage(e))?;
        let Some(row) = row else {
            return Ok(Verification { verdict: Verdict::Unknown, synced_at: None, age_seconds: None, key_status: None });
        };
        let digest = self.digest(key.secret());
        let matched = match &row.digest {
            Some(stored) if bool::from(stored.as_slice().ct_eq(&digest)) => true,
            _ => {
                let ok = hashing::verify_secret(key.secret(), &row.secret_hash);
                if ok {
                    self.conn
                        .execute("UPDATE keys SET verified_digest = ?3 WHERE server = ?1 AND id = ?2", params![row.server, id.as_str(), digest])
                        .map_err(|e| self.storage(e))?;
                }
                ok
            }
        };
        let t = unix_now();
        let key_prefix = row.key_prefix.clone();
        let mut key_status = None;
        let verdict = if !matched {
            Verdict::WrongSecret { key_prefix }
        } else {
            // Decided now, from the facts as last synced: an overlap or an expiry may have
            // ended since.
            let facts = KeyFacts::from_unix(row.revoked_at, row.revokes_at, row.expires_at, row.is_active);
            let at = Timestamp::from_unix(t).get();
            let status = KeyStatus::of(&facts, at);
            key_status = Some(status);
            match status {
                KeyStatus::Revoked => Verdict::Revoked { key_prefix, at: facts.revoked_since(at).unwrap_or(at).into() },
                KeyStatus::Expired => Verdict::Expired { key_prefix, at: facts.expired_since(at).unwrap_or(at).into() },
                KeyStatus::Deactivated => Verdict::Deactivated { key_prefix },
                KeyStatus::Active | KeyStatus::RotatingOut => {
                    Verdict::Valid { key_prefix, scopes: Scopes::from_db(&row.scopes).unwrap_or_else(Scopes::read_only) }
                }
            }
        };
        Ok(Verification { verdict, synced_at: Some(Timestamp::from_unix(row.synced_at)), age_seconds: Some((t - row.synced_at).max(0)), key_status })
    }

    /// Records that this machine revoked a key, so the mirror knows before the next sync.
    pub fn mark_revoked(&self, server: &str, id: &str, at: Timestamp) -> Result<(), MirrorError> {
        self.conn
            .execute("UPDATE keys SET revoked_at = ?3 WHERE server = ?1 AND id = ?2", params![server, id, at.unix()])
            .map(|_| ())
            .map_err(|e| self.storage(e))
    }

    /// Remembers the key records just fetched for `store_id`. Records are only added or
    /// replaced: a listing without revoked keys does not forget their labels.
    pub fn remember_listing(&mut self, server: &str, store_id: &str, records: &[KeyRecord]) -> Result<(), MirrorError> {
        let path = self.path.clone();
        let fail = move |e: rusqlite::Error| MirrorError::Storage { path: path.clone(), detail: e.to_string() };
        let tx = self.conn.transaction().map_err(&fail)?;
        {
            let mut insert = tx.prepare("INSERT OR REPLACE INTO listed_keys (server, store_id, id, record) VALUES (?1, ?2, ?3, ?4)").map_err(&fail)?;
            for record in records {
                let json = serde_json::to_string(record).expect("a key record always serialises");
                insert.execute(params![server, store_id, record.id, json]).map_err(&fail)?;
            }
        }
        tx.commit().map_err(&fail)
    }

    /// The store's keys as this machine last knew them, for showing while offline: status
    /// (scopes, expiry, active, revoked) from the mirror, decided now by [`KeyStatus::of`],
    /// labels from the last listing. A key the mirror has but no listing named gets its prefix
    /// as its label.
    pub fn offline_keys(&self, server: &str, store_id: &str) -> Result<Vec<KeyRecord>, MirrorError> {
        let t = unix_now();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT k.id, k.key_prefix, k.scopes, k.expires_at, k.is_active, k.revoked_at, k.revokes_at, k.updated_at, l.record
                 FROM keys k LEFT JOIN listed_keys l ON l.server = k.server AND l.id = k.id
                 WHERE k.server = ?1 AND k.store_id = ?2",
            )
            .map_err(|e| self.storage(e))?;
        let rows = stmt
            .query_map([server, store_id], |r| {
                let listed: Option<String> = r.get(8)?;
                let mut record = listed.and_then(|json| listed_record(&json)).unwrap_or_else(|| KeyRecord {
                    id: String::new(),
                    name: String::new(),
                    key_prefix: String::new(),
                    scopes: Scopes::read_only(),
                    created_by: Person { name: String::new(), email: String::new() },
                    created_device: None,
                    created_at: Timestamp::from_unix(r.get::<_, i64>(7).unwrap_or_default()),
                    last_used_at: None,
                    expires_at: None,
                    is_active: true,
                    revoked_at: None,
                    revoked_by: None,
                    revokes_at: None,
                    status: KeyStatus::Active,
                });
                record.id = r.get(0)?;
                record.key_prefix = r.get(1)?;
                if record.name.is_empty() {
                    record.name = record.key_prefix.clone();
                }
                let scopes: String = r.get(2)?;
                record.scopes = Scopes::from_db(&scopes).unwrap_or_else(Scopes::read_only);
                record.expires_at = r.get::<_, Option<i64>>(3)?.map(Timestamp::from_unix);
                record.is_active = r.get(4)?;
                record.revoked_at = r.get::<_, Option<i64>>(5)?.map(Timestamp::from_unix);
                record.revokes_at = r.get::<_, Option<i64>>(6)?.map(Timestamp::from_unix);
                record.status = KeyStatus::of(&record.facts(), Timestamp::from_unix(t).get());
                Ok(record)
            })
            .map_err(|e| self.storage(e))?;
        let mut records = rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.storage(e))?;
        records.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.id.cmp(&b.id)));
        Ok(records)
    }

    fn digest(&self, secret: &str) -> Vec<u8> {
        let mut hasher = Sha256::new();
        hasher.update(&self.salt);
        hasher.update(secret.as_bytes());
        hasher.finalize().to_vec()
    }
}

/// A record remembered by [`Mirror::remember_listing`]. One written before records carried a
/// status still gives its labels: the status is decided again from the mirror anyway.
fn listed_record(json: &str) -> Option<KeyRecord> {
    let mut value: serde_json::Value = serde_json::from_str(json).ok()?;
    let fields = value.as_object_mut()?;
    fields.entry("status").or_insert_with(|| serde_json::json!(KeyStatus::Active));
    serde_json::from_value(value).ok()
}

struct Row {
    server: String,
    key_prefix: String,
    secret_hash: String,
    scopes: String,
    expires_at: Option<i64>,
    is_active: bool,
    revoked_at: Option<i64>,
    revokes_at: Option<i64>,
    digest: Option<Vec<u8>>,
    synced_at: i64,
}

#[cfg(test)]
mod tests {
    use keyward_core::wire::{MirrorRecord, StoreInfo};
    use time::{Duration, OffsetDateTime};

    use super::*;

    fn record(id: &str, revokes_at: Option<OffsetDateTime>) -> MirrorRecord {
        MirrorRecord {
            id: id.into(),
            key_prefix: format!("kw_{id}"),
            secret_hash: String::new(),
            scopes: Scopes::read_only(),
            expires_at: None,
            is_active: true,
            revoked_at: None,
            revokes_at: revokes_at.map(Timestamp::from),
            updated_at: Timestamp::now(),
        }
    }

    #[test]
    fn offline_keys_decide_their_status_now_and_read_listings_without_one() {
        let folder = tempfile::tempdir().unwrap();
        let mut mirror = Mirror::open(&folder.path().join("mirror.sqlite3")).unwrap();
        let store = StoreInfo { id: "st".into(), name: "Shop".into(), brand: "kw".into(), subscription_active: true };
        let t = OffsetDateTime::now_utc();
        let records = vec![record("Ended000", Some(t - Duration::seconds(5))), record("Overlap0", Some(t + Duration::hours(1))), record("Plain000", None)];
        mirror.apply("https://s.test", &MirrorPage { store, records, cursor: "3".into(), has_more: false }).unwrap();
        // A listing remembered by a release whose records had no status yet.
        let old_listing = r#"{"id":"Plain000","name":"CI bot","key_prefix":"kw_Plain000","scopes":["read"],
            "created_by":{"name":"Ada","email":"ada@x.test"},"created_device":null,"created_at":"2026-01-01T00:00:00Z",
            "last_used_at":null,"expires_at":null,"is_active":true,"revoked_at":null,"revoked_by":null,"revokes_at":null}"#;
        mirror
            .conn
            .execute("INSERT INTO listed_keys (server, store_id, id, record) VALUES ('https://s.test', 'st', 'Plain000', ?1)", [old_listing])
            .unwrap();
        let keys = mirror.offline_keys("https://s.test", "st").unwrap();
        let status = |id: &str| keys.iter().find(|k| k.id == id).map(|k| (k.name.clone(), k.status)).unwrap();
        assert_eq!(status("Ended000"), ("kw_Ended000".into(), KeyStatus::Revoked), "an overlap that has ended is a revocation");
        assert_eq!(status("Overlap0"), ("kw_Overlap0".into(), KeyStatus::RotatingOut));
        assert_eq!(status("Plain000"), ("CI bot".into(), KeyStatus::Active), "the old listing still gives the label");
    }
}
