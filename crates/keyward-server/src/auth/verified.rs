//! The verified cache: argon2 runs only the first time a secret is seen.
//!
//! It remembers, per key id, a SHA-256 digest of the secret that matched and the PHC string it
//! matched. A later request with the same secret and the same stored hash skips argon2; any
//! other secret, or a changed hash, goes through argon2 again. It never decides status:
//! revocation, expiry and the rest are read from the database on every request.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const CAPACITY: usize = 100_000;

#[derive(Default)]
pub struct VerifiedCache {
    enabled: bool,
    entries: Mutex<HashMap<String, ([u8; 32], String)>>,
}

impl VerifiedCache {
    pub fn new(enabled: bool) -> Self {
        VerifiedCache { enabled, entries: Mutex::new(HashMap::new()) }
    }

    fn digest(secret: &str) -> [u8; 32] {
        Sha256::digest(secret.as_bytes()).into()
    }

    /// Whether `secret` already matched `phc` for this key id.
    pub fn contains(&self, id: &str, secret: &str, phc: &str) -> bool {
        if !self.enabled {
            return false;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(id).is_some_and(|(digest, cached_phc)| {
            cached_phc == phc && bool::from(digest.ct_eq(&Self::digest(secret)))
        })
    }

    /// Records that `secret` matched `phc` for this key id.
    pub fn insert(&self, id: &str, secret: &str, phc: &str) {
        if !self.enabled {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(id.to_owned(), (Self::digest(secret), phc.to_owned()));
    }

    pub fn forget(&self, id: &str) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_secret_and_hash_hit() {
        let cache = VerifiedCache::new(true);
        cache.insert("id1", "secret", "$phc1");
        assert!(cache.contains("id1", "secret", "$phc1"));
        assert!(!cache.contains("id1", "secreT", "$phc1"));
        assert!(!cache.contains("id1", "secret", "$phc2"));
        assert!(!cache.contains("id2", "secret", "$phc1"));
        cache.forget("id1");
        assert!(!cache.contains("id1", "secret", "$phc1"));
    }

    #[test]
    fn a_disabled_cache_never_hits() {
        let cache = VerifiedCache::new(false);
        cache.insert("id1", "secret", "$phc1");
        assert!(!cache.contains("id1", "secret", "$phc1"));
    }
}
