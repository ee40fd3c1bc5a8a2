//! A map of servers in a JSON file (`mcpServers`, VS Code's `servers`, Zed's
//! `context_servers`, OpenCode's `mcp`), in strict JSON or in JSON with comments.
//!
//! The file is edited as text at the byte ranges the parser reports: adding an entry inserts
//! one property in the style of the object it goes into (compact or indented, LF or CRLF,
//! the file's indent), and removing it cuts out exactly that property. Every other byte
//! (other servers, unknown fields, comments, spacing, line endings, unicode) stays as it was,
//! and an add followed by a remove gives back the original file.

use jsonc_parser::ast::{Object, Value as Ast};
use jsonc_parser::tokens::{Token, TokenAndRange};
use jsonc_parser::{CollectOptions, CommentCollectionStrategy, ParseOptions, parse_to_ast};
use serde::Serialize;
use serde_json::Value;

use super::ConfigError;

/// Which JSON an assistant reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Strict JSON: a comment makes the assistant fail, so Keyward refuses such a file too.
    Strict,
    /// JSON with `//` and `/* */` comments and trailing commas (VS Code's, Zed's JSONC).
    Comments,
}

impl Dialect {
    fn options(self) -> ParseOptions {
        let jsonc = self == Dialect::Comments;
        ParseOptions {
            allow_comments: jsonc,
            allow_trailing_commas: jsonc,
            allow_loose_object_property_names: false,
            allow_missing_commas: false,
            allow_single_quoted_strings: false,
            allow_hexadecimal_numbers: false,
            allow_unary_plus_numbers: false,
            allow_bare_decimal_point_numbers: false,
            allow_non_finite_numbers: false,
            allow_extended_string_escapes: false,
        }
    }

