//! Random bearer tokens (sessions, connection codes, access and refresh tokens) and the
//! digests they are stored and found by.

use rand::RngExt;
use sha2::{Digest, Sha256};

/// Dashboard session tokens.
pub const SESSION_PREFIX: &str = "kwsess_";
/// Web-chat access tokens; the data plane tells them from keys by this prefix.
pub const ACCESS_PREFIX: &str = "kwat_";
pub const REFRESH_PREFIX: &str = "kwrt_";
/// One-time connection codes a merchant makes and pastes on the consent page.
pub const CODE_PREFIX: &str = "kwcode_";
/// Authorization codes, sent to an app's redirect URI after consent (RFC 6749 §4.1.2).
pub const AUTHORIZATION_CODE_PREFIX: &str = "kwac_";
/// Confidential OAuth clients' secrets (partners, or clients that registered as confidential).
pub const CLIENT_SECRET_PREFIX: &str = "kwcs_";

/// `prefix` and 43 base62 characters (about 256 bits) from the OS random source.
pub fn random_token(prefix: &str) -> String {
    let mut rng = rand::rand_core::UnwrapErr(rand::rngs::SysRng);
    let mut token = String::with_capacity(prefix.len() + 43);
    token.push_str(prefix);
    for _ in 0..43 {
        token.push(keyward_core::base62::ALPHABET[rng.random_range(0..62)] as char);
    }
    token
}

/// SHA-256 of a token: what the database keeps and looks tokens up by.
pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
