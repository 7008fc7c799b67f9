//! `portfolio-tracker backup FILE` and `restore FILE`: PostgreSQL's own `pg_dump` (custom
//! format) and `pg_restore`, pointed at the embedded cluster of `DATA_DIR` or at
//! `DATABASE_URL`.
//!
//! A backup is one consistent snapshot (`pg_dump` reads everything in one repeatable-read
//! transaction), so it may be taken while `serve` runs; a `backup` beside a running
//! server uses that server (see `db::open_embedded`).
//!
//! A restore never leaves a half-restored database. Into the embedded cluster it restores
//! into a new database and, only once that has succeeded, swaps it for the old one (two
//! renames in one transaction). Into `DATABASE_URL` it restores in one transaction
//! (`--single-transaction`, with `--clean --if-exists` when replacing). It refuses a
//! database that holds anything unless `--replace`, and ends with the ordinary open path
//! (`Database::open`): pending migrations, and whatever else opening the database applies.

use crate::config::DbSettings;
use crate::db::{self, Database, EMBEDDED_DATABASE, Seeding};
use anyhow::{Context, bail};
use sqlx::PgPool;
use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The first bytes of every custom-format archive (`pg_dump -Fc`).
const DUMP_MAGIC: &[u8] = b"PGDMP";

/// The embedded database a restore is written into before it replaces the real one.
const RESTORING: &str = "portfolio_restoring";
/// The embedded database a restore replaced, dropped once the swap has committed.
const REPLACED: &str = "portfolio_replaced";

/// Writes a custom-format dump of the database to `file` (replacing it if it exists, only
/// once the dump is complete). Says what it wrote.
pub async fn backup(settings: &DbSettings, file: &Path) -> anyhow::Result<String> {
    let pg_dump = match &settings.database_url {
        Some(_) => embedded_pg::find_program("pg_dump")?,
        None => {
            anyhow::ensure!(
                settings.data_dir.is_dir(),
                "DATA_DIR {} does not exist: there is no database to back up (set DATA_DIR, \
                 or DATABASE_URL for an external server)",
                settings.data_dir.display()
            );
            embedded_pg::Options::new(&settings.data_dir).program("pg_dump")?
        }
    };
    let database = Database::connect_as_owner(settings).await?;
    let outcome = async {
        let target = Target::of(settings, &database.pool)?;
        let holdings = Holdings::read(&database.pool).await?;
        if !holdings.migrated {
            bail!(
                "{} holds no portfolio (no migration was ever applied to it): nothing to back up",
                target.describe
            );
        }
        let written = dump(&pg_dump, &target, file).await?;
        Ok(format!(
            "backed up {} to {} ({}; at the start: {})\nrestore it with: portfolio-tracker restore {}",
            target.describe,
            file.display(),
            human_size(written),
            holdings.summary(),
            file.display()
        ))
    }
    .await;
    database.close().await;
    outcome
}

/// Restores the dump in `file` into the database; one that holds anything is replaced
/// only with `replace`. Then opens it the ordinary way (migrations). Says what it did.
pub async fn restore(settings: &DbSettings, file: &Path, replace: bool) -> anyhow::Result<String> {
    let pg_restore = match &settings.database_url {
        Some(_) => embedded_pg::find_program("pg_restore")?,
        None => embedded_pg::Options::new(&settings.data_dir).program("pg_restore")?,
    };
    check_dump(&pg_restore, file).await?;
    match &settings.database_url {
        Some(_) => restore_in_one_transaction(settings, &pg_restore, file, replace).await?,
        None => restore_and_swap(settings, &pg_restore, file, replace).await?,
    }
    // The ordinary open path: migrations newer than the dump, and what opening applies.
    let settings = DbSettings {
        own_embedded_server: true,
        ..settings.clone()
    };
    let database = Database::open(&settings, Seeding::Never)
        .await
        .context("the backup was restored, but opening the restored database failed")?;
    let holdings = Holdings::read(&database.pool).await;
    let target = Target::of(&settings, &database.pool).map(|t| t.describe);
    database.close().await;
    Ok(format!(
        "restored {} into {}: {}",
        file.display(),
        target?,
        holdings?.summary()
    ))
}

