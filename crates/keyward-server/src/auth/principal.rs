//! The data plane's caller: an API key or a web-chat connection token, authenticated on every
//! request by [`require_principal`], which runs in front of `/v1` and `/mcp`.
//!
//! The order matters. The format and checksum are checked first, without the database. Then
//! the secret is verified (argon2 once, the verified cache after that; an unknown id costs a
//! decoy argon2 run so timing does not tell which ids exist). Only then is status revealed:
//! revoked, expired, deactivated, uninstalled, subscription. Status is read fresh from the
//! database every time, so a revocation holds on the very next request.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use keyward_core::wire::StoreInfo;
use keyward_core::{ApiKey, KeyStatus, Scope, Scopes, hashing};
use keyward_core::Timestamp;

use super::limits::Quota;
use super::client_address::{ClientAddress, LocalAddr};
use super::throttle::Credential;
use super::{presented_credential, tokens};
use crate::error::ApiError;
use crate::state::{AppState, PublicUrl};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    Key { id: String },
    Connection { id: String },
}

/// Who a data-plane request acts for: one store, some scopes.
#[derive(Debug, Clone)]
pub struct Principal {
    pub store_id: String,
    /// The store as read while authenticating (name, brand, subscription), so a handler that
    /// shows it needs no second query. `None` when authentication was skipped.
    pub store: Option<StoreInfo>,
    pub scopes: Scopes,
    /// The key prefix, or `connection:{id}` for a web-chat token: safe to show and log.
    pub label: String,
    pub kind: PrincipalKind,
}

impl Principal {
    /// Refuses with 403 unless the caller holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.allows(scope) {
            return Ok(());
        }
        Err(ApiError::forbidden(
            "insufficient_scope",
            format!(
                "{} is read only, and this needs the {scope} scope. Use a read & write key, or change this key's scope in Keyward.",
                self.label
            ),
        ))
    }
}

/// A caller that holds the write scope, checked from the request's head: a write handler takes
/// this before its body, so a read-only key is refused with 403 before anything it sent is read
/// (a malformed body from it gets 403, not 400).
pub struct Writer(pub Principal);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Writer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let caller = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::Internal("a write route was reached without authentication".into()))?;
        caller.require(Scope::Write)?;
        Ok(Writer(caller))
    }
}

/// Middleware: authenticates, rate-limits, and hands the [`Principal`] to the handler.
pub async fn require_principal(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let address = ClientAddress::of(&state.config.proxies, request.extensions(), request.headers());
    #[cfg(feature = "benchmark")]
    if let Some(store_id) = &state.config.unauthenticated_store {
        let principal = Principal {
            store_id: store_id.clone(),
            store: None,
            scopes: Scopes::read_only(),
            label: "benchmark".into(),
            kind: PrincipalKind::Key { id: "benchmark".into() },
        };
        request.extensions_mut().insert(principal);
        return next.run(request).await;
    }
    // The public URL is worked out only when needed (a connection token's resource, a
    // challenge), not for every key request.
    let local = request.extensions().get::<LocalAddr>().copied();
    let public = || PublicUrl::reached_at(&state, local);
    let for_mcp = request.uri().path().starts_with("/mcp");
    // The resource this request is for (RFC 8707): an OAuth token works only at its own.
    let resource = || {
        let public = public();
        if for_mcp { public.mcp_resource() } else { format!("{}/v1", public.0) }
    };
    let principal = match authenticate(&state, request.headers(), &address, resource).await {
        Ok(p) => {
            state.metrics.authenticated();
            p
        }
        Err(e) => {
            state.metrics.refused(e.code());
            return challenge(e, &public());
        }
    };
    let limiter_key = match &principal.kind {
        PrincipalKind::Key { id } => id.clone(),
        PrincipalKind::Connection { id } => format!("con:{id}"),
    };
    let quota = match state.key_limiter.hit(&limiter_key) {
        Ok(quota) => quota,
        Err(quota) => {
            let mut response = ApiError::RateLimited {
                code: "rate_limited",
                message: format!(
                    "{} made more than {} requests this minute. Wait {} seconds, then slow down.",
                    principal.label, quota.limit, quota.reset
                ),
                retry_after: quota.reset,
            }
            .into_response();
            add_quota_headers(response.headers_mut(), quota);
            return response;
        }
    };
    match &principal.kind {
        PrincipalKind::Key { id } | PrincipalKind::Connection { id } => state.usage.touch(id),
    }
    tracing::debug!(caller = %principal.label, "authenticated");
    request.extensions_mut().insert(principal);
    let mut response = next.run(request).await;
    add_quota_headers(response.headers_mut(), quota);
    name_metadata_in_scope_challenge(&mut response, public);
    response
}

