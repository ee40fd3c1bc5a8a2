//! All storage, behind one interface with one implementation per backend.
//!
//! Handlers, authentication and MCP hold a [`Db`] (`Arc<dyn Store>`) and call domain methods
//! on it (`create_key`, `key_for_auth`, …); they never see SQL or learn the backend:
//!
//! - [`sqlite`]: the embedded default, one file, one node.
//! - [`postgres`]: several instances behind a load balancer on one shared database.
//!
//! Which one serves is chosen by [`Database`]: a file path (or nothing) keeps SQLite, a
//! `postgres://` URL selects PostgreSQL. The rules live above this module and are shared; see
//! [`store`] for the interface and what each backend must keep.

mod records;
mod store;
pub mod postgres;
pub mod sqlite;
pub mod transfer;

use std::path::PathBuf;
use std::sync::Arc;

use crate::problems::Problem;

pub use crate::key_rules::ACTIVE_KEY_LIMIT;
pub use postgres::{PgError, PgStore};
pub use records::*;
pub use sqlite::SqliteStore;
pub use store::{AuditStore, AuthorizationStore, CatalogStore, ClientStore, ConnectionStore, KeyStore, MerchantStore, SessionStore, Store};

/// The key service's database, whichever backend serves it. The storage traits' methods are
/// callable on it without importing them, as on any trait object.
pub type Db = Arc<dyn Store>;

/// What storage can go wrong with, as far as callers need to tell apart.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Postgres(#[from] PgError),
    #[error("the database worker stopped: {0}")]
    Worker(String),
    /// The request cannot be carried out as asked; the problem says why and what to do.
    #[error("{0}")]
    Invalid(Problem),
    #[error("not found")]
    NotFound,
    /// The store already has the most active keys it may have.
    #[error("active key limit reached")]
    ActiveKeyLimit,
    /// The change conflicts with the row's state (e.g. changing a revoked key).
    #[error("{0}")]
    Conflict(Problem),
    /// The password changed, or the person was removed, while a sign-in was being checked.
    #[error("the credentials changed during sign-in")]
    CredentialsChanged,
    /// A freshly generated id is taken; the caller generates another.
    #[error("id taken")]
    IdTaken,
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        DbError::Postgres(PgError::from(e))
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// Where the service keeps its data: `--database` or `KEYWARD_DATABASE_URL`. Its `Debug`
/// never shows a password (see [`Database::describe`]).
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL URL, `postgres://user:password@host:port/database`.
    Postgres(String),
}

impl Database {
    /// `postgres://…` or `postgresql://…` selects PostgreSQL; `sqlite:PATH` or a plain path
    /// keeps SQLite.
    pub fn parse(value: &str) -> Database {
        let lower = value.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Database::Postgres(value.to_owned())
        } else {
            Database::Sqlite(PathBuf::from(value.strip_prefix("sqlite:").unwrap_or(value)))
        }
    }

    /// The database for messages: the path, or `user@host:port/database` (never a password).
    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite(path) => path.display().to_string(),
            Database::Postgres(url) => postgres::describe_url(url),
        }
    }

    /// Opens the database and brings its schema up to date (PostgreSQL migrations take turns
    /// between instances started together). A newer schema is refused and left alone.
    pub async fn open(&self) -> DbResult<Db> {
        Ok(match self {
            Database::Sqlite(path) => {
                let path = path.clone();
                let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                    .await
                    .map_err(|e| DbError::Worker(e.to_string()))??;
                Arc::new(store)
            }
            Database::Postgres(url) => Arc::new(PgStore::open(url).await?),
        })
    }
}

/// Opens a SQLite file as the service's database (what `Database::Sqlite(path).open()` does,
/// without a runtime: for tools and tests that set a service up by hand).
pub fn open_sqlite(path: &std::path::Path) -> DbResult<Db> {
    Ok(Arc::new(SqliteStore::open(path)?))
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(_) => write!(f, "Sqlite({})", self.describe()),
            Database::Postgres(_) => write!(f, "Postgres({})", self.describe()),
        }
    }
}

impl std::str::FromStr for Database {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Database::parse(s))
    }
}

/// A database call in progress: counted as in use until dropped, then timed.
pub(crate) struct Timed<'a> {
    metrics: &'a crate::metrics::DbMetrics,
    kind: &'static str,
    started: std::time::Instant,
}

impl<'a> Timed<'a> {
    pub(crate) fn start(metrics: &'a crate::metrics::DbMetrics, kind: &'static str) -> Self {
        metrics.in_use.inc();
        Timed { metrics, kind, started: std::time::Instant::now() }
    }
}

impl Drop for Timed<'_> {
    fn drop(&mut self) {
        self.metrics.in_use.dec();
        self.metrics.observe(self.kind, self.started.elapsed());
    }
}

/// Now, in the Unix seconds the database keeps (the one clock, from `keyward_core`).
pub use keyward_core::timestamp::unix_now as now;

/// A random identifier for rows people see in URLs (devices, connections, users, stores):
/// unguessable, so ids cannot be enumerated.
pub(crate) fn random_id(prefix: &str) -> String {
    use rand::RngExt;
    let mut rng = rand::rand_core::UnwrapErr(rand::rngs::SysRng);
    let body: String = (0..16)
        .map(|_| keyward_core::base62::ALPHABET[rng.random_range(0..62)] as char)
        .collect();
    format!("{prefix}_{body}")
}

/// 32 fresh random bytes: a service secret (see `consent_key`) made on first use.
pub(crate) fn fresh_secret() -> Vec<u8> {
    use rand::RngExt;
    let mut fresh = [0u8; 32];
    rand::rand_core::UnwrapErr(rand::rngs::SysRng).fill(&mut fresh);
    fresh.to_vec()
}

/// The name of the consent form's signing secret in `service_secrets`.
pub(crate) const CONSENT_SECRET: &str = "consent_form";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_url_selects_postgres_and_anything_else_is_a_sqlite_file() {
        assert_eq!(Database::parse("postgres://u@h/db"), Database::Postgres("postgres://u@h/db".into()));
        assert_eq!(Database::parse("PostgreSQL://u@h/db"), Database::Postgres("PostgreSQL://u@h/db".into()));
        assert_eq!(Database::parse("sqlite:/var/lib/k.db"), Database::Sqlite("/var/lib/k.db".into()));
        assert_eq!(Database::parse("keyward.db"), Database::Sqlite("keyward.db".into()));
    }

    #[test]
    fn a_database_url_never_shows_its_password() {
        let database = Database::parse("postgres://keyward:hunter22@db.internal:5432/keyward");
        for shown in [format!("{database:?}"), database.describe()] {
            assert!(!shown.contains("hunter22") && shown.contains("keyward@db.internal:5432/keyward"), "{shown}");
        }
    }
}
