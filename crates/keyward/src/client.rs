//! The key service's HTTP API over the `keyward-core` wire types. Every failure becomes a
//! [`ClientError`] whose text is a sentence a person can act on.

use std::time::Duration;

use keyward_core::wire::{
    AuditPage, ConnectionCode, ConnectionCodeRequest, ConnectionList, CreateKeyRequest, CreatedKey, DeviceList, ErrorBody, KeyList,
    KeyRecord, LoginRequest, MirrorPage, NewStaffMember, PasswordChange, PasswordChanged, RemovedStaffMember, RotateKeyRequest,
    RotatedKey, SessionCreated, SignedOutDevice, StaffList, StaffMember, UpdateKeyRequest, Whoami,
};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a call to the key service failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("The key service at {server} cannot be reached ({detail}). Check the address and your connection, then try again.")]
    Unreachable { server: String, detail: String },
    /// The service answered with an error; `message` is its sentence.
    #[error("The key service refused: {message}")]
    Refused { status: u16, code: String, message: String },
    #[error("The key service sent an answer Keyward does not understand ({0}). Check that the address is a Keyward key service.")]
    Protocol(String),
    #[error("The key service address \"{0}\" is not a valid http:// or https:// URL. Use e.g. https://keys.example.com.")]
    BadAddress(String),
    /// The service answered 3xx. Keyward follows no redirect, so no credential goes elsewhere.
    #[error("The key service answered with a redirect to {location}; Keyward does not follow redirects, so nothing was sent there. If that is the key service, use that address directly.")]
    Redirected { location: String },
    #[error("The key service address {0} uses plain http://, which would send your password, session and keys across the network unencrypted. Use its https:// address (plain http:// is only for a service on this machine, e.g. http://127.0.0.1:8420).")]
    Insecure(String),
}

impl ClientError {
    /// The service's error code, e.g. `key_revoked`, if it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the session is no longer good (signed out, expired, the store gone), so the
    /// person must sign in again.
    pub fn needs_sign_in(&self) -> bool {
        matches!(self.code(), Some("invalid_session" | "missing_session" | "session_expired" | "store_uninstalled"))
    }
}

/// Normalises a service address to its origin: scheme, host and port, no trailing slash.
/// Plain `http://` is accepted only for this machine (loopback), where nothing travels a
/// network: elsewhere the session token, passwords and keys would cross it in the clear.
pub fn normalise_server(address: &str) -> Result<String, ClientError> {
    let trimmed = address.trim().trim_end_matches('/');
    let url = reqwest::Url::parse(trimmed).map_err(|_| ClientError::BadAddress(address.to_owned()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ClientError::BadAddress(address.to_owned()));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(ClientError::Insecure(url.origin().ascii_serialization()));
    }
    Ok(url.origin().ascii_serialization())
}

/// Whether the URL names this machine: 127.0.0.0/8, ::1 or `localhost`.
fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    host.eq_ignore_ascii_case("localhost")
        || host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// An HTTP client that follows no redirect: a 3xx comes back as it is, so a credential
/// (`X-API-Key`, the session token, a sign-in body) is never sent on to another address.
/// Every HTTP client in this crate is made here.
pub(crate) fn http_client(timeout: Duration, user_agent: &str) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .user_agent(user_agent)
        .build()
}

/// Where a 3xx answer points, for telling the person; `None` if it is not a redirect.
pub(crate) fn redirect_target(response: &reqwest::Response) -> Option<String> {
    if !response.status().is_redirection() {
        return None;
    }
    let location = response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("another address");
    // The header is the service's text, shown to a person: keep it one short line.
    Some(location.chars().filter(|c| !c.is_control()).take(200).collect())
}

/// A client for one key service, optionally signed in.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    server: String,
    session: Option<String>,
}

impl ApiClient {
    pub fn new(server: &str) -> Result<ApiClient, ClientError> {
        let server = normalise_server(server)?;
        let http = http_client(Duration::from_secs(30), concat!("keyward/", env!("CARGO_PKG_VERSION"))).map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(ApiClient { http, server, session: None })
    }

