//! The command line: parsing, one function per command, and output.

mod output;
mod run;

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::builder::TypedValueParser;
use clap::{Parser, Subcommand, ValueEnum};
use keyward::agents::{Agent, INLINE_KEY_ENV};
use keyward::bridge::{self, BridgeConfig, KeySource};
use keyward::client::ClientError;
use keyward::manager::{Error, Manager};
use keyward::paths::Paths;
use keyward::vault::{Vault, VaultError};
use keyward_core::Scopes;
use keyward_core::wire::UpdateKeyRequest;
use output::Out;

/// Exit codes scripts can rely on.
pub mod exit {
    pub const OK: u8 = 0;
    /// Anything not listed below.
    pub const FAILED: u8 = 1;
    /// The command line was wrong (clap's own code).
    pub const USAGE: u8 = 2;
    /// Not signed in, or this device's session ended.
    pub const SIGN_IN: u8 = 3;
    /// The key service could not be reached.
    pub const UNREACHABLE: u8 = 4;
    /// The key service refused the request (a 4xx answer).
    pub const REFUSED: u8 = 5;
    /// No OS keychain is reachable.
    pub const KEYCHAIN: u8 = 6;
    /// An assistant's config file could not be parsed; it was left untouched.
    pub const CONFIG: u8 = 7;
    /// `keyward verify`: the key is not valid (malformed, unknown, revoked, expired, deactivated);
    /// `keyward run`: the mirror knows the key cannot work, so the command was not started.
    pub const KEY_NOT_VALID: u8 = 8;
    /// `keyward scan`: a key that still works was found (for pre-commit hooks and CI).
    pub const WORKING_KEY_FOUND: u8 = 9;
}

