//! The assistants' config files, as people really have them: several other MCP servers,
//! unknown fields, unicode, CRLF line endings, JSON and TOML and YAML comments, odd spacing.
//! For every assistant in the table, Keyward's edits leave every other byte as it was,
//! refuse what they cannot parse, survive SIGKILL mid-write, and two writers at once lose
//! neither entry.

use std::path::{Path, PathBuf};
use std::time::Duration;

use keyward::agents::format::Format;
use keyward::agents::table::Spec;
use keyward::agents::{self, Agent, ServerEntry, file};
use serde_json::Value;

const DESKTOP: &str = "{\r\n  \"mcpServers\": {\r\n    \"filesystem\": {\r\n      \"command\": \"npx\",\r\n      \"args\": [\"-y\", \"@modelcontextprotocol/server-filesystem\", \"/Users/zoë/Документы\"]\r\n    },\r\n    \"github\": {\"command\": \"docker\", \"args\": [\"run\", \"-i\", \"ghcr.io/github/github-mcp-server\"], \"env\": {\"GITHUB_TOKEN\": \"ghp_example\"}}\r\n  },\r\n  \"globalShortcut\": \"Alt+Space\",\r\n  \"experimental\": {\"featureFlags\": [1, 2.5, null, true]},\r\n  \"emoji\": \"🛠️ tools\"\r\n}\r\n";

const CLAUDE_CODE: &str = r#"{"numStartups":42,"projects":{"/home/ada/shop":{"allowedTools":[],"mcpServers":{}}},"mcpServers":{"sentry":{"type":"http","url":"https://mcp.sentry.dev/mcp"}},"tipsHistory":{"new-user-warmup":7}}"#;

const CURSOR: &str = "{\n  \"mcpServers\": {\n    \"postgres\": {\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"@modelcontextprotocol/server-postgres\", \"postgresql://localhost/shop\"]\n    },\n    \"linear\": {\"url\": \"https://mcp.linear.app/sse\", \"headers\": {}}\n  }\n}\n";

/// VS Code's user mcp.json: JSON with comments and trailing commas, inputs beside the servers.
const VSCODE: &str = "// Settings for MCP servers in VS Code\n{\n\t\"inputs\": [\n\t\t{\"type\": \"promptString\", \"id\": \"gh-token\", \"description\": \"GitHub token\", \"password\": true},\n\t],\n\t\"servers\": {\n\t\t// GitHub's own server\n\t\t\"github\": {\"type\": \"http\", \"url\": \"https://api.githubcopilot.com/mcp/\"},\n\t\t\"fetch\": {\"type\": \"stdio\", \"command\": \"uvx\", \"args\": [\"mcp-server-fetch\"]}, /* trailing */\n\t},\n}\n";

const WINDSURF: &str = "{\r\n    \"mcpServers\": {\r\n        \"brave-search\": {\r\n            \"command\": \"npx\",\r\n            \"args\": [\"-y\", \"@modelcontextprotocol/server-brave-search\"],\r\n            \"env\": {\"BRAVE_API_KEY\": \"<key>\"}\r\n        }\r\n    }\r\n}\r\n";

/// Gemini CLI's settings: many other settings, a comment (it strips them), no trailing commas.
const GEMINI: &str = "{\n  // picked in the first-run dialog\n  \"theme\": \"GitHub\",\n  \"selectedAuthType\": \"oauth-personal\",\n  \"general\": {\"vimMode\": true, \"preferredEditor\": \"zed\"},\n  \"mcpServers\": {\n    \"context7\": {\"httpUrl\": \"https://mcp.context7.com/mcp\", \"timeout\": 30000, \"trust\": false}\n  },\n  \"ui\": {\"footer\": {\"hideModelInfo\": false}}, \"emoji\": \"✨ café\"\n}\n";

