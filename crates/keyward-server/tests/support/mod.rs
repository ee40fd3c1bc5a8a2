//! What the tests that reach a database share, whichever backend it is: a fresh database per
//! test (its own SQLite file, or with `KEYWARD_TEST_BACKEND=postgres` its own database on the
//! cluster `./dev test` starts, named by `KEYWARD_TEST_POSTGRES_URL`), and plain SQL behind the
//! service's back (to age rows, or to prove a request changed nothing).
//!
//! Each test binary uses part of it.
#![allow(dead_code)]

use std::path::Path;

use keyward_server::db::Database;

/// The database a test runs on: see the module's comment.
pub async fn test_database(dir: &Path) -> Database {
    match std::env::var("KEYWARD_TEST_BACKEND").as_deref() {
        Ok("postgres") => Database::Postgres(fresh_database().await),
        Ok("sqlite") | Err(_) => Database::Sqlite(dir.join("keyward.db")),
        Ok(other) => panic!("KEYWARD_TEST_BACKEND is {other:?}; use sqlite or postgres"),
    }
}

/// A test's database as the binary is given it: the folder it lives in (or beside), the
/// database, and its command-line argument.
pub async fn database_for_the_binary() -> (tempfile::TempDir, Database, String) {
    let dir = tempfile::tempdir().unwrap();
    let database = test_database(dir.path()).await;
    let argument = argument(&database);
    (dir, database, argument)
}

/// The tables of a SQLite file, by name, without SQLite's own.
pub fn sqlite_tables(conn: &rusqlite::Connection) -> Vec<String> {
    conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// How a database is named on the command line: its path or its URL.
pub fn argument(database: &Database) -> String {
    match database {
        Database::Sqlite(path) => path.to_str().expect("a temporary folder with a UTF-8 path").to_owned(),
        Database::Postgres(url) => url.clone(),
    }
}

/// A fresh, empty database on the test cluster; returns its URL.
pub async fn fresh_database() -> String {
    let admin = std::env::var("KEYWARD_TEST_POSTGRES_URL")
        .expect("KEYWARD_TEST_POSTGRES_URL names the test PostgreSQL; run the tests with ./dev test, which starts one");
    let name = format!("kw_{}", unique_suffix());
    pg(&admin).await.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// A name part no other test, in this process or another, has used.
pub fn unique_suffix() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{nanos:x}_{:x}_{n}", std::process::id())
}

/// A plain connection to a PostgreSQL database.
pub async fn pg(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// SQLite numbers parameters `?1`; the tests write `$1` as PostgreSQL does.
fn sqlite_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs one statement on the database; `$1`, `$2`… are the text `params`. Returns how many
/// rows it changed.
pub async fn sql(database: &Database, statement: &str, params: &[&str]) -> u64 {
    match database {
        Database::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.execute(&sqlite_placeholders(statement), rusqlite::params_from_iter(params.iter())).unwrap() as u64
        }
        Database::Postgres(url) => {
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
            pg(url).await.execute(statement, &params).await.unwrap()
        }
    }
}

/// The first column of the first row a query returns, read as `T` (`i64` for integers,
/// `String` for text, `Vec<u8>` for bytes, `Option<…>` where it may be NULL); `None` for no row.
pub async fn sql_value<T>(database: &Database, query: &str, params: &[&str]) -> Option<T>
where
    T: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a>,
{
    match database {
        Database::Sqlite(path) => {
            use rusqlite::OptionalExtension;
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.query_row(&sqlite_placeholders(query), rusqlite::params_from_iter(params.iter()), |r| r.get(0)).optional().unwrap()
        }
        Database::Postgres(url) => {
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
            pg(url).await.query_opt(query, &params).await.unwrap().map(|row| row.get(0))
        }
    }
}

/// Every row of every table, as text: to prove a request changed nothing.
pub async fn snapshot(database: &Database) -> String {
    match database {
        Database::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            let tables = sqlite_tables(&conn);
            let mut out = String::new();
            for table in tables {
                let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY rowid")).unwrap();
                let columns = stmt.column_count();
                let rows = stmt
                    .query_map([], |r| Ok((0..columns).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect::<Vec<_>>().join("|")))
                    .unwrap();
                for row in rows {
                    out.push_str(&format!("{table}: {}\n", row.unwrap()));
                }
            }
            out
        }
        Database::Postgres(url) => {
            let client = pg(url).await;
            // rate_counts holds the instances' shared request counters, which every request
            // moves (as SQLite's in-memory counters): not the store's data.
            let tables = client
                .query(
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_name <> 'rate_counts' ORDER BY 1",
                    &[],
                )
                .await
                .unwrap();
            let mut out = String::new();
            for table in tables.iter().map(|r| r.get::<_, String>(0)) {
                for row in client.query(&format!("SELECT t::text FROM {table} t ORDER BY 1"), &[]).await.unwrap() {
                    out.push_str(&format!("{table}: {}\n", row.get::<_, String>(0)));
                }
            }
            out
        }
    }
}

/// Everything the database keeps at rest, as text: the file and its WAL for SQLite, every row
/// for PostgreSQL. For proving that a secret is never stored.
pub async fn at_rest(database: &Database) -> String {
    match database {
        Database::Sqlite(path) => {
            let mut bytes = std::fs::read(path).unwrap();
            bytes.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Database::Postgres(_) => snapshot(database).await,
    }
}

/// Starts a `keyward-server` process (`command`, its arguments and environment set) and waits
/// for the address it prints first; stdout is drained from then on, so the server never blocks
/// on a full pipe. Killed when the child is dropped.
pub async fn serving(mut command: tokio::process::Command) -> (tokio::process::Child, String) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = command.stdout(std::process::Stdio::piped()).kill_on_drop(true).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().expect("the server prints its address");
    let base = first.rsplit(' ').next().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, base)
}

/// Waits, if need be, until early in a minute of the wall clock. Counters shared between
/// instances (on PostgreSQL) count in whole wall-clock minutes, so a test that counts up to a
/// limit and then checks it must not straddle the turn of a minute, or it would start afresh
/// halfway. `needs` is how long the counting takes at most.
pub async fn early_in_a_minute(needs: std::time::Duration) {
    let into_minute = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64() % 60.0;
    if into_minute > 60.0 - needs.as_secs_f64() {
        tokio::time::sleep(std::time::Duration::from_secs_f64(60.5 - into_minute)).await;
    }
}
