//! `POST /oauth/register`: RFC 7591 dynamic client registration, as claude.ai and other MCP
//! clients do it before sending a merchant to consent. The answer says what will be enforced:
//! the exact redirect URIs, the code grant with PKCE, and how the client authenticates.

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use keyward_core::wire::validate_name;
use serde::{Deserialize, Serialize};

use crate::auth::client_address::ClientAddress;
use crate::auth::tokens;
use crate::db::NewClient;
use crate::error::OAuthError;
use crate::oauth::redirect_uri::{MAX_REDIRECT_URIS, check_redirect_uri, shown};
use crate::state::AppState;

/// What a client asks for. Fields this service does not use (logo, contacts, …) are accepted
/// and ignored, as RFC 7591 §2 allows.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RegistrationRequest {
    #[serde(default)]
    redirect_uris: Vec<String>,
    client_name: Option<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
}

/// RFC 7591 §3.2.1: the client as registered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegisteredClient {
    client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    /// 0: the secret does not expire. Present whenever a secret is.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret_expires_at: Option<u64>,
    client_id_issued_at: i64,
    client_name: String,
    redirect_uris: Vec<String>,
    grant_types: Vec<&'static str>,
    response_types: Vec<&'static str>,
    token_endpoint_auth_method: String,
}

fn invalid_metadata(description: impl Into<String>) -> OAuthError {
    OAuthError::bad_request("invalid_client_metadata", description)
}

#[utoipa::path(post, path = "/oauth/register", tag = "oauth", request_body = RegistrationRequest,
    responses((status = 201, body = RegisteredClient), (status = 400, description = "invalid_client_metadata or invalid_redirect_uri, in OAuth's shape"),
        (status = 429, description = "too many registrations from this address")))]
pub async fn register(
    State(state): State<AppState>,
    address: ClientAddress,
    body: Result<axum::Json<RegistrationRequest>, JsonRejection>,
) -> Result<(StatusCode, axum::Json<RegisteredClient>), OAuthError> {
    let axum::Json(request) = body.map_err(|e| invalid_metadata(format!("The registration is not a JSON object of client metadata ({}). Send RFC 7591 client metadata as JSON.", e.body_text().chars().take(200).collect::<String>())))?;
    if let Err(quota) = state.registration_limiter.hit(&address.0) {
        return Err(OAuthError {
            status: StatusCode::TOO_MANY_REQUESTS,
            error: "temporarily_unavailable",
            description: format!("Too many clients were registered from this address. Wait {} seconds, or reuse the client you registered.", quota.reset),
            retry_after: Some(quota.reset),
            basic_challenge: false,
        });
    }
    if request.redirect_uris.is_empty() {
        return Err(OAuthError::bad_request("invalid_redirect_uri", "Register at least one redirect URI: the exact address that receives the authorization code."));
    }
    if request.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(invalid_metadata(format!("A client may register at most {MAX_REDIRECT_URIS} redirect URIs. Register the ones it uses.")));
    }
    for uri in &request.redirect_uris {
        check_redirect_uri(uri)?;
    }
    let name = validate_name("client name", request.client_name.as_deref().unwrap_or("MCP client")).map_err(invalid_metadata)?;
    let auth_method = request.token_endpoint_auth_method.unwrap_or_else(|| "none".into());
    if !matches!(auth_method.as_str(), "none" | "client_secret_post" | "client_secret_basic") {
        return Err(invalid_metadata(format!(
            "token_endpoint_auth_method {} is not supported. Use none (with PKCE), client_secret_post or client_secret_basic.",
            shown(&auth_method)
        )));
    }
    if let Some(grants) = &request.grant_types
        && let Some(other) = grants.iter().find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
    {
        return Err(invalid_metadata(format!("The grant type {} is not supported. Use authorization_code and refresh_token.", shown(other))));
    }
    if let Some(types) = &request.response_types
        && let Some(other) = types.iter().find(|t| t.as_str() != "code")
    {
        return Err(invalid_metadata(format!("The response type {} is not supported. Use code.", shown(other))));
    }
    let secret = (auth_method != "none").then(|| tokens::random_token(tokens::CLIENT_SECRET_PREFIX));
    let new = NewClient {
        name,
        kind: "registered",
        redirect_uris: request.redirect_uris,
        auth_method,
        secret_hash: secret.as_deref().map(tokens::digest),
    };
    let client = state.db.register_client(new).await?;
    tracing::info!(client = %client.id, name = %client.name, "OAuth client registered");
    Ok((
        StatusCode::CREATED,
        axum::Json(RegisteredClient {
            client_id: client.id,
            client_secret_expires_at: secret.as_ref().map(|_| 0),
            client_secret: secret,
            client_id_issued_at: client.created_at,
            client_name: client.name,
            redirect_uris: client.redirect_uris,
            grant_types: vec!["authorization_code", "refresh_token"],
            response_types: vec!["code"],
            token_endpoint_auth_method: client.auth_method,
        }),
    ))
}
