//! An "embedded" PostgreSQL server: when no `DATABASE_URL` is configured, the app
//! runs its own private PostgreSQL cluster, much like an embedded database.
//!
//! [`EmbeddedPostgres::start`] finds the server binaries, creates the cluster on
//! first use (`initdb`), starts `postgres` as a direct child process listening
//! only on a Unix socket inside the cluster directory (no TCP), and waits until it
//! accepts connections. [`EmbeddedPostgres::stop`] (also run on drop) performs a
//! fast shutdown.
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
//! The server log is `<cluster_dir>/server.log`.
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
//! down under the running app.
//!
//! ```ignore
//! let (tx, rx) = std::sync::mpsc::channel::<()>();
//! let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
//! let db_thread = std::thread::Builder::new().name("embedded-pg".into()).spawn(move || {
//!     match EmbeddedPostgres::start(&data_dir) {
//!         Ok(mut pg) => {
//!             let _ = ready_tx.send(Ok(pg.connection_url("postgres")));
//!             let _ = rx.recv();        // wait for shutdown (or sender dropped)
//!             if let Err(e) = pg.stop() { tracing::error!("{e}"); }
//!         }
//!         Err(e) => { let _ = ready_tx.send(Err(e)); }
//!     }
//! })?;
//! ```
//!
//! The cluster only contains the default databases; connect to `postgres` and run
//! `CREATE DATABASE ...` if the app's database does not exist yet.

use std::ffi::{CStr, CString, OsStr};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Port number; with `listen_addresses = ''` it only names the socket file.
const PORT: u16 = 5432;
/// File name of the Unix socket inside the socket directory.
const SOCKET_FILE: &str = ".s.PGSQL.5432";
/// `sizeof(sockaddr_un.sun_path)` is 108 on Linux, including the trailing NUL;
/// PostgreSQL, libpq and std all reject longer paths.
const MAX_SOCKET_PATH_LEN: usize = 107;
/// Where clusters live when the app runs as root.
const ROOT_CLUSTER_BASE: &str = "/var/lib/portfolio-tracker";
/// Debian/Ubuntu layout of versioned server installations.
const VERSIONED_INSTALL_ROOT: &str = "/usr/lib/postgresql";
/// OS user that runs the server when we are root.
const SERVER_OS_USER: &str = "postgres";
/// Database superuser created by initdb.
const SUPERUSER: &str = "postgres";
/// Longest `<name>` part of the root cluster directory name.
const MAX_NAME_LEN: usize = 40;

const READY_POLL: Duration = Duration::from_millis(50);
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STALE_WAIT: Duration = Duration::from_secs(15);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const QUIT_TIMEOUT: Duration = Duration::from_secs(10);
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
const LOG_TAIL_LINES: usize = 30;

