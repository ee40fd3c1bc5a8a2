//! `mcpServers` in Claude Desktop's and Claude Code's JSON files, edited through a concrete
//! syntax tree so that every byte outside the entry Keyward writes stays as it was: other
//! servers, unknown fields, indentation, line endings, unicode.

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstRootNode};
use serde_json::Value;

use super::ConfigError;

fn to_input(value: &Value) -> CstInputValue {
    match value {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(items) => CstInputValue::Array(items.iter().map(to_input).collect()),
        Value::Object(map) => CstInputValue::Object(map.iter().map(|(k, v)| (k.clone(), to_input(v))).collect()),
    }
}

/// The file must be a JSON object (what the assistants themselves accept); anything else is
/// refused so that Keyward never rewrites a file it does not understand.
fn parse(text: &str) -> Result<(Value, CstRootNode), ConfigError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ConfigError::Unparsable(format!("it is not valid JSON ({e})")))?;
    if !value.is_object() {
        return Err(ConfigError::Unparsable("its top level is not a JSON object".into()));
    }
    if value.get("mcpServers").is_some_and(|s| !s.is_object()) {
        return Err(ConfigError::Unparsable("its \"mcpServers\" is not an object".into()));
    }
    let root = CstRootNode::parse(text, &ParseOptions::default()).map_err(|e| ConfigError::Unparsable(e.to_string()))?;
    Ok((value, root))
}

/// Sets `mcpServers.<name>` to `entry`, adding it if absent. Returns the new text, or `None`
/// if the entry is already exactly that.
pub fn upsert(text: Option<&str>, name: &str, entry: &Value) -> Result<Option<String>, ConfigError> {
    let text = match text {
        Some(t) if !t.trim().is_empty() => t,
        _ => "{\n}\n",
    };
    let (value, root) = parse(text)?;
    if value.pointer(&format!("/mcpServers/{}", name.replace('~', "~0").replace('/', "~1"))) == Some(entry) {
        return Ok(None);
    }
    let servers = root
        .object_value_or_set()
        .object_value_or_create("mcpServers")
        .ok_or_else(|| ConfigError::Unparsable("its \"mcpServers\" is not an object".into()))?;
    match servers.get(name) {
        Some(existing) => existing.set_value(to_input(entry)),
        None => {
            servers.append(name, to_input(entry));
        }
    }
    let out = root.to_string();
    serde_json::from_str::<Value>(&out).map_err(|e| ConfigError::Unparsable(format!("the edit produced invalid JSON ({e})")))?;
    Ok(Some(out))
}

/// Removes `mcpServers.<name>` if `is_ours` says it is Keyward's entry. `None`: nothing to do.
pub fn remove(text: Option<&str>, name: &str, is_ours: impl Fn(&Value) -> bool) -> Result<Option<String>, ConfigError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else { return Ok(None) };
    let (value, root) = parse(text)?;
    if !value.get("mcpServers").and_then(|s| s.get(name)).is_some_and(&is_ours) {
        return Ok(None);
    }
    let servers = root.object_value_or_set().object_value("mcpServers").ok_or(ConfigError::Unparsable("mcpServers vanished".into()))?;
    if let Some(prop) = servers.get(name) {
        prop.remove();
    }
    Ok(Some(root.to_string()))
}

/// The entry called `name`, if the text parses and has one.
pub fn entry(text: &str, name: &str) -> Option<Value> {
    serde_json::from_str::<Value>(text).ok()?.get("mcpServers")?.get(name).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn adding_an_entry_keeps_everything_else_byte_for_byte() {
        let original = "{\r\n    \"theme\": \"dark\",\r\n    \"mcpServers\": {\r\n        \"other\": {\"command\": \"x\"}\r\n    },\r\n    \"ünïcode\": \"✓\"\r\n}\r\n";
        let out = upsert(Some(original), "keyward-a", &json!({"command": "k", "args": ["bridge"]})).unwrap().unwrap();
        assert!(out.starts_with("{\r\n    \"theme\": \"dark\",\r\n    \"mcpServers\": {\r\n        \"other\": {\"command\": \"x\"}"), "{out}");
        assert!(out.ends_with("    },\r\n    \"ünïcode\": \"✓\"\r\n}\r\n"), "{out:?}");
        assert_eq!(entry(&out, "keyward-a").unwrap()["args"], json!(["bridge"]));
        let back = remove(Some(&out), "keyward-a", |_| true).unwrap().unwrap();
        assert_eq!(back, original);
    }

    #[test]
    fn files_that_are_not_json_objects_are_refused() {
        for bad in ["{", "[1]", "{\"mcpServers\": 3}", "// comment\n{}", "nul"] {
            assert!(upsert(Some(bad), "k", &json!({})).is_err(), "{bad}");
        }
    }

    #[test]
    fn writing_the_same_entry_twice_changes_nothing() {
        let first = upsert(None, "k", &json!({"command": "c"})).unwrap().unwrap();
        assert_eq!(upsert(Some(&first), "k", &json!({"command": "c"})).unwrap(), None);
    }
}
