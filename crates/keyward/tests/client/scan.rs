//! `keyward scan`: a tree with keys planted as people leave them (a `.env`, a shell history,
//! JSON, TOML, YAML, a minified line, a commit a later commit deleted) and strings that only
//! look like keys (another brand, one character changed, cut short, inside a binary). The scan
//! finds exactly the real ones with their status from the mirror, never prints a secret, and
//! exits 9 only when one still works.

use std::path::Path;
use std::time::Duration;

use keyward_core::{ApiKey, Brand, KeyId};

use crate::common::{Device, Service, keychain_lookup, keychain_turn};

/// Creates a key, returning (id, secret); the secret is asked for once, as a person would.
async fn key(device: &Device, name: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["keys", "create", "--name", name, "--show-secret"];
    args.extend_from_slice(extra);
    let created = device.json(&args).await;
    (created["id"].as_str().unwrap().to_owned(), created["key"].as_str().unwrap().to_owned())
}

fn git(repo: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "user.name=T", "-c", "user.email=t@example.test", "-c", "commit.gpgsign=false"])
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("git is installed");
    assert!(status.success(), "git {args:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_keys_are_found_with_their_status_and_nothing_else() {
    let _turn = keychain_turn().await;
    let (service, device) = Service::with_device_signed_in("laptop").await;
    let (active, active_secret) = key(&device, "active", &[]).await;
    let (revoked, revoked_secret) = key(&device, "revoked", &[]).await;
    let (deactivated, deactivated_secret) = key(&device, "deactivated", &[]).await;
    let (rotating, _) = key(&device, "rotating", &[]).await;
    let rotating_secret = keychain_lookup(&service.url(), &rotating).unwrap();
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::seconds(2)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let (expired, expired_secret) = key(&device, "expiring", &["--expires-at", &soon]).await;
    let (committed, committed_secret) = key(&device, "committed", &[]).await;
    device.ok(&["keys", "revoke", &revoked]).await;
    device.ok(&["keys", "deactivate", &deactivated]).await;
    device.ok(&["keys", "rotate", &rotating, "--overlap", "3600"]).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let tree = tempfile::tempdir().unwrap();
    let t = tree.path();
    let other_brand = ApiKey::from_parts(&Brand::new("othr").unwrap(), &KeyId::parse("Zz99Yy88").unwrap(), &"q".repeat(32)).unwrap();
    let mut typo = active_secret.clone();
    typo.replace_range(20..21, if &active_secret[20..21] == "x" { "y" } else { "x" });
    std::fs::write(t.join(".env"), format!("SHOP_URL=https://acme.test\nKEYWARD_API_KEY={active_secret}\n")).unwrap();
    std::fs::write(t.join("claude.json"), format!("{{\n  \"mcpServers\": {{\"shop\": {{\"env\": {{\"KEY\": \"{revoked_secret}\"}}}}}}\n}}\n")).unwrap();
    std::fs::write(t.join("config.toml"), format!("# old\n[shop]\ntoken = \"{rotating_secret}\"\n")).unwrap();
    std::fs::write(t.join("goose.yaml"), format!("extensions:\n  shop:\n    envs:\n      KEY: {deactivated_secret}\n")).unwrap();
    std::fs::write(t.join(".bash_history"), format!("ls\ncurl -H 'x-api-key: {expired_secret}' https://acme.test/v1/boms\n")).unwrap();
    std::fs::write(
        t.join("bundle.min.js"),
        format!("var a=\"{}\",b=\"{typo}\",c=\"{}\";function k(){{return\"{active_secret}\"}}", other_brand.expose(), &active_secret[..active_secret.len() - 1]),
    )
    .unwrap();
    std::fs::write(t.join("image.bin"), [b"\x89PNG\0\0".as_slice(), active_secret.as_bytes()].concat()).unwrap();
    std::fs::write(t.join(".gitignore"), "ignored.txt\n").unwrap();
    std::fs::write(t.join("ignored.txt"), &active_secret).unwrap();
    // A key committed, then deleted by a later commit: only the history still has it.
    git(t, &["init", "-q"]);
    std::fs::write(t.join("deploy.sh"), format!("#!/bin/sh\nexport KEY={committed_secret}\n")).unwrap();
    git(t, &["add", "deploy.sh"]);
    git(t, &["commit", "-qm", "deploy"]);
    std::fs::remove_file(t.join("deploy.sh")).unwrap();
    git(t, &["commit", "-qam", "oops"]);

    let output = device.run(&["--json", "scan", t.to_str().unwrap()]).await;

    assert_eq!(output.status.code(), Some(9), "a working key was found: {}", String::from_utf8_lossy(&output.stderr));
    let finds: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let got: Vec<(String, u64, String, String)> = finds
        .iter()
        .map(|f| {
            let file = Path::new(f["file"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned();
            (file, f["line"].as_u64().unwrap(), f["key_id"].as_str().unwrap().to_owned(), f["status"].as_str().unwrap().to_owned())
        })
        .collect();
    let expect = |file: &str, line: u64, id: &str, status: &str| (file.to_owned(), line, id.to_owned(), status.to_owned());
    assert_eq!(
        got,
        [
            expect(".bash_history", 2, &expired, "expired"),
            expect(".env", 2, &active, "active"),
            expect("bundle.min.js", 1, &active, "active"),
            expect("claude.json", 2, &revoked, "revoked"),
            expect("config.toml", 3, &rotating, "rotating_out"),
            expect("goose.yaml", 4, &deactivated, "deactivated"),
        ]
    );
    assert_eq!(finds[1]["key_name"], "active", "the key record is named");
    assert_eq!(finds[1]["key_prefix"], format!("asmk_{active}"));

    // With --git, the deleted commit's key too; with --no-ignore, the ignored file too.
    let finds: Vec<serde_json::Value> = serde_json::from_slice(&device.run(&["--json", "scan", "--git", "--no-ignore", t.to_str().unwrap()]).await.stdout).unwrap();
    let history: Vec<&serde_json::Value> = finds.iter().filter(|f| f["commit"].is_string()).collect();
    assert_eq!(history.len(), 1, "{finds:?}");
    assert_eq!((history[0]["key_id"].as_str(), history[0]["line"].as_u64(), history[0]["status"].as_str()), (Some(committed.as_str()), Some(2), Some("active")));
    assert!(history[0]["file"].as_str().unwrap().ends_with(":deploy.sh"));
    assert_eq!(history[0]["repository"].as_str().map(std::path::PathBuf::from), Some(std::fs::canonicalize(&t).unwrap()), "the path is in this repository");
    assert!(finds.iter().any(|f| f["file"].as_str().unwrap().ends_with("ignored.txt")));

    // People's output, and SARIF for code scanning: no secret anywhere.
    let text = device.run(&["scan", t.to_str().unwrap()]).await;
    let sarif = device.run(&["scan", "--format", "sarif", t.to_str().unwrap()]).await;
    let said = format!("{}{}{}{}", String::from_utf8_lossy(&text.stdout), String::from_utf8_lossy(&text.stderr), String::from_utf8_lossy(&sarif.stdout), String::from_utf8_lossy(&output.stdout));
    for secret in [&active_secret, &revoked_secret, &rotating_secret, &deactivated_secret, &expired_secret, &committed_secret] {
        assert!(!said.contains(&secret[13..]), "a secret was printed");
    }
    assert!(String::from_utf8_lossy(&text.stdout).contains("still works"), "{}", String::from_utf8_lossy(&text.stdout));
    let sarif: serde_json::Value = serde_json::from_slice(&sarif.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    assert_eq!(results.iter().filter(|r| r["level"] == "error").count(), 3, "the active ones and the one rotating out");
    for result in results {
        let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str().unwrap();
        assert!(uri.starts_with("file:///") && reqwest::Url::parse(uri).is_ok(), "a folder given by its absolute path gives file URIs: {uri}");
    }

    // Only dead keys: nothing to fix, exit 0.
    let dead = tempfile::tempdir().unwrap();
    std::fs::write(dead.path().join("old.env"), format!("KEY={revoked_secret}\n")).unwrap();
    assert_eq!(device.run(&["scan", dead.path().to_str().unwrap()]).await.status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_paths_it_looks_where_keys_are_usually_left() {
    let _turn = keychain_turn().await;
    let (_service, device) = Service::with_device_signed_in("laptop").await;
    let (id, secret) = key(&device, "pasted", &[]).await;
    std::fs::write(device.home().join(".zsh_history"), format!(": 1700000000:0;export SHOP_KEY={secret}\n")).unwrap();
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join(".env.local"), format!("KEY={secret}\n")).unwrap();
    device.ok(&["connect", "cursor", "--key", &id, "--inline"]).await;

    let output = device.command(&["--json", "scan"]).current_dir(project.path()).output().await.unwrap();

    assert_eq!(output.status.code(), Some(9));
    let finds: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let mut files: Vec<String> = finds.iter().map(|f| Path::new(f["file"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, [".env.local", ".zsh_history", "mcp.json"], "{finds:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn scanning_needs_to_know_the_key_format() {
    let service = Service::start().await;
    let device = Device::new(&service.url());
    let output = device.run(&["scan", device.home().to_str().unwrap()]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("Sign in once with `keyward login`"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_path_that_does_not_exist_is_refused_rather_than_passed_as_clean() {
    let _turn = keychain_turn().await;
    let (_service, device) = Service::with_device_signed_in("laptop").await;
    let (_, secret) = key(&device, "leaked", &[]).await;
    let tree = tempfile::tempdir().unwrap();
    std::fs::write(tree.path().join(".env"), format!("KEY={secret}\n")).unwrap();
    let mistyped = tree.path().join("srcc");

    let output = device.run(&["scan", tree.path().to_str().unwrap(), mistyped.to_str().unwrap()]).await;

    assert_eq!(output.status.code(), Some(2), "a usage error, not 0 (clean) nor 9 (found)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("{} does not exist", mistyped.display())), "{stderr}");
    assert!(output.stdout.is_empty() && !stderr.contains(&secret), "nothing scanned, no secret shown");
}

/// The key service's answer to a request made with `key`.
async fn status_with(service: &Service, key: &str) -> u16 {
    reqwest::Client::new().get(format!("{}/v1/raw-materials", service.url())).header("x-api-key", key).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn fix_rolls_a_leaked_key_and_moves_its_assistants_to_the_bridge() {
    let _turn = keychain_turn().await;
    let (service, device) = Service::with_device_signed_in("laptop").await;
    let (id, secret) = key(&device, "leaky", &[]).await;
    assert_eq!(status_with(&service, &secret).await, 200);
    // Pasted into a project's .env, and written inline into Cursor's config.
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join(".env"), format!("SHOP_KEY={secret}\n")).unwrap();
    device.ok(&["connect", "cursor", "--key", &id, "--inline"]).await;
    let cursor = device.home().join(".cursor/mcp.json");
    let scan = |extra: &'static [&'static str]| {
        let mut args = vec!["--json", "scan", project.path().to_str().unwrap(), cursor.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };

    // Not on a terminal and without --yes, nothing happens.
    let refused = device.run(&scan(&["--fix"]).iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    assert_eq!(status_with(&service, &secret).await, 200);

    let output = device.run(&scan(&["--fix", "--yes"]).iter().map(String::as_str).collect::<Vec<_>>()).await;

    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rolled = &report["rolled"][0];
    let new_id = rolled["replacement_id"].as_str().unwrap().to_owned();
    assert_eq!(status_with(&service, &secret).await, 401, "the leaked key is refused");
    assert!(keychain_lookup(&service.url(), &id).is_none(), "the old secret left the keychain");
    let new_secret = keychain_lookup(&service.url(), &new_id).expect("the new secret is in the keychain");
    assert_eq!(status_with(&service, &new_secret).await, 200);
    let entry = keyward::agents::read_entry(keyward::agents::Agent::Cursor, &cursor, &format!("keyward-acme-asmk_{new_id}")).expect("Cursor moved to the new key");
    assert!(entry.is_bridge_for(&new_id) && !entry.is_inline(), "the inline entry became a bridge entry");
    let on_disk = String::from_utf8_lossy(&device.all_file_bytes()).into_owned() + &std::fs::read_to_string(project.path().join(".env")).unwrap();
    assert!(!on_disk.contains(&new_secret[13..]), "no file holds the new secret");
    let still: Vec<&str> = rolled["still_holding_dead_secret"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(still, [project.path().join(".env").to_str().unwrap()], "the .env is named, and left alone");
    assert!(std::fs::read_to_string(project.path().join(".env")).unwrap().contains(&secret), "source files are never edited");
    assert!(!String::from_utf8_lossy(&output.stdout).contains(&secret[13..]) && !String::from_utf8_lossy(&output.stdout).contains(&new_secret[13..]));
}
