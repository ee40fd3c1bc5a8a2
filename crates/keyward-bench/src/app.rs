//! The desktop app: time from launch to the keys table painted, under Xvfb, and its resident
//! memory (the app and the WebKit processes it starts). Launched through tauri-driver and
//! WebKitWebDriver, as the end-to-end tests do, signed in beforehand with the CLI so the app
//! opens straight onto the keys table. Needs a Secret Service (`./dev bench` provides one).

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use keyward_testkit::display::{Xvfb, tauri_driver};
use keyward_testkit::free_port;

use crate::service::{self, Service, sibling};
use crate::stats::median;

#[derive(Debug, Serialize)]
pub struct AppReport {
    pub launch_to_keys_table_ms: f64,
    pub app_rss_mib: f64,
    /// The app and the WebKit web and network processes it started.
    pub total_rss_mib: f64,
}

const LAUNCHES: usize = 5;

/// (pid, parent pid, command name, resident MiB) of every process.
fn processes() -> Vec<(u32, u32, String, f64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned()).unwrap_or_default();
        let rss = field("VmRSS:").split_whitespace().next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0;
        out.push((pid, field("PPid:").parse().unwrap_or(0), field("Name:"), rss));
    }
    out
}

/// Resident memory of the app and of the processes it started.
fn app_memory() -> Option<(f64, f64)> {
    let all = processes();
    let (app_pid, _, _, app_rss) = all.iter().find(|(_, _, name, _)| name == "keyward-app")?.clone();
    let children: f64 = all.iter().filter(|(_, ppid, _, _)| *ppid == app_pid).map(|(_, _, _, rss)| rss).sum();
    Some((app_rss, app_rss + children))
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

pub async fn run() -> anyhow::Result<AppReport> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        bail!("the app benchmark needs a Secret Service in a D-Bus session; run it through ./dev bench");
    }
    let app = sibling("keyward-app")?;
    let home = tempfile::tempdir()?;
    let mut service = Service::start(home.path(), &[]).await?;
    for name in ["Claude Desktop", "Codex on the build box", "Nightly reports"] {
        service.create_key(name).await?;
    }
    let envs = [
        ("HOME", home.path().to_owned()),
        ("XDG_CONFIG_HOME", home.path().join(".config")),
        ("XDG_CACHE_HOME", home.path().join(".cache")),
        ("KEYWARD_CONFIG_DIR", home.path().join("keyward-config")),
        ("KEYWARD_DATA_DIR", home.path().join("keyward-data")),
    ];
    let login = Command::new(sibling("keyward")?)
        .args(["login", "--server", &service.base, "--email", service::EMAIL, "--device-name", "bench"])
        .envs(envs.iter().map(|(k, v)| (*k, v.as_os_str())))
        .env("KEYWARD_PASSWORD", service::PASSWORD)
        .output()
        .await?;
    if !login.status.success() {
        bail!("keyward login failed: {}", String::from_utf8_lossy(&login.stderr));
    }

    let xvfb = Xvfb::try_start().map_err(anyhow::Error::msg)?;
    let (port, native) = (free_port(), free_port());
    let _driver = Killed(
        Command::new(tauri_driver())
            .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            .envs(envs.iter().map(|(k, v)| (*k, v.as_os_str())))
            .env("DISPLAY", xvfb.name())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("tauri-driver is not installed (cargo install tauri-driver --locked)")?,
    );
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut waited = 0;
    while http.get(format!("{base}/status")).send().await.is_err() {
        waited += 1;
        if waited > 100 {
            bail!("tauri-driver did not start");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (mut times, mut app_rss, mut total_rss) = (Vec::new(), Vec::new(), Vec::new());
    let capabilities = json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": app}}}});
    for _ in 0..LAUNCHES {
        let started = Instant::now();
        let session: Value = http.post(format!("{base}/session")).json(&capabilities).send().await?.json().await?;
        let id = session["value"]["sessionId"].as_str().context("WebDriver did not start the app")?.to_owned();
        let find = json!({"using": "css selector", "value": "[data-testid=keys-table] tbody tr"});
        loop {
            let found = http.post(format!("{base}/session/{id}/element")).json(&find).send().await?;
            if found.status().is_success() {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("the keys table did not appear within a minute");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        times.push(started.elapsed().as_secs_f64() * 1e3);
        // Let the page settle before reading memory.
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some((app, total)) = app_memory() {
            app_rss.push(app);
            total_rss.push(total);
        }
        let _ = http.delete(format!("{base}/session/{id}")).send().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    service.stop().await;
    Ok(AppReport { launch_to_keys_table_ms: median(times), app_rss_mib: median(app_rss), total_rss_mib: median(total_rss) })
}
