//! Failed attempts: what they are counted against, and what that changes.
//!
//! The rule: a throttle never turns away a credential because of other callers' failures.
//!
//! - A key secret (190 random bits) cannot be guessed, so failed keys only cost CPU. They are
//!   counted per client address; an address over its limit has its argon2 checks go through the
//!   pool's narrow lane ([`super::hash_pool`]), where they still get a true answer. A key that
//!   was verified before needs no argon2 and meets no throttle at all.
//! - A password can be guessed, so wrong passwords are also counted per account and per account
//!   and address. An address that failed too often for one account is refused for that account
//!   (429, without checking) until the window ends; an account that failed too often across
//!   addresses is refused only from addresses that have already failed for it. Everyone else,
//!   including the account's owner on another address, signs in as usual.
//! - Cheap failures (a malformed key, an unknown token, code or session) cost nothing to check
//!   and are only counted against the address.

use std::sync::Arc;
use std::time::Duration;

use super::client_address::ClientAddress;
use super::hash_pool::{HashPool, HashPoolError};
use super::limits::{Quota, WindowLimiter};
use crate::error::ApiError;

/// How the throttle counts; the defaults suit a real deployment.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimits {
    /// Failed authentications one client address may make per minute before its argon2 checks
    /// take the narrow lane.
    pub failures_per_address_per_minute: u32,
    /// Wrong passwords for one account from one address per quarter hour before that address is
    /// refused for that account.
    pub password_failures_per_client: u32,
    /// Wrong passwords for one account from all addresses per quarter hour before addresses that
    /// already failed for it are refused.
    pub password_failures_per_account: u32,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        ThrottleLimits { failures_per_address_per_minute: 30, password_failures_per_client: 10, password_failures_per_account: 50 }
    }
}

const PASSWORD_WINDOW: Duration = Duration::from_secs(15 * 60);

