//! The server's limits, each with its status and a page that says what happened: body
//! size (413), request time (503), header-read time (the connection is closed), the
//! connection cap (503 "Too busy"), and a shutdown that finishes what is in flight.

use crate::harness::{Page, TestApp, fresh_db, serve_limited};
use portfolio_tracker::config::{ConnectionLimits, WebSettings};
use portfolio_tracker::domain::auth::Role;
use portfolio_tracker::web::connections::Stopped;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `request` (raw HTTP) on a new connection and reads until the server closes it
/// or `patience` passes: what came back, and how long it took.
async fn exchange(addr: SocketAddr, request: &[u8], patience: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("send");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(patience, stream.read_to_end(&mut answer)).await;
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

/// `n` clients that keep their connections open, each midway through its headers, once
/// the server has accepted them.
async fn hold_connections(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut holders = Vec::new();
    for _ in 0..n {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\n")
            .await
            .expect("send");
        holders.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    holders
}

fn get_readyz() -> &'static [u8] {
    b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
}

#[tokio::test]
async fn a_form_over_the_body_limit_is_413_with_a_page_and_changes_nothing() {
    let app = TestApp::spawn_with(WebSettings {
        max_body_bytes: 4096,
        ..WebSettings::default()
    })
    .await;
    let admin = app.signed_in(Role::Admin).await;
    let id: i64 = sqlx::query_scalar("SELECT min(id) FROM items")
        .fetch_one(&app.db.pool)
        .await
        .expect("an item");
    let long_title = "x".repeat(10_000);
    let (status, _, body) = admin
        .post(&format!("/admin/items/{id}"), &[("title", &long_title)])
        .await;
    assert_eq!(status, 413);
    let page = Page::parse(&body);
    assert_eq!(page.text_of("h1"), "Too much to send");
    assert!(page.main_text().contains("nothing was saved"));
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM items WHERE title = $1")
        .bind(&long_title)
        .fetch_one(&app.db.pool)
        .await
        .expect("count");
    assert_eq!(stored, 0);

    // the sign-in form, read by its own extractor, has the same limit
    let response = app
        .client
        .post(app.url("/login"))
        .form(&[("email", "a@example.org"), ("password", &long_title)])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 413);

    // a form under the limit is still read
    let (status, _, _) = admin.post(&format!("/admin/items/{id}"), &[]).await;
    assert_ne!(status, 413);
}

#[tokio::test]
async fn a_request_whose_body_never_arrives_is_answered_503_when_its_time_is_up() {
    let db = fresh_db().await;
    let settings = WebSettings {
        request_timeout_secs: 1,
        ..WebSettings::default()
    };
    let (addr, _, _server) = serve_limited(db.pool, settings, ConnectionLimits::default()).await;
    let request = b"POST /login HTTP/1.1\r\nHost: localhost\r\n\
        Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=";
    let (answer, took) = exchange(addr, request, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("This took too long"), "{answer}");
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
}

#[tokio::test]
async fn a_client_slow_to_send_its_headers_is_disconnected() {
    let db = fresh_db().await;
    let limits = ConnectionLimits {
        header_read_timeout_secs: 1,
        ..ConnectionLimits::default()
    };
    let (addr, _, _server) = serve_limited(db.pool, WebSettings::default(), limits).await;
    let (answer, took) = exchange(
        addr,
        b"GET /readyz HTTP/1.1\r\nHost: localhost\r\n",
        Duration::from_secs(10),
    )
    .await;
    assert!(
        took < Duration::from_secs(5),
        "the connection was held {took:?}"
    );
    assert!(
        !answer.contains("ready"),
        "no answer to half a request: {answer}"
    );

    // a prompt client on the same server is served
    let (answer, _) = exchange(addr, get_readyz(), Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_connection_over_the_cap_gets_503_too_busy_and_a_freed_slot_is_reused() {
    let db = fresh_db().await;
    let limits = ConnectionLimits {
        max_connections: 2,
        ..ConnectionLimits::default()
    };
    let (addr, _, _server) = serve_limited(db.pool, WebSettings::default(), limits).await;
    let holders = hold_connections(addr, 2).await;
    let (answer, _) = exchange(addr, get_readyz(), Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_lowercase().contains("retry-after: 5"), "{answer}");
    assert!(answer.contains("Too busy"), "{answer}");

    drop(holders);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (answer, _) = exchange(addr, get_readyz(), Duration::from_secs(10)).await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "closed connections free their slots: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn one_client_cannot_hold_more_than_its_share_of_connections_unless_a_trusted_proxy() {
    let limits = ConnectionLimits {
        max_connections_per_client: 2,
        ..ConnectionLimits::default()
    };
    for (proxies, third) in [
        (vec![], "HTTP/1.1 503"),
        (vec![[127, 0, 0, 1].into()], "HTTP/1.1 200"),
    ] {
        let db = fresh_db().await;
        let settings = WebSettings {
            trusted_proxies: proxies,
            ..WebSettings::default()
        };
        let (addr, _, _server) = serve_limited(db.pool, settings, limits.clone()).await;
        let _holders = hold_connections(addr, 2).await;
        let (answer, _) = exchange(addr, get_readyz(), Duration::from_secs(10)).await;
        assert!(answer.starts_with(third), "{answer}");
    }
}

#[tokio::test]
async fn shutdown_finishes_a_request_in_flight_and_refuses_new_connections() {
    let db = fresh_db().await;
    let (addr, _, server) =
        serve_limited(db.pool, WebSettings::default(), ConnectionLimits::default()).await;
    // a sign-in whose body is half sent when the shutdown begins
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let body = "email=nobody%40example.org&password=wrong-but-long-enough";
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("send");
    stream
        .write_all(&body.as_bytes()[..10])
        .await
        .expect("send");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = tokio::spawn(server.stop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no new connection once shutting down"
    );
    stream
        .write_all(&body.as_bytes()[10..])
        .await
        .expect("the connection in flight stays open");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer);
    // the request was served to the end: a wrong password's answer, not a cut connection
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    assert!(!answer.starts_with("HTTP/1.1 5"), "{answer}");
    assert_eq!(stopping.await.expect("stop"), Stopped::Drained);
}

#[tokio::test]
async fn shutdown_cuts_off_a_request_that_outlasts_the_grace_period() {
    let db = fresh_db().await;
    let limits = ConnectionLimits {
        shutdown_grace_secs: 1,
        ..ConnectionLimits::default()
    };
    let (addr, _, server) = serve_limited(db.pool, WebSettings::default(), limits).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            b"POST /login HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n",
        )
        .await
        .expect("send");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    assert_eq!(server.stop().await, Stopped::GraceExpired { open: 1 });
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "stopped after {took:?}"
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_header_read_timeout() {
    let db = fresh_db().await;
    let limits = ConnectionLimits {
        header_read_timeout_secs: 1,
        ..ConnectionLimits::default()
    };
    let (addr, _, _server) = serve_limited(db.pool, WebSettings::default(), limits).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("send");
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        read.is_ok(),
        "the idle connection was still open after 10 s"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed after {:?}",
        started.elapsed()
    );
}
