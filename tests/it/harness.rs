//! Test harness: an embedded PostgreSQL per test process, a template database migrated
//! and seeded once, and per test a copy of it with the app served on a random port; and
//! [`Page`], which reads the HTML the app answers with CSS selectors.
//!
//! Several test processes may run at once (two `cargo test` runs, or `cargo nextest run`,
//! which runs every test in a process of its own). Each process claims a *slot*: an
//! exclusive lock on `target/test-pg/slot-N.lock`, and slot N's cluster (data directory
//! `target/test-pg/slot-N`) is used by that process alone. The PostgreSQL server inherits
//! the lock, so the slot stays taken until both the process and its server have exited
//! (the server shuts down by itself when the process ends, which can take a while after a
//! busy run); the next process to claim the slot reuses the cluster and, if the same test
//! binary built it, the template, so `initdb` runs once per slot, not once per process.

use portfolio_tracker::config::{ConnectionLimits, WebSettings};
use portfolio_tracker::db::{self, EmbeddedServer};
use portfolio_tracker::domain::auth::Role;
use portfolio_tracker::web::connections;
use scraper::{ElementRef, Html, Selector};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use std::fs::{File, OpenOptions, TryLockError};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

const TEMPLATE: &str = "pt_template";
/// Every database a test makes is `pt_t_<pid>_<n>`, `<pid>` being its process's.
const TEST_DB_PREFIX: &str = "pt_t_";

struct Cluster {
    server: EmbeddedServer,
    /// The lock on this process's slot, held until the process exits (and shared with
    /// the server, which holds it until it has shut down).
    _slot: File,
}

static CLUSTER: OnceCell<Cluster> = OnceCell::const_new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);
static NEXT_USER: AtomicU32 = AtomicU32::new(0);

/// Every test account's password.
pub const PASSWORD: &str = "correct horse battery staple";

/// The slots live under target/ so `cargo clean` removes them; later runs reuse them.
fn slots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("test-pg")
}

/// How long a process waits for a slot that exists to come free (its last holder's
/// server shutting down, usually well under a second) before it makes a new one, whose
/// `initdb` and template take far longer.
const SLOT_WAIT: Duration = Duration::from_secs(5);

/// Slot `n`'s lock, if no live process or server holds it.
fn try_slot(dir: &Path, n: usize) -> Option<File> {
    let path = dir.join(format!("slot-{n}.lock"));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    match lock.try_lock() {
        Ok(()) => Some(lock),
        Err(TryLockError::WouldBlock) => None,
        Err(TryLockError::Error(e)) => panic!("lock {}: {e}", path.display()),
    }
}

/// A free slot from `first` on, locked: its number, its data directory, and the lock
/// (released when every process holding it has exited, however they exit). A slot that
/// exists is preferred, waiting up to [`SLOT_WAIT`] for one; then a new one is made.
fn claim_slot(first: usize) -> (usize, PathBuf, File) {
    let dir = slots_dir();
    std::fs::create_dir_all(&dir).expect("create target/test-pg");
    let claimed = |n: usize, lock: File| (n, dir.join(format!("slot-{n}")), lock);
    let existing = (first..)
        .take_while(|n| dir.join(format!("slot-{n}.lock")).exists())
        .count();
    let deadline = Instant::now() + SLOT_WAIT;
    loop {
        for n in first..first + existing {
            if let Some(lock) = try_slot(&dir, n) {
                return claimed(n, lock);
            }
        }
        if existing == 0 || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for n in first + existing.. {
        if let Some(lock) = try_slot(&dir, n) {
            return claimed(n, lock);
        }
    }
    unreachable!("slots are numbered without end")
}

/// Lets processes started from now on inherit `lock` (and so hold the slot), or stops
/// that. Rust opens files close-on-exec.
fn set_inheritable(lock: &File, inheritable: bool) {
    use std::os::fd::AsRawFd;
    let fd = lock.as_raw_fd();
    // SAFETY: F_GETFD and F_SETFD only read and set the descriptor flags of `fd`, which
    // `lock` keeps open for the duration of the calls.
    let done = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        flags >= 0
            && libc::fcntl(
                fd,
                libc::F_SETFD,
                if inheritable {
                    flags & !libc::FD_CLOEXEC
                } else {
                    flags | libc::FD_CLOEXEC
                },
            ) == 0
    };
    assert!(
        done,
        "set the slot lock's close-on-exec flag: {}",
        std::io::Error::last_os_error()
    );
}

