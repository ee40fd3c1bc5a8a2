//! `DELETE /api/store`: uninstall. Every key, connection and session of the store stops.

use axum::extract::State;
use axum::http::StatusCode;
use keyward_core::wire::ErrorBody;

use crate::auth::Session;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(delete, path = "/api/store", tag = "store", security(("session" = [])),
    responses((status = 204), (status = 403, description = "only the owner may uninstall", body = ErrorBody)))]
pub async fn uninstall(State(state): State<AppState>, session: Session) -> Result<StatusCode, ApiError> {
    session.require_owner("uninstall Keyward")?;
    state.db.uninstall_store(session.actor()).await?;
    tracing::warn!(store = %session.store_id, "store uninstalled");
    Ok(StatusCode::NO_CONTENT)
}
