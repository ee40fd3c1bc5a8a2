//! `GET /oauth/authorize` shows the consent page for an app's authorization request;
//! `POST /oauth/authorize` is the merchant's answer. Approve sends the browser back to the app
//! with a one-minute code (303, with `code`, `state` and `iss`); Deny with `access_denied`.
//! See [`crate::oauth::consent_page`] for the form's contract.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyward_core::Scopes;
use serde::Deserialize;

use crate::auth::check_password;
use crate::auth::client_address::ClientAddress;
use crate::auth::tokens;
use crate::db::{NewAuthorizationCode, now};
use crate::error::ApiError;
use crate::oauth::authorization::{AuthorizationParams, Refusal, ValidRequest, back_to_app};
use crate::oauth::consent_page::{self, ConsentView};
use crate::oauth::{client_metadata, csrf};
use crate::state::{AppState, PublicUrl};

/// What the consent form posts: the request's hidden inputs, the CSRF token, and the
/// merchant's answer.
#[derive(Debug, Default, Deserialize)]
pub struct ConsentForm {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    resource: Option<String>,
    csrf_token: Option<String>,
    connection_code: Option<String>,
    email: Option<String>,
    password: Option<String>,
    /// `read` or `write`, with email and password.
    scope: Option<String>,
    /// `approve` or `deny`.
    decision: Option<String>,
}

impl ConsentForm {
    fn request(&self) -> AuthorizationParams {
        AuthorizationParams {
            client_id: self.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            response_type: self.response_type.clone(),
            state: self.state.clone(),
            code_challenge: self.code_challenge.clone(),
            code_challenge_method: self.code_challenge_method.clone(),
            resource: self.resource.clone(),
        }
    }
}

fn see_other(location: &str) -> Response {
    match axum::http::HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response.headers_mut().insert(header::LOCATION, value);
            response.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
            response
        }
        Err(_) => page_error(StatusCode::BAD_REQUEST, "The app's redirect address cannot be used. Remove the connector in the app and add it again."),
    }
}

fn page_error(status: StatusCode, message: &str) -> Response {
    consent_page::respond(status, consent_page::error_page(message), None)
}

/// A client id that is a metadata document this service would fetch counts against the same
/// per-address budget as a registration, so nobody can make it fetch URLs in bulk. `Some`:
/// the refusal to answer with.
fn refuse_bulk_fetches(state: &AppState, address: &ClientAddress, client_id: Option<&str>) -> Option<Response> {
    if !client_id.is_some_and(|id| client_metadata::is_metadata_url(id) && client_metadata::pinned(id).is_none()) {
        return None;
    }
    let quota = state.registration_limiter.hit(&address.0).err()?;
    let message = format!("Too many apps were looked up from this address. Wait {} minutes, then start the connection again from the app.", quota.reset.div_ceil(60));
    Some(page_error(StatusCode::TOO_MANY_REQUESTS, &message))
}

fn refused(refusal: Refusal, issuer: &str) -> Response {
    match refusal {
        Refusal::Page(message) => page_error(StatusCode::BAD_REQUEST, &message),
        Refusal::Redirect(error) if error.automatic => see_other(&error.location(issuer)),
        Refusal::Redirect(error) => {
            let page = consent_page::error_page_with_return(&error.description, &error.location(issuer), &error.redirect_uri);
            consent_page::respond(StatusCode::BAD_REQUEST, page, None)
        }
    }
}

/// The consent page with a fresh CSRF token, and why the last try failed if it did.
async fn consent(state: &AppState, status: StatusCode, request: &ValidRequest, error: Option<&str>, email: &str, write_selected: bool) -> Response {
    let csrf_token = csrf::issue(state.db.consent_key(), &request.bound_values(), now());
    let store_name = state.db.only_store_name().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not read the store's name for the consent page");
        None
    });
    let view = ConsentView { request, csrf_token: &csrf_token, store_name: store_name.as_deref(), error, email, write_selected };
    consent_page::respond(status, consent_page::render(&view), Some(&request.redirect_uri))
}

