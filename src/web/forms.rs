//! Form extraction that never answers with a bare framework error: a malformed body is a
//! 400 page in the site's layout.

use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, Request};
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
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
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return AppError::TooLarge;
    }
    AppError::BadRequest(format!(
        "The form could not be read: {}",
        rejection.body_text()
    ))
}

/// Declares an extractor that runs one of axum's and answers its rejection with the
/// site's own error instead of the framework's plain text: the query and path extractors
/// differ only in which error that is.
macro_rules! site_extractor {
    ($(#[$doc:meta])* $name:ident wraps $inner:ident, $rejected:expr) => {
        $(#[$doc])*
        pub struct $name<T>(pub T);

        impl<T, S> FromRequestParts<S> for $name<T>
        where
            T: DeserializeOwned + Send,
            S: Send + Sync,
        {
            type Rejection = AppError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
                match axum::extract::$inner::<T>::from_request_parts(parts, state).await {
                    Ok(axum::extract::$inner(value)) => Ok($name(value)),
                    Err(rejection) => Err($rejected(rejection)),
                }
            }
        }
    };
}

site_extractor!(
    /// `axum::extract::Query`, with a malformed query string (a repeated key, a value of the
    /// wrong shape) answered by the site's 400 page instead of the framework's plain text.
    HtmlQuery wraps Query,
    |rejection: axum::extract::rejection::QueryRejection| AppError::BadRequest(format!(
        "The address has a parameter that cannot be read: {}",
        rejection.body_text()
    ))
);

site_extractor!(
    /// `axum::extract::Path`: a path segment that cannot be read (bad UTF-8, say) names no
    /// page, so it is a 404 like any other unknown address.
    HtmlPath wraps Path,
    |_: axum::extract::rejection::PathRejection| AppError::NotFound
);

/// The path's parameters by name, read without a framework error page: a segment that
/// cannot be read names no page.
pub struct PathParams(Vec<(String, String)>);

impl PathParams {
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// `template` with each `{name}` replaced by its value here: the address a form on
    /// this page posts to.
    pub fn fill(&self, template: &str) -> String {
        self.0.iter().fold(template.to_string(), |url, (k, v)| {
            url.replace(&format!("{{{k}}}"), v)
        })
    }

    /// A positive id, else no such page.
    pub fn id(&self, name: &str) -> Result<i64, AppError> {
        parse_id(self.get(name))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::NotFound)?;
        Ok(PathParams(
            raw.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
    }
}

/// An id from the URL; anything else is a page that does not exist.
pub fn parse_id(raw: &str) -> Result<i64, AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(AppError::NotFound)
}

/// A date parameter of a filter (empty: not given): a value that is no date is a 400
/// naming the parameter, as the audit trail and the activity page answer it.
pub fn date_param(value: &str, name: &str) -> Result<Option<chrono::NaiveDate>, AppError> {
    crate::domain::forms::parse_date(value.trim()).map_err(|why| {
        AppError::BadRequest(format!("“{value}” is not a date for “{name}”: {why}."))
    })
}

/// The first value of `key` in a query string. Read by hand so that a repeated or odd
/// parameter never becomes the framework's bare 400 answer (as `Query<T>` would).
pub fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// A local address (`/path?query`) with `key` set to `value`: an earlier value of `key`
/// is dropped, the other parameters kept in their order.
pub fn with_query_param(url: &str, key: &str, value: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k != key {
            pairs.append_pair(&k, &v);
        }
    }
    pairs.append_pair(key, value);
    format!("{path}?{}", pairs.finish())
}

/// A local address without `key`, the other parameters kept in their order.
pub fn without_query_param(url: &str, key: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let kept: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k != key)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        return path.to_string();
    }
    let mut pairs = form_urlencoded::Serializer::new(String::new());
    pairs.extend_pairs(kept);
    format!("{path}?{}", pairs.finish())
}

/// Whether a request's body is a multipart form (a file upload).
pub fn is_multipart(headers: &axum::http::HeaderMap) -> bool {
    content_type(headers)
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"))
}

fn content_type(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

/// One field of a multipart form: its name, the file's name for a file, and the bytes.
pub struct Part {
    pub name: String,
    pub file_name: Option<String>,
    pub data: axum::body::Bytes,
}

/// The fields of a multipart body read already (within its size limit); a body that is
/// not well-formed multipart is a 400 page.
pub async fn multipart_parts(
    headers: &axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Vec<Part>, AppError> {
    let unreadable =
        |e: multer::Error| AppError::BadRequest(format!("The upload could not be read: {e}"));
    let boundary =
        multer::parse_boundary(content_type(headers).unwrap_or_default()).map_err(unreadable)?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let data = field.bytes().await.map_err(unreadable)?;
        parts.push(Part {
            name,
            file_name,
            data,
        });
    }
    Ok(parts)
}

#[cfg(test)]
mod query_tests {
    use super::*;

    #[test]
    fn a_parameter_is_set_once_and_the_others_kept() {
        assert_eq!(
            with_query_param("/funding", "view", "staff"),
            "/funding?view=staff"
        );
        assert_eq!(
            with_query_param("/?sort=gap&view=delegates&page=2", "view", "staff"),
            "/?sort=gap&page=2&view=staff"
        );
        assert_eq!(query_param(Some("a=1&a=2"), "a"), Some("1".into()));
    }
}
