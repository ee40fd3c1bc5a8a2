//! `mcpServers` in Claude Desktop's and Claude Code's JSON files.
//!
//! The file is edited as text at the byte ranges the parser reports: adding an entry inserts
//! one property in the style of the object it goes into (compact or indented, LF or CRLF,
//! the file's indent), and removing it cuts out exactly that property. Every other byte
//! (other servers, unknown fields, spacing, line endings, unicode) stays as it was, and an
//! add followed by a remove gives back the original file.

use jsonc_parser::ast::{Object, Value as Ast};
use jsonc_parser::{CollectOptions, ParseOptions, parse_to_ast};
use serde::Serialize;
use serde_json::Value;

use super::ConfigError;

/// How the file writes itself.
struct Style {
    newline: &'static str,
    /// One level of indentation.
    unit: String,
}

impl Style {
    fn of(text: &str) -> Style {
        let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
        let unit = text
            .lines()
            .skip(1)
            .map(|line| &line[..line.len() - line.trim_start_matches([' ', '\t']).len()])
            .find(|indent| !indent.is_empty())
            .unwrap_or("  ")
            .to_owned();
        Style { newline, unit }
    }
}

/// The leading whitespace of the line `pos` is on.
fn line_indent(text: &str, pos: usize) -> &str {
    let start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

fn is_multiline(text: &str, object: &Object<'_>) -> bool {
    text[object.range.start..object.range.end].contains('\n')
}

/// `value` as text: compact for a one-line object, else indented from `indent`.
fn render(value: &Value, style: &Style, indent: &str, multiline: bool) -> String {
    if !multiline {
        return value.to_string();
    }
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(style.unit.as_bytes());
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut serializer).expect("JSON values serialise");
    String::from_utf8(out).expect("JSON is UTF-8").replace('\n', &format!("{}{indent}", style.newline))
}

fn quoted(name: &str) -> String {
    Value::String(name.to_owned()).to_string()
}

/// Inserts `"name": value` as the object's last property.
fn insert_property(text: &str, object: &Object<'_>, name: &str, value: &Value, style: &Style) -> String {
    let multiline = is_multiline(text, object);
    let body = &text[object.range.start..object.range.end];
    let (at, insertion) = match object.properties.last() {
        Some(last) if multiline => {
            let indent = line_indent(text, last.range.start);
            (last.range.end, format!(",{}{indent}{}: {}", style.newline, quoted(name), render(value, style, indent, true)))
        }
        Some(last) => {
            let colon = if body.contains("\": ") { ": " } else { ":" };
            let comma = if body.contains(", ") { ", " } else { "," };
            (last.range.end, format!("{comma}{}{colon}{}", quoted(name), render(value, style, "", false)))
        }
        None if multiline => {
            let indent = format!("{}{}", line_indent(text, object.range.start), style.unit);
            (object.range.start + 1, format!("{}{indent}{}: {}", style.newline, quoted(name), render(value, style, &indent, true)))
        }
        None => (object.range.start + 1, format!("{}: {}", quoted(name), render(value, style, "", false))),
    };
    format!("{}{insertion}{}", &text[..at], &text[at..])
}

