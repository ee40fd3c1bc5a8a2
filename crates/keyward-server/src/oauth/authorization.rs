//! An authorization request (RFC 6749 §4.1.1 with PKCE and RFC 8707 resources), checked in the
//! order that decides where a problem may be reported: until the client and its exact redirect
//! URI are known, a problem is shown to the merchant as a page; after that, it goes back to the
//! app at its redirect URI, as OAuth clients expect.

use serde::Deserialize;

use super::clients::{self, Client};
use super::pkce;
use crate::db::Db;

/// The longest `state` accepted; OAuth sets no limit, this keeps pages and URLs bounded.
const MAX_STATE_CHARS: usize = 1000;

/// The request's parameters as they arrive, on the query string (GET) or in the consent
/// form's hidden inputs (POST). Unknown parameters (`prompt`, `nonce`, …) are ignored.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct AuthorizationParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub resource: Option<String>,
}

/// A request that passed every check: what the consent page shows and an approval binds.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    pub client: Client,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: String,
    /// This service's `/mcp` URL, which the request named (or would have).
    pub resource: String,
}

impl ValidRequest {
    /// The values a consent form's CSRF token is bound to, in a fixed order.
    pub fn bound_values(&self) -> [&str; 5] {
        [&self.client.id, &self.redirect_uri, self.state.as_deref().unwrap_or(""), &self.code_challenge, &self.resource]
    }
}

/// Where an error goes.
#[derive(Debug)]
pub enum Refusal {
    /// Before the redirect URI is trusted: a page for the merchant.
    Page(String),
    /// After: back to the app, `error`, `error_description` and `state` on its redirect URI.
    Redirect(ErrorRedirect),
}

/// An OAuth error response for the app (RFC 6749 §4.1.2.1).
#[derive(Debug)]
pub struct ErrorRedirect {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub error: &'static str,
    pub description: String,
    /// The client is verified, so the browser may be sent back at once; otherwise the
    /// merchant sees the error and a link back (see [`Client::verified`]).
    pub automatic: bool,
}

impl AuthorizationParams {
    /// Checks the request for this service, whose MCP endpoint is `resource`.
    pub async fn validate(self, db: &Db, resource: &str) -> Result<ValidRequest, Refusal> {
        let Some(client_id) = self.client_id.filter(|id| !id.is_empty()) else {
            return Err(Refusal::Page("The request does not say which app is asking (no client_id). Start the connection again from the app.".into()));
        };
        let client = match clients::resolve(db, &client_id).await {
            Ok(client) => client,
            Err(clients::ClientError::Storage(e)) => {
                tracing::error!(error = %e, "could not look up an OAuth client");
                return Err(Refusal::Page("The key service could not look up the app. Try again in a moment.".into()));
            }
            Err(e) => return Err(Refusal::Page(e.to_string())),
        };
        let redirect_uri = match self.redirect_uri {
            Some(uri) if client.redirect_uris.contains(&uri) => uri,
            Some(_) => {
                return Err(Refusal::Page(format!(
                    "The app asked to send you back to an address it did not register, so this service will not go there. Remove the connector in \"{}\" and add it again.",
                    client.name
                )));
            }
            None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
            None => return Err(Refusal::Page("The request has no redirect_uri, and the app registered several. Start the connection again from the app.".into())),
        };
        let state = self.state.filter(|s| !s.is_empty());
        let automatic = client.verified;
        let refuse = |error: &'static str, description: String| {
            Err(Refusal::Redirect(ErrorRedirect { redirect_uri: redirect_uri.clone(), state: state.clone(), error, description, automatic }))
        };
        if state.as_ref().is_some_and(|s| s.chars().count() > MAX_STATE_CHARS) {
            return refuse("invalid_request", format!("The state parameter is longer than {MAX_STATE_CHARS} characters. Send a shorter one."));
        }
        match self.response_type.as_deref() {
            Some("code") => {}
            None => return refuse("invalid_request", "The request has no response_type. Send response_type=code.".into()),
            Some(_) => return refuse("unsupported_response_type", "Only the authorization code flow is supported. Send response_type=code.".into()),
        }
        match self.code_challenge_method.as_deref() {
            Some("S256") => {}
            None => return refuse("invalid_request", "PKCE is required: send code_challenge and code_challenge_method=S256.".into()),
            Some(_) => return refuse("invalid_request", "Only the PKCE method S256 is supported (plain is not). Send code_challenge_method=S256.".into()),
        }
        let Some(code_challenge) = self.code_challenge.filter(|c| pkce::well_formed(c)) else {
            return refuse("invalid_request", "The code_challenge is missing or malformed. Send BASE64URL(SHA-256(code_verifier)), 43 characters.".into());
        };
        match self.resource {
            Some(asked) if asked != resource => {
                return refuse("invalid_target", format!("This service's only resource is {resource}. Ask for that resource."));
            }
            _ => {}
        }
        Ok(ValidRequest { client, redirect_uri, state, code_challenge, resource: resource.to_owned() })
    }
}

impl ErrorRedirect {
    /// The redirect URI with the error, the state and the issuer (RFC 9207) added to its query.
    pub fn location(&self, issuer: &str) -> String {
        back_to_app(&self.redirect_uri, &[("error", self.error), ("error_description", &self.description)], self.state.as_deref(), issuer)
    }
}

/// The host a redirect URI points at (`claude.ai`): what the merchant is shown, on the consent
/// page and under Connected apps, to tell a real app from one that borrowed its name.
pub fn redirect_host(uri: &str) -> Option<String> {
    url::Url::parse(uri).ok()?.host_str().map(str::to_owned)
}

/// An authorization response (RFC 6749 §4.1.2): the app's redirect URI with `pairs` (a code, or
/// an error), the request's `state` and this service's `iss` (RFC 9207) added to its query.
pub fn back_to_app(redirect_uri: &str, pairs: &[(&str, &str)], state: Option<&str>, issuer: &str) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            let mut query = url.query_pairs_mut();
            query.extend_pairs(pairs);
            if let Some(state) = state {
                query.append_pair("state", state);
            }
            query.append_pair("iss", issuer);
            drop(query);
            url.into()
        }
        // Registered redirect URIs were checked as absolute URLs; this cannot happen.
        Err(_) => redirect_uri.to_owned(),
    }
}
