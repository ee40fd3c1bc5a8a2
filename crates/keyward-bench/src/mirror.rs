//! The verifier mirror at scale: a store with 10,000 keys synced in full, then 10 changes
//! synced incrementally, then keys verified offline, the first time (argon2) and again.

use std::time::Instant;

use keyward::client::ApiClient;
use keyward::mirror::Mirror;
use keyward_core::Scopes;
use keyward_core::wire::UpdateKeyRequest;
use serde::Serialize;

use crate::service::{self, Service};
use crate::stats::percentile;

#[derive(Debug, Serialize)]
pub struct MirrorReport {
    pub keys: i64,
    pub full_sync_ms: f64,
    pub changes: usize,
    pub incremental_sync_ms: f64,
    pub first_verify_p50_ms: f64,
    pub first_verify_p99_ms: f64,
    pub repeat_verify_p50_us: f64,
    pub repeat_verify_p99_us: f64,
}

pub async fn run(total_keys: usize) -> anyhow::Result<MirrorReport> {
    let dir = tempfile::tempdir()?;
    let mut service = Service::start(dir.path(), &[]).await?;
    // Ten live keys through the API; the rest of the history seeded directly, revoked.
    let mut live = Vec::new();
    for i in 0..10 {
        live.push(service.create_key(&format!("live {i}")).await?);
    }
    let db = keyward_server::db::open_sqlite(&service.db)?;
    let decoy = keyward_core::hashing::decoy_hash().to_owned();
    db.seed_revoked_keys(service.store_id.clone(), 0, total_keys - live.len(), decoy).await?;

    let session = ApiClient::new(&service.base)?.login(service::EMAIL, service::PASSWORD, "mirror bench").await?;
    let client = ApiClient::new(&service.base)?.with_session(session.token);
    let mut mirror = Mirror::open(&dir.path().join("mirror.db"))?;

    let started = Instant::now();
    let full = mirror.sync(&client, &service.store_id).await?;
    let full_sync = started.elapsed();
    anyhow::ensure!(full.keys as usize == total_keys, "the mirror holds {} keys, not {total_keys}", full.keys);

    for (id, _) in &live {
        client.update_key(id, &UpdateKeyRequest { scopes: Some(Scopes::read_write()), ..Default::default() }).await?;
    }
    let started = Instant::now();
    let incremental = mirror.sync(&client, &service.store_id).await?;
    let incremental_sync = started.elapsed();
    service.stop().await;

    // Offline from here on: the service is gone.
    let mut first = Vec::new();
    for (_, key) in &live {
        let started = Instant::now();
        let verdict = mirror.verify(key, None)?;
        first.push(started.elapsed());
        anyhow::ensure!(verdict.verdict.is_valid(), "a live key did not verify offline");
    }
    let mut repeat = Vec::new();
    for round in 0..2000 {
        let (_, key) = &live[round % live.len()];
        let started = Instant::now();
        let verdict = mirror.verify(key, None)?;
        repeat.push(started.elapsed());
        anyhow::ensure!(verdict.verdict.is_valid(), "a live key did not verify offline");
    }
    first.sort();
    repeat.sort();
    Ok(MirrorReport {
        keys: full.keys,
        full_sync_ms: full_sync.as_secs_f64() * 1e3,
        changes: incremental.changed,
        incremental_sync_ms: incremental_sync.as_secs_f64() * 1e3,
        first_verify_p50_ms: percentile(&first, 0.5).as_secs_f64() * 1e3,
        first_verify_p99_ms: percentile(&first, 0.99).as_secs_f64() * 1e3,
        repeat_verify_p50_us: percentile(&repeat, 0.5).as_secs_f64() * 1e6,
        repeat_verify_p99_us: percentile(&repeat, 0.99).as_secs_f64() * 1e6,
    })
}
