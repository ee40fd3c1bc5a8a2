//! `keyward-bench`: Keyward measured side by side with what it is compared to, in one run on
//! one machine. Writes `results.json` and `results.md` (the table the README shows).
//!
//! Each comparison runs the real release binaries in their own processes; the load comes
//! from a separate process (`keyward-bench load`), so the service and the load generator do
//! not share a runtime.
//!
//! - `service`: the key service and the load generator as processes, pinned to their cores.
//! - `load`: the load generator (`keyward-bench load`).
//! - `scale`: PostgreSQL, two instances, and whoami as the data grows.
//! - `mirror`, `bridge`, `app`, `scan`: the verifier mirror, the bridge beside mcp-remote, the
//!   desktop app under Xvfb, and `keyward scan` beside ripgrep and detect-secrets.
//! - `stats`: percentiles and medians, computed one way.
//! - `report`: the table and its goals (`results.md`, `results.json`).

mod app;
mod bridge;
mod load;
mod mirror;
mod report;
mod scale;
mod scan;
mod service;
mod stats;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Parser, Subcommand};

use load::{Load, LoadReport};
use report::{Report, Revocation, Whoami};
use service::Service;

#[derive(Parser)]
#[command(about = "Keyward's benchmarks, side by side")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run every benchmark and write the results (the default).
    Run {
        /// Shorter runs, for checking the benchmark itself works.
        #[arg(long)]
        quick: bool,
        /// Where results.json and results.md go.
        #[arg(long, default_value = "bench")]
        out: PathBuf,
        /// Where `cargo bench` left the criterion results to include.
        #[arg(long, default_value = "target/criterion")]
        criterion: PathBuf,
        /// mcp-remote's entry point (`./dev bench` installs it here).
        #[arg(long, default_value = "target/bench-npm/node_modules/mcp-remote/dist/proxy.js")]
        mcp_remote: PathBuf,
    },
    /// (internal) Serve a database's /v1 and /mcp with no authentication, as a read key of
    /// `store`: the floor authentication is measured against. It exists in this binary only.
    ServeUnauthenticated {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        store: String,
    },
    /// (internal) Generate load against one URL and print a JSON report.
    Load {
        #[arg(long)]
        url: String,
        #[arg(long)]
        key: Option<String>,
        #[arg(long, default_value_t = 64)]
        connections: usize,
        #[arg(long, default_value_t = 1000)]
        warmup_ms: u64,
        #[arg(long, default_value_t = 5000)]
        duration_ms: u64,
        /// Record each request's start time and status.
        #[arg(long)]
        record: bool,
    },
}

/// Durations for one run of the suite.
#[derive(Clone, Copy)]
pub(crate) struct Plan {
    warmup: Duration,
    duration: Duration,
    connections: usize,
    revocation_runs: usize,
}

/// Starts the load generator process and waits for its report.
pub(crate) async fn load_process(url: &str, key: Option<&str>, plan: &Plan, record: bool) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<LoadReport>>> {
    let mut command = service::pinned(&std::env::current_exe()?, service::Cpus::Load);
    command.args(["load", "--url", url, "--connections", &plan.connections.to_string()]);
    command.args(["--warmup-ms", &plan.warmup.as_millis().to_string(), "--duration-ms", &plan.duration.as_millis().to_string()]);
    if let Some(key) = key {
        command.args(["--key", key]);
    }
    if record {
        command.arg("--record");
    }
    command.kill_on_drop(true).stdout(std::process::Stdio::piped());
    let child = command.spawn().context("could not start the load generator")?;
    Ok(tokio::spawn(async move {
        let output = child.wait_with_output().await?;
        anyhow::ensure!(output.status.success(), "the load generator failed");
        Ok(serde_json::from_slice(&output.stdout)?)
    }))
}

/// `GET /v1/whoami` at full speed against one configuration of the service.
async fn whoami(plan: &Plan, extra: &[&str], with_key: bool) -> anyhow::Result<LoadReport> {
    let dir = tempfile::tempdir()?;
    let mut service = Service::start(dir.path(), extra).await?;
    let key = if with_key { Some(service.create_key("load").await?.1) } else { None };
    let url = format!("{}/v1/whoami", service.base);
    let report = load_process(&url, key.as_deref(), plan, false).await?.await??;
    service.stop().await;
    anyhow::ensure!(report.ok > 0, "no request succeeded against {extra:?}");
    Ok(report)
}