/// `DATABASE_URL`: one `pg_restore --single-transaction`, so that a failure leaves the
/// database as it was.
async fn restore_in_one_transaction(
    settings: &DbSettings,
    pg_restore: &Path,
    file: &Path,
    replace: bool,
) -> anyhow::Result<()> {
    let database = Database::connect_as_owner(settings).await?;
    let checked = async {
        let target = Target::of(settings, &database.pool)?;
        let holdings = Holdings::read(&database.pool).await?;
        refuse_unless_replacing(&holdings, &target, replace)?;
        Ok::<_, anyhow::Error>((target, holdings.is_empty()))
    }
    .await;
    database.close().await;
    let (target, empty) = checked?;
    let mut args = restore_args();
    if !empty {
        // Drops every object the dump holds before creating it again, in the same
        // transaction as the rest.
        args.extend(["--clean", "--if-exists"].map(OsString::from));
    }
    run_restore(pg_restore, &target, args, file).await
}

/// The embedded cluster: restored into a database of its own, which replaces the
/// application's database only once the restore has succeeded. This process runs the
/// server for the time being: a restore under a running `serve` is refused (it would go
/// on serving its copy of the old portfolio).
async fn restore_and_swap(
    settings: &DbSettings,
    pg_restore: &Path,
    file: &Path,
    replace: bool,
) -> anyhow::Result<()> {
    let own = DbSettings {
        own_embedded_server: true,
        ..settings.clone()
    };
    let database = Database::connect_as_owner(&own).await.map_err(|e| {
        let locked = matches!(
            e.downcast_ref::<embedded_pg::Error>(),
            Some(embedded_pg::Error::DataDirLocked { .. })
        );
        if locked {
            e.context(
                "restore needs the embedded database to itself: stop the server (`serve`) \
                 first, restore, then start it again",
            )
        } else {
            e
        }
    })?;
    let outcome = async {
        let target = Target::of(&own, &database.pool)?;
        let holdings = Holdings::read(&database.pool).await?;
        refuse_unless_replacing(&holdings, &target, replace)?;
        let mut options = (*database.pool.connect_options()).clone();
        database.pool.close().await;
        options = options.database("postgres");
        let admin = db::connect_with(options).await?;
        let swapped = async {
            // Left by a restore that was interrupted: never the application's database.
            for name in [RESTORING, REPLACED] {
                drop_database(&admin, name).await?;
            }
            execute(&admin, format!("CREATE DATABASE {RESTORING}")).await?;
            let staging = target.for_database(RESTORING);
            if let Err(e) = run_restore(pg_restore, &staging, restore_args(), file).await {
                drop_database(&admin, RESTORING).await?;
                return Err(e);
            }
            // Both renames or neither: one statement string is one transaction.
            execute(
                &admin,
                format!(
                    "ALTER DATABASE {EMBEDDED_DATABASE} RENAME TO {REPLACED}; \
                     ALTER DATABASE {RESTORING} RENAME TO {EMBEDDED_DATABASE}"
                ),
            )
            .await
            .context("swapping the restored database in")?;
            drop_database(&admin, REPLACED).await
        }
        .await;
        admin.close().await;
        swapped
    }
    .await;
    database.close().await;
    outcome
}

async fn execute(pool: &PgPool, statement: String) -> anyhow::Result<()> {
    // Names are this module's constants: nothing from outside reaches these statements.
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.clone()))
        .execute(pool)
        .await
        .with_context(|| format!("running {statement}"))?;
    Ok(())
}

async fn drop_database(admin: &PgPool, name: &str) -> anyhow::Result<()> {
    execute(admin, format!("DROP DATABASE IF EXISTS {name}")).await
}

fn refuse_unless_replacing(
    holdings: &Holdings,
    target: &Target,
    replace: bool,
) -> anyhow::Result<()> {
    if holdings.is_empty() || replace {
        return Ok(());
    }
    let what = if holdings.items.is_some() {
        format!("a portfolio ({})", holdings.summary())
    } else {
        format!("{} tables, views or sequences", holdings.relations)
    };
    bail!(
        "{} already holds {what}; nothing was changed. To replace it with the backup, run \
         restore again with --replace (back it up first if it may still be needed)",
        target.describe
    )
}

fn restore_args() -> Vec<OsString> {
    [
        "--single-transaction",
        "--exit-on-error",
        // Restores under whatever roles the target has; opening the database afterwards
        // applies the application's own.
        "--no-owner",
        "--no-privileges",
        "--no-password",
    ]
    .map(OsString::from)
    .to_vec()
}

async fn run_restore(
    pg_restore: &Path,
    target: &Target,
    mut args: Vec<OsString>,
    file: &Path,
) -> anyhow::Result<()> {
    args.extend(target.args.iter().cloned());
    args.push(file.as_os_str().to_owned());
    run(pg_restore, args, target, None)
        .await
        .with_context(|| format!("restoring {} into {}", file.display(), target.describe))?;
    Ok(())
}

