//! Moving a SQLite deployment into PostgreSQL (`keyward-server migrate --from sqlite:PATH
//! --database postgres://…`): every row of every table, copied in one PostgreSQL transaction,
//! then counted on both sides before it commits. Key hashes, password hashes and token digests
//! travel as they are, so every key, session and connection keeps working.
//!
//! The target must be empty (no deployment yet): copying into a database that already serves
//! would mix two deployments. Any refusal or failure leaves it exactly as it was.

use std::path::Path;

use rusqlite::types::ValueRef;
use tokio_postgres::types::{ToSql, Type};

use super::postgres::{PgError, connect, migrate};
use super::{DbError, DbResult, SqliteStore};

/// The tables, parents before children, with the column that keeps SQLite's insertion order
/// (so PostgreSQL's identity columns number rows as SQLite did).
const TABLES: &[(&str, &str)] = &[
    ("deployment", "singleton"),
    ("stores", "rowid"),
    ("users", "rowid"),
    ("devices", "rowid"),
    // A replacement key is inserted after the key it replaces, so `replaces` always points back.
    ("api_keys", "rowid"),
    ("audit_events", "id"),
    ("oauth_clients", "rowid"),
    ("connections", "rowid"),
    ("connection_codes", "rowid"),
    ("connection_tokens", "rowid"),
    ("authorization_codes", "rowid"),
    ("service_secrets", "rowid"),
    ("raw_materials", "id"),
    ("boms", "id"),
    ("bom_lines", "rowid"),
];

/// What was carried over: each table with its row count (equal on both sides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    pub tables: Vec<(String, i64)>,
}

/// Copies the SQLite deployment at `from` into the (empty) PostgreSQL database at `to`.
pub async fn sqlite_to_postgres(from: &Path, to: &str) -> DbResult<Transferred> {
    if !from.exists() {
        return Err(DbError::Invalid(crate::problems::Problem::FileNotUsable {
            path: from.to_owned(),
            detail: "there is no such file".into(),
        }));
    }
    // Opening brings the SQLite file's schema up to date first, so both sides have every column.
    let path = from.to_owned();
    tokio::task::spawn_blocking(move || SqliteStore::open(&path)).await.map_err(|e| DbError::Worker(e.to_string()))??;
    let pool = connect(to).await?;
    migrate(&pool).await?;
    let mut client = pool.get().await.map_err(|e| PgError::Pool(e.to_string()))?;
    let tx = client.transaction().await?;
    // Two copies at once would both see an empty target; the second waits, then refuses.
    tx.execute("LOCK TABLE deployment IN EXCLUSIVE MODE", &[]).await?;
    if tx.query_opt("SELECT brand FROM deployment", &[]).await?.is_some() {
        return Err(DbError::Invalid(crate::problems::Problem::TargetNotEmpty { target: super::postgres::describe_url(to) }));
    }
    let source = rusqlite::Connection::open_with_flags(from, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    // Every table from one snapshot: a change committed to the file midway (a service still
    // running on it) is either wholly in the copy or wholly out, never half.
    let source = source.unchecked_transaction()?;
    let mut tables = Vec::with_capacity(TABLES.len());
    for (table, order) in TABLES {
        let columns: Vec<(String, Type)> = tx
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' AND column_name <> 'created_seq'
                 ORDER BY ordinal_position",
                &[table],
            )
            .await?
            .iter()
            .map(|r| (r.get::<_, String>(0), pg_type(&r.get::<_, String>(1))))
            .collect();
        let rows = read_table(&source, table, order, &columns)?;
        let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
        let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        // audit_events.id is an identity column PostgreSQL fills itself; the trail keeps its
        // ids. (api_keys.created_seq, PostgreSQL's own insertion order, is left out above and
        // numbered afresh, in SQLite's insertion order.)
        let overriding = if *table == "audit_events" { " OVERRIDING SYSTEM VALUE" } else { "" };
        let insert = tx
            .prepare(&format!("INSERT INTO {table} ({}){overriding} VALUES ({})", names.join(", "), placeholders.join(", ")))
            .await?;
        for row in &rows {
            let params: Vec<&(dyn ToSql + Sync)> = row.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)).collect();
            tx.execute(&insert, &params).await?;
        }
        let copied: i64 = tx.query_one(&format!("SELECT COUNT(*) FROM {table}"), &[]).await?.get(0);
        let expected = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        if copied != expected {
            return Err(DbError::Invalid(crate::problems::Problem::TransferMismatch { table: (*table).into(), expected, copied }));
        }
        tables.push(((*table).to_owned(), copied));
    }
    // Identity columns continue after the highest copied id.
    for (table, column) in [("audit_events", "id"), ("raw_materials", "id"), ("boms", "id")] {
        tx.execute(
            &format!("SELECT setval(pg_get_serial_sequence('{table}', '{column}'), GREATEST((SELECT MAX({column}) FROM {table}), 1), (SELECT MAX({column}) FROM {table}) IS NOT NULL)"),
            &[],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Transferred { tables })
}

