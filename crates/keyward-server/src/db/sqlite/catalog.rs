//! The store's own data, served to keys: raw materials with stock, and bills of materials.
//! Every query is pinned to one store id, so nothing crosses stores.

use async_trait::async_trait;
use keyward_core::wire::{Bom, BomLine, NewBom, NewRawMaterial, RawMaterial, RawMaterialChange};
use rusqlite::{Connection, params};

use crate::problems::Problem;
use super::{SqliteStore, DbError, DbResult, OptionalExtension};

fn raw_material(conn: &Connection, store_id: &str, id: i64) -> DbResult<Option<RawMaterial>> {
    Ok(conn
        .query_row(
            "SELECT id, name, unit, stock FROM raw_materials WHERE store_id = ?1 AND id = ?2",
            params![store_id, id],
            |r| Ok(RawMaterial { id: r.get(0)?, name: r.get(1)?, unit: r.get(2)?, stock: r.get(3)? }),
        )
        .optional()?)
}

fn bom(conn: &Connection, store_id: &str, id: i64) -> DbResult<Option<Bom>> {
    let product: Option<String> = conn
        .query_row("SELECT product FROM boms WHERE store_id = ?1 AND id = ?2", params![store_id, id], |r| r.get(0))
        .optional()?;
    let Some(product) = product else { return Ok(None) };
    let lines = conn
        .prepare_cached("SELECT raw_material_id, quantity FROM bom_lines WHERE bom_id = ?1 ORDER BY raw_material_id")?
        .query_map([id], |r| Ok(BomLine { raw_material_id: r.get(0)?, quantity: r.get(1)? }))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Bom { id, product, lines }))
}

#[async_trait]
impl crate::db::CatalogStore for SqliteStore {
    async fn list_raw_materials(&self, store_id: String) -> DbResult<Vec<RawMaterial>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached("SELECT id, name, unit, stock FROM raw_materials WHERE store_id = ?1 ORDER BY id LIMIT 1000")?;
            let rows = stmt.query_map([store_id], |r| Ok(RawMaterial { id: r.get(0)?, name: r.get(1)?, unit: r.get(2)?, stock: r.get(3)? }))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn get_raw_material(&self, store_id: String, id: i64) -> DbResult<Option<RawMaterial>> {
        self.read(move |conn| raw_material(conn, &store_id, id)).await
    }

    async fn create_raw_material(&self, store_id: String, new: NewRawMaterial) -> DbResult<RawMaterial> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO raw_materials (store_id, name, unit, stock) VALUES (?1, ?2, ?3, ?4)",
                params![store_id, new.name, new.unit, new.stock],
            )?;
            raw_material(tx, &store_id, tx.last_insert_rowid())?.ok_or(DbError::NotFound)
        })
        .await
    }

    async fn update_raw_material(&self, store_id: String, id: i64, change: RawMaterialChange) -> DbResult<RawMaterial> {
        self.write(move |tx| {
            let before = raw_material(tx, &store_id, id)?.ok_or(DbError::NotFound)?;
            tx.execute(
                "UPDATE raw_materials SET name = ?3, unit = ?4, stock = ?5 WHERE store_id = ?1 AND id = ?2",
                params![
                    store_id,
                    id,
                    change.name.unwrap_or(before.name),
                    change.unit.unwrap_or(before.unit),
                    change.stock.unwrap_or(before.stock)
                ],
            )?;
            raw_material(tx, &store_id, id)?.ok_or(DbError::NotFound)
        })
        .await
    }

    async fn list_boms(&self, store_id: String) -> DbResult<Vec<Bom>> {
        self.read(move |conn| {
            let ids: Vec<i64> = conn
                .prepare_cached("SELECT id FROM boms WHERE store_id = ?1 ORDER BY id LIMIT 1000")?
                .query_map([&store_id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            ids.into_iter().filter_map(|id| bom(conn, &store_id, id).transpose()).collect()
        })
        .await
    }

    async fn get_bom(&self, store_id: String, id: i64) -> DbResult<Option<Bom>> {
        self.read(move |conn| bom(conn, &store_id, id)).await
    }

    async fn create_bom(&self, store_id: String, new: NewBom) -> DbResult<Bom> {
        self.write(move |tx| {
            for line in &new.lines {
                if raw_material(tx, &store_id, line.raw_material_id)?.is_none() {
                    return Err(DbError::Invalid(Problem::NoSuchRawMaterial { id: line.raw_material_id }));
                }
            }
            tx.execute("INSERT INTO boms (store_id, product) VALUES (?1, ?2)", params![store_id, new.product])?;
            let id = tx.last_insert_rowid();
            let mut stmt = tx.prepare_cached("INSERT INTO bom_lines (bom_id, raw_material_id, quantity) VALUES (?1, ?2, ?3)")?;
            for line in &new.lines {
                stmt.execute(params![id, line.raw_material_id, line.quantity]).map_err(|e| match e {
                    rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                        DbError::Invalid(Problem::RawMaterialTwice)
                    }
                    other => other.into(),
                })?;
            }
            bom(tx, &store_id, id)?.ok_or(DbError::NotFound)
        })
        .await
    }
}
