//! No credential leaves for another address: a key service that answers with a redirect gets
//! a clear error back, and the address it points to never hears from Keyward (not the API
//! key, not the session token, not a replayed sign-in body). Both ends are real HTTP
//! listeners on loopback.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use keyward::bridge::{self, BridgeConfig, KeySource};
use keyward::client::{ApiClient, ClientError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const KEY: &str = "asmk_RedirectTestSecret0000000000000000000000";

/// A listener that counts every connection made to it and answers nothing useful.
struct Elsewhere {
    url: String,
    connections: Arc<AtomicUsize>,
}

impl Elsewhere {
    async fn start() -> Elsewhere {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}").await;
            }
        });
        Elsewhere { url, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A "key service" that answers every request with `status` and `Location: <to><path>`.
async fn redirecting(status: &'static str, to: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let to = to.to_owned();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let to = to.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // Read the head (and whatever body came with it); the answer does not depend on it.
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&request);
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let answer = format!("HTTP/1.1 {status}\r\nlocation: {to}{path}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    url
}

const STATUSES: [&str; 4] = ["307 Temporary Redirect", "308 Permanent Redirect", "302 Found", "301 Moved Permanently"];

#[tokio::test]
async fn the_api_client_follows_no_redirect_with_a_key_a_session_or_a_password() {
    for status in STATUSES {
        let elsewhere = Elsewhere::start().await;
        let service = redirecting(status, &elsewhere.url).await;
        let client = ApiClient::new(&service).unwrap().with_session("kwsess_RedirectTestSession");

        let whoami = client.whoami(KEY).await.unwrap_err();
        let login = client.login("ada@acme.test", "merchant-password", "laptop").await.unwrap_err();
        let keys = client.list_keys(false).await.unwrap_err();

        assert_eq!(elsewhere.connections(), 0, "{status}: a request followed the redirect to {}", elsewhere.url);
        for error in [whoami, login, keys] {
            assert!(matches!(error, ClientError::Redirected { .. }), "{status}: {error:?}");
            let message = error.to_string();
            assert!(message.contains("redirect") && message.contains(&elsewhere.url), "{status}: {message}");
            assert!(!message.contains(KEY) && !message.contains("merchant-password"), "no secret in the error: {message}");
        }
    }
}

#[tokio::test]
async fn the_bridge_follows_no_redirect_with_the_key() {
    for status in STATUSES {
        let elsewhere = Elsewhere::start().await;
        let service = redirecting(status, &elsewhere.url).await;
        let config = BridgeConfig { server: service, key_id: "RedirectTest".into(), key: KeySource::Key(KEY.into()), mirror: None, usage: None };
        let input = b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":{}}\n".to_vec();
        let (output, mut replies) = tokio::io::duplex(64 * 1024);
        bridge::run(config, &input[..], output).await.unwrap();
        let mut text = String::new();
        replies.read_to_string(&mut text).await.unwrap();

        assert_eq!(elsewhere.connections(), 0, "{status}: the bridge followed the redirect to {}", elsewhere.url);
        let reply: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(reply["id"], 7);
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains("redirect") && message.contains(&elsewhere.url), "{status}: {message}");
        assert!(!text.contains(KEY), "the bridge never writes the key");
    }
}
