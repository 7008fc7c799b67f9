//! Browser-facing protections applied to every response.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use tower_http::csrf::{CsrfLayer, ProtectionError};
use tower_http::set_header::response::SetMultipleResponseHeadersLayer;

use crate::web::auth::cookie_name;
use crate::web::{AppError, AppState};

/// No inline scripts or styles anywhere; nothing framed; forms post only here.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn headers(https: bool) -> SetMultipleResponseHeadersLayer<Response> {
    let mut headers = vec![
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        )
            .into(),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        )
            .into(),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        )
            .into(),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")).into(),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        )
            .into(),
    ];
    if https {
        headers.push(
            (
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000"),
            )
                .into(),
        );
    }
    SetMultipleResponseHeadersLayer::if_not_present(headers)
}

/// Refuses cross-site state-changing requests by their Sec-Fetch-Site / Origin headers
/// (what browsers send); forms also carry a synchronizer token (see `auth`).
pub fn cross_origin_check() -> CsrfLayer<impl Fn(ProtectionError) -> Response + Clone> {
    CsrfLayer::new().with_rejection_response(|e: ProtectionError| {
        tracing::warn!("cross-site request refused: {e}");
        AppError::CsrfRejected.into_response()
    })
}

/// Whether a response is an HTML page.
pub fn is_html(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

/// `Cache-Control: no-store` on the pages that must never be kept by a browser or a proxy:
/// what a signed-in person is shown carries their session's CSRF token (the sign-out form
/// in the header), staff see internal notes and drafts, and re-rendered forms hold what
/// was typed. The one rule, for every route and every status (admin forms, 409 and 422
/// answers, error pages, `/account`, `/login`), as a middleware outside every handler, the
/// panic and the timeout answers:
///
/// - an HTML answer to a request that carries the session cookie is `no-store`, whatever
///   an inner layer said (its `ETag` goes too: nothing kept, nothing to revalidate);
/// - any other HTML answer is `no-store` unless it says how it may be kept: only the
///   anonymous dashboards do (`no-cache` with an `ETag`, `snapshot::revalidate`).
pub async fn no_store(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let session = CookieJar::from_headers(req.headers())
        .get(cookie_name(state.settings.cookie_secure))
        .is_some();
    let mut response = next.run(req).await;
    if is_html(&response) && (session || !response.headers().contains_key(header::CACHE_CONTROL)) {
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.remove(header::ETAG);
    }
    response
}
