//! What can go wrong, each with a message that says what to do about it.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Errors from starting or stopping the embedded PostgreSQL server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// This operating system has no embedded server (it needs Linux).
    #[error(
        "the embedded PostgreSQL server runs only on Linux; set DATABASE_URL to use an existing \
         PostgreSQL server"
    )]
    Unsupported,

    /// Neither PATH, `pg_config --bindir` nor `/usr/lib/postgresql/*/bin` has `initdb` and `postgres`.
    #[error(
        "PostgreSQL server binaries (initdb, postgres) were not found on PATH, via `pg_config --bindir`, \
         or under /usr/lib/postgresql/*/bin. Install them (Debian/Ubuntu: `apt-get install postgresql`) \
         or set DATABASE_URL to use an existing server."
    )]
    NoServerBinaries,

    /// A PostgreSQL client program (such as `pg_dump` or `pg_restore`) was not found.
    #[error(
        "`{program}` was not found {searched}. Install the PostgreSQL client programs \
         (Debian/Ubuntu: `apt-get install postgresql-client`; the server package includes them)"
    )]
    ProgramNotFound {
        /// The program's name.
        program: String,
        /// Where it was looked for.
        searched: String,
    },

    /// Running as root, but there is no `postgres` OS user to run the server as.
    #[error(
        "running as root, but there is no `postgres` OS user to run the embedded PostgreSQL server as \
         (PostgreSQL refuses to run as root). Create that user (Debian/Ubuntu: `apt-get install postgresql` \
         does), run as an ordinary user, or set DATABASE_URL to use an existing server."
    )]
    NoPostgresUser,

    /// Another process holds the data directory's lock: it runs (or is starting) the
    /// embedded server of this data directory.
    #[error(
        "DATA_DIR {} is in use by {holder}, which runs its embedded PostgreSQL server; only one \
         process at a time can run it. Stop that process, or choose another DATA_DIR",
        data_dir.display()
    )]
    DataDirLocked {
        /// The data directory.
        data_dir: PathBuf,
        /// The process that holds its lock.
        holder: LockHolder,
    },

    /// A PostgreSQL server that this launcher did not start runs on the cluster (its
    /// `postmaster.pid` names a live postgres process that did not exit within 15 s).
    #[error(
        "another postgres (pid {pid}) is using {} (the cluster of DATA_DIR {}); \
         stop it or choose another DATA_DIR",
        cluster_dir.display(),
        data_dir.display()
    )]
    ClusterInUse {
        /// The data directory.
        data_dir: PathBuf,
        /// The cluster directory that is in use.
        cluster_dir: PathBuf,
        /// Process id of the running postmaster.
        pid: i32,
    },

    /// A file the launcher reads or writes is not a plain file of its own: a symbolic
    /// link, a FIFO, a directory, a file with several hard links, or a file owned by a
    /// user it does not expect. It is left alone.
    #[error(
        "refusing to use {}: it {problem}. The launcher only uses plain files it or the server \
         created; inspect it and remove it (or choose another DATA_DIR)",
        path.display()
    )]
    UnsafeFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, e.g. "is a symbolic link".
        problem: String,
    },

    /// The cluster's `PG_VERSION` does not hold a PostgreSQL version number.
    #[error(
        "{} does not hold a PostgreSQL version number (such as `15` or `9.6`), so this is not a \
         cluster the launcher created, or the file was damaged. Nothing was changed; inspect the \
         directory, or choose another DATA_DIR",
        path.display()
    )]
    BadPgVersion {
        /// The `PG_VERSION` file.
        path: PathBuf,
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
    #[error("`{command}` failed ({status}); its output:\n{output}")]
    CommandFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: ExitStatus,
        /// Its standard output and standard error.
        output: String,
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

/// The process that holds a data directory's lock, as far as it can be told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockHolder {
    /// Its process id, from the kernel's lock table or from the lock file.
    pub pid: Option<u32>,
    /// Its command line, when `/proc` shows it.
    pub command: Option<String>,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.pid, &self.command) {
            (Some(pid), Some(command)) => write!(f, "process {pid} (`{command}`)"),
            (Some(pid), None) => write!(f, "process {pid}"),
            (None, _) => f.write_str("another process (its pid could not be determined)"),
        }
    }
}

#[cfg(target_os = "linux")]
pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_holder_names_the_process() {
        let holder = LockHolder {
            pid: Some(4242),
            command: Some("portfolio-tracker serve".into()),
        };
        let err = Error::DataDirLocked {
            data_dir: PathBuf::from("/srv/data"),
            holder,
        };
        let msg = err.to_string();
        assert!(msg.contains("/srv/data"), "{msg}");
        assert!(
            msg.contains("process 4242 (`portfolio-tracker serve`)"),
            "{msg}"
        );
        assert!(
            LockHolder::default()
                .to_string()
                .contains("could not be determined")
        );
    }
}
