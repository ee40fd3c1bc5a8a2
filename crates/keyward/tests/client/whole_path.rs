//! The whole path: sign in, create a read-only key, find it in the keychain, wire it into
//! Codex and Claude Desktop, use it through the bridge, revoke it, and see everything undone.

use serde_json::json;

use crate::common::{Bridge, Device, Service, initialize, keychain_lookup, keychain_turn};

#[tokio::test(flavor = "multi_thread")]
async fn login_create_connect_bridge_then_revoke_undoes_everything() {
    let _turn = keychain_turn().await;
    let service = Service::start().await;
    let store_id = service.state.db.list_stores().await.unwrap()[0].id.clone();
    service
        .state
        .db
        .create_raw_material(store_id, keyward_core::wire::NewRawMaterial { name: "Oak board".into(), unit: "m".into(), stock: 12.0 })
        .await
        .unwrap();
    let device = Device::new(&service.url());
    device.login("Ada's laptop").await;
    let (id, prefix) = device.create_key("Claude on the laptop").await;

    // The secret is in the keychain, readable by the Secret Service's own client.
    let secret = keychain_lookup(&service.url(), &id).expect("the key's secret is in the keychain");
    assert!(secret.starts_with(&prefix) && secret.len() == prefix.len() + 38);
    let listed = device.json(&["keys", "list"]).await;
    assert_eq!(listed[0]["on_this_device"], true);
    assert_eq!(listed[0]["scopes"], json!(["read"]));

    // Existing configs with other servers and comments are merged into, not replaced.
    std::fs::create_dir_all(device.claude_desktop().parent().unwrap()).unwrap();
    let desktop_before = "{\n  \"mcpServers\": {\n    \"filesystem\": {\"command\": \"npx\", \"args\": [\"fs\"]}\n  },\n  \"globalShortcut\": \"Ctrl+Space\"\n}\n";
    std::fs::write(device.claude_desktop(), desktop_before).unwrap();
    std::fs::create_dir_all(device.codex().parent().unwrap()).unwrap();
    let codex_before = "# Codex settings\nmodel = \"o3\"\n\n[mcp_servers.docs]\ncommand = \"docs-mcp\"\n";
    std::fs::write(device.codex(), codex_before).unwrap();
    device.ok(&["connect", "codex", "--key", &id]).await;
    device.ok(&["connect", "claude-desktop", "--key", &id]).await;

    let name = format!("keyward-acme-{prefix}");
    let desktop: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(device.claude_desktop()).unwrap()).unwrap();
    assert_eq!(desktop["mcpServers"]["filesystem"]["command"], "npx");
    assert_eq!(desktop["globalShortcut"], "Ctrl+Space");
    let entry = &desktop["mcpServers"][&name];
    assert_eq!(entry["args"], json!(["bridge", "--key", id, "--server", service.url()]));
    let codex = std::fs::read_to_string(device.codex()).unwrap();
    assert!(codex.starts_with(codex_before), "{codex}");
    assert!(codex.contains(&format!("[mcp_servers.{name}]")));
    let on_disk = String::from_utf8_lossy(&device.all_file_bytes()).into_owned();
    assert!(!on_disk.contains(&secret[prefix.len()..]), "no file holds the secret in bridge mode");

    // Drive the bridge exactly as Claude Desktop would launch it.
    assert_eq!(entry["command"], crate::common::BIN);
    let args: Vec<&str> = entry["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    let mut bridge = Bridge::start_from_entry(&device, &args);
    let init = initialize(&mut bridge).await;
    assert_eq!(init["result"]["serverInfo"]["name"], "keyward");
    let tools = bridge.request(2, "tools/list", json!({})).await;
    let names: Vec<&str> = tools["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["list_raw_materials", "get_raw_material", "list_boms", "get_bom"], "a read-only key sees read tools only");
    let call = bridge.request(3, "tools/call", json!({"name": "list_raw_materials", "arguments": {}})).await;
    assert!(call["result"]["content"][0]["text"].as_str().unwrap().contains("Oak board"), "{call}");

    // Revoke: the very next call fails, naming the key; entries and keychain item are gone.
    let revoked = device.ok(&["keys", "revoke", &id]).await;
    assert!(revoked.contains("Codex") && revoked.contains("Claude Desktop"), "{revoked}");
    let refused = bridge.request(4, "tools/call", json!({"name": "list_raw_materials", "arguments": {}})).await;
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("revoked") && message.contains(&prefix), "{refused}");
    assert_eq!(std::fs::read_to_string(device.claude_desktop()).unwrap(), desktop_before, "Claude Desktop's file is as it was");
    assert_eq!(std::fs::read_to_string(device.codex()).unwrap(), codex_before, "Codex's file is as it was");
    assert_eq!(keychain_lookup(&service.url(), &id), None, "the keychain item is gone");
    let stderr = bridge.finish().await;
    assert!(!stderr.contains(&secret), "the bridge never prints the secret");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bridge_survives_the_service_going_away_and_coming_back() {
    let _turn = keychain_turn().await;
    let (mut service, device) = Service::with_device_signed_in("laptop").await;
    let (id, _) = device.create_key("agent").await;
    let mut bridge = Bridge::start(&device, &id);
    initialize(&mut bridge).await;
    assert!(bridge.request(2, "tools/list", json!({})).await["result"].is_object());

    let port = service.port;
    let db = service.state.db.clone();
    service.stop().await;
    let down = bridge.request(3, "tools/list", json!({})).await;
    assert!(down["error"]["message"].as_str().unwrap().contains("cannot be reached"), "{down}");

    // The same database served again on the same port: the bridge carries on.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let state = keyward_server::AppState::new(db, keyward_server::Config::new(keyward_core::Brand::new("asmk").unwrap()));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(keyward_server::serve(listener, state, async {
        let _ = rx.await;
    }));
    let back = bridge.request(4, "tools/list", json!({})).await;
    assert!(back["result"]["tools"].is_array(), "{back}");
    bridge.finish().await;
    let _ = tx.send(());
    let _ = task.await;
}