/// Errors from starting or stopping the embedded PostgreSQL server.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// Neither PATH, `pg_config --bindir` nor `/usr/lib/postgresql/*/bin` has `initdb` and `postgres`.
    #[error(
        "PostgreSQL server binaries (initdb, postgres) were not found on PATH, via `pg_config --bindir`, \
         or under /usr/lib/postgresql/*/bin. Install them (Debian/Ubuntu: `apt-get install postgresql`) \
         or set DATABASE_URL to use an existing server."
    )]
    NoServerBinaries,

    /// Running as root, but there is no `postgres` OS user to run the server as.
    #[error(
        "running as root, but there is no `postgres` OS user to run the embedded PostgreSQL server as \
         (PostgreSQL refuses to run as root). Create that user (Debian/Ubuntu: `apt-get install postgresql` \
         does), run portfolio-tracker as an ordinary user, or set DATABASE_URL to use an existing server."
    )]
    NoPostgresUser,

    /// Another live postmaster owns this cluster.
    #[error(
        "another portfolio-tracker or postgres (pid {pid}) is using {} (the cluster of DATA_DIR {}); \
         stop it or choose another DATA_DIR",
        cluster_dir.display(),
        data_dir.display()
    )]
    InUse {
        /// The data directory given to [`EmbeddedPostgres::start`].
        data_dir: PathBuf,
        /// The cluster directory that is in use.
        cluster_dir: PathBuf,
        /// Process id of the running postmaster.
        pid: i32,
    },

    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },

    /// A helper command (initdb) ran but failed.
    #[error("`{command}` failed ({status}); its output:\n{stderr}")]
    CommandFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: ExitStatus,
        /// Its standard output and standard error.
        stderr: String,
    },

    /// The cluster directory is non-empty but has no `PG_VERSION`.
    #[error(
        "{} is not empty but has no PG_VERSION file: an earlier `initdb` probably stopped half-way. \
         Nothing was deleted. Inspect that directory, then move it away or delete it so that a fresh \
         cluster can be created there (or choose another DATA_DIR).",
        cluster_dir.display()
    )]
    HalfInitialized {
        /// The cluster directory.
        cluster_dir: PathBuf,
    },

    /// The existing cluster was created by a different PostgreSQL major version.
    #[error(
        "the cluster in {} was created by PostgreSQL {cluster_version}, but the server binaries in {} \
         are PostgreSQL {server_version}. Install PostgreSQL {cluster_version} (Debian/Ubuntu: \
         `apt-get install postgresql-{cluster_version}`), upgrade the cluster with pg_upgrade, \
         or choose another DATA_DIR.",
        cluster_dir.display(),
        bindir.display()
    )]
    VersionMismatch {
        /// The cluster directory.
        cluster_dir: PathBuf,
        /// Contents of its `PG_VERSION`.
        cluster_version: String,
        /// The binaries that were found.
        bindir: PathBuf,
        /// Their major version.
        server_version: String,
    },

    /// `<socket_dir>/.s.PGSQL.5432` does not fit into `sockaddr_un.sun_path`.
    #[error(
        "the PostgreSQL socket path {} is {len} bytes long, but Unix socket paths are limited to \
         {max} bytes; choose a shorter DATA_DIR",
        socket_path.display()
    )]
    SocketPathTooLong {
        /// The socket path that would have been used.
        socket_path: PathBuf,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// The postmaster exited while we waited for it to become ready.
    #[error("PostgreSQL exited during startup ({status}); last lines of {}:\n{log_tail}", log_file.display())]
    ServerExited {
        /// Its exit status.
        status: ExitStatus,
        /// The server log.
        log_file: PathBuf,
        /// The last lines of the server log.
        log_tail: String,
    },

    /// The postmaster did not report "ready" in time (it has been stopped).
    #[error(
        "PostgreSQL did not become ready within {} s (see {}); last lines:\n{log_tail}",
        timeout.as_secs(),
        log_file.display()
    )]
    StartTimeout {
        /// The server log.
        log_file: PathBuf,
        /// The last lines of the server log.
        log_tail: String,
        /// How long we waited.
        timeout: Duration,
    },

    /// The postmaster ignored SIGINT and SIGQUIT and had to be killed.
    #[error(
        "PostgreSQL (pid {pid}) did not exit after SIGINT and SIGQUIT and was killed with SIGKILL; \
         see {}",
        log_file.display()
    )]
    StopTimeout {
        /// Process id of the postmaster.
        pid: u32,
        /// The server log.
        log_file: PathBuf,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> EmbeddedError {
    let context = context.into();
    move |source| EmbeddedError::Io { context, source }
}

/// A running private PostgreSQL server (a child process of this process).
///
/// Dropping it stops the server (see [`EmbeddedPostgres::stop`]).
#[derive(Debug)]
pub struct EmbeddedPostgres {
    child: Option<Child>,
    pid: u32,
    data_dir: PathBuf,
    cluster_dir: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
}

/// The unprivileged OS user the server runs as when we are root.
#[derive(Debug, Clone)]
struct RunAs {
    uid: libc::uid_t,
    gid: libc::gid_t,
    home: PathBuf,
}

impl EmbeddedPostgres {
    /// Finds binaries, creates the cluster on first use, starts the server, waits until it accepts connections.
    ///
    /// `data_dir` is created if missing. As an ordinary user the cluster lives in
    /// `<data_dir>/pg`; as root it lives in `/var/lib/portfolio-tracker/<name>-<hash>`
    /// and runs as the `postgres` OS user (see the module docs).
    ///
    /// This blocks (measured on the dev box: first start incl. `initdb` ~0.55 s,
    /// later starts ~0.06 s; slower disks take longer since initdb fsyncs), so call
    /// it off the async runtime.
    ///
    /// **Threading:** the server is told to shut down (SIGINT) when the *thread*
    /// that called `start` exits (`PR_SET_PDEATHSIG`). Call this from a thread that
    /// lives as long as the server should — the main thread or a dedicated
    /// `std::thread` — never from `tokio::task::spawn_blocking`, whose threads are
    /// reaped when idle and would take the database down with them.
    pub fn start(data_dir: &Path) -> Result<Self, EmbeddedError> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let run_as = if unsafe { libc::geteuid() } == 0 {
            Some(lookup_user(SERVER_OS_USER)?.ok_or(EmbeddedError::NoPostgresUser)?)
        } else {
            None
        };

        fs::create_dir_all(data_dir).map_err(io_err(format!(
            "creating data directory {}",
            data_dir.display()
        )))?;
        let data_dir = fs::canonicalize(data_dir).map_err(io_err(format!(
            "resolving data directory {}",
            data_dir.display()
        )))?;

        let cluster_dir = match run_as {
            None => data_dir.join("pg"),
            Some(_) => root_cluster_dir(Path::new(ROOT_CLUSTER_BASE), &data_dir),
        };
        let socket_dir = cluster_dir.clone();
        check_socket_path(&socket_dir)?;

        let mut bindir = find_bindir()?;
        tracing::debug!(bindir = %bindir.display(), "found PostgreSQL server binaries");

        match &run_as {
            None => prepare_user_layout(&data_dir, &cluster_dir)?,
            Some(user) => prepare_root_layout(&data_dir, &cluster_dir, user)?,
        }
        tracing::info!(
            data_dir = %data_dir.display(),
            cluster_dir = %cluster_dir.display(),
            socket_dir = %socket_dir.display(),
            run_as = if run_as.is_some() { SERVER_OS_USER } else { "current user" },
            "embedded PostgreSQL: the database lives in {}",
            cluster_dir.display()
        );

        if cluster_dir.join("PG_VERSION").is_file() {
            bindir = check_cluster_version(&cluster_dir, bindir)?;
        } else {
            if !dir_is_empty(&cluster_dir)? {
                return Err(EmbeddedError::HalfInitialized { cluster_dir });
            }
            let started = Instant::now();
            run_initdb(&bindir, &cluster_dir, run_as.as_ref())?;
            tracing::info!(
                cluster_dir = %cluster_dir.display(),
                elapsed_ms = millis(started.elapsed()),
                "created new PostgreSQL cluster"
            );
        }

        clear_stale_lock(&cluster_dir.join("postmaster.pid"), &data_dir, &cluster_dir)?;
        clear_stale_lock(
            &socket_dir.join(format!("{SOCKET_FILE}.lock")),
            &data_dir,
            &cluster_dir,
        )?;

        let log_file = cluster_dir.join("server.log");
        let postgres = bindir.join("postgres");
        let log = open_server_log(&log_file, run_as.as_ref(), &postgres)?;
        let log_err = log.try_clone().map_err(io_err(format!(
            "duplicating handle of {}",
            log_file.display()
        )))?;

        let mut cmd = Command::new(&postgres);
        cmd.arg("-D")
            .arg(&cluster_dir)
            .arg("-k")
            .arg(&socket_dir)
            .arg("-p")
            .arg(PORT.to_string())
            .args(["-c", "listen_addresses="])
            .args(["-c", "unix_socket_permissions=0700"])
            .args(["-c", "fsync=on"])
            .args(statement_stats_settings(&bindir))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            // Own process group: a terminal Ctrl-C reaches only the app, which
            // then shuts the server down in order via `stop`.
            .process_group(0);
        configure_child(&mut cmd, run_as.as_ref(), &cluster_dir);
        // SAFETY: getpid has no preconditions.
        let parent_pid = unsafe { libc::getpid() };
        let hook = move || -> io::Result<()> {
            // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag on this process.
            if unsafe {
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGINT as libc::c_ulong,
                    0,
                    0,
                    0,
                )
            } != 0
            {
                return Err(io::Error::last_os_error());
            }
            // If the parent died before prctl took effect, nobody would ever
            // stop us: refuse to start. SAFETY: getppid has no preconditions.
            if unsafe { libc::getppid() } != parent_pid {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        };
        // SAFETY: the hook only makes async-signal-safe system calls (prctl,
        // getppid) and does not allocate. std runs it after setgid/setuid, which
        // matters because a credential change clears the parent-death signal.
        unsafe {
            cmd.pre_exec(hook);
        }

        let child = cmd
            .spawn()
            .map_err(io_err(format!("starting {}", command_line(&cmd))))?;
        let mut pg = EmbeddedPostgres {
            pid: child.id(),
            child: Some(child),
            data_dir,
            cluster_dir,
            socket_dir,
            log_file,
        };
        // On error `pg` is dropped here, which stops the server.
        pg.wait_until_ready(READY_TIMEOUT)?;
        tracing::info!(
            pid = pg.pid,
            socket_dir = %pg.socket_dir.display(),
            "embedded PostgreSQL is ready"
        );
        Ok(pg)
    }

    /// Directory that holds the Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// Where the cluster files actually are (may differ from data_dir when root, see the module docs).
    ///
    /// `<data_dir>/pg` for an ordinary user; `/var/lib/portfolio-tracker/<name>-<hash>`
    /// when running as root.
    pub fn cluster_dir(&self) -> &Path {
        &self.cluster_dir
    }

    /// A sqlx/libpq URL for database `db` over the Unix socket as superuser `postgres`,
    /// e.g. "postgres://postgres@localhost/portfolio?host=/path/to/socketdir" (percent-encode the host path).
    ///
    /// Authentication over the socket is `trust`; the socket file is only
    /// accessible to the server's OS user (and root).
    pub fn connection_url(&self, db: &str) -> String {
        build_connection_url(&self.socket_dir, db)
    }

    /// Fast shutdown (SIGINT to the postmaster), waits for exit (up to ~30 s, then SIGQUIT). Idempotent.
    ///
    /// If SIGQUIT does not help within 10 s either, the postmaster is killed
    /// (SIGKILL) and [`EmbeddedError::StopTimeout`] is returned.
    pub fn stop(&mut self) -> Result<(), EmbeddedError> {
        let pid = self.pid;
        let Some(child) = self.child.as_mut() else {
            return Ok(());
        };
        let ctx = format!("waiting for PostgreSQL (pid {pid})");
        if let Some(status) = child.try_wait().map_err(io_err(ctx.clone()))? {
            self.child = None;
            tracing::warn!(pid, %status, log = %self.log_file.display(), "embedded PostgreSQL had already exited");
            return Ok(());
        }

        tracing::info!(pid, "stopping embedded PostgreSQL (fast shutdown)");
        let started = Instant::now();
        send_signal(pid, libc::SIGINT);
        if let Some(status) = wait_for_exit(child, STOP_TIMEOUT).map_err(io_err(ctx.clone()))? {
            self.child = None;
            tracing::info!(pid, %status, elapsed_ms = millis(started.elapsed()), "embedded PostgreSQL stopped");
            return Ok(());
        }

        tracing::warn!(
            pid,
            "PostgreSQL did not stop within {} s; sending SIGQUIT (immediate shutdown)",
            STOP_TIMEOUT.as_secs()
        );
        send_signal(pid, libc::SIGQUIT);
        if let Some(status) = wait_for_exit(child, QUIT_TIMEOUT).map_err(io_err(ctx.clone()))? {
            self.child = None;
            tracing::warn!(pid, %status, "embedded PostgreSQL stopped after SIGQUIT");
            return Ok(());
        }

        tracing::error!(pid, "PostgreSQL ignored SIGQUIT; killing it");
        // Ignore the error: it only fails if the process is already gone.
        let _ = child.kill();
        match wait_for_exit(child, KILL_TIMEOUT).map_err(io_err(ctx))? {
            Some(_) => self.child = None,
            None => tracing::error!(pid, "PostgreSQL survived SIGKILL"),
        }
        Err(EmbeddedError::StopTimeout {
            pid,
            log_file: self.log_file.clone(),
        })
    }

    /// Polls `postmaster.pid` until it names our child and says "ready".
    fn wait_until_ready(&mut self, timeout: Duration) -> Result<(), EmbeddedError> {
        let pid_file = self.cluster_dir.join("postmaster.pid");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(child) = self.child.as_mut() {
                let status = child
                    .try_wait()
                    .map_err(io_err(format!("checking PostgreSQL (pid {})", self.pid)))?;
                if let Some(status) = status {
                    self.child = None;
                    return Err(EmbeddedError::ServerExited {
                        status,
                        log_file: self.log_file.clone(),
                        log_tail: log_tail(&self.log_file, LOG_TAIL_LINES),
                    });
                }
            }
            if let Ok(text) = fs::read_to_string(&pid_file) {
                let info = parse_pid_file(&text);
                if info.pid.and_then(|p| u32::try_from(p).ok()) == Some(self.pid) && info.is_ready()
                {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(EmbeddedError::StartTimeout {
                    log_file: self.log_file.clone(),
                    log_tail: log_tail(&self.log_file, LOG_TAIL_LINES),
                    timeout,
                });
            }
            thread::sleep(READY_POLL);
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::error!(data_dir = %self.data_dir.display(), "stopping embedded PostgreSQL failed: {e}");
        }
    }
}

