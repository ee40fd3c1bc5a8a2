//! A key service per test, a machine per `Device` (its own config, data and home folders),
//! and helpers to run `keyward` and to read the keychain back through the Secret Service.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Arc;

use keyward_core::Brand;
use keyward_server::{AppState, Config};
use keyward_testkit::service::{Served, new_store};
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_keyward");
pub const PASSWORD: &str = "merchant-password";
pub const EMAIL: &str = "ada@acme.test";

/// The Secret Service read back, made to refuse, cleared, and taken in turns.
pub use keyward_testkit::keychain::{clear as keychain_clear, lookup as keychain_lookup, refuse as keychain_refuses, turn as keychain_turn};

pub struct Service {
    pub port: u16,
    pub state: AppState,
    dir: TempDir,
    served: Served,
}

impl Service {
    /// A key service with the store "Acme" and its owner Ada.
    pub async fn start() -> Service {
        let dir = tempfile::tempdir().unwrap();
        let db = keyward_server::db::open_sqlite(&dir.path().join("k.db")).unwrap();
        db.ensure_brand("asmk").await.unwrap();
        new_store(&db, "Acme", "Ada Owner", EMAIL, PASSWORD).await;
        let state = AppState::new(db, Config::new(Brand::new("asmk").unwrap()));
        let served = Served::start(state.clone()).await;
        Service { port: served.addr.port(), state, dir, served }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("k.db")
    }

    /// `http://127.0.0.1:PORT`. A second "machine" can use [`Service::localhost_url`] so its
    /// keychain entries (filed by origin) do not mix with the first's.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn localhost_url(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    /// The opening of most tests: a service, and a machine signed in to it as Ada from a
    /// device named `device_name`.
    pub async fn with_device_signed_in(device_name: &str) -> (Service, Device) {
        let service = Service::start().await;
        let device = Device::new(&service.url());
        device.login(device_name).await;
        (service, device)
    }

    /// Stops serving; the port is closed when this returns.
    pub async fn stop(&mut self) {
        self.served.stop().await;
    }
}

/// One machine: its own home, config and data folders.
pub struct Device {
    pub home: TempDir,
    pub server: String,
}

impl Device {
    pub fn new(server: &str) -> Device {
        Device { home: tempfile::tempdir().unwrap(), server: server.to_owned() }
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn claude_desktop(&self) -> PathBuf {
        self.home().join(".config/Claude/claude_desktop_config.json")
    }

    pub fn codex(&self) -> PathBuf {
        self.home().join(".codex/config.toml")
    }

    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(BIN);
        command
            .args(args)
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("XDG_DATA_HOME", self.home().join(".local/share"))
            .env("KEYWARD_CONFIG_DIR", self.home().join("keyward-config"))
            .env("KEYWARD_DATA_DIR", self.home().join("keyward-data"))
            .env("KEYWARD_SERVER", &self.server)
            .env("KEYWARD_PASSWORD", PASSWORD)
            .env_remove("KEYWARD_API_KEY")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        // Each assistant's file where this machine's home has it, whatever the test runner's
        // own environment says.
        for var in keyward::agents::table::override_variables() {
            command.env_remove(var);
        }
        command
    }

    /// Runs `keyward ARGS` and returns its output.
    pub async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.unwrap()
    }

    /// Runs `keyward ARGS` with `input` on its standard input (as a pipe, not a terminal).
    pub async fn run_with_input(&self, args: &[&str], input: &str) -> Output {
        use tokio::io::AsyncWriteExt;
        let mut child = self.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).await.unwrap();
        drop(stdin);
        child.wait_with_output().await.unwrap()
    }

    /// `keyward verify` (with `--json` if asked), the key piped in as a person's script would.
    pub async fn verify(&self, key: &str, json: bool) -> Output {
        let args: &[&str] = if json { &["--json", "verify"] } else { &["verify"] };
        self.run_with_input(args, &format!("{key}\n")).await
    }

    /// Runs `keyward ARGS`, asserting success, and returns stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "keyward {args:?} failed ({:?}): {}{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs `keyward --json ARGS` and parses its output.
    pub async fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all).await).unwrap()
    }

    pub async fn login(&self, device_name: &str) {
        self.ok(&["login", "--email", EMAIL, "--device-name", device_name]).await;
    }

    /// `keyward login` as someone else; returns the output, to check a refusal too.
    pub async fn login_as(&self, email: &str, password: &str, device_name: &str) -> Output {
        self.command(&["login", "--email", email, "--device-name", device_name]).env("KEYWARD_PASSWORD", password).output().await.unwrap()
    }

    /// Creates a key; returns (id, key_prefix).
    pub async fn create_key(&self, name: &str) -> (String, String) {
        let created = self.json(&["keys", "create", "--name", name]).await;
        assert!(created.get("key").is_none(), "the secret is printed only with --show-secret");
        (created["id"].as_str().unwrap().to_owned(), created["key_prefix"].as_str().unwrap().to_owned())
    }

    /// Every byte under this machine's home, to look for secrets that should not be there.
    pub fn all_file_bytes(&self) -> Vec<u8> {
        keyward_testkit::files::every_byte_under(self.home())
    }
}

