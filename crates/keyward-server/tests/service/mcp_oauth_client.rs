//! The done-when of issue 10: a real OAuth MCP client that this project did not write (rmcp's
//! client with its `auth` feature) connects to `/mcp` through discovery (RFC 9728, RFC 8414),
//! dynamic registration (RFC 7591), consent and tokens (PKCE, RFC 9207 `iss`), calls tools,
//! refreshes; and once the merchant revokes the connection, its next call is 401, its refresh
//! is refused, and the only way back is the consent page.

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::auth::{AuthClient, AuthError, AuthorizationRequest, OAuthState};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;

use crate::browser::{REDIRECT, browser, hidden_inputs};
use crate::common::{PASSWORD, Service, read};

fn call(name: &str) -> CallToolRequestParams {
    CallToolRequestParams::new(name.to_owned()).with_arguments(serde_json::Map::new())
}

/// The merchant's browser: opens the authorization URL the client made, fills the consent
/// form, and returns where it is sent back to.
async fn consent_in_browser(auth_url: &str, typed: &[(&str, &str)]) -> String {
    let page = read(browser().get(auth_url).send().await.unwrap()).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let mut form = hidden_inputs(&page.text);
    form.extend(typed.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let base = auth_url.split("/oauth/authorize").next().unwrap();
    let answer = read(browser().post(format!("{base}/oauth/authorize")).form(&form).send().await.unwrap()).await;
    assert_eq!(answer.status, 303, "{}", answer.text);
    answer.header("location").unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn rmcps_oauth_client_connects_calls_refreshes_and_is_cut_off_by_revocation() {
    let (svc, owner, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let mcp_url = svc.resource();

    // Discovery and registration, as the client does them on its own from the MCP URL.
    let mut oauth = OAuthState::new(mcp_url.as_str(), None).await.unwrap();
    oauth.start_authorization(AuthorizationRequest::new(REDIRECT).with_client_name("Claude")).await.unwrap();
    let auth_url = oauth.get_authorization_url().await.unwrap();
    assert!(auth_url.starts_with(&format!("{}/oauth/authorize?", svc.base)), "{auth_url}");

    // Consent: the merchant signs in and keeps Read only; the client checks `iss`.
    let location = consent_in_browser(&auth_url, &[("email", &owner.email), ("password", PASSWORD), ("scope", "read"), ("decision", "approve")]).await;
    assert!(location.starts_with(REDIRECT), "{location}");
    oauth.handle_callback_url(&location).await.unwrap();

    // initialize, tools/list and tools/call over streamable HTTP with the token.
    let auth = AuthClient::new(reqwest::Client::default(), oauth.into_authorization_manager().unwrap());
    let transport = StreamableHttpClientTransport::with_client(auth.clone(), StreamableHttpClientTransportConfig::with_uri(mcp_url.clone()));
    let client = ().serve(transport).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(names.contains(&"list_raw_materials"), "{names:?}");
    assert!(!names.contains(&"set_stock"), "a read-only connection sees no write tools: {names:?}");
    let listed = client.call_tool(call("list_raw_materials")).await.unwrap();
    assert_ne!(listed.is_error, Some(true), "{listed:?}");
    // A write tool named anyway: 403 insufficient_scope, which the client reports as such.
    let refused = client.call_tool(CallToolRequestParams::new("set_stock").with_arguments(json!({"id": 1, "stock": 2}).as_object().unwrap().clone())).await;
    let refused = format!("{:?}", refused.unwrap_err());
    assert!(refused.contains("InsufficientScope") && refused.contains("read write"), "{refused}");

    let connections = svc.get("/api/connections", &session).await;
    let connection = connections.assert_status(200)["connections"][0].clone();
    assert_eq!(connection["app_name"], "Claude");
    assert_eq!(connection["scopes"], json!(["read"]));

    // A refresh works, rotates, and the new token works.
    let before = auth.get_access_token().await.unwrap();
    auth.auth_manager.lock().await.refresh_token().await.unwrap();
    let after = auth.get_access_token().await.unwrap();
    assert_ne!(before, after);
    client.call_tool(call("list_raw_materials")).await.unwrap();

    // The merchant revokes the connection: the very next call is refused with a challenge.
    let id = connection["id"].as_str().unwrap();
    svc.delete(&format!("/api/connections/{id}"), &session).await.assert_status(200);
    let cut_off = client.call_tool(call("list_raw_materials")).await.unwrap_err();
    assert!(cut_off.is_authorization_required(), "{cut_off:?}");
    let challenge = cut_off.auth_challenge().unwrap().to_owned();
    assert!(challenge.contains("invalid_token") && challenge.contains("resource_metadata="), "{challenge}");
    // Its refresh is refused for good (invalid_grant), so it cannot come back on its own ...
    let refresh = auth.auth_manager.lock().await.refresh_token().await;
    assert!(matches!(refresh, Err(AuthError::TokenRefreshRejected(_))), "{refresh:?}");
    // ... only through the consent page again.
    let mut again = OAuthState::new(mcp_url.as_str(), None).await.unwrap();
    again.start_authorization(AuthorizationRequest::new(REDIRECT).with_client_name("Claude").with_challenge(challenge)).await.unwrap();
    let page = read(browser().get(again.get_authorization_url().await.unwrap()).send().await.unwrap()).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Connect Claude to your store?"), "{}", page.text);
}
