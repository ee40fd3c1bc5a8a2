//! The data plane, `/v1`: the store's raw materials and bills of materials, for keys and
//! connection tokens. Reads need `read`; creating or changing needs `write` (see
//! [`crate::catalog`]). Every query is pinned to the caller's store.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use keyward_core::Scope;
use keyward_core::wire::{Bom, ErrorBody, NewBom, NewRawMaterial, RawMaterial, RawMaterialChange, Whoami};

use crate::auth::{Principal, Writer};
use crate::catalog;
use crate::error::ApiError;
use crate::error::extract::{Json, Path};
use crate::state::AppState;

/// The store, key prefix and scopes of the caller.
#[utoipa::path(get, path = "/v1/whoami", tag = "data", security(("api_key" = [])),
    responses((status = 200, body = Whoami), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn whoami(State(state): State<AppState>, Extension(caller): Extension<Principal>) -> Result<Json<Whoami>, ApiError> {
    caller.require(Scope::Read)?;
    let store = match caller.store.clone() {
        Some(store) => store,
        None => state.db.store_info(caller.store_id.clone()).await?.ok_or_else(|| ApiError::not_found("store"))?,
    };
    Ok(Json(Whoami { store, key_prefix: caller.label, scopes: caller.scopes }))
}

#[utoipa::path(get, path = "/v1/raw-materials", tag = "data", security(("api_key" = [])),
    responses((status = 200, body = Vec<RawMaterial>), (status = 401, body = ErrorBody)))]
pub async fn list_raw_materials(State(state): State<AppState>, Extension(caller): Extension<Principal>) -> Result<Json<Vec<RawMaterial>>, ApiError> {
    Ok(Json(catalog::list_raw_materials(&state, &caller).await?))
}

#[utoipa::path(get, path = "/v1/raw-materials/{id}", tag = "data", security(("api_key" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = RawMaterial), (status = 404, body = ErrorBody)))]
pub async fn get_raw_material(
    State(state): State<AppState>,
    Extension(caller): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<Json<RawMaterial>, ApiError> {
    Ok(Json(catalog::get_raw_material(&state, &caller, id).await?))
}

#[utoipa::path(post, path = "/v1/raw-materials", tag = "data", security(("api_key" = [])), request_body = NewRawMaterial,
    responses((status = 201, body = RawMaterial), (status = 403, description = "read-only key", body = ErrorBody)))]
pub async fn create_raw_material(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Json(new): Json<NewRawMaterial>,
) -> Result<(StatusCode, Json<RawMaterial>), ApiError> {
    Ok((StatusCode::CREATED, Json(catalog::create_raw_material(&state, &caller, new).await?)))
}

#[utoipa::path(patch, path = "/v1/raw-materials/{id}", tag = "data", security(("api_key" = [])), params(("id" = i64, Path)),
    request_body = RawMaterialChange,
    responses((status = 200, body = RawMaterial), (status = 403, description = "read-only key", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_raw_material(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Path(id): Path<i64>,
    Json(change): Json<RawMaterialChange>,
) -> Result<Json<RawMaterial>, ApiError> {
    Ok(Json(catalog::update_raw_material(&state, &caller, id, change).await?))
}

#[utoipa::path(get, path = "/v1/boms", tag = "data", security(("api_key" = [])),
    responses((status = 200, body = Vec<Bom>), (status = 401, body = ErrorBody)))]
pub async fn list_boms(State(state): State<AppState>, Extension(caller): Extension<Principal>) -> Result<Json<Vec<Bom>>, ApiError> {
    Ok(Json(catalog::list_boms(&state, &caller).await?))
}

#[utoipa::path(get, path = "/v1/boms/{id}", tag = "data", security(("api_key" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Bom), (status = 404, body = ErrorBody)))]
pub async fn get_bom(State(state): State<AppState>, Extension(caller): Extension<Principal>, Path(id): Path<i64>) -> Result<Json<Bom>, ApiError> {
    Ok(Json(catalog::get_bom(&state, &caller, id).await?))
}

#[utoipa::path(post, path = "/v1/boms", tag = "data", security(("api_key" = [])), request_body = NewBom,
    responses((status = 201, body = Bom), (status = 400, body = ErrorBody), (status = 403, description = "read-only key", body = ErrorBody)))]
pub async fn create_bom(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Json(new): Json<NewBom>,
) -> Result<(StatusCode, Json<Bom>), ApiError> {
    Ok((StatusCode::CREATED, Json(catalog::create_bom(&state, &caller, new).await?)))
}
