//! Every assistant Keyward can wire a key into, as data: one row each. Adding an assistant is
//! adding a variant to [`Agent`] and a row here, with its tests in `tests/config_files.rs`.
//!
//! Each row was checked against the assistant's own documentation or source:
//!
//! | assistant      | file (Linux; macOS; Windows)                                   | servers at            | stdio entry |
//! |----------------|-----------------------------------------------------------------|-----------------------|-------------|
//! | Claude Desktop | `~/.config/Claude/claude_desktop_config.json`; `~/Library/Application Support/Claude/…`; `%APPDATA%\Claude\…`, or the MSIX package's `%LOCALAPPDATA%\Packages\Claude_pzs8sxrjxfjjc\LocalCache\Roaming\Claude\…` when that package is installed | `mcpServers` (JSON) | `{command, args, env}` |
//! | Claude Code    | `~/.claude.json`; project: `DIR/.mcp.json`                      | `mcpServers` (JSON)   | `{type: "stdio", command, args, env}` |
//! | Codex          | `$CODEX_HOME/config.toml` (`~/.codex`); project: `DIR/.codex/config.toml` | `[mcp_servers.NAME]` (TOML) | `command`, `args`, `env` |
//! | Cursor         | `~/.cursor/mcp.json`                                            | `mcpServers` (JSON)   | `{command, args, env}` |
//! | VS Code        | `Code/User/mcp.json` in the OS config folder                    | `servers` (JSONC)     | `{type: "stdio", command, args, env}` |
//! | Windsurf       | `~/.codeium/windsurf/mcp_config.json`                           | `mcpServers` (JSON)   | `{command, args, env}` |
//! | Gemini CLI     | `~/.gemini/settings.json` (`$GEMINI_CLI_HOME/.gemini/…`)               | `mcpServers` (JSONC)  | `{command, args, env}` |
//! | Zed            | `$XDG_CONFIG_HOME/zed/settings.json`; `~/.config/zed/…`; `%APPDATA%\Zed\…` | `context_servers` (JSONC) | `{source: "custom", command, args, env}` |
//! | Goose          | `$XDG_CONFIG_HOME/goose/config.yaml` (Linux, macOS); `%APPDATA%\Block\goose\config\…`; `$GOOSE_PATH_ROOT/config/…` | `extensions` (YAML) | `{type: "stdio", name, cmd, args, envs, enabled, timeout}` |
//! | LM Studio      | `~/.lmstudio/mcp.json` (or `~/.cache/lm-studio/mcp.json`)       | `mcpServers` (JSON)   | `{command, args, env}` |
//! | OpenCode       | `~/.config/opencode/opencode.json` (or `.jsonc`), XDG on every OS | `mcp` (JSONC)       | `{type: "local", command: [cmd, …args], environment, enabled}` |
//!
//! Sources, row by row, are on each row below.

use super::Agent;
use super::format::Format;
use super::location::{Base, EnvOverride, Location, Place};
use super::shape::{Args, Fixed, Shape};

/// One assistant: what it is called, where its file is, and how an entry is written in it.
#[derive(Debug)]
pub struct Spec {
    pub agent: Agent,
    /// On the command line and in files Keyward keeps: `claude-desktop`, `vscode`, …
    pub slug: &'static str,
    /// For people: "Claude Desktop".
    pub name: &'static str,
    pub location: Location,
    pub format: Format,
    /// The top-level key the servers live under.
    pub container: &'static str,
    pub shape: Shape,
    /// The file inside a project folder the assistant also reads (`--project DIR`), if any.
    pub project: Option<&'static str>,
    /// Signs that it is installed besides its config file's folder: programs on `PATH`, and
    /// folders it makes.
    pub programs: &'static [&'static str],
    pub folders: &'static [Place],
    /// Entries are keyed by their name in lower case (Goose rewrites other keys so).
    pub lowercase_names: bool,
}

/// Every environment variable that moves an assistant's file (`KEYWARD_CURSOR_CONFIG`,
/// `CODEX_HOME`, …): what a test clears so each file is where its own home puts it.
pub fn override_variables() -> impl Iterator<Item = &'static str> {
    TABLE.iter().flat_map(|spec| spec.location.env.iter().map(|env| env.var()))
}

