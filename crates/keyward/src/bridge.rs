//! `keyward bridge`: the MCP server an assistant launches. It speaks MCP's stdio transport
//! (one JSON-RPC message per line) to the assistant and relays each message to the key
//! service's `/mcp` over HTTP, with the key taken from the keychain.
//!
//! Before relaying, it asks the verifier mirror: a key the mirror knows to be revoked,
//! expired or deactivated fails at once with a JSON-RPC error naming the key, what happened
//! and what to do, without a network round trip. The service's own refusals (401, 403, 429)
//! become JSON-RPC errors the same way, and an unreachable service is an error for that
//! request, not the end of the bridge: the next request tries again. A redirect is not
//! followed (the key would go with it); it is an error naming where it pointed. It relays
//! ids, the MCP session header and notifications as they are, writes only protocol messages
//! to stdout, logs to stderr, and never prints the secret.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::mirror::Mirror;
use crate::usage::Usage;

/// JSON-RPC error codes the bridge answers with (the server-defined range).
pub const KEY_REFUSED: i64 = -32001;
pub const SERVICE_UNREACHABLE: i64 = -32002;
pub const SERVICE_ERROR: i64 = -32003;
const PARSE_ERROR: i64 = -32700;

/// The longest line the bridge reads from the assistant; a longer one is refused and skipped,
/// so a runaway writer cannot make the bridge hold unbounded memory.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Where the key comes from, or why it could not be had.
pub enum KeySource {
    Key(String),
    /// Every request is answered with this sentence as the error.
    Missing(String),
}

pub struct BridgeConfig {
    /// The key service's origin.
    pub server: String,
    pub key_id: String,
    pub key: KeySource,
    /// The verifier mirror to consult first, if this machine has one.
    pub mirror: Option<PathBuf>,
    /// Where to count which assistant used the key (see [`crate::usage`]), if anywhere.
    pub usage: Option<PathBuf>,
}

/// Session state learned from the service and sent back on later requests.
#[derive(Default)]
struct Session {
    session_id: Option<String>,
    protocol_version: Option<String>,
}

struct Relay {
    http: reqwest::Client,
    endpoint: String,
    config: BridgeConfig,
    mirror: Option<Mutex<Mirror>>,
    session: Mutex<Session>,
    usage: Option<Mutex<Usage>>,
    /// The assistant, as it named itself in `initialize`.
    client: Mutex<String>,
}

fn error_reply(id: &Value, code: i64, message: impl Into<String>, data: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into(), "data": data}})
}

impl Relay {
    /// The mirror's objection to this key, if it has one.
    fn mirror_refusal(&self, key: &str) -> Option<(String, Value)> {
        let mirror = self.mirror.as_ref()?.lock().ok()?;
        let verification = mirror.verify(key, Some(&self.config.server)).ok()?;
        if !verification.verdict.refuses() {
            return None;
        }
        let status = serde_json::to_value(&verification.verdict).ok()?.get("status").cloned().unwrap_or(Value::Null);
        Some((
            format!("Keyward: {}", verification.verdict.sentence()),
            json!({"key_prefix": verification.verdict.key_prefix(), "status": status, "source": "mirror", "mirror_age_seconds": verification.age_seconds}),
        ))
    }

    /// Handles one message and counts a request in the usage record: who asked (the name and
    /// version from `initialize`), and whether it was answered with an error. The record is
    /// a convenience: failing to write it never fails the request.
    async fn serve(&self, message: Value) -> Vec<Value> {
        if message.get("method").and_then(Value::as_str) == Some("initialize") {
            let info = message.pointer("/params/clientInfo");
            let name = info.and_then(|i| i.get("name")).and_then(Value::as_str).unwrap_or("an unnamed MCP client");
            let version = info.and_then(|i| i.get("version")).and_then(Value::as_str).unwrap_or_default();
            *self.client.lock().unwrap_or_else(|e| e.into_inner()) = format!("{name} {version}").trim().to_owned();
        }
        let is_request = message.get("id").is_some() && message.get("method").is_some();
        let replies = self.handle(message).await;
        if is_request && let Some(usage) = &self.usage {
            let ok = !replies.iter().any(|r| r.get("error").is_some());
            let client = self.client.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Ok(usage) = usage.lock() {
                let _ = usage.record(&self.config.server, &self.config.key_id, &client, ok, time::OffsetDateTime::now_utc());
            }
        }
        replies
    }

