//! When a one-time credential (a connection code, an authorization code, a refresh token) is
//! honoured (how long each lives is in [`super::lifetimes`]): decided here once, from the facts
//! each storage backend reads inside the transaction that spends the credential. A refusal that says the credential
//! came back a second time ([`GrantProblem::is_replay`], [`ConnectionCodeProblem::Replayed`])
//! also tells the backend to revoke what the first use made, in that same transaction.

use super::lifetimes::REFRESH_RETRY_SECONDS;
use super::pkce;
use super::refusals::{ConnectionCodeProblem, GrantProblem};
use crate::db::{PresentedCode, TokenClient};

/// A connection code as stored, with what became of its store and maker.
#[derive(Debug, Clone)]
pub struct StoredConnectionCode {
    pub expires_at: i64,
    pub used: bool,
    pub store_uninstalled: bool,
    /// The device that made it was signed out, or its maker removed from the staff, since.
    pub maker_gone: bool,
}

/// Whether a connection code pasted on the consent page at `t` is honoured. A code is used
/// once: a second use means someone else has it too.
pub fn judge_connection_code(code: &StoredConnectionCode, t: i64) -> Result<(), ConnectionCodeProblem> {
    if code.used {
        return Err(ConnectionCodeProblem::Replayed);
    }
    if code.expires_at <= t {
        return Err(ConnectionCodeProblem::Expired);
    }
    if code.store_uninstalled {
        return Err(ConnectionCodeProblem::StoreUninstalled);
    }
    if code.maker_gone {
        return Err(ConnectionCodeProblem::MakerGone);
    }
    Ok(())
}

/// An authorization code as stored, as far as the exchange decides on it.
#[derive(Debug, Clone)]
pub struct StoredAuthorization {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub resource: String,
    pub expires_at: i64,
    pub used: bool,
    pub store_uninstalled: bool,
    /// Whoever approved was removed from the staff, or the device whose code approved was
    /// signed out, in the minute since.
    pub approver_gone: bool,
}

/// Whether an authorization code presented at `t` is traded, checked in the order RFC 6749 and
/// RFC 7636 imply: whose code it is first (another client learns nothing more), then a replay.
pub fn judge_authorization_code(code: &StoredAuthorization, presented: &PresentedCode, t: i64) -> Result<(), GrantProblem> {
    if code.client_id != presented.client.client_id {
        return Err(GrantProblem::CodeForAnotherClient);
    }
    if code.used {
        return Err(GrantProblem::CodeReplayed);
    }
    if code.expires_at <= t {
        return Err(GrantProblem::CodeExpired);
    }
    if presented.redirect_uri.as_ref().is_some_and(|uri| *uri != code.redirect_uri) {
        return Err(GrantProblem::RedirectMismatch);
    }
    if !pkce::verifies(&presented.code_verifier, &code.code_challenge) {
        return Err(GrantProblem::VerifierMismatch);
    }
    if presented.client.resource.as_ref().is_some_and(|r| *r != code.resource) {
        return Err(GrantProblem::CodeForAnotherResource { approved: code.resource.clone() });
    }
    if code.store_uninstalled {
        return Err(GrantProblem::StoreUninstalled);
    }
    if code.approver_gone {
        return Err(GrantProblem::ApproverGone);
    }
    Ok(())
}

/// A refresh token as stored, with its connection's state.
#[derive(Debug, Clone)]
pub struct StoredRefresh {
    pub client_id: Option<String>,
    pub resource: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub connection_revoked: bool,
    pub store_uninstalled: bool,
    /// A retry of the refresh that minted it retired it.
    pub superseded: bool,
    /// The refresh token this one's use minted has been used in turn.
    pub successor_used: bool,
}

/// How an honoured refresh token is being used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshUse {
    /// Its one use: it is spent.
    First,
    /// A retry within [`REFRESH_RETRY_SECONDS`]: the pair the first use minted is retired.
    Retry,
}

/// Whether a refresh token presented at `t` is honoured, and as what.
pub fn judge_refresh(refresh: &StoredRefresh, client: &TokenClient, t: i64) -> Result<RefreshUse, GrantProblem> {
    if refresh.client_id.as_deref().is_some_and(|id| id != client.client_id) {
        return Err(GrantProblem::RefreshForAnotherClient);
    }
    if let (Some(asked), Some(issued)) = (&client.resource, &refresh.resource)
        && asked != issued
    {
        return Err(GrantProblem::RefreshForAnotherResource { issued: issued.clone() });
    }
    if refresh.connection_revoked {
        return Err(GrantProblem::ConnectionRevoked);
    }
    if refresh.store_uninstalled {
        return Err(GrantProblem::ConnectionEndedByUninstall);
    }
    let retry = refresh.used_at.is_some_and(|used_at| t <= used_at + REFRESH_RETRY_SECONDS) && !refresh.successor_used;
    if refresh.superseded || (refresh.used_at.is_some() && !retry) {
        // Refresh tokens rotate: each is used once. A second use means two parties hold it;
        // every token of the connection is cut off rather than guess which is the app.
        return Err(GrantProblem::RefreshReplayed);
    }
    if retry {
        return Ok(RefreshUse::Retry);
    }
    if refresh.expires_at <= t {
        return Err(GrantProblem::RefreshExpired);
    }
    Ok(RefreshUse::First)
}

