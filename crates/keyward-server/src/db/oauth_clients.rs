//! OAuth clients: web-chat apps that registered themselves (RFC 7591) and partner apps the
//! operator registered. Registrations that never get used are forgotten after a day, so
//! anonymous registration cannot fill the table.

use rusqlite::params;

use super::{Db, DbResult, now, random_id};

/// A client to register. The caller validated everything and holds the secret, if any.
pub struct NewClient {
    pub name: String,
    /// `registered` (RFC 7591) or `partner` (the operator).
    pub kind: &'static str,
    pub redirect_uris: Vec<String>,
    pub auth_method: String,
    pub secret_hash: Option<Vec<u8>>,
}

/// A client as registered.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    pub id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub auth_method: String,
    pub created_at: i64,
}

impl Db {
    pub async fn register_client(&self, new: NewClient) -> DbResult<ClientRecord> {
        self.write(move |tx| {
            let id = random_id("cli");
            let t = now();
            let uris = serde_json::to_string(&new.redirect_uris).unwrap_or_else(|_| "[]".into());
            tx.execute(
                "INSERT INTO oauth_clients (id, name, kind, redirect_uris, auth_method, secret_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![id, new.name, new.kind, uris, new.auth_method, new.secret_hash, t],
            )?;
            Ok(ClientRecord { id, name: new.name, redirect_uris: new.redirect_uris, auth_method: new.auth_method, created_at: t })
        })
        .await
    }

    /// Forgets self-registered clients never used since before `cutoff`. Returns how many.
    pub async fn forget_unused_clients(&self, cutoff: i64) -> DbResult<usize> {
        self.write(move |tx| {
            Ok(tx.execute(
                "DELETE FROM oauth_clients WHERE kind = 'registered' AND last_used_at IS NULL AND created_at < ?1",
                [cutoff],
            )?)
        })
        .await
    }
}
