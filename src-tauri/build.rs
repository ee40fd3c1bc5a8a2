//! Declares the app's commands so that capabilities can allow exactly these and nothing else.

/// Every command the webview may call; `capabilities/default.json` allows each of them.
const COMMANDS: &[&str] = &["app_info", "sign_in", "sign_out", "list_keys", "create_key", "revoke_key"];

fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)))
        .expect("the Tauri build step failed");
}