/// A front for a key service that passes every request through and, for each answer, first
/// calls `before_answer(path, body)`: a test's hook into the moment after the service acted
/// and before `keyward` hears of it.
pub struct Front {
    pub url: String,
}

type Hook = Arc<dyn Fn(&str, &[u8]) + Send + Sync>;

impl Front {
    pub async fn start(service: &str, before_answer: impl Fn(&str, &[u8]) + Send + Sync + 'static) -> Front {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (service, hook): (String, Hook) = (service.to_owned(), Arc::new(before_answer));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(Front::relay(stream, service.clone(), hook.clone()));
            }
        });
        Front { url }
    }

    /// One request per connection, answered with `connection: close`.
    async fn relay(mut stream: tokio::net::TcpStream, service: String, hook: Hook) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut request = Vec::new();
        let mut buf = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        };
        let head = String::from_utf8_lossy(&request[..head_end]).into_owned();
        let mut lines = head.lines();
        let mut first = lines.next().unwrap_or_default().split_whitespace();
        let (method, path) = (first.next().unwrap_or("GET").to_owned(), first.next().unwrap_or("/").to_owned());
        let headers: Vec<(String, String)> = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned())).collect();
        let length: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        while request.len() < head_end + length {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let mut forward = reqwest::Client::new().request(method.parse().unwrap(), format!("{service}{path}")).body(request[head_end..].to_vec());
        for (name, value) in headers.iter().filter(|(k, _)| !matches!(k.as_str(), "host" | "connection" | "content-length")) {
            forward = forward.header(name, value);
        }
        let Ok(answer) = forward.send().await else { return };
        let status = answer.status();
        let content_type = answer.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("application/json").to_owned();
        let body = answer.bytes().await.unwrap_or_default();
        hook(&path, &body);
        let head = format!("HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(&body).await;
    }
}

/// Drives `keyward bridge` as an MCP client would: one JSON-RPC message per line.
pub struct Bridge {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl Bridge {
    pub fn start(device: &Device, key_id: &str) -> Bridge {
        Bridge::start_from_entry(device, &["bridge", "--key", key_id, "--server", &device.server])
    }

    /// Starts the bridge exactly as an assistant would from its config entry's args.
    pub fn start_from_entry(device: &Device, args: &[&str]) -> Bridge {
        use tokio::io::AsyncBufReadExt;
        let mut child = device.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        Bridge { child, stdin, stdout }
    }

    pub async fn request(&mut self, id: u64, method: &str, params: serde_json::Value) -> serde_json::Value {
        use tokio::io::AsyncWriteExt;
        let line = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        self.stdin.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
        loop {
            let line = tokio::time::timeout(std::time::Duration::from_secs(20), self.stdout.next_line())
                .await
                .expect("the bridge answers within 20 s")
                .unwrap()
                .expect("the bridge is still running");
            let message: serde_json::Value = serde_json::from_str(&line).expect("the bridge writes only JSON-RPC to stdout");
            if message["id"] == id {
                return message;
            }
        }
    }

    pub async fn notify(&mut self, method: &str) {
        use tokio::io::AsyncWriteExt;
        let line = serde_json::json!({"jsonrpc": "2.0", "method": method}).to_string();
        self.stdin.write_all(format!("{line}\n").as_bytes()).await.unwrap();
    }

    /// Closes stdin and returns what the bridge wrote to stderr.
    pub async fn finish(self) -> String {
        drop(self.stdin);
        let output = self.child.wait_with_output().await.unwrap();
        assert!(output.status.success(), "the bridge exits cleanly when its input ends");
        String::from_utf8_lossy(&output.stderr).into_owned()
    }
}

pub async fn initialize(bridge: &mut Bridge) -> serde_json::Value {
    let init = bridge
        .request(1, "initialize", serde_json::json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test-assistant", "version": "1"}}))
        .await;
    bridge.notify("notifications/initialized").await;
    init
}
