//! The binary run as an operator runs it: one-shot commands, and `serve` as a child
//! process on a port of its own with its log captured (tests/it/backup.rs, logs.rs).

use crate::harness::{Session, client, extract_csrf, session_cookie};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// The binary with no `DATABASE_URL` from the environment and quiet logs.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portfolio-tracker"));
    command
        .env_remove("DATABASE_URL")
        .env_remove("DATA_DIR")
        .env_remove("LOG_FORMAT")
        .env("RUST_LOG", "warn")
        .env("USER", "tester")
        .env_remove("SUDO_USER");
    command
}

/// Runs a one-shot command with these settings and standard input, off the async
/// runtime.
pub async fn run(envs: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = binary();
    command
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let stdin = stdin.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("run the binary");
        let mut pipe = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            pipe.write_all(text.as_bytes()).expect("write stdin");
        }
        drop(pipe);
        child.wait_with_output().expect("wait for the binary")
    })
    .await
    .expect("join")
}

/// Asserts the command succeeded; its standard output.
pub fn ok(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asserts the command failed; its standard error.
pub fn failed(output: &Output, what: &str) -> String {
    assert!(
        !output.status.success(),
        "{what} should have failed; it printed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A `DATA_DIR` in the temporary directory, removed with its cluster (as root, the one
/// `CLUSTER_LOCATION` names) when the test ends, however it ends. Drop the servers that
/// use it first.
pub struct TempDataDir(pub PathBuf);

impl TempDataDir {
    pub fn new(tag: &str) -> TempDataDir {
        let dir = std::env::temp_dir().join(format!(
            "pt-it-{}-{tag}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TempDataDir(dir)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary directory")
    }
}

impl Drop for TempDataDir {
    fn drop(&mut self) {
        if let Ok(text) = std::fs::read_to_string(self.0.join("CLUSTER_LOCATION"))
            && let Some(cluster) = text.lines().nth(1)
            && cluster.starts_with(embedded_pg::ROOT_CLUSTER_BASE)
        {
            let _ = std::fs::remove_dir_all(cluster);
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `portfolio-tracker serve` on 127.0.0.1 and a port the system chose, its standard
/// output and error written to a file. Stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Served {
    child: Child,
    pub url: String,
    log_file: PathBuf,
    _log_dir: TempDataDir,
}

impl Served {
    /// Starts `serve` with these settings and waits until it listens.
    pub fn start(envs: &[(&str, &str)]) -> Served {
        let log_dir = TempDataDir::new("log");
        std::fs::create_dir_all(&log_dir.0).expect("create the log directory");
        let log_file = log_dir.0.join("serve.log");
        let log = File::create(&log_file).expect("create the log file");
        let mut command = binary();
        command
            .arg("serve")
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log);
        let child = command.spawn().expect("start serve");
        let mut served = Served {
            child,
            url: String::new(),
            log_file,
            _log_dir: log_dir,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let log = served.log();
            if let Some(at) = log.find("serving on http://") {
                let rest = &log[at + "serving on ".len()..];
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '"')
                    .unwrap_or(rest.len());
                served.url = rest[..end].to_string();
                return served;
            }
            if let Ok(Some(status)) = served.child.try_wait() {
                panic!("serve exited ({status}) before listening; its log:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "serve did not listen within 120 s; its log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its process id.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("a pid")
    }

    /// Sends `signal` to the process, as an operator's `kill` would.
    pub fn signal(&self, signal: i32) {
        send_signal(self.pid(), signal);
    }

    /// Waits up to `patience` for the process to exit: its status, if it did.
    pub async fn exited_within(&mut self, patience: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// SIGTERM, and waits for the process to exit (it finishes its requests and stops
    /// its database): its whole log.
    pub fn stop(mut self) -> String {
        self.terminate();
        self.log()
    }

    fn terminate(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // our own child, not reaped yet (so the pid is still its)
        send_signal(self.pid(), libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Signs in through the sign-in form: the browser session.
    pub async fn sign_in(&self, email: &str, password: &str) -> Session {
        let response = client()
            .post(format!("{}/login", self.url))
            .form(&[("email", email), ("password", password), ("next", "/")])
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 303, "{email} signs in");
        let cookie = session_cookie(&response).expect("a session cookie");
        let mut session = Session {
            app_url: self.url.clone(),
            cookie,
            csrf: String::new(),
            client: client(),
        };
        let (_, page) = session.get("/login").await;
        session.csrf = extract_csrf(&page).expect("the page's CSRF token");
        session
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Sends `signal` to process `pid` (ours, or the cluster's postmaster).
pub fn send_signal(pid: i32, signal: i32) {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        sent,
        0,
        "kill({pid}, {signal}): {}",
        std::io::Error::last_os_error()
    );
}

/// The postmaster's pid of the embedded cluster of `data_dir`, while it runs.
pub fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    let server = embedded_pg::Options::new(data_dir).running_server()?;
    i32::try_from(server.pid).ok()
}

/// Where an embedded cluster's socket is while its server runs: used to read its
/// database from the test.
pub fn running_socket(data_dir: &Path) -> PathBuf {
    embedded_pg::Options::new(data_dir)
        .running_server()
        .expect("the DATA_DIR's server runs")
        .socket_dir
}
