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
