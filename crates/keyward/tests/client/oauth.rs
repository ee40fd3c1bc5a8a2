//! A web-chat app connecting the way claude.ai does, over real HTTP: dynamic registration,
//! the authorization request with PKCE S256, the consent page filled in and posted as a
//! browser would (the form's hidden inputs copied as they are), then the code traded for
//! tokens. The CLI's tests and the desktop app's end-to-end tests both use it (the app's
//! include it by path), so a connection in those tests is made exactly as a merchant makes one.

use keyward_server::auth::tokens;
use reqwest::{StatusCode, Url, header};

/// Where the test app says it wants the merchant sent back. Nothing listens there: the
/// redirect is read from the 303, never followed.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// How the merchant approves on the consent page.
pub enum Approval<'a> {
    /// Pastes a one-time connection code made in the app or the CLI (store and scope come from it).
    Code(&'a str),
    /// Signs in and picks a scope: `read` or `write`.
    SignIn { email: &'a str, password: &'a str, scope: &'a str },
}

/// What the app holds once connected.
#[derive(Debug)]
pub struct Grant {
    pub access_token: String,
    pub refresh_token: String,
    pub scope: String,
}

/// Registers an app called `app_name` at `server`, has the merchant approve it on the consent
/// page, and trades the code for tokens. Every unexpected answer panics with its status and body.
pub async fn connect(server: &str, app_name: &str, approval: Approval<'_>) -> Grant {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let resource = format!("{server}/mcp");

    let registration = serde_json::json!({
        "client_name": app_name,
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    });
    let response = http.post(format!("{server}/oauth/register")).json(&registration).send().await.unwrap();
    let (status, body) = (response.status(), response.text().await.unwrap());
    assert_eq!(status, StatusCode::CREATED, "POST /oauth/register answered {status}: {body}");
    let registered: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("POST /oauth/register: {e}: {body}"));
    let client_id = registered["client_id"].as_str().unwrap_or_else(|| panic!("POST /oauth/register gave no client_id: {body}")).to_owned();

    let verifier = tokens::random_token("pkce-");
    let challenge = base64url(&tokens::digest(&verifier));
    let state = tokens::random_token("state-");
    let mut authorize = Url::parse(&format!("{server}/oauth/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("scope", "read")
        .append_pair("resource", &resource);
    let response = http.get(authorize).header(header::ACCEPT, "text/html").send().await.unwrap();
    let (status, page) = (response.status(), response.text().await.unwrap());
    assert_eq!(status, StatusCode::OK, "GET /oauth/authorize answered {status}: {page}");

    let mut form = hidden_inputs(&page);
    assert!(form.iter().any(|(name, _)| name == "csrf_token"), "the consent form has no csrf_token: {page}");
    match approval {
        Approval::Code(code) => form.push(("connection_code".into(), code.into())),
        Approval::SignIn { email, password, scope } => {
            form.push(("email".into(), email.into()));
            form.push(("password".into(), password.into()));
            form.push(("scope".into(), scope.into()));
        }
    }
    form.push(("decision".into(), "approve".into()));
    let response = http
        .post(format!("{server}/oauth/authorize"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form_encode(&form))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let location = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::SEE_OTHER, "POST /oauth/authorize (approve) answered {status}: {body}");
    let location = Url::parse(&location.unwrap_or_else(|| panic!("the approval's 303 has no Location: {body}"))).unwrap();
    assert!(location.as_str().starts_with(REDIRECT_URI), "the approval redirects elsewhere: {location}");
    let query = |name: &str| location.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    assert_eq!(query("state").as_deref(), Some(state.as_str()), "the redirect carries the state back: {location}");
    assert!(query("iss").is_some(), "the redirect names the issuer: {location}");
    let code = query("code").unwrap_or_else(|| panic!("the redirect has no code: {location}"));

    let token_form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", verifier.as_str()),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("resource", resource.as_str()),
    ];
    let response = http
        .post(format!("{server}/oauth/token"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form_encode(&token_form.map(|(k, v)| (k.to_owned(), v.to_owned()))))
        .send()
        .await
        .unwrap();
    let (status, body) = (response.status(), response.text().await.unwrap());
    assert_eq!(status, StatusCode::OK, "POST /oauth/token answered {status}: {body}");
    let tokens: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("POST /oauth/token: {e}: {body}"));
    let field = |name: &str| tokens[name].as_str().unwrap_or_else(|| panic!("POST /oauth/token gave no {name}: {body}")).to_owned();
    Grant { access_token: field("access_token"), refresh_token: field("refresh_token"), scope: field("scope") }
}

/// The status of an MCP `tools/list` at `/mcp` (the resource the token was issued for) with the
/// access token, sent as an MCP client sends it.
pub async fn mcp_status(server: &str, access_token: &str) -> StatusCode {
    reqwest::Client::new()
        .post(format!("{server}/mcp"))
        .bearer_auth(access_token)
        .header(header::ACCEPT, "application/json, text/event-stream")
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap()
        .status()
}

/// Every `<input type="hidden">` of the page's one form, name and value, values unescaped.
fn hidden_inputs(page: &str) -> Vec<(String, String)> {
    let forms: Vec<&str> = page.match_indices("<form").map(|(i, _)| &page[i..]).collect();
    assert_eq!(forms.len(), 1, "the consent page has one form: {page}");
    let form = &forms[0][..forms[0].find("</form>").unwrap_or(forms[0].len())];
    let opening = &form[..form.find('>').unwrap_or(form.len())];
    assert_eq!(attribute(opening, "method").map(|m| m.to_ascii_lowercase()).as_deref(), Some("post"), "the form posts: {opening}");
    assert_eq!(attribute(opening, "action").as_deref(), Some("/oauth/authorize"), "the form posts to /oauth/authorize: {opening}");
    form.match_indices("<input")
        .map(|(i, _)| &form[i..i + form[i..].find('>').unwrap_or(form.len() - i)])
        .filter(|tag| attribute(tag, "type").is_some_and(|t| t.eq_ignore_ascii_case("hidden")))
        .map(|tag| (attribute(tag, "name").unwrap_or_default(), attribute(tag, "value").unwrap_or_default()))
        .collect()
}

/// An attribute's value in one tag (`name="…"` or `name='…'`), HTML-unescaped.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag;
    while let Some(at) = rest.find(&format!("{name}=")) {
        let before = rest[..at].chars().last();
        rest = &rest[at + name.len() + 1..];
        if before.is_some_and(|c| !c.is_whitespace()) {
            continue;
        }
        let quote = rest.chars().next()?;
        let value = if quote == '"' || quote == '\'' {
            let inner = &rest[1..];
            &inner[..inner.find(quote)?]
        } else {
            &rest[..rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(rest.len())]
        };
        return Some(unescape(value));
    }
    None
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `application/x-www-form-urlencoded`, as a browser sends a form.
fn form_encode(pairs: &[(String, String)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => (b as char).to_string(),
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// Base64url without padding (RFC 7636's `BASE64URL`).
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn pkce_challenge_matches_rfc_7636() {
    // RFC 7636 appendix B.
    assert_eq!(base64url(&tokens::digest("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

#[test]
fn hidden_inputs_are_copied_as_the_browser_would() {
    let page = r#"<p>x</p><form method="post" action="/oauth/authorize"><input type="hidden" name="state" value="a&amp;b&#39;c"><input name="email"><input type='hidden' name='csrf_token' value='t&quot;1'/></form>"#;
    assert_eq!(hidden_inputs(page), vec![("state".into(), "a&b'c".into()), ("csrf_token".into(), "t\"1".into())]);
    assert_eq!(form_encode(&[("a b".into(), "x&y=z/é".into())]), "a+b=x%26y%3Dz%2F%C3%A9");
}
