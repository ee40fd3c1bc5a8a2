//! The assistants' config files, as people really have them: several other MCP servers,
//! unknown fields, unicode, CRLF line endings, TOML comments and odd spacing. Keyward's
//! edits leave every other byte as it was, refuse what they cannot parse, survive SIGKILL
//! mid-write, and two writers at once lose neither entry.

use std::path::{Path, PathBuf};
use std::time::Duration;

use keyward::agents::{self, Agent, ServerEntry, file};

const DESKTOP: &str = "{\r\n  \"mcpServers\": {\r\n    \"filesystem\": {\r\n      \"command\": \"npx\",\r\n      \"args\": [\"-y\", \"@modelcontextprotocol/server-filesystem\", \"/Users/zoë/Документы\"]\r\n    },\r\n    \"github\": {\"command\": \"docker\", \"args\": [\"run\", \"-i\", \"ghcr.io/github/github-mcp-server\"], \"env\": {\"GITHUB_TOKEN\": \"ghp_example\"}}\r\n  },\r\n  \"globalShortcut\": \"Alt+Space\",\r\n  \"experimental\": {\"featureFlags\": [1, 2.5, null, true]},\r\n  \"emoji\": \"🛠️ tools\"\r\n}\r\n";

const CLAUDE_CODE: &str = r#"{"numStartups":42,"projects":{"/home/ada/shop":{"allowedTools":[],"mcpServers":{}}},"mcpServers":{"sentry":{"type":"http","url":"https://mcp.sentry.dev/mcp"}},"tipsHistory":{"new-user-warmup":7}}"#;

const CODEX: &str = "# Codex — my settings\nmodel   = \"o3\"    # the good one\napproval_policy=\"on-request\"\n\n[mcp_servers.docs]\n  command = \"docs-mcp\"   # indented on purpose\n  args    = [ \"--port\",\"0\" ]\n\n[mcp_servers.docs.env]\nTOKEN = \"x\"\n\n# trailing comment\n[profiles.fast]\nmodel = \"o4-mini\"\n";

fn entry(key_id: &str) -> ServerEntry {
    ServerEntry::bridge(Path::new("/opt/keyward/bin/keyward"), key_id, "https://keys.example.com", None)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Adds an entry, checks the file, removes it, and checks the file is byte for byte the original.
fn round_trip(agent: Agent, original: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "config", original);
    let wiring = agents::connect(agent, &path, "keyward-acme-asmk_Ab12Cd34", &entry("Ab12Cd34")).unwrap();
    assert!(wiring.changed);
    assert_eq!(std::fs::read_to_string(wiring.backup.as_ref().unwrap()).unwrap(), original, "the backup is the previous version");
    let changed = std::fs::read_to_string(&path).unwrap();
    assert_eq!(agents::read_entry(agent, &path, "keyward-acme-asmk_Ab12Cd34"), Some(entry("Ab12Cd34")));
    // A second key of another store sits beside the first.
    agents::connect(agent, &path, "keyward-other-lstk_Zz99Yy88", &entry("Zz99Yy88")).unwrap();
    assert!(agents::read_entry(agent, &path, "keyward-acme-asmk_Ab12Cd34").is_some());
    assert!(agents::read_entry(agent, &path, "keyward-other-lstk_Zz99Yy88").is_some());
    assert!(agents::disconnect(agent, &path, "keyward-other-lstk_Zz99Yy88", "Zz99Yy88").unwrap());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), changed);
    // Disconnect removes exactly Keyward's entry: not one with the same name for another key.
    assert!(!agents::disconnect(agent, &path, "keyward-acme-asmk_Ab12Cd34", "OtherKey").unwrap());
    assert!(agents::disconnect(agent, &path, "keyward-acme-asmk_Ab12Cd34", "Ab12Cd34").unwrap());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original, "every byte Keyward did not write is as it was");
}

#[test]
fn claude_desktop_keeps_other_servers_fields_unicode_and_crlf() {
    round_trip(Agent::ClaudeDesktop, DESKTOP);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "c.json", DESKTOP);
    agents::connect(Agent::ClaudeDesktop, &path, "keyward-acme-asmk_Ab12Cd34", &entry("Ab12Cd34")).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.replace("\r\n", "").contains('\n'), "new lines use the file's CRLF endings: {text:?}");
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["mcpServers"]["github"]["env"]["GITHUB_TOKEN"], "ghp_example");
    assert_eq!(value["emoji"], "🛠️ tools");
}