/// Zed's settings.json as Zed writes it, header comments and trailing commas included.
const ZED: &str = "// Zed settings\n//\n// For information on how to configure Zed, see the Zed\n// documentation: https://zed.dev/docs/configuring-zed\n{\n  \"ui_font_size\": 16,\n  \"buffer_font_size\": 15,\n  \"theme\": {\n    \"mode\": \"system\",\n    \"light\": \"One Light\",\n    \"dark\": \"One Dark\",\n  },\n  \"context_servers\": {\n    // the docs server I wrote\n    \"docs\": {\n      \"source\": \"custom\",\n      \"command\": \"docs-mcp\",\n      \"args\": [],\n    },\n  },\n  \"agent\": {\"default_model\": {\"provider\": \"zed.dev\", \"model\": \"claude-sonnet-4\"}},\n}\n";

/// Goose's config.yaml: comments, quoting, sequences at the key's column, other extensions.
const GOOSE: &str = "# Goose config — edited by hand\nGOOSE_PROVIDER: anthropic   # the provider\nGOOSE_MODEL: claude-sonnet-4\nextensions:\n  developer:\n    bundled: true\n    enabled: true\n    name: developer\n    timeout: 300\n    type: builtin\n  # my github server\n  github:\n    args:\n    - -y\n    - '@modelcontextprotocol/server-github'\n    cmd: npx\n    enabled: true\n    envs:\n      GITHUB_PERSONAL_ACCESS_TOKEN: \"ghp_x\"\n    name: github\n    timeout: 300\n    type: stdio\nGOOSE_MODE: smart_approve   # ünïcode ✓\n";

const LM_STUDIO: &str = "{\n  \"mcpServers\": {\n    \"hf-mcp-server\": {\n      \"url\": \"https://huggingface.co/mcp\",\n      \"headers\": {\n        \"Authorization\": \"Bearer <YOUR_HF_TOKEN>\"\n      }\n    }\n  }\n}";

/// OpenCode's opencode.json: a schema, providers, a remote server, comments (it reads JSONC).
const OPENCODE: &str = "{\n  \"$schema\": \"https://opencode.ai/config.json\",\n  // my model\n  \"model\": \"anthropic/claude-sonnet-4-5\",\n  \"mcp\": {\n    \"sentry\": {\"type\": \"remote\", \"url\": \"https://mcp.sentry.dev/mcp\", \"enabled\": true},\n    \"local-db\": {\"type\": \"local\", \"command\": [\"bun\", \"x\", \"db-mcp\"], \"enabled\": false}\n  },\n  \"autoupdate\": false\n}\n";

const CODEX: &str = "# Codex — my settings\nmodel   = \"o3\"    # the good one\napproval_policy=\"on-request\"\n\n[mcp_servers.docs]\n  command = \"docs-mcp\"   # indented on purpose\n  args    = [ \"--port\",\"0\" ]\n\n[mcp_servers.docs.env]\nTOKEN = \"x\"\n\n# trailing comment\n[profiles.fast]\nmodel = \"o4-mini\"\n";

fn entry(key_id: &str) -> ServerEntry {
    ServerEntry::bridge(Path::new("/opt/keyward/bin/keyward"), key_id, "https://keys.example.com", None)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A realistic file of each assistant, as its owner has it before Keyward comes.
fn original(agent: Agent) -> &'static str {
    match agent {
        Agent::ClaudeDesktop => DESKTOP,
        Agent::ClaudeCode => CLAUDE_CODE,
        Agent::Codex => CODEX,
        Agent::Cursor => CURSOR,
        Agent::Vscode => VSCODE,
        Agent::Windsurf => WINDSURF,
        Agent::Gemini => GEMINI,
        Agent::Zed => ZED,
        Agent::Goose => GOOSE,
        Agent::LmStudio => LM_STUDIO,
        Agent::Opencode => OPENCODE,
    }
}

fn spec(agent: Agent) -> &'static Spec {
    agent.spec()
}

/// The whole file as data, as the assistant reads it.
fn document(agent: Agent, text: &str) -> Value {
    spec(agent).format.document(text).unwrap_or_else(|e| panic!("{agent}: the file no longer parses: {e}\n{text}"))
}

/// The servers in the file (by the name the assistant keys them with).
fn servers(agent: Agent, text: &str) -> serde_json::Map<String, Value> {
    document(agent, text).get(spec(agent).container).and_then(Value::as_object).cloned().unwrap_or_default()
}

