//! Web-chat connections: list, revoke, and make a one-time connection code.

use axum::extract::State;
use axum::http::StatusCode;
use keyward_core::Scopes;
use keyward_core::wire::{ConnectionCode, ConnectionCodeRequest, ConnectionList, Connection, ErrorBody, validate_name};
use keyward_core::Timestamp;

use crate::auth::permissions::Owned;
use crate::auth::{Session, tokens};
use crate::db::{NewConnectionCode, now};
use crate::error::ApiError;
use crate::error::extract::{Json, Path};
use crate::state::AppState;

/// Connection codes are valid ten minutes.
const CODE_SECONDS: i64 = 600;

#[utoipa::path(get, path = "/api/connections", tag = "connections", security(("session" = [])),
    responses((status = 200, body = ConnectionList)))]
pub async fn list_connections(State(state): State<AppState>, session: Session) -> Result<Json<ConnectionList>, ApiError> {
    let mut connections = state.db.list_connections(session.store_id).await?;
    for connection in &mut connections {
        if let Some(at) = state.usage.pending(&connection.id) {
            connection.last_used_at = Some(Timestamp::from_unix(at));
        }
    }
    Ok(Json(ConnectionList { connections }))
}

/// Revoke a connection: its tokens stop working at once and it cannot refresh.
#[utoipa::path(delete, path = "/api/connections/{id}", tag = "connections", security(("session" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Connection), (status = 404, body = ErrorBody)))]
pub async fn revoke_connection(State(state): State<AppState>, session: Session, Path(id): Path<String>) -> Result<Json<Connection>, ApiError> {
    let grantor = state.db.connection_grantor(session.store_id.clone(), id.clone()).await?.ok_or_else(|| ApiError::not_found("connection"))?;
    session.require_owner_or_maker(Owned::Connection { granted_by: &grantor })?;
    Ok(Json(state.db.revoke_connection(session.actor(), id).await?))
}

/// A one-time code, valid ten minutes, that the merchant pastes on the consent page
/// (`/oauth/authorize`) instead of signing in there; it decides the store and the scopes.
#[utoipa::path(post, path = "/api/connections/codes", tag = "connections", security(("session" = [])),
    request_body = ConnectionCodeRequest, responses((status = 201, body = ConnectionCode), (status = 400, body = ErrorBody)))]
pub async fn create_code(
    State(state): State<AppState>,
    session: Session,
    Json(request): Json<ConnectionCodeRequest>,
) -> Result<(StatusCode, Json<ConnectionCode>), ApiError> {
    let scopes = request.scopes.unwrap_or_else(Scopes::read_only);
    let app_name = validate_name("app name", request.app_name.as_deref().unwrap_or("Web chat app"))
        .map_err(|m| ApiError::bad_request("invalid_name", m))?;
    let code = tokens::random_token(tokens::CODE_PREFIX);
    let expires_at = now() + CODE_SECONDS;
    let new = NewConnectionCode { app_name: app_name.clone(), scopes: scopes.clone(), code_hash: tokens::digest(&code), expires_at };
    state.db.create_connection_code(session.actor(), new).await?;
    Ok((StatusCode::CREATED, Json(ConnectionCode { code, scopes, app_name, expires_at: Timestamp::from_unix(expires_at) })))
}