/// What a costly check is about to test.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    /// A key's secret; `key_id` is `None` when no key has that id (a decoy check runs).
    KeySecret { key_id: Option<&'a str> },
    /// A person's password; `account` is their email, or whatever they typed as one.
    Password { account: &'a str },
}

pub struct Throttle {
    by_address: WindowLimiter,
    by_key: WindowLimiter,
    by_account: WindowLimiter,
    by_account_and_address: WindowLimiter,
}

fn too_many(quota: Quota, what: &str) -> ApiError {
    ApiError::RateLimited {
        code: "too_many_failed_attempts",
        message: format!("{what} Wait {} seconds, then check the credentials and try again.", quota.reset),
        retry_after: quota.reset,
    }
}

/// The longest email considered; longer ones cannot be an account's (RFC 5321 allows 254).
const MAX_ACCOUNT_CHARS: usize = 254;

impl Throttle {
    /// A throttle whose counts are shared with the other instances when `shared` holds their
    /// common naming key (see [`super::shared_counts`]), or counted in this process alone.
    pub fn new(limits: ThrottleLimits, shared: Option<[u8; 32]>) -> Throttle {
        let limiter = |label, limit, window| WindowLimiter::counted(label, limit, window, shared);
        Throttle {
            by_address: limiter("failures_by_address", limits.failures_per_address_per_minute, Duration::from_secs(60)),
            by_key: limiter("failures_by_key", limits.failures_per_address_per_minute, Duration::from_secs(60)),
            by_account: limiter("password_failures_by_account", limits.password_failures_per_account, PASSWORD_WINDOW),
            by_account_and_address: limiter("password_failures_by_client", limits.password_failures_per_client, PASSWORD_WINDOW),
        }
    }

    /// Its counters, for sharing them.
    pub fn limiters(&self) -> [&WindowLimiter; 4] {
        [&self.by_address, &self.by_key, &self.by_account, &self.by_account_and_address]
    }

    /// Counts a failure that cost nothing to find (malformed key, unknown token, code or session).
    pub fn note_failure(&self, address: &ClientAddress) {
        self.by_address.count(&address.0);
    }

    /// Whether the address has failed too often this minute.
    pub fn is_suspect(&self, address: &ClientAddress) -> bool {
        self.by_address.used(&address.0) >= self.by_address.limit()
    }

    /// Before a check that costs argon2: refuses a password guess that is over its limits, and
    /// counts the attempt as a failure before it runs (so a burst of concurrent guesses cannot
    /// all slip through while the first ones hash). [`Attempt::succeeded`] takes it back.
    ///
    /// The check takes the narrow lane when its address has been failing and the credential
    /// itself has a record of failures (or names no key), or when the account is being
    /// guessed from many addresses; a credential with a clean record takes the wide lane
    /// wherever it comes from, so others' failures never slow it down.
    pub fn begin(self: &Arc<Self>, address: &ClientAddress, credential: Credential<'_>) -> Result<Attempt, ApiError> {
        let address_failing = self.is_suspect(address);
        let mut attempt = Attempt { throttle: self.clone(), address: address.0.clone(), key: None, account: None, suspect: false, settled: false };
        attempt.suspect = match credential {
            Credential::KeySecret { key_id: None } => address_failing,
            Credential::KeySecret { key_id: Some(id) } => {
                let clean = self.by_key.used(id) == 0;
                self.by_key.count(id);
                attempt.key = Some(id.to_owned());
                address_failing && !clean
            }
            Credential::Password { account } => {
                if account.chars().count() > MAX_ACCOUNT_CHARS {
                    return Err(ApiError::unauthenticated("invalid_credentials", "The email or password is wrong. Check both and try again."));
                }
                let name = account.trim().to_lowercase();
                let pair = format!("{name}\u{0}{}", address.0);
                self.by_account_and_address
                    .hit(&pair)
                    .map_err(|q| too_many(q, "Too many wrong passwords for this account from this address."))?;
                // Counted just now, so more than one means it failed here before (or, once the
                // map is full, that a flood is on: either way, no fresh start).
                let failed_here_before = self.by_account_and_address.used(&pair) > 1;
                let hot = self.by_account.blocked(&name);
                if let Some(quota) = hot.filter(|_| failed_here_before) {
                    self.by_account_and_address.give_back(&pair);
                    return Err(too_many(quota, "Too many wrong passwords for this account."));
                }
                let clean = self.by_account.used(&name) == 0;
                self.by_account.count(&name);
                attempt.account = Some((name, pair));
                (address_failing && !clean) || hot.is_some()
            }
        };
        self.by_address.count(&address.0);
        Ok(attempt)
    }
}

/// A costly check under way, counted as a failure until it succeeds. If it is dropped without
/// an answer (the pool was busy, the client went away), its counts are given back: only a
/// check that ran and failed stays counted.
#[must_use = "an attempt counts as a failure only once marked failed"]
pub struct Attempt {
    throttle: Arc<Throttle>,
    address: String,
    key: Option<String>,
    /// The account and the account-and-address names, for a password.
    account: Option<(String, String)>,
    suspect: bool,
    settled: bool,
}

impl Attempt {
    /// Checks `secret` against `phc` on the argon2 pool, in the narrow lane if need be.
    pub async fn verify(&self, pool: &HashPool, secret: &str, phc: &str) -> Result<bool, ApiError> {
        Ok(pool.verify(secret, phc, self.suspect).await?)
    }

    pub fn succeeded(mut self) {
        self.give_back();
        self.settled = true;
    }

    /// It failed, and stays counted.
    pub fn failed(mut self) {
        self.settled = true;
    }

    fn give_back(&self) {
        self.throttle.by_address.give_back(&self.address);
        if let Some(key) = &self.key {
            self.throttle.by_key.give_back(key);
        }
        if let Some((account, pair)) = &self.account {
            self.throttle.by_account.give_back(account);
            self.throttle.by_account_and_address.give_back(pair);
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.settled {
            self.give_back();
        }
    }
}

impl From<HashPoolError> for ApiError {
    fn from(e: HashPoolError) -> Self {
        match e {
            HashPoolError::Busy => ApiError::RateLimited {
                code: "too_many_failed_attempts",
                message: "Too many failed attempts from this address are being checked right now. Wait 10 seconds and try again.".into(),
                retry_after: 10,
            },
            HashPoolError::Overloaded => ApiError::RateLimited {
                code: "busy",
                message: "The key service is checking many credentials right now. Wait 5 seconds and try again.".into(),
                retry_after: 5,
            },
            HashPoolError::Stopped => ApiError::Internal(e.to_string()),
        }
    }
}
