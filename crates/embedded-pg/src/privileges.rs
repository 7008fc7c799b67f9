//! Who runs what: running as root, the `postgres` OS user the server then runs as,
//! handing files to that user, the child processes' credentials and parent-death
//! signal, signals to processes, and a root process becoming that user for good
//! ([`become_server_user`]). The crate's only `unsafe` code, and its only changes of
//! ownership and of credentials, are in this module.
//!
//! Root gives to `postgres` only what it has just created itself (the cluster
//! directory, a new `server.log`); an existing file or directory is never chowned, only
//! checked.

use crate::error::{Error, io_err};
use crate::files;
use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{self, Signal};
use nix::unistd::{Gid, Pid, Uid, User};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// OS user that runs the server when we are root.
pub(crate) const SERVER_OS_USER: &str = "postgres";

/// The unprivileged OS user the server runs as when we are root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunAs {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) home: PathBuf,
}

/// Whether this process runs as root (effective uid 0).
pub(crate) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// This process's effective uid.
pub(crate) fn effective_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// The user the server runs as: `None` for ourselves, the `postgres` OS user when we
/// are root (an error if there is none).
pub(crate) fn server_user() -> Result<Option<RunAs>, Error> {
    if !is_root() {
        return Ok(None);
    }
    lookup_user(SERVER_OS_USER)?
        .map(Some)
        .ok_or(Error::NoPostgresUser)
}

/// Looks an OS user up (getpwnam_r); `Ok(None)` if there is no such user.
pub(crate) fn lookup_user(name: &str) -> Result<Option<RunAs>, Error> {
    match User::from_name(name) {
        Ok(user) => Ok(user.map(|u| RunAs {
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            home: u.dir,
        })),
        // What getpwnam_r reports for "no such user" varies by C library.
        Err(Errno::ENOENT | Errno::ESRCH | Errno::EBADF | Errno::EPERM) => Ok(None),
        Err(e) => Err(Error::Io {
            context: format!("looking up OS user {name:?}"),
            source: e.into(),
        }),
    }
}

/// The uids an existing file of the server may belong to: the server's user, and this
/// process (which created the files of earlier versions of the launcher).
pub(crate) fn server_file_owners(user: Option<&RunAs>) -> Vec<u32> {
    let mut owners = vec![effective_uid()];
    if let Some(user) = user
        && user.uid != owners[0]
    {
        owners.push(user.uid);
    }
    owners
}

/// Gives a file that this process has just created to the server's user.
pub(crate) fn give_new_file(
    opened: &files::Opened,
    path: &Path,
    user: &RunAs,
) -> Result<(), Error> {
    assert!(opened.created, "never chown a file we did not create");
    chown_fd(&opened.file, path, user)
}

fn chown_fd(file: &File, path: &Path, user: &RunAs) -> Result<(), Error> {
    std::os::unix::fs::fchown(file, Some(user.uid), Some(user.gid)).map_err(io_err(format!(
        "changing owner of {} to {SERVER_OS_USER}",
        path.display()
    )))
}

/// Creates directory `dir` (mode 0700) for the server: as root, one that is created
/// here is given to the server's user; an existing one must already be a directory
/// owned by that user (it is not a symbolic link, and it is not chowned).
pub(crate) fn create_server_dir(dir: &Path, user: Option<&RunAs>) -> Result<(), Error> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => match user {
            None => Ok(()),
            Some(user) => {
                // Opened O_DIRECTORY | O_NOFOLLOW: what we chown is the directory just made.
                let handle = fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
                    .open(dir)
                    .map_err(io_err(format!("opening {}", dir.display())))?;
                chown_fd(&handle, dir, user)
            }
        },
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => check_existing_dir(dir, user),
        Err(e) => Err(Error::Io {
            context: format!("creating {}", dir.display()),
            source: e,
        }),
    }
}

