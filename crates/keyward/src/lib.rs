//! Keyward on the merchant's machine: everything but the window.
//!
//! - [`client`]: the key service's HTTP API, with every refusal turned into a sentence.
//! - [`vault`]: the OS keychain (Secret Service, Keychain, Credential Manager) holding key
//!   secrets and the dashboard session; no plaintext fallback.
//! - [`mirror`]: a SQLite copy of the store's key records (hashes and status, never secrets)
//!   that answers "is this key good?" offline.
//! - [`agents`]: the assistants as one table (Claude Desktop, Claude Code, Codex, Cursor,
//!   VS Code, Windsurf, Gemini CLI, Zed, Goose, LM Studio, OpenCode), and writers for their
//!   JSON, JSONC, TOML and YAML files that merge, keep formatting, write atomically with a
//!   backup, and undo exactly what they did.
//! - [`bridge`]: the MCP relay the assistants launch: stdio on one side, the service's `/mcp`
//!   on the other, the key taken from the keychain.
//! - [`scan`]: finding leaked keys by their format and checksum, in files and git history.
//! - [`usage`]: which assistant used which key on this computer, per day, recorded by the bridge
//!   and `keyward run`.
//! - [`profile`] and [`paths`]: which service and store this machine is signed in to, and
//!   where local files live.
//! - [`manager`]: the merchant's operations as whole flows (sign in, create, connect, rotate,
//!   revoke, scan and roll, sync), which the CLI and the app call.
//! - [`undo`]: the app's one-click connects that may still be taken back.
//!
//! The desktop app and the `keyward` CLI are thin layers over this library.

pub mod agents;
pub mod bridge;
pub mod client;
pub mod manager;
pub mod mirror;
pub mod paths;
pub mod profile;
pub mod scan;
pub mod undo;
pub mod usage;
pub mod vault;
