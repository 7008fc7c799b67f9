//! Personal API tokens. A token is `pt_` and 43 random URL-safe characters (256 bits);
//! the table keeps its SHA-256, a short visible prefix, whether it may write, and when it
//! expires, was last used and was revoked. The token itself is shown once, at creation.
//!
//! A token carries no role of its own: [`lookup`] returns its person with their role as
//! it is now, so a token of a disabled account is dead and a demoted person's token
//! reads what their new role may read.

use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::domain::auth::Role;
use crate::domain::records::api_token::TokenFields;
use crate::store::audit::{self, Actor, Entry};
use crate::store::sessions::random_token;

/// What every token starts with, so a leaked one is recognisable (secret scanners).
pub const TOKEN_PREFIX: &str = "pt_";
/// Characters of the token shown in the list to tell tokens apart: `pt_` and 6 more.
const VISIBLE: usize = 9;

/// The person behind a live token, with their current role.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenUser {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub must_change_password: bool,
    pub token_id: i64,
    pub token_name: String,
    pub can_write: bool,
}

/// One of a person's tokens, as their account page lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub can_write: bool,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRow {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A token as it is made: the secret (shown once) and its row.
pub struct NewToken {
    pub secret: String,
    pub row: TokenRow,
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Only well-formed tokens reach the database.
pub fn looks_like_token(value: &str) -> bool {
    value
        .strip_prefix(TOKEN_PREFIX)
        .is_some_and(crate::store::sessions::looks_like_token)
}

/// Makes a token for `user_id`, audited under `actor` (its person, or the command line).
pub async fn create(
    pool: &PgPool,
    actor: &Actor,
    user_id: i64,
    fields: &TokenFields,
) -> anyhow::Result<NewToken> {
    let secret = format!("{TOKEN_PREFIX}{}", random_token()?);
    let prefix: String = secret.chars().take(VISIBLE).collect();
    let mut tx = pool.begin().await?;
    let row: TokenRow = sqlx::query_as(
        "INSERT INTO api_tokens (user_id, name, token_hash, prefix, can_write, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(days => $6))
         RETURNING id, name, prefix, can_write, expires_at, created_at, last_used_at, revoked_at",
    )
    .bind(user_id)
    .bind(&fields.name)
    .bind(digest(&secret))
    .bind(&prefix)
    .bind(fields.can_write)
    .bind(i32::try_from(fields.days)?)
    .fetch_one(&mut *tx)
    .await?;
    let after = json!({ "api_token": row.id, "name": row.name, "prefix": row.prefix,
                        "can_write": row.can_write, "expires_at": row.expires_at });
    let entry = Entry {
        action: "create",
        // An account matter: audited against the account, so it stays out of the
        // portfolio's activity feed (which leaves out `user` rows) and its indexes.
        entity: "user",
        entity_id: Some(user_id),
        item_id: None,
        summary: format!(
            "Created API token “{}” ({})",
            row.name,
            access_label(fields.can_write)
        ),
        before: None,
        after: Some(&after),
    };
    audit::record(&mut *tx, actor, entry).await?;
    tx.commit().await?;
    Ok(NewToken { secret, row })
}

/// "read-write" or "read-only".
pub fn access_label(can_write: bool) -> &'static str {
    if can_write { "read-write" } else { "read-only" }
}

/// The live token's person: None when the token is unknown, expired, revoked or its
/// account disabled. `last_used_at` is touched at most once a minute per token, so a
/// script's requests do not each write a row.
pub async fn lookup(pool: &PgPool, token: &str) -> sqlx::Result<Option<TokenUser>> {
    if !looks_like_token(token) {
        return Ok(None);
    }
    sqlx::query_as(
        "WITH t AS (
             SELECT id, user_id, name, can_write FROM api_tokens
              WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()),
         touch AS (
             UPDATE api_tokens SET last_used_at = now()
              WHERE token_hash = $1
                AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
                AND EXISTS (SELECT 1 FROM t))
         SELECT u.id, u.email, u.display_name, u.role, u.must_change_password,
                t.id AS token_id, t.name AS token_name, t.can_write
           FROM t JOIN users u ON u.id = t.user_id
          WHERE u.disabled_at IS NULL",
    )
    .bind(digest(token))
    .fetch_optional(pool)
    .await
}

/// A person's tokens, newest first.
pub async fn of_user(pool: &PgPool, user_id: i64) -> sqlx::Result<Vec<TokenRow>> {
    sqlx::query_as(
        "SELECT id, name, prefix, can_write, expires_at, created_at, last_used_at, revoked_at
           FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// Revokes one of `user_id`'s tokens; false when they have no such live token.
pub async fn revoke(pool: &PgPool, actor: &Actor, user_id: i64, id: i64) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let name: Option<String> = sqlx::query_scalar(
        "UPDATE api_tokens SET revoked_at = now()
          WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING name",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(name) = name else {
        return Ok(false);
    };
    let entry = Entry {
        action: "delete",
        entity: "user",
        entity_id: Some(user_id),
        item_id: None,
        summary: format!("Revoked API token “{name}”"),
        before: Some(&json!({ "api_token": id, "revoked": false })),
        after: Some(&json!({ "api_token": id, "revoked": true })),
    };
    audit::record(&mut *tx, actor, entry).await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_recognised_by_their_shape() {
        let token = format!("{TOKEN_PREFIX}{}", random_token().unwrap());
        assert!(looks_like_token(&token));
        assert!(!looks_like_token(&token[TOKEN_PREFIX.len()..]));
        assert!(!looks_like_token("pt_short"));
        assert!(!looks_like_token(&format!("{token}x")));
    }
}
