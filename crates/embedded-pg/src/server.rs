//! The server process: starting it (lock, layout, `initdb`), waiting until it is ready,
//! stopping it, and the lock files PostgreSQL leaves behind.

use crate::binaries::{self, VERSIONED_INSTALL_ROOT};
use crate::error::{Error, io_err};
use crate::files::{self, Mode};
use crate::initdb::{command_line, run_initdb};
use crate::layout::{self, Layout, SOCKET_FILE};
use crate::lock::DataDirLock;
use crate::privileges::{self, RunAs, SERVER_OS_USER};
use crate::{Options, RunningServer, ServerUser};
use nix::sys::signal::Signal;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Port number; with `listen_addresses = ''` it only names the socket file.
const PORT: u16 = 5432;
/// Longest `postmaster.pid` (or socket `.lock`) we read; PostgreSQL's are ~100 bytes.
const PID_FILE_LIMIT: u64 = 4096;

const READY_POLL: Duration = Duration::from_millis(50);
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STALE_WAIT: Duration = Duration::from_secs(15);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const QUIT_TIMEOUT: Duration = Duration::from_secs(10);
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
const LOG_TAIL_LINES: usize = 30;

/// The running postmaster, our child process, and the data directory's lock; and what
/// it takes to start the same cluster again ([`Server::restart`]).
#[derive(Debug)]
pub(crate) struct Server {
    child: Option<Child>,
    pid: u32,
    layout: Layout,
    log_file: PathBuf,
    bindir: PathBuf,
    /// The OS user the postmaster runs as when we started as root.
    run_as: Option<RunAs>,
    /// Held until the server is stopped ([`Server::stop`]), also while a postmaster that
    /// exited on its own waits to be started again.
    lock: Option<DataDirLock>,
}

/// The layout for `options` as seen by this process (root or not).
fn layout_for(options: &Options, data_dir: PathBuf, root: bool) -> Layout {
    Layout::new(
        data_dir,
        root.then_some(options.root_cluster_base.as_path()),
    )
}

pub(crate) fn start(options: &Options) -> Result<Server, Error> {
    let run_as = privileges::server_user()?;

    let data_dir = &options.data_dir;
    fs::create_dir_all(data_dir).map_err(io_err(format!(
        "creating data directory {}",
        data_dir.display()
    )))?;
    let data_dir = fs::canonicalize(data_dir).map_err(io_err(format!(
        "resolving data directory {}",
        data_dir.display()
    )))?;
    let layout = layout_for(options, data_dir, run_as.is_some());
    layout::check_socket_path(&layout.socket_dir)?;

    // From here on this process alone works on the data directory's cluster.
    let lock = DataDirLock::acquire(&layout.lock_file(), &layout.data_dir, options.lock_wait)?;

    let mut bindir = match &options.bindir {
        Some(dir) if binaries::has_server_binaries(dir) => dir.clone(),
        Some(dir) => {
            return Err(Error::Io {
                context: format!("looking for initdb and postgres in {}", dir.display()),
                source: io::Error::from(io::ErrorKind::NotFound),
            });
        }
        None => binaries::find_bindir()?,
    };
    tracing::debug!(bindir = %bindir.display(), "found PostgreSQL server binaries");

    layout.prepare(run_as.as_ref())?;
    tracing::info!(
        data_dir = %layout.data_dir.display(),
        cluster_dir = %layout.cluster_dir.display(),
        socket_dir = %layout.socket_dir.display(),
        run_as = if run_as.is_some() { SERVER_OS_USER } else { "current user" },
        "embedded PostgreSQL: the database lives in {}",
        layout.cluster_dir.display()
    );

    match layout.pg_version()? {
        Some(version) => {
            bindir = binaries::check_cluster_version(
                &layout.cluster_dir,
                &version,
                bindir,
                Path::new(VERSIONED_INSTALL_ROOT),
            )?;
        }
        None => {
            if !layout.cluster_dir_is_empty()? {
                return Err(Error::HalfInitialized {
                    cluster_dir: layout.cluster_dir,
                });
            }
            let started = Instant::now();
            run_initdb(&bindir, &layout.cluster_dir, run_as.as_ref())?;
            tracing::info!(
                cluster_dir = %layout.cluster_dir.display(),
                elapsed_ms = millis(started.elapsed()),
                "created new PostgreSQL cluster"
            );
        }
    }

    let mut server = Server {
        child: None,
        pid: 0,
        log_file: layout.log_file(),
        layout,
        bindir,
        run_as,
        lock: Some(lock),
    };
    // On error `server` is dropped here, which stops the postmaster (if it started).
    server.launch()?;
    Ok(server)
}

