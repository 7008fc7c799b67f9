//! An "embedded" PostgreSQL server: a private PostgreSQL cluster that a program runs as
//! its own child process, much like an embedded database, when it has no database
//! server to connect to.
//!
//! [`EmbeddedPostgres::start`] (or [`Options::start`]) locks the data directory, finds
//! the server binaries, creates the cluster on first use (`initdb`), starts `postgres`
//! listening only on a Unix socket inside the cluster directory (no TCP port), and waits
//! until it accepts connections. [`EmbeddedPostgres::stop`] (also run on drop) performs a
//! fast shutdown and releases the lock. The cluster holds only the default databases:
//! connect to `postgres` and `CREATE DATABASE` what the program needs.
//!
//! ```no_run
//! let pg = embedded_pg::EmbeddedPostgres::start(std::path::Path::new("./data"))?;
//! println!("psql {}", pg.connection_url("postgres"));
//! # Ok::<(), embedded_pg::Error>(())
//! ```
//!
//! The launcher runs on Linux only. Elsewhere the crate builds, and starting a server
//! returns [`Error::Unsupported`], whose message tells the user to set `DATABASE_URL`.
//!
//! # Layout
//!
//! * Ordinary user: the cluster lives in `<data_dir>/pg`, and the socket
//!   `<data_dir>/pg/.s.PGSQL.5432` sits next to it.
//! * Root: PostgreSQL refuses to run as root, so `initdb` and `postgres` run as the
//!   `postgres` OS user, and the cluster lives where that user can reach it:
//!   `/var/lib/portfolio-tracker/<name>-<hash>`, where `<name>` is the data
//!   directory's last path component and `<hash>` a stable FNV-1a 64 hash of its
//!   canonical path. `<data_dir>/CLUSTER_LOCATION` records where that is.
//!
//! The server log is `<cluster_dir>/server.log`; the lock is `<data_dir>/embedded-pg.lock`.
//!
//! # One server per data directory
//!
//! The process that starts the server holds an exclusive `flock` on
//! `<data_dir>/embedded-pg.lock` until the server has stopped, and writes its pid into
//! it. A second start on the same data directory fails with [`Error::DataDirLocked`],
//! which names the holder's pid and command line (or, with
//! [`Options::wait_for_lock`], waits for the lock), so two first starts never run
//! `initdb` together and no process ever starts a server that another one would stop
//! under it. A short-lived tool that only needs a connection can instead use the running
//! server: [`Options::running_server`].
//!
//! # Files owned by someone else
//!
//! As root, the launcher works in directories that another user owns: the cluster
//! directory belongs to `postgres`, and `DATA_DIR` may belong to anyone. Every file it
//! opens there (`server.log`, `PG_VERSION`, `postmaster.pid`, `CLUSTER_LOCATION`, the
//! lock file) is opened without following symbolic links and without blocking on a FIFO,
//! and must be a regular file with a single link; otherwise the start fails with
//! [`Error::UnsafeFile`]. Root gives only the files and directories it has just created
//! to `postgres`, never an existing one, and `PG_VERSION` must hold a version number
//! ([`Error::BadPgVersion`]).
//!
//! # Giving up root
//!
//! A program started as root needs root only to start its server (and whatever else it
//! sets up). Then [`become_server_user`] makes it the `postgres` OS user for good; the
//! server runs on, and [`EmbeddedPostgres::restart`] starts it again as before: it reuses
//! the cluster, binaries and layout of the first start, keeps the data directory's lock
//! (opened while root), and touches only the cluster's files, which are that user's.
//!
//! # Threading (important)
//!
//! The postmaster is started with `PR_SET_PDEATHSIG = SIGINT`, so that if this
//! process dies (even by `kill -9`) PostgreSQL performs a fast shutdown by itself.
//! Linux delivers that signal when the **thread** that spawned the child exits,
//! not when the process exits. `start` must therefore be called on a thread that
//! lives as long as the server should run — the main thread, or a dedicated
//! `std::thread` that calls `start`, waits for the shutdown request, then calls
//! `stop`. Do **not** call it from `tokio::task::spawn_blocking`: the blocking
//! pool reaps idle threads (after 10 s by default), which would shut the database
//! down under the running program.

#![warn(missing_docs)]

mod error;

#[cfg(target_os = "linux")]
mod binaries;
#[cfg(target_os = "linux")]
mod files;
#[cfg(target_os = "linux")]
mod initdb;
#[cfg(target_os = "linux")]
mod layout;
#[cfg(target_os = "linux")]
mod lock;
#[cfg(target_os = "linux")]
mod privileges;
#[cfg(target_os = "linux")]
mod server;
#[cfg(target_os = "linux")]
use server as imp;
#[cfg(all(test, target_os = "linux"))]
mod test_util;

#[cfg(not(target_os = "linux"))]
mod unsupported;
#[cfg(not(target_os = "linux"))]
use unsupported as imp;

pub use error::{Error, LockHolder};

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The database superuser that `initdb` creates, and the user of [`connection_url`].
/// Authentication over the socket is `trust`; the socket file is only accessible to the
/// server's OS user (and root).
pub const SUPERUSER: &str = "postgres";

