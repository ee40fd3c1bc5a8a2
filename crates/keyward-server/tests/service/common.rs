//! A real key service for each test, served over HTTP on a free loopback port, with the test
//! holding the state to read counters. Its database is its own SQLite file in a temporary
//! folder, or, with `KEYWARD_TEST_BACKEND=postgres`, a fresh database of its own on the
//! PostgreSQL cluster named by `KEYWARD_TEST_POSTGRES_URL` (`./dev test` runs this suite both
//! ways): the same tests, on either backend.

use std::net::SocketAddr;

use keyward_core::{Brand, hashing};
use keyward_server::db::NewStore;
use keyward_server::db::Database;
use keyward_server::{AppState, Config};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

pub const PASSWORD: &str = "correct horse battery";

pub struct Service {
    pub base: String,
    pub state: AppState,
    /// The temporary folder (the SQLite file, when that is the backend); removed on drop.
    pub _dir: TempDir,
    /// Where the data lives: the SQLite file in `dir`, or a PostgreSQL database.
    pub database: Database,
    pub http: reqwest::Client,
    /// Dropping the service drops this, which stops the server.
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// A person who can sign in to a store.
#[derive(Clone)]
pub struct Account {
    pub store_id: String,
    pub email: String,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// Asserts an error reply: the status, the code, a sentence of a message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(self.body["error"]["code"], code, "body: {}", self.text);
        let message = self.body["error"]["message"].as_str().unwrap_or("");
        assert!(message.len() > 10 && message.ends_with('.'), "message is not a sentence: {message:?}");
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        &self.body
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Service {
    pub async fn start() -> Service {
        Service::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let database = test_database(&dir).await;
        let db = database.open().await.unwrap();
        db.ensure_brand("asmk").await.unwrap();
        let mut config = Config::new(Brand::new("asmk").unwrap());
        configure(&mut config);
        let state = AppState::new(db, config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serve_state = state.clone();
        tokio::spawn(async move {
            keyward_server::serve(listener, serve_state, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Service {
            base: format!("http://{addr}"),
            state,
            _dir: dir,
            database,
            http: reqwest::Client::new(),
            _shutdown: tx,
        }
    }

    /// A new store with its owner.
    pub async fn store(&self, name: &str) -> Account {
        let email = format!("owner@{}.test", name.to_lowercase().replace(' ', "-"));
        let store_id = self
            .state
            .db
            .create_store(NewStore {
                name: name.into(),
                owner_name: format!("{name} Owner"),
                owner_email: email.clone(),
                owner_password_hash: hashing::hash_secret(PASSWORD).unwrap(),
            })
            .await
            .unwrap();
        Account { store_id, email }
    }

    pub async fn staff(&self, store: &Account, name: &str) -> Account {
        let email = format!("{}@staff.test", name.to_lowercase().replace(' ', "."));
        self.state
            .db
            .add_staff(store.store_id.clone(), name.into(), email.clone(), hashing::hash_secret(PASSWORD).unwrap())
            .await
            .unwrap();
        Account { store_id: store.store_id.clone(), email }
    }

    /// Sends a request; `auth` goes in `Authorization: Bearer`.
    pub async fn call(&self, method: Method, path: &str, auth: Option<&str>, body: Option<Value>) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = auth {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, auth: &str) -> Reply {
        self.call(Method::GET, path, Some(auth), None).await
    }
    pub async fn post(&self, path: &str, auth: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(auth), Some(body)).await
    }
    pub async fn patch(&self, path: &str, auth: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(auth), Some(body)).await
    }
    pub async fn delete(&self, path: &str, auth: &str) -> Reply {
        self.call(Method::DELETE, path, Some(auth), None).await
    }

    /// A data-plane GET with the key in `X-API-Key`.
    pub async fn with_key(&self, path: &str, key: &str) -> Reply {
        let response = self.http.get(format!("{}{path}", self.base)).header("x-api-key", key).send().await.unwrap();
        read(response).await
    }

    /// Signs in and returns the session token.
    pub async fn login(&self, account: &Account, device: &str) -> String {
        let reply = self
            .call(Method::POST, "/api/session", None, Some(json!({"email": account.email, "password": PASSWORD, "device_name": device})))
            .await;
        reply.assert_status(201)["token"].as_str().unwrap().to_owned()
    }

    /// Creates a key; returns (its id, the whole key).
    pub async fn create_key(&self, session: &str, body: Value) -> (String, String) {
        let reply = self.post("/api/keys", session, body).await;
        let body = reply.assert_status(201);
        (body["id"].as_str().unwrap().to_owned(), body["key"].as_str().unwrap().to_owned())
    }

    /// Every row of every table, as text: to prove a request changed nothing.
    pub async fn snapshot(&self) -> String {
        match &self.database {
            Database::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let tables: Vec<String> = conn
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
                    .unwrap()
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                let mut out = String::new();
                for table in tables {
                    let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY rowid")).unwrap();
                    let columns = stmt.column_count();
                    let rows = stmt
                        .query_map([], |r| {
                            Ok((0..columns).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect::<Vec<_>>().join("|"))
                        })
                        .unwrap();
                    for row in rows {
                        out.push_str(&format!("{table}: {}\n", row.unwrap()));
                    }
                }
                out
            }
            Database::Postgres(url) => {
                let client = pg(url).await;
                let tables = client
                    // rate_counts holds the instances' shared request counters, which every
                    // request moves (as SQLite's in-memory counters): not the store's data.
                    .query(
                        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_name <> 'rate_counts' ORDER BY 1",
                        &[],
                    )
                    .await
                    .unwrap();
                let mut out = String::new();
                for table in tables.iter().map(|r| r.get::<_, String>(0)) {
                    for row in client.query(&format!("SELECT t::text FROM {table} t ORDER BY 1"), &[]).await.unwrap() {
                        out.push_str(&format!("{table}: {}\n", row.get::<_, String>(0)));
                    }
                }
                out
            }
        }
    }

    /// Everything the database keeps at rest, as text: the file and its WAL for SQLite, every
    /// row for PostgreSQL. For proving that a secret is never stored.
    pub async fn at_rest(&self) -> String {
        match &self.database {
            Database::Sqlite(path) => {
                let mut bytes = std::fs::read(path).unwrap();
                bytes.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
                String::from_utf8_lossy(&bytes).into_owned()
            }
            Database::Postgres(_) => self.snapshot().await,
        }
    }

    /// Runs one statement straight on the database, behind the service's back (to age rows as
    /// if time had passed); `$1`, `$2`… are the text `params`. Returns how many rows it changed.
    pub async fn sql(&self, statement: &str, params: &[&str]) -> u64 {
        match &self.database {
            Database::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.execute(&sqlite_placeholders(statement), rusqlite::params_from_iter(params.iter())).unwrap() as u64
            }
            Database::Postgres(url) => {
                let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
                pg(url).await.execute(statement, &params).await.unwrap()
            }
        }
    }

    /// The first column of the first row a query returns, read as `T` (`i64` for integers,
    /// `String` for text); `None` for no row.
    pub async fn sql_value<T>(&self, query: &str, params: &[&str]) -> Option<T>
    where
        T: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a>,
    {
        match &self.database {
            Database::Sqlite(path) => {
                use rusqlite::OptionalExtension;
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.query_row(&sqlite_placeholders(query), rusqlite::params_from_iter(params.iter()), |r| r.get(0)).optional().unwrap()
            }
            Database::Postgres(url) => {
                let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
                pg(url).await.query_opt(query, &params).await.unwrap().map(|row| row.get(0))
            }
        }
    }
}

/// SQLite numbers parameters `?1`; the tests write `$1` as PostgreSQL does.
fn sqlite_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// A name part no other test, in this process or another, has used.
fn unique_suffix() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{nanos:x}_{:x}_{n}", std::process::id())
}

/// A plain connection to a test database.
async fn pg(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// The database a test service runs on: see the module's comment.
async fn test_database(dir: &TempDir) -> Database {
    match std::env::var("KEYWARD_TEST_BACKEND").as_deref() {
        Ok("postgres") => {
            let admin = std::env::var("KEYWARD_TEST_POSTGRES_URL")
                .expect("KEYWARD_TEST_BACKEND=postgres needs KEYWARD_TEST_POSTGRES_URL; run the tests with ./dev test, which starts a PostgreSQL");
            let name = format!("kw_{}", unique_suffix());
            pg(&admin).await.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
            let (base, _) = admin.rsplit_once('/').unwrap();
            Database::Postgres(format!("{base}/{name}"))
        }
        Ok("sqlite") | Err(_) => Database::Sqlite(dir.path().join("keyward.db")),
        Ok(other) => panic!("KEYWARD_TEST_BACKEND is {other:?}; use sqlite or postgres"),
    }
}

pub async fn read(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, headers, body, text }
}

/// An MCP client over plain HTTP: one JSON-RPC request per POST, as streamable HTTP allows.
pub async fn mcp(service: &Service, key: &str, id: u64, method: &str, params: Value) -> Reply {
    let response = service
        .http
        .post(format!("{}/mcp", service.base))
        .header("x-api-key", key)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
        .send()
        .await
        .unwrap();
    read(response).await
}

/// A well-formed key (right brand, length and checksum) with the given id and a made-up secret.
pub fn forged(id: &str) -> String {
    let brand = keyward_core::Brand::new("asmk").unwrap();
    let id = keyward_core::KeyId::parse(id).unwrap();
    keyward_core::ApiKey::from_parts(&brand, &id, &"G".repeat(keyward_core::key::SECRET_LEN)).unwrap().expose().to_owned()
}