fn check_existing_dir(dir: &Path, user: Option<&RunAs>) -> Result<(), Error> {
    let Some(user) = user else {
        // Our own directory: a symbolic link to a directory elsewhere is the user's choice.
        return if dir.is_dir() {
            Ok(())
        } else {
            Err(Error::Io {
                context: format!("creating {}", dir.display()),
                source: io::Error::from(io::ErrorKind::AlreadyExists),
            })
        };
    };
    let meta = fs::symlink_metadata(dir).map_err(io_err(format!("reading {}", dir.display())))?;
    let problem = if !meta.file_type().is_dir() {
        Some(files::describe(&meta.file_type()).to_string())
    } else if meta.uid() != user.uid {
        Some(format!(
            "is owned by uid {}, not by the {SERVER_OS_USER} user (uid {}), and root does not \
             chown what it did not create",
            meta.uid(),
            user.uid
        ))
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::UnsafeFile {
            path: dir.to_path_buf(),
            problem,
        }),
        None => Ok(()),
    }
}

/// Runs the child as `user` (if any), with HOME set and its working directory `cwd`.
/// A process that was root and has become `user` ([`become_server_user`]) starts it as
/// itself.
///
/// std drops the supplementary groups when root starts a child under another uid.
pub(crate) fn configure_child(cmd: &mut Command, user: Option<&RunAs>, cwd: &Path) {
    cmd.current_dir(cwd);
    if let Some(user) = user {
        if is_root() {
            cmd.uid(user.uid).gid(user.gid);
        }
        cmd.env("HOME", &user.home)
            .env("USER", SERVER_OS_USER)
            .env("LOGNAME", SERVER_OS_USER);
    }
}

