//! Every assistant in the table, through the `keyward` CLI on a machine of its own: listed by
//! `keyward assistants` (installed or not, its file, the keys wired into it), wired with
//! `keyward connect`, a project's own file with `--project`, unwired one by one, and all of it
//! taken out again when the key is revoked.

use std::path::{Path, PathBuf};

use keyward::agents::{self, Agent};

use crate::common::{Device, Service, keychain_lookup, keychain_turn};

/// `keyward assistants --json`, by slug.
async fn assistants(device: &Device, path_var: &Path) -> serde_json::Map<String, serde_json::Value> {
    let output = device.command(&["--json", "assistants"]).env("PATH", path_var).output().await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let list: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    list.into_iter().map(|a| (a["agent"].as_str().unwrap().to_owned(), a)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_assistant_is_listed_wired_and_unwired_on_revoke() {
    let _turn = keychain_turn().await;
    let (service, device) = Service::with_device_signed_in("laptop").await;
    let (id, prefix) = device.create_key("every assistant").await;
    let secret = keychain_lookup(&service.url(), &id).unwrap();
    // A PATH holding only a `goose` program: Goose looks installed by its program alone.
    let bin = tempfile::tempdir().unwrap();
    let goose = bin.path().join("goose");
    std::fs::write(&goose, "#!/bin/sh\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&goose, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    let before = assistants(&device, bin.path()).await;
    assert_eq!(before.len(), Agent::all().count(), "every assistant is listed");
    for agent in Agent::all() {
        let listed = &before[agent.slug()];
        assert_eq!(listed["installed"], agent == Agent::Goose, "{agent}: a fresh home has no assistant but the one on PATH");
        assert_eq!(listed["name"], agent.to_string());
        assert!(listed["path"].as_str().unwrap().starts_with(device.home().to_str().unwrap()), "{agent}: {listed}");
        assert_eq!(listed["wired"], serde_json::json!([]));
    }

    for agent in Agent::all() {
        let text = device.ok(&["connect", agent.slug(), "--key", &id]).await;
        assert!(text.contains(&format!("Restart {agent}")), "{text}");
    }
    let project = tempfile::tempdir().unwrap();
    let project_dir = project.path().to_str().unwrap();
    device.ok(&["connect", "claude-code", "--key", &id, "--project", project_dir]).await;
    device.ok(&["connect", "codex", "--key", &id, "--project", project_dir]).await;
    let no_project = device.run(&["connect", "cursor", "--key", &id, "--project", project_dir]).await;
    assert_eq!(no_project.status.code(), Some(2));
    let said = String::from_utf8_lossy(&no_project.stderr);
    assert!(said.contains("Cursor has no project configuration") && said.contains("claude-code and codex"), "{said}");

    let wired = assistants(&device, bin.path()).await;
    for agent in Agent::all() {
        let listed = &wired[agent.slug()];
        let path = Path::new(listed["path"].as_str().unwrap());
        assert_eq!(listed["wired"][0]["key_id"], id.as_str(), "{agent}: {listed}");
        assert_eq!(agents::bridge_entries(agent, path), [(listed["wired"][0]["entry_name"].as_str().unwrap().to_owned(), id.clone())]);
        // The file's folder exists now, so the assistant looks installed (Claude Code keeps
        // ~/.claude.json in the home folder itself, which says nothing).
        assert_eq!(listed["installed"], agent != Agent::ClaudeCode, "{agent}");
    }
    assert_eq!(agents::bridge_entries(Agent::ClaudeCode, &project.path().join(".mcp.json")).len(), 1);
    assert_eq!(agents::bridge_entries(Agent::Codex, &project.path().join(".codex/config.toml")).len(), 1);
    let table = String::from_utf8(device.command(&["assistants"]).env("PATH", bin.path()).output().await.unwrap().stdout).unwrap();
    assert!(table.contains("lm-studio") && table.contains("LM Studio") && table.contains(&id), "{table}");
    assert!(!String::from_utf8_lossy(&device.all_file_bytes()).contains(&secret[prefix.len()..]), "bridge entries hold no secret");

    // One taken out by hand; the rest, project files included, go with the revocation.
    device.ok(&["disconnect", "goose", "--key", &id]).await;
    assert!(agents::bridge_entries(Agent::Goose, Path::new(wired["goose"]["path"].as_str().unwrap())).is_empty());
    let revoked = device.json(&["keys", "revoke", &id]).await;
    let unwired: Vec<&str> = revoked["unwired"].as_array().unwrap().iter().map(|u| u[0].as_str().unwrap()).collect();
    assert_eq!(unwired.len(), Agent::all().count() - 1 + 2, "every file but Goose's, and the two project files: {revoked}");
    for agent in Agent::all() {
        assert!(agents::bridge_entries(agent, Path::new(wired[agent.slug()]["path"].as_str().unwrap())).is_empty(), "{agent} still has the entry");
    }
    assert!(agents::bridge_entries(Agent::ClaudeCode, &project.path().join(".mcp.json")).is_empty());
    assert!(agents::bridge_entries(Agent::Codex, &project.path().join(".codex/config.toml")).is_empty());
    let after = assistants(&device, bin.path()).await;
    assert!(after.values().all(|a| a["wired"] == serde_json::json!([])));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_assistant_is_refused_with_the_list_of_known_ones() {
    let service = Service::start().await;
    let device = Device::new(&service.url());
    let output = device.run(&["connect", "notepad", "--key", "Ab12Cd34"]).await;
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    for agent in Agent::all() {
        assert!(said.contains(agent.slug()), "{said}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_a_key_never_wired_here_makes_no_assistant_look_installed() {
    let _turn = keychain_turn().await;
    let (_service, device) = Service::with_device_signed_in("laptop").await;
    let (id, _) = device.create_key("never wired").await;

    device.ok(&["keys", "revoke", &id]).await;

    let empty_path = tempfile::tempdir().unwrap();
    for (slug, listed) in assistants(&device, empty_path.path()).await {
        assert_eq!(listed["installed"], false, "{slug}: looking for entries made no folder");
    }
    for folder in [".cursor", ".gemini", ".codeium", ".lmstudio", ".codex", ".config/zed", ".config/goose", ".config/opencode"] {
        assert!(!device.home().join(folder).exists(), "{folder} was created");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_keyward_cannot_read_does_not_stop_a_revocation() {
    let _turn = keychain_turn().await;
    let (service, device) = Service::with_device_signed_in("laptop").await;
    let (id, _) = device.create_key("two assistants").await;
    device.ok(&["connect", "cursor", "--key", &id]).await;
    device.ok(&["connect", "zed", "--key", &id]).await;
    let listed = assistants(&device, Path::new("/nonexistent")).await;
    let (cursor, zed) = (PathBuf::from(listed["cursor"]["path"].as_str().unwrap()), PathBuf::from(listed["zed"]["path"].as_str().unwrap()));
    // The person breaks Cursor's file by hand; Keyward's entry is still in it.
    let broken = format!("{}\n{{ oops", std::fs::read_to_string(&cursor).unwrap());
    std::fs::write(&cursor, &broken).unwrap();

    let output = device.run(&["keys", "revoke", &id]).await;

    assert!(output.status.success(), "the key is revoked whatever one file says: {}", String::from_utf8_lossy(&output.stderr));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("Cursor's entry in") && said.contains(cursor.to_str().unwrap()) && said.contains("remove the entry by hand"), "{said}");
    assert!(agents::bridge_entries(Agent::Zed, &zed).is_empty(), "the other assistant was unwired");
    assert_eq!(std::fs::read_to_string(&cursor).unwrap(), broken, "the broken file is left as it is");
    assert!(keychain_lookup(&service.url(), &id).is_none(), "the secret left the keychain");
    let remembered = std::fs::read_to_string(device.home().join("keyward-data/wired.json")).unwrap();
    assert!(remembered.contains(cursor.to_str().unwrap()) && !remembered.contains(zed.to_str().unwrap()), "the file left behind stays on record: {remembered}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_secret_is_never_written_into_a_project_file() {
    let service = Service::start().await;
    let device = Device::new(&service.url());
    let project = tempfile::tempdir().unwrap();
    let output = device.run(&["connect", "claude-code", "--key", "Ab12Cd34", "--inline", "--project", project.path().to_str().unwrap()]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--inline"), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(std::fs::read_dir(project.path()).unwrap().count(), 0, "nothing was written");
}