#[test]
fn claude_code_keeps_a_compact_file_and_gets_a_stdio_entry() {
    round_trip(Agent::ClaudeCode, CLAUDE_CODE);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), ".claude.json", CLAUDE_CODE);
    agents::connect(Agent::ClaudeCode, &path, "keyward-acme-asmk_Ab12Cd34", &entry("Ab12Cd34")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(value["mcpServers"]["keyward-acme-asmk_Ab12Cd34"]["type"], "stdio");
    assert_eq!(value["numStartups"], 42);
    assert_eq!(value["mcpServers"]["sentry"]["url"], "https://mcp.sentry.dev/mcp");
}

#[test]
fn codex_keeps_comments_spacing_and_other_tables() {
    round_trip(Agent::Codex, CODEX);
}

#[test]
fn a_missing_file_and_folder_are_created() {
    let dir = tempfile::tempdir().unwrap();
    for agent in Agent::ALL {
        let path = dir.path().join(agent.slug()).join("deep").join("config");
        let wiring = agents::connect(agent, &path, "keyward-acme-asmk_Ab12Cd34", &entry("Ab12Cd34")).unwrap();
        assert_eq!(wiring.backup, None);
        assert_eq!(agents::read_entry(agent, &path, "keyward-acme-asmk_Ab12Cd34"), Some(entry("Ab12Cd34")));
        agents::undo(&wiring).unwrap();
        assert!(!path.exists(), "undo of a file Keyward created removes it");
    }
}

#[test]
fn undo_restores_the_previous_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "c.json", DESKTOP);
    let wiring = agents::connect(Agent::ClaudeDesktop, &path, "k", &entry("Ab12Cd34")).unwrap();
    agents::undo(&wiring).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), DESKTOP);
}

/// What the assistant (or the person) does to its own file after Keyward wrote to it: adds a
/// server of its own and changes a setting, rewriting the file in its own style.
fn the_assistant_edits(agent: Agent, path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let edited = match agent {
        Agent::Codex => {
            let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
            doc["model"] = toml_edit::value("o4-mini");
            doc["mcp_servers"]["added-later"] = toml_edit::table();
            doc["mcp_servers"]["added-later"]["command"] = toml_edit::value("later-mcp");
            doc.to_string()
        }
        _ => {
            let mut value: serde_json::Value = if text.trim().is_empty() { serde_json::json!({}) } else { serde_json::from_str(&text).unwrap() };
            value["model"] = serde_json::json!("o4-mini");
            value["mcpServers"]["added-later"] = serde_json::json!({"command": "later-mcp"});
            serde_json::to_string_pretty(&value).unwrap()
        }
    };
    std::fs::write(path, edited).unwrap();
}

/// The assistant's edits are all still there.
fn assert_the_assistants_edits_survive(agent: Agent, path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|_| panic!("{agent}: the file is gone"));
    let (model, later) = match agent {
        Agent::Codex => {
            let doc: toml_edit::DocumentMut = text.parse().unwrap();
            (doc["model"].as_str().map(str::to_owned), doc["mcp_servers"]["added-later"]["command"].as_str().map(str::to_owned))
        }
        _ => {
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            (value["model"].as_str().map(str::to_owned), value["mcpServers"]["added-later"]["command"].as_str().map(str::to_owned))
        }
    };
    assert_eq!(model.as_deref(), Some("o4-mini"), "{agent}: the changed setting was lost:\n{text}");
    assert_eq!(later.as_deref(), Some("later-mcp"), "{agent}: the server added since was lost:\n{text}");
}

fn original(agent: Agent) -> &'static str {
    match agent {
        Agent::ClaudeDesktop => DESKTOP,
        Agent::ClaudeCode => CLAUDE_CODE,
        Agent::Codex => CODEX,
    }
}

const NAME: &str = "keyward-acme-asmk_Ab12Cd34";

#[test]
fn undo_removes_only_keywards_entry_and_keeps_what_changed_since() {
    for agent in Agent::ALL {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "config", original(agent));
        let wiring = agents::connect(agent, &path, NAME, &entry("Ab12Cd34")).unwrap();
        the_assistant_edits(agent, &path);

        agents::undo(&wiring).unwrap();

        assert_eq!(agents::read_entry(agent, &path, NAME), None, "{agent}: Keyward's entry is gone");
        assert_the_assistants_edits_survive(agent, &path);
        let text = std::fs::read_to_string(&path).unwrap();
        for other in ["filesystem", "sentry", "docs"] {
            assert_eq!(original(agent).contains(other), text.contains(other), "{agent}: {other} was there before and stays");
        }
    }
}

