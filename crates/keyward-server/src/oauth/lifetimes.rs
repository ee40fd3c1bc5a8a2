//! How long OAuth's one-time credentials and tokens live: one place for the storage backends
//! that set the expiry, the rules that judge a use, and the messages that explain a refusal.

/// How long an authorization code works.
pub const AUTHORIZATION_CODE_SECONDS: i64 = 60;
/// Access tokens live an hour, refresh tokens thirty days (each used once).
pub const ACCESS_TOKEN_SECONDS: i64 = 3600;
pub const REFRESH_TOKEN_SECONDS: i64 = 30 * 24 * 3600;

/// A refresh token used again within this many seconds of its first use, while the refresh
/// token that first use returned is still unused, gets a new pair instead of revoking the
/// connection: the first answer may have been lost on the way (a timeout, a crashed tab), and
/// the app retries. The pair the first answer carried is retired at that moment, so there is
/// never more than one live chain, and a later use of it counts as a replay. Past the window,
/// or once the chain moved on, a second use means two parties hold the token.
pub const REFRESH_RETRY_SECONDS: i64 = 10;
