//! A table of servers in a TOML file (Codex's `[mcp_servers.NAME]`), edited with `toml_edit`
//! so comments, spacing and the order of everything else are kept. Entries are exchanged as
//! JSON values: a top-level entry becomes a `[container.NAME]` table, objects inside it
//! inline tables.

use serde_json::Value;
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table};

use super::ConfigError;

fn parse(text: Option<&str>, container: &str) -> Result<DocumentMut, ConfigError> {
    let doc: DocumentMut =
        text.unwrap_or("").parse().map_err(|e: toml_edit::TomlError| ConfigError::Unparsable(format!("it is not valid TOML ({})", e.message())))?;
    if doc.get(container).is_some_and(|s| !s.is_table_like()) {
        return Err(ConfigError::Unparsable(format!("its {container} is not a table")));
    }
    Ok(doc)
}

/// A `[container]` table that is not written out as a header of its own, only its entries.
fn implicit_table() -> Table {
    let mut table = Table::new();
    table.set_implicit(true);
    table
}

fn to_toml(value: &Value) -> Option<toml_edit::Value> {
    Some(match value {
        Value::String(s) => s.as_str().into(),
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64()?.into(),
        },
        Value::Array(items) => {
            let mut array = Array::new();
            for item in items {
                array.push(to_toml(item)?);
            }
            array.into()
        }
        Value::Object(map) => {
            let mut table = InlineTable::new();
            for (k, v) in map {
                table.insert(k, to_toml(v)?);
            }
            table.into()
        }
        Value::Null => return None,
    })
}

fn to_json(item: &Item) -> Option<Value> {
    match item {
        Item::Value(value) => value_to_json(value),
        Item::Table(table) => Some(Value::Object(table.iter().filter_map(|(k, v)| Some((k.to_owned(), to_json(v)?))).collect())),
        Item::ArrayOfTables(tables) => Some(Value::Array(tables.iter().map(|t| to_json(&Item::Table(t.clone())).unwrap_or(Value::Null)).collect())),
        Item::None => None,
    }
}

fn value_to_json(value: &toml_edit::Value) -> Option<Value> {
    use toml_edit::Value as V;
    Some(match value {
        V::String(s) => Value::from(s.value().as_str()),
        V::Integer(i) => Value::from(*i.value()),
        V::Float(f) => Value::from(*f.value()),
        V::Boolean(b) => Value::from(*b.value()),
        V::Datetime(d) => Value::from(d.value().to_string()),
        V::Array(a) => Value::Array(a.iter().filter_map(value_to_json).collect()),
        V::InlineTable(t) => Value::Object(t.iter().filter_map(|(k, v)| Some((k.to_owned(), value_to_json(v)?))).collect()),
    })
}

fn entry_table(entry: &Value) -> Result<Table, ConfigError> {
    let mut table = Table::new();
    for (key, value) in entry.as_object().into_iter().flatten() {
        let value = to_toml(value).ok_or_else(|| ConfigError::Io(format!("Keyward cannot write the field {key} in TOML.")))?;
        table.insert(key, Item::Value(value));
    }
    Ok(table)
}

/// The whole file as a value.
pub fn document(text: &str) -> Result<Value, ConfigError> {
    let doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| ConfigError::Unparsable(format!("it is not valid TOML ({})", e.message())))?;
    Ok(to_json(&Item::Table(doc.as_table().clone())).unwrap_or_default())
}

/// The entry called `name`, if the text parses and has one.
pub fn entry(text: &str, container: &str, name: &str) -> Option<Value> {
    to_json(parse(Some(text), container).ok()?.get(container)?.get(name)?)
}

/// Every entry in the container, in file order.
pub fn entries(text: &str, container: &str) -> Vec<(String, Value)> {
    let Ok(doc) = parse(Some(text), container) else {
        return Vec::new();
    };
    let Some(servers) = doc.get(container).and_then(Item::as_table_like) else {
        return Vec::new();
    };
    servers.iter().filter_map(|(k, v)| Some((k.to_owned(), to_json(v)?))).collect()
}

/// Sets `[container.<name>]` to `value`. `None` if it is already exactly that.
pub fn upsert(text: Option<&str>, container: &str, name: &str, value: &Value) -> Result<Option<String>, ConfigError> {
    if text.and_then(|t| entry(t, container, name)).as_ref() == Some(value) {
        return Ok(None);
    }
    let mut doc = parse(text, container)?;
    let servers = doc.entry(container).or_insert_with(|| Item::Table(implicit_table()));
    let servers = servers
        .as_table_mut()
        .ok_or_else(|| ConfigError::Unparsable(format!("its {container} is an inline table; Keyward only edits [{container}.NAME] tables")))?;
    servers.insert(name, Item::Table(entry_table(value)?));
    Ok(Some(doc.to_string()))
}

