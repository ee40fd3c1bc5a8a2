//! Hostile clients over raw TCP: garbage, oversized headers, wrong methods, bodies that never
//! finish, headers trickled in (slowloris). Each gets a 4xx or loses its connection; the
//! service keeps serving everyone else and its database does not change.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Service, forged};

/// Sends `request` raw and reads what comes back until the server closes the connection or
/// `patience` runs out. Returns the status line's code, if a response came.
async fn raw(base: &str, request: &[u8], patience: Duration) -> Option<u16> {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
    // The server may refuse before reading everything; a write error is an answer too.
    let _ = stream.write_all(request).await;
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(patience, stream.read_to_end(&mut reply)).await;
    let text = String::from_utf8_lossy(&reply);
    text.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).and_then(|code| code.parse().ok())
}

/// Sends `request` and expects exactly `status`.
async fn expect(base: &str, request: &[u8], status: u16) {
    assert_eq!(raw(base, request, Duration::from_secs(5)).await, Some(status), "{}", String::from_utf8_lossy(&request[..request.len().min(80)]));
}

#[track_caller]
fn assert_4xx(what: &str, status: Option<u16>) {
    assert!(status.is_some_and(|s| (400..500).contains(&s)), "{what}: expected a 4xx, got {status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_malformed_requests_gets_4xx_and_the_service_keeps_serving() {
    let svc = Service::start_with(|c| {
        c.header_timeout = Duration::from_secs(1);
        c.body_timeout = Duration::from_secs(1);
    })
    .await;
    let owner = svc.store("Acme").await;
    let session = svc.login(&owner, "laptop").await;
    let (_, key) = svc.create_key(&session, json!({"name": "bot"})).await;
    assert_eq!(svc.with_key("/v1/whoami", &key).await.status, 200);
    svc.state.usage.flush(&svc.state.db).await.unwrap();
    let before = svc.snapshot().await;
    let base = svc.base.clone();
    let patience = Duration::from_secs(5);

    // Fifty slowloris connections held open while everything else happens.
    let slowloris: Vec<_> = (0..50)
        .map(|_| {
            let base = base.clone();
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
                stream.write_all(b"GET /openapi.json HTTP/1.1\r\nHost: localhost\r\n").await.unwrap();
                let started = Instant::now();
                // A header line every 300 ms, never the blank line that ends them.
                let mut buf = [0u8; 1024];
                loop {
                    tokio::select! {
                        read = stream.read(&mut buf) => {
                            if matches!(read, Ok(0) | Err(_)) {
                                return started.elapsed();
                            }
                        }
                        () = tokio::time::sleep(Duration::from_millis(300)) => {
                            if stream.write_all(b"X-Slow: still here\r\n").await.is_err() {
                                return started.elapsed();
                            }
                        }
                    }
                    assert!(started.elapsed() < Duration::from_secs(20), "a slowloris connection was kept open");
                }
            })
        })
        .collect();

    let huge_header = format!("GET /openapi.json HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n", "a".repeat(1 << 20));
    let many_headers = format!("GET /openapi.json HTTP/1.1\r\nHost: localhost\r\n{}\r\n", (0..500).map(|i| format!("X-{i}: y\r\n")).collect::<String>());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n".to_vec()),
        ("bad request line", b"GET\r\n\r\n".to_vec()),
        ("bad UTF-8 in the path", b"GET /api/keys/\xff\xfe HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec()),
        ("bad UTF-8 in a header", b"GET /v1/whoami HTTP/1.1\r\nHost: localhost\r\nX-Api-Key: \xff\xfe\r\n\r\n".to_vec()),
        ("a 1 MiB header", huge_header.into_bytes()),
        ("500 headers", many_headers.into_bytes()),
        ("a wrong method", b"PUT /api/keys HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n".to_vec()),
        ("TRACE", b"TRACE / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec()),
        ("an unknown method", b"BREW /v1/whoami HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec()),
        ("a body longer than allowed", format!("POST /api/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", 10 << 20).into_bytes()),
        ("a body that never finishes", b"POST /api/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":".to_vec()),
        ("a garbage body", b"POST /api/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 6\r\n\r\n\x00\xff{[}\x01".to_vec()),
        ("conflicting lengths", b"POST /api/session HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello".to_vec()),
    ];
    let burst: Vec<_> = cases
        .into_iter()
        .flat_map(|(what, request)| (0..5).map(move |_| (what, request.clone())))
        .map(|(what, request)| {
            let base = base.clone();
            tokio::spawn(async move { (what, raw(&base, &request, patience).await) })
        })
        .collect();

    // Everyone else is still served while the attack goes on.
    for _ in 0..20 {
        let reply = svc.http.get(format!("{base}/openapi.json")).send().await.unwrap();
        assert_eq!(reply.status(), 200, "a valid request is served during the attack");
    }
    for task in burst {
        let (what, status) = task.await.unwrap();
        assert_4xx(what, status);
    }
    for task in slowloris {
        let held = task.await.unwrap();
        assert!(held < Duration::from_secs(5), "a slowloris connection was closed after {held:?}, not within the header timeout");
    }

    // The answers that say what happened, not only that it failed.
    expect(&base, b"POST /api/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":", 408).await;
    expect(&base, format!("POST /api/session HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n", 10 << 20).as_bytes(), 413).await;
    expect(&base, b"GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n", 404).await;
    expect(&base, b"DELETE /api/keys HTTP/1.1\r\nHost: localhost\r\n\r\n", 405).await;

    assert_eq!(svc.snapshot().await, before, "the database is unchanged");
    assert_eq!(svc.with_key("/v1/whoami", &key).await.status, 200, "the key still works");
}


#[tokio::test(flavor = "multi_thread")]
async fn guessing_keys_from_one_address_is_throttled_after_a_few_argon2_runs() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (id, _) = svc.create_key(&session, json!({"name": "bot"})).await;
    let runs_before = svc.state.hashes.verifications();

    let guesses: Vec<_> = (0..200)
        .map(|i| {
            let base = svc.base.clone();
            let http = svc.http.clone();
            // Half aim at the real key's id, half at ids that do not exist.
            let key = if i % 2 == 0 { forged(&id) } else { forged(&format!("Zz{i:06}")) };
            tokio::spawn(async move { http.get(format!("{base}/v1/whoami")).header("x-api-key", key).send().await.unwrap() })
        })
        .collect();
    let (mut refused, mut throttled) = (0, 0);
    for guess in guesses {
        let reply = guess.await.unwrap();
        match reply.status().as_u16() {
            401 => refused += 1,
            429 => {
                assert!(reply.headers().contains_key("retry-after"), "a throttled guess is told when to come back");
                throttled += 1;
            }
            other => panic!("a wrong key got {other}"),
        }
    }
    // The default allows 30 failures a minute from one address; past that, guesses wait in a
    // narrow lane that holds a few (and drains as they arrive), and the rest are turned away.
    assert!(refused <= 70, "{refused} guesses were checked; the rest should have been throttled");
    assert_eq!(refused + throttled, 200);
    assert!(svc.state.hashes.verifications() - runs_before <= 70, "throttled guesses cost no argon2");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_takes_as_long_whether_or_not_the_key_id_exists() {
    // No throttling here: this measures the checks themselves.
    let svc = Service::start_with(|c| c.failed_auth_per_minute = 100_000).await;
    let owner = svc.store("Acme").await;
    let session = svc.login(&owner, "laptop").await;
    let (id, _) = svc.create_key(&session, json!({"name": "bot"})).await;
    let (known, unknown) = (forged(&id), forged("Zz000000"));

    let time = |key: String| {
        let svc = &svc;
        async move {
            let started = Instant::now();
            let reply = svc.with_key("/v1/whoami", &key).await;
            assert_eq!(reply.status, 401);
            started.elapsed()
        }
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    // Interleaved, so whatever else the machine is doing weighs on both alike.
    for _ in 0..25 {
        a.push(time(known.clone()).await);
        b.push(time(unknown.clone()).await);
    }
    a.sort();
    b.sort();
    let (a, b) = (a[a.len() / 2].as_secs_f64(), b[b.len() / 2].as_secs_f64());
    let ratio = a / b;
    // Without the decoy hash an unknown id answers in well under a tenth of the time.
    assert!((0.5..=2.0).contains(&ratio), "median {:.1} ms for a real id vs {:.1} ms for an unknown one", a * 1e3, b * 1e3);
}
