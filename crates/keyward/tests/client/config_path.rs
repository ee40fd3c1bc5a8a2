//! Entries written into a file of the person's choosing (`--config PATH`) are found again:
//! revoking the key takes them (and an inline secret) out of that file, and rotating moves
//! them to the replacement, as for the assistants' usual files.

use crate::common::{Service, keychain_lookup, keychain_turn};

const ELSEWHERE: &str = "{\n  \"mcpServers\": {\n    \"filesystem\": {\"command\": \"npx\", \"args\": [\"fs\"]}\n  },\n  \"theme\": \"dark\"\n}\n";

#[tokio::test(flavor = "multi_thread")]
async fn revoking_a_key_unwires_it_from_a_config_given_by_path() {
    let _turn = keychain_turn().await;
    let (service, device) = Service::with_device_signed_in("laptop").await;
    let (id, prefix) = device.create_key("script").await;
    let secret = keychain_lookup(&service.url(), &id).unwrap();
    // Outside every folder Keyward knows of, and named relative to where the command runs.
    let outside = tempfile::tempdir().unwrap();
    let inline = outside.path().join("x.json");
    std::fs::write(&inline, ELSEWHERE).unwrap();
    let codex = outside.path().join("codex.toml");
    let connected = device.command(&["connect", "claude-desktop", "--key", &id, "--inline", "--config", "x.json"]).current_dir(outside.path()).status().await.unwrap();
    assert!(connected.success());
    device.ok(&["connect", "codex", "--key", &id, "--config", codex.to_str().unwrap()]).await;
    assert!(std::fs::read_to_string(&inline).unwrap().contains(&secret), "the inline entry holds the secret");

    let revoked = device.json(&["keys", "revoke", &id]).await;

    let unwired: Vec<&str> = revoked["unwired"].as_array().unwrap().iter().map(|u| u[1].as_str().unwrap()).collect();
    assert!(unwired.contains(&inline.to_str().unwrap()) && unwired.contains(&codex.to_str().unwrap()), "{revoked}");
    assert_eq!(std::fs::read_to_string(&inline).unwrap(), ELSEWHERE, "the entry is gone and every other byte is as it was");
    assert!(!std::fs::read_to_string(&codex).unwrap().contains(&prefix));
    for file in std::fs::read_dir(outside.path()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(&secret), "no copy of the secret is left beside the file");
    }
    // What Keyward remembers of where it wrote holds no secret and is for its owner only.
    let remembered = device.home().join("keyward-data/wired.json");
    assert!(!String::from_utf8_lossy(&std::fs::read(&remembered).unwrap()).contains(&secret));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&remembered).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rotating_a_key_moves_its_entry_in_a_config_given_by_path() {
    let _turn = keychain_turn().await;
    let (service, device) = Service::with_device_signed_in("laptop").await;
    let (old_id, old_prefix) = device.create_key("script").await;
    let outside = tempfile::tempdir().unwrap();
    let inline = outside.path().join("x.json");
    std::fs::write(&inline, ELSEWHERE).unwrap();
    device.ok(&["connect", "claude-desktop", "--key", &old_id, "--inline", "--config", inline.to_str().unwrap()]).await;
    let old_secret = keychain_lookup(&service.url(), &old_id).unwrap();

    let rotated = device.json(&["keys", "rotate", &old_id]).await;

    let new_id = rotated["replacement"]["id"].as_str().unwrap();
    let new_secret = keychain_lookup(&service.url(), new_id).unwrap();
    let text = std::fs::read_to_string(&inline).unwrap();
    assert!(text.contains(new_id) && text.contains(&new_secret), "the entry uses the replacement: {text}");
    assert!(!text.contains(&old_prefix) && !text.contains(&old_secret), "the old entry and its secret are gone: {text}");

    // And the moved entry is remembered under the replacement, so revoking it finds it.
    device.ok(&["keys", "revoke", new_id]).await;
    assert_eq!(std::fs::read_to_string(&inline).unwrap(), ELSEWHERE);
}
