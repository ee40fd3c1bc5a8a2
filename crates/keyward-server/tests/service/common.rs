//! A real key service for each test, served over HTTP on a free loopback port, with the test
//! holding the state to read counters. Its database is its own SQLite file in a temporary
//! folder, or, with `KEYWARD_TEST_BACKEND=postgres`, a fresh database of its own on the
//! PostgreSQL cluster named by `KEYWARD_TEST_POSTGRES_URL` (`./dev test` runs this suite both
//! ways): the same tests, on either backend.

use keyward_core::{Brand, hashing};
use keyward_server::db::Database;
use keyward_server::{AppState, Config};
use keyward_testkit::service::{Served, new_store};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support;

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
    _served: Served,
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
        let database = support::test_database(dir.path()).await;
        let db = database.open().await.unwrap();
        db.ensure_brand("asmk").await.unwrap();
        let mut config = Config::new(Brand::new("asmk").unwrap());
        configure(&mut config);
        let state = AppState::new(db, config);
        let served = Served::start(state.clone()).await;
        Service { base: served.url(), state, _dir: dir, database, http: reqwest::Client::new(), _served: served }
    }

    /// The opening of most management tests: a service, a store with its owner, and the owner
    /// signed in from `device`; answers the three, the session token last.
    pub async fn with_owner_signed_in(store: &str, device: &str) -> (Service, Account, String) {
        let service = Service::start().await;
        let owner = service.store(store).await;
        let session = service.login(&owner, device).await;
        (service, owner, session)
    }

    /// A new store with its owner.
    pub async fn store(&self, name: &str) -> Account {
        let email = format!("owner@{}.test", name.to_lowercase().replace(' ', "-"));
        let store_id = new_store(&self.state.db, name, &format!("{name} Owner"), &email, PASSWORD).await;
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
        support::snapshot(&self.database).await
    }

    /// Everything the database keeps at rest, as text (see [`support::at_rest`]).
    pub async fn at_rest(&self) -> String {
        support::at_rest(&self.database).await
    }

    /// Runs one statement straight on the database, behind the service's back (to age rows as
    /// if time had passed); `$1`, `$2`… are the text `params`. Returns how many rows it changed.
    pub async fn sql(&self, statement: &str, params: &[&str]) -> u64 {
        support::sql(&self.database, statement, params).await
    }

    /// The first column of the first row a query returns (see [`support::sql_value`]).
    pub async fn sql_value<T>(&self, query: &str, params: &[&str]) -> Option<T>
    where
        T: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a>,
    {
        support::sql_value(&self.database, query, params).await
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
