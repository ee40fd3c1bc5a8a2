//! Wiring keys into the assistants' configuration files.
//!
//! | assistant      | file                                                   | entry                                   |
//! |----------------|--------------------------------------------------------|-----------------------------------------|
//! | Claude Desktop | `<config dir>/Claude/claude_desktop_config.json`       | `mcpServers.NAME = {command, args, env}`|
//! | Claude Code    | `~/.claude.json`                                       | `mcpServers.NAME = {type: "stdio", …}`  |
//! | Codex          | `$CODEX_HOME/config.toml` (default `~/.codex`)         | `[mcp_servers.NAME]`                    |
//!
//! Bridge mode (the default) writes `keyward bridge --key ID --server URL`: no file holds the
//! secret. Inline mode puts the secret in `env` for clients that cannot reach the keychain,
//! and makes the file readable by its owner only. Every write merges, keeps formatting, is
//! atomic, keeps a backup, and refuses a file it cannot parse, leaving it untouched.
//! Disconnecting removes exactly the entry Keyward wrote for that key, and nothing else;
//! undoing a connect is the inverse edit (see [`undo`]), never a whole-file restore, so what
//! the assistant or another key wrote since is kept.

pub mod file;
pub mod json;
pub mod record;
pub mod toml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// The environment variable the bridge reads an inline key from.
pub const INLINE_KEY_ENV: &str = "KEYWARD_API_KEY";

/// An assistant Keyward can wire a key into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum Agent {
    ClaudeDesktop,
    ClaudeCode,
    Codex,
}

impl Agent {
    pub const ALL: [Agent; 3] = [Agent::ClaudeDesktop, Agent::ClaudeCode, Agent::Codex];

    /// The name used on the command line: `claude-desktop`, `claude-code`, `codex`.
    pub fn slug(self) -> &'static str {
        match self {
            Agent::ClaudeDesktop => "claude-desktop",
            Agent::ClaudeCode => "claude-code",
            Agent::Codex => "codex",
        }
    }

    pub fn parse(text: &str) -> Option<Agent> {
        Agent::ALL.into_iter().find(|a| a.slug() == text)
    }

    /// Where this assistant reads its MCP servers from on this machine. Tests and unusual
    /// setups override it with `KEYWARD_CLAUDE_DESKTOP_CONFIG`, `KEYWARD_CLAUDE_CODE_CONFIG`
    /// or `CODEX_HOME`.
    pub fn default_path(self) -> Result<PathBuf, ConfigError> {
        let env_path = |var: &str| std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from);
        let dirs = directories::BaseDirs::new();
        let home = || dirs.as_ref().map(|d| d.home_dir().to_owned()).ok_or(ConfigError::NoHome);
        match self {
            Agent::ClaudeDesktop => match env_path("KEYWARD_CLAUDE_DESKTOP_CONFIG") {
                Some(path) => Ok(path),
                // ~/.config on Linux, ~/Library/Application Support on macOS, %APPDATA% on Windows.
                None => Ok(dirs.as_ref().ok_or(ConfigError::NoHome)?.config_dir().join("Claude").join("claude_desktop_config.json")),
            },
            Agent::ClaudeCode => Ok(env_path("KEYWARD_CLAUDE_CODE_CONFIG").map_or_else(|| home().map(|h| h.join(".claude.json")), Ok)?),
            Agent::Codex => Ok(env_path("CODEX_HOME").map_or_else(|| home().map(|h| h.join(".codex")), Ok)?.join("config.toml")),
        }
    }
}

impl fmt::Display for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Agent::ClaudeDesktop => "Claude Desktop",
            Agent::ClaudeCode => "Claude Code",
            Agent::Codex => "Codex",
        })
    }
}

/// Why a configuration file could not be changed. The file is untouched in every case.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("Keyward cannot read the file: {0}. Fix or move the file, then try again; it was left untouched.")]
    Unparsable(String),
    #[error("No home folder was found. Set HOME, or give the config file's path.")]
    NoHome,
    #[error("{0}")]
    Io(String),
    #[error("The entry \"{name}\" in {path} was changed since Keyward wrote it, so undo left it as it is. Edit or remove it by hand if you no longer want it.")]
    ChangedSince { path: String, name: String },
}

/// A stdio MCP server entry: what the assistant runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEntry {
    pub command: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
}

impl ServerEntry {
    /// An entry that runs `keyward bridge` for `key_id` at `server`. `inline_key` puts the
    /// secret in the environment instead of leaving it in the keychain.
    pub fn bridge(keyward: &Path, key_id: &str, server: &str, inline_key: Option<&str>) -> ServerEntry {
        let mut env = BTreeMap::new();
        // A bridge started by an assistant must find the same local files as this process.
        for var in ["KEYWARD_DATA_DIR", "KEYWARD_CONFIG_DIR"] {
            if let Some(value) = std::env::var_os(var).filter(|v| !v.is_empty()) {
                env.insert(var.to_owned(), value.to_string_lossy().into_owned());
            }
        }
        if let Some(key) = inline_key {
            env.insert(INLINE_KEY_ENV.to_owned(), key.to_owned());
        }
        ServerEntry {
            command: keyward.to_string_lossy().into_owned(),
            args: vec!["bridge".into(), "--key".into(), key_id.into(), "--server".into(), server.into()],
            env,
        }
    }

