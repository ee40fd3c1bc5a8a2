//! Who is asking: dashboard sessions for the management API, keys and connection tokens for
//! the data plane and MCP, and the limits that keep guessing and floods out.

pub mod client_address;
pub mod hash_pool;
pub mod limits;
pub mod permissions;
pub mod principal;
pub mod session;
pub mod shared_counts;
pub mod throttle;
pub mod tokens;
pub mod verified;

pub use principal::{Principal, PrincipalKind, Writer, require_principal};
pub use session::Session;

use axum::http::HeaderMap;
use keyward_core::hashing;

use crate::db::LoginCandidate;
use crate::error::ApiError;
use crate::state::AppState;
use client_address::ClientAddress;
use throttle::Credential;

/// Checks an email and password as every sign-in does (`/api/session` and the consent page):
/// throttled per client and per account, argon2 on the hash pool, a decoy hash for an unknown
/// email so timing does not tell which accounts exist. `Ok(None)`: wrong, and counted.
pub async fn check_password(state: &AppState, address: &ClientAddress, email: &str, password: &str) -> Result<Option<LoginCandidate>, ApiError> {
    let candidate = state.db.login_candidate(email.trim().to_owned()).await?;
    let phc = candidate.as_ref().map_or_else(|| hashing::decoy_hash().to_owned(), |c| c.password_hash.clone());
    let attempt = state.throttle.begin(address, Credential::Password { account: email })?;
    let matched = attempt.verify(&state.hashes, password, &phc).await?;
    match candidate.filter(|_| matched) {
        Some(candidate) => {
            attempt.succeeded();
            Ok(Some(candidate))
        }
        None => {
            attempt.failed();
            Ok(None)
        }
    }
}

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
