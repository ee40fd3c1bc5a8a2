//! The merchant's operations as whole flows, shared by the CLI and the desktop app:
//! sign in, create a key and keep its secret in the keychain, wire it into assistants,
//! revoke it and unwire it, rotate it and rewire, sync and verify.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use keyward_core::key::key_prefix;
use keyward_core::{KeyStatus, Scopes, Timestamp};
use keyward_core::wire::{
    AuditPage, Connection, ConnectionCode, ConnectionCodeRequest, CreateKeyRequest, CreatedKey, Device, KeyRecord, NewStaffMember, PasswordChanged,
    RemovedStaffMember, SignedOutDevice, StaffMember, UpdateKeyRequest,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::agents::record::{Placement, Record};
use crate::agents::{self, Agent, ConfigError, ServerEntry, Wiring};
use crate::client::{ApiClient, ClientError};
use crate::mirror::{Mirror, MirrorError, StoreMirror, SyncReport, Verification};
use crate::paths::Paths;
use crate::profile::Profile;
use crate::scan::{self, Finder};
use crate::undo::{Connected, Undos};
use crate::usage::{Usage, UsageRow};
use crate::vault::{Vault, VaultError};

/// Everything that can stop an operation, each with a sentence saying what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("This machine is not signed in to a key service. Sign in with `keyward login`.")]
    NotSignedIn,
    #[error("This device's session has ended (it was signed out, perhaps from another device). Sign in again with `keyward login`.")]
    SessionEnded,
    /// The session outlived its idle or absolute lifetime: the service's sentence says which.
    #[error("{0}")]
    SessionExpired(String),
    #[error(transparent)]
    Client(ClientError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    #[error("{0}")]
    Invalid(String),
    /// The verifier mirror knows the key cannot work (revoked, expired, deactivated): its sentence.
    #[error("{0}")]
    KeyRefused(String),
}

impl From<ClientError> for Error {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Refused { code, message, .. } if code == "session_expired" => {
                // The service's sentence ends "Sign in again."; say how, here.
                let why = message.trim().strip_suffix("Sign in again.").unwrap_or(&message).trim_end();
                Error::SessionExpired(format!("{why} Sign in again with `keyward login`."))
            }
            e if e.needs_sign_in() => Error::SessionEnded,
            e => Error::Client(e),
        }
    }
}

impl Error {
    /// Whether the person must sign in (again) before anything else works.
    pub fn needs_sign_in(&self) -> bool {
        matches!(self, Error::NotSignedIn | Error::SessionEnded | Error::SessionExpired(_))
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// A key as listed on this machine.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct KeyView {
    #[serde(flatten)]
    pub record: KeyRecord,
    /// Whether this machine's keychain holds the key's secret.
    pub on_this_device: bool,
}

/// The keys as the app shows them: from the key service, or, when it cannot be reached, from
/// the mirror, read-only, with how old that copy is.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct KeysScreen {
    pub keys: Vec<KeyView>,
    pub offline: Option<Offline>,
}

/// Why the keys come from the mirror, and how old the mirror is.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Offline {
    /// The sentence the client gave for not reaching the service.
    pub message: String,
    pub synced_at: Option<Timestamp>,
    pub age_seconds: Option<i64>,
}

/// Whether one assistant on this machine has an entry for a key, and in which file.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AgentWiring {
    pub agent: Agent,
    /// For people: "Claude Desktop".
    pub name: String,
    /// Whether the assistant looks installed on this computer.
    pub installed: bool,
    pub path: PathBuf,
    pub connected: bool,
    /// Whether the entry carries the secret itself (inline mode) rather than the bridge.
    pub inline: bool,
}

/// One assistant as `keyward assistants` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct AssistantView {
    pub agent: Agent,
    pub name: String,
    /// Whether it looks installed on this computer (its config folder or its program exists).
    pub installed: bool,
    /// Its usual config file (none when there is no home folder to find it in).
    pub path: Option<PathBuf>,
    /// The Keyward entries in that file.
    pub wired: Vec<WiredEntry>,
}

/// A Keyward bridge entry found in an assistant's file.
#[derive(Debug, Clone, Serialize)]
pub struct WiredEntry {
    pub entry_name: String,
    pub key_id: String,
}

/// A key found by `keyward scan`: where, which key record, and how it stands. No secret.
/// The app hands a scan's finds back to [`Manager::roll_found`], so it reads them too.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Find {
    #[serde(flatten)]
    pub place: scan::Place,
    pub key_id: String,
    pub key_prefix: String,
    /// The key's label, when this machine's mirror knows it.
    pub key_name: Option<String>,
    pub status: FindStatus,
}

/// A found key's status, from the verifier mirror (synced first when the service answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum FindStatus {
    Active,
    RotatingOut,
    Deactivated,
    Expired,
    Revoked,
    /// Of this deployment's format, but not a key of this store (or not its real secret).
    Unknown,
}

impl FindStatus {
    /// Whether the key still works, so finding it is a leak to fix now.
    pub fn works(self) -> bool {
        matches!(self, FindStatus::Active | FindStatus::RotatingOut)
    }
}