/// The name an entry has in the assistant's file (Goose keys them in lower case).
fn key(agent: Agent, name: &str) -> String {
    if spec(agent).lowercase_names { name.to_lowercase() } else { name.to_owned() }
}

/// Adds an entry, checks the file, removes it, and checks the file is byte for byte the original.
fn round_trip(agent: Agent, original: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "config", original);
    let wiring = agents::connect(agent, &path, "keyward-acme-asmk_Ab12Cd34", &entry("Ab12Cd34")).unwrap();
    assert!(wiring.changed);
    assert_eq!(std::fs::read_to_string(wiring.backup.as_ref().unwrap()).unwrap(), original, "the backup is the previous version");
    let changed = std::fs::read_to_string(&path).unwrap();
    assert_eq!(agents::read_entry(agent, &path, "keyward-acme-asmk_Ab12Cd34"), Some(entry("Ab12Cd34")), "{agent}:\n{changed}");
    let before = servers(agent, original);
    let after = servers(agent, &changed);
    assert_eq!(after.len(), before.len() + 1, "{agent}: one entry more:\n{changed}");
    for (name, value) in &before {
        assert_eq!(after.get(name), Some(value), "{agent}: {name} is as it was");
    }
    let mut rest = document(agent, &changed);
    rest[spec(agent).container] = Value::Null;
    let mut rest_before = document(agent, original);
    rest_before[spec(agent).container] = Value::Null;
    assert_eq!(rest, rest_before, "{agent}: every other setting is as it was");
    // A second key of another store sits beside the first.
    agents::connect(agent, &path, "keyward-other-lstk_Zz99Yy88", &entry("Zz99Yy88")).unwrap();
    assert!(agents::read_entry(agent, &path, "keyward-acme-asmk_Ab12Cd34").is_some());
    assert!(agents::read_entry(agent, &path, "keyward-other-lstk_Zz99Yy88").is_some());
    let keys: Vec<String> = agents::bridge_entries(agent, &path).into_iter().map(|(_, key)| key).collect();
    assert_eq!(keys, ["Ab12Cd34", "Zz99Yy88"], "{agent}");
    assert!(agents::disconnect(agent, &path, "keyward-other-lstk_Zz99Yy88", "Zz99Yy88").unwrap());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), changed);
    // Disconnect removes exactly Keyward's entry: not one with the same name for another key.
    assert!(!agents::disconnect(agent, &path, "keyward-acme-asmk_Ab12Cd34", "OtherKey").unwrap());
    assert!(agents::disconnect(agent, &path, "keyward-acme-asmk_Ab12Cd34", "Ab12Cd34").unwrap());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original, "{agent}: every byte Keyward did not write is as it was");
}

#[test]
fn every_assistant_keeps_every_byte_it_did_not_write() {
    for agent in Agent::all() {
        round_trip(agent, original(agent));
    }
}

