//! The app's commands: each adapts its arguments, calls one `keyward::manager::Manager` flow,
//! and turns the error into a [`CommandError`]. No logic of their own lives here.

use keyward::agents::Agent;
use keyward::manager::{AgentWiring, AppInfo, Find, KeysScreen, Manager, Revoked, Rolled, Rotated, Settings};
use keyward::mirror::SyncReport;
use keyward::profile::Profile;
use keyward::undo::Connected;
use keyward::usage::UsageRow;
use keyward_core::wire::{
    AuditPage, Connection, ConnectionCode, CreatedKey, Device, KeyRecord, PasswordChanged, RemovedStaffMember, SignedOutDevice, StaffMember,
    UpdateKeyRequest,
};
use keyward_core::{Scopes, Timestamp};
use tauri::State;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{CommandError, Result};

/// What the sign-in screen needs to know.
#[tauri::command]
#[specta::specta]
pub async fn app_info(manager: State<'_, Manager>) -> Result<AppInfo> {
    Ok(manager.app_info())
}

#[tauri::command]
#[specta::specta]
pub async fn sign_in(manager: State<'_, Manager>, server: String, email: String, password: String, device_name: String) -> Result<Profile> {
    Ok(manager.login(&server, &email, &password, &device_name).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn sign_out(manager: State<'_, Manager>) -> Result<()> {
    Ok(manager.logout().await?)
}

/// Every key of the store, revoked ones too; from the mirror, read-only, when offline.
#[tauri::command]
#[specta::specta]
pub async fn list_keys(manager: State<'_, Manager>) -> Result<KeysScreen> {
    Ok(manager.keys_screen().await?)
}

fn parse_expiry(text: Option<String>) -> Result<Option<Timestamp>> {
    match text.filter(|t| !t.is_empty()) {
        Some(text) => OffsetDateTime::parse(&text, &Rfc3339)
            .map(|at| Some(at.into()))
            .map_err(|_| CommandError::invalid("The expiry is not a valid date and time. Pick one in the calendar.")),
        None => Ok(None),
    }
}

fn scopes(write: bool) -> Scopes {
    if write { Scopes::read_write() } else { Scopes::read_only() }
}

#[tauri::command]
#[specta::specta]
pub async fn create_key(manager: State<'_, Manager>, name: String, write: bool, expires_at: Option<String>) -> Result<CreatedKey> {
    Ok(manager.create_key(&name, scopes(write), parse_expiry(expires_at)?).await?)
}

/// Renames, rescopes, deactivates or reactivates a key; fields left out stay as they are.
#[tauri::command]
#[specta::specta]
pub async fn update_key(manager: State<'_, Manager>, id: String, name: Option<String>, write: Option<bool>, active: Option<bool>) -> Result<KeyRecord> {
    let change = UpdateKeyRequest { name, scopes: write.map(scopes), is_active: active };
    Ok(manager.update_key(&id, change).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn rotate_key(manager: State<'_, Manager>, id: String, overlap_seconds: u32) -> Result<Rotated> {
    Ok(manager.rotate_key(&id, overlap_seconds).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn revoke_key(manager: State<'_, Manager>, id: String) -> Result<Revoked> {
    Ok(manager.revoke_key(&id).await?)
}

/// Which assistants on this machine have an entry for the key.
#[tauri::command]
#[specta::specta]
pub async fn key_wiring(manager: State<'_, Manager>, id: String) -> Result<Vec<AgentWiring>> {
    Ok(manager.wiring(&id)?)
}

/// Wires a key into an assistant through the bridge (no secret in the file); the answer
/// carries the number to undo it with.
#[tauri::command]
#[specta::specta]
pub async fn connect_agent(manager: State<'_, Manager>, agent: Agent, key_id: String) -> Result<Connected> {
    Ok(manager.connect_with_undo(agent, &key_id).await?)
}

/// Takes back what `connect_agent` did (see `Manager::undo`).
#[tauri::command]
#[specta::specta]
pub async fn undo_connect(manager: State<'_, Manager>, undo: u32) -> Result<()> {
    Ok(manager.undo(undo)?)
}

/// Removes the key's entry from an assistant; returns whether there was one.
#[tauri::command]
#[specta::specta]
pub async fn disconnect_agent(manager: State<'_, Manager>, agent: Agent, key_id: String) -> Result<bool> {
    Ok(manager.disconnect(agent, &key_id, None).await?)
}

/// Scans this computer as `keyward scan` does without paths: dotfiles and shell histories,
/// every assistant config, `.env*` files under the app's folder. Never returns a secret.
#[tauri::command]
#[specta::specta]
pub async fn scan_computer(manager: State<'_, Manager>) -> Result<Vec<Find>> {
    Ok(manager.scan_this_computer().await?)
}

/// How many files the running scan has read, for the window's progress line.
#[tauri::command]
#[specta::specta]
pub async fn scan_progress(manager: State<'_, Manager>) -> Result<u32> {
    Ok(u32::try_from(manager.files_scanned()).unwrap_or(u32::MAX))
}

/// Rolls a key `scan_computer` found working: rotated with no overlap, assistants moved to the
/// new key through the bridge; `finds` is what the scan answered.
#[tauri::command]
#[specta::specta]
pub async fn roll_key(manager: State<'_, Manager>, key_id: String, finds: Vec<Find>) -> Result<Rolled> {
    Ok(manager.roll_found(&key_id, &finds, 0).await?)
}

/// Which assistants used a key on this computer, beside the service's own "last used".
#[tauri::command]
#[specta::specta]
pub async fn key_usage(manager: State<'_, Manager>, key_id: String) -> Result<Vec<UsageRow>> {
    Ok(manager.usage_here(Some(&key_id))?)
}

/// The command that runs a script of the merchant's own with this key in its environment.
#[tauri::command]
#[specta::specta]
pub async fn run_command(manager: State<'_, Manager>, key_id: String) -> Result<String> {
    Ok(manager.run_command(&key_id))
}

#[tauri::command]
#[specta::specta]
pub async fn list_connections(manager: State<'_, Manager>) -> Result<Vec<Connection>> {
    Ok(manager.connections().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn revoke_connection(manager: State<'_, Manager>, id: String) -> Result<Connection> {
    Ok(manager.revoke_connection(&id).await?)
}

/// The store's MCP URL, to add as a custom connector in claude.ai or ChatGPT.
#[tauri::command]
#[specta::specta]
pub async fn mcp_url(manager: State<'_, Manager>) -> Result<String> {
    Ok(manager.mcp_url().await?)
}

/// A one-time code the merchant pastes on the consent page instead of signing in there.
#[tauri::command]
#[specta::specta]
pub async fn new_connection_code(manager: State<'_, Manager>, write: bool, app_name: Option<String>) -> Result<ConnectionCode> {
    Ok(manager.connection_code(scopes(write), app_name.filter(|n| !n.trim().is_empty())).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn list_devices(manager: State<'_, Manager>) -> Result<Vec<Device>> {
    Ok(manager.devices().await?)
}

/// Signs a device out, optionally revoking every key created from it (the lost laptop).
#[tauri::command]
#[specta::specta]
pub async fn sign_out_device(manager: State<'_, Manager>, id: String, revoke_keys: bool) -> Result<SignedOutDevice> {
    Ok(manager.sign_out_device(&id, revoke_keys).await?)
}

/// Changes the signed-in person's password; their other devices are signed out.
#[tauri::command]
#[specta::specta]
pub async fn change_password(manager: State<'_, Manager>, current_password: String, new_password: String) -> Result<PasswordChanged> {
    Ok(manager.change_password(&current_password, &new_password).await?)
}

/// The people who can sign in to the store.
#[tauri::command]
#[specta::specta]
pub async fn list_staff(manager: State<'_, Manager>) -> Result<Vec<StaffMember>> {
    Ok(manager.staff().await?)
}

/// Adds a staff member (the owner only).
#[tauri::command]
#[specta::specta]
pub async fn add_staff(manager: State<'_, Manager>, name: String, email: String, password: String) -> Result<StaffMember> {
    Ok(manager.add_staff(&name, &email, &password).await?)
}

/// Removes a staff member (the owner only); they are signed out everywhere.
#[tauri::command]
#[specta::specta]
pub async fn remove_staff(manager: State<'_, Manager>, id: String) -> Result<RemovedStaffMember> {
    Ok(manager.remove_staff(&id).await?)
}

/// One page of the audit trail, newest first.
#[tauri::command]
#[specta::specta]
pub async fn audit_page(manager: State<'_, Manager>, before: Option<i64>) -> Result<AuditPage> {
    Ok(manager.audit(before, 50).await?)
}

/// The signed-in profile, the mirror, Keyward's folders and each assistant's file.
#[tauri::command]
#[specta::specta]
pub async fn settings(manager: State<'_, Manager>) -> Result<Settings> {
    Ok(manager.settings()?)
}

#[tauri::command]
#[specta::specta]
pub async fn sync_mirror(manager: State<'_, Manager>) -> Result<SyncReport> {
    Ok(manager.sync_mirror().await?)
}
