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

#[cfg(test)]
mod tests {
    use keyward::agents::ConfigError;
    use keyward::mirror::MirrorError;
    use keyward::vault::VaultError;

    use super::*;

    fn code(e: Error) -> ErrorCode {
        CommandError::from(e).code
    }

    #[test]
    fn an_ended_session_sends_the_window_back_to_sign_in() {
        assert_eq!(code(Error::NotSignedIn), ErrorCode::SignIn);
        assert_eq!(code(Error::SessionEnded), ErrorCode::SignIn);
        assert_eq!(code(Error::SessionExpired("The session expired. Sign in again.".into())), ErrorCode::SignIn);
    }

    #[test]
    fn an_unreachable_service_shows_the_offline_banner_and_a_refusal_is_shown_as_said() {
        let unreachable = ClientError::Unreachable { server: "http://127.0.0.1:9".into(), detail: "connection refused".into() };
        assert_eq!(code(Error::Client(unreachable)), ErrorCode::Offline);
        let refused = ClientError::Refused { status: 409, code: "key_limit".into(), message: "This store already has 10 working keys.".into() };
        let error = CommandError::from(Error::Client(refused));
        assert_eq!(error.code, ErrorCode::Refused);
        assert!(error.message.contains("This store already has 10 working keys."), "{}", error.message);
    }

    #[test]
    fn keychain_config_and_input_errors_each_have_their_code() {
        assert_eq!(code(Error::Vault(VaultError::Unavailable("no Secret Service".into()))), ErrorCode::Keychain);
        assert_eq!(code(Error::Config(ConfigError::Io("the file is read-only".into()))), ErrorCode::Config);
        assert_eq!(code(Error::Invalid("Pick a date.".into())), ErrorCode::Invalid);
        assert_eq!(code(Error::KeyRefused("The key was revoked.".into())), ErrorCode::Invalid);
        let broken = MirrorError::Storage { path: "/tmp/mirror.db".into(), detail: "disk full".into() };
        assert_eq!(code(Error::Mirror(broken)), ErrorCode::Failed);
    }

    #[test]
    fn the_window_reads_the_code_in_snake_case_beside_the_sentence() {
        let json = serde_json::to_value(CommandError::invalid("The expiry is not a valid date and time. Pick one in the calendar.")).unwrap();
        assert_eq!(json, serde_json::json!({"code": "invalid", "message": "The expiry is not a valid date and time. Pick one in the calendar."}));
        assert_eq!(serde_json::to_value(ErrorCode::SignIn).unwrap(), "sign_in");
    }
}
