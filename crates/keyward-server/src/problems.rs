//! Why storage refuses a change, as values, with the sentence a person reads written here once,
//! above storage: every backend returns the same reasons and none carries text.

use std::path::PathBuf;

/// A refusal the storage decided (a rule checked inside its transaction) or met (the file or
/// schema is not usable). Its `Display` is the sentence to show.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("The key {prefix} is revoked and can no longer be changed. Create a new key instead.")]
    KeyRevoked { prefix: String },
    #[error("The key {prefix} is already revoked or being rotated. Rotate its replacement instead.")]
    KeyAlreadyRotated { prefix: String },
    #[error("The key {prefix} is deactivated. Reactivate it first, then rotate it.")]
    KeyDeactivated { prefix: String },
    #[error("The key {prefix} replaced {predecessor}, which keeps working until {until}. Wait until then, or revoke {predecessor} now, and then rotate {prefix} again.")]
    PredecessorStillWorks { prefix: String, predecessor: String, until: String },
    #[error("There is no raw material {id} in this store. List raw materials to find the right id.")]
    NoSuchRawMaterial { id: i64 },
    #[error("A raw material appears twice in the BOM. List each raw material once.")]
    RawMaterialTwice,
    #[error("This database's keys use the brand \"{found}\", not \"{wanted}\". Start the service with --brand {found}, or use another database file.")]
    OtherBrand { found: String, wanted: String },
    #[error("Could not prepare the database file {}: {detail}. Check the folder exists and is writable.", path.display())]
    FileNotUsable { path: PathBuf, detail: String },
    #[error("The database was made by a newer keyward-server (schema {found}, this one knows {known}). Upgrade keyward-server.")]
    NewerSchema { found: usize, known: usize },
    #[error("A user with the email {email} already exists. Use another email address.")]
    EmailTaken { email: String },
    #[error("There is no store {id}. List stores with `keyward-server store list`.")]
    NoSuchStore { id: String },
    #[error("The owner cannot be removed from their own store. To end everything, uninstall Keyward instead.")]
    OwnerCannotBeRemoved,
    #[error("The database {target} already holds a Keyward deployment, so nothing was copied into it. Give an empty database to move into.")]
    TargetNotEmpty { target: String },
    #[error("Copying {table} wrote {copied} rows where the SQLite file has {expected}, so nothing was kept. Check that no service writes to the SQLite file while it is copied, then run it again.")]
    TransferMismatch { table: String, expected: i64, copied: i64 },
}
