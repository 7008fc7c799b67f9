//! An item's money for the admin pages: budgets and contributions, archived ones
//! included. Amounts stay in their original currency; USD comes only from the
//! `budgets_usd` / `contributions_usd` views, which leave archived rows out.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use sqlx::{PgExecutor, PgPool};

use crate::domain::money::two_places;

/// The item the money belongs to, archived or not: an admin still manages its money.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemRef {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub archived: bool,
}

pub async fn item(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<ItemRef>> {
    sqlx::query_as(
        "SELECT id, slug, title, archived_at IS NOT NULL AS archived FROM items WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Currency codes for the forms' menus: USD first, then alphabetical.
pub async fn currencies(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT code::text FROM currencies ORDER BY code <> 'USD', code")
        .fetch_all(db)
        .await
}

/// Audit trails show amounts as decimal strings with two places, never as JSON numbers
/// (which readers may parse as floats).
fn decimal_string<S: Serializer>(amount: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&two_places(*amount))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Budget {
    pub id: i64,
    pub item_id: i64,
    pub amount: Decimal,
    pub currency: String,
    pub approximate: bool,
    pub period: Option<String>,
    pub as_of: NaiveDate,
    pub source_para: Option<String>,
    pub note: Option<String>,
    pub seed_key: Option<String>,
    pub version: i32,
    pub archived: bool,
    /// From the view: None when archived or when no exchange rate covers it.
    pub rate_month: Option<NaiveDate>,
    pub amount_usd: Option<Decimal>,
}

/// The fields a person edits; also the audit record's before / after.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetFields {
    #[serde(serialize_with = "decimal_string")]
    pub amount: Decimal,
    pub currency: String,
    pub approximate: bool,
    pub period: Option<String>,
    pub as_of: NaiveDate,
    pub source_para: Option<String>,
    pub note: Option<String>,
}

impl From<&Budget> for BudgetFields {
    fn from(b: &Budget) -> Self {
        BudgetFields {
            amount: b.amount,
            currency: b.currency.clone(),
            approximate: b.approximate,
            period: b.period.clone(),
            as_of: b.as_of,
            source_para: b.source_para.clone(),
            note: b.note.clone(),
        }
    }
}

const BUDGET: &str =
    "SELECT b.id, b.item_id, b.amount, b.currency::text AS currency, b.approximate,
        b.period, b.as_of, b.source_para, b.note, b.seed_key, b.version,
        b.archived_at IS NOT NULL AS archived, u.rate_month, u.amount_usd
   FROM budgets b LEFT JOIN budgets_usd u ON u.id = b.id";

pub async fn budgets(pool: &PgPool, item_id: i64) -> sqlx::Result<Vec<Budget>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{BUDGET} WHERE b.item_id = $1 ORDER BY b.archived_at IS NOT NULL, b.as_of, b.id"
    )))
    .bind(item_id)
    .fetch_all(pool)
    .await
}

