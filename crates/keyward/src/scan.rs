//! Finding leaked keys: strings of this deployment's key format whose checksum holds, in files
//! and in a repository's history. A find carries where it is and the key's prefix, never the
//! secret; the caller decides each one's status from the verifier mirror.
//!
//! The pattern is the key format (`brand_` and 46 base62 characters, not part of a longer
//! word); the CRC32 checksum then rejects almost every string that only looks like a key, so
//! no network and no entropy guessing are needed.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use keyward_core::ApiKey;
use regex::bytes::Regex;

/// The regular expression of a key, for other scanners (see the README): a brand of 2 to 8
/// lowercase letters, `_`, then 46 base62 characters, with no letter or digit on either side.
pub const KEY_PATTERN: &str = r"(?-u:\b)[a-z]{2,8}_[0-9A-Za-z]{46}(?-u:\b)";

/// Files larger than this are skipped: keys are pasted into configs and scripts, not into
/// multi-megabyte data files.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A key found somewhere. Holds no secret: the key itself is only inside [`Finder::find`]'s
/// callback.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Place {
    /// The file, or for history `COMMIT:PATH`.
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The commit, for a find in a repository's history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The repository's top folder, for a find in its history: the path after `COMMIT:` in
    /// `file` is relative to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
}

impl Place {
    /// A find in a repository's history: `file` is `COMMIT:PATH`, the commit cut short.
    fn in_history(commit: &str, path: &str, line: usize, column: usize, repository: Option<String>) -> Place {
        Place { file: format!("{}:{path}", short(commit)), line, column, commit: Some(commit.to_owned()), repository }
    }

    /// For a find in history, the path in the repository: what follows `COMMIT:` in `file`.
    pub fn path_in_repository(&self) -> Option<&str> {
        self.file.strip_prefix(short(self.commit.as_deref()?))?.strip_prefix(':')
    }
}

/// A commit as a find names it: its first 12 characters, as git abbreviates them.
fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

/// What to look in and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Scan files `.gitignore` excludes too.
    pub no_ignore: bool,
}

/// Recognises keys of the given brands.
pub struct Finder {
    pattern: Regex,
    brands: Vec<String>,
}

impl Finder {
    pub fn new(brands: &[String]) -> Finder {
        Finder { pattern: Regex::new(KEY_PATTERN).expect("the key pattern compiles"), brands: brands.to_vec() }
    }

    /// Every key in `bytes`: its line and column (1-based) and the key.
    pub fn find(&self, bytes: &[u8], mut found: impl FnMut(usize, usize, ApiKey)) {
        let mut line = 1;
        let mut line_start = 0;
        let mut counted = 0;
        for m in self.pattern.find_iter(bytes) {
            let Ok(text) = std::str::from_utf8(m.as_bytes()) else { continue };
            let Ok(key) = ApiKey::parse(text) else { continue };
            if !self.brands.iter().any(|b| b == key.brand()) {
                continue;
            }
            for (i, &b) in bytes[counted..m.start()].iter().enumerate() {
                if b == b'\n' {
                    line += 1;
                    line_start = counted + i + 1;
                }
            }
            counted = m.start();
            found(line, m.start() - line_start + 1, key);
        }
    }

    /// Whether the file at `path` holds a key with the id `key_id`.
    pub fn holds(&self, path: &Path, key_id: &str) -> bool {
        let Ok(bytes) = std::fs::read(path) else { return false };
        let mut held = false;
        self.find(&bytes, |_, _, key| held |= key.id().as_str() == key_id);
        held
    }

    /// Walks `paths` (files or folders), honouring `.gitignore` unless told not to, skipping
    /// binaries and huge files. `progress` is told how many files were read so far.
    pub fn scan_paths(&self, paths: &[PathBuf], options: &Options, progress: &AtomicU64, found: &(dyn Fn(Place, ApiKey) + Sync)) {
        let Some((first, rest)) = paths.split_first() else { return };
        let mut walk = ignore::WalkBuilder::new(first);
        for path in rest {
            walk.add(path);
        }
        walk.hidden(false)
            .git_ignore(!options.no_ignore)
            .git_global(!options.no_ignore)
            .git_exclude(!options.no_ignore)
            .ignore(!options.no_ignore)
            .parents(!options.no_ignore)
            .require_git(false)
            .filter_entry(|entry| entry.file_name() != ".git");
        walk.build_parallel().run(|| {
            Box::new(|entry| {
                let Ok(entry) = entry else { return ignore::WalkState::Continue };
                if entry.file_type().is_some_and(|t| t.is_file()) {
                    self.scan_file(entry.path(), progress, found);
                }
                ignore::WalkState::Continue
            })
        });
    }

