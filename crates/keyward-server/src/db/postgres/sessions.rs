//! Dashboard sessions on PostgreSQL. Each sign-in is a device, listed and revocable, so a lost
//! laptop's session can be cut off from another machine.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use keyward_core::wire::{Device, Person, StoreInfo, User};
use keyward_core::Timestamp;

use super::PgStore;
use super::audit::{record, record_by};
use super::stores::store_info;
use crate::audit::{AuditEvent, RevokedWithDevice};
use crate::db::{Actor, DbError, DbResult, LoginCandidate, SessionRow, SignedOut, now, random_id};

const DEVICE_COLUMNS: &str = "d.id, d.name, u.name, u.email, d.created_at, d.last_seen_at, d.signed_out_at";

fn device_from_row(r: &tokio_postgres::Row, current: &str) -> Device {
    let id: String = r.get(0);
    Device {
        current: id == current,
        id,
        name: r.get(1),
        user: Person { name: r.get(2), email: r.get(3) },
        created_at: Timestamp::from_unix(r.get(4)),
        last_seen_at: Timestamp::from_unix(r.get(5)),
        signed_out_at: r.get::<_, Option<i64>>(6).map(Timestamp::from_unix),
    }
}

async fn device(c: &impl GenericClient, id: &str, current: &str) -> DbResult<Option<Device>> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = $1");
    Ok(c.query_opt(sql.as_str(), &[&id]).await?.map(|r| device_from_row(&r, current)))
}

