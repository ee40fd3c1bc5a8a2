//! People and sessions from the CLI: changing a password signs out the other devices, the
//! owner manages staff, staff are refused what only the owner (or the maker) may do, and a
//! session past its lifetime asks to sign in again.

use std::process::Output;

use crate::common::{Device, EMAIL, PASSWORD, Service, keychain_turn};

const STAFF_EMAIL: &str = "sam@acme.test";
const STAFF_PASSWORD: &str = "sam-first-password";

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Asserts the exit code and returns stdout and stderr together.
fn exits(output: &Output, code: i32) -> String {
    let all = text(output);
    assert_eq!(output.status.code(), Some(code), "{all}");
    all
}

/// The owner adds Sam as staff from the CLI; returns Sam's id.
async fn add_sam(owner: &Device) -> String {
    let output = owner
        .run_with_input(&["--json", "staff", "add", "--name", "Sam Staff", "--email", STAFF_EMAIL], &format!("{STAFF_PASSWORD}\n{STAFF_PASSWORD}\n"))
        .await;
    assert!(!exits(&output, 0).contains(STAFF_PASSWORD), "the password is never printed");
    let added: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(added["role"], "staff", "{added}");
    added["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_the_password_signs_out_the_other_devices() {
    let _turn = keychain_turn().await;
    let service = Service::start().await;
    let laptop = Device::new(&service.url());
    let desktop = Device::new(&service.localhost_url());
    laptop.login("laptop").await;
    desktop.login("desktop").await;
    let new = "a-new-longer-password";

    let wrong = laptop.run_with_input(&["password"], &format!("not-my-password\n{new}\n{new}\n")).await;
    assert!(exits(&wrong, 5).contains("The current password is wrong"));
    let differ = laptop.run_with_input(&["password"], &format!("{PASSWORD}\n{new}\n{new}-typo\n")).await;
    assert!(exits(&differ, 1).contains("differ"));
    let short = laptop.run_with_input(&["password"], &format!("{PASSWORD}\nshort\n")).await;
    assert!(exits(&short, 5).contains("8 to 1024 characters"));
    desktop.ok(&["keys", "list"]).await;

    let changed = laptop.run_with_input(&["password"], &format!("{PASSWORD}\n{new}\n{new}\n")).await;
    let said = exits(&changed, 0);
    assert!(said.contains("Password changed") && said.contains("1 other device of yours signed out"), "{said}");
    assert!(!said.contains(new) && !said.contains(PASSWORD), "no password is printed: {said}");

    let ended = desktop.run(&["keys", "list"]).await;
    assert!(exits(&ended, 3).contains("Sign in again"), "the other device must sign in again");
    laptop.ok(&["keys", "list"]).await;
    assert!(exits(&desktop.login_as(EMAIL, PASSWORD, "desktop").await, 5).contains("email or password is wrong"), "the old password no longer works");
    exits(&desktop.login_as(EMAIL, new, "desktop").await, 0);
    desktop.ok(&["keys", "list"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_adds_lists_and_removes_staff() {
    let _turn = keychain_turn().await;
    let service = Service::start().await;
    let owner = Device::new(&service.url());
    let sams = Device::new(&service.localhost_url());
    owner.login("owner's laptop").await;
    let id = add_sam(&owner).await;

    let staff = owner.json(&["staff", "list"]).await;
    let people: Vec<(&str, &str)> = staff.as_array().unwrap().iter().map(|m| (m["email"].as_str().unwrap(), m["role"].as_str().unwrap())).collect();
    assert_eq!(people, [(EMAIL, "owner"), (STAFF_EMAIL, "staff")]);
    let table = owner.ok(&["staff"]).await;
    assert!(table.contains("Sam Staff") && table.contains(&id), "{table}");

    exits(&sams.login_as(STAFF_EMAIL, STAFF_PASSWORD, "Sam's laptop").await, 0);
    sams.ok(&["keys", "list"]).await;
    let removed = owner.ok(&["staff", "remove", &id]).await;
    assert!(removed.contains("Removed Sam Staff") && removed.contains("1 device of theirs signed out"), "{removed}");

    assert!(exits(&sams.run(&["keys", "list"]).await, 3).contains("Sign in again"), "Sam is signed out everywhere");
    exits(&sams.login_as(STAFF_EMAIL, STAFF_PASSWORD, "Sam's laptop").await, 5);
    let listed = owner.json(&["staff", "list"]).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_are_refused_what_only_the_owner_or_the_key_s_creator_may_do() {
    let _turn = keychain_turn().await;
    let service = Service::start().await;
    let owner = Device::new(&service.url());
    let sams = Device::new(&service.localhost_url());
    owner.login("owner's laptop").await;
    let (owners_key, _) = owner.create_key("owner's agent").await;
    add_sam(&owner).await;
    exits(&sams.login_as(STAFF_EMAIL, STAFF_PASSWORD, "Sam's laptop").await, 0);

    let add = sams.run_with_input(&["staff", "add", "--name", "Eve", "--email", "eve@acme.test"], "eve-password-1\n").await;
    assert!(exits(&add, 5).contains("Only the store's owner can add staff"));
    let revoke = sams.run(&["keys", "revoke", &owners_key]).await;
    assert!(exits(&revoke, 5).contains("created by someone else"));
    let rotate = sams.run(&["keys", "rotate", &owners_key]).await;
    assert!(exits(&rotate, 5).contains("created by someone else"));
    let listed = owner.json(&["keys", "list"]).await;
    assert!(listed[0]["revoked_at"].is_null(), "the owner's key still works: {listed}");

    let (own, _) = sams.create_key("Sam's agent").await;
    sams.ok(&["keys", "rename", &own, "Sam's nightly agent"]).await;
    sams.ok(&["keys", "revoke", &own]).await;
    assert_eq!(sams.json(&["staff", "list"]).await.as_array().unwrap().len(), 2, "staff see everyone");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_session_asks_to_sign_in_again() {
    let _turn = keychain_turn().await;
    let (service, device) = Service::with_device_signed_in("laptop").await;
    device.ok(&["keys", "list"]).await;

    // Twenty days unused: past the default idle lifetime of fourteen.
    let db = rusqlite::Connection::open(service.db_path()).unwrap();
    db.execute("UPDATE devices SET last_seen_at = last_seen_at - 20*86400", []).unwrap();

    let said = exits(&device.run(&["keys", "list"]).await, 3);
    assert!(said.contains("expired") && said.contains("Sign in again with `keyward login`"), "{said}");
    assert!(exits(&device.run(&["keys", "list"]).await, 3).contains("Sign in again"), "the expired session stays ended");
    device.login("laptop").await;
    device.ok(&["keys", "list"]).await;
}
