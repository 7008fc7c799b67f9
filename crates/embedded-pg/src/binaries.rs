//! Finding the PostgreSQL server binaries, their version, and the libraries the
//! installation ships.

use crate::error::Error;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Debian/Ubuntu layout of versioned server installations.
pub(crate) const VERSIONED_INSTALL_ROOT: &str = "/usr/lib/postgresql";

/// The directory with `initdb` and `postgres`: PATH, then `pg_config --bindir`, then
/// `/usr/lib/postgresql/*/bin`, newest version first.
pub(crate) fn find_bindir() -> Result<PathBuf, Error> {
    let path = std::env::var_os("PATH");
    find_bindir_in(path.as_deref(), Path::new(VERSIONED_INSTALL_ROOT))
}

/// Searches PATH (`path_var`), then `pg_config --bindir` (pg_config found on
/// that PATH), then `<versioned_root>/*/bin`, newest version first.
pub(crate) fn find_bindir_in(
    path_var: Option<&OsStr>,
    versioned_root: &Path,
) -> Result<PathBuf, Error> {
    if let Some(path_var) = path_var {
        for dir in std::env::split_paths(path_var) {
            if dir.as_os_str().is_empty() {
                continue;
            }
            let initdb = dir.join("initdb");
            if !is_executable(&initdb) {
                continue;
            }
            // Resolve symlinks (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb)
            // and take `postgres` from the real bindir so both have the same version.
            if let Some(bindir) = fs::canonicalize(&initdb)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                && has_server_binaries(&bindir)
            {
                return Ok(bindir);
            }
        }
        if let Some(pg_config) = std::env::split_paths(path_var)
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.join("pg_config"))
            .find(|p| is_executable(p))
            && let Some(bindir) = pg_config_bindir(&pg_config)
            && has_server_binaries(&bindir)
        {
            return Ok(bindir);
        }
    }
    versioned_bindirs(versioned_root)
        .into_iter()
        .find(|d| has_server_binaries(d))
        .ok_or(Error::NoServerBinaries)
}

/// Where [`find_program_in`] looks, for error messages.
pub(crate) const PROGRAM_SEARCH: &str =
    "on PATH, via `pg_config --bindir`, or under /usr/lib/postgresql/*/bin";

/// A PostgreSQL program such as `pg_dump`, for a server this process does not run (an
/// external one): the first `name` on PATH, then the one in `pg_config --bindir`, then
/// under `<versioned_root>/*/bin`, newest version first (a newer `pg_dump` reads older
/// servers, not the other way round).
pub(crate) fn find_program_in(
    name: &str,
    path_var: Option<&OsStr>,
    versioned_root: &Path,
) -> Option<PathBuf> {
    if let Some(path_var) = path_var {
        let dirs: Vec<PathBuf> = std::env::split_paths(path_var)
            .filter(|d| !d.as_os_str().is_empty())
            .collect();
        if let Some(found) = dirs.iter().map(|d| d.join(name)).find(|p| is_executable(p)) {
            return Some(found);
        }
        if let Some(found) = dirs
            .iter()
            .map(|d| d.join("pg_config"))
            .find(|p| is_executable(p))
            .and_then(|pg_config| pg_config_bindir(&pg_config))
            .map(|bindir| bindir.join(name))
            .filter(|p| is_executable(p))
        {
            return Some(found);
        }
    }
    versioned_bindirs(versioned_root)
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn pg_config_bindir(pg_config: &Path) -> Option<PathBuf> {
    let out = Command::new(pg_config)
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let dir = text.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// `<root>/<version>/bin` for every numeric version directory, newest first.
fn versioned_bindirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name();
            let version = parse_version(name.to_str()?)?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

/// `"9.6"` -> `[9, 6]`, `"16"` -> `[16]`; anything else -> `None`.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.')
        .map(|part| part.parse::<u32>().ok())
        .collect()
}

pub(crate) fn has_server_binaries(dir: &Path) -> bool {
    is_executable(&dir.join("initdb")) && is_executable(&dir.join("postgres"))
}

pub(crate) fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Major version from `postgres -V` output, e.g.
/// "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)" -> "15", "... 9.6.24" -> "9.6".
fn parse_server_major(version_output: &str) -> Option<String> {
    let rest = version_output.split(')').nth(1)?.trim_start();
    let version = rest.split_whitespace().next()?;
    // Leading digits of each dot-separated part: "17beta1" -> "17".
    let mut parts = version.split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    });
    let first = parts.next()??;
    if first >= 10 {
        Some(first.to_string())
    } else {
        let second = parts.next()??;
        Some(format!("{first}.{second}"))
    }
}