/// A 403 `insufficient_scope` challenge also names the resource metadata, as the 401 does, so
/// a client stepping up its scope knows where to start (MCP authorization, scope challenges).
fn name_metadata_in_scope_challenge(response: &mut Response, public: impl FnOnce() -> PublicUrl) {
    let headers = response.headers_mut();
    let scope_challenge = headers
        .get(axum::http::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("error=\"insufficient_scope\""));
    if !scope_challenge {
        return;
    }
    let value = format!(
        "Bearer error=\"insufficient_scope\", scope=\"read write\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
        public().0
    );
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(axum::http::header::WWW_AUTHENTICATE, value);
    }
}

/// A refusal of the data plane, with the challenge the MCP authorization specification asks for:
/// a 401 names the protected resource metadata (RFC 9728 §5.1), so an OAuth client that met it
/// knows where to start.
fn challenge(error: ApiError, public: &PublicUrl) -> Response {
    let invalid = match &error {
        ApiError::Unauthenticated { code, .. } => Some(*code != "missing_credentials"),
        _ => None,
    };
    let mut response = error.into_response();
    if let Some(invalid) = invalid {
        let metadata = format!("{}/.well-known/oauth-protected-resource/mcp", public.0);
        let value = if invalid {
            format!("Bearer realm=\"keyward\", error=\"invalid_token\", resource_metadata=\"{metadata}\", scope=\"read\"")
        } else {
            format!("Bearer realm=\"keyward\", resource_metadata=\"{metadata}\", scope=\"read\"")
        };
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, value);
        }
        crate::cors::allow_any_origin(response.headers_mut());
    }
    response
}

