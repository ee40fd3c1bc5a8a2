//! `keyward scan` on a generated tree (100,000 files, about 1 GiB, a few planted keys among
//! many strings that only look like keys), beside ripgrep searching the same tree for the same
//! pattern (the floor for reading and matching) and detect-secrets, a secret scanner from PyPI.
//! keyward and ripgrep each run once to warm the page cache and are then timed; detect-secrets
//! runs once, on the cache they warmed, because one pass of it over the tree takes minutes.
//! keyward must find exactly the planted keys.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;
use keyward_core::{ApiKey, Brand};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct ScanReport {
    pub files: usize,
    pub bytes: u64,
    pub planted: usize,
    /// Strings with the key's shape but a wrong checksum, scattered through the tree.
    pub look_alikes: usize,
    pub keyward_ms: f64,
    pub keyward_found: usize,
    pub ripgrep_ms: f64,
    /// Lines ripgrep matched: the planted keys and the look-alikes (it cannot check a checksum).
    pub ripgrep_lines: usize,
    pub detect_secrets: Result<Scanner, String>,
}

#[derive(Debug, Serialize)]
pub struct Scanner {
    pub name: String,
    pub ms: f64,
    pub findings: usize,
}

/// A small deterministic generator, so every run scans the same tree.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn base62(&mut self, n: usize) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        (0..n).map(|_| ALPHABET[(self.next() % 62) as usize] as char).collect()
    }
}

const WORDS: &[&str] = &[
    "export", "const", "function", "return", "config", "server", "token", "value", "order", "invoice", "material", "let", "if", "else", "import", "from",
    "the", "and", "name", "path", "true", "false", "null", "string", "number",
];

