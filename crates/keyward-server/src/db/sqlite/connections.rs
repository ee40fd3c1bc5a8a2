//! Connections: an OAuth client (a web-chat app or a partner) that the merchant approved on the
//! consent page, holding an access token and a refresh token bound to one store, the scopes
//! chosen and one resource. Revoking the connection kills its tokens at once, and its refresh
//! token is refused afterwards, so the app cannot silently reconnect.
//!
//! Also the one-time connection codes a merchant makes in the app or the CLI and pastes on the
//! consent page instead of signing in there.

use keyward_core::Scopes;
use keyward_core::wire::{Connection as ConnectionRecord, ConnectionKind, Person};
use rusqlite::{Connection, params};

use super::audit::{record, record_by};
use crate::audit::{AuditEvent, ConnectionRevokeReason, OneTimeCredential};
use crate::oauth::refusals::{ConnectionCodeProblem, GrantProblem};
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
    scopes: String,
    created_by: String,
    expires_at: i64,
    used: bool,
    store_uninstalled: bool,
    /// The device that made it was signed out, or its maker removed from the staff, since.
    maker_gone: bool,
}

/// What a connection code that was just used vouches for: who approved, for which store, with
/// which scopes, from which device.
pub(super) struct RedeemedCode {
    pub store_id: String,
    pub scopes: String,
    pub granted_by: String,
    pub granted_device: Option<String>,
}

/// A refresh token as stored, with its connection's state.
struct StoredRefresh {
    connection_id: String,
    store_id: String,
    client_id: Option<String>,
    resource: Option<String>,
    expires_at: i64,
    used_at: Option<i64>,
    connection_revoked: bool,
    store_uninstalled: bool,
    /// A retry of the refresh that minted it retired it.
    superseded: bool,
    /// The refresh token this one's use minted has been used in turn.
    successor_used: bool,
}

/// A refresh token used again within this many seconds of its first use, while the refresh
/// token that first use returned is still unused, gets a new pair instead of revoking the
/// connection: the first answer may have been lost on the way (a timeout, a crashed tab), and
/// the app retries. The pair the first answer carried is retired at that moment, so there is
/// never more than one live chain, and a later use of it counts as a replay. Past the window,
/// or once the chain moved on, a second use means two parties hold the token.
pub const REFRESH_RETRY_SECONDS: i64 = 10;

/// What `Db::revoke_token` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRevocation {
    Revoked,
    /// Unknown, or its connection already ended.
    NothingToRevoke,
    /// The token belongs to another client.
    AnotherClients,
}

/// Who is asking at the token endpoint, as far as a grant must match it.
#[derive(Debug, Clone)]
pub struct TokenClient {
    pub client_id: String,
    /// The `resource` the request names (RFC 8707), if any.
    pub resource: Option<String>,
}

