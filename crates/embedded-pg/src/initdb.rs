//! Creating a new cluster with `initdb`.

use crate::SUPERUSER;
use crate::error::{Error, io_err};
use crate::layout::dir_is_empty;
use crate::privileges::{self, RunAs};
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `initdb` into the empty `cluster_dir` (as `user` when root), with locale
/// C.UTF-8, or C where the system lacks that one.
pub(crate) fn run_initdb(
    bindir: &Path,
    cluster_dir: &Path,
    user: Option<&RunAs>,
) -> Result<(), Error> {
    match initdb_once(bindir, cluster_dir, user, "C.UTF-8") {
        Err(Error::CommandFailed { output, .. })
            if is_locale_error(&output) && dir_is_empty(cluster_dir).unwrap_or(false) =>
        {
            tracing::warn!("initdb refused locale C.UTF-8; retrying with locale C:\n{output}");
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
) -> Result<(), Error> {
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
    privileges::configure_child(&mut cmd, user, cluster_dir);
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
    Err(Error::CommandFailed {
        command,
        status: out.status,
        output,
    })
}

/// A command as one line, for messages.
pub(crate) fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{TempDir, fake_exe};

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
    fn a_failing_initdb_reports_its_output() {
        let tmp = TempDir::new("initdb-fails");
        let bindir = tmp.path().join("bin");
        fake_exe(&bindir.join("initdb"), "echo 'disk on fire' >&2; exit 3");
        let cluster = tmp.path().join("cluster");
        std::fs::create_dir(&cluster).unwrap();
        let user = privileges::server_user().unwrap();
        let err = run_initdb(&bindir, &cluster, user.as_ref()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("disk on fire"), "{msg}");
        assert!(msg.contains("--locale=C.UTF-8"), "{msg}");
    }
}
