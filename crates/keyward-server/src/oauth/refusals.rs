//! Why an OAuth grant or a connection code is refused, as values the storage returns, with the
//! sentences an app or a merchant reads written here once, so every storage backend returns the
//! same reasons and none carries text.

use super::lifetimes::AUTHORIZATION_CODE_SECONDS;

/// Why `/oauth/token` refuses an authorization code or a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantProblem {
    CodeUnknown,
    CodeForAnotherClient,
    /// Used before: the connection it made was revoked.
    CodeReplayed,
    CodeExpired,
    RedirectMismatch,
    VerifierMismatch,
    /// The request names another resource than the one the code was approved for.
    CodeForAnotherResource { approved: String },
    StoreUninstalled,
    /// The member who approved was removed, or the device whose code approved was signed out.
    ApproverGone,
    RefreshUnknown,
    RefreshForAnotherClient,
    RefreshForAnotherResource { issued: String },
    ConnectionRevoked,
    ConnectionEndedByUninstall,
    /// Used before, outside the retry window: the connection was revoked.
    RefreshReplayed,
    RefreshExpired,
}

impl GrantProblem {
    /// The OAuth error code (RFC 6749 §5.2, RFC 8707).
    pub fn error(&self) -> &'static str {
        match self {
            GrantProblem::CodeForAnotherResource { .. } | GrantProblem::RefreshForAnotherResource { .. } => "invalid_target",
            _ => "invalid_grant",
        }
    }

    /// The sentence for `error_description`.
    pub fn description(&self) -> String {
        match self {
            GrantProblem::CodeUnknown => "The authorization code is not valid. Send the merchant through authorization again.".into(),
            GrantProblem::CodeForAnotherClient => {
                "The authorization code was issued to another client. Use the client that started the authorization.".into()
            }
            GrantProblem::CodeReplayed => "The authorization code was already used, so the connection it made was revoked in case the code was stolen. Send the merchant through authorization again.".into(),
            GrantProblem::CodeExpired => format!(
                "The authorization code has expired (codes work for {AUTHORIZATION_CODE_SECONDS} seconds). Send the merchant through authorization again, and trade the code at once."
            ),
            GrantProblem::RedirectMismatch => {
                "The redirect_uri differs from the one the authorization request named. Send the same redirect_uri.".into()
            }
            GrantProblem::VerifierMismatch => "The code_verifier does not match the code_challenge of the authorization request (PKCE S256). Send the verifier that challenge was made from.".into(),
            GrantProblem::CodeForAnotherResource { approved } => {
                format!("The authorization was for the resource {approved}. Ask for that resource, or none.")
            }
            GrantProblem::StoreUninstalled => "The store uninstalled Keyward. The merchant must reinstall it first.".into(),
            GrantProblem::ApproverGone => {
                "The person or device that approved this was removed or signed out since. Send the merchant through authorization again.".into()
            }
            GrantProblem::RefreshUnknown => "The refresh token is not valid. Connect the app to the store again.".into(),
            GrantProblem::RefreshForAnotherClient => "The refresh token was issued to another client. Use the client that received it.".into(),
            GrantProblem::RefreshForAnotherResource { issued } => {
                format!("The refresh token is for the resource {issued}. Ask for that resource, or none.")
            }
            GrantProblem::ConnectionRevoked => {
                "The merchant revoked this connection. Connect the app to the store again; the merchant must approve it.".into()
            }
            GrantProblem::ConnectionEndedByUninstall => {
                "The store uninstalled Keyward, so this connection ended. Connect again after it is reinstalled.".into()
            }
            GrantProblem::RefreshReplayed => "The refresh token was already used, so the connection was revoked in case the token was stolen. Connect the app to the store again.".into(),
            GrantProblem::RefreshExpired => "The refresh token has expired. Connect the app to the store again.".into(),
        }
    }
}

/// Why a connection code pasted on the consent page is refused; shown to the merchant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionCodeProblem {
    #[error("That connection code is not valid. Check that it was copied whole, or make a new one in Keyward.")]
    Unknown,
    #[error("That connection code was already used, so the connection it made was revoked in case the code was stolen. Make a new code in Keyward.")]
    Replayed,
    #[error("That connection code has expired (codes work for 10 minutes). Make a new code in Keyward.")]
    Expired,
    #[error("The store has uninstalled Keyward. Reinstall it first.")]
    StoreUninstalled,
    #[error("The device or person that made this connection code was signed out or removed since, so the code no longer works. Make a new code in Keyward.")]
    MakerGone,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grant_problem_is_a_sentence_and_only_resources_are_invalid_target() {
        let all = [
            GrantProblem::CodeUnknown,
            GrantProblem::CodeForAnotherClient,
            GrantProblem::CodeReplayed,
            GrantProblem::CodeExpired,
            GrantProblem::RedirectMismatch,
            GrantProblem::VerifierMismatch,
            GrantProblem::CodeForAnotherResource { approved: "https://k.example/mcp".into() },
            GrantProblem::StoreUninstalled,
            GrantProblem::ApproverGone,
            GrantProblem::RefreshUnknown,
            GrantProblem::RefreshForAnotherClient,
            GrantProblem::RefreshForAnotherResource { issued: "https://k.example/mcp".into() },
            GrantProblem::ConnectionRevoked,
            GrantProblem::ConnectionEndedByUninstall,
            GrantProblem::RefreshReplayed,
            GrantProblem::RefreshExpired,
        ];
        for problem in &all {
            let text = problem.description();
            assert!(text.len() > 20 && text.ends_with('.'), "{problem:?}: {text}");
            let resource = matches!(problem, GrantProblem::CodeForAnotherResource { .. } | GrantProblem::RefreshForAnotherResource { .. });
            assert_eq!(problem.error(), if resource { "invalid_target" } else { "invalid_grant" });
        }
    }
}
