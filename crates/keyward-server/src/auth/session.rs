//! The management API's caller: a signed-in device of a store, from `Authorization: Bearer`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::client_address::ClientAddress;
use super::{presented_credential, tokens};
use crate::db::{Actor, now};
use crate::error::ApiError;
use crate::state::AppState;

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

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(token) = presented_credential(&parts.headers).filter(|t| !t.is_empty()) else {
            return Err(ApiError::unauthenticated(
                "missing_session",
                "Sign in first: send the session token from POST /api/session as Authorization: Bearer.",
            ));
        };
        let row = state.db.session_for_token(tokens::digest(&token)).await?;
        let Some(row) = row.filter(|r| !r.signed_out) else {
            state.throttle.note_failure(&ClientAddress::of(&state.config.proxies, &parts.extensions, &parts.headers));
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
        let t = now();
        let idle = i64::try_from(state.config.session_idle.as_secs()).unwrap_or(i64::MAX);
        let lifetime = i64::try_from(state.config.session_lifetime.as_secs()).unwrap_or(i64::MAX);
        if t.saturating_sub(row.last_seen_at) >= idle || t.saturating_sub(row.created_at) >= lifetime {
            state.db.end_expired_session(row.device_id).await?;
            return Err(ApiError::unauthenticated(
                "session_expired",
                format!(
                    "This session has expired: sessions end after {} without use and {} after signing in. Sign in again.",
                    days(idle),
                    days(lifetime)
                ),
            ));
        }
        if t - row.last_seen_at >= 60 {
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

/// A lifetime for people: "14 days", "36 hours", "90 minutes".
fn days(seconds: i64) -> String {
    match seconds {
        s if s >= 2 * 86_400 => format!("{} days", s / 86_400),
        s if s >= 2 * 3600 => format!("{} hours", s / 3600),
        s if s >= 120 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}
