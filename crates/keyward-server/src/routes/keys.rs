//! `/api/keys`: list, create, inspect, change, revoke and rotate a store's API keys.
//! The secret is in the 201 of create and rotate, and nowhere else, ever.

use axum::extract::State;
use axum::http::StatusCode;
use keyward_core::wire::{
    CreateKeyRequest, CreatedKey, ErrorBody, KeyList, KeyRecord, RotateKeyRequest, RotatedKey, UpdateKeyRequest, validate_name,
};
use keyward_core::{ApiKey, KeyId, Scopes};
use keyward_core::Timestamp;
use serde::Deserialize;

use crate::auth::Session;
use crate::auth::permissions::Owned;
use crate::db::{DbError, KeyChange, NewKey, now};
use crate::error::ApiError;
use crate::error::extract::{Json, Path, Query};
use crate::state::AppState;

/// The longest overlap a rotation may ask for: a week.
const MAX_OVERLAP_SECONDS: u32 = 7 * 24 * 3600;

fn key_id(text: &str) -> Result<String, ApiError> {
    KeyId::parse(text)
        .map(|id| id.as_str().to_owned())
        .ok_or_else(|| ApiError::bad_request("invalid_id", "A key id is 8 letters and digits, as in the key's prefix after the underscore. Use an id from the key list."))
}

fn label(name: &str) -> Result<String, ApiError> {
    validate_name("key label", name).map_err(|m| ApiError::bad_request("invalid_name", m))
}

/// Shows the newest use even before it is written to the database.
fn with_latest_use(state: &AppState, mut record: KeyRecord) -> KeyRecord {
    if let Some(at) = state.usage.pending(&record.id) {
        let at = Timestamp::from_unix(at);
        if record.last_used_at.is_none_or(|known| known < at) {
            record.last_used_at = Some(at);
        }
    }
    record
}

/// Generates a key, hashes its secret off the async threads, and inserts it via `insert`,
/// trying a new id in the (one in 10^14) case that the id is taken.
async fn mint<F, Fut, T>(state: &AppState, mut insert: F) -> Result<(ApiKey, T), ApiError>
where
    F: FnMut(NewKey) -> Fut,
    Fut: std::future::Future<Output = Result<T, DbError>>,
{
    for _ in 0..3 {
        let key = ApiKey::generate(&state.config.brand);
        let secret_hash = state.hashes.hash(key.secret()).await?;
        let new = NewKey { id: key.id().as_str().to_owned(), name: String::new(), scopes: Scopes::read_only(), expires_at: None, secret_hash };
        match insert(new).await {
            Err(DbError::IdTaken) => continue,
            Err(e) => return Err(e.into()),
            Ok(value) => return Ok((key, value)),
        }
    }
    Err(ApiError::Internal("could not find a free key id".into()))
}

/// Refuses unless the caller is the owner or created the key (404 if the store has no such key).
async fn require_maker(state: &AppState, session: &Session, id: &str) -> Result<(), ApiError> {
    let creator = state.db.key_creator(session.store_id.clone(), id.to_owned()).await?.ok_or_else(|| ApiError::not_found("key"))?;
    session.require_owner_or_maker(Owned::Key { created_by: &creator })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Include revoked keys (shown struck through).
    #[serde(default)]
    include_revoked: bool,
}

/// Up to 100 keys, newest first. Never a secret.
#[utoipa::path(get, path = "/api/keys", tag = "keys", security(("session" = [])), params(ListParams),
    responses((status = 200, body = KeyList), (status = 401, body = ErrorBody)))]
pub async fn list_keys(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<ListParams>,
) -> Result<Json<KeyList>, ApiError> {
    let keys = state.db.list_keys(session.store_id, params.include_revoked).await?;
    Ok(Json(KeyList { keys: keys.into_iter().map(|k| with_latest_use(&state, k)).collect() }))
}

/// Create a key. Scopes default to read only. The whole key is in this response and never again.
#[utoipa::path(post, path = "/api/keys", tag = "keys", security(("session" = [])), request_body = CreateKeyRequest,
    responses((status = 201, body = CreatedKey), (status = 400, body = ErrorBody), (status = 409, description = "10 active keys already", body = ErrorBody)))]
