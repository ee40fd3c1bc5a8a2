//! Connections: an app the merchant approved gets tokens that work until the connection is
//! revoked, and its refresh is refused afterwards: no silent reconnect.

use serde_json::json;

use crate::common::{Service, read};

#[tokio::test]
async fn an_approved_app_works_until_the_connection_is_revoked() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let grant = svc.connect_app(&session, "Claude", json!({"scopes": ["read"]})).await;
    assert_eq!(grant.scope, "read");
    let access = grant.access.as_str();

    // The token is for /mcp (the resource it was issued for), not the REST data plane.
    svc.get("/v1/whoami", access).await.assert_error(401, "invalid_token");
    let listed = crate::common::mcp(&svc, access, 1, "tools/list", json!({})).await;
    let tools: Vec<String> = listed.assert_status(200)["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_owned()).collect();
    assert!(tools.contains(&"list_raw_materials".to_owned()) && !tools.contains(&"set_stock".to_owned()), "{tools:?}");

    // Refresh rotates the pair while the connection lives.
    let refreshed = svc.refresh(&grant.app, &grant.refresh).await;
    let access2 = refreshed.assert_status(200)["access_token"].as_str().unwrap().to_owned();
    let refresh2 = refreshed.body["refresh_token"].as_str().unwrap().to_owned();
    crate::common::mcp(&svc, &access2, 2, "tools/list", json!({})).await.assert_status(200);
    // (A code or refresh token used twice revokes the connection: see security_review.rs.)

    let listed = svc.get("/api/connections", &session).await;
    let connection = listed.assert_status(200)["connections"][0].clone();
    assert_eq!(connection["app_name"], "Claude");
    assert_eq!(connection["kind"], "web_chat");
    assert_eq!(connection["redirect_host"], "127.0.0.1");
    assert_eq!(connection["granted_by"]["email"], "owner@acme.test");
    assert_eq!(connection["granted_device"], "laptop", "approved with a code made on the laptop");
    assert_eq!(connection["scopes"], json!(["read"]));
    assert!(connection["last_used_at"].is_string(), "the MCP calls count as use: {connection}");
    let id = connection["id"].as_str().unwrap();

    svc.delete(&format!("/api/connections/{id}"), &session).await.assert_status(200);
    let after = crate::common::mcp(&svc, &access2, 3, "tools/list", json!({})).await;
    after.assert_error(401, "connection_revoked");
    assert!(after.header("www-authenticate").unwrap().contains("invalid_token"), "the app is told to authorize again");
    svc.refresh(&grant.app, &refresh2).await.assert_oauth_error(400, "invalid_grant");
    let after = svc.get("/api/connections", &session).await;
    assert!(after.body["connections"][0]["revoked_at"].is_string());
}

#[tokio::test]
async fn bad_grants_are_refused_in_oauths_shape() {
    let svc = Service::start().await;
    let app = svc.register_app("Claude").await;
    let id = app.client_id.as_str();
    svc.token_request(&[("grant_type", "authorization_code"), ("code", "kwac_made_up"), ("code_verifier", crate::browser::VERIFIER), ("client_id", id)])
        .await
        .assert_oauth_error(400, "invalid_grant");
    svc.token_request(&[("grant_type", "password"), ("client_id", id)]).await.assert_oauth_error(400, "unsupported_grant_type");
    svc.token_request(&[("grant_type", "refresh_token"), ("client_id", id)]).await.assert_oauth_error(400, "invalid_request");
    svc.token_request(&[("grant_type", "authorization_code"), ("code", "kwac_x"), ("client_id", id)]).await.assert_oauth_error(400, "invalid_request");
    svc.token_request(&[("grant_type", "refresh_token"), ("refresh_token", "kwrt_x")]).await.assert_oauth_error(401, "invalid_client");
    svc.token_request(&[("grant_type", "refresh_token"), ("refresh_token", "kwrt_x"), ("client_id", "cli_unknown")]).await.assert_oauth_error(401, "invalid_client");
    let raw = read(svc.http.post(format!("{}/oauth/token", svc.base)).body("%%%").send().await.unwrap()).await;
    raw.assert_oauth_error(400, "invalid_request");
    svc.get("/v1/whoami", "kwat_made_up").await.assert_error(401, "invalid_token");
}

#[tokio::test]
async fn a_connection_of_one_store_cannot_be_seen_or_revoked_by_another() {
    let svc = Service::start().await;
    let a = svc.store("Store A").await;
    let b = svc.store("Store B").await;
    let session_a = svc.login(&a, "laptop").await;
    let session_b = svc.login(&b, "laptop").await;
    svc.connect_app(&session_a, "Chat", json!({})).await;
    let id = svc.get("/api/connections", &session_a).await.body["connections"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(svc.get("/api/connections", &session_b).await.body["connections"], json!([]));
    svc.delete(&format!("/api/connections/{id}"), &session_b).await.assert_error(404, "not_found");
}
