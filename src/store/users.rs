//! Accounts. (The sign-in throttle is `store::throttle`.)

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
    /// An administrator set the password: the owner must change it at first sign-in.
    pub must_change_password: bool,
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
        r#"SELECT id, email, display_name, role AS "role: Role", disabled_at, must_change_password,
                  version, created_at
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

/// What sign-in needs of an enabled account.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub id: i64,
    pub password_hash: String,
    pub must_change_password: bool,
}

/// The stored hash of an enabled account, for sign-in.
pub async fn credentials(
    db: impl PgExecutor<'_>,
    email: &str,
) -> sqlx::Result<Option<Credentials>> {
    sqlx::query_as!(
        Credentials,
        "SELECT id, password_hash, must_change_password FROM users
          WHERE email = $1 AND disabled_at IS NULL",
        email
    )
    .fetch_optional(db)
    .await
}

/// Creates an account; its id.
pub async fn insert(
    db: impl PgExecutor<'_>,
    email: &str,
    display_name: &str,
    role: Role,
    password_hash: &str,
) -> sqlx::Result<i64> {
    insert_with(db, email, display_name, role, password_hash, false).await
}

/// Creates an account whose owner must change the password at first sign-in when
/// `must_change_password`; its id.
pub async fn insert_with(
    db: impl PgExecutor<'_>,
    email: &str,
    display_name: &str,
    role: Role,
    password_hash: &str,
    must_change_password: bool,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO users (email, display_name, role, password_hash, must_change_password)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING id",
        email,
        display_name,
        role as Role,
        password_hash,
        must_change_password
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

/// A new password; `must_change` when someone other than the owner chose it.
pub async fn set_password(
    db: impl PgExecutor<'_>,
    id: i64,
    password_hash: &str,
    must_change: bool,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE users SET password_hash = $2, must_change_password = $3, version = version + 1
          WHERE id = $1",
        id,
        password_hash,
        must_change
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
