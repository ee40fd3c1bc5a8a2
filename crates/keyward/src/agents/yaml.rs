//! A mapping of servers in a YAML file (Goose's `extensions:`), edited as text so that every
//! byte Keyward did not write stays as it was: comments, quoting, key order, blank lines.
//!
//! The file is parsed with `saphyr-parser`, whose events carry spans, into a small tree of
//! byte ranges. An entry is added as whole lines after the mapping's last entry (in Goose's
//! own layout: two-space steps, `- ` at the key's column, the file's line ending), or as
//! `, k: v` in a flow mapping; it is removed by cutting exactly its lines. Every result is read
//! again, by saphyr and by `yaml_serde` (the reader Goose itself uses), and must be, as data,
//! exactly what was intended; an addition must also come out again byte for byte. Anything
//! else is refused and the file left alone.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Value, json};

use super::ConfigError;

struct Node {
    start: usize, // byte offset of the node (its tag/anchor included)
    end: usize,   // byte offset just past its last character (flow: past `}`/`]`)
    anchor: usize,
    kind: Kind,
}

enum Kind {
    Scalar { value: String, style: ScalarStyle, str_tag: bool },
    Alias(usize),
    Seq { items: Vec<Node>, flow: bool },
    Map { pairs: Vec<(Node, Node)>, flow: bool, close: usize },
}

type Ev<'a> = (Event<'a>, usize, usize);

/// Parses one YAML document into a span tree; `Ok(None)` for a stream with no document.
fn parse(text: &str) -> Result<Option<Node>, String> {
    // saphyr's markers count chars; map them to byte offsets.
    let byte: Vec<usize> = text.char_indices().map(|(b, _)| b).chain([text.len()]).collect();
    let mut events = Vec::new();
    for r in Parser::new_from_str(text) {
        let (ev, span) = r.map_err(|e| e.to_string())?;
        let at = |i: usize| byte[i.min(byte.len() - 1)];
        events.push((ev, at(span.start.index()), at(span.end.index())));
    }
    if events.iter().filter(|(e, ..)| matches!(e, Event::DocumentStart(_))).count() > 1 {
        return Err("more than one YAML document".into());
    }
    let mut it = events.into_iter().skip_while(|(e, ..)| !matches!(e, Event::DocumentStart(_))).skip(1);
    match it.next() {
        None | Some((Event::StreamEnd, ..)) => Ok(None),
        Some(first) => node(&mut it, text, first).map(Some),
    }
}

fn node<'a>(it: &mut impl Iterator<Item = Ev<'a>>, text: &str, (ev, start, end): Ev<'a>) -> Result<Node, String> {
    let next = |it: &mut dyn Iterator<Item = Ev<'a>>| it.next().ok_or_else(|| "truncated".to_string());
    let (anchor, kind, end) = match ev {
        Event::Scalar(v, style, anchor, tag) => {
            let str_tag = tag.is_some_and(|t| t.suffix == "str");
            (anchor, Kind::Scalar { value: v.into_owned(), style, str_tag }, end)
        }
        Event::Alias(id) => (0, Kind::Alias(id), end),
        Event::SequenceStart(anchor, _) => {
            let mut items = Vec::new();
            loop {
                let ev = next(it)?;
                if let Event::SequenceEnd = ev.0 {
                    let flow = text[ev.1..].starts_with(']');
                    let end = if flow { ev.1 + 1 } else { items.last().map_or(start, |n: &Node| n.end) };
                    break (anchor, Kind::Seq { items, flow }, end);
                }
                items.push(node(it, text, ev)?);
            }
        }
        Event::MappingStart(anchor, _) => {
            let mut pairs = Vec::new();
            loop {
                let ev = next(it)?;
                if let Event::MappingEnd = ev.0 {
                    let flow = text[ev.1..].starts_with('}');
                    let end = if flow { ev.1 + 1 } else { pairs.last().map_or(start, |p: &(Node, Node)| p.1.end) };
                    break (anchor, Kind::Map { pairs, flow, close: ev.1 }, end);
                }
                let k = node(it, text, ev)?;
                let ev = next(it)?;
                let v = node(it, text, ev)?;
                pairs.push((k, v));
            }
        }
        other => return Err(format!("unexpected event {other:?}")),
    };
    Ok(Node { start, end, anchor, kind })
}

// ---------- data view (YAML 1.2 core schema) ----------

