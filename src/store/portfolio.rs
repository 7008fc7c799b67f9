//! Loads everything the dashboards show, as one consistent database state: the item tree
//! with each item's own figures in USD, its facets, and the records behind the item,
//! organisation and place pages. One `REPEATABLE READ READ ONLY` transaction reads the
//! revision too, so a loaded copy is exactly the portfolio at that revision.

use crate::domain::contribution_events::{Event, EventKind, Standing};
use crate::domain::dates::{PartialDate, from_columns};
use crate::domain::funding::{Counted, Original, OwnFigures};
use crate::domain::money::{Currency, to_usd};
use crate::domain::portfolio::{Donor, Gift, ItemSummary};
use crate::domain::vocab::{ContributionStatus, ItemKind, ItemStatus, OrgKind, OrgRole, PlaceKind};
use crate::store::audit;
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use sqlx::{AssertSqlSafe, PgPool, Postgres, Transaction};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// One item's texts, as its page shows them.
#[derive(Debug, Clone)]
pub struct ItemRecord {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub slug: String,
    pub title: String,
    pub kind: ItemKind,
    pub status: ItemStatus,
    pub status_note: Option<String>,
    pub report_section: Option<String>,
    pub summary: String,
    pub description: String,
    pub period: Option<String>,
    /// The first day of the start's period; [`ItemRecord::start`] with its precision.
    pub start_date: Option<NaiveDate>,
    pub start_precision: String,
    pub end_date: Option<NaiveDate>,
    pub end_precision: String,
    pub source_paras: Option<String>,
    pub published: bool,
    pub internal_notes: String,
}

impl ItemRecord {
    pub fn start(&self) -> Option<PartialDate> {
        from_columns(self.start_date, Some(&self.start_precision))
    }

    pub fn end(&self) -> Option<PartialDate> {
        from_columns(self.end_date, Some(&self.end_precision))
    }
}

/// A stated budget beside its USD conversion (`amount_usd` is None without a rate).
#[derive(Debug, Clone)]
pub struct BudgetRecord {
    pub id: i64,
    pub item_id: i64,
    pub amount: Decimal,
    pub currency: String,
    pub approximate: bool,
    /// The source gives the amount as a minimum ("over 18 million euros").
    pub lower_bound: bool,
    pub period: Option<String>,
    pub as_of: NaiveDate,
    pub source_para: Option<String>,
    pub note: Option<String>,
    /// Filled in by [`MonthlyRates::convert`] after loading.
    pub rate_month: Option<NaiveDate>,
    pub usd_per_unit: Option<Decimal>,
    pub amount_usd: Option<Decimal>,
}

/// A contribution beside its USD conversion.
#[derive(Debug, Clone)]
pub struct ContributionRecord {
    pub id: i64,
    pub item_id: i64,
    pub org_id: i64,
    pub amount: Decimal,
    pub currency: String,
    pub status: ContributionStatus,
    pub pledged_on: Option<NaiveDate>,
    pub as_of: NaiveDate,
    pub approximate: bool,
    /// The source gives the amount as a minimum ("over 18 million euros").
    pub lower_bound: bool,
    pub self_financing: bool,
    pub source_para: Option<String>,
    pub note: Option<String>,
    /// What happened to it, in the order it happened (by the day each is known by).
    pub events: Vec<Event>,
    /// The events' changes to the figures, each in USD at its own month's rate: what
    /// the funding figures add up. Filled in after loading.
    pub parts: Vec<Part>,
    /// Filled in by [`MonthlyRates::convert`] after loading.
    pub rate_month: Option<NaiveDate>,
    pub usd_per_unit: Option<Decimal>,
    /// The pledge in USD (the sum of its events' changes), None when one of them has
    /// no rate.
    pub amount_usd: Option<Decimal>,
}

/// One event's change to one figure: known by that day, in the contribution's currency
/// and (None without a rate) in USD at the rate of that day's month.
#[derive(Debug, Clone, Copy)]
pub struct Part {
    pub known_by: NaiveDate,
    pub counted: Counted,
    pub amount: Decimal,
    pub usd: Option<Decimal>,
}

impl ContributionRecord {
    /// Adds its money, event by event, to `figures`.
    pub fn add_to(&self, figures: &mut OwnFigures) {
        for p in &self.parts {
            figures.add_contribution(p.usd, p.counted, self.original_of(p), self.lower_bound);
        }
    }

