//! RFC 7591 dynamic client registration, as claude.ai does it before sending a merchant to
//! consent; refusals in OAuth's shape, with nothing stored. (Issue 10, part 2.)

use serde_json::{Value, json};

use crate::common::{Reply, Service, read};

async fn register(svc: &Service, body: Value) -> Reply {
    read(svc.http.post(format!("{}/oauth/register", svc.base)).json(&body).send().await.unwrap()).await
}

#[track_caller]
fn assert_oauth_error(reply: &Reply, error: &str) {
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.body["error"], error, "{}", reply.text);
    let description = reply.body["error_description"].as_str().unwrap_or("");
    assert!(description.len() > 10 && description.ends_with('.'), "not a sentence: {description:?}");
}

#[tokio::test]
async fn a_public_client_registers_as_claude_ai_does() {
    let svc = Service::start().await;
    let reply = register(&svc, json!({
        "client_name": "Claude",
        "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "read write",
        "logo_uri": "https://claude.ai/logo.png"
    }))
    .await;
    let body = reply.assert_status(201);
    assert!(body["client_id"].as_str().unwrap().starts_with("cli_"));
    assert!(body.get("client_secret").is_none());
    assert_eq!(body["redirect_uris"], json!(["https://claude.ai/api/mcp/auth_callback"]));
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(body["grant_types"], json!(["authorization_code", "refresh_token"]));
    assert_eq!(body["response_types"], json!(["code"]));
}

#[tokio::test]
async fn a_confidential_client_gets_a_secret_once_and_only_its_digest_is_kept() {
    let svc = Service::start().await;
    let reply = register(&svc, json!({"client_name": "Partner", "redirect_uris": ["http://127.0.0.1:4000/cb"], "token_endpoint_auth_method": "client_secret_post"})).await;
    let body = reply.assert_status(201);
    let secret = body["client_secret"].as_str().unwrap();
    assert!(secret.starts_with("kwcs_"));
    assert_eq!(body["client_secret_expires_at"], 0);
    assert!(!svc.snapshot().await.contains(&secret[5..]), "the secret itself is never stored");
}

#[tokio::test]
async fn bad_registrations_are_refused_in_oauths_shape_and_store_nothing() {
    let svc = Service::start().await;
    let before = svc.snapshot().await;
    let uri = |u: &str| json!({"client_name": "x", "redirect_uris": [u]});
    for (body, error) in [
        (json!({"client_name": "x"}), "invalid_redirect_uri"),
        (json!({"client_name": "x", "redirect_uris": []}), "invalid_redirect_uri"),
        (uri("http://example.com/cb"), "invalid_redirect_uri"),
        (uri("javascript:alert(1)"), "invalid_redirect_uri"),
        (uri("https://example.com/cb#frag"), "invalid_redirect_uri"),
        (uri("/relative/cb"), "invalid_redirect_uri"),
        (uri(&format!("https://example.com/{}", "a".repeat(3000))), "invalid_redirect_uri"),
        (json!({"redirect_uris": (0..11).map(|i| format!("https://e.com/{i}")).collect::<Vec<_>>()}), "invalid_client_metadata"),
        (json!({"client_name": "", "redirect_uris": ["https://e.com/cb"]}), "invalid_client_metadata"),
        (json!({"client_name": "x".repeat(300), "redirect_uris": ["https://e.com/cb"]}), "invalid_client_metadata"),
        (json!({"redirect_uris": ["https://e.com/cb"], "token_endpoint_auth_method": "private_key_jwt"}), "invalid_client_metadata"),
        (json!({"redirect_uris": ["https://e.com/cb"], "grant_types": ["client_credentials"]}), "invalid_client_metadata"),
        (json!({"redirect_uris": ["https://e.com/cb"], "response_types": ["token"]}), "invalid_client_metadata"),
        (json!({"redirect_uris": "https://e.com/cb"}), "invalid_client_metadata"),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
    ] {
        let reply = register(&svc, body.clone()).await;
        assert_oauth_error(&reply, error);
    }
    let garbage = read(svc.http.post(format!("{}/oauth/register", svc.base)).header("content-type", "application/json").body("{not json").send().await.unwrap()).await;
    assert_oauth_error(&garbage, "invalid_client_metadata");
    assert_eq!(svc.snapshot().await, before, "nothing was registered");
}

#[tokio::test]
async fn registrations_from_one_address_are_limited() {
    let svc = Service::start().await;
    let body = json!({"redirect_uris": ["https://e.com/cb"]});
    for _ in 0..20 {
        register(&svc, body.clone()).await.assert_status(201);
    }
    let refused = register(&svc, body).await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert_eq!(refused.body["error"], "temporarily_unavailable");
    assert!(refused.header("retry-after").is_some());
}

#[tokio::test]
async fn registrations_never_used_are_forgotten_after_a_day() {
    let svc = Service::start().await;
    register(&svc, json!({"redirect_uris": ["https://e.com/cb"]})).await.assert_status(201);
    let count = async || svc.sql_value::<i64>("SELECT COUNT(*) FROM oauth_clients", &[]).await.unwrap();
    assert_eq!(count().await, 1);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert_eq!(svc.state.db.forget_unused_clients(now - 24 * 3600).await.unwrap(), 0, "a fresh registration stays");
    assert_eq!(svc.state.db.forget_unused_clients(now + 1).await.unwrap(), 1);
    assert_eq!(count().await, 0);
}
