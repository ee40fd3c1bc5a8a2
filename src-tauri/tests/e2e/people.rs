//! People and roles in the app: staff see controls only on what they made, the owner adds
//! and removes staff, and changing the password signs out the other devices.

use keyward::client::ApiClient;
use keyward_core::wire::{ConnectionCodeRequest, CreateKeyRequest, SessionCreated};

use crate::devices::exchange;
use crate::harness::{DEMO_PASSWORD, OWNER, STAFF, World};
use crate::keys::create_key_in_app;

/// Signs in from outside the app, as another device would.
async fn session(world: &World, email: &str, password: &str, device: &str) -> (SessionCreated, ApiClient) {
    let created = ApiClient::new(&world.server).unwrap().login(email, password, device).await.unwrap();
    let client = ApiClient::new(&world.server).unwrap().with_session(created.token.clone());
    (created, client)
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_see_controls_only_on_the_keys_connections_and_devices_they_made() {
    let mut world = World::start("9-staff-view").await;
    let (owners_device, owner) = session(&world, OWNER, DEMO_PASSWORD, "Olivia's desktop").await;
    let owners_key = owner.create_key(&CreateKeyRequest { name: "Olivia's bot".into(), scopes: None, expires_at: None }).await.unwrap().record;
    let code = owner.create_connection_code(&ConnectionCodeRequest { scopes: None, app_name: Some("Olivia's web chat".into()) }).await.unwrap();
    exchange(&world, &code.code).await;
    let owners_connection = owner.connections().await.unwrap().connections.remove(0);
    world.sign_in_as(STAFF, DEMO_PASSWORD).await;
    assert!(world.text("[data-testid=who]").await.contains("staff"));

    let theirs = format!("tr[data-key-id='{}']", owners_key.id);
    world.find(&theirs).await;
    assert_eq!(world.count(&format!("{theirs} [data-testid=revoke]")).await, 0, "no Revoke on the owner's key");
    assert_eq!(world.count(&format!("{theirs} [data-testid=manage]")).await, 0, "no Manage on the owner's key");
    assert!(world.text("[data-testid=staff-limits]").await.contains("keys you created"));
    world.click(&format!("{theirs} [data-testid=view]")).await;
    let why = world.text("[data-testid=not-yours]").await;
    assert!(why.contains("Olivia Owner created this key") && why.contains("store's owner"), "{why}");
    for control in ["save-name", "save-scope", "toggle-active", "rotate", "details-revoke"] {
        assert_eq!(world.count(&format!("[data-testid={control}]")).await, 0, "{control} is not offered on the owner's key");
    }
    world.screenshot("owners-key").await;
    world.press_escape().await;
    world.wait_gone("[data-testid=key-details]").await;

    let secret = create_key_in_app(&mut world, "Sam's own bot").await;
    let mine = format!("tr[data-key-id='{}']", &secret[3..11]);
    world.find(&format!("{mine} [data-testid=revoke]")).await;
    world.click(&format!("{mine} [data-testid=manage]")).await;
    world.find("[data-testid=rotate]").await;
    assert_eq!(world.count("[data-testid=not-yours]").await, 0);
    world.screenshot("own-key").await;
    world.press_escape().await;
    world.wait_gone("[data-testid=key-details]").await;

    world.click("[data-testid=nav-staff]").await;
    world.wait_text("[data-testid=staff-table]", "Olivia Owner").await;
    assert!(world.text("[data-testid=staff-table]").await.contains("Sam Staff"));
    assert_eq!(world.count("[data-testid=add-staff]").await, 0, "staff cannot add staff");
    assert_eq!(world.count("[data-testid=remove-staff]").await, 0, "staff cannot remove staff");
    assert!(world.text("[data-testid=staff-limits]").await.contains("Only the store's owner"));
    world.screenshot("staff").await;

    world.click("[data-testid=nav-connections]").await;
    let granted = format!("tr[data-connection-id='{}']", owners_connection.id);
    world.find(&granted).await;
    assert_eq!(world.count(&format!("{granted} [data-testid=revoke-connection]")).await, 0, "staff cannot revoke the owner's connection");
    assert!(world.text("[data-testid=staff-limits]").await.contains("connections you granted"));
    world.screenshot("connections").await;

    world.click("[data-testid=nav-devices]").await;
    let olivias = format!("tr[data-device-id='{}']", owners_device.device.id);
    world.find(&olivias).await;
    assert_eq!(world.count(&format!("{olivias} [data-testid=sign-out-device]")).await, 0, "staff cannot sign out the owner's device");
    world.screenshot("devices").await;
    assert!(owner.list_keys(false).await.is_ok(), "the owner's session is untouched");
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_adds_a_staff_member_and_removing_them_signs_them_out() {
    let mut world = World::start("10-staff-manage").await;
    world.sign_in().await;
    world.click("[data-testid=nav-staff]").await;
    world.click("[data-testid=add-staff]").await;
    world.type_into("input[name=staff-name]", "Rita Reviewer").await;
    world.type_into("input[name=staff-email]", "rita@demo.keyward.test").await;
    world.type_into("input[name=staff-password]", "rita-first-password").await;
    world.type_into("input[name=staff-password-again]", "rita-first-password").await;
    world.screenshot("add").await;
    world.click("[data-testid=submit-staff]").await;
    world.wait_text("[data-testid=notice]", "Added Rita Reviewer").await;
    world.wait_text("[data-testid=staff-table]", "rita@demo.keyward.test").await;
    world.screenshot("added").await;

    let (rita, ritas) = session(&world, "rita@demo.keyward.test", "rita-first-password", "Rita's laptop").await;
    assert_eq!(rita.user.role, "staff");
    assert!(ritas.list_keys(false).await.is_ok(), "Rita can sign in and work");

    world.click(&format!("tr[data-staff-id='{}'] [data-testid=remove-staff]", rita.user.id)).await;
    let dialog = world.text("[role=alertdialog]").await;
    assert!(dialog.contains("Rita Reviewer") && dialog.contains("signed out everywhere"), "{dialog}");
    world.screenshot("confirm").await;
    world.click("[data-testid=confirm-remove-staff]").await;
    world.wait_text("[data-testid=notice]", "Removed Rita Reviewer").await;
    assert!(world.text("[data-testid=notice]").await.contains("1 device of theirs was signed out"));
    world.wait_gone(&format!("tr[data-staff-id='{}']", rita.user.id)).await;
    world.screenshot("removed").await;

    let refused = ritas.list_keys(false).await.unwrap_err();
    assert!(refused.needs_sign_in(), "Rita's session is refused: {refused}");
    assert!(ApiClient::new(&world.server).unwrap().login("rita@demo.keyward.test", "rita-first-password", "again").await.is_err(), "Rita can no longer sign in");
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_the_password_in_settings_signs_out_the_other_devices() {
    let mut world = World::start("11-password").await;
    let (_, other) = session(&world, OWNER, DEMO_PASSWORD, "Other laptop").await;
    world.sign_in().await;
    world.click("[data-testid=nav-settings]").await;

    world.type_into("input[name=current-password]", "not-the-password").await;
    world.type_into("input[name=new-password]", "a-brand-new-password").await;
    world.type_into("input[name=new-password-again]", "a-brand-new-password").await;
    world.click("[data-testid=change-password]").await;
    world.wait_text("[data-testid=password-form] .error", "The current password is wrong").await;
    assert!(other.list_keys(false).await.is_ok(), "a refused change signs nobody out");

    world.type_into("input[name=current-password]", DEMO_PASSWORD).await;
    world.type_into("input[name=new-password]", "a-brand-new-password").await;
    world.type_into("input[name=new-password-again]", "a-brand-new-password").await;
    world.click("[data-testid=change-password]").await;
    world.wait_text("[data-testid=password-changed]", "Signed out 1 other device").await;
    world.screenshot("changed").await;
    for field in ["current-password", "new-password", "new-password-again"] {
        let value = world.find(&format!("input[name={field}]")).await.prop("value").await.unwrap();
        assert_eq!(value.as_deref(), Some(""), "the passwords leave the form ({field})");
    }

    let refused = other.list_keys(false).await.unwrap_err();
    assert!(refused.needs_sign_in(), "the other device's session is refused: {refused}");
    world.click("[data-testid=nav-keys]").await;
    world.find("[data-testid=create-key]").await;
    assert_eq!(world.count("[data-testid=demo-account]").await, 0, "this device stays signed in");
    assert!(ApiClient::new(&world.server).unwrap().login(OWNER, "a-brand-new-password", "new").await.is_ok());
    world.finish().await;
}