// ---------------------------------------------------------------------------
// Finding the binaries

fn find_bindir() -> Result<PathBuf, EmbeddedError> {
    let path = std::env::var_os("PATH");
    find_bindir_in(path.as_deref(), Path::new(VERSIONED_INSTALL_ROOT))
}

/// Searches PATH (`path_var`), then `pg_config --bindir` (pg_config found on
/// that PATH), then `<versioned_root>/*/bin`, newest version first.
fn find_bindir_in(
    path_var: Option<&OsStr>,
    versioned_root: &Path,
) -> Result<PathBuf, EmbeddedError> {
    if let Some(path_var) = path_var {
        for dir in std::env::split_paths(path_var) {
            if dir.as_os_str().is_empty() {
                continue;
            }
            let initdb = dir.join("initdb");
            if !is_executable(&initdb) {
                continue;
            }
            // Resolve symlinks (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb)
            // and take `postgres` from the real bindir so both have the same version.
            if let Some(bindir) = fs::canonicalize(&initdb)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                && has_server_binaries(&bindir)
            {
                return Ok(bindir);
            }
        }
        if let Some(pg_config) = std::env::split_paths(path_var)
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.join("pg_config"))
            .find(|p| is_executable(p))
            && let Some(bindir) = pg_config_bindir(&pg_config)
            && has_server_binaries(&bindir)
        {
            return Ok(bindir);
        }
    }
    versioned_bindirs(versioned_root)
        .into_iter()
        .find(|d| has_server_binaries(d))
        .ok_or(EmbeddedError::NoServerBinaries)
}

