//! What the `user`, `export`, `import` and `import-contributions` subcommands do.
//! `main.rs` parses the command line and calls these.

use anyhow::{Context, bail};
use sqlx::PgPool;
use std::io::{Read, Write};
use std::path::Path;

use crate::accounts::{self, AccountError};
use crate::config::DbSettings;
use crate::db::{Database, Seeding};
use crate::domain::auth::{Role, email_problem, normalize_email};
use crate::domain::records::api_token::TokenForm;
use crate::portable::{self, Credentials};
use crate::store::audit::Actor;
use crate::store::{tokens, users};

/// Changes made from the command line are recorded as made by this actor.
fn cli_actor() -> Actor {
    let who = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    Actor {
        id: None,
        email: format!("command line ({who})"),
        token_id: None,
    }
}

fn checked_email(email: &str) -> anyhow::Result<String> {
    let email = normalize_email(email);
    if let Some(problem) = email_problem(&email) {
        bail!("{problem}");
    }
    Ok(email)
}

async fn existing(pool: &PgPool, email: &str) -> anyhow::Result<users::User> {
    let email = checked_email(email)?;
    users::by_email(pool, &email)
        .await?
        .with_context(|| format!("no account has the email address {email}"))
}

pub async fn add(
    pool: &PgPool,
    email: &str,
    name: &str,
    role: Role,
    password: &str,
) -> anyhow::Result<String> {
    // The operator chose this password (often for their own first account): no forced
    // change at first sign-in.
    let user = accounts::create(pool, &cli_actor(), email, name, role, password, false).await?;
    Ok(format!("created {} with role {}", user.email, user.role))
}

pub async fn list(pool: &PgPool) -> anyhow::Result<String> {
    let mut out = String::new();
    for u in users::list(pool).await? {
        let state = if u.disabled_at.is_some() {
            "disabled"
        } else {
            "active"
        };
        out.push_str(&format!(
            "{:<40} {:<7} {:<9} {}\n",
            u.email, u.role, state, u.display_name
        ));
    }
    if out.is_empty() {
        out.push_str(
            "no accounts yet: add one with `portfolio-tracker user add --email E --role admin`\n",
        );
    }
    Ok(out)
}

/// Role and enabled state, changed together as the admin form does; sessions end at once.
async fn change(
    pool: &PgPool,
    email: &str,
    role: Option<Role>,
    disabled: Option<bool>,
) -> anyhow::Result<String> {
    let before = existing(pool, email).await?;
    let after = accounts::change(pool, &cli_actor(), &before, role, disabled).await?;
    Ok(format!(
        "{}: role {}, {}",
        after.email,
        after.role,
        if after.disabled_at.is_some() {
            "disabled"
        } else {
            "active"
        }
    ))
}

pub async fn set_role(pool: &PgPool, email: &str, role: Role) -> anyhow::Result<String> {
    change(pool, email, Some(role), None).await
}

pub async fn disable(pool: &PgPool, email: &str) -> anyhow::Result<String> {
    change(pool, email, None, Some(true)).await
}

pub async fn enable(pool: &PgPool, email: &str) -> anyhow::Result<String> {
    change(pool, email, None, Some(false)).await
}

pub async fn reset_password(pool: &PgPool, email: &str, password: &str) -> anyhow::Result<String> {
    let user = existing(pool, email).await?;
    // As with `user add`, the operator chose it: no forced change (see the README).
    match accounts::set_new_password(pool, &cli_actor(), &user, password, false).await {
        Ok(()) => Ok(format!(
            "password of {} reset; their sessions have ended",
            user.email
        )),
        Err(AccountError::Refused(problem)) => bail!("{problem}"),
        Err(AccountError::Failed(e)) => Err(e),
    }
}

/// `export`: the whole portfolio as one JSON document (`portable`), to `output` or to
/// standard output. Says what it wrote (for standard error when the document goes to
/// standard output).
pub async fn export(
    settings: &DbSettings,
    credentials: Credentials,
    output: Option<&Path>,
) -> anyhow::Result<String> {
    let database = Database::open(settings, Seeding::Never).await?;
    let document = portable::export(&database.pool, credentials).await;
    database.close().await;
    let document = document?;
    let bytes = portable::to_bytes(&document)?;
    match output {
        Some(path) => write_private(path, &bytes)
            .with_context(|| format!("cannot write the export to {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()?;
        }
    }
    let accounts = match credentials {
        Credentials::Included => {
            "with the accounts' password hashes: keep the file as safe as a backup"
        }
        Credentials::Left => {
            "without password hashes: accounts imported from it cannot sign in until an \
             administrator sets their password"
        }
    };
    Ok(format!(
        "exported {} items, {} contributions, {} accounts, {} audit rows ({} bytes), {accounts}",
        document.items.len(),
        document.contributions.len(),
        document.users.len(),
        document.audit_log.len(),
        bytes.len()
    ))
}

/// A new or truncated file only its owner may read (an export can hold password hashes).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// `import FILE` (`-`: standard input): checks the document before the database is
/// touched, then loads it into the empty database in one transaction, as the owner of
/// the tables (it sets their id sequences), and refreshes the planner's statistics.
pub async fn import(settings: &DbSettings, file: &Path) -> anyhow::Result<String> {
    let named = if file == Path::new("-") {
        "standard input".to_string()
    } else {
        file.display().to_string()
    };
    let mut bytes = Vec::new();
    let read = if file == Path::new("-") {
        std::io::stdin().lock().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(file).map(|read| bytes = read)
    };
    read.with_context(|| format!("cannot read {named}"))?;
    let document = portable::from_bytes(&bytes)
        .with_context(|| format!("{named} cannot be imported; nothing was changed"))?;
    let database = Database::open(settings, Seeding::Never).await?;
    let outcome = async {
        let owner = database.owner_pool().await?;
        let loader = owner.as_ref().unwrap_or(&database.pool);
        let imported = portable::import(loader, document).await;
        if imported.is_ok()
            && let Err(e) = sqlx::raw_sql("ANALYZE").execute(loader).await
        {
            tracing::warn!("the import is complete, but ANALYZE failed: {e}");
        }
        if let Some(owner) = owner {
            owner.close().await;
        }
        imported
    }
    .await;
    database.close().await;
    Ok(format!("imported {named}: {}", outcome?))
}

/// What `import-contributions` is asked to do.
pub struct ImportArgs<'a> {
    pub file: &'a std::path::Path,
    /// Check only: nothing is saved.
    pub dry_run: bool,
    /// Create the organisations the file names that do not exist (as the preview's
    /// "create it" does).
    pub create_organisations: bool,
    /// Save amounts no exchange rate converts yet.
    pub without_rate: bool,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
}

