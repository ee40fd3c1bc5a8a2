//! `/api/staff`: the people who can sign in to the store. Everyone may list them; only the
//! owner adds and removes staff. Removing someone signs them out everywhere at once.

use axum::extract::State;
use axum::http::StatusCode;
use keyward_core::wire::{ErrorBody, NewStaffMember, RemovedStaffMember, StaffList, StaffMember, validate_name};

use crate::auth::Session;
use crate::error::ApiError;
use crate::error::extract::{Json, Path};
use crate::state::AppState;

use super::me::check_new_password;

#[utoipa::path(get, path = "/api/staff", tag = "staff", security(("session" = [])),
    responses((status = 200, body = StaffList), (status = 401, body = ErrorBody)))]
pub async fn list_staff(State(state): State<AppState>, session: Session) -> Result<Json<StaffList>, ApiError> {
    Ok(Json(StaffList { staff: state.db.list_staff(session.store_id).await? }))
}

/// Add a staff member (owner only); they sign in with the email and password given here.
#[utoipa::path(post, path = "/api/staff", tag = "staff", security(("session" = [])), request_body = NewStaffMember,
    responses((status = 201, body = StaffMember), (status = 400, body = ErrorBody), (status = 403, description = "only the owner manages staff", body = ErrorBody)))]
pub async fn add_staff(
    State(state): State<AppState>,
    session: Session,
    Json(request): Json<NewStaffMember>,
) -> Result<(StatusCode, Json<StaffMember>), ApiError> {
    session.require_owner("add staff")?;
    let name = validate_name("name", &request.name).map_err(|m| ApiError::bad_request("invalid_name", m))?;
    let email = request.email.trim().to_owned();
    if !looks_like_email(&email) {
        return Err(ApiError::bad_request("invalid_email", "That is not an email address. Type it as name@example.com."));
    }
    check_new_password(&request.password)?;
    let hash = state.hashes.hash(&request.password).await?;
    let member = state.db.add_staff_member(session.actor(), name, email, hash).await?;
    Ok((StatusCode::CREATED, Json(member)))
}

/// Remove a staff member (owner only): they can no longer sign in, and every device they are
/// signed in on is signed out now.
#[utoipa::path(delete, path = "/api/staff/{id}", tag = "staff", security(("session" = [])), params(("id" = String, Path)),
    responses((status = 200, body = RemovedStaffMember), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_staff(State(state): State<AppState>, session: Session, Path(id): Path<String>) -> Result<Json<RemovedStaffMember>, ApiError> {
    session.require_owner("remove staff")?;
    let (member, signed_out_devices) = state.db.remove_staff_member(session.actor(), id).await?;
    tracing::info!(user = %member.id, signed_out_devices, "staff member removed");
    Ok(Json(RemovedStaffMember { member, signed_out_devices }))
}

/// One `@` with something on both sides and a dot in the domain, at most 254 characters.
fn looks_like_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else { return false };
    text.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(char::is_whitespace)
        && !domain.contains('@')
}
