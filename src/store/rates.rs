//! Monthly exchange rates to US dollars. Changing one converts every amount of that
//! currency and month at once: the `*_usd` views read the table, and its trigger bumps
//! the portfolio revision so cached figures reload.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgExecutor, PgPool};

use crate::domain::forms::FieldErrors;
pub use crate::domain::records::rate::RateFields;
use crate::domain::records::rate::month_label;
use crate::store::editing::{Change, Creatable, Editable};

#[derive(Debug, Clone)]
pub struct Rate {
    pub currency: String,
    pub month: NaiveDate,
    pub usd_per_unit: Decimal,
    pub source: String,
    pub version: i32,
}

impl From<&Rate> for RateFields {
    fn from(r: &Rate) -> Self {
        RateFields {
            currency: r.currency.clone(),
            month: r.month,
            usd_per_unit: r.usd_per_unit.normalize(),
            source: r.source.clone(),
        }
    }
}

/// Rates newest month first: of one currency, or of one currency and month, or all.
async fn select(
    db: impl PgExecutor<'_>,
    currency: Option<&str>,
    month: Option<NaiveDate>,
) -> sqlx::Result<Vec<Rate>> {
    sqlx::query_as!(
        Rate,
        r#"SELECT currency::text AS "currency!", month, usd_per_unit, source, version
             FROM exchange_rates
            WHERE ($1::text IS NULL OR currency = $1) AND ($2::date IS NULL OR month = $2)
            ORDER BY month DESC, currency"#,
        currency,
        month
    )
    .fetch_all(db)
    .await
}

/// Rates newest month first; of one currency when given.
pub async fn list(pool: &PgPool, currency: Option<&str>) -> sqlx::Result<Vec<Rate>> {
    select(pool, currency, None).await
}

pub async fn by_key(
    db: impl PgExecutor<'_>,
    currency: &str,
    month: NaiveDate,
) -> sqlx::Result<Option<Rate>> {
    Ok(select(db, Some(currency), Some(month)).await?.pop())
}

/// Currencies a rate can be given for: every ISO code but USD itself.
pub async fn currencies(pool: &PgPool) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"SELECT code::text AS "code!" FROM currencies WHERE code <> 'USD' ORDER BY code"#
    )
    .fetch_all(pool)
    .await
}

/// Whether an amount of `currency` dated `on` converts to USD: the `monthly_rates` view
/// decides (the month's own rate or the latest earlier one).
pub async fn converts(
    db: impl PgExecutor<'_>,
    currency: &str,
    on: NaiveDate,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM monthly_rates
                           WHERE currency::text = $1
                             AND month = date_trunc('month', $2::date)::date) AS "converts!""#,
        currency,
        on
    )
    .fetch_one(db)
    .await
}

/// Currencies that have at least one rate, for the list's filter.
pub async fn currencies_with_rates(pool: &PgPool) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"SELECT DISTINCT currency::text AS "currency!" FROM exchange_rates ORDER BY 1"#
    )
    .fetch_all(pool)
    .await
}

pub async fn insert(db: impl PgExecutor<'_>, f: &RateFields) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO exchange_rates (currency, month, usd_per_unit, source) VALUES ($1, $2, $3, $4)",
        f.currency,
        f.month,
        f.usd_per_unit,
        f.source
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Saves over the rate (`currency`, `month`) if `version` is still current; the
/// currency and month may change too, to correct a rate entered under the wrong ones.
/// False when someone saved in between.
pub async fn update(
    db: impl PgExecutor<'_>,
    currency: &str,
    month: NaiveDate,
    version: i32,
    f: &RateFields,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE exchange_rates SET currency = $4, month = $5, usd_per_unit = $6, source = $7,
                version = version + 1
          WHERE currency = $1 AND month = $2 AND version = $3",
        currency,
        month,
        version,
        f.currency,
        f.month,
        f.usd_per_unit,
        f.source
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Exchange rates as the save pipeline edits them. Rates are never archived or deleted:
/// amounts may have been reported with them; a wrong rate is corrected by editing it.
pub struct Rates;

impl Editable for Rates {
    const ENTITY: &'static str = "exchange_rate";
    /// (currency, first day of the month).
    type Key = (String, NaiveDate);
    type Record = Rate;
    type Owner = ();
    type Fields = RateFields;

    async fn load(
        db: &mut PgConnection,
        (currency, month): &Self::Key,
    ) -> sqlx::Result<Option<Rate>> {
        by_key(db, currency, *month).await
    }

    fn version(record: &Rate) -> i32 {
        record.version
    }

    fn saved_key(_: &Self::Key, fields: &RateFields) -> Self::Key {
        (fields.currency.clone(), fields.month)
    }

    async fn update(
        db: &mut PgConnection,
        (currency, month): &Self::Key,
        version: i32,
        fields: &RateFields,
    ) -> sqlx::Result<bool> {
        update(db, currency, *month, version, fields).await
    }

    async fn refusal(
        _: &PgPool,
        constraint: &str,
        f: &RateFields,
    ) -> sqlx::Result<Option<FieldErrors>> {
        Ok((constraint == "exchange_rates_pkey").then(|| {
            FieldErrors::one(
                "month",
                format!(
                    "there is already a {} rate for {}: edit that one instead",
                    f.currency,
                    month_label(f.month)
                ),
            )
        }))
    }

    fn audit(before: Option<&Rate>, after: &Rate) -> Change {
        let summary = match before {
            None => format!(
                "Added the {} rate for {}: {} USD per unit",
                after.currency,
                month_label(after.month),
                after.usd_per_unit.normalize()
            ),
            Some(b) => format!(
                "Edited the {} rate for {}: {} → {} USD per unit",
                b.currency,
                month_label(b.month),
                b.usd_per_unit.normalize(),
                after.usd_per_unit.normalize()
            ),
        };
        Change::of(
            before.map(RateFields::from),
            RateFields::from(after),
            summary,
        )
    }

    fn audit_ids(_: &Rate) -> (Option<i64>, Option<i64>) {
        (None, None)
    }
}

impl Creatable for Rates {
    async fn insert(db: &mut PgConnection, _: &(), fields: &RateFields) -> sqlx::Result<Self::Key> {
        insert(db, fields).await?;
        Ok((fields.currency.clone(), fields.month))
    }
}
