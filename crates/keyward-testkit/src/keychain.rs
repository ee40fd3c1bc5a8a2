//! The Secret Service as another program sees it, through `secret-tool` (libsecret-tools,
//! installed by `./dev test`). Keyward files a secret under the service `Keyward {server}`
//! and the account it belongs to.

use std::io::Write;
use std::process::{Command, Stdio};

static KEYCHAIN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Tests that touch the one Secret Service take turns, so they do not race on D-Bus.
pub async fn turn() -> tokio::sync::MutexGuard<'static, ()> {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "these tests need a Secret Service in a D-Bus session: run them with ./dev test"
    );
    KEYCHAIN.lock().await
}

fn secret_tool() -> Command {
    Command::new("secret-tool")
}

const MISSING: &str = "secret-tool (libsecret-tools) is installed by ./dev test";

/// The secret kept for `account` of `server`, read back as another program would.
pub fn lookup(server: &str, account: &str) -> Option<String> {
    let output = secret_tool().args(["lookup", "service", &format!("Keyward {server}"), "username", account]).output().expect(MISSING);
    let text = String::from_utf8(output.stdout).unwrap();
    (output.status.success() && !text.is_empty()).then_some(text)
}

/// Makes the keychain refuse to store a secret for `account`: two items already answer to
/// it (one in the login collection, one in the session collection), so the Secret Service
/// cannot tell which to update. Reading other items is unaffected.
pub fn refuse(server: &str, account: &str) {
    for collection in ["login", "session"] {
        let mut child = secret_tool()
            .args(["store", "--label=blocker", &format!("--collection={collection}"), "service", &format!("Keyward {server}"), "username", account])
            .stdin(Stdio::piped())
            .spawn()
            .expect(MISSING);
        child.stdin.take().unwrap().write_all(b"not the key").unwrap();
        assert!(child.wait().unwrap().success());
    }
}

/// Deletes every keychain item for `account`.
pub fn clear(server: &str, account: &str) {
    let status = secret_tool().args(["clear", "service", &format!("Keyward {server}"), "username", account]).status().expect(MISSING);
    assert!(status.success());
}
