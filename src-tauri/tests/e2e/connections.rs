//! Connected apps: the store's MCP URL and the steps for claude.ai and ChatGPT, a code made in
//! the app for the consent page, apps connected through the real authorization (one with that
//! code, one by signing in on the consent page) listed, and one revoked from the app.

use std::time::{Duration, Instant};

use fantoccini::Locator;

use crate::harness::{DEMO_PASSWORD, OWNER, World};
use crate::oauth::{self, Approval};

/// The selector of the connections table's row for `app`, once the list shows it.
async fn row_of(world: &World, app: &str) -> String {
    world.wait_text("[data-testid=connections-table]", app).await;
    for row in world.client.find_all(Locator::Css("[data-testid=connections-table] tbody tr")).await.unwrap() {
        if row.find(Locator::Css("td.app")).await.unwrap().text().await.unwrap() == app {
            let id = row.attr("data-connection-id").await.unwrap().expect("each row names its connection");
            return format!("tr[data-connection-id='{id}']");
        }
    }
    panic!("no row for {app}");
}

/// Reopens the screen until `css` no longer reads `—` (the service writes uses every few seconds).
async fn wait_until_set(world: &World, css: &str) -> String {
    let start = Instant::now();
    loop {
        let now = world.text(css).await;
        if now != "—" {
            return now;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{css} still reads —");
        tokio::time::sleep(Duration::from_millis(500)).await;
        world.click("[data-testid=nav-keys]").await;
        world.click("[data-testid=nav-connections]").await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn apps_connected_through_consent_are_listed_and_revoked() {
    let mut world = World::start("8-connections").await;
    world.sign_in().await;
    world.click("[data-testid=nav-connections]").await;

    let mcp_url = format!("{}/mcp", world.server);
    world.wait_text("[data-testid=mcp-url]", &mcp_url).await;
    assert_eq!(world.text("[data-testid=mcp-url]").await, mcp_url, "the MCP URL exactly as the service names it");
    world.find("[data-testid=copy-mcp-url]").await;
    let steps = world.text("[data-testid=connect-steps]").await;
    for step in ["Settings → Connectors", "Add custom connector", "Apps & Connectors", "Developer mode", "OAuth", "consent page", "connection code", "email and password"] {
        assert!(steps.contains(step), "the steps say {step:?}: {steps}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await; // let the new screen paint
    world.screenshot("steps").await;

    world.click("[data-testid=new-code]").await;
    world.type_into("input[name=app-name]", "Claude").await;
    world.click("form button[type=submit]").await;
    let shown = world.text("[data-testid=connection-code]").await;
    assert!(shown.contains("consent page") && shown.contains("Read only"), "{shown}");
    let code = world.text("[data-testid=code]").await;
    assert!(code.starts_with("kwcode_"), "{code}");
    world.screenshot("code").await;

    // The apps' side, over HTTP as claude.ai and ChatGPT would, the merchant's browser filling
    // the consent page: Claude with the code made above, ChatGPT by signing in (read & write).
    let claude = oauth::connect(&world.server, "Claude", Approval::Code(&code)).await;
    let chatgpt = oauth::connect(&world.server, "ChatGPT", Approval::SignIn { email: OWNER, password: DEMO_PASSWORD, scope: "write" }).await;
    assert_eq!((claude.scope.as_str(), chatgpt.scope.as_str()), ("read", "read write"), "the code's scope, and the one chosen on the page");
    assert_eq!(oauth::mcp_status(&world.server, &claude.access_token).await, 200, "Claude's token works");
    world.click("[data-testid=dismiss-code]").await;

    let claude_row = row_of(&world, "Claude").await;
    assert_eq!(world.text(&format!("{claude_row} td.kind")).await, "web chat");
    assert_eq!(world.text(&format!("{claude_row} td.host")).await, "127.0.0.1");
    assert_eq!(world.text(&format!("{claude_row} td.scope")).await, "Read only");
    assert!(world.text(&claude_row).await.contains("Olivia Owner"), "granted by the owner");
    assert!(world.text(&format!("{claude_row} .granted-from")).await.starts_with("with a code from "), "approved with a code made on a device");
    assert_eq!(world.text(&format!("{claude_row} .status")).await, "active");
    let last_used = wait_until_set(&world, &format!("{claude_row} td.last-used")).await;
    assert_eq!(last_used, "just now");
    let chatgpt_row = row_of(&world, "ChatGPT").await;
    assert_eq!(world.text(&format!("{chatgpt_row} td.scope")).await, "Read & write");
    assert_eq!(world.text(&format!("{chatgpt_row} td.kind")).await, "web chat");
    assert_eq!(world.text(&format!("{chatgpt_row} .granted-from")).await, "signed in on the consent page");
    world.screenshot("listed").await;

    world.click(&format!("{claude_row} [data-testid=revoke-connection]")).await;
    let dialog = world.text("[role=alertdialog]").await;
    assert!(dialog.contains("Claude (127.0.0.1)") && dialog.contains("consent page"), "{dialog}");
    world.screenshot("confirm").await;
    world.click("[data-testid=confirm-revoke-connection]").await;
    world.wait_text(&format!("{claude_row} .status"), "revoked").await;
    assert_eq!(world.count(&format!("{claude_row} [data-testid=revoke-connection]")).await, 0);
    world.screenshot("revoked").await;
    assert_eq!(oauth::mcp_status(&world.server, &claude.access_token).await, 401, "the revoked connection's token is refused");
    assert_eq!(oauth::mcp_status(&world.server, &chatgpt.access_token).await, 200, "the other app keeps working");
    assert_eq!(world.text(&format!("{chatgpt_row} .status")).await, "active");

    world.click("[data-testid=nav-audit]").await;
    world.wait_text("[data-testid=audit-table]", "Claude").await;
    world.screenshot("audit").await;
    let page = world.source().await;
    for token in [&claude.access_token, &claude.refresh_token, &chatgpt.access_token] {
        assert!(!page.contains(token.as_str()), "no token reaches the app");
    }
    world.finish().await;
}
