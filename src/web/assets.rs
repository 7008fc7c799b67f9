//! Static assets, compiled into the binary so it serves from anywhere.

use axum::http::header;
use axum::response::IntoResponse;

const STYLESHEET: &str = include_str!("../../static/style.css");

pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
}

const FAVICON: &str = include_str!("../../static/favicon.svg");

/// The icon, at `/favicon.svg` (linked from `base.html`) and at `/favicon.ico`, which
/// browsers and feed readers ask for whatever the page links: the same SVG under both
/// names, so neither is a 404 nor costs a redirect. A day's caching: it changes rarely.
pub async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON,
    )
}