impl From<KeyStatus> for FindStatus {
    fn from(status: KeyStatus) -> FindStatus {
        match status {
            KeyStatus::Active => FindStatus::Active,
            KeyStatus::RotatingOut => FindStatus::RotatingOut,
            KeyStatus::Deactivated => FindStatus::Deactivated,
            KeyStatus::Expired => FindStatus::Expired,
            KeyStatus::Revoked => FindStatus::Revoked,
        }
    }
}

/// Where `keyward scan` looks.
#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    /// Files and folders; empty: the home folder's dotfiles and shell histories, every
    /// assistant config Keyward knows, and `.env*` files under the current folder.
    pub paths: Vec<PathBuf>,
    /// Also the history of each path that is a git repository (the current folder if none).
    pub git: bool,
    pub options: scan::Options,
}

/// A key's use on this computer, beside the key service's own "last used".
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct KeyUsage {
    pub rows: Vec<UsageRow>,
    /// Per key, when the service last saw it used (from any computer); `None` when the service
    /// could not be asked.
    pub service_last_used: Option<Vec<ServiceLastUse>>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ServiceLastUse {
    pub key_id: String,
    pub key_prefix: String,
    pub last_used_at: Option<Timestamp>,
}

/// What `keyward run` hands the command it starts.
pub struct RunEnvironment {
    pub server: String,
    pub key_id: String,
    /// The key's secret, for the child's environment only.
    pub secret: String,
    pub key_prefix: String,
}

/// What revoking a key did on this machine.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Revoked {
    pub record: KeyRecord,
    /// The assistant entries removed.
    pub unwired: Vec<(Agent, PathBuf)>,
    /// Entries that could not be removed (their file could not be read or changed), each a
    /// sentence naming the file and why. The key is revoked all the same: they no longer work.
    pub left_in_place: Vec<String>,
    pub keychain_item_removed: bool,
}

/// A leaked key rolled, and the files found holding it that still do.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Rolled {
    pub rotated: Rotated,
    pub still_holding: Vec<PathBuf>,
}

/// What rotating a key did (the app shows it as it is).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Rotated {
    pub replacement: CreatedKey,
    pub previous: KeyRecord,
    /// Assistant entries moved from the old key to the new one.
    pub rewired: Vec<Wiring>,
    /// Set when the service rotated the key but the keychain would not keep the replacement's
    /// secret: the sentence why. `replacement.key` is then the only copy anywhere, and must
    /// be shown to the person now; no entry was moved and the old secret stays in the keychain.
    pub not_kept: Option<String>,
}

pub struct Manager {
    paths: Paths,
    /// The `keyward` program assistants should launch as the bridge.
    keyward_program: PathBuf,
    /// Connects made by [`Manager::connect_with_undo`] that may still be undone.
    undos: Undos,
    /// Files read by the running [`Manager::scan_this_computer`], for a progress line.
    files_scanned: AtomicU64,
}

/// What the sign-in screen needs to know.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AppInfo {
    pub profile: Option<Profile>,
    /// The key service to offer first: the one last signed in to (remembered across sign-out),
    /// else `KEYWARD_SERVER`, else the local demo service.
    pub default_server: String,
    /// Shown on the sign-in screen when the app runs against the local demo service
    /// (`KEYWARD_DEMO_ACCOUNT`, which `./dev run` sets).
    pub demo_account: Option<String>,
    /// The name a new sign-in gets unless the person changes it: this computer's.
    pub device_name: String,
}

/// The key service `keyward login` and the app offer when nothing else names one: the demo
/// service `./dev run` starts on this machine.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8420";

/// What the settings screen shows.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Settings {
    pub profile: Profile,
    /// The mirror of the signed-in store, if it was ever synced.
    pub mirror: Option<StoreMirror>,
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    /// Each assistant's config file on this machine.
    pub agent_files: Vec<AgentFile>,
}

/// An assistant and where its config file is on this machine (`None` where it has none).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AgentFile {
    pub agent: Agent,
    pub name: String,
    pub path: Option<PathBuf>,
}

/// A program's path as one word for the shell people type into here: POSIX single quotes
/// when it needs quoting; on Windows, double quotes (cmd and PowerShell both read them).
fn shell_word(program: &str) -> String {
    if cfg!(windows) {
        return if program.contains(char::is_whitespace) { format!("\"{program}\"") } else { program.to_owned() };
    }
    if program.contains(|c: char| c.is_whitespace() || "'\"$`\\!*?[]{}()<>|&;#~".contains(c)) {
        format!("'{}'", program.replace('\'', "'\\''"))
    } else {
        program.to_owned()
    }
}

/// Runs a blocking keychain call off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> std::result::Result<T, VaultError> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Invalid(format!("The keychain call failed ({e}). Try again.")))?.map_err(Error::Vault)
}

impl Manager {
    pub fn new(paths: Paths, keyward_program: PathBuf) -> Manager {
        Manager { paths, keyward_program, undos: Undos::default(), files_scanned: AtomicU64::new(0) }
    }

