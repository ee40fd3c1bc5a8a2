//! Stores and their staff on PostgreSQL: created by the operator's admin commands, and
//! uninstalled by the merchant, which stops every key, connection and session of the store at once.

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use keyward_core::wire::{StaffMember, StoreInfo};
use keyward_core::Timestamp;
use tokio_postgres::error::SqlState;

use super::PgStore;
use super::audit::{record, record_by};
use super::keys::bump_all_keys_of_store;
use crate::audit::AuditEvent;
use crate::db::{Actor, DbError, DbResult, NewStore, StoreSummary, now, random_id};
use crate::problems::Problem;

const MEMBER_SELECT: &str = "SELECT id, name, email, role, created_at FROM users";

/// The unique index that makes an email address one account, whatever its case.
const EMAIL_INDEX: &str = "users_by_email";

fn member_from_row(r: &tokio_postgres::Row) -> StaffMember {
    StaffMember { id: r.get(0), name: r.get(1), email: r.get(2), role: r.get(3), created_at: Timestamp::from_unix(r.get(4)) }
}

/// `lock`: `""`, or a locking clause such as `FOR NO KEY UPDATE`.
async fn member(c: &impl GenericClient, store_id: &str, id: &str, lock: &str) -> DbResult<Option<StaffMember>> {
    let sql = format!("{MEMBER_SELECT} WHERE store_id = $1 AND id = $2 AND removed_at IS NULL {lock}");
    Ok(c.query_opt(sql.as_str(), &[&store_id, &id]).await?.map(|r| member_from_row(&r)))
}

pub(crate) async fn store_info(c: &impl GenericClient, store_id: &str) -> DbResult<Option<StoreInfo>> {
    let stmt = c
        .prepare_cached(
            "SELECT s.id, s.name, s.subscription_active, COALESCE(d.brand, '') FROM stores s LEFT JOIN deployment d ON d.singleton = 1 WHERE s.id = $1",
        )
        .await?;
    Ok(c.query_opt(&stmt, &[&store_id]).await?.map(|r| StoreInfo {
        id: r.get(0),
        name: r.get(1),
        subscription_active: r.get(2),
        brand: r.get(3),
    }))
}

/// Email addresses compare case-insensitively in ASCII letters only, as SQLite's `NOCASE` does
/// (`lower(email COLLATE "C")`, as the unique index does).
async fn insert_user(tx: &Transaction<'_>, store_id: &str, name: &str, email: &str, password_hash: &str, role: &str) -> DbResult<String> {
    // Someone removed from this store may be added back: same row, so the audit trail joins up.
    // `FOR NO KEY UPDATE`: two instances adding them back at once take turns, and the second no
    // longer finds them removed (then the address is taken), as if one had run after the other.
    // (Not `FOR UPDATE`, which would also block inserts whose foreign key names this user.)
    let removed: Option<String> = tx
        .query_opt(
            "SELECT id FROM users WHERE lower(email COLLATE \"C\") = lower($1 COLLATE \"C\") AND store_id = $2 AND removed_at IS NOT NULL AND role = $3 FOR NO KEY UPDATE",
            &[&email, &store_id, &role],
        )
        .await?
        .map(|r| r.get(0));
    if let Some(id) = removed {
        tx.execute("UPDATE users SET name = $2, password_hash = $3, removed_at = NULL WHERE id = $1", &[&id, &name, &password_hash])
            .await?;
        return Ok(id);
    }
    let id = random_id("usr");
    let taken: bool = tx
        .query_one("SELECT EXISTS(SELECT 1 FROM users WHERE lower(email COLLATE \"C\") = lower($1 COLLATE \"C\"))", &[&email])
        .await?
        .get(0);
    if taken {
        return Err(DbError::Invalid(Problem::EmailTaken { email: email.to_owned() }));
    }
    tx.execute(
        "INSERT INTO users (id, store_id, name, email, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&id, &store_id, &name, &email, &password_hash, &role, &now()],
    )
    .await
    .map_err(|e| {
        // Another instance took the address between the check above and this insert.
        let email_index = e.as_db_error().and_then(|d| d.constraint()) == Some(EMAIL_INDEX);
        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) && email_index {
            DbError::Invalid(Problem::EmailTaken { email: email.to_owned() })
        } else {
            e.into()
        }
    })?;
    Ok(id)
}

#[async_trait]
impl crate::db::MerchantStore for PgStore {
    async fn create_store(&self, new: NewStore) -> DbResult<String> {
        self.write(move |tx| {
            Box::pin(async move {
                let id = random_id("sto");
                tx.execute("INSERT INTO stores (id, name, subscription_active, created_at) VALUES ($1, $2, TRUE, $3)", &[&id, &new.name, &now()])
                    .await?;
                let owner = insert_user(tx, &id, &new.owner_name, &new.owner_email, &new.owner_password_hash, "owner").await?;
                record(tx, &id, Some(&owner), None, &AuditEvent::StoreCreated { store_id: &id, name: &new.name }).await?;
                Ok(id)
            })
        })
        .await
    }

    /// Adds a staff member to a store; returns the user's id.
    async fn add_staff(&self, store_id: String, name: String, email: String, password_hash: String) -> DbResult<String> {
        self.write(move |tx| {
            Box::pin(async move {
                if store_info(tx, &store_id).await?.is_none() {
                    return Err(DbError::Invalid(Problem::NoSuchStore { id: store_id }));
                }
                insert_user(tx, &store_id, &name, &email, &password_hash, "staff").await
            })
        })
        .await
    }

