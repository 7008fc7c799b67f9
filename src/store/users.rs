//! Accounts and sign-in throttling.

use crate::domain::auth::Role;
use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};

#[derive(Debug, Clone, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub disabled_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn role(&self) -> Role {
        self.role
    }
}

/// True before the first account is created.
pub async fn none_exist(pool: &PgPool) -> sqlx::Result<bool> {
    let none = sqlx::query_scalar!(r#"SELECT NOT EXISTS (SELECT 1 FROM users) AS "none!""#)
        .fetch_one(pool)
        .await?;
    Ok(none)
}

/// Every account (no `id` or `email` given), or the one with this id or email.
async fn select(
    db: impl PgExecutor<'_>,
    id: Option<i64>,
    email: Option<&str>,
) -> sqlx::Result<Vec<User>> {
    sqlx::query_as!(
        User,
        r#"SELECT id, email, display_name, role AS "role: Role", disabled_at, version, created_at
             FROM users
            WHERE ($1::bigint IS NULL OR id = $1) AND ($2::text IS NULL OR email = $2)
            ORDER BY email"#,
        id,
        email
    )
    .fetch_all(db)
    .await
}

pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<User>> {
    select(pool, None, None).await
}

pub async fn by_id(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<User>> {
    Ok(select(db, Some(id), None).await?.pop())
}

pub async fn by_email(db: impl PgExecutor<'_>, email: &str) -> sqlx::Result<Option<User>> {
    Ok(select(db, None, Some(email)).await?.pop())
}

/// The stored hash of an enabled account, for sign-in.
pub async fn credentials(pool: &PgPool, email: &str) -> sqlx::Result<Option<(i64, String)>> {
    let row = sqlx::query!(
        "SELECT id, password_hash FROM users WHERE email = $1 AND disabled_at IS NULL",
        email
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.id, r.password_hash)))
}

/// Creates an account; its id.
pub async fn insert(
    db: impl PgExecutor<'_>,
    email: &str,
    display_name: &str,
    role: Role,
    password_hash: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO users (email, display_name, role, password_hash) VALUES ($1, $2, $3, $4)
         RETURNING id",
        email,
        display_name,
        role as Role,
        password_hash
    )
    .fetch_one(db)
    .await
}

/// Changes role, name and enabled state if `version` is still current; false when stale.
pub async fn update(
    db: impl PgExecutor<'_>,
    id: i64,
    version: i32,
    display_name: &str,
    role: Role,
    disabled: bool,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE users SET display_name = $3, role = $4,
                disabled_at = CASE WHEN $5 THEN coalesce(disabled_at, now()) ELSE NULL END,
                version = version + 1
          WHERE id = $1 AND version = $2",
        id,
        version,
        display_name,
        role as Role,
        disabled
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_password(
    db: impl PgExecutor<'_>,
    id: i64,
    password_hash: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE users SET password_hash = $2, version = version + 1 WHERE id = $1",
        id,
        password_hash
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Failed attempts allowed before an address is locked.
pub const MAX_FAILURES: i32 = 5;
/// How long a locked address stays locked.
pub const LOCK_MINUTES: i32 = 15;

/// When sign-in for `email` is refused until, if it is locked now.
pub async fn locked_until(pool: &PgPool, email: &str) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!(
        "SELECT locked_until FROM login_throttle WHERE email = $1 AND locked_until > now()",
        email
    )
    .fetch_optional(pool)
    .await
    .map(Option::flatten)
}

/// Counts a failure; the fifth in a row locks the address for 15 minutes (and starts the
/// count afresh for when the lock ends). Returns the lock's end when this failure locked it.
pub async fn record_failure(pool: &PgPool, email: &str) -> sqlx::Result<Option<DateTime<Utc>>> {
    let failures: i32 = sqlx::query_scalar!(
        "INSERT INTO login_throttle (email, failures) VALUES ($1, 1)
         ON CONFLICT (email) DO UPDATE SET failures = login_throttle.failures + 1
         RETURNING failures",
        email
    )
    .fetch_one(pool)
    .await?;
    if failures < MAX_FAILURES {
        return Ok(None);
    }
    sqlx::query_scalar!(
        "UPDATE login_throttle SET failures = 0, locked_until = now() + make_interval(mins => $2)
          WHERE email = $1 RETURNING locked_until",
        email,
        LOCK_MINUTES
    )
    .fetch_one(pool)
    .await
}

/// Forgets an address's failed sign-ins, and its lock.
pub async fn clear_failures(db: impl PgExecutor<'_>, email: &str) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM login_throttle WHERE email = $1", email)
        .execute(db)
        .await?;
    Ok(())
}