/// Writes the tree under `root`; answers (files, bytes, planted keys, look-alikes).
fn generate(root: &Path, files: usize, brand: &Brand) -> anyhow::Result<(u64, usize, usize)> {
    let mut rng = Lcg(0x6b65_7977_6172_6421);
    let planted_every = files / 8;
    let (mut bytes, mut planted, mut look_alikes) = (0u64, 0usize, 0usize);
    for i in 0..files {
        let folder = root.join(format!("d{:03}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&folder)?;
        }
        let mut text = String::with_capacity(11 * 1024);
        while text.len() < 10 * 1024 {
            for _ in 0..12 {
                text.push_str(WORDS[(rng.next() % WORDS.len() as u64) as usize]);
                text.push(' ');
            }
            // Every so often a string with a key's shape whose checksum is wrong.
            if rng.next() % 40 == 0 {
                text.push_str(&format!("{}_{}", brand, rng.base62(46)));
                look_alikes += 1;
            }
            text.push('\n');
        }
        if i % planted_every == planted_every / 2 {
            text.push_str(&format!("API_KEY={}\n", ApiKey::generate(brand).expose()));
            planted += 1;
        }
        let mut file = std::fs::File::create(folder.join(format!("f{i:06}.txt")))?;
        file.write_all(text.as_bytes())?;
        bytes += text.len() as u64;
    }
    Ok((bytes, planted, look_alikes))
}

/// Runs `command` (after a first run to warm the cache, when `warm_up`), timed; answers
/// (ms, stdout).
fn timed(warm_up: bool, mut make: impl FnMut() -> Command) -> anyhow::Result<(f64, Vec<u8>)> {
    if warm_up {
        make().stdout(Stdio::null()).stderr(Stdio::null()).status()?;
    }
    let start = Instant::now();
    let output = make().stderr(Stdio::null()).output()?;
    Ok((start.elapsed().as_secs_f64() * 1000.0, output.stdout))
}

pub fn run(quick: bool, keyward: &Path, detect_secrets: &Path) -> anyhow::Result<ScanReport> {
    let files = if quick { 5_000 } else { 100_000 };
    let dir = tempfile::tempdir()?;
    let tree = dir.path().join("tree");
    let brand = Brand::new("kw").expect("a valid brand");
    let (bytes, planted, look_alikes) = generate(&tree, files, &brand)?;
    // keyward knows its deployment's key format from the profile a sign-in leaves.
    let config = dir.path().join("config");
    let profile = keyward::profile::Profile {
        server: "http://127.0.0.1:9".into(),
        store_id: "sto_bench".into(),
        store_name: "Bench".into(),
        brand: brand.to_string(),
        user_name: "Bench".into(),
        user_email: "bench@example.test".into(),
        user_role: "owner".into(),
        device_id: "dev_bench".into(),
        device_name: "bench".into(),
    };
    profile.save(&config.join("profile.json")).map_err(anyhow::Error::msg)?;
    let (keyward_ms, out) = timed(true, || {
        let mut c = Command::new(keyward);
        c.args(["--json", "scan", "--no-ignore"]).arg(&tree).env("KEYWARD_CONFIG_DIR", &config).env("KEYWARD_DATA_DIR", dir.path().join("data"));
        c
    })
    .context("could not run keyward scan")?;
    let finds: Vec<serde_json::Value> = serde_json::from_slice(&out).context("keyward scan did not print JSON")?;
    let (ripgrep_ms, out) = timed(true, || {
        let mut c = Command::new("rg");
        c.args(["--no-ignore", "--hidden", "-c", "-e", keyward::scan::KEY_PATTERN]).arg(&tree);
        c
    })
    .context("could not run ripgrep (rg); ./dev bench installs it")?;
    let ripgrep_lines = String::from_utf8_lossy(&out).lines().filter_map(|l| l.rsplit(':').next()?.parse::<usize>().ok()).sum();
    let detect_secrets = if detect_secrets.exists() {
        // It runs in the tree (so its report names files relative to it): a relative path to
        // the program would then point nowhere.
        let detect_secrets = std::path::absolute(detect_secrets)?;
        timed(false, || {
            let mut c = Command::new(&detect_secrets);
            c.args(["scan", "--all-files"]).current_dir(&tree);
            c
        })
        .map_err(|e| e.to_string())
        .and_then(|(ms, out)| {
            let report: serde_json::Value = serde_json::from_slice(&out).map_err(|e| format!("detect-secrets printed no report ({e})"))?;
            let findings = report["results"].as_object().map_or(0, |files| files.values().filter_map(|v| v.as_array()).map(Vec::len).sum());
            Ok(Scanner { name: "detect-secrets".into(), ms, findings })
        })
    } else {
        Err(format!("{} is missing; ./dev bench installs detect-secrets there", detect_secrets.display()))
    };
    Ok(ScanReport { files, bytes, planted, look_alikes, keyward_ms, keyward_found: finds.len(), ripgrep_ms, ripgrep_lines, detect_secrets })
}

/// Where `./dev bench` installs detect-secrets.
pub fn default_detect_secrets() -> PathBuf {
    PathBuf::from("target/bench-pypi/bin/detect-secrets")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_holds_the_planted_keys_and_only_look_alikes_besides() {
        let dir = tempfile::tempdir().unwrap();
        let brand = Brand::new("kw").unwrap();
        let (bytes, planted, look_alikes) = generate(dir.path(), 400, &brand).unwrap();
        assert!(bytes >= 400 * 10 * 1024 && planted == 8 && look_alikes > 0, "{bytes} {planted} {look_alikes}");
        let finder = keyward::scan::Finder::new(&[brand.to_string()]);
        let found = std::sync::atomic::AtomicU64::new(0);
        let keys = std::sync::Mutex::new(0usize);
        finder.scan_paths(&[dir.path().to_owned()], &keyward::scan::Options { no_ignore: true }, &found, &|_, _| *keys.lock().unwrap() += 1);
        assert_eq!(*keys.lock().unwrap(), planted, "the look-alikes' checksums never hold");
        assert_eq!(found.load(std::sync::atomic::Ordering::Relaxed), 400);
    }
}
