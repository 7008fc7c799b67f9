//! What the `user` and `import-contributions` subcommands do. `main.rs` parses the
//! command line and calls these.

use anyhow::{Context, bail};
use sqlx::PgPool;

use crate::accounts::{self, AccountError};
use crate::domain::auth::{Role, email_problem, normalize_email};
use crate::store::audit::Actor;
use crate::store::users;

/// Changes made from the command line are recorded as made by this actor.
fn cli_actor() -> Actor {
    let who = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    Actor {
        id: None,
        email: format!("command line ({who})"),
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
