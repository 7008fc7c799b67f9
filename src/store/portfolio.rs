//! Loads everything the dashboards show, as one consistent database state: the item tree
//! with each item's own figures in USD, its facets, and the records behind the item,
//! organisation and place pages. One `REPEATABLE READ READ ONLY` transaction reads the
//! revision too, so a loaded copy is exactly the portfolio at that revision.

use crate::domain::funding::OwnFigures;
use crate::domain::portfolio::{Gift, ItemSummary};
use crate::domain::vocab::ContributionStatus;
use crate::store::audit;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;

/// One item's texts, as its page shows them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemRecord {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub slug: String,
    pub title: String,
    pub kind: String,
    pub status: String,
    pub status_note: Option<String>,
    pub report_section: Option<String>,
    pub summary: String,
    pub description: String,
    pub period: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub source_paras: Option<String>,
    pub published: bool,
    pub internal_notes: String,
}

/// A stated budget beside its USD conversion (`amount_usd` is None without a rate).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BudgetRecord {
    pub id: i64,
    pub item_id: i64,
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

/// A contribution beside its USD conversion.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContributionRecord {
    pub id: i64,
    pub item_id: i64,
    pub org_id: i64,
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

impl ContributionRecord {
    /// Committed or paid: the one place the rule is applied to loaded money.
    pub fn is_firm(&self) -> bool {
        ContributionStatus::parse(&self.status).is_some_and(ContributionStatus::is_firm)
    }

