//! Everything the dashboards show that depends only on the data, computed once per
//! portfolio revision and for each audience: roll-ups, formatted figures, sort orders,
//! largest gaps, counts, groupings, the alignment matrix, per-organisation and per-place
//! totals, the search index. A request then pages, filters over these keys and renders.

use axum::body::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use crate::domain::auth::Audience;
use crate::domain::filters::{Filters, FundingState};
use crate::domain::funding::Funding;
use crate::domain::money::percent;
use crate::domain::portfolio::Portfolio;
use crate::domain::search::TextIndex;
use crate::domain::vocab::{ItemKind, ItemStatus, PlaceKind, title_or_not_given};
use crate::store::portfolio::{
    AlignmentRecord, BudgetRecord, ContributionRecord, ItemRecord, OrganisationRecord, PlaceRecord,
    PortfolioData, ResultAreaRecord, RoleRecord,
};
use crate::web::charts::over_time::{FundingOverTime, cumulative};
use crate::web::charts::{StackedBar, pipeline_bar};
use crate::web::kept::Kept;
use crate::web::pages::activity::ActivityEntry;
use crate::web::pages::funding::{self, FundingSections, RenderedView};
use crate::web::pages::organisation::{self, OrganisationSummary};
use crate::web::view::{FundingView, drafts_note, kind_label, status_label};
use rust_decimal::Decimal;

/// One revision of the dashboards.
pub struct Snapshot {
    pub revision: i64,
    /// The portfolio as it stood at the end of this day (`?as_of=`); None for now.
    pub as_at: Option<chrono::NaiveDate>,
    pub built_at: DateTime<Utc>,
    pub records: Records,
    pub internal: Dashboard,
    pub published: Dashboard,
    /// Where each published item's records are, for the IATI file; on first use.
    iati: OnceLock<crate::iati::Index>,
    /// The IATI file, by the day it was written for (its dates depend on the day too).
    iati_file: Kept<IatiFile>,
    /// `/changes` answers of this revision, by audience and range, within a budget.
    pub changes: Kept<Arc<crate::web::pages::changes::Changes>>,
}

impl Snapshot {
    /// The dashboards of `data` (`PortfolioData::as_at`) as at the end of `day`.
    pub fn build_as_at(data: PortfolioData, day: chrono::NaiveDate) -> Snapshot {
        Snapshot {
            as_at: Some(day),
            ..Snapshot::build(data)
        }
    }

    pub fn build(data: PortfolioData) -> Snapshot {
        let started = std::time::Instant::now();
        let summaries = data.summaries();
        let summed = started.elapsed();
        let records = Records::new(data);
        let indexed = started.elapsed();
        // The two audiences share nothing mutable: compute them side by side.
        let (internal, published) = std::thread::scope(|scope| {
            let internal = scope.spawn(|| {
                Dashboard::build(
                    Audience::Internal,
                    Portfolio::visible(&summaries, |_| true),
                    &records,
                )
            });
            let published = Dashboard::build(
                Audience::Published,
                Portfolio::visible(&summaries, |it| it.published),
                &records,
            );
            let mut internal = internal
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            internal.note_drafts(&published);
            (internal, published)
        });
        tracing::debug!(
            summed_ms = summed.as_millis() as u64,
            indexed_ms = indexed.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "dashboards computed"
        );
        Snapshot {
            revision: records.data.revision,
            as_at: None,
            built_at: Utc::now(),
            records,
            internal,
            published,
            iati: OnceLock::new(),
            iati_file: Kept::all(),
            changes: Kept::within(CHANGES_BYTES),
        }
    }

    /// The IATI file's index of this revision (built by the first request for it).
    pub fn iati_index(&self) -> &crate::iati::Index {
        self.iati
            .get_or_init(|| crate::iati::Index::new(&self.records.data))
    }

    /// The IATI file as written on `day`: built by the first request of the day at this
    /// revision, then served from memory. Blocks: call it off the async threads.
    pub fn iati_file<E>(
        &self,
        day: chrono::NaiveDate,
        write: impl FnOnce() -> Result<IatiFile, E>,
    ) -> Result<IatiFile, E> {
        let key = day.to_string();
        // an earlier day's file is stale: keep only today's
        self.iati_file.retain_only(&key);
        self.iati_file.get_or_build(&key, write)
    }

    pub fn dashboard(&self, audience: Audience) -> &Dashboard {
        match audience {
            Audience::Internal => &self.internal,
            Audience::Published => &self.published,
        }
    }
}

/// At most this much of `/changes` answers is kept per revision.
const CHANGES_BYTES: usize = 16 * 1024 * 1024;

/// The IATI file as written, and gzipped: a client that takes gzip gets the kept copy,
/// so no request compresses 20 MB anew.
#[derive(Debug, Clone)]
pub struct IatiFile {
    pub xml: Bytes,
    pub gzip: Bytes,
}