#[utoipa::path(get, path = "/oauth/authorize", tag = "oauth",
    params(("client_id" = String, Query), ("redirect_uri" = String, Query), ("response_type" = String, Query, description = "code"),
        ("state" = Option<String>, Query), ("code_challenge" = String, Query), ("code_challenge_method" = String, Query, description = "S256"),
        ("scope" = Option<String>, Query, description = "Ignored: the merchant picks read or read & write"), ("resource" = Option<String>, Query, description = "This service's /mcp URL")),
    responses((status = 200, description = "The consent page (HTML)"), (status = 303, description = "An OAuth error for the app, at its redirect URI"),
        (status = 400, description = "A problem found before the redirect URI could be trusted, as a page")))]
pub async fn authorize_page(
    State(state): State<AppState>,
    public: PublicUrl,
    address: ClientAddress,
    query: Result<Query<AuthorizationParams>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = query else {
        return page_error(StatusCode::BAD_REQUEST, "The authorization request's address is malformed (a parameter is repeated or not text). Start the connection again from the app.");
    };
    if let Some(refused) = refuse_bulk_fetches(&state, &address, params.client_id.as_deref()) {
        return refused;
    }
    match params.validate(&state.db, &public.mcp_resource()).await {
        Ok(request) => consent(&state, StatusCode::OK, &request, None, "", false).await,
        Err(refusal) => refused(refusal, &public.0),
    }
}

/// Whether a POST came from a page of this service: browsers send `Origin` with a form post,
/// and a cross-site one names the other site. Clients that send none (scripts) pass.
fn same_origin(headers: &HeaderMap, public: &PublicUrl) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let ours = url::Url::parse(&public.0).map(|u| u.origin().ascii_serialization());
    if ours.is_ok_and(|ours| ours.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let authority = origin.split_once("://").map(|(_, rest)| rest);
    host.is_some() && authority == host
}

#[utoipa::path(post, path = "/oauth/authorize", tag = "oauth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "The consent form: its hidden inputs and csrf_token, connection_code or email, password and scope (read|write), and decision (approve|deny)"),
    responses((status = 303, description = "Back to the app: code, state and iss; or error=access_denied"),
        (status = 400, description = "The consent page again with the reason (wrong code or password, expired form), or an error page"),
        (status = 429, description = "The consent page again: too many wrong passwords")))]