/// Launches the server of a free slot, holding the slot's lock. A slot whose cluster will
/// not start (a server from before the lock was inherited still shutting down, say) is
/// passed over for the next one, twice at most.
async fn launch_in_a_free_slot() -> (EmbeddedServer, File) {
    let mut failures = Vec::new();
    let mut first = 0;
    loop {
        let (slot, data_dir, lock) = tokio::task::spawn_blocking(move || claim_slot(first))
            .await
            .expect("claim a slot");
        // The server, a child process, inherits the lock and holds it until it exits.
        set_inheritable(&lock, true);
        let launched = EmbeddedServer::launch(data_dir).await;
        set_inheritable(&lock, false);
        match launched {
            Ok(server) => return (server, lock),
            Err(e) => failures.push(format!("slot {slot}: {e:#}")),
        }
        if failures.len() == 3 {
            panic!(
                "start the embedded PostgreSQL for tests:\n{}",
                failures.join("\n")
            );
        }
        first = slot + 1;
    }
}

/// What the template must have been built by to be reused: this very test binary (the
/// migrations and the seed are compiled into it).
fn template_fingerprint() -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    let meta = std::fs::metadata(&exe).expect("the test binary's metadata");
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!(
        "built by {} ({} bytes, {modified})",
        exe.display(),
        meta.len()
    )
}

async fn cluster() -> &'static Cluster {
    CLUSTER
        .get_or_init(|| async {
            let (server, lock) = launch_in_a_free_slot().await;
            let admin = db::connect_with(server.options_for("postgres"))
                .await
                .expect("connect as admin");
            // What the app's start does in an embedded cluster (roles are the cluster's).
            db::roles::ensure_app_role(&admin)
                .await
                .expect("create the application role");
            drop_stale_databases(&admin).await;
            let fingerprint = template_fingerprint();
            if !template_is_current(&admin, &fingerprint).await {
                build_template(&server, &admin, &fingerprint).await;
            }
            admin.close().await;
            Cluster {
                server,
                _slot: lock,
            }
        })
        .await
}

/// Whether the slot's template was completed by this test binary.
async fn template_is_current(admin: &PgPool, fingerprint: &str) -> bool {
    let comment: Option<Option<String>> = sqlx::query_scalar(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
    )
    .bind(TEMPLATE)
    .fetch_optional(admin)
    .await
    .expect("read the template's fingerprint");
    comment.flatten().as_deref() == Some(fingerprint)
}

/// A migrated and seeded template, marked with `fingerprint` once it is complete.
async fn build_template(server: &EmbeddedServer, admin: &PgPool, fingerprint: &str) {
    drop_database(admin, TEMPLATE).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {TEMPLATE}")))
        .execute(admin)
        .await
        .expect("create template");
    // As the app starts: migrated by the owner, which grants the application role its
    // rights (copied with the template); seeded by the application role.
    let owner = db::connect_with(server.options_for(TEMPLATE))
        .await
        .expect("connect to template");
    let app = db::connect_with(server.options_as(TEMPLATE, db::APP_ROLE))
        .await
        .expect("connect to template as the application role");
    db::prepare(Some(&owner), &app, db::Seeding::Never)
        .await
        .expect("migrate template");
    portfolio_tracker::store::seed::load(&app)
        .await
        .expect("seed template");
    app.close().await;
    owner.close().await;
    // Only a complete template gets its mark: an interrupted build is built again.
    let comment = format!(
        "COMMENT ON DATABASE {TEMPLATE} IS '{}'",
        fingerprint.replace('\'', "''")
    );
    sqlx::query(sqlx::AssertSqlSafe(comment))
        .execute(admin)
        .await
        .expect("mark the template");
}