    /// What the sign-in screen offers: the profile if signed in, the service to offer first,
    /// and the demo account when there is one.
    pub fn app_info(&self) -> AppInfo {
        let variable = |name: &str| std::env::var(name).ok().filter(|s| !s.is_empty());
        AppInfo {
            profile: self.profile().ok(),
            default_server: self.remembered_server().or_else(|| variable("KEYWARD_SERVER")).unwrap_or_else(|| DEFAULT_SERVER.into()),
            demo_account: variable("KEYWARD_DEMO_ACCOUNT"),
            device_name: crate::profile::computer_name(),
        }
    }

    /// The signed-in profile, the store's mirror, Keyward's folders and each assistant's file.
    pub fn settings(&self) -> Result<Settings> {
        let profile = self.profile()?;
        let mirror = self.mirror_status()?.into_iter().find(|m| m.server == profile.server && m.store_id == profile.store_id);
        let agent_files = Agent::all().into_iter().map(|agent| AgentFile { agent, name: agent.to_string(), path: agent.default_path().ok() }).collect();
        Ok(Settings { profile, mirror, config_dir: self.paths.config_dir.clone(), data_dir: self.paths.data_dir.clone(), agent_files })
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    pub fn profile(&self) -> Result<Profile> {
        Profile::load(&self.paths.profile()).map_err(Error::Invalid)?.ok_or(Error::NotSignedIn)
    }

    pub fn vault(&self, profile: &Profile) -> Vault {
        Vault::for_server(&profile.server)
    }

    /// A client signed in with the session token from the keychain.
    pub async fn client(&self) -> Result<(Profile, ApiClient)> {
        let profile = self.profile()?;
        let vault = self.vault(&profile);
        let token = blocking(move || vault.session()).await?.ok_or(Error::SessionEnded)?;
        let client = ApiClient::new(&profile.server)?.with_session(token);
        Ok((profile, client))
    }

    fn open_mirror(&self) -> Result<Mirror> {
        Ok(Mirror::open(&self.paths.mirror())?)
    }

    /// Signs in, keeps the session token in the keychain and the profile on disk, and
    /// syncs the mirror. Checks the keychain first so nothing is left half done.
    pub async fn login(&self, server: &str, email: &str, password: &str, device_name: &str) -> Result<Profile> {
        let client = ApiClient::new(server)?;
        let vault = Vault::for_server(client.server());
        let probe = vault.clone();
        blocking(move || probe.session().map(|_| ())).await?;
        let created = client.login(email, password, device_name).await.map_err(Error::Client)?;
        let token = created.token.clone();
        let store = vault.clone();
        if let Err(e) = blocking(move || store.store_session(&token)).await {
            let _ = client.clone().with_session(created.token).logout().await;
            return Err(e);
        }
        let profile = Profile {
            server: client.server().to_owned(),
            store_id: created.store.id,
            store_name: created.store.name,
            brand: created.store.brand,
            user_name: created.user.name,
            user_email: created.user.email,
            user_role: created.user.role,
            device_id: created.device.id,
            device_name: created.device.name,
        };
        profile.save(&self.paths.profile()).map_err(Error::Invalid)?;
        let _ = self.sync_mirror().await;
        Ok(profile)
    }

    /// Signs this device out on the service (if it still can) and forgets the session.
    pub async fn logout(&self) -> Result<()> {
        let profile = self.profile()?;
        if let Ok((_, client)) = self.client().await {
            match client.logout().await {
                Ok(()) => {}
                Err(e) if e.needs_sign_in() => {}
                Err(e) => return Err(Error::Client(e)),
            }
        }
        let vault = self.vault(&profile);
        blocking(move || vault.delete_session()).await?;
        // Only a convenience for the next sign-in; failing to keep it loses nothing.
        let _ = crate::agents::file::write_atomically(&self.paths.last_server(), profile.server.as_bytes(), false);
        Profile::remove(&self.paths.profile()).map_err(Error::Invalid)
    }

    /// The key service to offer at sign-in: the one signed in to now, else the last one.
    pub fn remembered_server(&self) -> Option<String> {
        if let Ok(profile) = self.profile() {
            return Some(profile.server);
        }
        let text = std::fs::read_to_string(self.paths.last_server()).ok()?;
        Some(text.trim().to_owned()).filter(|s| !s.is_empty())
    }

    pub async fn keys(&self, include_revoked: bool) -> Result<Vec<KeyView>> {
        let (profile, records) = self.records(include_revoked).await?;
        self.mark_held(&profile, records).await
    }

    /// The key records from the service, kept in the mirror for showing offline. Without the
    /// keychain lookups [`Manager::keys`] adds: for callers that need labels and times only.
    async fn records(&self, include_revoked: bool) -> Result<(Profile, Vec<KeyRecord>)> {
        let (profile, client) = self.client().await?;
        let records = client.list_keys(include_revoked).await?;
        if let Ok(mut mirror) = self.open_mirror() {
            // Only labels for showing offline; failing to keep them costs nothing now.
            let _ = mirror.remember_listing(&profile.server, &profile.store_id, &records);
        }
        Ok((profile, records))
    }

    /// Pairs each record with whether this machine's keychain holds its secret.
    async fn mark_held(&self, profile: &Profile, records: Vec<KeyRecord>) -> Result<Vec<KeyView>> {
        let vault = self.vault(profile);
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let held = blocking(move || ids.iter().map(|id| vault.holds_key(id)).collect::<std::result::Result<Vec<_>, _>>()).await?;
        Ok(records.into_iter().zip(held).map(|(record, on_this_device)| KeyView { record, on_this_device }).collect())
    }

    /// Every key, revoked ones too, from the service; from the mirror if it is out of reach.
    pub async fn keys_screen(&self) -> Result<KeysScreen> {
        match self.keys(true).await {
            Ok(keys) => Ok(KeysScreen { keys, offline: None }),
            Err(Error::Client(e @ ClientError::Unreachable { .. })) => {
                let profile = self.profile()?;
                let mirror = self.open_mirror()?;
                let records = mirror.offline_keys(&profile.server, &profile.store_id)?;
                let synced = mirror.stores()?.into_iter().find(|s| s.server == profile.server && s.store_id == profile.store_id);
                let keys = self.mark_held(&profile, records).await?;
                Ok(KeysScreen {
                    keys,
                    offline: Some(Offline {
                        message: e.to_string(),
                        synced_at: synced.as_ref().map(|s| s.synced_at),
                        age_seconds: synced.map(|s| s.age_seconds),
                    }),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Which assistants on this machine have an entry for the key, in their usual files:
    /// those that look installed first, each group in the table's order.
    pub fn wiring(&self, key_id: &str) -> Result<Vec<AgentWiring>> {
        let profile = self.profile()?;
        let name = Self::entry_name(&profile, &key_prefix(&profile.brand, key_id));
        let mut all = Agent::all()
            .map(|agent| {
                let path = agent.default_path()?;
                let entry = agents::read_entry(agent, &path, &name).filter(|e| e.is_bridge_for(key_id));
                Ok(AgentWiring {
                    agent,
                    name: agent.to_string(),
                    installed: agent.looks_installed(),
                    connected: entry.is_some(),
                    inline: entry.is_some_and(|e| e.is_inline()),
                    path,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        all.sort_by_key(|w| !w.installed);
        Ok(all)
    }

    /// Every assistant Keyward knows: whether it looks installed, its file, and the keys
    /// wired into that file. Needs no sign-in.
    pub fn assistants(&self) -> Vec<AssistantView> {
        Agent::all()
            .map(|agent| {
                let path = agent.default_path().ok();
                let wired = path.as_ref().map_or_else(Vec::new, |p| {
                    agents::bridge_entries(agent, p).into_iter().map(|(entry_name, key_id)| WiredEntry { entry_name, key_id }).collect()
                });
                AssistantView { agent, name: agent.to_string(), installed: agent.looks_installed(), path, wired }
            })
            .collect()
    }

    /// The key service and the secret of `key_id` for a command to run with, after the
    /// verifier mirror (synced first, when the service answers) has no objection to it.
    pub async fn run_environment(&self, key_id: &str) -> Result<RunEnvironment> {
        let profile = self.profile()?;
        let vault = self.vault(&profile);
        let id = key_id.to_owned();
        let secret = blocking(move || vault.key(&id)).await?.ok_or_else(|| {
            Error::Invalid(format!(
                "This machine's keychain holds no secret for the key {}. Check the id with `keyward keys list`; a key made on another machine must be rotated here first.",
                key_prefix(&profile.brand, key_id)
            ))
        })?;
        // A revocation made elsewhere since the last sync is caught here; offline, the
        // mirror's last copy decides, and the service still refuses what it must.
        let _ = self.sync_mirror().await;
        let verification = self.open_mirror()?.verify(&secret, Some(&profile.server))?;
        if verification.verdict.refuses() {
            return Err(Error::KeyRefused(verification.verdict.sentence()));
        }
        Ok(RunEnvironment { server: profile.server.clone(), key_id: key_id.to_owned(), secret, key_prefix: key_prefix(&profile.brand, key_id) })
    }

    /// Scans this computer as `keyward scan` does without paths (dotfiles and shell histories,
    /// every assistant config, `.env*` files under the current folder), counting files read
    /// for [`Manager::files_scanned`]. Never returns a secret.
    pub async fn scan_this_computer(&self) -> Result<Vec<Find>> {
        self.files_scanned.store(0, Ordering::Relaxed);
        self.scan(&ScanRequest::default(), &self.files_scanned).await
    }

    /// Files read so far by the running (or last) [`Manager::scan_this_computer`].
    pub fn files_scanned(&self) -> u64 {
        self.files_scanned.load(Ordering::Relaxed)
    }

    /// Finds keys of this deployment in files (and history), each with its status from the
    /// verifier mirror, synced first when the service answers. `progress` counts files read.
    pub async fn scan(&self, request: &ScanRequest, progress: &AtomicU64) -> Result<Vec<Find>> {
        let profile = self.profile().map_err(|_| {
            Error::Invalid("Keyward does not know this deployment's key format yet. Sign in once with `keyward login`, then scan.".into())
        })?;
        let _ = self.sync_mirror().await;
        let finder = Finder::new(std::slice::from_ref(&profile.brand));
        let found = std::sync::Mutex::new(Vec::new());
        let keep = |place: scan::Place, key: keyward_core::ApiKey| found.lock().unwrap_or_else(|e| e.into_inner()).push((place, key));
        let (paths, options) = if request.paths.is_empty() {
            (self.usual_places(), scan::Options { no_ignore: true })
        } else {
            (request.paths.clone(), request.options.clone())
        };
        finder.scan_paths(&paths, &options, progress, &keep);
        if request.git {
            let repos = if request.paths.is_empty() { vec![std::env::current_dir().unwrap_or_default()] } else { request.paths.clone() };
            for repo in repos.iter().filter(|p| p.is_dir()) {
                finder.scan_history(repo, &keep).map_err(Error::Invalid)?;
            }
        }
        // Labels from the service when it answers (which also keeps them for offline), else
        // the ones the mirror kept.
        let records = match self.records(true).await {
            Ok((_, records)) => records,
            Err(_) => self.open_mirror()?.offline_keys(&profile.server, &profile.store_id).unwrap_or_default(),
        };
        let names: std::collections::HashMap<String, String> = records.into_iter().filter(|r| r.name != r.key_prefix).map(|r| (r.id, r.name)).collect();
        let mirror = self.open_mirror()?;
        let mut finds = Vec::new();
        // The same key is often found in several places: the mirror is asked once per key.
        let mut statuses: std::collections::HashMap<String, FindStatus> = std::collections::HashMap::new();
        for (place, key) in found.into_inner().unwrap_or_else(|e| e.into_inner()) {
            let status = match statuses.get(key.expose()) {
                Some(status) => *status,
                None => {
                    let verification = mirror.verify(key.expose(), Some(&profile.server))?;
                    let status = verification.key_status.map_or(FindStatus::Unknown, FindStatus::from);
                    statuses.insert(key.expose().to_owned(), status);
                    status
                }
            };
            let key_id = key.id().as_str().to_owned();
            finds.push(Find { place, key_prefix: key.key_prefix(), key_name: names.get(&key_id).cloned(), key_id, status });
        }
        finds.sort_by(|a, b| (&a.place.file, a.place.line, a.place.column).cmp(&(&b.place.file, b.place.line, b.place.column)));
        Ok(finds)
    }

    /// Where keys are usually left: the home folder's dotfiles (shell histories among them),
    /// every assistant config Keyward knows or wrote, and `.env*` files under this folder.
    fn usual_places(&self) -> Vec<PathBuf> {
        let mut places = Vec::new();
        if let Some(home) = directories::BaseDirs::new().map(|d| d.home_dir().to_owned()) {
            for entry in std::fs::read_dir(&home).into_iter().flatten().flatten() {
                if entry.file_name().to_string_lossy().starts_with('.') && entry.file_type().is_ok_and(|t| t.is_file()) {
                    places.push(entry.path());
                }
            }
            places.push(home.join(".local/share/fish/fish_history"));
        }
        places.extend(Agent::all().filter_map(|agent| agent.default_path().ok()));
        if let Ok(profile) = self.profile() {
            places.extend(self.record().of_server(&profile.server).into_iter().map(|p| p.path));
        }
        let here = std::env::current_dir().unwrap_or_default();
        let mut env_files = ignore::WalkBuilder::new(&here);
        env_files.hidden(false).git_ignore(false).filter_entry(|e| !matches!(e.file_name().to_str(), Some(".git" | "node_modules" | "target")));
        for entry in env_files.build().flatten() {
            if entry.file_name().to_string_lossy().starts_with(".env") && entry.file_type().is_some_and(|t| t.is_file()) {
                places.push(entry.into_path());
            }
        }
        places.retain(|p| p.is_file());
        places.sort();
        places.dedup();
        places
    }

    /// Counts one use of a key by `client` on this computer (see [`crate::usage`]).
    pub fn record_use(&self, server: &str, key_id: &str, client: &str, ok: bool) -> Result<()> {
        let usage = Usage::open(&self.paths.usage()).map_err(|e| Error::Invalid(e.to_string()))?;
        usage.record(server, key_id, client, ok, OffsetDateTime::now_utc()).map_err(|e| Error::Invalid(e.to_string()))
    }

    /// Which assistants used a key (or every key) on this computer, per day, newest first. Read
    /// from this computer alone: the app's key details already hold the service's last use.
    pub fn usage_here(&self, key_id: Option<&str>) -> Result<Vec<UsageRow>> {
        let profile = self.profile()?;
        if !self.paths.usage().exists() {
            return Ok(Vec::new());
        }
        Usage::open(&self.paths.usage()).and_then(|u| u.rows(&profile.server, key_id)).map_err(|e| Error::Invalid(e.to_string()))
    }

    /// [`Manager::usage_here`], with each key's last use as the key service saw it (when it
    /// answers), as `keyward usage` shows them.
    pub async fn usage(&self, key_id: Option<&str>) -> Result<KeyUsage> {
        let rows = self.usage_here(key_id)?;
        let service_last_used = match self.records(true).await {
            Ok((_, records)) => Some(
                records
                    .into_iter()
                    .filter(|r| key_id.is_none_or(|id| id == r.id))
                    .map(|r| ServiceLastUse { key_id: r.id, key_prefix: r.key_prefix, last_used_at: r.last_used_at })
                    .collect(),
            ),
            Err(_) => None,
        };
        Ok(KeyUsage { rows, service_last_used })
    }

    /// The command that runs a script with this key, as the app shows it to copy.
    pub fn run_command(&self, key_id: &str) -> String {
        format!("{} run --key {key_id} --", shell_word(&self.keyward_program.to_string_lossy()))
    }

    /// Creates a key and keeps its secret in the keychain. If the keychain refuses after the
    /// key was made, the key is revoked again so no secret is left that nobody holds.
    pub async fn create_key(&self, name: &str, scopes: Scopes, expires_at: Option<Timestamp>) -> Result<CreatedKey> {
        let (profile, client) = self.client().await?;
        let vault = self.vault(&profile);
        let probe = vault.clone();
        blocking(move || probe.session().map(|_| ())).await?;
        let created = client.create_key(&CreateKeyRequest { name: name.to_owned(), scopes: Some(scopes), expires_at }).await?;
        let (id, secret) = (created.record.id.clone(), created.key.clone());
        if let Err(e) = blocking(move || vault.store_key(&id, &secret)).await {
            let _ = client.revoke_key(&created.record.id).await;
            return Err(e);
        }
        let _ = self.sync_mirror().await;
        Ok(created)
    }

    pub async fn update_key(&self, id: &str, change: UpdateKeyRequest) -> Result<KeyRecord> {
        let (_, client) = self.client().await?;
        let record = client.update_key(id, &change).await?;
        let _ = self.sync_mirror().await;
        Ok(record)
    }

    fn entry_name(profile: &Profile, key_prefix: &str) -> String {
        agents::entry_name(&profile.store_slug(), key_prefix)
    }

    fn record(&self) -> Record {
        Record::at(self.paths.wired())
    }

    /// Every place a key may have an entry on this machine: each assistant's usual file, and
    /// every file Keyward recorded writing it into (`--config PATH`).
    fn placements(&self, profile: &Profile, key_id: &str, key_prefix: &str) -> Result<Vec<Placement>> {
        let name = Self::entry_name(profile, key_prefix);
        let mut places = Vec::new();
        for agent in Agent::all() {
            places.push(Placement::new(&profile.server, key_id, agent, &agent.default_path()?, &name));
        }
        for place in self.record().for_key(&profile.server, key_id) {
            if !places.contains(&place) {
                places.push(place);
            }
        }
        Ok(places)
    }

    /// Removes this key's entries from every file it was wired into here. A file that cannot
    /// be changed does not stop the others: it is named in the second list, with the sentence
    /// why, and stays in the record so a later `keyward disconnect` finds it.
    fn unwire(&self, profile: &Profile, record: &KeyRecord) -> Result<(Vec<(Agent, PathBuf)>, Vec<String>)> {
        let (mut unwired, mut left, mut stuck) = (Vec::new(), Vec::new(), Vec::new());
        for place in self.placements(profile, &record.id, &record.key_prefix)? {
            match agents::disconnect(place.agent, &place.path, &place.entry_name, &record.id) {
                Ok(true) => unwired.push((place.agent, place.path)),
                Ok(false) => {}
                Err(e) => {
                    left.push(format!("{}'s entry in {} is still there: {e}", place.agent, place.path.display()));
                    stuck.push(place);
                }
            }
        }
        self.record().forget(&profile.server, &record.id, |p| !stuck.contains(p))?;
        Ok((unwired, left))
    }

    /// Revokes a key, then removes its assistant entries and its keychain item here.
    pub async fn revoke_key(&self, id: &str) -> Result<Revoked> {
        let (profile, client) = self.client().await?;
        let record = client.revoke_key(id).await?;
        let (unwired, left_in_place) = self.unwire(&profile, &record)?;
        let vault = self.vault(&profile);
        let key_id = record.id.clone();
        let keychain_item_removed = blocking(move || vault.delete_key(&key_id)).await?;
        if let Ok(mirror) = self.open_mirror() {
            let _ = mirror.mark_revoked(&profile.server, &record.id, record.revoked_at.unwrap_or_else(Timestamp::now));
        }
        let _ = self.sync_mirror().await;
        Ok(Revoked { record, unwired, left_in_place, keychain_item_removed })
    }

    /// Rotates a key: the replacement's secret goes into the keychain, assistant entries move
    /// to the replacement, and the old secret leaves the keychain.
    ///
    /// The keychain answered for the session just before the service is asked. If it still
    /// refuses the replacement's secret, the rotation has happened (and may already have ended
    /// the old key), so, unlike a new key, the replacement cannot simply be revoked again
    /// without leaving the person with no key at all. Its secret is returned with
    /// [`Rotated::not_kept`] set, to be shown once, and nothing else is changed here.
    pub async fn rotate_key(&self, id: &str, overlap_seconds: u32) -> Result<Rotated> {
        self.rotate(id, overlap_seconds, false).await
    }

    /// Rolls a leaked key: rotates it as [`Manager::rotate_key`] does, and every entry that
    /// held the secret inline becomes a bridge entry, so no file holds the new one.
    pub async fn roll_leaked_key(&self, id: &str, overlap_seconds: u32) -> Result<Rotated> {
        self.rotate(id, overlap_seconds, true).await
    }

    /// Rolls a key found leaked ([`Manager::roll_leaked_key`]) and answers which of the files
    /// the scan found it in still hold the dead key: Keyward edits only the assistant configs it
    /// wrote. `finds` is the scan's answer; finds in a repository's history are not files to
    /// look at again.
    pub async fn roll_found(&self, id: &str, finds: &[Find], overlap_seconds: u32) -> Result<Rolled> {
        let brand = self.profile()?.brand;
        let rotated = self.roll_leaked_key(id, overlap_seconds).await?;
        let files: std::collections::BTreeSet<PathBuf> = finds.iter().filter(|f| f.key_id == id && f.place.commit.is_none()).map(|f| PathBuf::from(&f.place.file)).collect();
        let finder = Finder::new(std::slice::from_ref(&brand));
        let still_holding = files.into_iter().filter(|file| finder.holds(file, id)).collect();
        Ok(Rolled { rotated, still_holding })
    }

    async fn rotate(&self, id: &str, overlap_seconds: u32, inline_to_bridge: bool) -> Result<Rotated> {
        let (profile, client) = self.client().await?;
        let vault = self.vault(&profile);
        let rotated = client.rotate_key(id, overlap_seconds).await?;
        let new = rotated.replacement;
        let (new_id, secret) = (new.record.id.clone(), new.key.clone());
        let store = vault.clone();
        if let Err(e) = blocking(move || store.store_key(&new_id, &secret)).await {
            let _ = self.sync_mirror().await;
            let not_kept = format!(
                "The key was rotated to {}, but the keychain would not keep its secret: {e} The secret is shown this once: keep it somewhere safe, or revoke it with `keyward keys revoke {}`. Your assistants still use the old key, which stops working {}.",
                new.record.key_prefix,
                new.record.id,
                if overlap_seconds == 0 { "now".to_owned() } else { format!("in {overlap_seconds} s") }
            );
            return Ok(Rotated { replacement: new, previous: rotated.previous, rewired: Vec::new(), not_kept: Some(not_kept) });
        }
        let (old, new_name) = (&rotated.previous, Self::entry_name(&profile, &new.record.key_prefix));
        let mut rewired = Vec::new();
        for place in self.placements(&profile, &old.id, &old.key_prefix)? {
            let (agent, path) = (place.agent, &place.path);
            let Some(entry) = agents::read_entry(agent, path, &place.entry_name).filter(|e| e.is_bridge_for(&old.id)) else {
                continue;
            };
            let inline = (entry.is_inline() && !inline_to_bridge).then_some(new.key.as_str());
            let fresh = ServerEntry::bridge(&self.keyward_program, &new.record.id, &profile.server, inline);
            self.record().add(Placement::new(&profile.server, &new.record.id, agent, path, &new_name))?;
            rewired.push(agents::connect(agent, path, &new_name, &fresh)?);
            agents::disconnect(agent, path, &place.entry_name, &old.id)?;
        }
        self.record().forget(&profile.server, &old.id, |_| true)?;
        let old_id = rotated.previous.id.clone();
        blocking(move || vault.delete_key(&old_id)).await?;
        let _ = self.sync_mirror().await;
        Ok(Rotated { replacement: new, previous: rotated.previous, rewired, not_kept: None })
    }

    /// Wires a key into an assistant through the bridge (no secret in the file), as the app's
    /// one click does, and keeps the change so [`Manager::undo`] can take it back.
    pub async fn connect_with_undo(&self, agent: Agent, key_id: &str) -> Result<Connected> {
        let wiring = self.connect(agent, key_id, false, None).await?;
        Ok(self.undos.offer(wiring))
    }

    /// Takes back what [`Manager::connect_with_undo`] did: the entry it added comes out, or the
    /// entry it replaced goes back. Whatever was written to the file since stays; an entry
    /// changed since is left alone.
    pub fn undo(&self, undo: u32) -> Result<()> {
        let wiring = self.undos.take(undo).ok_or_else(|| {
            Error::Invalid("That change was already undone or is from an earlier session; nothing was changed.".into())
        })?;
        Ok(agents::undo(&wiring)?)
    }

    /// Wires a key into an assistant. `path` overrides the assistant's usual file.
    pub async fn connect(&self, agent: Agent, key_id: &str, inline: bool, path: Option<&Path>) -> Result<Wiring> {
        let (profile, client) = self.client().await?;
        let record = client.get_key(key_id).await?;
        if record.status == KeyStatus::Revoked {
            return Err(Error::Invalid(format!("The key {} is revoked, so it cannot be connected. Create a new key.", record.key_prefix)));
        }
        let vault = self.vault(&profile);
        let id = record.id.clone();
        let secret = blocking(move || vault.key(&id)).await?;
        let Some(secret) = secret else {
            return Err(Error::Invalid(format!(
                "This machine's keychain does not hold the secret of {}. Connect it from the machine that created it, or rotate the key here.",
                record.key_prefix
            )));
        };
        let entry = ServerEntry::bridge(&self.keyward_program, &record.id, &profile.server, inline.then_some(secret.as_str()));
        let path = match path {
            Some(p) => p.to_owned(),
            None => agent.default_path()?,
        };
        let name = Self::entry_name(&profile, &record.key_prefix);
        // Noted first: an entry that is written is always found again by revoke and rotate.
        self.record().add(Placement::new(&profile.server, &record.id, agent, &path, &name))?;
        Ok(agents::connect(agent, &path, &name, &entry)?)
    }

    /// Removes a key's entry from an assistant. Works offline from the mirror's records.
    pub async fn disconnect(&self, agent: Agent, key_id: &str, path: Option<&Path>) -> Result<bool> {
        let profile = self.profile()?;
        let key_prefix = key_prefix(&profile.brand, key_id);
        let path = match path {
            Some(p) => p.to_owned(),
            None => agent.default_path()?,
        };
        let place = Placement::new(&profile.server, key_id, agent, &path, &Self::entry_name(&profile, &key_prefix));
        let removed = agents::disconnect(agent, &path, &place.entry_name, key_id)?;
        self.record().forget(&profile.server, key_id, |p| p == &place)?;
        Ok(removed)
    }

    pub async fn sync_mirror(&self) -> Result<SyncReport> {
        let (profile, client) = self.client().await?;
        let mut mirror = self.open_mirror()?;
        Ok(mirror.sync(&client, &profile.store_id).await?)
    }

    /// Checks a key offline against the mirror.
    pub fn verify(&self, key: &str) -> Result<Verification> {
        let server = self.profile().ok().map(|p| p.server);
        Ok(self.open_mirror()?.verify(key, server.as_deref())?)
    }

    pub fn mirror_status(&self) -> Result<Vec<StoreMirror>> {
        Ok(self.open_mirror()?.stores()?)
    }

    pub async fn devices(&self) -> Result<Vec<Device>> {
        let (_, client) = self.client().await?;
        Ok(client.devices().await?.devices)
    }

    pub async fn sign_out_device(&self, id: &str, revoke_keys: bool) -> Result<SignedOutDevice> {
        let (_, client) = self.client().await?;
        let out = client.sign_out_device(id, revoke_keys).await?;
        let _ = self.sync_mirror().await;
        Ok(out)
    }

    /// Changes this person's password. The key service signs out every other device of theirs;
    /// this one stays signed in.
    pub async fn change_password(&self, current_password: &str, new_password: &str) -> Result<PasswordChanged> {
        let (_, client) = self.client().await?;
        Ok(client.change_password(current_password, new_password).await?)
    }

    /// The people who can sign in to the store.
    pub async fn staff(&self) -> Result<Vec<StaffMember>> {
        let (_, client) = self.client().await?;
        Ok(client.staff().await?)
    }

    /// Adds a staff member who signs in with `email` and `password` (the owner only).
    pub async fn add_staff(&self, name: &str, email: &str, password: &str) -> Result<StaffMember> {
        let (_, client) = self.client().await?;
        Ok(client.add_staff(&NewStaffMember { name: name.to_owned(), email: email.to_owned(), password: password.to_owned() }).await?)
    }

    /// Removes a staff member (the owner only); they are signed out everywhere at once.
    pub async fn remove_staff(&self, id: &str) -> Result<RemovedStaffMember> {
        let (_, client) = self.client().await?;
        Ok(client.remove_staff(id).await?)
    }

    pub async fn audit(&self, before: Option<i64>, limit: u32) -> Result<AuditPage> {
        let (_, client) = self.client().await?;
        Ok(client.audit(before, limit).await?)
    }

    pub async fn connections(&self) -> Result<Vec<Connection>> {
        let (_, client) = self.client().await?;
        Ok(client.connections().await?.connections)
    }

    pub async fn revoke_connection(&self, id: &str) -> Result<Connection> {
        let (_, client) = self.client().await?;
        Ok(client.revoke_connection(id).await?)
    }

    /// The store's MCP URL, for adding the store to claude.ai or ChatGPT as a custom connector.
    /// Asks the signed-in key service; needs no session.
    pub async fn mcp_url(&self) -> Result<String> {
        let profile = self.profile()?;
        Ok(ApiClient::new(&profile.server)?.mcp_url().await?)
    }

    /// A one-time code the merchant pastes on the service's consent page (the page claude.ai or
    /// ChatGPT opens when the store's MCP URL is added as a custom connector) instead of signing in.
    pub async fn connection_code(&self, scopes: Scopes, app_name: Option<String>) -> Result<ConnectionCode> {
        let (_, client) = self.client().await?;
        Ok(client.create_connection_code(&ConnectionCodeRequest { scopes: Some(scopes), app_name }).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[cfg(unix)]
    #[test]
    fn the_program_is_one_word_to_the_shell() {
        assert_eq!(shell_word("/usr/bin/keyward"), "/usr/bin/keyward");
        assert_eq!(shell_word("/opt/My Apps/keyward"), "'/opt/My Apps/keyward'");
        assert_eq!(shell_word("/home/o'brien/keyward"), "'/home/o'\\''brien/keyward'");
    }
}
