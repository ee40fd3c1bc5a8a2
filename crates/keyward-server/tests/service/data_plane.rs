//! The data plane's answers: 401 for missing, malformed, unknown, revoked or expired keys,
//! 403 for a missing scope, 429 past the rate limit; the fast path; and store isolation.

use keyward_core::{ApiKey, Brand, KeyId};
use serde_json::json;

use crate::common::{Service, read};

#[tokio::test]
async fn a_request_without_a_key_gets_401_with_a_challenge() {
    let svc = Service::start().await;
    let reply = read(svc.http.get(format!("{}/v1/whoami", svc.base)).send().await.unwrap()).await;
    reply.assert_error(401, "missing_credentials");
    assert!(reply.header("www-authenticate").unwrap().contains("realm=\"keyward\""));
    let garbage = read(svc.http.get(format!("{}/v1/whoami", svc.base)).header("authorization", "Basic Zm9vOmJhcg==").send().await.unwrap()).await;
    garbage.assert_error(401, "missing_credentials");
}

#[tokio::test]
async fn a_malformed_key_is_rejected_without_a_database_lookup() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (_, key) = svc.create_key(&session, json!({"name": "bot"})).await;
    let lookups = svc.state.db.key_lookups();
    let argon2 = svc.state.hashes.verifications();
    let mut typo = key.clone().into_bytes();
    typo[20] = if typo[20] == b'x' { b'y' } else { b'x' };
    let typo = String::from_utf8(typo).unwrap();
    for bad in [typo.as_str(), &key[..key.len() - 1], "asmk_short", "not a key at all", &format!("{key} ")[..0]] {
        let reply = svc.with_key("/v1/whoami", bad).await;
        assert_eq!(reply.status.as_u16(), 401, "{bad}");
        assert!(["malformed_key", "missing_credentials"].contains(&reply.body["error"]["code"].as_str().unwrap()));
    }
    svc.with_key("/v1/whoami", &typo).await.assert_error(401, "malformed_key");
    assert_eq!(svc.state.db.key_lookups(), lookups, "malformed keys must not reach the database");
    assert_eq!(svc.state.hashes.verifications(), argon2, "malformed keys must not cost argon2");
}

#[tokio::test]
async fn a_wrong_secret_or_unknown_id_gets_the_same_401() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (id, key) = svc.create_key(&session, json!({"name": "bot"})).await;
    let brand = Brand::new("asmk").unwrap();
    let other = ApiKey::generate(&brand);
    let wrong_secret = ApiKey::from_parts(&brand, &KeyId::parse(&id).unwrap(), other.secret()).unwrap();
    let unknown_id = ApiKey::from_parts(&brand, &KeyId::parse("ZZZZZZZZ").unwrap(), &key[13..45]).unwrap();
    let a = svc.with_key("/v1/whoami", wrong_secret.expose()).await;
    let b = svc.with_key("/v1/whoami", unknown_id.expose()).await;
    a.assert_error(401, "invalid_key");
    b.assert_error(401, "invalid_key");
    assert_eq!(a.body, b.body, "the answer must not reveal which ids exist");
    let foreign = ApiKey::generate(&Brand::new("lstk").unwrap());
    svc.with_key("/v1/whoami", foreign.expose()).await.assert_error(401, "invalid_key");
}

#[tokio::test]
async fn argon2_runs_once_per_key_then_the_verified_cache_answers() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (_, key) = svc.create_key(&session, json!({"name": "bot"})).await;
    let before = svc.state.hashes.verifications();
    for _ in 0..10 {
        svc.with_key("/v1/whoami", &key).await.assert_status(200);
    }
    // Bearer works as well as X-API-Key.
    svc.get("/v1/whoami", &key).await.assert_status(200);
    assert_eq!(svc.state.hashes.verifications() - before, 1);
}

#[tokio::test]
async fn without_the_verified_cache_argon2_runs_every_time() {
    let svc = Service::start_with(|c| c.verified_cache = false).await;
    let owner = svc.store("Acme").await;
    let session = svc.login(&owner, "laptop").await;
    let (_, key) = svc.create_key(&session, json!({"name": "bot"})).await;
    let before = svc.state.hashes.verifications();
    for _ in 0..3 {
        svc.with_key("/v1/whoami", &key).await.assert_status(200);
    }
    assert_eq!(svc.state.hashes.verifications() - before, 3);
}

