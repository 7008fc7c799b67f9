//! The connection loop: accepts connections and serves the app on each, with the limits
//! `axum::serve` does not set. A client gets `HEADER_READ_TIMEOUT_SECS` to send a
//! request's headers (slow-header attacks hold no socket for long), at most
//! `MAX_CONNECTIONS` are served at once, and at most `MAX_CONNECTIONS_PER_CLIENT` for
//! one client address (one more is answered 503 and closed), and a shutdown waits
//! `SHUTDOWN_GRACE_SECS` at most for the requests in flight.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::config::ConnectionLimits;

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every request in flight was answered.
    Drained,
    /// The grace period ran out; this many connections were closed mid-request.
    GraceExpired { open: usize },
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets the
/// requests in flight finish (idle keep-alive connections close at once) and returns
/// once they have, or when the grace period is over.
/// `proxies` (`TRUSTED_PROXIES`) are not limited per client: they speak for many.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &ConnectionLimits,
    proxies: &[IpAddr],
    shutdown: impl Future<Output = ()>,
) -> Stopped {
    let builder = connection_builder(limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let per_client = Arc::new(PerClient::new(limits.max_connections_per_client, proxies));
    let busy_page: Arc<[u8]> = busy_response().into();
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    pause_after_accept_error(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let admitted = PerClient::admit(&per_client, peer.ip())
            .and_then(|client| Some((client, Arc::clone(&slots).try_acquire_owned().ok()?)));
        let Some(slot) = admitted else {
            tokio::spawn(refuse_busy(stream, Arc::clone(&busy_page)));
            continue;
        };
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service_for(app.clone(), peer))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection from {peer} ended with an error: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    drain(graceful, Duration::from_secs(limits.shutdown_grace_secs)).await
}

/// How many connections each client address has open.
struct PerClient {
    /// 0: no limit.
    limit: u32,
    unlimited: Vec<IpAddr>,
    open: Mutex<HashMap<IpAddr, u32>>,
}

/// A client's place among its open connections, given back when dropped; `ip` is
/// `None` for a client without a limit.
struct ClientSlot {
    table: Arc<PerClient>,
    ip: Option<IpAddr>,
}

impl PerClient {
    fn new(limit: u32, unlimited: &[IpAddr]) -> PerClient {
        PerClient {
            limit,
            unlimited: unlimited.to_vec(),
            open: Mutex::new(HashMap::new()),
        }
    }

    /// A place for one more connection from `ip`, unless it has its share open.
    fn admit(table: &Arc<PerClient>, ip: IpAddr) -> Option<ClientSlot> {
        if table.limit == 0 || table.unlimited.contains(&ip) {
            return Some(ClientSlot {
                table: Arc::clone(table),
                ip: None,
            });
        }
        let mut open = table.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= table.limit {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            table: Arc::clone(table),
            ip: Some(ip),
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        let mut open = self
            .table
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&ip);
            }
        }
    }
}

/// HTTP/1 and HTTP/2 (prior knowledge), with the header-read timeout; hyper only keeps
/// time with a timer, which `axum::serve` does not give it.
fn connection_builder(limits: &ConnectionLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.header_read_timeout_secs));
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(limits.header_read_timeout_secs));
    builder
}

/// The app for one connection, each request told the peer's address (the rate limits
/// and the sign-in throttle key on it, as with `into_make_service_with_connect_info`).
fn service_for(
    app: Router,
    peer: SocketAddr,
) -> hyper_util::service::TowerToHyperService<
    impl tower::Service<
        hyper::Request<Incoming>,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
        Future = impl Send,
    > + Clone,
> {
    let service = tower::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request.map(axum::body::Body::new))
    });
    hyper_util::service::TowerToHyperService::new(service)
}

/// Out of file descriptors or a connection reset before it was accepted: the first
/// passes when connections close, so wait a little rather than spin.
async fn pause_after_accept_error(error: &std::io::Error) {
    tracing::warn!("cannot accept a connection: {error}");
    if !matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
    ) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How long a refused connection is given to send its request and read the answer.
const REFUSAL_TIME: Duration = Duration::from_secs(2);

/// Answers a connection over the cap with the "too busy" page and closes it. The
/// request is read first (what fits in one read): closing a socket with unread data
/// resets it, and the client would lose the answer.
async fn refuse_busy(mut stream: TcpStream, response: Arc<[u8]>) {
    let answer = async {
        let mut request = [0u8; 8192];
        let _ = stream.read(&mut request).await;
        stream.write_all(&response).await?;
        stream.shutdown().await
    };
    if tokio::time::timeout(REFUSAL_TIME, answer).await.is_err() {
        tracing::debug!("a refused connection did not take its answer in time");
    }
}

/// The whole HTTP response a connection over the cap gets.
fn busy_response() -> Vec<u8> {
    let page = crate::web::error::over_capacity_page();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\n\
         content-type: text/html; charset=utf-8\r\n\
         retry-after: 5\r\n\
         cache-control: no-store\r\n\
         connection: close\r\n\
         content-length: {}\r\n\r\n",
        page.len()
    );
    [head.into_bytes(), page.into_bytes()].concat()
}

/// Waits for the connections still open, up to `grace`.
async fn drain(graceful: GracefulShutdown, grace: Duration) -> Stopped {
    let open = graceful.count();
    if open > 0 {
        tracing::info!(
            "waiting up to {} s for {open} open connections",
            grace.as_secs()
        );
    }
    match tokio::time::timeout(grace, graceful.shutdown()).await {
        Ok(()) => Stopped::Drained,
        Err(_) => {
            tracing::warn!(
                "requests still running after {} s of shutdown were cut off",
                grace.as_secs()
            );
            Stopped::GraceExpired { open }
        }
    }
}
