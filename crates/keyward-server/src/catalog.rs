//! What a key may do with the store's data, shared by the REST data plane and the MCP tools so
//! both check scopes and validate input the same way.

use keyward_core::Scope;
use keyward_core::wire::{Bom, NewBom, NewRawMaterial, RawMaterial, RawMaterialChange, validate_name};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

fn quantity(what: &str, value: f64, allow_zero: bool) -> Result<f64, ApiError> {
    if value.is_finite() && (value > 0.0 || (allow_zero && value == 0.0)) {
        Ok(value)
    } else {
        let bound = if allow_zero { "zero or more" } else { "more than zero" };
        Err(ApiError::bad_request("invalid_quantity", format!("The {what} must be a number {bound}.")))
    }
}

fn text(what: &str, value: &str) -> Result<String, ApiError> {
    validate_name(what, value).map_err(|m| ApiError::bad_request("invalid_name", m))
}

pub async fn list_raw_materials(state: &AppState, caller: &Principal) -> Result<Vec<RawMaterial>, ApiError> {
    caller.require(Scope::Read)?;
    Ok(state.db.list_raw_materials(caller.store_id.clone()).await?)
}

pub async fn get_raw_material(state: &AppState, caller: &Principal, id: i64) -> Result<RawMaterial, ApiError> {
    caller.require(Scope::Read)?;
    state.db.get_raw_material(caller.store_id.clone(), id).await?.ok_or_else(|| ApiError::not_found("raw material"))
}

pub async fn create_raw_material(state: &AppState, caller: &Principal, new: NewRawMaterial) -> Result<RawMaterial, ApiError> {
    caller.require(Scope::Write)?;
    let new = NewRawMaterial { name: text("name", &new.name)?, unit: text("unit", &new.unit)?, stock: quantity("stock", new.stock, true)? };
    Ok(state.db.create_raw_material(caller.store_id.clone(), new).await?)
}

pub async fn update_raw_material(state: &AppState, caller: &Principal, id: i64, change: RawMaterialChange) -> Result<RawMaterial, ApiError> {
    caller.require(Scope::Write)?;
    let change = RawMaterialChange {
        name: change.name.as_deref().map(|n| text("name", n)).transpose()?,
        unit: change.unit.as_deref().map(|u| text("unit", u)).transpose()?,
        stock: change.stock.map(|s| quantity("stock", s, true)).transpose()?,
    };
    Ok(state.db.update_raw_material(caller.store_id.clone(), id, change).await?)
}

pub async fn list_boms(state: &AppState, caller: &Principal) -> Result<Vec<Bom>, ApiError> {
    caller.require(Scope::Read)?;
    Ok(state.db.list_boms(caller.store_id.clone()).await?)
}

pub async fn get_bom(state: &AppState, caller: &Principal, id: i64) -> Result<Bom, ApiError> {
    caller.require(Scope::Read)?;
    state.db.get_bom(caller.store_id.clone(), id).await?.ok_or_else(|| ApiError::not_found("bill of materials"))
}

pub async fn create_bom(state: &AppState, caller: &Principal, new: NewBom) -> Result<Bom, ApiError> {
    caller.require(Scope::Write)?;
    if new.lines.is_empty() {
        return Err(ApiError::bad_request("invalid_bom", "A bill of materials needs at least one line."));
    }
    for line in &new.lines {
        quantity("quantity", line.quantity, false)?;
    }
    let new = NewBom { product: text("product", &new.product)?, lines: new.lines };
    Ok(state.db.create_bom(caller.store_id.clone(), new).await?)
}