    /// Handles one message from the assistant; returns the messages to write back.
    async fn handle(&self, message: Value) -> Vec<Value> {
        let id = message.get("id").cloned();
        let is_request = id.is_some() && message.get("method").is_some();
        let reply_id = id.clone().unwrap_or(Value::Null);
        let key = match &self.config.key {
            KeySource::Key(key) => key,
            KeySource::Missing(why) => {
                return if is_request { vec![error_reply(&reply_id, KEY_REFUSED, format!("Keyward: {why}"), json!({"key_id": self.config.key_id}))] } else { vec![] };
            }
        };
        if let Some((sentence, data)) = self.mirror_refusal(key) {
            tracing::warn!(key = %self.config.key_id, "the mirror refuses this key");
            return if is_request { vec![error_reply(&reply_id, KEY_REFUSED, sentence, data)] } else { vec![] };
        }
        let mut request = self
            .http
            .post(&self.endpoint)
            .header("x-api-key", key.as_str())
            .header("accept", "application/json, text/event-stream")
            .json(&message);
        {
            let session = self.session.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(sid) = &session.session_id {
                request = request.header("mcp-session-id", sid);
            }
            if let Some(version) = &session.protocol_version {
                request = request.header("mcp-protocol-version", version);
            }
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "the key service is unreachable");
                let sentence = format!(
                    "Keyward: the key service at {} cannot be reached ({}). Check the connection; the bridge will try again on the next request.",
                    self.config.server,
                    if e.is_timeout() { "it did not answer in time" } else { "the connection failed" }
                );
                return if is_request { vec![error_reply(&reply_id, SERVICE_UNREACHABLE, sentence, json!({"server": self.config.server}))] } else { vec![] };
            }
        };
        if let Some(location) = crate::client::redirect_target(&response) {
            tracing::warn!(%location, "the key service answered with a redirect; not followed");
            let sentence = format!(
                "Keyward: the key service at {} answered with a redirect to {location}. The bridge does not follow redirects, so the key was not sent there; if that is the key service, put its address in this entry's --server.",
                self.config.server
            );
            return if is_request { vec![error_reply(&reply_id, SERVICE_ERROR, sentence, json!({"server": self.config.server, "location": location}))] } else { vec![] };
        }
        if let Some(sid) = response.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()) {
            self.session.lock().unwrap_or_else(|e| e.into_inner()).session_id = Some(sid.to_owned());
        }
        let status = response.status();
        let is_sse = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/event-stream"));
        let body = response.text().await.unwrap_or_default();
        if status.is_success() {
            let messages: Vec<Value> = if is_sse {
                sse_messages(&body)
            } else if body.trim().is_empty() {
                vec![]
            } else {
                match serde_json::from_str::<Value>(&body) {
                    Ok(Value::Array(batch)) => batch,
                    Ok(one) => vec![one],
                    Err(_) => {
                        return if is_request { vec![error_reply(&reply_id, SERVICE_ERROR, "Keyward: the key service sent an answer that is not JSON-RPC. Check the bridge's --server address.", Value::Null)] } else { vec![] };
                    }
                }
            };
            self.learn_protocol_version(&message, &messages);
            return messages;
        }
        let (code, sentence) = match serde_json::from_str::<keyward_core::wire::ErrorBody>(&body) {
            Ok(e) => (e.error.code, e.error.message),
            Err(_) => ("http_error".to_owned(), format!("The key service answered HTTP {status}. Try again later.")),
        };
        tracing::warn!(%status, %code, "the key service refused the request");
        if is_request {
            let rpc_code = if status.as_u16() == 401 || status.as_u16() == 403 { KEY_REFUSED } else { SERVICE_ERROR };
            vec![error_reply(&reply_id, rpc_code, format!("Keyward: {sentence}"), json!({"http_status": status.as_u16(), "code": code, "key_id": self.config.key_id}))]
        } else {
            vec![]
        }
    }

    /// After `initialize`, later requests carry the negotiated protocol version.
    fn learn_protocol_version(&self, request: &Value, replies: &[Value]) {
        if request.get("method").and_then(Value::as_str) != Some("initialize") {
            return;
        }
        if let Some(version) = replies.iter().find_map(|r| r.pointer("/result/protocolVersion").and_then(Value::as_str)) {
            self.session.lock().unwrap_or_else(|e| e.into_inner()).protocol_version = Some(version.to_owned());
        }
    }
}

/// One line from the assistant, as the bridge understands it.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// Blank: ignored.
    Blank,
    Message(Value),
    /// Not a message; the JSON-RPC parse error to answer with.
    Invalid(Value),
}

fn parse_error(why: &str) -> Frame {
    Frame::Invalid(error_reply(&Value::Null, PARSE_ERROR, format!("Keyward: {why}. Send one JSON-RPC message per line."), Value::Null))
}

/// Reads one line of MCP's stdio transport (without or with its newline).
pub fn decode_line(line: &[u8]) -> Frame {
    let Ok(text) = std::str::from_utf8(line) else {
        return parse_error("that line is not UTF-8 text");
    };
    if text.trim().is_empty() {
        return Frame::Blank;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(message) if message.is_object() => Frame::Message(message),
        Ok(_) => parse_error("that line is JSON but not a JSON-RPC message (an object)"),
        Err(e) => parse_error(&format!("that line is not JSON ({e})")),
    }
}

