//! Where an assistant keeps its config file on each operating system, and whether it looks
//! installed. The rules are data (see [`super::table`]); this module only evaluates them
//! against a [`Machine`]: the OS, its base folders, its environment. Tests build a `Machine`
//! for Windows or macOS here, where only Linux runs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::ConfigError;

/// The operating systems Keyward knows the assistants' folders on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    Windows,
}

impl Os {
    pub fn current() -> Os {
        if cfg!(target_os = "macos") {
            Os::MacOs
        } else if cfg!(windows) {
            Os::Windows
        } else {
            Os::Linux
        }
    }
}

/// The folder a rule's relative path starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// The home folder (`%USERPROFILE%` on Windows).
    Home,
    /// The OS config folder: `$XDG_CONFIG_HOME` or `~/.config` on Linux, `~/Library/Application
    /// Support` on macOS, `%APPDATA%` (Roaming) on Windows.
    Config,
    /// `$XDG_CONFIG_HOME` or `~/.config` on every OS, for tools that follow XDG everywhere.
    XdgConfig,
    /// `%LOCALAPPDATA%` on Windows (the OS config folder elsewhere).
    LocalData,
}

/// One candidate for a file: `base/rel`, used if `when` (relative to the same base) exists,
/// or unconditionally when `when` is `None`. Paths use `/` and are split into components.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    pub base: Base,
    pub rel: &'static str,
    pub when: Option<&'static str>,
}

impl Place {
    pub const fn at(base: Base, rel: &'static str) -> Place {
        Place { base, rel, when: None }
    }

    /// Used only if `when` exists under the same base (e.g. an MSIX package folder).
    pub const fn if_exists(base: Base, rel: &'static str, when: &'static str) -> Place {
        Place { base, rel, when: Some(when) }
    }
}

/// Where an assistant's config file is.
#[derive(Debug, Clone, Copy)]
pub struct Location {
    /// Environment variables that move the file, the first set one winning: Keyward's own
    /// override naming the file (for tests and unusual setups), then any folder the assistant
    /// itself honours (`CODEX_HOME`, `GEMINI_CLI_HOME`, …).
    pub env: &'static [EnvOverride],
    pub linux: &'static [Place],
    pub macos: &'static [Place],
    pub windows: &'static [Place],
}

#[derive(Debug, Clone, Copy)]
pub enum EnvOverride {
    /// The variable holds the file's path.
    File(&'static str),
    /// The variable holds a folder; the file is `rel` inside it (Codex's `CODEX_HOME`).
    Folder(&'static str, &'static str),
}

impl EnvOverride {
    pub fn var(self) -> &'static str {
        match self {
            EnvOverride::File(var) | EnvOverride::Folder(var, _) => var,
        }
    }
}

/// The facts rules are evaluated against.
pub struct Machine {
    pub os: Os,
    pub home: Option<PathBuf>,
    /// The OS config folder ([`Base::Config`]).
    pub config: Option<PathBuf>,
    /// `%LOCALAPPDATA%` on Windows.
    pub local_data: Option<PathBuf>,
    pub var: Box<dyn Fn(&str) -> Option<OsString>>,
}

impl Machine {
    /// This computer.
    pub fn current() -> Machine {
        let dirs = directories::BaseDirs::new();
        Machine {
            os: Os::current(),
            home: dirs.as_ref().map(|d| d.home_dir().to_owned()),
            config: dirs.as_ref().map(|d| d.config_dir().to_owned()),
            local_data: dirs.as_ref().map(|d| d.data_local_dir().to_owned()),
            var: Box::new(|name| std::env::var_os(name).filter(|v| !v.is_empty())),
        }
    }

    fn base(&self, base: Base) -> Option<PathBuf> {
        match base {
            Base::Home => self.home.clone(),
            Base::Config => self.config.clone(),
            Base::LocalData if self.os == Os::Windows => self.local_data.clone(),
            Base::LocalData => self.config.clone(),
            Base::XdgConfig => {
                (self.var)("XDG_CONFIG_HOME").map(PathBuf::from).filter(|p| p.is_absolute()).or_else(|| Some(self.home.as_ref()?.join(".config")))
            }
        }
    }

    fn resolve(&self, base: Base, rel: &str) -> Option<PathBuf> {
        Some(join(&self.base(base)?, rel))
    }

    /// The path a place names on this machine (its condition aside).
    pub fn place(&self, place: &Place) -> Option<PathBuf> {
        self.resolve(place.base, place.rel)
    }

    /// The config file the assistant reads on this machine.
    pub fn config_file(&self, location: &Location) -> Result<PathBuf, ConfigError> {
        for env in location.env {
            match *env {
                EnvOverride::File(var) => {
                    if let Some(path) = (self.var)(var) {
                        return Ok(PathBuf::from(path));
                    }
                }
                EnvOverride::Folder(var, rel) => {
                    if let Some(folder) = (self.var)(var) {
                        return Ok(join(Path::new(&folder), rel));
                    }
                }
            }
        }
        let places = match self.os {
            Os::Linux => location.linux,
            Os::MacOs => location.macos,
            Os::Windows => location.windows,
        };
        for place in places {
            let applies = match place.when {
                None => true,
                Some(when) => self.resolve(place.base, when).is_some_and(|p| p.exists()),
            };
            if applies && let Some(path) = self.resolve(place.base, place.rel) {
                return Ok(path);
            }
        }
        Err(ConfigError::NoHome)
    }

