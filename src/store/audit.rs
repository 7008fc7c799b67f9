//! The audit trail: one row per change, written in the same transaction as the change.

use crate::domain::vocab::label_of_field;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgExecutor, PgPool, Postgres, QueryBuilder};

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
    sqlx::query!(
        "INSERT INTO audit_log (actor_id, actor_email, action, entity, entity_id, item_id, summary, before, after)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        actor.id,
        actor.email,
        entry.action,
        entry.entity,
        entry.entity_id,
        entry.item_id,
        entry.summary,
        entry.before.map(|b| b.to_json()),
        entry.after.map(|a| a.to_json()),
    )
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
    let total: i64 = filtered("SELECT count(*) FROM audit_log", filter)
        .build_query_scalar()
        .fetch_one(pool)
        .await?;
    let mut rows = filtered(
        "SELECT id, at, actor_email, action, entity, entity_id, item_id, summary, before, after
           FROM audit_log",
        filter,
    );
    rows.push(" ORDER BY at DESC, id DESC LIMIT ")
        .push_bind(PAGE_SIZE)
        .push(" OFFSET ")
        .push_bind((page.max(1) - 1) * PAGE_SIZE);
    let rows = rows.build_query_as().fetch_all(pool).await?;
    Ok((rows, total))
}

/// `select` with a WHERE clause of the filters that are set, each value bound: the
/// planner sees only the conditions that apply, so the actor and entity indexes serve.
fn filtered(select: &'static str, filter: &Filter) -> QueryBuilder<Postgres> {
    let mut query = QueryBuilder::new(select);
    let mut clause = " WHERE ";
    let mut and = |query: &mut QueryBuilder<Postgres>| {
        query.push(clause);
        clause = " AND ";
    };
    if let Some(actor) = &filter.actor_email {
        and(&mut query);
        query.push("actor_email = ").push_bind(actor);
    }
    if let Some(entity) = &filter.entity {
        and(&mut query);
        query.push("entity = ").push_bind(entity);
    }
    if let Some(from) = filter.from {
        and(&mut query);
        query.push("at >= ").push_bind(from).push("::date");
    }
    if let Some(to) = filter.to {
        and(&mut query);
        query.push("at < ").push_bind(to).push("::date + 1");
    }
    query
}

/// Changes that belong to one portfolio item (the item itself, its budgets, ...).
pub async fn for_item(pool: &PgPool, item_id: i64) -> sqlx::Result<Vec<Row>> {
    sqlx::query_as!(
        Row,
        "SELECT id, at, actor_email, action, entity, entity_id, item_id, summary, before, after
           FROM audit_log WHERE item_id = $1 ORDER BY at DESC, id DESC LIMIT 200",
        item_id,
    )
    .fetch_all(pool)
    .await
}

/// The latest changes to the portfolio (sign-ins left out), for the overview.
pub async fn recent_changes(db: impl PgExecutor<'_>, limit: i64) -> sqlx::Result<Vec<Row>> {
    sqlx::query_as!(
        Row,
        "SELECT id, at, actor_email, action, entity, entity_id, item_id, summary, before, after
           FROM audit_log WHERE entity NOT IN ('session', 'user') ORDER BY at DESC, id DESC LIMIT $1",
        limit,
    )
    .fetch_all(db)
    .await
}

/// Distinct actors and entities, for the filter menus.
pub async fn facets(pool: &PgPool) -> sqlx::Result<(Vec<String>, Vec<String>)> {
    let actors = sqlx::query_scalar!(
        r#"SELECT DISTINCT actor_email AS "actor_email!" FROM audit_log
            WHERE actor_email IS NOT NULL ORDER BY 1"#
    )
    .fetch_all(pool)
    .await?;
    let entities = sqlx::query_scalar!("SELECT DISTINCT entity FROM audit_log ORDER BY 1")
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
            (old != new).then(|| (k.clone(), show(k, old), show(k, new)))
        })
        .collect()
}

/// A value as people read it: a vocabulary's label rather than its stored spelling.
fn show(field: &str, value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "—".to_string(),
        Some(Value::String(s)) if s.is_empty() => "(empty)".to_string(),
        Some(Value::String(s)) => {
            label_of_field(field, s).map_or_else(|| s.clone(), str::to_string)
        }
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

    #[test]
    fn diff_shows_labels_not_stored_spellings() {
        let before = json!({"kind": "un_entity", "status": "in_development", "name": "un_entity"});
        let after = json!({"kind": "regional_body", "status": "seeking_funding", "name": "x"});
        assert_eq!(
            diff(Some(&before), Some(&after)),
            vec![
                ("kind".into(), "UN entity".into(), "Regional body".into()),
                // a free-text field keeps what was typed, even a vocabulary's spelling
                ("name".into(), "un_entity".into(), "x".into()),
                (
                    "status".into(),
                    "In development".into(),
                    "Seeking funding".into()
                ),
            ]
        );
    }
}
