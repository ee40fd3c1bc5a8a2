//! The SQLite backend: the embedded default, one file serving one node.
//!
//! The file runs in WAL mode with `synchronous=FULL`: once a call returns, its change survives
//! the process being killed. SQLite calls block, so every call runs on tokio's blocking pool:
//! one writer connection (SQLite allows one writer at a time anyway) and a few readers that WAL
//! lets run alongside it.

mod audit;
mod authorization;
mod catalog;
mod connections;
mod keys;
mod oauth_clients;
mod sessions;
mod stores;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags};

use super::{CONSENT_SECRET, DbError, DbResult, Timed, fresh_secret, now};
use crate::problems::Problem;

pub(crate) use super::records::Actor;

/// Migrations in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/sqlite/0001_init.sql"),
    include_str!("../../../migrations/sqlite/0002_security_review.sql"),
    include_str!("../../../migrations/sqlite/0003_oauth_clients.sql"),
    include_str!("../../../migrations/sqlite/0004_oauth_authorization.sql"),
];
const READERS: usize = 3;

/// The key service's database in a SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// How many times a key row was read to authenticate a request (see [`Store::key_lookups`](super::Store::key_lookups)).
    key_lookups: std::sync::atomic::AtomicU64,
    /// The key the consent form's CSRF token is signed with (see [`crate::oauth::csrf`]).
    consent_key: Vec<u8>,
    metrics: crate::metrics::DbMetrics,
}

/// A 256-bit secret of the service by name, made on first use and kept in the database so
/// every instance shares it.
fn service_secret(conn: &Connection, name: &str) -> DbResult<Vec<u8>> {
    conn.execute("INSERT OR IGNORE INTO service_secrets (name, value) VALUES (?1, ?2)", rusqlite::params![name, fresh_secret()])?;
    Ok(conn.query_row("SELECT value FROM service_secrets WHERE name = ?1", [name], |r| r.get(0))?)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> DbResult<SqliteStore> {
        owner_only(path)?;
        let mut writer = Connection::open(path)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        configure(&writer)?;
        migrate(&mut writer)?;
        let consent_key = service_secret(&writer, CONSENT_SECRET)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            configure(&reader)?;
            readers.push(Mutex::new(reader));
        }
        let metrics = crate::metrics::DbMetrics::default();
        // The writer and the readers stay open for the life of the store.
        metrics.open.set(i64::try_from(1 + READERS).unwrap_or(i64::MAX));
        metrics.max.set(i64::try_from(1 + READERS).unwrap_or(i64::MAX));
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
                key_lookups: std::sync::atomic::AtomicU64::new(0),
                consent_key,
                metrics,
            }),
        })
    }

    /// Runs `f` on a reader connection on the blocking pool.
    pub(crate) async fn read<T, F>(&self, f: F) -> DbResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> DbResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        let _timer = Timed::start(&self.inner.metrics, "read");
        tokio::task::spawn_blocking(move || {
            let start = inner.next_reader.fetch_add(1, Ordering::Relaxed);
            // Take the first idle reader, else wait for the one it is our turn for.
            for offset in 0..inner.readers.len() {
                let slot = &inner.readers[(start + offset) % inner.readers.len()];
                if let Ok(conn) = slot.try_lock() {
                    return f(&conn);
                }
            }
            let conn = inner.readers[start % inner.readers.len()]
                .lock()
                .map_err(|e| DbError::Worker(e.to_string()))?;
            f(&conn)
        })
        .await
        .map_err(|e| DbError::Worker(e.to_string()))?
    }

    /// Runs a point lookup (one row by primary key: microseconds) on an idle reader right
    /// here, saving the hop to the blocking pool that dominates so short a query; when every
    /// reader is busy it goes through [`SqliteStore::read`] like any other read. For the lookups on the
    /// path of every authenticated request, nothing longer.
    pub(crate) async fn lookup<T, F>(&self, f: F) -> DbResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> DbResult<T> + Send + 'static,
    {
        for slot in &self.inner.readers {
            if let Ok(conn) = slot.try_lock() {
                return f(&conn);
            }
        }
        self.read(f).await
    }

    /// Runs `f` inside one immediate transaction on the writer, committing if it returns `Ok`
    /// and rolling back otherwise, so a failed request changes nothing.
    pub(crate) async fn write<T, F>(&self, f: F) -> DbResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> DbResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        let _timer = Timed::start(&self.inner.metrics, "write");
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.writer.lock().map_err(|e| DbError::Worker(e.to_string()))?;
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
        .map_err(|e| DbError::Worker(e.to_string()))?
    }

    pub(crate) fn count_key_lookup(&self) {
        self.inner.key_lookups.fetch_add(1, Ordering::Relaxed);
    }

}

