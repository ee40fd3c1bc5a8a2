//! The Keyward desktop app: thin Tauri commands over `keyward::manager::Manager`.
//!
//! Every flow (sign in, create a key and keep its secret in the keychain, revoke and unwire)
//! lives in the `keyward` crate; a command here only adapts arguments and turns errors into
//! [`CommandError`], a value the UI shows as a sentence.

use std::path::PathBuf;

use keyward::manager::{Error, KeyView, Manager};
use keyward::paths::Paths;
use keyward::profile::Profile;
use keyward_core::Scopes;
use keyward_core::wire::KeyRecord;
use serde::Serialize;
use tauri::State;

/// An error the UI can show: a code for behaviour, a sentence for people.
#[derive(Debug, Serialize)]
pub struct CommandError {
    pub code: &'static str,
    pub message: String,
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::NotSignedIn | Error::SessionEnded => "sign_in",
            Error::Client(keyward::client::ClientError::Unreachable { .. }) => "offline",
            Error::Client(_) => "refused",
            Error::Vault(_) => "keychain",
            Error::Config(_) => "config",
            Error::Mirror(_) | Error::Invalid(_) => "failed",
        };
        CommandError { code, message: e.to_string() }
    }
}

type Result<T> = std::result::Result<T, CommandError>;

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

/// What the sign-in screen needs to know.
#[derive(Debug, Serialize)]
pub struct AppInfo {
    pub profile: Option<Profile>,
    /// The key service to offer first: the last one used, else the local demo service.
    pub default_server: String,
    /// Shown on the sign-in screen when the app runs against the local demo service.
    pub demo_account: Option<String>,
}

#[tauri::command]
async fn app_info(manager: State<'_, Manager>) -> Result<AppInfo> {
    let profile = manager.profile().ok();
    let default_server = profile
        .as_ref()
        .map(|p| p.server.clone())
        .or_else(|| std::env::var("KEYWARD_SERVER").ok())
        .unwrap_or_else(|| "http://127.0.0.1:8420".into());
    Ok(AppInfo { profile, default_server, demo_account: std::env::var("KEYWARD_DEMO_ACCOUNT").ok() })
}

#[tauri::command]
async fn sign_in(manager: State<'_, Manager>, server: String, email: String, password: String, device_name: String) -> Result<Profile> {
    Ok(manager.login(&server, &email, &password, &device_name).await?)
}

#[tauri::command]
async fn sign_out(manager: State<'_, Manager>) -> Result<()> {
    Ok(manager.logout().await?)
}

#[tauri::command]
async fn list_keys(manager: State<'_, Manager>, include_revoked: bool) -> Result<Vec<KeyView>> {
    Ok(manager.keys(include_revoked).await?)
}

/// A new key for the one-time reveal: the record and the whole key, this once.
#[derive(Debug, Serialize)]
pub struct CreatedKey {
    pub record: KeyRecord,
    pub secret: String,
}

#[tauri::command]
async fn create_key(manager: State<'_, Manager>, name: String, write: bool, expires_at: Option<String>) -> Result<CreatedKey> {
    let expires_at = match expires_at.filter(|t| !t.is_empty()) {
        Some(text) => Some(time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339).map_err(|_| CommandError {
            code: "invalid",
            message: "The expiry is not a valid date and time. Pick one in the calendar.".into(),
        })?),
        None => None,
    };
    let scopes = if write { Scopes::read_write() } else { Scopes::read_only() };
    let created = manager.create_key(&name, scopes, expires_at).await?;
    Ok(CreatedKey { record: created.record, secret: created.secret })
}

#[tauri::command]
async fn revoke_key(manager: State<'_, Manager>, id: String) -> Result<keyward::manager::Revoked> {
    Ok(manager.revoke_key(&id).await?)
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
    tauri::Builder::default()
        .manage(Manager::new(paths, keyward_program()))
        .invoke_handler(tauri::generate_handler![app_info, sign_in, sign_out, list_keys, create_key, revoke_key])
        .run(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("Keyward could not start its window ({e}). Check that WebKitGTK is installed.");
            std::process::exit(1);
        });
}
