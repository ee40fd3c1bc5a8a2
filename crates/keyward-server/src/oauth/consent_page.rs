//! The consent page: server-rendered HTML that works without JavaScript, under a strict
//! Content-Security-Policy that also forbids framing (clickjacking).
//!
//! Its one form is a contract scripts and tests rely on: `<form method="post"
//! action="/oauth/authorize">` with hidden inputs for the request and `csrf_token`; an input
//! `connection_code` (way a); inputs `email`, `password` and `scope` (`read` or `write`, way b);
//! and buttons `name="decision"` with `value="approve"` or `value="deny"`.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::authorization::{ValidRequest, redirect_host};

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}\
h1{font-size:1.4rem}fieldset{border:1px solid #ccc;border-radius:8px;margin:1rem 0;padding:.5rem 1rem 1rem}\
legend{font-weight:600}label{display:block;margin:.5rem 0 .2rem}input[type=text],input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:.4rem;font:inherit}\
.choice{display:flex;gap:.5rem;align-items:center;margin:.3rem 0}.choice label{margin:0;display:inline}\
.error{background:#fde8e8;border:1px solid #e0a0a0;border-radius:8px;padding:.5rem 1rem}\
.warning{background:#fff6dd;border:1px solid #e0c060;border-radius:8px;padding:.5rem 1rem}.muted{color:#555;font-size:.9rem}\
.buttons{display:flex;gap:1rem;margin-top:1rem}button{font:inherit;padding:.5rem 1.2rem;border-radius:6px;border:1px solid #888;background:#fff}\
button[value=approve]{background:#1a5fd0;color:#fff;border-color:#1a5fd0}code{background:#f2f2f2;padding:0 .2rem}";

/// The policy's hash of [`STYLE`], so the inline style is the only style that runs.
static STYLE_HASH: LazyLock<String> = LazyLock::new(|| STANDARD.encode(Sha256::digest(STYLE.as_bytes())));

/// What the merchant sees about the request.
pub struct ConsentView<'a> {
    pub request: &'a ValidRequest,
    pub csrf_token: &'a str,
    /// The store, when this service hosts only one; otherwise the merchant's sign-in or code
    /// decides which.
    pub store_name: Option<&'a str>,
    /// Why the last attempt was refused.
    pub error: Option<&'a str>,
    /// What to fill back in after a refusal (never the password or the code).
    pub email: &'a str,
    pub write_selected: bool,
}

/// `&`, `<`, `>`, `"` and `'` escaped, for text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn hidden(name: &str, value: &str) -> String {
    format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">\n", escape(value))
}

/// The redirect URI's host, or the URI itself if it has none to show.
fn shown_host(uri: &str) -> String {
    redirect_host(uri).unwrap_or_else(|| uri.to_owned())
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"same-origin\"><title>{}</title><style>{STYLE}</style></head>\n<body>\n{body}</body></html>\n",
        escape(title)
    )
}

