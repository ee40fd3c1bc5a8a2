//! Files searched for a secret that must not be in them.

use std::path::Path;

/// Every byte of every file under `dir`, to look for a secret that must not be there (a
/// folder that cannot be read adds nothing).
pub fn every_byte_under(dir: &Path) -> Vec<u8> {
    fn walk(dir: &Path, out: &mut Vec<u8>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.extend(bytes);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out
}
