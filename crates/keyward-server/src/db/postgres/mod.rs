//! The PostgreSQL backend, for several instances of the service on one shared database
//! (issue 11). So far: connecting through a pool, and bringing the schema up to date without
//! two instances racing. The storage methods follow, behind the same interface as SQLite's.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

/// The PostgreSQL schema's migrations, in order; `schema_version` records how many have run.
const MIGRATIONS: &[&str] = &[include_str!("../../../migrations/postgres/0001_schema.sql")];

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

/// A pool of connections to the database at `url` (`postgres://…`), checked by one round trip.
pub async fn connect(url: &str) -> Result<Pool, PgError> {
    let config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| PgError::BadUrl(e.to_string()))?;
    let target = describe(&config);
    let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    let pool = Pool::builder(manager).max_size(POOL_SIZE).build().map_err(|e| PgError::Pool(e.to_string()))?;
    let client = pool.get().await.map_err(|e| PgError::Unreachable { target: target.clone(), detail: e.to_string() })?;
    client.simple_query("SELECT 1").await.map_err(|e| PgError::Unreachable { target, detail: e.to_string() })?;
    Ok(pool)
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