/// Makes sure `file` is a custom-format dump of this application's database before
/// anything is started or changed.
async fn check_dump(pg_restore: &Path, file: &Path) -> anyhow::Result<()> {
    let mut magic = [0u8; DUMP_MAGIC.len()];
    let read = File::open(file)
        .and_then(|mut f| f.read(&mut magic))
        .with_context(|| format!("cannot read the backup file {}", file.display()))?;
    if read < magic.len() || magic != DUMP_MAGIC {
        bail!(
            "{} is not a backup made by `portfolio-tracker backup`: it is not a PostgreSQL \
             custom-format dump (pg_dump -Fc). Nothing was changed",
            file.display()
        );
    }
    let list = run(
        pg_restore,
        vec![OsString::from("--list"), file.as_os_str().to_owned()],
        &Target::default(),
        None,
    )
    .await
    .with_context(|| format!("{} cannot be read as a dump", file.display()))?;
    let has = |entry: &str| list.lines().any(|line| line.contains(entry));
    if !has(" TABLE public items ") || !has(" TABLE public _sqlx_migrations ") {
        bail!(
            "{} is a PostgreSQL dump, but not of a Portfolio Tracker database (it has no \
             items or _sqlx_migrations table). Nothing was changed",
            file.display()
        );
    }
    Ok(())
}

/// Runs `pg_dump` into a new file next to `file` (mode 0600: a dump holds password
/// hashes), then renames it to `file`. Returns its size.
async fn dump(pg_dump: &Path, target: &Target, file: &Path) -> anyhow::Result<u64> {
    let partial = partial_path(file);
    let out = create_private(&partial)
        .with_context(|| format!("cannot create the backup file {}", partial.display()))?;
    let mut args: Vec<OsString> = ["--format=custom", "--no-password"]
        .map(OsString::from)
        .to_vec();
    args.extend(target.args.iter().cloned());
    let dumped = run(pg_dump, args, target, Some(out))
        .await
        .with_context(|| format!("backing up {}", target.describe));
    let finished = dumped.and_then(|_| {
        let file_handle = File::open(&partial)?;
        file_handle.sync_all()?;
        let size = file_handle.metadata()?.len();
        std::fs::rename(&partial, file)
            .with_context(|| format!("renaming {} to {}", partial.display(), file.display()))?;
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(dir) = File::open(dir)
        {
            let _ = dir.sync_all();
        }
        Ok(size)
    });
    if finished.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    finished
}

fn partial_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_owned();
    name.push(format!(".partial-{}", std::process::id()));
    file.with_file_name(name)
}

