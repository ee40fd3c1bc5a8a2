//! `POST /oauth/token`: an app trades the authorization code from the consent page (with its
//! PKCE verifier), or later its refresh token, for an access token bound to one store, the
//! scopes the merchant approved and the resource `/mcp`. `POST /oauth/revoke` (RFC 7009) takes
//! a token back. Every refusal is in OAuth's shape, `{"error", "error_description"}`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyward_core::wire::{TokenRequest, TokenResponse};
use serde::Deserialize;

use crate::auth::client_address::ClientAddress;
use crate::auth::tokens;
use crate::db::{IssuedTokens, PresentedCode, TokenClient, TokenRevocation};
use crate::error::OAuthError;
use crate::error::extract::OAuthForm;
use crate::oauth::clients::Presented;
use crate::oauth::lifetimes::ACCESS_TOKEN_SECONDS;
use crate::state::AppState;

/// A success that must not be cached (RFC 6749 §5.1).
fn no_store(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[utoipa::path(post, path = "/oauth/token", tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse),
        (status = 400, description = "invalid_request, invalid_grant (wrong verifier, used, expired or revoked), invalid_target or unsupported_grant_type, in OAuth's shape"),
        (status = 401, description = "invalid_client: unknown client or wrong secret")))]
pub async fn token(
    State(state): State<AppState>,
    address: ClientAddress,
    headers: HeaderMap,
    OAuthForm(request): OAuthForm<TokenRequest>,
) -> Result<Response, OAuthError> {
    let presented = Presented::from_request(&headers, request.client_id.as_deref(), request.client_secret.as_deref())?;
    let client_id = presented.authenticate(&state.db).await.inspect_err(|_| state.throttle.note_failure(&address))?;
    let client = TokenClient { client_id, resource: request.resource.clone() };
    let access_token = tokens::random_token(tokens::ACCESS_PREFIX);
    let refresh_token = tokens::random_token(tokens::REFRESH_PREFIX);
    let issued = IssuedTokens { access_hash: tokens::digest(&access_token), refresh_hash: tokens::digest(&refresh_token) };
    let outcome = match request.grant_type.as_str() {
        "authorization_code" => {
            let (Some(code), Some(code_verifier)) = (request.code, request.code_verifier) else {
                return Err(OAuthError::bad_request("invalid_request", "Send the code and the PKCE code_verifier with grant_type=authorization_code."));
            };
            let presented = PresentedCode { client, redirect_uri: request.redirect_uri, code_verifier };
            state.db.exchange_authorization_code(tokens::digest(&code), presented, issued).await?
        }
        "refresh_token" => {
            let Some(refresh) = request.refresh_token else {
                return Err(OAuthError::bad_request("invalid_request", "Send the refresh_token with grant_type=refresh_token."));
            };
            state.db.refresh_connection(tokens::digest(&refresh), client, issued).await?
        }
        _ => {
            return Err(OAuthError::bad_request("unsupported_grant_type", "grant_type must be authorization_code or refresh_token."));
        }
    };
    let connection = outcome.map_err(|problem| {
        state.throttle.note_failure(&address);
        OAuthError::bad_request(problem.error(), problem.description())
    })?;
    Ok(no_store(axum::Json(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: ACCESS_TOKEN_SECONDS as u64,
        refresh_token,
        scope: connection.scopes.as_slice().iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
    })))
}

/// `POST /oauth/revoke` (RFC 7009).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RevocationRequest {
    token: String,
    /// `access_token` or `refresh_token`; a hint only, every token is looked up alike.
    #[serde(default)]
    #[allow(dead_code)]
    token_type_hint: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
}

/// Give a token back. A refresh token ends the connection; an access token stops working.
/// An unknown or already revoked token is answered 200 too (RFC 7009 §2.2); another client's
/// token is refused (§2.1).
#[utoipa::path(post, path = "/oauth/revoke", tag = "oauth",
    request_body(content = RevocationRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Revoked, or nothing to revoke"), (status = 400, description = "unauthorized_client: another client's token"), (status = 401, description = "invalid_client")))]
pub async fn revoke(
    State(state): State<AppState>,
    address: ClientAddress,
    headers: HeaderMap,
    OAuthForm(request): OAuthForm<RevocationRequest>,
) -> Result<Response, OAuthError> {
    let presented = Presented::from_request(&headers, request.client_id.as_deref(), request.client_secret.as_deref())?;
    let client_id = presented.authenticate(&state.db).await.inspect_err(|_| state.throttle.note_failure(&address))?;
    match state.db.revoke_token(client_id.clone(), tokens::digest(&request.token)).await? {
        TokenRevocation::Revoked => tracing::info!(client = %client_id, "a client revoked one of its tokens"),
        TokenRevocation::NothingToRevoke => {}
        TokenRevocation::AnotherClients => {
            return Err(OAuthError::bad_request("unauthorized_client", "That token was issued to another client. A client may revoke only its own tokens."));
        }
    }
    Ok(no_store(StatusCode::OK))
}