    /// A part as stated, kept when no rate converts it.
    pub fn original_of(&self, p: &Part) -> Original {
        original(&self.currency, p.known_by, p.amount)
    }

    /// Its parts from its events, converted with `rates`; its pledge in USD with them.
    fn convert(&mut self, rates: &MonthlyRates) {
        let mut standing = Standing::default();
        let mut parts = Vec::with_capacity(self.events.len() * 2);
        for e in &self.events {
            let known_by = e.known_by();
            for (counted, amount) in standing.apply(e).parts() {
                if amount.is_zero() {
                    continue;
                }
                let (_, _, usd) = rates.convert(amount, &self.currency, known_by);
                parts.push(Part {
                    known_by,
                    counted,
                    amount,
                    usd,
                });
            }
        }
        self.amount_usd = parts.iter().map(|p| p.usd).sum();
        (self.rate_month, self.usd_per_unit, _) =
            rates.convert(self.amount, &self.currency, self.as_of);
        self.parts = parts;
    }

    /// Committed or paid: the one place the rule is applied to loaded money.
    pub fn is_firm(&self) -> bool {
        self.status.is_firm()
    }

    pub fn is_paid(&self) -> bool {
        self.status == ContributionStatus::Paid
    }
}

#[derive(Debug, Clone)]
pub struct OrganisationRecord {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub acronym: Option<String>,
    pub kind: OrgKind,
    pub source_paras: Option<String>,
    /// Archived organisations keep their money in the figures but have no page.
    pub archived: bool,
}