/// Removes `[container.<name>]` if `is_ours` says it is Keyward's. `None`: nothing to do.
pub fn remove(text: Option<&str>, container: &str, name: &str, is_ours: impl Fn(&Value) -> bool) -> Result<Option<String>, ConfigError> {
    let Some(text) = text else { return Ok(None) };
    if !entry(text, container, name).is_some_and(|e| is_ours(&e)) {
        return Ok(None);
    }
    let mut doc = parse(Some(text), container)?;
    let Some(servers) = doc.get_mut(container).and_then(|s| s.as_table_like_mut()) else {
        return Ok(None);
    };
    servers.remove(name);
    // A section Keyward created implicitly goes away with its last entry.
    let now_empty = servers.is_empty();
    if now_empty && doc.get(container).and_then(|s| s.as_table()).is_some_and(|t| t.is_implicit()) {
        doc.remove(container);
    }
    Ok(Some(doc.to_string()))
}

/// The entry `name` exactly as the file has it (every field, comments within it), as a small
/// TOML document holding just that entry, for [`put_back`] to restore later.
pub fn raw_entry(text: &str, container: &str, name: &str) -> Option<String> {
    let doc = parse(Some(text), container).ok()?;
    let item = doc.get(container)?.get(name)?.clone();
    let mut servers = implicit_table();
    servers.insert(name, item);
    let mut alone = DocumentMut::new();
    alone.insert(container, Item::Table(servers));
    Some(alone.to_string())
}

/// Sets `[container.<name>]` back to an entry kept by [`raw_entry`].
pub fn put_back(text: Option<&str>, container: &str, name: &str, raw: &str) -> Result<Option<String>, ConfigError> {
    let kept = parse(Some(raw), container)?;
    let Some(item) = kept.get(container).and_then(|s| s.get(name)).cloned() else {
        return Ok(None);
    };
    let mut doc = parse(text, container)?;
    let servers = doc.entry(container).or_insert_with(|| Item::Table(implicit_table()));
    let servers = servers.as_table_like_mut().ok_or_else(|| ConfigError::Unparsable(format!("its {container} is not a table")))?;
    servers.insert(name, item);
    Ok(Some(doc.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const C: &str = "mcp_servers";

    fn sample() -> Value {
        json!({"command": "/usr/bin/keyward", "args": ["bridge", "--key", "Ab12Cd34"]})
    }

    #[test]
    fn comments_and_spacing_survive_an_add_and_a_remove() {
        let original = "# my codex config\nmodel   =   \"o3\"  # inline comment\n\n[mcp_servers.other]\ncommand = \"x\"\nargs = [ \"a\" ,\"b\" ]\n";
        let out = upsert(Some(original), C, "keyward-acme-asmk_Ab12Cd34", &sample()).unwrap().unwrap();
        assert!(out.starts_with(original), "{out}");
        assert_eq!(entry(&out, C, "keyward-acme-asmk_Ab12Cd34"), Some(sample()));
        assert_eq!(entries(&out, C).len(), 2);
        let back = remove(Some(&out), C, "keyward-acme-asmk_Ab12Cd34", |_| true).unwrap().unwrap();
        assert_eq!(back, original);
    }

    #[test]
    fn a_fresh_file_gets_a_plain_table() {
        let with_env = json!({"command": "/usr/bin/keyward", "args": ["bridge", "--key", "Ab12Cd34"], "env": {"K": "v"}});
        let out = upsert(None, C, "k", &with_env).unwrap().unwrap();
        assert_eq!(out, "[mcp_servers.k]\ncommand = \"/usr/bin/keyward\"\nargs = [\"bridge\", \"--key\", \"Ab12Cd34\"]\nenv = { K = \"v\" }\n");
        assert_eq!(entry(&out, C, "k"), Some(with_env));
        assert_eq!(remove(Some(&out), C, "k", |_| true).unwrap().unwrap(), "");
    }

    #[test]
    fn broken_toml_is_refused() {
        assert!(upsert(Some("model = "), C, "k", &sample()).is_err());
        assert!(upsert(Some("mcp_servers = 3"), C, "k", &sample()).is_err());
    }
}