fn pg_config_bindir(pg_config: &Path) -> Option<PathBuf> {
    let out = Command::new(pg_config)
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let dir = text.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// `<root>/<version>/bin` for every numeric version directory, newest first.
fn versioned_bindirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name();
            let version = parse_version(name.to_str()?)?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

/// `"9.6"` -> `[9, 6]`, `"16"` -> `[16]`; anything else -> `None`.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.')
        .map(|part| part.parse::<u32>().ok())
        .collect()
}

fn has_server_binaries(dir: &Path) -> bool {
    is_executable(&dir.join("initdb")) && is_executable(&dir.join("postgres"))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Major version from `postgres -V` output, e.g.
/// "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)" -> "15", "... 9.6.24" -> "9.6".
fn parse_server_major(version_output: &str) -> Option<String> {
    let rest = version_output.split(')').nth(1)?.trim_start();
    let version = rest.split_whitespace().next()?;
    // Leading digits of each dot-separated part: "17beta1" -> "17".
    let mut parts = version.split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    });
    let first = parts.next()??;
    if first >= 10 {
        Some(first.to_string())
    } else {
        let second = parts.next()??;
        Some(format!("{first}.{second}"))
    }
}

/// For an existing cluster: makes sure the binaries match its `PG_VERSION`,
/// switching to `/usr/lib/postgresql/<PG_VERSION>/bin` if that exists.
fn check_cluster_version(cluster_dir: &Path, bindir: PathBuf) -> Result<PathBuf, EmbeddedError> {
    let Ok(cluster_version) = fs::read_to_string(cluster_dir.join("PG_VERSION")) else {
        return Ok(bindir);
    };
    let cluster_version = cluster_version.trim().to_string();
    let server_version = Command::new(bindir.join("postgres"))
        .arg("-V")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| parse_server_major(&String::from_utf8_lossy(&o.stdout)));
    let Some(server_version) = server_version else {
        tracing::warn!(bindir = %bindir.display(), "could not determine the PostgreSQL server version");
        return Ok(bindir);
    };
    if server_version == cluster_version {
        return Ok(bindir);
    }
    let matching = Path::new(VERSIONED_INSTALL_ROOT)
        .join(&cluster_version)
        .join("bin");
    if has_server_binaries(&matching) {
        tracing::info!(
            cluster_version = %cluster_version,
            bindir = %matching.display(),
            "using the PostgreSQL binaries that match the existing cluster"
        );
        return Ok(matching);
    }
    Err(EmbeddedError::VersionMismatch {
        cluster_dir: cluster_dir.to_path_buf(),
        cluster_version,
        bindir,
        server_version,
    })
}

// ---------------------------------------------------------------------------
// Statement statistics

/// The `pg_stat_statements` module, when the installation has it (Debian's
/// `postgresql-NN` package ships it with the server; other packagings put the contrib
/// modules in a separate package).
const STATEMENT_STATS_LIBRARY: &str = "pg_stat_statements";

/// `-c shared_preload_libraries=pg_stat_statements` when the library is installed, else
/// nothing, so that a server without the contrib modules still starts.
///
/// Loading it costs little and lets operators (and the query-count test) see how often
/// each statement runs: `CREATE EXTENSION pg_stat_statements` in any database, then read
/// the `pg_stat_statements` view. It is a command-line setting, so an existing cluster
/// picks it up at its next start; like every `-c` it overrides a
/// `shared_preload_libraries` set in the cluster's `postgresql.conf`.
fn statement_stats_settings(bindir: &Path) -> Vec<String> {
    if has_library(bindir, STATEMENT_STATS_LIBRARY) {
        vec![
            "-c".to_string(),
            format!("shared_preload_libraries={STATEMENT_STATS_LIBRARY}"),
        ]
    } else {
        tracing::debug!(
            bindir = %bindir.display(),
            "{STATEMENT_STATS_LIBRARY} is not installed; statement statistics are off"
        );
        Vec::new()
    }
}

/// Whether the server in `bindir` can load `<name>.so`: looked for in the usual package
/// library directories next to it (`<bindir>/../lib` on Debian, `../lib/postgresql` on
/// source builds and several distributions, `../lib64/pgsql` on Fedora/RHEL) and in
/// `pg_config --pkglibdir` of the same installation.
fn has_library(bindir: &Path, name: &str) -> bool {
    let file = format!("{name}.so");
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(prefix) = bindir.parent() {
        dirs.push(prefix.join("lib"));
        dirs.push(prefix.join("lib").join("postgresql"));
        dirs.push(prefix.join("lib64").join("pgsql"));
    }
    let pg_config = bindir.join("pg_config");
    if is_executable(&pg_config)
        && let Ok(out) = Command::new(&pg_config)
            .arg("--pkglibdir")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
        && out.status.success()
        && let Ok(dir) = String::from_utf8(out.stdout)
        && !dir.trim().is_empty()
    {
        dirs.push(PathBuf::from(dir.trim()));
    }
    dirs.iter().any(|dir| dir.join(&file).is_file())
}

// ---------------------------------------------------------------------------
// Layout

/// FNV-1a 64-bit hash (stable across Rust versions and platforms).
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// `<base>/<name>-<hash>` for a canonical data directory.
fn root_cluster_dir(base: &Path, data_dir: &Path) -> PathBuf {
    let name: String = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".to_string())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(MAX_NAME_LEN)
        .collect();
    let name = if name.is_empty() || name.starts_with('.') {
        format!("data{name}")
    } else {
        name
    };
    let hash = fnv1a64(data_dir.as_os_str().as_bytes());
    base.join(format!("{name}-{hash:016x}"))
}

