//! API key records on PostgreSQL: create, list, change, revoke, rotate, and the lookups that
//! authenticate a request and feed the verifier mirror.
//!
//! Every change to a key's hash or status takes a fresh `change_seq`, the mirror feed's cursor
//! (from [`next_seq`], under its advisory lock). `last_used_at` is not a status and does not
//! move the cursor.
//!
//! Several instances write at once, so the places where they could race take row locks:
//! - create, reactivate and rotate lock the store's row first, so the ten-key count of one
//!   store is taken by one writer at a time;
//! - a change to one key (update, revoke, rotate) locks that key's row before reading it, so a
//!   key revoked meanwhile on another instance is seen revoked, and is revoked and audited once;
//! - a writer that locks several key rows (uninstall, a device's keys, usage times) locks them
//!   in `id` order, so two of them cannot wait for each other.

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use keyward_core::wire::{KeyRecord, MirrorRecord, Person};
use keyward_core::{KeyFacts, Scopes};
use keyward_core::Timestamp;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use super::audit::{record, record_by};
use super::{PgStore, next_seq, prefix_of};
use crate::audit::{AuditEvent, KeyRef, KeyRevokeReason};
use crate::db::records::{KeyColumns, MirrorColumns};
use crate::db::{Actor, DbError, DbResult, KeyAuthRow, KeyChange, NewKey, now};
use crate::key_rules::{self, LimitedKey, WorkingPredecessor};

const RECORD_SELECT: &str = "SELECT k.id, k.name, k.scopes, cu.name, cu.email, k.created_device, k.created_at,
        k.last_used_at, k.expires_at, k.is_active, k.revoked_at, ru.name, ru.email, k.revokes_at, d.brand
    FROM api_keys k
    JOIN users cu ON cu.id = k.created_by
    LEFT JOIN users ru ON ru.id = k.revoked_by
    CROSS JOIN deployment d";

fn record_from_row(r: &Row) -> KeyRecord {
    let revoked_by = match (r.get::<_, Option<String>>(11), r.get::<_, Option<String>>(12)) {
        (Some(name), Some(email)) => Some(Person { name, email }),
        _ => None,
    };
    KeyColumns {
        id: r.get::<_, String>(0),
        name: r.get::<_, String>(1),
        scopes: r.get::<_, String>(2),
        created_by: Person { name: r.get::<_, String>(3), email: r.get::<_, String>(4) },
        created_device: r.get::<_, Option<String>>(5),
        created_at: r.get::<_, i64>(6),
        last_used_at: r.get::<_, Option<i64>>(7),
        expires_at: r.get::<_, Option<i64>>(8),
        is_active: r.get::<_, bool>(9),
        revoked_at: r.get::<_, Option<i64>>(10),
        revoked_by,
        revokes_at: r.get::<_, Option<i64>>(13),
        brand: r.get::<_, String>(14),
    }
    .into_record()
}

async fn key_record(c: &impl GenericClient, store_id: &str, id: &str) -> DbResult<Option<KeyRecord>> {
    let sql = format!("{RECORD_SELECT} WHERE k.store_id = $1 AND k.id = $2");
    let row = c.query_opt(sql.as_str(), &[&store_id, &id]).await?;
    Ok(row.as_ref().map(record_from_row))
}

/// Locks the store's row to the end of the transaction: every change that can add a working
/// key to the store takes it before the ten-key count, so two instances cannot both count
/// nine and both add one.
///
/// `FOR NO KEY UPDATE`, not `FOR UPDATE`: two of these exclude each other just as two
/// `FOR UPDATE` do, but `FOR UPDATE` would also block the `FOR KEY SHARE` lock that every
/// insert referencing the store takes for its foreign key (an audit event, above all). A
/// revocation holding the `change_seq` advisory lock and writing its audit event would then
/// wait for a create holding this lock, while the create waits for the advisory lock: a
/// deadlock.
pub(crate) async fn lock_store(tx: &Transaction<'_>, store_id: &str) -> DbResult<()> {
    tx.execute("SELECT id FROM stores WHERE id = $1 FOR NO KEY UPDATE", &[&store_id]).await?;
    Ok(())
}