#[derive(Parser)]
#[command(name = "keyward", version, about = "Scoped API keys for your store's AI assistants: create, wire, revoke.")]
struct Cli {
    /// Print JSON instead of tables, for scripts.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in to a key service. The password is read from KEYWARD_PASSWORD, standard input, or a prompt.
    Login {
        /// The key service's address.
        #[arg(long, env = "KEYWARD_SERVER", default_value = keyward::manager::DEFAULT_SERVER)]
        server: String,
        /// The email address you sign in to the store with.
        #[arg(long)]
        email: String,
        /// How this machine is listed among your devices.
        #[arg(long)]
        device_name: Option<String>,
    },
    /// Sign this device out and forget its session.
    Logout,
    /// Change your password; every other device you are signed in on is signed out. Asks for
    /// the current password and the new one twice, without echo; or reads them from standard
    /// input, one per line (current, new, and optionally new again). Never from the command line.
    Password,
    /// The people who can sign in to the store. Only the owner adds and removes staff.
    Staff {
        #[command(subcommand)]
        command: Option<StaffCommand>,
    },
    /// List, create, change, revoke and rotate keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Wire a key into an assistant's config (bridge mode: no secret in the file).
    Connect {
        #[arg(value_parser = agent_parser())]
        agent: Agent,
        #[arg(long = "key")]
        key_id: String,
        /// Put the secret itself in the config (for clients that cannot run the bridge); the file becomes owner-only.
        /// Not with --project: a project's file is usually committed.
        #[arg(long, conflicts_with = "project")]
        inline: bool,
        #[command(flatten)]
        file: ConfigFile,
    },
    /// Remove a key's entry from an assistant's config.
    Disconnect {
        #[arg(value_parser = agent_parser())]
        agent: Agent,
        #[arg(long = "key")]
        key_id: String,
        #[command(flatten)]
        file: ConfigFile,
    },
    /// Which assistant used which key on this computer, per day (calls, errors, last call),
    /// beside the key service's own "last used".
    Usage {
        #[arg(long = "key")]
        key_id: Option<String>,
    },
    /// Every assistant Keyward can wire: whether it looks installed here, its config file, and
    /// the keys wired into it.
    Assistants,
    /// Run a command with a key in its environment (KEYWARD_API_KEY, or --env NAME, and
    /// KEYWARD_SERVER), taken from the keychain and checked against the verifier mirror first.
    /// The key is written nowhere; the command's exit code is passed through, and signals sent
    /// to keyward reach the command.
    Run {
        #[arg(long = "key")]
        key_id: String,
        /// The environment variable the key goes in.
        #[arg(long = "env", default_value = INLINE_KEY_ENV, value_parser = env_name)]
        env: String,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, num_args = 1..)]
        command: Vec<std::ffi::OsString>,
    },
    /// Find leaked keys of this deployment: by their format and checksum, with each one's status
    /// from the verifier mirror. Without paths: your home folder's dotfiles and shell histories,
    /// every assistant config Keyward knows, and .env* files under this folder. Exits 9 when a
    /// key that still works was found, 0 otherwise. Never prints a secret.
    Scan {
        /// Files and folders to scan (folders honour .gitignore unless --no-ignore).
        paths: Vec<PathBuf>,
        /// Also scan the git history of each folder given (or of this folder).
        #[arg(long)]
        git: bool,
        /// Scan files that .gitignore and .ignore exclude too.
        #[arg(long)]
        no_ignore: bool,
        /// How to print the finds: for people, JSON (as --json), or SARIF for code scanning.
        #[arg(long, value_enum, default_value = "text")]
        format: ScanFormat,
        /// Roll every working key found: rotate it, keep the new secret in the keychain, move the
        /// assistants that used it to the new key (inline entries become bridge entries), and
        /// say which files still hold the dead secret. Only assistant configs are edited.
        #[arg(long)]
        fix: bool,
        /// With --fix: seconds the leaked key keeps working, for other machines to switch over.
        #[arg(long, default_value_t = 0, requires = "fix")]
        overlap: u32,
        /// With --fix: do not ask first.
        #[arg(long, requires = "fix")]
        yes: bool,
    },
    /// Check a key offline against the verifier mirror. The key is read from standard input,
    /// or asked for without echo; never from the command line, where other programs can see it.
    Verify,
    /// The verifier mirror.
    #[command(subcommand)]
    Mirror(MirrorCommand),
    /// Signed-in devices.
    Devices {
        #[command(subcommand)]
        command: Option<DevicesCommand>,
    },
    /// Who did what, when.
    Audit {
        /// How many events to show, newest first.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The next page: the number a page ends with ("More: keyward audit --before N", or `next_before` in --json).
        #[arg(long)]
        before: Option<i64>,
    },
    /// Apps connected through OAuth (claude.ai, ChatGPT, partner apps), the store's MCP URL to
    /// connect one, and one-time codes for the consent page.
    Connections {
        #[command(subcommand)]
        command: Option<ConnectionsCommand>,
    },
    /// Relay MCP between an assistant (stdio) and the key service. Assistants run this.
    Bridge {
        /// The key's id; its secret is taken from the keychain, or from KEYWARD_API_KEY when an
        /// inline entry sets it.
        #[arg(long = "key")]
        key_id: String,
        /// The key service's address (default: the one this machine is signed in to).
        #[arg(long)]
        server: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List keys (newest first).
    List {
        /// Include revoked keys.
        #[arg(long)]
        all: bool,
    },
    /// Create a key; its secret goes into the keychain.
    Create {
        /// A label saying what the key is for, e.g. "Claude on the shop laptop".
        #[arg(long)]
        name: String,
        /// Read & write instead of read only.
        #[arg(long)]
        write: bool,
        /// Expiry as an RFC 3339 time, e.g. 2027-01-31T00:00:00Z.
        #[arg(long, conflicts_with = "expires_in_days")]
        expires_at: Option<String>,
        /// Expiry in days from now.
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// Print the secret (once). Without this, it only goes into the keychain.
        #[arg(long)]
        show_secret: bool,
    },
    /// Rename a key.
    Rename { id: String, name: String },
    /// Change a key's scope.
    Scope { id: String, scope: ScopeArg },
    /// Switch a key off until reactivated.
    Deactivate { id: String },
    /// Switch a deactivated key back on.
    Reactivate { id: String },
    /// Revoke a key for good; also removes its assistant entries and keychain item here.
    Revoke { id: String },
    /// Replace a key with a new one; assistant entries here move to the new key.
    Rotate {
        id: String,
        /// Seconds the old key keeps working, for other machines to switch over.
        #[arg(long, default_value_t = 0)]
        overlap: u32,
        /// Print the new secret (once). Without this, it only goes into the keychain.
        #[arg(long)]
        show_secret: bool,
    },
}

