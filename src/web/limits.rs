//! Limits that keep sign-in and the admin forms usable under abuse: who the client is
//! (its IP address; `X-Forwarded-For` only from configured proxies), a per-client rate
//! limit on sign-ins and on admin writes, and the bounded queue of password checks.
//!
//! The rate limits use the `governor` crate's keyed GCRA limiter directly, in a small
//! middleware, rather than `tower_governor`: our key (the client as [`client_ip`] finds
//! it, trusting forwarded headers only from `TRUSTED_PROXIES`) and our 429 page with
//! `Retry-After` are simpler to express here than through its extractor and error hooks.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};

use crate::config::WebSettings;
use crate::web::{AppError, AppState};

/// Argon2 verifications that run at once: each takes ~19 MiB and tens of milliseconds.
pub const HASH_WORKERS: usize = 4;

/// The client of a request: the connection's peer, or, when the peer is one of the
/// `trusted` proxies, the address its `X-Forwarded-For` names: read from the right, the
/// first address that is not itself a trusted proxy (the left part of the header is
/// whatever the client sent, so it is never believed). None without a peer address.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => client = ip,
            Ok(ip) => return Some(ip),
            // an address our proxy did not write: stop at the last hop we trust
            Err(_) => return Some(client),
        }
    }
    Some(client)
}

/// The client of this request as a short text: its IP address, or "unknown" when the
/// server was not told the peer (an app served without connect info).
pub fn client_key(
    req_extensions: &axum::http::Extensions,
    headers: &HeaderMap,
    trusted: &[IpAddr],
) -> String {
    let peer = req_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    client_ip(peer, headers, trusted).map_or_else(|| "unknown".to_string(), |ip| ip.to_string())
}

/// The sign-in and rate-limit state of one running app.
pub struct Limits {
    trusted_proxies: Vec<IpAddr>,
    /// Sign-ins being checked or waiting: [`HASH_WORKERS`] + the queue. One more is
    /// refused at once.
    admission: Arc<Semaphore>,
    hashing: Semaphore,
    /// Password verifications done (a wrong or right password, or an unknown address's
    /// dummy check): tests read it to see that refused attempts never reach Argon2.
    password_checks: AtomicU64,
    login: Option<DefaultKeyedRateLimiter<IpAddr>>,
    admin_writes: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// When expired throttle rows and idle limiter keys were last swept (Unix seconds).
    last_sweep: AtomicI64,
}

