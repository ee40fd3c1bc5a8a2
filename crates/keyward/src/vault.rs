//! The OS keychain: the Secret Service on Linux, Keychain on macOS, Credential Manager on
//! Windows, through the `keyring` crate.
//!
//! One entry per key (service: `Keyward <origin>`, account: the key id) and one for the
//! dashboard session (account `session`). There is no plaintext fallback: when no keychain
//! is reachable, every call fails with [`VaultError::Unavailable`] and nothing is written.
//! The calls block (they talk to the keychain over IPC); async callers run them on a
//! blocking thread.

use keyring::Entry;

const SESSION_ACCOUNT: &str = "session";

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("No OS keychain is reachable ({0}), so Keyward stored nothing. On Linux, start and unlock a Secret Service such as gnome-keyring; then try again.")]
    Unavailable(String),
    #[error("The keychain refused to {action} ({detail}). Unlock the keychain and try again.")]
    Refused { action: &'static str, detail: String },
}

/// The keychain entries of one key service.
#[derive(Debug, Clone)]
pub struct Vault {
    service: String,
}

impl Vault {
    /// The entries for the key service at `origin` (as normalised by the API client).
    pub fn for_server(origin: &str) -> Vault {
        Vault { service: format!("Keyward {origin}") }
    }

    /// The keychain service name entries are filed under.
    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, account: &str) -> Result<Entry, VaultError> {
        if let Err(e) = Entry::store_status() {
            return Err(VaultError::Unavailable(e.to_string()));
        }
        Entry::new(&self.service, account).map_err(|e| match e {
            keyring::Error::NoDefaultStore | keyring::Error::NoStorageAccess(_) | keyring::Error::PlatformFailure(_) => {
                VaultError::Unavailable(e.to_string())
            }
            other => VaultError::Refused { action: "open an entry", detail: other.to_string() },
        })
    }

    fn set(&self, account: &str, secret: &str) -> Result<(), VaultError> {
        self.entry(account)?.set_password(secret).map_err(|e| classify(e, "store a secret"))
    }

    fn get(&self, account: &str) -> Result<Option<String>, VaultError> {
        match self.entry(account)?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(classify(e, "read a secret")),
        }
    }

    fn delete(&self, account: &str) -> Result<bool, VaultError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(classify(e, "delete a secret")),
        }
    }

    /// Keeps a key's whole secret under its id.
    pub fn store_key(&self, key_id: &str, key: &str) -> Result<(), VaultError> {
        self.set(key_id, key)
    }

    pub fn key(&self, key_id: &str) -> Result<Option<String>, VaultError> {
        self.get(key_id)
    }

    /// Whether this device holds the key's secret.
    pub fn holds_key(&self, key_id: &str) -> Result<bool, VaultError> {
        Ok(self.get(key_id)?.is_some())
    }

    /// Removes a key's secret; `false` if there was none.
    pub fn delete_key(&self, key_id: &str) -> Result<bool, VaultError> {
        self.delete(key_id)
    }

    pub fn store_session(&self, token: &str) -> Result<(), VaultError> {
        self.set(SESSION_ACCOUNT, token)
    }

    pub fn session(&self) -> Result<Option<String>, VaultError> {
        self.get(SESSION_ACCOUNT)
    }

    pub fn delete_session(&self) -> Result<bool, VaultError> {
        self.delete(SESSION_ACCOUNT)
    }
}

fn classify(error: keyring::Error, action: &'static str) -> VaultError {
    match error {
        keyring::Error::NoStorageAccess(_) | keyring::Error::PlatformFailure(_) | keyring::Error::NoDefaultStore => {
            VaultError::Unavailable(error.to_string())
        }
        other => VaultError::Refused { action, detail: other.to_string() },
    }
}
