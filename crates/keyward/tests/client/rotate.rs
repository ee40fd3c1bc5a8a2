//! Rotation from the CLI: the replacement's secret goes into the keychain, the assistant
//! entries move to it, and the old secret leaves the keychain.

use crate::common::{Device, Service, keychain_lookup, keychain_turn};

#[tokio::test(flavor = "multi_thread")]
async fn rotate_moves_entries_and_secrets_to_the_replacement() {
    let _turn = keychain_turn().await;
    let service = Service::start().await;
    let device = Device::new(&service.url());
    device.login("laptop").await;
    let (old_id, old_prefix) = device.create_key("agent").await;
    device.ok(&["connect", "codex", "--key", &old_id]).await;
    device.ok(&["connect", "claude-desktop", "--key", &old_id]).await;

    let rotated = device.json(&["keys", "rotate", &old_id, "--overlap", "60"]).await;
    assert!(rotated["replacement"].get("key").is_none(), "no secret without --show-secret");
    let new_id = rotated["replacement"]["id"].as_str().unwrap();
    let new_prefix = rotated["replacement"]["key_prefix"].as_str().unwrap();
    assert!(rotated["previous"]["revokes_at"].is_string());
    assert_eq!(rotated["rewired"].as_array().unwrap().len(), 2);

    let codex = std::fs::read_to_string(device.codex()).unwrap();
    assert!(codex.contains(&format!("keyward-acme-{new_prefix}")) && codex.contains(new_id));
    assert!(!codex.contains(&old_prefix), "the old entry is gone: {codex}");
    let desktop = std::fs::read_to_string(device.claude_desktop()).unwrap();
    assert!(desktop.contains(new_id) && !desktop.contains(&old_id));
    assert!(keychain_lookup(&service.url(), new_id).is_some());
    assert_eq!(keychain_lookup(&service.url(), &old_id), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn show_secret_prints_the_key_once_and_it_matches_the_keychain() {
    let _turn = keychain_turn().await;
    let service = Service::start().await;
    let device = Device::new(&service.url());
    device.login("laptop").await;
    let out = device.ok(&["keys", "create", "--name", "script", "--write", "--show-secret"]).await;
    let key = out.lines().find(|l| l.starts_with("asmk_") && l.len() == 51).expect("the key is printed when asked");
    let listed = device.json(&["keys", "list"]).await;
    let id = listed[0]["id"].as_str().unwrap();
    assert_eq!(listed[0]["scopes"], serde_json::json!(["read", "write"]));
    assert_eq!(keychain_lookup(&service.url(), id).as_deref(), Some(key));
    let quiet = device.ok(&["keys", "create", "--name", "quiet"]).await;
    assert!(!quiet.contains("asmk_") || !quiet.lines().any(|l| l.len() == 51), "no secret without --show-secret: {quiet}");
}