#[async_trait]
impl super::Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn consent_key(&self) -> &[u8] {
        &self.inner.consent_key
    }

    /// Reads and writes are timed, queueing included; a point lookup that finds an idle reader
    /// (the authentication fast path) is not, to keep that path free of locks.
    fn metrics(&self) -> &crate::metrics::DbMetrics {
        &self.inner.metrics
    }

    fn key_lookups(&self) -> u64 {
        self.inner.key_lookups.load(Ordering::Relaxed)
    }

    /// One process serves a SQLite file, so its counts are all there is.
    fn is_shared(&self) -> bool {
        false
    }

    async fn share_counts(&self, _limiter: String, _window: i64, _ends_at: i64, _changes: Vec<(Vec<u8>, i64)>) -> DbResult<Vec<(Vec<u8>, i64)>> {
        Ok(Vec::new())
    }

    async fn forget_counts(&self, _before: i64) -> DbResult<u64> {
        Ok(0)
    }

    async fn ping(&self) -> DbResult<()> {
        self.read(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?)).await
    }

    /// The brand this database's keys carry, fixed the first time it is served.
    /// Returns an error if it was created for another brand.
    async fn ensure_brand(&self, brand: &str) -> DbResult<()> {
        let brand = brand.to_owned();
        self.write(move |tx| {
            let existing: Option<String> = tx
                .query_row("SELECT brand FROM deployment", [], |r| r.get(0))
                .optional()?;
            match existing {
                Some(b) if b == brand => Ok(()),
                Some(found) => Err(DbError::Invalid(Problem::OtherBrand { found, wanted: brand })),
                None => {
                    tx.execute(
                        "INSERT INTO deployment (singleton, brand, created_at) VALUES (1, ?1, ?2)",
                        rusqlite::params![brand, now()],
                    )?;
                    Ok(())
                }
            }
        })
        .await
    }
}

/// Makes the database file readable by its owner alone before SQLite opens it: created 0600 if
/// missing, tightened if others could read it. SQLite gives the `-wal` and `-shm` files it
/// creates beside it the database file's mode, so they follow. The file holds key hashes,
/// password hashes and token digests, which no other user of the machine should read.
fn owner_only(path: &Path) -> DbResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let io = |e: std::io::Error| DbError::Invalid(Problem::FileNotUsable { path: path.to_owned(), detail: e.to_string() });
        match std::fs::metadata(path) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                tracing::warn!(path = %path.display(), "the database file was readable by others; making it owner-only");
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
                for suffix in ["-wal", "-shm", "-journal"] {
                    let side = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
                    if side.exists() {
                        std::fs::set_permissions(&side, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
                    }
                }
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
                    Ok(_) => {}
                    // Another process made it a moment ago; SQLite will open that one.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io(e)),
                }
            }
            Err(e) => return Err(io(e)),
        }
    }
    Ok(())
}

fn migrate(conn: &mut Connection) -> DbResult<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(DbError::Invalid(Problem::NewerSchema { found: version, known: MIGRATIONS.len() }));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

pub(crate) use super::random_id;
pub(crate) use rusqlite::OptionalExtension;
