//! Connections: an OAuth client (a web-chat app or a partner) that the merchant approved on the
//! consent page, holding an access token and a refresh token bound to one store, the scopes
//! chosen and one resource. Revoking the connection kills its tokens at once, and its refresh
//! token is refused afterwards, so the app cannot silently reconnect.
//!
//! Also the one-time connection codes a merchant makes in the app or the CLI and pastes on the
//! consent page instead of signing in there.

use async_trait::async_trait;
use keyward_core::Scopes;
use keyward_core::wire::{Connection as ConnectionRecord, ConnectionKind, Person};
use rusqlite::{Connection, params};

use super::audit::{record, record_by};
use crate::audit::{AuditEvent, ConnectionRevokeReason, OneTimeCredential};
use crate::db::records::{ConnectionColumns, NewConnection, RedeemedCode};
use crate::db::{ConnectionTokenStatus, IssuedTokens, NewConnectionCode, TokenClient, TokenRevocation};
use crate::oauth::grant_rules::{self, RefreshUse, StoredConnectionCode, StoredRefresh};
use crate::oauth::lifetimes::{ACCESS_TOKEN_SECONDS, REFRESH_TOKEN_SECONDS};
use crate::oauth::refusals::{ConnectionCodeProblem, GrantProblem};
use super::{Actor, DbError, DbResult, OptionalExtension, SqliteStore, now, random_id};

/// A connection code as stored: what the rule judges, and what a use vouches for.
struct StoredCode {
    judged: StoredConnectionCode,
    store_id: String,
    created_device: Option<String>,
    connection_id: Option<String>,
    scopes: String,
    created_by: String,
}

/// A refresh token as stored: what the rule judges, and its connection.
struct StoredRefreshRow {
    judged: StoredRefresh,
    connection_id: String,
    store_id: String,
}

/// Uses a connection code once, on the consent page. The `Err` is why it is refused. A code used a second time revokes the connection the first use made.
pub(super) fn redeem_connection_code(conn: &Connection, code_hash: &[u8], t: i64) -> DbResult<Result<RedeemedCode, ConnectionCodeProblem>> {
    let code = conn
        .query_row(
            "SELECT c.store_id, c.scopes, c.created_by, c.expires_at, c.used_at, s.uninstalled_at IS NOT NULL,
                    c.created_device, c.connection_id,
                    EXISTS (SELECT 1 FROM devices d WHERE d.id = c.created_device AND d.signed_out_at IS NOT NULL)
                      OR EXISTS (SELECT 1 FROM users u WHERE u.id = c.created_by AND u.removed_at IS NOT NULL)
             FROM connection_codes c JOIN stores s ON s.id = c.store_id WHERE c.code_hash = ?1",
            [code_hash],
            |r| {
                Ok(StoredCode {
                    store_id: r.get(0)?,
                    scopes: r.get(1)?,
                    created_by: r.get(2)?,
                    judged: StoredConnectionCode {
                        expires_at: r.get(3)?,
                        used: r.get::<_, Option<i64>>(4)?.is_some(),
                        store_uninstalled: r.get(5)?,
                        maker_gone: r.get(8)?,
                    },
                    created_device: r.get(6)?,
                    connection_id: r.get(7)?,
                })
            },
        )
        .optional()?;
    let Some(code) = code else {
        return Ok(Err(ConnectionCodeProblem::Unknown));
    };
    if let Err(why) = grant_rules::judge_connection_code(&code.judged, t) {
        // A second use means someone else has the code too, so what the first use made is
        // revoked: nobody can tell which of the two was the merchant.
        if why == ConnectionCodeProblem::Replayed
            && let Some(connection_id) = &code.connection_id
        {
            revoke_for_replay(conn, &code.store_id, connection_id, OneTimeCredential::ConnectionCode)?;
        }
        return Ok(Err(why));
    }
    conn.execute("UPDATE connection_codes SET used_at = ?2 WHERE code_hash = ?1", params![code_hash, t])?;
    Ok(Ok(RedeemedCode { store_id: code.store_id, scopes: code.scopes, granted_by: code.created_by, granted_device: code.created_device }))
}

/// Records a new connection with its first tokens; returns its id.
pub(super) fn create_connection(conn: &Connection, new: &NewConnection<'_>, tokens: &IssuedTokens, t: i64) -> DbResult<String> {
    let id = random_id("con");
    conn.execute(
        "INSERT INTO connections (id, store_id, app_name, scopes, granted_by, granted_device, created_at, client_id, kind, redirect_host, resource)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![id, new.store_id, new.app_name, new.scopes, new.granted_by, new.granted_device, t, new.client_id, new.kind, new.redirect_host, new.resource],
    )?;
    insert_tokens(conn, &id, tokens, None, t)?;
    let event = AuditEvent::ConnectionCreated {
        connection_id: &id,
        app: new.app_name,
        kind: ConnectionKind::from_db(new.kind),
        redirect_host: new.redirect_host,
    };
    record(conn, new.store_id, Some(new.granted_by), new.granted_device, &event)?;
    Ok(id)
}

