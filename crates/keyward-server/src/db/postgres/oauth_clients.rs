//! OAuth clients on PostgreSQL: web-chat apps that registered themselves (RFC 7591) and partner
//! apps the operator registered. Registrations that never get used are forgotten after a day,
//! so anonymous registration cannot fill the table.

use async_trait::async_trait;

use super::PgStore;
use super::connections::revoke_without_actor;
use crate::audit::ConnectionRevokeReason;
use crate::db::{ClientRecord, DbError, DbResult, FoundClient, NewClient, PartnerRecord, RemovedPartner, now, random_id};

/// A client from the first five columns of a row: id, name, redirect_uris, auth_method, created_at.
fn client_from_row(r: &tokio_postgres::Row) -> ClientRecord {
    let uris: String = r.get(2);
    ClientRecord {
        id: r.get(0),
        name: r.get(1),
        redirect_uris: serde_json::from_str(&uris).unwrap_or_default(),
        auth_method: r.get(3),
        created_at: r.get(4),
    }
}

#[async_trait]
impl crate::db::ClientStore for PgStore {
    async fn register_client(&self, new: NewClient) -> DbResult<ClientRecord> {
        self.write(move |tx| {
            Box::pin(async move {
                let id = random_id("cli");
                let t = now();
                let uris = serde_json::to_string(&new.redirect_uris).unwrap_or_else(|_| "[]".into());
                tx.execute(
                    "INSERT INTO oauth_clients (id, name, kind, redirect_uris, auth_method, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[&id, &new.name, &new.kind, &uris, &new.auth_method, &new.secret_hash, &t],
                )
                .await?;
                Ok(ClientRecord { id, name: new.name, redirect_uris: new.redirect_uris, auth_method: new.auth_method, created_at: t })
            })
        })
        .await
    }

    async fn find_client(&self, id: String) -> DbResult<Option<FoundClient>> {
        self.read(move |c| {
            Box::pin(async move {
                Ok(c.query_opt(
                    "SELECT id, name, redirect_uris, auth_method, created_at, kind, secret_hash FROM oauth_clients WHERE id = $1",
                    &[&id],
                )
                .await?
                .map(|r| FoundClient {
                    record: client_from_row(&r),
                    partner: r.get::<_, String>(5) == "partner",
                    secret_hash: r.get(6),
                }))
            })
        })
        .await
    }

    async fn forget_unused_clients(&self, cutoff: i64) -> DbResult<usize> {
        self.write(move |tx| {
            Box::pin(async move {
                Ok(tx
                    .execute(
                        "DELETE FROM oauth_clients WHERE kind = 'registered' AND last_used_at IS NULL AND created_at < $1",
                        &[&cutoff],
                    )
                    .await? as usize)
            })
        })
        .await
    }

    async fn list_partners(&self) -> DbResult<Vec<PartnerRecord>> {
        self.read(|c| {
            Box::pin(async move {
                Ok(c.query(
                    "SELECT id, name, redirect_uris, auth_method, created_at, last_used_at FROM oauth_clients WHERE kind = 'partner' ORDER BY created_at, id",
                    &[],
                )
                .await?
                .iter()
                .map(|r| PartnerRecord { client: client_from_row(r), last_used_at: r.get(5) })
                .collect())
            })
        })
        .await
    }

    /// Removes a partner app and, in the same transaction, revokes every live connection any
    /// store made with it (each with an audit entry in that store's trail) and forgets its
    /// unused authorization codes, so nothing it holds works on its next request.
    /// [`DbError::NotFound`] if there is no partner app with that id.
    ///
    /// The partner's row is read `FOR UPDATE`: a removal on another instance at the same time
    /// waits, then finds it gone (`NotFound`), and a code exchange that is recording the
    /// partner's use (`UPDATE oauth_clients`) finishes first, so its new connection is seen
    /// here and revoked with the others.
    async fn remove_partner(&self, id: String) -> DbResult<RemovedPartner> {
        self.write(move |tx| {
            Box::pin(async move {
                let name: String = tx
                    .query_opt("SELECT name FROM oauth_clients WHERE id = $1 AND kind = 'partner' FOR UPDATE", &[&id])
                    .await?
                    .ok_or(DbError::NotFound)?
                    .get(0);
                let live: Vec<(String, String)> = tx
                    .query("SELECT id, store_id FROM connections WHERE client_id = $1 AND revoked_at IS NULL", &[&id])
                    .await?
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect();
                for (connection_id, store_id) in &live {
                    revoke_without_actor(tx, store_id, connection_id, ConnectionRevokeReason::PartnerRemoved).await?;
                }
                tx.execute("DELETE FROM authorization_codes WHERE client_id = $1 AND used_at IS NULL", &[&id]).await?;
                tx.execute("DELETE FROM oauth_clients WHERE id = $1", &[&id]).await?;
                Ok(RemovedPartner { name, revoked_connections: live.len() })
            })
        })
        .await
    }
}