#[test]
fn undo_puts_back_the_entry_that_connect_replaced() {
    let old_json = serde_json::json!({
        "command": "/old/keyward",
        "args": ["bridge", "--key", "Ab12Cd34", "--server", "https://old.example.com"],
        "env": {"KEEP": "me"},
        "disabled": false
    });
    for agent in Agent::ALL {
        let dir = tempfile::tempdir().unwrap();
        let before = match agent {
            Agent::Codex => format!(
                "{CODEX}\n[mcp_servers.{NAME}]\ncommand = \"/old/keyward\"\nargs = [\"bridge\", \"--key\", \"Ab12Cd34\", \"--server\", \"https://old.example.com\"]\nstartup_timeout_sec = 30\n"
            ),
            _ => {
                let mut value: serde_json::Value = serde_json::from_str(original(agent)).unwrap();
                value["mcpServers"][NAME] = old_json.clone();
                serde_json::to_string_pretty(&value).unwrap()
            }
        };
        let path = write(dir.path(), "config", &before);
        let wiring = agents::connect(agent, &path, NAME, &entry("Ab12Cd34")).unwrap();
        assert_eq!(agents::read_entry(agent, &path, NAME), Some(entry("Ab12Cd34")), "{agent}: connect replaced the old entry");
        the_assistant_edits(agent, &path);

        agents::undo(&wiring).unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        match agent {
            Agent::Codex => {
                let doc: toml_edit::DocumentMut = text.parse().unwrap();
                let old = &doc["mcp_servers"][NAME];
                assert_eq!(old["command"].as_str(), Some("/old/keyward"), "{text}");
                assert_eq!(old["args"].as_array().unwrap().get(4).and_then(|a| a.as_str()), Some("https://old.example.com"));
                assert_eq!(old["startup_timeout_sec"].as_integer(), Some(30), "fields Keyward does not know come back too");
            }
            _ => assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap()["mcpServers"][NAME], old_json, "{agent}: the old entry is back as it was"),
        }
        assert_the_assistants_edits_survive(agent, &path);
    }
}

#[test]
fn undo_keeps_a_file_keyward_created_once_someone_else_wrote_to_it() {
    for agent in Agent::ALL {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new").join("config");
        let wiring = agents::connect(agent, &path, NAME, &entry("Ab12Cd34")).unwrap();
        the_assistant_edits(agent, &path);

        agents::undo(&wiring).unwrap();

        assert_eq!(agents::read_entry(agent, &path, NAME), None, "{agent}: Keyward's entry is gone");
        assert_the_assistants_edits_survive(agent, &path);
    }
}

#[test]
fn undo_leaves_an_entry_that_was_changed_since_and_says_so() {
    for agent in Agent::ALL {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "config", original(agent));
        let wiring = agents::connect(agent, &path, NAME, &entry("Ab12Cd34")).unwrap();
        // Someone points the same entry elsewhere (here: Keyward itself, for another key).
        agents::connect(agent, &path, NAME, &entry("Zz99Yy88")).unwrap();
        let changed = std::fs::read_to_string(&path).unwrap();

        let message = agents::undo(&wiring).unwrap_err().to_string();

        assert!(message.contains(NAME) && message.contains("changed since"), "{agent}: {message}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), changed, "{agent}: the file is left as it is");

        // Or makes it a server of another kind altogether.
        let wiring = agents::connect(agent, &path, NAME, &entry("Ab12Cd34")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let foreign = match agent {
            Agent::Codex => {
                let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
                doc["mcp_servers"][NAME] = toml_edit::table();
                doc["mcp_servers"][NAME]["url"] = toml_edit::value("https://mcp.example.com");
                doc.to_string()
            }
            _ => {
                let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
                value["mcpServers"][NAME] = serde_json::json!({"type": "http", "url": "https://mcp.example.com"});
                serde_json::to_string(&value).unwrap()
            }
        };
        std::fs::write(&path, &foreign).unwrap();
        assert!(agents::undo(&wiring).unwrap_err().to_string().contains("changed since"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), foreign, "{agent}: the other server is left as it is");
    }
}

#[test]
fn files_that_cannot_be_parsed_are_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (Agent::ClaudeDesktop, "{\"mcpServers\": {\"a\": {\"command\": \"x\"}},,}"),
        (Agent::ClaudeDesktop, "{\"mcpServers\": [\"not\", \"an\", \"object\"]}"),
        (Agent::ClaudeCode, "[]"),
        // The assistant would read the last of each duplicate; an edit could land in the first.
        (Agent::ClaudeDesktop, "{\"mcpServers\": {}, \"mcpServers\": {\"a\": {\"command\": \"x\"}}}"),
        (Agent::ClaudeCode, "{\"mcpServers\": {\"k\": {\"command\": \"x\"}, \"k\": {\"command\": \"y\"}}}"),
        (Agent::ClaudeCode, "{\"truncated\": "),
        (Agent::Codex, "model = \"o3\"\n[mcp_servers.docs\ncommand = \"x\"\n"),
        (Agent::Codex, "mcp_servers = \"nope\"\n"),
    ];
    for (i, (agent, text)) in cases.into_iter().enumerate() {
        let path = write(dir.path(), &format!("bad{i}"), text);
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        let err = agents::connect(agent, &path, "k", &entry("Ab12Cd34")).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("left untouched") && message.contains(&path.display().to_string()), "{message}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "byte for byte untouched");
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), before);
        assert!(!file::backup_path(&path).exists(), "no backup of a file that was not changed");
    }
}

