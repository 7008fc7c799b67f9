//! The one error type of the web layer. Every failure becomes a real page with the
//! right status; internal details go to the log, never to the visitor.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("forbidden")]
    Forbidden,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("cross-site request refused")]
    CsrfRejected,
    /// Too many requests: a 429 page saying what to do (see `web::limits::too_many`,
    /// which adds `Retry-After`).
    #[error("{message}")]
    TooMany {
        heading: &'static str,
        message: String,
    },
    /// A body over `MAX_BODY_BYTES`: 413.
    #[error("the request body is too large")]
    TooLarge,
    /// The request took longer than `REQUEST_TIMEOUT_SECS`: 503.
    #[error("the request took too long")]
    TimedOut,
    #[error("the database is not available")]
    Unavailable(#[source] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            e if database_unreachable(&e) => AppError::Unavailable(e),
            // Text PostgreSQL cannot store (a NUL byte, invalid UTF-8): the request's fault.
            sqlx::Error::Database(ref db)
                if matches!(db.code().as_deref(), Some("22021" | "22P05")) =>
            {
                AppError::BadRequest(
                    "The request contains characters that cannot be stored.".into(),
                )
            }
            other => AppError::Internal(other.into()),
        }
    }
}

/// Whether `e` says the database is down or going down rather than that the request
/// or the code is wrong: no pool connection in time, a broken socket, or PostgreSQL
/// ending the session (SQLSTATE class 08 connection exceptions; 57P01-57P03 a
/// shutdown, a crash restart, or a server still starting; 53300 too many connections).
fn database_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(anyhow::anyhow!("rendering a template: {e}"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: crate::web::auth::Nav,
    status: u16,
    heading: &'static str,
    message: String,
    /// The request's id (see `web::request_id`), to quote when reporting the error.
    reference: Option<String>,
}

impl AppError {
    /// A store function's `anyhow` error that is a lost database is an outage (503),
    /// not a fault of the code (500).
    pub(crate) fn database_errors_as_unavailable(self) -> AppError {
        match self {
            AppError::Internal(e) => match e.downcast::<sqlx::Error>() {
                Ok(db) => AppError::from(db),
                Err(e) => AppError::Internal(e),
            },
            other => other,
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden | AppError::CsrfRejected => StatusCode::FORBIDDEN,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unavailable(_) | AppError::TimedOut => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let this = self.database_errors_as_unavailable();
        let status = this.status();
        let (heading, message) = match &this {
            AppError::NotFound => (
                "Page not found",
                "There is no page at this address. It may have been renamed or archived."
                    .to_string(),
            ),
            AppError::BadRequest(why) => ("That request cannot be answered", why.clone()),
            AppError::TooMany { heading, message } => (*heading, message.clone()),
            AppError::Forbidden => (
                "Not allowed",
                "Your account does not have access to this page. Ask an administrator if you need it.".to_string(),
            ),
            AppError::MethodNotAllowed => (
                "Not available this way",
                "This address exists, but not for this kind of request. Use the links and buttons on the pages.".to_string(),
            ),
            AppError::CsrfRejected => (
                "Request refused",
                "This form was sent from another site or from a page that has expired. Go back, reload the page and try again; nothing was changed.".to_string(),
            ),
            AppError::TooLarge => (
                "Too much to send",
                "What was sent is larger than this site accepts, so nothing was saved. Go back with your browser's Back button (the form keeps what you typed), shorten the longest fields (a note or a quote) and send it again.".to_string(),
            ),
            AppError::TimedOut => (
                "This took too long",
                "The server did not finish this request in time, so it was abandoned and nothing was saved. Please try again in a minute.".to_string(),
            ),
            AppError::Unavailable(e) => {
                tracing::warn!("database unavailable: {e}");
                (
                    "Temporarily unavailable",
                    "The portfolio database cannot be reached right now. Please try again in a minute."
                        .to_string(),
                )
            }
            AppError::Internal(e) => {
                tracing::error!("internal error: {e:#}");
                (
                    "Something went wrong",
                    "The error has been logged. Please try again, or tell the portfolio team what you were doing."
                        .to_string(),
                )
            }
        };
        let mut response = error_page(status, heading, message.clone());
        // what the JSON API answers instead of the page (`web::api::error::as_json`)
        response.extensions_mut().insert(ErrorSummary {
            code: this.code(),
            message,
        });
        response
    }
}

/// An error response's code and message, kept with the page so the API can answer the
/// same error as JSON (`web::api::error`): one mapping of failures to statuses.
#[derive(Debug, Clone)]
pub struct ErrorSummary {
    pub code: &'static str,
    pub message: String,
}

impl AppError {
    /// The stable code the API's error bodies carry.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            AppError::NotFound => "not_found",
            AppError::BadRequest(_) => "bad_request",
            AppError::Forbidden => "forbidden",
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::CsrfRejected => "csrf_rejected",
            AppError::TooMany { .. } => "too_many_requests",
            AppError::TooLarge => "payload_too_large",
            AppError::TimedOut => "timed_out",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }
}

fn error_page(status: StatusCode, heading: &'static str, message: String) -> Response {
    let page = ErrorPage {
        nav: Default::default(),
        status: status.as_u16(),
        heading,
        message,
        reference: crate::web::request_id::current(),
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, heading).into_response(),
    }
}

/// The fallback for every unknown path.
pub async fn not_found() -> AppError {
    AppError::NotFound
}

/// A known address asked with a method it does not answer (e.g. GET /logout).
pub async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

/// The page for a connection over `MAX_CONNECTIONS`, rendered once at start: it is
/// written straight to the socket (`web::connections`), outside the router.
pub fn over_capacity_page() -> String {
    let page = ErrorPage {
        nav: Default::default(),
        status: 503,
        heading: "Too busy",
        message: "The server is answering as many people as it can right now. Please try again in a minute.".to_string(),
        // refused before any request was read: there is nothing to refer to
        reference: None,
    };
    page.render()
        .unwrap_or_else(|_| "The server is too busy. Please try again in a minute.".into())
}

/// A panicking handler still answers with the error page, not a dropped connection.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    AppError::Internal(anyhow::anyhow!("handler panicked")).into_response()
}
