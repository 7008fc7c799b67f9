//! An item's money for the admin pages: budgets and contributions, archived ones
//! included. Amounts stay in their original currency; USD comes only from the
//! `budgets_usd` / `contributions_usd` views, which leave archived rows out.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor, PgPool};

use crate::domain::forms::FieldErrors;
pub use crate::domain::records::budget::BudgetFields;
use crate::domain::records::budget::{amount_text, change};
pub use crate::domain::records::contribution::ContributionFields;
use crate::domain::vocab::ContributionStatus;
use crate::store::contribution_events;
use crate::store::editing::{Archivable, Change, Creatable, Editable, keyed_by_id};

/// The item the money belongs to, archived or not: an admin still manages its money.
#[derive(Debug, Clone, Default)]
pub struct ItemRef {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub archived: bool,
}

pub async fn item(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<ItemRef>> {
    sqlx::query_as!(
        ItemRef,
        r#"SELECT id, slug, title, archived_at IS NOT NULL AS "archived!" FROM items WHERE id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

/// Currency codes for the forms' menus: USD first, then alphabetical.
pub async fn currencies(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"SELECT code::text AS "code!" FROM currencies ORDER BY code <> 'USD', code"#
    )
    .fetch_all(db)
    .await
}

#[derive(Debug, Clone)]
pub struct Budget {
    pub id: i64,
    pub item_id: i64,
    pub item_title: String,
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

/// The budgets of an item (`item_id`), archived ones last, or one budget (`id`).
async fn select_budgets(
    db: impl PgExecutor<'_>,
    item_id: Option<i64>,
    id: Option<i64>,
) -> sqlx::Result<Vec<Budget>> {
    sqlx::query_as!(
        Budget,
        r#"SELECT b.id, b.item_id, i.title AS item_title, b.amount, b.currency::text AS "currency!",
                  b.approximate, b.period, b.as_of, b.source_para, b.note, b.seed_key, b.version,
                  b.archived_at IS NOT NULL AS "archived!", u.rate_month, u.amount_usd
             FROM budgets b
             JOIN items i ON i.id = b.item_id
             LEFT JOIN budgets_usd u ON u.id = b.id
            WHERE b.item_id = $1 OR b.id = $2
            ORDER BY b.archived_at IS NOT NULL, b.as_of, b.id"#,
        item_id,
        id
    )
    .fetch_all(db)
    .await
}

pub async fn budgets(pool: &PgPool, item_id: i64) -> sqlx::Result<Vec<Budget>> {
    select_budgets(pool, Some(item_id), None).await
}

pub async fn budget(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Budget>> {
    Ok(select_budgets(db, None, Some(id)).await?.pop())
}

pub async fn insert_budget(
    db: impl PgExecutor<'_>,
    item_id: i64,
    f: &BudgetFields,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO budgets (item_id, amount, currency, approximate, period, as_of, source_para, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        item_id,
        f.amount,
        f.currency,
        f.approximate,
        f.period,
        f.as_of,
        f.source_para,
        f.note
    )
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
    let done = sqlx::query!(
        "UPDATE budgets SET amount = $3, currency = $4, approximate = $5, period = $6, as_of = $7,
                source_para = $8, note = $9, version = version + 1
          WHERE id = $1 AND version = $2",
        id,
        version,
        f.amount,
        f.currency,
        f.approximate,
        f.period,
        f.as_of,
        f.source_para,
        f.note
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone)]
pub struct Contribution {
    pub id: i64,
    pub item_id: i64,
    pub item_title: String,
    pub org_id: i64,
    pub org_name: String,
    pub amount: Decimal,
    pub currency: String,
    pub status: ContributionStatus,
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

impl From<&Contribution> for ContributionFields {
    fn from(c: &Contribution) -> Self {
        ContributionFields {
            org_id: c.org_id,
            amount: c.amount,
            currency: c.currency.clone(),
            status: c.status,
            pledged_on: c.pledged_on,
            as_of: c.as_of,
            approximate: c.approximate,
            self_financing: c.self_financing,
            source_para: c.source_para.clone(),
            note: c.note.clone(),
        }
    }
}

/// The contributions to an item (`item_id`), archived ones last, or one (`id`).
async fn select_contributions(
    db: impl PgExecutor<'_>,
    item_id: Option<i64>,
    id: Option<i64>,
) -> sqlx::Result<Vec<Contribution>> {
    sqlx::query_as!(
        Contribution,
        r#"SELECT c.id, c.item_id, i.title AS item_title, c.org_id, o.name AS org_name, c.amount,
                  c.currency::text AS "currency!", c.status AS "status: ContributionStatus",
                  c.pledged_on, c.as_of, c.approximate, c.self_financing, c.source_para, c.note,
                  c.seed_key, c.version, c.archived_at IS NOT NULL AS "archived!",
                  u.rate_month, u.amount_usd
             FROM contributions c
             JOIN items i ON i.id = c.item_id
             JOIN organisations o ON o.id = c.org_id
             LEFT JOIN contributions_usd u ON u.id = c.id
            WHERE c.item_id = $1 OR c.id = $2
            ORDER BY c.archived_at IS NOT NULL, c.as_of, o.name, c.id"#,
        item_id,
        id
    )
    .fetch_all(db)
    .await
}

pub async fn contributions(pool: &PgPool, item_id: i64) -> sqlx::Result<Vec<Contribution>> {
    select_contributions(pool, Some(item_id), None).await
}

pub async fn contribution(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Contribution>> {
    Ok(select_contributions(db, None, Some(id)).await?.pop())
}

pub async fn insert_contribution(
    db: impl PgExecutor<'_>,
    item_id: i64,
    f: &ContributionFields,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO contributions (item_id, org_id, amount, currency, status, pledged_on, as_of,
                                    approximate, self_financing, source_para, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        item_id,
        f.org_id,
        f.amount,
        f.currency,
        f.status as ContributionStatus,
        f.pledged_on,
        f.as_of,
        f.approximate,
        f.self_financing,
        f.source_para,
        f.note
    )
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
    let done = sqlx::query!(
        "UPDATE contributions SET org_id = $3, amount = $4, currency = $5, status = $6,
                pledged_on = $7, as_of = $8, approximate = $9, self_financing = $10,
                source_para = $11, note = $12, version = version + 1
          WHERE id = $1 AND version = $2",
        id,
        version,
        f.org_id,
        f.amount,
        f.currency,
        f.status as ContributionStatus,
        f.pledged_on,
        f.as_of,
        f.approximate,
        f.self_financing,
        f.source_para,
        f.note
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A form's or the API's save of a contribution: its amount and status become events
/// dated on its as_of date (domain::contribution_events), and the row takes what all
/// its events add up to. `check` has refused what events cannot reach.
async fn update_contribution_by_events(
    db: &mut PgConnection,
    id: i64,
    version: i32,
    f: &ContributionFields,
) -> sqlx::Result<bool> {
    let added = contribution_events::to_reach(db, id, f.amount, f.status, f.as_of)
        .await?
        .unwrap_or_default();
    if !update_contribution(&mut *db, id, version, f).await? {
        return Ok(false);
    }
    contribution_events::record(
        db,
        id,
        &added,
        f.source_para.as_deref(),
        "recorded by saving the contribution's amount and status",
    )
    .await?;
    contribution_events::settle(db, id).await?;
    Ok(true)
}

/// Which table an archive / restore applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Money {
    Budget,
    Contribution,
}

/// Archives (`archived` true) or restores one row. False when nothing changed.
pub async fn set_archived(
    db: impl PgExecutor<'_>,
    table: Money,
    id: i64,
    archived: bool,
) -> sqlx::Result<bool> {
    let done = match table {
        Money::Budget => sqlx::query!(
            "UPDATE budgets SET archived_at = CASE WHEN $2 THEN now() END, version = version + 1
              WHERE id = $1 AND (archived_at IS NOT NULL) <> $2",
            id,
            archived
        )
        .execute(db)
        .await?,
        Money::Contribution => sqlx::query!(
            "UPDATE contributions SET archived_at = CASE WHEN $2 THEN now() END, version = version + 1
              WHERE id = $1 AND (archived_at IS NOT NULL) <> $2",
            id,
            archived
        )
        .execute(db)
        .await?,
    };
    Ok(done.rows_affected() == 1)
}

/// The audit record of a contribution: its fields and the organisation's name, so the
/// trail reads without looking up ids.
#[derive(Serialize)]
struct ContributionRecord<'a> {
    #[serde(flatten)]
    fields: ContributionFields,
    organisation: &'a str,
}

impl Contribution {
    fn audited(&self) -> ContributionRecord<'_> {
        ContributionRecord {
            fields: ContributionFields::from(self),
            organisation: &self.org_name,
        }
    }

    fn amount_text(&self) -> String {
        amount_text(self.amount, &self.currency, self.approximate)
    }
}

impl Budget {
    fn amount_text(&self) -> String {
        amount_text(self.amount, &self.currency, self.approximate)
    }
}

/// A refusal by the database of a budget or contribution: a currency or organisation
/// removed while the form was open.
fn money_refusal(constraint: &str) -> Option<FieldErrors> {
    match constraint {
        "budgets_currency_fkey" | "contributions_currency_fkey" => Some(FieldErrors::one(
            "currency",
            "this currency code is no longer known; choose another",
        )),
        "contributions_org_id_fkey" => Some(FieldErrors::one(
            "organisation",
            "this organisation no longer exists; choose another",
        )),
        _ => None,
    }
}

/// The part of the `Editable` impls of budgets and contributions they write alike, on
/// top of `keyed_by_id!`: the database refuses both for the same reasons
/// ([`money_refusal`]), and the audit trail files both under their item.
macro_rules! money_of_an_item {
    ($load:path, $update:path) => {
        keyed_by_id!($load, $update);

        async fn refusal(
            _: &PgPool,
            constraint: &str,
            _: &Self::Fields,
        ) -> sqlx::Result<Option<FieldErrors>> {
            Ok(money_refusal(constraint))
        }

        fn audit_ids(record: &Self::Record) -> (Option<i64>, Option<i64>) {
            (Some(record.id), Some(record.item_id))
        }
    };
}

/// Budgets as the save pipeline edits them, created under their item.
pub struct Budgets;

impl Editable for Budgets {
    const ENTITY: &'static str = "budget";
    type Record = Budget;
    type Owner = ItemRef;
    type Fields = BudgetFields;

    money_of_an_item!(budget, update_budget);

    fn audit(before: Option<&Budget>, after: &Budget) -> Change {
        let summary = match before {
            None => format!(
                "Added a budget of {} to {}",
                after.amount_text(),
                after.item_title
            ),
            Some(b) => format!(
                "Edited a budget of {}: {}",
                after.item_title,
                change(b.amount_text(), after.amount_text())
            ),
        };
        Change::of(
            before.map(BudgetFields::from),
            BudgetFields::from(after),
            summary,
        )
    }
}

impl Creatable for Budgets {
    async fn insert(db: &mut PgConnection, item: &ItemRef, f: &BudgetFields) -> sqlx::Result<i64> {
        insert_budget(db, item.id, f).await
    }
}

impl Archivable for Budgets {
    async fn set_archived(db: &mut PgConnection, id: &i64, archived: bool) -> sqlx::Result<bool> {
        set_archived(db, Money::Budget, *id, archived).await
    }

    fn describe(b: &Budget) -> String {
        format!("the budget of {}", b.amount_text())
    }
}

/// Contributions as the save pipeline edits them, created under their item.
pub struct Contributions;

impl Editable for Contributions {
    const ENTITY: &'static str = "contribution";
    type Record = Contribution;
    type Owner = ItemRef;
    type Fields = ContributionFields;

    money_of_an_item!(contribution, update_contribution_by_events);

    /// A new contribution opens with one event (migration 0015's trigger), so it cannot
    /// start cancelled; a changed amount or status must be reachable by events.
    async fn check(
        db: &mut PgConnection,
        before: Option<&Contribution>,
        f: &ContributionFields,
    ) -> sqlx::Result<FieldErrors> {
        let Some(before) = before else {
            return Ok(match f.status {
                ContributionStatus::Cancelled => FieldErrors::one(
                    "status",
                    "a new contribution cannot start cancelled: record it, then its cancellation",
                ),
                _ => FieldErrors::default(),
            });
        };
        Ok(
            contribution_events::to_reach(db, before.id, f.amount, f.status, f.as_of)
                .await?
                .err()
                .unwrap_or_default(),
        )
    }

    fn audit(before: Option<&Contribution>, after: &Contribution) -> Change {
        let summary = match before {
            None => format!(
                "Added a contribution of {} from {} to {}",
                after.amount_text(),
                after.org_name,
                after.item_title
            ),
            Some(b) => format!(
                "Edited the contribution of {} to {}: {}",
                after.org_name,
                after.item_title,
                change(b.amount_text(), after.amount_text())
            ),
        };
        Change::of(before.map(Contribution::audited), after.audited(), summary)
    }
}

impl Creatable for Contributions {
    async fn insert(
        db: &mut PgConnection,
        item: &ItemRef,
        f: &ContributionFields,
    ) -> sqlx::Result<i64> {
        insert_contribution(db, item.id, f).await
    }
}

impl Archivable for Contributions {
    async fn set_archived(db: &mut PgConnection, id: &i64, archived: bool) -> sqlx::Result<bool> {
        set_archived(db, Money::Contribution, *id, archived).await
    }

    fn describe(c: &Contribution) -> String {
        format!(
            "the contribution of {} from {}",
            c.amount_text(),
            c.org_name
        )
    }
}
