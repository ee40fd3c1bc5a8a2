//! No keychain reachable: a clear error, and no secret anywhere on disk.

use crate::common::{Device, PASSWORD, Service};

#[tokio::test(flavor = "multi_thread")]
async fn without_a_keychain_nothing_is_written_and_the_error_says_so() {
    let service = Service::start().await;
    let device = Device::new(&service.url());
    let output = device
        .command(&["login", "--email", crate::common::EMAIL, "--device-name", "no keychain"])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/keyward-test-bus")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(6), "exit code 6: no keychain");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("No OS keychain is reachable") && stderr.contains("stored nothing"), "{stderr}");
    assert!(!device.home().join("keyward-config/profile.json").exists(), "no profile without a session");
    let on_disk = String::from_utf8_lossy(&device.all_file_bytes()).into_owned();
    assert!(!on_disk.contains(PASSWORD) && !on_disk.contains("kwsess_"), "no secret anywhere on disk");
    // The service never issued a session either: the keychain was checked first.
    let devices: i64 = rusqlite::Connection::open(service_db(&service)).unwrap().query_row("SELECT COUNT(*) FROM devices", [], |r| r.get(0)).unwrap();
    assert_eq!(devices, 0);
}

fn service_db(service: &Service) -> std::path::PathBuf {
    service.db_path()
}
