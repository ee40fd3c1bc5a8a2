//! PKCE (RFC 7636) with the S256 method only: the client proves at `/oauth/token` that it is
//! the one that started the authorization, by showing the verifier whose SHA-256 the
//! authorization request carried. `plain` is refused, as OAuth 2.1 asks.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Whether `value` has the shape RFC 7636 §4.1 gives verifiers, and S256 challenges have too:
/// 43 to 128 characters of `[A-Za-z0-9-._~]`.
pub fn well_formed(value: &str) -> bool {
    (43..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// `BASE64URL(SHA256(verifier))`, the S256 challenge of a verifier.
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` is the one `challenge` was made from, compared in constant time.
pub fn verifies(verifier: &str, challenge: &str) -> bool {
    well_formed(verifier) && bool::from(challenge_of(verifier).as_bytes().ct_eq(challenge.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_example_verifies() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(challenge_of(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(verifies(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    }

    #[test]
    fn a_wrong_or_malformed_verifier_does_not() {
        let challenge = challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert!(!verifies("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK", &challenge));
        assert!(!verifies("short", &challenge_of("short")), "verifiers shorter than 43 characters are refused");
        assert!(!verifies(&challenge, &challenge), "the challenge itself is not a verifier (plain is not accepted)");
    }
}