#[test]
fn every_entry_has_the_shape_its_assistant_reads() {
    let dir = tempfile::tempdir().unwrap();
    let args = serde_json::json!(["bridge", "--key", "Ab12Cd34", "--server", "https://keys.example.com"]);
    let program = "/opt/keyward/bin/keyward";
    let expected = [
        (Agent::ClaudeDesktop, serde_json::json!({"command": program, "args": args})),
        (Agent::ClaudeCode, serde_json::json!({"type": "stdio", "command": program, "args": args})),
        (Agent::Codex, serde_json::json!({"command": program, "args": args})),
        (Agent::Cursor, serde_json::json!({"command": program, "args": args})),
        (Agent::Vscode, serde_json::json!({"type": "stdio", "command": program, "args": args})),
        (Agent::Windsurf, serde_json::json!({"command": program, "args": args})),
        (Agent::Gemini, serde_json::json!({"command": program, "args": args})),
        (Agent::Zed, serde_json::json!({"source": "custom", "command": program, "args": args})),
        (
            Agent::Goose,
            serde_json::json!({"type": "stdio", "name": "keyward-acme-asmk_ab12cd34", "cmd": program, "args": args, "enabled": true, "timeout": 300}),
        ),
        (Agent::LmStudio, serde_json::json!({"command": program, "args": args})),
        (
            Agent::Opencode,
            serde_json::json!({"type": "local", "command": ["/opt/keyward/bin/keyward", "bridge", "--key", "Ab12Cd34", "--server", "https://keys.example.com"], "enabled": true}),
        ),
    ];
    assert_eq!(expected.len(), Agent::all().count(), "every assistant is checked");
    for (agent, shape) in expected {
        let path = dir.path().join(agent.slug());
        agents::connect(agent, &path, NAME, &entry("Ab12Cd34")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(servers(agent, &text)[&key(agent, NAME)], shape, "{agent}:\n{text}");
    }
}

#[test]
fn the_servers_go_where_each_assistant_reads_them() {
    let containers: Vec<(&str, &str)> = Agent::all().map(|a| (a.slug(), spec(a).container)).collect();
    assert_eq!(
        containers,
        [
            ("claude-desktop", "mcpServers"),
            ("claude-code", "mcpServers"),
            ("codex", "mcp_servers"),
            ("cursor", "mcpServers"),
            ("vscode", "servers"),
            ("windsurf", "mcpServers"),
            ("gemini", "mcpServers"),
            ("zed", "context_servers"),
            ("goose", "extensions"),
            ("lm-studio", "mcpServers"),
            ("opencode", "mcp"),
        ]
    );
}

#[test]
fn claude_desktop_keeps_other_servers_fields_unicode_and_crlf() {
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
fn comments_stay_where_the_assistant_allows_them() {
    for agent in [Agent::Vscode, Agent::Zed, Agent::Gemini, Agent::Opencode, Agent::Goose, Agent::Codex] {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "config", original(agent));
        agents::connect(agent, &path, NAME, &entry("Ab12Cd34")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let comments: Vec<&str> = original(agent).lines().filter_map(|l| l.find("//").or_else(|| l.find("# ")).map(|i| &l[i..])).collect();
        assert!(!comments.is_empty(), "{agent}: the sample has comments");
        for comment in comments {
            assert!(text.contains(comment), "{agent}: {comment:?} was lost:\n{text}");
        }
    }
}

#[test]
fn a_missing_file_and_folder_are_created() {
    let dir = tempfile::tempdir().unwrap();
    for agent in Agent::all() {
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
    for agent in Agent::all() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "config", original(agent));
        let wiring = agents::connect(agent, &path, "k", &entry("Ab12Cd34")).unwrap();
        agents::undo(&wiring).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), original(agent), "{agent}");
    }
}

/// What the assistant (or the person) does to its own file after Keyward wrote to it: adds a
/// server of its own and changes a setting, rewriting the file in its own style.
fn the_assistant_edits(agent: Agent, path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let spec = spec(agent);
    let later = spec.shape.write(&ServerEntry { command: "later-mcp".into(), args: Vec::new(), env: Default::default() }, "added-later");
    let edited = match spec.format {
        Format::Toml => {
            let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
            doc["model"] = toml_edit::value("o4-mini");
            doc[spec.container]["added-later"] = toml_edit::table();
            doc[spec.container]["added-later"]["command"] = toml_edit::value("later-mcp");
            doc[spec.container]["added-later"]["args"] = toml_edit::value(toml_edit::Array::new());
            doc.to_string()
        }
        // A YAML setting goes on a line of its own; the server is added in Goose's layout.
        Format::Yaml => {
            let with_server = spec.format.upsert(Some(&text), spec.container, "added-later", &later).unwrap().unwrap();
            format!("model: o4-mini\n{with_server}")
        }
        // The JSON assistants rewrite the whole file (VS Code's own edits drop comments too).
        Format::Json | Format::Jsonc => {
            let mut value = if text.trim().is_empty() { serde_json::json!({}) } else { document(agent, &text) };
            value["model"] = serde_json::json!("o4-mini");
            value[spec.container]["added-later"] = later;
            serde_json::to_string_pretty(&value).unwrap()
        }
    };
    std::fs::write(path, edited).unwrap();
}

