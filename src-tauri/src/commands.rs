//! The app's commands: each adapts its arguments, calls one `keyward::manager::Manager` flow,
//! and turns the error into a [`CommandError`]. No logic of their own lives here.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use keyward::agents::{self, Agent, Wiring};
use keyward::manager::{AgentWiring, Find, KeyUsage, KeysScreen, Manager, Revoked, ScanRequest};
use keyward::mirror::{StoreMirror, SyncReport};
use keyward::profile::Profile;
use keyward_core::Scopes;
use keyward_core::wire::{
    AuditPage, Connection, ConnectionCode, Device, KeyRecord, PasswordChanged, RemovedStaffMember, SignedOutDevice, StaffMember, UpdateKeyRequest,
};
use serde::Serialize;
use tauri::State;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{CommandError, Result};

/// Config-file changes the merchant may still undo, by the number the UI was given.
#[derive(Default)]
pub struct Undos {
    next: AtomicU32,
    wirings: Mutex<HashMap<u32, Wiring>>,
}

/// What the sign-in screen needs to know.
#[derive(Debug, Serialize, specta::Type)]
pub struct AppInfo {
    pub profile: Option<Profile>,
    /// The key service to offer first: the one last signed in to (remembered across sign-out),
    /// else `KEYWARD_SERVER`, else the local demo service.
    pub default_server: String,
    /// Shown on the sign-in screen when the app runs against the local demo service.
    pub demo_account: Option<String>,
}

