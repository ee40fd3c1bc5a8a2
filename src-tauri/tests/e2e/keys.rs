//! Signing in, creating a key and seeing it once, and revoking it, as a merchant clicks.

use keyward::client::ApiClient;
use keyward_core::Scope;
use keyward_core::wire::CreateKeyRequest;

use crate::harness::{World, keychain_lookup};

/// Adds a key to the demo store from outside the app, as another device would.
pub async fn seed_key(world: &World, name: &str) -> String {
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
    world.type_into("input[name=label]", "Never mind").await;
    world.press_escape().await;
    world.wait_gone("[role=dialog]").await;
    world.click("[data-testid=create-key]").await;
    assert_eq!(world.find("input[name=label]").await.prop("value").await.unwrap().as_deref(), Some(""), "Escape closed the dialog; it starts afresh");
    world.type_into("input[name=label]", "Claude Desktop on my laptop").await;
    let read_only = world.find("input[name=scope][value=read]").await;
    assert_eq!(read_only.prop("checked").await.unwrap().as_deref(), Some("true"), "Read only is preselected");
    world.screenshot("create").await;
    world.click("[data-testid=submit-key]").await;

    let secret = world.text("[data-testid=secret]").await;
    assert!(secret.starts_with("kw_") && secret.len() == 3 + 46, "{secret}");
    assert!(world.text("[data-testid=reveal]").await.contains("Saved to keychain"));
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

/// Creates a key in the app and dismisses the reveal; gives back the whole key.
pub async fn create_key_in_app(world: &mut World, label: &str) -> String {
    world.click("[data-testid=create-key]").await;
    world.type_into("input[name=label]", label).await;
    world.click("[data-testid=submit-key]").await;
    let secret = world.text("[data-testid=secret]").await;
    world.click("[data-testid=dismiss-reveal]").await;
    world.wait_gone("[data-testid=reveal]").await;
    secret
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_strikes_the_row_through_and_unwires_the_key_everywhere() {
    let mut world = World::start("4-revoke").await;
    world.sign_in().await;
    world.click("[data-testid=create-key]").await;
    world.type_into("input[name=label]", "Short-lived").await;
    world.click("[data-testid=submit-key]").await;
    let secret = world.text("[data-testid=secret]").await;
    let id = secret[3..11].to_owned();
    world.click("[data-testid=configure-claude-desktop]").await;
    world.find("[data-testid=configured-claude-desktop]").await;
    world.click("[data-testid=configure-codex]").await;
    world.find("[data-testid=configured-codex]").await;
    world.click("[data-testid=dismiss-reveal]").await;
    let (desktop, codex) = (world.agent_file("claude-desktop"), world.agent_file("codex"));
    assert!(std::fs::read_to_string(&desktop).unwrap().contains(&id) && std::fs::read_to_string(&codex).unwrap().contains(&id));
    let http = ApiClient::new(&world.server).unwrap();
    assert_eq!(http.whoami(&secret).await.unwrap().key_prefix, secret[..11], "the new key works on the data plane");

    world.click(&format!("tr[data-key-id='{id}'] [data-testid=revoke]")).await;
    let dialog = world.text("[role=alertdialog]").await;
    assert!(dialog.contains("Short-lived") && dialog.contains(&secret[..11]), "the confirmation names the key: {dialog}");
    world.screenshot("confirm").await;
    world.click("[data-testid=confirm-revoke]").await;
    world.find(&format!("tr.revoked[data-key-id='{id}']")).await;
    assert!(world.text(&format!("tr[data-key-id='{id}'] .status")).await.contains("revoked"));
    let notice = world.text("[data-testid=notice]").await;
    assert!(notice.contains("Revoked") && notice.contains("keychain"), "{notice}");
    world.screenshot("revoked").await;

    assert!(!std::fs::read_to_string(&desktop).unwrap().contains(&id), "the Claude Desktop entry is gone");
    assert!(!std::fs::read_to_string(&codex).unwrap().contains(&id), "the Codex entry is gone");
    assert_eq!(keychain_lookup(&world.server, &id), None, "the keychain item is gone");
    let refused = http.whoami(&secret).await.unwrap_err();
    assert_eq!(refused.code(), Some("key_revoked"));
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_is_renamed_rescoped_deactivated_and_rotated_from_its_details() {
    let mut world = World::start("7-key-details").await;
    world.sign_in().await;
    let secret = create_key_in_app(&mut world, "Reports bot").await;
    let id = secret[3..11].to_owned();
    let http = ApiClient::new(&world.server).unwrap();
    let row = format!("tr[data-key-id='{id}']");

    world.click(&format!("{row} [data-testid=manage]")).await;
    world.find("[data-testid=key-details]").await;
    world.type_into("input[name=key-name]", " (nightly)").await;
    world.click("[data-testid=save-name]").await;
    world.find("[data-testid=key-details] .saved").await;
    world.click("input[name=detail-scope][value=write]").await;
    world.click("[data-testid=save-scope]").await;
    world.wait_text("[data-testid=key-details] .saved", "read & write").await;
    world.screenshot("details").await;
    assert!(http.whoami(&secret).await.unwrap().scopes.allows(Scope::Write), "the key may now write");

    world.click("[data-testid=toggle-active]").await;
    world.wait_text("[data-testid=key-details] .saved", "Deactivated").await;
    assert_eq!(http.whoami(&secret).await.unwrap_err().code(), Some("key_inactive"));
    world.click("[data-testid=toggle-active]").await;
    world.wait_text("[data-testid=key-details] .saved", "Reactivated").await;
    assert!(http.whoami(&secret).await.is_ok());

    world.click("[data-testid=rotate]").await;
    let replacement = world.text("[data-testid=secret]").await;
    assert_ne!(replacement, secret);
    assert!(world.text("[data-testid=reveal]").await.contains("no longer works"));
    world.screenshot("rotated").await;
    world.click("[data-testid=dismiss-reveal]").await;
    let text = world.text("[data-testid=keys-table]").await;
    assert!(text.contains("Reports bot (nightly)") && text.contains("Read & write"), "{text}");
    assert_eq!(http.whoami(&secret).await.unwrap_err().code(), Some("key_revoked"), "the old secret stopped working");
    assert!(http.whoami(&replacement).await.is_ok(), "the replacement works");
    assert_eq!(keychain_lookup(&world.server, &replacement[3..11]).as_deref(), Some(replacement.as_str()));
    assert_eq!(keychain_lookup(&world.server, &id), None);
    world.finish().await;
}
