//! Stores and their staff: created by the operator's admin commands, and uninstalled by the
//! merchant, which stops every key, connection and session of the store at once.

use async_trait::async_trait;
use keyward_core::wire::{StaffMember, StoreInfo};
use keyward_core::Timestamp;
use rusqlite::{Connection, params};

use crate::db::{NewStore, StoreSummary};
use crate::problems::Problem;
use super::audit::{record, record_by};
use crate::audit::AuditEvent;
use super::{Actor, SqliteStore, DbError, DbResult, OptionalExtension, keys::bump_all_keys_of_store, now, random_id};

const MEMBER_SELECT: &str = "SELECT id, name, email, role, created_at FROM users";

fn member_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StaffMember> {
    Ok(StaffMember { id: r.get(0)?, name: r.get(1)?, email: r.get(2)?, role: r.get(3)?, created_at: Timestamp::from_unix(r.get(4)?) })
}

fn member(conn: &Connection, store_id: &str, id: &str) -> DbResult<Option<StaffMember>> {
    Ok(conn
        .query_row(&format!("{MEMBER_SELECT} WHERE store_id = ?1 AND id = ?2 AND removed_at IS NULL"), [store_id, id], member_from_row)
        .optional()?)
}

pub(crate) fn store_info(conn: &Connection, store_id: &str) -> DbResult<Option<StoreInfo>> {
    Ok(conn
        .query_row(
            "SELECT s.id, s.name, s.subscription_active, COALESCE(d.brand, '') FROM stores s LEFT JOIN deployment d ON d.singleton = 1 WHERE s.id = ?1",
            [store_id],
            |r| {
                Ok(StoreInfo {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    subscription_active: r.get(2)?,
                    brand: r.get(3)?,
                })
            },
        )
        .optional()?)
}

