//! What every handler shares: the service's configuration, its state, and what a handler reads
//! off a request with it (the public URL it reached, the client's address). The routes, the
//! extractors in `auth`, the catalog and `app` import it; it imports only the parts the state
//! holds (storage, the limiters, the hash pool, the verified cache, metrics), none of which
//! import it back.

use std::sync::Arc;
use std::time::Duration;

use keyward_core::Brand;

use crate::auth::client_address::{ClientAddress, LocalAddr, ProxyPolicy};
use crate::auth::hash_pool::HashPool;
use crate::auth::limits::WindowLimiter;
use crate::auth::throttle::{Throttle, ThrottleLimits};
use crate::auth::verified::VerifiedCache;
use crate::db::Db;
use crate::usage::UsageTracker;

/// How the service behaves; the defaults suit a real deployment.
#[derive(Debug, Clone)]
pub struct Config {
    pub brand: Brand,
    /// Requests one key may make per minute before it gets 429.
    pub key_requests_per_minute: u32,
    /// Failed authentications one client address may make per minute before its argon2
    /// checks take the narrow lane (see [`crate::auth::throttle`]).
    pub failed_auth_per_minute: u32,
    /// Wrong passwords for one account from one address per quarter hour before that address
    /// is refused for that account.
    pub password_failures_per_client: u32,
    /// Wrong passwords for one account from all addresses per quarter hour before addresses
    /// that already failed for it are refused.
    pub password_failures_per_account: u32,
    /// The proxies trusted to say which client a request comes from.
    pub proxies: ProxyPolicy,
    /// A dashboard session ends after this long without use.
    pub session_idle: Duration,
    /// A dashboard session ends this long after sign-in, however much it is used.
    pub session_lifetime: Duration,
    /// Remember secrets that matched (the fast path). Off only to measure what it saves.
    pub verified_cache: bool,
    /// Host names every route answers to besides loopback names (DNS-rebinding protection,
    /// see [`crate::host_check`]). Empty: loopback names when bound to loopback, else any.
    pub allowed_hosts: Vec<String>,
    #[cfg(feature = "benchmark")]
    /// For benchmarks only: `/v1` and `/mcp` skip authentication and act as a read key of this
    /// store, to measure the floor that authentication adds to. Never set in a deployment.
    pub unauthenticated_store: Option<String>,
    /// The address clients reach the service at, e.g. `https://keys.example.com` behind a TLS
    /// proxy; OAuth metadata and challenges name URLs under it. `None`: the address each
    /// connection reached (`http://127.0.0.1:8420`).
    pub public_url: Option<String>,
    /// How long a client may take to send a request's headers before the connection is
    /// closed (slowloris).
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body before it gets 408.
    pub body_timeout: Duration,
    /// How often instances on a shared database exchange their rate and failure counts: the
    /// total accepted across instances stays within a limit plus what the others accept in
    /// this long (see [`crate::auth::shared_counts`]).
    pub count_sharing_interval: Duration,
}

impl Config {
    pub fn new(brand: Brand) -> Self {
        Config {
            brand,
            key_requests_per_minute: 600,
            failed_auth_per_minute: 30,
            password_failures_per_client: 10,
            password_failures_per_account: 50,
            proxies: ProxyPolicy::default(),
            session_idle: Duration::from_secs(14 * 24 * 3600),
            session_lifetime: Duration::from_secs(90 * 24 * 3600),
            verified_cache: true,
            allowed_hosts: Vec::new(),
            public_url: None,
            #[cfg(feature = "benchmark")]
            unauthenticated_store: None,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            count_sharing_interval: Duration::from_secs(1),
        }
    }
}

/// The service's public base URL, without a trailing slash (see [`Config::public_url`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(pub String);

impl PublicUrl {
    /// The MCP endpoint's URL: the protected resource (RFC 9728) OAuth tokens are issued for.
    pub fn mcp_resource(&self) -> String {
        format!("{}/mcp", self.0)
    }

    pub fn of(state: &AppState, extensions: &axum::http::Extensions) -> PublicUrl {
        PublicUrl::reached_at(state, extensions.get::<LocalAddr>().copied())
    }

    /// The public URL of a connection accepted on `local` (see [`Config::public_url`]).
    pub fn reached_at(state: &AppState, local: Option<LocalAddr>) -> PublicUrl {
        if let Some(url) = &state.config.public_url {
            return PublicUrl(url.trim_end_matches('/').to_owned());
        }
        match local {
            Some(LocalAddr(addr)) => PublicUrl(format!("http://{addr}")),
            None => PublicUrl("http://localhost".into()),
        }
    }
}

impl axum::extract::FromRequestParts<AppState> for PublicUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(PublicUrl::of(state, &parts.extensions))
    }
}

impl axum::extract::FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress::of(&state.config.proxies, &parts.extensions, &parts.headers))
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub verified: Arc<VerifiedCache>,
    pub usage: Arc<UsageTracker>,
    pub key_limiter: Arc<WindowLimiter>,
    pub throttle: Arc<Throttle>,
    /// OAuth client registrations per client address per hour.
    pub registration_limiter: Arc<WindowLimiter>,
    /// Every argon2 run (key secrets, passwords) happens here, never on the database's threads.
    pub hashes: Arc<HashPool>,
    pub metrics: crate::metrics::Metrics,
    /// Set when shutdown begins: `/readyz` then answers 503 so the load balancer moves on.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
}

impl AppState {
    pub fn new(db: Db, config: Config) -> Self {
        let hashes = HashPool::for_this_machine();
        let metrics = crate::metrics::Metrics::new(db.metrics(), hashes.verification_counter());
        // Instances on one database name callers alike, by a key only they hold.
        let shared = db.is_shared().then(|| {
            use sha2::Digest;
            sha2::Sha256::new().chain_update(b"keyward rate-limit names\0").chain_update(db.consent_key()).finalize().into()
        });
        AppState {
            verified: Arc::new(VerifiedCache::new(config.verified_cache)),
            usage: Arc::new(UsageTracker::default()),
            key_limiter: Arc::new(WindowLimiter::counted("key_requests", config.key_requests_per_minute, Duration::from_secs(60), shared)),
            throttle: Arc::new(Throttle::new(
                ThrottleLimits {
                    failures_per_address_per_minute: config.failed_auth_per_minute,
                    password_failures_per_client: config.password_failures_per_client,
                    password_failures_per_account: config.password_failures_per_account,
                },
                shared,
            )),
            hashes: Arc::new(hashes),
            metrics,
            draining: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            registration_limiter: Arc::new(WindowLimiter::counted("registrations", 20, Duration::from_secs(3600), shared)),
            config: Arc::new(config),
            db,
        }
    }
}
