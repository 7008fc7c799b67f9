//! The connection pools, migrations, the database roles (`roles`), and the embedded
//! PostgreSQL server (started with the `embedded-pg` crate, `crates/embedded-pg`).

pub mod roles;

use crate::config::DbSettings;
use anyhow::Context;
use sqlx::PgPool;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use roles::APP_ROLE;

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

/// Connections of the owner's pool: the migrator's and the grants' (one at a time).
const OWNER_POOL_SIZE: u32 = 2;

/// An open, migrated database, and the embedded server behind it if there is one.
pub struct Database {
    /// The application role's pool (see [`roles`]): everything but the migrations.
    pub pool: PgPool,
    /// How to reach the database as the owner of its tables; None when `DATABASE_URL`
    /// alone is set (its role is the owner then).
    owner: Option<PgConnectOptions>,
    embedded: Option<EmbeddedServer>,
}

impl Database {
    /// Connects to `DATABASE_URL` (and `DATABASE_OWNER_URL`), or when it is not set to the
    /// embedded cluster of `DATA_DIR` (see [`open_embedded`]); applies pending migrations
    /// as the owner and grants the application role its rights ([`prepare`]). The owner's
    /// connections are closed again: only [`Database::pool`], the application role's,
    /// stays open.
    pub async fn open(settings: &DbSettings, seeding: Seeding) -> anyhow::Result<Database> {
        let (owner, pool, embedded) = match &settings.database_url {
            Some(url) => {
                let owner = match &settings.database_owner_url {
                    Some(owner) => Some(parse_url(owner, "DATABASE_OWNER_URL")?),
                    None => None,
                };
                let pool =
                    connect_sized(parse_url(url, "DATABASE_URL")?, settings.pool_size).await?;
                (owner, pool, None)
            }
            None => {
                if settings.database_owner_url.is_some() {
                    tracing::warn!(
                        "DATABASE_OWNER_URL is ignored without DATABASE_URL: the embedded \
                         database has an owner and an application role of its own"
                    );
                }
                let (owner, pool, server) = open_embedded(settings).await?;
                (Some(owner), pool, server)
            }
        };
        // An external database is never seeded implicitly: it is seeded on purpose, with
        // `portfolio-tracker seed` (see the README).
        let seeding = if embedded.is_some() {
            seeding
        } else {
            Seeding::Never
        };
        let prepared = async {
            let owner_pool = match &owner {
                Some(options) => Some(connect_sized(options.clone(), OWNER_POOL_SIZE).await?),
                None => None,
            };
            let prepared = prepare(owner_pool.as_ref(), &pool, seeding).await;
            if let Some(owner_pool) = owner_pool {
                owner_pool.close().await;
            }
            prepared
        }
        .await;
        if let Err(e) = prepared {
            pool.close().await;
            if let Some(server) = embedded {
                server.stop().await;
            }
            return Err(e);
        }
        Ok(Database {
            pool,
            owner,
            embedded,
        })
    }

    /// A new pool connected as the owner of the tables, for the maintenance that the
    /// application role may not do (`ANALYZE`); None when `DATABASE_URL` alone is set (then
    /// [`Database::pool`] is the owner's). Close it after use.
    pub async fn owner_pool(&self) -> anyhow::Result<Option<PgPool>> {
        match &self.owner {
            Some(options) => Ok(Some(connect_sized(options.clone(), OWNER_POOL_SIZE).await?)),
            None => Ok(None),
        }
    }