/// Locks one key's row to the end of the transaction, before it is read and changed, so a
/// change on another instance to the same key (a revocation, above all) is waited for and
/// then seen. Locks nothing if the store has no such key; the read that follows says so.
async fn lock_key(tx: &Transaction<'_>, store_id: &str, id: &str) -> DbResult<()> {
    tx.execute("SELECT id FROM api_keys WHERE store_id = $1 AND id = $2 FOR UPDATE", &[&store_id, &id]).await?;
    Ok(())
}

/// Refuses a change that left the store over the limit (the caller's transaction then rolls
/// it back); see [`key_rules::counted_toward_limit`]. The caller holds the store's row lock.
async fn within_limit(tx: &Transaction<'_>, store_id: &str) -> DbResult<()> {
    // A key with `revoked_at` set is revoked whatever else holds, so leaving those rows out
    // here only saves reading a store's history; the status of the rest is decided above.
    let stmt = tx
        .prepare_cached(
            "SELECT id, replaces, expires_at, is_active, revokes_at FROM api_keys WHERE store_id = $1 AND revoked_at IS NULL",
        )
        .await?;
    let keys: Vec<LimitedKey> = tx
        .query(&stmt, &[&store_id])
        .await?
        .iter()
        .map(|r| {
            let facts = KeyFacts::from_unix(None, r.get::<_, Option<i64>>(4), r.get::<_, Option<i64>>(2), r.get::<_, bool>(3));
            LimitedKey { id: r.get::<_, String>(0), replaces: r.get::<_, Option<String>>(1), facts }
        })
        .collect();
    if !key_rules::within_limit(&keys, Timestamp::now().get()) {
        return Err(DbError::ActiveKeyLimit);
    }
    Ok(())
}

async fn insert_key(tx: &Transaction<'_>, actor: &Actor, new: &NewKey) -> DbResult<()> {
    let taken: bool = tx.query_one("SELECT EXISTS(SELECT 1 FROM api_keys WHERE id = $1)", &[&new.id]).await?.get(0);
    if taken {
        return Err(DbError::IdTaken);
    }
    let t = now();
    let seq = next_seq(tx).await?;
    let scopes = new.scopes.to_db();
    let inserted = tx
        .execute(
            "INSERT INTO api_keys (id, store_id, name, secret_hash, scopes, created_by, created_device, created_at,
                                   expires_at, is_active, updated_at, change_seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, TRUE, $8, $10)",
            &[&new.id, &actor.store_id, &new.name, &new.secret_hash, &scopes, &actor.user_id, &actor.device_id, &t, &new.expires_at, &seq],
        )
        .await;
    match inserted {
        Ok(_) => Ok(()),
        // Another instance inserted the same id after the check above (it waited for that
        // transaction): the caller generates another, as when the check finds it.
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Err(DbError::IdTaken),
        Err(e) => Err(e.into()),
    }
}

async fn set_revoked(tx: &Transaction<'_>, id: &str, at: i64, by: Option<&str>) -> DbResult<()> {
    let seq = next_seq(tx).await?;
    tx.execute(
        "UPDATE api_keys SET revoked_at = $2, revoked_by = $3, updated_at = $2, change_seq = $4 WHERE id = $1",
        &[&id, &at, &by, &seq],
    )
    .await?;
    Ok(())
}

/// Revokes every live key of a store (uninstall).
pub(crate) async fn bump_all_keys_of_store(tx: &Transaction<'_>, store_id: &str, t: i64, actor: &str) -> DbResult<()> {
    // The store's row first, as a create takes it: a key created meanwhile is either committed
    // before the keys are read here (and revoked with them), or waits for the uninstall to end.
    // It also orders the locks as create, reactivate and rotate take them: store, then keys.
    lock_store(tx, store_id).await?;
    let ids: Vec<String> = tx
        .query("SELECT id FROM api_keys WHERE store_id = $1 AND revoked_at IS NULL ORDER BY id FOR UPDATE", &[&store_id])
        .await?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    for id in &ids {
        set_revoked(tx, id, t, Some(actor)).await?;
    }
    Ok(())
}