fn create_private(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// How PostgreSQL's programs reach the database: their connection arguments, the
/// password (passed in the environment, never on the command line), and a description
/// for messages (without the password).
#[derive(Debug, Clone, Default)]
struct Target {
    args: Vec<OsString>,
    password: Option<String>,
    describe: String,
}

impl Target {
    fn of(settings: &DbSettings, pool: &PgPool) -> anyhow::Result<Target> {
        // the owner's URL when there is one: the tables are its to read and replace
        match settings
            .database_owner_url
            .as_ref()
            .or(settings.database_url.as_ref())
        {
            Some(url) => {
                let (url, password) = split_password(url);
                Ok(Target {
                    describe: format!("the database at {url}"),
                    args: vec![OsString::from("--dbname"), OsString::from(url)],
                    password,
                })
            }
            None => {
                let options = pool.connect_options();
                let socket = options
                    .get_socket()
                    .context("the embedded database is not reached over a Unix socket")?;
                let database = options.get_database().unwrap_or(EMBEDDED_DATABASE);
                Ok(Target {
                    args: vec![
                        OsString::from("--host"),
                        socket.as_os_str().to_owned(),
                        OsString::from("--username"),
                        OsString::from(options.get_username()),
                        OsString::from("--dbname"),
                        OsString::from(database),
                    ],
                    password: None,
                    describe: format!(
                        "the embedded database of DATA_DIR {}",
                        settings.data_dir.display()
                    ),
                })
            }
        }
    }

    /// The same server, another database (only for the embedded cluster, whose `args`
    /// end with `--dbname <name>`).
    fn for_database(&self, name: &str) -> Target {
        let mut args = self.args.clone();
        if let Some(last) = args.last_mut() {
            *last = OsString::from(name);
        }
        Target {
            args,
            password: self.password.clone(),
            describe: format!("{} (database {name})", self.describe),
        }
    }
}

/// Runs a PostgreSQL program off the async runtime: its standard output (unless it goes
/// to `stdout`), or an error quoting its standard error.
async fn run(
    program: &Path,
    args: Vec<OsString>,
    target: &Target,
    stdout: Option<File>,
) -> anyhow::Result<String> {
    let mut command = Command::new(program);
    command.args(&args).stdin(Stdio::null());
    if let Some(password) = &target.password {
        command.env("PGPASSWORD", password);
    }
    let to_file = stdout.is_some();
    command.stdout(match stdout {
        Some(file) => Stdio::from(file),
        None => Stdio::piped(),
    });
    command.stderr(Stdio::piped());
    let name = program.display().to_string();
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .context("waiting for a PostgreSQL program")?
        .with_context(|| format!("cannot run {name}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if !output.status.success() {
        bail!("{name} failed ({}): {stderr}", output.status);
    }
    if !stderr.is_empty() {
        tracing::warn!("{name}: {stderr}");
    }
    Ok(if to_file {
        String::new()
    } else {
        String::from_utf8_lossy(&output.stdout).into_owned()
    })
}

/// What a database holds, for messages and for the "is it empty" check.
struct Holdings {
    /// Tables, views and sequences outside the system schemas.
    relations: i64,
    migrated: bool,
    /// Items, accounts and audit rows, when it has those tables.
    items: Option<(i64, i64, i64)>,
}

impl Holdings {
    async fn read(pool: &PgPool) -> anyhow::Result<Holdings> {
        let relations = sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'"#
        )
        .fetch_one(pool)
        .await
        .context("looking at what the database holds")?;
        let tables = sqlx::query!(
            r#"SELECT to_regclass('public._sqlx_migrations') IS NOT NULL AS "migrated!",
                      (to_regclass('public.items') IS NOT NULL
                       AND to_regclass('public.users') IS NOT NULL
                       AND to_regclass('public.audit_log') IS NOT NULL) AS "portfolio!""#
        )
        .fetch_one(pool)
        .await?;
        let items = if tables.portfolio {
            let counts = sqlx::query!(
                r#"SELECT (SELECT count(*) FROM items) AS "items!",
                          (SELECT count(*) FROM users) AS "accounts!",
                          (SELECT count(*) FROM audit_log) AS "audit!""#
            )
            .fetch_one(pool)
            .await?;
            Some((counts.items, counts.accounts, counts.audit))
        } else {
            None
        };
        Ok(Holdings {
            relations,
            migrated: tables.migrated,
            items,
        })
    }

    fn is_empty(&self) -> bool {
        self.relations == 0
    }

    fn summary(&self) -> String {
        match self.items {
            Some((items, accounts, audit)) => {
                format!("{items} items, {accounts} accounts, {audit} audit rows")
            }
            None => format!("{} tables, views or sequences", self.relations),
        }
    }
}

/// A connection URL without its password, and the password (percent-decoded), so that
/// the password goes to the program in `PGPASSWORD` rather than on its command line
/// (which every user of the machine can read).
fn split_password(url: &str) -> (String, Option<String>) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return (url.to_string(), None);
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    let authority = &url[scheme_end..authority_end];
    let Some(at) = authority.rfind('@') else {
        return (url.to_string(), None);
    };
    let Some((user, password)) = authority[..at].split_once(':') else {
        return (url.to_string(), None);
    };
    let without = format!("{}{user}{}", &url[..scheme_end], &url[scheme_end + at..]);
    (without, Some(percent_decode(password)))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} kB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url() {
        assert_eq!(
            split_password("postgres://u:s%40cret@db.example:5432/portfolio?sslmode=require"),
            (
                "postgres://u@db.example:5432/portfolio?sslmode=require".to_string(),
                Some("s@cret".to_string())
            )
        );
        assert_eq!(
            split_password("postgres://u@h/db"),
            ("postgres://u@h/db".to_string(), None)
        );
        assert_eq!(
            split_password("postgres:///db?host=/run/x@y"),
            ("postgres:///db?host=/run/x@y".to_string(), None)
        );
        assert_eq!(
            split_password("postgresql://a:b:c@h/db"),
            ("postgresql://a@h/db".to_string(), Some("b:c".to_string()))
        );
    }

    #[test]
    fn partial_files_sit_next_to_the_backup() {
        let partial = partial_path(Path::new("/backups/portfolio.dump"));
        assert_eq!(partial.parent(), Some(Path::new("/backups")));
        assert!(
            partial
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("portfolio.dump.partial-")
        );
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(2048), "2.0 kB");
    }
}
