//! Web-chat connections: a merchant makes a one-time code, the app exchanges it at
//! `/oauth/token` for an access token and a refresh token bound to the store and the scopes
//! chosen. Revoking the connection kills its tokens at once, and its refresh token is refused
//! afterwards, so the app cannot silently reconnect.

use keyward_core::Scopes;
use keyward_core::wire::{Connection as ConnectionRecord, Person};
use rusqlite::{Connection, params};

use super::audit::{AuditEntry, record};
use super::{Actor, Db, DbError, DbResult, OptionalExtension, now, random_id, to_time, to_time_opt};

/// Access tokens live an hour, refresh tokens thirty days (each used once).
pub const ACCESS_TOKEN_SECONDS: i64 = 3600;
pub const REFRESH_TOKEN_SECONDS: i64 = 30 * 24 * 3600;

/// Digests of a freshly minted token pair, made by the caller who holds the tokens.
pub struct IssuedTokens {
    pub access_hash: Vec<u8>,
    pub refresh_hash: Vec<u8>,
}

/// A one-time connection code to store; the caller holds the code, this only its digest.
pub struct NewConnectionCode {
    pub app_name: String,
    pub scopes: Scopes,
    pub code_hash: Vec<u8>,
    pub expires_at: i64,
}

/// A connection code as stored.
struct StoredCode {
    store_id: String,
    created_device: Option<String>,
    connection_id: Option<String>,
    app_name: String,
    scopes: String,
    created_by: String,
    expires_at: i64,
    used: bool,
    store_uninstalled: bool,
    /// The device that made it was signed out, or its maker removed from the staff, since.
    maker_gone: bool,
}

/// A refresh token as stored, with its connection's state.
struct StoredRefresh {
    connection_id: String,
    store_id: String,
    expires_at: i64,
    used: bool,
    connection_revoked: bool,
}

/// What the data plane needs to decide whether a connection token works.
#[derive(Debug, Clone)]
pub struct ConnectionTokenStatus {
    pub connection_id: String,
    pub store_id: String,
    pub scopes: Scopes,
    pub expired: bool,
    pub revoked: bool,
    pub store_name: String,
    pub subscription_active: bool,
    pub store_uninstalled: bool,
}

fn connection_record(conn: &Connection, store_id: &str, id: &str) -> DbResult<Option<ConnectionRecord>> {
    Ok(conn
        .query_row(
            "SELECT c.id, c.app_name, u.name, u.email, c.created_at, c.scopes, c.revoked_at
             FROM connections c JOIN users u ON u.id = c.granted_by WHERE c.store_id = ?1 AND c.id = ?2",
            [store_id, id],
            row_to_connection,
        )
        .optional()?)
}