#[derive(Subcommand)]
enum MirrorCommand {
    /// Fetch changes since the last sync.
    Sync,
    /// How old the mirror is.
    Status,
}

#[derive(Subcommand)]
enum DevicesCommand {
    /// Every device of the store, signed in or signed out, and who signed it in.
    List,
    /// Sign a device out (e.g. a lost laptop).
    SignOut {
        id: String,
        /// Also revoke every key created and every web-chat connection granted from that device.
        #[arg(long)]
        revoke_keys: bool,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Everyone who can sign in, with their role.
    List,
    /// Add a staff member (owner only). Their password is asked for twice without echo, or
    /// read from the first line of standard input; never from the command line.
    Add {
        /// Their name, as the store's people list and audit show it.
        #[arg(long)]
        name: String,
        /// The email address they will sign in with.
        #[arg(long)]
        email: String,
    },
    /// Remove a staff member (owner only): they can no longer sign in, and are signed out everywhere.
    Remove { id: String },
}

#[derive(Subcommand)]
enum ConnectionsCommand {
    /// Every connected app: name, kind, redirect host, who granted it, when, scope, last use, status.
    List,
    /// Revoke a connection: its tokens stop working at once, and the app must ask for consent again.
    Revoke { id: String },
    /// Print the store's MCP URL, to add as a custom connector in claude.ai or ChatGPT.
    Url,
    /// Make a one-time connection code (valid 10 minutes) to paste on the consent page that
    /// opens when claude.ai or ChatGPT connects, instead of signing in there.
    Code {
        /// Read & write instead of read only.
        #[arg(long)]
        write: bool,
        /// The app the code is for, as the audit trail names it.
        #[arg(long)]
        app: Option<String>,
    },
}

/// Which file of an assistant: its usual one, another one, or a project's.
#[derive(clap::Args)]
struct ConfigFile {
    /// Use this config file instead of the assistant's usual one.
    #[arg(long, conflicts_with = "project")]
    config: Option<PathBuf>,
    /// Use the project's own file in this folder (Claude Code's .mcp.json, Codex's .codex/config.toml).
    #[arg(long)]
    project: Option<PathBuf>,
}

impl ConfigFile {
    fn path(&self, agent: Agent) -> Result<Option<PathBuf>, Failure> {
        match (&self.config, &self.project) {
            (Some(path), _) => Ok(Some(path.clone())),
            (None, Some(dir)) => {
                if !dir.is_dir() {
                    return Err(Failure::usage(format!("The project folder {} does not exist. Give the folder the project is in.", dir.display())));
                }
                Ok(Some(agent.project_path(dir).map_err(|e| Failure::usage(e.to_string()))?))
            }
            (None, None) => Ok(None),
        }
    }
}

/// The assistants' slugs as clap's choices, so `--help` lists them and a typo gets suggestions.
fn agent_parser() -> impl TypedValueParser<Value = Agent> {
    clap::builder::PossibleValuesParser::new(Agent::all().map(|a| a.slug())).map(|slug| Agent::parse(&slug).expect("clap only lets the table's slugs through"))
}

/// An environment variable's name: letters, digits and `_`, not starting with a digit.
fn env_name(name: &str) -> Result<String, String> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok { Ok(name.to_owned()) } else { Err(format!("\"{name}\" is not an environment variable name. Use letters, digits and _, e.g. SHOP_API_KEY.")) }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScanFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Clone, Copy, ValueEnum)]
enum ScopeArg {
    Read,
    ReadWrite,
}

