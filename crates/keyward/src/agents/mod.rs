//! Wiring keys into the assistants' configuration files.
//!
//! Which assistants there are, where their files live and how an entry is written in each is
//! one table, [`table::TABLE`]; the rest of this module works from its rows:
//!
//! - [`location`]: the row's file on this OS (environment overrides, MSIX and XDG folders) and
//!   whether the assistant looks installed;
//! - [`shape`]: an entry's fields in the row's shape;
//! - [`format`]: reading and editing JSON, JSON with comments, TOML and YAML as text;
//! - [`file`]: atomic writes with a lock and a backup; [`record`]: where each key was wired.
//!
//! Bridge mode (the default) writes `keyward bridge --key ID --server URL`: no file holds the
//! secret. Inline mode puts the secret in the entry's environment for clients that cannot
//! reach the keychain, and makes the file readable by its owner only. Every write merges,
//! keeps formatting, is atomic, keeps a backup, and refuses a file it cannot parse, leaving it
//! untouched. Disconnecting removes exactly the entry Keyward wrote for that key, and nothing
//! else; undoing a connect is the inverse edit (see [`undo`]), never a whole-file restore, so
//! what the assistant or another key wrote since is kept.

pub mod file;
pub mod format;
mod json;
pub mod location;
pub mod record;
pub mod shape;
pub mod table;
mod toml;
mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use format::RawEntry;
use location::Machine;
use table::{Spec, TABLE};

/// The environment variable the bridge reads an inline key from.
pub const INLINE_KEY_ENV: &str = "KEYWARD_API_KEY";

/// An assistant Keyward can wire a key into. Everything about it is its row in [`TABLE`];
/// the names here are the slugs, as written in Keyward's own files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum Agent {
    ClaudeDesktop,
    ClaudeCode,
    Codex,
    Cursor,
    Vscode,
    Windsurf,
    Gemini,
    Zed,
    Goose,
    LmStudio,
    Opencode,
}

impl Agent {
    /// Every assistant, in the table's order.
    pub fn all() -> impl Iterator<Item = Agent> {
        TABLE.iter().map(|spec| spec.agent)
    }

    /// Its row in the table.
    pub fn spec(self) -> &'static Spec {
        TABLE
            .iter()
            .find(|spec| spec.agent == self)
            .expect("every assistant has a row in the table")
    }

    /// The name used on the command line: `claude-desktop`, `vscode`, `lm-studio`, …
    pub fn slug(self) -> &'static str {
        self.spec().slug
    }

    pub fn parse(text: &str) -> Option<Agent> {
        TABLE
            .iter()
            .find(|spec| spec.slug == text)
            .map(|spec| spec.agent)
    }

    /// Where this assistant reads its MCP servers from on this machine. Tests and unusual
    /// setups override it with the row's environment variable (`KEYWARD_CURSOR_CONFIG`,
    /// `CODEX_HOME`, …).
    pub fn default_path(self) -> Result<PathBuf, ConfigError> {
        Machine::current().config_file(&self.spec().location)
    }

    /// The file this assistant reads in the project folder `dir`, if it has project scope.
    pub fn project_path(self, dir: &Path) -> Result<PathBuf, ConfigError> {
        match self.spec().project {
            Some(rel) => Ok(rel
                .split('/')
                .fold(dir.to_owned(), |path, part| path.join(part))),
            None => {
                let with = TABLE
                    .iter()
                    .filter(|s| s.project.is_some())
                    .map(|s| s.slug)
                    .collect::<Vec<_>>()
                    .join(" and ");
                Err(ConfigError::Io(format!(
                    "{self} has no project configuration. Leave out --project, or use {with}."
                )))
            }
        }
    }

    /// Whether it looks installed here: its config file's folder (if not the home folder
    /// itself), a folder it makes, or its program on `PATH`.
    pub fn looks_installed(self) -> bool {
        let machine = Machine::current();
        let spec = self.spec();
        let config_folder = machine
            .config_file(&spec.location)
            .ok()
            .and_then(|p| p.parent().map(Path::to_owned));
        let home = machine.home.clone();
        config_folder.is_some_and(|f| Some(&f) != home.as_ref() && f.is_dir())
            || spec
                .folders
                .iter()
                .any(|place| machine.place(place).is_some_and(|p| p.exists()))
            || machine.has_program(spec.programs)
    }
}

