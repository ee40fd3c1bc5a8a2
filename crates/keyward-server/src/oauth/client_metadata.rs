//! Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document): an MCP client
//! whose `client_id` is an https URL publishes its name and redirect URIs at that URL, and the
//! authorization server reads them there instead of asking the client to register.
//!
//! claude.ai's and ChatGPT's published client ids are pinned here with their callbacks and never
//! fetched ([`pinned`]). Any other https client id is fetched ([`fetch`]) under an SSRF guard, since
//! anyone on the internet can make this service send that request: the URL must be https with a
//! path and no credentials, fragment or dot segments; every address its host resolves to must be
//! a public unicast address (no loopback, private, link-local, CGNAT, documentation, multicast,
//! … nor IPv4-mapped or NAT64 forms of those); the connection goes only to those vetted
//! addresses, follows no redirect, goes through no proxy, takes at most
//! [`FETCH_TIMEOUT`] in all and reads at most [`MAX_DOCUMENT_BYTES`]. Only public clients
//! (`token_endpoint_auth_method: none`, with PKCE) are accepted this way.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use keyward_core::wire::validate_name;
use reqwest::Url;
use serde::Deserialize;

use super::redirect_uri::{MAX_REDIRECT_URIS, MAX_URI_CHARS, check_redirect_uri, shown};

/// The most bytes a metadata document may have.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// The longest a fetch may take, name resolution and body included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// What a client's metadata says, as this service will enforce it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMetadata {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
}

/// Why a client id could not be used. Each message is shown on the consent page and says what
/// to do.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("The client id {0} is not an https:// address. An app that identifies itself by URL must publish its metadata document at an https:// address; ask its developer to fix it.")]
    NotHttps(String),
    #[error("The client id {0} is not a valid URL. Check the app's connector settings, or ask its developer for the right client id.")]
    Malformed(String),
    #[error("The client id {0} is not usable as a metadata document address: it {1}. Ask the app's developer to publish the document at a plain https:// address with a path.")]
    BadShape(String, &'static str),
    #[error("The client id {0} points at {1}, which is not a public internet address, so this service will not fetch it. Apps must publish their metadata document on the public internet.")]
    ForbiddenAddress(String, String),
    #[error("The host of the client id {0} could not be found. Check the address, or try again later.")]
    Unresolvable(String),
    #[error("Fetching the metadata document at {0} took longer than {secs} seconds. Try again later, or ask the app's developer to check their server.", secs = FETCH_TIMEOUT.as_secs())]
    Timeout(String),
    #[error("The metadata document at {0} could not be fetched ({1}). Try again later, or ask the app's developer to check their server.")]
    Unreachable(String, String),
    #[error("The metadata document at {0} answered with a redirect, which this service does not follow. Ask the app's developer to serve the document at its client id itself.")]
    Redirected(String),
    #[error("The metadata document at {0} answered HTTP {1} instead of the document. Try again later, or ask the app's developer to check their server.")]
    Status(String, u16),
    #[error("The metadata document is larger than {max} bytes. Ask the app's developer to publish a smaller document.", max = MAX_DOCUMENT_BYTES)]
    TooLarge,
    #[error("The metadata document at {0} is not JSON ({1}). Ask the app's developer to serve it as application/json.")]
    NotJson(String, String),
    #[error("The app's metadata document cannot be used: {0} Ask the app's developer to fix the document.")]
    Invalid(String),
}

/// Whether a client id is a URL naming a metadata document (as opposed to an id this service
/// issued at registration).
pub fn is_metadata_url(client_id: &str) -> bool {
    client_id.starts_with("https://")
}

/// claude.ai's client id.
pub const CLAUDE_CLIENT_ID: &str = "https://claude.ai/oauth/mcp-oauth-client-metadata";
/// ChatGPT's stable client id; each connector may also use `https://chatgpt.com/oauth/{callback_id}/client.json`.
pub const CHATGPT_CLIENT_ID: &str = "https://chatgpt.com/oauth/client.json";
const CHATGPT_STABLE_REDIRECT: &str = "https://chatgpt.com/connector_platform_oauth_redirect";

