//! Where this service sends authorization codes: the one rule for redirect URIs, whether a
//! client registers them (RFC 7591), lists them in its metadata document, or an operator
//! names them for a partner app (`keyward-server partner add`).

use crate::error::OAuthError;

/// The most redirect URIs one client may have, and the longest each (or a client id URL) may be.
pub const MAX_REDIRECT_URIS: usize = 10;
pub const MAX_URI_CHARS: usize = 2000;

/// A redirect URI this service will send codes to: https anywhere, or http to this machine's
/// loopback (a native app's local listener); never a fragment (RFC 6749 §3.1.2).
pub fn check_redirect_uri(uri: &str) -> Result<(), OAuthError> {
    let invalid = |why: &str| OAuthError::bad_request("invalid_redirect_uri", format!("The redirect URI {} {why}", shown(uri)));
    if uri.chars().count() > MAX_URI_CHARS {
        return Err(invalid(&format!("is longer than {MAX_URI_CHARS} characters. Use a shorter one.")));
    }
    if uri.contains('#') {
        return Err(invalid("has a fragment (#…), which OAuth does not allow. Register it without one."));
    }
    let Some(url) = parse_uri(uri) else {
        return Err(invalid("is not an absolute URL. Register the exact https:// address that receives the code."));
    };
    match url.scheme.as_str() {
        "https" => Ok(()),
        "http" if url.loopback => Ok(()),
        "http" => Err(invalid("uses plain http:// on another machine, which would send the code in the clear. Use https://.")),
        _ => Err(invalid("must use https:// (or http:// on 127.0.0.1, [::1] or localhost). Register such an address.")),
    }
}

/// A value a client sent (a URI, a client id), as shown in a message: quoted, at most 100
/// characters, no control characters.
pub fn shown(value: &str) -> String {
    let short: String = value.chars().filter(|c| !c.is_control()).take(100).collect();
    format!("\"{short}\"")
}

struct ParsedUri {
    scheme: String,
    loopback: bool,
}

/// Just enough of URL parsing to judge a redirect URI: its scheme, and whether its host is
/// this machine's loopback. `None` unless it is absolute with a host.
fn parse_uri(uri: &str) -> Option<ParsedUri> {
    let uri = axum::http::Uri::try_from(uri).ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host().filter(|h| !h.is_empty())?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    Some(ParsedUri { scheme, loopback: crate::host_check::is_loopback_name(bare) })
}
