//! Connected apps from the CLI: the store's MCP URL to add in claude.ai or ChatGPT, a code for
//! the consent page, apps connected through the real authorization listed with what the
//! merchant needs to judge them, and revoked so their tokens are refused.

use crate::common::{Device, EMAIL, PASSWORD, Service, keychain_turn};
use crate::oauth::{self, Approval};

#[tokio::test(flavor = "multi_thread")]
async fn the_mcp_url_and_a_code_for_the_consent_page() {
    let _turn = keychain_turn().await;
    let (service, laptop) = Service::with_device_signed_in("laptop").await;
    let mcp_url = format!("{}/mcp", service.url());

    assert_eq!(laptop.ok(&["connections", "url"]).await, format!("{mcp_url}\n"), "the URL alone, for $(keyward connections url)");
    assert_eq!(laptop.json(&["connections", "url"]).await, serde_json::json!({ "mcp_url": mcp_url }));
    let listed = laptop.ok(&["connections"]).await;
    assert!(listed.starts_with(&format!("MCP URL: {mcp_url} ")), "{listed}");
    assert!(listed.contains("No apps are connected"), "{listed}");
    assert_eq!(laptop.json(&["connections"]).await, serde_json::json!([]), "--json lists the records alone");

    let said = laptop.ok(&["connections", "code", "--write"]).await;
    let code = said.lines().next().unwrap();
    assert!(code.starts_with("kwcode_") && !code.contains(' '), "the code on a line of its own: {said}");
    assert!(said.contains("consent page") && said.contains(&mcp_url) && said.contains("read & write"), "{said}");
    assert!(!said.contains("into Claude"), "the code goes on the consent page, not into the chat: {said}");

    // Without a session the URL is still the service's; without a profile there is nothing to ask.
    let stranger = Device::new(&service.url());
    let output = stranger.run(&["connections", "url"]).await;
    assert_eq!(output.status.code(), Some(3), "not signed in: {}", String::from_utf8_lossy(&output.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn apps_connected_through_consent_are_listed_and_revoked() {
    let _turn = keychain_turn().await;
    let (service, laptop) = Service::with_device_signed_in("laptop").await;
    let server = service.url();

    // Claude with a code made here (read only); ChatGPT with the merchant signing in, read & write.
    let code = laptop.json(&["connections", "code"]).await;
    let claude = oauth::connect(&server, "Claude", Approval::Code(code["code"].as_str().unwrap())).await;
    assert_eq!(claude.scope, "read");
    let chatgpt = oauth::connect(&server, "ChatGPT", Approval::SignIn { email: EMAIL, password: PASSWORD, scope: "write" }).await;
    assert_eq!(chatgpt.scope, "read write");
    assert_eq!(oauth::mcp_status(&server, &claude.access_token).await, 200, "Claude's token works");

    let listed = laptop.json(&["connections"]).await;
    let row = |name: &str| listed.as_array().unwrap().iter().find(|c| c["app_name"] == name).unwrap_or_else(|| panic!("{name} is listed: {listed}")).clone();
    let (claude_row, chatgpt_row) = (row("Claude"), row("ChatGPT"));
    assert_eq!(claude_row["kind"], "web_chat", "{claude_row}");
    assert_eq!(claude_row["redirect_host"], "127.0.0.1", "{claude_row}");
    assert_eq!(claude_row["granted_by"]["email"], EMAIL, "{claude_row}");
    assert_eq!(claude_row["granted_device"], "laptop", "the device whose code approved it: {claude_row}");
    assert!(chatgpt_row["granted_device"].is_null(), "signed in on the consent page: {chatgpt_row}");
    assert_eq!(claude_row["scopes"], serde_json::json!(["read"]), "{claude_row}");
    assert!(claude_row["last_used_at"].is_string(), "Claude's token was used: {claude_row}");
    assert_eq!(chatgpt_row["scopes"], serde_json::json!(["read", "write"]), "{chatgpt_row}");

    let table = laptop.ok(&["connections"]).await;
    let line = table.lines().find(|l| l.contains("Claude")).unwrap_or_else(|| panic!("{table}"));
    for column in ["KIND", "REDIRECT HOST", "GRANTED BY", "FROM", "SCOPE", "LAST USED", "STATUS"] {
        assert!(table.contains(column), "{column}: {table}");
    }
    assert!(line.contains("web chat") && line.contains("127.0.0.1") && line.contains("Ada Owner") && line.contains("Read only") && line.contains("connected"), "{line}");

    let id = claude_row["id"].as_str().unwrap();
    let said = laptop.ok(&["connections", "revoke", id]).await;
    assert!(said.contains("Revoked the connection of \"Claude\"") && said.contains("consent"), "{said}");
    assert_eq!(oauth::mcp_status(&server, &claude.access_token).await, 401, "the revoked connection's token is refused");
    assert_eq!(oauth::mcp_status(&server, &chatgpt.access_token).await, 200, "the other connection keeps working");
    let table = laptop.ok(&["connections"]).await;
    assert!(table.lines().find(|l| l.contains("Claude")).is_some_and(|l| l.contains("revoked")), "{table}");
    let everything = format!("{table}{}", laptop.json(&["connections"]).await);
    assert!(!everything.contains(&claude.access_token) && !everything.contains(&claude.refresh_token), "no token is ever printed");
}
