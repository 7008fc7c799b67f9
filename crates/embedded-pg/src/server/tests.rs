use super::*;
use crate::test_util::{TempDir, fake_bindir, fake_exe, mkfifo, real_bindir};
use std::os::unix::fs::{MetadataExt, symlink};
use std::sync::mpsc;

const PID_FILE_READY: &str = "12345\n/var/lib/portfolio-tracker/data-0123456789abcdef\n1700000000\n5432\n/var/lib/portfolio-tracker/data-0123456789abcdef\n\n  5432001    32769\nready   \n";

/// Options for `<tmp>/data`, with clusters under `<tmp>/clusters` when root (so the
/// tests never touch /var/lib).
fn options_in(tmp: &TempDir) -> Options {
    let mut options = Options::new(tmp.path().join("data"));
    options.root_cluster_base = tmp.path().join("clusters");
    options
}

/// A data directory whose cluster directory exists (owned by the server's user, as
/// the launcher makes it) and claims to be a PostgreSQL 15 cluster, with fake binaries
/// of version 15: a start gets as far as opening the server log and starting
/// "postgres", which exits at once.
fn prepared(tag: &str) -> (TempDir, Options, Layout) {
    let tmp = TempDir::new(tag);
    let bindir = tmp.path().join("bin");
    fake_bindir(&bindir, "15.4");
    let options = options_in(&tmp).bindir(&bindir);
    fs::create_dir_all(&options.data_dir).unwrap();
    let data_dir = fs::canonicalize(&options.data_dir).unwrap();
    let layout = layout_for(&options, data_dir, privileges::is_root());
    let user = privileges::server_user().unwrap();
    layout.prepare(user.as_ref()).unwrap();
    fs::write(layout.pg_version_file(), "15\n").unwrap();
    (tmp, options, layout)
}

