//! The results: every figure with its comparison, the ratio and whether the goal is met, as
//! JSON and as the Markdown table the README shows.

use serde::Serialize;

use crate::load::LoadReport;
use crate::app::AppReport;
use crate::bridge::BridgeReport;
use crate::mirror::MirrorReport;
use crate::scale::ScaleReport;
use crate::scan::ScanReport;

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub os: String,
}

impl Machine {
    fn here() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).and_then(|l| l.split(':').nth(1)).unwrap_or("unknown").trim().to_owned();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kib: f64 = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:")).and_then(|l| l.split_whitespace().next()).and_then(|n| n.parse().ok()).unwrap_or(0.0);
        let os = std::fs::read_to_string("/etc/os-release")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_owned()))
            .unwrap_or_else(|| std::env::consts::OS.into());
        Machine { cpu, cores: std::thread::available_parallelism().map_or(1, |n| n.get()), memory_gib: (kib / 1048576.0 * 10.0).round() / 10.0, os }
    }
}

#[derive(Debug, Serialize)]
pub struct Whoami {
    pub normal: LoadReport,
    pub no_cache: LoadReport,
    pub no_auth: LoadReport,
    pub connections: usize,
}

#[derive(Debug, Serialize)]
pub struct Revocation {
    pub succeeded_before: u64,
    /// Requests sent after the revoke call returned that still got 200. The goal is 0.
    pub succeeded_after: u64,
    pub refused_after: u64,
    pub revoke_ms: f64,
}

impl Revocation {
    /// From the load's record of each request's start and status, the revoke call made at
    /// `called` and returned at `returned` (Unix ns).
    pub fn from_starts(starts: &[(u128, u16)], called: u128, returned: u128) -> Revocation {
        let count = |keep: &dyn Fn(u128, u16) -> bool| starts.iter().filter(|(t, s)| keep(*t, *s)).count() as u64;
        Revocation {
            succeeded_before: count(&|t, s| t < called && s == 200),
            succeeded_after: count(&|t, s| t >= returned && s == 200),
            refused_after: count(&|t, s| t >= returned && s == 401),
            revoke_ms: (returned - called) as f64 / 1e6,
        }
    }
}

/// One comparison: a ratio, its goal, and whether it was met.
#[derive(Debug, Serialize)]
pub struct Ratio {
    pub name: String,
    pub keyward: String,
    pub compared_with: String,
    pub ratio: f64,
    pub goal: String,
    pub met: bool,
}

/// One criterion micro-benchmark, as `cargo bench` left it under `target/criterion`.
#[derive(Debug, Serialize)]
pub struct Micro {
    pub name: String,
    pub median_ns: f64,
}

