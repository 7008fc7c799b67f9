//! Where a data directory's cluster, socket, log and lock live, and preparing those
//! directories (see "Layout" in the crate docs).

use crate::error::{Error, io_err};
use crate::files::{self, Mode};
use crate::privileges::{self, RunAs, SERVER_OS_USER};
use std::fs::{self, DirBuilder};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// File name of the Unix socket inside the socket directory (port 5432).
pub(crate) const SOCKET_FILE: &str = ".s.PGSQL.5432";
/// `sizeof(sockaddr_un.sun_path)` is 108 on Linux, including the trailing NUL;
/// PostgreSQL, libpq and std all reject longer paths.
pub(crate) const MAX_SOCKET_PATH_LEN: usize = 107;
/// Longest `<name>` part of the root cluster directory name.
const MAX_NAME_LEN: usize = 40;
/// In the data directory, as root: where the cluster is.
pub(crate) const CLUSTER_LOCATION: &str = "CLUSTER_LOCATION";
/// In the data directory: the lock the process that runs the server holds.
pub(crate) const LOCK_FILE: &str = "embedded-pg.lock";
/// Longest `PG_VERSION` we read.
const PG_VERSION_LIMIT: u64 = 64;

/// The paths of one data directory's cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The canonical data directory.
    pub(crate) data_dir: PathBuf,
    /// Where the cluster's files are.
    pub(crate) cluster_dir: PathBuf,
    /// Where the server puts its socket (the cluster directory).
    pub(crate) socket_dir: PathBuf,
}

impl Layout {
    /// For canonical `data_dir`: `<data_dir>/pg`, or as root `<root_base>/<name>-<hash>`.
    pub(crate) fn new(data_dir: PathBuf, root_base: Option<&Path>) -> Layout {
        let cluster_dir = match root_base {
            None => data_dir.join("pg"),
            Some(base) => root_cluster_dir(base, &data_dir),
        };
        Layout {
            socket_dir: cluster_dir.clone(),
            data_dir,
            cluster_dir,
        }
    }

    pub(crate) fn pid_file(&self) -> PathBuf {
        self.cluster_dir.join("postmaster.pid")
    }

    pub(crate) fn socket_lock_file(&self) -> PathBuf {
        self.socket_dir.join(format!("{SOCKET_FILE}.lock"))
    }

    pub(crate) fn socket_file(&self) -> PathBuf {
        self.socket_dir.join(SOCKET_FILE)
    }

    pub(crate) fn log_file(&self) -> PathBuf {
        self.cluster_dir.join("server.log")
    }

    pub(crate) fn pg_version_file(&self) -> PathBuf {
        self.cluster_dir.join("PG_VERSION")
    }

    pub(crate) fn lock_file(&self) -> PathBuf {
        self.data_dir.join(LOCK_FILE)
    }

    /// Creates the cluster directory (and as root its parent and `CLUSTER_LOCATION`).
    pub(crate) fn prepare(&self, user: Option<&RunAs>) -> Result<(), Error> {
        match user {
            None => self.prepare_user_layout(),
            Some(user) => self.prepare_root_layout(user),
        }
    }

    fn prepare_user_layout(&self) -> Result<(), Error> {
        let marker = self.data_dir.join(CLUSTER_LOCATION);
        if fs::symlink_metadata(&marker).is_ok() && !self.pg_version_file().exists() {
            tracing::warn!(
                "{} exists: this DATA_DIR was used by a launcher running as root, whose cluster is \
                 elsewhere; as an ordinary user a separate cluster is used in {}",
                marker.display(),
                self.cluster_dir.display()
            );
        }
        privileges::create_server_dir(&self.cluster_dir, None)
    }

    fn prepare_root_layout(&self, user: &RunAs) -> Result<(), Error> {
        if let Some(base) = self.cluster_dir.parent()
            && !base.exists()
        {
            DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(base)
                .map_err(io_err(format!("creating {}", base.display())))?;
            // The umask may have removed bits the postgres user needs to traverse it.
            fs::set_permissions(base, fs::Permissions::from_mode(0o755))
                .map_err(io_err(format!("setting permissions of {}", base.display())))?;
        }
        privileges::create_server_dir(&self.cluster_dir, Some(user))?;

        let user_cluster = self.data_dir.join("pg");
        if user_cluster.join("PG_VERSION").exists() {
            tracing::warn!(
                "{} holds a cluster created by a non-root run; running as root uses {} instead",
                user_cluster.display(),
                self.cluster_dir.display()
            );
        }
        self.write_cluster_location()
    }

    /// Writes `<data_dir>/CLUSTER_LOCATION` unless it already says the right thing; line 2
    /// is the cluster directory (scripts read it).
    fn write_cluster_location(&self) -> Result<(), Error> {
        let marker = self.data_dir.join(CLUSTER_LOCATION);
        let text = format!(
            "The PostgreSQL cluster for this data directory lives in\n{}\n\n\
             The launcher ran as root, so the embedded server runs as the `{SERVER_OS_USER}` OS user,\n\
             and its files are kept where that user can reach them.\n",
            self.cluster_dir.display(),
        );
        let opened = files::open(&marker, Mode::ReadWrite, None)?.expect("created if missing");
        let mut current = Vec::new();
        (&opened.file)
            .take(4096)
            .read_to_end(&mut current)
            .map_err(io_err(format!("reading {}", marker.display())))?;
        if current != text.as_bytes() {
            opened
                .file
                .set_len(0)
                .and_then(|()| opened.file.write_all_at(text.as_bytes(), 0))
                .map_err(io_err(format!("writing {}", marker.display())))?;
        }
        Ok(())
    }

