//! Which answers a page on another origin may read. Browser-based OAuth clients (MCP
//! Inspector, a web app) call discovery, registration, tokens and revocation from their own
//! origin; nothing else is open to them.

use axum::http::{HeaderMap, HeaderValue, header};

/// Lets any origin read a discovery answer and its `WWW-Authenticate` header: the metadata is
/// public, and browser-based clients must be able to read the challenge.
pub fn allow_any_origin(headers: &mut HeaderMap) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("WWW-Authenticate"));
}

/// The addresses a browser-based OAuth client (MCP Inspector, a web app) calls from its own
/// origin: discovery, registration, tokens and revocation.
const OPEN_TO_BROWSERS: &[&str] = &[
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-protected-resource/mcp",
    "/.well-known/oauth-authorization-server",
    "/oauth/register",
    "/oauth/token",
    "/oauth/revoke",
];

/// CORS for [`OPEN_TO_BROWSERS`], preflights included, and for nothing else. None of them reads
/// a cookie, so answering any origin lends no ambient authority; the consent page and the
/// management API stay same-origin.
pub fn cors_for_oauth_clients() -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    CorsLayer::new()
        // The discovery documents answer a plain GET with `*` themselves (see
        // [`allow_any_origin`]), which must not be doubled.
        .allow_origin(AllowOrigin::predicate(|_, request| {
            let path = request.uri.path();
            OPEN_TO_BROWSERS.contains(&path) && !(request.method == http::Method::GET && path.starts_with("/.well-known/"))
        }))
        .allow_methods([http::Method::GET, http::Method::POST])
        .allow_headers(tower_http::cors::Any)
}