#[cfg(unix)]
#[test]
fn inline_mode_puts_the_secret_in_env_and_makes_the_file_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "c.json", DESKTOP);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let inline = ServerEntry::bridge(Path::new("/opt/keyward"), "Ab12Cd34", "https://keys.example.com", Some("asmk_secret"));
    agents::connect(Agent::ClaudeDesktop, &path, "k", &inline).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(agents::read_entry(Agent::ClaudeDesktop, &path, "k").unwrap().env[agents::INLINE_KEY_ENV], "asmk_secret");
    // Disconnecting takes the secret off the disk: the file and no backup keep it.
    assert!(agents::disconnect(Agent::ClaudeDesktop, &path, "k", "Ab12Cd34").unwrap());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), DESKTOP);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("asmk_secret"), "a copy of the secret was left on disk");
    }
    // A bridge-mode file keeps the permissions it had.
    let plain = write(dir.path(), "p.json", DESKTOP);
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o640)).unwrap();
    agents::connect(Agent::ClaudeDesktop, &plain, "k", &entry("Ab12Cd34")).unwrap();
    assert_eq!(std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777, 0o640);
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn a_backup_is_never_more_readable_than_its_file() {
    use std::os::unix::fs::PermissionsExt;
    for file_mode in [0o600, 0o640, 0o660] {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "c.json", DESKTOP);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(file_mode)).unwrap();
        // A backup left world-readable by an earlier change does not stay so.
        let stale = write(dir.path(), "c.json.keyward-backup", "{}");
        std::fs::set_permissions(&stale, std::fs::Permissions::from_mode(0o644)).unwrap();

        let wiring = agents::connect(Agent::ClaudeDesktop, &path, NAME, &entry("Ab12Cd34")).unwrap();

        let backup = wiring.backup.unwrap();
        assert_eq!(std::fs::read_to_string(&backup).unwrap(), DESKTOP);
        assert_eq!(mode(&backup), file_mode, "the backup has its file's mode {file_mode:o}");
        assert_eq!(mode(&path), file_mode, "the file keeps its mode");
    }
}

