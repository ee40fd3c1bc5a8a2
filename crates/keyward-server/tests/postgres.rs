//! The PostgreSQL backend against a real server: the throwaway cluster `./dev test` starts
//! (its address in KEYWARD_TEST_POSTGRES_URL). Each test gets a database of its own.

mod support;

use keyward_server::db::postgres::{Migrated, PgError, connect, migrate};
use support::fresh_database;

async fn tables(url: &str) -> Vec<String> {
    let pool = connect(url).await.unwrap();
    let rows = pool
        .get()
        .await
        .unwrap()
        .query("SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1", &[])
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

#[tokio::test]
async fn migrating_creates_every_table_once_even_when_instances_start_together() {
    let url = fresh_database().await;
    let (a, b) = (connect(&url).await.unwrap(), connect(&url).await.unwrap());
    let (first, second) = tokio::join!(migrate(&a), migrate(&b));
    let mut outcomes = [first.unwrap(), second.unwrap()];
    outcomes.sort_by_key(|m| m.from);
    assert_eq!(outcomes[0], Migrated { from: 0, to: 2 }, "one instance migrated");
    assert_eq!(outcomes[1], Migrated { from: 2, to: 2 }, "the other found nothing left to do");
    let names = tables(&url).await;
    for table in ["api_keys", "audit_events", "authorization_codes", "connection_tokens", "connections", "devices", "oauth_clients", "schema_version", "service_secrets", "rate_counts", "stores", "users"] {
        assert!(names.iter().any(|n| n == table), "{table} is missing: {names:?}");
    }
    assert_eq!(migrate(&a).await.unwrap(), Migrated { from: 2, to: 2 }, "running it again changes nothing");
}

#[tokio::test]
async fn a_schema_newer_than_this_build_is_refused_and_left_alone() {
    let url = fresh_database().await;
    let pool = connect(&url).await.unwrap();
    migrate(&pool).await.unwrap();
    pool.get().await.unwrap().batch_execute("UPDATE schema_version SET version = 99").await.unwrap();
    let before = tables(&url).await;
    let refused = migrate(&pool).await.unwrap_err();
    assert!(matches!(refused, PgError::NewerSchema { found: 99, .. }), "{refused:?}");
    assert!(refused.to_string().contains("newer than this keyward-server knows"), "{refused}");
    assert_eq!(tables(&url).await, before);
}

#[tokio::test]
async fn an_unreachable_or_malformed_address_is_a_clear_error() {
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = connect(&format!("postgres://keyward:secret-password@127.0.0.1:{port}/keyward")).await.unwrap_err();
    let said = unreachable.to_string();
    assert!(matches!(unreachable, PgError::Unreachable { .. }), "{unreachable:?}");
    assert!(said.contains(&format!("keyward@127.0.0.1:{port}/keyward")) && said.contains("Check that it runs"), "{said}");
    assert!(!said.contains("secret-password"), "the password is never shown: {said}");
    let malformed = connect("postgres://[not a host").await.unwrap_err();
    assert!(matches!(malformed, PgError::BadUrl(_)), "{malformed:?}");
}

#[tokio::test]
async fn keyward_server_migrate_brings_a_database_up_to_date_once() {
    let url = fresh_database().await;
    let run = || tokio::process::Command::new(env!("CARGO_BIN_EXE_keyward-server")).args(["migrate", "--database", &url]).output();
    let (a, b) = tokio::join!(run(), run());
    let mut said: Vec<String> = [a.unwrap(), b.unwrap()]
        .into_iter()
        .map(|out| {
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        })
        .collect();
    said.sort();
    assert_eq!(said, ["Brought the PostgreSQL schema from version 0 to 2.\n", "The PostgreSQL schema is up to date (version 2).\n"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let down = tokio::process::Command::new(env!("CARGO_BIN_EXE_keyward-server"))
        .args(["migrate"])
        .env("KEYWARD_DATABASE_URL", format!("postgres://keyward:hunter22@127.0.0.1:{port}/keyward"))
        .output()
        .await
        .unwrap();
    assert!(!down.status.success());
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert!(stderr.contains("does not answer") && !stderr.contains("hunter22"), "{stderr}");
}
