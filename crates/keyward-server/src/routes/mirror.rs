//! `GET /api/mirror?since=CURSOR`: the key records changed after the cursor, for the clients'
//! verifier mirror. Hashes and status only, never secrets.

use axum::extract::State;
use keyward_core::wire::{ErrorBody, MirrorPage};
use serde::Deserialize;

use crate::auth::Session;
use crate::error::ApiError;
use crate::error::extract::{Json, Query};
use crate::state::AppState;

const PAGE: u32 = 1000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MirrorParams {
    /// The cursor from the previous page; absent or `0` for everything.
    since: Option<String>,
}

#[utoipa::path(get, path = "/api/mirror", tag = "mirror", security(("session" = [])), params(MirrorParams),
    responses((status = 200, body = MirrorPage), (status = 400, body = ErrorBody)))]
pub async fn mirror(State(state): State<AppState>, session: Session, Query(params): Query<MirrorParams>) -> Result<Json<MirrorPage>, ApiError> {
    let since = match params.since.as_deref() {
        None | Some("") => 0,
        Some(text) => text.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::bad_request("invalid_cursor", "The cursor is not one this service gave out. Use the cursor from the last page, or 0 to start over.")
        })?,
    };
    let store = state.db.store_info(session.store_id.clone()).await?.ok_or_else(|| ApiError::not_found("store"))?;
    let (records, cursor, has_more) = state.db.mirror_changes(session.store_id, since, PAGE).await?;
    Ok(Json(MirrorPage { store, records, cursor: cursor.to_string(), has_more }))
}
