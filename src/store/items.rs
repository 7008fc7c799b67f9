//! One item and what hangs off it: places, organisations, alignments, budgets and
//! contributions with their USD conversions.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgPool;
use std::collections::HashMap;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Item {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub kind: String,
    pub parent_id: Option<i64>,
    pub report_section: Option<String>,
    pub status: String,
    pub status_note: Option<String>,
    pub summary: String,
    pub description: String,
    pub period: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub source_paras: Option<String>,
    pub published: bool,
    pub internal_notes: String,
    pub version: i32,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlaceLink {
    pub name: String,
    pub kind: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrgLink {
    pub slug: String,
    pub name: String,
    pub acronym: Option<String>,
    pub role: String,
    pub source_para: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Alignment {
    pub item_id: i64,
    pub code: String,
    pub title: Option<String>,
    pub source_para: Option<String>,
    pub note: Option<String>,
}

/// An amount in its original currency beside its USD conversion. `amount_usd` is None
/// when no exchange rate covers it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Budget {
    pub amount: Decimal,
    pub currency: String,
    pub approximate: bool,
    pub period: Option<String>,
    pub as_of: NaiveDate,
    pub source_para: Option<String>,
    pub note: Option<String>,
    pub rate_month: Option<NaiveDate>,
    pub usd_per_unit: Option<Decimal>,
    pub amount_usd: Option<Decimal>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Contribution {
    pub org_slug: String,
    pub org_name: String,
    pub amount: Decimal,
    pub currency: String,
    pub status: String,
    pub pledged_on: Option<NaiveDate>,
    pub as_of: NaiveDate,
    pub approximate: bool,
    pub self_financing: bool,
    pub source_para: Option<String>,
    pub note: Option<String>,
    pub rate_month: Option<NaiveDate>,
    pub usd_per_unit: Option<Decimal>,
    pub amount_usd: Option<Decimal>,
}

pub async fn by_slug(pool: &PgPool, slug: &str) -> sqlx::Result<Option<Item>> {
    sqlx::query_as(
        "SELECT id, slug, title, kind, parent_id, report_section, status, status_note, summary,
                description, period, start_date, end_date, source_paras, published,
                internal_notes, version
           FROM items WHERE slug = $1 AND archived_at IS NULL",
    )
    .bind(slug)
    .fetch_optional(pool)
    .await
}

pub async fn places(pool: &PgPool, item_id: i64) -> sqlx::Result<Vec<PlaceLink>> {
    sqlx::query_as(
        "SELECT p.name, p.kind FROM item_places ip JOIN places p ON p.id = ip.place_id
          WHERE ip.item_id = $1 ORDER BY p.kind, p.name",
    )
    .bind(item_id)
    .fetch_all(pool)
    .await
}

pub async fn organisations(pool: &PgPool, item_id: i64) -> sqlx::Result<Vec<OrgLink>> {
    sqlx::query_as(
        "SELECT o.slug, o.name, o.acronym, io.role, io.source_para
           FROM item_organisations io JOIN organisations o ON o.id = io.org_id
          WHERE io.item_id = $1 ORDER BY io.role, o.name",
    )
    .bind(item_id)
    .fetch_all(pool)
    .await
}

/// Alignments of the given items, in result-area order.
pub async fn alignments(pool: &PgPool, item_ids: &[i64]) -> sqlx::Result<Vec<Alignment>> {
    sqlx::query_as(
        "SELECT a.item_id, ra.code, ra.title, a.source_para, a.note
           FROM alignments a JOIN result_areas ra ON ra.id = a.result_area_id
          WHERE a.item_id = ANY($1) AND ra.archived_at IS NULL
          ORDER BY a.item_id, string_to_array(ra.code, '.')::numeric[]",
    )
    .bind(item_ids)
    .fetch_all(pool)
    .await
}

/// Result-area codes per item, for tables that list many items.
pub async fn result_area_codes(
    pool: &PgPool,
    item_ids: &[i64],
) -> sqlx::Result<HashMap<i64, Vec<String>>> {
    let mut codes: HashMap<i64, Vec<String>> = HashMap::new();
    for a in alignments(pool, item_ids).await? {
        codes.entry(a.item_id).or_default().push(a.code);
    }
    Ok(codes)
}

pub async fn budgets(pool: &PgPool, item_id: i64) -> sqlx::Result<Vec<Budget>> {
    sqlx::query_as(
        "SELECT amount, currency, approximate, period, as_of, source_para, note,
                rate_month, usd_per_unit, amount_usd
           FROM budgets_usd WHERE item_id = $1 ORDER BY as_of, id",
    )
    .bind(item_id)
    .fetch_all(pool)
    .await
}

pub async fn contributions(pool: &PgPool, item_id: i64) -> sqlx::Result<Vec<Contribution>> {
    sqlx::query_as(
        "SELECT o.slug AS org_slug, o.name AS org_name, c.amount, c.currency, c.status,
                c.pledged_on, c.as_of, c.approximate, c.self_financing, c.source_para, c.note,
                c.rate_month, c.usd_per_unit, c.amount_usd
           FROM contributions_usd c JOIN organisations o ON o.id = c.org_id
          WHERE c.item_id = $1 ORDER BY o.name, c.as_of, c.id",
    )
    .bind(item_id)
    .fetch_all(pool)
    .await
}