/// Where clusters live when the launcher runs as root.
pub const ROOT_CLUSTER_BASE: &str = "/var/lib/portfolio-tracker";

/// How to start (or find) the embedded server of one data directory.
#[derive(Debug, Clone)]
// Elsewhere than on Linux nothing reads them: no server starts.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub struct Options {
    pub(crate) data_dir: PathBuf,
    pub(crate) bindir: Option<PathBuf>,
    pub(crate) lock_wait: Duration,
    /// [`ROOT_CLUSTER_BASE`], or a temporary directory in tests run as root.
    pub(crate) root_cluster_base: PathBuf,
}

impl Options {
    /// The server of `data_dir`, with the binaries found on PATH, via `pg_config`, or
    /// under `/usr/lib/postgresql/*/bin` (newest first), failing at once if another
    /// process holds the data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Options {
        Options {
            data_dir: data_dir.into(),
            bindir: None,
            lock_wait: Duration::ZERO,
            root_cluster_base: PathBuf::from(ROOT_CLUSTER_BASE),
        }
    }

    /// Uses the `initdb` and `postgres` in `bindir` instead of searching for them.
    pub fn bindir(mut self, bindir: impl Into<PathBuf>) -> Options {
        self.bindir = Some(bindir.into());
        self
    }

    /// Waits up to `wait` for another process to release the data directory before
    /// failing with [`Error::DataDirLocked`] (default: no wait).
    pub fn wait_for_lock(mut self, wait: Duration) -> Options {
        self.lock_wait = wait;
        self
    }

    /// Locks the data directory (created if missing), creates the cluster on first use,
    /// starts the server and waits until it accepts connections.
    ///
    /// This blocks (first start incl. `initdb` ~0.5 s, later starts ~0.1 s on a fast
    /// disk), so call it off the async runtime, on a thread that lives as long as the
    /// server should (see the crate docs on threading).
    pub fn start(&self) -> Result<EmbeddedPostgres, Error> {
        imp::start(self).map(|inner| EmbeddedPostgres { inner })
    }

    /// PostgreSQL program `name` (such as `pg_dump` or `pg_restore`) of the installation
    /// this data directory's server runs from: the directory [`Options::start`] takes
    /// `initdb` and `postgres` from (given with [`Options::bindir`], or searched for),
    /// switched like them to the binaries of an existing cluster's major version. Fails
    /// with [`Error::ProgramNotFound`] when that directory does not have it.
    ///
    /// Run it as this process (root included: the server's socket lets root and the
    /// server's OS user in) and connect as [`SUPERUSER`] over [`RunningServer::socket_dir`]
    /// or [`EmbeddedPostgres::socket_dir`]; authentication over the socket is `trust`.
    pub fn program(&self, name: &str) -> Result<PathBuf, Error> {
        imp::program(self, name)
    }

    /// The server that another process runs for this data directory, if it is up and
    /// accepting connections. Lets short-lived tools work beside a running server
    /// instead of starting one of their own.
    pub fn running_server(&self) -> Option<RunningServer> {
        imp::running_server(self)
    }
}

/// A running private PostgreSQL server, a child process of this process.
///
/// Dropping it stops the server (see [`EmbeddedPostgres::stop`]).
#[derive(Debug)]
pub struct EmbeddedPostgres {
    inner: imp::Server,
}

impl EmbeddedPostgres {
    /// [`Options::new(data_dir).start()`](Options::start).
    pub fn start(data_dir: &Path) -> Result<EmbeddedPostgres, Error> {
        Options::new(data_dir).start()
    }

    /// Process id of the postmaster.
    pub fn pid(&self) -> u32 {
        self.inner.pid()
    }

    /// Directory that holds the Unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.inner.socket_dir()
    }

    /// Where the cluster files are: `<data_dir>/pg` for an ordinary user,
    /// `/var/lib/portfolio-tracker/<name>-<hash>` as root (see the crate docs).
    pub fn cluster_dir(&self) -> &Path {
        self.inner.cluster_dir()
    }

    /// The server log, `<cluster_dir>/server.log`.
    pub fn log_file(&self) -> &Path {
        self.inner.log_file()
    }

    /// A libpq/sqlx URL for database `db` over the Unix socket as [`SUPERUSER`].
    pub fn connection_url(&self, db: &str) -> String {
        connection_url(self.socket_dir(), db)
    }

    /// Whether the postmaster has exited on its own (stopped by someone else, or
    /// killed), with its status; `None` while it runs. The data directory stays locked
    /// by this process, and [`EmbeddedPostgres::restart`] starts the cluster again:
    /// this is how a program supervises its server.
    pub fn exited(&mut self) -> Result<Option<std::process::ExitStatus>, Error> {
        self.inner.exited()
    }

    /// Starts the cluster again after its postmaster exited (see
    /// [`EmbeddedPostgres::exited`]) or was stopped, and waits until it accepts
    /// connections; does nothing while it runs. It reuses what the first start found
    /// (the cluster, binaries, layout, the user it runs as) and runs no `initdb`, so it
    /// works after a process that started as root has become the server's OS user
    /// ([`become_server_user`]). Call it on the thread that called `start` (see the
    /// crate docs on threading).
    pub fn restart(&mut self) -> Result<(), Error> {
        self.inner.restart()
    }

    /// Fast shutdown (SIGINT to the postmaster), waits for it to exit (up to 30 s, then
    /// SIGQUIT), then releases the data directory. Idempotent.
    ///
    /// If SIGQUIT does not help within 10 s either, the postmaster is killed
    /// (SIGKILL) and [`Error::StopTimeout`] is returned.
    pub fn stop(&mut self) -> Result<(), Error> {
        self.inner.stop()
    }
}

