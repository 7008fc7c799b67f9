//! Browser-facing protections applied to every response.

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tower_http::csrf::{CsrfLayer, ProtectionError};
use tower_http::set_header::response::SetMultipleResponseHeadersLayer;

use crate::web::AppError;

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