/// A connection to make from an approved authorization code.
pub(super) struct NewConnection<'a> {
    pub store_id: &'a str,
    pub client_id: &'a str,
    pub app_name: &'a str,
    pub kind: &'a str,
    pub redirect_host: Option<&'a str>,
    pub resource: &'a str,
    pub scopes: &'a str,
    pub granted_by: &'a str,
    pub granted_device: Option<&'a str>,
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
                    expires_at: r.get(3)?,
                    used: r.get::<_, Option<i64>>(4)?.is_some(),
                    store_uninstalled: r.get(5)?,
                    created_device: r.get(6)?,
                    connection_id: r.get(7)?,
                    maker_gone: r.get(8)?,
                })
            },
        )
        .optional()?;
    let Some(code) = code else {
        return Ok(Err(ConnectionCodeProblem::Unknown));
    };
    if code.used {
        // A code is used once. A second use means someone else has it too, so what the first
        // use made is revoked: nobody can tell which of the two was the merchant.
        if let Some(connection_id) = &code.connection_id {
            revoke_for_replay(conn, &code.store_id, connection_id, OneTimeCredential::ConnectionCode)?;
        }
        return Ok(Err(ConnectionCodeProblem::Replayed));
    }
    if code.expires_at <= t {
        return Ok(Err(ConnectionCodeProblem::Expired));
    }
    if code.store_uninstalled {
        return Ok(Err(ConnectionCodeProblem::StoreUninstalled));
    }
    if code.maker_gone {
        return Ok(Err(ConnectionCodeProblem::MakerGone));
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
    /// The resource the token works at; `None`: any (connections made before resources).
    pub resource: Option<String>,
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
    let scopes: String = r.get(5)?;
    let kind: String = r.get(7)?;
    Ok(ConnectionRecord {
        id: r.get(0)?,
        app_name: r.get(1)?,
        kind: ConnectionKind::from_db(&kind),
        redirect_host: r.get(8)?,
        granted_by: Person { name: r.get(2)?, email: r.get(3)? },
        granted_device: r.get(10)?,
        created_at: to_time(r.get(4)?),
        scopes: Scopes::from_db(&scopes).unwrap_or_else(Scopes::read_only),
        last_used_at: to_time_opt(r.get(9)?),
        revoked_at: to_time_opt(r.get(6)?),
    })
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

impl Db {
    pub async fn create_connection_code(&self, actor: Actor, code: NewConnectionCode) -> DbResult<()> {
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
    /// is revoked, for another client, or for another resource. See [`REFRESH_RETRY_SECONDS`].
    pub async fn refresh_connection(
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
                        Ok(StoredRefresh {
                            connection_id: r.get(0)?,
                            store_id: r.get(1)?,
                            client_id: r.get(2)?,
                            resource: r.get(3)?,
                            expires_at: r.get(4)?,
                            used_at: r.get(5)?,
                            connection_revoked: r.get(6)?,
                            store_uninstalled: r.get(7)?,
                            superseded: r.get(8)?,
                            successor_used: r.get(9)?,
                        })
                    },
                )
                .optional()?;
            let Some(refresh) = row else {
                return Ok(Err(GrantProblem::RefreshUnknown));
            };
            if refresh.client_id.as_deref().is_some_and(|id| id != client.client_id) {
                return Ok(Err(GrantProblem::RefreshForAnotherClient));
            }
            if let (Some(asked), Some(issued)) = (&client.resource, &refresh.resource)
                && asked != issued
            {
                return Ok(Err(GrantProblem::RefreshForAnotherResource { issued: issued.clone() }));
            }
            if refresh.connection_revoked {
                return Ok(Err(GrantProblem::ConnectionRevoked));
            }
            if refresh.store_uninstalled {
                return Ok(Err(GrantProblem::ConnectionEndedByUninstall));
            }
            let retry = refresh.used_at.is_some_and(|used_at| t <= used_at + REFRESH_RETRY_SECONDS) && !refresh.successor_used;
            if refresh.superseded || (refresh.used_at.is_some() && !retry) {
                // Refresh tokens rotate: each is used once. A second use means two parties
                // hold it; every token of the connection is cut off rather than guess which is
                // the app.
                revoke_for_replay(tx, &refresh.store_id, &refresh.connection_id, OneTimeCredential::RefreshToken)?;
                return Ok(Err(GrantProblem::RefreshReplayed));
            }
            if retry {
                // Retire what the first answer carried: its access token stops now, and its
                // refresh token becomes a replay if it is ever used.
                tx.execute(
                    "UPDATE connection_tokens SET superseded_at = ?2, expires_at = MIN(expires_at, ?2) WHERE issued_from = ?1",
                    params![refresh_hash, t],
                )?;
            } else if refresh.expires_at <= t {
                return Ok(Err(GrantProblem::RefreshExpired));
            } else {
                tx.execute("UPDATE connection_tokens SET used_at = ?2 WHERE token_hash = ?1", params![refresh_hash, t])?;
            }
            insert_tokens(tx, &refresh.connection_id, &tokens, Some(&refresh_hash), t)?;
            Ok(Ok(connection_record(tx, &refresh.store_id, &refresh.connection_id)?.ok_or(DbError::NotFound)?))
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

    pub async fn list_connections(&self, store_id: String) -> DbResult<Vec<ConnectionRecord>> {
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
    pub async fn revoke_token(&self, client_id: String, token_hash: Vec<u8>) -> DbResult<TokenRevocation> {
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