pub async fn budget(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Budget>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{BUDGET} WHERE b.id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn insert_budget(
    db: impl PgExecutor<'_>,
    item_id: i64,
    f: &BudgetFields,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO budgets (item_id, amount, currency, approximate, period, as_of, source_para, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(item_id)
    .bind(f.amount)
    .bind(&f.currency)
    .bind(f.approximate)
    .bind(&f.period)
    .bind(f.as_of)
    .bind(&f.source_para)
    .bind(&f.note)
    .fetch_one(db)
    .await
}

/// Saves if `version` is still current; false when someone saved in between. The seed
/// key is left alone, so a re-seed recognises the edited row and adds nothing.
pub async fn update_budget(
    db: impl PgExecutor<'_>,
    id: i64,
    version: i32,
    f: &BudgetFields,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE budgets SET amount = $3, currency = $4, approximate = $5, period = $6, as_of = $7,
                source_para = $8, note = $9, version = version + 1
          WHERE id = $1 AND version = $2",
    )
    .bind(id)
    .bind(version)
    .bind(f.amount)
    .bind(&f.currency)
    .bind(f.approximate)
    .bind(&f.period)
    .bind(f.as_of)
    .bind(&f.source_para)
    .bind(&f.note)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Contribution {
    pub id: i64,
    pub item_id: i64,
    pub org_id: i64,
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
    pub seed_key: Option<String>,
    pub version: i32,
    pub archived: bool,
    pub rate_month: Option<NaiveDate>,
    pub amount_usd: Option<Decimal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContributionFields {
    pub org_id: i64,
    #[serde(serialize_with = "decimal_string")]
    pub amount: Decimal,
    pub currency: String,
    pub status: String,
    pub pledged_on: Option<NaiveDate>,
    pub as_of: NaiveDate,
    pub approximate: bool,
    pub self_financing: bool,
    pub source_para: Option<String>,
    pub note: Option<String>,
}

impl From<&Contribution> for ContributionFields {
    fn from(c: &Contribution) -> Self {
        ContributionFields {
            org_id: c.org_id,
            amount: c.amount,
            currency: c.currency.clone(),
            status: c.status.clone(),
            pledged_on: c.pledged_on,
            as_of: c.as_of,
            approximate: c.approximate,
            self_financing: c.self_financing,
            source_para: c.source_para.clone(),
            note: c.note.clone(),
        }
    }
}

const CONTRIBUTION: &str = "SELECT c.id, c.item_id, c.org_id, o.name AS org_name, c.amount,
        c.currency::text AS currency, c.status, c.pledged_on, c.as_of, c.approximate,
        c.self_financing, c.source_para, c.note, c.seed_key, c.version,
        c.archived_at IS NOT NULL AS archived, u.rate_month, u.amount_usd
   FROM contributions c
   JOIN organisations o ON o.id = c.org_id
   LEFT JOIN contributions_usd u ON u.id = c.id";

pub async fn contributions(pool: &PgPool, item_id: i64) -> sqlx::Result<Vec<Contribution>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{CONTRIBUTION} WHERE c.item_id = $1
          ORDER BY c.archived_at IS NOT NULL, c.as_of, o.name, c.id"
    )))
    .bind(item_id)
    .fetch_all(pool)
    .await
}

pub async fn contribution(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Contribution>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{CONTRIBUTION} WHERE c.id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn insert_contribution(
    db: impl PgExecutor<'_>,
    item_id: i64,
    f: &ContributionFields,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO contributions (item_id, org_id, amount, currency, status, pledged_on, as_of,
                                    approximate, self_financing, source_para, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(item_id)
    .bind(f.org_id)
    .bind(f.amount)
    .bind(&f.currency)
    .bind(&f.status)
    .bind(f.pledged_on)
    .bind(f.as_of)
    .bind(f.approximate)
    .bind(f.self_financing)
    .bind(&f.source_para)
    .bind(&f.note)
    .fetch_one(db)
    .await
}

/// Saves if `version` is still current; false when someone saved in between. Keeps the
/// seed key (see [`update_budget`]).
pub async fn update_contribution(
    db: impl PgExecutor<'_>,
    id: i64,
    version: i32,
    f: &ContributionFields,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE contributions SET org_id = $3, amount = $4, currency = $5, status = $6,
                pledged_on = $7, as_of = $8, approximate = $9, self_financing = $10,
                source_para = $11, note = $12, version = version + 1
          WHERE id = $1 AND version = $2",
    )
    .bind(id)
    .bind(version)
    .bind(f.org_id)
    .bind(f.amount)
    .bind(&f.currency)
    .bind(&f.status)
    .bind(f.pledged_on)
    .bind(f.as_of)
    .bind(f.approximate)
    .bind(f.self_financing)
    .bind(&f.source_para)
    .bind(&f.note)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Which table an archive / restore applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Money {
    Budget,
    Contribution,
}

impl Money {
    /// The audit trail's entity name.
    pub fn entity(self) -> &'static str {
        match self {
            Money::Budget => "budget",
            Money::Contribution => "contribution",
        }
    }
}

/// Archives (`archived` true) or restores one row. False when nothing changed.
pub async fn set_archived(
    db: impl PgExecutor<'_>,
    table: Money,
    id: i64,
    archived: bool,
) -> sqlx::Result<bool> {
    let sql = match table {
        Money::Budget => {
            "UPDATE budgets SET archived_at = CASE WHEN $2 THEN now() END, version = version + 1
              WHERE id = $1 AND (archived_at IS NOT NULL) <> $2"
        }
        Money::Contribution => {
            "UPDATE contributions SET archived_at = CASE WHEN $2 THEN now() END, version = version + 1
              WHERE id = $1 AND (archived_at IS NOT NULL) <> $2"
        }
    };
    let done = sqlx::query(sql).bind(id).bind(archived).execute(db).await?;
    Ok(done.rows_affected() == 1)
}