/// A failure and the exit code it maps to.
struct Failure {
    code: u8,
    message: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::NotSignedIn | Error::SessionEnded | Error::SessionExpired(_) => exit::SIGN_IN,
            Error::Client(ClientError::Unreachable { .. }) => exit::UNREACHABLE,
            Error::Client(ClientError::Refused { .. }) => exit::REFUSED,
            Error::Client(_) => exit::FAILED,
            Error::Vault(VaultError::Unavailable(_)) => exit::KEYCHAIN,
            Error::Vault(_) => exit::KEYCHAIN,
            Error::Config(keyward::agents::ConfigError::Unparsable(_)) => exit::CONFIG,
            Error::KeyRefused(_) => exit::KEY_NOT_VALID,
            Error::Config(_) | Error::Mirror(_) | Error::Invalid(_) => exit::FAILED,
        };
        Failure { code, message: e.to_string() }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure { code: exit::FAILED, message }
    }
}

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure { code: exit::USAGE, message: message.into() }
    }
}

type Outcome = Result<u8, Failure>;

pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::UnknownArgument && is_verify(&args) => {
            eprintln!("keyward: {VERIFY_TAKES_NO_KEY}");
            return ExitCode::from(exit::USAGE);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { exit::OK });
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("KEYWARD_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Could not start ({e}). Try again.");
            return ExitCode::from(exit::FAILED);
        }
    };
    let out = Out { json: cli.json };
    match runtime.block_on(run(cli.command, &out)) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            out.error(&failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn manager() -> Result<Manager, Failure> {
    let paths = Paths::from_env()?;
    let program = std::env::current_exe().map_err(|e| format!("Could not find the keyward program's own path ({e}). Run it by its full path."))?;
    Ok(Manager::new(paths, program))
}

/// A secret from the environment variable `env`, else as [`read_secret`] reads it.
fn read_secret_input(what: &str, env: &str) -> Result<String, Failure> {
    match std::env::var(env) {
        Ok(value) => Ok(value),
        Err(_) => read_secret(what),
    }
}

/// A secret from a prompt that does not echo it (on a terminal), else from standard input.
fn read_secret(what: &str) -> Result<String, Failure> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(format!("{what}: ")).map_err(|e| Failure::from(format!("Could not read the {what} ({e}). Pipe it in on standard input instead.")));
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| Failure::from(format!("Could not read the {what} from standard input ({e}).")))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

/// Secrets a person types, one per prompt: on a terminal each is asked for without echo;
/// otherwise they are read from standard input, one per line, and lines left out are missing.
fn read_secret_lines(prompts: &[&str]) -> Result<Vec<String>, Failure> {
    if std::io::stdin().is_terminal() {
        return prompts.iter().map(|what| read_secret(what)).collect();
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| Failure::from(format!("Could not read standard input ({e}).")))?;
    Ok(text.lines().take(prompts.len()).map(|line| line.trim_end_matches('\r').to_owned()).collect())
}

/// A new password from what [`read_secret_lines`] read at `new` and, if given, its
/// confirmation just after: they must agree. `how` says how to give them, for the sentence.
fn new_password(mut lines: Vec<String>, new: usize, how: &str) -> Result<String, Failure> {
    let again = (lines.len() > new + 1).then(|| lines.remove(new + 1));
    let password = lines.into_iter().nth(new).filter(|p| !p.is_empty()).ok_or_else(|| Failure::usage(format!("No new password was given. {how}")))?;
    if again.is_some_and(|again| again != password) {
        return Err(Failure::from("The two new passwords differ, so nothing was changed. Type the same password twice.".to_owned()));
    }
    Ok(password)
}

/// What `keyward verify KEY` gets instead of clap's own error, which would print the key
/// back: the sentence says how to give it.
const VERIFY_TAKES_NO_KEY: &str = "keyward verify does not take the key on the command line, where other programs on this machine can see it and your shell keeps it in its history. Run `keyward verify` and paste the key when asked, or pipe it in on standard input: `keyward verify < key.txt`.";

/// Whether the words given are `keyward [--json] verify …`.
fn is_verify(args: &[std::ffi::OsString]) -> bool {
    args.iter().skip(1).find(|a| !a.to_string_lossy().starts_with('-')).is_some_and(|a| a == "verify")
}

fn scopes(write: bool) -> Scopes {
    if write { Scopes::read_write() } else { Scopes::read_only() }
}

