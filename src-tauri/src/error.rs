//! The one error type every command returns: a code the UI acts on and a sentence it shows.

use keyward::client::ClientError;
use keyward::manager::Error;
use serde::Serialize;

/// What the UI does about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The session is missing or ended: go back to the sign-in screen.
    SignIn,
    /// The key service cannot be reached: show the offline banner.
    Offline,
    /// The key service said no (limits, bad input, a revoked key).
    Refused,
    /// The OS keychain is locked, missing or refused.
    Keychain,
    /// An assistant's config file could not be read or written.
    Config,
    /// The UI sent something the app cannot use (a bad date, an unknown undo).
    Invalid,
    /// Anything else.
    Failed,
}

/// An error the UI can show: a code for behaviour, a sentence for people.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
}

impl CommandError {
    pub fn invalid(message: impl Into<String>) -> CommandError {
        CommandError { code: ErrorCode::Invalid, message: message.into() }
    }
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::NotSignedIn | Error::SessionEnded | Error::SessionExpired(_) => ErrorCode::SignIn,
            Error::Client(ClientError::Unreachable { .. }) => ErrorCode::Offline,
            Error::Client(_) => ErrorCode::Refused,
            Error::Vault(_) => ErrorCode::Keychain,
            Error::Config(_) => ErrorCode::Config,
            Error::Invalid(_) | Error::KeyRefused(_) => ErrorCode::Invalid,
            Error::Mirror(_) => ErrorCode::Failed,
        };
        CommandError { code, message: e.to_string() }
    }
}

pub type Result<T> = std::result::Result<T, CommandError>;
