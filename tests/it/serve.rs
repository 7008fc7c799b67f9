//! `portfolio-tracker serve` as a process of its own, on an embedded database of its own.

use crate::harness::client;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `serve` process on a throw-away DATA_DIR: killed, and its data (as root, the cluster
/// that CLUSTER_LOCATION names) removed when the test ends, however it ends.
struct Served {
    child: Child,
    data_dir: PathBuf,
    log: PathBuf,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Ok(text) = std::fs::read_to_string(self.data_dir.join("CLUSTER_LOCATION"))
            && let Some(cluster) = text.lines().nth(1)
            && cluster.starts_with("/var/lib/portfolio-tracker/")
        {
            let _ = std::fs::remove_dir_all(cluster);
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl Served {
    /// On `host` (the port is chosen here), with extra environment variables.
    fn start(tag: &str, host: &str, env: &[(&str, &str)]) -> Served {
        let data_dir = std::env::temp_dir().join(format!("pt-serve-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).expect("create DATA_DIR");
        let log = data_dir.join("serve.log");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_portfolio-tracker"))
            .arg("serve")
            .env_remove("DATABASE_URL")
            .env_remove("DATABASE_OWNER_URL")
            .env("DATA_DIR", &data_dir)
            .env("LISTEN_ADDR", format!("{host}:{port}"))
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("the log file"))
            .spawn()
            .expect("start serve");
        Served {
            child,
            data_dir,
            log,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `/readyz` answers `status`.
    async fn wait_for_readyz(&mut self, status: u16, within: Duration) {
        let http = client();
        let deadline = Instant::now() + within;
        loop {
            let answer = http
                .get(format!("{}/readyz", self.base))
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .map(|r| r.status().as_u16());
            if answer.as_ref().ok() == Some(&status) {
                return;
            }
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!("serve exited ({exit}) while waiting:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "/readyz never answered {status} (last: {answer:?}):\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The postmaster's pid, from the cluster's `postmaster.pid` (None while there is
    /// none).
    fn postmaster_pid(&self) -> Option<u32> {
        let location = std::fs::read_to_string(self.data_dir.join("CLUSTER_LOCATION"))
            .expect("as root the cluster's place is recorded");
        let cluster = location.lines().nth(1).expect("line 2 names the cluster");
        let pid_file = std::fs::read_to_string(Path::new(cluster).join("postmaster.pid")).ok()?;
        pid_file.lines().next().and_then(|l| l.trim().parse().ok())
    }
}

/// The real, effective, saved and file-system uids of a process, or of one of its threads
/// (`/proc/<pid>/task/<tid>`).
fn uids(proc_dir: &Path) -> Vec<u32> {
    let status = std::fs::read_to_string(proc_dir.join("status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .expect("a Uid line")
        .split_whitespace()
        .map(|id| id.parse().expect("a uid"))
        .collect()
}

fn is_root() -> bool {
    uids(Path::new("/proc/self"))[1] == 0
}

fn postgres_uid() -> u32 {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    passwd
        .lines()
        .find_map(|l| l.strip_prefix("postgres:"))
        .and_then(|rest| rest.split(':').nth(1))
        .and_then(|uid| uid.parse().ok())
        .expect("a postgres OS user")
}

/// Started as root (as CI runs the tests), `serve` gives up root for the `postgres` OS
/// user once its database runs and its socket is bound, every thread of it, and says so;
/// its supervisor still starts the embedded PostgreSQL again when it dies, and SIGTERM
/// still stops everything cleanly.
#[tokio::test]
async fn serve_started_as_root_runs_as_postgres_and_still_restarts_its_database() {
    if !is_root() {
        eprintln!("SKIPPED: not running as root, so there is no root to give up");
        return;
    }
    let postgres = postgres_uid();
    let mut served = Served::start("root", "127.0.0.1", &[]);
    served.wait_for_readyz(200, Duration::from_secs(120)).await;

    let pid = served.child.id();
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    assert_eq!(uids(&proc_dir), [postgres; 4], "the serve process");
    let threads: Vec<PathBuf> = std::fs::read_dir(proc_dir.join("task"))
        .expect("its threads")
        .map(|t| t.expect("a thread").path())
        .collect();
    assert!(threads.len() > 1, "a multi-threaded process");
    for thread in &threads {
        assert_eq!(uids(thread), [postgres; 4], "{}", thread.display());
    }
    let log = served.log();
    assert!(
        log.contains("now running as the postgres OS user"),
        "the switch is logged:\n{log}"
    );

    // The database dies under the running app (the OOM killer, say).
    let first = served.postmaster_pid().expect("the postmaster runs");
    assert_eq!(uids(Path::new(&format!("/proc/{first}")))[1], postgres);
    let killed = Command::new("kill")
        .args(["-KILL", &first.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(90);
    let second = loop {
        match served.postmaster_pid() {
            Some(pid) if pid != first => break pid,
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "no new postmaster:\n{}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    served.wait_for_readyz(200, Duration::from_secs(30)).await;
    assert_eq!(uids(Path::new(&format!("/proc/{second}")))[1], postgres);
    // (logged just after the new server is ready, so maybe after the first answer)
    let deadline = Instant::now() + Duration::from_secs(10);
    while !served.log().contains("embedded PostgreSQL restarted") {
        assert!(Instant::now() < deadline, "{}", served.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(uids(&proc_dir), [postgres; 4], "and root stays given up");

    let stopped = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(stopped.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = served.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "serve stops on SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}:\n{}", served.log());
    assert!(
        !Path::new(&format!("/proc/{second}")).exists()
            || std::fs::read_to_string(format!("/proc/{second}/status"))
                .is_ok_and(|s| s.contains("State:\tZ")),
        "the database stopped with it"
    );
}

/// Session cookies are `Secure` by default unless the address is a loopback one; turned
/// off on an address other machines reach, the start says what that risks.
#[tokio::test]
async fn serve_warns_when_cookies_go_plain_over_the_network() {
    let mut served = Served::start("plain", "0.0.0.0", &[("COOKIE_SECURE", "false")]);
    served.wait_for_readyz(200, Duration::from_secs(120)).await;
    let log = served.log();
    assert!(
        log.contains("WARN") && log.contains("COOKIE_SECURE=false on 0.0.0.0:"),
        "warned:\n{log}"
    );
}
