//! Form extraction that never answers with a bare framework error: a malformed body is a
//! 400 page in the site's layout.

use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::web::AppError;

/// `axum::Form`, with rejections turned into the site's error page.
pub struct HtmlForm<T>(pub T);

impl<T, S> FromRequest<S> for HtmlForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(HtmlForm(value)),
            Err(rejection) => Err(rejected(rejection)),
        }
    }
}

fn rejected(rejection: FormRejection) -> AppError {
    AppError::BadRequest(format!(
        "The form could not be read: {}",
        rejection.body_text()
    ))
}

/// `axum::extract::Query`, with a malformed query string (a repeated key, a value of the
/// wrong shape) answered by the site's 400 page instead of the framework's plain text.
pub struct HtmlQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for HtmlQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(HtmlQuery(value)),
            Err(rejection) => Err(AppError::BadRequest(format!(
                "The address has a parameter that cannot be read: {}",
                rejection.body_text()
            ))),
        }
    }
}

/// `axum::extract::Path`: a path segment that cannot be read (bad UTF-8, say) names no
/// page, so it is a 404 like any other unknown address.
pub struct HtmlPath<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for HtmlPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(HtmlPath(value)),
            Err(_) => Err(AppError::NotFound),
        }
    }
}