fn row_to_connection(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConnectionRecord> {
    let scopes: String = r.get(5)?;
    Ok(ConnectionRecord {
        id: r.get(0)?,
        app_name: r.get(1)?,
        granted_by: Person { name: r.get(2)?, email: r.get(3)? },
        created_at: to_time(r.get(4)?),
        scopes: Scopes::from_db(&scopes).unwrap_or_else(Scopes::read_only),
        revoked_at: to_time_opt(r.get(6)?),
    })
}

fn insert_tokens(conn: &Connection, connection_id: &str, tokens: &IssuedTokens, t: i64) -> DbResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO connection_tokens (token_hash, connection_id, kind, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    stmt.execute(params![tokens.access_hash, connection_id, "access", t + ACCESS_TOKEN_SECONDS])?;
    stmt.execute(params![tokens.refresh_hash, connection_id, "refresh", t + REFRESH_TOKEN_SECONDS])?;
    Ok(())
}

/// Revokes a connection because one of its one-time credentials came back.
fn revoke_for_replay(conn: &Connection, store_id: &str, connection_id: &str, why: &str) -> DbResult<()> {
    let changed = conn.execute(
        "UPDATE connections SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![connection_id, now()],
    )?;
    if changed > 0 {
        let app: String = conn.query_row("SELECT app_name FROM connections WHERE id = ?1", [connection_id], |r| r.get(0))?;
        record(conn, AuditEntry {
            store_id,
            actor_user: None,
            actor_device: None,
            action: "connection.revoked",
            target_type: "connection",
            target_id: connection_id,
            summary: format!("Revoked the connection of \"{app}\": {why}, so it may have been stolen"),
        })?;
    }
    Ok(())
}

/// Revokes every live connection granted from a device (the lost-laptop flow). Returns how many.
pub(crate) fn revoke_connections_of_device(conn: &Connection, actor: &Actor, device_id: &str, t: i64) -> DbResult<usize> {
    let granted: Vec<(String, String)> = conn
        .prepare("SELECT id, app_name FROM connections WHERE store_id = ?1 AND granted_device = ?2 AND revoked_at IS NULL")?
        .query_map([&actor.store_id, device_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, app) in &granted {
        conn.execute("UPDATE connections SET revoked_at = ?2 WHERE id = ?1", params![id, t])?;
        record(conn, AuditEntry::by(actor, "connection.revoked", ("connection", id), format!("Revoked the connection of \"{app}\" with its device")))?;
    }
    Ok(granted.len())
}

impl Db {
    pub async fn create_connection_code(&self, actor: Actor, code: NewConnectionCode) -> DbResult<()> {
        self.write(move |tx| {
            let NewConnectionCode { app_name, scopes, code_hash, expires_at } = code;
            tx.execute(
                "INSERT INTO connection_codes (code_hash, store_id, app_name, scopes, created_by, created_device, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![code_hash, actor.store_id, app_name, scopes.to_db(), actor.user_id, actor.device_id, expires_at],
            )?;
            let summary = format!("Made a connection code for \"{app_name}\", {}", scopes.label().to_lowercase());
            record(tx, AuditEntry::by(&actor, "connection.code_created", ("connection", "-"), summary))
        })
        .await
    }

    /// Trades a one-time code for a new connection and its first tokens.
    /// The inner `Err` is the sentence to refuse the grant with.
    pub async fn exchange_connection_code(
        &self,
        code_hash: Vec<u8>,
        tokens: IssuedTokens,
    ) -> DbResult<Result<ConnectionRecord, String>> {
        self.write(move |tx| {
            let t = now();
            let code = tx
                .query_row(
                    "SELECT c.store_id, c.app_name, c.scopes, c.created_by, c.expires_at, c.used_at, s.uninstalled_at IS NOT NULL,
                            c.created_device, c.connection_id,
                            EXISTS (SELECT 1 FROM devices d WHERE d.id = c.created_device AND d.signed_out_at IS NOT NULL)
                              OR EXISTS (SELECT 1 FROM users u WHERE u.id = c.created_by AND u.removed_at IS NOT NULL)
                     FROM connection_codes c JOIN stores s ON s.id = c.store_id WHERE c.code_hash = ?1",
                    [&code_hash],
                    |r| {
                        Ok(StoredCode {
                            created_device: r.get(7)?,
                            connection_id: r.get(8)?,
                            store_id: r.get(0)?,
                            app_name: r.get(1)?,
                            scopes: r.get(2)?,
                            created_by: r.get(3)?,
                            expires_at: r.get(4)?,
                            used: r.get::<_, Option<i64>>(5)?.is_some(),
                            store_uninstalled: r.get(6)?,
                            maker_gone: r.get(9)?,
                        })
                    },
                )
                .optional()?;
            let Some(StoredCode { store_id, created_device, connection_id, app_name, scopes, created_by, expires_at, used, store_uninstalled, maker_gone }) =
                code
            else {
                return Ok(Err("The connection code is not valid. Ask the merchant for a new code.".into()));
            };
            if used {
                // A code is used once. A second use means someone else has it too, so what the
                // first use made is revoked: nobody can tell which of the two was the app.
                if let Some(connection_id) = connection_id {
                    revoke_for_replay(tx, &store_id, &connection_id, "its connection code was used a second time")?;
                }
                return Ok(Err("The connection code was already used, so the connection it made was revoked in case the code was stolen. Ask the merchant for a new code.".into()));
            }
            if expires_at <= t {
                return Ok(Err("The connection code has expired (codes are valid 10 minutes). Ask the merchant for a new code.".into()));
            }
            if store_uninstalled {
                return Ok(Err("The store has uninstalled Keyward. The merchant must reinstall it first.".into()));
            }
            if maker_gone {
                return Ok(Err(
                    "The device or person that made this connection code was signed out or removed since, so the code no longer works. Ask the merchant for a new code.".into(),
                ));
            }
            let id = random_id("con");
            tx.execute(
                "INSERT INTO connections (id, store_id, app_name, scopes, granted_by, granted_device, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![id, store_id, app_name, scopes, created_by, created_device, t],
            )?;
            tx.execute("UPDATE connection_codes SET used_at = ?2, connection_id = ?3 WHERE code_hash = ?1", params![code_hash, t, id])?;
            insert_tokens(tx, &id, &tokens, t)?;
            record(tx, AuditEntry {
                store_id: &store_id,
                actor_user: Some(&created_by),
                actor_device: created_device.as_deref(),
                action: "connection.created",
                target_type: "connection",
                target_id: &id,
                summary: format!("Connected \"{app_name}\""),
            })?;
            Ok(Ok(connection_record(tx, &store_id, &id)?.ok_or(DbError::NotFound)?))
        })
        .await
    }

    /// Uses a refresh token once, replacing it with a new pair; refused once the connection
    /// is revoked. The inner `Err` is the sentence to refuse the grant with.
    pub async fn refresh_connection(
        &self,
        refresh_hash: Vec<u8>,
        tokens: IssuedTokens,
    ) -> DbResult<Result<ConnectionRecord, String>> {
        self.write(move |tx| {
            let t = now();
            let row = tx
                .query_row(
                    "SELECT t.connection_id, c.store_id, t.expires_at, t.used_at IS NOT NULL, c.revoked_at IS NOT NULL
                     FROM connection_tokens t JOIN connections c ON c.id = t.connection_id
                     WHERE t.token_hash = ?1 AND t.kind = 'refresh'",
                    [&refresh_hash],
                    |r| {
                        Ok(StoredRefresh {
                            connection_id: r.get(0)?,
                            store_id: r.get(1)?,
                            expires_at: r.get(2)?,
                            used: r.get(3)?,
                            connection_revoked: r.get(4)?,
                        })
                    },
                )
                .optional()?;
            let Some(StoredRefresh { connection_id, store_id, expires_at, used, connection_revoked }) = row else {
                return Ok(Err("The refresh token is not valid. Connect the app to the store again.".into()));
            };
            if connection_revoked {
                return Ok(Err("The merchant revoked this connection. Connect the app to the store again with a new code.".into()));
            }
            if used {
                // Refresh tokens rotate: each is used once. A second use means two parties hold
                // it; every token of the connection is cut off rather than guess which is the app.
                revoke_for_replay(tx, &store_id, &connection_id, "one of its refresh tokens was used a second time")?;
                return Ok(Err("The refresh token was already used, so the connection was revoked in case the token was stolen. Connect the app to the store again.".into()));
            }
            if expires_at <= t {
                return Ok(Err("The refresh token has expired. Connect the app to the store again.".into()));
            }
            tx.execute("UPDATE connection_tokens SET used_at = ?2 WHERE token_hash = ?1", params![refresh_hash, t])?;
            insert_tokens(tx, &connection_id, &tokens, t)?;
            Ok(Ok(connection_record(tx, &store_id, &connection_id)?.ok_or(DbError::NotFound)?))
        })
        .await
    }

    pub async fn connection_token(&self, token_hash: Vec<u8>) -> DbResult<Option<ConnectionTokenStatus>> {
        // `+?1`: see `Db::key_for_auth`.
        self.lookup(move |conn| {
            let t = now();
            Ok(conn
                .prepare_cached(
                    "SELECT c.id, c.store_id, c.scopes, tk.expires_at, c.revoked_at IS NOT NULL,
                            s.name, s.subscription_active, s.uninstalled_at IS NOT NULL
                     FROM connection_tokens tk JOIN connections c ON c.id = tk.connection_id JOIN stores s ON s.id = c.store_id
                     WHERE tk.token_hash = +?1 AND tk.kind = 'access'",
                )?
                .query_row([token_hash], |r| {
                    let scopes: String = r.get(2)?;
                    let expires_at: i64 = r.get(3)?;
                    Ok(ConnectionTokenStatus {
                        connection_id: r.get(0)?,
                        store_id: r.get(1)?,
                        scopes: Scopes::from_db(&scopes).unwrap_or_else(Scopes::read_only),
                        expired: expires_at <= t,
                        revoked: r.get(4)?,
                        store_name: r.get(5)?,
                        subscription_active: r.get(6)?,
                        store_uninstalled: r.get(7)?,
                    })
                })
                .optional()?)
        })
        .await
    }

    pub async fn list_connections(&self, store_id: String) -> DbResult<Vec<ConnectionRecord>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT c.id, c.app_name, u.name, u.email, c.created_at, c.scopes, c.revoked_at
                 FROM connections c JOIN users u ON u.id = c.granted_by WHERE c.store_id = ?1
                 ORDER BY c.revoked_at IS NOT NULL, c.created_at DESC LIMIT 200",
            )?;
            let rows = stmt.query_map([store_id], row_to_connection)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Who granted a connection of the store (a user id), for deciding who may revoke it.
    pub async fn connection_grantor(&self, store_id: String, id: String) -> DbResult<Option<String>> {
        self.read(move |conn| {
            Ok(conn
                .query_row("SELECT granted_by FROM connections WHERE store_id = ?1 AND id = ?2", [store_id, id], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    /// Revokes a connection; its tokens stop working on their next use.
    pub async fn revoke_connection(&self, actor: Actor, id: String) -> DbResult<ConnectionRecord> {
        self.write(move |tx| {
            let before = connection_record(tx, &actor.store_id, &id)?.ok_or(DbError::NotFound)?;
            if before.revoked_at.is_none() {
                tx.execute("UPDATE connections SET revoked_at = ?2 WHERE id = ?1", params![id, now()])?;
                let summary = format!("Revoked the connection of \"{}\"", before.app_name);
                record(tx, AuditEntry::by(&actor, "connection.revoked", ("connection", &id), summary))?;
            }
            connection_record(tx, &actor.store_id, &id)?.ok_or(DbError::NotFound)
        })
        .await
    }
}
