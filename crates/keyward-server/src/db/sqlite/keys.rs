//! API key records: create, list, change, revoke, rotate, and the lookups that authenticate a
//! request and feed the verifier mirror.
//!
//! Every change to a key's hash or status takes a fresh `change_seq`, the mirror feed's cursor.
//! `last_used_at` is not a status and does not move the cursor.

use async_trait::async_trait;
use keyward_core::wire::{KeyRecord, MirrorRecord, Person};
use keyward_core::{KeyFacts, Scopes};
use keyward_core::Timestamp;
use rusqlite::{Connection, params};

use crate::db::records::{KeyColumns, MirrorColumns};
use crate::db::{KeyAuthRow, KeyChange, NewKey};
use crate::key_rules::{self, LimitedKey, WorkingPredecessor};
use super::audit::{record, record_by};
use crate::audit::{AuditEvent, KeyRef, KeyRevokeReason};
use super::{Actor, DbError, DbResult, OptionalExtension, SqliteStore, now};

const RECORD_SELECT: &str = "SELECT k.id, k.name, k.scopes, cu.name, cu.email, k.created_device, k.created_at,
        k.last_used_at, k.expires_at, k.is_active, k.revoked_at, ru.name, ru.email, k.revokes_at, d.brand
    FROM api_keys k
    JOIN users cu ON cu.id = k.created_by
    LEFT JOIN users ru ON ru.id = k.revoked_by
    CROSS JOIN deployment d";

fn record_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRecord> {
    let revoked_by = match (r.get::<_, Option<String>>(11)?, r.get::<_, Option<String>>(12)?) {
        (Some(name), Some(email)) => Some(Person { name, email }),
        _ => None,
    };
    Ok(KeyColumns {
        id: r.get(0)?,
        name: r.get(1)?,
        scopes: r.get(2)?,
        created_by: Person { name: r.get(3)?, email: r.get(4)? },
        created_device: r.get(5)?,
        created_at: r.get(6)?,
        last_used_at: r.get(7)?,
        expires_at: r.get(8)?,
        is_active: r.get(9)?,
        revoked_at: r.get(10)?,
        revoked_by,
        revokes_at: r.get(13)?,
        brand: r.get(14)?,
    }
    .into_record())
}

fn key_record(conn: &Connection, store_id: &str, id: &str) -> DbResult<Option<KeyRecord>> {
    Ok(conn
        .query_row(&format!("{RECORD_SELECT} WHERE k.store_id = ?1 AND k.id = ?2"), [store_id, id], record_from_row)
        .optional()?)
}

fn next_seq(conn: &Connection) -> DbResult<i64> {
    Ok(conn.query_row("SELECT COALESCE(MAX(change_seq), 0) + 1 FROM api_keys", [], |r| r.get(0))?)
}