#[tauri::command]
#[specta::specta]
pub async fn app_info(manager: State<'_, Manager>) -> Result<AppInfo> {
    let profile = manager.profile().ok();
    let default_server = manager
        .remembered_server()
        .or_else(|| std::env::var("KEYWARD_SERVER").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "http://127.0.0.1:8420".into());
    Ok(AppInfo { profile, default_server, demo_account: std::env::var("KEYWARD_DEMO_ACCOUNT").ok().filter(|s| !s.is_empty()) })
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

/// A new key for the one-time reveal: the record and the whole key, this once.
#[derive(Debug, Serialize, specta::Type)]
pub struct CreatedKey {
    pub record: KeyRecord,
    pub secret: String,
}

fn parse_expiry(text: Option<String>) -> Result<Option<OffsetDateTime>> {
    match text.filter(|t| !t.is_empty()) {
        Some(text) => OffsetDateTime::parse(&text, &Rfc3339)
            .map(Some)
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
    let created = manager.create_key(&name, scopes(write), parse_expiry(expires_at)?).await?;
    Ok(CreatedKey { record: created.record, secret: created.secret })
}

/// Renames, rescopes, deactivates or reactivates a key; fields left out stay as they are.
#[tauri::command]
#[specta::specta]
pub async fn update_key(manager: State<'_, Manager>, id: String, name: Option<String>, write: Option<bool>, active: Option<bool>) -> Result<KeyRecord> {
    let change = UpdateKeyRequest { name, scopes: write.map(scopes), is_active: active };
    Ok(manager.update_key(&id, change).await?)
}

/// A rotation: the replacement for the one-time reveal, and the assistant entries moved to it.
#[derive(Debug, Serialize, specta::Type)]
pub struct RotatedKey {
    pub replacement: CreatedKey,
    pub previous: KeyRecord,
    pub rewired: Vec<Wiring>,
    /// Set when the keychain would not keep the replacement's secret: the sentence why. The
    /// reveal is then the only copy, and no assistant entry was moved.
    pub not_kept: Option<String>,
}

#[tauri::command]
#[specta::specta]
pub async fn rotate_key(manager: State<'_, Manager>, id: String, overlap_seconds: u32) -> Result<RotatedKey> {
    Ok(rotated_key(manager.rotate_key(&id, overlap_seconds).await?))
}

fn rotated_key(rotated: keyward::manager::Rotated) -> RotatedKey {
    let replacement = CreatedKey { record: rotated.replacement.record, secret: rotated.replacement.secret };
    RotatedKey { replacement, previous: rotated.previous, rewired: rotated.rewired, not_kept: rotated.not_kept }
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

/// A config file Keyward just changed, and the number to undo it with.
#[derive(Debug, Serialize, specta::Type)]
pub struct Connected {
    pub undo: u32,
    pub agent: Agent,
    pub path: PathBuf,
    pub entry_name: String,
    /// False when the file already held exactly this entry.
    pub changed: bool,
    /// True when an entry of the same name was replaced, which undo puts back; false when
    /// the entry was added, which undo takes out.
    pub replaced: bool,
}

/// Wires a key into an assistant through the bridge (no secret in the file).
#[tauri::command]
#[specta::specta]
pub async fn connect_agent(manager: State<'_, Manager>, undos: State<'_, Undos>, agent: Agent, key_id: String) -> Result<Connected> {
    let wiring = manager.connect(agent, &key_id, false, None).await?;
    let undo = undos.next.fetch_add(1, Ordering::Relaxed);
    let connected = Connected {
        undo,
        agent,
        path: wiring.path.clone(),
        entry_name: wiring.entry_name.clone(),
        changed: wiring.changed,
        replaced: wiring.replaced_an_entry(),
    };
    undos.wirings.lock().expect("the undo list is never left poisoned").insert(undo, wiring);
    Ok(connected)
}

/// Takes back what `connect_agent` did: the entry it added comes out, or the entry it replaced
/// goes back. Whatever was written to the file since stays; an entry changed since is left alone.
#[tauri::command]
#[specta::specta]
pub async fn undo_connect(undos: State<'_, Undos>, undo: u32) -> Result<()> {
    let wiring = undos.wirings.lock().expect("the undo list is never left poisoned").remove(&undo);
    let wiring = wiring.ok_or_else(|| CommandError::invalid("That change was already undone or is from an earlier session; nothing was changed."))?;
    agents::undo(&wiring).map_err(|e| CommandError::from(keyward::manager::Error::Config(e)))
}

/// Removes the key's entry from an assistant; returns whether there was one.
#[tauri::command]
#[specta::specta]
pub async fn disconnect_agent(manager: State<'_, Manager>, agent: Agent, key_id: String) -> Result<bool> {
    Ok(manager.disconnect(agent, &key_id, None).await?)
}

/// How many files the running scan has read, for the window's progress line.
#[derive(Default)]
pub struct ScanProgress(pub Arc<AtomicU64>);

/// Scans this computer as `keyward scan` does without paths: dotfiles and shell histories,
/// every assistant config, `.env*` files under the app's folder. Never returns a secret.
#[tauri::command]
#[specta::specta]
pub async fn scan_computer(manager: State<'_, Manager>, progress: State<'_, ScanProgress>) -> Result<Vec<Find>> {
    progress.0.store(0, Ordering::Relaxed);
    Ok(manager.scan(&ScanRequest::default(), &progress.0).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn scan_progress(progress: State<'_, ScanProgress>) -> Result<u32> {
    Ok(u32::try_from(progress.0.load(Ordering::Relaxed)).unwrap_or(u32::MAX))
}

/// A leaked key rolled, and the files found holding it that still do.
#[derive(Debug, Serialize, specta::Type)]
pub struct Rolled {
    pub rotated: RotatedKey,
    pub still_holding: Vec<PathBuf>,
}

/// Rolls a key `scan_computer` found working: rotated with no overlap, assistants moved to the
/// new key through the bridge.
#[tauri::command]
#[specta::specta]
pub async fn roll_key(manager: State<'_, Manager>, key_id: String, files: Vec<PathBuf>) -> Result<Rolled> {
    let (rotated, still_holding) = manager.roll_found(&key_id, &files, 0).await?;
    Ok(Rolled { rotated: rotated_key(rotated), still_holding })
}

/// Which assistants used a key on this computer, beside the service's own "last used".
#[tauri::command]
#[specta::specta]
pub async fn key_usage(manager: State<'_, Manager>, key_id: String) -> Result<KeyUsage> {
    Ok(manager.usage(Some(&key_id)).await?)
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

/// What the settings screen shows.
#[derive(Debug, Serialize, specta::Type)]
pub struct Settings {
    pub profile: Profile,
    /// The mirror of the signed-in store, if it was ever synced.
    pub mirror: Option<StoreMirror>,
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    /// Each assistant's config file on this machine.
    pub agent_files: Vec<AgentFile>,
}

#[derive(Debug, Serialize, specta::Type)]
pub struct AgentFile {
    pub agent: Agent,
    pub name: String,
    pub path: Option<PathBuf>,
}

#[tauri::command]
#[specta::specta]
pub async fn settings(manager: State<'_, Manager>) -> Result<Settings> {
    let profile = manager.profile()?;
    let mirror = manager.mirror_status()?.into_iter().find(|m| m.server == profile.server && m.store_id == profile.store_id);
    let agent_files = Agent::all().into_iter().map(|agent| AgentFile { agent, name: agent.to_string(), path: agent.default_path().ok() }).collect();
    let paths = manager.paths();
    Ok(Settings { profile, mirror, config_dir: paths.config_dir.clone(), data_dir: paths.data_dir.clone(), agent_files })
}

#[tauri::command]
#[specta::specta]
pub async fn sync_mirror(manager: State<'_, Manager>) -> Result<SyncReport> {
    Ok(manager.sync_mirror().await?)
}
