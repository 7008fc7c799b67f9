//! Aggregates the dashboards need beyond the cached portfolio: money by organisation,
//! an organisation's contributions, and search.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgPool;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Organisation {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub acronym: Option<String>,
    pub kind: String,
    pub source_paras: Option<String>,
}

pub async fn organisation(pool: &PgPool, slug: &str) -> sqlx::Result<Option<Organisation>> {
    sqlx::query_as(
        "SELECT id, slug, name, acronym, kind, source_paras FROM organisations
          WHERE slug = $1 AND archived_at IS NULL",
    )
    .bind(slug)
    .fetch_optional(pool)
    .await
}

/// One contribution of an organisation, with the item it goes to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrgContribution {
    pub item_id: i64,
    pub amount: Decimal,
    pub currency: String,
    pub status: String,
    pub pledged_on: Option<NaiveDate>,
    pub approximate: bool,
    pub self_financing: bool,
    pub source_para: Option<String>,
    pub rate_month: Option<NaiveDate>,
    pub usd_per_unit: Option<Decimal>,
    pub amount_usd: Option<Decimal>,
}

pub async fn contributions_of(pool: &PgPool, org_id: i64) -> sqlx::Result<Vec<OrgContribution>> {
    sqlx::query_as(
        "SELECT item_id, amount, currency::text AS currency, status, pledged_on, approximate, self_financing,
                source_para, rate_month, usd_per_unit, amount_usd
           FROM contributions_usd WHERE org_id = $1 ORDER BY as_of, id",
    )
    .bind(org_id)
    .fetch_all(pool)
    .await
}

/// The items an organisation takes part in, and in what role.
pub async fn roles_of(pool: &PgPool, org_id: i64) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as("SELECT item_id, role FROM item_organisations WHERE org_id = $1 ORDER BY role")
        .bind(org_id)
        .fetch_all(pool)
        .await
}

/// `%`, `_` and `\` match themselves in a search.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Item ids whose title or summary contains the text (case-insensitive).
pub async fn search_items(pool: &PgPool, text: &str) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT id FROM items WHERE archived_at IS NULL AND (title ILIKE $1 OR summary ILIKE $1 OR slug ILIKE $1)
          ORDER BY report_section NULLS LAST, id LIMIT 200",
    )
    .bind(like_pattern(text))
    .fetch_all(pool)
    .await
}

pub async fn search_organisations(
    pool: &PgPool,
    text: &str,
) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT slug, name FROM organisations
          WHERE archived_at IS NULL AND (name ILIKE $1 OR acronym ILIKE $1) ORDER BY name LIMIT 100",
    )
    .bind(like_pattern(text))
    .fetch_all(pool)
    .await
}

pub async fn search_places(pool: &PgPool, text: &str) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as("SELECT name, kind FROM places WHERE name ILIKE $1 ORDER BY name LIMIT 100")
        .bind(like_pattern(text))
        .fetch_all(pool)
        .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn search_text_is_literal() {
        assert_eq!(super::like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}

/// Each item's own stated amounts in their original currencies, e.g. "EUR 18,000,000".
pub async fn original_amounts(
    pool: &PgPool,
    item_ids: &[i64],
) -> sqlx::Result<(Vec<(i64, Decimal, String)>, Vec<(i64, Decimal, String)>)> {
    let budgets = sqlx::query_as(
        "SELECT item_id, amount, currency::text FROM budgets
           JOIN unnest($1::bigint[]) AS wanted(id) ON wanted.id = item_id
          WHERE archived_at IS NULL ORDER BY item_id, as_of, budgets.id",
    )
    .bind(item_ids)
    .fetch_all(pool)
    .await?;
    let contributions = sqlx::query_as(
        "SELECT item_id, amount, currency::text FROM contributions
           JOIN unnest($1::bigint[]) AS wanted(id) ON wanted.id = item_id
          WHERE archived_at IS NULL ORDER BY item_id, as_of, contributions.id",
    )
    .bind(item_ids)
    .fetch_all(pool)
    .await?;
    Ok((budgets, contributions))
}

/// Every value a dashboard filter accepts, to refuse unknown ones with a clear message.
#[derive(Debug, Default)]
pub struct FilterValues {
    pub themes: Vec<(String, Option<String>)>,
    pub result_areas: Vec<(String, Option<String>)>,
    pub organisations: Vec<(String, String)>,
    pub places: Vec<String>,
}

pub async fn filter_values(pool: &PgPool) -> sqlx::Result<FilterValues> {
    Ok(FilterValues {
        themes: sqlx::query_as("SELECT code, title FROM themes ORDER BY code::int")
            .fetch_all(pool)
            .await?,
        result_areas: sqlx::query_as(
            "SELECT code, title FROM result_areas WHERE archived_at IS NULL
              ORDER BY string_to_array(code, '.')::numeric[]",
        )
        .fetch_all(pool)
        .await?,
        organisations: sqlx::query_as(
            "SELECT slug, name FROM organisations WHERE archived_at IS NULL ORDER BY name",
        )
        .fetch_all(pool)
        .await?,
        places: sqlx::query_scalar("SELECT name FROM places ORDER BY name")
            .fetch_all(pool)
            .await?,
    })
}

/// A contribution with its organisation's name, for CSV exports.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContributionLine {
    pub item_id: i64,
    pub org_name: String,
    pub amount: Decimal,
    pub currency: String,
    pub status: String,
    pub pledged_on: Option<NaiveDate>,
    pub approximate: bool,
    pub self_financing: bool,
    pub source_para: Option<String>,
    pub rate_month: Option<NaiveDate>,
    pub amount_usd: Option<Decimal>,
}

pub async fn contributions_to(
    pool: &PgPool,
    item_ids: &[i64],
    org_slug: Option<&str>,
) -> sqlx::Result<Vec<ContributionLine>> {
    sqlx::query_as(
        "SELECT c.item_id, o.name AS org_name, c.amount, c.currency::text AS currency, c.status, c.pledged_on,
                c.approximate, c.self_financing, c.source_para, c.rate_month, c.amount_usd
           FROM contributions_usd c
           JOIN organisations o ON o.id = c.org_id
           JOIN unnest($1::bigint[]) AS wanted(id) ON wanted.id = c.item_id
          WHERE ($2::text IS NULL OR o.slug = $2)
          ORDER BY o.name, c.as_of, c.id",
    )
    .bind(item_ids)
    .bind(org_slug)
    .fetch_all(pool)
    .await
}