/// Imports (or with `dry_run` checks) a CSV or XLSX file of contributions: every row or
/// none. A file with problems is an error listing each as `line N, column X: message`.
pub async fn import_contributions(pool: &PgPool, args: ImportArgs<'_>) -> anyhow::Result<String> {
    use crate::domain::import::{Column, Options, Sheet};
    use crate::store::imports::{Outcome, Request, run};
    let shown = args.file.display();
    let bytes = std::fs::read(args.file).with_context(|| format!("cannot read {shown}"))?;
    let sheet =
        Sheet::parse(&bytes).map_err(|e| anyhow::anyhow!("{shown}: {e}; nothing was saved"))?;
    let create = match args.create_organisations {
        true => sheet.values(Column::Organisation),
        false => Default::default(),
    };
    let file_name = args
        .file
        .file_name()
        .map_or_else(|| shown.to_string(), |n| n.to_string_lossy().into_owned());
    let request = Request {
        file_name: &file_name,
        sheet: &sheet,
        create_organisations: &create,
        options: Options {
            without_rate: args.without_rate,
        },
        save: !args.dry_run,
        upload: None,
    };
    let bar = import_progress(sheet.table.rows.len(), args.progress && !args.dry_run);
    let outcome = run(pool, &cli_actor(), &request, &|saved| {
        bar.set_position(saved as u64)
    })
    .await;
    bar.finish_and_clear();
    let rows = sheet.table.rows.len();
    match outcome? {
        Outcome::Saved { id, report } => Ok(format!(
            "imported {rows} contributions from {file_name} (import {id}){}",
            created_text(&report.created, "created")
        )),
        Outcome::Checked(report) if report.checked.is_valid() => Ok(format!(
            "{rows} rows checked, no problems{}; nothing was saved (--dry-run)",
            created_text(&report.created, "would create")
        )),
        Outcome::Checked(report) => {
            let mut text: Vec<String> =
                report.checked.problems().map(ToString::to_string).collect();
            text.extend(
                report
                    .not_created
                    .iter()
                    .map(|(name, why)| format!("organisation “{name}” cannot be created: {why}")),
            );
            if !report.checked.unknown_organisations.is_empty() && !args.create_organisations {
                text.push(
                    "(--create-organisations creates the organisations that do not exist yet)"
                        .into(),
                );
            }
            bail!(
                "{}\n{} of {rows} rows have problems; nothing was saved",
                text.join("\n"),
                report.checked.rows_with_problems()
            )
        }
    }
}

fn created_text(created: &[String], verb: &str) -> String {
    match created.is_empty() {
        true => String::new(),
        false => format!("; {verb} the organisations {}", created.join(", ")),
    }
}

/// A bar of rows saved, drawn on stderr when it is a terminal; hidden otherwise.
fn import_progress(rows: usize, shown: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !shown || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(rows as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "saving [{bar:40}] {human_pos}/{human_len} rows ({elapsed})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// A personal API token for `email`, checked as the account page checks one (only an
/// admin may have a read-write token). Prints the token alone, for scripts to capture.
pub async fn token(
    pool: &PgPool,
    email: &str,
    name: &str,
    write: bool,
    days: i64,
) -> anyhow::Result<String> {
    let user = existing(pool, email).await?;
    anyhow::ensure!(
        user.disabled_at.is_none(),
        "{} is disabled: enable the account first",
        user.email
    );
    let form = TokenForm {
        name: name.to_string(),
        days: days.to_string(),
        write: write.then(|| "on".to_string()),
    };
    let fields = form.validate(user.role).map_err(|errors| {
        let problems: Vec<String> = errors.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        anyhow::anyhow!("{}", problems.join("; "))
    })?;
    let made = tokens::create(pool, &cli_actor(), user.id, &fields).await?;
    Ok(made.secret)
}