/// The process that made a test database, from its name `pt_t_<pid>_...`.
fn owner_pid(database: &str) -> Option<u32> {
    database
        .strip_prefix(TEST_DB_PREFIX)?
        .split('_')
        .next()?
        .parse()
        .ok()
}

/// Test databases that earlier holders of this slot left, dropped before this process
/// makes any of its own. The slot is this process's alone, so none is in use; still, only
/// those whose owner has exited go (one named with this process's pid is an earlier
/// process's that had the same pid): a database whose owner's pid a live process holds is
/// left for a later run.
async fn drop_stale_databases(admin: &PgPool) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
            .bind(TEST_DB_PREFIX)
            .fetch_all(admin)
            .await
            .expect("list databases");
    let me = std::process::id();
    for name in names {
        let stale = owner_pid(&name).is_none_or(|pid| pid == me || !process_alive(pid));
        if stale {
            drop_database(admin, &name).await;
        }
    }
}

fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

async fn drop_database(admin: &PgPool, name: &str) {
    let statement = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(statement))
        .execute(admin)
        .await
        .unwrap_or_else(|e| panic!("drop database {name}: {e}"));
}

/// A new database name of this process: `pt_t_<pid>_<n><suffix>`.
fn new_database_name(suffix: &str) -> String {
    format!(
        "{TEST_DB_PREFIX}{}_{}{suffix}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    )
}

/// A fresh copy of the seeded template.
pub struct TestDb {
    /// Connected as the application role, as the app is: what the app under test gets.
    pub pool: PgPool,
    /// The application role's URL (`DATABASE_URL`).
    pub url: String,
    /// The owner's (the cluster's superuser): `DATABASE_OWNER_URL`, and set-up that the
    /// application role may not do. Connects on first use.
    pub owner: PgPool,
    pub owner_url: String,
}

/// How the command line reaches a test database: as the app is deployed with
/// `DATABASE_URL`, the application role, and the owner for migrations.
#[derive(Debug, Clone)]
pub struct DbUrls {
    pub app: String,
    pub owner: String,
}

impl DbUrls {
    /// `DATABASE_URL` and `DATABASE_OWNER_URL` for a command.
    pub fn env(&self) -> [(&'static str, &str); 2] {
        [
            ("DATABASE_URL", self.app.as_str()),
            ("DATABASE_OWNER_URL", self.owner.as_str()),
        ]
    }
}

impl TestDb {
    pub fn urls(&self) -> DbUrls {
        DbUrls {
            app: self.url.clone(),
            owner: self.owner_url.clone(),
        }
    }
}

pub async fn fresh_db() -> TestDb {
    let cluster = cluster().await;
    let name = new_database_name("");
    let admin = db::connect_with(cluster.server.options_for("postgres"))
        .await
        .expect("connect as admin");
    let statement = format!("CREATE DATABASE \"{name}\" TEMPLATE {TEMPLATE}");
    sqlx::query(sqlx::AssertSqlSafe(statement))
        .execute(&admin)
        .await
        .expect("copy the template");
    admin.close().await;
    let pool = db::connect_with(cluster.server.options_as(&name, db::APP_ROLE))
        .await
        .expect("connect to test database");
    TestDb {
        url: cluster.server.url_as(&name, db::APP_ROLE),
        pool,
        owner: db::pool_options().connect_lazy_with(cluster.server.options_for(&name)),
        owner_url: cluster.server.url_for(&name),
    }
}

/// The application served on a random local port over a fresh database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub db: TestDb,
    pub client: reqwest::Client,
    pub state: portfolio_tracker::AppState,
}

impl TestApp {
    /// The app as deployed for an office: every page needs a sign-in.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(WebSettings::default()).await
    }

    /// A public transparency site: anonymous visitors read what a viewer reads.
    pub async fn spawn_public() -> TestApp {
        Self::spawn_with(WebSettings {
            public_read: true,
            ..WebSettings::default()
        })
        .await
    }

    pub async fn spawn_with(settings: WebSettings) -> TestApp {
        let db = fresh_db().await;
        let (addr, state) = serve_state(db.pool.clone(), settings).await;
        TestApp {
            addr,
            db,
            client: client(),
            state,
        }
    }

    /// Waits until the app's dashboards show what the database holds now. Writes through
    /// the app wait for this themselves; a test that changes the database behind the
    /// app's back (as another instance would) calls it before reading.
    pub async fn dashboards_rebuilt(&self) {
        self.state
            .refresh_dashboards()
            .await
            .expect("rebuild the dashboards");
    }

    /// Creates an account with this role and signs it in.
    pub async fn signed_in(&self, role: Role) -> Session {
        self.signed_in_with_email(role).await.1
    }

    pub async fn create_user(&self, email: &str, role: Role) {
        let hash = portfolio_tracker::domain::auth::hash_password(PASSWORD).expect("hash");
        portfolio_tracker::store::users::insert(&self.db.pool, email, "", role, &hash)
            .await
            .expect("create user");
    }

    /// Posts the sign-in form; the session on success, the response otherwise.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<Session, reqwest::Response> {
        let response = self
            .client
            .post(self.url("/login"))
            .form(&[("email", email), ("password", password), ("next", "/")])
            .send()
            .await
            .expect("request");
        if response.status().as_u16() != 303 {
            return Err(response);
        }
        let cookie = session_cookie(&response).expect("a session cookie");
        let mut session = Session {
            app_url: format!("http://{}", self.addr),
            cookie,
            csrf: String::new(),
            client: client(),
        };
        session.csrf = session.csrf_token().await;
        Ok(session)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// GET a page: status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        response.json().await.expect("JSON body")
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

/// Serves the app over `pool` on 127.0.0.1 with a random port.
pub async fn serve_with(pool: PgPool, settings: WebSettings) -> SocketAddr {
    serve_state(pool, settings).await.0
}

/// Serves the app and keeps a handle on its state.
pub async fn serve_state(
    pool: PgPool,
    settings: WebSettings,
) -> (SocketAddr, portfolio_tracker::AppState) {
    // every test client is 127.0.0.1: a client's share of connections would make
    // the many people of a load test one (tests/it/limits.rs tests that share)
    let limits = ConnectionLimits {
        max_connections_per_client: 0,
        ..ConnectionLimits::default()
    };
    let (addr, state, _stop) = serve_limited(pool, settings, limits).await;
    (addr, state)
}

/// Serves the app with the connection loop `serve` uses, with `limits`; sending on (or
/// dropping) the returned handle shuts it down, and the task's result says how.
pub async fn serve_limited(
    pool: PgPool,
    settings: WebSettings,
    limits: ConnectionLimits,
) -> (SocketAddr, portfolio_tracker::AppState, Stop) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a random port");
    let addr = listener.local_addr().expect("local address");
    let proxies = settings.trusted_proxies.clone();
    let state = portfolio_tracker::AppState::new(pool, settings);
    let app = portfolio_tracker::app(state.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            // a dropped handle (most tests never stop their server) leaves it serving
            if stopped.await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        connections::serve(listener, app, &limits, &proxies, shutdown).await
    });
    (addr, state, Stop { stop, task })
}

