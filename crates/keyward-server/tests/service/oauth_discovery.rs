//! Discovery as the MCP authorization specification has OAuth clients do it: a 401 at `/mcp`
//! names the protected resource metadata (RFC 9728), which names the resource and its
//! authorization server. (Issue 10, part 1.)

use serde_json::json;

use crate::common::{Service, read};

#[tokio::test]
async fn a_401_at_mcp_or_v1_names_the_resource_metadata() {
    let svc = Service::start().await;
    let metadata = format!("{}/.well-known/oauth-protected-resource/mcp", svc.base);
    for (method, path) in [(reqwest::Method::POST, "/mcp"), (reqwest::Method::GET, "/v1/whoami")] {
        let bare = read(svc.http.request(method.clone(), format!("{}{path}", svc.base)).send().await.unwrap()).await;
        assert_eq!(bare.status, 401, "{path}: {}", bare.text);
        let challenge = bare.header("www-authenticate").unwrap();
        assert_eq!(challenge, format!("Bearer realm=\"keyward\", resource_metadata=\"{metadata}\", scope=\"read\""));
        assert_eq!(bare.header("access-control-expose-headers"), Some("WWW-Authenticate"));

        let wrong = read(svc.http.request(method, format!("{}{path}", svc.base)).bearer_auth("kwat_not_a_token").send().await.unwrap()).await;
        wrong.assert_error(401, "invalid_token");
        let challenge = wrong.header("www-authenticate").unwrap();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert!(challenge.contains(&format!("resource_metadata=\"{metadata}\"")), "{challenge}");
    }
}

#[tokio::test]
async fn the_protected_resource_metadata_names_mcp_and_its_authorization_server() {
    let svc = Service::start().await;
    for path in ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"] {
        let reply = read(svc.http.get(format!("{}{path}", svc.base)).header("origin", "https://claude.ai").send().await.unwrap()).await;
        let body = reply.assert_status(200);
        assert_eq!(body["resource"], format!("{}/mcp", svc.base));
        assert_eq!(body["authorization_servers"], json!([svc.base]));
        assert_eq!(body["scopes_supported"], json!(["read", "write"]));
        assert_eq!(body["bearer_methods_supported"], json!(["header"]));
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    }
}

#[tokio::test]
async fn behind_a_proxy_the_public_url_is_the_one_named() {
    let svc = Service::start_with(|c| c.public_url = Some("https://keys.example.com/".into())).await;
    let body = read(svc.http.get(format!("{}/.well-known/oauth-protected-resource/mcp", svc.base)).send().await.unwrap()).await;
    assert_eq!(body.assert_status(200)["resource"], "https://keys.example.com/mcp");
    assert_eq!(body.body["authorization_servers"], json!(["https://keys.example.com"]));
    let bare = read(svc.http.post(format!("{}/mcp", svc.base)).send().await.unwrap()).await;
    assert!(bare.header("www-authenticate").unwrap().contains("https://keys.example.com/.well-known/oauth-protected-resource/mcp"));
}

#[tokio::test]
async fn the_authorization_server_metadata_names_one_issuer_and_every_endpoint() {
    let svc = Service::start().await;
    let reply = read(svc.http.get(format!("{}/.well-known/oauth-authorization-server", svc.base)).send().await.unwrap()).await;
    let doc = reply.assert_status(200);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    let issuer = doc["issuer"].as_str().unwrap();
    assert_eq!(issuer, svc.base, "the issuer is the public URL exactly, no trailing slash");
    let resource = read(svc.http.get(format!("{}/.well-known/oauth-protected-resource/mcp", svc.base)).send().await.unwrap()).await;
    assert_eq!(resource.body["authorization_servers"], json!([issuer]), "the same string everywhere");
    for (field, path) in [
        ("authorization_endpoint", "/oauth/authorize"),
        ("token_endpoint", "/oauth/token"),
        ("registration_endpoint", "/oauth/register"),
        ("revocation_endpoint", "/oauth/revoke"),
    ] {
        assert_eq!(doc[field], format!("{issuer}{path}"), "{field}");
    }
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["grant_types_supported"], json!(["authorization_code", "refresh_token"]));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["token_endpoint_auth_methods_supported"], json!(["none", "client_secret_post", "client_secret_basic"]));
    assert_eq!(doc["client_id_metadata_document_supported"], true);
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);

    let proxied = Service::start_with(|c| c.public_url = Some("https://keys.example.com/".into())).await;
    let doc = read(proxied.http.get(format!("{}/.well-known/oauth-authorization-server", proxied.base)).send().await.unwrap()).await;
    assert_eq!(doc.body["issuer"], "https://keys.example.com");
    assert_eq!(doc.body["token_endpoint"], "https://keys.example.com/oauth/token");
}

#[tokio::test]
async fn a_browser_based_client_may_discover_register_and_get_tokens_from_its_own_origin() {
    let svc = Service::start().await;
    for path in ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-authorization-server", "/oauth/register", "/oauth/token", "/oauth/revoke"] {
        let preflight = svc
            .http
            .request(reqwest::Method::OPTIONS, format!("{}{path}", svc.base))
            .header("origin", "https://inspector.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type, mcp-protocol-version")
            .send()
            .await
            .unwrap();
        assert!(preflight.status().is_success(), "{path}: {}", preflight.status());
        assert_eq!(preflight.headers().get_all("access-control-allow-origin").iter().count(), 1, "{path}");
    }
    let metadata = svc.http.get(format!("{}/.well-known/oauth-authorization-server", svc.base)).header("origin", "https://inspector.example").send().await.unwrap();
    let origins: Vec<_> = metadata.headers().get_all("access-control-allow-origin").iter().collect();
    assert_eq!(origins, ["*"], "exactly one value, or browsers refuse it");
    // The consent page is not for other origins.
    let page = svc.http.get(format!("{}/oauth/authorize", svc.base)).header("origin", "https://inspector.example").send().await.unwrap();
    assert!(page.headers().get("access-control-allow-origin").is_none());
}
