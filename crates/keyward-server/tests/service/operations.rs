//! What an operator behind a load balancer relies on: `/healthz`, `/readyz` (false while
//! draining), and Prometheus metrics that count what was sent.

use std::sync::atomic::Ordering;

use serde_json::json;

use crate::common::{Service, read};

/// Every sample line of a Prometheus text exposition: `name{labels} value`, with the value a
/// number. Panics on a line that is neither a sample, a `#` comment nor blank.
fn samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line}"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line}"));
            let name = series.split('{').next().unwrap();
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'), "bad metric name: {line}");
            if let Some(labels) = series.strip_prefix(name) {
                assert!(labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')), "bad labels: {line}");
            }
            (series.to_owned(), value)
        })
        .collect()
}

fn value(samples: &[(String, f64)], series: &str) -> f64 {
    samples.iter().find(|(s, _)| s == series).map_or(0.0, |(_, v)| *v)
}

#[tokio::test]
async fn healthz_says_alive_and_readyz_says_ready_until_draining() {
    let svc = Service::start().await;
    let health = read(svc.http.get(format!("{}/healthz", svc.base)).send().await.unwrap()).await;
    assert_eq!(health.assert_status(200)["status"], "ok");
    let ready = read(svc.http.get(format!("{}/readyz", svc.base)).send().await.unwrap()).await;
    assert_eq!(ready.assert_status(200)["status"], "ready");
    svc.state.draining.store(true, Ordering::Relaxed);
    let draining = read(svc.http.get(format!("{}/readyz", svc.base)).send().await.unwrap()).await;
    assert_eq!(draining.assert_status(503)["status"], "draining");
    let alive = read(svc.http.get(format!("{}/healthz", svc.base)).send().await.unwrap()).await;
    assert_eq!(alive.status, 200, "still alive while draining");
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_count_what_was_sent() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (id, key) = svc.create_key(&session, json!({"name": "bot"})).await;
    for _ in 0..3 {
        svc.with_key("/v1/whoami", &key).await.assert_status(200);
    }
    svc.with_key("/v1/whoami", "asmk_garbage").await.assert_status(401);
    svc.delete(&format!("/api/keys/{id}"), &session).await.assert_status(200);
    svc.with_key("/v1/whoami", &key).await.assert_status(401);
    read(svc.http.get(format!("{}/no/such/thing", svc.base)).send().await.unwrap()).await;

    let text = svc.state.metrics.render();
    let samples = samples(&text);
    assert_eq!(value(&samples, r#"keyward_http_requests_total{route="/v1/whoami",method="GET",status="200"}"#), 3.0, "{text}");
    assert_eq!(value(&samples, r#"keyward_http_requests_total{route="/v1/whoami",method="GET",status="401"}"#), 2.0, "{text}");
    assert_eq!(value(&samples, r#"keyward_http_requests_total{route="/api/keys/{id}",method="DELETE",status="200"}"#), 1.0, "{text}");
    assert!(value(&samples, "keyward_argon2_runs_total") >= 2.0, "the sign-in and the key's first use: {text}");
    assert_eq!(value(&samples, r#"keyward_authentications_total{outcome="ok"}"#), 3.0, "{text}");
    assert_eq!(value(&samples, r#"keyward_authentications_total{outcome="key_revoked"}"#), 1.0, "{text}");
    let refused: f64 = samples.iter().filter(|(s, _)| s.starts_with("keyward_authentications_total{") && !s.contains("\"ok\"")).map(|(_, v)| v).sum();
    assert_eq!(refused, 2.0, "the garbage key and the revoked one: {text}");
    assert!(value(&samples, r#"keyward_db_latency_seconds_count{kind="write"}"#) >= 3.0, "{text}");
    assert!(value(&samples, r#"keyward_db_latency_seconds_count{kind="read"}"#) >= 1.0, "{text}");
    assert_eq!(value(&samples, "keyward_db_connections_in_use"), 0.0, "nothing is left counted as busy");
    assert!(!text.contains(&key) && !text.contains(&session), "no secret in the metrics");
    // /metrics is not on the public API; `keyward-server serve` serves it on its own address.
    let public = read(svc.http.get(format!("{}/metrics", svc.base)).send().await.unwrap()).await;
    assert_eq!(public.status, 404);
}
