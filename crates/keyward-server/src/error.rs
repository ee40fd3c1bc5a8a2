//! Every way a request can fail, as one enum that renders the JSON error body
//! `{"error": {"code", "message"}}` with the right status and headers.

use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyward_core::wire::{ErrorBody, ErrorDetail};

use crate::db::DbError;

/// The largest request body accepted, in bytes; a larger one is answered with
/// [`ApiError::PayloadTooLarge`].
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request itself is wrong.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 401: no credentials, or ones that do not (or no longer) work.
    #[error("{message}")]
    Unauthenticated { code: &'static str, message: String },
    /// 403: valid credentials that may not do this.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("The request body is too large. Send at most {0} bytes.")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 408: the body did not arrive within the body timeout.
    #[error("The request body did not arrive in time. Check the connection and send the request again.")]
    RequestTimeout,
    /// 429, with `Retry-After`.
    #[error("{message}")]
    RateLimited { code: &'static str, message: String, retry_after: u64 },
    /// 500: logged in full, shown as a generic sentence.
    #[error("internal error: {0}")]
    Internal(String),
    /// 503: the database does not answer (logged in full); the request can be sent again.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest { code, message: message.into() }
    }
    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unauthenticated { code, message: message.into() }
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Forbidden { code, message: message.into() }
    }
    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(format!("There is no {what} with that id in this store. List them to find the right id."))
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Unauthenticated { code, .. } => (StatusCode::UNAUTHORIZED, code),
            ApiError::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ApiError::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::RateLimited { code, .. } => (StatusCode::TOO_MANY_REQUESTS, code),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable"),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status_and_code().0
    }

    /// The machine-readable code, e.g. `key_revoked`.
    pub fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    /// The sentence a client is shown. An internal or database failure is logged in full here
    /// and shown as a sentence that gives nothing away.
    fn shown(&self) -> String {
        match self {
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "Something went wrong inside the key service. Try again; if it keeps happening, tell the operator.".to_owned()
            }
            ApiError::Unavailable(detail) => {
                tracing::warn!(%detail, "the database does not answer");
                "The key service cannot reach its database right now. Send the request again in a moment; if it keeps happening, tell the operator.".to_owned()
            }
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = self.shown();
        let body = ErrorBody { error: ErrorDetail { code: code.to_owned(), message } };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let ApiError::Unauthenticated { code, .. } = &self {
            let challenge = format!("Bearer realm=\"keyward\", error=\"invalid_token\", error_description=\"{code}\"");
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                headers.insert(header::WWW_AUTHENTICATE, value);
            }
        }
        if let ApiError::Unavailable(_) = &self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(1));
        }
        if let ApiError::RateLimited { retry_after, .. } = &self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        if matches!(&self, ApiError::Forbidden { code, .. } if *code == "insufficient_scope") {
            // RFC 6750 §3.1, as the MCP authorization specification's step-up flow reads it:
            // the scope that would do.
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"insufficient_scope\", scope=\"read write\""));
            crate::cors::allow_any_origin(headers);
        }
        response
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::NotFound => ApiError::NotFound("That record does not exist in this store. List them to find the right id.".into()),
            DbError::ActiveKeyLimit => ApiError::Conflict {
                code: "active_key_limit",
                message: "This store already has 10 active keys. Revoke or deactivate one first.".into(),
            },
            DbError::Conflict(problem) => ApiError::Conflict { code: "conflict", message: problem.to_string() },
            DbError::Invalid(problem) => ApiError::bad_request("invalid_request", problem.to_string()),
            DbError::CredentialsChanged => ApiError::unauthenticated(
                "invalid_credentials",
                "The password was changed while signing in. Sign in again with the current password.",
            ),
            DbError::Postgres(ref e) if e.is_unavailable() => ApiError::Unavailable(err.to_string()),
            DbError::IdTaken | DbError::Sqlite(_) | DbError::Postgres(_) | DbError::Worker(_) => ApiError::Internal(err.to_string()),
        }
    }
}

