//! The PostgreSQL backend, for several instances of the service on one shared database.
//!
//! A deadpool pool over tokio-postgres; every [`Store`](super::Store) method is one
//! transaction at READ COMMITTED, and the places where instances could race take a lock for it:
//!
//! - creating, reactivating or rotating a key locks the store's row (`FOR NO KEY UPDATE`, which
//!   leaves foreign-key checks free) before the ten-key count, so creates for one store on
//!   different instances take turns; uninstall and a sign-out that revokes keys take it first too;
//! - a one-time credential (connection code, authorization code, refresh token) is read
//!   `FOR UPDATE`, so a second use on another instance waits for the first and then sees it spent;
//! - `change_seq`, the mirror feed's cursor, is assigned under a transaction-level advisory
//!   lock, so values commit in order and a mirror never skips one committed late.
//!
//! Nothing that decides whether a credential works is kept in one instance's memory.

mod audit;
mod authorization;
mod catalog;
mod connections;
mod keys;
mod oauth_clients;
mod sessions;
mod stores;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Transaction};
use tokio_postgres::NoTls;

use super::{CONSENT_SECRET, DbError, DbResult, Timed, fresh_secret, now};
use crate::problems::Problem;

/// The PostgreSQL schema's migrations, in order; `schema_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_schema.sql"),
    include_str!("../../../migrations/postgres/0002_rate_counts.sql"),
];

/// The advisory lock migrations hold, so instances started together migrate one at a time
/// ("keyward" in ASCII, then 1).
const MIGRATION_LOCK: i64 = 0x6b65_7977_6172_6401;

/// The most connections one instance keeps open.
const POOL_SIZE: usize = 16;

/// What can go wrong reaching or preparing a PostgreSQL database; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("The database address is not a valid PostgreSQL URL ({0}). Give one like postgres://user:password@host:5432/keyward.")]
    BadUrl(String),
    #[error("PostgreSQL at {target} does not answer ({detail}). Check that it runs and that the address, user and password are right.")]
    Unreachable { target: String, detail: String },
    #[error("The database's schema is version {found}, newer than this keyward-server knows ({known}). Run the newer keyward-server, or restore a backup made for this one.")]
    NewerSchema { found: i32, known: usize },
    #[error("PostgreSQL refused a statement: {0}")]
    Query(#[from] tokio_postgres::Error),
    #[error("Could not take a database connection from the pool: {0}")]
    Pool(String),
}

impl PgError {
    /// The server cannot be reached or the connection dropped: worth retrying, not a bug.
    pub fn is_unavailable(&self) -> bool {
        match self {
            PgError::Unreachable { .. } | PgError::Pool(_) => true,
            PgError::Query(e) => e.is_closed() || std::error::Error::source(e).is_some_and(|cause| cause.is::<std::io::Error>()),
            PgError::BadUrl(_) | PgError::NewerSchema { .. } => false,
        }
    }
}

/// A pool of connections to the database at `url` (`postgres://…`), checked by one round trip.
pub async fn connect(url: &str) -> Result<Pool, PgError> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| PgError::BadUrl(e.to_string()))?;
    // An instance frozen mid-transaction (paused VM, half-open connection) must not hold the
    // locks every other instance's writes wait for: the server ends such a transaction, a lock
    // wait gives up with an error instead of hanging, and dead peers are noticed.
    let options = [config.get_options().unwrap_or_default(), "-c lock_timeout=10s -c idle_in_transaction_session_timeout=30s"].join(" ");
    config.options(options.trim());
    config.keepalives(true).keepalives_idle(std::time::Duration::from_secs(30)).connect_timeout(std::time::Duration::from_secs(5));
    let target = describe(&config);
    let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    let pool = Pool::builder(manager).max_size(POOL_SIZE).build().map_err(|e| PgError::Pool(e.to_string()))?;
    let client = pool.get().await.map_err(|e| PgError::Unreachable { target: target.clone(), detail: e.to_string() })?;
    client.simple_query("SELECT 1").await.map_err(|e| PgError::Unreachable { target, detail: e.to_string() })?;
    Ok(pool)
}