impl fmt::Display for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec().name)
    }
}

/// Why a configuration file could not be changed. The file is untouched in every case.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "Keyward cannot read the file: {0}. Fix or move the file, then try again; it was left untouched."
    )]
    Unparsable(String),
    #[error("No home folder was found. Set HOME, or give the config file's path.")]
    NoHome,
    #[error("{0}")]
    Io(String),
    #[error(
        "The entry \"{name}\" in {path} was changed since Keyward wrote it, so undo left it as it is. Edit or remove it by hand if you no longer want it."
    )]
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
    pub fn bridge(
        keyward: &Path,
        key_id: &str,
        server: &str,
        inline_key: Option<&str>,
    ) -> ServerEntry {
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
            args: vec![
                "bridge".into(),
                "--key".into(),
                key_id.into(),
                "--server".into(),
                server.into(),
            ],
            env,
        }
    }

    /// Whether this is a Keyward bridge entry for `key_id`.
    pub fn is_bridge_for(&self, key_id: &str) -> bool {
        self.bridge_key() == Some(key_id)
    }

    /// The key this entry runs the bridge for, if it is a Keyward bridge entry.
    pub fn bridge_key(&self) -> Option<&str> {
        if self.args.first().is_none_or(|a| a != "bridge") {
            return None;
        }
        self.args
            .windows(2)
            .find(|w| w[0] == "--key")
            .map(|w| w[1].as_str())
    }

    /// Whether the secret is in the file.
    pub fn is_inline(&self) -> bool {
        self.env.contains_key(INLINE_KEY_ENV)
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
    /// If Keyward created the file: what undo needs to delete it.
    created: Option<Created>,
}

/// A file [`connect`] created.
#[derive(Clone, PartialEq, Eq)]
struct Created {
    /// A digest of the whole file: while the file still matches, nobody else has written to
    /// it and undo may delete it.
    digest: [u8; 32],
    /// The outermost folder that creating the file made, if it made any: undo removes those
    /// folders again while they are empty, since an assistant's folder that exists makes it
    /// look installed.
    made_folder: Option<PathBuf>,
}

impl fmt::Debug for Inverse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The entries may carry a secret; say only what kind of edit this was.
        f.debug_struct("Inverse")
            .field("replaced", &self.replaced.is_some())
            .field("created", &self.created.is_some())
            .finish()
    }
}

