//! Authorization codes (RFC 6749 §4.1 with PKCE, RFC 7636): made when the merchant approves on
//! the consent page, traded once at `/oauth/token` for a connection and its first tokens.
//!
//! A code lives [`AUTHORIZATION_CODE_SECONDS`], is kept as a digest, and is bound to the client,
//! the exact redirect URI, the PKCE challenge and the resource. A second use revokes the
//! connection the first one made: the code leaked, and nobody can tell which use was the app.

use async_trait::async_trait;
use keyward_core::Scopes;
use keyward_core::wire::Connection as ConnectionRecord;
use rusqlite::params;

use super::connections::{create_connection, redeem_connection_code, revoke_for_replay};
use crate::db::records::NewConnection;
use super::{DbError, DbResult, OptionalExtension, SqliteStore, now};
use crate::audit::OneTimeCredential;
use crate::db::{Approved, IssuedTokens, NewAuthorizationCode, PresentedCode};
use crate::oauth::authorization::redirect_host;
use crate::oauth::grant_rules::{self, StoredAuthorization};
use crate::oauth::lifetimes::AUTHORIZATION_CODE_SECONDS;
use crate::oauth::refusals::{ConnectionCodeProblem, GrantProblem};

/// An authorization code as stored: what the rule judges, and what the connection is made of.
struct StoredCode {
    judged: StoredAuthorization,
    app_name: String,
    kind: String,
    store_id: String,
    scopes: String,
    granted_by: String,
    granted_device: Option<String>,
    connection_code: Option<Vec<u8>>,
    connection_id: Option<String>,
}

fn insert_code(
    conn: &rusqlite::Connection,
    code: &NewAuthorizationCode,
    grant: (&str, &str, &str, Option<&str>),
    connection_code: Option<&[u8]>,
    t: i64,
) -> DbResult<()> {
    let (store_id, scopes, granted_by, granted_device) = grant;
    conn.execute(
        "INSERT INTO authorization_codes (code_hash, client_id, app_name, kind, redirect_uri, code_challenge, resource,
                                          store_id, scopes, granted_by, granted_device, connection_code, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            code.code_hash, code.client_id, code.app_name, code.kind, code.redirect_uri, code.code_challenge, code.resource,
            store_id, scopes, granted_by, granted_device, connection_code, t + AUTHORIZATION_CODE_SECONDS
        ],
    )?;
    Ok(())
}

#[async_trait]
impl crate::db::AuthorizationStore for SqliteStore {
    async fn approve_with_connection_code(
        &self,
        connection_code_hash: Vec<u8>,
        code: NewAuthorizationCode,
    ) -> DbResult<Result<Approved, ConnectionCodeProblem>> {
        self.write(move |tx| {
            let t = now();
            let redeemed = match redeem_connection_code(tx, &connection_code_hash, t)? {
                Ok(redeemed) => redeemed,
                Err(why) => return Ok(Err(why)),
            };
            let grant = redeemed.grant();
            insert_code(tx, &code, grant, Some(&connection_code_hash), t)?;
            Ok(Ok(redeemed.approved()))
        })
        .await
    }

