//! The Keyward desktop app: thin Tauri commands over `keyward::manager::Manager`.
//!
//! Every flow (sign in, create a key and keep its secret in the keychain, revoke and unwire,
//! wire into assistants) lives in the `keyward` crate; a command here only adapts arguments
//! and turns errors into [`error::CommandError`], a value the UI shows as a sentence. The UI's
//! TypeScript bindings (`ui/src/lib/bindings.ts`) are generated from these commands and the
//! Rust types they take and return, so the two cannot drift; a test fails when they are stale.
//!
//! - [`commands`]: one command per action, each a one-line call of the manager.
//! - [`error`]: every command's error, as a code the window acts on and a sentence.
//! - `command_names.rs`: the command names, shared with build.rs (the app manifest) and the
//!   capability test.

use std::path::PathBuf;

use keyward::manager::Manager;
use keyward::paths::Paths;

pub mod commands;
pub mod error;

include!("command_names.rs");

/// Fails with one line when there is no display to open a window on.
pub fn check_display() -> std::result::Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        let has = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
        if !has("DISPLAY") && !has("WAYLAND_DISPLAY") {
            return Err("Keyward needs a display to open its window; none was found (DISPLAY and WAYLAND_DISPLAY are unset). Use the `keyward` CLI instead.".into());
        }
    }
    Ok(())
}

/// The `keyward` program assistants launch as the bridge: beside this app, else on PATH.
fn keyward_program() -> PathBuf {
    let beside = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join("keyward")));
    if let Some(path) = beside.filter(|p| p.exists()) {
        return path;
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join("keyward")).find(|p| p.exists()))
        .unwrap_or_else(|| PathBuf::from("keyward"))
}

/// The commands, as Tauri invokes them and as the TypeScript bindings describe them.
pub fn commands() -> tauri_specta::Builder<tauri::Wry> {
    use commands::*;
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(tauri_specta::collect_commands![
            app_info,
            sign_in,
            sign_out,
            list_keys,
            create_key,
            update_key,
            rotate_key,
            revoke_key,
            key_wiring,
            connect_agent,
            undo_connect,
            disconnect_agent,
            run_command,
            scan_computer,
            scan_progress,
            roll_key,
            key_usage,
            list_connections,
            revoke_connection,
            new_connection_code,
            mcp_url,
            list_devices,
            sign_out_device,
            audit_page,
            change_password,
            list_staff,
            add_staff,
            remove_staff,
            settings,
            sync_mirror,
        ])
        // Commands reject with a CommandError, which the UI catches like any thrown error.
        .error_handling(tauri_specta::ErrorHandlingMode::Throw)
        // Audit ids and ages are far below 2^53.
        .dangerously_cast_bigints_to_number()
        // One TypeScript type per Rust type: the UI only reads what commands return.
        .disable_serde_phases()
}

/// Writes the TypeScript bindings for [`commands`] to `path`.
pub fn export_bindings(path: &std::path::Path) -> Result<(), String> {
    let language = specta_typescript::Typescript::default().header("// Generated from the Rust commands by `cargo test -p keyward-app bindings`. Do not edit.");
    commands().export(language, path).map_err(|e| format!("could not write the TypeScript bindings: {e}"))
}

/// Builds and runs the app.
pub fn run() {
    let paths = match Paths::from_env() {
        Ok(paths) => paths,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(1);
        }
    };
    let commands = commands();
    tauri::Builder::default()
        .manage(Manager::new(paths, keyward_program()))
        .invoke_handler(commands.invoke_handler())
        .run(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("Keyward could not start its window ({e}). Check that WebKitGTK is installed.");
            std::process::exit(1);
        });
}