async fn run(command: Command, out: &Out) -> Outcome {
    match command {
        Command::Bridge { key_id, server } => run_bridge(key_id, server).await,
        Command::Login { server, email, device_name } => {
            let password = read_secret_input("Password", "KEYWARD_PASSWORD")?;
            let device = device_name.unwrap_or_else(default_device_name);
            let profile = manager()?.login(&server, &email, &password, &device).await?;
            out.login(&profile);
            Ok(exit::OK)
        }
        Command::Logout => {
            manager()?.logout().await?;
            out.message("Signed out. This device's session is gone from the keychain.", &serde_json::json!({"signed_out": true}));
            Ok(exit::OK)
        }
        Command::Password => {
            const HOW: &str = "Type it when asked, or pipe the current and the new password in on standard input, one per line.";
            let manager = manager()?;
            manager.profile()?; // Not signed in: say so before asking for anything.
            let lines = read_secret_lines(&["Current password", "New password", "New password again"])?;
            let current = lines.first().filter(|p| !p.is_empty()).cloned().ok_or_else(|| Failure::usage(format!("No current password was given. {HOW}")))?;
            let new = new_password(lines, 1, HOW)?;
            let changed = manager.change_password(&current, &new).await?;
            let text = format!(
                "Password changed. {} of yours signed out; this one stays signed in.",
                output::count(changed.signed_out_devices, "other device")
            );
            out.message(&text, &serde_json::to_value(&changed).unwrap_or_default());
            Ok(exit::OK)
        }
        Command::Staff { command } => staff(command.unwrap_or(StaffCommand::List), out).await,
        Command::Keys(command) => keys(command, out).await,
        Command::Connect { agent, key_id, inline, file } => {
            let wiring = manager()?.connect(agent, &key_id, inline, file.path(agent)?.as_deref()).await?;
            out.connected(&wiring, inline);
            Ok(exit::OK)
        }
        Command::Disconnect { agent, key_id, file } => {
            let removed = manager()?.disconnect(agent, &key_id, file.path(agent)?.as_deref()).await?;
            let text = if removed { format!("Removed the key's entry from {agent}'s config.") } else { format!("{agent}'s config had no entry for that key; nothing changed.") };
            out.message(&text, &serde_json::json!({"agent": agent, "removed": removed}));
            Ok(exit::OK)
        }
        Command::Scan { paths, git, no_ignore, format, fix, overlap, yes } => {
            let format = if out.json && format == ScanFormat::Text { ScanFormat::Json } else { format };
            // A mistyped path would otherwise scan nothing and pass, in a hook or CI, as clean.
            for path in &paths {
                match path.try_exists() {
                    Ok(true) => {}
                    Ok(false) => return Err(Failure::usage(format!("{} does not exist, so it cannot be scanned. Give files or folders that exist.", path.display()))),
                    Err(e) => return Err(Failure::usage(format!("Could not look at {} ({e}). Check its permissions, or scan another path.", path.display()))),
                }
            }
            let request = keyward::manager::ScanRequest { paths, git, options: keyward::scan::Options { no_ignore } };
            let manager = manager()?;
            let finds = scan_with_progress(&manager, &request).await?;
            if fix {
                return fix_finds(&manager, &finds, overlap, yes, out).await;
            }
            match format {
                ScanFormat::Text => out.finds(&finds),
                ScanFormat::Json => println!("{}", serde_json::to_string_pretty(&finds).unwrap_or_default()),
                ScanFormat::Sarif => println!("{}", serde_json::to_string_pretty(&output::sarif(&finds)).unwrap_or_default()),
            }
            Ok(if finds.iter().any(|f| f.status.works()) { exit::WORKING_KEY_FOUND } else { exit::OK })
        }
        Command::Assistants => {
            out.assistants(&manager()?.assistants());
            Ok(exit::OK)
        }
        Command::Run { key_id, env, command } => {
            let manager = manager()?;
            let environment = manager.run_environment(&key_id).await?;
            let code = run::run(&environment, &env, &command).await;
            // Only the program's name, never its arguments; failing to note it loses nothing.
            let program = command.first().map(|p| Path::new(p).file_name().unwrap_or(p).to_string_lossy().into_owned()).unwrap_or_default();
            let _ = manager.record_use(&environment.server, &environment.key_id, &format!("keyward run: {program}"), matches!(code, Ok(exit::OK)));
            code
        }
        Command::Usage { key_id } => {
            out.usage(&manager()?.usage(key_id.as_deref()).await?);
            Ok(exit::OK)
        }
        Command::Verify => {
            let key = read_secret("Key")?;
            let verification = manager()?.verify(&key)?;
            out.verification(&verification);
            Ok(if verification.verdict.is_valid() { exit::OK } else { exit::KEY_NOT_VALID })
        }
        Command::Mirror(MirrorCommand::Sync) => {
            let report = manager()?.sync_mirror().await?;
            out.message(&format!("Mirror synced: {}, {} known.", output::count(report.changed, "change"), output::count(report.keys, "key")), &serde_json::to_value(&report).unwrap_or_default());
            Ok(exit::OK)
        }
        Command::Mirror(MirrorCommand::Status) => {
            out.mirror_status(&manager()?.mirror_status()?);
            Ok(exit::OK)
        }
        Command::Devices { command } => match command.unwrap_or(DevicesCommand::List) {
            DevicesCommand::List => {
                out.devices(&manager()?.devices().await?);
                Ok(exit::OK)
            }
            DevicesCommand::SignOut { id, revoke_keys } => {
                let result = manager()?.sign_out_device(&id, revoke_keys).await?;
                let text = if revoke_keys {
                    format!(
                        "Signed out \"{}\" and revoked the {} created and the {} granted from it.",
                        result.device.name,
                        output::count(result.revoked_keys, "key"),
                        output::count(result.revoked_connections, "web-chat connection")
                    )
                } else {
                    format!("Signed out \"{}\". The keys and connections made from it keep working (--revoke-keys revokes them too).", result.device.name)
                };
                out.message(&text, &serde_json::to_value(&result).unwrap_or_default());
                Ok(exit::OK)
            }
        },
        Command::Audit { limit, before } => {
            out.audit(&manager()?.audit(before, limit).await?);
            Ok(exit::OK)
        }
        Command::Connections { command } => match command.unwrap_or(ConnectionsCommand::List) {
            ConnectionsCommand::List => {
                let manager = manager()?;
                let (connections, mcp_url) = tokio::join!(manager.connections(), manager.mcp_url());
                // The URL is only a hint above the list; the list stands without it.
                out.connections(&connections?, mcp_url.ok().as_deref());
                Ok(exit::OK)
            }
            ConnectionsCommand::Url => {
                out.mcp_url(&manager()?.mcp_url().await?);
                Ok(exit::OK)
            }
            ConnectionsCommand::Revoke { id } => {
                let connection = manager()?.revoke_connection(&id).await?;
                let text = format!(
                    "Revoked the connection of \"{}\"; its tokens stopped working. To connect it again, the app must go through the consent page again.",
                    connection.app_name
                );
                out.message(&text, &serde_json::to_value(&connection).unwrap_or_default());
                Ok(exit::OK)
            }
            ConnectionsCommand::Code { write, app } => {
                let manager = manager()?;
                let code = manager.connection_code(scopes(write), app).await?;
                out.connection_code(&code, manager.mcp_url().await.ok().as_deref());
                Ok(exit::OK)
            }
        },
    }
}