    /// Whether any of `programs` is on `PATH`.
    pub fn has_program(&self, programs: &[&str]) -> bool {
        let Some(path) = (self.var)("PATH") else {
            return false;
        };
        let suffixes: &[&str] = if self.os == Os::Windows { &[".exe", ".cmd", ".bat"] } else { &[""] };
        std::env::split_paths(&path)
            .any(|folder| programs.iter().any(|program| suffixes.iter().any(|suffix| is_program(&folder.join(format!("{program}{suffix}"))))))
    }
}

#[cfg(unix)]
fn is_program(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_program(path: &Path) -> bool {
    path.is_file()
}

/// `base` with the `/`-separated `rel` appended component by component, so the result uses
/// the OS's own separator.
fn join(base: &Path, rel: &str) -> PathBuf {
    rel.split('/').filter(|c| !c.is_empty()).fold(base.to_owned(), |path, component| path.join(component))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(os: Os, root: &Path, vars: &'static [(&'static str, &'static str)]) -> Machine {
        Machine {
            os,
            home: Some(root.join("home")),
            config: Some(root.join("config")),
            local_data: Some(root.join("local")),
            var: Box::new(move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))),
        }
    }

    const MSIX: Location = Location {
        env: &[EnvOverride::File("KEYWARD_TEST_CONFIG")],
        linux: &[Place::at(Base::Config, "Claude/claude_desktop_config.json")],
        macos: &[Place::at(Base::Config, "Claude/claude_desktop_config.json")],
        windows: &[
            Place::if_exists(
                Base::LocalData,
                "Packages/Claude_pzs8sxrjxfjjc/LocalCache/Roaming/Claude/claude_desktop_config.json",
                "Packages/Claude_pzs8sxrjxfjjc",
            ),
            Place::at(Base::Config, "Claude/claude_desktop_config.json"),
        ],
    };

    #[test]
    fn the_first_place_whose_condition_holds_wins() {
        let dir = tempfile::tempdir().unwrap();
        let windows = machine(Os::Windows, dir.path(), &[]);
        assert_eq!(windows.config_file(&MSIX).unwrap(), dir.path().join("config").join("Claude").join("claude_desktop_config.json"));
        std::fs::create_dir_all(dir.path().join("local/Packages/Claude_pzs8sxrjxfjjc")).unwrap();
        assert_eq!(
            windows.config_file(&MSIX).unwrap(),
            dir.path().join("local/Packages/Claude_pzs8sxrjxfjjc/LocalCache/Roaming/Claude/claude_desktop_config.json")
        );
        // Other systems never look at a Windows package folder.
        assert_eq!(machine(Os::Linux, dir.path(), &[]).config_file(&MSIX).unwrap(), dir.path().join("config/Claude/claude_desktop_config.json"));
    }

    #[test]
    fn the_environment_override_comes_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("local/Packages/Claude_pzs8sxrjxfjjc")).unwrap();
        let m = machine(Os::Windows, dir.path(), &[("KEYWARD_TEST_CONFIG", "/elsewhere/c.json")]);
        assert_eq!(m.config_file(&MSIX).unwrap(), PathBuf::from("/elsewhere/c.json"));
        let folder = Location { env: &[EnvOverride::File("KEYWARD_TEST_CONFIG"), EnvOverride::Folder("TOOL_HOME", "config.toml")], ..MSIX };
        let m = machine(Os::Linux, dir.path(), &[("TOOL_HOME", "/opt/tool")]);
        assert_eq!(m.config_file(&folder).unwrap(), PathBuf::from("/opt/tool/config.toml"));
        let m = machine(Os::Linux, dir.path(), &[("TOOL_HOME", "/opt/tool"), ("KEYWARD_TEST_CONFIG", "/mine.toml")]);
        assert_eq!(m.config_file(&folder).unwrap(), PathBuf::from("/mine.toml"), "Keyward's own override comes first");
    }

    #[test]
    fn xdg_config_follows_the_variable_when_absolute() {
        let dir = tempfile::tempdir().unwrap();
        const ZED: &[Place] = &[Place::at(Base::XdgConfig, "zed/settings.json")];
        let zed = Location { linux: ZED, ..MSIX };
        assert_eq!(machine(Os::Linux, dir.path(), &[]).config_file(&zed).unwrap(), dir.path().join("home/.config/zed/settings.json"));
        let m = machine(Os::Linux, dir.path(), &[("XDG_CONFIG_HOME", "/xdg")]);
        assert_eq!(m.config_file(&zed).unwrap(), PathBuf::from("/xdg/zed/settings.json"));
        let m = machine(Os::Linux, dir.path(), &[("XDG_CONFIG_HOME", "relative")]);
        assert_eq!(m.config_file(&zed).unwrap(), dir.path().join("home/.config/zed/settings.json"), "a relative XDG path is ignored, as the spec says");
    }

    #[test]
    fn programs_are_found_on_path_only_when_executable() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("not-exec"), "").unwrap();
        let m = Machine { var: Box::new(move |_| None), ..machine(Os::Linux, dir.path(), &[]) };
        assert!(!m.has_program(&["sh"]), "no PATH, no programs");
        let path = dir.path().to_owned();
        let m = Machine { var: Box::new(move |name| (name == "PATH").then(|| path.clone().into_os_string())), ..machine(Os::Linux, dir.path(), &[]) };
        assert!(!m.has_program(&["not-exec", "absent"]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path().join("not-exec"), std::fs::Permissions::from_mode(0o755)).unwrap();
            assert!(m.has_program(&["absent", "not-exec"]));
        }
    }
}