impl crate::web::kept::Weight for IatiFile {
    fn weight(&self) -> usize {
        self.xml.len() + self.gzip.len()
    }
}

/// One event of one contribution: the day it is known by, the contribution's position in
/// the records and the event's position in its `events`.
#[derive(Debug, Clone, Copy)]
pub struct DatedEvent {
    pub day: NaiveDate,
    pub contribution: usize,
    pub event: usize,
}

/// The loaded records with the lookups the item, organisation and place pages need.
/// The same for every audience: pages check visibility against the audience's
/// [`Dashboard`].
pub struct Records {
    pub data: PortfolioData,
    item_by_slug: HashMap<String, usize>,
    org_by_id: HashMap<i64, usize>,
    org_by_slug: HashMap<String, usize>,
    place_by_name: HashMap<String, usize>,
    area_by_id: HashMap<i64, usize>,
    area_by_code: HashMap<String, usize>,
    /// Record indices per item id, each list in the order its page shows it.
    budgets_of_item: HashMap<i64, Vec<usize>>,
    contributions_of_item: HashMap<i64, Vec<usize>>,
    roles_of_item: HashMap<i64, Vec<usize>>,
    alignments_of_item: HashMap<i64, Vec<usize>>,
    places_of_item: HashMap<i64, Vec<usize>>,
    /// Record indices per organisation id / result area id.
    contributions_of_org: HashMap<i64, Vec<usize>>,
    roles_of_org: HashMap<i64, Vec<usize>>,
    alignments_of_area: HashMap<i64, Vec<usize>>,
    /// Every value a filter can take, whoever asks: each audience's dashboard offers
    /// (and accepts) those it may see, [`Dashboard::filter_values`].
    filter_values: FilterValues,
    /// The result areas' search index, built on first use (organisations and places
    /// are indexed per audience: [`Dashboard::organisation_search`]).
    area_search: OnceLock<TextIndex>,
    /// Every contribution's events by the day each is known by; on first use.
    events_by_day: OnceLock<Vec<DatedEvent>>,
}

/// Every value a dashboard filter accepts, with its label, in menu order.
#[derive(Debug, Default, Clone)]
pub struct FilterValues {
    pub themes: Vec<(String, String)>,
    pub result_areas: Vec<(String, String)>,
    pub organisations: Vec<(String, String)>,
    pub places: Vec<(String, String)>,
}

fn group<T>(rows: &[T], key: impl Fn(&T) -> i64) -> HashMap<i64, Vec<usize>> {
    let mut grouped: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        grouped.entry(key(row)).or_default().push(i);
    }
    grouped
}

/// Each row's index by its key (an id, a slug, a name).
fn position<T, K: Eq + std::hash::Hash>(rows: &[T], key: impl Fn(&T) -> K) -> HashMap<K, usize> {
    rows.iter().enumerate().map(|(i, r)| (key(r), i)).collect()
}

/// Declares, for each index of record positions by id (a field of [`Records`]), the
/// method of the same name that yields those records: `budgets_of_item(item_id)`.
macro_rules! records_of {
    ($($index:ident: $record:ident in $list:ident;)+) => {
        $(
            pub fn $index(&self, id: i64) -> impl Iterator<Item = &$record> {
                Self::of(&self.$index, id)
                    .iter()
                    .map(|&i| &self.data.$list[i])
            }
        )+
    };
}

