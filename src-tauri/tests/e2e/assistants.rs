//! Wiring a new key into Claude Desktop and Codex with one click each, and undoing it (or
//! being told why not, when the entry was edited since).

use crate::harness::World;

/// A Claude Desktop config the merchant already had, with another server and their own settings.
const EXISTING_DESKTOP: &str = r#"{
  "globalShortcut": "Ctrl+Space",
  "mcpServers": {
    "filesystem": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/Documents"] }
  }
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn configuring_claude_desktop_and_codex_writes_bridge_entries_and_undo_restores_the_files() {
    let mut world = World::start("3-configure").await;
    let (desktop, codex) = (world.agent_file("claude-desktop"), world.agent_file("codex"));
    std::fs::create_dir_all(desktop.parent().unwrap()).unwrap();
    std::fs::write(&desktop, EXISTING_DESKTOP).unwrap();
    assert!(!codex.exists());

    world.sign_in().await;
    world.click("[data-testid=create-key]").await;
    world.type_into("input[name=label]", "Assistants on this laptop").await;
    world.click("[data-testid=submit-key]").await;
    let secret = world.text("[data-testid=secret]").await;
    let id = &secret[3..11];

    world.click("[data-testid=configure-claude-desktop]").await;
    let shown = world.text("[data-testid=configured-claude-desktop]").await;
    assert!(shown.contains(&desktop.display().to_string()), "the app names the file it changed: {shown}");
    world.click("[data-testid=configure-codex]").await;
    let shown = world.text("[data-testid=configured-codex]").await;
    assert!(shown.contains(&codex.display().to_string()), "the app names the file it changed: {shown}");
    world.screenshot("configured").await;

    let desktop_now = std::fs::read_to_string(&desktop).unwrap();
    let json: serde_json::Value = serde_json::from_str(&desktop_now).unwrap();
    let servers = json["mcpServers"].as_object().unwrap();
    assert!(servers.contains_key("filesystem"), "the merchant's other server is kept");
    assert_eq!(json["globalShortcut"], "Ctrl+Space", "the merchant's settings are kept");
    let (name, entry) = servers.iter().find(|(name, _)| name.starts_with("keyward-")).expect("a Keyward entry");
    assert!(name.ends_with(&secret[..11]), "the entry names the key: {name}");
    let args: Vec<&str> = entry["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(args.starts_with(&["bridge", "--key", id]), "a bridge entry: {args:?}");
    let codex_now = std::fs::read_to_string(&codex).unwrap();
    assert!(codex_now.contains("[mcp_servers.keyward-") && codex_now.contains(&format!("\"--key\", \"{id}\"")), "{codex_now}");
    for text in [&desktop_now, &codex_now] {
        assert!(!text.contains(&secret[11..]), "no secret in an assistant's file");
    }

    world.click("[data-testid=undo-claude-desktop]").await;
    let said = world.text("[data-testid=undone-claude-desktop]").await;
    assert!(said.contains("Keyward's entry was taken out of") && said.contains(&desktop.display().to_string()), "{said}");
    world.click("[data-testid=undo-codex]").await;
    world.wait_text("[data-testid=undone-codex]", "Keyward's entry was taken out of").await;
    world.screenshot("undone").await;
    assert_eq!(std::fs::read_to_string(&desktop).unwrap(), EXISTING_DESKTOP, "Claude Desktop's file is back byte for byte");
    assert!(!codex.exists(), "Codex had no file before, and has none again");

    // Configured again, then the entry is edited by hand before undo: undo leaves it and says so.
    world.click("[data-testid=configure-claude-desktop]").await;
    world.find("[data-testid=configured-claude-desktop]").await;
    let edited = std::fs::read_to_string(&desktop).unwrap().replacen("\"bridge\"", "\"bridge\", \"--verbose\"", 1);
    std::fs::write(&desktop, &edited).unwrap();
    world.click("[data-testid=undo-claude-desktop]").await;
    let refused = world.text("[data-testid=undo-failed-claude-desktop]").await;
    assert!(refused.contains("was changed since Keyward wrote it") && refused.contains("by hand"), "{refused}");
    assert_eq!(world.count("[data-testid=undo-claude-desktop]").await, 0, "no Undo to try again");
    world.screenshot("undo-refused").await;
    assert_eq!(std::fs::read_to_string(&desktop).unwrap(), edited, "the edited entry is left as it is");

    world.click("[data-testid=dismiss-reveal]").await;
    world.wait_gone("[data-testid=reveal]").await;
    assert!(!world.source().await.contains(&secret[11..]), "no screen shows the secret once dismissed");
    world.finish().await;
}

/// Zed's settings as Zed writes them: comments and trailing commas.
const EXISTING_ZED: &str = "// Zed settings\n{\n  \"theme\": \"One Dark\", // mine\n  \"context_servers\": {\n    \"docs\": {\"source\": \"custom\", \"command\": \"docs-mcp\", \"args\": []},\n  },\n}\n";

#[tokio::test(flavor = "multi_thread")]
async fn installed_assistants_come_first_and_zed_and_goose_are_configured_and_undone() {
    let mut world = World::start("3-configure-more").await;
    let (zed, goose) = (world.agent_file("zed"), world.agent_file("goose"));
    std::fs::create_dir_all(zed.parent().unwrap()).unwrap();
    std::fs::write(&zed, EXISTING_ZED).unwrap();

    world.sign_in().await;
    world.click("[data-testid=create-key]").await;
    world.type_into("input[name=label]", "Zed and Goose").await;
    world.click("[data-testid=submit-key]").await;
    let secret = world.text("[data-testid=secret]").await;
    let id = secret[3..11].to_owned();

    // Zed's folder is here, so Zed is offered first; what this computer lacks is further down.
    world.find("[data-testid=installed-assistants] [data-agent=zed]").await;
    world.find("[data-testid=other-assistants] [data-agent=goose]").await;
    assert_eq!(world.count("[data-testid=installed-assistants] [data-agent=goose]").await, 0);
    assert_eq!(world.text("[data-testid=other-assistants-heading]").await, "Other assistants");
    for name in ["Cursor", "VS Code", "Windsurf", "Gemini CLI", "LM Studio", "OpenCode"] {
        assert!(world.text("[data-testid=other-assistants]").await.contains(&format!("Configure {name}")), "{name} is offered");
    }
    world.screenshot("grouped").await;

    world.click("[data-testid=configure-zed]").await;
    let shown = world.text("[data-testid=configured-zed]").await;
    assert!(shown.contains(&zed.display().to_string()), "the app names the file it changed: {shown}");
    let zed_now = std::fs::read_to_string(&zed).unwrap();
    assert!(zed_now.starts_with("// Zed settings\n{\n  \"theme\": \"One Dark\", // mine\n"), "Zed's comments stay: {zed_now}");
    assert!(zed_now.contains("\"source\": \"custom\"") && zed_now.contains("\"bridge\"") && zed_now.contains(&format!("\"{id}\"")), "{zed_now}");
    world.click("[data-testid=configure-goose]").await;
    world.find("[data-testid=configured-goose]").await;
    let goose_now = std::fs::read_to_string(&goose).unwrap();
    let wired = keyward::agents::bridge_entries(keyward::agents::Agent::Goose, &goose);
    assert!(goose_now.starts_with("extensions:\n  keyward-") && wired.len() == 1 && wired[0].1 == id, "{goose_now}");
    for text in [&zed_now, &goose_now] {
        assert!(!text.contains(&secret[11..]), "no secret in an assistant's file");
    }
    world.screenshot("configured").await;

    world.click("[data-testid=undo-zed]").await;
    world.wait_text("[data-testid=undone-zed]", "Keyward's entry was taken out of").await;
    world.click("[data-testid=undo-goose]").await;
    world.wait_text("[data-testid=undone-goose]", "Keyward's entry was taken out of").await;
    assert_eq!(std::fs::read_to_string(&zed).unwrap(), EXISTING_ZED, "Zed's settings are back byte for byte");
    assert!(!goose.exists(), "Goose had no file before, and has none again");
    assert!(!goose.parent().unwrap().exists(), "nor the folder Keyward made for it, which would make Goose look installed");

    // The key's details give the command that runs a script of the merchant's own with it.
    world.click("[data-testid=dismiss-reveal]").await;
    world.click(&format!("tr[data-key-id='{id}'] [data-testid=manage]")).await;
    world.find("[data-testid=other-assistants] [data-agent=goose]").await;
    assert_eq!(world.count("[data-testid=installed-assistants] [data-agent=goose]").await, 0, "after the undo Goose is among the others again");
    let command = world.text("[data-testid=run-command]").await;
    assert!(command.ends_with(&format!(" run --key {id} --")) && command.contains("keyward"), "{command}");
    world.screenshot("run-command").await;
    world.finish().await;
}
