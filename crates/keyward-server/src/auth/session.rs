//! The management API's caller: a signed-in device of a store, from `Authorization: Bearer`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::{presented_credential, tokens};
use crate::app::AppState;
use crate::db::{Actor, now};
use crate::error::ApiError;

/// A signed-in person on one device, pinned to one store.
#[derive(Debug, Clone)]
pub struct Session {
    pub store_id: String,
    pub user_id: String,
    pub user_name: String,
    pub user_email: String,
    pub role: String,
    pub device_id: String,
}

impl Session {
    /// The person and device making a change, pinned to their store.
    pub fn actor(&self) -> Actor {
        Actor { store_id: self.store_id.clone(), user_id: self.user_id.clone(), device_id: self.device_id.clone() }
    }

    pub fn is_owner(&self) -> bool {
        self.role == "owner"
    }
}

/// The client's address, for throttling failed attempts.
pub fn client_ip(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn throttled(quota: super::limits::Quota) -> ApiError {
    ApiError::RateLimited {
        code: "too_many_failed_attempts",
        message: format!("Too many failed sign-in or key attempts from this address. Wait {} seconds and check the credentials.", quota.reset),
        retry_after: quota.reset,
    }
}

/// Refuses a client address that failed too often recently.
pub fn check_throttle(state: &AppState, ip: &str) -> Result<(), ApiError> {
    match state.failure_limiter.blocked(ip) {
        Some(quota) => Err(throttled(quota)),
        None => Ok(()),
    }
}

/// A check that costs argon2 (a password, or a key secret not yet verified), counted against
/// the client address as a failure before it runs: checking and counting in one step means a
/// burst of concurrent guesses cannot all slip past the throttle while the first ones hash.
/// [`Attempt::succeeded`] takes the count back.
#[must_use = "an attempt counts as a failure unless marked succeeded"]
pub struct Attempt {
    state: AppState,
    ip: String,
}

impl Attempt {
    pub fn begin(state: &AppState, ip: &str) -> Result<Attempt, ApiError> {
        state.failure_limiter.hit(ip).map_err(throttled)?;
        Ok(Attempt { state: state.clone(), ip: ip.to_owned() })
    }

    pub fn succeeded(self) {
        self.state.failure_limiter.give_back(&self.ip);
    }

    /// It failed, and stays counted.
    pub fn failed(self) {}
}

/// Counts a failed attempt from a client address.
pub fn note_failure(state: &AppState, ip: &str) {
    let _ = state.failure_limiter.hit(ip);
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ip = client_ip(parts);
        check_throttle(state, &ip)?;
        let Some(token) = presented_credential(&parts.headers).filter(|t| !t.is_empty()) else {
            return Err(ApiError::unauthenticated(
                "missing_session",
                "Sign in first: send the session token from POST /api/session as Authorization: Bearer.",
            ));
        };
        let row = state.db.session_for_token(tokens::digest(&token)).await?;
        let Some(row) = row.filter(|r| !r.signed_out) else {
            note_failure(state, &ip);
            return Err(ApiError::unauthenticated(
                "invalid_session",
                "This session has ended or this device was signed out. Sign in again.",
            ));
        };
        if row.store_uninstalled {
            return Err(ApiError::unauthenticated(
                "store_uninstalled",
                "This store has uninstalled Keyward, so every session ended. Reinstall it to sign in again.",
            ));
        }
        if now() - row.last_seen_at >= 60 {
            state.db.touch_device(row.device_id.clone()).await?;
        }
        Ok(Session {
            store_id: row.store_id,
            user_id: row.user_id,
            user_name: row.user_name,
            user_email: row.user_email,
            role: row.role,
            device_id: row.device_id,
        })
    }
}