/// Starts in a thread and gives up after 30 s, so that a start that hangs (on a FIFO,
/// say) fails the test instead of blocking the run.
fn start_within_30s(options: &Options) -> Result<Server, Error> {
    let (tx, rx) = mpsc::channel();
    let options = options.clone();
    thread::spawn(move || {
        let _ = tx.send(start(&options));
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the start returned instead of hanging")
}

fn assert_unsafe(result: Result<Server, Error>, path: &Path, problem: &str) {
    match result {
        Err(err @ Error::UnsafeFile { .. }) => {
            let msg = err.to_string();
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            assert!(msg.contains(problem), "{msg}");
            assert!(msg.contains("refusing to use"), "{msg}");
        }
        other => panic!(
            "expected the launcher to refuse {}: {other:?}",
            path.display()
        ),
    }
}

/// A file outside the cluster that a planted link points at: it must stay as it is.
fn victim(tmp: &TempDir) -> PathBuf {
    let victim = tmp.path().join("victim");
    fs::write(&victim, "precious\n").unwrap();
    victim
}

fn assert_untouched(victim: &Path) {
    assert_eq!(fs::read_to_string(victim).unwrap(), "precious\n");
    let meta = fs::metadata(victim).unwrap();
    assert_eq!(meta.uid(), privileges::effective_uid(), "not chowned");
}

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
    let layout = Layout::new(tmp.path().to_path_buf(), None);
    fs::create_dir(&layout.cluster_dir).unwrap();
    let lock = layout.pid_file();
    fs::write(&lock, "999999\n/x\n").unwrap();
    clear_stale_lock(&lock, &layout).unwrap();
    assert!(!lock.exists());
    clear_stale_lock(&lock, &layout).unwrap(); // absent: fine
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
fn stop_is_idempotent_without_child() {
    let mut server = Server {
        child: None,
        pid: 0,
        layout: Layout::new(PathBuf::from("/tmp/x"), None),
        log_file: PathBuf::from("/tmp/x/pg/server.log"),
        bindir: PathBuf::from("/nonexistent"),
        run_as: None,
        lock: None,
    };
    assert!(server.stop().is_ok());
    assert!(server.stop().is_ok());
}

#[test]
fn the_fake_cluster_gets_as_far_as_starting_postgres() {
    // The control for the refusals below: nothing planted, the start fails only
    // because the fake postgres exits at once.
    let (_tmp, options, layout) = prepared("control");
    let err = start_within_30s(&options).unwrap_err();
    assert!(matches!(err, Error::ServerExited { .. }), "{err}");
    assert!(
        err.to_string().contains("postgres (PostgreSQL) 15.4"),
        "the log tail shows what it said: {err}"
    );
    // A server log this start created belongs to the server's user.
    let owner = fs::metadata(layout.log_file()).unwrap().uid();
    let expected = privileges::server_user()
        .unwrap()
        .map_or(privileges::effective_uid(), |u| u.uid);
    assert_eq!(owner, expected);
    // And the lock was released with the failed start.
    let again = start_within_30s(&options);
    assert!(
        matches!(again, Err(Error::ServerExited { .. })),
        "{again:?}"
    );
}

#[test]
fn a_symlink_planted_at_server_log_is_refused() {
    let (tmp, options, layout) = prepared("symlink-log");
    let victim = victim(&tmp);
    symlink(&victim, layout.log_file()).unwrap();
    assert_unsafe(
        start_within_30s(&options),
        &layout.log_file(),
        "is a symbolic link",
    );
    assert_untouched(&victim);
}

#[test]
fn a_symlink_planted_at_pg_version_is_refused() {
    let (tmp, options, layout) = prepared("symlink-version");
    let victim = tmp.path().join("version-elsewhere");
    fs::write(&victim, "15\n").unwrap();
    fs::remove_file(layout.pg_version_file()).unwrap();
    symlink(&victim, layout.pg_version_file()).unwrap();
    assert_unsafe(
        start_within_30s(&options),
        &layout.pg_version_file(),
        "is a symbolic link",
    );
}

#[test]
fn a_symlink_planted_at_postmaster_pid_is_refused() {
    let (tmp, options, layout) = prepared("symlink-pid");
    let victim = victim(&tmp);
    symlink(&victim, layout.pid_file()).unwrap();
    assert_unsafe(
        start_within_30s(&options),
        &layout.pid_file(),
        "is a symbolic link",
    );
    assert_untouched(&victim);
    assert!(
        fs::symlink_metadata(layout.pid_file()).is_ok(),
        "the planted link is left for the operator to inspect"
    );
}

#[test]
fn fifos_planted_at_the_launchers_files_are_refused_without_hanging() {
    let (_tmp, options, layout) = prepared("fifo");
    for path in [
        layout.log_file(),
        layout.pg_version_file(),
        layout.pid_file(),
        layout.socket_lock_file(),
    ] {
        let saved_version = path == layout.pg_version_file();
        if saved_version {
            fs::remove_file(&path).unwrap();
        }
        mkfifo(&path);
        assert_unsafe(start_within_30s(&options), &path, "is a FIFO");
        fs::remove_file(&path).unwrap();
        if saved_version {
            fs::write(&path, "15\n").unwrap();
        }
    }
}

#[test]
fn garbage_in_pg_version_is_refused() {
    let (_tmp, options, layout) = prepared("garbage-version");
    for garbage in ["../../../usr/local/evil\n", "fifteen\n", "15; rm -rf /\n"] {
        fs::write(layout.pg_version_file(), garbage).unwrap();
        let err = start_within_30s(&options).unwrap_err();
        assert!(
            matches!(err, Error::BadPgVersion { .. }),
            "{garbage:?}: {err}"
        );
        assert!(
            err.to_string().contains("PG_VERSION does not hold"),
            "{err}"
        );
    }
}

#[test]
fn a_hard_linked_server_log_is_refused() {
    let (tmp, options, layout) = prepared("hardlink-log");
    let victim = victim(&tmp);
    fs::hard_link(&victim, layout.log_file()).unwrap();
    assert_unsafe(
        start_within_30s(&options),
        &layout.log_file(),
        "2 hard links",
    );
    assert_untouched(&victim);
}

#[test]
fn root_never_chowns_an_existing_server_log() {
    if !privileges::is_root() {
        eprintln!("not root: skipping");
        return;
    }
    let (_tmp, options, layout) = prepared("root-log-owner");
    // Owned by a stranger: refused, and left as it was.
    fs::write(layout.log_file(), "old log\n").unwrap();
    std::os::unix::fs::chown(layout.log_file(), Some(4242), Some(4242)).unwrap();
    assert_unsafe(
        start_within_30s(&options),
        &layout.log_file(),
        "is owned by uid 4242",
    );
    assert_eq!(fs::metadata(layout.log_file()).unwrap().uid(), 4242);

    // Owned by root (an earlier version of the launcher, stopped half-way): used, but
    // not given to postgres.
    std::os::unix::fs::chown(layout.log_file(), Some(0), Some(0)).unwrap();
    let err = start_within_30s(&options).unwrap_err();
    assert!(matches!(err, Error::ServerExited { .. }), "{err}");
    assert_eq!(fs::metadata(layout.log_file()).unwrap().uid(), 0);
}

#[test]
fn root_never_chowns_an_existing_cluster_dir() {
    if !privileges::is_root() {
        eprintln!("not root: skipping");
        return;
    }
    let (_tmp, options, layout) = prepared("root-dir-owner");
    std::os::unix::fs::chown(&layout.cluster_dir, Some(4242), Some(4242)).unwrap();
    assert_unsafe(
        start_within_30s(&options),
        &layout.cluster_dir,
        "is owned by uid 4242",
    );
    assert_eq!(fs::metadata(&layout.cluster_dir).unwrap().uid(), 4242);
}

#[test]
fn a_half_initialized_cluster_is_left_alone() {
    let (_tmp, options, layout) = prepared("half");
    fs::remove_file(layout.pg_version_file()).unwrap();
    fs::write(layout.cluster_dir.join("postgresql.conf"), "").unwrap();
    let err = start_within_30s(&options).unwrap_err();
    assert!(matches!(err, Error::HalfInitialized { .. }), "{err}");
    assert!(layout.cluster_dir.join("postgresql.conf").exists());
}

/// With the real binaries: start, find it from "another process", refuse a second
/// start naming us, stop, start again without initdb.
#[test]
fn a_real_server_starts_is_shared_and_refuses_a_second_start() {
    let Some(real) = real_bindir() else { return };
    let tmp = TempDir::new("real");
    let options = options_in(&tmp).bindir(&real);
    let (tx, rx) = mpsc::channel();
    // The thread that starts the server lives until it is stopped (parent-death signal).
    let owner = thread::spawn({
        let options = options.clone();
        move || {
            let mut pg = start(&options).expect("start");
            tx.send((
                pg.pid(),
                pg.socket_dir().to_path_buf(),
                pg.cluster_dir().to_path_buf(),
            ))
            .unwrap();
            thread::park_timeout(Duration::from_secs(60));
            pg.stop().expect("stop");
        }
    });
    let (pid, socket_dir, cluster_dir) = rx.recv().unwrap();

    let running = options
        .running_server()
        .expect("the running server is found");
    assert_eq!(running.pid, pid);
    assert_eq!(running.socket_dir, socket_dir);
    assert!(socket_dir.join(SOCKET_FILE).exists());

    let err = start(&options).unwrap_err();
    assert!(matches!(err, Error::DataDirLocked { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("process {}", std::process::id())),
        "names this process: {err}"
    );

    if let Some(user) = privileges::server_user().unwrap() {
        assert_eq!(fs::metadata(&cluster_dir).unwrap().uid(), user.uid);
        assert_eq!(
            fs::metadata(cluster_dir.join("server.log")).unwrap().uid(),
            user.uid
        );
        let location = fs::read_to_string(options.data_dir.join("CLUSTER_LOCATION")).unwrap();
        assert_eq!(location.lines().nth(1), cluster_dir.to_str());
    }

    owner.thread().unpark();
    owner.join().unwrap();
    assert_eq!(options.running_server(), None, "stopped");

    // The lock went with the server: a new start succeeds, on the existing cluster.
    let mut again = start(&options).expect("start again");
    assert!(options.running_server().is_some());
    again.stop().unwrap();
}

/// Two first starts on an empty data directory at once: the lock serialises them, so
/// `initdb` runs once and the second start uses the cluster the first created.
#[test]
fn concurrent_first_starts_run_initdb_once() {
    let Some(real) = real_bindir() else { return };
    let tmp = TempDir::new("concurrent");
    // initdb that counts its runs, then runs the real one.
    let counter = tmp.path().join("initdb-runs");
    fs::write(&counter, "").unwrap();
    fs::set_permissions(
        &counter,
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    let bindir = tmp.path().join("bin");
    fake_exe(
        &bindir.join("initdb"),
        &format!(
            "echo run >> '{}'\nexec '{}' \"$@\"",
            counter.display(),
            real.join("initdb").display()
        ),
    );
    symlink(real.join("postgres"), bindir.join("postgres")).unwrap();
    let options = options_in(&tmp)
        .bindir(&bindir)
        .wait_for_lock(Duration::from_secs(120));

    let starts: Vec<_> = (0..2)
        .map(|_| {
            let options = options.clone();
            thread::spawn(move || {
                let mut server = start(&options)?;
                thread::sleep(Duration::from_millis(300));
                server.stop()?;
                Ok::<_, Error>(server.pid())
            })
        })
        .collect();
    let pids: Vec<u32> = starts
        .into_iter()
        .map(|t| {
            t.join()
                .unwrap()
                .expect("both starts succeed, one after the other")
        })
        .collect();
    assert_ne!(pids[0], pids[1], "two servers, one after the other");
    assert_eq!(
        fs::read_to_string(&counter).unwrap().lines().count(),
        1,
        "initdb ran once"
    );
}

#[test]
fn client_programs_come_from_the_servers_installation() {
    let (tmp, options, _layout) = prepared("program");
    let bindir = tmp.path().join("bin");
    let err = options.program("pg_dump").unwrap_err();
    assert!(matches!(err, Error::ProgramNotFound { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("`pg_dump` was not found")
            && message.contains(&bindir.display().to_string())
            && message.contains("apt-get install postgresql-client"),
        "{message}"
    );
    fake_exe(&bindir.join("pg_dump"), "exit 0");
    assert_eq!(options.program("pg_dump").unwrap(), bindir.join("pg_dump"));
    // A data directory without a cluster yet: the same installation.
    let fresh = options_in(&TempDir::new("program-fresh")).bindir(&bindir);
    assert_eq!(fresh.program("pg_dump").unwrap(), bindir.join("pg_dump"));
}

/// A postmaster that exits on its own (killed here, as the OOM killer would) leaves the
/// data directory locked by this process, and `restart` starts the same cluster again,
/// as a supervisor does; after a `stop` too.
#[test]
fn a_killed_server_is_restarted_and_the_data_directory_stays_locked() {
    let Some(real) = real_bindir() else { return };
    let tmp = TempDir::new("restart");
    let options = options_in(&tmp).bindir(&real);
    // This test's thread starts it and outlives it (parent-death signal).
    let mut pg = start(&options).expect("start");
    let first = pg.pid();
    privileges::signal_child(first, Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(10);
    while pg.exited().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the killed postmaster is noticed"
        );
        thread::sleep(Duration::from_millis(50));
    }
    let err = start(&options).unwrap_err();
    assert!(
        matches!(err, Error::DataDirLocked { .. }),
        "still this process's while it is down: {err}"
    );

    // Its children take a moment to notice and go (until then the new postmaster finds
    // their shared memory in use): try again as the supervisor does.
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(e) = pg.restart() {
        assert!(Instant::now() < deadline, "restart: {e}");
        thread::sleep(Duration::from_millis(200));
    }
    assert_ne!(pg.pid(), first);
    assert_eq!(options.running_server().map(|r| r.pid), Some(pg.pid()));
    let running = pg.pid();
    pg.restart()
        .expect("restarting a running server does nothing");
    assert_eq!(pg.pid(), running);

    pg.stop().unwrap();
    assert_eq!(options.running_server(), None);
    pg.restart()
        .expect("a stopped server starts again, the lock taken anew");
    assert!(options.running_server().is_some());
    pg.stop().unwrap();
}
