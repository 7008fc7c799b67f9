//! The sign-in throttle: attempts per (address, client), each reserved *before* its
//! password is checked, in one atomic statement, so that parallel attempts can never get
//! more checks than the limit; and the daily count of failed sign-ins for addresses no
//! account has.
//!
//! Why per (address, client) and not per address: a lock on the address alone lets
//! anyone lock a known account out by guessing wrong five times. Keyed by client, a
//! guesser locks only themself out; the owner signing in from elsewhere is not affected.
//! Guessing from many clients is slowed by the per-client rate limit (`web::limits`) and
//! made hopeless by the password rules (12 characters, no common password).

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};

/// Attempts one client may make at one address before it is locked.
pub const MAX_ATTEMPTS: i32 = 5;
/// How long a lock lasts, and how long an unlocked row remembers its attempts.
pub const LOCK_MINUTES: i32 = 15;

/// What a reserved attempt may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Check the password. `locks_until` is set when this attempt is the last one allowed:
    /// if it fails, the client is locked out of the address until then.
    Allowed { locks_until: Option<DateTime<Utc>> },
    /// Refused without a password check: locked until then.
    Locked(DateTime<Utc>),
}

/// Reserves an attempt for `client` at `email`, in one statement that counts it and says
/// whether it is allowed. A row whose lock has ended, or that saw no attempt for 15
/// minutes, starts afresh. The attempt that reaches [`MAX_ATTEMPTS`] sets the lock (a
/// success clears it, see [`clear`]); the ones after it are refused until it ends.
pub async fn reserve(pool: &PgPool, email: &str, client: &str) -> sqlx::Result<Reservation> {
    let row = sqlx::query!(
        r#"INSERT INTO login_throttle AS t (email, client, attempts, locked_until, expires_at)
           VALUES ($1, $2, 1, NULL, now() + make_interval(mins => $4))
           ON CONFLICT (email, client) DO UPDATE SET
             attempts = CASE WHEN coalesce(t.locked_until, t.expires_at) <= now() THEN 1
                             ELSE least(t.attempts + 1, 1000000) END,
             locked_until = CASE
                 WHEN coalesce(t.locked_until, t.expires_at) <= now() THEN NULL
                 WHEN t.locked_until IS NULL AND t.attempts + 1 >= $3
                     THEN now() + make_interval(mins => $4)
                 ELSE t.locked_until END,
             expires_at = CASE
                 WHEN t.locked_until > now() THEN t.locked_until
                 ELSE now() + make_interval(mins => $4) END
           RETURNING attempts, locked_until"#,
        email,
        client,
        MAX_ATTEMPTS,
        LOCK_MINUTES,
    )
    .fetch_one(pool)
    .await?;
    Ok(match row.locked_until {
        Some(until) if row.attempts > MAX_ATTEMPTS => Reservation::Locked(until),
        locks_until => Reservation::Allowed { locks_until },
    })
}

/// A successful sign-in forgets this client's attempts at this address (and its lock).
pub async fn clear(db: impl PgExecutor<'_>, email: &str, client: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM login_throttle WHERE email = $1 AND client = $2",
        email,
        client
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A new password lifts every client's lock on the address: what was guessed at is gone.
pub async fn clear_address(db: impl PgExecutor<'_>, email: &str) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM login_throttle WHERE email = $1", email)
        .execute(db)
        .await?;
    Ok(())
}

/// Drops the rows that mean nothing any more (by `login_throttle_expires_idx`: only the
/// expired rows are read). Called now and then by sign-ins, never per request.
pub async fn sweep(pool: &PgPool) -> sqlx::Result<u64> {
    let done = sqlx::query!("DELETE FROM login_throttle WHERE expires_at <= now()")
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

/// Counts a failed sign-in for an address no account has: one row a day.
pub async fn count_unknown_failure(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO login_failures_unknown (day, failures)
         VALUES ((now() AT TIME ZONE 'UTC')::date, 1)
         ON CONFLICT (day) DO UPDATE SET failures = login_failures_unknown.failures + 1"
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Failed sign-ins for unknown addresses today (UTC), for the audit page.
pub async fn unknown_failures_today(pool: &PgPool) -> sqlx::Result<i64> {
    let n = sqlx::query_scalar!(
        r#"SELECT coalesce(sum(failures), 0)::bigint AS "n!" FROM login_failures_unknown
            WHERE day = (now() AT TIME ZONE 'UTC')::date"#
    )
    .fetch_one(pool)
    .await?;
    Ok(n)
}
