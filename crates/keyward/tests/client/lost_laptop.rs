//! The lost laptop: from another machine, revoke the laptop's keys and the web-chat
//! connections granted from it, and sign it out. The laptop's bridge and connection are
//! refused on their next request and its CLI can no longer manage keys.

use serde_json::json;

use crate::common::{Bridge, Device, Service, initialize, keychain_turn};
use crate::oauth::{self, Approval};

#[tokio::test(flavor = "multi_thread")]
async fn another_device_signs_the_laptop_out_and_revokes_its_keys() {
    let _turn = keychain_turn().await;
    let service = Service::start().await;
    let laptop = Device::new(&service.url());
    let desktop = Device::new(&service.localhost_url());
    laptop.login("Lost laptop").await;
    let (id, prefix) = laptop.create_key("laptop agent").await;
    laptop.ok(&["connect", "codex", "--key", &id]).await;
    let mut bridge = Bridge::start(&laptop, &id);
    initialize(&mut bridge).await;
    assert!(bridge.request(2, "tools/list", json!({})).await["result"].is_object());
    // A web-chat app connected with a code the laptop made, pasted on the consent page.
    let code = laptop.json(&["connections", "code", "--app", "Claude"]).await;
    let access = oauth::connect(&laptop.server, "Claude", Approval::Code(code["code"].as_str().unwrap())).await.access_token;
    assert_eq!(oauth::mcp_status(&laptop.server, &access).await, 200, "the connection works");

    desktop.login("Office desktop").await;
    let devices = desktop.json(&["devices"]).await;
    let lost = devices.as_array().unwrap().iter().find(|d| d["name"] == "Lost laptop").unwrap();
    let out = desktop.ok(&["devices", "sign-out", lost["id"].as_str().unwrap(), "--revoke-keys"]).await;
    assert!(out.contains("and revoked the 1 key created and the 1 web-chat connection granted from it"), "{out}");
    assert_eq!(oauth::mcp_status(&laptop.server, &access).await, 401, "the connection granted from the laptop is refused");

    let refused = bridge.request(3, "tools/list", json!({})).await;
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("revoked") && message.contains(&prefix), "{refused}");

    let denied = laptop.run(&["keys", "list"]).await;
    assert_eq!(denied.status.code(), Some(3), "exit code 3: sign in again");
    assert!(String::from_utf8_lossy(&denied.stderr).contains("Sign in again"));
    let denied = laptop.run(&["keys", "create", "--name", "sneaky"]).await;
    assert_eq!(denied.status.code(), Some(3));
    bridge.finish().await;
}