fn to_json(n: &Node, anchors: &mut HashMap<usize, Value>) -> Result<Value, String> {
    let v = match &n.kind {
        Kind::Alias(id) => {
            return anchors.get(id).cloned().ok_or_else(|| "unknown alias".to_string());
        }
        Kind::Scalar { value, style, str_tag } => {
            if *style == ScalarStyle::Plain && !str_tag {
                plain(value)
            } else {
                Value::String(value.clone())
            }
        }
        Kind::Seq { items, .. } => Value::Array(items.iter().map(|i| to_json(i, anchors)).collect::<Result<_, _>>()?),
        Kind::Map { pairs, .. } => {
            let mut m = Map::new();
            for (k, v) in pairs {
                let k = match to_json(k, anchors)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let v = to_json(v, anchors)?;
                if m.insert(k.clone(), v).is_some() {
                    return Err(format!("duplicate key {k:?}"));
                }
            }
            Value::Object(m)
        }
    };
    if n.anchor != 0 {
        anchors.insert(n.anchor, v.clone());
    }
    Ok(v)
}

fn plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let (neg, digits) = s.strip_prefix('-').map_or((false, s.strip_prefix('+').unwrap_or(s)), |d| (true, d));
    let int = if let Some(h) = digits.strip_prefix("0x") {
        u64::from_str_radix(h, 16).ok()
    } else if let Some(o) = digits.strip_prefix("0o") {
        u64::from_str_radix(o, 8).ok()
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<u64>().ok()
    } else {
        None
    };
    match int {
        Some(u) if !neg => return json!(u),
        Some(u) if u <= i64::MAX as u64 + 1 => return json!((u as i64).wrapping_neg()),
        _ => {}
    }
    let numeric = s.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) && s.bytes().any(|b| b.is_ascii_digit());
    match s.parse::<f64>() {
        Ok(f) if numeric => serde_json::Number::from_f64(f).map_or_else(|| Value::String(s.into()), Value::Number),
        _ => Value::String(s.into()),
    }
}

fn doc_json(root: &Option<Node>) -> Option<Value> {
    match root {
        None => Some(json!({})),
        Some(n) => match to_json(n, &mut HashMap::new()).ok()? {
            Value::Null => Some(json!({})),
            v => Some(v),
        },
    }
}

/// Parses and validates the file; returns it as data (an empty file is `{}`).
fn check(text: &str) -> Result<Value, String> {
    doc_json(&parse(text)?).ok_or_else(|| "cannot be read as JSON-like data".into())
}

/// The file as Goose's own YAML library reads it (yaml_serde, a libyaml port).
fn goose_view(text: &str) -> Option<Value> {
    match yaml_serde::from_str::<Value>(text.strip_prefix('\u{feff}').unwrap_or(text)) {
        Ok(Value::Null) => Some(json!({})),
        Ok(v) => Some(v),
        Err(_) if text.trim().is_empty() || parse(text).ok()?.is_none() => Some(json!({})), // comments only
        Err(_) => None,
    }
}

/// Both readers must see `out` as `want`, and `orig` as `before`.
fn verified(out: String, want: &Value, orig: &str, before: &Value) -> Option<String> {
    (goose_view(orig).as_ref() == Some(before) && check(&out).ok().as_ref() == Some(want) && goose_view(&out).as_ref() == Some(want)).then_some(out)
}

// ---------- rendering (Goose's serde_yaml layout: 2-space steps, `- ` at the key's column) ----------

fn plain_ok(s: &str, in_flow: bool) -> bool {
    let mut cs = s.chars();
    let first_ok = match cs.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '/' || c == '_' => true,
        Some('-') => cs.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '-'),
        _ => false,
    };
    first_ok
        && !s.ends_with(':')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./@+=".contains(c) || (c == ':' && !in_flow))
        && !matches!(s.to_ascii_lowercase().as_str(), "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "nan" | "inf")
}

fn string(s: &str, in_flow: bool) -> String {
    if plain_ok(s, in_flow) {
        return s.to_string();
    }
    let special = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}');
    if !s.chars().any(special) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if special(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out + "\""
}

fn inline(v: &Value, in_flow: bool) -> String {
    match v {
        Value::String(s) => string(s, in_flow),
        Value::Array(a) => format!("[{}]", a.iter().map(|x| inline(x, true)).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => format!("{{{}}}", m.iter().map(|(k, x)| format!("{}: {}", string(k, true), inline(x, true))).collect::<Vec<_>>().join(", ")),
        other => other.to_string(), // null, bool, number
    }
}

fn render(key: &str, v: &Value, indent: usize, out: &mut Vec<String>) {
    let (pad, k) = (" ".repeat(indent), string(key, false));
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push(format!("{pad}{k}:"));
            m.iter().for_each(|(k2, v2)| render(k2, v2, indent + 2, out));
        }
        Value::Array(a) if !a.is_empty() => {
            out.push(format!("{pad}{k}:"));
            a.iter().for_each(|x| out.push(format!("{pad}- {}", inline(x, false))));
        }
        _ => out.push(format!("{pad}{k}: {}", inline(v, false))),
    }
}

