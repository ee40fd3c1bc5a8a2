//! Discovery for OAuth clients (the MCP authorization specification): RFC 9728 protected
//! resource metadata, which tells a client that met a 401 at `/mcp` which authorization server
//! to ask for a token, and with which scopes; and RFC 8414 authorization server metadata, which
//! tells it where to register, send the merchant, and get tokens.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::cors::allow_any_origin;
use crate::state::{AppState, PublicUrl};

/// RFC 9728 §2: what a client needs to know about the resource `/mcp`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProtectedResourceMetadata {
    /// The exact URL of the MCP endpoint, no trailing slash.
    resource: String,
    authorization_servers: Vec<String>,
    scopes_supported: Vec<&'static str>,
    bearer_methods_supported: Vec<&'static str>,
    resource_name: &'static str,
}

fn metadata(public: &PublicUrl) -> Response {
    let body = ProtectedResourceMetadata {
        resource: public.mcp_resource(),
        authorization_servers: vec![public.0.clone()],
        scopes_supported: vec!["read", "write"],
        bearer_methods_supported: vec!["header"],
        resource_name: "Keyward store data (MCP)",
    };
    let mut response = axum::Json(body).into_response();
    allow_any_origin(response.headers_mut());
    response
}

/// The metadata of `/mcp`, at the path RFC 9728 derives from the resource's URL.
#[utoipa::path(get, path = "/.well-known/oauth-protected-resource/mcp", tag = "oauth",
    responses((status = 200, body = ProtectedResourceMetadata)))]
pub async fn protected_resource_mcp(State(_state): State<AppState>, public: PublicUrl) -> Response {
    metadata(&public)
}

/// The same metadata at the root, for clients that look there first.
#[utoipa::path(get, path = "/.well-known/oauth-protected-resource", tag = "oauth",
    responses((status = 200, body = ProtectedResourceMetadata)))]
pub async fn protected_resource(State(_state): State<AppState>, public: PublicUrl) -> Response {
    metadata(&public)
}

/// RFC 8414 §2: how to get a token here. `issuer` is the one string this service names itself
/// by everywhere (the public URL, no trailing slash), and is sent back as `iss` with every
/// authorization response (RFC 9207).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthorizationServerMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    registration_endpoint: String,
    revocation_endpoint: String,
    response_types_supported: Vec<&'static str>,
    response_modes_supported: Vec<&'static str>,
    grant_types_supported: Vec<&'static str>,
    code_challenge_methods_supported: Vec<&'static str>,
    token_endpoint_auth_methods_supported: Vec<&'static str>,
    revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    scopes_supported: Vec<&'static str>,
    client_id_metadata_document_supported: bool,
    authorization_response_iss_parameter_supported: bool,
    service_documentation: String,
}

#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oauth",
    responses((status = 200, body = AuthorizationServerMetadata)))]
pub async fn authorization_server(State(_state): State<AppState>, public: PublicUrl) -> Response {
    let base = &public.0;
    let auth_methods = vec!["none", "client_secret_post", "client_secret_basic"];
    let body = AuthorizationServerMetadata {
        issuer: base.clone(),
        authorization_endpoint: format!("{base}/oauth/authorize"),
        token_endpoint: format!("{base}/oauth/token"),
        registration_endpoint: format!("{base}/oauth/register"),
        revocation_endpoint: format!("{base}/oauth/revoke"),
        response_types_supported: vec!["code"],
        response_modes_supported: vec!["query"],
        grant_types_supported: vec!["authorization_code", "refresh_token"],
        code_challenge_methods_supported: vec!["S256"],
        token_endpoint_auth_methods_supported: auth_methods.clone(),
        revocation_endpoint_auth_methods_supported: auth_methods,
        scopes_supported: vec!["read", "write"],
        client_id_metadata_document_supported: true,
        authorization_response_iss_parameter_supported: true,
        service_documentation: format!("{base}/openapi.json"),
    };
    let mut response = axum::Json(body).into_response();
    allow_any_origin(response.headers_mut());
    response
}
