//! The file formats assistants keep their servers in, behind one set of operations: read an
//! entry, list entries, add or replace one, take one out, and put a replaced one back. Each
//! format's module edits text so that every byte Keyward did not write stays as it was.

use serde_json::Value;

use super::json::{At, Dialect};
use super::{ConfigError, json, toml, yaml};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Strict JSON (a comment would break the assistant, so Keyward refuses such a file).
    Json,
    /// JSON with comments and trailing commas.
    Jsonc,
    Toml,
    Yaml,
}

/// An entry as the file had it, unknown fields included, to put back on undo.
#[derive(Clone, PartialEq, Eq)]
pub enum RawEntry {
    Value(Value),
    /// A TOML document holding only this entry, comments within it kept (see [`toml::raw_entry`]).
    Toml(String),
}

impl Format {
    fn at(self, container: &'static str) -> At {
        let dialect = if self == Format::Jsonc { Dialect::Comments } else { Dialect::Strict };
        At { dialect, container }
    }

    /// The whole file as data, read as the assistant reads it; an empty file is `{}`.
    pub fn document(self, text: &str) -> Result<Value, ConfigError> {
        match self {
            Format::Json | Format::Jsonc => json::document(text, &self.at("")),
            Format::Toml => toml::document(text),
            Format::Yaml => yaml::document(text),
        }
    }

    /// The entry `name`, if the text parses and has one.
    pub fn entry(self, text: &str, container: &'static str, name: &str) -> Option<Value> {
        match self {
            Format::Json | Format::Jsonc => json::entry(text, &self.at(container), name),
            Format::Toml => toml::entry(text, container, name),
            Format::Yaml => yaml::entry(text, container, name),
        }
    }

    /// Every entry in the container, in file order; none if the file does not parse.
    pub fn entries(self, text: &str, container: &'static str) -> Vec<(String, Value)> {
        match self {
            Format::Json | Format::Jsonc => json::entries(text, &self.at(container)),
            Format::Toml => toml::entries(text, container),
            Format::Yaml => yaml::entries(text, container),
        }
    }

    /// The text with `name` set to `value`; `None` if it already is exactly that.
    pub fn upsert(self, text: Option<&str>, container: &'static str, name: &str, value: &Value) -> Result<Option<String>, ConfigError> {
        match self {
            Format::Json | Format::Jsonc => json::upsert(text, &self.at(container), name, value),
            Format::Toml => toml::upsert(text, container, name, value),
            Format::Yaml => yaml::upsert(text, container, name, value),
        }
    }

    /// The text without `name`, if `is_ours` says it is Keyward's; `None`: no change.
    pub fn remove(self, text: Option<&str>, container: &'static str, name: &str, is_ours: impl Fn(&Value) -> bool) -> Result<Option<String>, ConfigError> {
        match self {
            Format::Json | Format::Jsonc => json::remove(text, &self.at(container), name, is_ours),
            Format::Toml => toml::remove(text, container, name, is_ours),
            Format::Yaml => yaml::remove(text, container, name, is_ours),
        }
    }

    /// The entry `name` as the file has it, to [`put_back`](Format::put_back) later.
    pub fn raw_entry(self, text: &str, container: &'static str, name: &str) -> Option<RawEntry> {
        match self {
            Format::Toml => toml::raw_entry(text, container, name).map(RawEntry::Toml),
            _ => self.entry(text, container, name).map(RawEntry::Value),
        }
    }

    pub fn put_back(self, text: Option<&str>, container: &'static str, name: &str, raw: &RawEntry) -> Result<Option<String>, ConfigError> {
        match raw {
            RawEntry::Toml(raw) => toml::put_back(text, container, name, raw),
            RawEntry::Value(value) => self.upsert(text, container, name, value),
        }
    }
}
