//! What an operator scrapes: Prometheus metrics for requests, authentication, argon2 and the
//! database. Each service has its own registry (no process-wide recorder), so several services
//! in one process (the tests) count apart. `keyward-server serve` exposes it on a separate
//! listen address (`--metrics-listen`), not on the public API.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route's pattern (`/api/keys/{id}`), never the concrete path, so ids do not
    /// multiply series; `unmatched` for addresses with no route.
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AuthLabels {
    /// `ok`, or the refusal's code (`key_revoked`, `invalid_token`, `missing_credentials`, …).
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DbLabels {
    /// `read` or `write`.
    pub kind: &'static str,
}

/// The database's own instruments: made by the storage, registered by [`Metrics::new`].
#[derive(Clone)]
pub struct DbMetrics {
    pub latency: Family<DbLabels, Histogram, fn() -> Histogram>,
    /// Database connections busy right now.
    pub in_use: Gauge,
    /// Connections the storage keeps open now (PostgreSQL's pool grows to its maximum as
    /// needed; SQLite keeps its writer and readers open).
    pub open: Gauge,
    /// The most connections the storage will open.
    pub max: Gauge,
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 1.6 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

impl Default for DbMetrics {
    fn default() -> Self {
        DbMetrics {
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            in_use: Gauge::default(),
            open: Gauge::default(),
            max: Gauge::default(),
        }
    }
}

impl DbMetrics {
    /// Records one database call that took `elapsed`.
    pub fn observe(&self, kind: &'static str, elapsed: Duration) {
        self.latency.get_or_create(&DbLabels { kind }).observe(elapsed.as_secs_f64());
    }
}

/// Every instrument of one service, and the registry that renders them.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub authentications: Family<AuthLabels, Counter>,
    /// `authentications{outcome="ok"}`, resolved once.
    authenticated: Counter,
    pub argon2_runs: Counter,
}

impl Metrics {
    /// `argon2_runs` is the hash pool's own counter, which it increments.
    pub fn new(db: &DbMetrics, argon2_runs: Counter) -> Metrics {
        let mut registry = Registry::with_prefix("keyward");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route pattern, method and status", requests.clone());
        let authentications = Family::<AuthLabels, Counter>::default();
        registry.register("authentications", "Data-plane authentications, by outcome (ok or the refusal's code)", authentications.clone());
        registry.register("argon2_runs", "argon2 verifications run (key secrets and passwords)", argon2_runs.clone());
        registry.register("db_latency_seconds", "Time a database call took, queueing included", db.latency.clone());
        registry.register("db_connections_in_use", "Database connections busy now", db.in_use.clone());
        registry.register("db_connections_open", "Database connections the pool holds open now", db.open.clone());
        registry.register("db_connections_max", "The most database connections the pool will open", db.max.clone());
        let authenticated = authentications.get_or_create(&AuthLabels { outcome: "ok".into() }).clone();
        Metrics { registry: Arc::new(registry), requests, authentications, authenticated, argon2_runs }
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// A data-plane request authenticated. Every such request passes here, so its counter is
    /// looked up once, at start, not per request.
    pub fn authenticated(&self) {
        self.authenticated.inc();
    }

    /// A data-plane request refused, by the refusal's code.
    pub fn refused(&self, code: &str) {
        self.authentications.get_or_create(&AuthLabels { outcome: code.to_owned() }).inc();
    }
}

/// Middleware on every route: counts the answer by route pattern and status.
pub async fn count_requests(
    axum::extract::State(metrics): axum::extract::State<Metrics>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    metrics.requests.get_or_create(&RequestLabels { route, method, status: response.status().as_u16() }).inc();
    response
}

/// The router `--metrics-listen` serves: `GET /metrics`.
pub fn router(metrics: Metrics) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], metrics.render())
            }
        }),
    )
}