/// See [`Options::program`]: the server's own installation (the one [`start`] uses,
/// switched to the binaries of an existing cluster's version).
pub(crate) fn program(options: &Options, name: &str) -> Result<PathBuf, Error> {
    let mut bindir = match &options.bindir {
        Some(dir) => dir.clone(),
        None => binaries::find_bindir()?,
    };
    if let Ok(data_dir) = fs::canonicalize(&options.data_dir) {
        let layout = layout_for(options, data_dir, privileges::is_root());
        if let Some(version) = layout.pg_version()? {
            bindir = binaries::check_cluster_version(
                &layout.cluster_dir,
                &version,
                bindir,
                Path::new(VERSIONED_INSTALL_ROOT),
            )?;
        }
    }
    let path = bindir.join(name);
    if binaries::is_executable(&path) {
        Ok(path)
    } else {
        Err(Error::ProgramNotFound {
            program: name.to_string(),
            searched: format!(
                "in {}, next to the server's initdb and postgres",
                bindir.display()
            ),
        })
    }
}

/// See [`find_program`](crate::find_program).
pub(crate) fn find_program(name: &str) -> Result<PathBuf, Error> {
    let path = std::env::var_os("PATH");
    binaries::find_program_in(name, path.as_deref(), Path::new(VERSIONED_INSTALL_ROOT)).ok_or_else(
        || Error::ProgramNotFound {
            program: name.to_string(),
            searched: binaries::PROGRAM_SEARCH.to_string(),
        },
    )
}

/// See [`crate::running_as_root`].
pub(crate) fn running_as_root() -> bool {
    privileges::is_root()
}

/// See [`crate::server_os_user`].
pub(crate) fn server_os_user() -> Result<Option<ServerUser>, Error> {
    Ok(
        privileges::lookup_user(SERVER_OS_USER)?.map(|user| ServerUser {
            name: SERVER_OS_USER.to_string(),
            uid: user.uid,
            gid: user.gid,
        }),
    )
}

/// See [`crate::become_server_user`].
pub(crate) fn become_server_user(user: &ServerUser) -> Result<(), Error> {
    let run_as = privileges::lookup_user(&user.name)?
        .filter(|found| (found.uid, found.gid) == (user.uid, user.gid))
        .ok_or(Error::NoPostgresUser)?;
    privileges::become_server_user(&run_as)
}

/// See [`Options::running_server`].
pub(crate) fn running_server(options: &Options) -> Option<RunningServer> {
    let data_dir = fs::canonicalize(&options.data_dir).ok()?;
    let layout = layout_for(options, data_dir, privileges::is_root());
    let text = files::read_to_string(&layout.pid_file(), PID_FILE_LIMIT).ok()??;
    let info = parse_pid_file(&text);
    let pid = info.pid?;
    let socket_is_there =
        fs::symlink_metadata(layout.socket_file()).is_ok_and(|m| m.file_type().is_socket());
    (info.is_ready() && live_postgres(pid) && socket_is_there).then(|| RunningServer {
        pid: pid.unsigned_abs(),
        socket_dir: layout.socket_dir,
    })
}