impl Records {
    fn new(data: PortfolioData) -> Records {
        let org_by_id = position(&data.organisations, |o| o.id);
        // Organisations come ordered by name: their position is the name order.
        let org_rank = |org_id: i64| org_by_id.get(&org_id).copied().unwrap_or(usize::MAX);
        let mut contributions_of_item = group(&data.contributions, |c| c.item_id);
        for list in contributions_of_item.values_mut() {
            // by donor, then date (the records come by date; the sort is stable)
            list.sort_by_key(|&c| org_rank(data.contributions[c].org_id));
        }
        let mut roles_of_item = group(&data.roles, |r| r.item_id);
        for list in roles_of_item.values_mut() {
            list.sort_by(|&a, &b| {
                let (ra, rb) = (&data.roles[a], &data.roles[b]);
                // by the stored value, as the database orders them
                ra.role
                    .as_str()
                    .cmp(rb.role.as_str())
                    .then_with(|| org_rank(ra.org_id).cmp(&org_rank(rb.org_id)))
            });
        }
        let area_by_id = position(&data.result_areas, |a| a.id);
        let mut alignments_of_item = group(&data.alignments, |a| a.item_id);
        for list in alignments_of_item.values_mut() {
            list.retain(|&a| area_by_id.contains_key(&data.alignments[a].result_area_id));
            list.sort_by_key(|&a| area_by_id.get(&data.alignments[a].result_area_id));
        }
        let place_by_id = position(&data.places, |p| p.id);
        let mut places_of_item: HashMap<i64, Vec<usize>> = HashMap::new();
        for (item, place) in &data.item_places {
            if let Some(&p) = place_by_id.get(place) {
                places_of_item.entry(*item).or_default().push(p);
            }
        }
        for list in places_of_item.values_mut() {
            list.sort_by(|&a, &b| {
                let (pa, pb) = (&data.places[a], &data.places[b]);
                (pa.kind.as_str(), &pa.name).cmp(&(pb.kind.as_str(), &pb.name))
            });
        }
        let titled =
            |code: &str, title: &Option<String>| format!("{code} {}", title_or_not_given(title));
        let filter_values = FilterValues {
            themes: data
                .themes
                .iter()
                .map(|t| {
                    (
                        t.code.clone(),
                        format!("Theme {}", titled(&t.code, &t.title)),
                    )
                })
                .collect(),
            result_areas: data
                .result_areas
                .iter()
                .map(|a| (a.code.clone(), titled(&a.code, &a.title)))
                .collect(),
            organisations: data
                .organisations
                .iter()
                .filter(|o| !o.archived)
                .map(|o| (o.slug.clone(), o.name.clone()))
                .collect(),
            places: data
                .places
                .iter()
                .map(|p| (p.name.clone(), p.name.clone()))
                .collect(),
        };
        Records {
            area_search: OnceLock::new(),
            events_by_day: OnceLock::new(),
            item_by_slug: position(&data.items, |i| i.slug.clone()),
            org_by_slug: data
                .organisations
                .iter()
                .enumerate()
                .filter(|(_, o)| !o.archived)
                .map(|(i, o)| (o.slug.clone(), i))
                .collect(),
            place_by_name: position(&data.places, |p| p.name.clone()),
            area_by_code: position(&data.result_areas, |a| a.code.clone()),
            budgets_of_item: group(&data.budgets, |b| b.item_id),
            contributions_of_org: group(&data.contributions, |c| c.org_id),
            roles_of_org: group(&data.roles, |r| r.org_id),
            alignments_of_area: group(&data.alignments, |a| a.result_area_id),
            contributions_of_item,
            roles_of_item,
            alignments_of_item,
            places_of_item,
            org_by_id,
            area_by_id,
            filter_values,
            data,
        }
    }

    /// The events known by a day in `from ..= to`, by day: a binary search in the list
    /// kept with the revision, not a pass over every contribution.
    pub fn events_between(&self, from: NaiveDate, to: NaiveDate) -> &[DatedEvent] {
        let all = self.events_by_day.get_or_init(|| {
            let mut all: Vec<DatedEvent> = self
                .data
                .contributions
                .iter()
                .enumerate()
                .flat_map(|(c, record)| {
                    record
                        .events
                        .iter()
                        .enumerate()
                        .map(move |(e, event)| DatedEvent {
                            day: event.known_by(),
                            contribution: c,
                            event: e,
                        })
                })
                .collect();
            all.sort_by_key(|d| (d.day, d.contribution, d.event));
            all
        });
        let start = all.partition_point(|d| d.day < from);
        let end = all.partition_point(|d| d.day <= to);
        &all[start..end.max(start)]
    }

    /// Result areas (by position) by code and title: "1.1" finds area 1.1.
    pub fn area_search(&self) -> &TextIndex {
        self.area_search.get_or_init(|| {
            TextIndex::new(
                self.data
                    .result_areas
                    .iter()
                    .map(|a| format!("{} {}", a.code, a.title.as_deref().unwrap_or(""))),
            )
        })
    }

    /// The item record behind a slug (any audience; check visibility on the dashboard).
    pub fn item_by_slug(&self, slug: &str) -> Option<&ItemRecord> {
        self.item_by_slug.get(slug).map(|&i| &self.data.items[i])
    }

    /// A current (not archived) organisation.
    pub fn organisation(&self, slug: &str) -> Option<&OrganisationRecord> {
        self.org_by_slug
            .get(slug)
            .map(|&i| &self.data.organisations[i])
    }

    pub fn organisation_by_id(&self, id: i64) -> Option<&OrganisationRecord> {
        self.org_by_id
            .get(&id)
            .map(|&i| &self.data.organisations[i])
    }

    pub fn place(&self, name: &str) -> Option<&PlaceRecord> {
        self.place_by_name.get(name).map(|&i| &self.data.places[i])
    }

    pub fn result_area(&self, code: &str) -> Option<&ResultAreaRecord> {
        self.area_by_code
            .get(code)
            .map(|&i| &self.data.result_areas[i])
    }

    pub fn result_area_by_id(&self, id: i64) -> Option<&ResultAreaRecord> {
        self.area_by_id
            .get(&id)
            .map(|&i| &self.data.result_areas[i])
    }

    fn of(map: &HashMap<i64, Vec<usize>>, id: i64) -> &[usize] {
        map.get(&id).map_or(&[], Vec::as_slice)
    }