/// For an existing cluster of major version `cluster_version` (already checked to be a
/// version number): makes sure the binaries match it, switching to
/// `<versioned_root>/<cluster_version>/bin` if that exists.
pub(crate) fn check_cluster_version(
    cluster_dir: &Path,
    cluster_version: &str,
    bindir: PathBuf,
    versioned_root: &Path,
) -> Result<PathBuf, Error> {
    let server_version = Command::new(bindir.join("postgres"))
        .arg("-V")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| parse_server_major(&String::from_utf8_lossy(&o.stdout)));
    let Some(server_version) = server_version else {
        tracing::warn!(bindir = %bindir.display(), "could not determine the PostgreSQL server version");
        return Ok(bindir);
    };
    if server_version == cluster_version {
        return Ok(bindir);
    }
    let matching = versioned_root.join(cluster_version).join("bin");
    if has_server_binaries(&matching) {
        tracing::info!(
            cluster_version,
            bindir = %matching.display(),
            "using the PostgreSQL binaries that match the existing cluster"
        );
        return Ok(matching);
    }
    Err(Error::VersionMismatch {
        cluster_dir: cluster_dir.to_path_buf(),
        cluster_version: cluster_version.to_string(),
        bindir,
        server_version,
    })
}

/// The `pg_stat_statements` module, when the installation has it (Debian's
/// `postgresql-NN` package ships it with the server; other packagings put the contrib
/// modules in a separate package).
const STATEMENT_STATS_LIBRARY: &str = "pg_stat_statements";

/// `-c shared_preload_libraries=pg_stat_statements` when the library is installed, else
/// nothing, so that a server without the contrib modules still starts.
///
/// Loading it costs little and lets operators (and tests) see how often each statement
/// runs: `CREATE EXTENSION pg_stat_statements` in any database, then read the
/// `pg_stat_statements` view. It is a command-line setting, so an existing cluster
/// picks it up at its next start; like every `-c` it overrides a
/// `shared_preload_libraries` set in the cluster's `postgresql.conf`.
pub(crate) fn statement_stats_settings(bindir: &Path) -> Vec<String> {
    if has_library(bindir, STATEMENT_STATS_LIBRARY) {
        vec![
            "-c".to_string(),
            format!("shared_preload_libraries={STATEMENT_STATS_LIBRARY}"),
        ]
    } else {
        tracing::debug!(
            bindir = %bindir.display(),
            "{STATEMENT_STATS_LIBRARY} is not installed; statement statistics are off"
        );
        Vec::new()
    }
}

