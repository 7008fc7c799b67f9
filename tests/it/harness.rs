//! Test harness: one embedded PostgreSQL per test process, a template database migrated
//! and seeded once, and per test a copy of it with the app served on a random port.

use portfolio_tracker::db::{self, EmbeddedServer};
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
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let db = fresh_db().await;
        let addr = serve(db.pool.clone()).await;
        TestApp {
            addr,
            db,
            client: client(),
        }
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
pub async fn serve(pool: PgPool) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a random port");
    let addr = listener.local_addr().expect("local address");
    let app = portfolio_tracker::app(portfolio_tracker::AppState::new(pool));
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    addr
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
