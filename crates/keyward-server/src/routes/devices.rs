//! Signed-in devices: list them, sign one out (optionally revoking the keys made from it).

use axum::extract::State;
use keyward_core::wire::{DeviceList, ErrorBody, SignedOutDevice};
use serde::Deserialize;

use crate::auth::Session;
use crate::auth::permissions::Owned;
use crate::error::ApiError;
use crate::error::extract::{Json, Path, Query};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/devices", tag = "devices", security(("session" = [])),
    responses((status = 200, body = DeviceList), (status = 401, body = ErrorBody)))]
pub async fn list_devices(State(state): State<AppState>, session: Session) -> Result<Json<DeviceList>, ApiError> {
    let devices = state.db.list_devices(session.store_id, session.device_id).await?;
    Ok(Json(DeviceList { devices }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SignOutParams {
    /// Also revoke every key created and every web-chat connection granted from that device.
    #[serde(default)]
    revoke_keys: bool,
}

/// Sign a device out, e.g. a lost laptop; its session token stops working at once.
#[utoipa::path(delete, path = "/api/devices/{id}", tag = "devices", security(("session" = [])),
    params(("id" = String, Path), SignOutParams),
    responses((status = 200, body = SignedOutDevice), (status = 404, body = ErrorBody)))]
pub async fn sign_out_device(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(params): Query<SignOutParams>,
) -> Result<Json<SignedOutDevice>, ApiError> {
    let user = state.db.device_user(session.store_id.clone(), id.clone()).await?.ok_or_else(|| ApiError::not_found("device"))?;
    session.require_owner_or_maker(Owned::Device { user: &user })?;
    let done = state
        .db
        .sign_out_device(session.actor(), id, params.revoke_keys)
        .await?
        .ok_or_else(|| ApiError::not_found("device"))?;
    Ok(Json(SignedOutDevice { device: done.device, revoked_keys: done.revoked_keys, revoked_connections: done.revoked_connections }))
}