    /// The file as a value, checked as strictly as the assistant reads it.
    fn value(self, text: &str) -> Result<Value, String> {
        match self {
            Dialect::Strict => serde_json::from_str(text).map_err(|e| format!("it is not valid JSON ({e})")),
            Dialect::Comments => jsonc_parser::parse_to_serde_value(text, &self.options()).map_err(|e| format!("it is not valid JSON ({e})")),
        }
    }
}

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
fn insert_property(text: &str, tokens: &[TokenAndRange<'_>], object: &Object<'_>, name: &str, value: &Value, style: &Style) -> String {
    let multiline = is_multiline(text, object);
    let body = &text[object.range.start..object.range.end];
    let (at, insertion) = match object.properties.last() {
        Some(last) if multiline => {
            let indent = line_indent(text, last.range.start);
            let property = format!("{}{indent}{}: {}", style.newline, quoted(name), render(value, style, indent, true));
            let after = between(tokens, last.range.end, object.range.end - 1);
            let trailing_comma = matches!(after.first().map(|t| &t.token), Some(Token::Comma));
            // A comment on the last property's line stays with it: the new property goes on
            // the next line, and the comma the last property needs goes before the comment.
            let same_line_comment = after
                .iter()
                .take_while(|t| !text[last.range.end..t.range.start].contains('\n'))
                .find(|t| matches!(t.token, Token::CommentLine(_) | Token::CommentBlock(_)));
            match same_line_comment {
                Some(comment) => {
                    let comma_after_ours = if trailing_comma { "," } else { "" };
                    let text = format!("{}{property}{comma_after_ours}{}", &text[..comment.range.end], &text[comment.range.end..]);
                    let comma = if trailing_comma { "" } else { "," };
                    return format!("{}{comma}{}", &text[..last.range.end], &text[last.range.end..]);
                }
                None => (last.range.end, format!(",{property}")),
            }
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

/// The tokens (comments included) that lie wholly within `from..to`.
fn between<'a, 't>(tokens: &'a [TokenAndRange<'t>], from: usize, to: usize) -> &'a [TokenAndRange<'t>] {
    let start = tokens.partition_point(|t| t.range.start < from);
    let end = tokens.partition_point(|t| t.range.end <= to);
    &tokens[start..end.max(start)]
}

fn is_comment(token: &TokenAndRange<'_>) -> bool {
    matches!(token.token, Token::CommentLine(_) | Token::CommentBlock(_))
}

/// Where the line `pos` is on starts, if only spaces and tabs precede `pos` on it.
fn alone_on_line(text: &str, pos: usize) -> Option<usize> {
    let start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    text[start..pos].chars().all(|c| c == ' ' || c == '\t').then_some(start)
}

/// The byte ranges to cut to take property `i` out of `object`, with one separating comma.
fn removal(text: &str, tokens: &[TokenAndRange<'_>], object: &Object<'_>, i: usize) -> Vec<std::ops::Range<usize>> {
    let props = &object.properties;
    let ours = props[i].range;
    let prev_end = if i > 0 { props[i - 1].range.end } else { object.range.start + 1 };
    let next_start = props.get(i + 1).map_or(object.range.end - 1, |p| p.range.start);
    let before = between(tokens, prev_end, ours.start);
    let after = between(tokens, ours.end, next_start);
    let comma_after = after.first().filter(|t| matches!(t.token, Token::Comma));
    // What Keyward's own insertion added: a comma and the property, nothing between.
    if i > 0 && before.len() == 1 && !is_comment(&before[0]) {
        return vec![prev_end..ours.end];
    }
    // The only property: everything from the brace to it, and its trailing comma if any.
    if props.len() == 1 && !before.iter().any(is_comment) {
        return vec![prev_end..comma_after.map_or(ours.end, |c| c.range.end)];
    }
    // Its line (when it has one to itself), through the comma after it and that line's end;
    // comments around it stay where they are.
    let line = alone_on_line(text, ours.start);
    if let Some(comma) = comma_after {
        let rest = &text[comma.range.end..];
        let blank = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        let newline = if rest[blank..].starts_with("\r\n") { 2 } else { usize::from(rest[blank..].starts_with('\n')) };
        return match line {
            Some(start) if newline > 0 => vec![start..comma.range.end + blank + newline],
            // Something follows on its line (a comment): that stays, where it was.
            _ => vec![ours.start..comma.range.end + blank],
        };
    }
    // The last one, with comments before it: its line (with the line break before it) and
    // the comma that separated it from the property before.
    let from = match line {
        Some(start) if start > 0 => start - if text[..start].ends_with("\r\n") { 2 } else { 1 },
        _ => ours.start,
    };
    let comma = before.iter().find(|t| matches!(t.token, Token::Comma)).map(|c| c.range.start..c.range.end);
    comma.into_iter().chain([from..ours.end]).collect()
}

/// Checks the file as the assistant would read it and parses it for ranges.
fn parse<'t>(text: &'t str, at: &At) -> Result<(Value, jsonc_parser::ParseResult<'t>), ConfigError> {
    let container = at.container;
    let value = at.dialect.value(text).map_err(ConfigError::Unparsable)?;
    if !value.is_object() {
        return Err(ConfigError::Unparsable("its top level is not a JSON object".into()));
    }
    if value.get(container).is_some_and(|s| !s.is_object()) {
        return Err(ConfigError::Unparsable(format!("its \"{container}\" is not an object")));
    }
    let collect = CollectOptions { comments: CommentCollectionStrategy::AsTokens, tokens: true };
    let ast = parse_to_ast(text, &collect, &at.dialect.options()).map_err(|e| ConfigError::Unparsable(e.to_string()))?;
    // With a key twice, the assistant reads the last and an edit could land in the first: the
    // entry written would not be the entry used. Such a file is refused.
    let root = root(&ast)?;
    let duplicate = |object: &Object<'_>| {
        let mut seen = std::collections::HashSet::new();
        object.properties.iter().map(|p| p.name.as_str()).find(|name| !seen.insert(*name)).map(str::to_owned)
    };
    if root.properties.iter().filter(|p| p.name.as_str() == container).count() > 1 {
        return Err(ConfigError::Unparsable(format!("it has \"{container}\" more than once; remove all but one")));
    }
    if let Some(name) = servers(root, container).and_then(duplicate) {
        return Err(ConfigError::Unparsable(format!("its \"{container}\" has \"{name}\" more than once; remove all but one")));
    }
    Ok((value, ast))
}

fn root<'a>(ast: &'a jsonc_parser::ParseResult<'a>) -> Result<&'a Object<'a>, ConfigError> {
    ast.value.as_ref().and_then(Ast::as_object).ok_or_else(|| ConfigError::Unparsable("its top level is not a JSON object".into()))
}

