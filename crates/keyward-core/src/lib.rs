//! Keyward's shared ground, used by the key service and by every client.
//!
//! - [`key`]: the API key format `{brand}_{id}{secret}{check}`: generation from the OS random
//!   source, parsing with a CRC32 check that rejects typos before any database is touched,
//!   and the `key_prefix` that is the only form shown to people after creation.
//! - [`hashing`]: argon2id hashing (OWASP parameters) and constant-time verification.
//! - [`scope`]: the `read` and `write` scopes.
//! - [`status`]: a key's status (active, rotating out, deactivated, expired, revoked), decided
//!   by [`KeyStatus::of`] for the key service, the mirror, the CLI and the app alike.
//! - [`timestamp`]: a moment as the API, the CLI and the app exchange it (RFC 3339), and the
//!   one clock storage reads.
//! - [`wire`]: the JSON types both sides of the HTTP API speak.
//! - [`base62`]: the alphabet a key's id, secret and checksum are written in.
//!
//! Nothing here does I/O, so every part is cheap to test and to fuzz.

pub mod base62;
pub mod hashing;
pub mod key;
pub mod scope;
pub mod status;
pub mod timestamp;
pub mod wire;

pub use key::{ApiKey, Brand, KeyError, KeyId, ParsedKey};
pub use scope::{Scope, Scopes};
pub use status::{KeyFacts, KeyStatus};
pub use timestamp::Timestamp;
