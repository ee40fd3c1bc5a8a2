//! The audit trail on PostgreSQL: written in the transaction of the change it records.

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use keyward_core::wire::{self, AuditPage, Person};
use keyward_core::Timestamp;

use super::PgStore;
use crate::audit::AuditEvent;
use crate::db::{Actor, DbResult, now};

/// Records `event` in the store's trail: by `user` on `device`, or by nobody in the store
/// (`None`: the service, the operator or an app did it on its own).
pub(crate) async fn record(tx: &Transaction<'_>, store_id: &str, user: Option<&str>, device: Option<&str>, event: &AuditEvent<'_>) -> DbResult<()> {
    let (target_type, target_id) = event.target();
    tx.execute(
        "INSERT INTO audit_events (store_id, at, actor_user, actor_device, action, target_type, target_id, summary)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&store_id, &now(), &user, &device, &event.action(), &target_type, &target_id, &event.summary()],
    )
    .await?;
    Ok(())
}

/// Records `event` as a change a person made through the management API, in their store.
pub(crate) async fn record_by(tx: &Transaction<'_>, actor: &Actor, event: &AuditEvent<'_>) -> DbResult<()> {
    record(tx, &actor.store_id, Some(&actor.user_id), Some(&actor.device_id), event).await
}

#[async_trait]
impl crate::db::AuditStore for PgStore {
    async fn audit_page(&self, store_id: String, before: Option<i64>, limit: u32) -> DbResult<AuditPage> {
        self.read(move |c| {
            Box::pin(async move {
                let rows = c
                    .query(
                        "SELECT e.id, e.at, u.name, u.email, e.actor_device, e.action, e.target_type, e.target_id, e.summary
                         FROM audit_events e LEFT JOIN users u ON u.id = e.actor_user
                         WHERE e.store_id = $1 AND e.id < $2
                         ORDER BY e.id DESC LIMIT $3",
                        &[&store_id, &before.unwrap_or(i64::MAX), &(i64::from(limit) + 1)],
                    )
                    .await?;
                let events: Vec<wire::AuditEvent> = rows
                    .iter()
                    .map(|r| {
                        let name: Option<String> = r.get(2);
                        let email: Option<String> = r.get(3);
                        wire::AuditEvent {
                            id: r.get(0),
                            at: Timestamp::from_unix(r.get(1)),
                            actor: name.zip(email).map(|(name, email)| Person { name, email }),
                            actor_device: r.get(4),
                            action: r.get(5),
                            target_type: r.get(6),
                            target_id: r.get(7),
                            summary: r.get(8),
                        }
                    })
                    .collect();
                Ok(crate::db::records::audit_page(events, limit))
            })
        })
        .await
    }
}
