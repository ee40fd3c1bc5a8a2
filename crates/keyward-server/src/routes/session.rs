//! `POST /api/session` signs a person in on a device; `DELETE /api/session` signs it out.

use axum::extract::State;
use axum::http::StatusCode;
use keyward_core::wire::{ErrorBody, LoginRequest, SessionCreated, validate_name};

use crate::auth::client_address::ClientAddress;
use crate::auth::tokens;
use crate::auth::{Session, check_password};
use crate::error::ApiError;
use crate::error::extract::Json;
use crate::state::AppState;

/// Sign in; the token is returned this once and identifies this device from now on.
#[utoipa::path(post, path = "/api/session", tag = "session", request_body = LoginRequest,
    responses((status = 201, body = SessionCreated), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn sign_in(
    State(state): State<AppState>,
    address: ClientAddress,
    Json(request): Json<LoginRequest>,
) -> Result<(StatusCode, Json<SessionCreated>), ApiError> {
    let device_name = validate_name("device name", &request.device_name).map_err(|m| ApiError::bad_request("invalid_name", m))?;
    let Some(candidate) = check_password(&state, &address, &request.email, &request.password).await? else {
        return Err(ApiError::unauthenticated("invalid_credentials", "The email or password is wrong. Check both and try again."));
    };
    if candidate.store_uninstalled {
        return Err(ApiError::forbidden("store_uninstalled", "This store has uninstalled Keyward. Reinstall it before signing in."));
    }
    let token = tokens::random_token(tokens::SESSION_PREFIX);
    let (device, store) = state
        .db
        .create_device(candidate.store_id, candidate.user.id.clone(), device_name, tokens::digest(&token), Some(candidate.password_hash))
        .await?;
    tracing::info!(device = %device.id, user = %candidate.user.id, "signed in");
    Ok((StatusCode::CREATED, Json(SessionCreated { token, user: candidate.user, store, device })))
}

/// Sign this device out.
#[utoipa::path(delete, path = "/api/session", tag = "session", security(("session" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn sign_out(State(state): State<AppState>, session: Session) -> Result<StatusCode, ApiError> {
    state.db.sign_out_device(session.actor(), session.device_id.clone(), false).await?;
    Ok(StatusCode::NO_CONTENT)
}
