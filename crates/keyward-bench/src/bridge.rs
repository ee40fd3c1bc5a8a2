//! `keyward bridge` against `mcp-remote` (the npm package people use to reach a remote MCP
//! server from Claude Desktop), both relaying stdio to the same key service: time from process
//! start to the initialize response, per-call latency of `tools/call`, and peak resident memory.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::service::{Cpus, Service, pinned, sibling};
use crate::stats::{median, percentile};

#[derive(Debug, Serialize, Default)]
pub struct ClientReport {
    pub start_to_initialize_ms: f64,
    pub call_p50_ms: f64,
    pub call_p99_ms: f64,
    pub peak_rss_mib: f64,
}

#[derive(Debug, Serialize)]
pub struct BridgeReport {
    pub bridge: ClientReport,
    pub mcp_remote: Option<ClientReport>,
    /// Why mcp-remote was not measured, if it was not.
    pub mcp_remote_missing: Option<String>,
}

const STARTS: usize = 5;
const CALLS: usize = 100;

/// Peak resident memory of a process, from /proc.
fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Sends one JSON-RPC message and, for a request, waits for the reply with its id.
async fn exchange(child: &mut Child, out: &mut Lines<BufReader<ChildStdout>>, message: Value) -> anyhow::Result<Option<Value>> {
    let stdin = child.stdin.as_mut().context("no stdin")?;
    let mut line = serde_json::to_vec(&message)?;
    line.push(b'\n');
    stdin.write_all(&line).await?;
    stdin.flush().await?;
    let Some(id) = message.get("id") else { return Ok(None) };
    loop {
        let line = tokio::time::timeout(Duration::from_secs(30), out.next_line()).await.context("no reply within 30 s")??.context("the client closed its stdout")?;
        let Ok(reply) = serde_json::from_str::<Value>(&line) else { continue };
        if reply.get("id") == Some(id) {
            return Ok(Some(reply));
        }
    }
}

/// Starts `command` as an assistant would, initializes, calls a read tool CALLS times.
async fn measure(mut command: Command) -> anyhow::Result<ClientReport> {
    let mut starts = Vec::new();
    let mut calls = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..STARTS {
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).kill_on_drop(true);
        let started = Instant::now();
        let mut child = command.spawn().context("could not start the client")?;
        let mut out = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "keyward-bench", "version": "1"}}});
        let reply = exchange(&mut child, &mut out, init).await?.context("no initialize reply")?;
        starts.push(started.elapsed().as_secs_f64() * 1e3);
        if reply.get("result").is_none() {
            bail!("initialize failed: {reply}");
        }
        exchange(&mut child, &mut out, json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await?;
        for id in 1..=CALLS {
            let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "list_raw_materials", "arguments": {}}});
            let started = Instant::now();
            let reply = exchange(&mut child, &mut out, call).await?.context("no tools/call reply")?;
            calls.push(started.elapsed());
            if reply.get("result").is_none() {
                bail!("tools/call failed: {reply}");
            }
        }
        rss.push(peak_rss_mib(child.id().unwrap_or_default()));
        let _ = child.kill().await;
    }
    calls.sort();
    Ok(ClientReport { start_to_initialize_ms: median(starts), call_p50_ms: percentile(&calls, 0.5).as_secs_f64() * 1e3, call_p99_ms: percentile(&calls, 0.99).as_secs_f64() * 1e3, peak_rss_mib: median(rss) })
}

pub async fn run(mcp_remote: &Path) -> anyhow::Result<BridgeReport> {
    let dir = tempfile::tempdir()?;
    let mut service = Service::start(dir.path(), &[]).await?;
    let (id, key) = service.create_key("assistant").await?;

    let mut bridge = pinned(&sibling("keyward")?, Cpus::Load);
    bridge.args(["bridge", "--key", &id, "--server", &service.base]);
    bridge.env("KEYWARD_API_KEY", &key).env("KEYWARD_DATA_DIR", dir.path().join("data")).env("KEYWARD_CONFIG_DIR", dir.path().join("config"));
    let bridge = measure(bridge).await?;

    let (mcp_remote, mcp_remote_missing) = if mcp_remote.exists() {
        let mut node = pinned(Path::new("node"), Cpus::Load);
        node.arg(mcp_remote).arg(format!("{}/mcp", service.base));
        node.args(["--header", &format!("x-api-key:{key}"), "--transport", "http-only", "--allow-http"]);
        node.env("HOME", dir.path()).env("MCP_REMOTE_CONFIG_DIR", dir.path().join("mcp-auth"));
        (Some(measure(node).await?), None)
    } else {
        (None, Some(format!("mcp-remote is not installed at {}; ./dev bench installs it", mcp_remote.display())))
    };
    service.stop().await;
    Ok(BridgeReport { bridge, mcp_remote, mcp_remote_missing })
}
