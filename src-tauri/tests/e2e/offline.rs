//! With the key service gone, the app says so and shows the keys from the mirror, read-only.

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
