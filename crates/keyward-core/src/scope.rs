//! What a key may do: `read` (the default, and the recommended choice) or `read` and `write`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One permission a key or connection can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// See the store's data.
    Read,
    /// Create and change the store's data.
    Write,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            _ => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A normalised set of scopes: sorted, without duplicates, never empty, and `write` always
/// brings `read` with it (a key that may change data may also see it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(try_from = "Vec<Scope>", into = "Vec<Scope>")]
#[cfg_attr(feature = "openapi", schema(value_type = Vec<Scope>))]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Read only: what a new key gets unless asked otherwise.
    pub fn read_only() -> Scopes {
        Scopes(vec![Scope::Read])
    }

    pub fn read_write() -> Scopes {
        Scopes(vec![Scope::Read, Scope::Write])
    }

    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Result<Scopes, EmptyScopes> {
        let mut list: Vec<Scope> = scopes.into_iter().collect();
        if list.is_empty() {
            return Err(EmptyScopes);
        }
        if list.contains(&Scope::Write) {
            list.push(Scope::Read);
        }
        list.sort();
        list.dedup();
        Ok(Scopes(list))
    }

    pub fn allows(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn as_slice(&self) -> &[Scope] {
        &self.0
    }

    /// The comma-separated form kept in the database, e.g. `read,write`.
    pub fn to_db(&self) -> String {
        self.0.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
    }

    /// Reads the database form back; unknown words are an error, never silently dropped.
    pub fn from_db(text: &str) -> Option<Scopes> {
        let list: Option<Vec<Scope>> = text.split(',').map(Scope::parse).collect();
        Scopes::new(list?).ok()
    }

    /// A label for people: "Read only" or "Read & write".
    pub fn label(&self) -> &'static str {
        if self.allows(Scope::Write) { "Read & write" } else { "Read only" }
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_db())
    }
}

/// The error for an empty scope list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("A key needs at least one scope: use [\"read\"] for read only or [\"read\", \"write\"].")]
pub struct EmptyScopes;

impl TryFrom<Vec<Scope>> for Scopes {
    type Error = EmptyScopes;
    fn try_from(list: Vec<Scope>) -> Result<Self, Self::Error> {
        Scopes::new(list)
    }
}

impl From<Scopes> for Vec<Scope> {
    fn from(scopes: Scopes) -> Self {
        scopes.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_implies_read_and_order_is_fixed() {
        let s = Scopes::new([Scope::Write]).unwrap();
        assert_eq!(s.as_slice(), &[Scope::Read, Scope::Write]);
        assert_eq!(s.to_db(), "read,write");
        assert_eq!(Scopes::from_db("write,read"), Some(s));
    }

    #[test]
    fn empty_and_unknown_scopes_are_refused() {
        assert!(Scopes::new([]).is_err());
        assert!(serde_json::from_str::<Scopes>("[]").is_err());
        assert!(serde_json::from_str::<Scopes>(r#"["admin"]"#).is_err());
        assert_eq!(Scopes::from_db("read,admin"), None);
    }
}
