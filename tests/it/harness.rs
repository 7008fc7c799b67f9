//! Test harness: one embedded PostgreSQL per test process, a template database migrated
//! and seeded once, and per test a copy of it with the app served on a random port.

use portfolio_tracker::config::WebSettings;
use portfolio_tracker::db::{self, EmbeddedServer};
use portfolio_tracker::domain::auth::Role;
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::OnceCell;

const TEMPLATE: &str = "pt_template";

struct Cluster {
    server: EmbeddedServer,
}

static CLUSTER: OnceCell<Cluster> = OnceCell::const_new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);
static NEXT_USER: AtomicU32 = AtomicU32::new(0);

/// Every test account's password.
pub const PASSWORD: &str = "correct horse battery staple";

/// The cluster lives under target/ so `cargo clean` removes it; a run reuses it.
fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("test-pg")
}

async fn cluster() -> &'static Cluster {
    CLUSTER
        .get_or_init(|| async {
            let server = EmbeddedServer::launch(data_dir())
                .await
                .expect("start the embedded PostgreSQL for tests");
            let admin = db::connect_with(server.options_for("postgres"))
                .await
                .expect("connect as admin");
            drop_leftover_databases(&admin).await;
            sqlx::query("CREATE DATABASE pt_template")
                .execute(&admin)
                .await
                .expect("create template");
            let template = db::connect_with(server.options_for(TEMPLATE))
                .await
                .expect("connect to template");
            db::MIGRATOR.run(&template).await.expect("migrate template");
            portfolio_tracker::store::seed::load(&template)
                .await
                .expect("seed template");
            template.close().await;
            admin.close().await;
            Cluster { server }
        })
        .await
}

/// Databases of earlier runs: this run starts from scratch.
async fn drop_leftover_databases(admin: &PgPool) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname = 'pt_template' OR datname LIKE 'pt\\_t\\_%'",
    )
    .fetch_all(admin)
    .await
    .expect("list databases");
    for name in names {
        let statement = format!("DROP DATABASE \"{name}\" WITH (FORCE)");
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(admin)
            .await
            .expect("drop leftover database");
    }
}

/// A fresh copy of the seeded template.
pub struct TestDb {
    pub pool: PgPool,
    pub url: String,
}

pub async fn fresh_db() -> TestDb {
    let cluster = cluster().await;
    let name = format!(
        "pt_t_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    );
    let admin = db::connect_with(cluster.server.options_for("postgres"))
        .await
        .expect("connect as admin");
    let statement = format!("CREATE DATABASE \"{name}\" TEMPLATE {TEMPLATE}");
    sqlx::query(sqlx::AssertSqlSafe(statement))
        .execute(&admin)
        .await
        .expect("copy the template");
    admin.close().await;
    let pool = db::connect_with(cluster.server.options_for(&name))
        .await
        .expect("connect to test database");
    TestDb {
        url: cluster.server.url_for(&name),
        pool,
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a random port");
    let addr = listener.local_addr().expect("local address");
    let state = portfolio_tracker::AppState::new(pool, settings);
    let app = portfolio_tracker::app(state.clone());
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (addr, state)
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
    let start = html.find("name=\"_csrf\" value=\"")? + "name=\"_csrf\" value=\"".len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
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

/// A brand-new database of the test cluster with nothing in it: no tables, no migrations,
/// no seed. How to reach it; every caller makes its own pool, as a separate instance would.
pub async fn empty_db() -> PgConnectOptions {
    let cluster = cluster().await;
    let name = format!(
        "pt_t_{}_{}_empty",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    );
    let admin = db::connect_with(cluster.server.options_for("postgres"))
        .await
        .expect("connect as admin");
    db::create_database_if_missing(&admin, &name)
        .await
        .expect("create an empty database");
    admin.close().await;
    cluster.server.options_for(&name)
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
            },
            client: client(),
            state,
        }
    }
}
