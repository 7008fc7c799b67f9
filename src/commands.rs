//! What the `user` subcommands do. `main.rs` parses the command line and calls these.

use anyhow::{Context, bail};
use sqlx::PgPool;

use crate::accounts::{self, AccountError};
use crate::domain::auth::{Role, email_problem, normalize_email};
use crate::domain::records::api_token::TokenForm;
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