    records_of! {
        budgets_of_item: BudgetRecord in budgets;
        contributions_of_item: ContributionRecord in contributions;
        roles_of_item: RoleRecord in roles;
        alignments_of_item: AlignmentRecord in alignments;
        places_of_item: PlaceRecord in places;
        roles_of_org: RoleRecord in roles;
        alignments_of_area: AlignmentRecord in alignments;
    }

    /// Record indices of an organisation's contributions, by date.
    pub fn contribution_indices_of_org(&self, org_id: i64) -> &[usize] {
        Self::of(&self.contributions_of_org, org_id)
    }
}

/// How a list of items can be ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// As the report lists them (parents before their components).
    Report,
    /// Largest gap first; unknown gaps last.
    Gap,
    /// Largest budget first; unknown budgets last.
    Budget,
    /// Lowest coverage first; unknown coverage last.
    Coverage,
    Title,
}

impl SortKey {
    pub const ALL: [SortKey; 5] = [
        SortKey::Report,
        SortKey::Gap,
        SortKey::Budget,
        SortKey::Coverage,
        SortKey::Title,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Report => "report",
            SortKey::Gap => "gap",
            SortKey::Budget => "budget",
            SortKey::Coverage => "coverage",
            SortKey::Title => "title",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Report => "Report order",
            SortKey::Gap => "Largest gap",
            SortKey::Budget => "Largest budget",
            SortKey::Coverage => "Lowest coverage",
            SortKey::Title => "Title",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The sort a query asks for, among `choices` (empty: the first choice).
    pub fn parse(raw: &str, choices: &[SortKey]) -> Result<SortKey, crate::web::AppError> {
        if raw.is_empty() {
            return Ok(choices[0]);
        }
        choices
            .iter()
            .copied()
            .find(|k| k.as_str() == raw)
            .ok_or_else(|| {
                let names: Vec<&str> = choices.iter().map(|k| k.as_str()).collect();
                crate::web::AppError::BadRequest(format!(
                    "Unknown sort “{raw}”. Use one of: {}.",
                    names.join(", ")
                ))
            })
    }
}

/// Orders items by a key; unknown figures always sort last, ties keep report order.
fn compare(p: &Portfolio, lower_titles: &[String], key: SortKey, a: usize, b: usize) -> Ordering {
    let (fa, fb) = (p.funding_ref(a), p.funding_ref(b));
    let known_desc = |x: Option<Decimal>, y: Option<Decimal>| match (x, y) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    let by = match key {
        SortKey::Report => Ordering::Equal,
        SortKey::Gap => known_desc(fa.gap_usd, fb.gap_usd),
        SortKey::Budget => known_desc(fa.budget_usd, fb.budget_usd),
        SortKey::Coverage => known_desc(fa.coverage.map(|c| -c), fb.coverage.map(|c| -c)),
        SortKey::Title => lower_titles[a].cmp(&lower_titles[b]),
    };
    by.then(a.cmp(&b))
}

/// A group of this audience's items and their combined funding: the items serving one
/// result area (in report order), or those in one country or region (parents before
/// their components).
pub struct ItemGroup {
    pub items: Vec<usize>,
    pub funding: Funding,
    pub total: FundingView,
    /// For staff: what the total owes to drafts (`view::drafts_note`).
    pub drafts_note: String,
}

/// One result area with the items of this audience that serve it.
pub type AreaSummary = ItemGroup;
/// One country or region with this audience's items there.
pub type PlaceSummary = ItemGroup;

impl ItemGroup {
    fn new(portfolio: &Portfolio, items: Vec<usize>) -> ItemGroup {
        let funding = portfolio.combined_indices(&items);
        ItemGroup {
            total: FundingView::from(&funding),
            funding,
            items,
            drafts_note: String::new(),
        }
    }
}

/// A programme's cell in the alignment matrix, when it serves the area.
pub struct MatrixCell {
    pub label: String,
    pub class: &'static str,
}

/// An item as the lists of items show it (overview, funding, a place, a result area):
/// borrowed from the dashboard, where each label is made once per revision.
#[derive(Clone, Copy)]
pub struct ItemLine<'a> {
    pub slug: &'a str,
    pub title: &'a str,
    /// Not published: only staff and admins see it, marked "Draft".
    pub draft: bool,
    pub kind: &'a str,
    pub status: &'a str,
    pub funding: &'a FundingView,
}

/// A row of the largest-gaps list.
pub struct GapRow {
    pub slug: String,
    pub title: String,
    pub draft: bool,
    pub gap: String,
    pub coverage: String,
}

