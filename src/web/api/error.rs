//! The API's one error body: `{"error": {"code", "message", "field"?}}` with the right
//! status. Failures the web layer already knows (`AppError`: not found, bad request,
//! forbidden, too many, database unavailable, ...) keep their status and message: every
//! error response of an `/api/` address is turned into this body by [`as_json`], so a
//! rate limit, a body too large or an unknown address answer JSON too. What only the API
//! says (a field's message, a stale version with the record as saved now) is built here.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

use crate::domain::forms::FieldErrors;
use crate::web::AppError;
use crate::web::error::ErrorSummary;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, for programs: `not_found`, `invalid`, `version_conflict`, `unauthorized`, ...
    pub code: String,
    /// For people.
    pub message: String,
    /// The field the message is about (422), the first one when several are wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every wrong field's message (422).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
    /// The record as saved now (409): send again with its `version` to overwrite it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub current: Option<Value>,
}

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    /// Boxed: an error travels in every handler's `Result`, so it is kept small.
    detail: Box<ErrorDetail>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            detail: Box::new(ErrorDetail {
                code: code.to_string(),
                message: message.into(),
                field: None,
                fields: None,
                current: None,
            }),
        }
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "There is nothing at this address.",
        )
    }

    pub fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(code: &str, message: &str) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 422: the validator's messages, each by its field.
    pub fn invalid(errors: &FieldErrors) -> ApiError {
        let fields: BTreeMap<String, String> = errors
            .iter()
            .map(|(field, message)| (field.to_string(), message.to_string()))
            .collect();
        let (field, message) = fields
            .iter()
            .next()
            .map(|(f, m)| (Some(f.clone()), format!("{f}: {m}")))
            .unwrap_or((None, "The record was refused.".to_string()));
        let mut error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message);
        error.detail.field = field;
        error.detail.fields = Some(fields);
        error
    }

    /// 409: someone saved since `version` was read; `current` is what is saved now.
    pub fn conflict(current: Value) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::CONFLICT,
            "version_conflict",
            "The record was changed since the version you sent; nothing was saved. Compare with `current` and send again with its version.",
        );
        error.detail.current = Some(current);
        error
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        let e = e.database_errors_as_unavailable();
        let message = match &e {
            AppError::BadRequest(why) => why.clone(),
            AppError::TooMany { message, .. } => message.clone(),
            AppError::Internal(inner) => {
                tracing::error!("internal error: {inner:#}");
                "The error has been logged.".to_string()
            }
            AppError::Unavailable(inner) => {
                tracing::warn!("database unavailable: {inner}");
                "The portfolio database cannot be reached right now. Try again in a minute."
                    .to_string()
            }
            other => other.to_string(),
        };
        ApiError::new(e.status(), e.code(), message)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::from(AppError::from(e))
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        ApiError::invalid(&errors)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            axum::Json(ErrorBody {
                error: *self.detail,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"api\""),
            );
        }
        response
    }
}

/// The message of an error status the web layer answered without an `AppError` (an
/// axum rejection, say).
fn generic(status: StatusCode) -> (&'static str, String) {
    let code = match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        429 => "too_many_requests",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "error",
    };
    let reason = status.canonical_reason().unwrap_or("Error").to_string();
    (code, reason)
}

/// Middleware for every request: an error answer to an `/api/` address that is not the
/// API's JSON already (the site's error page, a rate limit, the fallback 404) becomes the
/// API's error body, with the same status and headers (`Retry-After`, ...).
pub async fn as_json(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let response = next.run(req).await;
    let status = response.status();
    if !is_api || !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (code, message) = match response.extensions().get::<ErrorSummary>() {
        Some(summary) => (summary.code, summary.message.clone()),
        None => generic(status),
    };
    let (mut parts, _) = response.into_parts();
    let mut json = ApiError::new(status, code, message).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    for (name, value) in std::mem::take(json.headers_mut()) {
        if let Some(name) = name {
            parts.headers.insert(name, value);
        }
    }
    Response::from_parts(parts, json.into_body())
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}