impl Server {
    /// Starts the postmaster of the prepared cluster (stale lock files cleared, the log
    /// opened) and waits until it accepts connections. On failure no postmaster is left
    /// running.
    fn launch(&mut self) -> Result<(), Error> {
        let layout = &self.layout;
        clear_stale_lock(&layout.pid_file(), layout)?;
        clear_stale_lock(&layout.socket_lock_file(), layout)?;

        let postgres = self.bindir.join("postgres");
        let log = open_server_log(&self.log_file, self.run_as.as_ref(), &postgres)?;
        let log_err = log.try_clone().map_err(io_err(format!(
            "duplicating handle of {}",
            self.log_file.display()
        )))?;

        let mut cmd = Command::new(&postgres);
        cmd.arg("-D")
            .arg(&layout.cluster_dir)
            .arg("-k")
            .arg(&layout.socket_dir)
            .arg("-p")
            .arg(PORT.to_string())
            .args(["-c", "listen_addresses="])
            .args(["-c", "unix_socket_permissions=0700"])
            .args(["-c", "fsync=on"])
            .args(binaries::statement_stats_settings(&self.bindir))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            // Own process group: a terminal Ctrl-C reaches only this process, which
            // then shuts the server down in order via `stop`.
            .process_group(0);
        privileges::configure_child(&mut cmd, self.run_as.as_ref(), &layout.cluster_dir);
        privileges::stop_with_parent(&mut cmd);

        let child = cmd
            .spawn()
            .map_err(io_err(format!("starting {}", command_line(&cmd))))?;
        self.pid = child.id();
        self.child = Some(child);
        if let Err(e) = self.wait_until_ready(READY_TIMEOUT) {
            if let Err(stop) = self.stop_postmaster() {
                tracing::error!("stopping the PostgreSQL that did not get ready: {stop}");
            }
            return Err(e);
        }
        tracing::info!(
            pid = self.pid,
            socket_dir = %self.layout.socket_dir.display(),
            "embedded PostgreSQL is ready"
        );
        Ok(())
    }

    /// See [`crate::EmbeddedPostgres::restart`].
    pub(crate) fn restart(&mut self) -> Result<(), Error> {
        if self.child.is_some() && self.exited()?.is_none() {
            return Ok(());
        }
        if self.lock.is_none() {
            self.lock = Some(DataDirLock::acquire(
                &self.layout.lock_file(),
                &self.layout.data_dir,
                Duration::ZERO,
            )?);
        }
        self.launch()
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// See [`crate::EmbeddedPostgres::exited`]. The data directory stays locked: the
    /// cluster is still this process's to start again.
    pub(crate) fn exited(&mut self) -> Result<Option<ExitStatus>, Error> {
        let Some(child) = self.child.as_mut() else {
            return Ok(None);
        };
        let status = child
            .try_wait()
            .map_err(io_err(format!("checking PostgreSQL (pid {})", self.pid)))?;
        if status.is_some() {
            self.child = None;
        }
        Ok(status)
    }

    pub(crate) fn socket_dir(&self) -> &Path {
        &self.layout.socket_dir
    }

    pub(crate) fn cluster_dir(&self) -> &Path {
        &self.layout.cluster_dir
    }

    pub(crate) fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// See [`crate::EmbeddedPostgres::stop`]. The lock goes once the postmaster has.
    pub(crate) fn stop(&mut self) -> Result<(), Error> {
        let result = self.stop_postmaster();
        if self.child.is_none() {
            self.lock = None;
        }
        result
    }

    fn stop_postmaster(&mut self) -> Result<(), Error> {
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
        privileges::signal_child(pid, Signal::SIGINT);
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
        privileges::signal_child(pid, Signal::SIGQUIT);
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
        Err(Error::StopTimeout {
            pid,
            log_file: self.log_file.clone(),
        })
    }

    /// Polls `postmaster.pid` until it names our child and says "ready".
    fn wait_until_ready(&mut self, timeout: Duration) -> Result<(), Error> {
        let pid_file = self.layout.pid_file();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(child) = self.child.as_mut() {
                let status = child
                    .try_wait()
                    .map_err(io_err(format!("checking PostgreSQL (pid {})", self.pid)))?;
                if let Some(status) = status {
                    self.child = None;
                    return Err(Error::ServerExited {
                        status,
                        log_file: self.log_file.clone(),
                        log_tail: log_tail(&self.log_file, LOG_TAIL_LINES),
                    });
                }
            }
            if let Some(text) = files::read_to_string(&pid_file, PID_FILE_LIMIT)? {
                let info = parse_pid_file(&text);
                if info.pid.and_then(|p| u32::try_from(p).ok()) == Some(self.pid) && info.is_ready()
                {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::StartTimeout {
                    log_file: self.log_file.clone(),
                    log_tail: log_tail(&self.log_file, LOG_TAIL_LINES),
                    timeout,
                });
            }
            thread::sleep(READY_POLL);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::error!(data_dir = %self.layout.data_dir.display(), "stopping embedded PostgreSQL failed: {e}");
        }
    }
}

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
    let me = i32::try_from(std::process::id()).unwrap_or(-1);
    let parent = i32::try_from(std::os::unix::process::parent_id()).unwrap_or(-1);
    if pid == me || pid == parent || !privileges::pid_alive(pid) {
        return false;
    }
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => cmdline_looks_like_postgres(&cmdline),
        Err(_) => true,
    }
}