/// The same relative path on every OS.
const fn everywhere(places: &'static [Place]) -> (&'static [Place], &'static [Place], &'static [Place]) {
    (places, places, places)
}

const fn location(env: &'static [EnvOverride], (linux, macos, windows): (&'static [Place], &'static [Place], &'static [Place])) -> Location {
    Location { env, linux, macos, windows }
}

const STDIO: &[(&str, Fixed)] = &[("type", Fixed::Str("stdio"))];

pub static TABLE: [Spec; 11] = [
    // https://modelcontextprotocol.io/quickstart/user (the config file per OS); the MSIX
    // package keeps its roaming data under LocalCache (Claude's support article on the
    // Windows Store build, and Windows' MSIX file-system virtualisation).
    Spec {
        agent: Agent::ClaudeDesktop,
        slug: "claude-desktop",
        name: "Claude Desktop",
        location: location(
            &[EnvOverride::File("KEYWARD_CLAUDE_DESKTOP_CONFIG")],
            (
                &[Place::at(Base::Config, "Claude/claude_desktop_config.json")],
                &[Place::at(Base::Config, "Claude/claude_desktop_config.json")],
                &[
                    Place::if_exists(
                        Base::LocalData,
                        "Packages/Claude_pzs8sxrjxfjjc/LocalCache/Roaming/Claude/claude_desktop_config.json",
                        "Packages/Claude_pzs8sxrjxfjjc",
                    ),
                    Place::at(Base::Config, "Claude/claude_desktop_config.json"),
                ],
            ),
        ),
        format: Format::Json,
        container: "mcpServers",
        shape: Shape::PLAIN,
        project: None,
        programs: &[],
        folders: &[],
        lowercase_names: false,
    },
    // https://docs.anthropic.com/en/docs/claude-code/mcp: user scope in ~/.claude.json (in
    // CLAUDE_CONFIG_DIR when set), project scope in .mcp.json at the project's root,
    // `type: "stdio"`.
    Spec {
        agent: Agent::ClaudeCode,
        slug: "claude-code",
        name: "Claude Code",
        location: location(&[EnvOverride::File("KEYWARD_CLAUDE_CODE_CONFIG"), EnvOverride::Folder("CLAUDE_CONFIG_DIR", ".claude.json")], everywhere(&[Place::at(Base::Home, ".claude.json")])),
        format: Format::Json,
        container: "mcpServers",
        shape: Shape::tagged(STDIO),
        project: Some(".mcp.json"),
        programs: &["claude"],
        folders: &[Place::at(Base::Home, ".claude")],
        lowercase_names: false,
    },
    // https://github.com/openai/codex/blob/main/docs/config.md#mcp_servers: $CODEX_HOME
    // (default ~/.codex)/config.toml, and .codex/config.toml in a trusted project.
    Spec {
        agent: Agent::Codex,
        slug: "codex",
        name: "Codex",
        location: location(&[EnvOverride::File("KEYWARD_CODEX_CONFIG"), EnvOverride::Folder("CODEX_HOME", "config.toml")], everywhere(&[Place::at(Base::Home, ".codex/config.toml")])),
        format: Format::Toml,
        container: "mcp_servers",
        shape: Shape::PLAIN,
        project: Some(".codex/config.toml"),
        programs: &["codex"],
        folders: &[],
        lowercase_names: false,
    },
    // https://docs.cursor.com/context/model-context-protocol: ~/.cursor/mcp.json, mcpServers.
    Spec {
        agent: Agent::Cursor,
        slug: "cursor",
        name: "Cursor",
        location: location(&[EnvOverride::File("KEYWARD_CURSOR_CONFIG")], everywhere(&[Place::at(Base::Home, ".cursor/mcp.json")])),
        format: Format::Json,
        container: "mcpServers",
        shape: Shape::PLAIN,
        project: None,
        programs: &["cursor"],
        folders: &[],
        lowercase_names: false,
    },
    // https://code.visualstudio.com/docs/copilot/customization/mcp-servers: the user profile's
    // mcp.json (JSON with comments), `servers.NAME = {type: "stdio", command, args, env}`.
    Spec {
        agent: Agent::Vscode,
        slug: "vscode",
        name: "VS Code",
        location: location(&[EnvOverride::File("KEYWARD_VSCODE_CONFIG")], everywhere(&[Place::at(Base::Config, "Code/User/mcp.json")])),
        format: Format::Jsonc,
        container: "servers",
        shape: Shape::tagged(STDIO),
        project: None,
        programs: &["code"],
        folders: &[],
        lowercase_names: false,
    },
    // https://docs.windsurf.com/windsurf/cascade/mcp: ~/.codeium/windsurf/mcp_config.json.
    Spec {
        agent: Agent::Windsurf,
        slug: "windsurf",
        name: "Windsurf",
        location: location(&[EnvOverride::File("KEYWARD_WINDSURF_CONFIG")], everywhere(&[Place::at(Base::Home, ".codeium/windsurf/mcp_config.json")])),
        format: Format::Json,
        container: "mcpServers",
        shape: Shape::PLAIN,
        project: None,
        programs: &["windsurf"],
        folders: &[],
        lowercase_names: false,
    },
    // https://github.com/google-gemini/gemini-cli/blob/main/docs/tools/mcp-server.md and
    // packages/core/src/config/storage.ts: ~/.gemini/settings.json, or under GEMINI_CLI_HOME
    // (read as JSON with comments stripped), mcpServers.
    Spec {
        agent: Agent::Gemini,
        slug: "gemini",
        name: "Gemini CLI",
        location: location(&[EnvOverride::File("KEYWARD_GEMINI_CONFIG"), EnvOverride::Folder("GEMINI_CLI_HOME", ".gemini/settings.json")], everywhere(&[Place::at(Base::Home, ".gemini/settings.json")])),
        format: Format::Jsonc,
        container: "mcpServers",
        shape: Shape::PLAIN,
        project: None,
        programs: &["gemini"],
        folders: &[],
        lowercase_names: false,
    },
    // https://zed.dev/docs/ai/mcp and zed's crates/paths/src/paths.rs: settings.json (JSON
    // with comments and trailing commas) in $XDG_CONFIG_HOME/zed on Linux, ~/.config/zed on
    // macOS, %APPDATA%\Zed on Windows; `context_servers.NAME = {source: "custom", command,
    // args, env}` (today's zed reads it untagged and ignores `source`; older zed needs it).
    Spec {
        agent: Agent::Zed,
        slug: "zed",
        name: "Zed",
        location: location(
            &[EnvOverride::File("KEYWARD_ZED_CONFIG")],
            (
                &[Place::at(Base::XdgConfig, "zed/settings.json")],
                &[Place::at(Base::Home, ".config/zed/settings.json")],
                &[Place::at(Base::Config, "Zed/settings.json")],
            ),
        ),
        format: Format::Jsonc,
        container: "context_servers",
        shape: Shape::tagged(&[("source", Fixed::Str("custom"))]),
        project: None,
        programs: &["zed", "zeditor"],
        folders: &[],
        lowercase_names: false,
    },
    // https://block.github.io/goose/docs/guides/config-files and block/goose's
    // crates/goose/src/config/{paths,extensions}.rs and agents/extension.rs: config.yaml in
    // goose's config folder (XDG on macOS too; GOOSE_PATH_ROOT/config when set); an
    // `extensions.NAME` entry needs enabled, type, name, cmd and args (the rest default).
    Spec {
        agent: Agent::Goose,
        slug: "goose",
        name: "Goose",
        location: location(
            &[EnvOverride::File("KEYWARD_GOOSE_CONFIG"), EnvOverride::Folder("GOOSE_PATH_ROOT", "config/config.yaml")],
            (
                &[Place::at(Base::XdgConfig, "goose/config.yaml")],
                &[Place::at(Base::XdgConfig, "goose/config.yaml")],
                &[Place::at(Base::Config, "Block/goose/config/config.yaml")],
            ),
        ),
        format: Format::Yaml,
        container: "extensions",
        shape: Shape {
            lead: &[("type", Fixed::Str("stdio")), ("name", Fixed::EntryName)],
            command: "cmd",
            args: Args::Field("args"),
            env: "envs",
            trail: &[("enabled", Fixed::Bool(true)), ("timeout", Fixed::Int(300))],
        },
        project: None,
        programs: &["goose"],
        folders: &[],
        lowercase_names: true,
    },
    // https://lmstudio.ai/docs/app/plugins/mcp: ~/.lmstudio/mcp.json, Cursor's notation; some
    // installs keep their folder in ~/.cache/lm-studio instead (lmstudio-bug-tracker #1371,
    // #2410): there when that is the folder that exists.
    Spec {
        agent: Agent::LmStudio,
        slug: "lm-studio",
        name: "LM Studio",
        location: location(
            &[EnvOverride::File("KEYWARD_LM_STUDIO_CONFIG")],
            everywhere(&[
                Place::if_exists(Base::Home, ".lmstudio/mcp.json", ".lmstudio"),
                Place::if_exists(Base::Home, ".cache/lm-studio/mcp.json", ".cache/lm-studio"),
                Place::at(Base::Home, ".lmstudio/mcp.json"),
            ]),
        ),
        format: Format::Json,
        container: "mcpServers",
        shape: Shape::PLAIN,
        project: None,
        programs: &["lms"],
        folders: &[Place::at(Base::Home, ".cache/lm-studio")],
        lowercase_names: false,
    },
    // https://opencode.ai/docs/mcp-servers and https://opencode.ai/docs/config: the global
    // config in ~/.config/opencode (XDG on every OS), opencode.json or opencode.jsonc, both
    // read as JSONC; `mcp.NAME = {type: "local", command: [cmd, …args], environment, enabled}`.
    Spec {
        agent: Agent::Opencode,
        slug: "opencode",
        name: "OpenCode",
        location: location(
            &[EnvOverride::File("KEYWARD_OPENCODE_CONFIG")],
            everywhere(&[
                Place::if_exists(Base::XdgConfig, "opencode/opencode.json", "opencode/opencode.json"),
                Place::if_exists(Base::XdgConfig, "opencode/opencode.jsonc", "opencode/opencode.jsonc"),
                Place::at(Base::XdgConfig, "opencode/opencode.json"),
            ]),
        ),
        format: Format::Jsonc,
        container: "mcp",
        shape: Shape {
            lead: &[("type", Fixed::Str("local"))],
            command: "command",
            args: Args::AfterCommand,
            env: "environment",
            trail: &[("enabled", Fixed::Bool(true))],
        },
        project: None,
        programs: &["opencode"],
        folders: &[],
        lowercase_names: false,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::ServerEntry;
    use crate::agents::location::{Machine, Os};

    #[test]
    fn every_assistant_has_one_row_and_its_slug_is_its_name_in_files() {
        for spec in &TABLE {
            assert_eq!(TABLE.iter().filter(|s| s.agent == spec.agent).count(), 1, "{}", spec.slug);
            assert_eq!(serde_json::to_value(spec.agent).unwrap(), spec.slug, "the slug is how wired.json and the app name it");
            assert_eq!(Agent::parse(spec.slug), Some(spec.agent));
            assert_eq!(spec.agent.to_string(), spec.name);
        }
    }

    /// This computer's folders, as seen on another OS, under `root`.
    fn machine(os: Os, root: &std::path::Path) -> Machine {
        Machine {
            os,
            home: Some(root.join("home")),
            config: Some(root.join("roaming")),
            local_data: Some(root.join("local")),
            var: Box::new(|_| None),
        }
    }

    #[test]
    fn claude_desktop_on_windows_uses_the_msix_folder_when_that_package_is_installed() {
        let root = tempfile::tempdir().unwrap();
        let windows = machine(Os::Windows, root.path());
        let desktop = &Agent::ClaudeDesktop.spec().location;
        // The classic installer: %APPDATA%\Claude.
        assert_eq!(windows.config_file(desktop).unwrap(), root.path().join("roaming").join("Claude").join("claude_desktop_config.json"));
        // The Microsoft Store (MSIX) package: its own virtualised roaming folder, which is the
        // one Claude reads; a write to %APPDATA%\Claude would be silently ignored.
        std::fs::create_dir_all(root.path().join("local").join("Packages").join("Claude_pzs8sxrjxfjjc")).unwrap();
        assert_eq!(
            windows.config_file(desktop).unwrap(),
            root.path().join("local/Packages/Claude_pzs8sxrjxfjjc/LocalCache/Roaming/Claude/claude_desktop_config.json")
        );
        // macOS and Linux never look there.
        for os in [Os::MacOs, Os::Linux] {
            assert_eq!(machine(os, root.path()).config_file(desktop).unwrap(), root.path().join("roaming/Claude/claude_desktop_config.json"));
        }
    }

    #[test]
    fn every_assistant_has_a_file_on_every_os() {
        let root = tempfile::tempdir().unwrap();
        for os in [Os::Linux, Os::MacOs, Os::Windows] {
            for spec in &TABLE {
                let path = machine(os, root.path()).config_file(&spec.location).unwrap();
                assert!(path.starts_with(root.path()), "{} on {os:?}: {}", spec.slug, path.display());
            }
        }
        // Zed and Goose keep ~/.config on macOS; VS Code uses Application Support there.
        let mac = machine(Os::MacOs, root.path());
        assert_eq!(mac.config_file(&Agent::Zed.spec().location).unwrap(), root.path().join("home/.config/zed/settings.json"));
        assert_eq!(mac.config_file(&Agent::Goose.spec().location).unwrap(), root.path().join("home/.config/goose/config.yaml"));
        assert_eq!(mac.config_file(&Agent::Vscode.spec().location).unwrap(), root.path().join("roaming/Code/User/mcp.json"));
        let windows = machine(Os::Windows, root.path());
        assert_eq!(windows.config_file(&Agent::Goose.spec().location).unwrap(), root.path().join("roaming/Block/goose/config/config.yaml"));
        assert_eq!(windows.config_file(&Agent::Zed.spec().location).unwrap(), root.path().join("roaming/Zed/settings.json"));
        assert_eq!(windows.config_file(&Agent::Opencode.spec().location).unwrap(), root.path().join("home/.config/opencode/opencode.json"));
    }

    #[test]
    fn opencode_and_lm_studio_use_the_file_that_exists() {
        let root = tempfile::tempdir().unwrap();
        let linux = machine(Os::Linux, root.path());
        let (opencode, lm) = (&Agent::Opencode.spec().location, &Agent::LmStudio.spec().location);
        assert_eq!(linux.config_file(opencode).unwrap(), root.path().join("home/.config/opencode/opencode.json"));
        std::fs::create_dir_all(root.path().join("home/.config/opencode")).unwrap();
        std::fs::write(root.path().join("home/.config/opencode/opencode.jsonc"), "{}").unwrap();
        assert_eq!(linux.config_file(opencode).unwrap(), root.path().join("home/.config/opencode/opencode.jsonc"));
        assert_eq!(linux.config_file(lm).unwrap(), root.path().join("home/.lmstudio/mcp.json"));
        std::fs::create_dir_all(root.path().join("home/.cache/lm-studio")).unwrap();
        std::fs::write(root.path().join("home/.cache/lm-studio/mcp.json"), "{}").unwrap();
        assert_eq!(linux.config_file(lm).unwrap(), root.path().join("home/.cache/lm-studio/mcp.json"));
    }

    #[test]
    fn every_row_reads_back_the_entry_it_writes() {
        let entry = ServerEntry::bridge(std::path::Path::new("/opt/keyward"), "Ab12Cd34", "https://k.example", Some("secret"));
        for spec in &TABLE {
            let value = spec.shape.write(&entry, "keyward-x");
            assert_eq!(spec.shape.read(&value).as_ref(), Some(&entry), "{}", spec.slug);
            let text = spec.format.upsert(None, spec.container, "keyward-x", &value).unwrap().unwrap();
            assert_eq!(spec.format.entry(&text, spec.container, "keyward-x"), Some(value), "{}: {text}", spec.slug);
        }
    }
}
