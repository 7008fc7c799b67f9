//! The data directory's lock: an exclusive `flock` on `<data_dir>/embedded-pg.lock`,
//! held by the process that runs the data directory's server for as long as the
//! server runs. The holder writes its pid into the file; the kernel's lock table
//! (`/proc/locks`) names the holder even when the file could not be written.
//!
//! The descriptor is opened close-on-exec, so neither `initdb` nor `postgres` inherits
//! the lock: it goes when this process goes, however it ends.

use crate::error::{Error, LockHolder};
use crate::files::{self, Mode};
use std::fs::{File, TryLockError};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(50);
/// How long to wait for a holder that has just taken the lock to write its pid.
const PID_WAIT: Duration = Duration::from_millis(500);
/// Longest command line shown for a holder.
const MAX_COMMAND_LEN: usize = 200;

/// A held lock on a data directory; released on drop.
#[derive(Debug)]
pub(crate) struct DataDirLock {
    file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock at `path` (the data directory's lock file, created if missing),
    /// waiting up to `wait` while another process holds it. `data_dir` is for messages.
    pub(crate) fn acquire(
        path: &Path,
        data_dir: &Path,
        wait: Duration,
    ) -> Result<DataDirLock, Error> {
        let file = open_lock_file(path)?;
        let deadline = Instant::now() + wait;
        let mut announced = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        return Err(Error::DataDirLocked {
                            data_dir: data_dir.to_path_buf(),
                            holder: holder(&file),
                        });
                    }
                    if !announced {
                        announced = true;
                        tracing::info!(
                            "DATA_DIR {} is in use by {}; waiting up to {} s for it",
                            data_dir.display(),
                            holder(&file),
                            wait.as_secs()
                        );
                    }
                    thread::sleep(POLL);
                }
                Err(TryLockError::Error(e)) => {
                    return Err(Error::Io {
                        context: format!("locking {}", path.display()),
                        source: e,
                    });
                }
            }
        }
        let lock = DataDirLock {
            file,
            path: path.to_path_buf(),
        };
        lock.record_pid();
        Ok(lock)
    }

    /// Writes our pid into the lock file, for the messages of whoever finds it locked.
    fn record_pid(&self) {
        let text = format!("{}\n", std::process::id());
        let written = self
            .file
            .set_len(0)
            .and_then(|()| self.file.write_all_at(text.as_bytes(), 0));
        if let Err(e) = written {
            // Read-only (another user's file): the kernel's lock table still names us.
            tracing::debug!(lock = %self.path.display(), "could not record our pid: {e}");
        }
    }
}

impl Drop for DataDirLock {
    fn drop(&mut self) {
        // The next holder overwrites the pid; clearing it keeps a stale one from
        // misleading anyone reading the file by hand.
        let _ = self.file.set_len(0);
        // Unlock explicitly rather than by closing: a child that another thread has
        // just forked shares the open file (until it execs), and closing our descriptor
        // alone would leave the lock held through that copy.
        let _ = self.file.unlock();
    }
}

/// Opens (or creates) the lock file read-write, or read-only if it belongs to a user
/// whose file we may not write (a `flock` needs only an open descriptor).
fn open_lock_file(path: &Path) -> Result<File, Error> {
    match files::open(path, Mode::ReadWrite, None) {
        Ok(opened) => Ok(opened.expect("created if missing").file),
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::PermissionDenied => {
            files::open(path, Mode::Read, None)?
                .map(|opened| opened.file)
                .ok_or_else(|| Error::Io {
                    context: format!("opening {}", path.display()),
                    source: io::Error::from(io::ErrorKind::NotFound),
                })
        }
        Err(e) => Err(e),
    }
}

/// Who holds the lock on `file`: the kernel's lock table first, then the pid the holder
/// wrote (it may not have written it yet: wait a moment for it).
fn holder(file: &File) -> LockHolder {
    let pid = file
        .metadata()
        .ok()
        .and_then(|meta| flock_holder(meta.dev(), meta.ino()))
        .or_else(|| recorded_pid(file));
    LockHolder {
        pid,
        command: pid.and_then(command_line),
    }
}