// ---------- text positions ----------

fn line_start(t: &str, p: usize) -> usize {
    t[..p].rfind('\n').map_or(0, |i| i + 1)
}
fn next_line(t: &str, p: usize) -> usize {
    t[p..].find('\n').map_or(t.len(), |i| p + i + 1)
}
/// The column of `p` when only spaces (after a BOM) stand before it on its line.
fn column(t: &str, p: usize) -> Option<usize> {
    let pre = t[line_start(t, p)..p].trim_start_matches('\u{feff}');
    pre.bytes().all(|b| b == b' ').then_some(pre.len())
}

/// Where the lines of a block node end: the start of the line after its last character
/// (so a trailing comment on that line stays with it), or the end of an unterminated file.
/// `None` for a block scalar that runs into the end of an unterminated file: text put after
/// it would give it a line break it doesn't have.
fn after(t: &str, n: &Node) -> Option<usize> {
    match &n.kind {
        Kind::Seq { items, flow: false } if !items.is_empty() => after(t, items.last()?),
        Kind::Map { pairs, flow: false, .. } if !pairs.is_empty() => after(t, &pairs.last()?.1),
        // A block scalar's span runs to the next token, past its trailing blank lines.
        Kind::Scalar { style: ScalarStyle::Literal | ScalarStyle::Folded, .. } => {
            let trimmed = t[..n.end].trim_end_matches([' ', '\t']);
            trimmed.ends_with('\n').then_some(trimmed.len())
        }
        _ => Some(next_line(t, n.end)),
    }
}

fn find<'n>(pairs: &'n [(Node, Node)], key: &str) -> Option<(usize, &'n Node, &'n Node)> {
    pairs.iter().enumerate().find_map(|(i, (k, v))| match &k.kind {
        Kind::Scalar { value, .. } if value == key => Some((i, k, v)),
        _ => None,
    })
}

fn splice(t: &str, r: std::ops::Range<usize>, with: &str) -> String {
    [&t[..r.start], with, &t[r.end..]].concat()
}

/// Inserts whole lines at `p` (a line start, or the end of an unterminated file).
fn insert_lines(t: &str, p: usize, lines: &[String], eol: &str) -> String {
    let block = lines.join(eol);
    if p == 0 || t[..p].ends_with('\n') { splice(t, p..p, &(block + eol)) } else { splice(t, p..p, &(eol.to_owned() + &block)) }
}

/// Removes the lines from the one holding `key_start` up to `end` (as computed by `after`).
fn cut_lines(t: &str, key_start: usize, end: usize) -> Option<String> {
    let ls = line_start(t, key_start);
    column(t, key_start)?;
    if t[..end].ends_with('\n') || ls == 0 {
        return Some(splice(t, ls..end, ""));
    }
    let from = if t[..ls].ends_with("\r\n") { ls - 2 } else { ls - 1 }; // take the break before instead
    Some(splice(t, from..end, ""))
}

fn eol_of(t: &str) -> &'static str {
    if t.contains("\r\n") { "\r\n" } else { "\n" }
}

// ---------- edits ----------

fn unparsable(why: impl Into<String>) -> ConfigError {
    ConfigError::Unparsable(why.into())
}

/// The file as data, checked as strictly as Goose reads it; an empty file is `{}`.
pub fn document(text: &str) -> Result<Value, ConfigError> {
    let value = check(text).map_err(|e| unparsable(format!("it is not valid YAML ({e})")))?;
    if !value.is_object() {
        return Err(unparsable("its top level is not a mapping"));
    }
    if goose_view(text).as_ref() != Some(&value) {
        return Err(unparsable("it reads differently in different YAML readers; simplify it (no tags, anchors or odd scalars)"));
    }
    Ok(value)
}

/// The file as data, with `container` checked to be a mapping (or absent, or empty).
fn servers_document(text: &str, container: &str) -> Result<Value, ConfigError> {
    let value = document(text)?;
    match value.get(container) {
        None | Some(Value::Null) | Some(Value::Object(_)) => Ok(value),
        Some(_) => Err(unparsable(format!("its \"{container}\" is not a mapping"))),
    }
}

/// The entry called `name`, if the text parses and has one.
pub fn entry(text: &str, container: &str, name: &str) -> Option<Value> {
    document(text).ok()?.get(container)?.get(name).cloned()
}