    /// Approval by a member of the store who signed in on the consent page, with the scopes
    /// they picked. The caller checked the password against `checked_password`: if it changed,
    /// or the member was removed, while it was being checked, nothing is approved
    /// ([`DbError::CredentialsChanged`]), as with signing in.
    async fn approve_as_member(
        &self,
        user_id: String,
        checked_password: String,
        store_id: String,
        scopes: Scopes,
        code: NewAuthorizationCode,
    ) -> DbResult<Approved> {
        self.write(move |tx| {
            let still: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1 AND store_id = ?2 AND removed_at IS NULL AND password_hash = ?3)",
                params![user_id, store_id, checked_password],
                |r| r.get(0),
            )?;
            if !still {
                return Err(DbError::CredentialsChanged);
            }
            insert_code(tx, &code, (&store_id, &scopes.to_db(), &user_id, None), None, now())?;
            Ok(Approved { store_id, scopes })
        })
        .await
    }

    async fn exchange_authorization_code(
        &self,
        code_hash: Vec<u8>,
        presented: PresentedCode,
        tokens: IssuedTokens,
    ) -> DbResult<Result<ConnectionRecord, GrantProblem>> {
        self.write(move |tx| {
            let t = now();
            let stored = tx
                .query_row(
                    "SELECT a.client_id, a.app_name, a.kind, a.redirect_uri, a.code_challenge, a.resource, a.store_id, a.scopes,
                            a.granted_by, a.granted_device, a.connection_code, a.expires_at, a.used_at IS NOT NULL, a.connection_id,
                            s.uninstalled_at IS NOT NULL,
                            EXISTS (SELECT 1 FROM devices d WHERE d.id = a.granted_device AND d.signed_out_at IS NOT NULL)
                              OR EXISTS (SELECT 1 FROM users u WHERE u.id = a.granted_by AND u.removed_at IS NOT NULL)
                     FROM authorization_codes a JOIN stores s ON s.id = a.store_id WHERE a.code_hash = ?1",
                    [&code_hash],
                    |r| {
                        Ok(StoredCode {
                            judged: StoredAuthorization {
                                client_id: r.get(0)?,
                                redirect_uri: r.get(3)?,
                                code_challenge: r.get(4)?,
                                resource: r.get(5)?,
                                expires_at: r.get(11)?,
                                used: r.get(12)?,
                                store_uninstalled: r.get(14)?,
                                approver_gone: r.get(15)?,
                            },
                            app_name: r.get(1)?,
                            kind: r.get(2)?,
                            store_id: r.get(6)?,
                            scopes: r.get(7)?,
                            granted_by: r.get(8)?,
                            granted_device: r.get(9)?,
                            connection_code: r.get(10)?,
                            connection_id: r.get(13)?,
                        })
                    },
                )
                .optional()?;
            let Some(code) = stored else {
                return Ok(Err(GrantProblem::CodeUnknown));
            };
            if let Err(why) = grant_rules::judge_authorization_code(&code.judged, &presented, t) {
                if why.is_replay()
                    && let Some(connection_id) = &code.connection_id
                {
                    revoke_for_replay(tx, &code.store_id, connection_id, OneTimeCredential::AuthorizationCode)?;
                }
                return Ok(Err(why));
            }
            let host = redirect_host(&code.judged.redirect_uri);
            let new = NewConnection {
                store_id: &code.store_id,
                client_id: &code.judged.client_id,
                app_name: &code.app_name,
                kind: &code.kind,
                redirect_host: host.as_deref(),
                resource: &code.judged.resource,
                scopes: &code.scopes,
                granted_by: &code.granted_by,
                granted_device: code.granted_device.as_deref(),
            };
            let connection_id = create_connection(tx, &new, &tokens, t)?;
            tx.execute("UPDATE authorization_codes SET used_at = ?2, connection_id = ?3 WHERE code_hash = ?1", params![code_hash, t, connection_id])?;
            if let Some(connection_code) = &code.connection_code {
                // So a replay of the connection code on the consent page revokes this too.
                tx.execute("UPDATE connection_codes SET connection_id = ?2 WHERE code_hash = ?1", params![connection_code, connection_id])?;
            }
            tx.execute("UPDATE oauth_clients SET last_used_at = ?2 WHERE id = ?1", params![code.judged.client_id, t])?;
            Ok(Ok(super::connections::connection_record(tx, &code.store_id, &connection_id)?.ok_or(DbError::NotFound)?))
        })
        .await
    }

    async fn forget_expired_authorization_codes(&self) -> DbResult<usize> {
        self.write(|tx| Ok(tx.execute("DELETE FROM authorization_codes WHERE expires_at < ?1", [now() - 24 * 3600])?)).await
    }
}