fn recorded_pid(file: &File) -> Option<u32> {
    let deadline = Instant::now() + PID_WAIT;
    loop {
        let mut buf = [0u8; 32];
        let n = file.read_at(&mut buf, 0).unwrap_or(0);
        let pid = std::str::from_utf8(&buf[..n])
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
            .filter(|&pid| pid > 0);
        if pid.is_some() || Instant::now() >= deadline {
            return pid;
        }
        thread::sleep(POLL);
    }
}

/// The pid of the process holding a `flock` on the file with this device and inode
/// number, from `/proc/locks`.
fn flock_holder(dev: u64, ino: u64) -> Option<u32> {
    let text = std::fs::read_to_string("/proc/locks").ok()?;
    find_flock_holder(&text, dev, ino)
}

/// Lines look like `3: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF`: the pid, then
/// the device as hexadecimal major:minor and the inode number. Processes waiting for a
/// lock have `->` before the type and are skipped. Some file systems (overlays) show
/// another device there than `stat` does: then a single flock on the inode number
/// alone will do.
fn find_flock_holder(locks: &str, dev: u64, ino: u64) -> Option<u32> {
    let wanted_dev = format!("{:02x}:{:02x}", dev_major(dev), dev_minor(dev));
    let flocks: Vec<(&str, &str, u32)> = locks
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [_, "FLOCK", _, _, pid, file, ..] => {
                    let (device, inode) = file.rsplit_once(':')?;
                    let pid = pid.parse().ok().filter(|&pid| pid > 0)?;
                    Some((device, inode, pid))
                }
                _ => None,
            }
        })
        .filter(|(_, inode, _)| inode.parse() == Ok(ino))
        .collect();
    if let Some((_, _, pid)) = flocks.iter().find(|(device, _, _)| *device == wanted_dev) {
        return Some(*pid);
    }
    match flocks.as_slice() {
        [(_, _, pid)] => Some(*pid),
        _ => None,
    }
}

/// glibc's `major()` for Linux's 64-bit `dev_t`.
fn dev_major(dev: u64) -> u64 {
    ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff)
}