pub(super) fn connection_record(conn: &Connection, store_id: &str, id: &str) -> DbResult<Option<ConnectionRecord>> {
    Ok(conn
        .query_row(
            &format!("SELECT {CONNECTION_COLUMNS} FROM connections c JOIN users u ON u.id = c.granted_by WHERE c.store_id = ?1 AND c.id = ?2"),
            [store_id, id],
            row_to_connection,
        )
        .optional()?)
}

/// The columns [`row_to_connection`] reads, from `connections c JOIN users u`.
const CONNECTION_COLUMNS: &str =
    "c.id, c.app_name, u.name, u.email, c.created_at, c.scopes, c.revoked_at, c.kind, c.redirect_host, c.last_used_at,
     (SELECT d.name FROM devices d WHERE d.id = c.granted_device)";

fn row_to_connection(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConnectionRecord> {
    Ok(ConnectionColumns {
        id: r.get(0)?,
        app_name: r.get(1)?,
        granted_by: Person { name: r.get(2)?, email: r.get(3)? },
        created_at: r.get(4)?,
        scopes: r.get(5)?,
        revoked_at: r.get(6)?,
        kind: r.get(7)?,
        redirect_host: r.get(8)?,
        last_used_at: r.get(9)?,
        granted_device: r.get(10)?,
    }
    .into_record())
}

/// Stores a new pair; `issued_from` is the refresh token whose use minted it, if any.
fn insert_tokens(conn: &Connection, connection_id: &str, tokens: &IssuedTokens, issued_from: Option<&[u8]>, t: i64) -> DbResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO connection_tokens (token_hash, connection_id, kind, expires_at, issued_from) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    stmt.execute(params![tokens.access_hash, connection_id, "access", t + ACCESS_TOKEN_SECONDS, issued_from])?;
    stmt.execute(params![tokens.refresh_hash, connection_id, "refresh", t + REFRESH_TOKEN_SECONDS, issued_from])?;
    Ok(())
}

/// Revokes a live connection on nobody's behalf in the store (the service, the operator, or
/// the app itself), recording why. Returns whether it was live.
pub(super) fn revoke_without_actor(conn: &Connection, store_id: &str, connection_id: &str, why: ConnectionRevokeReason) -> DbResult<bool> {
    let changed = conn.execute(
        "UPDATE connections SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![connection_id, now()],
    )?;
    if changed > 0 {
        let app: String = conn.query_row("SELECT app_name FROM connections WHERE id = ?1", [connection_id], |r| r.get(0))?;
        record(conn, store_id, None, None, &AuditEvent::ConnectionRevoked { connection_id, app: &app, why })?;
    }
    Ok(changed > 0)
}

/// Revokes a connection because one of its one-time credentials came back.
pub(super) fn revoke_for_replay(conn: &Connection, store_id: &str, connection_id: &str, replayed: OneTimeCredential) -> DbResult<()> {
    revoke_without_actor(conn, store_id, connection_id, ConnectionRevokeReason::Replayed(replayed))?;
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
        record_by(conn, actor, &AuditEvent::ConnectionRevoked { connection_id: id, app, why: ConnectionRevokeReason::WithDevice })?;
    }
    Ok(granted.len())
}

#[async_trait]
impl crate::db::ConnectionStore for SqliteStore {
    async fn create_connection_code(&self, actor: Actor, code: NewConnectionCode) -> DbResult<()> {
        self.write(move |tx| {
            let NewConnectionCode { app_name, scopes, code_hash, expires_at } = code;
            tx.execute(
                "INSERT INTO connection_codes (code_hash, store_id, app_name, scopes, created_by, created_device, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![code_hash, actor.store_id, app_name, scopes.to_db(), actor.user_id, actor.device_id, expires_at],
            )?;
            record_by(tx, &actor, &AuditEvent::ConnectionCodeCreated { app: &app_name, scopes: &scopes })
        })
        .await
    }