#[tokio::test]
async fn a_read_key_reads_but_gets_403_on_every_write_route() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (_, read_key) = svc.create_key(&session, json!({"name": "reader"})).await;
    let (_, write_key) = svc.create_key(&session, json!({"name": "writer", "scopes": ["read", "write"]})).await;
    let send = |method: reqwest::Method, path: &str, key: &str, body: serde_json::Value| {
        let request = svc.http.request(method, format!("{}{path}", svc.base)).header("x-api-key", key.to_owned()).json(&body);
        async move { read(request.send().await.unwrap()).await }
    };
    let material = json!({"name": "Walnut", "unit": "m", "stock": 4});
    send(reqwest::Method::POST, "/v1/raw-materials", &read_key, material.clone()).await.assert_error(403, "insufficient_scope");
    let created = send(reqwest::Method::POST, "/v1/raw-materials", &write_key, material).await;
    let id = created.assert_status(201)["id"].as_i64().unwrap();
    send(reqwest::Method::PATCH, &format!("/v1/raw-materials/{id}"), &read_key, json!({"stock": 1})).await.assert_error(403, "insufficient_scope");
    let patched = send(reqwest::Method::PATCH, &format!("/v1/raw-materials/{id}"), &write_key, json!({"stock": 1.5})).await;
    assert_eq!(patched.assert_status(200)["stock"], 1.5);
    let bom = json!({"product": "Stool", "lines": [{"raw_material_id": id, "quantity": 2}]});
    send(reqwest::Method::POST, "/v1/boms", &read_key, bom.clone()).await.assert_error(403, "insufficient_scope");
    send(reqwest::Method::POST, "/v1/boms", &write_key, bom).await.assert_status(201);
    let listed = svc.with_key("/v1/raw-materials", &read_key).await;
    assert_eq!(listed.assert_status(200)[0]["name"], "Walnut");
    assert_eq!(svc.with_key("/v1/boms", &read_key).await.assert_status(200)[0]["product"], "Stool");
}

#[tokio::test]
async fn a_key_of_one_store_sees_nothing_of_another() {
    let svc = Service::start().await;
    let a = svc.store("Store A").await;
    let b = svc.store("Store B").await;
    let session_a = svc.login(&a, "laptop").await;
    let session_b = svc.login(&b, "laptop").await;
    let (_, key_a) = svc.create_key(&session_a, json!({"name": "a", "scopes": ["read", "write"]})).await;
    let (id_b, key_b) = svc.create_key(&session_b, json!({"name": "b", "scopes": ["read", "write"]})).await;
    let post = |key: &str, body: serde_json::Value| {
        let request = svc.http.post(format!("{}/v1/raw-materials", svc.base)).header("x-api-key", key.to_owned()).json(&body);
        async move { read(request.send().await.unwrap()).await }
    };
    let b_item = post(&key_b, json!({"name": "B's secret sauce", "unit": "l"})).await.assert_status(201)["id"].as_i64().unwrap();
    post(&key_a, json!({"name": "A's timber", "unit": "m"})).await.assert_status(201);

    assert_eq!(svc.with_key("/v1/whoami", &key_a).await.body["store"]["name"], "Store A");
    let listed = svc.with_key("/v1/raw-materials", &key_a).await;
    assert!(!listed.text.contains("secret sauce"));
    svc.with_key(&format!("/v1/raw-materials/{b_item}"), &key_a).await.assert_error(404, "not_found");
    let patch = svc.http.patch(format!("{}/v1/raw-materials/{b_item}", svc.base)).header("x-api-key", &key_a).json(&json!({"stock": 0}));
    read(patch.send().await.unwrap()).await.assert_error(404, "not_found");
    let bom = json!({"product": "Mix", "lines": [{"raw_material_id": b_item, "quantity": 1}]});
    let request = svc.http.post(format!("{}/v1/boms", svc.base)).header("x-api-key", &key_a).json(&bom);
    read(request.send().await.unwrap()).await.assert_error(400, "invalid_request");

    // The management API is pinned too: A's session cannot see or touch B's key.
    svc.get(&format!("/api/keys/{id_b}"), &session_a).await.assert_error(404, "not_found");
    svc.delete(&format!("/api/keys/{id_b}"), &session_a).await.assert_error(404, "not_found");
    svc.patch(&format!("/api/keys/{id_b}"), &session_a, json!({"name": "mine"})).await.assert_error(404, "not_found");
    svc.post(&format!("/api/keys/{id_b}/rotate"), &session_a, json!({})).await.assert_error(404, "not_found");
    svc.with_key("/v1/whoami", &key_b).await.assert_status(200);
}

#[tokio::test]
async fn past_the_rate_limit_a_key_gets_429_with_retry_after() {
    let svc = Service::start_with(|c| c.key_requests_per_minute = 3).await;
    let owner = svc.store("Acme").await;
    let session = svc.login(&owner, "laptop").await;
    let (_, key) = svc.create_key(&session, json!({"name": "bot"})).await;
    let (_, other) = svc.create_key(&session, json!({"name": "other"})).await;
    for remaining in ["2", "1", "0"] {
        let ok = svc.with_key("/v1/whoami", &key).await;
        ok.assert_status(200);
        assert_eq!(ok.header("ratelimit-limit"), Some("3"));
        assert_eq!(ok.header("ratelimit-remaining"), Some(remaining));
    }
    let limited = svc.with_key("/v1/whoami", &key).await;
    limited.assert_error(429, "rate_limited");
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(limited.header("ratelimit-remaining"), Some("0"));
    // The limit is per key.
    svc.with_key("/v1/whoami", &other).await.assert_status(200);
}

#[tokio::test]
async fn repeated_failures_from_one_address_do_not_refuse_a_valid_key() {
    let svc = Service::start_with(|c| c.failed_auth_per_minute = 3).await;
    let owner = svc.store("Acme").await;
    let session = svc.login(&owner, "laptop").await;
    let (_, key) = svc.create_key(&session, json!({"name": "bot"})).await;
    for _ in 0..5 {
        svc.with_key("/v1/whoami", "asmk_guess").await.assert_error(401, "malformed_key");
    }
    // Never seen before, so it takes argon2, in the narrow lane: still a true answer.
    svc.with_key("/v1/whoami", &key).await.assert_status(200);
}
