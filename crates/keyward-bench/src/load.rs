//! The load generator: many keep-alive connections hammering one URL (or several, comma
//! separated, the connections spread over them) for a while, each request timed. It runs as its own process (`keyward-bench load`), so the key service and
//! the load never share a runtime.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::stats::percentile;
use crate::wall_ns;

/// What one run of load measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadReport {
    pub requests: u64,
    pub ok: u64,
    pub seconds: f64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// With `--record`: each request's start (Unix time, ns) and status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub starts: Vec<(u128, u16)>,
}

pub struct Load {
    pub url: String,
    pub key: Option<String>,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub record: bool,
}

impl Load {
    pub async fn run(self) -> anyhow::Result<LoadReport> {
        let started = Instant::now();
        let measure_from = started + self.warmup;
        let until = measure_from + self.duration;
        let mut tasks = Vec::new();
        let urls: Vec<&str> = self.url.split(',').collect();
        for connection in 0..self.connections {
            // One client per task: each keeps its own connection alive, like separate callers.
            let client = reqwest::Client::builder().pool_max_idle_per_host(1).build()?;
            let (url, key, record) = (urls[connection % urls.len()].to_owned(), self.key.clone(), self.record);
            tasks.push(tokio::spawn(async move {
                let mut latencies_us: Vec<u32> = Vec::new();
                let mut starts = Vec::new();
                let (mut requests, mut ok) = (0u64, 0u64);
                loop {
                    let now = Instant::now();
                    if now >= until {
                        break;
                    }
                    let start_wall = if record { wall_ns() } else { 0 };
                    let mut request = client.get(&url);
                    if let Some(key) = &key {
                        request = request.header("x-api-key", key);
                    }
                    let status = match request.send().await {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let _ = response.bytes().await;
                            status
                        }
                        Err(_) => 0,
                    };
                    if now >= measure_from {
                        requests += 1;
                        ok += u64::from(status == 200);
                        latencies_us.push(now.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                    }
                    if record {
                        starts.push((start_wall, status));
                    }
                }
                (requests, ok, latencies_us, starts)
            }));
        }
        let mut report = LoadReport { requests: 0, ok: 0, seconds: self.duration.as_secs_f64(), requests_per_second: 0.0, p50_ms: 0.0, p99_ms: 0.0, starts: Vec::new() };
        let mut latencies = Vec::new();
        for task in tasks {
            let (requests, ok, mut l, mut s) = task.await?;
            report.requests += requests;
            report.ok += ok;
            latencies.append(&mut l);
            report.starts.append(&mut s);
        }
        latencies.sort_unstable();
        report.requests_per_second = report.ok as f64 / report.seconds;
        report.p50_ms = f64::from(percentile(&latencies, 0.50)) / 1000.0;
        report.p99_ms = f64::from(percentile(&latencies, 0.99)) / 1000.0;
        Ok(report)
    }
}