pub(crate) fn wall_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos()
}

/// Revokes a key while requests with it flow at full speed; counts the requests sent after
/// the revoke call returned that still succeeded.
async fn revocation(plan: &Plan) -> anyhow::Result<Revocation> {
    let dir = tempfile::tempdir()?;
    let mut service = Service::start(dir.path(), &[]).await?;
    let (id, key) = service.create_key("doomed").await?;
    let url = format!("{}/v1/whoami", service.base);
    let run = Plan { warmup: Duration::ZERO, duration: plan.warmup + plan.duration, ..*plan };
    let load = load_process(&url, Some(&key), &run, true).await?;
    tokio::time::sleep(run.duration / 2).await;
    let called = wall_ns();
    service.revoke_key(&id).await?;
    let returned = wall_ns();
    let report = load.await??;
    service.stop().await;
    Ok(Revocation::from_starts(&report.starts, called, returned))
}

async fn run(quick: bool, out: PathBuf, criterion: PathBuf, mcp_remote: PathBuf) -> anyhow::Result<()> {
    let plan = if quick {
        Plan { warmup: Duration::from_millis(300), duration: Duration::from_secs(1), connections: 32, revocation_runs: 2 }
    } else {
        Plan { warmup: Duration::from_secs(1), duration: Duration::from_secs(5), connections: 64, revocation_runs: 5 }
    };
    eprintln!("==> whoami: Keyward's normal path");
    let normal = whoami(&plan, &[], true).await?;
    eprintln!("==> whoami: argon2 on every request (verified cache off)");
    let no_cache = whoami(&plan, &["--no-verified-cache"], true).await?;
    eprintln!("==> whoami: authentication off (the floor)");
    let no_auth = whoami(&plan, service::UNAUTHENTICATED, false).await?;
    let mut revocations = Vec::new();
    for i in 0..plan.revocation_runs {
        eprintln!("==> revocation under load, run {}", i + 1);
        revocations.push(revocation(&plan).await?);
    }
    let scale = scale::run(&plan).await?;
    eprintln!("==> the mirror: full sync of 10,000 keys, 10 changes, offline verify");
    let mirror = mirror::run(10_000).await?;
    eprintln!("==> keyward bridge against mcp-remote");
    let bridge = bridge::run(&mcp_remote).await?;
    eprintln!("==> keyward scan against ripgrep and detect-secrets on a generated tree");
    let scan = scan::run(quick, std::path::Path::new("target/release/keyward"), &scan::default_detect_secrets()).map_err(|e| {
        eprintln!("    not measured: {e:#}");
        format!("{e:#}")
    });
    eprintln!("==> the desktop app: launch to keys table, memory");
    let app = match app::run().await {
        Ok(app) => Ok(app),
        Err(e) => {
            eprintln!("    not measured: {e:#}");
            Err(format!("{e:#}"))
        }
    };
    let report =
        Report::new(Whoami { normal, no_cache, no_auth, connections: plan.connections }, revocations, scale, mirror, bridge, app, scan, report::Micro::read_all(&criterion));
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("results.json"), serde_json::to_string_pretty(&report)?)?;
    let markdown = report.markdown();
    std::fs::write(out.join("results.md"), &markdown)?;
    println!("{markdown}");
    eprintln!("Written: {} and {}", out.join("results.md").display(), out.join("results.json").display());
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let default = Command::Run {
        quick: false,
        out: PathBuf::from("bench"),
        criterion: PathBuf::from("target/criterion"),
        mcp_remote: PathBuf::from("target/bench-npm/node_modules/mcp-remote/dist/proxy.js"),
    };
    match Cli::parse().command.unwrap_or(default) {
        Command::Run { quick, out, criterion, mcp_remote } => run(quick, out, criterion, mcp_remote).await,
        Command::Load { url, key, connections, warmup_ms, duration_ms, record } => {
            let load = Load { url, key, connections, warmup: Duration::from_millis(warmup_ms), duration: Duration::from_millis(duration_ms), record };
            let report = load.run().await?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        Command::ServeUnauthenticated { db, store } => service::serve_unauthenticated(&db, store).await,
    }
}