/// Reads the next line (at most [`MAX_LINE_BYTES`]) into `line`. Returns `None` at the end of
/// input, or `Some(false)` for an over-long line, whose remainder is read and dropped.
async fn next_line(input: &mut (impl AsyncBufRead + Unpin), line: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
    line.clear();
    let limit = MAX_LINE_BYTES as u64 + 1;
    if (&mut *input).take(limit).read_until(b'\n', line).await? == 0 {
        return Ok(None);
    }
    if line.len() <= MAX_LINE_BYTES || line.ends_with(b"\n") {
        return Ok(Some(true));
    }
    let mut rest = Vec::new();
    loop {
        rest.clear();
        if (&mut *input).take(limit).read_until(b'\n', &mut rest).await? == 0 || rest.ends_with(b"\n") {
            return Ok(Some(false));
        }
    }
}

/// The JSON-RPC messages in a server-sent-events body: each event's `data:` lines.
pub fn sse_messages(body: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut data = String::new();
    for line in body.lines().chain(std::iter::once("")) {
        if line.is_empty() {
            if !data.is_empty() {
                if let Ok(value) = serde_json::from_str::<Value>(&data) {
                    out.push(value);
                }
                data.clear();
            }
        } else if let Some(rest) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        }
    }
    out
}

/// Runs the bridge until `input` ends, answering on `output`.
pub async fn run(config: BridgeConfig, input: impl AsyncRead + Unpin, mut output: impl AsyncWrite + Unpin + Send + 'static) -> std::io::Result<()> {
    let http = crate::client::http_client(Duration::from_secs(120), concat!("keyward-bridge/", env!("CARGO_PKG_VERSION"))).map_err(std::io::Error::other)?;
    let mirror = config.mirror.as_deref().filter(|p| p.exists()).and_then(|p| Mirror::open(p).ok()).map(Mutex::new);
    let usage = config.usage.as_deref().and_then(|p| Usage::open(p).ok()).map(Mutex::new);
    let relay = Arc::new(Relay {
        http,
        endpoint: format!("{}/mcp", config.server),
        config,
        mirror,
        session: Mutex::new(Session::default()),
        usage,
        client: Mutex::new("an MCP client that did not initialize".into()),
    });
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    let writer = tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            let mut line = serde_json::to_vec(&message).unwrap_or_default();
            line.push(b'\n');
            if output.write_all(&line).await.is_err() || output.flush().await.is_err() {
                break;
            }
        }
    });
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    while let Some(whole) = next_line(&mut input, &mut line).await? {
        let frame = if whole { decode_line(&line) } else { parse_error(&format!("that line is longer than {MAX_LINE_BYTES} bytes")) };
        let message = match frame {
            Frame::Blank => continue,
            Frame::Message(message) => message,
            Frame::Invalid(reply) => {
                let _ = tx.send(reply);
                continue;
            }
        };
        let relay = relay.clone();
        let tx = tx.clone();
        // `initialize` is answered before anything else is sent, so the protocol version is known.
        if message.get("method").and_then(Value::as_str) == Some("initialize") {
            for reply in relay.serve(message).await {
                let _ = tx.send(reply);
            }
            continue;
        }
        tasks.spawn(async move {
            for reply in relay.serve(message).await {
                let _ = tx.send(reply);
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    drop(tx);
    let _ = writer.await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_bodies_yield_each_event_s_data() {
        let body = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n: ping\n\ndata: {\"jsonrpc\":\"2.0\",\ndata: \"method\":\"x\"}\n\n";
        let messages = sse_messages(body);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0]["id"], 1);
        assert_eq!(messages[1]["method"], "x");
    }

    #[test]
    fn each_line_is_a_message_a_blank_or_a_parse_error_never_the_end() {
        assert_eq!(decode_line(b"  \r\n"), Frame::Blank);
        assert!(matches!(decode_line(b"{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}\n"), Frame::Message(m) if m["method"] == "ping"));
        for bad in [&b"\xff\xfe{}"[..], b"not json", b"[1,2]", b"42", b"{\"unclosed\": "] {
            let Frame::Invalid(reply) = decode_line(bad) else { panic!("{bad:?} is not a message") };
            assert_eq!(reply["error"]["code"], PARSE_ERROR);
            assert_eq!(reply["id"], Value::Null);
        }
    }

    #[tokio::test]
    async fn an_over_long_line_is_skipped_and_the_next_one_read() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\n{\"id\":1}\n");
        let mut reader = BufReader::new(&input[..]);
        let mut line = Vec::new();
        assert_eq!(next_line(&mut reader, &mut line).await.unwrap(), Some(false));
        assert_eq!(next_line(&mut reader, &mut line).await.unwrap(), Some(true));
        assert_eq!(line, b"{\"id\":1}\n");
        assert_eq!(next_line(&mut reader, &mut line).await.unwrap(), None);
    }
}
