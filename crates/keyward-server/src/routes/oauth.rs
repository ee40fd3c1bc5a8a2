//! `POST /oauth/token`: a web-chat app trades a connection code, or later its refresh token,
//! for an access token bound to one store and the scopes the merchant chose.

use axum::extract::State;
use keyward_core::wire::{ErrorBody, TokenRequest, TokenResponse};

use crate::app::AppState;
use crate::auth::client_address::ClientAddress;
use crate::auth::tokens;
use crate::db::IssuedTokens;
use crate::db::ACCESS_TOKEN_SECONDS;
use crate::error::ApiError;
use crate::error::extract::{Form, Json};

#[utoipa::path(post, path = "/oauth/token", tag = "connections",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse), (status = 400, description = "invalid_grant: used, expired or revoked", body = ErrorBody)))]
pub async fn token(
    State(state): State<AppState>,
    address: ClientAddress,
    Form(request): Form<TokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let access_token = tokens::random_token(tokens::ACCESS_PREFIX);
    let refresh_token = tokens::random_token(tokens::REFRESH_PREFIX);
    let issued = IssuedTokens { access_hash: tokens::digest(&access_token), refresh_hash: tokens::digest(&refresh_token) };
    let outcome = match (request.grant_type.as_str(), request.code, request.refresh_token) {
        ("authorization_code", Some(code), _) => state.db.exchange_connection_code(tokens::digest(&code), issued).await?,
        ("refresh_token", _, Some(refresh)) => state.db.refresh_connection(tokens::digest(&refresh), issued).await?,
        ("authorization_code", None, _) | ("refresh_token", _, None) => {
            return Err(ApiError::bad_request("invalid_request", "Send the code (authorization_code) or the refresh_token (refresh_token) with the grant."));
        }
        _ => {
            return Err(ApiError::bad_request("unsupported_grant_type", "grant_type must be authorization_code or refresh_token."));
        }
    };
    let connection = outcome.map_err(|message| {
        state.throttle.note_failure(&address);
        ApiError::bad_request("invalid_grant", message)
    })?;
    Ok(Json(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: ACCESS_TOKEN_SECONDS as u64,
        refresh_token,
        scope: connection.scopes.as_slice().iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
    }))
}