/// Whether reading the body failed because it did not arrive within the body timeout.
fn body_timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if body_timed_out(&rejection) {
            return ApiError::RequestTimeout;
        }
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
                "Send the request body as JSON with the header Content-Type: application/json.".into(),
            ),
            JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge(BODY_LIMIT)
            }
            JsonRejection::JsonSyntaxError(_) => {
                ApiError::bad_request("invalid_json", "The request body is not valid JSON. Check its syntax.")
            }
            JsonRejection::JsonDataError(e) => ApiError::bad_request(
                "invalid_body",
                format!("The request body does not fit: {}. Fix that field and send it again.", e.body_text().trim_start_matches("Failed to deserialize the JSON body into the target type: ")),
            ),
            other => ApiError::bad_request("invalid_body", format!("The request body could not be read ({}). Send JSON.", other.body_text())),
        }
    }
}

impl From<FormRejection> for ApiError {
    fn from(rejection: FormRejection) -> Self {
        if body_timed_out(&rejection) {
            return ApiError::RequestTimeout;
        }
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::PayloadTooLarge(BODY_LIMIT);
        }
        ApiError::bad_request(
            "invalid_request",
            "The token request must be form-encoded with grant_type and a code or refresh_token. Fix the request.",
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        ApiError::bad_request("invalid_id", "The id in the address is not valid. Use an id from a list response.")
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", format!("The query string is not valid: {}. Fix it and try again.", rejection.body_text()))
    }
}

/// axum's extractors, answering with [`ApiError`] instead of plain-text rejections.
pub mod extract {
    use axum::extract::FromRequest;
    use axum::extract::FromRequestParts;

    use super::ApiError;

    #[derive(FromRequest)]
    #[from_request(via(axum::Json), rejection(ApiError))]
    pub struct Json<T>(pub T);

    impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
        fn into_response(self) -> axum::response::Response {
            axum::Json(self.0).into_response()
        }
    }

    #[derive(FromRequestParts)]
    #[from_request(via(axum::extract::Path), rejection(ApiError))]
    pub struct Path<T>(pub T);

    #[derive(FromRequestParts)]
    #[from_request(via(axum::extract::Query), rejection(ApiError))]
    pub struct Query<T>(pub T);

    #[derive(FromRequest)]
    #[from_request(via(axum::Form), rejection(ApiError))]
    pub struct Form<T>(pub T);

    /// A form an OAuth endpoint reads; refusals in OAuth's shape.
    #[derive(FromRequest)]
    #[from_request(via(axum::Form), rejection(super::OAuthError))]
    pub struct OAuthForm<T>(pub T);
}

/// A refusal from an OAuth endpoint, in OAuth's own shape (RFC 6749 §5.2, RFC 7591 §3.2.2):
/// `{"error": "invalid_request", "error_description": "A sentence."}`, because that is what
/// OAuth clients parse.
#[derive(Debug, thiserror::Error)]
#[error("{description}")]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// Seconds to wait, for a 429.
    pub retry_after: Option<u64>,
    /// Answer with `WWW-Authenticate: Basic`: the client authenticated with HTTP Basic and
    /// failed (RFC 6749 §5.2).
    pub basic_challenge: bool,
}

impl OAuthError {
    pub fn bad_request(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError { status: StatusCode::BAD_REQUEST, error, description: description.into(), retry_after: None, basic_challenge: false }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.error, "error_description": self.description});
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.basic_challenge {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"keyward\""));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<ApiError> for OAuthError {
    fn from(err: ApiError) -> Self {
        let (status, _) = err.status_and_code();
        let retry_after = match &err {
            ApiError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        let error = match status {
            StatusCode::INTERNAL_SERVER_ERROR => "server_error",
            StatusCode::TOO_MANY_REQUESTS => "temporarily_unavailable",
            _ => "invalid_request",
        };
        let description = err.shown();
        OAuthError { status, error, description, retry_after, basic_challenge: false }
    }
}

impl From<DbError> for OAuthError {
    fn from(err: DbError) -> Self {
        ApiError::from(err).into()
    }
}

impl From<FormRejection> for OAuthError {
    fn from(rejection: FormRejection) -> Self {
        if body_timed_out(&rejection) || rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::from(rejection).into();
        }
        OAuthError::bad_request(
            "invalid_request",
            format!(
                "The form could not be read ({}). Send it as application/x-www-form-urlencoded, each field once.",
                rejection.body_text().chars().take(200).collect::<String>()
            ),
        )
    }
}