/// Whether the server in `bindir` can load `<name>.so`: looked for in the usual package
/// library directories next to it (`<bindir>/../lib` on Debian, `../lib/postgresql` on
/// source builds and several distributions, `../lib64/pgsql` on Fedora/RHEL) and in
/// `pg_config --pkglibdir` of the same installation.
fn has_library(bindir: &Path, name: &str) -> bool {
    let file = format!("{name}.so");
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(prefix) = bindir.parent() {
        dirs.push(prefix.join("lib"));
        dirs.push(prefix.join("lib").join("postgresql"));
        dirs.push(prefix.join("lib64").join("pgsql"));
    }
    let pg_config = bindir.join("pg_config");
    if is_executable(&pg_config)
        && let Ok(out) = Command::new(&pg_config)
            .arg("--pkglibdir")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
        && out.status.success()
        && let Ok(dir) = String::from_utf8(out.stdout)
        && !dir.trim().is_empty()
    {
        dirs.push(PathBuf::from(dir.trim()));
    }
    dirs.iter().any(|dir| dir.join(&file).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{TempDir, fake_bindir, fake_exe};

    #[test]
    fn version_ordering() {
        assert!(parse_version("9.6") < parse_version("10"));
        assert!(parse_version("10") < parse_version("15"));
        assert!(parse_version("15") < parse_version("16"));
        assert_eq!(parse_version("main"), None);
        assert_eq!(parse_version("15beta"), None);

        let tmp = TempDir::new("versions");
        for v in ["9.6", "16", "10", "15", "notaversion"] {
            fake_bindir(&tmp.path().join(v).join("bin"), "16.0");
        }
        let found: Vec<String> = versioned_bindirs(tmp.path())
            .iter()
            .map(|p| {
                p.parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(found, ["16", "15", "10", "9.6"]);
        // The newest version wins when PATH has nothing.
        let empty_path = TempDir::new("emptypath");
        let bindir = find_bindir_in(Some(empty_path.path().as_os_str()), tmp.path()).unwrap();
        assert_eq!(bindir, tmp.path().join("16").join("bin"));
    }

    #[test]
    fn missing_binaries() {
        let tmp = TempDir::new("missing");
        // PATH dir with only initdb (no postgres next to it), no versioned installs.
        fake_exe(&tmp.path().join("path").join("initdb"), "exit 0");
        let path = tmp.path().join("path");
        let err =
            find_bindir_in(Some(path.as_os_str()), &tmp.path().join("nonexistent")).unwrap_err();
        assert!(matches!(err, Error::NoServerBinaries), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("apt-get install postgresql") && msg.contains("DATABASE_URL"),
            "{msg}"
        );
        assert!(matches!(
            find_bindir_in(None, &tmp.path().join("nonexistent")),
            Err(Error::NoServerBinaries)
        ));
    }

    #[test]
    fn path_symlink_resolves_to_real_bindir() {
        let tmp = TempDir::new("symlink");
        let real = tmp.path().join("lib").join("15").join("bin");
        fake_bindir(&real, "15.1");
        let path_dir = tmp.path().join("localbin");
        fs::create_dir_all(&path_dir).unwrap();
        std::os::unix::fs::symlink(real.join("initdb"), path_dir.join("initdb")).unwrap();
        let versioned = tmp.path().join("versioned");
        fake_bindir(&versioned.join("16").join("bin"), "16.0");
        let found = find_bindir_in(Some(path_dir.as_os_str()), &versioned).unwrap();
        assert_eq!(found, fs::canonicalize(&real).unwrap());
    }

    #[test]
    fn client_programs_are_found_on_path_then_via_pg_config_then_newest_install() {
        let tmp = TempDir::new("programs");
        let versioned = tmp.path().join("versioned");
        fake_exe(&versioned.join("15").join("bin").join("pg_dump"), "exit 0");
        fake_exe(&versioned.join("16").join("bin").join("pg_dump"), "exit 0");
        fake_exe(&versioned.join("17").join("bin").join("psql"), "exit 0");
        let empty = tmp.path().join("empty");
        fs::create_dir_all(&empty).unwrap();
        assert_eq!(
            find_program_in("pg_dump", Some(empty.as_os_str()), &versioned),
            Some(versioned.join("16").join("bin").join("pg_dump")),
            "the newest installation that has it"
        );
        let on_path = tmp.path().join("bin");
        fake_exe(&on_path.join("pg_dump"), "exit 0");
        assert_eq!(
            find_program_in("pg_dump", Some(on_path.as_os_str()), &versioned),
            Some(on_path.join("pg_dump"))
        );
        let configured = tmp.path().join("srv").join("bin");
        fake_exe(&configured.join("pg_restore"), "exit 0");
        let config_dir = tmp.path().join("config");
        fake_exe(
            &config_dir.join("pg_config"),
            &format!("echo '{}'", configured.display()),
        );
        assert_eq!(
            find_program_in("pg_restore", Some(config_dir.as_os_str()), &versioned),
            Some(configured.join("pg_restore"))
        );
        assert_eq!(
            find_program_in("pg_restore", Some(empty.as_os_str()), &versioned),
            None
        );
        assert_eq!(
            find_program_in("pg_dump", None, &tmp.path().join("none")),
            None
        );
    }

    #[test]
    fn pg_config_bindir_is_used() {
        let tmp = TempDir::new("pgconfig");
        let real = tmp.path().join("srv").join("bin");
        fake_bindir(&real, "15.1");
        let path_dir = tmp.path().join("bin");
        fake_exe(
            &path_dir.join("pg_config"),
            &format!("echo '{}'", real.display()),
        );
        let found = find_bindir_in(Some(path_dir.as_os_str()), &tmp.path().join("none")).unwrap();
        assert_eq!(found, real);
    }

    #[test]
    fn server_version_parsing() {
        assert_eq!(
            parse_server_major("postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)\n").as_deref(),
            Some("15")
        );
        assert_eq!(
            parse_server_major("postgres (PostgreSQL) 9.6.24").as_deref(),
            Some("9.6")
        );
        assert_eq!(
            parse_server_major("postgres (PostgreSQL) 17beta1").as_deref(),
            Some("17")
        );
        assert_eq!(parse_server_major("nonsense"), None);
    }

    #[test]
    fn cluster_version_picks_matching_binaries_or_explains() {
        let tmp = TempDir::new("cluster-version");
        let versioned = tmp.path().join("versioned");
        let sixteen = versioned.join("16").join("bin");
        fake_bindir(&sixteen, "16.2");
        let fifteen = tmp.path().join("other").join("bin");
        fake_bindir(&fifteen, "15.3");
        let cluster = tmp.path().join("cluster");
        assert_eq!(
            check_cluster_version(&cluster, "15", fifteen.clone(), &versioned).unwrap(),
            fifteen
        );
        assert_eq!(
            check_cluster_version(&cluster, "16", fifteen.clone(), &versioned).unwrap(),
            sixteen
        );
        let err = check_cluster_version(&cluster, "14", fifteen, &versioned).unwrap_err();
        assert!(
            err.to_string().contains("apt-get install postgresql-14"),
            "{err}"
        );
    }

    #[test]
    fn preloads_statement_stats_only_when_installed() {
        let tmp = TempDir::new("stats");
        let bindir = tmp.path().join("bin");
        fake_bindir(&bindir, "15.1");
        assert!(statement_stats_settings(&bindir).is_empty());
        fs::create_dir_all(tmp.path().join("lib")).unwrap();
        fs::write(tmp.path().join("lib").join("pg_stat_statements.so"), b"").unwrap();
        assert_eq!(
            statement_stats_settings(&bindir),
            ["-c", "shared_preload_libraries=pg_stat_statements"]
        );
    }
}