/// The socket directory of a server that another process (a running `portfolio-tracker
/// serve`) already runs for `data_dir`, if it is up and accepting connections. Lets
/// command-line tools work beside a running server instead of starting a second one.
pub fn running_socket_dir(data_dir: &Path) -> Option<PathBuf> {
    let data_dir = fs::canonicalize(data_dir).ok()?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let cluster_dir = if unsafe { libc::geteuid() } == 0 {
        root_cluster_dir(Path::new(ROOT_CLUSTER_BASE), &data_dir)
    } else {
        data_dir.join("pg")
    };
    let info = parse_pid_file(&fs::read_to_string(cluster_dir.join("postmaster.pid")).ok()?);
    let pid = info.pid?;
    (info.is_ready() && live_postgres(pid) && cluster_dir.join(".s.PGSQL.5432").exists())
        .then_some(cluster_dir)
}

/// Returns the socket path, or an error if it is too long for `sun_path`.
fn check_socket_path(socket_dir: &Path) -> Result<PathBuf, EmbeddedError> {
    let socket_path = socket_dir.join(SOCKET_FILE);
    let len = socket_path.as_os_str().len();
    if len > MAX_SOCKET_PATH_LEN {
        return Err(EmbeddedError::SocketPathTooLong {
            socket_path,
            len,
            max: MAX_SOCKET_PATH_LEN,
        });
    }
    Ok(socket_path)
}

fn prepare_user_layout(data_dir: &Path, cluster_dir: &Path) -> Result<(), EmbeddedError> {
    let marker = data_dir.join("CLUSTER_LOCATION");
    if marker.exists() && !cluster_dir.join("PG_VERSION").exists() {
        tracing::warn!(
            "{} exists: this DATA_DIR was used by portfolio-tracker running as root, whose cluster is \
             elsewhere; as an ordinary user a separate cluster is used in {}",
            marker.display(),
            cluster_dir.display()
        );
    }
    create_private_dir(cluster_dir)
}

fn prepare_root_layout(
    data_dir: &Path,
    cluster_dir: &Path,
    user: &RunAs,
) -> Result<(), EmbeddedError> {
    if let Some(base) = cluster_dir.parent()
        && !base.exists()
    {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(base)
            .map_err(io_err(format!("creating {}", base.display())))?;
        // The umask may have removed bits the postgres user needs to traverse it.
        fs::set_permissions(base, fs::Permissions::from_mode(0o755))
            .map_err(io_err(format!("setting permissions of {}", base.display())))?;
    }
    create_private_dir(cluster_dir)?;
    chown(cluster_dir, user)?;

    if data_dir.join("pg").join("PG_VERSION").exists() {
        tracing::warn!(
            "{} holds a cluster created by a non-root run; running as root uses {} instead",
            data_dir.join("pg").display(),
            cluster_dir.display()
        );
    }
    let marker = data_dir.join("CLUSTER_LOCATION");
    let text = format!(
        "The PostgreSQL cluster for this portfolio-tracker data directory lives in\n{}\n\n\
         portfolio-tracker ran as root, so the embedded server runs as the `{}` OS user,\n\
         and its files are kept where that user can reach them.\n",
        cluster_dir.display(),
        SERVER_OS_USER
    );
    if fs::read_to_string(&marker).ok().as_deref() != Some(text.as_str()) {
        fs::write(&marker, text).map_err(io_err(format!("writing {}", marker.display())))?;
    }
    Ok(())
}

/// Creates `dir` with mode 0700 unless it already exists.
fn create_private_dir(dir: &Path) -> Result<(), EmbeddedError> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(EmbeddedError::Io {
            context: format!("creating {}", dir.display()),
            source: e,
        }),
    }
}