    async fn set_subscription(&self, store_id: String, active: bool) -> DbResult<()> {
        self.write(move |tx| {
            Box::pin(async move {
                let changed = tx.execute("UPDATE stores SET subscription_active = $2 WHERE id = $1", &[&store_id, &active]).await?;
                if changed == 0 {
                    return Err(DbError::Invalid(Problem::NoSuchStore { id: store_id }));
                }
                let event = AuditEvent::subscription(active, &store_id);
                record(tx, &store_id, None, None, &event).await
            })
        })
        .await
    }

    async fn store_info(&self, store_id: String) -> DbResult<Option<StoreInfo>> {
        self.read(move |c| Box::pin(async move { store_info(c, &store_id).await })).await
    }

    async fn only_store_name(&self) -> DbResult<Option<String>> {
        self.read(|c| {
            Box::pin(async move {
                let names: Vec<String> = c
                    .query("SELECT name FROM stores WHERE uninstalled_at IS NULL LIMIT 2", &[])
                    .await?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                Ok(if names.len() == 1 { names.into_iter().next() } else { None })
            })
        })
        .await
    }

    async fn list_stores(&self) -> DbResult<Vec<StoreSummary>> {
        self.read(|c| {
            Box::pin(async move {
                let rows = c
                    .query("SELECT id, name, subscription_active, uninstalled_at IS NOT NULL FROM stores ORDER BY created_at", &[])
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| StoreSummary { id: r.get(0), name: r.get(1), subscription_active: r.get(2), uninstalled: r.get(3) })
                    .collect())
            })
        })
        .await
    }

    async fn uninstall_store(&self, actor: Actor) -> DbResult<()> {
        self.write(move |tx| {
            Box::pin(async move {
                let store_id = &actor.store_id;
                let t = now();
                bump_all_keys_of_store(tx, store_id, t, &actor.user_id).await?;
                tx.execute("UPDATE connections SET revoked_at = $2 WHERE store_id = $1 AND revoked_at IS NULL", &[store_id, &t]).await?;
                tx.execute("UPDATE devices SET signed_out_at = $2 WHERE store_id = $1 AND signed_out_at IS NULL", &[store_id, &t]).await?;
                tx.execute("UPDATE stores SET uninstalled_at = $2 WHERE id = $1", &[store_id, &t]).await?;
                record_by(tx, &actor, &AuditEvent::StoreUninstalled { store_id }).await
            })
        })
        .await
    }

    /// The people who can sign in to the store: the owner first, then staff by name.
    /// `lower(name COLLATE "C")` is SQLite's `COLLATE NOCASE`: ASCII letters folded, then
    /// compared byte by byte, whatever the database's locale.
    async fn list_staff(&self, store_id: String) -> DbResult<Vec<StaffMember>> {
        self.read(move |c| {
            Box::pin(async move {
                let sql = format!(
                    "{MEMBER_SELECT} WHERE store_id = $1 AND removed_at IS NULL ORDER BY role = 'staff', lower(name COLLATE \"C\")"
                );
                let rows = c.query(sql.as_str(), &[&store_id]).await?;
                Ok(rows.iter().map(member_from_row).collect())
            })
        })
        .await
    }

    async fn add_staff_member(&self, actor: Actor, name: String, email: String, password_hash: String) -> DbResult<StaffMember> {
        self.write(move |tx| {
            Box::pin(async move {
                let id = insert_user(tx, &actor.store_id, &name, &email, &password_hash, "staff").await?;
                record_by(tx, &actor, &AuditEvent::StaffAdded { user_id: &id, name: &name, email: &email }).await?;
                member(tx, &actor.store_id, &id, "").await?.ok_or(DbError::NotFound)
            })
        })
        .await
    }

    /// The owner removes a staff member: they can no longer sign in, and every device they
    /// are signed in on is signed out. The keys they made stay (they belong to the store);
    /// the owner revokes those separately if need be. Returns the member and how many devices.
    async fn remove_staff_member(&self, actor: Actor, user_id: String) -> DbResult<(StaffMember, usize)> {
        self.write(move |tx| {
            Box::pin(async move {
                // `FOR NO KEY UPDATE`: a second removal on another instance waits, then finds
                // nobody, and a sign-in checking this person's password (`FOR SHARE`) takes turns
                // with it. Not `FOR UPDATE`: that would also block inserts whose foreign key names
                // this user (an audit event by them, while this waits for one of their devices).
                let member = member(tx, &actor.store_id, &user_id, "FOR NO KEY UPDATE").await?.ok_or(DbError::NotFound)?;
                if member.role != "staff" {
                    return Err(DbError::Conflict(Problem::OwnerCannotBeRemoved));
                }
                let t = now();
                tx.execute("UPDATE users SET removed_at = $2 WHERE id = $1", &[&user_id, &t]).await?;
                let devices = tx
                    .execute("UPDATE devices SET signed_out_at = $2 WHERE user_id = $1 AND signed_out_at IS NULL", &[&user_id, &t])
                    .await? as usize;
                let event = AuditEvent::StaffRemoved { user_id: &user_id, name: &member.name, email: &member.email, devices_signed_out: devices };
                record_by(tx, &actor, &event).await?;
                Ok((member, devices))
            })
        })
        .await
    }
}