/// `user@host:port/database` for a URL, never the password, for messages.
pub fn describe_url(url: &str) -> String {
    match url.parse::<tokio_postgres::Config>() {
        Ok(config) => describe(&config),
        Err(_) => "an unreadable PostgreSQL URL".into(),
    }
}

/// `user@host:port/database`, never the password, for messages.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{}@{host}:{port}/{}", config.get_user().unwrap_or("?"), config.get_dbname().unwrap_or("?"))
}

/// How a migration run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    pub from: usize,
    pub to: usize,
}

/// Brings the schema up to date, each migration in its own transaction, under an advisory
/// lock so that instances started together take turns (the second finds nothing left to do).
/// A schema newer than this build knows is refused, and nothing is changed.
pub async fn migrate(pool: &Pool) -> Result<Migrated, PgError> {
    let mut client = pool.get().await.map_err(|e| PgError::Pool(e.to_string()))?;
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
    let outcome = migrate_locked(&mut client).await;
    // Unlocked whatever happened; a lost connection releases it anyway.
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await;
    outcome
}

async fn migrate_locked(client: &mut deadpool_postgres::Object) -> Result<Migrated, PgError> {
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS schema_version (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), version INTEGER NOT NULL)")
        .await?;
    let found: i32 = client.query_opt("SELECT version FROM schema_version", &[]).await?.map_or(0, |row| row.get(0));
    let from = usize::try_from(found).unwrap_or(0);
    if from > MIGRATIONS.len() {
        return Err(PgError::NewerSchema { found, known: MIGRATIONS.len() });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(from) {
        let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_version (singleton, version) VALUES (1, $1) ON CONFLICT (singleton) DO UPDATE SET version = excluded.version",
            &[&version],
        )
        .await?;
        tx.commit().await?;
    }
    Ok(Migrated { from, to: MIGRATIONS.len() })
}

/// The key service's database on PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    consent_key: Vec<u8>,
    key_lookups: AtomicU64,
    metrics: crate::metrics::DbMetrics,
}

/// A transaction's body: borrows the transaction, returns a boxed future (the closure form
/// `async` blocks can take while `Store` is an object-safe trait).
pub(crate) type TxBody<'t, T> = std::pin::Pin<Box<dyn std::future::Future<Output = DbResult<T>> + Send + 't>>;

impl PgStore {
    /// Connects, brings the schema up to date (instances started together take turns) and
    /// reads the service's shared secrets.
    pub async fn open(url: &str) -> DbResult<PgStore> {
        let pool = connect(url).await?;
        migrate(&pool).await?;
        let consent_key = {
            let client = pool.get().await.map_err(|e| PgError::Pool(e.to_string()))?;
            // The first instance makes it; every later one (and every restart) reads that one.
            client
                .execute("INSERT INTO service_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", &[&CONSENT_SECRET, &fresh_secret()])
                .await?;
            client.query_one("SELECT value FROM service_secrets WHERE name = $1", &[&CONSENT_SECRET]).await?.get::<_, Vec<u8>>(0)
        };
        let metrics = crate::metrics::DbMetrics::default();
        metrics.max.set(i64::try_from(POOL_SIZE).unwrap_or(i64::MAX));
        Ok(PgStore { inner: Arc::new(Inner { pool, consent_key, key_lookups: AtomicU64::new(0), metrics }) })
    }

    /// The pool, for tests and tools that need a plain connection.
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    async fn client(&self) -> DbResult<deadpool_postgres::Object> {
        let client = self.inner.pool.get().await.map_err(|e| DbError::Postgres(PgError::Pool(e.to_string())));
        let status = self.inner.pool.status();
        self.inner.metrics.open.set(i64::try_from(status.size).unwrap_or(i64::MAX));
        client
    }

    /// Runs `body` in one transaction, committing if it returns `Ok` and rolling back
    /// otherwise, so a failed request changes nothing.
    pub(crate) async fn write<T, F>(&self, body: F) -> DbResult<T>
    where
        T: Send,
        F: for<'t> FnOnce(&'t Transaction<'t>) -> TxBody<'t, T> + Send,
    {
        let _timer = Timed::start(&self.inner.metrics, "write");
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let value = body(&tx).await?;
        tx.commit().await?;
        Ok(value)
    }