/// Stops a server of [`serve_limited`].
pub struct Stop {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<connections::Stopped>,
}

impl Stop {
    /// Asks the server to stop and waits for its connection loop to end.
    pub async fn stop(self) -> connections::Stopped {
        let _ = self.stop.send(());
        self.task.await.expect("the connection loop does not panic")
    }
}

/// `pt_session=...` from a response's Set-Cookie headers.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("pt_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
}

/// A pool whose database can never be reached: a socket directory that does not exist.
pub fn unreachable_pool() -> PgPool {
    let options = PgConnectOptions::new()
        .socket("/nonexistent/portfolio-tracker-test")
        .username("postgres")
        .database("nowhere");
    db::pool_options()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy_with(options)
}

/// A signed-in browser: sends the session cookie, and the CSRF token with forms.
#[derive(Clone)]
pub struct Session {
    pub app_url: String,
    pub cookie: String,
    pub csrf: String,
    pub client: reqwest::Client,
}

impl Session {
    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.app_url))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("request");
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    /// POSTs a form with the session's CSRF token added: status, Location header, body.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("_csrf", &self.csrf));
        let r = self
            .client
            .post(format!("{}{path}", self.app_url))
            .header("cookie", &self.cookie)
            .form(&form)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (status, location, r.text().await.expect("body"))
    }

    /// The token the layout puts in the sign-out form.
    async fn csrf_token(&self) -> String {
        let (_, body) = self.get("/login").await;
        extract_csrf(&body).unwrap_or_default()
    }
}