/// One value on its way from SQLite to a PostgreSQL column.
type Value = Box<dyn ToSql + Sync + Send>;

fn pg_type(data_type: &str) -> Type {
    match data_type {
        "boolean" => Type::BOOL,
        "integer" => Type::INT4,
        "bigint" => Type::INT8,
        "double precision" => Type::FLOAT8,
        "bytea" => Type::BYTEA,
        _ => Type::TEXT,
    }
}

/// Every row of `table`, in SQLite's insertion order, as values of the PostgreSQL columns.
fn read_table(source: &rusqlite::Connection, table: &str, order: &str, columns: &[(String, Type)]) -> DbResult<Vec<Vec<Value>>> {
    let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
    let mut statement = source.prepare(&format!("SELECT {} FROM {table} ORDER BY {order}", names.join(", ")))?;
    let rows = statement.query_map([], |row| {
        columns
            .iter()
            .enumerate()
            .map(|(i, (name, ty))| convert(row.get_ref(i)?, ty).map_err(|detail| {
                rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Null, format!("{table}.{name}: {detail}").into())
            }))
            .collect::<rusqlite::Result<Vec<Value>>>()
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// A SQLite value as the PostgreSQL column's type wants it.
fn convert(value: ValueRef<'_>, ty: &Type) -> Result<Value, String> {
    Ok(match (value, ty) {
        (ValueRef::Null, t) if *t == Type::BOOL => Box::new(None::<bool>),
        (ValueRef::Null, t) if *t == Type::INT4 => Box::new(None::<i32>),
        (ValueRef::Null, t) if *t == Type::INT8 => Box::new(None::<i64>),
        (ValueRef::Null, t) if *t == Type::FLOAT8 => Box::new(None::<f64>),
        (ValueRef::Null, t) if *t == Type::BYTEA => Box::new(None::<Vec<u8>>),
        (ValueRef::Null, _) => Box::new(None::<String>),
        (ValueRef::Integer(v), t) if *t == Type::BOOL => Box::new(v != 0),
        (ValueRef::Integer(v), t) if *t == Type::INT4 => Box::new(i32::try_from(v).map_err(|e| e.to_string())?),
        (ValueRef::Integer(v), t) if *t == Type::INT8 => Box::new(v),
        (ValueRef::Integer(v), t) if *t == Type::FLOAT8 => Box::new(v as f64),
        (ValueRef::Real(v), t) if *t == Type::FLOAT8 => Box::new(v),
        (ValueRef::Text(v), t) if *t == Type::TEXT => Box::new(String::from_utf8(v.to_vec()).map_err(|e| e.to_string())?),
        (ValueRef::Blob(v), t) if *t == Type::BYTEA => Box::new(v.to_vec()),
        (other, t) => return Err(format!("a {:?} value where PostgreSQL keeps {t}", other.data_type())),
    })
}