/// Refuses a change that left the store over the limit (the caller's transaction then rolls
/// it back); see [`key_rules::counted_toward_limit`].
fn within_limit(conn: &Connection, store_id: &str) -> DbResult<()> {
    // A key with `revoked_at` set is revoked whatever else holds, so leaving those rows out
    // here only saves reading a store's history; the status of the rest is decided above.
    let keys = conn
        .prepare_cached(
            "SELECT id, replaces, expires_at, is_active, revokes_at FROM api_keys WHERE store_id = ?1 AND revoked_at IS NULL",
        )?
        .query_map([store_id], |r| {
            let facts = KeyFacts::from_unix(None, r.get(4)?, r.get(2)?, r.get(3)?);
            Ok(LimitedKey { id: r.get(0)?, replaces: r.get(1)?, facts })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    if !key_rules::within_limit(&keys, Timestamp::now().get()) {
        return Err(DbError::ActiveKeyLimit);
    }
    Ok(())
}

fn insert_key(conn: &Connection, actor: &Actor, new: &NewKey) -> DbResult<()> {
    let taken: bool = conn.query_row("SELECT EXISTS(SELECT 1 FROM api_keys WHERE id = ?1)", [&new.id], |r| r.get(0))?;
    if taken {
        return Err(DbError::IdTaken);
    }
    let t = now();
    conn.execute(
        "INSERT INTO api_keys (id, store_id, name, secret_hash, scopes, created_by, created_device, created_at,
                               expires_at, is_active, updated_at, change_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?8, ?10)",
        params![
            new.id,
            actor.store_id,
            new.name,
            new.secret_hash,
            new.scopes.to_db(),
            actor.user_id,
            actor.device_id,
            t,
            new.expires_at,
            next_seq(conn)?
        ],
    )?;
    Ok(())
}

fn set_revoked(conn: &Connection, id: &str, at: i64, by: Option<&str>) -> DbResult<()> {
    conn.execute(
        "UPDATE api_keys SET revoked_at = ?2, revoked_by = ?3, updated_at = ?2, change_seq = ?4 WHERE id = ?1",
        params![id, at, by, next_seq(conn)?],
    )?;
    Ok(())
}

fn prefix_of(conn: &Connection, id: &str) -> DbResult<String> {
    let brand: String = conn.query_row("SELECT brand FROM deployment", [], |r| r.get(0))?;
    Ok(keyward_core::key::key_prefix(&brand, id))
}

/// Revokes every live key of a store (uninstall).
pub(crate) fn bump_all_keys_of_store(conn: &Connection, store_id: &str, t: i64, actor: &str) -> DbResult<()> {
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM api_keys WHERE store_id = ?1 AND revoked_at IS NULL")?
        .query_map([store_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in ids {
        set_revoked(conn, &id, t, Some(actor))?;
    }
    Ok(())
}

/// Revokes every live key created from a device (the lost-laptop flow). Returns how many.
pub(crate) fn revoke_keys_of_device(conn: &Connection, actor: &Actor, device_id: &str, t: i64) -> DbResult<usize> {
    let keys: Vec<(String, String)> = conn
        .prepare("SELECT id, name FROM api_keys WHERE store_id = ?1 AND created_device = ?2 AND revoked_at IS NULL")?
        .query_map([&actor.store_id, device_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, name) in &keys {
        set_revoked(conn, id, t, Some(&actor.user_id))?;
        let prefix = prefix_of(conn, id)?;
        let key = KeyRef { id, name, prefix: &prefix };
        record_by(conn, actor, &AuditEvent::KeyRevoked { key, why: KeyRevokeReason::WithDevice })?;
    }
    Ok(keys.len())
}

#[async_trait]
impl crate::db::KeyStore for SqliteStore {
    async fn seed_revoked_keys(&self, store_id: String, first: usize, count: usize, secret_hash: String) -> DbResult<()> {
        self.write(move |tx| {
            let owner: String = tx.query_row("SELECT id FROM users WHERE store_id = ?1 ORDER BY rowid LIMIT 1", [&store_id], |r| r.get(0))?;
            let t = now();
            let first_seq = next_seq(tx)?;
            let mut insert = tx.prepare(
                "INSERT INTO api_keys (id, store_id, name, secret_hash, scopes, created_by, created_at, is_active, revoked_at, updated_at, change_seq)
                 VALUES (?1, ?2, ?3, ?4, 'read', ?5, ?6, 1, ?6, ?6, ?7)",
            )?;
            for (i, seq) in (first..first + count).zip(first_seq..) {
                insert.execute(params![format!("h{i:07}"), store_id, format!("old key {i}"), secret_hash, owner, t, seq])?;
            }
            Ok(())
        })
        .await
    }

    /// Inserts a key, unless that would leave the store over [`key_rules::ACTIVE_KEY_LIMIT`] working keys.
    async fn create_key(&self, actor: Actor, new: NewKey) -> DbResult<KeyRecord> {
        self.write(move |tx| {
            insert_key(tx, &actor, &new)?;
            within_limit(tx, &actor.store_id)?;
            let prefix = prefix_of(tx, &new.id)?;
            let key = KeyRef { id: &new.id, name: &new.name, prefix: &prefix };
            record_by(tx, &actor, &AuditEvent::KeyCreated { key, scopes: &new.scopes })?;
            key_record(tx, &actor.store_id, &new.id)?.ok_or(DbError::NotFound)
        })
        .await
    }

    async fn get_key(&self, store_id: String, id: String) -> DbResult<Option<KeyRecord>> {
        self.read(move |conn| key_record(conn, &store_id, &id)).await
    }

    async fn list_keys(&self, store_id: String, include_revoked: bool) -> DbResult<Vec<KeyRecord>> {
        self.read(move |conn| {
            let filter = if include_revoked {
                ""
            } else {
                "AND k.revoked_at IS NULL AND (k.revokes_at IS NULL OR k.revokes_at > ?2)"
            };
            let mut stmt = conn.prepare_cached(&format!(
                "{RECORD_SELECT} WHERE k.store_id = ?1 {filter} AND ?2 = ?2 ORDER BY k.created_at DESC, k.rowid DESC LIMIT 100"
            ))?;
            let rows = stmt.query_map(params![store_id, now()], record_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn update_key(&self, actor: Actor, id: String, change: KeyChange) -> DbResult<KeyRecord> {
        self.write(move |tx| {
            let KeyChange { name, scopes, is_active } = change;
            let before = key_record(tx, &actor.store_id, &id)?.ok_or(DbError::NotFound)?;
            key_rules::may_change(&before).map_err(DbError::Conflict)?;
            let key = KeyRef { id: &id, name: &before.name, prefix: &before.key_prefix };
            let mut changes = Vec::new();
            if let Some(name) = name.as_deref().filter(|n| *n != before.name) {
                tx.execute("UPDATE api_keys SET name = ?2 WHERE id = ?1", params![id, name])?;
                changes.push(AuditEvent::KeyRenamed { key, to: name });
            }
            if let Some(scopes) = scopes.as_ref().filter(|s| **s != before.scopes) {
                tx.execute(
                    "UPDATE api_keys SET scopes = ?2, updated_at = ?3, change_seq = ?4 WHERE id = ?1",
                    params![id, scopes.to_db(), now(), next_seq(tx)?],
                )?;
                changes.push(AuditEvent::KeyRescoped { key, from: &before.scopes, to: scopes });
            }
            if let Some(active) = is_active.filter(|a| *a != before.is_active) {
                tx.execute(
                    "UPDATE api_keys SET is_active = ?2, updated_at = ?3, change_seq = ?4 WHERE id = ?1",
                    params![id, active, now(), next_seq(tx)?],
                )?;
                if active {
                    within_limit(tx, &actor.store_id)?;
                }
                changes.push(if active { AuditEvent::KeyReactivated { key } } else { AuditEvent::KeyDeactivated { key } });
            }
            for event in &changes {
                record_by(tx, &actor, event)?;
            }
            key_record(tx, &actor.store_id, &id)?.ok_or(DbError::NotFound)
        })
        .await
    }

    async fn revoke_key(&self, actor: Actor, id: String) -> DbResult<KeyRecord> {
        self.write(move |tx| {
            let before = key_record(tx, &actor.store_id, &id)?.ok_or(DbError::NotFound)?;
            let already_revoked: bool =
                tx.query_row("SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = ?1", [&id], |r| r.get(0))?;
            if !already_revoked {
                set_revoked(tx, &id, now(), Some(&actor.user_id))?;
                let key = KeyRef { id: &id, name: &before.name, prefix: &before.key_prefix };
                record_by(tx, &actor, &AuditEvent::KeyRevoked { key, why: KeyRevokeReason::ByPerson })?;
            }
            key_record(tx, &actor.store_id, &id)?.ok_or(DbError::NotFound)
        })
        .await
    }

    /// Safe rotation: inserts the replacement, with the old key's name, scopes and expiry,
    /// then revokes the old key now, or schedules its end after `overlap_seconds`.
    /// Only `id` and `secret_hash` of `replacement` are used; the rest comes from the old key.
    async fn rotate_key(&self, actor: Actor, old_id: String, mut replacement: NewKey, overlap_seconds: u32) -> DbResult<(KeyRecord, KeyRecord)> {
        self.write(move |tx| {
            let old = key_record(tx, &actor.store_id, &old_id)?.ok_or(DbError::NotFound)?;
            let t = now();
            let predecessor: Option<(String, i64)> = tx
                .query_row(
                    "SELECT p.id, p.revokes_at FROM api_keys k JOIN api_keys p ON p.id = k.replaces
                     WHERE k.id = ?1 AND p.revoked_at IS NULL AND p.revokes_at > ?2",
                    params![old_id, t],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let predecessor = match predecessor {
                Some((id, until)) => Some(WorkingPredecessor { prefix: prefix_of(tx, &id)?, until: Timestamp::from_unix(until).get() }),
                None => None,
            };
            key_rules::may_rotate(&old, predecessor).map_err(DbError::Conflict)?;
            replacement.name = old.name.clone();
            replacement.scopes = old.scopes.clone();
            replacement.expires_at = old.expires_at.map(|t| t.unix_timestamp());
            insert_key(tx, &actor, &replacement)?;
            tx.execute("UPDATE api_keys SET replaces = ?2 WHERE id = ?1", params![replacement.id, old_id])?;
            if overlap_seconds == 0 {
                set_revoked(tx, &old_id, t, Some(&actor.user_id))?;
            } else {
                tx.execute(
                    "UPDATE api_keys SET revokes_at = ?2, revoked_by = ?3, updated_at = ?4, change_seq = ?5 WHERE id = ?1",
                    params![old_id, t + i64::from(overlap_seconds), actor.user_id, t, next_seq(tx)?],
                )?;
            }
            within_limit(tx, &actor.store_id)?;
            let replacement_prefix = prefix_of(tx, &replacement.id)?;
            let key = KeyRef { id: &old_id, name: &old.name, prefix: &old.key_prefix };
            record_by(tx, &actor, &AuditEvent::KeyRotated { key, replacement_prefix: &replacement_prefix, overlap_seconds })?;
            let new_record = key_record(tx, &actor.store_id, &replacement.id)?.ok_or(DbError::NotFound)?;
            let old_record = key_record(tx, &actor.store_id, &old_id)?.ok_or(DbError::NotFound)?;
            Ok((new_record, old_record))
        })
        .await
    }

    async fn key_creator(&self, store_id: String, id: String) -> DbResult<Option<String>> {
        self.read(move |conn| {
            Ok(conn
                .query_row("SELECT created_by FROM api_keys WHERE store_id = ?1 AND id = ?2", [store_id, id], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    async fn key_for_auth(&self, id: String) -> DbResult<Option<KeyAuthRow>> {
        self.count_key_lookup();
        self.lookup(move |conn| {
            // `+?1`, not `?1`: with a join SQLite propagates a bare parameter into the plan and
            // then compiles the statement again on every execution (parse and codegen on the
            // path of every request). The unary plus keeps the same plan, compiled once.
            Ok(conn
                .prepare_cached(
                    "SELECT k.store_id, k.secret_hash, k.scopes, k.expires_at, k.is_active, k.revoked_at, k.revokes_at,
                            s.name, s.subscription_active, s.uninstalled_at IS NOT NULL
                     FROM api_keys k JOIN stores s ON s.id = k.store_id WHERE k.id = +?1",
                )?
                .query_row([&id], |r| {
                    let scopes: String = r.get(2)?;
                    Ok(KeyAuthRow {
                        id: id.clone(),
                        store_id: r.get(0)?,
                        secret_hash: r.get(1)?,
                        scopes: Scopes::from_db(&scopes).unwrap_or_else(Scopes::read_only),
                        facts: KeyFacts::from_unix(r.get(5)?, r.get(6)?, r.get(3)?, r.get(4)?),
                        store_name: r.get(7)?,
                        subscription_active: r.get(8)?,
                        store_uninstalled: r.get(9)?,
                    })
                })
                .optional()?)
        })
        .await
    }

    async fn mirror_changes(&self, store_id: String, since: i64, limit: u32) -> DbResult<(Vec<MirrorRecord>, i64, bool)> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT k.id, d.brand, k.secret_hash, k.scopes, k.expires_at, k.is_active, k.revoked_at, k.revokes_at,
                        k.updated_at, k.change_seq
                 FROM api_keys k CROSS JOIN deployment d
                 WHERE k.store_id = ?1 AND k.change_seq > ?2 ORDER BY k.change_seq LIMIT ?3",
            )?;
            let mut cursor = since;
            let mut records = stmt
                .query_map(params![store_id, since, i64::from(limit) + 1], |r| {
                    let columns = MirrorColumns {
                        id: r.get(0)?,
                        brand: r.get(1)?,
                        secret_hash: r.get(2)?,
                        scopes: r.get(3)?,
                        expires_at: r.get(4)?,
                        is_active: r.get(5)?,
                        revoked_at: r.get(6)?,
                        revokes_at: r.get(7)?,
                        updated_at: r.get(8)?,
                    };
                    Ok((columns.into_record(), r.get::<_, i64>(9)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let has_more = records.len() > limit as usize;
            records.truncate(limit as usize);
            if let Some((_, seq)) = records.last() {
                cursor = *seq;
            }
            Ok((records.into_iter().map(|(r, _)| r).collect(), cursor, has_more))
        })
        .await
    }

    async fn record_usage(&self, uses: Vec<(String, i64)>) -> DbResult<()> {
        self.write(move |tx| {
            let mut keys = tx.prepare_cached(
                "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
            )?;
            let mut connections = tx.prepare_cached(
                "UPDATE connections SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
            )?;
            for (id, at) in uses {
                if id.starts_with("con_") {
                    connections.execute(params![id, at])?;
                } else {
                    keys.execute(params![id, at])?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Writes down the revocation of rotated keys whose overlap has ended, so the mirror feed
    /// and the audit trail show it. (Authentication already treats them as revoked.)
    async fn finish_overlaps(&self) -> DbResult<usize> {
        self.write(|tx| {
            let t = now();
            let due: Vec<(String, String, String, i64)> = tx
                .prepare("SELECT id, store_id, name, revokes_at FROM api_keys WHERE revoked_at IS NULL AND revokes_at <= ?1")?
                .query_map([t], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<_, _>>()?;
            for (id, store_id, name, at) in &due {
                tx.execute(
                    "UPDATE api_keys SET revoked_at = ?2, updated_at = ?3, change_seq = ?4 WHERE id = ?1",
                    params![id, at, t, next_seq(tx)?],
                )?;
                let prefix = prefix_of(tx, id)?;
                let key = KeyRef { id, name, prefix: &prefix };
                record(tx, store_id, None, None, &AuditEvent::KeyRevoked { key, why: KeyRevokeReason::OverlapEnded })?;
            }
            Ok(due.len())
        })
        .await
    }
}