    /// The cluster's PostgreSQL major version from `PG_VERSION`; `None` if there is no
    /// such file (no cluster yet).
    pub(crate) fn pg_version(&self) -> Result<Option<String>, Error> {
        let path = self.pg_version_file();
        let Some(text) = files::read_to_string(&path, PG_VERSION_LIMIT)? else {
            return Ok(None);
        };
        let version = text.strip_suffix('\n').unwrap_or(&text);
        if is_version_number(version) {
            Ok(Some(version.to_string()))
        } else {
            Err(Error::BadPgVersion { path })
        }
    }

    /// Whether the cluster directory is empty (no file at all, not even a hidden one).
    pub(crate) fn cluster_dir_is_empty(&self) -> Result<bool, Error> {
        dir_is_empty(&self.cluster_dir)
    }
}

/// `15`, `9.6`: what `initdb` writes into `PG_VERSION` (and what may name a directory
/// under `/usr/lib/postgresql`).
pub(crate) fn is_version_number(text: &str) -> bool {
    let mut parts = text.split('.');
    let numeric = |p: &str| (1..=4).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
    let first_ok = parts.next().is_some_and(numeric);
    let rest: Vec<&str> = parts.collect();
    first_ok && rest.len() <= 1 && rest.iter().all(|p| numeric(p))
}

pub(crate) fn dir_is_empty(dir: &Path) -> Result<bool, Error> {
    let mut entries = fs::read_dir(dir).map_err(io_err(format!("reading {}", dir.display())))?;
    Ok(entries.next().is_none())
}

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

/// Returns the socket path, or an error if it is too long for `sun_path`.
pub(crate) fn check_socket_path(socket_dir: &Path) -> Result<PathBuf, Error> {
    let socket_path = socket_dir.join(SOCKET_FILE);
    let len = socket_path.as_os_str().len();
    if len > MAX_SOCKET_PATH_LEN {
        return Err(Error::SocketPathTooLong {
            socket_path,
            len,
            max: MAX_SOCKET_PATH_LEN,
        });
    }
    Ok(socket_path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ROOT_CLUSTER_BASE;
    use crate::test_util::{TempDir, mkfifo};

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
            Err(e @ Error::SocketPathTooLong { len: 108, .. }) => {
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
        let layout = Layout::new(PathBuf::from("/srv/a/data"), Some(base));
        assert_eq!(layout.cluster_dir, a);
        assert_eq!(layout.socket_dir, a);
        let user = Layout::new(PathBuf::from("/srv/a/data"), None);
        assert_eq!(user.cluster_dir, Path::new("/srv/a/data/pg"));
        assert_eq!(user.lock_file(), Path::new("/srv/a/data/embedded-pg.lock"));
    }

    #[test]
    fn version_numbers() {
        for good in ["15", "9.6", "10", "17", "100"] {
            assert!(is_version_number(good), "{good}");
        }
        for bad in [
            "",
            "15\n",
            "15.",
            ".6",
            "1.2.3",
            "../../tmp",
            "15beta1",
            "fifteen",
            " 15",
            "12345",
        ] {
            assert!(!is_version_number(bad), "{bad:?}");
        }
    }

    #[test]
    fn pg_version_must_be_a_plain_file_holding_a_version() {
        let tmp = TempDir::new("layout-pg-version");
        let layout = Layout::new(tmp.path().to_path_buf(), None);
        fs::create_dir(&layout.cluster_dir).unwrap();
        assert_eq!(layout.pg_version().unwrap(), None);
        fs::write(layout.pg_version_file(), "15\n").unwrap();
        assert_eq!(layout.pg_version().unwrap().as_deref(), Some("15"));

        for garbage in ["hello\n", "../../../tmp/evil\n", "15\n16\n", "", "\u{0}\n"] {
            fs::write(layout.pg_version_file(), garbage).unwrap();
            let err = layout.pg_version().unwrap_err();
            assert!(
                matches!(err, Error::BadPgVersion { .. }),
                "{garbage:?}: {err}"
            );
            assert!(
                err.to_string()
                    .contains("does not hold a PostgreSQL version number"),
                "{err}"
            );
        }

        fs::remove_file(layout.pg_version_file()).unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        fs::write(&elsewhere, "15\n").unwrap();
        std::os::unix::fs::symlink(&elsewhere, layout.pg_version_file()).unwrap();
        let err = layout.pg_version().unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");

        fs::remove_file(layout.pg_version_file()).unwrap();
        mkfifo(&layout.pg_version_file());
        let err = layout.pg_version().unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
    }

    #[test]
    fn cluster_location_is_written_in_place_never_through_a_link() {
        let tmp = TempDir::new("layout-location");
        let data_dir = tmp.path().join("data");
        fs::create_dir(&data_dir).unwrap();
        let layout = Layout::new(data_dir.clone(), Some(tmp.path()));
        layout.write_cluster_location().unwrap();
        let marker = data_dir.join(CLUSTER_LOCATION);
        let text = fs::read_to_string(&marker).unwrap();
        assert_eq!(
            text.lines().nth(1),
            Some(layout.cluster_dir.to_str().unwrap()),
            "line 2 names the cluster"
        );
        // A longer stale text is replaced whole.
        fs::write(&marker, "x".repeat(5000)).unwrap();
        layout.write_cluster_location().unwrap();
        assert_eq!(fs::read_to_string(&marker).unwrap(), text);

        fs::remove_file(&marker).unwrap();
        let victim = tmp.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, &marker).unwrap();
        let err = layout.write_cluster_location().unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    }
}