fn chown(path: &Path, user: &RunAs) -> Result<(), EmbeddedError> {
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| EmbeddedError::Io {
        context: format!("changing owner of {}", path.display()),
        source: io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"),
    })?;
    // SAFETY: c_path is a valid NUL-terminated string.
    if unsafe { libc::chown(c_path.as_ptr(), user.uid, user.gid) } != 0 {
        return Err(EmbeddedError::Io {
            context: format!("changing owner of {} to {SERVER_OS_USER}", path.display()),
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}

fn dir_is_empty(dir: &Path) -> Result<bool, EmbeddedError> {
    let mut entries = fs::read_dir(dir).map_err(io_err(format!("reading {}", dir.display())))?;
    Ok(entries.next().is_none())
}

/// Looks up an OS user with getpwnam_r; `Ok(None)` if it does not exist.
fn lookup_user(name: &str) -> Result<Option<RunAs>, EmbeddedError> {
    let c_name = CString::new(name).map_err(|_| EmbeddedError::Io {
        context: format!("looking up OS user {name:?}"),
        source: io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"),
    })?;
    let mut buf_len = 4096usize;
    loop {
        let mut buf: Vec<libc::c_char> = vec![0; buf_len];
        // SAFETY: passwd is a plain C struct; all-zero is a valid (empty) value.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: all pointers are valid for the given sizes during the call.
        let rc = unsafe {
            libc::getpwnam_r(
                c_name.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf_len < (1 << 20) {
            buf_len *= 4;
            continue;
        }
        if result.is_null() {
            return match rc {
                0 | libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => Ok(None),
                _ => Err(EmbeddedError::Io {
                    context: format!("looking up OS user {name:?}"),
                    source: io::Error::from_raw_os_error(rc),
                }),
            };
        }
        let home = if pwd.pw_dir.is_null() {
            PathBuf::from("/")
        } else {
            // SAFETY: getpwnam_r succeeded, so pw_dir points into `buf`, NUL-terminated.
            PathBuf::from(OsStr::from_bytes(
                unsafe { CStr::from_ptr(pwd.pw_dir) }.to_bytes(),
            ))
        };
        return Ok(Some(RunAs {
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
            home,
        }));
    }
}

/// Runs the child as `user` (if any), with HOME set and its cwd in the cluster.
fn configure_child(cmd: &mut Command, user: Option<&RunAs>, cwd: &Path) {
    cmd.current_dir(cwd);
    if let Some(user) = user {
        cmd.uid(user.uid)
            .gid(user.gid)
            .env("HOME", &user.home)
            .env("USER", SERVER_OS_USER)
            .env("LOGNAME", SERVER_OS_USER);
    }
}

fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------
// initdb

fn run_initdb(
    bindir: &Path,
    cluster_dir: &Path,
    user: Option<&RunAs>,
) -> Result<(), EmbeddedError> {
    match initdb_once(bindir, cluster_dir, user, "C.UTF-8") {
        Err(EmbeddedError::CommandFailed { stderr, .. })
            if is_locale_error(&stderr) && dir_is_empty(cluster_dir).unwrap_or(false) =>
        {
            tracing::warn!("initdb refused locale C.UTF-8; retrying with locale C:\n{stderr}");
            initdb_once(bindir, cluster_dir, user, "C")
        }
        other => other,
    }
}

/// Whether initdb output reports a problem with the locale (e.g.
/// `initdb: error: invalid locale name "C.UTF-8"`), as opposed to merely
/// mentioning it ("The database cluster will be initialized with locale ...").
fn is_locale_error(output: &str) -> bool {
    output.lines().map(str::to_lowercase).any(|line| {
        line.contains("locale")
            && (line.contains("error")
                || line.contains("invalid")
                || line.contains("not supported"))
    })
}

fn initdb_once(
    bindir: &Path,
    cluster_dir: &Path,
    user: Option<&RunAs>,
    locale: &str,
) -> Result<(), EmbeddedError> {
    let mut cmd = Command::new(bindir.join("initdb"));
    cmd.arg("-D")
        .arg(cluster_dir)
        .args([
            "-U",
            SUPERUSER,
            "--auth-local=trust",
            "--auth-host=reject",
            "--encoding=UTF8",
        ])
        .arg(format!("--locale={locale}"))
        .stdin(Stdio::null());
    configure_child(&mut cmd, user, cluster_dir);
    let command = command_line(&cmd);
    tracing::info!("initialising a new PostgreSQL cluster: {command}");
    let out = cmd.output().map_err(io_err(format!("running {command}")))?;
    if out.status.success() {
        tracing::debug!("initdb output:\n{}", String::from_utf8_lossy(&out.stdout));
        return Ok(());
    }
    let mut output = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.trim().is_empty() {
        if !output.is_empty() {
            output.push('\n');
        }
        output.push_str(stderr.trim());
    }
    Err(EmbeddedError::CommandFailed {
        command,
        status: out.status,
        stderr: output,
    })
}

// ---------------------------------------------------------------------------
// Lock files and readiness

/// What we read from a `postmaster.pid` (or socket `.lock`) file.
#[derive(Debug, Default, PartialEq)]
struct PidFileInfo {
    /// Line 1: the postmaster's pid (negative for a standalone backend; made positive).
    pid: Option<i32>,
    /// Line 8 (PostgreSQL >= 10): "starting", "stopping", "ready" or "standby".
    status: Option<String>,
}

impl PidFileInfo {
    fn is_ready(&self) -> bool {
        self.status.as_deref() == Some("ready")
    }
}

fn parse_pid_file(text: &str) -> PidFileInfo {
    let mut lines = text.lines();
    let pid = lines
        .next()
        .and_then(|l| l.trim().parse::<i64>().ok())
        .and_then(|p| i32::try_from(p.unsigned_abs()).ok())
        .filter(|&p| p > 0);
    let status = text
        .lines()
        .nth(7)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    PidFileInfo { pid, status }
}

fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence/permission.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Whether a `/proc/<pid>/cmdline` belongs to a PostgreSQL server process
/// ("/usr/lib/postgresql/15/bin/postgres\0-D\0...", or a retitled "postgres: ...").
fn cmdline_looks_like_postgres(cmdline: &[u8]) -> bool {
    let argv0 = cmdline.split(|&b| b == 0).next().unwrap_or_default();
    let argv0 = String::from_utf8_lossy(argv0);
    let Some(first) = argv0.split_whitespace().next() else {
        return false;
    };
    let first = first.trim_end_matches(':');
    let base = first.rsplit('/').next().unwrap_or(first);
    matches!(base, "postgres" | "postmaster")
}

/// A live process that is (or might be, if /proc is unreadable) a PostgreSQL server.
fn live_postgres(pid: i32) -> bool {
    // SAFETY: getpid/getppid have no preconditions.
    let (me, parent) = unsafe { (libc::getpid(), libc::getppid()) };
    if pid == me || pid == parent || !pid_alive(pid) {
        return false;
    }
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => cmdline_looks_like_postgres(&cmdline),
        Err(_) => true,
    }
}

/// Handles a leftover `postmaster.pid` / socket lock file: waits (up to 15 s)
/// for a postmaster that is still shutting down, fails with `InUse` if it stays,
/// removes the file if it is stale.
fn clear_stale_lock(lock: &Path, data_dir: &Path, cluster_dir: &Path) -> Result<(), EmbeddedError> {
    let text = match fs::read_to_string(lock) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(EmbeddedError::Io {
                context: format!("reading {}", lock.display()),
                source: e,
            });
        }
    };
    match parse_pid_file(&text).pid {
        Some(pid) if live_postgres(pid) => {
            tracing::info!(pid, lock = %lock.display(), "a PostgreSQL server from an earlier run is still running; waiting up to {} s for it to exit", STALE_WAIT.as_secs());
            let deadline = Instant::now() + STALE_WAIT;
            while live_postgres(pid) {
                if Instant::now() >= deadline {
                    return Err(EmbeddedError::InUse {
                        data_dir: data_dir.to_path_buf(),
                        cluster_dir: cluster_dir.to_path_buf(),
                        pid,
                    });
                }
                thread::sleep(Duration::from_millis(100));
            }
            tracing::info!(pid, "the earlier PostgreSQL server has exited");
        }
        Some(pid) => {
            tracing::warn!(pid, lock = %lock.display(), "removing stale lock file (pid {pid} is not a running PostgreSQL server)");
        }
        None => {
            tracing::warn!(lock = %lock.display(), "removing unreadable lock file");
        }
    }
    remove_if_exists(lock)?;
    if lock.file_name() == Some(OsStr::new("postmaster.pid")) {
        // A stale socket file would be replaced by the server anyway; remove it for tidiness.
        if let Some(dir) = lock.parent() {
            let socket = dir.join(SOCKET_FILE);
            if fs::symlink_metadata(&socket).is_ok_and(|m| m.file_type().is_socket()) {
                remove_if_exists(&socket)?;
            }
        }
    }
    Ok(())
}

fn remove_if_exists(path: &Path) -> Result<(), EmbeddedError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(EmbeddedError::Io {
            context: format!("removing {}", path.display()),
            source: e,
        }),
    }
}

