//! A real key service for a test: serving over HTTP on a free loopback port, until stopped or
//! dropped; and a store with its owner to sign in as.

use std::net::SocketAddr;

use keyward_core::hashing;
use keyward_server::AppState;
use keyward_server::db::{Db, NewStore};

/// A key service serving `state` on loopback.
pub struct Served {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Served {
    /// Serves on a free port.
    pub async fn start(state: AppState) -> Served {
        Served::start_on(state, 0).await
    }

    /// Serves on `port` (0: a free one), e.g. the port a stopped service had.
    pub async fn start_on(state: AppState, port: u16) -> Served {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("the loopback port is free");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            keyward_server::serve(listener, state, async {
                let _ = rx.await;
            })
            .await
            .expect("the key service serves until it is stopped");
        });
        Served { addr, shutdown: Some(tx), task: Some(task) }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving; the port is closed when this returns.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// Makes a store named `name` whose owner `owner_name` signs in with `email` and `password`;
/// answers the store's id.
pub async fn new_store(db: &Db, name: &str, owner_name: &str, email: &str, password: &str) -> String {
    db.create_store(NewStore {
        name: name.into(),
        owner_name: owner_name.into(),
        owner_email: email.into(),
        owner_password_hash: hashing::hash_secret(password).unwrap(),
    })
    .await
    .expect("the store is made")
}
