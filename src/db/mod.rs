//! The connection pool, migrations, and the embedded PostgreSQL launcher.

pub mod embedded;

use crate::config::DbSettings;
use anyhow::Context;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// Every migration in `migrations/`, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The name of the application database inside the embedded cluster.
pub const EMBEDDED_DATABASE: &str = "portfolio";

/// Whether opening the database also loads the report's portfolio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeding {
    Never,
    /// Only into an empty portfolio: the embedded database's first start.
    IfEmpty,
}

/// An open, migrated database, and the embedded server behind it if there is one.
pub struct Database {
    pub pool: PgPool,
    embedded: Option<EmbeddedServer>,
}

impl Database {
    /// Connects to `DATABASE_URL`, or starts the embedded cluster when it is not set, and
    /// applies pending migrations.
    pub async fn open(settings: &DbSettings, seeding: Seeding) -> anyhow::Result<Database> {
        let (pool, embedded) = match &settings.database_url {
            Some(url) => (
                connect_sized(parse_url(url)?, settings.pool_size).await?,
                None,
            ),
            None if let Some(socket_dir) = embedded::running_socket_dir(&settings.data_dir) => {
                // A server for this DATA_DIR is running (e.g. `serve` in another terminal):
                // share it rather than start a second one.
                tracing::info!(
                    "using the embedded PostgreSQL already running in {}",
                    socket_dir.display()
                );
                let options = EmbeddedServer::socket_options(&socket_dir, EMBEDDED_DATABASE);
                (connect_sized(options, settings.pool_size).await?, None)
            }
            None => {
                let server = EmbeddedServer::launch(settings.data_dir.clone()).await?;
                let admin = connect_with(server.options_for("postgres")).await?;
                create_database_if_missing(&admin, EMBEDDED_DATABASE).await?;
                admin.close().await;
                let pool = connect_sized(server.options_for(EMBEDDED_DATABASE), settings.pool_size)
                    .await?;
                (pool, Some(server))
            }
        };
        // An external database is never seeded implicitly: it is seeded on purpose, with
        // `portfolio-tracker seed` (see the README).
        let seeding = if embedded.is_some() {
            seeding
        } else {
            Seeding::Never
        };
        if let Err(e) = prepare(&pool, seeding).await {
            pool.close().await;
            if let Some(server) = embedded {
                server.stop().await;
            }
            return Err(e);
        }
        Ok(Database { pool, embedded })
    }

    /// Closes the pool, then stops the embedded server (fast shutdown) if we run one.
    pub async fn close(self) {
        self.pool.close().await;
        if let Some(server) = self.embedded {
            server.stop().await;
        }
    }
}

/// The start-up steps of every process that opens the database: pending migrations, then,
/// with `Seeding::IfEmpty`, the seed portfolio if the database holds no item yet. Says what
/// was seeded, if anything.
///
/// Safe when several instances start at once against one database: sqlx's migrator holds
/// a PostgreSQL advisory lock while it applies migrations, and the emptiness check and the
/// seeding run in one transaction under an advisory lock of their own
/// (`seed::load_if_empty`), so exactly one instance seeds and the others see its rows.
pub async fn prepare(
    pool: &PgPool,
    seeding: Seeding,
) -> anyhow::Result<Option<crate::store::seed::SeedReport>> {
    MIGRATOR
        .run(pool)
        .await
        .context("applying database migrations")?;
    if seeding == Seeding::Never {
        return Ok(None);
    }
    let report = crate::store::seed::load_if_empty(pool)
        .await
        .context("seeding the empty database")?;
    if let Some(report) = &report {
        tracing::info!("first start: {report}");
    }
    Ok(report)
}

/// Connections per pool unless `DATABASE_POOL_SIZE` says otherwise.
pub const DEFAULT_POOL_SIZE: u32 = 16;

/// A pool with timeouts short enough that a dead database answers 503, not a hang.
pub async fn connect(url: &str) -> anyhow::Result<PgPool> {
    connect_with(parse_url(url)?).await
}

fn parse_url(url: &str) -> anyhow::Result<PgConnectOptions> {
    url.parse().with_context(|| {
        format!(
            "DATABASE_URL is not a valid PostgreSQL URL: {}",
            redact(url)
        )
    })
}

pub async fn connect_with(options: PgConnectOptions) -> anyhow::Result<PgPool> {
    connect_sized(options, DEFAULT_POOL_SIZE).await
}

/// A pool of at most `size` connections.
pub async fn connect_sized(options: PgConnectOptions, size: u32) -> anyhow::Result<PgPool> {
    let target = format!(
        "{}/{}",
        options.get_socket().map_or_else(
            || options.get_host().to_string(),
            |s| s.display().to_string()
        ),
        options.get_database().unwrap_or("")
    );
    pool_options()
        .max_connections(size.max(1))
        .connect_with(options)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {target}"))
}

pub fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(DEFAULT_POOL_SIZE)
        .acquire_timeout(Duration::from_secs(5))
}

pub async fn create_database_if_missing(pool: &PgPool, name: &str) -> anyhow::Result<()> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(pool)
            .await?;
    if !exists {
        // Identifiers cannot be bound; `name` is one of our own constants or test names.
        let statement = format!("CREATE DATABASE \"{}\"", name.replace('"', ""));
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(pool)
            .await
            .with_context(|| format!("creating database {name}"))?;
        tracing::info!(database = name, "created database");
    }
    Ok(())
}

/// Hides a password in a connection URL before it is logged.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The embedded cluster, run on a dedicated thread: PostgreSQL is told to shut down when
/// the thread that started it ends (so a `kill -9` of the app stops it too), and that must
/// be a thread that lives as long as the server should.
pub struct EmbeddedServer {
    socket_dir: PathBuf,
    stop: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl EmbeddedServer {
    pub async fn launch(data_dir: PathBuf) -> anyhow::Result<EmbeddedServer> {
        tokio::task::spawn_blocking(move || Self::launch_blocking(data_dir))
            .await
            .context("the embedded PostgreSQL launcher stopped unexpectedly")?
    }

    fn launch_blocking(data_dir: PathBuf) -> anyhow::Result<EmbeddedServer> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("embedded-postgres".into())
            .spawn(move || match embedded::EmbeddedPostgres::start(&data_dir) {
                Ok(mut server) => {
                    if ready_tx.send(Ok(server.socket_dir().to_path_buf())).is_ok() {
                        // Wait for stop() or for the sender to be dropped.
                        let _ = stop_rx.recv();
                    }
                    if let Err(e) = server.stop() {
                        tracing::warn!("stopping embedded PostgreSQL: {e}");
                    }
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .context("spawning the embedded PostgreSQL thread")?;
        let socket_dir = ready_rx
            .recv()
            .context("the embedded PostgreSQL thread ended before the server was ready")??;
        Ok(EmbeddedServer {
            socket_dir,
            stop: stop_tx,
            thread,
        })
    }

    /// URL of database `db` over the cluster's Unix socket (for DATABASE_URL and psql).
    pub fn url_for(&self, db: &str) -> String {
        embedded::build_connection_url(&self.socket_dir, db)
    }

    /// How to reach database `db` over the cluster's Unix socket.
    pub fn options_for(&self, db: &str) -> PgConnectOptions {
        Self::socket_options(&self.socket_dir, db)
    }

    fn socket_options(socket_dir: &std::path::Path, db: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(socket_dir)
            .username("postgres")
            .database(db)
    }

    /// Fast shutdown of the cluster; waits until PostgreSQL has exited.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            super::redact("postgres:///db?host=/x"),
            "postgres:///db?host=/x"
        );
    }
}