/// Revokes every live key created from a device (the lost-laptop flow). Returns how many.
pub(crate) async fn revoke_keys_of_device(tx: &Transaction<'_>, actor: &Actor, device_id: &str, t: i64) -> DbResult<usize> {
    // Locked in `id` order (see the module's notes); a key revoked meanwhile on another
    // instance is re-checked once its lock is free and left out.
    let mut keys: Vec<(String, String, i64)> = tx
        .query(
            "SELECT id, name, created_seq FROM api_keys WHERE store_id = $1 AND created_device = $2 AND revoked_at IS NULL
             ORDER BY id FOR UPDATE",
            &[&actor.store_id, &device_id],
        )
        .await?
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1), r.get::<_, i64>(2)))
        .collect();
    // Revoked and audited in the order they were created.
    keys.sort_by_key(|(_, _, seq)| *seq);
    for (id, name, _) in &keys {
        set_revoked(tx, id, t, Some(&actor.user_id)).await?;
        let prefix = prefix_of(tx, id).await?;
        let key = KeyRef { id, name, prefix: &prefix };
        record_by(tx, actor, &AuditEvent::KeyRevoked { key, why: KeyRevokeReason::WithDevice }).await?;
    }
    Ok(keys.len())
}

#[async_trait]
impl crate::db::KeyStore for PgStore {
    async fn seed_revoked_keys(&self, store_id: String, first: usize, count: usize, secret_hash: String) -> DbResult<()> {
        self.write(move |tx| {
            Box::pin(async move {
                let owner: String = tx
                    .query_one("SELECT id FROM users WHERE store_id = $1 AND role = 'owner' ORDER BY created_at, id LIMIT 1", &[&store_id])
                    .await?
                    .get(0);
                let t = now();
                let first_seq = next_seq(tx).await?;
                let count = i64::try_from(count).unwrap_or(i64::MAX);
                let first = i64::try_from(first).unwrap_or(i64::MAX);
                // One statement for every row (it may be asked for 100,000). Ids as the
                // reference makes them: `h` and the number, zero-padded to at least 7 digits.
                tx.execute(
                    "INSERT INTO api_keys (id, store_id, name, secret_hash, scopes, created_by, created_at, is_active,
                                           revoked_at, updated_at, change_seq)
                     SELECT 'h' || CASE WHEN s.i < 10000000 THEN lpad(s.i::text, 7, '0') ELSE s.i::text END,
                            $1::text, 'old key ' || s.i::text, $2::text, 'read', $3::text, $4::bigint, TRUE,
                            $4::bigint, $4::bigint, $5::bigint + s.i - $7::bigint
                     FROM generate_series($7::bigint, $7::bigint + $6::bigint - 1) AS s(i)
                     ORDER BY s.i",
                    &[&store_id, &secret_hash, &owner, &t, &first_seq, &count, &first],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Inserts a key, unless that would leave the store over [`key_rules::ACTIVE_KEY_LIMIT`] working keys.
    async fn create_key(&self, actor: Actor, new: NewKey) -> DbResult<KeyRecord> {
        self.write(move |tx| {
            Box::pin(async move {
                lock_store(tx, &actor.store_id).await?;
                insert_key(tx, &actor, &new).await?;
                within_limit(tx, &actor.store_id).await?;
                let prefix = prefix_of(tx, &new.id).await?;
                let key = KeyRef { id: &new.id, name: &new.name, prefix: &prefix };
                record_by(tx, &actor, &AuditEvent::KeyCreated { key, scopes: &new.scopes }).await?;
                key_record(tx, &actor.store_id, &new.id).await?.ok_or(DbError::NotFound)
            })
        })
        .await
    }

    async fn get_key(&self, store_id: String, id: String) -> DbResult<Option<KeyRecord>> {
        self.read(move |c| Box::pin(async move { key_record(c, &store_id, &id).await })).await
    }

    async fn list_keys(&self, store_id: String, include_revoked: bool) -> DbResult<Vec<KeyRecord>> {
        self.read(move |c| {
            Box::pin(async move {
                // `created_seq` is the insertion order: keys made in the same second, newest first.
                let rows = if include_revoked {
                    let stmt = c
                        .prepare_cached(&format!(
                            "{RECORD_SELECT} WHERE k.store_id = $1 ORDER BY k.created_at DESC, k.created_seq DESC LIMIT 100"
                        ))
                        .await?;
                    c.query(&stmt, &[&store_id]).await?
                } else {
                    let stmt = c
                        .prepare_cached(&format!(
                            "{RECORD_SELECT} WHERE k.store_id = $1 AND k.revoked_at IS NULL AND (k.revokes_at IS NULL OR k.revokes_at > $2)
                             ORDER BY k.created_at DESC, k.created_seq DESC LIMIT 100"
                        ))
                        .await?;
                    c.query(&stmt, &[&store_id, &now()]).await?
                };
                let records: Vec<KeyRecord> = rows.iter().map(record_from_row).collect();
                Ok(records)
            })
        })
        .await
    }

    async fn update_key(&self, actor: Actor, id: String, change: KeyChange) -> DbResult<KeyRecord> {
        self.write(move |tx| {
            Box::pin(async move {
                let KeyChange { name, scopes, is_active } = change;
                if is_active == Some(true) {
                    // A reactivation adds a working key: the store's row before the key's.
                    lock_store(tx, &actor.store_id).await?;
                }
                lock_key(tx, &actor.store_id, &id).await?;
                let before = key_record(tx, &actor.store_id, &id).await?.ok_or(DbError::NotFound)?;
                key_rules::may_change(&before).map_err(DbError::Conflict)?;
                let key = KeyRef { id: &id, name: &before.name, prefix: &before.key_prefix };
                let mut changes = Vec::new();
                if let Some(name) = name.as_deref().filter(|n| *n != before.name) {
                    tx.execute("UPDATE api_keys SET name = $2 WHERE id = $1", &[&id, &name]).await?;
                    changes.push(AuditEvent::KeyRenamed { key, to: name });
                }
                if let Some(scopes) = scopes.as_ref().filter(|s| **s != before.scopes) {
                    let seq = next_seq(tx).await?;
                    tx.execute(
                        "UPDATE api_keys SET scopes = $2, updated_at = $3, change_seq = $4 WHERE id = $1",
                        &[&id, &scopes.to_db(), &now(), &seq],
                    )
                    .await?;
                    changes.push(AuditEvent::KeyRescoped { key, from: &before.scopes, to: scopes });
                }
                if let Some(active) = is_active.filter(|a| *a != before.is_active) {
                    let seq = next_seq(tx).await?;
                    tx.execute(
                        "UPDATE api_keys SET is_active = $2, updated_at = $3, change_seq = $4 WHERE id = $1",
                        &[&id, &active, &now(), &seq],
                    )
                    .await?;
                    if active {
                        within_limit(tx, &actor.store_id).await?;
                    }
                    changes.push(if active { AuditEvent::KeyReactivated { key } } else { AuditEvent::KeyDeactivated { key } });
                }
                for event in &changes {
                    record_by(tx, &actor, event).await?;
                }
                key_record(tx, &actor.store_id, &id).await?.ok_or(DbError::NotFound)
            })
        })
        .await
    }

    async fn revoke_key(&self, actor: Actor, id: String) -> DbResult<KeyRecord> {
        self.write(move |tx| {
            Box::pin(async move {
                // Two instances revoking the same key take turns; the second finds it revoked.
                lock_key(tx, &actor.store_id, &id).await?;
                let before = key_record(tx, &actor.store_id, &id).await?.ok_or(DbError::NotFound)?;
                let already_revoked: bool =
                    tx.query_one("SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = $1", &[&id]).await?.get(0);
                if !already_revoked {
                    set_revoked(tx, &id, now(), Some(&actor.user_id)).await?;
                    let key = KeyRef { id: &id, name: &before.name, prefix: &before.key_prefix };
                    record_by(tx, &actor, &AuditEvent::KeyRevoked { key, why: KeyRevokeReason::ByPerson }).await?;
                }
                key_record(tx, &actor.store_id, &id).await?.ok_or(DbError::NotFound)
            })
        })
        .await
    }

    /// Safe rotation: inserts the replacement, with the old key's name, scopes and expiry,
    /// then revokes the old key now, or schedules its end after `overlap_seconds`.
    /// Only `id` and `secret_hash` of `replacement` are used; the rest comes from the old key.
    async fn rotate_key(&self, actor: Actor, old_id: String, replacement: NewKey, overlap_seconds: u32) -> DbResult<(KeyRecord, KeyRecord)> {
        self.write(move |tx| {
            Box::pin(async move {
                let mut replacement = replacement;
                lock_store(tx, &actor.store_id).await?;
                lock_key(tx, &actor.store_id, &old_id).await?;
                let old = key_record(tx, &actor.store_id, &old_id).await?.ok_or(DbError::NotFound)?;
                let t = now();
                let predecessor: Option<(String, i64)> = tx
                    .query_opt(
                        "SELECT p.id, p.revokes_at FROM api_keys k JOIN api_keys p ON p.id = k.replaces
                         WHERE k.id = $1 AND p.revoked_at IS NULL AND p.revokes_at > $2",
                        &[&old_id, &t],
                    )
                    .await?
                    .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)));
                let predecessor = match predecessor {
                    Some((id, until)) => Some(WorkingPredecessor { prefix: prefix_of(tx, &id).await?, until: Timestamp::from_unix(until).get() }),
                    None => None,
                };
                key_rules::may_rotate(&old, predecessor).map_err(DbError::Conflict)?;
                replacement.name = old.name.clone();
                replacement.scopes = old.scopes.clone();
                replacement.expires_at = old.expires_at.map(|t| t.unix_timestamp());
                insert_key(tx, &actor, &replacement).await?;
                tx.execute("UPDATE api_keys SET replaces = $2 WHERE id = $1", &[&replacement.id, &old_id]).await?;
                if overlap_seconds == 0 {
                    set_revoked(tx, &old_id, t, Some(&actor.user_id)).await?;
                } else {
                    let seq = next_seq(tx).await?;
                    tx.execute(
                        "UPDATE api_keys SET revokes_at = $2, revoked_by = $3, updated_at = $4, change_seq = $5 WHERE id = $1",
                        &[&old_id, &(t + i64::from(overlap_seconds)), &actor.user_id, &t, &seq],
                    )
                    .await?;
                }
                within_limit(tx, &actor.store_id).await?;
                let replacement_prefix = prefix_of(tx, &replacement.id).await?;
                let key = KeyRef { id: &old_id, name: &old.name, prefix: &old.key_prefix };
                record_by(tx, &actor, &AuditEvent::KeyRotated { key, replacement_prefix: &replacement_prefix, overlap_seconds }).await?;
                let new_record = key_record(tx, &actor.store_id, &replacement.id).await?.ok_or(DbError::NotFound)?;
                let old_record = key_record(tx, &actor.store_id, &old_id).await?.ok_or(DbError::NotFound)?;
                Ok((new_record, old_record))
            })
        })
        .await
    }

    async fn key_creator(&self, store_id: String, id: String) -> DbResult<Option<String>> {
        self.read(move |c| {
            Box::pin(async move {
                Ok(c.query_opt("SELECT created_by FROM api_keys WHERE store_id = $1 AND id = $2", &[&store_id, &id])
                    .await?
                    .map(|r| r.get::<_, String>(0)))
            })
        })
        .await
    }

    async fn key_for_auth(&self, id: String) -> DbResult<Option<KeyAuthRow>> {
        self.count_key_lookup();
        self.read(move |c| {
            Box::pin(async move {
                // Prepared once per pooled connection: on the path of every request, only the
                // execution goes to the server.
                let stmt = c
                    .prepare_cached(
                        "SELECT k.store_id, k.secret_hash, k.scopes, k.expires_at, k.is_active, k.revoked_at, k.revokes_at,
                                s.name, s.subscription_active, s.uninstalled_at IS NOT NULL
                         FROM api_keys k JOIN stores s ON s.id = k.store_id WHERE k.id = $1",
                    )
                    .await?;
                let row = c.query_opt(&stmt, &[&id]).await?;
                Ok(row.map(|r| {
                    let scopes: String = r.get(2);
                    KeyAuthRow {
                        id,
                        store_id: r.get::<_, String>(0),
                        secret_hash: r.get::<_, String>(1),
                        scopes: Scopes::from_db(&scopes).unwrap_or_else(Scopes::read_only),
                        facts: KeyFacts::from_unix(
                            r.get::<_, Option<i64>>(5),
                            r.get::<_, Option<i64>>(6),
                            r.get::<_, Option<i64>>(3),
                            r.get::<_, bool>(4),
                        ),
                        store_name: r.get::<_, String>(7),
                        subscription_active: r.get::<_, bool>(8),
                        store_uninstalled: r.get::<_, bool>(9),
                    }
                }))
            })
        })
        .await
    }

    async fn mirror_changes(&self, store_id: String, since: i64, limit: u32) -> DbResult<(Vec<MirrorRecord>, i64, bool)> {
        self.read(move |c| {
            Box::pin(async move {
                let stmt = c
                    .prepare_cached(
                        "SELECT k.id, d.brand, k.secret_hash, k.scopes, k.expires_at, k.is_active, k.revoked_at, k.revokes_at,
                                k.updated_at, k.change_seq
                         FROM api_keys k CROSS JOIN deployment d
                         WHERE k.store_id = $1 AND k.change_seq > $2 ORDER BY k.change_seq LIMIT $3",
                    )
                    .await?;
                let mut cursor = since;
                let mut records: Vec<(MirrorRecord, i64)> = c
                    .query(&stmt, &[&store_id, &since, &(i64::from(limit) + 1)])
                    .await?
                    .iter()
                    .map(|r| {
                        let columns = MirrorColumns {
                            id: r.get::<_, String>(0),
                            brand: r.get::<_, String>(1),
                            secret_hash: r.get::<_, String>(2),
                            scopes: r.get::<_, String>(3),
                            expires_at: r.get::<_, Option<i64>>(4),
                            is_active: r.get::<_, bool>(5),
                            revoked_at: r.get::<_, Option<i64>>(6),
                            revokes_at: r.get::<_, Option<i64>>(7),
                            updated_at: r.get::<_, i64>(8),
                        };
                        (columns.into_record(), r.get::<_, i64>(9))
                    })
                    .collect();
                let has_more = records.len() > limit as usize;
                records.truncate(limit as usize);
                if let Some((_, seq)) = records.last() {
                    cursor = *seq;
                }
                let records: Vec<MirrorRecord> = records.into_iter().map(|(r, _)| r).collect();
                Ok((records, cursor, has_more))
            })
        })
        .await
    }

    async fn record_usage(&self, uses: Vec<(String, i64)>) -> DbResult<()> {
        // Each row on its own, outside a transaction: a last-use time is advisory, and a flush
        // that held one row's lock while waiting for another could close a circle with an
        // uninstall or a sign-out that holds all of a store's keys and waits for a connection.
        // Each statement only ever moves a time forward, so order and retries do not matter.
        self.read(move |c| {
            Box::pin(async move {
                let keys = c
                    .prepare_cached("UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)")
                    .await?;
                let connections = c
                    .prepare_cached("UPDATE connections SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)")
                    .await?;
                for (id, at) in &uses {
                    let statement = if id.starts_with("con_") { &connections } else { &keys };
                    c.execute(statement, &[id, at]).await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Writes down the revocation of rotated keys whose overlap has ended, so the mirror feed
    /// and the audit trail show it. (Authentication already treats them as revoked.)
    /// Every instance runs it: a key another instance is finishing (or otherwise changing) is
    /// skipped rather than waited for, and one finished meanwhile is no longer due, so each
    /// ending is written and audited once.
    async fn finish_overlaps(&self) -> DbResult<usize> {
        self.write(|tx| {
            Box::pin(async move {
                let t = now();
                let due: Vec<(String, String, String, i64)> = tx
                    .query(
                        "SELECT id, store_id, name, revokes_at FROM api_keys WHERE revoked_at IS NULL AND revokes_at <= $1
                         ORDER BY created_seq FOR UPDATE SKIP LOCKED",
                        &[&t],
                    )
                    .await?
                    .iter()
                    .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1), r.get::<_, String>(2), r.get::<_, i64>(3)))
                    .collect();
                let mut finished: usize = 0;
                for (id, store_id, name, at) in &due {
                    let seq = next_seq(tx).await?;
                    // The rows are locked, so this always changes one; the re-check only
                    // makes sure an ending is never audited without being written.
                    let changed = tx
                        .execute(
                            "UPDATE api_keys SET revoked_at = $2, updated_at = $3, change_seq = $4 WHERE id = $1 AND revoked_at IS NULL",
                            &[id, at, &t, &seq],
                        )
                        .await?;
                    if changed == 0 {
                        continue;
                    }
                    finished += 1;
                    let prefix = prefix_of(tx, id).await?;
                    let key = KeyRef { id, name, prefix: &prefix };
                    record(tx, store_id, None, None, &AuditEvent::KeyRevoked { key, why: KeyRevokeReason::OverlapEnded }).await?;
                }
                Ok(finished)
            })
        })
        .await
    }
}
