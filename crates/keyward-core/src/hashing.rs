//! argon2id hashing of key secrets and passwords, with OWASP's parameters
//! (19 MiB of memory, 2 passes, 1 lane), stored as PHC strings.
//!
//! Verification is constant-time: argon2 recomputes the hash and compares the outputs with
//! `subtle`. It is also deliberately slow (tens of milliseconds), which is why the key service
//! keeps a verified cache in front of it.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Why a hash could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("The stored hash is not a valid argon2 PHC string; the record is damaged.")]
    Malformed,
    #[error("Hashing failed: {0}")]
    Hashing(String),
}

fn argon2() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: m=19456 KiB, t=2, p=1.
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a secret or password with a fresh random salt into a PHC string.
pub fn hash_secret(secret: &str) -> Result<String, HashError> {
    argon2()
        .hash_password(secret.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| HashError::Hashing(e.to_string()))
}

/// Whether `secret` matches the PHC string `phc`, compared in constant time.
/// A damaged PHC string counts as no match, never as a panic.
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    let Ok(hash) = argon2::password_hash::phc::PasswordHash::new(phc) else {
        return false;
    };
    argon2().verify_password(secret.as_bytes(), &hash).is_ok()
}

/// A valid PHC string that matches no secret a key can hold, for spending the same time on
/// an unknown key id as on a known one, so response timing does not reveal which ids exist.
pub fn decoy_hash() -> &'static str {
    use std::sync::OnceLock;
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_secret("-decoy: not a base62 secret-").expect("hashing works"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_secret_and_nothing_else() {
        let phc = hash_secret("s3cret").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_secret("s3cret", &phc));
        assert!(!verify_secret("s3cres", &phc));
        assert!(!verify_secret("s3cret", "not a phc string"));
    }

    #[test]
    fn the_same_secret_hashes_differently_each_time() {
        assert_ne!(hash_secret("x").unwrap(), hash_secret("x").unwrap());
    }
}