fn open_server_log(
    log_file: &Path,
    user: Option<&RunAs>,
    postgres: &Path,
) -> Result<File, EmbeddedError> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(log_file)
        .map_err(io_err(format!("opening {}", log_file.display())))?;
    if let Some(user) = user {
        let meta = file.metadata().map_err(io_err(format!(
            "reading metadata of {}",
            log_file.display()
        )))?;
        if meta.uid() != user.uid || meta.gid() != user.gid {
            // SAFETY: fchown on an open descriptor we own.
            if unsafe { libc::fchown(file.as_raw_fd(), user.uid, user.gid) } != 0 {
                return Err(EmbeddedError::Io {
                    context: format!(
                        "changing owner of {} to {SERVER_OS_USER}",
                        log_file.display()
                    ),
                    source: io::Error::last_os_error(),
                });
            }
        }
    }
    writeln!(
        file,
        "--- {} portfolio-tracker: starting {} ---",
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S%.3f %z"),
        postgres.display()
    )
    .map_err(io_err(format!("writing {}", log_file.display())))?;
    Ok(file)
}

/// The last `lines` lines of a log file (at most its last 16 KiB); "" if unreadable.
fn log_tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(16 * 1024);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    if file.read_to_end(&mut buf).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn send_signal(pid: u32, signal: libc::c_int) {
    let Ok(pid) = i32::try_from(pid) else { return };
    // SAFETY: `pid` is our own, not yet reaped child, so it cannot have been reused.
    if unsafe { libc::kill(pid, signal) } != 0 {
        tracing::debug!(pid, signal, "kill failed: {}", io::Error::last_os_error());
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn wait_for_exit(child: &mut Child, timeout: Duration) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(READY_POLL);
    }
}

// ---------------------------------------------------------------------------
// URL

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

