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
    /// The API token the change was made with (`api_tokens.id`), if any: the row is
    /// still the person's, and names the token too.
    pub token_id: Option<i64>,
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
        "INSERT INTO audit_log (actor_id, actor_email, action, entity, entity_id, item_id, summary, before, after, api_token_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        actor.id,
        actor.email,
        entry.action,
        entry.entity,
        entry.entity_id,
        entry.item_id,
        entry.summary,
        entry.before.map(|b| b.to_json()),
        entry.after.map(|a| a.to_json()),
        actor.token_id,
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

/// One change to the portfolio as the activity page and the overview show it: the audit
/// row with what the database still knows of its record (the item's title and address,
/// an organisation's or result area's name), so that it is named by title, not by id.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Activity {
    #[sqlx(flatten)]
    pub change: Row,
    pub item_slug: Option<String>,
    pub item_title: Option<String>,
    pub item_kind: Option<String>,
    pub item_archived: bool,
    pub org_slug: Option<String>,
    pub org_name: Option<String>,
    pub org_archived: bool,
    pub area_code: Option<String>,
    pub area_archived: bool,
}

/// Filters of the activity page; all optional.
#[derive(Debug, Default, Clone)]
pub struct ActivityFilter {
    pub item_id: Option<i64>,
    /// An account: the person filter offers only accounts (see [`accounts`]).
    pub actor_id: Option<i64>,
    pub entity: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// Changes to the portfolio (sign-ins and accounts left out), newest first: `limit` of
/// them after skipping `offset`. One statement whatever the filters. The condition on
/// `entity` is written as in the partial indexes of migration 0009 (not bound), so the
/// planner can use them.
pub async fn activity(
    db: impl PgExecutor<'_>,
    filter: &ActivityFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Activity>> {
    let mut query = QueryBuilder::<Postgres>::new(
        "SELECT a.id, a.at, a.actor_email, a.action, a.entity, a.entity_id, a.item_id,
                a.summary, a.before, a.after,
                i.slug AS item_slug, i.title AS item_title, i.kind AS item_kind,
                i.archived_at IS NOT NULL AS item_archived,
                o.slug AS org_slug, o.name AS org_name, o.archived_at IS NOT NULL AS org_archived,
                r.code AS area_code, r.archived_at IS NOT NULL AS area_archived
           FROM audit_log a
           LEFT JOIN items i ON i.id = a.item_id
           LEFT JOIN organisations o ON a.entity = 'organisation' AND o.id = a.entity_id
           LEFT JOIN result_areas r ON a.entity = 'result_area' AND r.id = a.entity_id
          WHERE a.entity NOT IN ('session', 'user')",
    );
    if let Some(item) = filter.item_id {
        query.push(" AND a.item_id = ").push_bind(item);
    }
    if let Some(actor) = filter.actor_id {
        query.push(" AND a.actor_id = ").push_bind(actor);
    }
    if let Some(entity) = &filter.entity {
        query.push(" AND a.entity = ").push_bind(entity.clone());
    }
    if let Some(from) = filter.from {
        query.push(" AND a.at >= ").push_bind(from).push("::date");
    }
    if let Some(to) = filter.to {
        query.push(" AND a.at < ").push_bind(to).push("::date + 1");
    }
    query
        .push(" ORDER BY a.at DESC, a.id DESC LIMIT ")
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(offset);
    query.build_query_as().fetch_all(db).await
}

/// The item an activity filter names: by its slug, or else by its exact title (case
/// aside). Archived items too: their changes stay in the trail.
pub async fn find_item(pool: &PgPool, name: &str) -> sqlx::Result<Option<(i64, String, String)>> {
    let found = sqlx::query!(
        "SELECT id, slug, title FROM items
          WHERE slug = $1 OR lower(title) = lower($1)
          ORDER BY slug = $1 DESC, id LIMIT 1",
        name
    )
    .fetch_optional(pool)
    .await?;
    Ok(found.map(|r| (r.id, r.slug, r.title)))
}

/// The people the activity page can be filtered by: accounts (only accounts change
/// anything), not the addresses typed at failed sign-ins, which anyone can multiply.
/// (id, "Name <email>" or the email).
pub async fn accounts(pool: &PgPool) -> sqlx::Result<Vec<(i64, String)>> {
    let rows = sqlx::query!("SELECT id, email, display_name FROM users ORDER BY email")
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let label = if r.display_name.trim().is_empty() {
                r.email
            } else {
                format!("{} <{}>", r.display_name.trim(), r.email)
            };
            (r.id, label)
        })
        .collect())
}

/// The record types in the trail, for the filter menu.
pub async fn entities(pool: &PgPool) -> sqlx::Result<Vec<String>> {
    let entities = sqlx::query_scalar!("SELECT DISTINCT entity FROM audit_log ORDER BY 1")
        .fetch_all(pool)
        .await?;
    Ok(entities)
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
