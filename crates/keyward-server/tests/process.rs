//! The `keyward-server` binary as an operator runs it: admin commands, the demo, crash safety
//! under SIGKILL, and logs that never hold a secret. On a SQLite file, or with
//! `KEYWARD_TEST_BACKEND=postgres` on a PostgreSQL database of its own (`./dev test` runs both).

mod support;

use std::path::PathBuf;

use keyward_server::db::Database;
use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_keyward-server");
const PASSWORD: &str = "operator-chosen-pw";

struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    /// Starts `keyward-server ARGS --listen 127.0.0.1:0` and waits for its address.
    async fn start(command: &str, db: &str, log: &std::path::Path, log_level: &str) -> Server {
        let mut server = Command::new(BIN);
        server
            .args([command, "--database", db, "--listen", "127.0.0.1:0", "--brand", "asmk"])
            .env("KEYWARD_LOG", log_level)
            .stderr(std::fs::File::create(log).unwrap());
        let (child, base) = support::serving(server).await;
        Server { child, base, log: log.to_owned() }
    }

    async fn kill(mut self) {
        self.child.kill().await.unwrap(); // SIGKILL on Unix: no shutdown code runs.
    }

    async fn call(&self, method: reqwest::Method, path: &str, auth: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let client = reqwest::Client::new();
        let mut request = client.request(method, format!("{}{path}", self.base));
        if let Some(auth) = auth {
            request = request.bearer_auth(auth);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

async fn admin(db: &str, args: &[&str]) -> String {
    let output = Command::new(BIN)
        .args(args)
        .args(["--database", db])
        .env("KEYWARD_PASSWORD", PASSWORD)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

async fn store_with_owner(db: &str) -> String {
    admin(db, &["store", "create", "--name", "Acme", "--owner-name", "Ada Owner", "--owner-email", "ada@acme.test"]).await
}

async fn login(server: &Server) -> String {
    let (status, body) = server
        .call(reqwest::Method::POST, "/api/session", None, Some(json!({"email": "ada@acme.test", "password": PASSWORD, "device_name": "laptop"})))
        .await;
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn admin_commands_create_stores_staff_and_switch_the_subscription() {
    let (dir, _database, db) = support::database_for_the_binary().await;
    let store = store_with_owner(&db).await;
    assert!(store.starts_with("sto_"));
    let staff = admin(&db, &["add-staff", "--store", &store, "--name", "Sam", "--email", "sam@acme.test"]).await;
    assert!(staff.starts_with("usr_"));
    assert!(admin(&db, &["store", "list"]).await.contains(&format!("{store}\tAcme\tactive")));
    admin(&db, &["subscription", "--store", &store, "--active", "false"]).await;
    assert!(admin(&db, &["store", "list"]).await.contains("subscription inactive"));

    let server = Server::start("serve", &db, &dir.path().join("log"), "info").await;
    let session = login(&server).await;
    let (_, created) = server.call(reqwest::Method::POST, "/api/keys", Some(&session), Some(json!({"name": "bot"}))).await;
    let key = created["key"].as_str().unwrap();
    let (status, body) = server.call(reqwest::Method::GET, "/v1/whoami", Some(key), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("subscription_inactive")));
    // The admin command works on a live service's database, and the next request sees it.
    admin(&db, &["subscription", "--store", &store, "--active", "true"]).await;
    assert_eq!(server.call(reqwest::Method::GET, "/v1/whoami", Some(key), None).await.0, 200);

    let missing = Command::new(BIN).args(["add-staff", "--store", "sto_nope", "--name", "X", "--email", "x@x.test", "--database"]).arg(&db)
        .env("KEYWARD_PASSWORD", PASSWORD).output().await.unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("There is no store sto_nope"));
}

#[tokio::test]
async fn a_database_made_for_one_brand_refuses_another() {
    let (dir, _database, db) = support::database_for_the_binary().await;
    let server = Server::start("serve", &db, &dir.path().join("log"), "info").await;
    server.kill().await;
    let output = Command::new(BIN).args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--brand", "lstk", "--database"]).arg(&db).output().await.unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("Start the service with --brand asmk"));
}

#[tokio::test]
async fn the_demo_prints_its_accounts_and_they_sign_in() {
    let (_dir, _database, db) = support::database_for_the_binary().await;
    let mut child = Command::new(BIN)
        .args(["demo", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--database"])
        .arg(&db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for _ in 0..5 {
        printed.push(lines.next_line().await.unwrap().unwrap());
    }
    let text = printed.join("\n");
    assert!(text.contains("owner@demo.keyward.test / keyward-demo"), "{text}");
    let base = printed[0].rsplit(' ').next().unwrap();
    let reply = reqwest::Client::new()
        .post(format!("{base}/api/session"))
        .json(&json!({"email": "owner@demo.keyward.test", "password": "keyward-demo", "device_name": "demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 201);
    let token = reply.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let key: Value = client.post(format!("{base}/api/keys")).bearer_auth(&token).json(&json!({"name": "demo"})).send().await.unwrap().json().await.unwrap();
    let materials: Value = client.get(format!("{base}/v1/raw-materials")).header("x-api-key", key["key"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    assert!(materials.as_array().unwrap().len() >= 3, "{materials}");
}

#[tokio::test]
async fn acknowledged_creates_and_revokes_survive_sigkill() {
    let (dir, _database, db) = support::database_for_the_binary().await;
    store_with_owner(&db).await;
    let server = Server::start("serve", &db, &dir.path().join("log1"), "info").await;
    let session = login(&server).await;
    let (_, doomed) = server.call(reqwest::Method::POST, "/api/keys", Some(&session), Some(json!({"name": "doomed"}))).await;
    let (status, revoked) = server.call(reqwest::Method::DELETE, &format!("/api/keys/{}", doomed["id"].as_str().unwrap()), Some(&session), None).await;
    assert_eq!(status, 200, "{revoked}");
    let (status, kept) = server.call(reqwest::Method::POST, "/api/keys", Some(&session), Some(json!({"name": "kept"}))).await;
    assert_eq!(status, 201);
    server.kill().await; // right after the 201

    let server = Server::start("serve", &db, &dir.path().join("log2"), "info").await;
    let (status, me) = server.call(reqwest::Method::GET, "/v1/whoami", Some(kept["key"].as_str().unwrap()), None).await;
    assert_eq!(status, 200, "{me}");
    let (status, refused) = server.call(reqwest::Method::GET, "/v1/whoami", Some(doomed["key"].as_str().unwrap()), None).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (401, Some("key_revoked")));
}

#[tokio::test]
async fn no_secret_ever_reaches_the_log() {
    let (dir, _database, db) = support::database_for_the_binary().await;
    store_with_owner(&db).await;
    let server = Server::start("serve", &db, &dir.path().join("log"), "trace").await;
    let session = login(&server).await;
    let mut secrets = vec![PASSWORD.to_owned(), session.clone()];

    let (_, created) = server.call(reqwest::Method::POST, "/api/keys", Some(&session), Some(json!({"name": "bot", "scopes": ["read", "write"]}))).await;
    let key = created["key"].as_str().unwrap().to_owned();
    let prefix = created["key_prefix"].as_str().unwrap().to_owned();
    secrets.push(key[13..45].to_owned());
    assert_eq!(server.call(reqwest::Method::GET, "/v1/whoami", Some(&key), None).await.0, 200);
    let client = reqwest::Client::new();
    assert_eq!(client.get(format!("{}/v1/boms", server.base)).header("x-api-key", &key).send().await.unwrap().status(), 200);
    let mut typo = key.clone().into_bytes();
    typo[30] = if typo[30] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    assert_eq!(server.call(reqwest::Method::GET, "/v1/whoami", Some(&typo), None).await.0, 401);
    secrets.push(typo[13..45].to_owned());
    let (_, rotated) = server.call(reqwest::Method::POST, &format!("/api/keys/{}/rotate", created["id"].as_str().unwrap()), Some(&session), Some(json!({"overlap_seconds": 60}))).await;
    secrets.push(rotated["replacement"]["key"].as_str().unwrap()[13..45].to_owned());
    let (_, code) = server.call(reqwest::Method::POST, "/api/connections/codes", Some(&session), Some(json!({}))).await;
    let code = code["code"].as_str().unwrap().to_owned();
    // An app connects through the consent page, once with the code and once with a sign-in.
    let with_code = authorize_over_http(&server.base, &[("connection_code", &code), ("decision", "approve")]).await;
    let with_password = authorize_over_http(&server.base, &[("email", "ada@acme.test"), ("password", PASSWORD), ("scope", "write"), ("decision", "approve")]).await;
    // MCP with the key, then with the app's access token.
    for credential in [key.clone(), format!("Bearer {}", with_code["access_token"].as_str().unwrap())] {
        let header = if credential.starts_with("Bearer ") { "authorization" } else { "x-api-key" };
        let mcp = client
            .post(format!("{}/mcp", server.base))
            .header(header, &credential)
            .header("accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
            .send()
            .await
            .unwrap();
        assert_eq!(mcp.status(), 200);
    }
    secrets.push(code);
    for grant in [&with_code, &with_password] {
        for field in ["access_token", "refresh_token", "authorization_code", "csrf_token"] {
            secrets.push(grant[field].as_str().unwrap().to_owned());
        }
    }
    let log_path = server.log.clone();
    server.kill().await;

    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(log.contains(&prefix), "the log names keys by prefix, so it is not simply empty");
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a secret reached the log");
    }
}

/// An app registers, the merchant answers the consent page with `typed`, and the app trades
/// the code: the tokens, with the authorization code and the form's CSRF token beside them.
async fn authorize_over_http(base: &str, typed: &[(&str, &str)]) -> Value {
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let redirect = "http://127.0.0.1:9/callback";
    let registered: Value = browser.post(format!("{base}/oauth/register")).json(&json!({"client_name": "Claude", "redirect_uris": [redirect]}))
        .send().await.unwrap().json().await.unwrap();
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let resource = format!("{base}/mcp");
    let mut page_url = url::Url::parse(&format!("{base}/oauth/authorize")).unwrap();
    page_url.query_pairs_mut().extend_pairs([("response_type", "code"), ("client_id", &client_id), ("redirect_uri", redirect), ("state", "s"),
        ("code_challenge", CHALLENGE), ("code_challenge_method", "S256"), ("resource", &resource)]);
    let page = browser.get(page_url).send().await.unwrap().text().await.unwrap();
    let mut form: Vec<(String, String)> = page
        .split("<input type=\"hidden\" ")
        .skip(1)
        .map(|input| {
            let attribute = |name: &str| input.split(&format!("{name}=\"")).nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
            (attribute("name"), attribute("value"))
        })
        .collect();
    let csrf_token = form.iter().find(|(k, _)| k == "csrf_token").unwrap().1.clone();
    form.extend(typed.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let answer = browser.post(format!("{base}/oauth/authorize")).form(&form).send().await.unwrap();
    assert_eq!(answer.status(), 303);
    let location = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    let code = location.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let mut tokens: Value = browser.post(format!("{base}/oauth/token"))
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("code_verifier", VERIFIER), ("client_id", &client_id), ("redirect_uri", redirect), ("resource", &resource)])
        .send().await.unwrap().json().await.unwrap();
    tokens["authorization_code"] = json!(code);
    tokens["csrf_token"] = json!(csrf_token);
    tokens
}

/// One management call that may meet a dying server: `None` when no answer came.
async fn try_call(http: &reqwest::Client, base: &str, method: reqwest::Method, path: &str, session: &str, body: Option<Value>) -> Option<(u16, Value)> {
    let mut request = http.request(method, format!("{base}{path}")).bearer_auth(session);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.ok()?))
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_in_the_middle_of_a_stream_of_creates_and_revokes_loses_nothing_acknowledged() {
    use rand::RngExt;
    let (dir, _database, db) = support::database_for_the_binary().await;
    store_with_owner(&db).await;
    let mut session = None;
    // Keys whose creation was acknowledged (and not their revocation), and keys whose
    // revocation was acknowledged. A key whose revoke was in flight at the kill is in neither.
    let mut alive: Vec<(String, String)> = Vec::new();
    let mut revoked: Vec<String> = Vec::new();
    let mut rng = rand::rng();

    // Six kills, and a seventh start that only checks.
    for round in 0..7 {
        let server = Server::start("serve", &db, &dir.path().join(format!("log{round}")), "warn").await;
        let session = session.get_or_insert(login(&server).await).clone();
        for (_, key) in &alive {
            let (status, body) = server.call(reqwest::Method::GET, "/v1/whoami", Some(key), None).await;
            assert_eq!(status, 200, "round {round}: an acknowledged key stopped working after the kill: {body}");
        }
        for key in &revoked {
            let (status, body) = server.call(reqwest::Method::GET, "/v1/whoami", Some(key), None).await;
            assert_eq!((status, body["error"]["code"].as_str()), (401, Some("key_revoked")), "round {round}: an acknowledged revoke did not hold");
        }
        if round == 6 {
            break;
        }

        // Creates and revokes as fast as they go, until the server dies under them.
        let base = server.base.clone();
        let mut stream_alive = std::mem::take(&mut alive);
        let stream = tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut newly_revoked = Vec::new();
            for n in 0.. {
                // Keep few keys active: an unacknowledged create may still have used a slot.
                if stream_alive.len() >= 4 {
                    let (id, key) = stream_alive.remove(0);
                    match try_call(&http, &base, reqwest::Method::DELETE, &format!("/api/keys/{id}"), &session, None).await {
                        Some((200, _)) => newly_revoked.push(key),
                        Some((status, body)) => panic!("a revoke got {status}: {body}"),
                        None => break,
                    }
                    continue;
                }
                match try_call(&http, &base, reqwest::Method::POST, "/api/keys", &session, Some(json!({"name": format!("stream {n}")}))).await {
                    Some((201, body)) => stream_alive.push((body["id"].as_str().unwrap().to_owned(), body["key"].as_str().unwrap().to_owned())),
                    Some((status, body)) => panic!("a create got {status}: {body}"),
                    None => break,
                }
            }
            (stream_alive, newly_revoked)
        });
        tokio::time::sleep(std::time::Duration::from_millis(rng.random_range(50..400))).await;
        server.kill().await;
        let (now_alive, newly_revoked) = stream.await.unwrap();
        alive = now_alive;
        revoked.extend(newly_revoked);
    }
    assert!(revoked.len() >= 6 && !alive.is_empty(), "the stream did real work: {} revoked, {} alive", revoked.len(), alive.len());
}

/// Security review, finding 9: the switch that turns authentication off for the benchmarks is
/// not in the binary operators run (it lives in keyward-bench's own binary).
#[tokio::test]
async fn the_server_binary_has_no_switch_to_turn_authentication_off() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keyward.db");
    let run = Command::new(BIN)
        .args(["serve", "--db", db.to_str().unwrap(), "--listen", "127.0.0.1:0", "--benchmark-without-auth", "sto_any"])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(10), run)
        .await
        .expect("keyward-server accepted --benchmark-without-auth and started serving")
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "the flag must be unknown: {}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unexpected argument"));
    assert!(!db.exists(), "nothing was started");
}

#[tokio::test]
async fn a_public_url_with_a_path_or_credentials_is_refused_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keyward.db");
    for bad in ["https://keys.example.com/keyward", "https://user:pw@keys.example.com", "ftp://keys.example.com", "https://keys.example.com/?x=1"] {
        let run = Command::new(BIN).args(["serve", "--db", db.to_str().unwrap(), "--listen", "127.0.0.1:0", "--public-url", bad]).kill_on_drop(true).output();
        let output = tokio::time::timeout(std::time::Duration::from_secs(10), run).await.expect("it refused instead of serving").unwrap();
        assert!(!output.status.success(), "{bad}");
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(said.contains("--public-url must be an http:// or https:// origin"), "{bad}: {said}");
    }
    assert!(!db.exists(), "nothing was started");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_have_their_own_address_and_sigterm_finishes_every_accepted_request() {
    let (_dir, _database, db) = support::database_for_the_binary().await;
    store_with_owner(&db).await;
    let mut child = Command::new(BIN)
        .args(["serve", "--database", &db, "--listen", "127.0.0.1:0", "--brand", "asmk"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = lines.next_line().await.unwrap().unwrap().rsplit(' ').next().unwrap().to_owned();
    let metrics_line = lines.next_line().await.unwrap().unwrap();
    let metrics_url = metrics_line.split(' ').find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("{metrics_line}")).to_owned();
    assert!(metrics_url.ends_with("/metrics") && !metrics_url.starts_with(&base), "{metrics_url} is apart from {base}");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let http = reqwest::Client::new();
    assert_eq!(http.get(format!("{base}/readyz")).send().await.unwrap().status(), 200);
    let scraped = http.get(&metrics_url).send().await.unwrap().text().await.unwrap();
    assert!(scraped.contains(r#"keyward_http_requests_total{route="/readyz",method="GET",status="200"} 1"#), "{scraped}");

    // Sign-ins (argon2, tens of milliseconds each) in flight when SIGTERM arrives: each one
    // the service accepted is answered; the rest are refused at connect, never cut off.
    let sign_in = json!({"email": "ada@acme.test", "password": PASSWORD, "device_name": "laptop"});
    let requests: Vec<_> = (0..16)
        .map(|_| {
            let (http, url, body) = (reqwest::Client::new(), format!("{base}/api/session"), sign_in.clone());
            tokio::spawn(async move { http.post(url).json(&body).send().await })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let pid = child.id().unwrap().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().await.unwrap().success());
    let mut answered = 0;
    for request in requests {
        match request.await.unwrap() {
            Ok(response) => {
                // Signed in, or told the argon2 queue is full (429): either way, answered.
                assert!(matches!(response.status().as_u16(), 201 | 429), "{}", response.status());
                answered += 1;
            }
            Err(e) => assert!(e.is_connect(), "an accepted request was dropped: {e:?}"),
        }
    }
    assert!(answered > 0, "some sign-ins were in flight");
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait()).await.expect("it drained and exited").unwrap();
    assert!(status.success(), "{status:?}");
}

/// `keyward-server ARGS --database DB` with the most verbose log, for commands expected to fail or
/// whose log is inspected.
async fn admin_output(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).args(["--database", db]).env("KEYWARD_LOG", "trace").output().await.unwrap()
}

/// A live connection of `store` to OAuth client `client`, with an access token, as an
/// authorization would leave it. Returns the token.
async fn connect(database: &Database, store: &str, client: &str, connection_id: &str, app: &str) -> String {
    use sha2::Digest;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let owner: String = support::sql_value(database, "SELECT id FROM users WHERE store_id = $1", &[store]).await.unwrap();
    support::sql(
        database,
        &format!(
            "INSERT INTO connections (id, store_id, app_name, scopes, granted_by, created_at, client_id, kind, redirect_host)
             VALUES ($1, $2, $3, 'read', $4, {now}, $5, 'partner', 'sync.example')"
        ),
        &[connection_id, store, app, &owner, client],
    )
    .await;
    let token = format!("kwat_{:0<43}", connection_id.replace('_', ""));
    let digest: String = sha2::Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    // The digest as a hex literal each backend reads as bytes.
    let bytes = match database {
        Database::Sqlite(_) => format!("X'{digest}'"),
        Database::Postgres(_) => format!("'\\x{digest}'::bytea"),
    };
    support::sql(
        database,
        &format!("INSERT INTO connection_tokens (token_hash, connection_id, kind, expires_at) VALUES ({bytes}, $1, 'access', {})", now + 3600),
        &[connection_id],
    )
    .await;
    token
}

#[tokio::test]
async fn the_operator_adds_lists_and_removes_partner_apps_and_removal_revokes_their_connections() {
    use sha2::Digest;
    let (dir, database, db) = support::database_for_the_binary().await;
    let acme = store_with_owner(&db).await;
    let beta = admin(&db, &["store", "create", "--name", "Beta", "--owner-name", "Bo", "--owner-email", "bo@beta.test"]).await;

    let added = admin_output(&db, &["partner", "add", "--name", " Acme Sync ", "--redirect-uri", "https://sync.example/cb", "--redirect-uri", "http://127.0.0.1:9000/cb"]).await;
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let stdout = String::from_utf8(added.stdout).unwrap();
    let stderr = String::from_utf8(added.stderr).unwrap();
    let value = |label: &str| stdout.lines().find_map(|l| l.strip_prefix(label)).unwrap_or_else(|| panic!("{label} in {stdout}")).trim().to_owned();
    let (client_id, secret) = (value("client_id:"), value("client_secret:"));
    assert!(client_id.starts_with("cli_"), "{stdout}");
    assert!(secret.starts_with("kwcs_") && secret.len() > 40, "{stdout}");
    assert!(stderr.contains("shown this once"), "{stderr}");
    assert!(!stderr.contains(&secret), "the secret reached the log");

    // Only the secret's digest is stored, with the partner's kind and authentication method.
    let column = |name: &'static str| {
        let (database, client_id) = (&database, client_id.clone());
        async move { support::sql_value::<String>(database, &format!("SELECT {name} FROM oauth_clients WHERE id = $1"), &[&client_id]).await.unwrap() }
    };
    assert_eq!((column("name").await, column("kind").await, column("auth_method").await), ("Acme Sync".into(), "partner".into(), "client_secret_basic".into()));
    assert_eq!(serde_json::from_str::<Vec<String>>(&column("redirect_uris").await).unwrap(), ["https://sync.example/cb", "http://127.0.0.1:9000/cb"]);
    let hash: Vec<u8> = support::sql_value(&database, "SELECT secret_hash FROM oauth_clients WHERE id = $1", &[&client_id]).await.unwrap();
    assert_eq!(hash, sha2::Sha256::digest(secret.as_bytes()).to_vec(), "the printed secret is the one whose digest is stored");
    assert!(!support::at_rest(&database).await.contains(&secret), "the secret is in the database");

    let other = admin(&db, &["partner", "add", "--name", "Other", "--redirect-uri", "https://other.example/cb"]).await;
    let other_id = other.lines().next().unwrap().trim_start_matches("client_id:").trim().to_owned();
    let list = admin(&db, &["partner", "list"]).await;
    let line = list.lines().find(|l| l.starts_with(&client_id)).unwrap_or_else(|| panic!("{list}"));
    assert!(line.contains("\tAcme Sync\thttps://sync.example/cb http://127.0.0.1:9000/cb\tcreated 20"), "{line}");
    assert!(line.ends_with("never used"), "{line}");
    assert!(list.contains(&other_id) && !list.contains("kwcs_"), "{list}");

    // Two stores approved the partner; one of them had already revoked an older connection.
    let acme_token = connect(&database, &acme, &client_id, "con_acme1", "Acme Sync").await;
    let beta_token = connect(&database, &beta, &client_id, "con_beta1", "Acme Sync").await;
    connect(&database, &acme, &client_id, "con_acme0", "Acme Sync").await;
    connect(&database, &acme, &other_id, "con_other", "Other").await;
    support::sql(&database, "UPDATE connections SET revoked_at = 1000 WHERE id = 'con_acme0'", &[]).await;
    let server = Server::start("serve", &db, &dir.path().join("log"), "info").await;
    for token in [&acme_token, &beta_token] {
        let (status, body) = server.call(reqwest::Method::GET, "/v1/whoami", Some(token), None).await;
        assert_eq!(status, 200, "{body}");
    }

    // The printed secret authenticates the partner at /oauth/token (the grant itself is bogus).
    let token_call = |secret: String| {
        let (base, client_id) = (server.base.clone(), client_id.clone());
        async move {
            let response = reqwest::Client::new()
                .post(format!("{base}/oauth/token"))
                .basic_auth(client_id, Some(secret))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", "kwrt_not_a_real_one")])
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body["error"].as_str().unwrap_or_default().to_owned())
        }
    };
    assert_eq!(token_call(secret.clone()).await, (400, "invalid_grant".to_owned()));
    assert_eq!(token_call(format!("{secret}x")).await, (401, "invalid_client".to_owned()));

    let removed = admin_output(&db, &["partner", "remove", &client_id]).await;
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    assert_eq!(String::from_utf8_lossy(&removed.stdout).trim(), "Removed partner app \"Acme Sync\" and revoked 2 connections.");

    // The live service sees it on the very next request.
    for token in [&acme_token, &beta_token] {
        let (status, body) = server.call(reqwest::Method::GET, "/v1/whoami", Some(token), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("connection_revoked")), "{body}");
    }
    assert_eq!(token_call(secret.clone()).await, (401, "invalid_client".to_owned()), "a removed partner cannot authenticate");
    let clients: i64 = support::sql_value(&database, "SELECT COUNT(*) FROM oauth_clients WHERE id = $1", &[&client_id]).await.unwrap();
    assert_eq!(clients, 0);
    let revoked_at = async |id: &str| support::sql_value::<Option<i64>>(&database, "SELECT revoked_at FROM connections WHERE id = $1", &[id]).await.flatten();
    assert!(revoked_at("con_acme1").await.is_some() && revoked_at("con_beta1").await.is_some());
    assert_eq!(revoked_at("con_acme0").await, Some(1000), "an already revoked connection keeps its date");
    assert_eq!(revoked_at("con_other").await, None, "another partner's connection is untouched");
    let summary = "Revoked the connection of \"Acme Sync\": the operator removed the partner app".to_owned();
    let revocations: i64 = support::sql_value(&database, "SELECT COUNT(*) FROM audit_events WHERE action = 'connection.revoked'", &[]).await.unwrap();
    assert_eq!(revocations, 2, "one entry for each live connection");
    for (store, connection) in [(&acme, "con_acme1"), (&beta, "con_beta1")] {
        let entry: Option<String> = support::sql_value(
            &database,
            "SELECT summary FROM audit_events WHERE action = 'connection.revoked' AND store_id = $1 AND target_id = $2 AND actor_user IS NULL",
            &[store, connection],
        )
        .await;
        assert_eq!(entry.as_ref(), Some(&summary), "in {store}'s trail, by nobody in the store");
    }

    let list = admin(&db, &["partner", "list"]).await;
    assert!(!list.contains(&client_id) && list.contains(&other_id), "{list}");
    let again = admin_output(&db, &["partner", "remove", &client_id]).await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains(&format!("There is no partner app {client_id}. `keyward-server partner list` shows their client ids.")));
    server.kill().await;
}

