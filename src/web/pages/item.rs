//! `/programmes/{slug}`: everything about one programme, initiative or component.

use crate::web::forms::HtmlPath;
use askama::Template;
use axum::extract::State;
use axum::response::Html;

use crate::domain::auth::Audience;
use crate::domain::slug;
use crate::domain::vocab::TITLE_NOT_GIVEN;
use crate::store::audit;
use crate::store::portfolio::ItemRecord;
use crate::web::auth::Nav;
use crate::web::dashboard::Dashboard;
use crate::web::snapshot::Snap;
use crate::web::view::{self, FundingView};
use crate::web::{AppError, AppState};

use super::delivery::ItemDelivery;
use super::{ContributionCells, render};
use crate::web::charts::over_time::{FundingOverTime, cumulative};
use crate::web::forms::query_param;
use axum::extract::RawQuery;

pub struct Crumb {
    pub slug: String,
    pub title: String,
}

pub struct ComponentRow {
    pub slug: String,
    pub title: String,
    pub draft: bool,
    pub depth: usize,
    pub status: String,
    pub funding: FundingView,
}

pub struct PlaceLink {
    pub name: String,
    pub href: String,
}

pub struct AlignmentRow {
    pub code: String,
    pub title: String,
    pub title_known: bool,
    pub source_para: String,
    pub note: String,
}

pub struct OrgRow {
    pub slug: String,
    pub role: String,
    pub name: String,
    pub source_para: String,
}

pub struct BudgetRow {
    pub original: String,
    pub usd: String,
    pub rate: String,
    /// For admins: the form that adds the rate this amount lacks.
    pub add_rate: Option<view::MissingRate>,
    pub period: String,
    pub source_para: String,
    pub note: String,
}

/// One event of one of the item's own contributions.
pub struct EventRow {
    pub on: String,
    pub who: String,
    pub kind: &'static str,
    pub amount: String,
}

pub struct ContributionRow {
    pub who: String,
    pub who_slug: String,
    pub cells: ContributionCells,
    pub note: String,
}

#[derive(Template)]
#[template(path = "item.html")]
pub struct ItemPage {
    pub nav: Nav,
    pub published: bool,
    /// Shown to staff and admins only.
    pub internal_notes: Option<String>,
    pub item_id: i64,
    pub slug: String,
    pub title: String,
    pub kind: String,
    pub status: String,
    pub status_note: String,
    pub summary: String,
    pub description: String,
    pub period: String,
    pub dates: String,
    pub places: Vec<PlaceLink>,
    pub source_paras: String,
    pub report_section: String,
    pub crumbs: Vec<Crumb>,
    pub funding: FundingView,
    pub has_components: bool,
    pub components: Vec<ComponentRow>,
    pub alignments: Vec<AlignmentRow>,
    pub organisations: Vec<OrgRow>,
    pub budgets: Vec<BudgetRow>,
    pub contributions: Vec<ContributionRow>,
    /// What happened to the item's own contributions, in order.
    pub events: Vec<EventRow>,
    /// The item's money (its components' included) added up month by month.
    pub over_time: Option<FundingOverTime>,
    pub delivery: ItemDelivery,
    /// After a staff member's save returned here.
    pub notice: &'static str,
}

/// The notice after a save on the Delivery section returned to the item's page.
fn delivery_notice(query: Option<&str>) -> &'static str {
    match query_param(query, "done").as_deref() {
        Some("milestone") => "The milestone is marked done.",
        Some("progress") => "Progress recorded.",
        Some("created") => "Added.",
        Some("saved") => "Saved.",
        Some("archived") => "Removed from this page; the audit trail keeps it.",
        _ => "",
    }
}