fn insert_user(
    conn: &Connection,
    store_id: &str,
    name: &str,
    email: &str,
    password_hash: &str,
    role: &str,
) -> DbResult<String> {
    // Someone removed from this store may be added back: same row, so the audit trail joins up.
    let removed: Option<String> = conn
        .query_row(
            "SELECT id FROM users WHERE email = ?1 AND store_id = ?2 AND removed_at IS NOT NULL AND role = ?3",
            [email, store_id, role],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = removed {
        conn.execute(
            "UPDATE users SET name = ?2, password_hash = ?3, removed_at = NULL WHERE id = ?1",
            params![id, name, password_hash],
        )?;
        return Ok(id);
    }
    let id = random_id("usr");
    let taken: bool = conn.query_row("SELECT EXISTS(SELECT 1 FROM users WHERE email = ?1)", [email], |r| r.get(0))?;
    if taken {
        return Err(DbError::Invalid(Problem::EmailTaken { email: email.to_owned() }));
    }
    conn.execute(
        "INSERT INTO users (id, store_id, name, email, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![id, store_id, name, email, password_hash, role, now()],
    )?;
    Ok(id)
}

#[async_trait]
impl crate::db::MerchantStore for SqliteStore {
    async fn create_store(&self, new: NewStore) -> DbResult<String> {
        self.write(move |tx| {
            let id = random_id("sto");
            tx.execute(
                "INSERT INTO stores (id, name, subscription_active, created_at) VALUES (?1, ?2, 1, ?3)",
                params![id, new.name, now()],
            )?;
            let owner = insert_user(tx, &id, &new.owner_name, &new.owner_email, &new.owner_password_hash, "owner")?;
            record(tx, &id, Some(&owner), None, &AuditEvent::StoreCreated { store_id: &id, name: &new.name })?;
            Ok(id)
        })
        .await
    }

    /// Adds a staff member to a store; returns the user's id.
    async fn add_staff(&self, store_id: String, name: String, email: String, password_hash: String) -> DbResult<String> {
        self.write(move |tx| {
            if store_info(tx, &store_id)?.is_none() {
                return Err(DbError::Invalid(Problem::NoSuchStore { id: store_id }));
            }
            insert_user(tx, &store_id, &name, &email, &password_hash, "staff")
        })
        .await
    }

    async fn set_subscription(&self, store_id: String, active: bool) -> DbResult<()> {
        self.write(move |tx| {
            let changed = tx.execute("UPDATE stores SET subscription_active = ?2 WHERE id = ?1", params![store_id, active])?;
            if changed == 0 {
                return Err(DbError::Invalid(Problem::NoSuchStore { id: store_id }));
            }
            let event = AuditEvent::subscription(active, &store_id);
            record(tx, &store_id, None, None, &event)
        })
        .await
    }

    async fn store_info(&self, store_id: String) -> DbResult<Option<StoreInfo>> {
        self.lookup(move |conn| store_info(conn, &store_id)).await
    }

    async fn only_store_name(&self) -> DbResult<Option<String>> {
        self.read(|conn| {
            let names: Vec<String> = conn
                .prepare_cached("SELECT name FROM stores WHERE uninstalled_at IS NULL LIMIT 2")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(if names.len() == 1 { names.into_iter().next() } else { None })
        })
        .await
    }

    async fn list_stores(&self) -> DbResult<Vec<StoreSummary>> {
        self.read(|conn| {
            let mut stmt = conn.prepare("SELECT id, name, subscription_active, uninstalled_at IS NOT NULL FROM stores ORDER BY created_at")?;
            let rows = stmt.query_map([], |r| {
                Ok(StoreSummary { id: r.get(0)?, name: r.get(1)?, subscription_active: r.get(2)?, uninstalled: r.get(3)? })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn uninstall_store(&self, actor: Actor) -> DbResult<()> {
        self.write(move |tx| {
            let store_id = &actor.store_id;
            let t = now();
            bump_all_keys_of_store(tx, store_id, t, &actor.user_id)?;
            tx.execute("UPDATE connections SET revoked_at = ?2 WHERE store_id = ?1 AND revoked_at IS NULL", params![store_id, t])?;
            tx.execute("UPDATE devices SET signed_out_at = ?2 WHERE store_id = ?1 AND signed_out_at IS NULL", params![store_id, t])?;
            tx.execute("UPDATE stores SET uninstalled_at = ?2 WHERE id = ?1", params![store_id, t])?;
            record_by(tx, &actor, &AuditEvent::StoreUninstalled { store_id })
        })
        .await
    }
    async fn list_staff(&self, store_id: String) -> DbResult<Vec<StaffMember>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "{MEMBER_SELECT} WHERE store_id = ?1 AND removed_at IS NULL ORDER BY role = 'staff', name COLLATE NOCASE"
            ))?;
            let rows = stmt.query_map([store_id], member_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn add_staff_member(&self, actor: Actor, name: String, email: String, password_hash: String) -> DbResult<StaffMember> {
        self.write(move |tx| {
            let id = insert_user(tx, &actor.store_id, &name, &email, &password_hash, "staff")?;
            record_by(tx, &actor, &AuditEvent::StaffAdded { user_id: &id, name: &name, email: &email })?;
            member(tx, &actor.store_id, &id)?.ok_or(DbError::NotFound)
        })
        .await
    }

    /// The owner removes a staff member: they can no longer sign in, and every device they
    /// are signed in on is signed out. The keys they made stay (they belong to the store);
    /// the owner revokes those separately if need be. Returns the member and how many devices.
    async fn remove_staff_member(&self, actor: Actor, user_id: String) -> DbResult<(StaffMember, usize)> {
        self.write(move |tx| {
            let member = member(tx, &actor.store_id, &user_id)?.ok_or(DbError::NotFound)?;
            if member.role != "staff" {
                return Err(DbError::Conflict(Problem::OwnerCannotBeRemoved));
            }
            let t = now();
            tx.execute("UPDATE users SET removed_at = ?2 WHERE id = ?1", params![user_id, t])?;
            let devices = tx.execute(
                "UPDATE devices SET signed_out_at = ?2 WHERE user_id = ?1 AND signed_out_at IS NULL",
                params![user_id, t],
            )?;
            let event = AuditEvent::StaffRemoved { user_id: &user_id, name: &member.name, email: &member.email, devices_signed_out: devices };
            record_by(tx, &actor, &event)?;
            Ok((member, devices))
        })
        .await
    }
}