/// The assistant's edits are all still there.
fn assert_the_assistants_edits_survive(agent: Agent, path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|_| panic!("{agent}: the file is gone"));
    assert_eq!(document(agent, &text)["model"], "o4-mini", "{agent}: the changed setting was lost:\n{text}");
    let later = servers(agent, &text).get("added-later").and_then(|v| spec(agent).shape.read(v)).map(|e| e.command);
    assert_eq!(later.as_deref(), Some("later-mcp"), "{agent}: the server added since was lost:\n{text}");
}

const NAME: &str = "keyward-acme-asmk_Ab12Cd34";

#[test]
fn undo_removes_only_keywards_entry_and_keeps_what_changed_since() {
    for agent in Agent::all() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "config", original(agent));
        let wiring = agents::connect(agent, &path, NAME, &entry("Ab12Cd34")).unwrap();
        the_assistant_edits(agent, &path);

        agents::undo(&wiring).unwrap();

        assert_eq!(agents::read_entry(agent, &path, NAME), None, "{agent}: Keyward's entry is gone");
        assert_the_assistants_edits_survive(agent, &path);
        let now = servers(agent, &std::fs::read_to_string(&path).unwrap());
        for other in servers(agent, original(agent)).keys() {
            assert!(now.contains_key(other), "{agent}: {other} was there before and stays");
        }
    }
}

#[test]
fn undo_puts_back_the_entry_that_connect_replaced() {
    let old_entry = ServerEntry {
        command: "/old/keyward".into(),
        args: ["bridge", "--key", "Ab12Cd34", "--server", "https://old.example.com"].map(String::from).to_vec(),
        env: [("KEEP".to_owned(), "me".to_owned())].into(),
    };
    for agent in Agent::all() {
        let (spec, key) = (spec(agent), key(agent, NAME));
        let mut old = spec.shape.write(&old_entry, &key);
        // A field Keyward does not know comes back too.
        old["startup_timeout_sec"] = serde_json::json!(30);
        let before = spec.format.upsert(Some(original(agent)), spec.container, &key, &old).unwrap().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "config", &before);
        let wiring = agents::connect(agent, &path, NAME, &entry("Ab12Cd34")).unwrap();
        assert_eq!(agents::read_entry(agent, &path, NAME), Some(entry("Ab12Cd34")), "{agent}: connect replaced the old entry");
        the_assistant_edits(agent, &path);

        agents::undo(&wiring).unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(servers(agent, &text)[&key], old, "{agent}: the old entry is back as it was:\n{text}");
        assert_the_assistants_edits_survive(agent, &path);
    }
}

