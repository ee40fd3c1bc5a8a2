//! The store's own data on PostgreSQL, served to keys: raw materials with stock, and bills of
//! materials. Every query is pinned to one store id, so nothing crosses stores.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use keyward_core::wire::{Bom, BomLine, NewBom, NewRawMaterial, RawMaterial, RawMaterialChange};
use tokio_postgres::error::SqlState;

use super::PgStore;
use crate::db::{DbError, DbResult};
use crate::problems::Problem;

fn raw_material_from_row(r: &tokio_postgres::Row) -> RawMaterial {
    RawMaterial { id: r.get(0), name: r.get(1), unit: r.get(2), stock: r.get(3) }
}

async fn raw_material(c: &impl GenericClient, store_id: &str, id: i64) -> DbResult<Option<RawMaterial>> {
    Ok(c.query_opt("SELECT id, name, unit, stock FROM raw_materials WHERE store_id = $1 AND id = $2", &[&store_id, &id])
        .await?
        .map(|r| raw_material_from_row(&r)))
}

async fn bom(c: &impl GenericClient, store_id: &str, id: i64) -> DbResult<Option<Bom>> {
    let product: Option<String> = c
        .query_opt("SELECT product FROM boms WHERE store_id = $1 AND id = $2", &[&store_id, &id])
        .await?
        .map(|r| r.get(0));
    let Some(product) = product else { return Ok(None) };
    let lines = c
        .query("SELECT raw_material_id, quantity FROM bom_lines WHERE bom_id = $1 ORDER BY raw_material_id", &[&id])
        .await?
        .iter()
        .map(|r| BomLine { raw_material_id: r.get(0), quantity: r.get(1) })
        .collect();
    Ok(Some(Bom { id, product, lines }))
}

#[async_trait]
impl crate::db::CatalogStore for PgStore {
    async fn list_raw_materials(&self, store_id: String) -> DbResult<Vec<RawMaterial>> {
        self.read(move |c| {
            Box::pin(async move {
                let rows = c
                    .query("SELECT id, name, unit, stock FROM raw_materials WHERE store_id = $1 ORDER BY id LIMIT 1000", &[&store_id])
                    .await?;
                Ok(rows.iter().map(raw_material_from_row).collect())
            })
        })
        .await
    }

    async fn get_raw_material(&self, store_id: String, id: i64) -> DbResult<Option<RawMaterial>> {
        self.read(move |c| Box::pin(async move { raw_material(c, &store_id, id).await })).await
    }

    async fn create_raw_material(&self, store_id: String, new: NewRawMaterial) -> DbResult<RawMaterial> {
        self.write(move |tx| {
            Box::pin(async move {
                let id: i64 = tx
                    .query_one(
                        "INSERT INTO raw_materials (store_id, name, unit, stock) VALUES ($1, $2, $3, $4) RETURNING id",
                        &[&store_id, &new.name, &new.unit, &new.stock],
                    )
                    .await?
                    .get(0);
                raw_material(tx, &store_id, id).await?.ok_or(DbError::NotFound)
            })
        })
        .await
    }

    async fn update_raw_material(&self, store_id: String, id: i64, change: RawMaterialChange) -> DbResult<RawMaterial> {
        self.write(move |tx| {
            Box::pin(async move {
                // Locked while it changes: two partial updates on two instances must not each
                // write back the field the other just changed.
                tx.execute("SELECT id FROM raw_materials WHERE store_id = $1 AND id = $2 FOR UPDATE", &[&store_id, &id]).await?;
                let before = raw_material(tx, &store_id, id).await?.ok_or(DbError::NotFound)?;
                let name = change.name.unwrap_or(before.name);
                let unit = change.unit.unwrap_or(before.unit);
                let stock: f64 = change.stock.unwrap_or(before.stock);
                tx.execute(
                    "UPDATE raw_materials SET name = $3, unit = $4, stock = $5 WHERE store_id = $1 AND id = $2",
                    &[&store_id, &id, &name, &unit, &stock],
                )
                .await?;
                raw_material(tx, &store_id, id).await?.ok_or(DbError::NotFound)
            })
        })
        .await
    }

    async fn list_boms(&self, store_id: String) -> DbResult<Vec<Bom>> {
        self.read(move |c| {
            Box::pin(async move {
                let ids: Vec<i64> = c
                    .query("SELECT id FROM boms WHERE store_id = $1 ORDER BY id LIMIT 1000", &[&store_id])
                    .await?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                let mut boms = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(b) = bom(c, &store_id, id).await? {
                        boms.push(b);
                    }
                }
                Ok(boms)
            })
        })
        .await
    }

    async fn get_bom(&self, store_id: String, id: i64) -> DbResult<Option<Bom>> {
        self.read(move |c| Box::pin(async move { bom(c, &store_id, id).await })).await
    }

    async fn create_bom(&self, store_id: String, new: NewBom) -> DbResult<Bom> {
        self.write(move |tx| {
            Box::pin(async move {
                for line in &new.lines {
                    if raw_material(tx, &store_id, line.raw_material_id).await?.is_none() {
                        return Err(DbError::Invalid(Problem::NoSuchRawMaterial { id: line.raw_material_id }));
                    }
                }
                let id: i64 = tx
                    .query_one("INSERT INTO boms (store_id, product) VALUES ($1, $2) RETURNING id", &[&store_id, &new.product])
                    .await?
                    .get(0);
                let stmt = tx.prepare("INSERT INTO bom_lines (bom_id, raw_material_id, quantity) VALUES ($1, $2, $3)").await?;
                for line in &new.lines {
                    // The same raw material twice hits the (bom_id, raw_material_id) primary key.
                    tx.execute(&stmt, &[&id, &line.raw_material_id, &line.quantity]).await.map_err(|e| {
                        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                            DbError::Invalid(Problem::RawMaterialTwice)
                        } else {
                            DbError::from(e)
                        }
                    })?;
                }
                bom(tx, &store_id, id).await?.ok_or(DbError::NotFound)
            })
        })
        .await
    }
}