/// The consent page for a valid request.
pub fn render(view: &ConsentView<'_>) -> String {
    let request = view.request;
    let app = escape(&request.client.name);
    let host = escape(&shown_host(&request.redirect_uri));
    let kind = match request.client.kind {
        keyward_core::wire::ConnectionKind::Partner => "a partner app registered by the operator of this service",
        keyward_core::wire::ConnectionKind::WebChat => "a web-chat app",
    };
    let store = match view.store_name {
        Some(name) => format!("the store <strong>{}</strong>", escape(name)),
        None => "your store (the one the connection code was made for, or the one you sign in to)".to_owned(),
    };
    let mut body = format!(
        "<h1>Connect {app} to your store?</h1>\n\
<p><strong>{app}</strong>, {kind}, asks to reach {store} through Keyward. \
After you approve, you are sent back to <strong>{host}</strong>.</p>\n\
<p>With <strong>Read only</strong> it can list and read the store's raw materials and bills of materials. \
With <strong>Read &amp; write</strong> it can also add raw materials, set stock and create bills of materials. \
You can see and revoke it any time under Connected apps in Keyward.</p>\n"
    );
    if !request.client.verified {
        body.push_str(&format!(
            "<p class=\"warning\"><strong>Unverified app.</strong> It registered itself with this service, so the name {app} is its own claim. \
Approve only if you started connecting from <strong>{host}</strong> just now.</p>\n"
        ));
    }
    if let Some(error) = view.error {
        body.push_str(&format!("<p class=\"error\" role=\"alert\">{}</p>\n", escape(error)));
    }
    body.push_str("<form method=\"post\" action=\"/oauth/authorize\">\n");
    body.push_str(&hidden("client_id", &request.client.id));
    body.push_str(&hidden("redirect_uri", &request.redirect_uri));
    body.push_str(&hidden("response_type", "code"));
    if let Some(state) = &request.state {
        body.push_str(&hidden("state", state));
    }
    body.push_str(&hidden("code_challenge", &request.code_challenge));
    body.push_str(&hidden("code_challenge_method", "S256"));
    body.push_str(&hidden("resource", &request.resource));
    body.push_str(&hidden("csrf_token", view.csrf_token));
    let (read_checked, write_checked) = if view.write_selected { ("", " checked") } else { (" checked", "") };
    body.push_str(&format!(
        "<fieldset><legend>With a connection code</legend>\n\
<p class=\"muted\">Make one in the Keyward app (Connected apps) or with <code>keyward connections code</code>. \
The code decides the store and whether the app may write.</p>\n\
<label for=\"connection_code\">Connection code</label>\n\
<input type=\"text\" id=\"connection_code\" name=\"connection_code\" autocomplete=\"off\" spellcheck=\"false\" placeholder=\"kwcode_…\">\n\
</fieldset>\n\
<fieldset><legend>Or sign in</legend>\n\
<label for=\"email\">Email</label>\n<input type=\"email\" id=\"email\" name=\"email\" autocomplete=\"username\" value=\"{}\">\n\
<label for=\"password\">Password</label>\n<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\">\n\
<p>What may {app} do?</p>\n\
<div class=\"choice\"><input type=\"radio\" id=\"scope_read\" name=\"scope\" value=\"read\"{read_checked}><label for=\"scope_read\">Read only</label></div>\n\
<div class=\"choice\"><input type=\"radio\" id=\"scope_write\" name=\"scope\" value=\"write\"{write_checked}><label for=\"scope_write\">Read &amp; write</label></div>\n\
</fieldset>\n\
<div class=\"buttons\"><button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></div>\n</form>\n",
        escape(view.email)
    ));
    document(&format!("Connect {} to your store", request.client.name), &body)
}

/// A problem found before the app's redirect URI could be trusted: said to the merchant, and
/// nobody is redirected anywhere.
pub fn error_page(message: &str) -> String {
    document(
        "Cannot connect the app",
        &format!("<h1>This connection cannot go ahead</h1>\n<p class=\"error\" role=\"alert\">{}</p>\n", escape(message)),
    )
}

/// A problem with the request of an unverified app: said to the merchant, with a link that
/// takes the error back to the app if they choose to follow it.
pub fn error_page_with_return(message: &str, location: &str, redirect_uri: &str) -> String {
    document(
        "Cannot connect the app",
        &format!(
            "<h1>This connection cannot go ahead</h1>\n<p class=\"error\" role=\"alert\">{}</p>\n<p>Nothing was approved.</p>\n\
<p><a href=\"{}\" rel=\"noreferrer\">Return to {}</a></p>\n",
            escape(message),
            escape(location),
            escape(&shown_host(redirect_uri))
        ),
    )
}

/// An HTML answer with the page's security headers. `form_target` is the redirect URI the
/// form's answer may send the browser to (CSP `form-action` also governs that redirect).
pub fn respond(status: StatusCode, html: String, form_target: Option<&str>) -> Response {
    let target = form_target
        .and_then(|uri| url::Url::parse(uri).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|origin| origin != "null")
        .map(|origin| format!(" {origin}"))
        .unwrap_or_default();
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{}'; form-action 'self'{target}; frame-ancestors 'none'; base-uri 'none'",
        *STYLE_HASH
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Not `no-referrer`: under it a browser sends `Origin: null` with the form's POST, and the
    // POST is checked by its origin. `same-origin` still tells the app (another origin) nothing.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_names_and_values_is_escaped() {
        assert_eq!(escape("<script>\"x\"&'y'"), "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;");
        assert!(!error_page("<img src=x onerror=alert(1)>").contains("<img"));
    }
}
