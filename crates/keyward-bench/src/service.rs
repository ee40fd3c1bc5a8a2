//! A key service under test: the release `keyward-server` binary in its own process, with a
//! fresh database and a store, and the management calls the benchmarks need.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const PASSWORD: &str = "benchmark-password";
pub const EMAIL: &str = "owner@bench.test";

/// Runs `program` on the given CPUs (`taskset -c`), when this machine has at least two and
/// `taskset` is installed: the service gets a core of its own and the load the others, so
/// neither steals from the other and runs compare like with like.
pub fn pinned(program: &Path, cpus: Cpus) -> Command {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let taskset = Path::new("/usr/bin/taskset");
    if cores < 2 || !taskset.exists() {
        return Command::new(program);
    }
    let list = match cpus {
        Cpus::Service => "0".to_owned(),
        Cpus::Load => format!("1-{}", cores - 1),
    };
    let mut command = Command::new(taskset);
    command.args(["-c", &list]).arg(program);
    command
}

#[derive(Clone, Copy)]
pub enum Cpus {
    Service,
    Load,
}

/// A program beside this one (the release build puts them together).
pub fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::current_exe()?.with_file_name(name);
    if !path.exists() {
        bail!("{} is missing; build it first with `cargo build --release -p {name}` (./dev bench does)", path.display());
    }
    Ok(path)
}

pub struct Service {
    child: Child,
    pub base: String,
    pub store_id: String,
    pub db: PathBuf,
    http: reqwest::Client,
    session: Option<String>,
}

/// The `extra` arguments of [`Service::start`] that ask for the unauthenticated floor, served by
/// this binary's `serve-unauthenticated` instead of `keyward-server`.
pub const UNAUTHENTICATED: &[&str] = &["<unauthenticated>"];

/// `keyward-bench serve-unauthenticated`: the key service over `db` with authentication off,
/// printing its address first as `keyward-server serve` does.
pub async fn serve_unauthenticated(db: &Path, store: String) -> anyhow::Result<()> {
    let db = keyward_server::db::open_sqlite(db)?;
    let mut config = keyward_server::Config::new(keyward_core::Brand::new("kw").map_err(|e| anyhow::anyhow!("{e}"))?);
    config.unauthenticated_store = Some(store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("Unauthenticated benchmark service listening on http://{}", listener.local_addr()?);
    use std::io::Write;
    std::io::stdout().flush()?;
    keyward_server::serve(listener, keyward_server::AppState::new(db, config), std::future::pending()).await
}

impl Service {
    /// Creates a database with one store in `dir`, then serves it with `extra` arguments
    /// (or, given [`UNAUTHENTICATED`], serves it with authentication off).
    pub async fn start(dir: &Path, extra: &[&str]) -> anyhow::Result<Service> {
        let db = dir.join("bench.db");
        Service::start_on(db.to_str().context("a temporary folder whose path is not UTF-8")?, extra).await
    }

    /// Serves `database` (a SQLite path or a postgres:// URL) with `extra` arguments, after
    /// creating its benchmark store if it has none yet; another instance on the same database
    /// finds that store.
    pub async fn start_on(database: &str, extra: &[&str]) -> anyhow::Result<Service> {
        let server = sibling("keyward-server")?;
        let db = PathBuf::from(database);
        let listed = Command::new(&server).args(["store", "list", "--database", database]).output().await?;
        // The benchmark store by name: a grown database holds thousands of others.
        let existing = String::from_utf8(listed.stdout)?
            .lines()
            .find_map(|line| {
                let mut fields = line.split('\t');
                let id = fields.next()?;
                (fields.next()? == "Bench").then(|| id.to_owned())
            })
            .unwrap_or_default();
        let store_id = if listed.status.success() && !existing.is_empty() {
            existing
        } else {
            let out = Command::new(&server)
                .args(["store", "create", "--name", "Bench", "--owner-name", "Bench Owner", "--owner-email", EMAIL, "--database", database])
                .env("KEYWARD_PASSWORD", PASSWORD)
                .output()
                .await?;
            if !out.status.success() {
                bail!("could not create the benchmark store: {}", String::from_utf8_lossy(&out.stderr));
            }
            String::from_utf8(out.stdout)?.trim().to_owned()
        };
        let mut command = if extra == UNAUTHENTICATED {
            let mut command = pinned(&std::env::current_exe()?, Cpus::Service);
            command.args(["serve-unauthenticated", "--store", &store_id, "--db"]).arg(database);
            command
        } else {
            let mut command = pinned(&server, Cpus::Service);
            command
                .args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--brand", "kw"])
                .args(["--rate-limit", "1000000000", "--failed-auth-limit", "1000000000", "--database", database])
                .args(extra);
            command
        };
        let mut child = command
            .env("KEYWARD_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("could not start keyward-server")?;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next_line().await?.context("keyward-server printed nothing")?;
        let base = first.rsplit(' ').next().unwrap_or_default().to_owned();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Service { child, base, store_id, db, http: reqwest::Client::new(), session: None })
    }

    async fn session(&mut self) -> anyhow::Result<String> {
        if let Some(s) = &self.session {
            return Ok(s.clone());
        }
        let reply: Value = self
            .http
            .post(format!("{}/api/session", self.base))
            .json(&json!({"email": EMAIL, "password": PASSWORD, "device_name": "bench"}))
            .send()
            .await?
            .json()
            .await?;
        let token = reply["token"].as_str().context("could not sign in to the benchmark store")?.to_owned();
        self.session = Some(token.clone());
        Ok(token)
    }

    /// Creates a read key; returns (id, whole key).
    pub async fn create_key(&mut self, name: &str) -> anyhow::Result<(String, String)> {
        let session = self.session().await?;
        let reply: Value = self.http.post(format!("{}/api/keys", self.base)).bearer_auth(session).json(&json!({"name": name})).send().await?.json().await?;
        Ok((reply["id"].as_str().context("no key id")?.to_owned(), reply["key"].as_str().context("no key")?.to_owned()))
    }

    pub async fn revoke_key(&mut self, id: &str) -> anyhow::Result<()> {
        let session = self.session().await?;
        let status = self.http.delete(format!("{}/api/keys/{id}", self.base)).bearer_auth(session).send().await?.status();
        if !status.is_success() {
            bail!("revoking the key got {status}");
        }
        Ok(())
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