/// Makes the kernel send the child SIGINT (PostgreSQL's fast shutdown) when the
/// *thread* that spawns it exits, and refuses to start it if this process is already
/// gone by then.
pub(crate) fn stop_with_parent(cmd: &mut Command) {
    let parent_pid = std::process::id();
    let hook = move || -> io::Result<()> {
        nix::sys::prctl::set_pdeathsig(Signal::SIGINT)?;
        // If the parent died before prctl took effect, nobody would ever stop us.
        if std::os::unix::process::parent_id() != parent_pid {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        Ok(())
    };
    // SAFETY: the hook runs in the forked child before exec; it only makes
    // async-signal-safe system calls (prctl, getppid) and does not allocate. std runs it
    // after setgid/setuid, which matters because a credential change clears the
    // parent-death signal.
    unsafe {
        cmd.pre_exec(hook);
    }
}

/// Makes this process, every thread of it, the `user` OS user for good: no
/// supplementary groups but `user`'s own, then its group and its uid as the real,
/// effective and saved ids (so neither can be taken back). glibc applies each change to
/// every thread; this checks that none is left with uid 0. Run as root.
pub(crate) fn become_server_user(user: &RunAs) -> Result<(), Error> {
    let fail = |what: &str| {
        let what = what.to_string();
        move |e: Errno| Error::Io {
            context: format!("switching this process to the {SERVER_OS_USER} OS user: {what}"),
            source: e.into(),
        }
    };
    let gid = Gid::from_raw(user.gid);
    let uid = Uid::from_raw(user.uid);
    nix::unistd::setgroups(&[gid]).map_err(fail("setgroups"))?;
    nix::unistd::setresgid(gid, gid, gid).map_err(fail("setresgid"))?;
    nix::unistd::setresuid(uid, uid, uid).map_err(fail("setresuid"))?;
    let ids = nix::unistd::getresuid().map_err(fail("getresuid"))?;
    let groups = nix::unistd::getresgid().map_err(fail("getresgid"))?;
    if [ids.real, ids.effective, ids.saved] != [uid; 3]
        || [groups.real, groups.effective, groups.saved] != [gid; 3]
    {
        return Err(Error::Io {
            context: format!("switching this process to the {SERVER_OS_USER} OS user"),
            source: io::Error::other(format!("the ids are still {ids:?}, {groups:?}")),
        });
    }
    if let Some(task) = thread_with_uid_0()? {
        return Err(Error::Io {
            context: format!("switching this process to the {SERVER_OS_USER} OS user"),
            source: io::Error::other(format!("thread {task} still has uid 0")),
        });
    }
    Ok(())
}

/// The first thread of this process (its id) that has uid 0 as its real, effective,
/// saved or file-system uid, from `/proc/self/task/*/status`.
fn thread_with_uid_0() -> Result<Option<String>, Error> {
    let tasks = fs::read_dir("/proc/self/task").map_err(io_err("reading /proc/self/task"))?;
    for task in tasks {
        let task = task.map_err(io_err("reading /proc/self/task"))?;
        let Ok(status) = fs::read_to_string(task.path().join("status")) else {
            continue; // the thread has just ended
        };
        if status_has_uid_0(&status) {
            return Ok(Some(task.file_name().to_string_lossy().into_owned()));
        }
    }
    Ok(None)
}

/// Whether a `/proc/<pid>/status` text has a `Uid:` line (real, effective, saved and
/// file-system uid) with a 0 in it.
fn status_has_uid_0(status: &str) -> bool {
    status
        .lines()
        .filter_map(|line| line.strip_prefix("Uid:"))
        .any(|ids| ids.split_whitespace().any(|id| id == "0"))
}

/// Sends `signal` to our own child `pid` (not yet reaped, so the pid cannot have been
/// reused).
pub(crate) fn signal_child(pid: u32, signal: Signal) {
    let Ok(raw) = i32::try_from(pid) else { return };
    if let Err(e) = signal::kill(Pid::from_raw(raw), signal) {
        tracing::debug!(pid, %signal, "kill failed: {e}");
    }
}

/// Whether process `pid` exists (possibly under another user).
pub(crate) fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    matches!(
        signal::kill(Pid::from_raw(pid), None),
        Ok(()) | Err(Errno::EPERM)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::TempDir;

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
    fn uid_lines_are_read() {
        let root = "Name:\tx\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n";
        assert!(status_has_uid_0(root));
        let dropped = "Name:\tx\nUid:\t101\t101\t101\t101\nGid:\t0\t0\t0\t0\n";
        assert!(
            !status_has_uid_0(dropped),
            "gid 0 does not count, uid 101 is fine"
        );
        let saved = "Uid:\t101\t101\t0\t101\n";
        assert!(
            status_has_uid_0(saved),
            "a saved uid 0 could take root back"
        );
        assert!(!status_has_uid_0("Uid:\t1000\t1000\t1000\t1000\n"));
    }

    #[test]
    fn processes_are_seen() {
        assert!(pid_alive(i32::try_from(std::process::id()).unwrap()));
        assert!(!pid_alive(0));
        assert!(!pid_alive(-1));
    }

    #[test]
    fn existing_server_dirs_are_checked_not_chowned() {
        let tmp = TempDir::new("privileges-dirs");
        let me = RunAs {
            uid: effective_uid(),
            gid: nix::unistd::getegid().as_raw(),
            home: PathBuf::from("/"),
        };
        let dir = tmp.path().join("cluster");
        create_server_dir(&dir, Some(&me)).unwrap();
        create_server_dir(&dir, Some(&me)).unwrap(); // exists, ours: fine
        let stranger = RunAs {
            uid: me.uid + 4242,
            ..me.clone()
        };
        let err = create_server_dir(&dir, Some(&stranger)).unwrap_err();
        assert!(err.to_string().contains("does not chown"), "{err}");
        assert_eq!(fs::metadata(&dir).unwrap().uid(), me.uid, "not chowned");

        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let err = create_server_dir(&link, Some(&me)).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // As an ordinary user, one's own symbolic link to a directory is fine.
        create_server_dir(&link, None).unwrap();
    }
}
