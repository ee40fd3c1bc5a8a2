//! Which assistant used a key on this computer: the bridge counts each request under the name
//! and version its MCP client gave in `initialize`, errors apart, per day; `keyward run` counts
//! its launches; `keyward usage` shows them beside the key service's own "last used".

use serde_json::json;

use crate::common::{Bridge, Service, keychain_turn};

async fn initialize_as(bridge: &mut Bridge, name: &str, version: &str) {
    let init = bridge
        .request(1, "initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": name, "version": version}}))
        .await;
    assert!(init.get("result").is_some(), "{init}");
    bridge.notify("notifications/initialized").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_usage_record_names_each_assistant_with_its_calls_and_errors() {
    let _turn = keychain_turn().await;
    let (service, device) = Service::with_device_signed_in("laptop").await;
    let (id, prefix) = device.create_key("two assistants").await;

    let mut claude = Bridge::start(&device, &id);
    initialize_as(&mut claude, "claude-code", "2.1.3").await;
    for n in 2..5 {
        claude.request(n, "tools/list", json!({})).await;
    }
    let mut cursor = Bridge::start(&device, &id);
    initialize_as(&mut cursor, "cursor-vscode", "1.0.0").await;
    let refused = cursor.request(2, "no/such-method", json!({})).await;
    assert!(refused.get("error").is_some(), "{refused}");
    drop((claude, cursor));
    device.ok(&["run", "--key", &id, "--", "sh", "-c", "exit 0"]).await;

    let usage = device.json(&["usage", "--key", &id]).await;

    let mut rows: Vec<(String, u64, u64)> = usage["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["client"].as_str().unwrap().to_owned(), r["calls"].as_u64().unwrap(), r["errors"].as_u64().unwrap()))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [("claude-code 2.1.3".to_owned(), 4, 0), ("cursor-vscode 1.0.0".to_owned(), 2, 1), ("keyward run: sh".to_owned(), 1, 0)],
        "initialize and each request counted, by client"
    );
    assert!(usage["rows"].as_array().unwrap().iter().all(|r| r["key_id"] == id.as_str() && r["last_call"].is_string()));
    let service_view = &usage["service_last_used"][0];
    assert_eq!(service_view["key_prefix"], prefix);
    assert!(service_view["last_used_at"].is_string(), "the service's own last use is beside it: {usage}");

    // Owner-only, and nothing in it but names and counts.
    let file = device.home().join("keyward-data/usage.db");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let secret = crate::common::keychain_lookup(&service.url(), &id).unwrap();
    assert!(!String::from_utf8_lossy(&std::fs::read(&file).unwrap()).contains(&secret[prefix.len()..]));
    let text = device.ok(&["usage"]).await;
    assert!(text.contains("claude-code 2.1.3") && text.contains("The key service last saw"), "{text}");
}