/// The known clients, with the callbacks they publish: never fetched, so they work even when the
/// document's host is slow or unreachable from here, and cannot be changed under us.
pub fn pinned(client_id: &str) -> Option<ClientMetadata> {
    let known = |name: &str, uris: Vec<String>| Some(ClientMetadata { client_id: client_id.to_owned(), client_name: name.to_owned(), redirect_uris: uris });
    if client_id == CLAUDE_CLIENT_ID {
        return known(
            "Claude",
            vec!["https://claude.ai/api/mcp/auth_callback".to_owned(), "https://claude.com/api/mcp/auth_callback".to_owned()],
        );
    }
    if client_id == CHATGPT_CLIENT_ID {
        return known("ChatGPT", vec![CHATGPT_STABLE_REDIRECT.to_owned()]);
    }
    let callback_id = client_id.strip_prefix("https://chatgpt.com/oauth/")?.strip_suffix("/client.json")?;
    let valid = (1..=64).contains(&callback_id.len()) && callback_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if !valid {
        return None;
    }
    known("ChatGPT", vec![format!("https://chatgpt.com/connector/oauth/{callback_id}"), CHATGPT_STABLE_REDIRECT.to_owned()])
}

/// Checks the shape of a client id URL (the part of the guard that needs no network).
fn check_url(client_id: &str) -> Result<Url, MetadataError> {
    if !is_metadata_url(client_id) {
        return Err(MetadataError::NotHttps(shown(client_id)));
    }
    let bad = |why| Err(MetadataError::BadShape(shown(client_id), why));
    if client_id.chars().count() > MAX_URI_CHARS {
        return bad("is longer than 2000 characters");
    }
    if client_id.contains('#') {
        return bad("has a fragment (#…)");
    }
    if client_id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("contains spaces or control characters");
    }
    let url = Url::parse(client_id).map_err(|_| MetadataError::Malformed(shown(client_id)))?;
    if !url.username().is_empty() || url.password().is_some() {
        return bad("carries a user name or password");
    }
    // The parser removes dot segments, so they are looked for in the text as given.
    let after_scheme = &client_id["https://".len()..];
    let path = after_scheme.find('/').map_or("", |at| &after_scheme[at..]);
    let path = path.split(['?']).next().unwrap_or_default();
    let dot_segment = path.split('/').any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    });
    if dot_segment {
        return bad("has a \".\" or \"..\" path segment");
    }
    if url.path().is_empty() || url.path() == "/" {
        return bad("has no path (it must name the document, like https://app.example/oauth/client.json)");
    }
    if url.host().is_none() {
        return Err(MetadataError::Malformed(shown(client_id)));
    }
    Ok(url)
}

/// Whether this service may connect to `ip` on a client's say-so: only public unicast
/// addresses. Everything special-purpose is refused (RFC 6890 and its IANA registries),
/// including IPv4 addresses written as IPv6 (mapped, compatible, NAT64, 6to4, Teredo).
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    const SPECIAL: &[([u8; 4], u32)] = &[
        ([0, 0, 0, 0], 8),        // "this network", unspecified
        ([10, 0, 0, 0], 8),       // private
        ([100, 64, 0, 0], 10),    // carrier-grade NAT
        ([127, 0, 0, 0], 8),      // loopback
        ([169, 254, 0, 0], 16),   // link-local (cloud metadata services live here)
        ([172, 16, 0, 0], 12),    // private
        ([192, 0, 0, 0], 24),     // IETF protocol assignments
        ([192, 0, 2, 0], 24),     // documentation
        ([192, 31, 196, 0], 24),  // AS112
        ([192, 52, 193, 0], 24),  // AMT
        ([192, 88, 99, 0], 24),   // 6to4 relay anycast
        ([192, 168, 0, 0], 16),   // private
        ([192, 175, 48, 0], 24),  // direct delegation AS112
        ([198, 18, 0, 0], 15),    // benchmarking
        ([198, 51, 100, 0], 24),  // documentation
        ([203, 0, 113, 0], 24),   // documentation
        ([224, 0, 0, 0], 4),      // multicast
        ([240, 0, 0, 0], 4),      // reserved, and the broadcast address
    ];
    !SPECIAL.iter().any(|&(net, prefix)| in_v4(ip, net, prefix))
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) };
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