async fn staff(command: StaffCommand, out: &Out) -> Outcome {
    let manager = manager()?;
    match command {
        StaffCommand::List => out.staff(&manager.staff().await?),
        StaffCommand::Add { name, email } => {
            manager.profile()?;
            let password = new_password(
                read_secret_lines(&[&format!("Password for {name}"), "Password again"])?,
                0,
                "Type it when asked, or pipe it in on standard input.",
            )?;
            let member = manager.add_staff(&name, &email, &password).await?;
            let text = format!(
                "Added {} <{}> as staff (id {}). They sign in with `keyward login --email {}` and the password you chose.",
                member.name, member.email, member.id, member.email
            );
            out.message(&text, &serde_json::to_value(&member).unwrap_or_default());
        }
        StaffCommand::Remove { id } => {
            let removed = manager.remove_staff(&id).await?;
            let text = format!(
                "Removed {} <{}>: they can no longer sign in, and {} of theirs signed out. Keys and connections they made keep working until revoked.",
                removed.member.name,
                removed.member.email,
                output::count(removed.signed_out_devices, "device")
            );
            out.message(&text, &serde_json::to_value(&removed).unwrap_or_default());
        }
    }
    Ok(exit::OK)
}

async fn keys(command: KeysCommand, out: &Out) -> Outcome {
    let manager = manager()?;
    match command {
        KeysCommand::List { all } => {
            out.keys(&manager.keys(all).await?);
        }
        KeysCommand::Create { name, write, expires_at, expires_in_days, show_secret } => {
            let expires_at = match (expires_at, expires_in_days) {
                (Some(text), _) => Some(
                    time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
                        .map_err(|_| Failure::from(format!("\"{text}\" is not an RFC 3339 time. Write it like 2027-01-31T00:00:00Z.")))?
                        .into(),
                ),
                (None, Some(days)) => Some((time::OffsetDateTime::now_utc() + time::Duration::days(i64::from(days))).into()),
                (None, None) => None,
            };
            let created = manager.create_key(&name, scopes(write), expires_at).await?;
            out.created(&created.record, show_secret.then_some(created.key.as_str()));
        }
        KeysCommand::Rename { id, name } => {
            let record = manager.update_key(&id, UpdateKeyRequest { name: Some(name), ..Default::default() }).await?;
            out.key_changed("Renamed", &record);
        }
        KeysCommand::Scope { id, scope } => {
            let scopes = match scope {
                ScopeArg::Read => Scopes::read_only(),
                ScopeArg::ReadWrite => Scopes::read_write(),
            };
            let record = manager.update_key(&id, UpdateKeyRequest { scopes: Some(scopes), ..Default::default() }).await?;
            out.key_changed("Rescoped", &record);
        }
        KeysCommand::Deactivate { id } => {
            let record = manager.update_key(&id, UpdateKeyRequest { is_active: Some(false), ..Default::default() }).await?;
            out.key_changed("Deactivated", &record);
        }
        KeysCommand::Reactivate { id } => {
            let record = manager.update_key(&id, UpdateKeyRequest { is_active: Some(true), ..Default::default() }).await?;
            out.key_changed("Reactivated", &record);
        }
        KeysCommand::Revoke { id } => {
            out.revoked(&manager.revoke_key(&id).await?);
        }
        KeysCommand::Rotate { id, overlap, show_secret } => {
            let rotated = manager.rotate_key(&id, overlap).await?;
            out.rotated(&rotated, show_secret);
            if rotated.not_kept.is_some() {
                return Ok(exit::KEYCHAIN);
            }
        }
    }
    Ok(exit::OK)
}

