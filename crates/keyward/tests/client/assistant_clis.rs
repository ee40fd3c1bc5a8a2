//! The assistants' own command-line programs read what Keyward wrote: Gemini CLI
//! (`@google/gemini-cli`) and OpenCode (`opencode-ai`), installed from npm by `./dev test`,
//! list the entry and connect to it, which starts `keyward bridge`, which takes the key from
//! the keychain and talks MCP to the key service. After `keyward disconnect` they no longer
//! list it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::common::{Device, Service, keychain_turn};

/// A program from the npm packages `./dev test` installs.
fn installed(program: &str) -> PathBuf {
    let dir = std::env::var_os("KEYWARD_TEST_ASSISTANT_CLIS")
        .expect("KEYWARD_TEST_ASSISTANT_CLIS names the folder holding the gemini and opencode programs: run the tests with ./dev test, which installs them from npm");
    let path = PathBuf::from(dir).join(program);
    assert!(path.exists(), "{} is missing: run ./dev test, which installs it", path.display());
    path
}

/// Text without the terminal's colour codes (both programs print some even into a pipe).
fn plain(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs an assistant's program as the person would, on this machine's home, and returns what
/// it printed (both streams: Gemini CLI prints its list on stderr).
async fn listing(device: &Device, program: &str, args: &[&str]) -> String {
    let home = device.home();
    let mut command = tokio::process::Command::new(installed(program));
    command
        .args(args)
        .current_dir(home)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        // The folder is the test's own; no prompt, no relaunch, no update check, no telemetry.
        .env("GEMINI_CLI_TRUST_WORKSPACE", "true")
        .env("GEMINI_CLI_NO_RELAUNCH", "true")
        .env("OPENCODE_DISABLE_AUTOUPDATE", "1")
        .env("OPENCODE_DISABLE_MODELS_FETCH", "1")
        .env("OPENCODE_DISABLE_LSP_DOWNLOAD", "1")
        .env("NO_COLOR", "1")
        .env_remove("GEMINI_CLI_HOME")
        .env_remove("OPENCODE_CONFIG")
        .env_remove("KEYWARD_API_KEY")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(120), command.output()).await.expect("the program answered within two minutes").unwrap();
    format!("{}{}", plain(&output.stdout), plain(&output.stderr))
}

/// The line naming `entry`, if any.
fn line_of<'a>(text: &'a str, entry: &str) -> Option<&'a str> {
    text.lines().find(|line| line.contains(entry))
}

#[tokio::test(flavor = "multi_thread")]
async fn gemini_cli_lists_the_entry_and_connects_through_the_bridge() {
    let _turn = keychain_turn().await;
    let (_service, device) = Service::with_device_signed_in("laptop").await;
    let (id, prefix) = device.create_key("gemini").await;
    // Gemini's own settings beside ours stay as they were.
    std::fs::create_dir_all(device.home().join(".gemini")).unwrap();
    std::fs::write(device.home().join(".gemini/settings.json"), "{\n  // chosen at first run\n  \"theme\": \"GitHub\"\n}\n").unwrap();
    device.ok(&["connect", "gemini", "--key", &id]).await;
    let entry = format!("keyward-acme-{prefix}");

    let listed = listing(&device, "gemini", &["mcp", "list"]).await;

    let line = line_of(&listed, &entry).unwrap_or_else(|| panic!("gemini does not list {entry}:\n{listed}"));
    assert!(line.contains("bridge --key") && line.contains("Connected"), "gemini started the bridge and it answered: {line}\n{listed}");
    let settings = std::fs::read_to_string(device.home().join(".gemini/settings.json")).unwrap();
    assert!(settings.contains("// chosen at first run") && settings.contains("\"theme\": \"GitHub\""), "{settings}");

    device.ok(&["disconnect", "gemini", "--key", &id]).await;
    let listed = listing(&device, "gemini", &["mcp", "list"]).await;
    assert!(line_of(&listed, &entry).is_none(), "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn opencode_lists_the_entry_and_connects_through_the_bridge() {
    let _turn = keychain_turn().await;
    let (_service, device) = Service::with_device_signed_in("laptop").await;
    let (id, prefix) = device.create_key("opencode").await;
    device.ok(&["connect", "opencode", "--key", &id]).await;
    let entry = format!("keyward-acme-{prefix}");

    let listed = listing(&device, "opencode", &["mcp", "list"]).await;

    let line = line_of(&listed, &entry).unwrap_or_else(|| panic!("opencode does not list {entry}:\n{listed}"));
    assert!(line.contains('✓') && line.contains("connected"), "opencode started the bridge, listed its tools and it answered: {line}\n{listed}");

    device.ok(&["disconnect", "opencode", "--key", &id]).await;
    let listed = listing(&device, "opencode", &["mcp", "list"]).await;
    assert!(line_of(&listed, &entry).is_none(), "{listed}");
}
