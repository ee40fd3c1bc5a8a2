//! An operator outgrows one machine: `keyward-server migrate --from sqlite:PATH --database
//! postgres://…` carries the whole SQLite deployment over, and everything issued before keeps
//! working when the service comes back up on PostgreSQL.

mod support;

use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_keyward-server");
const PASSWORD: &str = "operator-chosen-pw";

struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(database: &str) -> Server {
        let mut server = Command::new(BIN);
        server
            .args(["serve", "--database", database, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--brand", "asmk"])
            .env("KEYWARD_LOG", "warn");
        let (child, base) = support::serving(server).await;
        Server { child, base }
    }

    async fn call(&self, method: Method, path: &str, auth: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut request = reqwest::Client::new().request(method, format!("{}{path}", self.base));
        if let Some(auth) = auth {
            request = request.bearer_auth(auth);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    /// SIGTERM, as an operator stops it: it finishes and writes the last-used times it holds.
    async fn stop(mut self) {
        let pid = self.child.id().unwrap().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().await.unwrap().success());
        assert!(self.child.wait().await.unwrap().success());
    }
}

async fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).env("KEYWARD_PASSWORD", PASSWORD).output().await.unwrap()
}

/// Row counts of every table of the SQLite file.
fn sqlite_counts(path: &Path) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    support::sqlite_tables(&conn).into_iter().map(|t| {
        let n = conn.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0)).unwrap();
        (t, n)
    }).collect()
}

#[tokio::test]
async fn a_sqlite_deployment_moves_into_postgres_and_every_key_session_and_entry_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keyward.db");
    let sqlite = file.to_str().unwrap();
    let store = run(&["store", "create", "--database", sqlite, "--name", "Acme", "--owner-name", "Ada", "--owner-email", "ada@acme.test"]).await;
    assert!(store.status.success(), "{}", String::from_utf8_lossy(&store.stderr));
    let store = String::from_utf8(store.stdout).unwrap().trim().to_owned();
    assert!(run(&["add-staff", "--database", sqlite, "--store", &store, "--name", "Sam", "--email", "sam@acme.test"]).await.status.success());

    // A deployment with a history: keys working, revoked and rotating out, data, codes, audit.
    let before = Server::start(sqlite).await;
    let (_, signed_in) = before
        .call(Method::POST, "/api/session", None, Some(json!({"email": "ada@acme.test", "password": PASSWORD, "device_name": "laptop"})))
        .await;
    let session = signed_in["token"].as_str().unwrap().to_owned();
    let mut keys = Vec::new();
    for name in ["reader", "writer", "gone", "rotated"] {
        let scopes = if name == "writer" { json!(["read", "write"]) } else { json!(["read"]) };
        let (status, body) = before.call(Method::POST, "/api/keys", Some(&session), Some(json!({"name": name, "scopes": scopes}))).await;
        assert_eq!(status, 201, "{body}");
        keys.push((body["id"].as_str().unwrap().to_owned(), body["key"].as_str().unwrap().to_owned()));
    }
    before.call(Method::DELETE, &format!("/api/keys/{}", keys[2].0), Some(&session), None).await;
    let (_, rotated) = before.call(Method::POST, &format!("/api/keys/{}/rotate", keys[3].0), Some(&session), Some(json!({"overlap_seconds": 3600}))).await;
    let replacement = rotated["replacement"]["key"].as_str().unwrap().to_owned();
    let (status, _) = before.call(Method::POST, "/v1/raw-materials", Some(&keys[1].1), Some(json!({"name": "flour", "unit": "kg", "stock": 12.5}))).await;
    assert_eq!(status, 201);
    assert_eq!(before.call(Method::POST, "/api/connections/codes", Some(&session), Some(json!({}))).await.0, 201);
    let (_, audit_before) = before.call(Method::GET, "/api/audit", Some(&session), None).await;
    let (_, keys_before) = before.call(Method::GET, "/api/keys?include_revoked=true", Some(&session), None).await;
    before.stop().await;

    let url = support::fresh_database().await;
    let moved = run(&["migrate", "--from", &format!("sqlite:{sqlite}"), "--database", &url]).await;
    assert!(moved.status.success(), "{}", String::from_utf8_lossy(&moved.stderr));
    let said = String::from_utf8(moved.stdout).unwrap();
    for (table, rows) in sqlite_counts(&file) {
        assert!(said.contains(&format!("{table}\t{rows}\n")), "{table} has {rows} rows in SQLite; the move said:\n{said}");
    }

    let after = Server::start(&url).await;
    // The session signed in before the move is still signed in.
    let (status, keys_after) = after.call(Method::GET, "/api/keys?include_revoked=true", Some(&session), None).await;
    assert_eq!(status, 200, "{keys_after}");
    assert_eq!(keys_after, keys_before, "every key record, status and time as it was");
    let (_, audit_after) = after.call(Method::GET, "/api/audit", Some(&session), None).await;
    assert_eq!(audit_after, audit_before, "the audit trail, ids included");
    assert_eq!(after.call(Method::GET, "/v1/whoami", Some(&keys[0].1), None).await.0, 200);
    assert_eq!(after.call(Method::GET, "/v1/whoami", Some(&keys[2].1), None).await.0, 401, "revoked stays revoked");
    assert_eq!(after.call(Method::GET, "/v1/whoami", Some(&keys[3].1), None).await.0, 200, "rotating out, still in its overlap");
    assert_eq!(after.call(Method::GET, "/v1/whoami", Some(&replacement), None).await.0, 200);
    let (_, materials) = after.call(Method::GET, "/v1/raw-materials", Some(&keys[1].1), None).await;
    assert_eq!(materials.to_string().matches("flour").count(), 1, "{materials}");
    // New rows continue after the copied ones.
    let (status, _) = after.call(Method::POST, "/v1/raw-materials", Some(&keys[1].1), Some(json!({"name": "sugar", "unit": "kg"}))).await;
    assert_eq!(status, 201);
    let (status, _) = after.call(Method::POST, "/api/keys", Some(&session), Some(json!({"name": "after the move"}))).await;
    assert_eq!(status, 201);
    let (_, audit) = after.call(Method::GET, "/api/audit", Some(&session), None).await;
    assert!(audit["events"][0]["id"].as_i64() > audit_before["events"][0]["id"].as_i64(), "{audit}");
    after.stop().await;

    // Moving again into the same database is refused and changes nothing.
    let again = run(&["migrate", "--from", &format!("sqlite:{sqlite}"), "--database", &url]).await;
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already holds a Keyward deployment"), "{stderr}");
}
