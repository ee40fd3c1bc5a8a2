//! Discovery for OAuth clients (the MCP authorization specification): RFC 9728 protected
//! resource metadata, which tells a client that met a 401 at `/mcp` which authorization server
//! to ask for a token, and with which scopes.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::app::{AppState, PublicUrl};

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

/// Lets any origin read a discovery answer and its `WWW-Authenticate` header: the metadata is
/// public, and browser-based clients must be able to read the challenge.
pub fn allow_any_origin(headers: &mut HeaderMap) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("WWW-Authenticate"));
}

fn metadata(public: &PublicUrl) -> Response {
    let body = ProtectedResourceMetadata {
        resource: format!("{}/mcp", public.0),
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
