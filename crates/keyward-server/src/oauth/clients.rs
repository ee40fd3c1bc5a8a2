//! Who a `client_id` names, and proof of it at the token endpoint.
//!
//! Three kinds of client id: a client ID metadata document's https URL (claude.ai's and
//! ChatGPT's are pinned, others are fetched), a client that registered itself (RFC 7591), or a
//! partner the operator registered. Clients with a secret are confidential and must show it at
//! `/oauth/token` and `/oauth/revoke`, by HTTP Basic or in the form (never both).

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keyward_core::wire::ConnectionKind;
use subtle::ConstantTimeEq;

use super::client_metadata;
use crate::auth::tokens;
use crate::db::Db;
use crate::error::OAuthError;

/// A client as the authorization endpoint needs it.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub kind: ConnectionKind,
    /// Exact URIs: a redirect is allowed only if it equals one of them.
    pub redirect_uris: Vec<String>,
    /// Someone vouches for who this is: claude.ai's and ChatGPT's pinned documents, or a partner
    /// the operator registered. Anyone can register a client or publish a document, with any
    /// name and any redirect URI, so those are shown as unverified and are never redirected to
    /// without the merchant's click (RFC 9700 §4.11.2: no open redirector).
    pub verified: bool,
}

/// Why a client id could not be used; shown on the consent page (never redirected, since the
/// redirect URI cannot be trusted without the client).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("The app's client_id is not registered with this service. Remove the connector in the app and add it again, so it registers anew.")]
    Unknown,
    #[error("{0}")]
    Metadata(#[from] client_metadata::MetadataError),
    #[error("{0}")]
    Storage(#[from] crate::db::DbError),
}

/// Finds the client a `client_id` names.
pub async fn resolve(db: &Db, client_id: &str) -> Result<Client, ClientError> {
    if client_metadata::is_metadata_url(client_id) {
        let (document, verified) = match client_metadata::pinned(client_id) {
            Some(document) => (document, true),
            None => (client_metadata::fetch(client_id).await?, false),
        };
        return Ok(Client {
            id: document.client_id,
            name: document.client_name,
            kind: ConnectionKind::WebChat,
            redirect_uris: document.redirect_uris,
            verified,
        });
    }
    let found = db.find_client(client_id.to_owned()).await?.ok_or(ClientError::Unknown)?;
    Ok(Client {
        id: found.record.id,
        name: found.record.name,
        kind: if found.partner { ConnectionKind::Partner } else { ConnectionKind::WebChat },
        redirect_uris: found.record.redirect_uris,
        verified: found.partner,
    })
}

/// The client's id and secret as a token or revocation request presents them.
pub struct Presented {
    pub client_id: String,
    pub secret: Option<String>,
    /// HTTP Basic was used, so a refusal answers with a Basic challenge (RFC 6749 §5.2).
    pub basic: bool,
}

impl Presented {
    /// Reads HTTP Basic (id and secret form-urlencoded, then base64, RFC 6749 §2.3.1) or the
    /// form's `client_id` and `client_secret`.
    pub fn from_request(headers: &HeaderMap, form_id: Option<&str>, form_secret: Option<&str>) -> Result<Presented, OAuthError> {
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let basic = value.to_str().ok().and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")));
            let Some(encoded) = basic else {
                return Err(invalid_client(false, "The Authorization header must be HTTP Basic with the client id and secret. Send it that way, or put client_id and client_secret in the form."));
            };
            if form_secret.is_some() {
                return Err(OAuthError::bad_request("invalid_request", "The client authenticated twice (HTTP Basic and client_secret in the form). Use one of them."));
            }
            let decoded = STANDARD.decode(encoded.trim()).ok().and_then(|b| String::from_utf8(b).ok());
            let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
                return Err(invalid_client(true, "The HTTP Basic credentials are not base64 of client_id:client_secret. Encode them that way."));
            };
            let (id, secret) = (form_decode(id), form_decode(secret));
            if form_id.is_some_and(|f| f != id) {
                return Err(OAuthError::bad_request("invalid_request", "The client_id in the form differs from the one in HTTP Basic. Send one client id."));
            }
            return Ok(Presented { client_id: id, secret: Some(secret), basic: true });
        }
        let Some(id) = form_id.filter(|id| !id.is_empty()) else {
            return Err(invalid_client(false, "The request names no client. Send client_id (and client_secret for a confidential client), or HTTP Basic."));
        };
        Ok(Presented { client_id: id.to_owned(), secret: form_secret.map(str::to_owned), basic: false })
    }

    /// Checks the client exists and, if it has a secret, that this is it (in constant time).
    /// Returns the client id. A client ID metadata document's URL is a public client: it has
    /// nothing to check here, and the code or token it shows is bound to it.
    pub async fn authenticate(self, db: &Db) -> Result<String, OAuthError> {
        if client_metadata::is_metadata_url(&self.client_id) {
            return Ok(self.client_id);
        }
        let Some(found) = db.find_client(self.client_id.clone()).await? else {
            return Err(invalid_client(self.basic, "The client is not registered with this service (it may have been forgotten after a day unused). Register it again."));
        };
        if let Some(expected) = &found.secret_hash {
            let Some(secret) = &self.secret else {
                return Err(invalid_client(self.basic, "This client is confidential: send its client_secret (HTTP Basic or client_secret_post)."));
            };
            if !bool::from(tokens::digest(secret).ct_eq(expected)) {
                return Err(invalid_client(self.basic, "The client secret is wrong. Check it, or ask the operator for a new one."));
            }
        }
        Ok(found.record.id)
    }
}

/// `%41` and `+` decoded, as `application/x-www-form-urlencoded` writes them.
fn form_decode(value: &str) -> String {
    let spaced = value.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// 401 `invalid_client`; a client that used Basic gets the Basic challenge RFC 6749 asks for.
/// claude.ai registers anew when its client is refused this way.
pub fn invalid_client(basic: bool, description: &str) -> OAuthError {
    let mut err = OAuthError::bad_request("invalid_client", description);
    err.status = StatusCode::UNAUTHORIZED;
    err.basic_challenge = basic;
    err
}
