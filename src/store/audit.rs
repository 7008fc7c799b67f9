//! The audit trail: one row per change, written in the same transaction as the change.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgExecutor, PgPool};

/// Who did it: a signed-in user, or (for failed sign-ins) only the email typed.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<i64>,
    pub email: String,
}

/// One change to record.
pub struct Entry<'a> {
    pub action: &'static str,
    pub entity: &'static str,
    pub entity_id: Option<i64>,
    pub item_id: Option<i64>,
    pub summary: String,
    pub before: Option<&'a (dyn erased::Json + Sync)>,
    pub after: Option<&'a (dyn erased::Json + Sync)>,
}

pub mod erased {
    /// Anything serialisable to JSON, as a trait object.
    pub trait Json {
        fn to_json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}

pub async fn record(db: impl PgExecutor<'_>, actor: &Actor, entry: Entry<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (actor_id, actor_email, action, entity, entity_id, item_id, summary, before, after)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(actor.id)
    .bind(&actor.email)
    .bind(entry.action)
    .bind(entry.entity)
    .bind(entry.entity_id)
    .bind(entry.item_id)
    .bind(entry.summary)
    .bind(entry.before.map(|b| b.to_json()))
    .bind(entry.after.map(|a| a.to_json()))
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct Row {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_email: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    pub item_id: Option<i64>,
    pub summary: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Filters of the global audit page; all optional.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub actor_email: Option<String>,
    pub entity: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

pub const PAGE_SIZE: i64 = 50;

pub async fn list(pool: &PgPool, filter: &Filter, page: i64) -> sqlx::Result<(Vec<Row>, i64)> {
    const WHERE: &str = "WHERE ($1::text IS NULL OR actor_email = $1)
                           AND ($2::text IS NULL OR entity = $2)
                           AND ($3::date IS NULL OR at >= $3::date)
                           AND ($4::date IS NULL OR at < $4::date + 1)";
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM audit_log {WHERE}"
    )))
    .bind(&filter.actor_email)
    .bind(&filter.entity)
    .bind(filter.from)
    .bind(filter.to)
    .fetch_one(pool)
    .await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, at, actor_email, action, entity, entity_id, item_id, summary, before, after
           FROM audit_log {WHERE} ORDER BY at DESC, id DESC LIMIT $5 OFFSET $6"
    )))
    .bind(&filter.actor_email)
    .bind(&filter.entity)
    .bind(filter.from)
    .bind(filter.to)
    .bind(PAGE_SIZE)
    .bind((page.max(1) - 1) * PAGE_SIZE)
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

/// Changes that belong to one portfolio item (the item itself, its budgets, ...).
pub async fn for_item(pool: &PgPool, item_id: i64) -> sqlx::Result<Vec<Row>> {
    sqlx::query_as(
        "SELECT id, at, actor_email, action, entity, entity_id, item_id, summary, before, after
           FROM audit_log WHERE item_id = $1 ORDER BY at DESC, id DESC LIMIT 200",
    )
    .bind(item_id)
    .fetch_all(pool)
    .await
}

/// The latest changes to the portfolio (sign-ins left out), for the overview.
pub async fn recent_changes(pool: &PgPool, limit: i64) -> sqlx::Result<Vec<Row>> {
    sqlx::query_as(
        "SELECT id, at, actor_email, action, entity, entity_id, item_id, summary, before, after
           FROM audit_log WHERE entity NOT IN ('session', 'user') ORDER BY at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Distinct actors and entities, for the filter menus.
pub async fn facets(pool: &PgPool) -> sqlx::Result<(Vec<String>, Vec<String>)> {
    let actors = sqlx::query_scalar(
        "SELECT DISTINCT actor_email FROM audit_log WHERE actor_email IS NOT NULL ORDER BY 1",
    )
    .fetch_all(pool)
    .await?;
    let entities = sqlx::query_scalar("SELECT DISTINCT entity FROM audit_log ORDER BY 1")
        .fetch_all(pool)
        .await?;
    Ok((actors, entities))
}

/// A readable diff: the fields whose values differ, as (field, before, after).
pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Vec<(String, String, String)> {
    let empty = serde_json::Map::new();
    let b = before.and_then(Value::as_object).unwrap_or(&empty);
    let a = after.and_then(Value::as_object).unwrap_or(&empty);
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| !matches!(k.as_str(), "version" | "updated_at"))
        .filter_map(|k| {
            // a missing field and a null one both mean "no value"
            let (old, new) = (
                b.get(k).filter(|v| !v.is_null()),
                a.get(k).filter(|v| !v.is_null()),
            );
            (old != new).then(|| (k.clone(), show(old), show(new)))
        })
        .collect()
}

fn show(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "—".to_string(),
        Some(Value::String(s)) if s.is_empty() => "(empty)".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_lists_changed_fields_only() {
        let before = json!({"title": "A", "amount": "10.00", "version": 1});
        let after = json!({"title": "A", "amount": "12.00", "version": 2, "note": "x"});
        let d = diff(Some(&before), Some(&after));
        assert_eq!(
            d,
            vec![
                ("amount".into(), "10.00".into(), "12.00".into()),
                ("note".into(), "—".into(), "x".into())
            ]
        );
        assert_eq!(
            diff(None, Some(&json!({"a": ""}))),
            vec![("a".into(), "—".into(), "(empty)".into())]
        );
    }
}