/// Checks the file strictly (what the assistants themselves accept) and parses it for ranges.
fn parse(text: &str) -> Result<(Value, jsonc_parser::ParseResult<'_>), ConfigError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ConfigError::Unparsable(format!("it is not valid JSON ({e})")))?;
    if !value.is_object() {
        return Err(ConfigError::Unparsable("its top level is not a JSON object".into()));
    }
    if value.get("mcpServers").is_some_and(|s| !s.is_object()) {
        return Err(ConfigError::Unparsable("its \"mcpServers\" is not an object".into()));
    }
    let ast = parse_to_ast(text, &CollectOptions::default(), &ParseOptions::default()).map_err(|e| ConfigError::Unparsable(e.to_string()))?;
    // With a key twice, the assistant reads the last and an edit could land in the first: the
    // entry written would not be the entry used. Such a file is refused.
    let root = root(&ast)?;
    let duplicate = |object: &Object<'_>| {
        let mut seen = std::collections::HashSet::new();
        object.properties.iter().map(|p| p.name.as_str()).find(|name| !seen.insert(*name)).map(str::to_owned)
    };
    if root.properties.iter().filter(|p| p.name.as_str() == "mcpServers").count() > 1 {
        return Err(ConfigError::Unparsable("it has \"mcpServers\" more than once; remove all but one".into()));
    }
    if let Some(name) = servers(root).and_then(duplicate) {
        return Err(ConfigError::Unparsable(format!("its \"mcpServers\" has \"{name}\" more than once; remove all but one")));
    }
    Ok((value, ast))
}

fn root<'a>(ast: &'a jsonc_parser::ParseResult<'a>) -> Result<&'a Object<'a>, ConfigError> {
    ast.value.as_ref().and_then(Ast::as_object).ok_or_else(|| ConfigError::Unparsable("its top level is not a JSON object".into()))
}

fn servers<'a>(root: &'a Object<'a>) -> Option<&'a Object<'a>> {
    root.get("mcpServers").and_then(|p| p.value.as_object())
}

/// Sets `mcpServers.<name>` to `entry`, adding it if absent. Returns the new text, or `None`
/// if the entry is already exactly that.
pub fn upsert(text: Option<&str>, name: &str, entry: &Value) -> Result<Option<String>, ConfigError> {
    let text = match text {
        Some(t) if !t.trim().is_empty() => t,
        _ => "{\n}\n",
    };
    let (value, ast) = parse(text)?;
    if value.get("mcpServers").and_then(|s| s.get(name)) == Some(entry) {
        return Ok(None);
    }
    let style = Style::of(text);
    let root = root(&ast)?;
    let out = match servers(root) {
        Some(servers) => match servers.get(name) {
            Some(existing) => {
                let range = existing.value.range();
                let indent = line_indent(text, existing.range.start);
                let rendered = render(entry, &style, indent, is_multiline(text, servers));
                format!("{}{rendered}{}", &text[..range.start], &text[range.end..])
            }
            None => insert_property(text, servers, name, entry, &style),
        },
        None => insert_property(text, root, "mcpServers", &serde_json::json!({ name: entry }), &style),
    };
    serde_json::from_str::<Value>(&out).map_err(|e| ConfigError::Unparsable(format!("the edit would produce invalid JSON ({e})")))?;
    Ok(Some(out))
}

/// Removes `mcpServers.<name>` if `is_ours` says it is Keyward's entry. `None`: nothing to do.
pub fn remove(text: Option<&str>, name: &str, is_ours: impl Fn(&Value) -> bool) -> Result<Option<String>, ConfigError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else { return Ok(None) };
    let (value, ast) = parse(text)?;
    if !value.get("mcpServers").and_then(|s| s.get(name)).is_some_and(&is_ours) {
        return Ok(None);
    }
    let Some(servers) = servers(root(&ast)?) else { return Ok(None) };
    let props = &servers.properties;
    let Some(i) = props.iter().position(|p| p.name.as_str() == name) else { return Ok(None) };
    // Cut the property with the separator that joined it to its neighbour.
    let (from, to) = if i > 0 {
        (props[i - 1].range.end, props[i].range.end)
    } else if props.len() > 1 {
        (props[0].range.start, props[1].range.start)
    } else {
        (servers.range.start + 1, props[0].range.end)
    };
    Ok(Some(format!("{}{}", &text[..from], &text[to..])))
}

/// The entry called `name`, if the text parses and has one.
pub fn entry(text: &str, name: &str) -> Option<Value> {
    serde_json::from_str::<Value>(text).ok()?.get("mcpServers")?.get(name).cloned()
}