impl OrganisationRecord {
    /// "Name (ACRONYM)", unless the name already holds the acronym.
    pub fn display_name(&self) -> String {
        match &self.acronym {
            Some(a) if !self.name.contains(a.as_str()) => format!("{} ({a})", self.name),
            _ => self.name.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PlaceRecord {
    pub id: i64,
    pub name: String,
    pub kind: PlaceKind,
    /// ISO 3166-1 alpha-2, for a country that has one.
    pub iso_code: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ThemeRecord {
    pub code: String,
    pub title: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ResultAreaRecord {
    pub id: i64,
    pub code: String,
    pub theme_code: String,
    pub title: Option<String>,
    pub source_para: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AlignmentRecord {
    pub item_id: i64,
    pub result_area_id: i64,
    pub source_para: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RoleRecord {
    pub item_id: i64,
    pub org_id: i64,
    pub role: OrgRole,
    pub source_para: Option<String>,
}

/// Everything one revision of the dashboards is computed from.
#[derive(Debug, Default, Clone)]
pub struct PortfolioData {
    pub revision: i64,
    /// Not archived, in report order: by section, then as seeded or created.
    pub items: Vec<ItemRecord>,
    pub budgets: Vec<BudgetRecord>,
    /// By date, then as entered.
    pub contributions: Vec<ContributionRecord>,
    /// Archived ones too (their money still counts), by name.
    pub organisations: Vec<OrganisationRecord>,
    /// By name.
    pub places: Vec<PlaceRecord>,
    pub item_places: Vec<(i64, i64)>,
    /// By code.
    pub themes: Vec<ThemeRecord>,
    /// Not archived, in strategy order (1.1, 1.2, ..., 3.10).
    pub result_areas: Vec<ResultAreaRecord>,
    pub alignments: Vec<AlignmentRecord>,
    pub roles: Vec<RoleRecord>,
    /// The latest changes (sign-ins and accounts left out), newest first.
    pub recent_changes: Vec<audit::Activity>,
    /// Milestones and targets, with each item's looked up once.
    pub delivery: crate::domain::delivery::Delivery,
    /// Which rate converts which month's amounts.
    rates: MonthlyRates,
}

/// How many recent changes a snapshot keeps for the overview.
pub const RECENT_CHANGES: i64 = 8;

/// The portfolio's current revision: one primary-key read.
pub async fn revision(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar!("SELECT revision FROM portfolio_revision")
        .fetch_one(pool)
        .await
}

/// Reads one consistent copy of everything the dashboards show; a fixed number of
/// queries whatever the portfolio's size.
pub async fn load(pool: &PgPool) -> sqlx::Result<PortfolioData> {
    let mut tx = begin_read_only(pool).await?;
    // The contributions, the largest table, come over a second connection at the same
    // time, reading the same snapshot; without a spare connection, after the rest.
    let (contributions, mut data) = match second_reader(pool, &mut tx).await? {
        Some(mut side) => {
            let (contributions, data) =
                tokio::try_join!(read_contributions(&mut side), read_the_rest(&mut tx))?;
            side.commit().await?;
            (contributions, data)
        }
        None => {
            let data = read_the_rest(&mut tx).await?;
            (read_contributions(&mut tx).await?, data)
        }
    };
    tx.commit().await?;
    // Converted here, not through the `*_usd` views: joining every amount to its month's
    // rate costs PostgreSQL more than the rest of the load together (date_trunc per row).
    // Which rate applies stays the `monthly_rates` view's rule.
    data.contributions = contributions;
    for c in &mut data.contributions {
        c.convert(&data.rates);
    }
    for b in &mut data.budgets {
        (b.rate_month, b.usd_per_unit, b.amount_usd) =
            data.rates.convert(b.amount, &b.currency, b.as_of);
    }
    Ok(data)
}

async fn begin_read_only(pool: &PgPool) -> sqlx::Result<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// How long the load waits for a second connection before reading everything over one.
const SPARE_WAIT: Duration = Duration::from_millis(50);

/// A second read-only transaction that sees exactly what `tx` sees, when the pool has a
/// connection to spare within [`SPARE_WAIT`].
async fn second_reader(
    pool: &PgPool,
    tx: &mut Transaction<'static, Postgres>,
) -> sqlx::Result<Option<Transaction<'static, Postgres>>> {
    let Ok(Ok(mut side)) = tokio::time::timeout(SPARE_WAIT, begin_read_only(pool)).await else {
        return Ok(None);
    };
    let snapshot = sqlx::query_scalar!(r#"SELECT pg_export_snapshot() AS "snapshot!""#)
        .fetch_one(&mut **tx)
        .await?;
    // An identifier such as 00000003-0000001B-1, spliced into SET, which takes no
    // parameters: the one statement here the query macros cannot check (its text is not
    // known until run time), so it may hold nothing but hex digits and dashes.
    if !snapshot.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Ok(None);
    }
    sqlx::query(AssertSqlSafe(format!(
        "SET TRANSACTION SNAPSHOT '{snapshot}'"
    )))
    .execute(&mut *side)
    .await?;
    Ok(Some(side))
}

async fn read_contributions(
    tx: &mut Transaction<'static, Postgres>,
) -> sqlx::Result<Vec<ContributionRecord>> {
    // The macro decodes each column by its position, unchecked (the types were checked at
    // compile time): the load decodes tens of thousands of these, and looking every
    // column up by name doubled its time.
    let mut contributions: Vec<ContributionRecord> = sqlx::query!(
        r#"SELECT id, item_id, org_id, amount, currency::text AS "currency!",
                  status AS "status: ContributionStatus", pledged_on, as_of, approximate,
                  self_financing, source_para, note, lower_bound
             FROM contributions WHERE archived_at IS NULL"#
    )
    .map(|c| ContributionRecord {
        id: c.id,
        item_id: c.item_id,
        org_id: c.org_id,
        amount: c.amount,
        currency: c.currency,
        status: c.status,
        pledged_on: c.pledged_on,
        as_of: c.as_of,
        approximate: c.approximate,
        lower_bound: c.lower_bound,
        self_financing: c.self_financing,
        source_para: c.source_para,
        note: c.note,
        events: Vec::new(),
        parts: Vec::new(),
        rate_month: None,
        usd_per_unit: None,
        amount_usd: None,
    })
    .fetch_all(&mut **tx)
    .await?;
    // Sorted here rather than in SQL: ordering wide rows costs PostgreSQL more than Rust.
    contributions.sort_unstable_by_key(|c| (c.as_of, c.id));
    attach_events(&mut contributions, read_events(tx).await?);
    Ok(contributions)
}

/// Every contribution's events as (contribution id, event), in the order they happened.
async fn read_events(tx: &mut Transaction<'static, Postgres>) -> sqlx::Result<Vec<(i64, Event)>> {
    let rows = sqlx::query!(
        r#"SELECT id, contribution_id, kind AS "kind: EventKind", amount, on_date, on_precision
             FROM contribution_events"#
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut events: Vec<(i64, NaiveDate, i64, Event)> = rows
        .into_iter()
        .filter_map(|r| {
            // the database checks the pair; a row it let through always reads
            let on = PartialDate::from_stored(r.on_date, &r.on_precision)?;
            let event = Event {
                kind: r.kind,
                amount: r.amount,
                on,
            };
            Some((r.contribution_id, event.known_by(), r.id, event))
        })
        .collect();
    events.sort_unstable_by_key(|&(contribution, known_by, id, _)| (contribution, known_by, id));
    Ok(events.into_iter().map(|(c, _, _, e)| (c, e)).collect())
}

/// Gives each contribution its events (those of archived contributions are left).
fn attach_events(contributions: &mut [ContributionRecord], events: Vec<(i64, Event)>) {
    let at: HashMap<i64, usize> = contributions
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id, i))
        .collect();
    for (contribution, event) in events {
        if let Some(&i) = at.get(&contribution) {
            contributions[i].events.push(event);
        }
    }
}

/// Everything but the contributions.
async fn read_the_rest(tx: &mut Transaction<'static, Postgres>) -> sqlx::Result<PortfolioData> {
    let tx = &mut **tx;
    let revision = sqlx::query_scalar!("SELECT revision FROM portfolio_revision")
        .fetch_one(&mut *tx)
        .await?;
    let items = sqlx::query_as!(
        ItemRecord,
        r#"SELECT id, parent_id, slug, title, kind AS "kind: ItemKind",
                  status AS "status: ItemStatus", status_note, report_section, summary,
                  description, period, start_date, start_precision, end_date, end_precision,
                  source_paras, published, internal_notes
             FROM items WHERE archived_at IS NULL ORDER BY report_section NULLS LAST, id"#
    )
    .fetch_all(&mut *tx)
    .await?;
    let rates = MonthlyRates::new(
        sqlx::query!(
            r#"SELECT currency::text AS "currency!", month AS "month!",
                      rate_month AS "rate_month!", usd_per_unit AS "usd_per_unit!"
                 FROM monthly_rates"#
        )
        .map(|r| (r.currency, r.month, r.rate_month, r.usd_per_unit))
        .fetch_all(&mut *tx)
        .await?,
    );
    let mut budgets: Vec<BudgetRecord> = sqlx::query!(
        r#"SELECT id, item_id, amount, currency::text AS "currency!", approximate, period,
                  as_of, source_para, note, lower_bound
             FROM budgets WHERE archived_at IS NULL"#
    )
    .map(|b| BudgetRecord {
        id: b.id,
        item_id: b.item_id,
        amount: b.amount,
        currency: b.currency,
        approximate: b.approximate,
        lower_bound: b.lower_bound,
        period: b.period,
        as_of: b.as_of,
        source_para: b.source_para,
        note: b.note,
        rate_month: None,
        usd_per_unit: None,
        amount_usd: None,
    })
    .fetch_all(&mut *tx)
    .await?;
    budgets.sort_unstable_by_key(|b| (b.as_of, b.id));
    let organisations = sqlx::query_as!(
        OrganisationRecord,
        r#"SELECT id, slug, name, acronym, kind AS "kind: OrgKind", source_paras,
                  archived_at IS NOT NULL AS "archived!"
             FROM organisations ORDER BY name, id"#
    )
    .fetch_all(&mut *tx)
    .await?;
    let places = sqlx::query_as!(
        PlaceRecord,
        r#"SELECT id, name, kind AS "kind: PlaceKind", iso_code FROM places ORDER BY name"#
    )
    .fetch_all(&mut *tx)
    .await?;
    let item_places = sqlx::query!("SELECT item_id, place_id FROM item_places")
        .map(|link| (link.item_id, link.place_id))
        .fetch_all(&mut *tx)
        .await?;
    let themes = sqlx::query_as!(
        ThemeRecord,
        "SELECT code, title FROM themes ORDER BY code::int"
    )
    .fetch_all(&mut *tx)
    .await?;
    let result_areas = sqlx::query_as!(
        ResultAreaRecord,
        "SELECT id, code, theme_code, title, source_para FROM result_areas
          WHERE archived_at IS NULL ORDER BY string_to_array(code, '.')::numeric[]"
    )
    .fetch_all(&mut *tx)
    .await?;
    let alignments = sqlx::query_as!(
        AlignmentRecord,
        "SELECT item_id, result_area_id, source_para, note FROM alignments ORDER BY item_id"
    )
    .fetch_all(&mut *tx)
    .await?;
    let roles = sqlx::query_as!(
        RoleRecord,
        r#"SELECT item_id, org_id, role AS "role: OrgRole", source_para
             FROM item_organisations ORDER BY role, item_id"#
    )
    .fetch_all(&mut *tx)
    .await?;
    let recent_changes = audit::activity(
        &mut *tx,
        &audit::ActivityFilter::default(),
        RECENT_CHANGES,
        0,
    )
    .await?;
    let delivery = crate::store::delivery::read_all(&mut *tx).await?;
    Ok(PortfolioData {
        revision,
        items,
        budgets,
        contributions: Vec::new(),
        rates,
        organisations,
        places,
        item_places,
        themes,
        result_areas,
        alignments,
        roles,
        recent_changes,
        delivery,
    })
}

/// The `monthly_rates` view as a lookup: for each currency and month, the month whose
/// rate converts it and that rate.
#[derive(Debug, Default, Clone)]
struct MonthlyRates(HashMap<String, HashMap<NaiveDate, (NaiveDate, Decimal)>>);

impl MonthlyRates {
    fn new(rows: Vec<(String, NaiveDate, NaiveDate, Decimal)>) -> MonthlyRates {
        let mut rates: HashMap<String, HashMap<NaiveDate, (NaiveDate, Decimal)>> = HashMap::new();
        for (currency, month, rate_month, usd_per_unit) in rows {
            rates
                .entry(currency)
                .or_default()
                .insert(month, (rate_month, usd_per_unit));
        }
        MonthlyRates(rates)
    }

    /// (rate month, USD per unit, amount in USD) as the `*_usd` views give them: USD at 1,
    /// other currencies at their month's rate, all three None without one.
    fn convert(
        &self,
        amount: Decimal,
        currency: &str,
        as_of: NaiveDate,
    ) -> (Option<NaiveDate>, Option<Decimal>, Option<Decimal>) {
        let rate = as_of
            .with_day(1)
            .and_then(|month| self.0.get(currency)?.get(&month).copied());
        let usd_per_unit = if currency == "USD" {
            Some(Decimal::ONE)
        } else {
            rate.map(|(_, r)| r)
        };
        let amount_usd = usd_per_unit.and_then(|r| to_usd(amount, r));
        (rate.map(|(m, _)| m), usd_per_unit, amount_usd)
    }
}

impl PortfolioData {
    /// `amount` of `currency` in USD at the rate of the month of `on`; None without one.
    pub fn usd(&self, amount: Decimal, currency: &str, on: NaiveDate) -> Option<Decimal> {
        self.rates.convert(amount, currency, on).2
    }

    /// The portfolio as it stood at the end of `day`: each contribution at what its
    /// events known by then add up to, those with none left out. Items, budgets,
    /// milestones and targets are as recorded now (their history is the audit trail's).
    pub fn as_at(&self, day: NaiveDate) -> PortfolioData {
        let contributions = self
            .contributions
            .iter()
            .filter_map(|c| {
                let standing = Standing::as_at(&c.events, day)?;
                let mut then = c.clone();
                then.events.retain(|e| e.known_by() <= day);
                then.parts.retain(|p| p.known_by <= day);
                then.amount = standing.pledged;
                then.status = standing.status();
                then.amount_usd = then.parts.iter().map(|p| p.usd).sum();
                Some(then)
            })
            .collect();
        PortfolioData {
            contributions,
            ..self.clone_without_contributions()
        }
    }

    fn clone_without_contributions(&self) -> PortfolioData {
        PortfolioData {
            revision: self.revision,
            items: self.items.clone(),
            budgets: self.budgets.clone(),
            contributions: Vec::new(),
            organisations: self.organisations.clone(),
            places: self.places.clone(),
            item_places: self.item_places.clone(),
            themes: self.themes.clone(),
            result_areas: self.result_areas.clone(),
            alignments: self.alignments.clone(),
            roles: self.roles.clone(),
            recent_changes: self.recent_changes.clone(),
            delivery: self.delivery.clone(),
            rates: self.rates.clone(),
        }
    }

    /// Every item with its own figures and facets, in report order. Contributions are
    /// read once: the same pass sums each item's money and each donor's gift to it.
    pub fn summaries(&self) -> Vec<ItemSummary> {
        let index: HashMap<i64, usize> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, it)| (it.id, i))
            .collect();
        let mut summaries: Vec<ItemSummary> = self.items.iter().map(ItemSummary::from).collect();
        let at = |item_id: i64| index.get(&item_id).copied();

        for b in &self.budgets {
            if let Some(i) = at(b.item_id) {
                let stated = original(&b.currency, b.as_of, b.amount);
                summaries[i]
                    .own
                    .add_budget(b.amount_usd, stated, b.lower_bound);
            }
        }
        self.add_contributions(&mut summaries, &at);
        self.add_facets(&mut summaries, &at);
        summaries
    }

    fn add_contributions(&self, summaries: &mut [ItemSummary], at: &impl Fn(i64) -> Option<usize>) {
        let donors: HashMap<i64, Arc<Donor>> = self
            .organisations
            .iter()
            .enumerate()
            .map(|(number, o)| {
                let donor = Donor {
                    number,
                    slug: o.slug.clone(),
                    name: o.name.clone(),
                    kind: o.kind,
                };
                (o.id, Arc::new(donor))
            })
            .collect();
        for c in &self.contributions {
            let Some(i) = at(c.item_id) else { continue };
            let item = &mut summaries[i];
            c.add_to(&mut item.own);
            let Some(donor) = donors.get(&c.org_id) else {
                continue;
            };
            let gifts = &mut Arc::make_mut(&mut item.facets).gifts;
            let at = match gifts.iter().position(|g| g.donor.number == donor.number) {
                Some(at) => at,
                None => {
                    gifts.push(Gift::new(Arc::clone(donor)));
                    gifts.len() - 1
                }
            };
            for p in &c.parts {
                gifts[at].add(p.usd, p.counted, c.original_of(p));
            }
        }
    }

    fn add_facets(&self, summaries: &mut [ItemSummary], at: &impl Fn(i64) -> Option<usize>) {
        let area_rank: HashMap<i64, usize> = self
            .result_areas
            .iter()
            .enumerate()
            .map(|(rank, a)| (a.id, rank))
            .collect();
        let mut aligned: Vec<(usize, usize)> = self
            .alignments
            .iter()
            .filter_map(|a| Some((at(a.item_id)?, *area_rank.get(&a.result_area_id)?)))
            .collect();
        aligned.sort_unstable();
        for (i, rank) in aligned {
            let area = &self.result_areas[rank];
            let f = Arc::make_mut(&mut summaries[i].facets);
            f.result_areas.push(area.code.clone());
            if !f.themes.contains(&area.theme_code) {
                f.themes.push(area.theme_code.clone());
            }
        }

        // Each item's organisations, numbered while collecting (names are compared once).
        let org_number: HashMap<i64, usize> = self
            .organisations
            .iter()
            .enumerate()
            .map(|(number, o)| (o.id, number))
            .collect();
        let mut involved: Vec<(usize, usize)> = self
            .contributions
            .iter()
            .map(|c| (c.item_id, c.org_id))
            .chain(self.roles.iter().map(|r| (r.item_id, r.org_id)))
            .filter_map(|(item, org)| Some((at(item)?, *org_number.get(&org)?)))
            .collect();
        involved.sort_unstable();
        involved.dedup();
        for (i, org) in involved {
            Arc::make_mut(&mut summaries[i].facets)
                .organisations
                .push(self.organisations[org].slug.clone());
        }

        let place_rank: HashMap<i64, usize> = self
            .places
            .iter()
            .enumerate()
            .map(|(rank, p)| (p.id, rank))
            .collect();
        let mut located: Vec<(usize, usize)> = self
            .item_places
            .iter()
            .filter_map(|(item, place)| Some((at(*item)?, *place_rank.get(place)?)))
            .collect();
        located.sort_unstable();
        for (i, rank) in located {
            Arc::make_mut(&mut summaries[i].facets)
                .places
                .push(self.places[rank].name.clone());
        }
    }
}

/// An amount as stated, for the figures to keep when no rate converts it.
fn original(currency: &str, as_of: NaiveDate, amount: Decimal) -> Original {
    (
        Currency::new(currency).unwrap_or(Currency::UNKNOWN),
        as_of,
        amount,
    )
}

impl From<&ItemRecord> for ItemSummary {
    fn from(r: &ItemRecord) -> Self {
        ItemSummary {
            id: r.id,
            parent_id: r.parent_id,
            slug: r.slug.clone(),
            title: r.title.clone(),
            kind: r.kind,
            status: r.status,
            report_section: r.report_section.clone(),
            published: r.published,
            start: r.start(),
            end: r.end(),
            facets: Arc::default(),
            own: OwnFigures::default(),
        }
    }
}
