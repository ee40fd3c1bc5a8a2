//! Which key service and store this machine is signed in to. Nothing secret: the session
//! token itself lives in the keychain.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// What `keyward login` remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Profile {
    /// The key service's origin, e.g. `https://keys.example.com`.
    pub server: String,
    pub store_id: String,
    pub store_name: String,
    pub brand: String,
    pub user_name: String,
    pub user_email: String,
    /// `owner` or `staff`, as the key service said at sign-in; empty in a profile saved before
    /// Keyward kept it (the service still decides what each person may do).
    #[serde(default)]
    pub user_role: String,
    pub device_id: String,
    pub device_name: String,
}

/// This computer's name (its host name). A new sign-in is named after it by default, so two
/// laptops read apart in the store's devices list, which the lost-laptop flow depends on.
/// "this computer" when the system does not say.
pub fn computer_name() -> String {
    #[cfg(unix)]
    {
        let mut name = [0u8; 256];
        // SAFETY: gethostname writes at most `name.len()` bytes into the buffer it is given.
        if unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) } == 0 {
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            let name = String::from_utf8_lossy(&name[..end]).trim().to_owned();
            if !name.is_empty() {
                return name;
            }
        }
    }
    #[cfg(windows)]
    if let Some(name) = std::env::var("COMPUTERNAME").ok().map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) {
        return name;
    }
    "this computer".into()
}

impl Profile {
    /// A short name for config entries: lowercase letters, digits and dashes of the store name.
    pub fn store_slug(&self) -> String {
        let mut slug = String::new();
        for c in self.store_name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug = slug.trim_matches('-');
        if slug.is_empty() { "store".to_owned() } else { slug.chars().take(32).collect() }
    }

    /// `None` if no profile was saved yet.
    pub fn load(path: &Path) -> Result<Option<Profile>, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                format!("The profile {} is damaged ({e}). Sign in again with `keyward login`.", path.display())
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("Could not read {} ({e}). Check its permissions.", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).expect("a profile serialises");
        crate::agents::file::write_atomically(path, text.as_bytes(), false)
            .map_err(|e| format!("Could not save the profile to {} ({e}). Check that the folder is writable.", path.display()))
    }

    pub fn remove(path: &Path) -> Result<(), String> {
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("Could not remove {} ({e}). Delete it by hand.", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_slug_is_safe_for_entry_names() {
        let mut p = Profile {
            server: String::new(),
            store_id: String::new(),
            store_name: "Ünïcode  Shop & Co.".into(),
            brand: String::new(),
            user_name: String::new(),
            user_email: String::new(),
            user_role: String::new(),
            device_id: String::new(),
            device_name: String::new(),
        };
        assert_eq!(p.store_slug(), "n-code-shop-co");
        p.store_name = "!!!".into();
        assert_eq!(p.store_slug(), "store");
    }

    #[test]
    fn a_profile_saved_before_roles_were_kept_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.json");
        let old = r#"{"server":"http://127.0.0.1:8420","store_id":"sto_1","store_name":"Acme","brand":"asmk","user_name":"Ada",
            "user_email":"ada@acme.test","device_id":"dev_1","device_name":"laptop"}"#;
        std::fs::write(&path, old).unwrap();
        let profile = Profile::load(&path).unwrap().unwrap();
        assert_eq!((profile.user_email.as_str(), profile.user_role.as_str()), ("ada@acme.test", ""));
    }
}
