//! The shape of one stdio MCP server entry in an assistant's file: which field holds the
//! program, its arguments and its environment, and which fields are fixed. Every assistant's
//! entry is a [`ServerEntry`] written in its own shape, and read back from it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::ServerEntry;

/// A field whose value is always the same (`"type": "stdio"`, `"enabled": true`).
#[derive(Debug, Clone, Copy)]
pub enum Fixed {
    Str(&'static str),
    Bool(bool),
    Int(i64),
    /// The entry's own name (Goose repeats it inside the entry).
    EntryName,
}

/// Where the program's arguments go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Args {
    /// In their own array field, the program in `command`.
    Field(&'static str),
    /// In one array with the program first (OpenCode's `command: [cmd, …args]`).
    AfterCommand,
}

#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Fixed fields written before the command, in this order.
    pub lead: &'static [(&'static str, Fixed)],
    /// The field naming the program (`command`, Goose's `cmd`).
    pub command: &'static str,
    pub args: Args,
    /// The field holding environment variables (`env`, `envs`, `environment`); left out
    /// when there are none.
    pub env: &'static str,
    /// Fixed fields written after the environment, in this order.
    pub trail: &'static [(&'static str, Fixed)],
}

impl Shape {
    /// `{command, args, env}`: Claude Desktop, Cursor, Windsurf, Gemini CLI, LM Studio, Codex.
    pub const PLAIN: Shape = Shape { lead: &[], command: "command", args: Args::Field("args"), env: "env", trail: &[] };

    /// `{command, args, env}` after one fixed tag field, such as `"type": "stdio"`.
    pub const fn tagged(lead: &'static [(&'static str, Fixed)]) -> Shape {
        Shape { lead, ..Shape::PLAIN }
    }

    /// The entry as this assistant writes it.
    pub fn write(&self, entry: &ServerEntry, name: &str) -> Value {
        let fixed = |value: Fixed| match value {
            Fixed::Str(s) => Value::from(s),
            Fixed::Bool(b) => Value::from(b),
            Fixed::Int(i) => Value::from(i),
            Fixed::EntryName => Value::from(name),
        };
        let mut out = Map::new();
        for (key, value) in self.lead {
            out.insert((*key).into(), fixed(*value));
        }
        match self.args {
            Args::Field(args) => {
                out.insert(self.command.into(), Value::from(entry.command.as_str()));
                out.insert(args.into(), Value::from(entry.args.clone()));
            }
            Args::AfterCommand => {
                let all: Vec<&str> = std::iter::once(entry.command.as_str()).chain(entry.args.iter().map(String::as_str)).collect();
                out.insert(self.command.into(), Value::from(all));
            }
        }
        if !entry.env.is_empty() {
            out.insert(self.env.into(), Value::Object(entry.env.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect()));
        }
        for (key, value) in self.trail {
            out.insert((*key).into(), fixed(*value));
        }
        Value::Object(out)
    }

    /// The entry in `value`, if it is a stdio server this shape describes (fixed fields aside:
    /// a person may switch one off with `"enabled": false`, and it is still Keyward's entry).
    pub fn read(&self, value: &Value) -> Option<ServerEntry> {
        let strings = |v: &Value| -> Option<Vec<String>> { v.as_array()?.iter().map(|a| a.as_str().map(str::to_owned)).collect() };
        let (command, args) = match self.args {
            Args::Field(args) => (value.get(self.command)?.as_str()?.to_owned(), value.get(args).map_or(Some(Vec::new()), strings)?),
            Args::AfterCommand => {
                let mut all = strings(value.get(self.command)?)?.into_iter();
                (all.next()?, all.collect())
            }
        };
        let env: BTreeMap<String, String> = value
            .get(self.env)
            .and_then(|e| e.as_object())
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
            .unwrap_or_default();
        Some(ServerEntry { command, args, env })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry() -> ServerEntry {
        ServerEntry {
            command: "/bin/keyward".into(),
            args: vec!["bridge".into(), "--key".into(), "K1".into()],
            env: BTreeMap::from([("A".into(), "b".into())]),
        }
    }

    #[test]
    fn every_shape_reads_back_what_it_writes() {
        const OPENCODE: Shape = Shape {
            lead: &[("type", Fixed::Str("local"))],
            command: "command",
            args: Args::AfterCommand,
            env: "environment",
            trail: &[("enabled", Fixed::Bool(true))],
        };
        const GOOSE: Shape = Shape {
            lead: &[("type", Fixed::Str("stdio")), ("name", Fixed::EntryName)],
            command: "cmd",
            args: Args::Field("args"),
            env: "envs",
            trail: &[("enabled", Fixed::Bool(true)), ("timeout", Fixed::Int(300))],
        };
        for shape in [Shape::PLAIN, Shape::tagged(&[("type", Fixed::Str("stdio"))]), OPENCODE, GOOSE] {
            assert_eq!(shape.read(&shape.write(&entry(), "n")), Some(entry()), "{shape:?}");
        }
        assert_eq!(
            serde_json::to_string(&OPENCODE.write(&entry(), "n")).unwrap(),
            r#"{"type":"local","command":["/bin/keyward","bridge","--key","K1"],"environment":{"A":"b"},"enabled":true}"#
        );
        assert_eq!(GOOSE.write(&entry(), "keyward-x")["name"], json!("keyward-x"));
    }

    #[test]
    fn entries_of_another_kind_are_not_read_as_stdio_servers() {
        for other in [json!({"type": "http", "url": "https://x"}), json!({"command": 3}), json!({"command": "x", "args": [1]}), json!("x")] {
            assert_eq!(Shape::PLAIN.read(&other), None, "{other}");
        }
    }
}
