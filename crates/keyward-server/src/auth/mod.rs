//! Who is asking: dashboard sessions for the management API, keys and connection tokens for
//! the data plane and MCP, and the limits that keep guessing and floods out.

pub mod client_address;
pub mod hash_pool;
pub mod limits;
pub mod permissions;
pub mod principal;
pub mod session;
pub mod throttle;
pub mod tokens;
pub mod verified;

pub use principal::{Principal, PrincipalKind, Writer, require_principal};
pub use session::Session;

use axum::http::HeaderMap;

/// The credential a request carries: `X-API-Key: …` or `Authorization: Bearer …`.
/// `None` if neither header is there; `Some("")` if one is there but empty or not text.
pub fn presented_credential(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get("x-api-key") {
        return Some(value.to_str().unwrap_or("").trim().to_owned());
    }
    let value = headers.get(axum::http::header::AUTHORIZATION)?;
    let text = value.to_str().unwrap_or("");
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .unwrap_or("");
    Some(token.trim().to_owned())
}