/// The value of the first `_csrf` hidden field in a page.
pub fn extract_csrf(html: &str) -> Option<String> {
    Page::parse(html)
        .select("input[name=\"_csrf\"]")
        .first()
        .and_then(|input| input.value().attr("value"))
        .map(str::to_string)
}

/// Every `Set-Cookie` header of a response, whole (name, value and attributes).
pub fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect()
}

/// A response's `Location` header, or "" when there is none.
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

impl TestApp {
    /// Creates an account with this role, signs it in, and says which email it got.
    pub async fn signed_in_with_email(&self, role: Role) -> (String, Session) {
        let email = format!(
            "{}-{}@example.org",
            role.as_str(),
            NEXT_USER.fetch_add(1, Ordering::SeqCst)
        );
        self.create_user(&email, role).await;
        let session = self
            .sign_in(&email, PASSWORD)
            .await
            .unwrap_or_else(|r| panic!("sign-in works, got {}", r.status()));
        (email, session)
    }

    /// Posts the sign-in form as it is, with an optional cookie and extra headers: the
    /// raw response.
    pub async fn post_login(
        &self,
        fields: &[(&str, &str)],
        cookie: Option<&str>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.client.post(self.url("/login")).form(fields);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("request")
    }

    /// A browser holding this cookie (e.g. `pt_session=...`), with its CSRF token.
    pub async fn session_for(&self, cookie: String) -> Session {
        let mut session = Session {
            app_url: format!("http://{}", self.addr),
            cookie,
            csrf: String::new(),
            client: client(),
        };
        session.csrf = session.csrf_token().await;
        session
    }

    /// The id of the account with this email.
    pub async fn user_id(&self, email: &str) -> i64 {
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_one(&self.db.pool)
            .await
            .expect("the account exists")
    }
}

impl Session {
    /// GET with the session cookie: the raw response (headers included).
    pub async fn get_response(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.app_url))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("request")
    }

    /// POSTs exactly these fields (no CSRF token added) with extra headers: the raw
    /// response.
    pub async fn post_raw(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.app_url))
            .header("cookie", &self.cookie)
            .form(fields);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("request")
    }
}

// ---------------------------------------------------------------------------------------
// Several instances on one database (tests/it/instances.rs).
// ---------------------------------------------------------------------------------------

/// How to reach a database as its owner and as the application role.
pub struct EmptyDb {
    pub owner: PgConnectOptions,
    pub app: PgConnectOptions,
}

/// A brand-new database of the test cluster with nothing in it: no tables, no migrations,
/// no seed. How to reach it; every caller makes its own pools, as a separate instance would.
pub async fn empty_db() -> EmptyDb {
    let cluster = cluster().await;
    let name = new_database_name("_empty");
    let admin = db::connect_with(cluster.server.options_for("postgres"))
        .await
        .expect("connect as admin");
    db::create_database_if_missing(&admin, &name)
        .await
        .expect("create an empty database");
    admin.close().await;
    EmptyDb {
        owner: cluster.server.options_for(&name),
        app: cluster.server.options_as(&name, db::APP_ROLE),
    }
}

