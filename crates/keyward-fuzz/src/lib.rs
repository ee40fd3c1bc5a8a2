//! The bodies of Keyward's fuzz targets. `fuzz/` wraps each in a libFuzzer target for
//! `cargo fuzz run`; `tests/corpora.rs` replays every saved input through the same function in
//! the normal test run, so an input that once broke something stays a test.
//!
//! Each body feeds untrusted bytes to one parser the outside world can reach and asserts what
//! must hold for any input: no panic, and anything accepted behaves.

use std::path::Path;

use keyward::agents::{Agent, ServerEntry};
use keyward::bridge::{self, Frame};
use keyward_core::ApiKey;

/// A target's body: it panics when the input breaks a promise.
pub type Target = fn(&[u8]);

/// The targets, by the names `fuzz/` and the corpus folders use.
pub const TARGETS: &[(&str, Target)] =
    &[("key_parse", key_parse), ("json_config", json_config), ("toml_config", toml_config), ("yaml_config", yaml_config), ("bridge_framing", bridge_framing)];

/// A key pasted by someone: parsing never panics, and what parses is exactly what was pasted,
/// with its own brand, id and prefix.
pub fn key_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = ApiKey::parse(text) {
        assert_eq!(key.expose(), text, "a parsed key reads back as given");
        assert!(text.starts_with(&key.key_prefix()), "the prefix is the start of the key");
        assert_eq!(key.key_prefix(), format!("{}_{}", key.brand(), key.id().as_str()));
    }
}

const NAME: &str = "keyward-fuzz-store-kw_Ab12Cd34";

fn entry() -> ServerEntry {
    ServerEntry::bridge(Path::new("/usr/bin/keyward"), "Ab12Cd34", "http://127.0.0.1:8420", None)
}

/// Whatever an assistant's file holds: Keyward either refuses it or writes a file that
/// parses, holds the entry, keeps every other entry, and from which the entry can be removed
/// again, leaving it parseable and without the entry.
fn config(agent: Agent, data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let spec = agent.spec();
    let (format, container) = (spec.format, spec.container);
    let value = spec.shape.write(&entry(), NAME);
    let written = match format.upsert(Some(text), container, NAME, &value) {
        Err(_) => return,
        Ok(None) => text.to_owned(),
        Ok(Some(written)) => written,
    };
    assert_eq!(format.entry(&written, container, NAME).as_ref(), Some(&value), "the entry reads back");
    let others = |text: &str| {
        let mut servers = format.entries(text, container);
        servers.retain(|(name, _)| name != NAME);
        servers
    };
    assert_eq!(others(&written), others(text), "every other entry is as it was");
    let removed = format.remove(Some(&written), container, NAME, |_| true).expect("Keyward can edit what it wrote").expect("the entry is there to remove");
    assert_eq!(format.entry(&removed, container, NAME), None, "the entry is gone");
    format.document(&removed).expect("the file still parses after the removal");
}

/// Claude Desktop's strict JSON, and Zed's JSON with comments, from the same bytes.
pub fn json_config(data: &[u8]) {
    config(Agent::ClaudeDesktop, data);
    config(Agent::Zed, data);
}

/// Codex's TOML.
pub fn toml_config(data: &[u8]) {
    config(Agent::Codex, data);
}

/// Goose's YAML.
pub fn yaml_config(data: &[u8]) {
    config(Agent::Goose, data);
}

/// Bytes on the bridge's stdin, line by line, and the same bytes as a response body from the
/// service: every line is a message, a blank or a parse error (never the end of the bridge),
/// and a parse error is a JSON-RPC error reply.
pub fn bridge_framing(data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        match bridge::decode_line(line) {
            Frame::Blank => assert!(line.iter().all(u8::is_ascii_whitespace) || std::str::from_utf8(line).is_ok_and(|t| t.trim().is_empty())),
            Frame::Message(message) => assert!(message.is_object()),
            Frame::Invalid(reply) => {
                assert_eq!(reply["jsonrpc"], "2.0");
                assert!(reply["error"]["message"].as_str().is_some_and(|m| m.starts_with("Keyward: ")));
            }
        }
    }
    if let Ok(body) = std::str::from_utf8(data) {
        for message in bridge::sse_messages(body) {
            let _ = serde_json::to_string(&message).expect("a relayed message serialises");
        }
    }
}
