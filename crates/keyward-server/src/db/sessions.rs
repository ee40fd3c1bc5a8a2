//! Dashboard sessions. Each sign-in is a device, listed and revocable, so a lost laptop's
//! session can be cut off from another machine.

use keyward_core::wire::{Device, Person, StoreInfo, User};
use rusqlite::{Connection, params};

use super::audit::{AuditEntry, record};
use super::{Actor, Db, DbError, DbResult, OptionalExtension, now, random_id, stores::store_info, to_time, to_time_opt};

/// A signed-in session, as the management API's extractor sees it.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub device_id: String,
    pub store_id: String,
    pub user_id: String,
    pub user_name: String,
    pub user_email: String,
    pub role: String,
    pub last_seen_at: i64,
    pub signed_out: bool,
    pub store_uninstalled: bool,
}

/// A user found by email, for sign-in.
pub struct LoginCandidate {
    pub user: User,
    pub store_id: String,
    pub password_hash: String,
    pub store_uninstalled: bool,
}

const DEVICE_COLUMNS: &str = "d.id, d.name, u.name, u.email, d.created_at, d.last_seen_at, d.signed_out_at";

fn device_from_row(r: &rusqlite::Row<'_>, current: &str) -> rusqlite::Result<Device> {
    let id: String = r.get(0)?;
    Ok(Device {
        current: id == current,
        id,
        name: r.get(1)?,
        user: Person { name: r.get(2)?, email: r.get(3)? },
        created_at: to_time(r.get(4)?),
        last_seen_at: to_time(r.get(5)?),
        signed_out_at: to_time_opt(r.get(6)?),
    })
}

fn device(conn: &Connection, id: &str, current: &str) -> DbResult<Option<Device>> {
    Ok(conn
        .query_row(
            &format!("SELECT {DEVICE_COLUMNS} FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = ?1"),
            [id],
            |r| device_from_row(r, current),
        )
        .optional()?)
}

impl Db {
    pub async fn login_candidate(&self, email: String) -> DbResult<Option<LoginCandidate>> {
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT u.id, u.name, u.email, u.role, u.store_id, u.password_hash, s.uninstalled_at IS NOT NULL
                     FROM users u JOIN stores s ON s.id = u.store_id WHERE u.email = ?1",
                    [email],
                    |r| {
                        Ok(LoginCandidate {
                            user: User { id: r.get(0)?, name: r.get(1)?, email: r.get(2)?, role: r.get(3)? },
                            store_id: r.get(4)?,
                            password_hash: r.get(5)?,
                            store_uninstalled: r.get(6)?,
                        })
                    },
                )
                .optional()?)
        })
        .await
    }

    /// Records a new signed-in device holding the session token whose digest is given.
    pub async fn create_device(
        &self,
        store_id: String,
        user_id: String,
        name: String,
        token_hash: Vec<u8>,
    ) -> DbResult<(Device, StoreInfo)> {
        self.write(move |tx| {
            let id = random_id("dev");
            let t = now();
            tx.execute(
                "INSERT INTO devices (id, store_id, user_id, name, token_hash, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![id, store_id, user_id, name, token_hash, t],
            )?;
            record(tx, AuditEntry {
                store_id: &store_id,
                actor_user: Some(&user_id),
                actor_device: Some(&id),
                action: "device.signed_in",
                target_type: "device",
                target_id: &id,
                summary: format!("Signed in on \"{name}\""),
            })?;
            let device = device(tx, &id, &id)?.ok_or_else(|| DbError::Invalid("device vanished".into()))?;
            let store = store_info(tx, &store_id)?.ok_or_else(|| DbError::Invalid("store vanished".into()))?;
            Ok((device, store))
        })
        .await
    }

    pub async fn session_for_token(&self, token_hash: Vec<u8>) -> DbResult<Option<SessionRow>> {
        // `+?1`: see `Db::key_for_auth`.
        self.lookup(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT d.id, d.store_id, u.id, u.name, u.email, u.role, d.last_seen_at,
                            d.signed_out_at IS NOT NULL, s.uninstalled_at IS NOT NULL
                     FROM devices d JOIN users u ON u.id = d.user_id JOIN stores s ON s.id = d.store_id
                     WHERE d.token_hash = +?1",
                )?
                .query_row(
                    [token_hash],
                    |r| {
                        Ok(SessionRow {
                            device_id: r.get(0)?,
                            store_id: r.get(1)?,
                            user_id: r.get(2)?,
                            user_name: r.get(3)?,
                            user_email: r.get(4)?,
                            role: r.get(5)?,
                            last_seen_at: r.get(6)?,
                            signed_out: r.get(7)?,
                            store_uninstalled: r.get(8)?,
                        })
                    },
                )
                .optional()?)
        })
        .await
    }

    /// Marks a device as seen now. Called at most once a minute per device.
    pub async fn touch_device(&self, device_id: String) -> DbResult<()> {
        self.write(move |tx| {
            tx.execute("UPDATE devices SET last_seen_at = ?2 WHERE id = ?1", params![device_id, now()])?;
            Ok(())
        })
        .await
    }

    pub async fn list_devices(&self, store_id: String, current: String) -> DbResult<Vec<Device>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices d JOIN users u ON u.id = d.user_id
                 WHERE d.store_id = ?1 ORDER BY d.signed_out_at IS NOT NULL, d.last_seen_at DESC LIMIT 200"
            ))?;
            let rows = stmt.query_map([store_id], |r| device_from_row(r, &current))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Signs a device out; with `revoke_keys`, also revokes every key created from it.
    /// Returns the device after the change and how many keys were revoked, or `None` if the
    /// store has no such device.
    pub async fn sign_out_device(&self, actor: Actor, device_id: String, revoke_keys: bool) -> DbResult<Option<(Device, usize)>> {
        self.write(move |tx| {
            let Some(before) = device(tx, &device_id, &actor.device_id)? else { return Ok(None) };
            let owner: Option<String> = tx
                .query_row("SELECT store_id FROM devices WHERE id = ?1", [&device_id], |r| r.get(0))
                .optional()?;
            if owner.as_deref() != Some(actor.store_id.as_str()) {
                return Ok(None);
            }
            let t = now();
            tx.execute("UPDATE devices SET signed_out_at = ?2 WHERE id = ?1 AND signed_out_at IS NULL", params![device_id, t])?;
            let revoked = if revoke_keys {
                super::keys::revoke_keys_of_device(tx, &actor, &device_id, t)?
            } else {
                0
            };
            let summary = match (device_id == actor.device_id, revoke_keys) {
                (true, _) => format!("Signed out of \"{}\"", before.name),
                (false, false) => format!("Signed out device \"{}\"", before.name),
                (false, true) => format!("Signed out device \"{}\" and revoked its {revoked} key(s)", before.name),
            };
            record(tx, AuditEntry::by(&actor, "device.signed_out", ("device", &device_id), summary))?;
            let after = device(tx, &device_id, &actor.device_id)?.unwrap_or(before);
            Ok(Some((after, revoked)))
        })
        .await
    }
}
