//! DNS rebinding: a web page on `evil.example` whose name is made to point at 127.0.0.1 can
//! send requests to a key service on this machine's loopback, with the browser's blessing,
//! because to the browser it is the page's own origin. What gives it away is the `Host` header:
//! it names `evil.example`. So every route checks it: a service bound to loopback answers only
//! to loopback names (`localhost`, `127.0.0.1`, `[::1]`) and the names it was started with
//! (`--allowed-host`); a service bound elsewhere answers to any name unless it was given a list.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::client_address::LocalAddr;
use crate::error::ApiError;
use crate::state::AppState;

/// The host name of a `Host` header or URI authority, without its port and brackets.
fn host_name(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => authority,
    }
}

/// `localhost` or a loopback address literal (brackets already removed): this machine.
pub(crate) fn is_loopback_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether a request naming `name` may be served, given where the service listens.
pub fn allowed(name: &str, allowed_hosts: &[String], bound_to_loopback: bool) -> bool {
    if allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(name)) {
        return true;
    }
    if bound_to_loopback {
        return is_loopback_name(name);
    }
    allowed_hosts.is_empty()
}

/// Middleware: refuses a request whose `Host` the service does not answer to.
pub async fn check_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let bound_to_loopback = request.extensions().get::<LocalAddr>().is_some_and(|LocalAddr(addr)| addr.ip().is_loopback());
    let authority = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
    // A request with no host at all does not come from a browser, which always sends one.
    if let Some(authority) = authority {
        let name = host_name(&authority);
        if !allowed(name, &state.config.allowed_hosts, bound_to_loopback) {
            tracing::warn!(host = %name, "refused a request for a host this service does not answer to");
            return ApiError::forbidden(
                "host_not_allowed",
                format!(
                    "This key service does not answer to the host name \"{}\". Use its own address, or start it with --allowed-host for that name.",
                    name.chars().take(100).collect::<String>()
                ),
            )
            .into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_answers_only_to_loopback_names_and_its_list() {
        let list = vec!["keys.example.com".to_owned()];
        for name in ["localhost", "127.0.0.1", "::1", "LOCALHOST"] {
            assert!(allowed(name, &[], true), "{name}");
        }
        assert!(!allowed("evil.example", &[], true));
        assert!(allowed("keys.example.com", &list, true));
        assert!(!allowed("evil.example", &list, false));
        assert!(allowed("anything.example", &[], false));
    }

    #[test]
    fn host_names_lose_their_port_and_brackets() {
        assert_eq!(host_name("127.0.0.1:8420"), "127.0.0.1");
        assert_eq!(host_name("[::1]:8420"), "::1");
        assert_eq!(host_name("localhost"), "localhost");
        assert_eq!(host_name("evil.example:80"), "evil.example");
    }
}