#[test]
fn undo_keeps_a_file_keyward_created_once_someone_else_wrote_to_it() {
    for agent in Agent::all() {
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
#[cfg(unix)] // Elsewhere the lock file, and so its folder, stays (see agents::file).
fn undo_deletes_a_file_keyward_created_and_the_folders_it_made_so_the_assistant_no_longer_looks_installed() {
    for agent in Agent::all() {
        let home = tempfile::tempdir().unwrap();
        let path = home.path().join(".assistant").join("settings").join("config");
        let wiring = agents::connect(agent, &path, NAME, &entry("Ab12Cd34")).unwrap();
        assert!(path.exists());

        agents::undo(&wiring).unwrap();

        let left: Vec<_> = std::fs::read_dir(home.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(left.is_empty(), "{agent}: the file, its lock and the folders Keyward made are gone: {left:?}");

        // A second key wired since left a backup of the first one's file; undoing both leaves nothing.
        let first = agents::connect(agent, &path, NAME, &entry("Ab12Cd34")).unwrap();
        let second = agents::connect(agent, &path, "keyward-acme-asmk_Zz99Yy88", &entry("Zz99Yy88")).unwrap();
        assert!(second.backup.is_some());
        agents::undo(&second).unwrap();
        agents::undo(&first).unwrap();
        let left: Vec<_> = std::fs::read_dir(home.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(left.is_empty(), "{agent}: the backup went with the file: {left:?}");
    }
}

#[test]
#[cfg(unix)] // Elsewhere the lock file, and so its folder, stays (see agents::file).
fn undo_keeps_a_folder_that_was_there_before_or_holds_something_else_now() {
    for agent in Agent::all() {
        let home = tempfile::tempdir().unwrap();
        let before = home.path().join(".config");
        std::fs::create_dir(&before).unwrap();
        let path = before.join("assistant").join("config");
        let wiring = agents::connect(agent, &path, NAME, &entry("Ab12Cd34")).unwrap();
        agents::undo(&wiring).unwrap();
        assert!(before.is_dir() && !before.join("assistant").exists(), "{agent}: the folder made goes, the one there before stays");

        let path = home.path().join(".other").join("config");
        let wiring = agents::connect(agent, &path, NAME, &entry("Ab12Cd34")).unwrap();
        std::fs::write(home.path().join(".other").join("notes.txt"), "mine").unwrap();
        agents::undo(&wiring).unwrap();
        assert!(!path.exists(), "{agent}: the file Keyward created goes");
        assert_eq!(std::fs::read_to_string(home.path().join(".other").join("notes.txt")).unwrap(), "mine", "{agent}: what else is in the folder stays");
    }
}

/// The undo that removes a file and its lock file, step by step: a writer that was already
/// waiting on the removed lock file and a writer that comes after it must still take turns,
/// not both write at once (the first holding a lock on the removed file, the second on a new one).
#[test]
#[cfg(unix)]
fn a_writer_waiting_on_a_removed_lock_file_still_takes_turns_with_the_next() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, mpsc};

    let home = tempfile::tempdir().unwrap();
    let folder = home.path().join(".assistant");
    let path = folder.join("config");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(&path, "{}").unwrap();
    let inside = Arc::new(AtomicBool::new(false));
    let overlapped = Arc::new(AtomicBool::new(false));
    // A turn at the file: nobody else may be inside it meanwhile.
    let turn = |inside: Arc<AtomicBool>, overlapped: Arc<AtomicBool>| {
        move |_: Option<&str>| -> Result<file::Change, std::convert::Infallible> {
            if inside.swap(true, Ordering::SeqCst) {
                overlapped.store(true, Ordering::SeqCst);
            }
            std::thread::sleep(Duration::from_millis(300));
            inside.store(false, Ordering::SeqCst);
            Ok(file::Change::Write("{}".into()))
        }
    };

    // The undo takes the lock and waits, holding it, until the first writer is waiting too.
    let (holding, go) = (mpsc::channel(), mpsc::channel::<()>());
    let undo = {
        let (path, made) = (path.clone(), folder.clone());
        std::thread::spawn(move || {
            file::update(&path, file::WriteMode::default(), |_| {
                holding.0.send(()).unwrap();
                go.1.recv().unwrap();
                Ok::<_, std::convert::Infallible>(file::Change::Remove { made_folder: Some(made) })
            })
            .unwrap();
        })
    };
    holding.1.recv().unwrap();
    let waiting = {
        let (path, edit) = (path.clone(), turn(inside.clone(), overlapped.clone()));
        std::thread::spawn(move || file::update(&path, file::WriteMode::default(), edit).unwrap())
    };
    std::thread::sleep(Duration::from_millis(200)); // the first writer has opened the lock file and waits
    go.0.send(()).unwrap();
    undo.join().unwrap();
    // The next writer comes once the undo removed the lock file (and its folder).
    let next = file::update(&path, file::WriteMode::default(), turn(inside.clone(), overlapped.clone()));
    waiting.join().unwrap();

    assert!(next.is_ok());
    assert!(!overlapped.load(Ordering::SeqCst), "two writers were inside the file at once");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
}

/// Undoing a created file removes its lock file while holding it; a writer waiting on that lock
/// must take the new one, not write unguarded beside another. Each writer's entry is there from
/// its connect until its own undo, whatever the other does meanwhile.
#[test]
fn writers_racing_an_undo_that_removes_the_file_lose_nothing() {
    for agent in [Agent::Cursor, Agent::Codex, Agent::Goose] {
        let home = tempfile::tempdir().unwrap();
        let path = home.path().join(".assistant").join("config");
        let writers: Vec<_> = ["A", "B", "C"]
            .into_iter()
            .map(|who| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for round in 0..60 {
                        let name = format!("keyward-{who}-{round}");
                        let wiring = agents::connect(agent, &path, &name, &entry(&format!("{who}{round:07}"))).unwrap();
                        assert!(agents::read_entry(agent, &path, &name).is_some(), "{agent}: {who} {round} was lost");
                        agents::undo(&wiring).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
    }
}

#[test]
fn undo_leaves_an_entry_that_was_changed_since_and_says_so() {
    for agent in Agent::all() {
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
        let spec = spec(agent);
        let remote = serde_json::json!({"type": "http", "url": "https://mcp.example.com"});
        let foreign = spec.format.upsert(Some(&text), spec.container, &key(agent, NAME), &remote).unwrap().unwrap();
        std::fs::write(&path, &foreign).unwrap();
        assert!(agents::undo(&wiring).unwrap_err().to_string().contains("changed since"), "{agent}");
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
        // Strict JSON assistants fail on a comment or a trailing comma, so Keyward will not write there.
        (Agent::Cursor, "{\"mcpServers\": {\"a\": {\"command\": \"x\"},}}"),
        (Agent::Windsurf, "// mine\n{\"mcpServers\": {}}"),
        (Agent::LmStudio, "{\"mcpServers\": {\"a\": {\"url\": \"https://x\"}}"),
        (Agent::Vscode, "{\"servers\": [] }"),
        (Agent::Vscode, "{\"servers\": {\"a\": {\"type\": \"http\"} \"b\": {}}}"),
        (Agent::Gemini, "{\"mcpServers\": {}, 'theme': 'dark'}"),
        (Agent::Zed, "// Zed settings\n{\n  \"context_servers\": 4,\n}\n"),
        (Agent::Zed, "{\"context_servers\": {\"a\": {}, \"a\": {}}}"),
        (Agent::Opencode, "{\"mcp\": \"none\"}"),
        (Agent::Goose, "extensions:\n  a: [unclosed\n"),
        (Agent::Goose, "extensions: 3\n"),
        (Agent::Goose, "GOOSE_MODEL: x\n\tbad: tab\n"),
        (Agent::Goose, "extensions:\n  a: {}\n  a: {}\n"),
        (Agent::Goose, "- a\n- list\n"),
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
    for agent in Agent::all() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "config", original(agent));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let inline = ServerEntry::bridge(Path::new("/opt/keyward"), "Ab12Cd34", "https://keys.example.com", Some("asmk_secret"));
        agents::connect(agent, &path, "k", &inline).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "{agent}");
        assert_eq!(agents::read_entry(agent, &path, "k").unwrap().env[agents::INLINE_KEY_ENV], "asmk_secret", "{agent}");
        // Disconnecting takes the secret off the disk: the file and no backup keep it.
        assert!(agents::disconnect(agent, &path, "k", "Ab12Cd34").unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), original(agent), "{agent}");
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!String::from_utf8_lossy(&bytes).contains("asmk_secret"), "{agent}: a copy of the secret was left on disk");
        }
        // A bridge-mode entry holds no secret, and the file keeps the permissions it had.
        let plain = write(dir.path(), "plain", original(agent));
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o640)).unwrap();
        agents::connect(agent, &plain, "k", &entry("Ab12Cd34")).unwrap();
        assert_eq!(std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777, 0o640, "{agent}");
        assert!(agents::read_entry(agent, &plain, "k").is_some_and(|e| !e.is_inline() && e.is_bridge_for("Ab12Cd34")));
        assert!(!std::fs::read_to_string(&plain).unwrap().contains(agents::INLINE_KEY_ENV), "{agent}: no secret in a bridge entry");
    }
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
    for agent in Agent::all() {
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
    for agent in Agent::all() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "shared", original(agent));
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
    let Some(path) = std::env::var_os("KEYWARD_TEST_WRITER_PATH") else {
        return;
    };
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
    for agent in Agent::all() {
        let dir = tempfile::tempdir().unwrap();
        let original = original(agent);
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
            // Whole: it parses, everything else is as it was, and Keyward's entries are complete.
            let mut now = document(agent, &text);
            if let Some(servers) = now.get_mut(spec(agent).container).and_then(Value::as_object_mut) {
                servers.retain(|name, _| !name.starts_with("keyward-round-"));
            }
            assert_eq!(now, document(agent, original), "{agent}: after SIGKILL the file is the old or a new version, whole:\n{text}");
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