trait Ranged {
    fn range(&self) -> jsonc_parser::common::Range;
}

impl Ranged for Ast<'_> {
    fn range(&self) -> jsonc_parser::common::Range {
        match self {
            Ast::StringLit(n) => n.range,
            Ast::NumberLit(n) => n.range,
            Ast::BooleanLit(n) => n.range,
            Ast::Object(n) => n.range,
            Ast::Array(n) => n.range,
            Ast::NullKeyword(n) => n.range,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(original: &str) -> String {
        let out = upsert(Some(original), "keyward-a", &json!({"command": "k", "args": ["bridge"]})).unwrap().unwrap();
        assert_eq!(entry(&out, "keyward-a").unwrap()["args"], json!(["bridge"]));
        assert_eq!(remove(Some(&out), "keyward-a", |_| true).unwrap().unwrap(), original);
        out
    }

    #[test]
    fn an_add_then_a_remove_gives_back_every_byte() {
        let crlf = round_trip("{\r\n    \"theme\": \"dark\",\r\n    \"mcpServers\": {\r\n        \"other\": {\"command\": \"x\"}\r\n    },\r\n    \"ünïcode\": \"✓\"\r\n}\r\n");
        assert!(crlf.contains("\r\n        \"keyward-a\": {\r\n            \"command\": \"k\""), "{crlf:?}");
        let compact = round_trip(r#"{"a":1,"mcpServers":{"s":{"type":"http"}},"b":[1,2]}"#);
        assert!(compact.contains(r#"{"s":{"type":"http"},"keyward-a":{"#), "{compact}");
        round_trip("{\n\t\"mcpServers\": {}\n}\n");
        round_trip("{\n  \"mcpServers\": {\n  }\n}");
    }

    #[test]
    fn a_file_without_mcp_servers_keeps_an_empty_one_after_the_last_removal() {
        // Keyward cannot tell a container it made from one the person left empty, so it
        // keeps it: `"mcpServers": {}` means the same to every assistant.
        for (original, expected) in [
            ("{\"theme\": \"dark\"}", "{\"theme\": \"dark\",\"mcpServers\": {}}"),
            ("{\n  \"theme\": \"dark\"\n}\n", "{\n  \"theme\": \"dark\",\n  \"mcpServers\": {\n  }\n}\n"),
            ("{}", "{\"mcpServers\": {}}"),
        ] {
            let out = upsert(Some(original), "k", &json!({"command": "c"})).unwrap().unwrap();
            assert_eq!(entry(&out, "k").unwrap()["command"], "c");
            assert_eq!(remove(Some(&out), "k", |_| true).unwrap().unwrap(), expected);
        }
    }

    #[test]
    fn replacing_an_entry_keeps_its_place() {
        let original = "{\n  \"mcpServers\": {\n    \"keyward-a\": {\"command\": \"old\"},\n    \"z\": {}\n  }\n}\n";
        let out = upsert(Some(original), "keyward-a", &json!({"command": "new"})).unwrap().unwrap();
        assert!(out.find("keyward-a").unwrap() < out.find("\"z\"").unwrap());
        assert_eq!(entry(&out, "keyward-a").unwrap()["command"], "new");
        assert!(out.ends_with("    \"z\": {}\n  }\n}\n"));
    }

    #[test]
    fn files_that_are_not_json_objects_are_refused() {
        for bad in ["{", "[1]", "{\"mcpServers\": 3}", "// comment\n{}", "nul", "{\"a\": 1,}"] {
            assert!(upsert(Some(bad), "k", &json!({})).is_err(), "{bad}");
        }
    }

    #[test]
    fn writing_the_same_entry_twice_changes_nothing() {
        let first = upsert(None, "k", &json!({"command": "c"})).unwrap().unwrap();
        assert_eq!(upsert(Some(&first), "k", &json!({"command": "c"})).unwrap(), None);
    }
}