pub async fn authorize_decision(
    State(state): State<AppState>,
    public: PublicUrl,
    address: ClientAddress,
    headers: HeaderMap,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Response {
    let issuer = public.0.clone();
    let Ok(Form(form)) = form else {
        return page_error(StatusCode::BAD_REQUEST, "The consent form could not be read (a field is repeated, or the form is too large or not form-encoded). Start the connection again from the app.");
    };
    if !same_origin(&headers, &public) {
        return page_error(StatusCode::FORBIDDEN, "This approval was sent from another website, so nothing was approved. Open the connection from the app again and approve it on this page.");
    }
    if let Some(refused) = refuse_bulk_fetches(&state, &address, form.client_id.as_deref()) {
        return refused;
    }
    let request = match form.request().validate(&state.db, &public.mcp_resource()).await {
        Ok(request) => request,
        Err(refusal) => return refused(refusal, &issuer),
    };
    let email = form.email.as_deref().unwrap_or("").trim();
    let write_selected = form.scope.as_deref() == Some("write");
    // The consent page again, with why the answer was not taken.
    macro_rules! again {
        ($status:expr, $message:expr) => {
            consent(&state, $status, &request, Some($message), email, write_selected).await
        };
    }
    let token = form.csrf_token.as_deref().unwrap_or("");
    if !csrf::check(state.db.consent_key(), &request.bound_values(), token, now()) {
        return again!(StatusCode::BAD_REQUEST, "This form had expired or was not made by this service, so nothing was approved. Check the details and answer again.");
    }
    match form.decision.as_deref() {
        Some("deny") => {
            let denied = [("error", "access_denied"), ("error_description", "The merchant denied the request.")];
            return see_other(&back_to_app(&request.redirect_uri, &denied, request.state.as_deref(), &issuer));
        }
        Some("approve") => {}
        _ => return again!(StatusCode::BAD_REQUEST, "Choose Approve or Deny."),
    }
    let code = tokens::random_token(tokens::AUTHORIZATION_CODE_PREFIX);
    let new = NewAuthorizationCode {
        code_hash: tokens::digest(&code),
        client_id: request.client.id.clone(),
        app_name: request.client.name.clone(),
        kind: request.client.kind.as_str(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        resource: request.resource.clone(),
    };
    let connection_code = form.connection_code.as_deref().map(str::trim).unwrap_or("");
    let approved = if !connection_code.is_empty() {
        match state.db.approve_with_connection_code(tokens::digest(connection_code), new).await {
            Ok(Ok(approved)) => approved,
            Ok(Err(why)) => {
                state.throttle.note_failure(&address);
                return again!(StatusCode::BAD_REQUEST, &why.to_string());
            }
            Err(e) => return internal(e.into()),
        }
    } else {
        let scopes = match form.scope.as_deref() {
            None | Some("read") => Scopes::read_only(),
            Some("write") => Scopes::read_write(),
            Some(_) => return again!(StatusCode::BAD_REQUEST, "Pick Read only or Read & write."),
        };
        let password = form.password.as_deref().unwrap_or("");
        if email.is_empty() || password.is_empty() {
            return again!(StatusCode::BAD_REQUEST, "Paste a connection code, or sign in with your email and password.");
        }
        let approval = match check_member(&state, &address, email, password).await {
            Ok(member) => state.db.approve_as_member(member.user_id, member.password_hash, member.store_id, scopes, new).await.map_err(ApiError::from),
            Err(refusal) => Err(refusal),
        };
        match approval {
            Ok(approved) => approved,
            Err(ApiError::Internal(detail)) => return internal(ApiError::Internal(detail)),
            Err(refusal) => {
                // A page, not an HTTP authentication challenge: 401 would need WWW-Authenticate.
                let status = if refusal.status() == StatusCode::UNAUTHORIZED { StatusCode::BAD_REQUEST } else { refusal.status() };
                return again!(status, &refusal.to_string());
            }
        }
    };
    tracing::info!(client = %request.client.id, store = %approved.store_id, scopes = %approved.scopes.to_db(), "authorization approved");
    see_other(&back_to_app(&request.redirect_uri, &[("code", &code)], request.state.as_deref(), &issuer))
}

/// A member whose password matched.
struct Member {
    user_id: String,
    store_id: String,
    /// The hash the password matched, so the approval can tell if it changed meanwhile.
    password_hash: String,
}

/// Checks a member's email and password as sign-in does ([`check_password`]).
async fn check_member(state: &AppState, address: &ClientAddress, email: &str, password: &str) -> Result<Member, ApiError> {
    let Some(candidate) = check_password(state, address, email, password).await? else {
        return Err(ApiError::unauthenticated("invalid_credentials", "The email or password is wrong. Check both and try again, or use a connection code."));
    };
    if candidate.store_uninstalled {
        return Err(ApiError::forbidden("store_uninstalled", "This store has uninstalled Keyward. Reinstall it before connecting apps."));
    }
    Ok(Member { user_id: candidate.user.id, store_id: candidate.store_id, password_hash: candidate.password_hash })
}

fn internal(error: ApiError) -> Response {
    if let ApiError::Internal(detail) = &error {
        tracing::error!(%detail, "consent failed");
    }
    page_error(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong inside the key service, and nothing was approved. Try again; if it keeps happening, tell the operator.")
}
