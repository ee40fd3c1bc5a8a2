//! Keys: scopes, one-time secret, prefix-only listing, the ten-key limit, expiry, last use,
//! deactivation, revocation and rotation.

use serde_json::json;

use crate::common::Service;

#[tokio::test]
async fn a_new_key_is_read_only_by_default_and_records_who_made_it() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let reply = svc.post("/api/keys", &session, json!({"name": "  Claude Desktop  "})).await;
    let body = reply.assert_status(201);
    assert_eq!(body["scopes"], json!(["read"]));
    assert_eq!(body["name"], "Claude Desktop");
    assert_eq!(body["created_by"], json!({"name": "Acme Owner", "email": "owner@acme.test"}));
    assert!(body["created_device"].as_str().unwrap().starts_with("dev_"));
    assert!(body["created_at"].is_string());
    assert_eq!(body["is_active"], true);
    let key = body["key"].as_str().unwrap();
    assert_eq!(body["key_prefix"].as_str().unwrap(), &key[..13]);
    assert!(key.starts_with("asmk_") && key.len() == 51);
}

#[tokio::test]
async fn the_secret_is_shown_once_and_only_its_hash_is_stored() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (id, key) = svc.create_key(&session, json!({"name": "bot", "scopes": ["read", "write"]})).await;
    let secret = &key[13..45];

    let list = svc.get("/api/keys", &session).await;
    let one = svc.get(&format!("/api/keys/{id}"), &session).await;
    for reply in [&list, &one] {
        reply.assert_status(200);
        assert!(!reply.text.contains(secret), "a secret leaked into {}", reply.text);
        assert!(reply.text.contains(&key[..13]), "the prefix is how keys are listed");
    }
    assert!(list.body["keys"][0].get("key").is_none());

    // At rest: the database (SQLite's file and its WAL, or PostgreSQL's rows) holds an argon2id
    // hash, never the secret.
    svc.state.usage.flush(&svc.state.db).await.unwrap();
    let haystack = svc.at_rest().await;
    assert!(!haystack.contains(secret), "the secret is on disk");
    assert!(haystack.contains("$argon2id$v=19$m=19456,t=2,p=1$"), "the argon2id hash is on disk");
}

#[tokio::test]
async fn the_eleventh_active_key_is_refused_until_one_is_revoked_or_deactivated() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(svc.create_key(&session, json!({"name": format!("key {i}")})).await.0);
    }
    let before = svc.snapshot().await;
    svc.post("/api/keys", &session, json!({"name": "eleventh"})).await.assert_error(409, "active_key_limit");
    assert_eq!(svc.snapshot().await, before, "a refused create changes nothing");

    svc.patch(&format!("/api/keys/{}", ids[0]), &session, json!({"is_active": false})).await.assert_status(200);
    let (eleventh, _) = svc.create_key(&session, json!({"name": "eleventh"})).await;
    // Reactivating would make eleven active keys.
    svc.patch(&format!("/api/keys/{}", ids[0]), &session, json!({"is_active": true})).await.assert_error(409, "active_key_limit");
    svc.delete(&format!("/api/keys/{eleventh}"), &session).await.assert_status(200);
    svc.patch(&format!("/api/keys/{}", ids[0]), &session, json!({"is_active": true})).await.assert_status(200);
    svc.post("/api/keys", &session, json!({"name": "twelfth"})).await.assert_error(409, "active_key_limit");
}

#[tokio::test]
async fn revoked_keys_stay_listed_when_asked_marked_with_who_revoked_them() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (keep, _) = svc.create_key(&session, json!({"name": "keep"})).await;
    let (gone, _) = svc.create_key(&session, json!({"name": "gone"})).await;
    let revoked = svc.delete(&format!("/api/keys/{gone}"), &session).await;
    assert!(revoked.assert_status(200)["revoked_at"].is_string());

    let active = svc.get("/api/keys", &session).await;
    let ids: Vec<&str> = active.body["keys"].as_array().unwrap().iter().map(|k| k["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![keep.as_str()]);

    let all = svc.get("/api/keys?include_revoked=true", &session).await;
    let keys = all.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let row = keys.iter().find(|k| k["id"] == gone.as_str()).unwrap();
    assert!(row["revoked_at"].is_string());
    assert_eq!(row["revoked_by"]["email"], "owner@acme.test");
    // Newest first.
    assert_eq!(keys[0]["id"], gone.as_str());

    // A revoked key cannot be brought back.
    svc.patch(&format!("/api/keys/{gone}"), &session, json!({"is_active": true})).await.assert_error(409, "conflict");
}

#[tokio::test]
async fn rename_and_rescope_take_effect_on_the_next_request() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (id, key) = svc.create_key(&session, json!({"name": "bot"})).await;
    let create = json!({"name": "Bolt", "unit": "pcs", "stock": 3});
    let post = |svc: &Service, key: &str| {
        let request = svc.http.post(format!("{}/v1/raw-materials", svc.base)).header("x-api-key", key.to_owned()).json(&create);
        async move { crate::common::read(request.send().await.unwrap()).await }
    };
    post(&svc, &key).await.assert_error(403, "insufficient_scope");
    let updated = svc.patch(&format!("/api/keys/{id}"), &session, json!({"name": "Writer", "scopes": ["write"]})).await;
    assert_eq!(updated.assert_status(200)["scopes"], json!(["read", "write"]));
    assert_eq!(updated.body["name"], "Writer");
    post(&svc, &key).await.assert_status(201);
    svc.patch(&format!("/api/keys/{id}"), &session, json!({"scopes": ["read"]})).await.assert_status(200);
    post(&svc, &key).await.assert_error(403, "insufficient_scope");
}