/// Every entry in the container, in file order.
pub fn entries(text: &str, container: &str) -> Vec<(String, Value)> {
    match document(text).ok().and_then(|mut v| v.get_mut(container).map(Value::take)) {
        Some(Value::Object(map)) => map.into_iter().collect(),
        _ => Vec::new(),
    }
}

const CANNOT_EDIT: &str = "Keyward cannot change it safely as it is written (a flow-style top level, several documents, or a block scalar at the very end without a line break); add a line break at the end or write the mapping in block style";

/// Sets `<container>.<name>` to `value`. `None` if it already is exactly that.
pub fn upsert(text: Option<&str>, container: &str, name: &str, value: &Value) -> Result<Option<String>, ConfigError> {
    let text = text.unwrap_or("");
    let before = servers_document(text, container)?;
    if before.get(container).and_then(|s| s.get(name)) == Some(value) {
        return Ok(None);
    }
    upsert_text(text, container, name, value).map(Some).ok_or_else(|| unparsable(CANNOT_EDIT))
}

/// Removes `<container>.<name>` if `is_ours` says it is Keyward's (and the container itself
/// when that was its last entry). `None`: nothing to do.
pub fn remove(text: Option<&str>, container: &str, name: &str, is_ours: impl Fn(&Value) -> bool) -> Result<Option<String>, ConfigError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let before = servers_document(text, container)?;
    if !before.get(container).and_then(|s| s.get(name)).is_some_and(is_ours) {
        return Ok(None);
    }
    remove_text(text, container, name).map(Some).ok_or_else(|| unparsable(CANNOT_EDIT))
}

/// Adds or replaces the entry; `None` if the file cannot be edited safely.
fn upsert_text(text: &str, container: &str, name: &str, value: &Value) -> Option<String> {
    let root = parse(text).ok()?;
    let before = doc_json(&root)?;
    let mut want = before.clone();
    let servers = want.as_object_mut()?.entry(container).or_insert(json!({}));
    if servers.is_null() {
        *servers = json!({});
    }
    servers.as_object_mut()?.insert(name.to_string(), value.clone());

    let eol = eol_of(text);
    let mut lines = Vec::new();
    // remove(upsert(text)) must give back text, byte for byte, when the entry was added.
    let mut reversible = true;
    let out = match root.as_ref().map(|r| &r.kind) {
        // No document, or an empty one: a new top-level key at the end.
        None | Some(Kind::Scalar { .. }) => {
            render(container, &json!({ name: value }), 0, &mut lines);
            insert_lines(text, text.len(), &lines, eol)
        }
        Some(Kind::Map { pairs, flow: false, .. }) => match find(pairs, container) {
            None => {
                render(container, &json!({ name: value }), column(text, pairs.first()?.0.start)?, &mut lines);
                insert_lines(text, after(text, &pairs.last()?.1)?, &lines, eol)
            }
            Some((_, k, v)) => match &v.kind {
                Kind::Scalar { value: s, style: ScalarStyle::Plain, .. } if s.is_empty() => {
                    // `extensions:` with nothing: removing the last entry later drops the key.
                    reversible = false;
                    render(name, value, column(text, k.start)? + 2, &mut lines);
                    insert_lines(text, after(text, v)?, &lines, eol)
                }
                Kind::Map { pairs: ep, flow: false, .. } => {
                    render(name, value, column(text, ep.first()?.0.start)?, &mut lines);
                    match find(ep, name) {
                        Some((_, ek, ev)) => {
                            reversible = false;
                            let (ls, end) = (line_start(text, ek.start), after(text, ev)?);
                            column(text, ek.start)?;
                            let tail = if text[..end].ends_with('\n') { eol } else { "" };
                            splice(text, ls..end, &(lines.join(eol) + tail))
                        }
                        None => insert_lines(text, after(text, &ep.last()?.1)?, &lines, eol),
                    }
                }
                Kind::Map { pairs: ep, flow: true, close } => {
                    let pair = format!("{}: {}", string(name, true), inline(value, true));
                    match (find(ep, name), ep.last()) {
                        (Some((_, ek, ev)), _) => {
                            reversible = false;
                            splice(text, ek.start..ev.end, &pair)
                        }
                        (None, Some((_, last))) => splice(text, last.end..last.end, &format!(", {pair}")),
                        (None, None) => splice(text, *close..*close, &pair),
                    }
                }
                _ => return None,
            },
        },
        _ => return None,
    };
    let out = verified(out, &want, text, &before)?;
    (!reversible || remove_text(&out, container, name).as_deref() == Some(text)).then_some(out)
}

