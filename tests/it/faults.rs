//! Faults, with the binary run as an operator runs it: the embedded PostgreSQL dies under
//! load and is started again (no lost session); the app is stopped with SIGTERM under
//! load (exit 0, nothing half-written) or killed with SIGKILL amid a stream of edits
//! (every acknowledged edit is kept, and the audit trail matches the data); and with
//! `DATABASE_URL`, an outage is a quick 503 and the app recovers when the server returns.

use crate::conformance::page::Page as FormPage;
use crate::harness::{client, extract_csrf, fresh_db, serve_with};
use crate::served::{Served, TempDataDir, ok, postmaster_pid, run, running_socket, send_signal};
use portfolio_tracker::config::WebSettings;
use portfolio_tracker::db;
use sqlx::PgPool;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const ADMIN_EMAIL: &str = "faults-admin@example.org";
const ADMIN_PASSWORD: &str = "a long and uncommon passphrase 7";

/// `serve` on a data directory of its own, with an admin account.
async fn serve_with_admin(data: &TempDataDir) -> Served {
    let served = serve(data);
    let added = run(
        &[("DATA_DIR", data.path())],
        &[
            "user",
            "add",
            "--email",
            ADMIN_EMAIL,
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some(&format!("{ADMIN_PASSWORD}\n")),
    )
    .await;
    ok(&added, "user add");
    served
}

fn serve(data: &TempDataDir) -> Served {
    Served::start(&[
        ("DATA_DIR", data.path()),
        ("SHUTDOWN_GRACE_SECS", "5"),
        // the editors below save faster than an admin's browser is allowed to
        ("ADMIN_WRITE_RATE_PER_MINUTE", "0"),
    ])
}

/// The application database, straight over the cluster's socket.
async fn connect(data: &TempDataDir) -> PgPool {
    let options = sqlx::postgres::PgConnectOptions::new()
        .socket(running_socket(&data.0))
        .username("postgres")
        .database(db::EMBEDDED_DATABASE);
    db::connect_with(options)
        .await
        .expect("connect to the cluster")
}

fn postmaster(data: &TempDataDir) -> i32 {
    postmaster_pid(&data.0).expect("the postmaster's pid")
}

fn process_exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// A signed-in admin's browser that, unlike the harness's, reports a failed request
/// instead of panicking (the server may be gone).
#[derive(Clone)]
struct Browser {
    base: String,
    cookie: String,
    http: reqwest::Client,
}

impl Browser {
    async fn sign_in(served: &Served) -> Browser {
        let session = served.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        Browser {
            base: session.app_url,
            cookie: session.cookie,
            http: session.client,
        }
    }

    async fn get(&self, path: &str) -> Result<(u16, String), reqwest::Error> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .timeout(Duration::from_secs(30))
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// Loads the item's edit form, sets its title and saves it: the save's status.
    async fn retitle(&self, item: i64, title: &str) -> Result<u16, reqwest::Error> {
        let (status, html) = self.get(&format!("/admin/items/{item}/edit")).await?;
        if status != 200 {
            return Ok(status);
        }
        let mut form = FormPage::parse(&html).submitted();
        form.set("title", title);
        form.set("_csrf", &extract_csrf(&html).unwrap_or_default());
        let response = self
            .http
            .post(format!("{}/admin/items/{item}", self.base))
            .header("cookie", &self.cookie)
            .form(&form.pairs())
            .timeout(Duration::from_secs(30))
            .send()
            .await?;
        Ok(response.status().as_u16())
    }
}

/// Readers that keep asking for `paths` until stopped: every status they got.
fn readers(
    browser: &Browser,
    paths: &'static [&'static str],
    count: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<(u16, String)>>> {
    (0..count)
        .map(|n| {
            let browser = browser.clone();
            let stop = Arc::clone(stop);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let path = paths[n % paths.len()];
                    match browser.get(path).await {
                        Ok((status, body)) => seen.push((status, body)),
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
                seen
            })
        })
        .collect()
}