pub fn build_connection_url(socket_dir: &Path, db: &str) -> String {
    format!(
        "postgres://{SUPERUSER}@localhost/{}?host={}",
        percent_encode(db.as_bytes()),
        percent_encode(socket_dir.as_os_str().as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::SeqCst);
            let dir = std::env::temp_dir()
                .join(format!("embedded-pg-test-{}-{tag}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).expect("create temp dir");
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn fake_exe(path: &Path, body: &str) {
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write");
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    fn fake_bindir(dir: &Path) {
        fake_exe(&dir.join("initdb"), "exit 0");
        fake_exe(&dir.join("postgres"), "exit 0");
    }

    #[test]
    fn version_ordering() {
        assert!(parse_version("9.6") < parse_version("10"));
        assert!(parse_version("10") < parse_version("15"));
        assert!(parse_version("15") < parse_version("16"));
        assert_eq!(parse_version("main"), None);
        assert_eq!(parse_version("15beta"), None);

        let tmp = TempDir::new("versions");
        for v in ["9.6", "16", "10", "15", "notaversion"] {
            fake_bindir(&tmp.0.join(v).join("bin"));
        }
        let found: Vec<String> = versioned_bindirs(&tmp.0)
            .iter()
            .map(|p| {
                p.parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(found, ["16", "15", "10", "9.6"]);
        // The newest version wins when PATH has nothing.
        let empty_path = TempDir::new("emptypath");
        let bindir = find_bindir_in(Some(empty_path.0.as_os_str()), &tmp.0).unwrap();
        assert_eq!(bindir, tmp.0.join("16").join("bin"));
    }

    #[test]
    fn missing_binaries() {
        let tmp = TempDir::new("missing");
        // PATH dir with only initdb (no postgres next to it), no versioned installs.
        fake_exe(&tmp.0.join("path").join("initdb"), "exit 0");
        let path = tmp.0.join("path");
        let err = find_bindir_in(Some(path.as_os_str()), &tmp.0.join("nonexistent")).unwrap_err();
        assert!(matches!(err, EmbeddedError::NoServerBinaries), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("apt-get install postgresql") && msg.contains("DATABASE_URL"),
            "{msg}"
        );
        assert!(matches!(
            find_bindir_in(None, &tmp.0.join("nonexistent")),
            Err(EmbeddedError::NoServerBinaries)
        ));
    }

    #[test]
    fn path_symlink_resolves_to_real_bindir() {
        let tmp = TempDir::new("symlink");
        let real = tmp.0.join("lib").join("15").join("bin");
        fake_bindir(&real);
        let path_dir = tmp.0.join("localbin");
        fs::create_dir_all(&path_dir).unwrap();
        std::os::unix::fs::symlink(real.join("initdb"), path_dir.join("initdb")).unwrap();
        let versioned = tmp.0.join("versioned");
        fake_bindir(&versioned.join("16").join("bin"));
        let found = find_bindir_in(Some(path_dir.as_os_str()), &versioned).unwrap();
        assert_eq!(found, fs::canonicalize(&real).unwrap());
    }

    #[test]
    fn pg_config_bindir_is_used() {
        let tmp = TempDir::new("pgconfig");
        let real = tmp.0.join("srv").join("bin");
        fake_bindir(&real);
        let path_dir = tmp.0.join("bin");
        fake_exe(
            &path_dir.join("pg_config"),
            &format!("echo '{}'", real.display()),
        );
        let found = find_bindir_in(Some(path_dir.as_os_str()), &tmp.0.join("none")).unwrap();
        assert_eq!(found, real);
    }

    #[test]
    fn socket_path_length() {
        let short = Path::new("/tmp/data/pg");
        assert_eq!(
            check_socket_path(short).unwrap(),
            Path::new("/tmp/data/pg/.s.PGSQL.5432")
        );
        // 93 + 14 = 107 bytes: the longest allowed.
        let ok = PathBuf::from(format!("/{}", "a".repeat(92)));
        assert_eq!(ok.join(SOCKET_FILE).as_os_str().len(), 107);
        assert!(check_socket_path(&ok).is_ok());
        let long = PathBuf::from(format!("/{}", "a".repeat(93)));
        match check_socket_path(&long) {
            Err(e @ EmbeddedError::SocketPathTooLong { len: 108, .. }) => {
                assert!(e.to_string().contains("shorter DATA_DIR"))
            }
            other => panic!("unexpected {other:?}"),
        }
        // The root layout always fits, however long the data dir name is.
        let data = PathBuf::from(format!("/home/someone/{}", "x".repeat(200)));
        let cluster = root_cluster_dir(Path::new(ROOT_CLUSTER_BASE), &data);
        assert!(check_socket_path(&cluster).is_ok(), "{}", cluster.display());
    }

    #[test]
    fn root_cluster_dir_is_stable_and_distinct() {
        let base = Path::new(ROOT_CLUSTER_BASE);
        let a = root_cluster_dir(base, Path::new("/srv/a/data"));
        let b = root_cluster_dir(base, Path::new("/srv/b/data"));
        assert_ne!(a, b);
        assert_eq!(a, root_cluster_dir(base, Path::new("/srv/a/data")));
        let name = a.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("data-") && name.len() == "data-".len() + 16,
            "{name}"
        );
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        let odd = root_cluster_dir(base, Path::new("/srv/my data?"));
        assert!(
            odd.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("my_data_-")
        );
    }

    const PID_FILE_READY: &str = "12345\n/var/lib/portfolio-tracker/data-0123456789abcdef\n1700000000\n5432\n/var/lib/portfolio-tracker/data-0123456789abcdef\n\n  5432001    32769\nready   \n";

    #[test]
    fn stale_pid_parsing() {
        assert_eq!(parse_pid_file(PID_FILE_READY).pid, Some(12345));
        assert_eq!(parse_pid_file("999999\n").pid, Some(999999));
        assert_eq!(parse_pid_file("-4242\n/x\n").pid, Some(4242));
        assert_eq!(parse_pid_file(""), PidFileInfo::default());
        assert_eq!(parse_pid_file("garbage\n").pid, None);
        assert_eq!(parse_pid_file("0\n").pid, None);
        // pid 999999 is beyond the default pid_max, so it is never a live postgres.
        assert!(!live_postgres(999_999));
        // Our own pid is never treated as a foreign postmaster.
        assert!(!live_postgres(i32::try_from(std::process::id()).unwrap()));
        assert!(cmdline_looks_like_postgres(
            b"/usr/lib/postgresql/15/bin/postgres\0-D\0/x\0"
        ));
        assert!(cmdline_looks_like_postgres(
            b"postgres: checkpointer   \0\0\0"
        ));
        assert!(cmdline_looks_like_postgres(b"postmaster\0"));
        assert!(!cmdline_looks_like_postgres(b"/bin/bash\0-l\0"));
        assert!(!cmdline_looks_like_postgres(b""));
    }

    #[test]
    fn stale_lock_file_is_removed() {
        let tmp = TempDir::new("stale");
        let lock = tmp.0.join("postmaster.pid");
        fs::write(&lock, "999999\n/x\n").unwrap();
        clear_stale_lock(&lock, &tmp.0, &tmp.0).unwrap();
        assert!(!lock.exists());
        clear_stale_lock(&lock, &tmp.0, &tmp.0).unwrap(); // absent: fine
    }

    #[test]
    fn readiness_parsing() {
        assert!(parse_pid_file(PID_FILE_READY).is_ready());
        assert_eq!(
            parse_pid_file(PID_FILE_READY).status.as_deref(),
            Some("ready")
        );
        let starting = PID_FILE_READY.replace("ready   ", "starting");
        assert!(!parse_pid_file(&starting).is_ready());
        let stopping = PID_FILE_READY.replace("ready   ", "stopping");
        assert!(!parse_pid_file(&stopping).is_ready());
        // Partially written file (only 5 lines so far).
        let partial: String = PID_FILE_READY
            .lines()
            .take(5)
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(parse_pid_file(&partial).status, None);
        assert!(!parse_pid_file(&partial).is_ready());
    }

    #[test]
    fn locale_error_detection() {
        assert!(is_locale_error(
            "initdb: error: invalid locale name \"C.UTF-8\""
        ));
        assert!(!is_locale_error(
            "The database cluster will be initialized with locale \"C.UTF-8\".\n\
             initdb: error: could not change permissions of directory \"/x\": Operation not permitted"
        ));
    }

    #[test]
    fn user_lookup() {
        let root = lookup_user("root").unwrap().expect("root exists");
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(
            lookup_user("no-such-user-portfolio-tracker")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn server_version_parsing() {
        assert_eq!(
            parse_server_major("postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)\n").as_deref(),
            Some("15")
        );
        assert_eq!(
            parse_server_major("postgres (PostgreSQL) 9.6.24").as_deref(),
            Some("9.6")
        );
        assert_eq!(
            parse_server_major("postgres (PostgreSQL) 17beta1").as_deref(),
            Some("17")
        );
        assert_eq!(parse_server_major("nonsense"), None);
    }

    #[test]
    fn preloads_statement_stats_only_when_installed() {
        let tmp = TempDir::new("stats");
        let bindir = tmp.0.join("bin");
        fake_bindir(&bindir);
        assert!(statement_stats_settings(&bindir).is_empty());
        fs::create_dir_all(tmp.0.join("lib")).unwrap();
        fs::write(tmp.0.join("lib").join("pg_stat_statements.so"), b"").unwrap();
        assert_eq!(
            statement_stats_settings(&bindir),
            ["-c", "shared_preload_libraries=pg_stat_statements"]
        );
    }

    #[test]
    fn connection_url_encoding() {
        let url = build_connection_url(
            Path::new("/var/lib/portfolio-tracker/data-0123"),
            "portfolio",
        );
        assert_eq!(
            url,
            "postgres://postgres@localhost/portfolio?host=%2Fvar%2Flib%2Fportfolio-tracker%2Fdata-0123"
        );
        let odd = build_connection_url(Path::new("/tmp/a b+c&d"), "my db");
        assert_eq!(
            odd,
            "postgres://postgres@localhost/my%20db?host=%2Ftmp%2Fa%20b%2Bc%26d"
        );
    }

    #[test]
    fn stop_is_idempotent_without_child() {
        let mut pg = EmbeddedPostgres {
            child: None,
            pid: 0,
            data_dir: PathBuf::from("/tmp/x"),
            cluster_dir: PathBuf::from("/tmp/x/pg"),
            socket_dir: PathBuf::from("/tmp/x/pg"),
            log_file: PathBuf::from("/tmp/x/pg/server.log"),
        };
        assert!(pg.stop().is_ok());
        assert!(pg.stop().is_ok());
    }
}