/// One audience's view of one revision.
pub struct Dashboard {
    pub audience: Audience,
    pub portfolio: Portfolio,
    /// Per item: its figures ready to print, and its result-area codes ("1.1, 2.3").
    pub views: Vec<FundingView>,
    pub area_codes: Vec<String>,
    pub kind_labels: Vec<String>,
    pub status_labels: Vec<String>,
    pub total: FundingView,
    pub programme_count: usize,
    pub initiative_count: usize,
    pub component_count: usize,
    pub largest_gaps: Vec<GapRow>,
    /// For staff: what the portfolio's totals owe to drafts (`view::drafts_note`).
    pub drafts_note: String,
    /// How many items without components state a budget, and how many there are: only
    /// those have a known gap, so "largest gaps" is among them.
    pub budgeted_parts: usize,
    pub parts: usize,
    /// Every item, in each sort order (indexed by [`SortKey`]); the report order lists
    /// parents before their components.
    orders: Vec<Vec<usize>>,
    /// Each item's position in each order.
    ranks: Vec<Vec<usize>>,
    /// Top-level items only, in each order.
    root_orders: Vec<Vec<usize>>,
    /// Per result area (in strategy order).
    pub areas: Vec<AreaSummary>,
    /// Per top-level item: the result areas (by strategy rank) it or its parts serve,
    /// and how its matrix cells read.
    pub served: HashMap<usize, (Vec<usize>, MatrixCell)>,
    pub places: HashMap<String, PlaceSummary>,
    /// What the filter menus offer and accept: for delegates only the organisations and
    /// places that an item they see names (one named on drafts alone would tell of them).
    pub filter_values: FilterValues,
    /// For delegates, those organisations and places; `None` for staff, who see all.
    shown: Option<Shown>,
    /// Organisations and places (by position in the records) this audience may see, by
    /// name; on first use.
    organisation_search: OnceLock<TextIndex>,
    place_search: OnceLock<TextIndex>,
    /// Per organisation id: its money as this audience sees it; on first use.
    organisations: OnceLock<HashMap<i64, OrganisationSummary>>,
    /// Title, summary and slug per item, for search; indexed on first use.
    search_index: OnceLock<TextIndex>,
    /// `/funding` without filters.
    pub funding_unfiltered: FundingSections,
    /// Staff and admins only: the latest changes.
    pub recent_changes: Vec<ActivityEntry>,
    /// The whole portfolio's paid, committed and pledged money.
    pub pipeline: StackedBar,
    /// The same added up month by month, against the total budget.
    pub over_time: Option<FundingOverTime>,
    /// HTML rendered on first use and kept with the revision.
    overview_rows: OnceLock<Vec<String>>,
    csv_item_lines: OnceLock<Vec<Bytes>>,
    /// Views of `/funding` already rendered at this revision, by filters, sort and page.
    funding_views: Kept<Arc<RenderedView>>,
    /// Workbooks of `/funding.xlsx` already written at this revision, by tables, filters
    /// and sort: every one without filters (a short list of tables and sorts), and
    /// filtered ones within a budget.
    workbooks: Kept<Bytes>,
    filtered_workbooks: Kept<Bytes>,
}

/// The money of every item of `p`, added up month by month against its total budget.
fn over_time(p: &Portfolio, records: &Records) -> Option<FundingOverTime> {
    let parts = records
        .data
        .contributions
        .iter()
        .filter(|c| p.index_of(c.item_id).is_some())
        .flat_map(|c| {
            c.parts
                .iter()
                .map(|part| (part.known_by, part.counted, part.usd))
        });
    let (months, unconverted) = cumulative(parts);
    let until = months.last()?.month;
    let total = p.total();
    let budget = (total.budget_usd, total.budget_is_lower_bound);
    FundingOverTime::new(&months, unconverted, budget, until)
}

/// The organisations (slugs) and places (names) that some item of a portfolio names.
struct Shown {
    organisations: HashSet<String>,
    places: HashSet<String>,
}

impl Shown {
    fn of(portfolio: &Portfolio) -> Shown {
        let facets = || portfolio.items.iter().map(|it| &it.facets);
        Shown {
            organisations: facets()
                .flat_map(|f| f.organisations.iter().cloned())
                .collect(),
            places: facets().flat_map(|f| f.places.iter().cloned()).collect(),
        }
    }
}

impl FilterValues {
    /// The values an audience that sees `shown` may filter by (all when `None`).
    fn seen_by(&self, shown: Option<&Shown>) -> FilterValues {
        let Some(shown) = shown else {
            return self.clone();
        };
        let keep = |list: &[(String, String)], set: &HashSet<String>| {
            list.iter()
                .filter(|(value, _)| set.contains(value))
                .cloned()
                .collect()
        };
        FilterValues {
            themes: self.themes.clone(),
            result_areas: self.result_areas.clone(),
            organisations: keep(&self.organisations, &shown.organisations),
            places: keep(&self.places, &shown.places),
        }
    }
}

/// At most this much rendered `/funding` HTML is kept per revision and audience; past
/// it, a new view is rendered per request (correct, only slower).
const FUNDING_VIEWS_BYTES: usize = 16 * 1024 * 1024;

/// The same for filtered workbooks of `/funding.xlsx`.
const FILTERED_WORKBOOKS_BYTES: usize = 32 * 1024 * 1024;

