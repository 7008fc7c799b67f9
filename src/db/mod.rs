//! The connection pool, migrations, and the embedded PostgreSQL server (started with the
//! `embedded-pg` crate, `crates/embedded-pg`).

use crate::config::DbSettings;
use anyhow::Context;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
    /// Connects to `DATABASE_URL`, or when it is not set to the embedded cluster of
    /// `DATA_DIR` (see [`open_embedded`]), and applies pending migrations.
    pub async fn open(settings: &DbSettings, seeding: Seeding) -> anyhow::Result<Database> {
        let database = Database::connect(settings).await?;
        // An external database is never seeded implicitly: it is seeded on purpose, with
        // `portfolio-tracker seed` (see the README).
        let seeding = if database.embedded.is_some() {
            seeding
        } else {
            Seeding::Never
        };
        if let Err(e) = prepare(&database.pool, seeding).await {
            database.close().await;
            return Err(e);
        }
        Ok(database)
    }

    /// Connects as [`Database::open`] does (the embedded cluster is started, or another
    /// process's server used, and the database created if missing) but applies no
    /// migration and loads nothing: `backup` and `restore` see the database as it is.
    pub async fn connect(settings: &DbSettings) -> anyhow::Result<Database> {
        let (pool, embedded) = match &settings.database_url {
            Some(url) => (
                connect_sized(parse_url(url)?, settings.pool_size).await?,
                None,
            ),
            None => open_embedded(settings).await?,
        };
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

/// How long a one-shot command waits for the embedded server that another process is
/// starting for the same `DATA_DIR` (its first start includes `initdb`).
const SHARE_WAIT: Duration = Duration::from_secs(120);

/// The embedded cluster of `DATA_DIR`: started by this process, which then holds the
/// data directory's lock until it stops the server. When another process holds it:
/// `serve` (`own_embedded_server`) stops with the launcher's message naming that
/// process; a one-shot command uses that process's server once it accepts connections
/// (e.g. `user add` while `serve` runs in another terminal).
async fn open_embedded(settings: &DbSettings) -> anyhow::Result<(PgPool, Option<EmbeddedServer>)> {
    let options = embedded_pg::Options::new(&settings.data_dir);
    let deadline = Instant::now() + SHARE_WAIT;
    let mut waiting = false;
    loop {
        let error = match EmbeddedServer::start(options.clone()).await {
            Ok(server) => {
                let pool = async {
                    let admin = connect_with(server.options_for("postgres")).await?;
                    let created = create_database_if_missing(&admin, EMBEDDED_DATABASE).await;
                    admin.close().await;
                    created?;
                    connect_sized(server.options_for(EMBEDDED_DATABASE), settings.pool_size).await
                }
                .await;
                return match pool {
                    Ok(pool) => Ok((pool, Some(server))),
                    Err(e) => {
                        server.stop().await;
                        Err(e)
                    }
                };
            }
            Err(e) => e,
        };
        let locked = matches!(
            error.downcast_ref::<embedded_pg::Error>(),
            Some(embedded_pg::Error::DataDirLocked { .. })
        );
        if !locked || settings.own_embedded_server {
            return Err(error);
        }
        if let Some(running) = options.running_server() {
            tracing::info!(
                pid = running.pid,
                "using the embedded PostgreSQL that another process runs for this DATA_DIR in {}",
                running.socket_dir.display()
            );
            let admin = connect_with(socket_options(&running.socket_dir, "postgres")).await?;
            let created = create_database_if_missing(&admin, EMBEDDED_DATABASE).await;
            admin.close().await;
            created?;
            let pool = connect_sized(
                socket_options(&running.socket_dir, EMBEDDED_DATABASE),
                settings.pool_size,
            )
            .await?;
            return Ok((pool, None));
        }
        if Instant::now() >= deadline {
            return Err(error).with_context(|| {
                format!(
                    "waited {} s for that process's server to accept connections",
                    SHARE_WAIT.as_secs()
                )
            });
        }
        if !waiting {
            waiting = true;
            tracing::info!("{error:#}; waiting for its server to accept connections");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
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

/// How long a request waits for a database connection before it is answered 503: a
/// server that has gone silent (not refusing, just not answering) is an error page
/// within 5 s, as is a pool exhausted for that long.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(4);

pub fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(DEFAULT_POOL_SIZE)
        .acquire_timeout(ACQUIRE_TIMEOUT)
}

pub async fn create_database_if_missing(pool: &PgPool, name: &str) -> anyhow::Result<()> {
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS "exists!""#,
        name
    )
    .fetch_one(pool)
    .await?;
    if !exists {
        // Identifiers cannot be bound, so this is the one statement the query macros do not
        // check (its text is known only at run time); `name` is one of our own constants
        // or test names, and loses any quote.
        let statement = format!("CREATE DATABASE \"{}\"", name.replace('"', ""));
        match sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(pool)
            .await
        {
            Ok(_) => tracing::info!(database = name, "created database"),
            // 42P04 duplicate_database: another process created it since we looked.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(e) => return Err(e).with_context(|| format!("creating database {name}")),
        }
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
    /// Starts the cluster of `data_dir`; fails (naming the holder) if another process
    /// runs it.
    pub async fn launch(data_dir: PathBuf) -> anyhow::Result<EmbeddedServer> {
        Self::start(embedded_pg::Options::new(data_dir)).await
    }

    async fn start(options: embedded_pg::Options) -> anyhow::Result<EmbeddedServer> {
        tokio::task::spawn_blocking(move || Self::launch_blocking(options))
            .await
            .context("the embedded PostgreSQL launcher stopped unexpectedly")?
    }

    fn launch_blocking(options: embedded_pg::Options) -> anyhow::Result<EmbeddedServer> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("embedded-postgres".into())
            .spawn(move || match options.start() {
                Ok(mut server) => {
                    if ready_tx.send(Ok(server.socket_dir().to_path_buf())).is_ok() {
                        supervise(&options, server, &stop_rx);
                    } else if let Err(e) = server.stop() {
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
        embedded_pg::connection_url(&self.socket_dir, db)
    }

    /// How to reach database `db` over the cluster's Unix socket.
    pub fn options_for(&self, db: &str) -> PgConnectOptions {
        socket_options(&self.socket_dir, db)
    }

    /// Fast shutdown of the cluster; waits until PostgreSQL has exited.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// How often the supervisor looks whether the postmaster still runs.
const SUPERVISE_POLL: Duration = Duration::from_millis(500);
/// The wait before the first try to start a cluster that exited, doubled after each
/// failed try up to [`RESTART_WAIT_MAX`].
const RESTART_WAIT: Duration = Duration::from_secs(1);
const RESTART_WAIT_MAX: Duration = Duration::from_secs(30);

/// Runs the cluster until `stop` says so (or its sender is dropped). When the postmaster
/// exits on its own (someone ran `pg_ctl stop`, the OOM killer took it) it is started
/// again, on this same thread (see `EmbeddedServer`): after 1 s, then 2, 4 … 30 s between
/// failed tries. Meanwhile the pool's connections fail and pages answer 503; the socket
/// stays where it was, so the pool reconnects by itself once the server is back.
fn supervise(
    options: &embedded_pg::Options,
    server: embedded_pg::EmbeddedPostgres,
    stop: &mpsc::Receiver<()>,
) {
    let mut running = Some(server);
    let mut wait = RESTART_WAIT;
    loop {
        let pause = if running.is_some() {
            SUPERVISE_POLL
        } else {
            wait
        };
        match stop.recv_timeout(pause) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        match running.as_mut() {
            Some(server) => match server.exited() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    tracing::error!(
                        %status,
                        log = %server.log_file().display(),
                        "embedded PostgreSQL exited unexpectedly; starting it again in {} s",
                        wait.as_secs()
                    );
                    running = None;
                }
                Err(e) => tracing::warn!("checking on embedded PostgreSQL: {e}"),
            },
            None => match options.start() {
                Ok(server) => {
                    tracing::warn!(pid = server.pid(), "embedded PostgreSQL restarted");
                    running = Some(server);
                    wait = RESTART_WAIT;
                }
                Err(e) => {
                    wait = (wait * 2).min(RESTART_WAIT_MAX);
                    tracing::error!(
                        "embedded PostgreSQL did not start again ({e}); next try in {} s",
                        wait.as_secs()
                    );
                }
            },
        }
    }
    if let Some(mut server) = running
        && let Err(e) = server.stop()
    {
        tracing::warn!("stopping embedded PostgreSQL: {e}");
    }
}

/// Database `db` of an embedded cluster whose socket is in `socket_dir`.
fn socket_options(socket_dir: &Path, db: &str) -> PgConnectOptions {
    PgConnectOptions::new()
        .socket(socket_dir)
        .username(embedded_pg::SUPERUSER)
        .database(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data directory in the temporary directory, removed with its cluster (as root,
    /// the one `CLUSTER_LOCATION` names) when the test ends, however it ends.
    struct TempDataDir(PathBuf);

    impl Drop for TempDataDir {
        fn drop(&mut self) {
            if let Ok(text) = std::fs::read_to_string(self.0.join("CLUSTER_LOCATION"))
                && let Some(cluster) = text.lines().nth(1)
                && cluster.starts_with(embedded_pg::ROOT_CLUSTER_BASE)
            {
                let _ = std::fs::remove_dir_all(cluster);
            }
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_second_serve_is_refused_and_commands_use_the_running_server() {
        let dir =
            TempDataDir(std::env::temp_dir().join(format!("pt-db-open-{}", std::process::id())));
        let serve = DbSettings {
            database_url: None,
            data_dir: dir.0.clone(),
            pool_size: 2,
            own_embedded_server: true,
        };
        let first = Database::open(&serve, Seeding::Never)
            .await
            .expect("the first serve starts the embedded server");
        assert!(first.embedded.is_some());

        let refused = Database::open(&serve, Seeding::Never).await;
        let message = format!("{:#}", refused.err().expect("a second serve is refused"));
        assert!(
            message.contains(&format!("in use by process {}", std::process::id())),
            "names the process that runs the server: {message}"
        );

        let command = DbSettings {
            own_embedded_server: false,
            ..serve.clone()
        };
        let shared = Database::open(&command, Seeding::Never)
            .await
            .expect("a command uses the running server");
        assert!(shared.embedded.is_none(), "it starts no server of its own");
        let one = sqlx::query_scalar!(r#"SELECT 1 AS "one!""#)
            .fetch_one(&shared.pool)
            .await
            .unwrap();
        assert_eq!(one, 1);
        shared.close().await;
        first.close().await;

        // Stopped and unlocked: the next serve starts again.
        Database::open(&serve, Seeding::Never)
            .await
            .expect("a serve after the first one stopped")
            .close()
            .await;
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres:///db?host=/x"), "postgres:///db?host=/x");
    }
}