/// The unprivileged OS user that the server runs as when the launcher runs as root (the
/// `postgres` user): its name and ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUser {
    /// `postgres`.
    pub name: String,
    /// Its user id.
    pub uid: u32,
    /// Its primary group id.
    pub gid: u32,
}

/// Whether this process runs as root (effective uid 0); always false where the launcher
/// is not supported (elsewhere than on Linux).
pub fn running_as_root() -> bool {
    imp::running_as_root()
}

/// The OS user the server runs as when this process runs as root: `Ok(None)` when there
/// is no `postgres` user.
pub fn server_os_user() -> Result<Option<ServerUser>, Error> {
    imp::server_os_user()
}

/// Makes this root process, every thread of it, the server's OS user for good: no
/// supplementary groups but its own, and its group and uid as the real, effective and
/// saved ids, so root cannot be taken back. Checks that no thread is left with uid 0.
///
/// For a program that needs root only to start: once its server runs (and, say, its
/// listening socket is bound), it gives root up. The server keeps running as before,
/// and [`EmbeddedPostgres::restart`] still starts it again (as that user, whose files
/// the cluster's are); whatever the program writes afterwards must be writable by that
/// user.
pub fn become_server_user(user: &ServerUser) -> Result<(), Error> {
    imp::become_server_user(user)
}

/// A server that another process started for a data directory
/// (see [`Options::running_server`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningServer {
    /// Process id of its postmaster.
    pub pid: u32,
    /// Directory that holds its Unix socket.
    pub socket_dir: PathBuf,
}

impl RunningServer {
    /// A libpq/sqlx URL for database `db` over its Unix socket as [`SUPERUSER`].
    pub fn connection_url(&self, db: &str) -> String {
        connection_url(&self.socket_dir, db)
    }
}

/// PostgreSQL program `name` (such as `pg_dump`) for a server this process does not run,
/// e.g. one named by a connection URL: the first on PATH, then the one in
/// `pg_config --bindir`, then under `/usr/lib/postgresql/*/bin`, newest version first.
/// For the embedded server of a data directory use [`Options::program`], which takes the
/// server's own installation.
pub fn find_program(name: &str) -> Result<PathBuf, Error> {
    imp::find_program(name)
}

/// `postgres://postgres@localhost/<db>?host=<socket_dir>`, both parts percent-encoded:
/// database `db` over the Unix socket in `socket_dir`, as [`SUPERUSER`].
pub fn connection_url(socket_dir: &Path, db: &str) -> String {
    connection_url_as(socket_dir, SUPERUSER, db)
}

/// [`connection_url`] as database role `user` (the socket trusts whoever can open it, so
/// a role name is enough).
pub fn connection_url_as(socket_dir: &Path, user: &str, db: &str) -> String {
    format!(
        "postgres://{}@localhost/{}?host={}",
        percent_encode(user.as_bytes()),
        percent_encode(db.as_bytes()),
        percent_encode(path_bytes(socket_dir).as_ref())
    )
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> std::borrow::Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt;
    std::borrow::Cow::Borrowed(path.as_os_str().as_bytes())
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> std::borrow::Cow<'_, [u8]> {
    std::borrow::Cow::Owned(path.to_string_lossy().into_owned().into_bytes())
}

/// Percent-encodes everything except RFC 3986 unreserved characters.
fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_url_encoding() {
        let url = connection_url(
            Path::new("/var/lib/portfolio-tracker/data-0123"),
            "portfolio",
        );
        assert_eq!(
            url,
            "postgres://postgres@localhost/portfolio?host=%2Fvar%2Flib%2Fportfolio-tracker%2Fdata-0123"
        );
        let odd = connection_url(Path::new("/tmp/a b+c&d"), "my db");
        assert_eq!(
            odd,
            "postgres://postgres@localhost/my%20db?host=%2Ftmp%2Fa%20b%2Bc%26d"
        );
        let running = RunningServer {
            pid: 1,
            socket_dir: PathBuf::from("/x"),
        };
        assert_eq!(
            running.connection_url("db"),
            "postgres://postgres@localhost/db?host=%2Fx"
        );
        assert_eq!(
            connection_url_as(Path::new("/x"), "portfolio_app", "db"),
            "postgres://portfolio_app@localhost/db?host=%2Fx"
        );
    }
}