    /// Whether this is a Keyward bridge entry for `key_id`.
    pub fn is_bridge_for(&self, key_id: &str) -> bool {
        self.args.windows(2).any(|w| w[0] == "--key" && w[1] == key_id) && self.args.first().is_some_and(|a| a == "bridge")
    }

    /// Whether the secret is in the file.
    pub fn is_inline(&self) -> bool {
        self.env.contains_key(INLINE_KEY_ENV)
    }

    pub fn to_json(&self, agent: Agent) -> Value {
        let mut entry = serde_json::Map::new();
        if agent == Agent::ClaudeCode {
            entry.insert("type".into(), json!("stdio"));
        }
        entry.insert("command".into(), json!(self.command));
        entry.insert("args".into(), json!(self.args));
        if !self.env.is_empty() {
            entry.insert("env".into(), json!(self.env));
        }
        Value::Object(entry)
    }

    fn from_json(value: &Value) -> Option<ServerEntry> {
        Some(ServerEntry {
            command: value.get("command")?.as_str()?.to_owned(),
            args: value.get("args")?.as_array()?.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
            env: value
                .get("env")
                .and_then(|e| e.as_object())
                .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
                .unwrap_or_default(),
        })
    }
}

/// The entry name for a key: which store and which key, so keys of several stores can sit
/// side by side, e.g. `keyward-demo-workshop-asmk_Ab12Cd34`.
pub fn entry_name(store_slug: &str, key_prefix: &str) -> String {
    format!("keyward-{store_slug}-{key_prefix}")
}

/// What [`connect`] changed, so it can be undone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Wiring {
    pub agent: Agent,
    pub path: PathBuf,
    pub entry_name: String,
    /// The file's previous version, kept beside it, or `None` if Keyward created the file.
    pub backup: Option<PathBuf>,
    /// False when the entry was already there exactly, so nothing was written.
    pub changed: bool,
    /// What [`undo`] needs to take back exactly this edit. Never shown or sent to the window:
    /// either entry may hold an inline secret.
    #[serde(skip)]
    #[cfg_attr(feature = "specta", specta(skip))]
    inverse: Option<Inverse>,
}

impl Wiring {
    /// Whether this change replaced an entry of the same name (so undo puts that one back),
    /// rather than adding one (so undo takes it out).
    pub fn replaced_an_entry(&self) -> bool {
        self.inverse.as_ref().is_some_and(|i| i.replaced.is_some())
    }
}

/// The inverse of one [`connect`]: the entry it wrote and the one it replaced.
#[derive(Clone, PartialEq, Eq)]
struct Inverse {
    written: ServerEntry,
    /// The entry of the same name the file had before, every field as it was.
    replaced: Option<RawEntry>,
    /// A digest of the whole file, if Keyward created it: while the file still matches,
    /// nobody else has written to it and undo may delete it.
    created: Option<[u8; 32]>,
}

impl fmt::Debug for Inverse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The entries may carry a secret; say only what kind of edit this was.
        f.debug_struct("Inverse").field("replaced", &self.replaced.is_some()).field("created", &self.created.is_some()).finish()
    }
}

/// An entry as the file had it, unknown fields included.
#[derive(Clone, PartialEq, Eq)]
enum RawEntry {
    Json(Value),
    /// A TOML document holding only this entry (see [`toml::raw_entry`]).
    Toml(String),
}

fn digest(text: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).into()
}

fn update(
    agent: Agent,
    path: &Path,
    mode: file::WriteMode,
    edit: impl FnOnce(Option<&str>) -> Result<file::Change, ConfigError>,
) -> Result<file::Updated, ConfigError> {
    file::update(path, mode, edit).map_err(|e| match e {
        file::UpdateError::Edit(ConfigError::Unparsable(why)) => {
            ConfigError::Unparsable(format!("{agent}'s config {} ({why})", path.display()))
        }
        file::UpdateError::Edit(other) => other,
        io @ file::UpdateError::Io { .. } => ConfigError::Io(io.to_string()),
    })
}

/// The entry `name` in a config's text, if it parses and has one Keyward could have written.
fn entry_in(agent: Agent, text: &str, name: &str) -> Option<ServerEntry> {
    match agent {
        Agent::ClaudeDesktop | Agent::ClaudeCode => ServerEntry::from_json(&json::entry(text, name)?),
        Agent::Codex => toml::entry(text, name),
    }
}

fn raw_entry_in(agent: Agent, text: &str, name: &str) -> Option<RawEntry> {
    match agent {
        Agent::ClaudeDesktop | Agent::ClaudeCode => json::entry(text, name).map(RawEntry::Json),
        Agent::Codex => toml::raw_entry(text, name).map(RawEntry::Toml),
    }
}

