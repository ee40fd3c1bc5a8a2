//! The API key format: `{brand}_{id}{secret}{check}`.
//!
//! - `brand`: 2–8 lowercase ASCII letters, set per deployment (`asmk`, `lstk`, …).
//! - `id`: 8 base62 characters, the key's public identifier.
//! - `secret`: 32 base62 characters from the OS random source (about 190 bits).
//! - `check`: 6 base62 characters, the CRC32 of everything before it, so a typo or a
//!   truncated paste is rejected here, without a database lookup, and a secret scanner
//!   can recognise leaked keys with few false positives.
//!
//! People only ever see the `key_prefix`, `{brand}_{id}`, after the key is created.

use std::fmt;

use rand::RngExt;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use subtle::ConstantTimeEq;

use crate::base62;

pub const ID_LEN: usize = 8;
pub const SECRET_LEN: usize = 32;
pub const CHECK_LEN: usize = 6;
const BODY_LEN: usize = ID_LEN + SECRET_LEN + CHECK_LEN;
const BRAND_MIN: usize = 2;
const BRAND_MAX: usize = 8;
/// The longest string that could be a key; anything longer is refused before it is read.
pub const MAX_KEY_LEN: usize = BRAND_MAX + 1 + BODY_LEN;

/// Why a string is not a well-formed key. None of these needs the database to decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("The key is empty. Paste the whole key, which looks like brand_ followed by 46 letters and digits.")]
    Empty,
    #[error("The key has no brand prefix. Paste the whole key, starting with its brand and an underscore.")]
    MissingBrand,
    #[error("The key's brand must be 2 to 8 lowercase letters. Check that the whole key was copied.")]
    BadBrand,
    #[error("The key has the wrong length; it may have been cut off. Copy the whole key again.")]
    WrongLength,
    #[error("The key contains a character keys never have. Copy the key again without spaces or quotes.")]
    BadCharacter,
    #[error("The key's checksum does not match, so it has a typo or was changed. Copy the key again.")]
    ChecksumMismatch,
}

/// A deployment's brand, the part before the underscore.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Brand(String);

impl Brand {
    pub fn new(text: &str) -> Result<Brand, KeyError> {
        let ok = (BRAND_MIN..=BRAND_MAX).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_lowercase());
        if ok { Ok(Brand(text.to_owned())) } else { Err(KeyError::BadBrand) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Brand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key's public identifier: safe to log, show and put in URLs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// Accepts exactly 8 base62 characters.
    pub fn parse(text: &str) -> Option<KeyId> {
        (text.len() == ID_LEN && text.bytes().all(base62::is_base62)).then(|| KeyId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A whole key, secret included. Its `Debug` and `Display` never show the secret; only
/// [`ApiKey::expose`] does, and only code that hands the key to its owner calls it.
#[derive(Clone)]
pub struct ApiKey {
    full: String,
    brand_len: usize,
}

impl ApiKey {
    /// Makes a new key for `brand` from the operating system's random source.
    pub fn generate(brand: &Brand) -> ApiKey {
        let mut rng = UnwrapErr(SysRng);
        let mut full = String::with_capacity(brand.0.len() + 1 + BODY_LEN);
        full.push_str(&brand.0);
        full.push('_');
        for _ in 0..ID_LEN + SECRET_LEN {
            full.push(base62::ALPHABET[rng.random_range(0..62)] as char);
        }
        let check = base62::encode_u32_fixed6(crc32fast::hash(full.as_bytes()));
        full.push_str(std::str::from_utf8(&check).expect("base62 is ASCII"));
        ApiKey { brand_len: brand.0.len(), full }
    }

    /// Checks the format and the checksum. Never touches a database and never panics.
    pub fn parse(text: &str) -> Result<ApiKey, KeyError> {
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        if text.len() > MAX_KEY_LEN {
            return Err(KeyError::WrongLength);
        }
        let Some(underscore) = text.find('_') else {
            return Err(KeyError::MissingBrand);
        };
        Brand::new(&text[..underscore])?;
        let body = &text.as_bytes()[underscore + 1..];
        if body.len() != BODY_LEN {
            return Err(KeyError::WrongLength);
        }
        if !body.iter().all(|&b| base62::is_base62(b)) {
            return Err(KeyError::BadCharacter);
        }
        let (signed, check) = text.as_bytes().split_at(text.len() - CHECK_LEN);
        let expected = base62::encode_u32_fixed6(crc32fast::hash(signed));
        if !bool::from(expected.ct_eq(check)) {
            return Err(KeyError::ChecksumMismatch);
        }
        Ok(ApiKey { full: text.to_owned(), brand_len: underscore })
    }

    /// Assembles a key from its parts, computing the checksum. For tools and tests that need
    /// a well-formed key with a chosen id or secret; real keys come from [`ApiKey::generate`].
    pub fn from_parts(brand: &Brand, id: &KeyId, secret: &str) -> Result<ApiKey, KeyError> {
        let mut text = format!("{brand}_{id}{secret}");
        let check = base62::encode_u32_fixed6(crc32fast::hash(text.as_bytes()));
        text.push_str(std::str::from_utf8(&check).map_err(|_| KeyError::BadCharacter)?);
        ApiKey::parse(&text)
    }

    pub fn brand(&self) -> &str {
        &self.full[..self.brand_len]
    }

    pub fn id(&self) -> KeyId {
        let start = self.brand_len + 1;
        KeyId(self.full[start..start + ID_LEN].to_owned())
    }

    /// The secret part, which the service hashes. Never log it.
    pub fn secret(&self) -> &str {
        let start = self.brand_len + 1 + ID_LEN;
        &self.full[start..start + SECRET_LEN]
    }

    /// `{brand}_{id}`: the only form of a key people see after it is created.
    pub fn key_prefix(&self) -> String {
        key_prefix(self.brand(), self.id().as_str())
    }

    /// The whole key, for handing it to its owner once.
    pub fn expose(&self) -> &str {
        &self.full
    }
}

/// `{brand}_{id}` for a key known only by its parts (a stored record): the one place the
/// prefix is spelt.
pub fn key_prefix(brand: &str, id: &str) -> String {
    format!("{brand}_{id}")
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({}…)", self.key_prefix())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", self.key_prefix())
    }
}

impl PartialEq for ApiKey {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.full.as_bytes().ct_eq(other.full.as_bytes()))
    }
}
impl Eq for ApiKey {}