    /// Runs `body` on a pooled connection, outside any explicit transaction (each statement
    /// sees the latest committed data).
    pub(crate) async fn read<T, F>(&self, body: F) -> DbResult<T>
    where
        T: Send,
        F: for<'c> FnOnce(&'c deadpool_postgres::Client) -> TxBody<'c, T> + Send,
    {
        let _timer = Timed::start(&self.inner.metrics, "read");
        let client = self.client().await?;
        body(&client).await
    }

    pub(crate) fn count_key_lookup(&self) {
        self.inner.key_lookups.fetch_add(1, Ordering::Relaxed);
    }
}

/// The next `change_seq` (the mirror feed's cursor). The advisory lock, held to the end of
/// the transaction, makes writers that assign one take turns, so sequence values commit in
/// the order they were given and a mirror reading `change_seq > cursor` never skips one.
pub(crate) async fn next_seq(tx: &Transaction<'_>) -> DbResult<i64> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHANGE_SEQ_LOCK]).await?;
    Ok(tx.query_one("SELECT COALESCE(MAX(change_seq), 0) + 1 FROM api_keys", &[]).await?.get(0))
}

/// The advisory lock `change_seq` is assigned under ("keyward" in ASCII, then 2).
const CHANGE_SEQ_LOCK: i64 = 0x6b65_7977_6172_6402;

/// `{brand}_{id}` for a key of this deployment.
pub(crate) async fn prefix_of(tx: &Transaction<'_>, id: &str) -> DbResult<String> {
    let brand: String = tx.query_one("SELECT brand FROM deployment", &[]).await?.get(0);
    Ok(keyward_core::key::key_prefix(&brand, id))
}

#[async_trait]
impl super::Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn consent_key(&self) -> &[u8] {
        &self.inner.consent_key
    }

    fn metrics(&self) -> &crate::metrics::DbMetrics {
        &self.inner.metrics
    }

    fn key_lookups(&self) -> u64 {
        self.inner.key_lookups.load(Ordering::Relaxed)
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn share_counts(&self, limiter: String, window: i64, ends_at: i64, changes: Vec<(Vec<u8>, i64)>) -> DbResult<Vec<(Vec<u8>, i64)>> {
        self.read(move |c| {
            Box::pin(async move {
                let (names, counts): (Vec<Vec<u8>>, Vec<i64>) = changes.into_iter().unzip();
                // In name order, so two instances adding to the same rows never wait on each
                // other in a circle.
                let rows = c
                    .query(
                        "INSERT INTO rate_counts (limiter, window_index, name, count, expires_at)
                         SELECT $1, $2, n, c, $3 FROM unnest($4::bytea[], $5::bigint[]) AS u(n, c) ORDER BY n
                         ON CONFLICT (limiter, window_index, name) DO UPDATE SET count = rate_counts.count + excluded.count
                         RETURNING name, count",
                        &[&limiter, &window, &ends_at, &names, &counts],
                    )
                    .await?;
                Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
            })
        })
        .await
    }

    async fn forget_counts(&self, before: i64) -> DbResult<u64> {
        self.read(move |c| Box::pin(async move { Ok(c.execute("DELETE FROM rate_counts WHERE expires_at < $1", &[&before]).await?) })).await
    }

    async fn ping(&self) -> DbResult<()> {
        self.read(|c| Box::pin(async move { Ok(c.simple_query("SELECT 1").await.map(|_| ())?) })).await
    }

    async fn ensure_brand(&self, brand: &str) -> DbResult<()> {
        let brand = brand.to_owned();
        self.write(move |tx| {
            Box::pin(async move {
                // Two instances starting at once: the second waits here, then sees the first's row.
                tx.execute("LOCK TABLE deployment IN EXCLUSIVE MODE", &[]).await?;
                let existing: Option<String> = tx.query_opt("SELECT brand FROM deployment", &[]).await?.map(|r| r.get(0));
                match existing {
                    Some(b) if b == brand => Ok(()),
                    Some(found) => Err(DbError::Invalid(Problem::OtherBrand { found, wanted: brand })),
                    None => {
                        tx.execute("INSERT INTO deployment (singleton, brand, created_at) VALUES (1, $1, $2)", &[&brand, &now()]).await?;
                        Ok(())
                    }
                }
            })
        })
        .await
    }
}
