//! Server-side sessions. The cookie carries a random token; the table keeps its SHA-256,
//! the user, a CSRF token, and the two expiry clocks (idle and absolute).

use crate::domain::auth::Role;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// A session ends after this long without a request.
pub const IDLE_MINUTES: i64 = 30;
/// And after this long in any case.
pub const ABSOLUTE_HOURS: i64 = 12;

/// The signed-in person behind a request.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionUser {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub csrf_token: String,
    /// An administrator set the password: every page leads to the change of password.
    pub must_change_password: bool,
}

/// 256 random bits, URL-safe: 43 characters.
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Only well-formed tokens reach the database.
pub fn looks_like_token(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Starts a session for `user_id`, ending `previous` (the session id is rotated at
/// sign-in). Returns the new cookie token.
pub async fn create(pool: &PgPool, user_id: i64, previous: Option<&str>) -> anyhow::Result<String> {
    let token = random_token()?;
    let csrf = random_token()?;
    let mut tx = pool.begin().await?;
    if let Some(previous) = previous.filter(|p| looks_like_token(p)) {
        sqlx::query!("DELETE FROM sessions WHERE id_hash = $1", digest(previous))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query!(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(hours => $4))",
        digest(&token),
        user_id,
        csrf,
        ABSOLUTE_HOURS as i32,
    )
    .execute(&mut *tx)
    .await?;
    // Expired sessions of anyone are swept at each sign-in.
    sqlx::query!(
        "DELETE FROM sessions WHERE expires_at <= now() OR last_seen_at <= now() - make_interval(mins => $1)",
        IDLE_MINUTES as i32,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// The live session's user. None when the token is unknown, expired (either clock) or
/// the account is disabled. The idle clock is touched at most once a minute, so reading
/// pages (and the stylesheet) does not write a row per request.
pub async fn lookup(pool: &PgPool, token: &str) -> sqlx::Result<Option<SessionUser>> {
    if !looks_like_token(token) {
        return Ok(None);
    }
    sqlx::query_as!(
        SessionUser,
        r#"WITH s AS (
             SELECT user_id, csrf_token FROM sessions
              WHERE id_hash = $1 AND expires_at > now()
                AND last_seen_at > now() - make_interval(mins => $2)),
         touch AS (
             UPDATE sessions SET last_seen_at = now()
              WHERE id_hash = $1 AND last_seen_at < now() - interval '1 minute'
                AND EXISTS (SELECT 1 FROM s))
         SELECT u.id, u.email, u.display_name, u.role AS "role: Role", s.csrf_token AS "csrf_token!",
                u.must_change_password
           FROM s JOIN users u ON u.id = s.user_id
          WHERE u.disabled_at IS NULL"#,
        digest(token),
        IDLE_MINUTES as i32,
    )
    .fetch_optional(pool)
    .await
}

pub async fn delete(pool: &PgPool, token: &str) -> sqlx::Result<()> {
    if looks_like_token(token) {
        sqlx::query!("DELETE FROM sessions WHERE id_hash = $1", digest(token))
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Ends every session of a user but the one whose cookie token is `keep`: after a person
/// changes their own password, every other browser signed in as them is signed out.
pub async fn delete_others(
    db: impl sqlx::PgExecutor<'_>,
    user_id: i64,
    keep: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2",
        user_id,
        digest(keep)
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Ends every session of a user: on disable, role change or password reset.
pub async fn delete_for_user(db: impl sqlx::PgExecutor<'_>, user_id: i64) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM sessions WHERE user_id = $1", user_id)
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_ne!(a, b);
        assert!(looks_like_token(&a));
        assert!(!looks_like_token("short"));
        assert!(!looks_like_token(&format!("{}!", &a[..42])));
    }
}