#[tokio::test]
async fn a_partner_app_with_a_bad_name_or_redirect_uri_is_refused_and_nothing_is_stored() {
    let (_dir, database, db) = support::database_for_the_binary().await;
    assert_eq!(admin(&db, &["partner", "list"]).await, "", "none yet");
    let cases: &[(&str, &str, &str)] = &[
        ("Sync", "http://sync.example/cb", "uses plain http:// on another machine"),
        ("Sync", "ftp://sync.example/cb", "must use https://"),
        ("Sync", "https://sync.example/cb#done", "has a fragment"),
        ("Sync", "/cb", "is not an absolute URL"),
        ("   ", "https://sync.example/cb", "The partner app name is empty"),
        ("Sy\u{7}nc", "https://sync.example/cb", "control characters"),
    ];
    for (name, uri, says) in cases {
        // A good URI first: one bad one refuses the whole registration.
        let output = admin_output(&db, &["partner", "add", "--name", name, "--redirect-uri", "https://ok.example/cb", "--redirect-uri", uri]).await;
        assert!(!output.status.success(), "{name} {uri}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{uri}: {stderr}");
        assert!(!String::from_utf8_lossy(&output.stdout).contains("kwcs_"));
    }
    let missing = admin_output(&db, &["partner", "add", "--name", "Sync"]).await;
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--redirect-uri"));
    let stored: i64 = support::sql_value(&database, "SELECT COUNT(*) FROM oauth_clients", &[]).await.unwrap();
    assert_eq!(stored, 0);
    assert_eq!(admin(&db, &["partner", "list"]).await, "");
}
