//! A request id on every request, so that a person's report ("Reference: …" on an error
//! page) leads to the log lines of their request.
//!
//! The id is the incoming `x-request-id` when it is acceptable (what a proxy or load
//! balancer in front assigned: at most 64 characters of letters, digits, `-`, `_`, `.`
//! and `:`), otherwise a new UUID (tower-http's `SetRequestIdLayer`). It is the
//! `request_id` field of the `request` span that every log line written while the
//! request is handled carries, it comes back in the response's `x-request-id` header
//! (`PropagateRequestIdLayer`), and error pages show it.
//!
//! The span holds the method, the path and the query string with the value of every
//! parameter whose name suggests a secret blanked out; never a header (cookies) or a body
//! (passwords, CSRF tokens).

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};

/// `x-request-id`, in requests and responses.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest incoming id that is kept.
const MAX_LEN: usize = 64;

/// Query parameters whose values are never logged: any whose name contains one of these.
const SECRET_PARAMETERS: [&str; 8] = [
    "csrf", "token", "password", "passwd", "secret", "session", "key", "auth",
];

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request this task is answering, if it answers one (for error pages).
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Whether an incoming id is short and made of characters that are safe anywhere it is
/// shown: in a log line, a JSON string, a page.
pub fn is_acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=MAX_LEN).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Outermost layer: removes an incoming `x-request-id` that is not acceptable (or comes
/// more than once), so that [`set`] makes a new one.
pub async fn drop_unacceptable(mut request: Request, next: Next) -> Response {
    let mut values = request.headers().get_all(&HEADER).iter();
    let keep = matches!((values.next(), values.next()), (Some(v), None) if is_acceptable(v));
    if !keep {
        request.headers_mut().remove(&HEADER);
    }
    next.run(request).await
}

/// Gives a request without an (acceptable) id a new UUID.
pub fn set() -> SetRequestIdLayer<MakeRequestUuid> {
    SetRequestIdLayer::new(HEADER, MakeRequestUuid)
}

/// Copies the request's id into the response's `x-request-id`.
pub fn propagate() -> PropagateRequestIdLayer {
    PropagateRequestIdLayer::new(HEADER)
}

/// Makes the id [`current`] while the rest of the stack answers the request.
pub async fn scope(request: Request, next: Next) -> Response {
    let id = id_of(&request);
    CURRENT.scope(id, next.run(request)).await
}

fn id_of<B>(request: &axum::http::Request<B>) -> String {
    request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-")
        .to_string()
}

/// The span of a request (for `TraceLayer::make_span_with`). At the ERROR level, so that
/// it is on whatever the log filter, and every line of the request carries its id.
pub fn span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let span = tracing::error_span!(
        "request",
        request_id = %id_of(request),
        method = %request.method(),
        path = %request.uri().path(),
        query = tracing::field::Empty,
    );
    if let Some(query) = request.uri().query() {
        span.record("query", redact_query(query).as_str());
    }
    span
}

/// The query string with the value of every parameter named like a secret replaced.
fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| {
            let (name, _) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded: String = form_urlencoded::parse(name.as_bytes())
                .map(|(k, _)| k.to_lowercase())
                .collect();
            if SECRET_PARAMETERS.iter().any(|s| decoded.contains(s)) {
                format!("{name}=[redacted]")
            } else {
                pair.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_ids_are_kept() {
        for good in [
            "abc",
            "0f9c2a4e-5b1d-4e8a-9c3f-7d6e5b4a3c2b",
            "Root.1-67891233:abc_def",
            &"a".repeat(64),
        ] {
            assert!(
                is_acceptable(&HeaderValue::from_str(good).unwrap()),
                "{good}"
            );
        }
        for bad in [
            "",
            &"a".repeat(65),
            "a b",
            "a\tb",
            "<script>",
            "id\"quote",
            "x;y",
            "a/b",
            "é",
        ] {
            let value = HeaderValue::from_bytes(bad.as_bytes()).unwrap();
            assert!(!is_acceptable(&value), "{bad:?}");
        }
    }

    #[test]
    fn secret_looking_query_values_are_blanked() {
        assert_eq!(
            redact_query("q=guinea&page=2"),
            "q=guinea&page=2",
            "ordinary parameters stay"
        );
        assert_eq!(
            redact_query("_csrf=abc&next=%2F&Password=hunter2&api_key=k&token"),
            "_csrf=[redacted]&next=%2F&Password=[redacted]&api_key=[redacted]&token=[redacted]"
        );
        assert_eq!(
            redact_query("%5Fcsrf=abc&sess%69on=x"),
            "%5Fcsrf=[redacted]&sess%69on=[redacted]",
            "names are compared decoded"
        );
    }
}
