//! The service as one value: configuration, shared state, the router, and `serve`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use keyward_core::Brand;
use tokio::net::TcpListener;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::client_address::ProxyPolicy;
use crate::auth::hash_pool::HashPool;
use crate::auth::limits::WindowLimiter;
use crate::auth::throttle::{Throttle, ThrottleLimits};
use crate::auth::verified::VerifiedCache;
use crate::db::Db;
use crate::error::ApiError;
use crate::usage::UsageTracker;

/// The largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

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
        PublicUrl::reached_at(state, extensions.get::<crate::host_check::LocalAddr>().copied())
    }

    /// The public URL of a connection accepted on `local` (see [`Config::public_url`]).
    pub fn reached_at(state: &AppState, local: Option<crate::host_check::LocalAddr>) -> PublicUrl {
        if let Some(url) = &state.config.public_url {
            return PublicUrl(url.trim_end_matches('/').to_owned());
        }
        match local {
            Some(crate::host_check::LocalAddr(addr)) => PublicUrl(format!("http://{addr}")),
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

/// The whole HTTP surface: management API, OAuth token endpoint, data plane, MCP and the
/// OpenAPI document.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = crate::routes::api_router(state.clone()).split_for_parts();
    let openapi = Arc::new(openapi);
    api.route(
        "/openapi.json",
        axum::routing::get(move || {
            let openapi = openapi.clone();
            async move { axum::Json((*openapi).clone()) }
        }),
    )
    .route_layer(axum::middleware::from_fn_with_state(state.metrics.clone(), crate::metrics::count_requests))
    .fallback(|| async { ApiError::NotFound("There is nothing at this address. See /openapi.json for the API.".into()) })
    .method_not_allowed_fallback(|| async {
        let mut response = axum::response::IntoResponse::into_response(ApiError::bad_request(
            "method_not_allowed",
            "This address does not accept that method. See /openapi.json for the API.",
        ));
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
    })
    .layer(DefaultBodyLimit::max(BODY_LIMIT))
    .layer(axum::middleware::from_fn(refuse_oversized_bodies))
    .layer(RequestBodyTimeoutLayer::new(state.config.body_timeout))
    .layer(crate::routes::cors_for_oauth_clients())
    .layer(axum::middleware::from_fn_with_state(state.clone(), crate::host_check::check_host))
    .layer(TraceLayer::new_for_http())
    .with_state(state)
}

/// Refuses a body announced as larger than [`BODY_LIMIT`] at once, without waiting for it.
async fn refuse_oversized_bodies(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let announced = request.headers().get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > BODY_LIMIT as u64) {
        return axum::response::IntoResponse::into_response(ApiError::PayloadTooLarge(BODY_LIMIT));
    }
    next.run(request).await
}

/// Serves until `shutdown` resolves, then writes pending usage and returns.
///
/// This is axum's `serve` with one addition: a deadline for reading request headers, so a
/// client that trickles them in (slowloris) loses its connection instead of keeping it open
/// forever. Connections still open at shutdown get a few seconds to finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto;

    let background = spawn_background(state.clone());
    let sharing = state.db.is_shared().then(|| crate::auth::shared_counts::spawn(state.clone()));
    let app = router(state.clone());
    let mut connections = auto::Builder::new(TokioExecutor::new());
    connections.http1().timer(TokioTimer::new()).header_read_timeout(state.config.header_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let bound = listener.local_addr()?;
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => {
                state.draining.store(true, std::sync::atomic::Ordering::Relaxed);
                break;
            }
        };
        let app = app.clone();
        // The address this connection reached, not the one listened on: bound to 0.0.0.0, a
        // connection over loopback still reaches 127.0.0.1, and gets the loopback Host rule.
        let local = stream.local_addr().unwrap_or(bound);
        let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(axum::extract::ConnectInfo(remote));
            request.extensions_mut().insert(crate::host_check::LocalAddr(local));
            tower::ServiceExt::oneshot(app.clone(), request)
        });
        let connection = connections.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %remote, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await.is_err() {
        tracing::info!("connections still open after 5 s of shutting down were dropped");
    }
    background.abort();
    if let Some(sharing) = sharing {
        sharing.abort();
    }
    state.usage.flush(&state.db).await?;
    Ok(())
}

/// How long a self-registered OAuth client may go unused before it is forgotten.
const UNUSED_CLIENT_SECONDS: i64 = 24 * 3600;

/// Housekeeping: write remembered key and connection uses, write down rotations whose overlap
/// ended, and (every ten minutes) forget OAuth clients that registered and never came back and
/// authorization codes long expired.
fn spawn_background(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        let mut ticks: u64 = 0;
        loop {
            tick.tick().await;
            ticks += 1;
            if ticks % 300 == 1 {
                match state.db.forget_unused_clients(crate::db::now() - UNUSED_CLIENT_SECONDS).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(clients = n, "forgot OAuth clients that registered and were never used"),
                    Err(e) => tracing::warn!(error = %e, "could not forget unused OAuth clients; will retry"),
                }
                if let Err(e) = state.db.forget_expired_authorization_codes().await {
                    tracing::warn!(error = %e, "could not forget expired authorization codes; will retry");
                }
            }
            if let Err(e) = state.usage.flush(&state.db).await {
                tracing::warn!(error = %e, "could not write key usage; will retry");
            }
            match state.db.finish_overlaps().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(keys = n, "rotation overlaps ended; old keys revoked"),
                Err(e) => tracing::warn!(error = %e, "could not finish rotation overlaps; will retry"),
            }
        }
    })
}