/// `keyward scan --fix`: rolls each working key found, after asking (unless `--yes`), and says
/// what it did and which files still hold a dead secret.
async fn fix_finds(manager: &Manager, finds: &[keyward::manager::Find], overlap: u32, yes: bool, out: &Out) -> Outcome {
    let mut leaked: Vec<&keyward::manager::Find> = finds.iter().filter(|f| f.status.works()).collect();
    leaked.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    leaked.dedup_by(|a, b| a.key_id == b.key_id);
    if leaked.is_empty() {
        out.message("No key that still works was found; nothing to roll.", &serde_json::json!({"rolled": []}));
        return Ok(exit::OK);
    }
    let names: Vec<String> = leaked.iter().map(|f| f.key_prefix.clone()).collect();
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::usage(format!("{} would be rotated ({}). Run again with --yes to roll them without being asked.", output::count(names.len(), "key"), names.join(", "))));
        }
        eprint!("Rotate {} now ({})? Assistants here move to the new keys. [y/N] ", output::count(names.len(), "leaked key"), names.join(", "));
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).map_err(|e| Failure::from(format!("Could not read the answer ({e}). Pass --yes instead.")))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            out.message("Nothing was changed.", &serde_json::json!({"rolled": []}));
            return Ok(exit::WORKING_KEY_FOUND);
        }
    }
    let mut report = Vec::new();
    let mut failed = false;
    for find in leaked {
        match manager.roll_found(&find.key_id, finds, overlap).await {
            Ok(keyward::manager::Rolled { rotated, still_holding: still }) => {
                if let Some(why) = &rotated.not_kept {
                    eprintln!("keyward: {why}");
                    failed = true;
                }
                let mut entry = serde_json::json!({
                    "key_prefix": find.key_prefix,
                    "replacement": rotated.replacement.record.key_prefix,
                    "replacement_id": rotated.replacement.record.id,
                    "rewired": rotated.rewired.iter().map(|w| w.path.display().to_string()).collect::<Vec<_>>(),
                    "still_holding_dead_secret": still.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                });
                if rotated.not_kept.is_some() {
                    // The keychain would not keep it, so this is the only copy (as `keys rotate`
                    // shows it then): the sentence above says so.
                    entry["key"] = serde_json::json!(rotated.replacement.key);
                }
                report.push(entry);
            }
            Err(e) => {
                eprintln!("keyward: {} was not rolled: {e}", find.key_prefix);
                failed = true;
            }
        }
    }
    out.rolled(&report);
    Ok(if failed { exit::WORKING_KEY_FOUND } else { exit::OK })
}

