//! `PATCH /api/me/password`: the signed-in person changes their password; every other device
//! they are signed in on is signed out, so a stolen laptop's session ends with the old password.

use axum::extract::State;
use keyward_core::wire::{ErrorBody, PasswordChange, PasswordChanged};

use crate::auth::Session;
use crate::auth::client_address::ClientAddress;
use crate::auth::throttle::Credential;
use crate::error::ApiError;
use crate::error::extract::Json;
use crate::state::AppState;

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest: argon2 takes any length, but nobody types more, and a megabyte would be work.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Checks a new password's length; the sentence says what is wrong.
pub fn check_new_password(password: &str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(ApiError::bad_request(
            "invalid_password",
            format!("A password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters. Choose another one."),
        ));
    }
    Ok(())
}

#[utoipa::path(patch, path = "/api/me/password", tag = "session", security(("session" = [])), request_body = PasswordChange,
    responses((status = 200, body = PasswordChanged), (status = 400, body = ErrorBody), (status = 403, description = "the current password is wrong", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    session: Session,
    address: ClientAddress,
    Json(request): Json<PasswordChange>,
) -> Result<Json<PasswordChanged>, ApiError> {
    check_new_password(&request.new_password)?;
    let phc = state.db.password_hash(session.user_id.clone()).await?.ok_or_else(|| ApiError::not_found("user"))?;
    let attempt = state.throttle.begin(&address, Credential::Password { account: &session.user_email })?;
    if !attempt.verify(&state.hashes, &request.current_password, &phc).await? {
        attempt.failed();
        return Err(ApiError::forbidden("wrong_password", "The current password is wrong. Type the password you sign in with, then the new one."));
    }
    attempt.succeeded();
    let new_hash = state.hashes.hash(&request.new_password).await?;
    let signed_out_devices = state.db.change_password(session.actor(), new_hash).await?;
    tracing::info!(user = %session.user_id, signed_out_devices, "password changed");
    Ok(Json(PasswordChanged { signed_out_devices }))
}