impl TestApp {
    /// A second instance of the app on this one's database: its own pool, its own state
    /// (and so its own cached portfolio), its own port.
    pub async fn another_instance(&self) -> TestApp {
        let pool = db::connect(&self.db.url)
            .await
            .expect("a second pool on the same database");
        let (addr, state) = serve_state(pool.clone(), WebSettings::default()).await;
        TestApp {
            addr,
            db: TestDb {
                pool,
                url: self.db.url.clone(),
                owner: self.db.owner.clone(),
                owner_url: self.db.owner_url.clone(),
            },
            client: client(),
            state,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reading pages: CSS selectors on the parsed HTML, so that an assertion names the element
// that must hold a text (a cell, a heading, a notice, a field) rather than the whole page.
// ---------------------------------------------------------------------------------------

/// A parsed HTML page, with its source kept for checks that are about the raw body (a
/// secret that must appear nowhere).
pub struct Page {
    pub html: Html,
    pub body: String,
}

/// A CSS selector; panics on a bad one (a mistake in the test).
pub fn selector(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("bad selector {css:?}: {e:?}"))
}

/// An element's text, its runs of whitespace made single spaces, trimmed.
pub fn text(element: ElementRef<'_>) -> String {
    element
        .text()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The elements under `element` (not itself) that match `css`.
pub fn select_in<'a>(element: ElementRef<'a>, css: &str) -> Vec<ElementRef<'a>> {
    element.select(&selector(css)).collect()
}

/// The text of the one element under `element` that matches `css`.
pub fn text_in(element: ElementRef<'_>, css: &str) -> String {
    match select_in(element, css).as_slice() {
        [found] => text(*found),
        found => panic!(
            "{} elements match {css:?} in {:?}, expected one",
            found.len(),
            text(element)
        ),
    }
}

impl Page {
    pub fn parse(body: &str) -> Page {
        Page {
            html: Html::parse_document(body),
            body: body.to_string(),
        }
    }

    /// Every element matching `css`, in document order.
    pub fn select(&self, css: &str) -> Vec<ElementRef<'_>> {
        self.html.select(&selector(css)).collect()
    }

    /// Whether any element matches `css`.
    pub fn has(&self, css: &str) -> bool {
        self.html.select(&selector(css)).next().is_some()
    }

    /// The one element matching `css`; panics if there is none or more than one.
    pub fn one(&self, css: &str) -> ElementRef<'_> {
        let found = self.select(css);
        match found.as_slice() {
            [element] => *element,
            [] => panic!(
                "no element matches {css:?}; the page reads:\n{}",
                self.main_text()
            ),
            many => panic!(
                "{} elements match {css:?}, expected one: {:?}",
                many.len(),
                many.iter().map(|e| text(*e)).collect::<Vec<_>>()
            ),
        }
    }

    /// The text of the one element matching `css`.
    pub fn text_of(&self, css: &str) -> String {
        text(self.one(css))
    }

    /// The texts of every element matching `css`, in document order.
    pub fn texts(&self, css: &str) -> Vec<String> {
        self.select(css).into_iter().map(text).collect()
    }

    /// Attribute `name` of the one element matching `css` (None if it has no such
    /// attribute).
    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.one(css).value().attr(name).map(str::to_string)
    }

    /// Attribute `name` of every element matching `css` that has it.
    pub fn attrs(&self, css: &str, name: &str) -> Vec<String> {
        self.select(css)
            .into_iter()
            .filter_map(|e| e.value().attr(name).map(str::to_string))
            .collect()
    }

    /// In the one description list matching `dl_css`, the text of the `<dd>` whose `<dt>`
    /// reads `term`.
    pub fn figure(&self, dl_css: &str, term: &str) -> String {
        text(self.figure_element(dl_css, term))
    }

    /// The `<dd>` element of [`Page::figure`].
    pub fn figure_element(&self, dl_css: &str, term: &str) -> ElementRef<'_> {
        let dl = self.one(dl_css);
        let mut current = None;
        for child in dl.descendants().filter_map(ElementRef::wrap) {
            match child.value().name() {
                "dt" => current = Some(text(child)),
                "dd" if current.as_deref() == Some(term) => return child,
                _ => {}
            }
        }
        panic!(
            "no <dt>{term}</dt> with a <dd> in {dl_css:?}; it reads: {}",
            text(dl)
        )
    }

    /// The one table matching `css`, read by its column headers.
    pub fn table(&self, css: &str) -> Table<'_> {
        Table::read(self.one(css))
    }

    /// The text of `<main>` (the whole page if it has none), for failure messages.
    pub fn main_text(&self) -> String {
        match self.select("main").first() {
            Some(main) => text(*main),
            None => text(self.html.root_element()),
        }
    }
}