/// The text without the entry `name`, if `is_ours` says it is Keyward's. `None`: no change.
fn remove_from(agent: Agent, text: Option<&str>, name: &str, is_ours: impl Fn(&ServerEntry) -> bool) -> Result<Option<String>, ConfigError> {
    match agent {
        Agent::ClaudeDesktop | Agent::ClaudeCode => json::remove(text, name, |v| ServerEntry::from_json(v).is_some_and(|e| is_ours(&e))),
        Agent::Codex => toml::remove(text, name, is_ours),
    }
}

/// Adds (or replaces) `name` in the assistant's file at `path`.
pub fn connect(agent: Agent, path: &Path, name: &str, entry: &ServerEntry) -> Result<Wiring, ConfigError> {
    let mode = file::WriteMode { owner_only: entry.is_inline(), skip_backup: false };
    let mut inverse = Inverse { written: entry.clone(), replaced: None, created: None };
    let updated = update(agent, path, mode, |text| {
        let new_text = match agent {
            Agent::ClaudeDesktop | Agent::ClaudeCode => json::upsert(text, name, &entry.to_json(agent)),
            Agent::Codex => toml::upsert(text, name, entry),
        }?;
        inverse.replaced = text.and_then(|t| raw_entry_in(agent, t, name));
        inverse.created = new_text.as_deref().filter(|_| text.is_none()).map(digest);
        Ok(new_text.into())
    })?;
    let (backup, changed) = match updated {
        file::Updated::Written { backup } => (backup, true),
        file::Updated::Unchanged | file::Updated::Removed => (None, false),
    };
    Ok(Wiring { agent, path: path.to_owned(), entry_name: name.to_owned(), backup, changed, inverse: changed.then_some(inverse) })
}

/// Removes the entry `name` from the assistant's file if it is Keyward's entry for `key_id`.
/// Returns whether it was there.
pub fn disconnect(agent: Agent, path: &Path, name: &str, key_id: &str) -> Result<bool, ConfigError> {
    // Removing an inline entry takes its secret off the disk: no backup keeps it, and the
    // backup of the change that wrote it goes too.
    let inline = read_entry(agent, path, name).is_some_and(|e| e.is_bridge_for(key_id) && e.is_inline());
    let mode = file::WriteMode { owner_only: false, skip_backup: inline };
    let updated = update(agent, path, mode, |text| Ok(remove_from(agent, text, name, |e| e.is_bridge_for(key_id))?.into()))?;
    Ok(matches!(updated, file::Updated::Written { .. }))
}

/// The entry `name` in the assistant's file, if present.
pub fn read_entry(agent: Agent, path: &Path, name: &str) -> Option<ServerEntry> {
    entry_in(agent, &std::fs::read_to_string(path).ok()?, name)
}

/// Undoes a [`connect`] as the inverse edit, leaving everything written since in place: the
/// entry it added is removed, or the entry it replaced is put back as it was. A file Keyward
/// created is deleted only if nobody has written to it since (it is byte for byte what
/// Keyward wrote); otherwise only the entry goes and the file stays. If the entry itself was
/// changed since, undo leaves it alone and says so.
pub fn undo(wiring: &Wiring) -> Result<(), ConfigError> {
    if !wiring.changed {
        return Ok(());
    }
    let (agent, path, name) = (wiring.agent, wiring.path.as_path(), wiring.entry_name.as_str());
    let Some(inverse) = &wiring.inverse else {
        return Err(ConfigError::Io(format!(
            "Keyward no longer knows what it changed in {}. Remove the entry \"{name}\" by hand if you do not want it.",
            path.display()
        )));
    };
    // Taking out an inline entry takes its secret off the disk: no backup keeps it.
    let mode = file::WriteMode { owner_only: false, skip_backup: inverse.written.is_inline() };
    update(agent, path, mode, |text| {
        let Some(text) = text else { return Ok(file::Change::Keep) };
        if inverse.created.is_some_and(|d| d == digest(text)) {
            return Ok(file::Change::Remove);
        }
        let changed_since = || ConfigError::ChangedSince { path: path.display().to_string(), name: name.to_owned() };
        match entry_in(agent, text, name) {
            Some(current) if current == inverse.written => {}
            // Now something Keyward would not write (an http server, say): someone else's.
            None if raw_entry_in(agent, text, name).is_some() => return Err(changed_since()),
            // Already gone (or the file no longer parses, which the removal reports).
            None => return Ok(remove_from(agent, Some(text), name, |_| false)?.into()),
            Some(_) => return Err(changed_since()),
        }
        let new_text = match &inverse.replaced {
            None => remove_from(agent, Some(text), name, |_| true)?,
            Some(RawEntry::Json(value)) => json::upsert(Some(text), name, value)?,
            Some(RawEntry::Toml(raw)) => toml::put_back(Some(text), name, raw)?,
        };
        Ok(new_text.into())
    })?;
    Ok(())
}
