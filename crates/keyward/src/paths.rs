//! Where Keyward keeps its local files: the platform's config and data folders, each
//! overridable (`KEYWARD_CONFIG_DIR`, `KEYWARD_DATA_DIR`) for tests and portable installs.

use std::path::PathBuf;

/// The folders Keyward uses on this machine.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `profile.json`: which key service and store this machine is signed in to.
    pub config_dir: PathBuf,
    /// `mirror.db`, the verifier mirror, and `wired.json`, where Keyward wrote each key's
    /// config entries.
    pub data_dir: PathBuf,
}

impl Paths {
    /// The platform defaults, unless the environment overrides them.
    pub fn from_env() -> Result<Paths, String> {
        let dirs = directories::ProjectDirs::from("dev", "Keyward", "keyward");
        let pick = |var: &str, default: Option<PathBuf>| -> Result<PathBuf, String> {
            match std::env::var_os(var) {
                Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
                _ => default.ok_or_else(|| format!("No home folder was found, so Keyward cannot keep its files. Set {var} to a folder.")),
            }
        };
        Ok(Paths {
            config_dir: pick("KEYWARD_CONFIG_DIR", dirs.as_ref().map(|d| d.config_dir().to_owned()))?,
            data_dir: pick("KEYWARD_DATA_DIR", dirs.as_ref().map(|d| d.data_dir().to_owned()))?,
        })
    }

    pub fn profile(&self) -> PathBuf {
        self.config_dir.join("profile.json")
    }

    /// The key service last signed in to, kept after signing out so sign-in can offer it.
    pub fn last_server(&self) -> PathBuf {
        self.config_dir.join("last-server")
    }

    pub fn mirror(&self) -> PathBuf {
        self.data_dir.join("mirror.db")
    }

    /// Which assistant used which key here, per day (see [`crate::usage`]).
    pub fn usage(&self) -> PathBuf {
        self.data_dir.join("usage.db")
    }

    /// The record of every config entry Keyward wrote (see [`crate::agents::record`]).
    pub fn wired(&self) -> PathBuf {
        self.data_dir.join("wired.json")
    }
}