/// The IPv4 address in the last 32 bits of an IPv6 address.
fn low_v4(ip: Ipv6Addr) -> Ipv4Addr {
    Ipv4Addr::from((u128::from(ip) & 0xffff_ffff) as u32)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) reach the IPv4 address inside.
    if in_v6(ip, [0, 0, 0, 0, 0, 0xffff, 0, 0], 96) || in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return is_public_v4(low_v4(ip));
    }
    // Only global unicast (2000::/3), less its special-purpose blocks.
    if !in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        return false; // ::, ::1, IPv4-compatible, 64:ff9b:1::/48, 100::/64, fc00::/7, fe80::/10, ff00::/8, …
    }
    const SPECIAL: &[([u16; 8], u32)] = &[
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32),     // Teredo (tunnels to an IPv4 address)
        ([0x2001, 0x2, 0, 0, 0, 0, 0, 0], 48),   // benchmarking
        ([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28),  // ORCHID
        ([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28),  // ORCHIDv2
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
        ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16),     // 6to4 (tunnels to an IPv4 address)
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),     // documentation
    ];
    !SPECIAL.iter().any(|&(net, prefix)| in_v6(ip, net, prefix))
}

enum Host {
    Ip(IpAddr),
    Name(String),
}

/// A parsed URL's host: an address literal (the parser has already turned `127.1`, `0x7f.0.0.1`
/// and `2130706433` into `127.0.0.1`) or a name.
fn host_of(url: &Url) -> Option<Host> {
    let host = url.host_str()?;
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().ok().map(|ip| Host::Ip(IpAddr::V6(ip)));
    }
    Some(match host.parse::<Ipv4Addr>() {
        Ok(ip) => Host::Ip(IpAddr::V4(ip)),
        Err(_) => Host::Name(host.to_owned()),
    })
}

/// The first sentence of a message, to quote inside another.
fn first_sentence(message: &str) -> String {
    let first = message.split(". ").next().unwrap_or(message);
    format!("{}.", first.trim_end_matches('.'))
}

/// Checks a client id URL and resolves its host, refusing unless every address is public.
/// Returns the URL and the vetted addresses to connect to (empty for an address literal).
async fn vet(client_id: &str) -> Result<(Url, Vec<SocketAddr>), MetadataError> {
    let url = check_url(client_id)?;
    let port = url.port_or_known_default().unwrap_or(443);
    let forbidden = |what: String| MetadataError::ForbiddenAddress(shown(client_id), what);
    match host_of(&url) {
        Some(Host::Ip(ip)) if !is_public_address(ip) => Err(forbidden(ip.to_string())),
        Some(Host::Ip(_)) => Ok((url, Vec::new())),
        Some(Host::Name(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                return Err(forbidden(format!("{name} (this machine)")));
            }
            let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((name.as_str(), port)).await {
                Ok(found) => found.collect(),
                Err(_) => return Err(MetadataError::Unresolvable(shown(client_id))),
            };
            if addrs.is_empty() {
                return Err(MetadataError::Unresolvable(shown(client_id)));
            }
            if let Some(bad) = addrs.iter().find(|a| !is_public_address(a.ip())) {
                return Err(forbidden(format!("{name}, which resolves to {}", bad.ip())));
            }
            Ok((url, addrs))
        }
        None => Err(MetadataError::Malformed(shown(client_id))),
    }
}

/// Fetches and checks the metadata document a client id names, under the SSRF guard above.
/// Call [`pinned`] first: known clients are never fetched.
pub async fn fetch(client_id: &str) -> Result<ClientMetadata, MetadataError> {
    let work = async {
        let (url, addrs) = vet(client_id).await?;
        let body = download(&url, &addrs).await?;
        parse_document(client_id, &body)
    };
    tokio::time::timeout(FETCH_TIMEOUT, work).await.unwrap_or_else(|_| Err(MetadataError::Timeout(shown(client_id))))
}

