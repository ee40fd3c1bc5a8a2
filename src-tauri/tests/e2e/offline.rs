//! With the key service gone, the app says so and shows the keys from the mirror, read-only;
//! and the settings screen, where the mirror's age shows and signing out happens.

use crate::harness::World;
use crate::keys::create_key_in_app;

#[tokio::test(flavor = "multi_thread")]
async fn offline_the_banner_shows_and_the_keys_come_from_the_mirror() {
    let mut world = World::start("6-offline").await;
    world.sign_in().await;
    let secret = create_key_in_app(&mut world, "Works offline").await;
    let id = &secret[3..11];
    world.find(&format!("tr[data-key-id='{id}']")).await;

    world.stop_key_service();
    world.click("[data-testid=refresh]").await;
    let banner = world.text("[data-testid=offline-banner]").await;
    assert!(banner.contains("Offline") && banner.contains("last synced"), "{banner}");
    let row = world.text(&format!("tr[data-key-id='{id}']")).await;
    assert!(row.contains("Works offline") && row.contains(&secret[..11]) && row.contains("active"), "the key shows from the mirror: {row}");
    let create = world.find("[data-testid=create-key]").await;
    assert_eq!(create.prop("disabled").await.unwrap().as_deref(), Some("true"), "no change is offered offline");
    world.screenshot("offline").await;

    world.click("[data-testid=nav-devices]").await;
    world.find("[data-testid=devices-table], .error").await;
    assert!(world.text(".error").await.contains("cannot be reached"), "other screens say why they are empty");
    world.screenshot("offline-devices").await;
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_show_the_mirror_and_signing_out_remembers_the_service() {
    let mut world = World::start("9-settings").await;
    world.sign_in().await;
    world.click("[data-testid=nav-settings]").await;
    assert_eq!(world.text("[data-testid=service-url]").await, world.server);
    world.wait_text("[data-testid=mirror-age]", "synced").await;
    world.screenshot("settings").await;
    world.click("[data-testid=sign-out]").await;
    world.find("[data-testid=demo-account]").await;
    let remembered = std::fs::read_to_string(world.home.path().join("keyward-config/last-server")).unwrap();
    assert_eq!(remembered, world.server, "the service is remembered after signing out");
    let offered = world.find("input[name=server]").await.prop("value").await.unwrap();
    assert_eq!(offered.as_deref(), Some(world.server.as_str()), "sign-in offers it");
    world.screenshot("signed-out").await;
    world.finish().await;
}