fn servers<'a>(root: &'a Object<'a>, container: &str) -> Option<&'a Object<'a>> {
    root.get(container).and_then(|p| p.value.as_object())
}

/// Where the servers are: the top-level key holding them, in a file of this dialect.
#[derive(Debug, Clone, Copy)]
pub struct At {
    pub dialect: Dialect,
    pub container: &'static str,
}

/// Sets `<container>.<name>` to `entry`, adding it if absent. Returns the new text, or `None`
/// if the entry is already exactly that.
pub fn upsert(text: Option<&str>, at: &At, name: &str, entry: &Value) -> Result<Option<String>, ConfigError> {
    let text = match text {
        Some(t) if !t.trim().is_empty() => t,
        _ => "{\n}\n",
    };
    let (value, ast) = parse(text, at)?;
    if value.get(at.container).and_then(|s| s.get(name)) == Some(entry) {
        return Ok(None);
    }
    let style = Style::of(text);
    let root = root(&ast)?;
    let tokens = ast.tokens.as_deref().unwrap_or_default();
    let out = match servers(root, at.container) {
        Some(servers) => match servers.get(name) {
            Some(existing) => {
                let range = existing.value.range();
                let indent = line_indent(text, existing.range.start);
                let rendered = render(entry, &style, indent, is_multiline(text, servers));
                format!("{}{rendered}{}", &text[..range.start], &text[range.end..])
            }
            None => insert_property(text, tokens, servers, name, entry, &style),
        },
        None => insert_property(text, tokens, root, at.container, &serde_json::json!({ name: entry }), &style),
    };
    // The file must read as exactly what was meant: the same, with this entry set.
    let mut meant = value;
    meant[at.container][name] = entry.clone();
    let written = at.dialect.value(&out).map_err(|why| ConfigError::Unparsable(format!("the edit would make the file unreadable: {why}")))?;
    if written != meant {
        return Err(ConfigError::Unparsable(format!("Keyward could not place its entry in \"{}\" safely", at.container)));
    }
    Ok(Some(out))
}

/// Removes `<container>.<name>` if `is_ours` says it is Keyward's entry. `None`: nothing to do.
pub fn remove(text: Option<&str>, at: &At, name: &str, is_ours: impl Fn(&Value) -> bool) -> Result<Option<String>, ConfigError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let (value, ast) = parse(text, at)?;
    if !value.get(at.container).and_then(|s| s.get(name)).is_some_and(&is_ours) {
        return Ok(None);
    }
    let Some(servers) = servers(root(&ast)?, at.container) else {
        return Ok(None);
    };
    let Some(i) = servers.properties.iter().position(|p| p.name.as_str() == name) else {
        return Ok(None);
    };
    let tokens = ast.tokens.as_deref().unwrap_or_default();
    let mut out = text.to_owned();
    // Back to front, so each range still points at the same bytes.
    for range in removal(text, tokens, servers, i).into_iter().rev() {
        out.replace_range(range, "");
    }
    // The file must read as exactly what was meant: the same, without this entry.
    let mut meant = value;
    if let Some(servers) = meant.get_mut(at.container).and_then(Value::as_object_mut) {
        servers.remove(name);
    }
    let left = at.dialect.value(&out).map_err(|why| ConfigError::Unparsable(format!("the removal would make the file unreadable: {why}")))?;
    if left != meant {
        return Err(ConfigError::Unparsable(format!("Keyward could not take its entry out of \"{}\" safely", at.container)));
    }
    Ok(Some(out))
}