/// The outermost of the folders `path` is in that do not exist yet: what writing it would make.
fn outermost_missing_folder(path: &Path) -> Option<PathBuf> {
    path.ancestors().skip(1).take_while(|folder| !folder.as_os_str().is_empty() && !folder.exists()).last().map(Path::to_owned)
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

/// The name an entry goes by in this assistant's file: Goose keys its extensions by their
/// name in lower case, so a key Keyward gave otherwise would not stay put.
fn key_in(agent: Agent, name: &str) -> String {
    if agent.spec().lowercase_names {
        name.to_lowercase()
    } else {
        name.to_owned()
    }
}

/// The entry `name` in a config's text, if it parses and has one Keyward could have written.
fn entry_in(agent: Agent, text: &str, name: &str) -> Option<ServerEntry> {
    let spec = agent.spec();
    spec.shape.read(
        &spec
            .format
            .entry(text, spec.container, &key_in(agent, name))?,
    )
}

fn raw_entry_in(agent: Agent, text: &str, name: &str) -> Option<RawEntry> {
    let spec = agent.spec();
    spec.format
        .raw_entry(text, spec.container, &key_in(agent, name))
}

/// The text without the entry `name`, if `is_ours` says it is Keyward's. `None`: no change.
fn remove_from(
    agent: Agent,
    text: Option<&str>,
    name: &str,
    is_ours: impl Fn(&ServerEntry) -> bool,
) -> Result<Option<String>, ConfigError> {
    let spec = agent.spec();
    spec.format
        .remove(text, spec.container, &key_in(agent, name), |v| {
            spec.shape.read(v).is_some_and(|e| is_ours(&e))
        })
}

/// Every Keyward bridge entry in an assistant's file: the entry's name and the key it runs.
pub fn bridge_entries(agent: Agent, path: &Path) -> Vec<(String, String)> {
    let spec = agent.spec();
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    spec.format
        .entries(&text, spec.container)
        .into_iter()
        .filter_map(|(name, value)| Some((name, spec.shape.read(&value)?.bridge_key()?.to_owned())))
        .collect()
}

/// Adds (or replaces) `name` in the assistant's file at `path`.
pub fn connect(
    agent: Agent,
    path: &Path,
    name: &str,
    entry: &ServerEntry,
) -> Result<Wiring, ConfigError> {
    let mode = file::WriteMode {
        owner_only: entry.is_inline(),
        skip_backup: false,
    };
    let mut inverse = Inverse {
        written: entry.clone(),
        replaced: None,
        created: None,
    };
    // Looked at before the write, which makes them.
    let made_folder = outermost_missing_folder(path);
    let spec = agent.spec();
    let key = key_in(agent, name);
    let updated = update(agent, path, mode, |text| {
        let new_text =
            spec.format
                .upsert(text, spec.container, &key, &spec.shape.write(entry, &key))?;
        inverse.replaced = text.and_then(|t| raw_entry_in(agent, t, name));
        inverse.created = new_text.as_deref().filter(|_| text.is_none()).map(|new| Created { digest: digest(new), made_folder: made_folder.clone() });
        Ok(new_text.into())
    })?;
    let (backup, changed) = match updated {
        file::Updated::Written { backup } => (backup, true),
        file::Updated::Unchanged | file::Updated::Removed => (None, false),
    };
    Ok(Wiring {
        agent,
        path: path.to_owned(),
        entry_name: name.to_owned(),
        backup,
        changed,
        inverse: changed.then_some(inverse),
    })
}

/// Removes the entry `name` from the assistant's file if it is Keyward's entry for `key_id`.
/// Returns whether it was there.
pub fn disconnect(
    agent: Agent,
    path: &Path,
    name: &str,
    key_id: &str,
) -> Result<bool, ConfigError> {
    // A file that is not there, or does not mention the entry, has nothing to take out: it
    // is neither parsed (one broken file must not stop a revocation) nor touched (no lock
    // file, no folder made where an assistant never was).
    match std::fs::read_to_string(path) {
        Ok(text) if text.contains(&key_in(agent, name)) => {}
        Ok(_) => return Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(ConfigError::Io(format!("Could not read {} ({e}). Check its permissions.", path.display()))),
    }
    // Removing an inline entry takes its secret off the disk: no backup keeps it, and the
    // backup of the change that wrote it goes too.
    let inline =
        read_entry(agent, path, name).is_some_and(|e| e.is_bridge_for(key_id) && e.is_inline());
    let mode = file::WriteMode {
        owner_only: false,
        skip_backup: inline,
    };
    let updated = update(agent, path, mode, |text| {
        Ok(remove_from(agent, text, name, |e| e.is_bridge_for(key_id))?.into())
    })?;
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
    if !wiring.changed || !wiring.path.exists() {
        return Ok(());
    }
    let (agent, path, name) = (
        wiring.agent,
        wiring.path.as_path(),
        wiring.entry_name.as_str(),
    );
    let Some(inverse) = &wiring.inverse else {
        return Err(ConfigError::Io(format!(
            "Keyward no longer knows what it changed in {}. Remove the entry \"{name}\" by hand if you do not want it.",
            path.display()
        )));
    };
    // Taking out an inline entry takes its secret off the disk: no backup keeps it.
    let mode = file::WriteMode {
        owner_only: false,
        skip_backup: inverse.written.is_inline(),
    };
    update(agent, path, mode, |text| {
        let Some(text) = text else {
            return Ok(file::Change::Keep);
        };
        if let Some(created) = inverse.created.as_ref().filter(|c| c.digest == digest(text)) {
            return Ok(file::Change::Remove { made_folder: created.made_folder.clone() });
        }
        let changed_since = || ConfigError::ChangedSince {
            path: path.display().to_string(),
            name: name.to_owned(),
        };
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
            Some(raw) => agent.spec().format.put_back(
                Some(text),
                agent.spec().container,
                &key_in(agent, name),
                raw,
            )?,
        };
        Ok(new_text.into())
    })?;
    Ok(())
}
