//! Rotation from the CLI: the replacement's secret goes into the keychain, the assistant
//! entries move to it, and the old secret leaves the keychain.

use std::sync::{Arc, Mutex};

use crate::common::{Device, Front, Service, keychain_clear, keychain_lookup, keychain_refuses, keychain_turn};

#[tokio::test(flavor = "multi_thread")]
async fn rotate_moves_entries_and_secrets_to_the_replacement() {
    let _turn = keychain_turn().await;
    let (service, device) = Service::with_device_signed_in("laptop").await;
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
    let (service, device) = Service::with_device_signed_in("laptop").await;
    let out = device.ok(&["keys", "create", "--name", "script", "--write", "--show-secret"]).await;
    let key = out.lines().find(|l| l.starts_with("asmk_") && l.len() == 51).expect("the key is printed when asked");
    let listed = device.json(&["keys", "list"]).await;
    let id = listed[0]["id"].as_str().unwrap();
    assert_eq!(listed[0]["scopes"], serde_json::json!(["read", "write"]));
    assert_eq!(keychain_lookup(&service.url(), id).as_deref(), Some(key));
    let quiet = device.ok(&["keys", "create", "--name", "quiet"]).await;
    assert!(!quiet.contains("asmk_") || !quiet.lines().any(|l| l.len() == 51), "no secret without --show-secret: {quiet}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keychain_that_refuses_the_new_secret_does_not_lose_it() {
    let _turn = keychain_turn().await;
    let service = Service::start().await;
    // Between the service rotating and `keyward` storing the replacement, the keychain turns
    // against exactly that replacement.
    let refused = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let _cleanup = ClearOnDrop(refused.clone());
    let front_url = Arc::new(Mutex::new(String::new()));
    let (seen, url) = (refused.clone(), front_url.clone());
    let front = Front::start(&service.url(), move |path, body| {
        if path.ends_with("/rotate") {
            let answer: serde_json::Value = serde_json::from_slice(body).unwrap();
            let id = answer["replacement"]["id"].as_str().unwrap().to_owned();
            let server = url.lock().unwrap().clone();
            keychain_refuses(&server, &id);
            seen.lock().unwrap().push((server, id));
        }
    })
    .await;
    *front_url.lock().unwrap() = front.url.clone();
    let device = Device::new(&front.url);
    device.login("laptop").await;
    let (old_id, _) = device.create_key("agent").await;
    device.ok(&["connect", "codex", "--key", &old_id]).await;
    let codex_before = std::fs::read_to_string(device.codex()).unwrap();

    let output = device.run(&["keys", "rotate", &old_id, "--overlap", "600"]).await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(6), "exit code 6: the keychain failed\nstdout: {stdout}\nstderr: {stderr}");
    let secret = stdout.lines().find(|l| l.starts_with("asmk_") && l.len() == 51).unwrap_or_else(|| {
        panic!("the replacement's secret is shown, since nothing else holds it\nstdout: {stdout}\nstderr: {stderr}")
    });
    assert!(stderr.contains("keychain") && !stderr.contains(secret), "the error says why, without the secret: {stderr}");
    // The secret shown is the working replacement.
    let client = keyward::client::ApiClient::new(&service.url()).unwrap();
    client.whoami(secret).await.expect("the secret shown works");
    // Nothing else was changed on this machine: the entries still use the old key, which keeps
    // working through the overlap, and its secret is still in the keychain.
    assert_eq!(std::fs::read_to_string(device.codex()).unwrap(), codex_before);
    assert!(keychain_lookup(&front.url, &old_id).is_some());

    // In JSON, one document: the replacement with its key, and the sentence.
    let (old_id, _) = device.create_key("scripted").await;
    let output = device.run(&["--json", "keys", "rotate", &old_id]).await;
    assert_eq!(output.status.code(), Some(6));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stdout is one JSON document");
    assert!(json["replacement"]["key"].as_str().is_some_and(|k| k.starts_with("asmk_")), "{json}");
    assert_eq!(json["replacement"]["stored_in_keychain"], false);
    assert!(json["error"].as_str().unwrap().contains("keychain"));
}

/// Takes the blocking items out of the keychain again, however the test ends.
struct ClearOnDrop(Arc<Mutex<Vec<(String, String)>>>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        for (server, id) in self.0.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            keychain_clear(server, id);
        }
    }
}
