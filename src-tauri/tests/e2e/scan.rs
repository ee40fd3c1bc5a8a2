//! "Scan this computer" finds a key pasted into a shell history, with its status, and "Roll
//! now" rotates it: the pasted key stops working and the history is named as still holding it.
//! The key's details show which assistants used it on this computer.

use crate::harness::World;
use crate::keys::create_key_in_app;

/// The key service's answer to a request made with `key`.
async fn status_with(world: &World, key: &str) -> u16 {
    reqwest::Client::new().get(format!("{}/v1/whoami", world.server)).header("x-api-key", key).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pasted_key_is_found_with_its_usage_and_rolled_from_the_app() {
    let mut world = World::start("8-scan").await;
    world.sign_in().await;
    let secret = create_key_in_app(&mut world, "Nightly export").await;
    let id = secret[3..11].to_owned();
    assert_eq!(status_with(&world, &secret).await, 200);
    std::fs::write(world.home.path().join(".bash_history"), format!("ls\ncurl -H 'x-api-key: {secret}' https://shop.example/v1/boms\n")).unwrap();
    // What the bridge records when Claude Code uses the key here (tests/client/usage.rs runs
    // the real bridge); the window shows it.
    let usage = keyward::usage::Usage::open(&world.home.path().join("keyward-data/usage.db")).unwrap();
    for ok in [true, true, false] {
        usage.record(&world.server, &id, "claude-code 2.1.3", ok, time::OffsetDateTime::now_utc()).unwrap();
    }

    world.click(&format!("tr[data-key-id='{id}'] [data-testid=manage]")).await;
    let used = world.text("[data-testid=key-usage]").await;
    assert!(used.contains("claude-code 2.1.3") && used.contains('3') && used.contains('1'), "{used}");
    world.find("[data-testid=service-last-used]").await;
    world.screenshot("usage").await;
    world.press_escape().await;
    world.wait_gone("[data-testid=key-details]").await;

    world.click("[data-testid=scan-computer]").await;
    let row = format!("[data-testid=scan-finds] tr[data-key-id='{id}'][data-status=active]");
    let found = world.text(&row).await;
    assert!(found.contains(".bash_history:2") && found.contains(&format!("kw_{id}")) && found.contains("Nightly export"), "{found}");
    world.screenshot("found").await;
    world.click(&format!("{row} [data-testid=roll]")).await;
    let note = world.text("[data-testid=rolled-note]").await;
    assert!(note.contains("no longer works") && note.contains(".bash_history"), "{note}");
    world.find(&format!("[data-testid=scan-finds] tr[data-key-id='{id}'][data-status=revoked]")).await;
    world.screenshot("rolled").await;

    assert_eq!(status_with(&world, &secret).await, 401, "the pasted key is refused");
    assert!(std::fs::read_to_string(world.home.path().join(".bash_history")).unwrap().contains(&secret), "the history is named, not edited");
    assert!(!world.source().await.contains(&secret[11..]), "no screen shows the secret");
    world.finish().await;
}
