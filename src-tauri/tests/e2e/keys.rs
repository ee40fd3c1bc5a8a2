//! Signing in, creating a key and seeing it once, and revoking it, as a merchant clicks.

use keyward::client::ApiClient;
use keyward_core::wire::CreateKeyRequest;

use crate::harness::{World, keychain_lookup};

/// Adds a key to the demo store from outside the app, as another device would.
async fn seed_key(world: &World, name: &str) -> String {
    let session = ApiClient::new(&world.server).unwrap().login("owner@demo.keyward.test", "keyward-demo", "seeding device").await.unwrap();
    let client = ApiClient::new(&world.server).unwrap().with_session(session.token);
    let created = client.create_key(&CreateKeyRequest { name: name.into(), scopes: None, expires_at: None }).await.unwrap();
    created.record.key_prefix
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_shows_the_store_s_keys() {
    let mut world = World::start("1-sign-in").await;
    let prefix = seed_key(&world, "Seeded CI bot").await;
    world.sign_in().await;
    let table = world.find("[data-testid=keys-table]").await;
    let text = table.text().await.unwrap();
    assert!(text.contains("Seeded CI bot") && text.contains(&prefix) && text.contains("Olivia Owner"), "{text}");
    assert!(text.contains("Read only") && text.contains("active"));
    world.screenshot("keys").await;
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_key_is_shown_once_and_kept_in_the_keychain() {
    let mut world = World::start("2-create-key").await;
    world.sign_in().await;
    world.click("[data-testid=create-key]").await;
    world.type_into("input[name=label]", "Claude Desktop on my laptop").await;
    let read_only = world.find("input[name=scope][value=read]").await;
    assert_eq!(read_only.prop("checked").await.unwrap().as_deref(), Some("true"), "Read only is preselected");
    world.screenshot("create").await;
    world.click("[data-testid=submit-key]").await;

    let secret = world.find("[data-testid=secret]").await.text().await.unwrap();
    assert!(secret.starts_with("kw_") && secret.len() == 3 + 46, "{secret}");
    assert!(world.find("[data-testid=reveal]").await.text().await.unwrap().contains("Saved to keychain"));
    world.screenshot("reveal").await;
    let id = &secret[3..11];
    assert_eq!(keychain_lookup(&world.server, id).as_deref(), Some(secret.as_str()), "the keychain holds the key");

    world.click("[data-testid=dismiss-reveal]").await;
    let row = world.find(&format!("tr[data-key-id='{id}']")).await;
    assert!(row.text().await.unwrap().contains("on this device"));
    world.screenshot("after-reveal").await;
    assert!(!world.source().await.contains(&secret[11..]), "no screen shows the secret once dismissed");
    assert!(!String::from_utf8_lossy(&world.home_bytes()).contains(&secret[11..]), "no file holds the secret");
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_strikes_the_row_through_and_takes_the_secret_out_of_the_keychain() {
    let mut world = World::start("4-revoke").await;
    world.sign_in().await;
    world.click("[data-testid=create-key]").await;
    world.type_into("input[name=label]", "Short-lived").await;
    world.click("[data-testid=submit-key]").await;
    let secret = world.find("[data-testid=secret]").await.text().await.unwrap();
    let id = secret[3..11].to_owned();
    world.click("[data-testid=dismiss-reveal]").await;
    let http = ApiClient::new(&world.server).unwrap();
    assert!(http.whoami(&secret).await.is_ok(), "the new key works on the data plane");

    world.click(&format!("tr[data-key-id='{id}'] [data-testid=revoke]")).await;
    let dialog = world.find("[role=alertdialog]").await.text().await.unwrap();
    assert!(dialog.contains("Short-lived") && dialog.contains(&secret[..11]), "the confirmation names the key: {dialog}");
    world.screenshot("confirm").await;
    world.click("[data-testid=confirm-revoke]").await;
    world.find(&format!("tr.revoked[data-key-id='{id}']")).await;
    assert!(world.find(&format!("tr[data-key-id='{id}'] .status")).await.text().await.unwrap().contains("revoked"));
    world.screenshot("revoked").await;
    assert_eq!(keychain_lookup(&world.server, &id), None, "the keychain item is gone");
    let refused = http.whoami(&secret).await.unwrap_err();
    assert_eq!(refused.code(), Some("key_revoked"));
    world.finish().await;
}