/// The item behind `slug` if this audience may see it: drafts (and anything under a
/// draft) do not exist for viewers.
pub(crate) fn visible_item<'a>(
    snap: &'a Snap,
    audience: Audience,
    slug: &str,
) -> Result<(&'a ItemRecord, &'a Dashboard, usize), AppError> {
    if !slug::is_valid(slug) {
        return Err(AppError::NotFound);
    }
    let item = snap.records.item_by_slug(slug).ok_or(AppError::NotFound)?;
    let dashboard = snap.dashboard(audience);
    let index = dashboard
        .portfolio
        .index_of(item.id)
        .ok_or(AppError::NotFound)?;
    Ok((item, dashboard, index))
}

pub async fn show(
    State(state): State<AppState>,
    snap: Snap,
    audience: Audience,
    nav: Nav,
    HtmlPath(slug): HtmlPath<String>,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, AppError> {
    let (item, d, index) = visible_item(&snap, audience, &slug)?;
    let records = &snap.records;
    let portfolio = &d.portfolio;

    let mut crumbs: Vec<Crumb> = portfolio
        .ancestors(index)
        .map(|a| Crumb {
            slug: portfolio.items[a].slug.clone(),
            title: portfolio.items[a].title.clone(),
        })
        .collect();
    crumbs.reverse();
    let components = portfolio
        .descendants(index)
        .into_iter()
        .map(|(c, depth)| ComponentRow {
            slug: portfolio.items[c].slug.clone(),
            title: portfolio.items[c].title.clone(),
            draft: !portfolio.items[c].published,
            depth,
            status: d.status_labels[c].clone(),
            funding: d.views[c].clone(),
        })
        .collect::<Vec<_>>();

    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let over_time = over_time(&snap, d, index);
    render(&ItemPage {
        events: events_of(&snap, item.id),
        over_time,
        nav,
        published: item.published,
        internal_notes: (audience == Audience::Internal).then(|| item.internal_notes.clone()),
        item_id: item.id,
        kind: d.kind_labels[index].clone(),
        status: d.status_labels[index].clone(),
        status_note: text(&item.status_note),
        period: text(&item.period),
        dates: crate::domain::dates::period_text(item.start(), item.end()),
        places: records
            .places_of_item(item.id)
            .map(|p| PlaceLink {
                href: view::place_href(&p.name),
                name: p.name.clone(),
            })
            .collect(),
        source_paras: text(&item.source_paras),
        report_section: text(&item.report_section),
        funding: d.views[index].clone(),
        has_components: !components.is_empty(),
        components,
        crumbs,
        alignments: records
            .alignments_of_item(item.id)
            .filter_map(|a| {
                let area = records.result_area_by_id(a.result_area_id)?;
                Some(AlignmentRow {
                    title_known: area.title.is_some(),
                    title: text(&area.title).if_empty(TITLE_NOT_GIVEN),
                    code: area.code.clone(),
                    source_para: text(&a.source_para),
                    note: text(&a.note),
                })
            })
            .collect(),
        organisations: records
            .roles_of_item(item.id)
            .filter_map(|r| {
                let org = records.organisation_by_id(r.org_id)?;
                Some(OrgRow {
                    slug: org.slug.clone(),
                    role: r.role.label().to_string(),
                    name: org.display_name(),
                    source_para: text(&r.source_para),
                })
            })
            .collect(),
        budgets: records
            .budgets_of_item(item.id)
            .map(|b| BudgetRow {
                original: view::amount(b.amount, &b.currency, b.approximate, b.lower_bound),
                usd: view::usd_or_original(b.amount_usd, b.amount, &b.currency),
                rate: view::rate_used(&b.currency, b.as_of, b.rate_month, b.usd_per_unit),
                add_rate: view::missing_rate(b.amount_usd, &b.currency, b.as_of),
                period: text(&b.period),
                source_para: text(&b.source_para),
                note: text(&b.note),
            })
            .collect(),
        contributions: records
            .contributions_of_item(item.id)
            .map(|c| {
                let org = records.organisation_by_id(c.org_id);
                ContributionRow {
                    who_slug: org.map(|o| o.slug.clone()).unwrap_or_default(),
                    who: org.map(|o| o.name.clone()).unwrap_or_default(),
                    cells: ContributionCells::from(c),
                    note: text(&c.note),
                }
            })
            .collect(),
        delivery: ItemDelivery::of(&records.data.delivery, item.id, state.today()),
        notice: delivery_notice(query.as_deref()),
        slug: item.slug.clone(),
        title: item.title.clone(),
        summary: item.summary.clone(),
        description: item.description.clone(),
    })
}

/// The events of the item's own contributions, in the order they happened.
fn events_of(snap: &Snap, item_id: i64) -> Vec<EventRow> {
    let records = &snap.records;
    let mut events: Vec<(chrono::NaiveDate, EventRow)> = records
        .contributions_of_item(item_id)
        .flat_map(|c| {
            let who = records
                .organisation_by_id(c.org_id)
                .map(|o| o.name.clone())
                .unwrap_or_default();
            c.events.iter().map(move |e| {
                let row = EventRow {
                    on: e.on.to_string(),
                    who: who.clone(),
                    kind: e.kind.label(),
                    amount: e
                        .amount
                        .map(|a| view::amount(a, &c.currency, c.approximate, c.lower_bound))
                        .unwrap_or_else(|| "what was not paid".into()),
                };
                (e.known_by(), row)
            })
        })
        .collect();
    events.sort_by_key(|(day, _)| *day);
    events.into_iter().map(|(_, row)| row).collect()
}

/// The chart of the item's money, its components' included, against its budget.
fn over_time(snap: &Snap, d: &Dashboard, index: usize) -> Option<FundingOverTime> {
    let items = std::iter::once(index)
        .chain(d.portfolio.descendants(index).into_iter().map(|(i, _)| i))
        .map(|i| d.portfolio.items[i].id);
    let records = &snap.records;
    let parts = items
        .flat_map(|id| records.contributions_of_item(id))
        .flat_map(|c| c.parts.iter().map(|p| (p.known_by, p.counted, p.usd)));
    let (months, unconverted) = cumulative(parts);
    let until = months.last().map(|m| m.month)?;
    let f = d.portfolio.funding_ref(index);
    FundingOverTime::new(
        &months,
        unconverted,
        (f.budget_usd, f.budget_is_lower_bound),
        until,
    )
}

/// Empty text reads as a stated default.
trait IfEmpty {
    fn if_empty(self, default: &str) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, default: &str) -> String {
        if self.is_empty() {
            default.to_string()
        } else {
            self
        }
    }
}

