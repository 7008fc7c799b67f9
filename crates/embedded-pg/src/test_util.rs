//! Helpers for the unit tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory under the system's temporary directory, removed on drop. World-readable
/// (0755), so that the `postgres` user can reach what is in it when the tests run as root.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("embedded-pg-test-{}-{tag}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Writes an executable shell script. A child process writes it, so that no descriptor
/// open for writing can leak into a sibling test's fork (which would make executing the
/// script fail with "text file busy").
pub(crate) fn fake_exe(path: &Path, body: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let status = Command::new("sh")
        .args([
            "-c",
            "printf '#!/bin/sh\\n%s\\n' \"$1\" > \"$2\" && chmod 755 \"$2\"",
            "sh",
        ])
        .arg(body)
        .arg(path)
        .status()
        .expect("run sh");
    assert!(status.success(), "writing {}", path.display());
}

/// `initdb` that does nothing and `postgres` that says it is `version`.
pub(crate) fn fake_bindir(dir: &Path, version: &str) {
    fake_exe(&dir.join("initdb"), "exit 0");
    fake_exe(
        &dir.join("postgres"),
        &format!("echo 'postgres (PostgreSQL) {version}'"),
    );
}

pub(crate) fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// The newest real PostgreSQL installation on this machine, if any (tests that need a
/// real server skip without one, saying so).
pub(crate) fn real_bindir() -> Option<PathBuf> {
    let found = crate::binaries::find_bindir().ok();
    if found.is_none() {
        eprintln!("no PostgreSQL server binaries on this machine: skipping");
    }
    found
}
