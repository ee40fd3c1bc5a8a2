//! `GET /api/audit`: who did what to which key, connection or device, when, from where.

use axum::extract::State;
use keyward_core::wire::{AuditPage, ErrorBody};
use serde::Deserialize;

use crate::auth::Session;
use crate::error::ApiError;
use crate::error::extract::{Json, Query};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Only events older than this id: pass `next_before` from the previous page.
    before: Option<i64>,
    /// Events per page, 1 to 200 (default 50).
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/audit", tag = "audit", security(("session" = [])), params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody)))]
pub async fn audit(State(state): State<AppState>, session: Session, Query(params): Query<AuditParams>) -> Result<Json<AuditPage>, ApiError> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request("invalid_limit", "limit must be between 1 and 200."));
    }
    Ok(Json(state.db.audit_page(session.store_id, params.before, limit).await?))
}
