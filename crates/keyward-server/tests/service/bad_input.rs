//! Bad input gets a 4xx with the JSON error body, and changes nothing in the database.

use reqwest::Method;
use serde_json::json;

use crate::common::{Service, read};

#[tokio::test]
async fn malformed_requests_get_clear_4xx_errors_and_change_nothing() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (id, key) = svc.create_key(&session, json!({"name": "bot", "scopes": ["read", "write"]})).await;
    let before = svc.snapshot().await;

    let raw = |method: Method, path: &str, content_type: Option<&str>, body: Vec<u8>| {
        let mut request = svc.http.request(method, format!("{}{path}", svc.base)).bearer_auth(&session).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        async move { read(request.send().await.unwrap()).await }
    };
    let json_ct = Some("application/json");
    raw(Method::POST, "/api/keys", json_ct, b"{\"name\": ".to_vec()).await.assert_error(400, "invalid_json");
    raw(Method::POST, "/api/keys", json_ct, vec![0xff, 0xfe, b'{']).await.assert_error(400, "invalid_json");
    raw(Method::POST, "/api/keys", None, b"{\"name\":\"x\"}".to_vec()).await.assert_error(415, "unsupported_media_type");
    let huge = format!("{{\"name\": \"{}\"}}", "a".repeat(200_000)).into_bytes();
    raw(Method::POST, "/api/keys", json_ct, huge).await.assert_error(413, "payload_too_large");

    svc.post("/api/keys", &session, json!({"name": 42})).await.assert_error(400, "invalid_body");
    svc.post("/api/keys", &session, json!({"name": "x", "scope": ["read"]})).await.assert_error(400, "invalid_body");
    svc.post("/api/keys", &session, json!({"name": "x", "scopes": ["admin"]})).await.assert_error(400, "invalid_body");
    svc.post("/api/keys", &session, json!({"name": "x", "scopes": []})).await.assert_error(400, "invalid_body");
    svc.post("/api/keys", &session, json!({"name": "é".repeat(256)})).await.assert_error(400, "invalid_name");
    svc.post("/api/keys", &session, json!({"name": "   "})).await.assert_error(400, "invalid_name");
    svc.post("/api/keys", &session, json!({"name": "x", "expires_at": "tomorrow"})).await.assert_error(400, "invalid_body");
    svc.post("/api/keys", &session, json!({"name": "x", "expires_at": "2001-01-01T00:00:00Z"})).await.assert_error(400, "invalid_expiry");
    svc.post("/api/keys", &session, json!([1, 2])).await.assert_error(400, "invalid_body");

    svc.patch("/api/keys/not-an-id", &session, json!({"name": "x"})).await.assert_error(400, "invalid_id");
    svc.patch(&format!("/api/keys/{id}"), &session, json!({})).await.assert_error(400, "nothing_to_change");
    svc.patch(&format!("/api/keys/{id}"), &session, json!({"is_active": "yes"})).await.assert_error(400, "invalid_body");
    svc.delete("/api/keys/ZZZZZZZZ", &session).await.assert_error(404, "not_found");
    svc.delete("/api/keys/%00%01", &session).await.assert_error(400, "invalid_id");
    svc.post(&format!("/api/keys/{id}/rotate"), &session, json!({"overlap_seconds": -5})).await.assert_error(400, "invalid_body");
    svc.post(&format!("/api/keys/{id}/rotate"), &session, json!({"overlap_seconds": 999_999_999})).await.assert_error(400, "invalid_overlap");
    svc.get("/api/keys?include_revoked=maybe", &session).await.assert_error(400, "invalid_query");
    svc.get("/api/devices?x=1", &session).await.assert_status(200);
    svc.delete("/api/devices/dev_x?revoke_keys=perhaps", &session).await.assert_error(400, "invalid_query");
    svc.post("/api/connections/codes", &session, json!({"scopes": ["root"]})).await.assert_error(400, "invalid_body");

    let data = |method: Method, path: &str, body: serde_json::Value| {
        let request = svc.http.request(method, format!("{}{path}", svc.base)).header("x-api-key", &key).json(&body);
        async move { read(request.send().await.unwrap()).await }
    };
    data(Method::POST, "/v1/raw-materials", json!({"name": "x", "unit": "kg", "stock": -1})).await.assert_error(400, "invalid_quantity");
    data(Method::POST, "/v1/raw-materials", json!({"name": "x"})).await.assert_error(400, "invalid_body");
    data(Method::POST, "/v1/boms", json!({"product": "x", "lines": []})).await.assert_error(400, "invalid_bom");
    data(Method::POST, "/v1/boms", json!({"product": "x", "lines": [{"raw_material_id": 1, "quantity": 1}, {"raw_material_id": 1, "quantity": 2}]})).await.assert_error(400, "invalid_request");
    data(Method::GET, "/v1/raw-materials/abc", json!(null)).await.assert_error(400, "invalid_id");
    data(Method::GET, "/v1/raw-materials/99999999999999999999", json!(null)).await.assert_error(400, "invalid_id");

    for header in [&b"Bearer"[..], b"Bearer    ", b"Token abc", b"Bearer \xff\xfe"] {
        let value = reqwest::header::HeaderValue::from_bytes(header).unwrap();
        let reply = read(svc.http.get(format!("{}/api/keys", svc.base)).header("authorization", value).send().await.unwrap()).await;
        assert_eq!(reply.status.as_u16(), 401, "{header:?}: {}", reply.text);
    }
    let reply = read(svc.http.get(format!("{}/v1/whoami", svc.base)).header("x-api-key", vec![0xC3u8, 0x28]).send().await.unwrap()).await;
    reply.assert_error(401, "missing_credentials");

    let nowhere = svc.get("/api/nothing-here", &session).await;
    nowhere.assert_error(404, "not_found");
    let wrong_method = svc.call(Method::PUT, "/api/keys", Some(&session), Some(json!({}))).await;
    wrong_method.assert_error(405, "method_not_allowed");

    assert_eq!(svc.snapshot().await, before, "bad requests must not change the database");
}