    /// Uses a refresh token once, replacing it with a new pair; refused once the connection
    /// is revoked, for another client, or for another resource. See [`REFRESH_RETRY_SECONDS`](crate::oauth::lifetimes::REFRESH_RETRY_SECONDS).
    async fn refresh_connection(
        &self,
        refresh_hash: Vec<u8>,
        client: TokenClient,
        tokens: IssuedTokens,
    ) -> DbResult<Result<ConnectionRecord, GrantProblem>> {
        self.write(move |tx| {
            let t = now();
            let row = tx
                .query_row(
                    "SELECT t.connection_id, c.store_id, c.client_id, c.resource, t.expires_at, t.used_at, c.revoked_at IS NOT NULL,
                            s.uninstalled_at IS NOT NULL, t.superseded_at IS NOT NULL,
                            EXISTS (SELECT 1 FROM connection_tokens n WHERE n.issued_from = t.token_hash AND n.kind = 'refresh' AND n.used_at IS NOT NULL)
                     FROM connection_tokens t JOIN connections c ON c.id = t.connection_id JOIN stores s ON s.id = c.store_id
                     WHERE t.token_hash = ?1 AND t.kind = 'refresh'",
                    [&refresh_hash],
                    |r| {
                        Ok(StoredRefreshRow {
                            connection_id: r.get(0)?,
                            store_id: r.get(1)?,
                            judged: StoredRefresh {
                                client_id: r.get(2)?,
                                resource: r.get(3)?,
                                expires_at: r.get(4)?,
                                used_at: r.get(5)?,
                                connection_revoked: r.get(6)?,
                                store_uninstalled: r.get(7)?,
                                superseded: r.get(8)?,
                                successor_used: r.get(9)?,
                            },
                        })
                    },
                )
                .optional()?;
            let Some(refresh) = row else {
                return Ok(Err(GrantProblem::RefreshUnknown));
            };
            match grant_rules::judge_refresh(&refresh.judged, &client, t) {
                Err(why) => {
                    if why.is_replay() {
                        revoke_for_replay(tx, &refresh.store_id, &refresh.connection_id, OneTimeCredential::RefreshToken)?;
                    }
                    return Ok(Err(why));
                }
                // Retire what the first answer carried: its access token stops now, and its
                // refresh token becomes a replay if it is ever used.
                Ok(RefreshUse::Retry) => tx.execute(
                    "UPDATE connection_tokens SET superseded_at = ?2, expires_at = MIN(expires_at, ?2) WHERE issued_from = ?1",
                    params![refresh_hash, t],
                )?,
                Ok(RefreshUse::First) => {
                    tx.execute("UPDATE connection_tokens SET used_at = ?2 WHERE token_hash = ?1", params![refresh_hash, t])?
                }
            };
            insert_tokens(tx, &refresh.connection_id, &tokens, Some(&refresh_hash), t)?;
            Ok(Ok(connection_record(tx, &refresh.store_id, &refresh.connection_id)?.ok_or(DbError::NotFound)?))
        })
        .await
    }

    async fn connection_token(&self, token_hash: Vec<u8>) -> DbResult<Option<ConnectionTokenStatus>> {
        // `+?1`: see `SqliteStore::key_for_auth`.
        self.lookup(move |conn| {
            let t = now();
            Ok(conn
                .prepare_cached(
                    "SELECT c.id, c.store_id, c.scopes, tk.expires_at, c.revoked_at IS NOT NULL,
                            s.name, s.subscription_active, s.uninstalled_at IS NOT NULL, c.resource
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
                        resource: r.get(8)?,
                    })
                })
                .optional()?)
        })
        .await
    }

    async fn list_connections(&self, store_id: String) -> DbResult<Vec<ConnectionRecord>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {CONNECTION_COLUMNS} FROM connections c JOIN users u ON u.id = c.granted_by WHERE c.store_id = ?1
                 ORDER BY c.revoked_at IS NOT NULL, c.created_at DESC LIMIT 200"
            ))?;
            let rows = stmt.query_map([store_id], row_to_connection)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn connection_grantor(&self, store_id: String, id: String) -> DbResult<Option<String>> {
        self.read(move |conn| {
            Ok(conn
                .query_row("SELECT granted_by FROM connections WHERE store_id = ?1 AND id = ?2", [store_id, id], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    async fn revoke_connection(&self, actor: Actor, id: String) -> DbResult<ConnectionRecord> {
        self.write(move |tx| {
            let before = connection_record(tx, &actor.store_id, &id)?.ok_or(DbError::NotFound)?;
            if before.revoked_at.is_none() {
                tx.execute("UPDATE connections SET revoked_at = ?2 WHERE id = ?1", params![id, now()])?;
                let event = AuditEvent::ConnectionRevoked { connection_id: &id, app: &before.app_name, why: ConnectionRevokeReason::ByPerson };
                record_by(tx, &actor, &event)?;
            }
            connection_record(tx, &actor.store_id, &id)?.ok_or(DbError::NotFound)
        })
        .await
    }

    /// RFC 7009: a client gives back one of its tokens. A refresh token ends the whole
    /// connection (the grant); an access token stops working alone. An unknown, expired or
    /// already revoked token is no error (§2.2); another client's token is refused (§2.1) and
    /// left alone.
    async fn revoke_token(&self, client_id: String, token_hash: Vec<u8>) -> DbResult<TokenRevocation> {
        self.write(move |tx| {
            let t = now();
            let row: Option<(String, String, String, Option<String>)> = tx
                .query_row(
                    "SELECT tk.kind, c.id, c.store_id, c.client_id FROM connection_tokens tk
                     JOIN connections c ON c.id = tk.connection_id WHERE tk.token_hash = ?1 AND c.revoked_at IS NULL",
                    params![token_hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((kind, connection_id, store_id, owner)) = row else { return Ok(TokenRevocation::NothingToRevoke) };
            if owner.as_deref() != Some(client_id.as_str()) {
                return Ok(TokenRevocation::AnotherClients);
            }
            if kind == "access" {
                tx.execute("UPDATE connection_tokens SET expires_at = MIN(expires_at, ?2) WHERE token_hash = ?1", params![token_hash, t])?;
            } else {
                revoke_without_actor(tx, &store_id, &connection_id, ConnectionRevokeReason::AppDisconnected)?;
            }
            Ok(TokenRevocation::Revoked)
        })
        .await
    }
}