#[tokio::test]
async fn a_deactivated_key_is_refused_until_reactivated() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (id, key) = svc.create_key(&session, json!({"name": "bot"})).await;
    svc.with_key("/v1/whoami", &key).await.assert_status(200);
    svc.patch(&format!("/api/keys/{id}"), &session, json!({"is_active": false})).await.assert_status(200);
    svc.with_key("/v1/whoami", &key).await.assert_error(401, "key_inactive");
    svc.patch(&format!("/api/keys/{id}"), &session, json!({"is_active": true})).await.assert_status(200);
    svc.with_key("/v1/whoami", &key).await.assert_status(200);
}

#[tokio::test]
async fn a_revoked_key_is_refused_on_the_very_next_request() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (id, key) = svc.create_key(&session, json!({"name": "bot"})).await;
    // Warm the verified cache so the next request would take the fast path.
    for _ in 0..3 {
        svc.with_key("/v1/whoami", &key).await.assert_status(200);
    }
    svc.delete(&format!("/api/keys/{id}"), &session).await.assert_status(200);
    let refused = svc.with_key("/v1/whoami", &key).await;
    refused.assert_error(401, "key_revoked");
    assert!(refused.header("www-authenticate").unwrap().starts_with("Bearer"));
}

#[tokio::test]
async fn an_expired_key_stops_working_and_a_past_expiry_is_refused() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let past = (time::OffsetDateTime::now_utc() - time::Duration::minutes(1)).format(&time::format_description::well_known::Rfc3339).unwrap();
    svc.post("/api/keys", &session, json!({"name": "late", "expires_at": past})).await.assert_error(400, "invalid_expiry");

    let soon = (time::OffsetDateTime::now_utc() + time::Duration::seconds(2)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let reply = svc.post("/api/keys", &session, json!({"name": "brief", "expires_at": soon})).await;
    let key = reply.assert_status(201)["key"].as_str().unwrap().to_owned();
    assert!(reply.body["expires_at"].is_string());
    svc.with_key("/v1/whoami", &key).await.assert_status(200);
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    svc.with_key("/v1/whoami", &key).await.assert_error(401, "key_expired");
}

#[tokio::test]
async fn last_used_is_shown_at_once_and_written_without_a_write_per_request() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (id, key) = svc.create_key(&session, json!({"name": "bot"})).await;
    assert!(svc.get(&format!("/api/keys/{id}"), &session).await.body["last_used_at"].is_null());
    let before = svc.snapshot().await;
    for _ in 0..5 {
        svc.with_key("/v1/whoami", &key).await.assert_status(200);
    }
    assert_eq!(svc.snapshot().await, before, "requests alone write nothing");
    assert!(svc.get(&format!("/api/keys/{id}"), &session).await.body["last_used_at"].is_string());
    svc.state.usage.flush(&svc.state.db).await.unwrap();
    let on_disk: Option<i64> = svc.sql_value::<Option<i64>>("SELECT last_used_at FROM api_keys WHERE id = $1", &[&id]).await.flatten();
    assert!(on_disk.is_some());
}

#[tokio::test]
async fn rotation_without_overlap_swaps_keys_at_once() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (id, old) = svc.create_key(&session, json!({"name": "bot", "scopes": ["read", "write"]})).await;
    let reply = svc.post(&format!("/api/keys/{id}/rotate"), &session, json!({})).await;
    let body = reply.assert_status(201);
    let new = body["replacement"]["key"].as_str().unwrap();
    assert_eq!(body["replacement"]["name"], "bot");
    assert_eq!(body["replacement"]["scopes"], json!(["read", "write"]));
    assert!(body["previous"]["revoked_at"].is_string());
    svc.with_key("/v1/whoami", new).await.assert_status(200);
    svc.with_key("/v1/whoami", &old).await.assert_error(401, "key_revoked");
}

#[tokio::test]
async fn rotation_with_overlap_keeps_the_old_key_working_until_the_window_ends() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    // Rotation works even at the limit: the old key stops counting.
    let mut first = None;
    for i in 0..10 {
        let made = svc.create_key(&session, json!({"name": format!("key {i}")})).await;
        first.get_or_insert(made);
    }
    let (id, old) = first.unwrap();
    let reply = svc.post(&format!("/api/keys/{id}/rotate"), &session, json!({"overlap_seconds": 2})).await;
    let body = reply.assert_status(201);
    let new = body["replacement"]["key"].as_str().unwrap().to_owned();
    assert!(body["previous"]["revoked_at"].is_null());
    assert!(body["previous"]["revokes_at"].is_string());
    svc.with_key("/v1/whoami", &old).await.assert_status(200);
    svc.with_key("/v1/whoami", &new).await.assert_status(200);
    // Rotating the same key twice is refused.
    svc.post(&format!("/api/keys/{id}/rotate"), &session, json!({})).await.assert_error(409, "conflict");
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    svc.with_key("/v1/whoami", &old).await.assert_error(401, "key_revoked");
    svc.with_key("/v1/whoami", &new).await.assert_status(200);
}
