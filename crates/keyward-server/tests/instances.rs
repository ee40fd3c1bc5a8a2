//! Several instances of the key service on one PostgreSQL database keep every promise one
//! instance keeps: a revocation made through one holds on the very next request to another,
//! ten working keys per store however creates race across instances, one-time credentials are
//! spent once, and an instance killed mid-stream loses nothing it acknowledged.
//!
//! The instances are real `keyward-server serve --database postgres://…` processes; the
//! one-time credentials race through two stores with pools of their own, as two instances do.

mod support;


use keyward_server::db::{Database, Db, IssuedTokens, NewAuthorizationCode, PresentedCode, TokenClient};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_keyward-server");
const PASSWORD: &str = "operator-chosen-pw";

/// One `keyward-server serve` process.
struct Instance {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Instance {
    async fn start(database: &str) -> Instance {
        Instance::start_with(database, &[]).await
    }

    async fn start_with(database: &str, more: &[&str]) -> Instance {
        let mut server = Command::new(BIN);
        server
            .args(["serve", "--database", database, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--brand", "asmk"])
            .args(more)
            .env("KEYWARD_LOG", "warn");
        let (child, base) = support::serving(server).await;
        Instance { child, base, http: reqwest::Client::new() }
    }

    async fn call(&self, method: Method, path: &str, auth: Option<&str>, body: Option<Value>) -> Result<(StatusCode, Value), reqwest::Error> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(auth) = auth {
            request = request.bearer_auth(auth);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    async fn must(&self, method: Method, path: &str, auth: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        self.call(method, path, auth, body).await.unwrap()
    }

    async fn login(&self) -> String {
        let body = json!({"email": "ada@acme.test", "password": PASSWORD, "device_name": "laptop"});
        let (status, body) = self.must(Method::POST, "/api/session", None, Some(body)).await;
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    async fn whoami(&self, key: &str) -> StatusCode {
        self.must(Method::GET, "/v1/whoami", Some(key), None).await.0
    }
}

/// A fresh database with the store Acme and its owner, made by the operator's admin command.
async fn database_with_store() -> String {
    let url = support::fresh_database().await;
    let output = Command::new(BIN)
        .args(["store", "create", "--database", &url, "--name", "Acme", "--owner-name", "Ada Owner", "--owner-email", "ada@acme.test"])
        .env("KEYWARD_PASSWORD", PASSWORD)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    url
}

#[tokio::test]
async fn a_key_revoked_through_one_instance_is_refused_by_the_other_on_the_next_request() {
    let url = database_with_store().await;
    let (a, b) = (Instance::start(&url).await, Instance::start(&url).await);
    let session = a.login().await;
    let (status, created) = a.must(Method::POST, "/api/keys", Some(&session), Some(json!({"name": "bot"}))).await;
    assert_eq!(status, 201, "{created}");
    let (id, key) = (created["id"].as_str().unwrap(), created["key"].as_str().unwrap());
    // B has verified this secret and remembers that it matched; status is still read fresh.
    assert_eq!(b.whoami(key).await, 200);
    assert_eq!(b.whoami(key).await, 200);
    let (status, _) = a.must(Method::DELETE, &format!("/api/keys/{id}"), Some(&session), None).await;
    assert_eq!(status, 200);
    assert_eq!(b.whoami(key).await, 401, "the very next request through B");
    assert_eq!(a.whoami(key).await, 401);
    // A session signed in through A is one device, signed out everywhere at once.
    let (status, _) = b.must(Method::DELETE, "/api/session", Some(&session), None).await;
    assert_eq!(status, 204);
    assert_eq!(a.must(Method::GET, "/api/keys", Some(&session), None).await.0, 401);
}

#[tokio::test]
async fn twelve_creates_racing_on_two_instances_make_exactly_ten_keys() {
    let url = database_with_store().await;
    let (a, b) = (Instance::start(&url).await, Instance::start(&url).await);
    let session = a.login().await;
    // Twelve at once, alternating between the instances, on tasks of their own.
    let targets = [(a.base.clone(), a.http.clone()), (b.base.clone(), b.http.clone())];
    let creates: Vec<_> = (0..12)
        .map(|i| {
            let ((base, http), session) = (targets[i % 2].clone(), session.clone());
            tokio::spawn(async move {
                let response = http.post(format!("{base}/api/keys")).bearer_auth(session).json(&json!({"name": format!("bot {i}")})).send().await.unwrap();
                (response.status(), response.json::<Value>().await.unwrap_or(Value::Null))
            })
        })
        .collect();
    let mut answers = Vec::new();
    for create in creates {
        answers.push(create.await.unwrap());
    }
    let made = answers.iter().filter(|(status, _)| *status == 201).count();
    let refused: Vec<&Value> = answers.iter().filter(|(status, _)| *status == 409).map(|(_, body)| body).collect();
    assert_eq!((made, refused.len()), (10, 2), "{answers:?}");
    assert!(refused.iter().all(|body| body["error"]["code"] == "active_key_limit"), "{refused:?}");
    let (_, listed) = b.must(Method::GET, "/api/keys", Some(&session), None).await;
    assert_eq!(listed["keys"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn an_instance_killed_mid_stream_loses_no_acknowledged_create_or_revoke() {
    let url = database_with_store().await;
    let (a, b) = (Instance::start(&url).await, Instance::start(&url).await);
    let session = a.login().await;
    let (tx, mut acknowledged) = tokio::sync::mpsc::unbounded_channel::<(String, bool)>();
    let (base, http, stream_session) = (a.base.clone(), a.http.clone(), session.clone());
    // Create a key and revoke it, over and over, until A stops answering; every answer that
    // came back is an acknowledgement the merchant relies on.
    let stream = tokio::spawn(async move {
        loop {
            let created = http.post(format!("{base}/api/keys")).bearer_auth(&stream_session).json(&json!({"name": "churn"})).send().await;
            let Ok(created) = created else { return };
            if created.status() != 201 {
                return;
            }
            let Ok(body) = created.json::<Value>().await else { return };
            let id = body["id"].as_str().unwrap().to_owned();
            let _ = tx.send((id.clone(), false));
            let revoked = http.delete(format!("{base}/api/keys/{id}")).bearer_auth(&stream_session).send().await;
            match revoked {
                Ok(r) if r.status() == 200 => {
                    let _ = tx.send((id, true));
                }
                _ => return,
            }
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let Instance { mut child, .. } = a;
    child.kill().await.unwrap(); // SIGKILL: no shutdown code runs.
    stream.await.unwrap();
    let mut created = std::collections::BTreeSet::new();
    let mut revoked = std::collections::BTreeSet::new();
    while let Ok((id, is_revoke)) = acknowledged.try_recv() {
        if is_revoke { revoked.insert(id) } else { created.insert(id) };
    }
    assert!(created.len() >= 3, "the stream ran before the kill: {created:?}");
    let (status, listed) = b.must(Method::GET, "/api/keys?include_revoked=true", Some(&session), None).await;
    assert_eq!(status, 200, "{listed}");
    let keys = listed["keys"].as_array().unwrap();
    for id in &created {
        let key = keys.iter().find(|k| k["id"] == id.as_str()).unwrap_or_else(|| panic!("acknowledged create {id} was lost"));
        if revoked.contains(id) {
            assert_eq!(key["status"], "revoked", "acknowledged revoke of {id} was lost: {key}");
        }
    }
}

/// A store of its own on the same database: another instance, as far as the database can tell.
async fn instance_store(url: &str) -> Db {
    let store = Database::Postgres(url.to_owned()).open().await.unwrap();
    store.ensure_brand("asmk").await.unwrap();
    store
}

/// The PKCE verifier of every authorization below.
const VERIFIER: &str = "a-verifier-long-enough-for-pkce-s256-0123456789";
const CLAUDE_CALLBACK: &str = "https://claude.ai/api/mcp/auth_callback";

/// Registers Claude as a public client; its id.
async fn register_claude(db: &Db) -> String {
    let client = keyward_server::db::NewClient {
        name: "Claude".into(),
        kind: "registered",
        redirect_uris: vec![CLAUDE_CALLBACK.into()],
        auth_method: "none".into(),
        secret_hash: None,
    };
    db.register_client(client).await.unwrap().id
}

/// An authorization code (digest `[n; 32]`) for Claude, approved on the consent page.
fn claude_code(n: u8, client_id: &str) -> NewAuthorizationCode {
    NewAuthorizationCode {
        code_hash: vec![n; 32],
        client_id: client_id.into(),
        app_name: "Claude".into(),
        kind: "web_chat",
        redirect_uri: CLAUDE_CALLBACK.into(),
        code_challenge: keyward_server::oauth::pkce::challenge_of(VERIFIER),
        resource: "http://127.0.0.1/mcp".into(),
    }
}

/// The store's owner approves `code`, read only, by signing in on the consent page.
async fn approve_as_owner(db: &Db, owner: &keyward_server::db::LoginCandidate, code: NewAuthorizationCode) {
    db.approve_as_member(owner.user.id.clone(), owner.password_hash.clone(), owner.store_id.clone(), keyward_core::Scopes::read_only(), code)
        .await
        .unwrap();
}

/// What `client_id` presents with a code at the token endpoint.
fn presented(client_id: &str) -> PresentedCode {
    PresentedCode { client: TokenClient { client_id: client_id.into(), resource: None }, redirect_uri: None, code_verifier: VERIFIER.into() }
}

/// A token pair: access `[n; 32]`, refresh `[n + 100; 32]`.
fn tokens(n: u8) -> IssuedTokens {
    IssuedTokens { access_hash: vec![n; 32], refresh_hash: vec![n + 100; 32] }
}

#[tokio::test]
async fn an_authorization_code_and_a_refresh_token_are_spent_once_across_instances() {
    let url = database_with_store().await;
    let (a, b) = (instance_store(&url).await, instance_store(&url).await);
    let owner = a.login_candidate("ada@acme.test".into()).await.unwrap().unwrap();
    let client = register_claude(&a).await;
    approve_as_owner(&a, &owner, claude_code(7, &client)).await;
    let presented = presented(&client);
    // The same code traded on both instances at the same moment: one wins.
    let (on_a, on_b) = tokio::join!(
        a.exchange_authorization_code(vec![7; 32], presented.clone(), tokens(1)),
        b.exchange_authorization_code(vec![7; 32], presented.clone(), tokens(2)),
    );
    let outcomes = [on_a.unwrap(), on_b.unwrap()];
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().any(|o| matches!(o, Err(keyward_server::oauth::refusals::GrantProblem::CodeReplayed))), "{outcomes:?}");
    // The replay revoked the connection the first trade made: nobody can tell which was the app.
    let connections = b.list_connections(owner.store_id.clone()).await.unwrap();
    assert_eq!(connections.len(), 1);
    assert!(connections[0].revoked_at.is_some(), "{connections:?}");

    // A refresh token of a live connection, spent on both instances at once: one new pair.
    approve_as_owner(&a, &owner, claude_code(8, &client)).await;
    a.exchange_authorization_code(vec![8; 32], presented.clone(), tokens(3)).await.unwrap().unwrap();
    let client_asking = TokenClient { client_id: client.clone(), resource: None };
    let (on_a, on_b) = tokio::join!(
        a.refresh_connection(vec![103; 32], client_asking.clone(), tokens(4)),
        b.refresh_connection(vec![103; 32], client_asking.clone(), tokens(5)),
    );
    // Within the retry window the second is answered as a retry that retires the first answer,
    // so whichever came second, exactly one pair works afterwards.
    assert!(on_a.unwrap().is_ok() && on_b.unwrap().is_ok());
    let mut live = 0;
    for n in [4u8, 5] {
        let token = b.connection_token(vec![n; 32]).await.unwrap().unwrap();
        live += usize::from(!token.expired && !token.revoked);
    }
    assert_eq!(live, 1, "one chain lives");
}

#[tokio::test]
async fn a_keys_rate_limit_holds_across_instances_within_one_exchange_of_tolerance() {
    let url = database_with_store().await;
    let limit = 20;
    let (a, b) = (Instance::start_with(&url, &["--rate-limit", "20"]).await, Instance::start_with(&url, &["--rate-limit", "20"]).await);
    let session = a.login().await;
    let (_, created) = a.must(Method::POST, "/api/keys", Some(&session), Some(json!({"name": "busy bot"}))).await;
    let key = created["key"].as_str().unwrap().to_owned();
    // Sixty requests in three seconds, alternating: each instance alone would let twenty
    // through, forty in all. Shared, the total is the limit plus what the other instance
    // accepts in one exchange interval (a second, about ten here).
    support::early_in_a_minute(std::time::Duration::from_secs(10)).await;
    let mut accepted = 0;
    for i in 0..60 {
        let instance = if i % 2 == 0 { &a } else { &b };
        let status = instance.whoami(&key).await;
        assert!(status == 200 || status == 429, "{status}");
        accepted += usize::from(status == 200);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(accepted >= limit, "the limit itself is served: {accepted}");
    assert!(accepted <= limit + 15, "{accepted} accepted across two instances for a limit of {limit}");
}

/// A TCP relay between an instance and PostgreSQL that can be cut, as if the database went
/// away, and restored, without touching the cluster the other tests share.
struct Relay {
    port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn to(target: std::net::SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let links = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (accept_cut, accept_links) = (cut.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if accept_cut.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: the database is away
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                accept_links.lock().unwrap().push(link);
            }
        });
        Relay { port, cut, links }
    }

    fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Asks `/readyz` until it answers `want`, for up to ten seconds; returns the last answer.
async fn readiness(instance: &Instance, want: u16) -> (StatusCode, Value) {
    let mut last = instance.must(Method::GET, "/readyz", None, None).await;
    for _ in 0..100 {
        if last.0 == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        last = instance.must(Method::GET, "/readyz", None, None).await;
    }
    last
}

#[tokio::test]
async fn readyz_turns_false_when_postgres_goes_away_and_true_when_it_is_back() {
    let url = database_with_store().await;
    let parsed = url::Url::parse(&url).unwrap();
    let target: std::net::SocketAddr = format!("{}:{}", parsed.host_str().unwrap(), parsed.port().unwrap()).parse().unwrap();
    let relay = Relay::to(target).await;
    let mut through_relay = parsed.clone();
    through_relay.set_port(Some(relay.port)).unwrap();
    let instance = Instance::start(through_relay.as_str()).await;
    assert_eq!(readiness(&instance, 200).await.0, 200);
    let session = instance.login().await;
    let (_, created) = instance.must(Method::POST, "/api/keys", Some(&session), Some(json!({"name": "bot"}))).await;
    let key = created["key"].as_str().unwrap().to_owned();

    relay.cut();
    let (status, body) = readiness(&instance, 503).await;
    assert_eq!((status.as_u16(), body["status"].as_str()), (503, Some("database_unavailable")), "{body}");
    // Requests meanwhile get a sentence and a retry, not a 500.
    let (status, body) = instance.must(Method::GET, "/v1/whoami", Some(&key), None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "database_unavailable");

    relay.restore();
    assert_eq!(readiness(&instance, 200).await.0, 200);
    assert_eq!(instance.whoami(&key).await, 200, "the pool reconnects by itself");
}

#[tokio::test]
async fn an_instance_of_another_brand_is_refused_and_changes_nothing() {
    let url = database_with_store().await;
    let first = Instance::start(&url).await;
    assert_eq!(first.must(Method::GET, "/readyz", None, None).await.0, 200);
    let other = Command::new(BIN)
        .args(["serve", "--database", &url, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--brand", "lstk"])
        .output()
        .await
        .unwrap();
    assert!(!other.status.success());
    let said = String::from_utf8_lossy(&other.stderr);
    assert!(said.contains("use the brand \"asmk\", not \"lstk\"") && said.contains("--brand asmk"), "{said}");
    let session = first.login().await;
    let (status, _) = first.must(Method::POST, "/api/keys", Some(&session), Some(json!({"name": "still asmk"}))).await;
    assert_eq!(status, 201, "the running instance is unaffected");
}

/// Second read, finding 1: a retry of an older refresh token and the first use of the newer
/// one, on two instances at once, must not both pass and leave two live chains. Instance B's
/// first use of R2 is held open in a transaction of its own (doing what B does: take the
/// connection's row, spend R2); instance A retries R1 meanwhile, within the retry window. A
/// must wait for B, then see that the chain moved on: a replay, and the connection revoked.
#[tokio::test]
async fn a_refresh_retry_racing_the_next_refresh_on_another_instance_cannot_fork_the_chain() {
    let url = database_with_store().await;
    let a = instance_store(&url).await;
    let owner = a.login_candidate("ada@acme.test".into()).await.unwrap().unwrap();
    let client = register_claude(&a).await;
    approve_as_owner(&a, &owner, claude_code(9, &client)).await;
    a.exchange_authorization_code(vec![9; 32], presented(&client), tokens(1)).await.unwrap().unwrap();
    let asking = TokenClient { client_id: client.clone(), resource: None };
    // R1 = [101; 32] is used once and returns R2 = [102; 32].
    a.refresh_connection(vec![101; 32], asking.clone(), tokens(2)).await.unwrap().unwrap();

    // Instance B, mid-way through spending R2.
    let mut b = support::pg(&url).await;
    let b_tx = b.transaction().await.unwrap();
    b_tx.execute(
        "SELECT c.id FROM connection_tokens t JOIN connections c ON c.id = t.connection_id WHERE t.token_hash = $1 FOR NO KEY UPDATE OF c",
        &[&vec![102u8; 32]],
    )
    .await
    .unwrap();
    b_tx.execute("UPDATE connection_tokens SET used_at = EXTRACT(EPOCH FROM now())::bigint WHERE token_hash = $1", &[&vec![102u8; 32]])
        .await
        .unwrap();

    let retry = tokio::spawn({
        let a = a.clone();
        async move { a.refresh_connection(vec![101; 32], asking, tokens(3)).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    b_tx.commit().await.unwrap();
    let retried = retry.await.unwrap().unwrap();
    assert!(
        matches!(retried, Err(keyward_server::oauth::refusals::GrantProblem::RefreshReplayed)),
        "the retry passed beside B's refresh, forking the chain: {retried:?}"
    );
    let connections = a.list_connections(owner.store_id.clone()).await.unwrap();
    assert!(connections[0].revoked_at.is_some(), "the replay revokes the connection: {connections:?}");
}

/// Second read, finding 5: the lost-laptop rule across instances. A code approved with a
/// connection code made on a device is traded on instance A while instance B signs that device
/// out (with its connections revoked), both at once: the trade must either see the sign-out or
/// be seen by it. Here B's sign-out is held open in its own transaction while A trades.
#[tokio::test]
async fn a_code_traded_while_its_approving_device_is_signed_out_elsewhere_is_refused() {
    let url = database_with_store().await;
    let a = instance_store(&url).await;
    let owner = a.login_candidate("ada@acme.test".into()).await.unwrap().unwrap();
    let (device, _) = a.create_device(owner.store_id.clone(), owner.user.id.clone(), "laptop".into(), vec![5; 32], None).await.unwrap();
    let actor = keyward_server::db::Actor { store_id: owner.store_id.clone(), user_id: owner.user.id.clone(), device_id: device.id.clone() };
    let connection_code = keyward_server::db::NewConnectionCode {
        app_name: "Claude".into(),
        scopes: keyward_core::Scopes::read_only(),
        code_hash: vec![6; 32],
        expires_at: keyward_server::db::now() + 600,
    };
    a.create_connection_code(actor, connection_code).await.unwrap();
    let client = register_claude(&a).await;
    a.approve_with_connection_code(vec![6; 32], claude_code(7, &client)).await.unwrap().unwrap();

    // Instance B, mid-way through signing the laptop out.
    let mut b = support::pg(&url).await;
    let b_tx = b.transaction().await.unwrap();
    b_tx.execute("UPDATE devices SET signed_out_at = EXTRACT(EPOCH FROM now())::bigint WHERE id = $1", &[&device.id]).await.unwrap();

    let presented = presented(&client);
    let trade = tokio::spawn({
        let a = a.clone();
        async move { a.exchange_authorization_code(vec![7; 32], presented, tokens(1)).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    b_tx.commit().await.unwrap();
    let traded = trade.await.unwrap().unwrap();
    assert!(
        matches!(traded, Err(keyward_server::oauth::refusals::GrantProblem::ApproverGone)),
        "a connection was made from a device signed out meanwhile: {traded:?}"
    );
}

/// Second read, finding 2: writing last-use times holds no lock while it waits for another,
/// so it cannot close a circle with a change holding a store's keys that then needs one of
/// those connections (uninstall, a sign-out with its keys revoked). Here that change is held
/// open by hand: it holds a key, the flush waits for it, and it then writes a connection the
/// flush already wrote. Both must finish; in a circle PostgreSQL would abort one of them.
#[tokio::test]
async fn a_last_use_flush_and_a_change_holding_the_keys_do_not_deadlock() {
    let url = database_with_store().await;
    let a = instance_store(&url).await;
    let owner = a.login_candidate("ada@acme.test".into()).await.unwrap().unwrap();
    let (device, _) = a.create_device(owner.store_id.clone(), owner.user.id.clone(), "laptop".into(), vec![5; 32], None).await.unwrap();
    let actor = keyward_server::db::Actor { store_id: owner.store_id.clone(), user_id: owner.user.id.clone(), device_id: device.id.clone() };
    // A key whose id sorts after a connection's `con_…`.
    let key = keyward_server::db::NewKey {
        id: "zzzz0001".into(),
        name: "bot".into(),
        scopes: keyward_core::Scopes::read_only(),
        expires_at: None,
        secret_hash: "$unused".into(),
    };
    a.create_key(actor, key).await.unwrap();
    support::sql(
        &Database::Postgres(url.clone()),
        "INSERT INTO connections (id, store_id, app_name, scopes, granted_by, created_at) VALUES ('con_a', $1, 'Claude', 'read', $2, 0)",
        &[&owner.store_id, &owner.user.id],
    )
    .await;

    let mut other = support::pg(&url).await;
    let holding = other.transaction().await.unwrap();
    holding.execute("UPDATE api_keys SET name = 'held' WHERE id = 'zzzz0001'", &[]).await.unwrap();
    let flush = tokio::spawn({
        let a = a.clone();
        async move { a.record_usage(vec![("con_a".into(), 100), ("zzzz0001".into(), 100)]).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let second = holding.execute("UPDATE connections SET revoked_at = 50 WHERE id = 'con_a'", &[]).await;
    assert!(second.is_ok(), "the change holding the key was aborted: {second:?}");
    holding.commit().await.unwrap();
    flush.await.unwrap().expect("the flush finishes once the key is free");
    let db = Database::Postgres(url.clone());
    assert_eq!(support::sql_value::<Option<i64>>(&db, "SELECT last_used_at FROM api_keys WHERE id = 'zzzz0001'", &[]).await.flatten(), Some(100));
}

/// Second read, finding 3: removing a partner app and trading one of its codes at the same
/// moment take the client's row and the code's row in one order, so neither waits on the other
/// in a circle. The removal is held open by hand here (the partner locked, its codes then
/// deleted) while the trade runs: both finish, and the trade finds the code gone.
#[tokio::test]
async fn removing_a_partner_while_its_code_is_traded_does_not_deadlock() {
    let url = database_with_store().await;
    let a = instance_store(&url).await;
    let owner = a.login_candidate("ada@acme.test".into()).await.unwrap().unwrap();
    let partner = a.register_partner("Acme Sync".into(), vec!["https://sync.example/cb".into()], vec![4; 32]).await.unwrap();
    let code = NewAuthorizationCode { app_name: "Acme Sync".into(), kind: "partner", redirect_uri: "https://sync.example/cb".into(), ..claude_code(8, &partner.id) };
    approve_as_owner(&a, &owner, code).await;

    let mut other = support::pg(&url).await;
    let removal = other.transaction().await.unwrap();
    removal.execute("SELECT name FROM oauth_clients WHERE id = $1 AND kind = 'partner' FOR UPDATE", &[&partner.id]).await.unwrap();
    let presented = presented(&partner.id);
    let trade = tokio::spawn({
        let a = a.clone();
        async move { a.exchange_authorization_code(vec![8; 32], presented, tokens(1)).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let deleted = removal.execute("DELETE FROM authorization_codes WHERE client_id = $1 AND used_at IS NULL", &[&partner.id]).await;
    assert!(deleted.is_ok(), "the removal was aborted: {deleted:?}");
    removal.execute("DELETE FROM oauth_clients WHERE id = $1", &[&partner.id]).await.unwrap();
    removal.commit().await.unwrap();
    let traded = trade.await.unwrap().expect("the trade finishes once the removal commits");
    assert!(matches!(traded, Err(keyward_server::oauth::refusals::GrantProblem::CodeUnknown)), "{traded:?}");
}