/// Removes the entry (and the container when a block mapping becomes empty); `None` if the
/// file cannot be edited safely.
fn remove_text(text: &str, container: &str, name: &str) -> Option<String> {
    let root = parse(text).ok()?;
    let before = doc_json(&root)?;
    let mut want = before.clone();
    let servers = want.get_mut(container).and_then(Value::as_object_mut)?;
    servers.remove(name)?;
    let Kind::Map { pairs, flow: false, .. } = &root.as_ref()?.kind else {
        return None;
    };
    let (_, k, v) = find(pairs, container)?;
    let out = match &v.kind {
        Kind::Map { pairs: ep, flow: false, .. } => {
            let (_, ek, ev) = find(ep, name)?;
            if ep.len() == 1 {
                want.as_object_mut()?.remove(container);
                cut_lines(text, k.start, after(text, v)?)?
            } else {
                cut_lines(text, ek.start, after(text, ev)?)?
            }
        }
        Kind::Map { pairs: ep, flow: true, .. } => {
            let (i, ek, ev) = find(ep, name)?;
            let range = match i {
                0 if ep.len() == 1 => ek.start..ev.end,
                0 => ek.start..ep[1].0.start,
                _ => ep[i - 1].1.end..ev.end,
            };
            splice(text, range, "")
        }
        _ => return None,
    };
    verified(out, &want, text, &before)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOSE: &str = "# Goose config\nGOOSE_PROVIDER: anthropic   # the provider\nextensions:\n  developer:\n    enabled: true\n    type: builtin\n  # my github server\n  github:\n    args:\n    - -y\n    cmd: npx\n    envs:\n      TOKEN: \"ghp_x\"\n# a comment after the last entry\nGOOSE_MODE: smart_approve\n";

    fn value() -> Value {
        json!({"type": "stdio", "name": "keyward-a", "cmd": "/opt/keyward", "args": ["bridge", "--key", "K1", "--server", "https://k.example:8420"], "envs": {"A": "yes"}, "enabled": true, "timeout": 300})
    }

    #[test]
    fn an_add_then_a_remove_gives_back_every_byte() {
        for original in [
            GOOSE.to_owned(),
            GOOSE.replace('\n', "\r\n"),
            "GOOSE_MODEL: x\n".to_owned(),
            "".to_owned(),
            "# only a comment\n".to_owned(),
            "extensions: {developer: {enabled: true}}\n".to_owned(),
            "a: 1\nextensions:\n    deep:\n        cmd: x\nb: 'ünïcode ✓ 日本'".to_owned(),
        ] {
            let out = upsert(Some(&original), "extensions", "keyward-a", &value()).unwrap().unwrap();
            assert_eq!(entry(&out, "extensions", "keyward-a"), Some(value()), "{out}");
            assert_eq!(remove(Some(&out), "extensions", "keyward-a", |_| true).unwrap().unwrap(), original, "{out}");
            assert_eq!(upsert(Some(&out), "extensions", "keyward-a", &value()).unwrap(), None, "the same entry again changes nothing");
        }
    }

    #[test]
    fn the_entry_is_written_in_gooses_layout_with_the_files_line_ending() {
        let out = upsert(Some(&GOOSE.replace('\n', "\r\n")), "extensions", "keyward-a", &value()).unwrap().unwrap();
        assert!(out.contains("  keyward-a:\r\n    type: stdio\r\n    name: keyward-a\r\n    cmd: /opt/keyward\r\n    args:\r\n    - bridge\r\n"), "{out}");
        assert!(!out.replace("\r\n", "").contains('\n'));
        assert!(out.contains("    envs:\r\n      A: 'yes'\r\n"), "a YAML 1.1 boolean word is quoted: {out}");
    }

    #[test]
    fn what_cannot_be_read_or_edited_safely_is_refused() {
        for bad in ["extensions:\n  a: [unclosed\n", "extensions: 3\n", "a: 1\n\tb: 2\n", "extensions:\n  a: {}\n  a: {}\n", "- a\n", "a: 1\n---\nb: 2\n"] {
            assert!(upsert(Some(bad), "extensions", "k", &value()).is_err(), "{bad}");
        }
    }

    #[test]
    fn replacing_an_entry_keeps_its_place_and_the_rest() {
        let out = upsert(Some(GOOSE), "extensions", "github", &json!({"cmd": "gh-mcp"})).unwrap().unwrap();
        assert!(out.starts_with("# Goose config\nGOOSE_PROVIDER: anthropic   # the provider\nextensions:\n  developer:"), "{out}");
        assert!(out.contains("  # my github server\n  github:\n    cmd: gh-mcp\n# a comment after the last entry\n"), "{out}");
    }
}