    /// Connects as the owner of the tables (the embedded cluster is started, or another
    /// process's server used, and the database created if missing) but applies no
    /// migration and loads nothing: `backup` and `restore` see the database as it is,
    /// with the rights to read and replace all of it. The owner is `DATABASE_OWNER_URL`'s
    /// role, else `DATABASE_URL`'s; in the embedded cluster, its superuser.
    pub async fn connect_as_owner(settings: &DbSettings) -> anyhow::Result<Database> {
        let (pool, embedded) = match (&settings.database_owner_url, &settings.database_url) {
            (Some(owner), Some(_)) => (
                connect_sized(parse_url(owner, "DATABASE_OWNER_URL")?, OWNER_POOL_SIZE).await?,
                None,
            ),
            (None, Some(url)) => (
                connect_sized(parse_url(url, "DATABASE_URL")?, OWNER_POOL_SIZE).await?,
                None,
            ),
            (_, None) => {
                let (owner, app_pool, server) = open_embedded(settings).await?;
                app_pool.close().await;
                match connect_sized(owner, OWNER_POOL_SIZE).await {
                    Ok(pool) => (pool, server),
                    Err(e) => {
                        if let Some(server) = server {
                            server.stop().await;
                        }
                        return Err(e);
                    }
                }
            }
        };
        Ok(Database {
            pool,
            owner: None,
            embedded,
        })
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
///
/// Returns how to reach the database as its owner (the cluster's superuser), and the
/// pool of the application role ([`APP_ROLE`], created here if the cluster has none yet).
async fn open_embedded(
    settings: &DbSettings,
) -> anyhow::Result<(PgConnectOptions, PgPool, Option<EmbeddedServer>)> {
    let options = embedded_pg::Options::new(&settings.data_dir);
    let deadline = Instant::now() + SHARE_WAIT;
    let mut waiting = false;
    loop {
        let error = match EmbeddedServer::start(options.clone()).await {
            Ok(server) => {
                return match embedded_pools(&server.socket_dir, settings.pool_size).await {
                    Ok((owner, pool)) => Ok((owner, pool, Some(server))),
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
            let (owner, pool) = embedded_pools(&running.socket_dir, settings.pool_size).await?;
            return Ok((owner, pool, None));
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

/// The application database of the embedded cluster whose socket is in `socket_dir`
/// (created if missing): how to reach it as the owner, and a pool of `size` connections
/// as the application role (created if missing).
async fn embedded_pools(
    socket_dir: &Path,
    size: u32,
) -> anyhow::Result<(PgConnectOptions, PgPool)> {
    let admin = connect_with(socket_options(socket_dir, "postgres")).await?;
    let ready = async {
        create_database_if_missing(&admin, EMBEDDED_DATABASE).await?;
        roles::ensure_app_role(&admin).await
    }
    .await;
    admin.close().await;
    ready?;
    let app = connect_sized(
        socket_options(socket_dir, EMBEDDED_DATABASE).username(APP_ROLE),
        size,
    )
    .await?;
    Ok((socket_options(socket_dir, EMBEDDED_DATABASE), app))
}

/// The start-up steps of every process that opens the database: pending migrations, as
/// the owner (`owner`; when None, the application's own role, which then must own the
/// tables); the application role's rights ([`roles::grant_app_rights`], after every
/// migration run, so that tables a new migration adds get theirs); then, with
/// `Seeding::IfEmpty`, the seed portfolio if the database holds no item yet, loaded as
/// the application role. Says what was seeded, if anything. Warns when the application's
/// role can rewrite the audit trail ([`roles::excess_rights`]).
///
/// Safe when several instances start at once against one database: sqlx's migrator holds
/// a PostgreSQL advisory lock while it applies migrations, the grants take one of their
/// own, and the emptiness check and the seeding run in one transaction under a third
/// (`seed::load_if_empty`), so exactly one instance seeds and the others see its rows.
pub async fn prepare(
    owner: Option<&PgPool>,
    app: &PgPool,
    seeding: Seeding,
) -> anyhow::Result<Option<crate::store::seed::SeedReport>> {
    if let Err(e) = MIGRATOR.run(owner.unwrap_or(app)).await {
        let hint = if owner.is_none() && is_permission_error(&e) {
            ": DATABASE_URL's role may not change the schema; set DATABASE_OWNER_URL to \
             the same database as the owner of its tables (see the README)"
        } else {
            ""
        };
        return Err(anyhow::Error::new(e).context(format!("applying database migrations{hint}")));
    }
    if let Some(owner) = owner {
        roles::grant_app_rights(owner, app).await?;
    }
    let excess = roles::excess_rights(app).await?;
    if !excess.is_empty() {
        tracing::warn!(
            "the application's database role {}, so it could rewrite the audit trail: point \
             DATABASE_URL at a role of its own and DATABASE_OWNER_URL at the owner (see the \
             README, \"Least privilege in the database\")",
            excess.join(", ")
        );
    }
    if seeding == Seeding::Never {
        return Ok(None);
    }
    let report = crate::store::seed::load_if_empty(app)
        .await
        .context("seeding the empty database")?;
    if let Some(report) = &report {
        tracing::info!("first start: {report}");
    }
    Ok(report)
}

/// The database refused a migration for want of rights (`insufficient_privilege`).
fn is_permission_error(e: &MigrateError) -> bool {
    let source = match e {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => e,
        _ => return false,
    };
    source
        .as_database_error()
        .is_some_and(|db| db.code().as_deref() == Some("42501"))
}

/// Connections per pool unless `DATABASE_POOL_SIZE` says otherwise.
pub const DEFAULT_POOL_SIZE: u32 = 16;

/// A pool with timeouts short enough that a dead database answers 503, not a hang.
pub async fn connect(url: &str) -> anyhow::Result<PgPool> {
    connect_with(parse_url(url, "DATABASE_URL")?).await
}

/// Reads the URL of setting `setting` (for the message).
fn parse_url(url: &str, setting: &str) -> anyhow::Result<PgConnectOptions> {
    url.parse()
        .with_context(|| format!("{setting} is not a valid PostgreSQL URL: {}", redact(url)))
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
                        supervise(server, &stop_rx);
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

    /// URL of database `db` over the cluster's Unix socket as its superuser, the owner of
    /// the application's tables (for DATABASE_OWNER_URL and psql).
    pub fn url_for(&self, db: &str) -> String {
        embedded_pg::connection_url(&self.socket_dir, db)
    }

    /// URL of database `db` as database role `role` (for DATABASE_URL).
    pub fn url_as(&self, db: &str, role: &str) -> String {
        embedded_pg::connection_url_as(&self.socket_dir, role, db)
    }

    /// How to reach database `db` over the cluster's Unix socket as its superuser.
    pub fn options_for(&self, db: &str) -> PgConnectOptions {
        socket_options(&self.socket_dir, db)
    }

    /// How to reach database `db` as database role `role`.
    pub fn options_as(&self, db: &str, role: &str) -> PgConnectOptions {
        socket_options(&self.socket_dir, db).username(role)
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
/// stays where it was, so the pool reconnects by itself once the server is back. The
/// restart reuses what the first start found and keeps the data directory locked
/// throughout, so it works as well after `serve` has given up root (`web::server`).
fn supervise(mut server: embedded_pg::EmbeddedPostgres, stop: &mpsc::Receiver<()>) {
    let mut down = false;
    let mut wait = RESTART_WAIT;
    loop {
        let pause = if down { wait } else { SUPERVISE_POLL };
        match stop.recv_timeout(pause) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if !down {
            match server.exited() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    tracing::error!(
                        %status,
                        log = %server.log_file().display(),
                        "embedded PostgreSQL exited unexpectedly; starting it again in {} s",
                        wait.as_secs()
                    );
                    down = true;
                }
                Err(e) => tracing::warn!("checking on embedded PostgreSQL: {e}"),
            }
            continue;
        }
        match server.restart() {
            Ok(()) => {
                tracing::warn!(pid = server.pid(), "embedded PostgreSQL restarted");
                down = false;
                wait = RESTART_WAIT;
            }
            Err(e) => {
                wait = (wait * 2).min(RESTART_WAIT_MAX);
                tracing::error!(
                    "embedded PostgreSQL did not start again ({e}); next try in {} s",
                    wait.as_secs()
                );
            }
        }
    }
    if let Err(e) = server.stop() {
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
            database_owner_url: None,
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

    /// A data directory made by a version without the application role: one superuser,
    /// which owns the tables and which the app connected as. The next start upgrades it in
    /// place: the role is created and granted its rights, the tables stay the owner's.
    #[tokio::test(flavor = "multi_thread")]
    async fn an_existing_cluster_is_upgraded_to_the_application_role() {
        let dir =
            TempDataDir(std::env::temp_dir().join(format!("pt-db-upgrade-{}", std::process::id())));
        {
            let server = EmbeddedServer::launch(dir.0.clone()).await.expect("start");
            let admin = connect_with(server.options_for("postgres")).await.unwrap();
            create_database_if_missing(&admin, EMBEDDED_DATABASE)
                .await
                .unwrap();
            admin.close().await;
            let old = connect_with(server.options_for(EMBEDDED_DATABASE))
                .await
                .unwrap();
            MIGRATOR.run(&old).await.expect("migrate as the superuser");
            crate::store::seed::load(&old).await.expect("seed");
            sqlx::query(
                "INSERT INTO audit_log (actor_email, action, entity, summary)
                 VALUES ('old@example.org', 'update', 'item', 'from before the upgrade')",
            )
            .execute(&old)
            .await
            .unwrap();
            let role: Option<String> =
                sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE rolname = $1")
                    .bind(APP_ROLE)
                    .fetch_optional(&old)
                    .await
                    .unwrap();
            assert_eq!(role, None, "no application role yet");
            old.close().await;
            server.stop().await;
        }

        let settings = DbSettings {
            database_url: None,
            database_owner_url: None,
            data_dir: dir.0.clone(),
            pool_size: 2,
            own_embedded_server: true,
        };
        let database = Database::open(&settings, Seeding::IfEmpty)
            .await
            .expect("the new version starts on the old cluster");
        let pool = &database.pool;
        let user: String = sqlx::query_scalar("SELECT current_user::text")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(user, APP_ROLE);
        assert!(roles::excess_rights(pool).await.unwrap().is_empty());
        let old_rows: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE summary = 'from before the upgrade'",
        )
        .fetch_one(pool)
        .await
        .expect("the old trail is readable");
        assert_eq!(old_rows, 1);
        sqlx::query(
            "INSERT INTO audit_log (actor_email, action, entity, summary)
             VALUES ('new@example.org', 'update', 'item', 'after')",
        )
        .execute(pool)
        .await
        .expect("appendable");
        let items: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
            .fetch_one(pool)
            .await
            .unwrap();
        assert!(items > 0, "the seeded portfolio is there, not seeded again");
        for sql in [
            "UPDATE audit_log SET summary = 'rewritten'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "ALTER TABLE audit_log DISABLE TRIGGER ALL",
            "SET session_replication_role = replica",
        ] {
            let error = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(pool)
                .await
                .expect_err(sql);
            let code = error.as_database_error().and_then(|e| e.code());
            assert_eq!(code.as_deref(), Some("42501"), "{sql}: {error}");
        }
        let owner: String = sqlx::query_scalar(
            "SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = 'items'::regclass",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(owner, embedded_pg::SUPERUSER, "the tables stay the owner's");
        database.close().await;
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres:///db?host=/x"), "postgres:///db?host=/x");
    }
}
