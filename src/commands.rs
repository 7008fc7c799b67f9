//! What the `user` subcommands do. `main.rs` parses the command line and calls these.

use anyhow::{Context, bail};
use sqlx::PgPool;

use crate::domain::auth::{self, Role, email_problem, normalize_email, password_problem};
use crate::store::audit::{self, Actor, Entry};
use crate::store::{sessions, users};

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
    let email = checked_email(email)?;
    if let Some(problem) = password_problem(password) {
        bail!("{problem}");
    }
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await?
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    let mut tx = pool.begin().await?;
    let user = match users::insert(&mut *tx, &email, name.trim(), role, &hash).await {
        Ok(user) => user,
        Err(e) if e.as_database_error().and_then(|d| d.constraint()) == Some("users_email_key") => {
            bail!("an account with the email address {email} exists already")
        }
        Err(e) => return Err(e.into()),
    };
    let entry = Entry {
        action: "create",
        entity: "user",
        entity_id: Some(user.id),
        item_id: None,
        summary: format!("Created account {email} ({})", role.as_str()),
        before: None,
        after: Some(&user),
    };
    audit::record(&mut *tx, &cli_actor(), entry).await?;
    tx.commit().await?;
    Ok(format!("created {email} with role {}", role.as_str()))
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
    let role = role.unwrap_or(before.role());
    let disabled = disabled.unwrap_or(before.disabled_at.is_some());
    let mut tx = pool.begin().await?;
    let after = users::update(
        &mut *tx,
        before.id,
        before.version,
        &before.display_name,
        role,
        disabled,
    )
    .await?
    .context("the account changed while this command ran; run it again")?;
    sessions::delete_for_user(&mut *tx, before.id).await?;
    let action = if disabled && before.disabled_at.is_none() {
        "disable"
    } else if !disabled && before.disabled_at.is_some() {
        "enable"
    } else {
        "role_change"
    };
    let entry = Entry {
        action,
        entity: "user",
        entity_id: Some(before.id),
        item_id: None,
        summary: format!("{} account {}", action.replace('_', " "), after.email),
        before: Some(&before),
        after: Some(&after),
    };
    audit::record(&mut *tx, &cli_actor(), entry).await?;
    tx.commit().await?;
    Ok(format!(
        "{}: role {}, {}",
        after.email,
        after.role,
        if disabled { "disabled" } else { "active" }
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
    match set_new_password(pool, &cli_actor(), &user, password).await {
        Ok(()) => Ok(format!(
            "password of {} reset; their sessions have ended",
            user.email
        )),
        Err(AccountError::Refused(problem)) => bail!("{problem}"),
        Err(AccountError::Failed(e)) => Err(e),
    }
}

/// Why an account change was not made.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// What the person entered is not acceptable; the message says why.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AccountError {
    fn from(e: sqlx::Error) -> Self {
        AccountError::Failed(e.into())
    }
}

/// A new password for an account, as both `user reset-password` and the admin accounts
/// page set it: checked, hashed, and in one transaction stored, every session of the
/// account ended, the address's sign-in lock lifted (the owner is about to use the new
/// password) and the change audited.
pub async fn set_new_password(
    pool: &PgPool,
    actor: &Actor,
    user: &users::User,
    password: &str,
) -> Result<(), AccountError> {
    if let Some(problem) = password_problem(password) {
        return Err(AccountError::Refused(problem));
    }
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(anyhow::Error::from)?
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    let mut tx = pool.begin().await?;
    users::set_password(&mut *tx, user.id, &hash).await?;
    sessions::delete_for_user(&mut *tx, user.id).await?;
    users::clear_failures(&mut *tx, &user.email).await?;
    let entry = Entry {
        action: "password_reset",
        entity: "user",
        entity_id: Some(user.id),
        item_id: None,
        summary: format!("Reset the password of {}", user.email),
        before: None,
        after: None,
    };
    audit::record(&mut *tx, actor, entry).await?;
    tx.commit().await?;
    Ok(())
}
