//! The real app, clicked through: the `keyward-app` binary under Xvfb, driven over WebDriver
//! by tauri-driver and WebKitWebDriver, against a real key service on loopback, with HOME in
//! a temporary folder and the real Secret Service (the D-Bus session `./dev test` starts).
//! Every test saves PNG screenshots of its key moments; the folder is printed.

mod harness;
// The web-chat app's side of the OAuth flow, shared with the CLI's tests.
#[path = "../../../crates/keyward/tests/client/oauth.rs"]
mod oauth;

mod assistants;
mod connections;
mod devices;
mod keys;
mod offline;
mod people;
mod scan;
