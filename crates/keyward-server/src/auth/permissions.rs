//! Who may do what in a store: the one home of the roles' rules.
//!
//! - The owner may do everything.
//! - Staff see everything, create keys and connection codes, and change, rotate and revoke the
//!   keys and connections they made themselves, and sign out their own devices.
//! - Only the owner acts on other people's keys, connections and devices, manages staff and
//!   uninstalls.

use super::Session;
use crate::error::ApiError;

/// Something in the store that was made by someone.
#[derive(Debug, Clone, Copy)]
pub enum Owned<'a> {
    Key { created_by: &'a str },
    Connection { granted_by: &'a str },
    Device { user: &'a str },
}

impl Session {
    /// Refuses with 403 unless the caller is the store's owner. `what` completes "Only the
    /// store's owner can …".
    pub fn require_owner(&self, what: &str) -> Result<(), ApiError> {
        if self.is_owner() {
            return Ok(());
        }
        Err(ApiError::forbidden("owner_only", format!("Only the store's owner can {what}. Ask the owner to do it.")))
    }

    /// Refuses with 403 unless the caller is the owner or made `thing`.
    pub fn require_owner_or_maker(&self, thing: Owned<'_>) -> Result<(), ApiError> {
        let (maker, message) = match thing {
            Owned::Key { created_by } => {
                (created_by, "This key was created by someone else; staff can change only the keys they created. Ask the owner or the key's creator.")
            }
            Owned::Connection { granted_by } => (
                granted_by,
                "This connection was granted by someone else; staff can revoke only the connections they granted. Ask the owner or the person who granted it.",
            ),
            Owned::Device { user } => {
                (user, "This device belongs to someone else; staff can sign out only their own devices. Ask the store's owner.")
            }
        };
        if self.is_owner() || self.user_id == maker {
            return Ok(());
        }
        Err(ApiError::forbidden("not_yours", message))
    }
}