/// The entry called `name`, if the text parses and has one.
pub fn entry(text: &str, at: &At, name: &str) -> Option<Value> {
    at.dialect.value(text).ok()?.get(at.container)?.get(name).cloned()
}

/// The whole file as a value; an empty file is `{}`.
pub fn document(text: &str, at: &At) -> Result<Value, ConfigError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    at.dialect.value(text).map_err(ConfigError::Unparsable)
}

/// Every entry in the container, in file order.
pub fn entries(text: &str, at: &At) -> Vec<(String, Value)> {
    match at.dialect.value(text).ok().and_then(|mut v| v.get_mut(at.container).map(Value::take)) {
        Some(Value::Object(map)) => map.into_iter().collect(),
        _ => Vec::new(),
    }
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

    const AT: At = At { dialect: Dialect::Strict, container: "mcpServers" };
    const JSONC: At = At { dialect: Dialect::Comments, container: "context_servers" };

    fn round_trip(original: &str) -> String {
        let out = upsert(Some(original), &AT, "keyward-a", &json!({"command": "k", "args": ["bridge"]})).unwrap().unwrap();
        assert_eq!(entry(&out, &AT, "keyward-a").unwrap()["args"], json!(["bridge"]));
        assert_eq!(remove(Some(&out), &AT, "keyward-a", |_| true).unwrap().unwrap(), original);
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
            let out = upsert(Some(original), &AT, "k", &json!({"command": "c"})).unwrap().unwrap();
            assert_eq!(entry(&out, &AT, "k").unwrap()["command"], "c");
            assert_eq!(remove(Some(&out), &AT, "k", |_| true).unwrap().unwrap(), expected);
        }
    }

    #[test]
    fn replacing_an_entry_keeps_its_place() {
        let original = "{\n  \"mcpServers\": {\n    \"keyward-a\": {\"command\": \"old\"},\n    \"z\": {}\n  }\n}\n";
        let out = upsert(Some(original), &AT, "keyward-a", &json!({"command": "new"})).unwrap().unwrap();
        assert!(out.find("keyward-a").unwrap() < out.find("\"z\"").unwrap());
        assert_eq!(entry(&out, &AT, "keyward-a").unwrap()["command"], "new");
        assert!(out.ends_with("    \"z\": {}\n  }\n}\n"));
    }

    #[test]
    fn files_that_are_not_json_objects_are_refused() {
        for bad in ["{", "[1]", "{\"mcpServers\": 3}", "// comment\n{}", "nul", "{\"a\": 1,}"] {
            assert!(upsert(Some(bad), &AT, "k", &json!({})).is_err(), "{bad}");
        }
    }

    #[test]
    fn writing_the_same_entry_twice_changes_nothing() {
        let first = upsert(None, &AT, "k", &json!({"command": "c"})).unwrap().unwrap();
        assert_eq!(upsert(Some(&first), &AT, "k", &json!({"command": "c"})).unwrap(), None);
    }

    #[test]
    fn comments_and_trailing_commas_survive_where_the_assistant_allows_them() {
        let zed = "// Zed settings\n//\n// For information on how to configure Zed, see the Zed\n{\n  \"theme\": \"One Dark\", // my theme\n  /* servers */\n  \"context_servers\": {\n    // the docs server\n    \"docs\": {\"source\": \"custom\", \"command\": \"docs-mcp\"}, // trailing\n  },\n}\n";
        let entry_value = json!({"source": "custom", "command": "k", "args": ["bridge"]});
        let out = upsert(Some(zed), &JSONC, "keyward-a", &entry_value).unwrap().unwrap();
        assert_eq!(entry(&out, &JSONC, "keyward-a"), Some(entry_value.clone()), "{out}");
        assert_eq!(entries(&out, &JSONC).len(), 2);
        assert_eq!(remove(Some(&out), &JSONC, "keyward-a", |_| true).unwrap().unwrap(), zed);
        // Into a file without the container, and first of several, the comments stay.
        // (A container Keyward made stays, empty, as for strict JSON.)
        for (original, expected) in [
            ("// only a comment\n{\n  \"theme\": \"x\", // why\n}\n", "// only a comment\n{\n  \"theme\": \"x\", // why\n  \"context_servers\": {\n  },\n}\n"),
            (
                "{\n  \"context_servers\": {\n    \"keyward-a\": {},\n    // about b\n    \"b\": {}\n  }\n}\n",
                "{\n  \"context_servers\": {\n    // about b\n    \"b\": {}\n  }\n}\n",
            ),
        ] {
            let out = upsert(Some(original), &JSONC, "keyward-a", &entry_value).unwrap().unwrap();
            let back = remove(Some(&out), &JSONC, "keyward-a", |_| true).unwrap().unwrap();
            assert_eq!(back, expected, "{out}");
        }
        // A strict file with a comment is refused: the assistant would refuse it too.
        assert!(upsert(Some(zed), &AT, "keyward-a", &entry_value).is_err());
    }

    #[test]
    fn a_comment_on_the_last_line_stays_with_its_property() {
        for original in [
            "{\n  \"context_servers\": {\n    \"docs\": {\"command\": \"d\"} // the docs\n  }\n}\n",
            "{\n  \"context_servers\": {\n    \"docs\": {\"command\": \"d\"}, /* trailing */\n  },\n}\n",
        ] {
            let out = upsert(Some(original), &JSONC, "keyward-a", &json!({"command": "k"})).unwrap().unwrap();
            let docs_line = out.lines().find(|l| l.contains("\"docs\"")).unwrap();
            assert!(docs_line.contains("// the docs") || docs_line.contains("/* trailing */"), "{out}");
            assert!(!out.lines().any(|l| l.contains("keyward-a") && l.contains("/")), "the comment does not move to Keyward's line: {out}");
            assert_eq!(remove(Some(&out), &JSONC, "keyward-a", |_| true).unwrap().unwrap(), original);
        }
    }

    #[test]
    fn comments_written_around_the_entry_since_stay_when_it_goes() {
        let at_end = "{\n  \"context_servers\": {\n    \"docs\": {},\n    // added by hand later\n    \"keyward-a\": {\"command\": \"k\"}\n  }\n}\n";
        assert_eq!(
            remove(Some(at_end), &JSONC, "keyward-a", |_| true).unwrap().unwrap(),
            "{\n  \"context_servers\": {\n    \"docs\": {}\n    // added by hand later\n  }\n}\n"
        );
        let in_middle = "{\n  \"context_servers\": {\n    // ours\n    \"keyward-a\": {\"command\": \"k\"}, // mine\n    \"docs\": {},\n  },\n}\n";
        let out = remove(Some(in_middle), &JSONC, "keyward-a", |_| true).unwrap().unwrap();
        assert_eq!(out, "{\n  \"context_servers\": {\n    // ours\n    // mine\n    \"docs\": {},\n  },\n}\n", "{out}");
    }

    #[test]
    fn the_only_entry_goes_with_its_trailing_comma() {
        let original = "{\n  \"context_servers\": {\n    \"keyward-a\": {\"command\": \"k\"},\n  },\n}\n";
        let out = remove(Some(original), &JSONC, "keyward-a", |_| true).unwrap().unwrap();
        assert_eq!(entries(&out, &JSONC), Vec::new());
        assert!(!out.contains(",,") && !out.contains("{,"), "{out}");
    }
}
