//! The consent form's CSRF token: proof that a POST to `/oauth/authorize` carries a form this
//! service rendered, for exactly the authorization request it shows, within the last
//! [`LIFETIME_SECONDS`].
//!
//! It is stateless, so no row is written for every visit to a public page and any instance of
//! the service can check it: `{expiry}.{BASE64URL(HMAC-SHA256(key, expiry ‖ request))}`, with the
//! key kept in the database (see `Db::consent_key`). The form's POST also checks `Origin`, which
//! browsers send with a cross-site form post, and the approval itself needs the merchant's
//! password or a one-time connection code, so a forged post has nothing to approve with.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How long a rendered consent form stays good.
pub const LIFETIME_SECONDS: i64 = 15 * 60;

fn mac(key: &[u8], expiry: i64, request: &[&str]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(&expiry.to_be_bytes());
    for part in request {
        // Length-prefixed, so no two different requests feed the same bytes.
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    mac
}

/// A token for a form shown at `now` for `request` (the request's parameters, in a fixed order).
pub fn issue(key: &[u8], request: &[&str], now: i64) -> String {
    let expiry = now + LIFETIME_SECONDS;
    format!("{expiry}.{}", URL_SAFE_NO_PAD.encode(mac(key, expiry, request).finalize().into_bytes()))
}

/// Whether `token` was issued by [`issue`] for this `request` and has not expired.
pub fn check(key: &[u8], request: &[&str], token: &str, now: i64) -> bool {
    let Some((expiry, tag)) = token.split_once('.') else { return false };
    let (Ok(expiry), Ok(tag)) = (expiry.parse::<i64>(), URL_SAFE_NO_PAD.decode(tag)) else { return false };
    expiry > now && expiry <= now + LIFETIME_SECONDS && mac(key, expiry, request).verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_token_holds_for_its_request_until_it_expires() {
        let token = issue(KEY, &["cli_a", "https://app/cb"], 1000);
        assert!(check(KEY, &["cli_a", "https://app/cb"], &token, 1000 + LIFETIME_SECONDS - 1));
        assert!(!check(KEY, &["cli_a", "https://app/cb"], &token, 1000 + LIFETIME_SECONDS));
    }

    #[test]
    fn a_token_does_not_hold_for_another_request_key_or_shape() {
        let token = issue(KEY, &["cli_a", "https://app/cb"], 1000);
        assert!(!check(KEY, &["cli_a", "https://evil/cb"], &token, 1001));
        assert!(!check(KEY, &["cli_ah", "ttps://app/cb"], &token, 1001), "parts are length-prefixed");
        assert!(!check(b"another key", &["cli_a", "https://app/cb"], &token, 1001));
        assert!(!check(KEY, &["cli_a", "https://app/cb"], "garbage", 1001));
        let (_, tag) = token.split_once('.').unwrap();
        let stretched = format!("{}.{tag}", 1000 + 10 * LIFETIME_SECONDS);
        assert!(!check(KEY, &["cli_a", "https://app/cb"], &stretched, 1001), "the expiry is signed");
    }
}