impl GrantProblem {
    /// The credential came back a second time: what its first use made must be revoked.
    pub fn is_replay(&self) -> bool {
        matches!(self, GrantProblem::CodeReplayed | GrantProblem::RefreshReplayed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refresh() -> StoredRefresh {
        StoredRefresh {
            client_id: Some("cli_a".into()),
            resource: Some("https://k.example/mcp".into()),
            expires_at: 1_000,
            used_at: None,
            connection_revoked: false,
            store_uninstalled: false,
            superseded: false,
            successor_used: false,
        }
    }

    fn client() -> TokenClient {
        TokenClient { client_id: "cli_a".into(), resource: None }
    }

    #[test]
    fn a_refresh_token_is_used_once_retried_briefly_and_otherwise_a_replay() {
        assert_eq!(judge_refresh(&refresh(), &client(), 500), Ok(RefreshUse::First));
        let used = StoredRefresh { used_at: Some(500), ..refresh() };
        assert_eq!(judge_refresh(&used, &client(), 500 + REFRESH_RETRY_SECONDS), Ok(RefreshUse::Retry));
        assert_eq!(judge_refresh(&used, &client(), 501 + REFRESH_RETRY_SECONDS), Err(GrantProblem::RefreshReplayed));
        let moved_on = StoredRefresh { successor_used: true, ..used.clone() };
        assert_eq!(judge_refresh(&moved_on, &client(), 501), Err(GrantProblem::RefreshReplayed));
        let retired = StoredRefresh { superseded: true, ..refresh() };
        assert_eq!(judge_refresh(&retired, &client(), 500), Err(GrantProblem::RefreshReplayed));
        assert_eq!(judge_refresh(&refresh(), &client(), 1_000), Err(GrantProblem::RefreshExpired));
        assert!(GrantProblem::RefreshReplayed.is_replay() && !GrantProblem::RefreshExpired.is_replay());
    }

    #[test]
    fn a_refresh_token_belongs_to_its_client_and_resource_before_anything_else() {
        let other = TokenClient { client_id: "cli_b".into(), resource: None };
        let revoked = StoredRefresh { connection_revoked: true, used_at: Some(1), ..refresh() };
        assert_eq!(judge_refresh(&revoked, &other, 500), Err(GrantProblem::RefreshForAnotherClient));
        let elsewhere = TokenClient { client_id: "cli_a".into(), resource: Some("https://other/mcp".into()) };
        assert!(matches!(judge_refresh(&revoked, &elsewhere, 500), Err(GrantProblem::RefreshForAnotherResource { .. })));
        assert_eq!(judge_refresh(&revoked, &client(), 500), Err(GrantProblem::ConnectionRevoked));
    }

    #[test]
    fn a_connection_code_is_refused_for_replay_before_expiry_and_the_rest() {
        let code = StoredConnectionCode { expires_at: 100, used: false, store_uninstalled: false, maker_gone: false };
        assert_eq!(judge_connection_code(&code, 99), Ok(()));
        let everything = StoredConnectionCode { expires_at: 100, used: true, store_uninstalled: true, maker_gone: true };
        assert_eq!(judge_connection_code(&everything, 100), Err(ConnectionCodeProblem::Replayed));
        assert_eq!(judge_connection_code(&StoredConnectionCode { used: false, ..everything.clone() }, 100), Err(ConnectionCodeProblem::Expired));
        assert_eq!(judge_connection_code(&StoredConnectionCode { used: false, ..everything }, 99), Err(ConnectionCodeProblem::StoreUninstalled));
    }

    #[test]
    fn an_authorization_code_names_another_client_before_saying_it_was_used() {
        let code = StoredAuthorization {
            client_id: "cli_a".into(),
            redirect_uri: "https://app/cb".into(),
            code_challenge: pkce::challenge_of("verifier-verifier-verifier-verifier-verifier"),
            resource: "https://k.example/mcp".into(),
            expires_at: 100,
            used: true,
            store_uninstalled: false,
            approver_gone: false,
        };
        let presented = |client_id: &str| PresentedCode {
            client: TokenClient { client_id: client_id.into(), resource: None },
            redirect_uri: None,
            code_verifier: "verifier-verifier-verifier-verifier-verifier".into(),
        };
        assert_eq!(judge_authorization_code(&code, &presented("cli_b"), 50), Err(GrantProblem::CodeForAnotherClient));
        assert_eq!(judge_authorization_code(&code, &presented("cli_a"), 50), Err(GrantProblem::CodeReplayed));
        let fresh = StoredAuthorization { used: false, ..code };
        assert_eq!(judge_authorization_code(&fresh, &presented("cli_a"), 50), Ok(()));
        assert_eq!(judge_authorization_code(&fresh, &presented("cli_a"), 100), Err(GrantProblem::CodeExpired));
    }
}