fn limiter(per_minute: u32) -> Option<DefaultKeyedRateLimiter<IpAddr>> {
    NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

/// How often the expired throttle rows and idle rate-limit keys are swept.
const SWEEP_EVERY_SECS: i64 = 60;

impl Limits {
    pub fn new(settings: &WebSettings) -> Limits {
        Limits {
            trusted_proxies: settings.trusted_proxies.clone(),
            admission: Arc::new(Semaphore::new(HASH_WORKERS + settings.sign_in_queue)),
            hashing: Semaphore::new(HASH_WORKERS),
            password_checks: AtomicU64::new(0),
            login: limiter(settings.login_rate_per_minute),
            admin_writes: limiter(settings.admin_write_rate_per_minute),
            last_sweep: AtomicI64::new(0),
        }
    }

    pub fn client(&self, extensions: &axum::http::Extensions, headers: &HeaderMap) -> String {
        client_key(extensions, headers, &self.trusted_proxies)
    }

    /// A place among the sign-ins being checked or waiting, or None when the queue is full.
    pub fn admit(&self) -> Option<OwnedSemaphorePermit> {
        self.admission.clone().try_acquire_owned().ok()
    }

    /// A turn to run Argon2 (waiting behind at most the queue).
    pub async fn hashing_turn(&self) -> Result<SemaphorePermit<'_>, AppError> {
        let permit = self
            .hashing
            .acquire()
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        self.password_checks.fetch_add(1, Ordering::Relaxed);
        Ok(permit)
    }

    pub fn password_checks(&self) -> u64 {
        self.password_checks.load(Ordering::Relaxed)
    }

    /// True at most once a minute: time to sweep what has expired.
    pub fn sweep_due(&self) -> bool {
        let now = chrono::Utc::now().timestamp();
        let last = self.last_sweep.load(Ordering::Relaxed);
        now - last >= SWEEP_EVERY_SECS
            && self
                .last_sweep
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Forgets the rate-limit state of clients that are back to a full allowance.
    pub fn forget_idle_clients(&self) {
        for limiter in [&self.login, &self.admin_writes].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    fn check(
        &self,
        limiter: Option<&DefaultKeyedRateLimiter<IpAddr>>,
        extensions: &axum::http::Extensions,
        headers: &HeaderMap,
    ) -> Result<(), Duration> {
        let Some(limiter) = limiter else {
            return Ok(());
        };
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let key = client_ip(peer, headers, &self.trusted_proxies)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// Whole seconds to wait, at least 1: what `Retry-After` says.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// POST /login from one client at most `LOGIN_RATE_PER_MINUTE` times a minute.
pub async fn limit_sign_ins(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    match state
        .limits
        .check(state.limits.login.as_ref(), req.extensions(), req.headers())
    {
        Ok(()) => next.run(req).await,
        Err(wait) => too_many(
            wait,
            "Too many sign-in attempts from your network address",
            format!(
                "More than {} sign-in attempts a minute came from your network address. Wait {} seconds, then try again.",
                state.settings.login_rate_per_minute,
                retry_after_secs(wait)
            ),
        ),
    }
}

/// Admin writes (any method but GET and HEAD) from one client at most
/// `ADMIN_WRITE_RATE_PER_MINUTE` times a minute.
pub async fn limit_admin_writes(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    match state.limits.check(
        state.limits.admin_writes.as_ref(),
        req.extensions(),
        req.headers(),
    ) {
        Ok(()) => next.run(req).await,
        Err(wait) => too_many(
            wait,
            "Too many changes at once",
            format!(
                "More than {} changes a minute came from your network address, so this one was not saved. Wait {} seconds, then go back and send the form again; what you typed is still in your browser.",
                state.settings.admin_write_rate_per_minute,
                retry_after_secs(wait)
            ),
        ),
    }
}

/// A 429 page with `Retry-After`.
pub fn too_many(wait: Duration, heading: &'static str, message: String) -> Response {
    let mut response = AppError::TooMany { heading, message }.into_response();
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    if let Ok(value) = retry_after_secs(wait).to_string().parse() {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Answers 503 "took too long" to a request not answered within `limit`
/// (`REQUEST_TIMEOUT_SECS`), reading its body included (slow uploads). Dropping the
/// handler's future drops its transaction, which rolls back: a write is whole or absent.
pub async fn time_limit(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                "a request took longer than {} s and was abandoned",
                limit.as_secs()
            );
            AppError::TimedOut.into_response()
        }
    }
}

/// The error for a body that could not be read: 413 when it is over the limit, else a
/// 400 (a broken upload).
pub fn body_error(error: axum::Error) -> AppError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return AppError::TooLarge;
        }
        source = e.source();
    }
    AppError::BadRequest("The request body could not be read.".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().expect("header value"));
        h
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let client: IpAddr = "203.0.113.7".parse().expect("ip");
        let spoofed = headers("198.51.100.1, 203.0.113.7");
        // untrusted peer: the header is ignored
        assert_eq!(client_ip(Some(client), &spoofed, &[]), Some(client));
        assert_eq!(client_ip(Some(client), &spoofed, &[proxy]), Some(client));
        // trusted proxy: the rightmost address it did not add itself
        assert_eq!(client_ip(Some(proxy), &spoofed, &[proxy]), Some(client));
        let chain = headers("198.51.100.1, 203.0.113.7, 10.0.0.1");
        assert_eq!(client_ip(Some(proxy), &chain, &[proxy]), Some(client));
        // no header, or garbage: the proxy itself
        assert_eq!(
            client_ip(Some(proxy), &HeaderMap::new(), &[proxy]),
            Some(proxy)
        );
        assert_eq!(
            client_ip(Some(proxy), &headers("junk"), &[proxy]),
            Some(proxy)
        );
        assert_eq!(client_ip(None, &spoofed, &[proxy]), None);
        assert_eq!(retry_after_secs(Duration::from_millis(2500)), 3);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}
