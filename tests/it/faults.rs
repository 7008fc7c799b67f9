//! Faults, with the binary run as an operator runs it: the embedded PostgreSQL dies under
//! load and is started again (no lost session); the app is stopped with SIGTERM under
//! load (exit 0, nothing half-written) or killed with SIGKILL amid a stream of edits
//! (every acknowledged edit is kept, and the audit trail matches the data); and with
//! `DATABASE_URL`, an outage is a quick 503 and the app recovers when the server returns.

use crate::conformance::page::Page as FormPage;
use crate::harness::{client, extract_csrf, fresh_db, serve_with, session_cookie};
use portfolio_tracker::config::WebSettings;
use portfolio_tracker::db;
use sqlx::PgPool;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

const ADMIN_EMAIL: &str = "faults-admin@example.org";
const ADMIN_PASSWORD: &str = "a long and uncommon passphrase 7";
/// The first start of a data directory runs initdb and seeds the report.
const FIRST_START: Duration = Duration::from_secs(180);

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// A data directory of its own, removed afterwards.
struct DataDir(PathBuf);

impl DataDir {
    fn new(tag: &str) -> DataDir {
        let path = std::env::temp_dir().join(format!(
            "pt-faults-{tag}-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the data directory");
        DataDir(path)
    }

    /// Where the cluster is: `<data dir>/pg`, or as root the directory named on line 2
    /// of `CLUSTER_LOCATION` (the launcher then keeps it where `postgres` can reach it).
    fn cluster_dir(&self) -> PathBuf {
        match std::fs::read_to_string(self.0.join("CLUSTER_LOCATION")) {
            Ok(text) => PathBuf::from(text.lines().nth(1).expect("line 2").trim()),
            Err(_) => self.0.join("pg"),
        }
    }

    fn postmaster_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.cluster_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// The application database, straight over the cluster's socket.
    async fn connect(&self) -> PgPool {
        let options = sqlx::postgres::PgConnectOptions::new()
            .socket(self.cluster_dir())
            .username("postgres")
            .database(db::EMBEDDED_DATABASE);
        db::connect_with(options)
            .await
            .expect("connect to the cluster")
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let cluster = self.cluster_dir();
        if !cluster.starts_with(&self.0) {
            let _ = std::fs::remove_dir_all(cluster);
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn binary(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portfolio-tracker"));
    command
        .env_remove("DATABASE_URL")
        .env("DATA_DIR", data_dir)
        .env("RUST_LOG", "info,sqlx=warn");
    command
}

fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address")
}

/// `serve` running as a child process, its log in a file.
struct Served {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Served {
    async fn start(data: &DataDir, patience: Duration) -> Served {
        let addr = free_addr();
        let log = data.0.join(format!("serve-{}.log", addr.port()));
        let child = binary(&data.0)
            .arg("serve")
            .env("LISTEN_ADDR", addr.to_string())
            .env("SHUTDOWN_GRACE_SECS", "5")
            // the editors below save faster than an admin's browser is allowed to
            .env("ADMIN_WRITE_RATE_PER_MINUTE", "0")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start serve");
        let served = Served { child, addr, log };
        served.wait_ready(patience).await;
        served
    }

    async fn wait_ready(&self, patience: Duration) {
        let deadline = Instant::now() + patience;
        let http = client();
        loop {
            if let Ok(r) = http.get(self.url("/readyz")).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "serve not ready after {patience:?}: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, signal: &str) {
        send_signal(self.child.id() as i32, signal);
    }

    /// Waits for the process to exit: its status, or `None` after `patience`.
    async fn exit(&mut self, patience: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            send_signal(self.child.id() as i32, "TERM");
            let _ = self.child.wait();
        }
    }
}

fn send_signal(pid: i32, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

fn process_exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn add_admin(data: &DataDir) {
    use std::io::Write;
    let mut child = binary(&data.0)
        .args(["user", "add", "--email", ADMIN_EMAIL, "--role", "admin"])
        .arg("--password-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run user add");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{ADMIN_PASSWORD}").expect("write the password");
    drop(stdin);
    let output = child.wait_with_output().expect("user add");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
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
        let http = client();
        let response = http
            .post(served.url("/login"))
            .form(&[
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("next", "/"),
            ])
            .send()
            .await
            .expect("sign in");
        assert_eq!(response.status(), 303, "signed in");
        Browser {
            base: served.url(""),
            cookie: session_cookie(&response).expect("a session cookie"),
            http,
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
    let data = DataDir::new("supervise");
    let served = Served::start(&data, FIRST_START).await;
    add_admin(&data);
    let browser = Browser::sign_in(&served).await;

    // a fast shutdown (what `pg_ctl stop` sends), then a crash (what the OOM killer does)
    for signal in ["INT", "KILL"] {
        let postmaster = data.postmaster_pid().expect("the postmaster's pid");
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
                && data.postmaster_pid() != Some(postmaster)
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no recovery within 60 s of SIG{signal}: {}",
                served.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let recovered = killed.elapsed();
        stop.store(true, Ordering::Relaxed);
        let seen = statuses(load).await;
        let outage: Vec<_> = seen.iter().filter(|(s, _)| *s == 503).collect();
        assert!(
            !outage.is_empty(),
            "SIG{signal}: readers saw the outage ({} answers)",
            seen.len()
        );
        for (status, body) in &seen {
            assert!(
                [200, 503].contains(status),
                "SIG{signal}: only pages or 503: got {status}: {}",
                served.log_text()
            );
            if *status == 503 && body.contains("<html") {
                assert!(body.contains("Temporarily unavailable"), "{body}");
            }
        }
        eprintln!(
            "SIG{signal} to the postmaster: {} answers, {} were 503, recovered after {recovered:?}",
            seen.len(),
            outage.len()
        );
    }
    let log = served.log_text();
    assert!(
        log.contains("embedded PostgreSQL exited unexpectedly"),
        "{log}"
    );
    assert!(log.contains("embedded PostgreSQL restarted"), "{log}");
}

#[tokio::test]
async fn with_database_url_an_outage_is_a_quick_503_and_the_app_recovers() {
    let data = DataDir::new("external");
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
    let addr = serve_with(
        pool,
        WebSettings {
            public_read: true,
            ..WebSettings::default()
        },
    )
    .await;
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
    let addr = serve_with(
        pool,
        WebSettings {
            public_read: true,
            ..WebSettings::default()
        },
    )
    .await;
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
    let addr = serve_with(
        pool.clone(),
        WebSettings {
            public_read: true,
            ..WebSettings::default()
        },
    )
    .await;
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

/// Items the editors retitle, one each.
async fn items_to_edit(data: &DataDir, count: i64) -> Vec<i64> {
    let pool = data.connect().await;
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
async fn assert_edits_kept(data: &DataDir, acknowledged: &[(i64, u32)]) {
    let pool = data.connect().await;
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
    data: &DataDir,
    served: &Served,
    signal: &str,
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
    let data = DataDir::new("sigterm");
    let mut served = Served::start(&data, FIRST_START).await;
    add_admin(&data);
    let postmaster = data.postmaster_pid().expect("the postmaster's pid");
    let (acknowledged, seen) = stop_amid_edits(&data, &served, "TERM").await;
    let status = served
        .exit(Duration::from_secs(20))
        .await
        .expect("serve exits within the grace period");
    assert_eq!(status.code(), Some(0), "{}", served.log_text());
    for (status, body) in &seen {
        assert_eq!(*status, 200, "a reader's page during the shutdown: {body}");
    }
    wait_for_cluster_exit(postmaster).await;
    let restarted = Served::start(&data, Duration::from_secs(60)).await;
    assert_edits_kept(&data, &acknowledged).await;
    drop(restarted);
}

#[tokio::test]
async fn sigkill_amid_edits_loses_no_acknowledged_edit_and_the_audit_matches() {
    let data = DataDir::new("sigkill");
    let mut served = Served::start(&data, FIRST_START).await;
    add_admin(&data);
    let postmaster = data.postmaster_pid().expect("the postmaster's pid");
    let (acknowledged, _) = stop_amid_edits(&data, &served, "KILL").await;
    served.exit(Duration::from_secs(5)).await.expect("killed");
    wait_for_cluster_exit(postmaster).await;
    let restarted = Served::start(&data, Duration::from_secs(60)).await;
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