pub async fn create_key(
    State(state): State<AppState>,
    session: Session,
    Json(request): Json<CreateKeyRequest>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let name = label(&request.name)?;
    let scopes = request.scopes.unwrap_or_else(Scopes::read_only);
    let expires_at = request.expires_at.map(|t| t.unix_timestamp());
    if expires_at.is_some_and(|at| at <= now()) {
        return Err(ApiError::bad_request("invalid_expiry", "The expiry is in the past. Choose a time in the future, or no expiry."));
    }
    let (key, record) = mint(&state, |mut new| {
        new.name = name.clone();
        new.scopes = scopes.clone();
        new.expires_at = expires_at;
        state.db.create_key(session.actor(), new)
    })
    .await?;
    tracing::info!(key = %record.key_prefix, scopes = %record.scopes, "key created");
    Ok((StatusCode::CREATED, Json(CreatedKey { record, key: key.expose().to_owned() })))
}

#[utoipa::path(get, path = "/api/keys/{id}", tag = "keys", security(("session" = [])), params(("id" = String, Path)),
    responses((status = 200, body = KeyRecord), (status = 404, body = ErrorBody)))]
pub async fn get_key(State(state): State<AppState>, session: Session, Path(id): Path<String>) -> Result<Json<KeyRecord>, ApiError> {
    let record = state.db.get_key(session.store_id, key_id(&id)?).await?.ok_or_else(|| ApiError::not_found("key"))?;
    Ok(Json(with_latest_use(&state, record)))
}

/// Rename, rescope, deactivate or reactivate a key.
#[utoipa::path(patch, path = "/api/keys/{id}", tag = "keys", security(("session" = [])), params(("id" = String, Path)),
    request_body = UpdateKeyRequest,
    responses((status = 200, body = KeyRecord), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_key(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Json(request): Json<UpdateKeyRequest>,
) -> Result<Json<KeyRecord>, ApiError> {
    let id = key_id(&id)?;
    if request.name.is_none() && request.scopes.is_none() && request.is_active.is_none() {
        return Err(ApiError::bad_request("nothing_to_change", "Send at least one of name, scopes or is_active."));
    }
    require_maker(&state, &session, &id).await?;
    let name = request.name.as_deref().map(label).transpose()?;
    let change = KeyChange { name, scopes: request.scopes, is_active: request.is_active };
    let record = state.db.update_key(session.actor(), id, change).await?;
    Ok(Json(with_latest_use(&state, record)))
}

/// Revoke a key for good; the very next request with it gets 401.
#[utoipa::path(delete, path = "/api/keys/{id}", tag = "keys", security(("session" = [])), params(("id" = String, Path)),
    responses((status = 200, body = KeyRecord), (status = 404, body = ErrorBody)))]
pub async fn revoke_key(State(state): State<AppState>, session: Session, Path(id): Path<String>) -> Result<Json<KeyRecord>, ApiError> {
    let id = key_id(&id)?;
    require_maker(&state, &session, &id).await?;
    let record = state.db.revoke_key(session.actor(), id.clone()).await?;
    state.verified.forget(&id);
    tracing::info!(key = %record.key_prefix, "key revoked");
    Ok(Json(with_latest_use(&state, record)))
}

/// Safe rotation: a replacement with the same name, scopes and expiry (its secret in this
/// response only); the old key is revoked now, or when `overlap_seconds` have passed.
#[utoipa::path(post, path = "/api/keys/{id}/rotate", tag = "keys", security(("session" = [])), params(("id" = String, Path)),
    request_body = RotateKeyRequest,
    responses((status = 201, body = RotatedKey), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn rotate_key(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Json(request): Json<RotateKeyRequest>,
) -> Result<(StatusCode, Json<RotatedKey>), ApiError> {
    let old_id = key_id(&id)?;
    require_maker(&state, &session, &old_id).await?;
    let overlap = request.overlap_seconds.unwrap_or(0);
    if overlap > MAX_OVERLAP_SECONDS {
        return Err(ApiError::bad_request("invalid_overlap", "The overlap can be at most 604800 seconds (7 days). Choose a shorter one."));
    }
    let (key, (record, previous)) = mint(&state, |new| state.db.rotate_key(session.actor(), old_id.clone(), new, overlap))
    .await?;
    if overlap == 0 {
        state.verified.forget(&old_id);
    }
    tracing::info!(old = %previous.key_prefix, new = %record.key_prefix, overlap, "key rotated");
    Ok((StatusCode::CREATED, Json(RotatedKey { replacement: CreatedKey { record, key: key.expose().to_owned() }, previous })))
}
