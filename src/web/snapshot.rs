//! The dashboards' snapshot in a request, and HTTP caching built on its revision.
//!
//! [`revalidate`] runs before every dashboard handler: it reads the revision (the one
//! query an anonymous dashboard request makes), answers `304 Not Modified` when the
//! browser already holds this revision of the page, and otherwise hands the snapshot to
//! the handler through the request's extensions ([`Snap`]).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::ops::Deref;
use std::sync::Arc;

use crate::domain::auth::Audience;
use crate::web::auth::CurrentUser;
use crate::web::cache::CacheError;
use crate::web::dashboard::Snapshot;
use crate::web::{AppError, AppState, security};

/// The snapshot this request reads.
#[derive(Clone)]
pub struct Snap(pub Arc<Snapshot>);

impl Deref for Snap {
    type Target = Snapshot;
    fn deref(&self) -> &Snapshot {
        &self.0
    }
}

impl From<CacheError> for AppError {
    fn from(e: CacheError) -> Self {
        match e {
            CacheError::Database(e) => AppError::from(e),
            other => AppError::Internal(other.into()),
        }
    }
}

impl FromRequestParts<AppState> for Snap {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(snap) = parts.extensions.get::<Snap>() {
            return Ok(snap.clone());
        }
        Ok(Snap(state.snapshot().await?))
    }
}

/// A validator for one revision of one page as one reader sees it: the same address
/// gives another tag when the data, the audience, the session or the release changes.
fn etag(revision: i64, audience: Audience, user: Option<&CurrentUser>, req: &Request) -> String {
    let mut hash = Sha256::new();
    hash.update(env!("CARGO_PKG_VERSION"));
    hash.update(revision.to_le_bytes());
    hash.update([audience as u8]);
    if let Some(u) = user {
        // the page carries the session's CSRF token and the person's name
        hash.update(u.id.to_le_bytes());
        hash.update(&u.csrf_token);
    }
    hash.update(req.uri().to_string());
    let digest = hash.finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"r{revision}-{hex}\"")
}

fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == etag)
}

/// How a dashboard answer may be kept, if at all: anonymous answers by anyone, but
/// revalidated on every use; a signed-in reader's data answers (JSON, CSV) privately,
/// revalidated. A signed-in reader's pages are never kept (they carry a CSRF token, and
/// internal notes for staff): None, and `security::no_store` marks them `no-store` with
/// every other page of the kind.
fn cache_control(signed_in: bool, response: &Response) -> Option<HeaderValue> {
    match (signed_in, security::is_html(response)) {
        (true, true) => None,
        (true, false) => Some(HeaderValue::from_static("private, no-cache")),
        (false, _) => Some(HeaderValue::from_static("no-cache")),
    }
}

pub async fn revalidate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let snapshot = match snapshot_asked_for(&state, req.uri()).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let user = req.extensions().get::<CurrentUser>().cloned();
    let audience = crate::web::auth::audience_for(user.as_ref(), req.uri(), req.headers());
    let tag = etag(snapshot.revision, audience, user.as_ref(), &req);
    let Ok(tag_value) = HeaderValue::from_str(&tag) else {
        return next.run(req).await;
    };
    let signed_in = user.is_some();
    if matches_etag(req.headers(), &tag) {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        let headers = not_modified.headers_mut();
        headers.insert(header::ETAG, tag_value);
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if signed_in {
                "private, no-cache"
            } else {
                "no-cache"
            }),
        );
        headers.insert(header::VARY, HeaderValue::from_static("Cookie"));
        return not_modified;
    }
    req.extensions_mut().insert(Snap(snapshot));
    let mut response = next.run(req).await;
    if response.status() == StatusCode::OK {
        let control = cache_control(signed_in, &response);
        let headers = response.headers_mut();
        if let Some(control) = control {
            headers.insert(header::ETAG, tag_value);
            headers.insert(header::CACHE_CONTROL, control);
        }
        // appended: a handler may vary by more (the IATI file by Accept-Encoding)
        headers.append(header::VARY, HeaderValue::from_static("Cookie"));
    }
    response
}

/// The query parameter that asks for the portfolio as it stood at the end of a day.
pub const AS_OF: &str = "as_of";

/// The day `?as_of=` names, if any; a clear 400 when it is not a day.
pub fn as_of_param(uri: &axum::http::Uri) -> Result<Option<chrono::NaiveDate>, AppError> {
    let Some(raw) = crate::web::forms::query_param(uri.query(), AS_OF) else {
        return Ok(None);
    };
    if raw.trim().is_empty() {
        return Ok(None);
    }
    chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(|_| {
            AppError::BadRequest(format!(
                "as_of must be a day written as YYYY-MM-DD, such as 2008-01-31 (it was {raw:?})."
            ))
        })
}

/// Today's dashboards, or those as at the day `?as_of=` names.
async fn snapshot_asked_for(
    state: &AppState,
    uri: &axum::http::Uri,
) -> Result<Arc<Snapshot>, AppError> {
    let day = as_of_param(uri)?;
    let snapshot = state.snapshot().await?;
    Ok(match day {
        Some(day) => state.snapshot_as_at(&snapshot, day).await?,
        None => snapshot,
    })
}

/// After a request that may have changed the portfolio, waits until this instance's
/// dashboards show it, so the person who saved sees their change on the next page.
pub async fn refresh_after_write(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let writes = !req.method().is_safe();
    let response = next.run(req).await;
    if writes && let Err(e) = state.refresh_dashboards().await {
        tracing::error!("refreshing the dashboards after a change failed: {e}");
    }
    response
}
