//! The records as the API writes them. Money is a decimal string (`"1500000.00"`) with
//! its currency code beside it, and its USD conversion beside that (null when no rate
//! converts it: unknown, never zero); dates are ISO 8601 (`2008-02-07`), months `2008-02`.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::money::two_places;
use crate::store::money::Contribution;
use crate::store::portfolio::{BudgetRecord, ContributionRecord};
use crate::web::dashboard::Records;

/// An amount in its own currency, exactly as recorded.
pub fn amount(amount: Decimal) -> String {
    amount.normalize().to_string()
}

pub fn month(month: Option<NaiveDate>) -> Option<String> {
    month.map(|m| m.format("%Y-%m").to_string())
}

/// A contribution (pledge) of an organisation to an item.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContributionJson {
    pub id: i64,
    /// The item's slug.
    pub item: String,
    pub organisation_id: i64,
    /// The organisation's slug.
    pub organisation: String,
    pub organisation_name: String,
    /// As recorded, in `currency`: a decimal string.
    #[schema(example = "1500000")]
    pub amount: String,
    /// ISO 4217.
    #[schema(example = "EUR")]
    pub currency: String,
    /// The amount in USD at the month's rate, two places; null when no rate converts it.
    pub amount_usd: Option<String>,
    /// The month of the rate used (`2008-02`); null when not converted.
    pub rate_month: Option<String>,
    /// `pledged`, `committed`, `paid` or `cancelled`: what its events add up to
    /// (`GET /api/v1/contributions/{id}/events`).
    pub status: String,
    /// When it was pledged, if the source says.
    #[schema(format = Date)]
    pub pledged_on: Option<String>,
    /// The date the figure is reported at.
    #[schema(format = Date)]
    pub as_of: String,
    pub approximate: bool,
    pub self_financing: bool,
    pub source_para: Option<String>,
    pub note: Option<String>,
    /// The version to send back with a change (`PUT`); null in lists.
    pub version: Option<i32>,
}

/// One thing that happened to a contribution.
#[derive(Serialize, ToSchema)]
pub struct EventJson {
    pub id: i64,
    pub contribution_id: i64,
    /// `pledged`, `committed`, `paid`, `reduced` or `cancelled`.
    pub kind: String,
    /// In the contribution's currency, a decimal string; null for a cancellation.
    pub amount: Option<String>,
    /// When it happened, as precisely as known, with both ends of that period.
    pub on: crate::web::api::reads::DateSpanJson,
    pub source: Option<String>,
    pub note: Option<String>,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
}

impl EventJson {
    pub fn of(e: &crate::store::contribution_events::EventRow) -> EventJson {
        let f = &e.fields;
        EventJson {
            id: e.id,
            contribution_id: e.contribution_id,
            kind: f.kind.as_str().to_string(),
            amount: f.amount.map(amount),
            on: crate::web::api::reads::DateSpanJson::from(f.on),
            source: f.source.clone(),
            note: f.note.clone(),
            recorded_at: e.recorded_at.to_rfc3339(),
        }
    }
}

impl ContributionJson {
    /// A contribution as the save pipeline loads it (with its version).
    pub fn saved(c: &Contribution, item_slug: &str, org_slug: &str) -> ContributionJson {
        ContributionJson {
            id: c.id,
            item: item_slug.to_string(),
            organisation_id: c.org_id,
            organisation: org_slug.to_string(),
            organisation_name: c.org_name.clone(),
            amount: amount(c.amount),
            currency: c.currency.clone(),
            amount_usd: c.amount_usd.map(two_places),
            rate_month: month(c.rate_month),
            status: c.status.as_str().to_string(),
            pledged_on: c.pledged_on.map(|d| d.to_string()),
            as_of: c.as_of.to_string(),
            approximate: c.approximate,
            self_financing: c.self_financing,
            source_para: c.source_para.clone(),
            note: c.note.clone(),
            version: Some(c.version),
        }
    }

    /// A contribution as the dashboards' snapshot holds it (no version).
    pub fn listed(c: &ContributionRecord, item_slug: &str, records: &Records) -> ContributionJson {
        let org = records.organisation_by_id(c.org_id);
        ContributionJson {
            id: c.id,
            item: item_slug.to_string(),
            organisation_id: c.org_id,
            organisation: org.map(|o| o.slug.clone()).unwrap_or_default(),
            organisation_name: org.map(|o| o.name.clone()).unwrap_or_default(),
            amount: amount(c.amount),
            currency: c.currency.clone(),
            amount_usd: c.amount_usd.map(two_places),
            rate_month: month(c.rate_month),
            status: c.status.as_str().to_string(),
            pledged_on: c.pledged_on.map(|d| d.to_string()),
            as_of: c.as_of.to_string(),
            approximate: c.approximate,
            self_financing: c.self_financing,
            source_para: c.source_para.clone(),
            note: c.note.clone(),
            version: None,
        }
    }
}

/// A stated budget of an item.
#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetJson {
    pub id: i64,
    #[schema(example = "19000000")]
    pub amount: String,
    pub currency: String,
    pub amount_usd: Option<String>,
    pub rate_month: Option<String>,
    pub approximate: bool,
    /// The period it covers as the source states it (`2008-2011`).
    pub period: Option<String>,
    /// That period's first and last period with their precision, when its words name
    /// dates (`2008-2010`: 2008 to 2010); null for words such as "three-year".
    pub period_start: Option<crate::web::api::reads::DateSpanJson>,
    pub period_end: Option<crate::web::api::reads::DateSpanJson>,
    #[schema(format = Date)]
    pub as_of: String,
    pub source_para: Option<String>,
    pub note: Option<String>,
}

impl From<&BudgetRecord> for BudgetJson {
    fn from(b: &BudgetRecord) -> Self {
        let span = b
            .period
            .as_deref()
            .and_then(crate::domain::dates::parse_span);
        BudgetJson {
            id: b.id,
            amount: amount(b.amount),
            currency: b.currency.clone(),
            amount_usd: b.amount_usd.map(two_places),
            rate_month: month(b.rate_month),
            approximate: b.approximate,
            period: b.period.clone(),
            period_start: span.map(|(start, _)| start.into()),
            period_end: span.map(|(_, end)| end.into()),
            as_of: b.as_of.to_string(),
            source_para: b.source_para.clone(),
            note: b.note.clone(),
        }
    }
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paging {
    /// Rows matching the filters, over all pages.
    pub total: usize,
    pub page: usize,
    pub per_page: usize,
    pub pages: usize,
    /// The address of the next page, or null on the last.
    pub next: Option<String>,
    pub prev: Option<String>,
}
