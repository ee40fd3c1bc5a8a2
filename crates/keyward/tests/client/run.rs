//! `keyward run`: a script of the merchant's own gets the key in its environment, taken from
//! the keychain and checked against the verifier mirror first; nothing on disk ever holds it;
//! a key revoked elsewhere never starts the command; exit codes and SIGTERM pass through.

use std::time::Duration;

use crate::common::{Device, Service, keychain_lookup, keychain_turn};

fn sha256(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_sees_the_key_and_nothing_on_disk_does() {
    let _turn = keychain_turn().await;
    let (service, device) = Service::with_device_signed_in("laptop").await;
    let (id, prefix) = device.create_key("nightly export").await;
    let secret = keychain_lookup(&service.url(), &id).unwrap();
    let out = device.home().join("seen");

    // The script writes only a digest of what it saw, so the test can compare without a copy.
    let script = format!(
        "printf %s \"$KEYWARD_API_KEY\" | sha256sum | cut -d' ' -f1 > {0}; printf %s \"$KEYWARD_SERVER\" >> {0}",
        out.display()
    );
    device.ok(&["run", "--key", &id, "--", "sh", "-c", &script]).await;
    let seen = std::fs::read_to_string(&out).unwrap();
    assert_eq!(seen, format!("{}\n{}", sha256(&secret), service.url()), "the child saw the key and the service");
    assert!(!String::from_utf8_lossy(&device.all_file_bytes()).contains(&secret[prefix.len()..]), "no file holds the secret");

    // Another variable when asked; then the default one is not set at all.
    let script = format!("printf '%s|%s' \"${{#SHOP_KEY}}\" \"${{KEYWARD_API_KEY:-unset}}\" > {}", out.display());
    device.ok(&["run", "--key", &id, "--env", "SHOP_KEY", "--", "sh", "-c", &script]).await;
    assert_eq!(std::fs::read_to_string(&out).unwrap(), format!("{}|unset", secret.len()));

    // A command that does not exist, a bad variable name, no command at all: a sentence each.
    let missing = device.run(&["run", "--key", &id, "--", "no-such-program-here"]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("Could not start no-such-program-here"));
    let bad_name = device.run(&["run", "--key", &id, "--env", "1X=", "--", "true"]).await;
    assert_eq!(bad_name.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_name.stderr).contains("is not an environment variable name"));
    assert_eq!(device.run(&["run", "--key", &id]).await.status.code(), Some(2));
    let unknown = device.run(&["run", "--key", "Zz99Yy88", "--", "true"]).await;
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("keychain holds no secret for the key asmk_Zz99Yy88"));
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_and_signals_pass_through() {
    let _turn = keychain_turn().await;
    let (_service, device) = Service::with_device_signed_in("laptop").await;
    let (id, _) = device.create_key("worker").await;

    assert_eq!(device.run(&["run", "--key", &id, "--", "sh", "-c", "exit 7"]).await.status.code(), Some(7));
    assert_eq!(device.run(&["run", "--key", &id, "--", "sh", "-c", "kill -9 $$"]).await.status.code(), Some(128 + 9), "a killed child reads as 128 + its signal");

    // SIGTERM to keyward reaches the command, which ends its own way; its code is keyward's.
    let (ready, got) = (device.home().join("ready"), device.home().join("got-term"));
    let script = format!("trap 'echo term > {}; exit 42' TERM; echo > {}; while :; do sleep 0.05; done", got.display(), ready.display());
    let mut child = device.command(&["run", "--key", &id, "--", "sh", "-c", &script]).spawn().unwrap();
    let started = std::time::Instant::now();
    while !ready.exists() {
        assert!(started.elapsed() < Duration::from_secs(20), "the command never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = child.id().unwrap() as i32;
    // SAFETY: kill(2) on the keyward process this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait()).await.expect("keyward ended").unwrap();
    assert_eq!(status.code(), Some(42), "the command's own exit code after its TERM handler");
    assert_eq!(std::fs::read_to_string(&got).unwrap(), "term\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_revoked_elsewhere_never_starts_the_command() {
    let _turn = keychain_turn().await;
    let (service, laptop) = Service::with_device_signed_in("laptop").await;
    let (id, prefix) = laptop.create_key("cron job").await;
    // The owner revokes it from another machine; this one's keychain still holds the secret.
    let desktop = Device::new(&service.localhost_url());
    desktop.login("desktop").await;
    desktop.ok(&["keys", "revoke", &id]).await;
    assert!(keychain_lookup(&service.url(), &id).is_some());

    let started = laptop.home().join("started");
    let output = laptop.run(&["run", "--key", &id, "--", "sh", "-c", &format!("touch {}", started.display())]).await;

    assert_eq!(output.status.code(), Some(8), "the key is not valid");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains(&format!("The key {prefix} was revoked")), "{said}");
    assert!(!started.exists(), "the command never ran");

    // Offline, the mirror's last word still stands.
    let mut service = service;
    service.stop().await;
    let output = laptop.run(&["run", "--key", &id, "--", "sh", "-c", &format!("touch {}", started.display())]).await;
    assert_eq!(output.status.code(), Some(8));
    assert!(!started.exists());
}
