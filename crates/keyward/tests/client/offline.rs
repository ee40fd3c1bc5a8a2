//! Offline: with the key service stopped, `keyward verify` answers from the mirror and says
//! how old it is.

use crate::common::{Device, Service, keychain_lookup, keychain_turn};

#[tokio::test(flavor = "multi_thread")]
async fn verify_answers_from_the_mirror_when_the_service_is_down() {
    let _turn = keychain_turn().await;
    let (mut service, device) = Service::with_device_signed_in("laptop").await;
    let (good, _) = device.create_key("good").await;
    let (gone, gone_prefix) = device.create_key("gone").await;
    let (paused, paused_prefix) = device.create_key("paused").await;
    let brief = device.json(&["keys", "create", "--name", "brief", "--expires-at", &soon()]).await;
    let brief_id = brief["id"].as_str().unwrap().to_owned();
    device.ok(&["keys", "deactivate", &paused]).await;
    let paused_key = keychain_lookup(&service.url(), &paused).unwrap();
    let brief_key = keychain_lookup(&service.url(), &brief_id).unwrap();
    let good_key = keychain_lookup(&service.url(), &good).unwrap();
    let gone_key = keychain_lookup(&service.url(), &gone).unwrap();
    device.ok(&["keys", "revoke", &gone]).await;
    device.ok(&["mirror", "sync"]).await;
    service.stop().await;

    let valid = device.verify(&good_key, false).await;
    assert_eq!(valid.status.code(), Some(0));
    let text = String::from_utf8_lossy(&valid.stdout);
    assert!(text.contains("is valid (read only)") && text.contains("synced") && text.contains("ago"), "{text}");

    let revoked = device.verify(&gone_key, false).await;
    assert_eq!(revoked.status.code(), Some(8), "exit code 8: not valid");
    assert!(String::from_utf8_lossy(&revoked.stdout).contains(&format!("{gone_prefix} was revoked")));

    let mut typo = good_key.clone().into_bytes();
    typo[20] = if typo[20] == b'a' { b'b' } else { b'a' };
    let malformed = device.verify(std::str::from_utf8(&typo).unwrap(), false).await;
    assert_eq!(malformed.status.code(), Some(8));
    assert!(String::from_utf8_lossy(&malformed.stdout).contains("checksum"));

    let deactivated = device.verify(&paused_key, false).await;
    assert_eq!(deactivated.status.code(), Some(8));
    assert!(String::from_utf8_lossy(&deactivated.stdout).contains(&format!("{paused_prefix} is deactivated")));
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let expired = device.verify(&brief_key, true).await;
    assert_eq!(expired.status.code(), Some(8));
    let expired: serde_json::Value = serde_json::from_slice(&expired.stdout).unwrap();
    assert_eq!(expired["status"], "expired");
    let stranger = keyward_core::ApiKey::generate(&keyward_core::Brand::new("asmk").unwrap());
    let unknown = device.verify(stranger.expose(), false).await;
    assert_eq!(unknown.status.code(), Some(8));
    assert!(String::from_utf8_lossy(&unknown.stdout).contains("does not know this key"));

    let json = device.verify(&good_key, true).await;
    assert_eq!(json.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["status"], "valid");
    assert!(json["age_seconds"].as_i64().unwrap() >= 0);

    // The second verification did not run argon2 again: the mirror remembers the match.
    let mirror = rusqlite::Connection::open(device.home().join("keyward-data/mirror.db")).unwrap();
    let remembered: bool = mirror.query_row("SELECT verified_digest IS NOT NULL FROM keys WHERE id = ?1", [&good], |r| r.get(0)).unwrap();
    assert!(remembered);

    // Managing keys needs the service, and says so.
    let down = device.run(&["keys", "list"]).await;
    assert_eq!(down.status.code(), Some(4), "exit code 4: unreachable");
    assert!(String::from_utf8_lossy(&down.stderr).contains("cannot be reached"));
}

fn soon() -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::seconds(2)).format(&time::format_description::well_known::Rfc3339).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_reads_the_key_from_standard_input_never_from_the_command_line() {
    // No keychain and no service needed: verify answers from the (here empty) mirror.
    let device = Device::new("http://127.0.0.1:9");
    let key = keyward_core::ApiKey::generate(&keyward_core::Brand::new("asmk").unwrap());

    let refused = device.run(&["verify", key.expose()]).await;
    assert_eq!(refused.status.code(), Some(2), "exit code 2: wrong usage");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("standard input"), "the refusal says how to give the key: {stderr}");
    assert!(!stderr.contains(key.expose()) && refused.stdout.is_empty(), "the refusal does not repeat the key");

    let piped = device.verify(key.expose(), false).await;
    assert_eq!(piped.status.code(), Some(8), "the key was read and checked (unknown to an empty mirror)");
    assert!(String::from_utf8_lossy(&piped.stdout).contains("does not know this key"));
}
