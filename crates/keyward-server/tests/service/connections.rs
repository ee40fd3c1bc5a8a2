//! Web-chat connections: a code works once, its token works until the connection is revoked,
//! and its refresh is refused afterwards: no silent reconnect.

use serde_json::{Value, json};

use crate::common::{Reply, Service, read};

async fn token(svc: &Service, form: &[(&str, &str)]) -> Reply {
    read(svc.http.post(format!("{}/oauth/token", svc.base)).form(form).send().await.unwrap()).await
}

async fn new_code(svc: &Service, session: &str, body: Value) -> String {
    let reply = svc.post("/api/connections/codes", session, body).await;
    reply.assert_status(201)["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_code_works_once_and_its_token_until_the_connection_is_revoked() {
    let svc = Service::start().await;
    let owner = svc.store("Acme").await;
    let session = svc.login(&owner, "laptop").await;
    let code = new_code(&svc, &session, json!({"scopes": ["read"], "app_name": "Claude.ai"})).await;

    let granted = token(&svc, &[("grant_type", "authorization_code"), ("code", &code)]).await;
    let body = granted.assert_status(200).clone();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read");
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();

    let me = svc.get("/v1/whoami", access).await;
    assert_eq!(me.assert_status(200)["store"]["name"], "Acme");
    assert!(me.body["key_prefix"].as_str().unwrap().starts_with("connection:"));
    let write = read(svc.http.post(format!("{}/v1/raw-materials", svc.base)).bearer_auth(access).json(&json!({"name": "x", "unit": "kg"})).send().await.unwrap()).await;
    write.assert_error(403, "insufficient_scope");

    // Refresh rotates the pair while the connection lives.
    let refreshed = token(&svc, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    let access2 = refreshed.assert_status(200)["access_token"].as_str().unwrap().to_owned();
    let refresh2 = refreshed.body["refresh_token"].as_str().unwrap().to_owned();
    // (A code or refresh token used twice revokes the connection: see security_review.rs.)

    let listed = svc.get("/api/connections", &session).await;
    let connection = listed.assert_status(200)["connections"][0].clone();
    assert_eq!(connection["app_name"], "Claude.ai");
    assert_eq!(connection["granted_by"]["email"], "owner@acme.test");
    assert_eq!(connection["scopes"], json!(["read"]));
    let id = connection["id"].as_str().unwrap();

    svc.delete(&format!("/api/connections/{id}"), &session).await.assert_status(200);
    svc.get("/v1/whoami", &access2).await.assert_error(401, "connection_revoked");
    svc.get("/v1/whoami", access).await.assert_error(401, "connection_revoked");
    token(&svc, &[("grant_type", "refresh_token"), ("refresh_token", &refresh2)]).await.assert_error(400, "invalid_grant");
    let after = svc.get("/api/connections", &session).await;
    assert!(after.body["connections"][0]["revoked_at"].is_string());
}

#[tokio::test]
async fn bad_grants_are_refused_with_a_sentence() {
    let svc = Service::start().await;
    token(&svc, &[("grant_type", "authorization_code"), ("code", "kwcode_made_up")]).await.assert_error(400, "invalid_grant");
    token(&svc, &[("grant_type", "password")]).await.assert_error(400, "unsupported_grant_type");
    token(&svc, &[("grant_type", "refresh_token")]).await.assert_error(400, "invalid_request");
    let raw = read(svc.http.post(format!("{}/oauth/token", svc.base)).body("%%%").send().await.unwrap()).await;
    assert!(raw.status.is_client_error());
    svc.get("/v1/whoami", "kwat_made_up").await.assert_error(401, "invalid_token");
}

#[tokio::test]
async fn a_connection_of_one_store_cannot_be_seen_or_revoked_by_another() {
    let svc = Service::start().await;
    let a = svc.store("Store A").await;
    let b = svc.store("Store B").await;
    let session_a = svc.login(&a, "laptop").await;
    let session_b = svc.login(&b, "laptop").await;
    let code = new_code(&svc, &session_a, json!({"app_name": "Chat"})).await;
    token(&svc, &[("grant_type", "authorization_code"), ("code", &code)]).await.assert_status(200);
    let id = svc.get("/api/connections", &session_a).await.body["connections"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(svc.get("/api/connections", &session_b).await.body["connections"], json!([]));
    svc.delete(&format!("/api/connections/{id}"), &session_b).await.assert_error(404, "not_found");
}
