//! Dashboard sessions. Each sign-in is a device, listed and revocable, so a lost laptop's
//! session can be cut off from another machine.

use async_trait::async_trait;
use keyward_core::wire::{Device, Person, StoreInfo, User};
use keyward_core::Timestamp;

use crate::db::{LoginCandidate, SessionRow, SignedOut};
use rusqlite::{Connection, params};

use super::audit::{record, record_by};
use crate::audit::{AuditEvent, RevokedWithDevice};
use super::{Actor, SqliteStore, DbError, DbResult, OptionalExtension, now, random_id, stores::store_info};

const DEVICE_COLUMNS: &str = "d.id, d.name, u.name, u.email, d.created_at, d.last_seen_at, d.signed_out_at";

fn device_from_row(r: &rusqlite::Row<'_>, current: &str) -> rusqlite::Result<Device> {
    let id: String = r.get(0)?;
    Ok(Device {
        current: id == current,
        id,
        name: r.get(1)?,
        user: Person { name: r.get(2)?, email: r.get(3)? },
        created_at: Timestamp::from_unix(r.get(4)?),
        last_seen_at: Timestamp::from_unix(r.get(5)?),
        signed_out_at: r.get::<_, Option<i64>>(6)?.map(Timestamp::from_unix),
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

#[async_trait]
impl crate::db::SessionStore for SqliteStore {
    async fn login_candidate(&self, email: String) -> DbResult<Option<LoginCandidate>> {
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT u.id, u.name, u.email, u.role, u.store_id, u.password_hash, s.uninstalled_at IS NOT NULL
                     FROM users u JOIN stores s ON s.id = u.store_id WHERE u.email = ?1 AND u.removed_at IS NULL",
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

    async fn create_device(
        &self,
        store_id: String,
        user_id: String,
        name: String,
        token_hash: Vec<u8>,
        checked_password: Option<String>,
    ) -> DbResult<(Device, StoreInfo)> {
        self.write(move |tx| {
            if let Some(checked) = checked_password {
                let current: Option<String> = tx
                    .query_row("SELECT password_hash FROM users WHERE id = ?1 AND removed_at IS NULL", [&user_id], |r| r.get(0))
                    .optional()?;
                if current.as_deref() != Some(checked.as_str()) {
                    return Err(DbError::CredentialsChanged);
                }
            }
            let id = random_id("dev");
            let t = now();
            tx.execute(
                "INSERT INTO devices (id, store_id, user_id, name, token_hash, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![id, store_id, user_id, name, token_hash, t],
            )?;
            record(tx, &store_id, Some(&user_id), Some(&id), &AuditEvent::DeviceSignedIn { device_id: &id, device: &name })?;
            // Both were written or read in this transaction; missing would be a broken database.
            let device = device(tx, &id, &id)?.ok_or(DbError::NotFound)?;
            let store = store_info(tx, &store_id)?.ok_or(DbError::NotFound)?;
            Ok((device, store))
        })
        .await
    }

    async fn session_for_token(&self, token_hash: Vec<u8>) -> DbResult<Option<SessionRow>> {
        // `+?1`: see `SqliteStore::key_for_auth`.
        self.lookup(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT d.id, d.store_id, u.id, u.name, u.email, u.role, d.last_seen_at,
                            d.signed_out_at IS NOT NULL OR u.removed_at IS NOT NULL, s.uninstalled_at IS NOT NULL, d.created_at
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
                            created_at: r.get(9)?,
                        })
                    },
                )
                .optional()?)
        })
        .await
    }

    async fn touch_device(&self, device_id: String) -> DbResult<()> {
        self.write(move |tx| {
            tx.execute("UPDATE devices SET last_seen_at = ?2 WHERE id = ?1", params![device_id, now()])?;
            Ok(())
        })
        .await
    }

    async fn list_devices(&self, store_id: String, current: String) -> DbResult<Vec<Device>> {
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

    async fn sign_out_device(&self, actor: Actor, device_id: String, revoke_keys: bool) -> DbResult<Option<SignedOut>> {
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
            let (keys, connections) = if revoke_keys {
                (
                    super::keys::revoke_keys_of_device(tx, &actor, &device_id, t)?,
                    super::connections::revoke_connections_of_device(tx, &actor, &device_id, t)?,
                )
            } else {
                (0, 0)
            };
            record_by(tx, &actor, &AuditEvent::DeviceSignedOut {
                device_id: &device_id,
                device: &before.name,
                own: device_id == actor.device_id,
                revoked: revoke_keys.then_some(RevokedWithDevice { keys, connections }),
            })?;
            let after = device(tx, &device_id, &actor.device_id)?.unwrap_or(before);
            Ok(Some(SignedOut { device: after, revoked_keys: keys, revoked_connections: connections }))
        })
        .await
    }

    async fn device_user(&self, store_id: String, device_id: String) -> DbResult<Option<String>> {
        self.read(move |conn| {
            Ok(conn
                .query_row("SELECT user_id FROM devices WHERE store_id = ?1 AND id = ?2", [store_id, device_id], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    async fn end_expired_session(&self, device_id: String) -> DbResult<()> {
        self.write(move |tx| {
            let row: Option<(String, String, String)> = tx
                .query_row(
                    "SELECT store_id, user_id, name FROM devices WHERE id = ?1 AND signed_out_at IS NULL",
                    [&device_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((store_id, user_id, name)) = row else { return Ok(()) };
            tx.execute("UPDATE devices SET signed_out_at = ?2 WHERE id = ?1", params![device_id, now()])?;
            record(tx, &store_id, Some(&user_id), Some(&device_id), &AuditEvent::DeviceSessionExpired { device_id: &device_id, device: &name })
        })
        .await
    }

    async fn password_hash(&self, user_id: String) -> DbResult<Option<String>> {
        self.read(move |conn| {
            Ok(conn
                .query_row("SELECT password_hash FROM users WHERE id = ?1 AND removed_at IS NULL", [user_id], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    async fn change_password(&self, actor: Actor, password_hash: String) -> DbResult<usize> {
        self.write(move |tx| {
            tx.execute("UPDATE users SET password_hash = ?2 WHERE id = ?1", params![actor.user_id, password_hash])?;
            let signed_out = tx.execute(
                "UPDATE devices SET signed_out_at = ?3 WHERE user_id = ?1 AND id != ?2 AND signed_out_at IS NULL",
                params![actor.user_id, actor.device_id, now()],
            )?;
            record_by(tx, &actor, &AuditEvent::PasswordChanged { user_id: &actor.user_id, other_devices_signed_out: signed_out })?;
            Ok(signed_out)
        })
        .await
    }
}