impl Dashboard {
    fn build(audience: Audience, portfolio: Portfolio, records: &Records) -> Dashboard {
        let begun = std::time::Instant::now();
        let p = &portfolio;
        let n = p.items.len();
        let views: Vec<FundingView> = (0..n)
            .map(|i| FundingView::from(p.funding_ref(i)))
            .collect();
        let lower_titles: Vec<String> = p.items.iter().map(|it| it.title.to_lowercase()).collect();
        let report_order: Vec<usize> = p
            .roots
            .iter()
            .flat_map(|&r| std::iter::once(r).chain(p.descendants(r).into_iter().map(|(i, _)| i)))
            .collect();
        let orders = SortKey::ALL
            .iter()
            .map(|&key| {
                let mut order = report_order.clone();
                if key != SortKey::Report {
                    order.sort_by(|&a, &b| compare(p, &lower_titles, key, a, b));
                }
                order
            })
            .collect::<Vec<Vec<usize>>>();
        let ranks = orders
            .iter()
            .map(|order| {
                let mut rank = vec![0; n];
                for (position, &i) in order.iter().enumerate() {
                    rank[i] = position;
                }
                rank
            })
            .collect();
        let count = |kind: ItemKind| p.items.iter().filter(|it| it.kind == kind).count();
        let shown = match audience {
            Audience::Internal => None,
            Audience::Published => Some(Shown::of(p)),
        };
        let mut dashboard = Dashboard {
            filter_values: records.filter_values.seen_by(shown.as_ref()),
            shown,
            organisation_search: OnceLock::new(),
            place_search: OnceLock::new(),
            audience,
            area_codes: p
                .items
                .iter()
                .map(|it| it.facets.result_areas.join(", "))
                .collect(),
            kind_labels: p.items.iter().map(|it| kind_label(it.kind)).collect(),
            status_labels: p.items.iter().map(|it| status_label(it.status)).collect(),
            total: FundingView::from(&p.total()),
            pipeline: {
                let t = p.total();
                pipeline_bar(t.paid_usd, t.firm_usd, t.pledged_usd, t.pledged_usd)
            },
            over_time: over_time(p, records),
            overview_rows: OnceLock::new(),
            csv_item_lines: OnceLock::new(),
            funding_views: Kept::within(FUNDING_VIEWS_BYTES),
            workbooks: Kept::all(),
            filtered_workbooks: Kept::within(FILTERED_WORKBOOKS_BYTES),
            programme_count: count(ItemKind::Programme),
            initiative_count: count(ItemKind::Initiative),
            component_count: count(ItemKind::Component),
            largest_gaps: largest_gaps(p, &views, 5),
            drafts_note: String::new(),
            budgeted_parts: (0..p.items.len())
                .filter(|&i| p.children[i].is_empty() && p.funding_ref(i).budget_usd.is_some())
                .count(),
            parts: (0..p.items.len())
                .filter(|&i| p.children[i].is_empty())
                .count(),
            root_orders: orders
                .iter()
                .map(|order| {
                    order
                        .iter()
                        .copied()
                        .filter(|&i| p.items[i].parent_id.is_none())
                        .collect()
                })
                .collect(),
            orders,
            ranks,
            areas: Vec::new(),
            served: HashMap::new(),
            places: HashMap::new(),
            organisations: OnceLock::new(),
            search_index: OnceLock::new(),
            funding_unfiltered: FundingSections::default(),
            recent_changes: match audience {
                Audience::Internal => records
                    .data
                    .recent_changes
                    .iter()
                    .cloned()
                    .map(ActivityEntry::from)
                    .collect(),
                Audience::Published => Vec::new(),
            },
            views,
            portfolio,
        };
        let t0 = std::time::Instant::now();
        dashboard.areas = dashboard.area_summaries(records);
        dashboard.served = dashboard.matrix(records);
        dashboard.places = dashboard.place_summaries(records);
        let t1 = t0.elapsed();
        let all_rows = dashboard.rows(&Filters::default(), SortKey::Gap);
        dashboard.funding_unfiltered = funding::sections(&dashboard, records, &all_rows);
        tracing::debug!(
            head_ms = (t0 - begun).as_millis() as u64,
            groupings_ms = t1.as_millis() as u64,
            funding_ms = (t0.elapsed() - t1).as_millis() as u64,
            "audience computed"
        );
        dashboard
    }

    /// Items in this order (indexed by their position in the portfolio).
    pub fn order(&self, key: SortKey) -> &[usize] {
        &self.orders[key.index()]
    }

    /// Every item's overview row as HTML (by portfolio index).
    pub fn overview_rows(&self) -> &[String] {
        self.overview_rows
            .get_or_init(|| crate::web::pages::overview::render_rows(self))
    }

    /// Every item's line of the items CSV (by portfolio index).
    pub fn csv_item_lines(&self, records: &Records) -> &[Bytes] {
        self.csv_item_lines
            .get_or_init(|| funding::item_lines(self, records))
    }

    /// A `/funding` view rendered earlier at this revision.
    pub fn funding_view(&self, key: &str) -> Option<Arc<RenderedView>> {
        self.funding_views.get(key)
    }