    pub fn with_session(mut self, token: impl Into<String>) -> ApiClient {
        self.session = Some(token.into());
        self
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    async fn send<B: Serialize, T: DeserializeOwned>(&self, method: Method, path: &str, body: Option<&B>) -> Result<T, ClientError> {
        let mut request = self.http.request(method, format!("{}{path}", self.server));
        if let Some(token) = &self.session {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        decode(response).await
    }

    fn unreachable(&self, error: reqwest::Error) -> ClientError {
        let detail = if error.is_timeout() {
            "it did not answer in time".to_owned()
        } else if error.is_connect() {
            "the connection was refused or failed".to_owned()
        } else {
            error.to_string()
        };
        ClientError::Unreachable { server: self.server.clone(), detail }
    }

    pub async fn login(&self, email: &str, password: &str, device_name: &str) -> Result<SessionCreated, ClientError> {
        let body = LoginRequest { email: email.into(), password: password.into(), device_name: device_name.into() };
        self.send(Method::POST, "/api/session", Some(&body)).await
    }

    pub async fn logout(&self) -> Result<(), ClientError> {
        self.send::<(), Empty>(Method::DELETE, "/api/session", None).await.map(|_| ())
    }

    pub async fn list_keys(&self, include_revoked: bool) -> Result<Vec<KeyRecord>, ClientError> {
        let path = if include_revoked { "/api/keys?include_revoked=true" } else { "/api/keys" };
        Ok(self.send::<(), KeyList>(Method::GET, path, None).await?.keys)
    }

    pub async fn get_key(&self, id: &str) -> Result<KeyRecord, ClientError> {
        self.send::<(), _>(Method::GET, &format!("/api/keys/{}", path_segment(id)), None).await
    }

    pub async fn create_key(&self, request: &CreateKeyRequest) -> Result<CreatedKey, ClientError> {
        self.send(Method::POST, "/api/keys", Some(request)).await
    }

    pub async fn update_key(&self, id: &str, request: &UpdateKeyRequest) -> Result<KeyRecord, ClientError> {
        self.send(Method::PATCH, &format!("/api/keys/{}", path_segment(id)), Some(request)).await
    }

    pub async fn revoke_key(&self, id: &str) -> Result<KeyRecord, ClientError> {
        self.send::<(), _>(Method::DELETE, &format!("/api/keys/{}", path_segment(id)), None).await
    }

    pub async fn rotate_key(&self, id: &str, overlap_seconds: u32) -> Result<RotatedKey, ClientError> {
        let body = RotateKeyRequest { overlap_seconds: Some(overlap_seconds) };
        self.send(Method::POST, &format!("/api/keys/{}/rotate", path_segment(id)), Some(&body)).await
    }

    pub async fn devices(&self) -> Result<DeviceList, ClientError> {
        self.send::<(), _>(Method::GET, "/api/devices", None).await
    }

    pub async fn sign_out_device(&self, id: &str, revoke_keys: bool) -> Result<SignedOutDevice, ClientError> {
        let path = format!("/api/devices/{}?revoke_keys={revoke_keys}", path_segment(id));
        self.send::<(), _>(Method::DELETE, &path, None).await
    }

    /// Changes the signed-in person's password; the service signs out their other devices.
    pub async fn change_password(&self, current_password: &str, new_password: &str) -> Result<PasswordChanged, ClientError> {
        let body = PasswordChange { current_password: current_password.into(), new_password: new_password.into() };
        self.send(Method::PATCH, "/api/me/password", Some(&body)).await
    }

    /// The people who can sign in to the store, the owner first.
    pub async fn staff(&self) -> Result<Vec<StaffMember>, ClientError> {
        Ok(self.send::<(), StaffList>(Method::GET, "/api/staff", None).await?.staff)
    }

    /// Adds a staff member (owner only).
    pub async fn add_staff(&self, member: &NewStaffMember) -> Result<StaffMember, ClientError> {
        self.send(Method::POST, "/api/staff", Some(member)).await
    }

    /// Removes a staff member (owner only); the service signs them out everywhere.
    pub async fn remove_staff(&self, id: &str) -> Result<RemovedStaffMember, ClientError> {
        self.send::<(), _>(Method::DELETE, &format!("/api/staff/{}", path_segment(id)), None).await
    }

    pub async fn audit(&self, before: Option<i64>, limit: u32) -> Result<AuditPage, ClientError> {
        let path = match before {
            Some(before) => format!("/api/audit?limit={limit}&before={before}"),
            None => format!("/api/audit?limit={limit}"),
        };
        self.send::<(), _>(Method::GET, &path, None).await
    }

    pub async fn connections(&self) -> Result<ConnectionList, ClientError> {
        self.send::<(), _>(Method::GET, "/api/connections", None).await
    }

    pub async fn revoke_connection(&self, id: &str) -> Result<keyward_core::wire::Connection, ClientError> {
        self.send::<(), _>(Method::DELETE, &format!("/api/connections/{}", path_segment(id)), None).await
    }

    pub async fn create_connection_code(&self, request: &ConnectionCodeRequest) -> Result<ConnectionCode, ClientError> {
        self.send(Method::POST, "/api/connections/codes", Some(request)).await
    }

    pub async fn mirror(&self, since: &str) -> Result<MirrorPage, ClientError> {
        self.send::<(), _>(Method::GET, &format!("/api/mirror?since={}", path_segment(since)), None).await
    }

    /// The store's MCP URL, the one the merchant pastes into claude.ai or ChatGPT as a custom
    /// connector: the `resource` of the service's RFC 9728 protected resource metadata
    /// (`GET /.well-known/oauth-protected-resource`, no sign-in needed). It is taken exactly as
    /// the service says it, because behind a TLS proxy it is the public address
    /// (`--public-url`), not the one this client talks to.
    pub async fn mcp_url(&self) -> Result<String, ClientError> {
        let response = self
            .http
            .get(format!("{}/.well-known/oauth-protected-resource", self.server))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(ClientError::Protocol(format!(
                "{} publishes no MCP URL at /.well-known/oauth-protected-resource; update the key service to one that connects claude.ai and ChatGPT",
                self.server
            )));
        }
        let metadata: ProtectedResource = decode(response).await?;
        match reqwest::Url::parse(&metadata.resource) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => Ok(metadata.resource),
            _ => Err(ClientError::Protocol(format!("its MCP URL \"{}\" is not an http:// or https:// URL", metadata.resource.chars().take(200).collect::<String>()))),
        }
    }

