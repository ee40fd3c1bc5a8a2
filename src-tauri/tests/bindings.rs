//! The UI's TypeScript bindings and the webview's permissions follow the Rust commands.

use std::path::Path;

const BINDINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/lib/bindings.ts");

/// The generated bindings in the repository are what the Rust code generates now. Run with
/// `KEYWARD_BLESS=1` to rewrite them after changing a command or a type it uses.
#[test]
fn bindings_are_current() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("bindings.ts");
    keyward_app::export_bindings(&fresh).unwrap();
    let fresh = std::fs::read_to_string(&fresh).unwrap();
    if std::env::var_os("KEYWARD_BLESS").is_some() {
        std::fs::write(BINDINGS, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(BINDINGS).unwrap_or_default();
    assert!(
        committed == fresh,
        "ui/src/lib/bindings.ts is stale: a command or a type changed. Regenerate it with `KEYWARD_BLESS=1 cargo test -p keyward-app --test bindings` and commit it."
    );
}

/// The capability allows every command the app registers, and nothing else.
#[test]
fn the_webview_may_call_exactly_the_app_s_commands() {
    let bindings = std::fs::read_to_string(BINDINGS).unwrap();
    // Each generated command reads `__TAURI_INVOKE<ReturnType>("command_name", …)`.
    let mut invoked: Vec<String> = bindings
        .split("__TAURI_INVOKE<")
        .skip(1)
        .map(|rest| rest.split_once(">(\"").unwrap().1.split('"').next().unwrap().to_owned())
        .collect();
    invoked.sort();
    let mut declared: Vec<String> = keyward_app::COMMANDS.iter().map(|c| c.to_string()).collect();
    declared.sort();
    assert_eq!(invoked, declared, "command_names.rs lists exactly the registered commands");

    let capability: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("capabilities/default.json")).unwrap()).unwrap();
    let mut allowed: Vec<String> = capability["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect();
    allowed.sort();
    let mut expected: Vec<String> = declared.iter().map(|c| format!("allow-{}", c.replace('_', "-"))).collect();
    expected.sort();
    assert_eq!(allowed, expected, "capabilities/default.json allows exactly the app's commands");
}
