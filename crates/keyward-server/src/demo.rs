//! The demo store: an owner, a second staff member, and some raw materials and bills of
//! materials, so one command shows the whole system.

use keyward_core::hashing;
use keyward_core::wire::{BomLine, NewBom, NewRawMaterial};

use crate::db::{Db, NewStore};

pub const OWNER_EMAIL: &str = "owner@demo.keyward.test";
pub const STAFF_EMAIL: &str = "staff@demo.keyward.test";
/// The demo accounts' password. A demo is for looking around on loopback, never for real data.
pub const PASSWORD: &str = "keyward-demo";

/// Creates the demo store unless this database already has it. Returns its id.
pub async fn ensure_demo_store(db: &Db) -> anyhow::Result<String> {
    if let Some(existing) = db.login_candidate(OWNER_EMAIL.into()).await? {
        return Ok(existing.store_id);
    }
    let hash = hashing::hash_secret(PASSWORD)?;
    let store_id = db
        .create_store(NewStore {
            name: "Demo Workshop".into(),
            owner_name: "Olivia Owner".into(),
            owner_email: OWNER_EMAIL.into(),
            owner_password_hash: hash.clone(),
        })
        .await?;
    db.add_staff(store_id.clone(), "Sam Staff".into(), STAFF_EMAIL.into(), hash).await?;
    let mut ids = Vec::new();
    for (name, unit, stock) in [("Oak board", "m", 120.0), ("Steel screw M4", "pcs", 5000.0), ("Linseed oil", "l", 18.5), ("Felt pad", "pcs", 800.0)] {
        let material = db
            .create_raw_material(store_id.clone(), NewRawMaterial { name: name.into(), unit: unit.into(), stock })
            .await?;
        ids.push(material.id);
    }
    db.create_bom(store_id.clone(), NewBom {
        product: "Oak side table".into(),
        lines: vec![
            BomLine { raw_material_id: ids[0], quantity: 2.5 },
            BomLine { raw_material_id: ids[1], quantity: 16.0 },
            BomLine { raw_material_id: ids[2], quantity: 0.2 },
            BomLine { raw_material_id: ids[3], quantity: 4.0 },
        ],
    })
    .await?;
    db.create_bom(store_id.clone(), NewBom {
        product: "Oak shelf".into(),
        lines: vec![BomLine { raw_material_id: ids[0], quantity: 1.2 }, BomLine { raw_material_id: ids[1], quantity: 8.0 }],
    })
    .await?;
    Ok(store_id)
}