    fn scan_file(&self, path: &Path, progress: &AtomicU64, found: &(dyn Fn(Place, ApiKey) + Sync)) {
        if std::fs::metadata(path).map_or(true, |m| m.len() > MAX_FILE_BYTES) {
            return;
        }
        let Ok(bytes) = std::fs::read(path) else { return };
        progress.fetch_add(1, Ordering::Relaxed);
        // A NUL near the start marks a binary, as git and ripgrep decide it.
        if bytes[..bytes.len().min(8192)].contains(&0) {
            return;
        }
        self.find(&bytes, |line, column, key| found(Place { file: path.display().to_string(), line, column, commit: None, repository: None }, key));
    }

    /// Every key added in any commit of the repository at `repo` (all branches), found in the
    /// patches `git log` prints; a key a later commit deleted is still in the history.
    pub fn scan_history(&self, repo: &Path, found: &(dyn Fn(Place, ApiKey) + Sync)) -> Result<(), String> {
        let output = std::process::Command::new("git")
            .args(["-C"])
            .arg(repo)
            .args(["log", "--all", "-p", "--no-color", "--no-ext-diff", "--unified=0", "--format=commit %H"])
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("Could not run git ({e}). Install git, or scan without --git."))?;
        if !output.status.success() {
            let why = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            return Err(format!("git could not read the history of {} ({why}). Give the folder of a git repository.", repo.display()));
        }
        // The paths in the patches are relative to the repository's top folder, which `repo`
        // may be inside of.
        let top = std::process::Command::new("git").arg("-C").arg(repo).args(["rev-parse", "--show-toplevel"]).stdin(std::process::Stdio::null()).output();
        let repository = top.ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim_end_matches(['\n', '\r']).to_owned());
        let (mut commit, mut file, mut line) = (String::new(), String::new(), 0usize);
        let finds = Mutex::new(Vec::new());
        for text in output.stdout.split(|&b| b == b'\n') {
            if let Some(hash) = text.strip_prefix(b"commit ") {
                commit = String::from_utf8_lossy(hash).into_owned();
            } else if let Some(path) = text.strip_prefix(b"+++ b/") {
                file = String::from_utf8_lossy(path).into_owned();
            } else if text.starts_with(b"@@ ") {
                // `@@ -a,b +c,d @@`: the added lines start at line c of the new file.
                line = std::str::from_utf8(text)
                    .ok()
                    .and_then(|t| t.split(" +").nth(1))
                    .and_then(|t| t.split([',', ' ']).next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
            } else if let Some(added) = text.strip_prefix(b"+") {
                self.find(added, |_, column, key| {
                    let place = Place::in_history(&commit, &file, line, column, repository.clone());
                    finds.lock().unwrap_or_else(|e| e.into_inner()).push((place, key));
                });
                line += 1;
            }
        }
        for (place, key) in finds.into_inner().unwrap_or_else(|e| e.into_inner()) {
            found(place, key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_core::{Brand, KeyId};

    fn key(brand: &str, id: &str) -> String {
        ApiKey::from_parts(&Brand::new(brand).unwrap(), &KeyId::parse(id).unwrap(), &"s".repeat(32)).unwrap().expose().to_owned()
    }

    fn finds(finder: &Finder, text: &str) -> Vec<(usize, usize, String)> {
        let mut out = Vec::new();
        finder.find(text.as_bytes(), |line, column, key| out.push((line, column, key.id().as_str().to_owned())));
        out
    }

    #[test]
    fn only_whole_keys_of_the_brand_with_a_good_checksum_are_found() {
        let finder = Finder::new(&["asmk".to_owned()]);
        let good = key("asmk", "Ab12Cd34");
        let mut typo = good.clone();
        typo.replace_range(20..21, if &good[20..21] == "x" { "y" } else { "x" });
        let text = format!(
            "A={good}\nB={typo}\nC={}\nD=x{good}\nE={good}9\nF={}\n{{\"k\":\"{good}\"}}",
            &good[..good.len() - 1],
            key("othr", "Zz99Yy88")
        );
        assert_eq!(finds(&finder, &text), [(1, 3, "Ab12Cd34".to_owned()), (7, 7, "Ab12Cd34".to_owned())]);
    }

    #[test]
    fn the_pattern_matches_what_the_readme_documents() {
        let pattern = Regex::new(KEY_PATTERN).unwrap();
        assert!(pattern.is_match(key("asmk", "Ab12Cd34").as_bytes()));
        assert!(!pattern.is_match(format!("z{}", key("asmkabcd", "Ab12Cd34")).as_bytes()));
    }
}