/// Handles a leftover `postmaster.pid` / socket lock file: waits (up to 15 s)
/// for a postmaster that is still shutting down, fails with `ClusterInUse` if it
/// stays, removes the file if it is stale. A lock file that is not a plain file is
/// refused (see [`files`]).
fn clear_stale_lock(lock: &Path, layout: &Layout) -> Result<(), Error> {
    let Some(text) = files::read_to_string(lock, PID_FILE_LIMIT)? else {
        return Ok(());
    };
    match parse_pid_file(&text).pid {
        Some(pid) if live_postgres(pid) => {
            tracing::info!(pid, lock = %lock.display(), "a PostgreSQL server from an earlier run is still running; waiting up to {} s for it to exit", STALE_WAIT.as_secs());
            let deadline = Instant::now() + STALE_WAIT;
            while live_postgres(pid) {
                if Instant::now() >= deadline {
                    return Err(Error::ClusterInUse {
                        data_dir: layout.data_dir.clone(),
                        cluster_dir: layout.cluster_dir.clone(),
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

fn remove_if_exists(path: &Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Io {
            context: format!("removing {}", path.display()),
            source: e,
        }),
    }
}

/// Opens `server.log` for appending (see [`files`]): one this call creates goes to the
/// server's user; an existing one must already belong to that user or to us.
fn open_server_log(log_file: &Path, user: Option<&RunAs>, postgres: &Path) -> Result<File, Error> {
    let owners = privileges::server_file_owners(user);
    let opened = files::open(log_file, Mode::Append, Some(&owners))?.expect("created if missing");
    if opened.created
        && let Some(user) = user
    {
        privileges::give_new_file(&opened, log_file, user)?;
    }
    let mut file = opened.file;
    writeln!(
        file,
        "--- {} embedded-pg: starting {} ---",
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S%.3f %z"),
        postgres.display()
    )
    .map_err(io_err(format!("writing {}", log_file.display())))?;
    Ok(file)
}

/// The last `lines` lines of the server log (at most its last 16 KiB); "" if it is
/// unreadable or not a plain file.
fn log_tail(path: &Path, lines: usize) -> String {
    let Ok(Some(opened)) = files::open(path, Mode::Read, None) else {
        return String::new();
    };
    let mut file = opened.file;
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

#[cfg(test)]
mod tests;