/// glibc's `minor()` for Linux's 64-bit `dev_t`.
fn dev_minor(dev: u64) -> u64 {
    ((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff)
}

/// What `/proc/<pid>/cmdline` shows, arguments separated by spaces, shortened.
fn command_line(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let text = raw
        .split(|&b| b == 0)
        .filter(|arg| !arg.is_empty())
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(" ");
    if text.is_empty() {
        return None;
    }
    Some(if text.chars().count() > MAX_COMMAND_LEN {
        let short: String = text.chars().take(MAX_COMMAND_LEN).collect();
        format!("{short}…")
    } else {
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{TempDir, mkfifo};
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    /// Names the lock file of a child helper process (see `hold_lock_in_child`).
    const HOLD_ENV: &str = "EMBEDDED_PG_TEST_HOLD_LOCK";

    fn lock_path(dir: &TempDir) -> PathBuf {
        dir.path().join("embedded-pg.lock")
    }

    #[test]
    fn a_second_lock_names_the_holder_pid() {
        let tmp = TempDir::new("lock-second");
        let first = DataDirLock::acquire(&lock_path(&tmp), tmp.path(), Duration::ZERO).unwrap();
        assert_eq!(
            std::fs::read_to_string(lock_path(&tmp)).unwrap(),
            format!("{}\n", std::process::id())
        );
        // flock locks belong to the open file, so a second open conflicts even here.
        let err = DataDirLock::acquire(&lock_path(&tmp), tmp.path(), Duration::ZERO).unwrap_err();
        let Error::DataDirLocked { holder, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(holder.pid, Some(std::process::id()));
        assert!(holder.command.is_some(), "{holder:?}");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("process {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains(&tmp.path().display().to_string()), "{msg}");

        // The kernel names the holder even when the file says nothing.
        first.file.set_len(0).unwrap();
        let err = DataDirLock::acquire(&lock_path(&tmp), tmp.path(), Duration::ZERO).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("process {}", std::process::id())),
            "{err}"
        );

        drop(first);
        let again = DataDirLock::acquire(&lock_path(&tmp), tmp.path(), Duration::ZERO);
        assert!(again.is_ok(), "released on drop: {again:?}");
    }

    #[test]
    fn a_lock_held_by_another_process_names_it() {
        let tmp = TempDir::new("lock-child");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "lock::tests::hold_lock_in_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(HOLD_ENV, lock_path(&tmp))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // libtest prints "test ... " before the helper's own output on the same line.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            // Read to the end, so that the helper never writes into a closed pipe.
            for line in BufReader::new(stdout).lines() {
                if line.is_ok_and(|l| l.ends_with("LOCKED")) {
                    let _ = tx.send(true);
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(30)) != Ok(true) {
            let _ = child.kill();
            panic!("the helper process did not take the lock");
        }

        let err = DataDirLock::acquire(&lock_path(&tmp), tmp.path(), Duration::ZERO).unwrap_err();
        let Error::DataDirLocked { holder, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(holder.pid, Some(child.id()), "{err}");
        assert!(err.to_string().contains(&format!("process {}", child.id())));

        // A waiting start gets the lock once the holder exits.
        let mut stdin = child.stdin.take().unwrap();
        let waiter = thread::spawn({
            let path = lock_path(&tmp);
            let dir = tmp.path().to_path_buf();
            move || DataDirLock::acquire(&path, &dir, Duration::from_secs(30))
        });
        thread::sleep(Duration::from_millis(200));
        stdin.write_all(b"done\n").unwrap();
        drop(stdin);
        assert!(child.wait().unwrap().success());
        let lock = waiter
            .join()
            .unwrap()
            .expect("acquired after the holder exited");
        drop(lock);
    }

    /// Not a test of its own: the helper process of `a_lock_held_by_another_process_names_it`.
    #[test]
    #[ignore = "helper process for a_lock_held_by_another_process_names_it"]
    fn hold_lock_in_child() {
        let Some(path) = std::env::var_os(HOLD_ENV) else {
            return;
        };
        let path = PathBuf::from(path);
        let dir = path.parent().unwrap().to_path_buf();
        let _lock = DataDirLock::acquire(&path, &dir, Duration::ZERO).unwrap();
        println!("LOCKED");
        std::io::stdout().flush().unwrap();
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }

    #[test]
    fn planted_lock_files_are_refused() {
        let tmp = TempDir::new("lock-planted");
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, lock_path(&tmp)).unwrap();
        let err = DataDirLock::acquire(&lock_path(&tmp), tmp.path(), Duration::ZERO).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");

        std::fs::remove_file(lock_path(&tmp)).unwrap();
        mkfifo(&lock_path(&tmp));
        let err = DataDirLock::acquire(&lock_path(&tmp), tmp.path(), Duration::ZERO).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
    }

    #[test]
    fn proc_locks_parsing() {
        let dev = (0xfd_u64 << 8) | 0x01; // major 0xfd, minor 1
        assert_eq!((dev_major(dev), dev_minor(dev)), (0xfd, 0x01));
        let locks = "1: POSIX  ADVISORY  WRITE 111 fd:01:42 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 4242 fd:01:42 0 EOF\n\
                     2: -> FLOCK  ADVISORY  WRITE 4343 fd:01:42 0 EOF\n\
                     3: FLOCK  ADVISORY  WRITE 5555 fd:01:43 0 EOF\n";
        assert_eq!(find_flock_holder(locks, dev, 42), Some(4242));
        assert_eq!(find_flock_holder(locks, dev, 43), Some(5555));
        assert_eq!(find_flock_holder(locks, dev, 44), None);
        // Another device number for the same inode: the only flock on that inode.
        assert_eq!(find_flock_holder(locks, 0x0803, 43), Some(5555));
        let two = "1: FLOCK  ADVISORY  WRITE 1 08:01:7 0 EOF\n2: FLOCK  ADVISORY  WRITE 2 08:02:7 0 EOF\n";
        assert_eq!(find_flock_holder(two, 0x0803, 7), None, "ambiguous");
    }
}