impl Micro {
    /// Every benchmark criterion has results for under `dir`.
    pub fn read_all(dir: &std::path::Path) -> Vec<Micro> {
        let mut found = Vec::new();
        let mut stack = vec![dir.to_owned()];
        while let Some(folder) = stack.pop() {
            for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if !(path.ends_with("new/benchmark.json")) {
                    continue;
                }
                let read = |name: &str| -> Option<serde_json::Value> { serde_json::from_str(&std::fs::read_to_string(path.with_file_name(name)).ok()?).ok() };
                if let (Some(meta), Some(estimates)) = (read("benchmark.json"), read("estimates.json"))
                    && let (Some(name), Some(median)) = (meta["full_id"].as_str(), estimates["median"]["point_estimate"].as_f64())
                {
                    found.push(Micro { name: name.to_owned(), median_ns: median });
                }
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found
    }
}

fn duration(ns: f64) -> String {
    match ns {
        n if n >= 1e6 => format!("{:.1} ms", n / 1e6),
        n if n >= 1e3 => format!("{:.1} µs", n / 1e3),
        n => format!("{n:.0} ns"),
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub date: String,
    pub whoami: Whoami,
    pub revocation: Vec<Revocation>,
    pub scale: ScaleReport,
    pub mirror: MirrorReport,
    pub bridge: BridgeReport,
    /// The app's figures, or why they could not be measured here.
    pub app: Result<AppReport, String>,
    /// keyward scan beside ripgrep and a secret scanner, or why it could not be measured.
    pub scan: Result<ScanReport, String>,
    pub micro: Vec<Micro>,
    pub ratios: Vec<Ratio>,
}

fn rps(r: &LoadReport) -> String {
    format!("{:.0} req/s (p50 {:.2} ms, p99 {:.2} ms)", r.requests_per_second, r.p50_ms, r.p99_ms)
}

impl Report {
    pub fn new(
        whoami: Whoami,
        revocation: Vec<Revocation>,
        scale: ScaleReport,
        mirror: MirrorReport,
        bridge: BridgeReport,
        app: Result<AppReport, String>,
        scan: Result<ScanReport, String>,
        micro: Vec<Micro>,
    ) -> Report {
        let (a, b, c) = (&whoami.normal, &whoami.no_cache, &whoami.no_auth);
        let mut ratios = vec![
            Ratio {
                name: "whoami throughput: Keyward / no authentication".into(),
                keyward: rps(a),
                compared_with: rps(c),
                ratio: a.requests_per_second / c.requests_per_second,
                goal: "≥ 0.80".into(),
                met: a.requests_per_second >= 0.8 * c.requests_per_second,
            },
            Ratio {
                name: "whoami throughput: Keyward / argon2 on every request".into(),
                keyward: rps(a),
                compared_with: rps(b),
                ratio: a.requests_per_second / b.requests_per_second,
                goal: "≥ 100".into(),
                met: a.requests_per_second >= 100.0 * b.requests_per_second,
            },
        ];
        let worst = revocation.iter().map(|r| r.succeeded_after).max().unwrap_or(0);
        ratios.push(Ratio {
            name: format!("requests that succeeded after the revoke returned ({} runs)", revocation.len()),
            keyward: revocation.iter().map(|r| r.succeeded_after.to_string()).collect::<Vec<_>>().join(", "),
            compared_with: format!("{} succeeded before it", revocation.iter().map(|r| r.succeeded_before).sum::<u64>()),
            ratio: worst as f64,
            goal: "0 every run".into(),
            met: worst == 0,
        });
        ratios.push(Ratio {
            name: "whoami throughput, one instance: PostgreSQL / SQLite".into(),
            keyward: rps(&scale.postgres),
            compared_with: rps(a),
            ratio: scale.postgres.requests_per_second / a.requests_per_second,
            goal: "(no goal set)".into(),
            met: true,
        });
        ratios.push(Ratio {
            name: "whoami throughput: two instances on one PostgreSQL / one instance".into(),
            keyward: rps(&scale.two_instances),
            compared_with: rps(&scale.postgres),
            ratio: scale.two_instances.requests_per_second / scale.postgres.requests_per_second,
            goal: "(no goal set)".into(),
            met: true,
        });
        let worst = scale.revocation.iter().map(|r| r.succeeded_after).max().unwrap_or(0);
        ratios.push(Ratio {
            name: format!("requests accepted by either of two instances after the revoke returned ({} runs)", scale.revocation.len()),
            keyward: scale.revocation.iter().map(|r| r.succeeded_after.to_string()).collect::<Vec<_>>().join(", "),
            compared_with: format!("{} succeeded before it", scale.revocation.iter().map(|r| r.succeeded_before).sum::<u64>()),
            ratio: worst as f64,
            goal: "0 every run".into(),
            met: worst == 0,
        });
        for backend in ["SQLite", "PostgreSQL"] {
            let at = |keys: usize| scale.growth.iter().find(|g| g.backend == backend && g.keys == keys);
            if let (Some(small), Some(large)) = (at(crate::scale::GROWTH[0]), at(crate::scale::GROWTH[2])) {
                let ratio = large.load.p99_ms / small.load.p99_ms;
                ratios.push(Ratio {
                    name: format!("whoami p99 on {backend}: {} keys / {} keys ({} stores)", large.keys, small.keys, large.stores),
                    keyward: format!("{:.2} ms", large.load.p99_ms),
                    compared_with: format!("{:.2} ms", small.load.p99_ms),
                    ratio,
                    goal: "< 2".into(),
                    met: ratio < 2.0,
                });
            }
        }
        let k = &bridge.bridge;
        if let Some(m) = &bridge.mcp_remote {
            ratios.push(Ratio {
                name: "start to initialize response: mcp-remote / keyward bridge".into(),
                keyward: format!("{:.1} ms", k.start_to_initialize_ms),
                compared_with: format!("{:.1} ms", m.start_to_initialize_ms),
                ratio: m.start_to_initialize_ms / k.start_to_initialize_ms,
                goal: "≥ 10".into(),
                met: m.start_to_initialize_ms >= 10.0 * k.start_to_initialize_ms,
            });
            ratios.push(Ratio {
                name: "peak resident memory: mcp-remote / keyward bridge".into(),
                keyward: format!("{:.1} MiB", k.peak_rss_mib),
                compared_with: format!("{:.1} MiB", m.peak_rss_mib),
                ratio: m.peak_rss_mib / k.peak_rss_mib,
                goal: "≥ 10".into(),
                met: m.peak_rss_mib >= 10.0 * k.peak_rss_mib,
            });
            ratios.push(Ratio {
                name: "tools/call latency p50: mcp-remote / keyward bridge".into(),
                keyward: format!("{:.2} ms (p99 {:.2} ms)", k.call_p50_ms, k.call_p99_ms),
                compared_with: format!("{:.2} ms (p99 {:.2} ms)", m.call_p50_ms, m.call_p99_ms),
                ratio: m.call_p50_ms / k.call_p50_ms,
                goal: "(no goal set)".into(),
                met: true,
            });
        }
        let find = |prefix: &str| micro.iter().find(|m| m.name.starts_with(prefix));
        if let (Some(hit), Some(argon2)) = (find("verify cache hit"), find("argon2id/")) {
            ratios.push(Ratio {
                name: "verifying a key seen before: argon2id / verified cache hit".into(),
                keyward: duration(hit.median_ns),
                compared_with: duration(argon2.median_ns),
                ratio: argon2.median_ns / hit.median_ns,
                goal: "(no goal set)".into(),
                met: true,
            });
        }
        if let Ok(s) = &scan {
            let tree = format!("{} files, {:.2} GiB", s.files, s.bytes as f64 / (1u64 << 30) as f64);
            ratios.push(Ratio {
                name: format!("scanning a tree ({tree}): keyward scan / ripgrep, same key pattern"),
                keyward: format!("{:.0} ms", s.keyward_ms),
                compared_with: format!("{:.0} ms", s.ripgrep_ms),
                ratio: s.keyward_ms / s.ripgrep_ms,
                goal: "≤ 2".into(),
                met: s.keyward_ms <= 2.0 * s.ripgrep_ms,
            });
            if let Ok(d) = &s.detect_secrets {
                ratios.push(Ratio {
                    name: format!("scanning the same tree: {} / keyward scan", d.name),
                    keyward: format!("{:.0} ms", s.keyward_ms),
                    compared_with: format!("{:.0} ms ({} findings)", d.ms, d.findings),
                    ratio: d.ms / s.keyward_ms,
                    goal: "> 1".into(),
                    met: s.keyward_ms < d.ms,
                });
            }
            ratios.push(Ratio {
                name: format!("keys keyward scan found / keys planted (among {} look-alikes ripgrep also matched)", s.look_alikes),
                keyward: s.keyward_found.to_string(),
                compared_with: format!("{} planted; ripgrep matched {} lines", s.planted, s.ripgrep_lines),
                ratio: s.keyward_found as f64 / s.planted.max(1) as f64,
                goal: "= 1 (no false positive)".into(),
                met: s.keyward_found == s.planted,
            });
        }
        let date = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        Report { machine: Machine::here(), date, whoami, revocation, scale, mirror, bridge, app, scan, micro, ratios }
    }

    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let mut out = format!(
            "Measured {} on {} ({} cores, {} GiB, {}), all in one run.\n\n| Benchmark | Keyward | Compared with | Ratio | Goal | Met |\n|---|---|---|---|---|---|\n",
            &self.date[..10.min(self.date.len())],
            m.cpu,
            m.cores,
            m.memory_gib,
            m.os
        );
        for r in &self.ratios {
            let ratio = if r.ratio >= 10.0 { format!("{:.0}", r.ratio) } else { format!("{:.2}", r.ratio) };
            out.push_str(&format!("| {} | {} | {} | {} | {} | {} |\n", r.name, r.keyward, r.compared_with, ratio, r.goal, if r.met { "yes" } else { "**no**" }));
        }
        out.push_str("\nwhoami as the data grows (one instance, the keys spread over the stores):\n\n| Database | Keys | Stores | Throughput | p50 | p99 |\n|---|---|---|---|---|---|\n");
        for g in &self.scale.growth {
            out.push_str(&format!(
                "| {} | {} | {} | {:.0} req/s | {:.2} ms | {:.2} ms |\n",
                g.backend, g.keys, g.stores, g.load.requests_per_second, g.load.p50_ms, g.load.p99_ms
            ));
        }
        let mi = &self.mirror;
        out.push_str(&format!(
            "\nThe mirror, {} keys: full sync {:.0} ms; incremental sync of {} changes {:.1} ms; offline verify, first time (argon2) p50 {:.1} ms / p99 {:.1} ms, repeat p50 {:.0} µs / p99 {:.0} µs.\n",
            mi.keys, mi.full_sync_ms, mi.changes, mi.incremental_sync_ms, mi.first_verify_p50_ms, mi.first_verify_p99_ms, mi.repeat_verify_p50_us, mi.repeat_verify_p99_us
        ));
        match &self.app {
            Ok(app) => out.push_str(&format!(
                "\nThe desktop app under Xvfb: launch to the keys table painted {:.0} ms (through WebDriver); resident memory {:.0} MiB for the app, {:.0} MiB with its WebKit processes.\n",
                app.launch_to_keys_table_ms, app.app_rss_mib, app.total_rss_mib
            )),
            Err(why) => out.push_str(&format!("\nThe desktop app was not measured: {why}\n")),
        }
        match &self.scan {
            Ok(s) => {
                if let Err(why) = &s.detect_secrets {
                    out.push_str(&format!("\nkeyward scan was not compared with a secret scanner: {why}\n"));
                }
            }
            Err(why) => out.push_str(&format!("\nkeyward scan was not measured: {why}\n")),
        }
        if let Some(why) = &self.bridge.mcp_remote_missing {
            out.push_str(&format!("\nThe bridge was not compared with mcp-remote: {why}\n"));
        }
        if !self.micro.is_empty() {
            out.push_str("\nMicro-benchmarks (criterion, median):\n\n| Operation | Time |\n|---|---|\n");
            for m in &self.micro {
                out.push_str(&format!("| {} | {} |\n", m.name, duration(m.median_ns)));
            }
        }
        out
    }
}