    /// Keeps a rendered `/funding` view for the rest of this revision (while there is room).
    pub fn keep_funding_view(&self, key: String, view: RenderedView) -> Arc<RenderedView> {
        self.funding_views.keep(key, Arc::new(view))
    }

    /// The `/funding.xlsx` workbook of a view (`key` names its tables, filters and
    /// sort): written by `write` on first request at this revision, then served from
    /// memory. Blocks: call it off the async threads.
    pub fn workbook<E>(
        &self,
        key: &str,
        filtered: bool,
        write: impl FnOnce() -> Result<Bytes, E>,
    ) -> Result<Bytes, E> {
        let kept = if filtered {
            &self.filtered_workbooks
        } else {
            &self.workbooks
        };
        kept.get_or_build(key, write)
    }

    /// Each item's position in this order.
    pub fn rank(&self, key: SortKey) -> &[usize] {
        &self.ranks[key.index()]
    }

    /// Top-level items in this order.
    pub fn roots(&self, key: SortKey) -> impl Iterator<Item = usize> + '_ {
        self.root_orders[key.index()].iter().copied()
    }

    /// The rows of the funding views: items passing the filters, in this order. Without
    /// a kind filter, programmes and initiatives (their components roll up into them);
    /// asking for a kind lists exactly that kind.
    pub fn rows(&self, filters: &Filters, key: SortKey) -> Vec<usize> {
        let p = &self.portfolio;
        self.order(key)
            .iter()
            .copied()
            .filter(|&i| filters.kind.is_some() || p.items[i].parent_id.is_none())
            .filter(|&i| p.passes(i, filters))
            .collect()
    }

    /// Every item passing the filters, parents before their components.
    pub fn matching(&self, filters: &Filters) -> Vec<usize> {
        self.order(SortKey::Report)
            .iter()
            .copied()
            .filter(|&i| self.portfolio.passes(i, filters))
            .collect()
    }

    fn area_summaries(&self, records: &Records) -> Vec<AreaSummary> {
        let p = &self.portfolio;
        records
            .data
            .result_areas
            .iter()
            .map(|area| {
                let mut items: Vec<usize> = records
                    .alignments_of_area(area.id)
                    .filter_map(|a| p.index_of(a.item_id))
                    .collect();
                items.sort_unstable();
                items.dedup();
                AreaSummary::new(p, items)
            })
            .collect()
    }

    /// On the staff dashboard: what each total (the portfolio's, each place's and each
    /// result area's) owes to drafts, beside what delegates read in `published`.
    fn note_drafts(&mut self, published: &Dashboard) {
        // A draft here is what delegates do not see: an unpublished item, or a part of one.
        let drafts_among = |items: &[usize]| {
            items
                .iter()
                .filter(|&&i| {
                    let id = self.portfolio.items[i].id;
                    published.portfolio.index_of(id).is_none()
                })
                .count()
        };
        let portfolio_note = drafts_note(
            self.portfolio
                .items
                .len()
                .saturating_sub(published.portfolio.items.len()),
            &self.portfolio.total(),
            &published.portfolio.total(),
        );
        let area_notes: Vec<String> = self
            .areas
            .iter()
            .zip(&published.areas)
            .map(|(staff, seen)| {
                drafts_note(drafts_among(&staff.items), &staff.funding, &seen.funding)
            })
            .collect();
        let place_notes: Vec<(String, String)> = self
            .places
            .iter()
            .filter_map(|(name, staff)| {
                let seen = published.places.get(name)?;
                let note = drafts_note(drafts_among(&staff.items), &staff.funding, &seen.funding);
                Some((name.clone(), note))
            })
            .collect();
        self.drafts_note = portfolio_note;
        for (area, note) in self.areas.iter_mut().zip(area_notes) {
            area.drafts_note = note;
        }
        for (name, note) in place_notes {
            if let Some(place) = self.places.get_mut(&name) {
                place.drafts_note = note;
            }
        }
    }

    fn matrix(&self, records: &Records) -> HashMap<usize, (Vec<usize>, MatrixCell)> {
        let p = &self.portfolio;
        let rank: HashMap<&str, usize> = records
            .data
            .result_areas
            .iter()
            .enumerate()
            .map(|(i, a)| (a.code.as_str(), i))
            .collect();
        p.roots
            .iter()
            .map(|&root| {
                let mut served: Vec<usize> = std::iter::once(root)
                    .chain(p.descendants(root).into_iter().map(|(i, _)| i))
                    .flat_map(|i| p.items[i].facets.result_areas.iter())
                    .filter_map(|code| rank.get(code.as_str()).copied())
                    .collect();
                served.sort_unstable();
                served.dedup();
                let funding = p.funding_ref(root);
                let state = FundingState::of(funding);
                let cell = MatrixCell {
                    label: match funding.coverage {
                        Some(c) => format!("{} covered", percent(c)),
                        None => state.label().to_string(),
                    },
                    class: state.class(),
                };
                (root, (served, cell))
            })
            .collect()
    }

    fn place_summaries(&self, records: &Records) -> HashMap<String, PlaceSummary> {
        let p = &self.portfolio;
        let mut items_at: HashMap<&str, Vec<usize>> = HashMap::new();
        for &i in self.order(SortKey::Report) {
            for place in &p.items[i].facets.places {
                items_at.entry(place.as_str()).or_default().push(i);
            }
        }
        records
            .data
            .places
            .iter()
            .map(|place| {
                let items = items_at.remove(place.name.as_str()).unwrap_or_default();
                (place.name.clone(), PlaceSummary::new(p, items))
            })
            .collect()
    }

    /// How a place's kind reads.
    pub fn place_label(kind: PlaceKind) -> &'static str {
        kind.label()
    }

    /// An organisation's money as this audience sees it (nothing for an unknown id);
    /// `records` are this snapshot's, from which the summaries are built on first use.
    pub fn organisation(&self, records: &Records, id: i64) -> &OrganisationSummary {
        static NONE: OrganisationSummary = OrganisationSummary {
            contributions: Vec::new(),
            totals: Vec::new(),
            currencies: String::new(),
        };
        self.organisations
            .get_or_init(|| organisation::summaries(&self.portfolio, records))
            .get(&id)
            .unwrap_or(&NONE)
    }

    /// Whether this audience may see the organisation: staff see every one, delegates
    /// those that fund or take part in an item they see.
    pub fn shows_organisation(&self, slug: &str) -> bool {
        self.shown
            .as_ref()
            .is_none_or(|s| s.organisations.contains(slug))
    }

    /// Whether this audience may see the place: staff see every one, delegates those of
    /// an item they see.
    pub fn shows_place(&self, name: &str) -> bool {
        self.shown.as_ref().is_none_or(|s| s.places.contains(name))
    }

    /// Organisations (by position in the records) by name and acronym; archived ones and
    /// those this audience may not see never match, so a search's limit counts only hits
    /// it may show.
    pub fn organisation_search(&self, records: &Records) -> &TextIndex {
        self.organisation_search.get_or_init(|| {
            TextIndex::new(records.data.organisations.iter().map(|o| {
                if o.archived || !self.shows_organisation(&o.slug) {
                    String::new()
                } else {
                    format!("{}\n{}", o.name, o.acronym.as_deref().unwrap_or(""))
                }
            }))
        })
    }

    /// Places (by position in the records) by name, those this audience may see.
    pub fn place_search(&self, records: &Records) -> &TextIndex {
        self.place_search.get_or_init(|| {
            TextIndex::new(records.data.places.iter().map(|p| {
                if self.shows_place(&p.name) {
                    p.name.clone()
                } else {
                    String::new()
                }
            }))
        })
    }

    /// The items' search index.
    pub fn search_index(&self, records: &Records) -> &TextIndex {
        self.search_index.get_or_init(|| {
            TextIndex::new(self.portfolio.items.iter().map(|it| {
                let summary = records
                    .item_by_slug(&it.slug)
                    .map_or("", |r| r.summary.as_str());
                format!("{}\n{}\n{}", it.title, summary, it.slug)
            }))
        })
    }

    /// Item `i` as a list shows it.
    pub fn line(&self, i: usize) -> ItemLine<'_> {
        let item = &self.portfolio.items[i];
        ItemLine {
            slug: &item.slug,
            title: &item.title,
            draft: !item.published,
            kind: &self.kind_labels[i],
            status: &self.status_labels[i],
            funding: &self.views[i],
        }
    }

    /// Whether an item is unfunded or seeking funding (the funding page's short list).
    pub fn needs_funding(&self, i: usize) -> bool {
        self.portfolio.items[i].status == ItemStatus::SeekingFunding
            || FundingState::of(self.portfolio.funding_ref(i)) == FundingState::Unfunded
    }
}

/// The items (of any kind, components included) with the largest known gaps.
fn largest_gaps(p: &Portfolio, views: &[FundingView], n: usize) -> Vec<GapRow> {
    let mut with_gap: Vec<usize> = (0..p.items.len())
        .filter(|&i| p.funding_ref(i).gap_usd.is_some_and(|g| g > Decimal::ZERO))
        // a parent's gap is its components' gaps: list the parts, not the sums
        .filter(|&i| p.children[i].is_empty())
        .collect();
    with_gap.sort_by(|&a, &b| {
        p.funding_ref(b)
            .gap_usd
            .cmp(&p.funding_ref(a).gap_usd)
            .then(a.cmp(&b))
    });
    with_gap
        .into_iter()
        .take(n)
        .map(|i| GapRow {
            slug: p.items[i].slug.clone(),
            title: p.items[i].title.clone(),
            draft: !p.items[i].published,
            gap: views[i].gap.clone(),
            coverage: views[i].coverage.clone(),
        })
        .collect()
}