    pub fn is_paid(&self) -> bool {
        self.status == ContributionStatus::Paid.as_str()
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrganisationRecord {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub acronym: Option<String>,
    pub kind: String,
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

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlaceRecord {
    pub id: i64,
    pub name: String,
    pub kind: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ThemeRecord {
    pub code: String,
    pub title: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResultAreaRecord {
    pub id: i64,
    pub code: String,
    pub theme_code: String,
    pub title: Option<String>,
    pub source_para: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlignmentRecord {
    pub item_id: i64,
    pub result_area_id: i64,
    pub source_para: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoleRecord {
    pub item_id: i64,
    pub org_id: i64,
    pub role: String,
    pub source_para: Option<String>,
}

/// Everything one revision of the dashboards is computed from.
#[derive(Debug, Default)]
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
    pub recent_changes: Vec<audit::Row>,
}

/// How many recent changes a snapshot keeps for the overview.
pub const RECENT_CHANGES: i64 = 8;

/// The portfolio's current revision: one primary-key read.
pub async fn revision(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT revision FROM portfolio_revision")
        .fetch_one(pool)
        .await
}

/// Reads one consistent copy of everything the dashboards show; a fixed number of
/// queries whatever the portfolio's size.
pub async fn load(pool: &PgPool) -> sqlx::Result<PortfolioData> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    // The conversion views make the planner expect millions of rows, so it would JIT-
    // compile the load (half a second at 50,000 contributions) and sort on disk; neither
    // pays off for a scan of tens of thousands of rows.
    sqlx::query("SET LOCAL jit = off").execute(&mut *tx).await?;
    sqlx::query("SET LOCAL work_mem = '64MB'")
        .execute(&mut *tx)
        .await?;
    // The same misestimate picks a merge join that sorts every contribution by currency
    // and month; hashing the few thousand monthly rates is several times faster.
    sqlx::query("SET LOCAL enable_mergejoin = off")
        .execute(&mut *tx)
        .await?;
    let revision = sqlx::query_scalar("SELECT revision FROM portfolio_revision")
        .fetch_one(&mut *tx)
        .await?;
    let items = sqlx::query_as(
        "SELECT id, parent_id, slug, title, kind, status, status_note, report_section, summary,
                description, period, start_date, end_date, source_paras, published, internal_notes
           FROM items WHERE archived_at IS NULL ORDER BY report_section NULLS LAST, id",
    )
    .fetch_all(&mut *tx)
    .await?;
    // Sorted here rather than in SQL: ordering wide rows costs PostgreSQL more than Rust.
    let mut budgets: Vec<BudgetRecord> = sqlx::query_as(
        "SELECT id, item_id, amount, currency::text AS currency, approximate, period, as_of,
                source_para, note, rate_month, usd_per_unit, amount_usd
           FROM budgets_usd",
    )
    .fetch_all(&mut *tx)
    .await?;
    budgets.sort_unstable_by_key(|b| (b.as_of, b.id));
    let mut contributions: Vec<ContributionRecord> = sqlx::query_as(
        "SELECT id, item_id, org_id, amount, currency::text AS currency, status, pledged_on, as_of,
                approximate, self_financing, source_para, note, rate_month, usd_per_unit, amount_usd
           FROM contributions_usd",
    )
    .fetch_all(&mut *tx)
    .await?;
    contributions.sort_unstable_by_key(|c| (c.as_of, c.id));
    let organisations = sqlx::query_as(
        "SELECT id, slug, name, acronym, kind, source_paras, archived_at IS NOT NULL AS archived
           FROM organisations ORDER BY name, id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let places = sqlx::query_as("SELECT id, name, kind FROM places ORDER BY name")
        .fetch_all(&mut *tx)
        .await?;
    let item_places = sqlx::query_as("SELECT item_id, place_id FROM item_places")
        .fetch_all(&mut *tx)
        .await?;
    let themes = sqlx::query_as("SELECT code, title FROM themes ORDER BY code::int")
        .fetch_all(&mut *tx)
        .await?;
    let result_areas = sqlx::query_as(
        "SELECT id, code, theme_code, title, source_para FROM result_areas
          WHERE archived_at IS NULL ORDER BY string_to_array(code, '.')::numeric[]",
    )
    .fetch_all(&mut *tx)
    .await?;
    let alignments = sqlx::query_as(
        "SELECT item_id, result_area_id, source_para, note FROM alignments ORDER BY item_id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let roles = sqlx::query_as(
        "SELECT item_id, org_id, role, source_para FROM item_organisations ORDER BY role, item_id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let recent_changes = sqlx::query_as(
        "SELECT id, at, actor_email, action, entity, entity_id, item_id, summary, before, after
           FROM audit_log WHERE entity NOT IN ('session', 'user') ORDER BY at DESC, id DESC LIMIT $1",
    )
    .bind(RECENT_CHANGES)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(PortfolioData {
        revision,
        items,
        budgets,
        contributions,
        organisations,
        places,
        item_places,
        themes,
        result_areas,
        alignments,
        roles,
        recent_changes,
    })
}

impl PortfolioData {
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
                let own = &mut summaries[i].own;
                match b.amount_usd {
                    Some(usd) => *own.budget_usd.get_or_insert(Decimal::ZERO) += usd,
                    None => own.unconverted += 1,
                }
            }
        }
        self.add_contributions(&mut summaries, &at);
        self.add_facets(&mut summaries, &at);
        summaries
    }

    fn add_contributions(&self, summaries: &mut [ItemSummary], at: &impl Fn(i64) -> Option<usize>) {
        let orgs: HashMap<i64, &OrganisationRecord> =
            self.organisations.iter().map(|o| (o.id, o)).collect();
        for c in &self.contributions {
            let Some(i) = at(c.item_id) else { continue };
            let item = &mut summaries[i];
            let usd = c.amount_usd.unwrap_or_default();
            if c.amount_usd.is_none() {
                item.own.unconverted += 1;
            }
            item.own.pledged_usd += usd;
            if c.is_firm() {
                item.own.firm_usd += usd;
            }
            if c.is_paid() {
                item.own.paid_usd += usd;
            }
            let Some(org) = orgs.get(&c.org_id) else {
                continue;
            };
            let gifts = &mut Arc::make_mut(&mut item.facets).gifts;
            let gift = match gifts.iter().position(|g| g.org_slug == org.slug) {
                Some(g) => &mut gifts[g],
                None => {
                    gifts.push(Gift {
                        org_slug: org.slug.clone(),
                        org_name: org.name.clone(),
                        org_kind: org.kind.clone(),
                        ..Gift::default()
                    });
                    let last = gifts.len() - 1;
                    &mut gifts[last]
                }
            };
            gift.pledged_usd += usd;
            if c.is_firm() {
                gift.firm_usd += usd;
            }
            if c.is_paid() {
                gift.paid_usd += usd;
            }
            gift.contributions += 1;
            if !gift.currencies.contains(&c.currency) {
                gift.currencies.push(c.currency.clone());
                gift.currencies.sort();
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

        let org_slugs: HashMap<i64, &str> = self
            .organisations
            .iter()
            .map(|o| (o.id, o.slug.as_str()))
            .collect();
        let involved = self
            .contributions
            .iter()
            .map(|c| (c.item_id, c.org_id))
            .chain(self.roles.iter().map(|r| (r.item_id, r.org_id)));
        for (item_id, org_id) in involved {
            if let (Some(i), Some(slug)) = (at(item_id), org_slugs.get(&org_id)) {
                let list = &mut Arc::make_mut(&mut summaries[i].facets).organisations;
                if !list.iter().any(|s| s == slug) {
                    list.push((*slug).to_string());
                }
            }
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

impl From<&ItemRecord> for ItemSummary {
    fn from(r: &ItemRecord) -> Self {
        ItemSummary {
            id: r.id,
            parent_id: r.parent_id,
            slug: r.slug.clone(),
            title: r.title.clone(),
            kind: r.kind.clone(),
            status: r.status.clone(),
            report_section: r.report_section.clone(),
            published: r.published,
            start_date: r.start_date,
            end_date: r.end_date,
            facets: Arc::default(),
            own: OwnFigures::default(),
        }
    }
}
