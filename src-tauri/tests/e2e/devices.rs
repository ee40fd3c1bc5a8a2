//! The lost laptop from the app: signing out another device (its keys and web-chat
//! connections revoked with it), and connected apps.

use keyward::client::ApiClient;
use keyward_core::wire::ConnectionCodeRequest;

use crate::harness::World;

/// The web-chat app's side: exchanges a connection code for an access token, as OAuth clients do.
pub async fn exchange(world: &World, code: &str) -> String {
    let grant: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/oauth/token", world.server))
        .form(&[("grant_type", "authorization_code"), ("code", code)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    grant["access_token"].as_str().expect("the code is exchanged for a token").to_owned()
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
    let code = lost_client.create_connection_code(&ConnectionCodeRequest { scopes: None, app_name: Some("Claude on the web".into()) }).await.unwrap();
    let access = exchange(&world, &code.code).await;
    let http = ApiClient::new(&world.server).unwrap();
    assert!(http.whoami(&access).await.is_ok(), "the connection granted from the lost laptop works");
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
    assert!(http.whoami(&access).await.is_err(), "nor does the connection granted from it");
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_code_is_shown_and_the_connection_revoked() {
    let mut world = World::start("8-connections").await;
    world.sign_in().await;
    world.click("[data-testid=nav-connections]").await;
    world.click("[data-testid=new-code]").await;
    world.type_into("input[name=app-name]", "Claude on the web").await;
    world.click("form button[type=submit]").await;
    let shown = world.text("[data-testid=connection-code]").await;
    assert!(shown.contains("Claude on the web") && shown.contains("Read only"), "{shown}");
    let code = world.text("[data-testid=connection-code] code").await;
    world.screenshot("code").await;

    let access = exchange(&world, &code).await;
    let http = ApiClient::new(&world.server).unwrap();
    assert!(http.whoami(&access).await.is_ok(), "the code gives a working connection");
    world.click("[data-testid=connection-code] button").await;
    world.wait_text("[data-testid=connections-table]", "Claude on the web").await;
    world.click("[data-testid=revoke-connection]").await;
    world.click("[data-testid=confirm-revoke-connection]").await;
    world.wait_text("[data-testid=connections-table] .status", "revoked").await;
    world.screenshot("revoked").await;
    assert!(http.whoami(&access).await.is_err(), "the revoked connection's token is refused");

    world.click("[data-testid=nav-audit]").await;
    world.wait_text("[data-testid=audit-table]", "Claude on the web").await;
    world.screenshot("audit").await;
    world.finish().await;
}