async fn statuses(tasks: Vec<tokio::task::JoinHandle<Vec<(u16, String)>>>) -> Vec<(u16, String)> {
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("reader"));
    }
    all
}

#[tokio::test]
async fn the_embedded_cluster_is_started_again_after_it_dies_and_sessions_survive() {
    let data = TempDataDir::new("supervise");
    let served = serve_with_admin(&data).await;
    let browser = Browser::sign_in(&served).await;

    // a fast shutdown (what `pg_ctl stop` sends), then a crash (what the OOM killer does)
    for (signal, name) in [(libc::SIGINT, "INT"), (libc::SIGKILL, "KILL")] {
        let postmaster = postmaster(&data);
        let stop = Arc::new(AtomicBool::new(false));
        let load = readers(&browser, &["/", "/funding", "/readyz"], 8, &stop);
        tokio::time::sleep(Duration::from_millis(300)).await;
        send_signal(postmaster, signal);
        let killed = Instant::now();

        // back without restarting the app, the session still valid
        let deadline = killed + Duration::from_secs(60);
        loop {
            if let Ok((200, body)) = browser.get("/").await
                && body.contains("Sign out")
                && postmaster_pid(&data.0).is_some_and(|pid| pid != postmaster)
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no recovery within 60 s of SIG{name}: {}",
                served.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let recovered = killed.elapsed();
        stop.store(true, Ordering::Relaxed);
        let seen = statuses(load).await;
        let outage: Vec<_> = seen.iter().filter(|(s, _)| *s == 503).collect();
        assert!(
            !outage.is_empty(),
            "SIG{name}: readers saw the outage ({} answers)",
            seen.len()
        );
        for (status, body) in &seen {
            assert!(
                [200, 503].contains(status),
                "SIG{name}: only pages or 503: got {status}: {}",
                served.log()
            );
            if *status == 503 && body.contains("<html") {
                assert!(body.contains("Temporarily unavailable"), "{body}");
            }
        }
        eprintln!(
            "SIG{name} to the postmaster: {} answers, {} were 503, recovered after {recovered:?}",
            seen.len(),
            outage.len()
        );
    }
    let log = served.log();
    assert!(
        log.contains("embedded PostgreSQL exited unexpectedly"),
        "{log}"
    );
    assert!(log.contains("embedded PostgreSQL restarted"), "{log}");
}

#[tokio::test]
async fn with_database_url_an_outage_is_a_quick_503_and_the_app_recovers() {
    let data = TempDataDir::new("external");
    let options = embedded_pg::Options::new(&data.0);
    let start = || {
        let options = options.clone();
        async move {
            tokio::task::spawn_blocking(move || options.start())
                .await
                .expect("start task")
                .expect("start the cluster")
        }
    };
    let mut server = start().await;
    let url = server.connection_url("postgres");
    let pool = db::connect_with(url.parse().expect("url"))
        .await
        .expect("connect");
    db::MIGRATOR.run(&pool).await.expect("migrate");
    let addr = serve_public(pool).await;
    let http = client();
    let status = |path: &'static str| {
        let http = http.clone();
        async move {
            match http.get(format!("http://{addr}{path}")).send().await {
                Ok(r) => r.status().as_u16(),
                Err(e) => panic!("GET {path}: {e}"),
            }
        }
    };
    assert_eq!(status("/").await, 200);

    tokio::task::spawn_blocking(move || {
        server.stop().expect("stop the cluster");
    })
    .await
    .expect("stop task");
    for path in ["/", "/funding", "/readyz"] {
        let asked = Instant::now();
        assert_eq!(
            status(path).await,
            503,
            "GET {path} while the server is down"
        );
        eprintln!(
            "GET {path} with the database down: 503 after {:?}",
            asked.elapsed()
        );
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "GET {path} answered after {:?}",
            asked.elapsed()
        );
    }

    let _server = start().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while status("/").await != 200 {
        assert!(Instant::now() < deadline, "no recovery within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status("/readyz").await, 200);
}

#[tokio::test]
async fn with_database_url_a_server_that_never_answers_is_a_503_within_5_s() {
    // accepts connections (the kernel does, into the backlog) and never says a word
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("address").port();
    let options: sqlx::postgres::PgConnectOptions =
        format!("postgres://app@127.0.0.1:{port}/portfolio")
            .parse()
            .expect("url");
    let pool = db::pool_options().connect_lazy_with(options);
    let addr = serve_public(pool).await;
    let http = client();
    for path in ["/", "/readyz"] {
        let asked = Instant::now();
        let response = http
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .expect("an answer");
        let took = asked.elapsed();
        assert_eq!(response.status(), 503, "GET {path}");
        eprintln!("GET {path} with a silent database: 503 after {took:?}");
        assert!(took < Duration::from_secs(5), "GET {path}: {took:?}");
    }
    drop(silent);
}

#[tokio::test]
async fn an_exhausted_pool_is_a_503_after_the_acquire_timeout_not_a_hang() {
    let test_db = fresh_db().await;
    let options: sqlx::postgres::PgConnectOptions = test_db.url.parse().expect("url");
    let pool = db::pool_options()
        .max_connections(1)
        .connect_lazy_with(options);
    let held = pool.acquire().await.expect("the pool's one connection");
    let addr = serve_public(pool.clone()).await;
    let asked = Instant::now();
    let response = client()
        .get(format!("http://{addr}/funding"))
        .send()
        .await
        .expect("an answer");
    let took = asked.elapsed();
    assert_eq!(response.status(), 503);
    assert!(
        took >= db::ACQUIRE_TIMEOUT && took < Duration::from_secs(5),
        "503 after {took:?}"
    );
    drop(held);
    let response = client()
        .get(format!("http://{addr}/funding"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 200, "served once a connection is free");
}

/// The app over `pool`, readable without signing in (the outage tests read as anyone).
async fn serve_public(pool: PgPool) -> std::net::SocketAddr {
    let public = WebSettings {
        public_read: true,
        ..WebSettings::default()
    };
    serve_with(pool, public).await
}

/// Items the editors retitle, one each.
async fn items_to_edit(data: &TempDataDir, count: i64) -> Vec<i64> {
    let pool = connect(data).await;
    let ids = sqlx::query_scalar("SELECT id FROM items ORDER BY id LIMIT $1")
        .bind(count)
        .fetch_all(&pool)
        .await
        .expect("items");
    pool.close().await;
    ids
}

/// Editors that each retitle their own item `"<item>: edit <n>"`, n = 1, 2, ...,
/// until the server stops answering: per item, the last edit that was acknowledged.
fn editors(browser: &Browser, items: &[i64]) -> Vec<tokio::task::JoinHandle<(i64, u32)>> {
    items
        .iter()
        .map(|&item| {
            let browser = browser.clone();
            tokio::spawn(async move {
                let mut acknowledged = 0;
                for n in 1.. {
                    match browser.retitle(item, &edit_title(item, n)).await {
                        Ok(303) => acknowledged = n,
                        Ok(status) => panic!("edit {n} of item {item}: {status}"),
                        Err(_) => break,
                    }
                }
                (item, acknowledged)
            })
        })
        .collect()
}

fn edit_title(item: i64, n: u32) -> String {
    format!("{item}: edit {n}")
}

/// After a restart: each item holds its last acknowledged edit or the one in flight
/// when the app went down (committed whole or not at all), and its audit trail has one
/// update per committed edit, the last one recording exactly the title stored.
async fn assert_edits_kept(data: &TempDataDir, acknowledged: &[(i64, u32)]) {
    let pool = connect(data).await;
    for &(item, n) in acknowledged {
        assert!(n > 0, "item {item}: some edits were acknowledged");
        let title: String = sqlx::query_scalar("SELECT title FROM items WHERE id = $1")
            .bind(item)
            .fetch_one(&pool)
            .await
            .expect("title");
        let committed = if title == edit_title(item, n) {
            n
        } else {
            assert_eq!(
                title,
                edit_title(item, n + 1),
                "item {item}: acknowledged edit {n} is lost"
            );
            n + 1
        };
        let (updates, last): (i64, Option<String>) = sqlx::query_as(
            "SELECT count(*),
                    (array_agg(after->>'title' ORDER BY id DESC))[1]
               FROM audit_log
              WHERE entity = 'item' AND entity_id = $1 AND action = 'update'",
        )
        .bind(item)
        .fetch_one(&pool)
        .await
        .expect("audit rows");
        assert_eq!(
            updates,
            i64::from(committed),
            "item {item}: one audit row per edit"
        );
        assert_eq!(
            last.as_deref(),
            Some(title.as_str()),
            "item {item}: audit = data"
        );
    }
    pool.close().await;
}

/// Stops `served` with `signal` after the editors have made some edits; the edits
/// acknowledged per item.
async fn stop_amid_edits(
    data: &TempDataDir,
    served: &Served,
    signal: i32,
) -> (Vec<(i64, u32)>, Vec<(u16, String)>) {
    let browser = Browser::sign_in(served).await;
    let items = items_to_edit(data, 4).await;
    let stop_readers = Arc::new(AtomicBool::new(false));
    let load = readers(&browser, &["/", "/funding"], 8, &stop_readers);
    let edits = editors(&browser, &items);
    tokio::time::sleep(Duration::from_secs(3)).await;
    served.signal(signal);
    let mut acknowledged = Vec::new();
    for editor in edits {
        acknowledged.push(editor.await.expect("editor"));
    }
    stop_readers.store(true, Ordering::Relaxed);
    (acknowledged, statuses(load).await)
}

/// Waits until the cluster of a stopped app has exited too (it holds the data
/// directory's lock until then).
async fn wait_for_cluster_exit(postmaster: i32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while process_exists(postmaster) {
        assert!(
            Instant::now() < deadline,
            "the cluster outlived its app by 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn sigterm_under_load_finishes_what_is_in_flight_and_exits_0() {
    let data = TempDataDir::new("sigterm");
    let mut served = serve_with_admin(&data).await;
    let postmaster = postmaster(&data);
    let (acknowledged, seen) = stop_amid_edits(&data, &served, libc::SIGTERM).await;
    let status = served
        .exited_within(Duration::from_secs(20))
        .await
        .expect("serve exits within the grace period");
    assert_eq!(status.code(), Some(0), "{}", served.log());
    for (status, body) in &seen {
        assert_eq!(*status, 200, "a reader's page during the shutdown: {body}");
    }
    wait_for_cluster_exit(postmaster).await;
    let restarted = serve(&data);
    assert_edits_kept(&data, &acknowledged).await;
    drop(restarted);
}

#[tokio::test]
async fn sigkill_amid_edits_loses_no_acknowledged_edit_and_the_audit_matches() {
    let data = TempDataDir::new("sigkill");
    let mut served = serve_with_admin(&data).await;
    let postmaster = postmaster(&data);
    let (acknowledged, _) = stop_amid_edits(&data, &served, libc::SIGKILL).await;
    served
        .exited_within(Duration::from_secs(5))
        .await
        .expect("killed");
    wait_for_cluster_exit(postmaster).await;
    let restarted = serve(&data);
    assert_edits_kept(&data, &acknowledged).await;
    // and the app works on: the same account signs in and edits again
    let browser = Browser::sign_in(&restarted).await;
    let (item, n) = acknowledged[0];
    let next = n + 2;
    assert_eq!(
        browser
            .retitle(item, &edit_title(item, next))
            .await
            .expect("edit"),
        303
    );
}