/// The parts of a parsed key, for code that wants them by name.
pub type ParsedKey = ApiKey;

#[cfg(test)]
mod tests {
    use super::*;

    fn brand() -> Brand {
        Brand::new("asmk").unwrap()
    }

    #[test]
    fn a_generated_key_has_the_documented_shape() {
        let key = ApiKey::generate(&brand());
        let text = key.expose();
        assert!(text.starts_with("asmk_"));
        assert_eq!(text.len(), 5 + 46);
        assert_eq!(key.key_prefix().len(), 5 + 8);
        assert_eq!(key.secret().len(), 32);
        assert_eq!(ApiKey::parse(text).unwrap(), key);
    }

    #[test]
    fn two_keys_differ() {
        assert_ne!(ApiKey::generate(&brand()), ApiKey::generate(&brand()));
    }

    #[test]
    fn debug_and_display_hide_the_secret() {
        let key = ApiKey::generate(&brand());
        for shown in [format!("{key:?}"), format!("{key}")] {
            assert!(!shown.contains(key.secret()), "{shown}");
            assert!(shown.contains(&key.key_prefix()));
        }
    }

    #[test]
    fn brands_are_two_to_eight_lowercase_letters() {
        for good in ["ab", "asmk", "abcdefgh"] {
            assert!(Brand::new(good).is_ok(), "{good}");
        }
        for bad in ["a", "abcdefghi", "ASMK", "as1k", "as_k", ""] {
            assert!(Brand::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_kind_of_damage_gets_its_own_error() {
        let key = ApiKey::generate(&brand());
        let text = key.expose();
        assert_eq!(ApiKey::parse(""), Err(KeyError::Empty));
        assert_eq!(ApiKey::parse(&text.replace('_', "")), Err(KeyError::MissingBrand));
        assert_eq!(ApiKey::parse(&text[..text.len() - 1]), Err(KeyError::WrongLength));
        let mut spaced = text.to_owned();
        spaced.replace_range(10..11, " ");
        assert_eq!(ApiKey::parse(&spaced), Err(KeyError::BadCharacter));
        let mut flipped = text.as_bytes().to_vec();
        flipped[12] = if flipped[12] == b'a' { b'b' } else { b'a' };
        assert_eq!(ApiKey::parse(std::str::from_utf8(&flipped).unwrap()), Err(KeyError::ChecksumMismatch));
    }
}
