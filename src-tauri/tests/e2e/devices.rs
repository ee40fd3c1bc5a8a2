//! The lost laptop from the app: signing out another device, its keys and web-chat
//! connections revoked with it.

use keyward::client::ApiClient;
use keyward_core::wire::ConnectionCodeRequest;

use crate::harness::World;
use crate::oauth::{self, Approval};

/// A web-chat app (called Claude) connected through the real authorization, the code pasted on
/// the consent page; returns its access token.
pub async fn exchange(world: &World, code: &str) -> String {
    oauth::connect(&world.server, "Claude", Approval::Code(code)).await.access_token
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_out_another_device_ends_its_session_and_revokes_its_keys() {
    let mut world = World::start("5-devices").await;
    let lost = ApiClient::new(&world.server).unwrap().login("owner@demo.keyward.test", "keyward-demo", "Lost laptop").await.unwrap();
    let lost_client = ApiClient::new(&world.server).unwrap().with_session(lost.token.clone());
    let key = lost_client
        .create_key(&keyward_core::wire::CreateKeyRequest { name: "On the lost laptop".into(), scopes: None, expires_at: None })
        .await
        .unwrap();
    let code = lost_client.create_connection_code(&ConnectionCodeRequest { scopes: None, app_name: Some("Claude".into()) }).await.unwrap();
    let access = exchange(&world, &code.code).await;
    assert_eq!(oauth::mcp_status(&world.server, &access).await, 200, "the connection granted from the lost laptop works");
    world.sign_in().await;

    world.click("[data-testid=nav-devices]").await;
    let row = format!("tr[data-device-id='{}']", lost.device.id);
    assert!(world.text(&row).await.contains("Lost laptop"));
    assert!(world.text("[data-testid=devices-table]").await.contains("this device"));
    world.screenshot("devices").await;
    world.click(&format!("{row} [data-testid=sign-out-device]")).await;
    let dialog = world.text("[role=alertdialog]").await;
    assert!(dialog.contains("Lost laptop"), "{dialog}");
    assert_eq!(world.find("input[name=revoke-keys]").await.prop("checked").await.unwrap().as_deref(), Some("true"));
    world.screenshot("confirm").await;
    world.click("[data-testid=confirm-sign-out-device]").await;
    world.wait_text("[data-testid=notice]", "Revoked with it: 1 key created and 1 web-chat connection granted from it").await;
    world.wait_text(&format!("{row} .status"), "signed out").await;
    world.screenshot("signed-out").await;

    let refused = lost_client.list_keys(false).await.unwrap_err();
    assert!(refused.needs_sign_in(), "the lost laptop's token is refused: {refused}");
    let gone = ApiClient::new(&world.server).unwrap().whoami(&key.key).await.unwrap_err();
    assert_eq!(gone.code(), Some("key_revoked"), "its key no longer works");
    assert_eq!(oauth::mcp_status(&world.server, &access).await, 401, "nor does the connection granted from it");
    world.finish().await;
}
