//! `[mcp_servers.NAME]` in Codex's `config.toml`, edited with `toml_edit` so comments,
//! spacing and the order of everything else are kept.

use std::collections::BTreeMap;

use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, value};

use super::{ConfigError, ServerEntry};

fn parse(text: Option<&str>) -> Result<DocumentMut, ConfigError> {
    let doc: DocumentMut = text.unwrap_or("").parse().map_err(|e: toml_edit::TomlError| {
        ConfigError::Unparsable(format!("it is not valid TOML ({})", e.message()))
    })?;
    if doc.get("mcp_servers").is_some_and(|s| !s.is_table_like()) {
        return Err(ConfigError::Unparsable("its mcp_servers is not a table".into()));
    }
    Ok(doc)
}

/// A `[mcp_servers]` table that is not written out as a header of its own, only its entries.
fn implicit_table() -> Table {
    let mut table = Table::new();
    table.set_implicit(true);
    table
}

fn entry_table(entry: &ServerEntry) -> Table {
    let mut table = Table::new();
    table.insert("command", value(entry.command.as_str()));
    let mut args = Array::new();
    for arg in &entry.args {
        args.push(arg.as_str());
    }
    table.insert("args", value(args));
    if !entry.env.is_empty() {
        let mut env = InlineTable::new();
        for (k, v) in &entry.env {
            env.insert(k, v.as_str().into());
        }
        table.insert("env", value(env));
    }
    table
}

/// Reads an entry back, if it is one Keyward could have written.
pub fn entry(text: &str, name: &str) -> Option<ServerEntry> {
    let doc = parse(Some(text)).ok()?;
    let table = doc.get("mcp_servers")?.get(name)?;
    let command = table.get("command")?.as_str()?.to_owned();
    let args = table.get("args")?.as_array()?.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect();
    let env: BTreeMap<String, String> = table
        .get("env")
        .and_then(|e| e.as_table_like())
        .map(|t| t.iter().filter_map(|(k, v)| Some((k.to_owned(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default();
    Some(ServerEntry { command, args, env })
}

/// Sets `[mcp_servers.<name>]` to `entry`. `None` if it is already exactly that.
pub fn upsert(text: Option<&str>, name: &str, entry: &ServerEntry) -> Result<Option<String>, ConfigError> {
    if text.and_then(|t| self::entry(t, name)).as_ref() == Some(entry) {
        return Ok(None);
    }
    let mut doc = parse(text)?;
    let servers = doc.entry("mcp_servers").or_insert_with(|| Item::Table(implicit_table()));
    let servers = servers.as_table_mut().ok_or_else(|| ConfigError::Unparsable("its mcp_servers is an inline table; Keyward only edits [mcp_servers.NAME] tables".into()))?;
    servers.insert(name, Item::Table(entry_table(entry)));
    Ok(Some(doc.to_string()))
}

/// Removes `[mcp_servers.<name>]` if `is_ours` says it is Keyward's. `None`: nothing to do.
pub fn remove(text: Option<&str>, name: &str, is_ours: impl Fn(&ServerEntry) -> bool) -> Result<Option<String>, ConfigError> {
    let Some(text) = text else { return Ok(None) };
    if !entry(text, name).is_some_and(|e| is_ours(&e)) {
        return Ok(None);
    }
    let mut doc = parse(Some(text))?;
    let Some(servers) = doc.get_mut("mcp_servers").and_then(|s| s.as_table_like_mut()) else { return Ok(None) };
    servers.remove(name);
    // A section Keyward created implicitly goes away with its last entry.
    let now_empty = servers.is_empty();
    if now_empty && doc.get("mcp_servers").and_then(|s| s.as_table()).is_some_and(|t| t.is_implicit()) {
        doc.remove("mcp_servers");
    }
    Ok(Some(doc.to_string()))
}

/// The entry `name` exactly as the file has it (every field, comments within it), as a small
/// TOML document holding just that entry, for [`put_back`] to restore later.
pub fn raw_entry(text: &str, name: &str) -> Option<String> {
    let doc = parse(Some(text)).ok()?;
    let item = doc.get("mcp_servers")?.get(name)?.clone();
    let mut servers = implicit_table();
    servers.insert(name, item);
    let mut alone = DocumentMut::new();
    alone.insert("mcp_servers", Item::Table(servers));
    Some(alone.to_string())
}

/// Sets `[mcp_servers.<name>]` back to an entry kept by [`raw_entry`].
pub fn put_back(text: Option<&str>, name: &str, raw: &str) -> Result<Option<String>, ConfigError> {
    let kept = parse(Some(raw))?;
    let Some(item) = kept.get("mcp_servers").and_then(|s| s.get(name)).cloned() else { return Ok(None) };
    let mut doc = parse(text)?;
    let servers = doc.entry("mcp_servers").or_insert_with(|| Item::Table(implicit_table()));
    let servers = servers.as_table_like_mut().ok_or_else(|| ConfigError::Unparsable("its mcp_servers is not a table".into()))?;
    servers.insert(name, item);
    Ok(Some(doc.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ServerEntry {
        ServerEntry { command: "/usr/bin/keyward".into(), args: vec!["bridge".into(), "--key".into(), "Ab12Cd34".into()], env: BTreeMap::new() }
    }

    #[test]
    fn comments_and_spacing_survive_an_add_and_a_remove() {
        let original = "# my codex config\nmodel   =   \"o3\"  # inline comment\n\n[mcp_servers.other]\ncommand = \"x\"\nargs = [ \"a\" ,\"b\" ]\n";
        let out = upsert(Some(original), "keyward-acme-asmk_Ab12Cd34", &sample()).unwrap().unwrap();
        assert!(out.starts_with(original), "{out}");
        assert_eq!(entry(&out, "keyward-acme-asmk_Ab12Cd34"), Some(sample()));
        let back = remove(Some(&out), "keyward-acme-asmk_Ab12Cd34", |_| true).unwrap().unwrap();
        assert_eq!(back, original);
    }

    #[test]
    fn a_fresh_file_gets_a_plain_table() {
        let out = upsert(None, "k", &sample()).unwrap().unwrap();
        assert_eq!(out, "[mcp_servers.k]\ncommand = \"/usr/bin/keyward\"\nargs = [\"bridge\", \"--key\", \"Ab12Cd34\"]\n");
        assert_eq!(remove(Some(&out), "k", |_| true).unwrap().unwrap(), "");
    }

    #[test]
    fn broken_toml_is_refused() {
        assert!(upsert(Some("model = "), "k", &sample()).is_err());
        assert!(upsert(Some("mcp_servers = 3"), "k", &sample()).is_err());
    }
}
