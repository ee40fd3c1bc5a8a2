//! What a load balancer asks: `/healthz` (the process lives) and `/readyz` (it can serve:
//! the database answers and it is not draining for a shutdown).

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::error::extract::Json;
use crate::state::AppState;

/// How long `/readyz` waits for the database before calling it unavailable.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, `ready`, `draining` or `database_unavailable`.
    status: &'static str,
}

/// The process lives and answers HTTP.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Send traffic here: 200 when the database answers and the service is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, description = "draining, or the database does not answer", body = Health)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    if state.draining.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "draining" }));
    }
    match tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, Json(Health { status: "ready" })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: the database failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "database_unavailable" }))
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "database_unavailable" })),
    }
}