    /// `GET /v1/whoami` with a key, to check that it works against the service.
    pub async fn whoami(&self, key: &str) -> Result<Whoami, ClientError> {
        let response = self
            .http
            .get(format!("{}/v1/whoami", self.server))
            .header("x-api-key", key)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        decode(response).await
    }
}

/// RFC 9728 protected resource metadata: the one field Keyward reads.
#[derive(serde::Deserialize)]
struct ProtectedResource {
    resource: String,
}

/// For `DELETE` and other answers without a body worth reading.
struct Empty;

impl<'de> serde::Deserialize<'de> for Empty {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| Empty)
    }
}

/// Percent-encodes a value used inside a URL path or query.
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ClientError> {
    if let Some(location) = redirect_target(&response) {
        return Err(ClientError::Redirected { location });
    }
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| ClientError::Protocol(e.to_string()))?;
    if status.is_success() {
        let bytes: &[u8] = if status == StatusCode::NO_CONTENT || bytes.is_empty() { b"null" } else { &bytes };
        return serde_json::from_slice(bytes).map_err(|e| ClientError::Protocol(e.to_string()));
    }
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => Err(ClientError::Refused { status: status.as_u16(), code: body.error.code, message: body.error.message }),
        Err(_) => Err(ClientError::Protocol(format!("HTTP {status} without a Keyward error body"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_normalised_to_their_origin() {
        assert_eq!(normalise_server("http://127.0.0.1:8420/").unwrap(), "http://127.0.0.1:8420");
        assert_eq!(normalise_server(" https://Keys.Example.com ").unwrap(), "https://keys.example.com");
        for bad in ["", "keys.example.com", "ftp://x", "http://"] {
            assert!(normalise_server(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_http_is_refused_except_on_this_machine() {
        for local in ["http://127.0.0.1:8420", "http://127.8.9.10", "http://localhost:8420", "http://LOCALHOST", "http://[::1]:8420"] {
            assert!(normalise_server(local).is_ok(), "{local}");
        }
        for secure in ["https://example.com", "https://keys.example.com:8443", "https://127.0.0.1"] {
            assert!(normalise_server(secure).is_ok(), "{secure}");
        }
        for remote in ["http://example.com", "http://10.0.0.5:8420", "http://[2001:db8::1]", "http://localhost.example.com", "http://0.0.0.0:8420"] {
            let message = normalise_server(remote).unwrap_err().to_string();
            assert!(message.contains("https://"), "{remote}: {message}");
        }
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(path_segment("Ab12/../x y"), "Ab12%2F..%2Fx%20y");
    }
}