/// A table's body rows, each cell under its column's header text (a cell spanning several
/// columns stands under each of them).
pub struct Table<'a> {
    pub rows: Vec<Row<'a>>,
}

pub struct Row<'a> {
    pub element: ElementRef<'a>,
    headers: Vec<String>,
    cells: Vec<ElementRef<'a>>,
}

fn cells_of(row: ElementRef<'_>) -> Vec<ElementRef<'_>> {
    let mut cells = Vec::new();
    for cell in row.children().filter_map(ElementRef::wrap) {
        if matches!(cell.value().name(), "th" | "td") {
            let span: usize = cell
                .value()
                .attr("colspan")
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            cells.extend(std::iter::repeat_n(cell, span.max(1)));
        }
    }
    cells
}

impl<'a> Table<'a> {
    pub fn read(table: ElementRef<'a>) -> Table<'a> {
        let headers: Vec<String> = select_in(table, "thead tr")
            .last()
            .map(|tr| cells_of(*tr).into_iter().map(text).collect())
            .unwrap_or_default();
        let rows = select_in(table, "tbody > tr")
            .into_iter()
            .map(|tr| Row {
                element: tr,
                headers: headers.clone(),
                cells: cells_of(tr),
            })
            .collect();
        Table { rows }
    }

    /// Every row's text under `header`, top to bottom.
    pub fn column(&self, header: &str) -> Vec<String> {
        self.rows.iter().map(|r| r.text(header)).collect()
    }

    /// The one row whose first cell's text is `first`.
    pub fn row(&self, first: &str) -> &Row<'a> {
        let found: Vec<&Row<'a>> = self
            .rows
            .iter()
            .filter(|r| r.cells.first().is_some_and(|c| text(*c) == first))
            .collect();
        match found.as_slice() {
            [row] => row,
            _ => panic!(
                "{} rows start with {first:?}; the first cells read: {:?}",
                found.len(),
                self.rows
                    .iter()
                    .map(|r| r.cells.first().map(|c| text(*c)).unwrap_or_default())
                    .collect::<Vec<_>>()
            ),
        }
    }

    /// The one row whose first cell holds a link to `href`.
    pub fn row_linking(&self, href: &str) -> &Row<'a> {
        let css = format!("a[href=\"{href}\"]");
        let found: Vec<&Row<'a>> = self
            .rows
            .iter()
            .filter(|r| {
                r.cells
                    .first()
                    .is_some_and(|c| !select_in(*c, &css).is_empty())
            })
            .collect();
        match found.as_slice() {
            [row] => row,
            _ => panic!("{} rows link to {href} in their first cell", found.len()),
        }
    }
}

impl<'a> Row<'a> {
    /// The cell under `header`; panics if the table has no such column.
    pub fn cell(&self, header: &str) -> ElementRef<'a> {
        let at = self
            .headers
            .iter()
            .position(|h| h == header)
            .unwrap_or_else(|| panic!("no column {header:?} in {:?}", self.headers));
        *self.cells.get(at).unwrap_or_else(|| {
            panic!(
                "the row {:?} has no cell under {header:?}",
                text(self.element)
            )
        })
    }

    /// The text of the cell under `header`.
    pub fn text(&self, header: &str) -> String {
        text(self.cell(header))
    }
}

impl TestApp {
    /// GET a page: status and the parsed page.
    pub async fn page(&self, path: &str) -> (u16, Page) {
        let (status, body) = self.get(path).await;
        (status, Page::parse(&body))
    }
}

impl Session {
    /// GET a page with the session: status and the parsed page.
    pub async fn page(&self, path: &str) -> (u16, Page) {
        let (status, body) = self.get(path).await;
        (status, Page::parse(&body))
    }
}
