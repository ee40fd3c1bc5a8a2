//! An OAuth client and the merchant's browser, as the tests drive them over HTTP: register
//! (RFC 7591), open the consent page, fill its one form as a browser would, follow nothing
//! (the 303's Location is read), and trade the code at `/oauth/token` with the PKCE verifier.

use reqwest::redirect::Policy;
use serde_json::{Value, json};

use crate::common::{PASSWORD, Account, Reply, Service, read};

/// Where the test app says it listens; nothing does, the test reads `Location` itself.
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
/// The PKCE verifier the test app uses, and its S256 challenge (RFC 7636 Appendix B).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A registered OAuth client.
#[derive(Debug, Clone)]
pub struct App {
    pub client_id: String,
    pub redirect_uri: String,
}

/// The tokens a connection got.
#[derive(Debug, Clone)]
pub struct Grant {
    pub app: App,
    pub access: String,
    pub refresh: String,
    pub scope: String,
}

/// A browser that does not follow redirects, so the test sees each 303.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().unwrap()
}

impl Reply {
    /// Asserts an OAuth error (RFC 6749 §5.2): the status, `error`, and a sentence in
    /// `error_description`.
    #[track_caller]
    pub fn assert_oauth_error(&self, status: u16, error: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(self.body["error"], error, "body: {}", self.text);
        let description = self.body["error_description"].as_str().unwrap_or("");
        assert!(description.len() > 10 && description.ends_with('.'), "not a sentence: {description:?}");
    }

    /// The query parameters of a 303's `Location`.
    #[track_caller]
    pub fn redirect_params(&self) -> Vec<(String, String)> {
        assert_eq!(self.status.as_u16(), 303, "body: {}", self.text);
        let location = url::Url::parse(self.header("location").expect("a Location header")).unwrap();
        location.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
    }

    /// One parameter of a 303's `Location`.
    #[track_caller]
    pub fn redirect_param(&self, name: &str) -> Option<String> {
        self.redirect_params().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// `&amp;` and friends back to text.
fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// The hidden inputs of the page's one form, as a browser would send them back.
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    assert_eq!(html.matches("<form").count(), 1, "the consent page has one form: {html}");
    assert!(html.contains("<form method=\"post\" action=\"/oauth/authorize\">"), "{html}");
    let mut fields = Vec::new();
    for piece in html.split("<input type=\"hidden\" ").skip(1) {
        let name = piece.split("name=\"").nth(1).and_then(|r| r.split('"').next()).unwrap();
        let value = piece.split("value=\"").nth(1).and_then(|r| r.split('"').next()).unwrap();
        fields.push((name.to_owned(), unescape(value)));
    }
    fields
}

impl Service {
    /// Registers an app as claude.ai does (RFC 7591, a public client).
    pub async fn register_app(&self, name: &str) -> App {
        let reply = read(
            self.http
                .post(format!("{}/oauth/register", self.base))
                .json(&json!({"client_name": name, "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
                    "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let body = reply.assert_status(201);
        App { client_id: body["client_id"].as_str().unwrap().to_owned(), redirect_uri: REDIRECT.to_owned() }
    }

    /// The MCP endpoint's URL, the resource tokens are for.
    pub fn resource(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// The authorization request's parameters for `app`, with `changes` replacing or adding
    /// some (an empty value removes one).
    pub fn authorization_params(&self, app: &App, changes: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", app.redirect_uri.as_str()),
            ("state", "state-123"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("scope", "read write"),
            ("resource", &self.resource()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (name, value) in changes {
            params.retain(|(k, _)| k != name);
            if !value.is_empty() {
                params.push((name.to_string(), value.to_string()));
            }
        }
        params
    }

    /// `GET /oauth/authorize` as the browser opens it.
    pub async fn open_consent(&self, params: &[(String, String)]) -> Reply {
        let mut url = url::Url::parse(&format!("{}/oauth/authorize", self.base)).unwrap();
        url.query_pairs_mut().extend_pairs(params);
        read(browser().get(url).send().await.unwrap()).await
    }

    /// Posts the consent form: the page's hidden inputs plus what the merchant typed.
    pub async fn post_consent(&self, hidden: &[(String, String)], typed: &[(&str, &str)]) -> Reply {
        let mut form: Vec<(String, String)> = hidden.to_vec();
        form.extend(typed.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        read(browser().post(format!("{}/oauth/authorize", self.base)).form(&form).send().await.unwrap()).await
    }

    /// Opens the consent page for `app` and answers it with `typed`; returns the answer.
    pub async fn consent(&self, app: &App, typed: &[(&str, &str)]) -> Reply {
        let page = self.open_consent(&self.authorization_params(app, &[])).await;
        assert_eq!(page.status.as_u16(), 200, "{}", page.text);
        self.post_consent(&hidden_inputs(&page.text), typed).await
    }

    /// Approves `app` with a fresh connection code made by `session`; returns the
    /// authorization code.
    pub async fn approve_with_new_code(&self, app: &App, session: &str, code_request: Value) -> String {
        let connection_code = self.post("/api/connections/codes", session, code_request).await.assert_status(201)["code"].as_str().unwrap().to_owned();
        let answer = self.consent(app, &[("connection_code", &connection_code), ("decision", "approve")]).await;
        answer.redirect_param("code").expect("a code")
    }

    /// Approves `app` by signing in as `account` and picking `scope` (`read` or `write`).
    pub async fn approve_as(&self, app: &App, account: &Account, scope: &str) -> String {
        let answer = self.consent(app, &[("email", &account.email), ("password", PASSWORD), ("scope", scope), ("decision", "approve")]).await;
        answer.redirect_param("code").expect("a code")
    }

    /// `POST /oauth/token` with `form`, as `app` authenticates (public: client_id in the form).
    pub async fn token_request(&self, form: &[(&str, &str)]) -> Reply {
        read(self.http.post(format!("{}/oauth/token", self.base)).form(form).send().await.unwrap()).await
    }

    /// Trades an authorization code as the app that started it.
    pub async fn exchange(&self, app: &App, code: &str) -> Reply {
        let resource = self.resource();
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("client_id", &app.client_id),
            ("redirect_uri", &app.redirect_uri),
            ("resource", &resource),
        ])
        .await
    }

    pub async fn refresh(&self, app: &App, refresh: &str) -> Reply {
        let resource = self.resource();
        self.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", &app.client_id), ("resource", &resource)]).await
    }

    /// The whole flow: a new app named `name` is approved with a connection code that
    /// `session` makes with `code_request`, and trades the code for tokens.
    pub async fn connect_app(&self, session: &str, name: &str, code_request: Value) -> Grant {
        let app = self.register_app(name).await;
        let code = self.approve_with_new_code(&app, session, code_request).await;
        let reply = self.exchange(&app, &code).await;
        let body = reply.assert_status(200);
        Grant {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
            scope: body["scope"].as_str().unwrap().to_owned(),
            app,
        }
    }
}
