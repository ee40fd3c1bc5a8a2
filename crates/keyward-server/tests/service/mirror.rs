//! The mirror feed: key records (hashes and status, never secrets) changed past a cursor.

use serde_json::json;

use crate::common::Service;

#[tokio::test]
async fn the_feed_returns_only_changes_past_the_cursor() {
    let svc = Service::start().await;
    let owner = svc.store("Acme").await;
    let other = svc.store("Other").await;
    let session = svc.login(&owner, "laptop").await;
    let other_session = svc.login(&other, "laptop").await;
    let (a, key_a) = svc.create_key(&session, json!({"name": "a"})).await;
    let (b, _) = svc.create_key(&session, json!({"name": "b"})).await;
    svc.create_key(&other_session, json!({"name": "not ours"})).await;

    let full = svc.get("/api/mirror", &session).await;
    let body = full.assert_status(200).clone();
    let ids: Vec<&str> = body["records"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![a.as_str(), b.as_str()]);
    assert!(body["records"][0]["secret_hash"].as_str().unwrap().starts_with("$argon2id$"));
    assert!(!full.text.contains(&key_a[13..45]), "the mirror never carries secrets");
    assert_eq!(body["store"]["brand"], "asmk");
    let cursor = body["cursor"].as_str().unwrap().to_owned();

    let nothing = svc.get(&format!("/api/mirror?since={cursor}"), &session).await;
    assert_eq!(nothing.body["records"], json!([]));
    assert_eq!(nothing.body["cursor"], cursor.as_str());

    svc.delete(&format!("/api/keys/{a}"), &session).await.assert_status(200);
    // Renaming is not a status change and does not move the feed.
    svc.patch(&format!("/api/keys/{b}"), &session, json!({"name": "renamed"})).await.assert_status(200);
    let changes = svc.get(&format!("/api/mirror?since={cursor}"), &session).await;
    let records = changes.body["records"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["id"], a.as_str());
    assert!(records[0]["revoked_at"].is_string());
    assert_ne!(changes.body["cursor"], cursor.as_str());

    svc.get("/api/mirror?since=banana", &session).await.assert_error(400, "invalid_cursor");
    svc.get("/api/mirror?since=-4", &session).await.assert_error(400, "invalid_cursor");
}