#[cfg(unix)]
#[test]
fn a_symlinked_config_stays_a_link_and_its_target_gets_the_change() {
    use std::os::unix::fs::PermissionsExt;
    for agent in Agent::ALL {
        let dir = tempfile::tempdir().unwrap();
        // A dotfiles checkout, linked into place relatively (as stow and most dotfile managers do).
        std::fs::create_dir_all(dir.path().join("dotfiles")).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        let target = write(&dir.path().join("dotfiles"), "config", original(agent));
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("home").join("config");
        std::os::unix::fs::symlink("../dotfiles/config", &link).unwrap();
        // And a link to that link, for good measure.
        let link_to_link = dir.path().join("home").join("config-again");
        std::os::unix::fs::symlink("config", &link_to_link).unwrap();

        agents::connect(agent, &link_to_link, NAME, &entry("Ab12Cd34")).unwrap();

        for l in [&link, &link_to_link] {
            assert!(std::fs::symlink_metadata(l).unwrap().file_type().is_symlink(), "{agent}: {} is still a link", l.display());
        }
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("../dotfiles/config"));
        assert_eq!(agents::read_entry(agent, &target, NAME), Some(entry("Ab12Cd34")), "{agent}: the target has the entry");
        assert_eq!(mode(&target), 0o640, "{agent}: the target keeps its mode");

        assert!(agents::disconnect(agent, &link, NAME, "Ab12Cd34").unwrap());
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), original(agent), "{agent}: every other byte of the target is as it was");

        // A link whose target does not exist yet: the target is created, the link kept.
        let dangling = dir.path().join("home").join("fresh");
        std::os::unix::fs::symlink("../dotfiles/fresh", &dangling).unwrap();
        agents::connect(agent, &dangling, NAME, &entry("Ab12Cd34")).unwrap();
        assert!(std::fs::symlink_metadata(&dangling).unwrap().file_type().is_symlink());
        assert!(agents::read_entry(agent, &dir.path().join("dotfiles").join("fresh"), NAME).is_some());
    }
}

#[test]
fn two_writers_at_once_lose_neither_entry() {
    for agent in Agent::ALL {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "shared", if agent == Agent::Codex { CODEX } else { DESKTOP });
        let writers: Vec<_> = ["A", "B"]
            .into_iter()
            .map(|who| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for round in 0..40 {
                        let name = format!("keyward-{who}-{round}");
                        agents::connect(agent, &path, &name, &entry(&format!("{who}{round:07}"))).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        for who in ["A", "B"] {
            for round in 0..40 {
                assert!(agents::read_entry(agent, &path, &format!("keyward-{who}-{round}")).is_some(), "{agent}: {who} {round} was lost");
            }
        }
    }
}

/// The child half of the SIGKILL test: writes entries forever until killed.
#[test]
#[ignore = "run by sigkill_mid_write_leaves_the_old_or_the_new_file, not on its own"]
fn writer_child() {
    let Some(path) = std::env::var_os("KEYWARD_TEST_WRITER_PATH") else { return };
    let agent = Agent::parse(&std::env::var("KEYWARD_TEST_WRITER_AGENT").unwrap()).unwrap();
    let path = PathBuf::from(path);
    for round in 0.. {
        let name = format!("keyward-round-{}", round % 7);
        let mut e = entry("Ab12Cd34");
        e.args.push(format!("--round={round}"));
        agents::connect(agent, &path, &name, &e).unwrap();
    }
}

#[cfg(unix)]
#[test]
fn sigkill_mid_write_leaves_the_old_or_the_new_file() {
    for agent in Agent::ALL {
        let dir = tempfile::tempdir().unwrap();
        let original = if agent == Agent::Codex { CODEX } else { DESKTOP };
        let path = write(dir.path(), "config", original);
        let mut seen_changes = 0;
        for attempt in 0..12u64 {
            let mut child = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "writer_child", "--ignored", "--nocapture", "--test-threads=1"])
                .env("KEYWARD_TEST_WRITER_PATH", &path)
                .env("KEYWARD_TEST_WRITER_AGENT", agent.slug())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            // Kill at a different moment each time, somewhere inside a stream of writes.
            std::thread::sleep(Duration::from_millis(15 + (attempt * 37) % 90));
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            // Whole: it parses, the untouched entries are intact, and Keyward's entries are complete.
            match agent {
                Agent::Codex => {
                    let doc: toml_edit::DocumentMut = text.parse().unwrap_or_else(|e| panic!("torn TOML after SIGKILL: {e}\n{text}"));
                    assert_eq!(doc["mcp_servers"]["docs"]["command"].as_str(), Some("docs-mcp"));
                    assert_eq!(doc["profiles"]["fast"]["model"].as_str(), Some("o4-mini"));
                }
                _ => {
                    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("torn JSON after SIGKILL: {e}\n{text}"));
                    assert_eq!(value["mcpServers"]["filesystem"]["command"], "npx");
                }
            }
            for round in 0..7 {
                if let Some(e) = agents::read_entry(agent, &path, &format!("keyward-round-{round}")) {
                    assert!(e.is_bridge_for("Ab12Cd34") && e.args.last().unwrap().starts_with("--round="));
                }
            }
            if text != original {
                seen_changes += 1;
            }
        }
        assert!(seen_changes > 0, "{agent}: the writer never got to write; the test proved nothing");
    }
}