#[async_trait]
impl crate::db::SessionStore for PgStore {
    /// Emails are case-insensitive (SQLite's `COLLATE NOCASE`; here the unique index is on
    /// `lower(email COLLATE "C")`, which this comparison uses: ASCII letters folded, as SQLite's
    /// `NOCASE` does).
    async fn login_candidate(&self, email: String) -> DbResult<Option<LoginCandidate>> {
        self.read(move |c| {
            Box::pin(async move {
                let row = c
                    .query_opt(
                        "SELECT u.id, u.name, u.email, u.role, u.store_id, u.password_hash, s.uninstalled_at IS NOT NULL
                         FROM users u JOIN stores s ON s.id = u.store_id WHERE lower(u.email COLLATE \"C\") = lower($1 COLLATE \"C\") AND u.removed_at IS NULL",
                        &[&email],
                    )
                    .await?;
                Ok(row.map(|r| LoginCandidate {
                    user: User { id: r.get(0), name: r.get(1), email: r.get(2), role: r.get(3) },
                    store_id: r.get(4),
                    password_hash: r.get(5),
                    store_uninstalled: r.get(6),
                }))
            })
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
            Box::pin(async move {
                if let Some(checked) = checked_password {
                    // `FOR SHARE`: a password change or a removal on another instance either
                    // committed before (and is seen here) or waits for this sign-in to commit
                    // (and then signs out the device made here).
                    let current: Option<String> = tx
                        .query_opt("SELECT password_hash FROM users WHERE id = $1 AND removed_at IS NULL FOR SHARE", &[&user_id])
                        .await?
                        .map(|r| r.get(0));
                    if current.as_deref() != Some(checked.as_str()) {
                        return Err(DbError::CredentialsChanged);
                    }
                }
                let id = random_id("dev");
                let t = now();
                tx.execute(
                    "INSERT INTO devices (id, store_id, user_id, name, token_hash, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                    &[&id, &store_id, &user_id, &name, &token_hash, &t],
                )
                .await?;
                record(tx, &store_id, Some(&user_id), Some(&id), &AuditEvent::DeviceSignedIn { device_id: &id, device: &name }).await?;
                // Both were written or read in this transaction; missing would be a broken database.
                let device = device(tx, &id, &id).await?.ok_or(DbError::NotFound)?;
                let store = store_info(tx, &store_id).await?.ok_or(DbError::NotFound)?;
                Ok((device, store))
            })
        })
        .await
    }

    /// On every request's path: one statement, prepared once per pooled connection.
    async fn session_for_token(&self, token_hash: Vec<u8>) -> DbResult<Option<SessionRow>> {
        self.read(move |c| {
            Box::pin(async move {
                let stmt = c
                    .prepare_cached(
                        "SELECT d.id, d.store_id, u.id, u.name, u.email, u.role, d.last_seen_at,
                                d.signed_out_at IS NOT NULL OR u.removed_at IS NOT NULL, s.uninstalled_at IS NOT NULL, d.created_at
                         FROM devices d JOIN users u ON u.id = d.user_id JOIN stores s ON s.id = d.store_id
                         WHERE d.token_hash = $1",
                    )
                    .await?;
                let row = c.query_opt(&stmt, &[&token_hash]).await?;
                Ok(row.map(|r| SessionRow {
                    device_id: r.get(0),
                    store_id: r.get(1),
                    user_id: r.get(2),
                    user_name: r.get(3),
                    user_email: r.get(4),
                    role: r.get(5),
                    last_seen_at: r.get(6),
                    signed_out: r.get(7),
                    store_uninstalled: r.get(8),
                    created_at: r.get(9),
                }))
            })
        })
        .await
    }

    async fn touch_device(&self, device_id: String) -> DbResult<()> {
        self.write(move |tx| {
            Box::pin(async move {
                tx.execute("UPDATE devices SET last_seen_at = $2 WHERE id = $1", &[&device_id, &now()]).await?;
                Ok(())
            })
        })
        .await
    }

    async fn list_devices(&self, store_id: String, current: String) -> DbResult<Vec<Device>> {
        self.read(move |c| {
            Box::pin(async move {
                let sql = format!(
                    "SELECT {DEVICE_COLUMNS} FROM devices d JOIN users u ON u.id = d.user_id
                     WHERE d.store_id = $1 ORDER BY d.signed_out_at IS NOT NULL, d.last_seen_at DESC LIMIT 200"
                );
                let rows = c.query(sql.as_str(), &[&store_id]).await?;
                Ok(rows.iter().map(|r| device_from_row(r, &current)).collect())
            })
        })
        .await
    }

    async fn sign_out_device(&self, actor: Actor, device_id: String, revoke_keys: bool) -> DbResult<Option<SignedOut>> {
        self.write(move |tx| {
            Box::pin(async move {
                if revoke_keys {
                    // The store first, as uninstall and key creation take it, then the device and
                    // its keys: one order for every instance, so none waits on another in a circle.
                    super::keys::lock_store(tx, &actor.store_id).await?;
                }
                let Some(before) = device(tx, &device_id, &actor.device_id).await? else { return Ok(None) };
                let owner: Option<String> =
                    tx.query_opt("SELECT store_id FROM devices WHERE id = $1", &[&device_id]).await?.map(|r| r.get(0));
                if owner.as_deref() != Some(actor.store_id.as_str()) {
                    return Ok(None);
                }
                let t = now();
                tx.execute("UPDATE devices SET signed_out_at = $2 WHERE id = $1 AND signed_out_at IS NULL", &[&device_id, &t]).await?;
                let (keys, connections) = if revoke_keys {
                    (
                        super::keys::revoke_keys_of_device(tx, &actor, &device_id, t).await?,
                        super::connections::revoke_connections_of_device(tx, &actor, &device_id, t).await?,
                    )
                } else {
                    (0, 0)
                };
                record_by(
                    tx,
                    &actor,
                    &AuditEvent::DeviceSignedOut {
                        device_id: &device_id,
                        device: &before.name,
                        own: device_id == actor.device_id,
                        revoked: revoke_keys.then_some(RevokedWithDevice { keys, connections }),
                    },
                )
                .await?;
                let after = device(tx, &device_id, &actor.device_id).await?.unwrap_or(before);
                Ok(Some(SignedOut { device: after, revoked_keys: keys, revoked_connections: connections }))
            })
        })
        .await
    }

    async fn device_user(&self, store_id: String, device_id: String) -> DbResult<Option<String>> {
        self.read(move |c| {
            Box::pin(async move {
                Ok(c.query_opt("SELECT user_id FROM devices WHERE store_id = $1 AND id = $2", &[&store_id, &device_id])
                    .await?
                    .map(|r| r.get(0)))
            })
        })
        .await
    }

    async fn end_expired_session(&self, device_id: String) -> DbResult<()> {
        self.write(move |tx| {
            Box::pin(async move {
                // `FOR UPDATE`: two instances ending the same session take turns, and the second
                // finds it signed out, so the ending is recorded once.
                let row: Option<(String, String, String)> = tx
                    .query_opt("SELECT store_id, user_id, name FROM devices WHERE id = $1 AND signed_out_at IS NULL FOR UPDATE", &[&device_id])
                    .await?
                    .map(|r| (r.get(0), r.get(1), r.get(2)));
                let Some((store_id, user_id, name)) = row else { return Ok(()) };
                tx.execute("UPDATE devices SET signed_out_at = $2 WHERE id = $1", &[&device_id, &now()]).await?;
                record(tx, &store_id, Some(&user_id), Some(&device_id), &AuditEvent::DeviceSessionExpired { device_id: &device_id, device: &name })
                    .await
            })
        })
        .await
    }

    async fn password_hash(&self, user_id: String) -> DbResult<Option<String>> {
        self.read(move |c| {
            Box::pin(async move {
                Ok(c.query_opt("SELECT password_hash FROM users WHERE id = $1 AND removed_at IS NULL", &[&user_id])
                    .await?
                    .map(|r| r.get(0)))
            })
        })
        .await
    }

    async fn change_password(&self, actor: Actor, password_hash: String) -> DbResult<usize> {
        self.write(move |tx| {
            Box::pin(async move {
                tx.execute("UPDATE users SET password_hash = $2 WHERE id = $1", &[&actor.user_id, &password_hash]).await?;
                let signed_out = tx
                    .execute(
                        "UPDATE devices SET signed_out_at = $3 WHERE user_id = $1 AND id <> $2 AND signed_out_at IS NULL",
                        &[&actor.user_id, &actor.device_id, &now()],
                    )
                    .await? as usize;
                record_by(tx, &actor, &AuditEvent::PasswordChanged { user_id: &actor.user_id, other_devices_signed_out: signed_out }).await?;
                Ok(signed_out)
            })
        })
        .await
    }
}