/// GETs `url`, connecting only to `addrs` when it names a host (its name is not resolved again,
/// so it cannot be rebound to another address between the check and the connection). No proxy,
/// no redirects, no cookies; the body is read chunk by chunk and given up past the cap.
async fn download(url: &Url, addrs: &[SocketAddr]) -> Result<Vec<u8>, MetadataError> {
    let shown_url = shown(url.as_str());
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(FETCH_TIMEOUT)
        .connect_timeout(FETCH_TIMEOUT)
        .user_agent(concat!("keyward-server/", env!("CARGO_PKG_VERSION"), " (OAuth client metadata)"));
    if let Some(Host::Name(name)) = host_of(url)
        && !addrs.is_empty()
    {
        builder = builder.resolve_to_addrs(&name, addrs);
    }
    let client = builder.build().map_err(|e| MetadataError::Unreachable(shown_url.clone(), e.to_string()))?;
    let mut response = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| if e.is_timeout() { MetadataError::Timeout(shown_url.clone()) } else { MetadataError::Unreachable(shown_url.clone(), brief(&e)) })?;
    let status = response.status();
    if status.is_redirection() {
        return Err(MetadataError::Redirected(shown_url));
    }
    if status != reqwest::StatusCode::OK {
        return Err(MetadataError::Status(shown_url, status.as_u16()));
    }
    let content_type = response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence != "application/json" && !essence.ends_with("+json") {
        let what = if content_type.is_empty() { "no content type".to_owned() } else { format!("content type {}", shown(&content_type)) };
        return Err(MetadataError::NotJson(shown_url, what));
    }
    if response.content_length().is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64) {
        return Err(MetadataError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| if e.is_timeout() { MetadataError::Timeout(shown_url.clone()) } else { MetadataError::Unreachable(shown_url.clone(), brief(&e)) })?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(MetadataError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A short reason for a failed request, without the URL reqwest puts in its messages.
fn brief(err: &reqwest::Error) -> String {
    let mut reason = if err.is_connect() { "could not connect".to_owned() } else { "the request failed".to_owned() };
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        reason = inner.to_string();
        source = inner.source();
    }
    reason.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// The fields of a metadata document this service reads; the rest are ignored.
#[derive(Deserialize)]
struct Document {
    client_id: Option<String>,
    client_name: Option<String>,
    redirect_uris: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
}

/// Checks a fetched metadata document for the client id it was fetched from.
pub fn parse_document(client_id: &str, body: &[u8]) -> Result<ClientMetadata, MetadataError> {
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(MetadataError::TooLarge);
    }
    let invalid = |why: String| Err(MetadataError::Invalid(why));
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) => return Err(MetadataError::NotJson(shown(client_id), format!("it does not parse: {e}"))),
    };
    if !value.is_object() {
        return Err(MetadataError::NotJson(shown(client_id), "it is not a JSON object".into()));
    }
    let document: Document = match serde_json::from_value(value) {
        Ok(document) => document,
        Err(e) => return invalid(format!("a field has the wrong type ({e}).")),
    };
    match &document.client_id {
        None => return invalid("it has no client_id.".into()),
        Some(id) if id != client_id => {
            return invalid(format!("its client_id {} is not the address it was fetched from, {}.", shown(id), shown(client_id)));
        }
        Some(_) => {}
    }
    let redirect_uris = document.redirect_uris.unwrap_or_default();
    if redirect_uris.is_empty() {
        return invalid("it lists no redirect_uris.".into());
    }
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return invalid(format!("it lists more than {MAX_REDIRECT_URIS} redirect_uris."));
    }
    for uri in &redirect_uris {
        if let Err(e) = check_redirect_uri(uri) {
            return invalid(first_sentence(&e.description));
        }
    }
    if let Some(method) = &document.token_endpoint_auth_method
        && method != "none"
    {
        return invalid(format!(
            "its token_endpoint_auth_method is {}, but a client identified by URL must be a public client (none, with PKCE).",
            shown(method)
        ));
    }
    let host = Url::parse(client_id).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| client_id.to_owned());
    let client_name = match document.client_name.as_deref() {
        Some(name) => match validate_name("client_name", name) {
            Ok(name) => name,
            Err(why) => return invalid(first_sentence(&why)),
        },
        None => host,
    };
    Ok(ClientMetadata { client_id: client_id.to_owned(), client_name, redirect_uris })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_and_chatgpt_are_pinned_with_their_callbacks() {
        let claude = pinned(CLAUDE_CLIENT_ID).unwrap();
        assert_eq!(claude.client_name, "Claude");
        assert_eq!(claude.redirect_uris, ["https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback"]);
        let chatgpt = pinned(CHATGPT_CLIENT_ID).unwrap();
        assert_eq!((chatgpt.client_name.as_str(), chatgpt.redirect_uris.as_slice()), ("ChatGPT", &[CHATGPT_STABLE_REDIRECT.to_owned()][..]));
        let connector = pinned("https://chatgpt.com/oauth/abc_DEF-123/client.json").unwrap();
        assert_eq!(connector.client_id, "https://chatgpt.com/oauth/abc_DEF-123/client.json");
        assert_eq!(connector.redirect_uris, ["https://chatgpt.com/connector/oauth/abc_DEF-123", CHATGPT_STABLE_REDIRECT]);
        for id in [
            "https://chatgpt.com/oauth//client.json",
            "https://chatgpt.com/oauth/a/b/client.json",
            "https://chatgpt.com/oauth/../client.json",
            "https://chatgpt.com/oauth/a%2e/client.json",
            &format!("https://chatgpt.com/oauth/{}/client.json", "a".repeat(65)),
            "https://chatgpt.com.evil.example/oauth/client.json",
            "https://claude.ai/oauth/mcp-oauth-client-metadata/",
            "http://claude.ai/oauth/mcp-oauth-client-metadata",
        ] {
            assert!(pinned(id).is_none(), "{id}");
        }
        assert!(pinned(&format!("https://chatgpt.com/oauth/{}/client.json", "a".repeat(64))).is_some());
    }

    #[test]
    fn metadata_urls_are_https() {
        assert!(is_metadata_url(CLAUDE_CLIENT_ID));
        assert!(!is_metadata_url("cli_abc123"));
        assert!(!is_metadata_url("http://app.example/client.json"));
    }

    /// `fetch` must refuse before any socket: these all fail in the guard, fast, offline.
    async fn refused(client_id: &str) -> MetadataError {
        let started = std::time::Instant::now();
        let err = fetch(client_id).await.expect_err(client_id);
        assert!(started.elapsed() < Duration::from_secs(2), "{client_id} took {:?}", started.elapsed());
        err
    }

    #[tokio::test]
    async fn the_guard_refuses_addresses_that_are_not_public() {
        for id in [
            "https://127.0.0.1/client.json",
            "https://127.1.2.3:8443/client.json",
            "https://10.0.0.8/client.json",
            "https://172.16.5.4/client.json",
            "https://192.168.1.1/client.json",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/client.json",
            "https://0.0.0.0/client.json",
            "https://224.0.0.1/client.json",
            "https://198.18.0.1/client.json",
            "https://203.0.113.9/client.json",
            "https://[::1]/client.json",
            "https://[::]/client.json",
            "https://[fe80::1]/client.json",
            "https://[fc00::1]/client.json",
            "https://[fd12:3456::1]/client.json",
            "https://[ff02::1]/client.json",
            "https://[::ffff:127.0.0.1]/client.json",
            "https://[::ffff:169.254.169.254]/client.json",
            "https://[64:ff9b::10.0.0.1]/client.json",
            "https://[2001:db8::1]/client.json",
            "https://[2002:7f00:1::]/client.json",
            // Other spellings of 127.0.0.1 that URL parsers accept.
            "https://2130706433/client.json",
            "https://0x7f.0.0.1/client.json",
            "https://127.1/client.json",
        ] {
            let err = refused(id).await;
            assert!(matches!(err, MetadataError::ForbiddenAddress(..)), "{id}: {err}");
            assert!(err.to_string().contains("not a public internet address"), "{id}: {err}");
        }
    }

    #[tokio::test]
    async fn the_guard_refuses_localhost_by_name() {
        for id in ["https://localhost/client.json", "https://LOCALHOST./client.json", "https://app.localhost/client.json"] {
            let err = refused(id).await;
            assert!(matches!(err, MetadataError::ForbiddenAddress(..)), "{id}: {err}");
            assert!(err.to_string().contains("this machine"), "{id}: {err}");
        }
    }

    #[tokio::test]
    async fn the_guard_refuses_urls_of_the_wrong_shape() {
        let cases: &[(&str, &str)] = &[
            ("http://app.example/client.json", "is not an https:// address"),
            ("ftp://app.example/client.json", "is not an https:// address"),
            ("app.example/client.json", "is not an https:// address"),
            ("https://app.example", "has no path"),
            ("https://app.example/", "has no path"),
            ("https://app.example/?x=1", "has no path"),
            ("https://user:pw@app.example/client.json", "user name or password"),
            ("https://user@app.example/client.json", "user name or password"),
            ("https://app.example/client.json#frag", "has a fragment"),
            ("https://app.example/a/../client.json", "path segment"),
            ("https://app.example/./client.json", "path segment"),
            ("https://app.example/a/%2E%2e/client.json", "path segment"),
            ("https://app.example/client json", "spaces"),
            ("https://[::1/client.json", "not a valid URL"),
        ];
        for (id, says) in cases {
            let err = refused(id).await;
            let message = err.to_string();
            assert!(message.contains(says), "{id}: {message}");
            assert!(message.ends_with('.'), "{id}: {message}");
        }
        let long = format!("https://app.example/{}", "a".repeat(2000));
        assert!(refused(&long).await.to_string().contains("longer than 2000"));
    }

    #[test]
    fn public_addresses_pass() {
        for ip in ["93.184.216.34", "1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "::ffff:93.184.216.34", "64:ff9b::808:808"] {
            assert!(is_public_address(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["172.31.255.255", "100.127.255.255", "255.255.255.255", "192.0.0.8", "2001::1", "fec0::1", "::7f00:1", "100::1"] {
            assert!(!is_public_address(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_public_address("172.32.0.1".parse().unwrap()));
        assert!(is_public_address("100.128.0.1".parse().unwrap()));
    }

    const ID: &str = "https://app.example/oauth/client.json";

    fn document(value: serde_json::Value) -> Result<ClientMetadata, MetadataError> {
        parse_document(ID, value.to_string().as_bytes())
    }

    #[test]
    fn a_good_document_is_read() {
        let metadata = document(serde_json::json!({
            "client_id": ID, "client_name": "  Example App ", "redirect_uris": ["https://app.example/callback", "http://127.0.0.1:33418/cb"],
            "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"], "logo_uri": "https://app.example/logo.png"
        }))
        .unwrap();
        assert_eq!(metadata, ClientMetadata {
            client_id: ID.into(),
            client_name: "Example App".into(),
            redirect_uris: vec!["https://app.example/callback".into(), "http://127.0.0.1:33418/cb".into()],
        });
        let unnamed = document(serde_json::json!({"client_id": ID, "redirect_uris": ["https://app.example/cb"]})).unwrap();
        assert_eq!(unnamed.client_name, "app.example");
    }

    #[test]
    fn bad_documents_are_refused_with_the_reason() {
        use serde_json::json;
        let cases = [
            (json!({"client_id": "https://evil.example/client.json", "redirect_uris": ["https://app.example/cb"]}), "is not the address it was fetched from"),
            (json!({"client_id": format!("{ID}/"), "redirect_uris": ["https://app.example/cb"]}), "is not the address it was fetched from"),
            (json!({"redirect_uris": ["https://app.example/cb"]}), "has no client_id"),
            (json!({"client_id": ID}), "lists no redirect_uris"),
            (json!({"client_id": ID, "redirect_uris": []}), "lists no redirect_uris"),
            (json!({"client_id": ID, "redirect_uris": ["http://app.example/cb"]}), "plain http://"),
            (json!({"client_id": ID, "redirect_uris": ["https://app.example/cb#x"]}), "fragment"),
            (json!({"client_id": ID, "redirect_uris": ["javascript:alert(1)"]}), "not an absolute URL"),
            (json!({"client_id": ID, "redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "client_secret_basic"}), "public client"),
            (json!({"client_id": ID, "redirect_uris": ["https://app.example/cb"], "client_name": "  "}), "is empty"),
            (json!({"client_id": ID, "redirect_uris": ["https://app.example/cb"], "client_name": "a\u{7}b"}), "control characters"),
            (json!({"client_id": ID, "redirect_uris": "https://app.example/cb"}), "wrong type"),
            (json!({"client_id": ID, "redirect_uris": vec!["https://app.example/cb"; 11]}), "more than 10"),
        ];
        for (body, says) in cases {
            let err = document(body.clone()).expect_err(&body.to_string());
            assert!(matches!(err, MetadataError::Invalid(_)), "{body}: {err}");
            let message = err.to_string();
            assert!(message.contains(says), "{body}: {message}");
            assert!(message.ends_with("Ask the app's developer to fix the document."), "{message}");
        }
    }

    #[test]
    fn oversized_and_non_json_bodies_are_refused() {
        let mut big = format!(r#"{{"client_id": "{ID}", "redirect_uris": ["https://app.example/cb"], "pad": ""#).into_bytes();
        big.resize(MAX_DOCUMENT_BYTES + 1, b'x');
        assert!(matches!(parse_document(ID, &big), Err(MetadataError::TooLarge)));
        for body in [&b"<html>hello</html>"[..], b"", b"[1, 2]", b"\"https://app.example/cb\"", b"{\"client_id\": "] {
            let err = parse_document(ID, body).unwrap_err();
            assert!(matches!(err, MetadataError::NotJson(..)), "{}: {err}", String::from_utf8_lossy(body));
        }
    }

    /// The download itself, against a local server (vetting refuses loopback, so it is skipped
    /// here): no redirect is followed, only JSON is read, and the body is cut off at the cap.
    #[tokio::test]
    async fn the_download_follows_no_redirect_and_stops_at_the_cap() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                tokio::spawn(async move {
                    let mut request = vec![0u8; 4096];
                    let n = socket.read(&mut request).await.unwrap_or(0);
                    let request = String::from_utf8_lossy(&request[..n]).to_string();
                    let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let head = |status: &str, extra: &str| format!("HTTP/1.1 {status}\r\n{extra}Connection: close\r\n\r\n");
                    match path.as_str() {
                        "/redirect" => {
                            let _ = socket.write_all(head("302 Found", "Location: http://127.0.0.1:1/x\r\nContent-Length: 0\r\n").as_bytes()).await;
                        }
                        "/html" => {
                            let _ = socket.write_all(head("200 OK", "Content-Type: text/html\r\nContent-Length: 2\r\n").as_bytes()).await;
                            let _ = socket.write_all(b"hi").await;
                        }
                        "/missing" => {
                            let _ = socket.write_all(head("404 Not Found", "Content-Length: 0\r\n").as_bytes()).await;
                        }
                        "/endless" => {
                            // No length, and far more than the cap: the reader must stop by itself.
                            let _ = socket.write_all(head("200 OK", "Content-Type: application/json\r\n").as_bytes()).await;
                            let chunk = vec![b' '; 1024];
                            for _ in 0..10_000 {
                                if socket.write_all(&chunk).await.is_err() {
                                    return;
                                }
                            }
                        }
                        "/declared-big" => {
                            let _ = socket.write_all(head("200 OK", "Content-Type: application/json\r\nContent-Length: 1000000\r\n").as_bytes()).await;
                        }
                        _ => {
                            let body = br#"{"client_id": "x", "redirect_uris": []}"#;
                            let extra = format!("Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n", body.len());
                            let _ = socket.write_all(head("200 OK", &extra).as_bytes()).await;
                            let _ = socket.write_all(body).await;
                        }
                    }
                });
            }
        });
        let url = |path: &str| Url::parse(&format!("http://{addr}{path}")).unwrap();
        assert!(matches!(download(&url("/redirect"), &[]).await, Err(MetadataError::Redirected(_))));
        assert!(matches!(download(&url("/html"), &[]).await, Err(MetadataError::NotJson(..))));
        assert!(matches!(download(&url("/missing"), &[]).await, Err(MetadataError::Status(_, 404))));
        assert!(matches!(download(&url("/endless"), &[]).await, Err(MetadataError::TooLarge)));
        assert!(matches!(download(&url("/declared-big"), &[]).await, Err(MetadataError::TooLarge)));
        assert_eq!(download(&url("/ok"), &[]).await.unwrap(), br#"{"client_id": "x", "redirect_uris": []}"#);
        // A host name is connected to at the vetted address given, not resolved again.
        let pinned_url = Url::parse(&format!("http://metadata.invalid:{}/ok", addr.port())).unwrap();
        assert!(download(&pinned_url, &[addr]).await.is_ok());
    }
}