pub struct HistoryEntry {
    pub at: String,
    pub who: String,
    pub action: String,
    pub what: String,
    pub summary: String,
    pub changes: Vec<(String, String, String)>,
}

impl From<audit::Row> for HistoryEntry {
    fn from(row: audit::Row) -> Self {
        HistoryEntry {
            at: row.at.format("%Y-%m-%d %H:%M UTC").to_string(),
            who: row.actor_email.clone().unwrap_or_else(|| "system".into()),
            action: row.action.replace('_', " "),
            what: match row.entity_id {
                Some(id) => format!("{} #{id}", row.entity),
                None => row.entity.clone(),
            },
            changes: audit::diff(row.before.as_ref(), row.after.as_ref()),
            summary: row.summary,
        }
    }
}

#[derive(Template)]
#[template(path = "history.html")]
pub struct HistoryPage {
    pub nav: Nav,
    pub slug: String,
    pub title: String,
    pub entries: Vec<HistoryEntry>,
}

/// `/programmes/{slug}/history`: every recorded change to the item and its money.
pub async fn history(
    State(state): State<AppState>,
    snap: Snap,
    audience: Audience,
    nav: Nav,
    HtmlPath(slug): HtmlPath<String>,
) -> Result<Html<String>, AppError> {
    let (item, _, _) = visible_item(&snap, audience, &slug)?;
    let entries = audit::for_item(&state.pool, item.id).await?;
    render(&HistoryPage {
        nav,
        slug: item.slug.clone(),
        title: item.title.clone(),
        entries: entries.into_iter().map(HistoryEntry::from).collect(),
    })
}
