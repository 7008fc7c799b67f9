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
    #[error("the database is not available")]
    Unavailable(#[source] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                AppError::Unavailable(e)
            }
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
    fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden | AppError::CsrfRejected => StatusCode::FORBIDDEN,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (heading, message) = match &self {
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
        error_page(status, heading, message)
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

/// A panicking handler still answers with the error page, not a dropped connection.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    AppError::Internal(anyhow::anyhow!("handler panicked")).into_response()
}