/// Runs a scan, with a line on a terminal's stderr saying how many files were read so far.
async fn scan_with_progress(manager: &Manager, request: &keyward::manager::ScanRequest) -> Result<Vec<keyward::manager::Find>, Failure> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let progress = std::sync::Arc::new(AtomicU64::new(0));
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let ticker = std::io::stderr().is_terminal().then(|| {
        let (progress, done) = (progress.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                eprint!("\rScanning… {} files read", progress.load(Ordering::Relaxed));
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            eprint!("\r\x1b[2K");
        })
    });
    let finds = manager.scan(request, &progress).await;
    done.store(true, Ordering::Relaxed);
    if let Some(ticker) = ticker {
        let _ = ticker.join();
    }
    Ok(finds?)
}

fn default_device_name() -> String {
    format!("keyward CLI on {}", keyward::profile::computer_name())
}

/// The bridge keeps its stdout for protocol messages only; every problem is answered as a
/// JSON-RPC error there and logged to stderr.
async fn run_bridge(key_id: String, server: Option<String>) -> Outcome {
    let paths = Paths::from_env().ok();
    let profile = paths.as_ref().and_then(|p| keyward::profile::Profile::load(&p.profile()).ok().flatten());
    let server = server.or_else(|| profile.as_ref().map(|p| p.server.clone()));
    let Some(server) = server else {
        eprintln!("keyward bridge: no key service address. Pass --server, or sign in with `keyward login`.");
        return Ok(exit::SIGN_IN);
    };
    let server = match keyward::client::normalise_server(&server) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("keyward bridge: {e}");
            return Ok(exit::USAGE);
        }
    };
    let key = match std::env::var(INLINE_KEY_ENV) {
        Ok(key) if !key.is_empty() => KeySource::Key(key),
        _ => {
            let vault = Vault::for_server(&server);
            let id = key_id.clone();
            match tokio::task::spawn_blocking(move || vault.key(&id)).await {
                Ok(Ok(Some(key))) => KeySource::Key(key),
                Ok(Ok(None)) => KeySource::Missing(format!(
                    "this machine's keychain holds no secret for key {key_id}. It may have been revoked here; create or connect a key again with Keyward."
                )),
                Ok(Err(e)) => KeySource::Missing(e.to_string()),
                Err(e) => KeySource::Missing(format!("the keychain could not be read ({e}).")),
            }
        }
    };
    let config = BridgeConfig { server, key_id, key, mirror: paths.as_ref().map(|p| p.mirror()), usage: paths.map(|p| p.usage()) };
    bridge::run(config, tokio::io::stdin(), tokio::io::stdout())
        .await
        .map_err(|e| Failure::from(format!("keyward bridge: standard input or output failed ({e}).")))?;
    Ok(exit::OK)
}