fn add_quota_headers(headers: &mut HeaderMap, quota: Quota) {
    headers.insert("ratelimit-limit", HeaderValue::from(quota.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(quota.remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(quota.reset));
}

fn unknown_key() -> ApiError {
    ApiError::unauthenticated(
        "invalid_key",
        "The key is not recognised. Check that it was copied whole, or create a new key in Keyward.",
    )
}

/// Decides who is asking at `resource` (the URL of `/mcp` or `/v1`, worked out only for a
/// connection token), or why nobody is.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    address: &ClientAddress,
    resource: impl FnOnce() -> String,
) -> Result<Principal, ApiError> {
    let Some(credential) = presented_credential(headers).filter(|c| !c.is_empty()) else {
        return Err(ApiError::unauthenticated(
            "missing_credentials",
            "Send an API key in the X-API-Key header or as Authorization: Bearer. Create one in Keyward.",
        ));
    };
    if credential.starts_with(tokens::ACCESS_PREFIX) {
        return authenticate_connection(state, &credential, address, &resource()).await;
    }
    let key = match ApiKey::parse(&credential) {
        Ok(key) => key,
        Err(e) => {
            state.throttle.note_failure(address);
            return Err(ApiError::unauthenticated("malformed_key", e.to_string()));
        }
    };
    if key.brand() != state.config.brand.as_str() {
        state.throttle.note_failure(address);
        return Err(ApiError::unauthenticated(
            "invalid_key",
            format!(
                "This key is for another service (it starts with {}_, this service's keys with {}_). Use a key made here.",
                key.brand(),
                state.config.brand
            ),
        ));
    }
    let id = key.id();
    let Some(row) = state.db.key_for_auth(id.as_str().to_owned()).await? else {
        let attempt = state.throttle.begin(address, Credential::KeySecret { key_id: None })?;
        attempt.verify(&state.hashes, key.secret(), hashing::decoy_hash()).await?;
        attempt.failed();
        return Err(unknown_key());
    };
    if !state.verified.contains(&row.id, key.secret(), &row.secret_hash) {
        let attempt = state.throttle.begin(address, Credential::KeySecret { key_id: Some(&row.id) })?;
        if !attempt.verify(&state.hashes, key.secret(), &row.secret_hash).await? {
            attempt.failed();
            return Err(unknown_key());
        }
        state.verified.insert(&row.id, key.secret(), &row.secret_hash);
        attempt.succeeded();
    }
    let prefix = key.key_prefix();
    if row.store_uninstalled {
        return Err(ApiError::unauthenticated(
            "store_uninstalled",
            format!("The key {prefix} stopped working because the store uninstalled Keyward. Reinstall it and create a new key."),
        ));
    }
    match KeyStatus::of(&row.facts, Timestamp::now().get()) {
        KeyStatus::Revoked => {
            return Err(ApiError::unauthenticated(
                "key_revoked",
                format!("The key {prefix} was revoked. Create a new key in Keyward and connect it again."),
            ));
        }
        KeyStatus::Expired => {
            return Err(ApiError::unauthenticated(
                "key_expired",
                format!("The key {prefix} has expired. Create a new key in Keyward, or rotate this one before it expires next time."),
            ));
        }
        KeyStatus::Deactivated => {
            return Err(ApiError::unauthenticated(
                "key_inactive",
                format!("The key {prefix} is deactivated. Reactivate it in Keyward to use it again."),
            ));
        }
        KeyStatus::Active | KeyStatus::RotatingOut => {}
    }
    if !row.subscription_active {
        return Err(ApiError::forbidden(
            "subscription_inactive",
            format!("The store \"{}\" has no active subscription, so its keys cannot reach its data. Renew the subscription.", row.store_name),
        ));
    }
    let store = StoreInfo { id: row.store_id.clone(), name: row.store_name, brand: state.config.brand.as_str().to_owned(), subscription_active: true };
    Ok(Principal { store_id: row.store_id, store: Some(store), scopes: row.scopes, label: prefix, kind: PrincipalKind::Key { id: row.id } })
}

async fn authenticate_connection(state: &AppState, token: &str, address: &ClientAddress, resource: &str) -> Result<Principal, ApiError> {
    let Some(status) = state.db.connection_token(tokens::digest(token)).await? else {
        state.throttle.note_failure(address);
        return Err(ApiError::unauthenticated(
            "invalid_token",
            "The access token is not recognised. Connect the app to the store again.",
        ));
    };
    let label = format!("connection:{}", status.connection_id);
    if status.store_uninstalled {
        return Err(ApiError::unauthenticated("store_uninstalled", "The store uninstalled Keyward, so this connection ended. Reinstall it and connect again."));
    }
    if status.revoked {
        return Err(ApiError::unauthenticated("connection_revoked", "The merchant revoked this connection. Connect the app to the store again; the merchant must approve it."));
    }
    if let Some(issued_for) = status.resource.as_deref().filter(|r| *r != resource) {
        return Err(ApiError::unauthenticated(
            "invalid_token",
            format!("This access token was issued for {issued_for}, not {resource}. Use it there, or get a token for this resource."),
        ));
    }
    if status.expired {
        return Err(ApiError::unauthenticated("token_expired", "The access token has expired. Use the refresh token at /oauth/token for a new one."));
    }
    if !status.subscription_active {
        return Err(ApiError::forbidden(
            "subscription_inactive",
            format!("The store \"{}\" has no active subscription, so apps cannot reach its data. Renew the subscription.", status.store_name),
        ));
    }
    let store = StoreInfo { id: status.store_id.clone(), name: status.store_name, brand: state.config.brand.as_str().to_owned(), subscription_active: true };
    Ok(Principal {
        store_id: status.store_id,
        store: Some(store),
        scopes: status.scopes,
        label,
        kind: PrincipalKind::Connection { id: status.connection_id },
    })
}
