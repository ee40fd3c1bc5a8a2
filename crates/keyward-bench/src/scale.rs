//! The key service past one machine (issue 11): whoami on PostgreSQL against SQLite, two
//! instances on one PostgreSQL against one, a revocation under full load across two instances,
//! and what verifying a key costs as the data grows to a million keys across 10,000 stores.
//!
//! PostgreSQL is the throwaway cluster `./dev bench` starts (KEYWARD_BENCH_POSTGRES_URL); each
//! measurement gets a fresh database on it.

use std::time::Duration;

use anyhow::Context;
use keyward_server::db::{Database, NewStore};
use serde::Serialize;

use crate::load::LoadReport;
use crate::report::Revocation;
use crate::service::Service;
use crate::{Plan, load_process, wall_ns};

#[derive(Debug, Serialize)]
pub struct ScaleReport {
    /// One instance on PostgreSQL (the SQLite figure is the main whoami run's).
    pub postgres: LoadReport,
    /// Two instances on one PostgreSQL, the same load spread over both.
    pub two_instances: LoadReport,
    /// Revoked through one instance while both serve the key at full speed.
    pub revocation: Vec<Revocation>,
    pub growth: Vec<Growth>,
}

/// whoami with `keys` keys in the database, spread over `stores` stores.
#[derive(Debug, Serialize)]
pub struct Growth {
    pub backend: &'static str,
    pub keys: usize,
    pub stores: usize,
    pub load: LoadReport,
}

/// The database sizes the growth is measured at, and over how many stores.
pub const GROWTH: [usize; 3] = [1_000, 100_000, 1_000_000];
pub const STORES: usize = 10_000;

/// A fresh, empty database on the benchmark's PostgreSQL; its URL.
async fn fresh_postgres() -> anyhow::Result<String> {
    let admin = std::env::var("KEYWARD_BENCH_POSTGRES_URL")
        .context("KEYWARD_BENCH_POSTGRES_URL is not set: run the benchmarks with ./dev bench, which starts a PostgreSQL")?;
    let pool = keyward_server::db::postgres::connect(&admin).await?;
    let name = format!("bench_{}", wall_ns());
    pool.get().await?.batch_execute(&format!("CREATE DATABASE {name}")).await?;
    let (base, _) = admin.rsplit_once('/').context("the PostgreSQL URL names no database")?;
    Ok(format!("{base}/{name}"))
}

async fn whoami_on(plan: &Plan, database: &str) -> anyhow::Result<LoadReport> {
    let mut service = Service::start_on(database, &[]).await?;
    let (_, key) = service.create_key("load").await?;
    let report = load_process(&format!("{}/v1/whoami", service.base), Some(&key), plan, false).await?.await??;
    service.stop().await;
    anyhow::ensure!(report.ok > 0, "no request succeeded against {database}");
    Ok(report)
}

/// Two instances on one fresh PostgreSQL database, and a key of its store.
async fn two_instances() -> anyhow::Result<(Service, Service, String, String)> {
    let url = fresh_postgres().await?;
    let mut a = Service::start_on(&url, &[]).await?;
    let b = Service::start_on(&url, &[]).await?;
    let (id, key) = a.create_key("load").await?;
    Ok((a, b, id, key))
}

async fn revocation_across_two(plan: &Plan) -> anyhow::Result<Revocation> {
    let (mut a, b, id, key) = two_instances().await?;
    let urls = format!("{}/v1/whoami,{}/v1/whoami", a.base, b.base);
    let run = Plan { warmup: Duration::ZERO, duration: plan.warmup + plan.duration, ..*plan };
    let load = load_process(&urls, Some(&key), &run, true).await?;
    tokio::time::sleep(run.duration / 2).await;
    let called = wall_ns();
    a.revoke_key(&id).await?;
    let returned = wall_ns();
    let report = load.await??;
    a.stop().await;
    b.stop().await;
    Ok(Revocation::from_starts(&report.starts, called, returned))
}

/// Gives the database `target` keys in all, spread evenly over `stores` (store `i` holds
/// `target / stores` keys, one more for the first `target % stores`), adding to what an earlier
/// call gave; returns the stores, so the next call can add to them.
async fn grow(db: &keyward_server::db::Db, stores: &mut Vec<String>, seeded: &mut Vec<usize>, target: usize) -> anyhow::Result<()> {
    let decoy = keyward_core::hashing::decoy_hash().to_owned();
    while stores.len() < STORES {
        let n = stores.len();
        let id = db
            .create_store(NewStore {
                name: format!("Store {n}"),
                owner_name: format!("Owner {n}"),
                owner_email: format!("owner{n}@growth.test"),
                owner_password_hash: decoy.clone(),
            })
            .await?;
        stores.push(id);
        seeded.push(0);
    }
    let mut next_id: usize = seeded.iter().sum();
    for (i, store) in stores.iter().enumerate() {
        let want = target / STORES + usize::from(i < target % STORES);
        if want > seeded[i] {
            let more = want - seeded[i];
            db.seed_revoked_keys(store.clone(), next_id, more, decoy.clone()).await?;
            next_id += more;
            seeded[i] = want;
        }
    }
    Ok(())
}

/// whoami at each size of [`GROWTH`] on one database, grown between the measurements.
async fn growth(plan: &Plan, backend: &'static str, database: &str) -> anyhow::Result<Vec<Growth>> {
    let db = Database::parse(database).open().await?;
    db.ensure_brand("kw").await?;
    let (mut stores, mut seeded) = (Vec::new(), Vec::new());
    let mut out = Vec::new();
    for keys in GROWTH {
        eprintln!("    {backend}: {keys} keys across {STORES} stores");
        grow(&db, &mut stores, &mut seeded, keys).await?;
        let load = whoami_on(plan, database).await?;
        out.push(Growth { backend, keys, stores: STORES, load });
    }
    Ok(out)
}

pub async fn run(plan: &Plan) -> anyhow::Result<ScaleReport> {
    eprintln!("==> whoami: one instance on PostgreSQL");
    let postgres = whoami_on(plan, &fresh_postgres().await?).await?;
    eprintln!("==> whoami: two instances on one PostgreSQL");
    let two = {
        let (a, b, _, key) = two_instances().await?;
        let urls = format!("{}/v1/whoami,{}/v1/whoami", a.base, b.base);
        let report = load_process(&urls, Some(&key), plan, false).await?.await??;
        a.stop().await;
        b.stop().await;
        report
    };
    let mut revocation = Vec::new();
    for i in 0..plan.revocation_runs {
        eprintln!("==> revocation under load across two instances, run {}", i + 1);
        revocation.push(revocation_across_two(plan).await?);
    }
    eprintln!("==> verification as the data grows");
    let dir = tempfile::tempdir()?;
    let sqlite = dir.path().join("growth.db");
    let mut grown = growth(plan, "SQLite", sqlite.to_str().context("a temporary folder whose path is not UTF-8")?).await?;
    grown.extend(growth(plan, "PostgreSQL", &fresh_postgres().await?).await?);
    Ok(ScaleReport { postgres, two_instances: two, revocation, growth: grown })
}
