//! `/funding`: funding status for delegates — by programme, by donor, by result area, by
//! country or region and by biennium — under bookmarkable filters, with the unfunded and
//! "seeking funding" items ranked by gap, and a CSV of every table.
//!
//! Without filters every section comes precomputed with the revision
//! ([`Dashboard::funding_unfiltered`]); with filters, [`sections`] sums the precomputed
//! per-item tallies of the rows that pass.

use crate::domain::records::yes_no;
use askama::Template;
use axum::response::{Html, Response};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

use crate::domain::auth::Audience;
use crate::domain::filters::{Biennium, Filters, FundingState, RawFilters};
use crate::domain::funding::{Bound, Funding, Unconverted};
use crate::domain::money::{Currency, format_money, two_places};
use crate::domain::portfolio::DonorTotal;
use crate::domain::vocab::{Vocabulary, title_or_not_given};
use crate::web::AppError;
use crate::web::auth::Nav;
use crate::web::charts::{StackedBar, funding_length, pipeline_bar, stacked_bar};
use crate::web::dashboard::{Dashboard, FilterValues, ItemLine, Records, Snapshot, SortKey};
use crate::web::export::{self, Table, csv_line, csv_response, xlsx_response};
use crate::web::forms::HtmlQuery;
use crate::web::kept::{Weight, off_async};
use crate::web::pages::overview::parse_page;
use crate::web::snapshot::Snap;
use crate::web::view::{
    FundingView, MissingRate, Pager, SortLink, drafts_note, missing_rates_text, no_rate,
    not_converted, org_kind_label, place_href, usd_excluding,
};

use super::{ListQuery, render};

const PAGE_SIZE: usize = 50;
/// Longer lists show their head and point to the CSV for the rest.
const LIST_HEAD: usize = 25;

/// The sorts of the item table; the first is the default.
const SORTS: [SortKey; 4] = [
    SortKey::Gap,
    SortKey::Budget,
    SortKey::Coverage,
    SortKey::Title,
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Params {
    #[serde(flatten)]
    list: ListQuery,
    table: String,
}

/// The filters whose values are records (codes, slugs, names) rather than a closed
/// vocabulary, in menu order: the query name, and the menu's label and "any" choice. Both
/// the check and the menus go by this one list.
const OPEN_FILTERS: [(&str, &str, &str); 4] = [
    ("theme", "Theme", "Any theme"),
    ("result_area", "Result area", "Any result area"),
    ("organisation", "Organisation", "Any organisation"),
    ("place", "Country or region", "Anywhere"),
];

/// An open filter's current value, and the values (with their labels) that exist.
type OpenValues<'a> = (Option<&'a str>, &'a [(String, String)]);

/// Each open filter's values, as [`OPEN_FILTERS`] lists them.
fn open_values<'a>(filters: &'a Filters, known: &'a FilterValues) -> [OpenValues<'a>; 4] {
    [
        (filters.theme.as_deref(), &known.themes),
        (filters.result_area.as_deref(), &known.result_areas),
        (filters.organisation.as_deref(), &known.organisations),
        (filters.place.as_deref(), &known.places),
    ]
}

/// Checks the open filters against what exists.
fn check_known(filters: &Filters, known: &FilterValues) -> Result<(), AppError> {
    let open = OPEN_FILTERS.iter().zip(open_values(filters, known));
    for (&(_, label, _), (current, values)) in open {
        if let Some(value) = current
            && !values.iter().any(|(v, _)| v == value)
        {
            let what = label.to_lowercase();
            return Err(AppError::BadRequest(format!(
                "There is no {what} “{value}”. Choose one from the filter menu, or find it with Search and use the name in the address of its page."
            )));
        }
    }
    Ok(())
}

/// The filters of a dashboard query, checked against the vocabularies and what exists
/// for this audience (a draft's organisation is unknown to delegates, as if it did not
/// exist).
pub fn parse_filters(raw: &RawFilters, d: &Dashboard) -> Result<Filters, AppError> {
    let filters = raw.parse().map_err(AppError::BadRequest)?;
    check_known(&filters, &d.filter_values)?;
    Ok(filters)
}

pub struct Choice<'a> {
    pub value: &'a str,
    pub label: &'a str,
    pub selected: bool,
}

pub struct FilterControl<'a> {
    pub name: &'static str,
    pub label: &'static str,
    pub any: &'static str,
    pub choices: Vec<Choice<'a>>,
    /// Past [`MENU_LIMIT`] values a menu is a text field instead: the value as typed,
    /// and an example of one (`choices` then holds only the chosen value).
    pub typed: Option<(&'a str, &'a str)>,
}

/// Menus longer than this become text fields: thousands of organisations in a menu are
/// hard to use and would make every view of the page several hundred kilobytes.
const MENU_LIMIT: usize = 200;

fn control<'a>(
    name: &'static str,
    label: &'static str,
    any: &'static str,
    current: Option<&'a str>,
    options: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
) -> FilterControl<'a> {
    let mut options = options.peekable();
    if options.len() > MENU_LIMIT {
        let example = options.peek().map_or("", |(value, _)| *value);
        return FilterControl {
            name,
            label,
            any,
            // only the chosen value, so that the page can name it
            choices: options
                .filter(|(value, _)| current == Some(*value))
                .map(|(value, label)| Choice {
                    selected: true,
                    value,
                    label,
                })
                .collect(),
            typed: Some((current.unwrap_or(""), example)),
        };
    }
    FilterControl {
        name,
        label,
        any,
        choices: options
            .map(|(value, label)| Choice {
                selected: current == Some(value),
                value,
                label,
            })
            .collect(),
        typed: None,
    }
}

fn pairs(list: &[(String, String)]) -> impl ExactSizeIterator<Item = (&str, &str)> {
    list.iter().map(|(v, l)| (v.as_str(), l.as_str()))
}

/// The menu of a closed vocabulary.
fn vocabulary_control<'a, V: Vocabulary>(
    name: &'static str,
    label: &'static str,
    any: &'static str,
    current: Option<V>,
) -> FilterControl<'a> {
    let options = V::all().iter().map(|v| (v.as_str(), v.label()));
    control(name, label, any, current.map(V::as_str), options)
}

pub(crate) fn controls<'a>(
    filters: &'a Filters,
    known: &'a FilterValues,
) -> Vec<FilterControl<'a>> {
    let mut controls = vec![
        vocabulary_control("kind", "Kind", "Any kind", filters.kind),
        vocabulary_control("status", "Status", "Any status", filters.status),
    ];
    let open = OPEN_FILTERS.iter().zip(open_values(filters, known));
    controls.extend(open.map(|(&(name, label, any), (current, values))| {
        control(name, label, any, current, pairs(values))
    }));
    controls.extend([
        vocabulary_control("biennium", "Biennium", "Any biennium", filters.biennium),
        vocabulary_control("funding", "Funding", "Any funding state", filters.funding),
    ]);
    controls
}

/// One line per active filter, for the page (and the printout) to say what is shown.
pub(crate) fn describe(controls: &[FilterControl]) -> Vec<String> {
    controls
        .iter()
        .filter_map(|c| {
            c.choices
                .iter()
                .find(|ch| ch.selected)
                .map(|ch| format!("{}: {}", c.label, ch.label))
        })
        .collect()
}

pub struct ItemRow<'a> {
    pub item: ItemLine<'a>,
    pub bar: StackedBar,
}

/// A row of the unfunded list (owned: it is kept with the revision).
pub struct NeedRow {
    pub slug: String,
    pub title: String,
    pub draft: bool,
    pub status: String,
    pub funding: FundingView,
}

/// A group of rows (a theme, a place, ...) and its combined money.
pub struct Group {
    pub label: String,
    pub href: String,
    pub items: usize,
    pub funding: Funding,
}

/// A group as its table row shows it.
pub struct GroupRow {
    pub label: String,
    pub href: String,
    pub items: usize,
    pub funding: FundingView,
    pub bar: StackedBar,
}

pub struct DonorRow {
    pub name: String,
    pub slug: String,
    pub kind: String,
    pub pledged: String,
    pub firm: String,
    pub paid: String,
    /// Why some of its money is not in USD; empty when all of it is.
    pub not_converted: String,
    pub contributions: i64,
    pub currencies: String,
    pub bar: StackedBar,
}

/// Everything below the item table: it depends on the rows, not on their order or page.
/// Every group and donor is kept as figures (for the CSV); only the head of a long list
/// is formatted for the page.
#[derive(Default)]
pub struct FundingSections {
    pub total: FundingView,
    pub donors: Vec<DonorTotal>,
    pub donor_rows: Vec<DonorRow>,
    pub themes: Vec<Group>,
    pub theme_rows: Vec<GroupRow>,
    pub areas: Vec<Group>,
    pub area_rows: Vec<GroupRow>,
    pub places: Vec<Group>,
    pub place_rows: Vec<GroupRow>,
    pub bienniums: Vec<Group>,
    pub biennium_rows: Vec<GroupRow>,
    /// The largest gaps among the unfunded or seeking funding.
    pub unfunded: Vec<NeedRow>,
    pub unfunded_count: usize,
}

/// The bar scale: the longest bar (pledged plus gap) or budget among the rows shown
/// together. Not the largest budget or pledge: with a surplus in one part and a shortfall
/// in another, pledged plus gap exceeds both, and the gap would be drawn past the end.
fn scale<'a>(fundings: impl Iterator<Item = &'a Funding>) -> Decimal {
    fundings
        .map(|f| f.budget_usd.unwrap_or_default().max(funding_length(f)))
        .max()
        .unwrap_or_default()
}

/// Items and their descendants, each once: the money under a set of rows.
fn with_descendants(d: &Dashboard, rows: &[usize]) -> Vec<usize> {
    let p = &d.portfolio;
    let mut all: Vec<usize> = rows
        .iter()
        .flat_map(|&r| std::iter::once(r).chain(p.descendants(r).into_iter().map(|(i, _)| i)))
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Groups rows by keys (a row may fall in several groups); each group's money counts each
/// part once. Groups come in key order.
fn groups<K: Ord + Clone>(
    d: &Dashboard,
    rows: &[usize],
    keys: impl Fn(usize) -> Vec<K>,
    describe: impl Fn(&K) -> (String, String),
) -> Vec<Group> {
    let mut members: std::collections::BTreeMap<K, Vec<usize>> = Default::default();
    for &r in rows {
        for key in keys(r) {
            members.entry(key).or_default().push(r);
        }
    }
    members
        .into_iter()
        .map(|(key, items)| {
            let (label, href) = describe(&key);
            Group {
                label,
                href,
                items: items.len(),
                funding: d.portfolio.combined_indices(&items),
            }
        })
        .collect()
}

/// The first `limit` groups as table rows, their bars on one scale.
fn group_rows(groups: &[Group], limit: usize) -> Vec<GroupRow> {
    let scale = scale(groups.iter().map(|g| &g.funding));
    groups
        .iter()
        .take(limit)
        .map(|g| GroupRow {
            label: g.label.clone(),
            href: g.href.clone(),
            items: g.items,
            funding: FundingView::from(&g.funding),
            bar: stacked_bar(&g.funding, scale),
        })
        .collect()
}

/// Each record's position in its list, by its code or name.
fn ranks<'a, T>(list: &'a [T], key: impl Fn(&'a T) -> &'a String) -> HashMap<&'a str, usize> {
    list.iter()
        .enumerate()
        .map(|(i, record)| (key(record).as_str(), i))
        .collect()
}

/// The positions of an item's codes or names, leaving out any the lists do not hold.
fn ranked(values: &[String], ranks: &HashMap<&str, usize>) -> Vec<usize> {
    values
        .iter()
        .filter_map(|v| ranks.get(v.as_str()).copied())
        .collect()
}

/// The sections of `/funding` for these rows (programmes and initiatives, or one kind).
pub fn sections(d: &Dashboard, records: &Records, rows: &[usize]) -> FundingSections {
    let p = &d.portfolio;
    let data = &records.data;
    let area_rank = ranks(&data.result_areas, |a| &a.code);
    let theme_rank = ranks(&data.themes, |t| &t.code);
    let place_rank = ranks(&data.places, |pl| &pl.name);
    let themes = groups(
        d,
        rows,
        |r| ranked(&p.items[r].facets.themes, &theme_rank),
        |&rank| {
            let t = &data.themes[rank];
            (
                format!("Theme {}: {}", t.code, title_or_not_given(&t.title)),
                format!("/funding?theme={}", t.code),
            )
        },
    );
    let areas = groups(
        d,
        rows,
        |r| ranked(&p.items[r].facets.result_areas, &area_rank),
        |&rank| {
            let a = &data.result_areas[rank];
            (
                format!("{} {}", a.code, title_or_not_given(&a.title)),
                format!("/result-areas/{}", a.code),
            )
        },
    );
    let places = groups(
        d,
        rows,
        |r| ranked(&p.items[r].facets.places, &place_rank),
        |&rank| {
            let name = &data.places[rank].name;
            (name.clone(), place_href(name))
        },
    );
    // Bienniums in time order; items without dates last.
    let bienniums = groups(
        d,
        rows,
        |r| {
            let (start, end) = p.effective_dates(r);
            let keys: Vec<usize> = (0..Biennium::ALL.len())
                .filter(|&b| Biennium::ALL[b].overlaps(start, end))
                .collect();
            if keys.is_empty() {
                vec![Biennium::ALL.len()]
            } else {
                keys
            }
        },
        |&b| match Biennium::ALL.get(b) {
            Some(biennium) => (
                biennium.as_str().to_string(),
                format!("/funding?biennium={}", biennium.as_str()),
            ),
            None => ("Dates not stated".to_string(), String::new()),
        },
    );
    let mut unfunded: Vec<usize> = rows
        .iter()
        .copied()
        .filter(|&i| d.needs_funding(i))
        .collect();
    let gap_rank = d.rank(SortKey::Gap);
    unfunded.sort_by_key(|&i| gap_rank[i]);
    let donors = d.portfolio.donors(&with_descendants(d, rows));
    FundingSections {
        total: FundingView::from(&p.combined_indices(rows)),
        donor_rows: donor_rows(&donors[..donors.len().min(LIST_HEAD)]),
        donors,
        theme_rows: group_rows(&themes, usize::MAX),
        themes,
        area_rows: group_rows(&areas, usize::MAX),
        areas,
        place_rows: group_rows(&places, LIST_HEAD),
        places,
        biennium_rows: group_rows(&bienniums, usize::MAX),
        bienniums,
        unfunded_count: unfunded.len(),
        unfunded: unfunded
            .iter()
            .take(LIST_HEAD)
            .map(|&i| NeedRow {
                slug: p.items[i].slug.clone(),
                draft: !p.items[i].published,
                title: p.items[i].title.clone(),
                status: d.status_labels[i].clone(),
                funding: d.views[i].clone(),
            })
            .collect(),
    }
}

/// Donors as table rows (largest first: the bars' scale is the first's pledge).
fn donor_rows(donors: &[DonorTotal]) -> Vec<DonorRow> {
    let top = donors.first().map(|d| d.pledged_usd).unwrap_or_default();
    donors
        .iter()
        .map(|d| DonorRow {
            bar: pipeline_bar(d.paid_usd, d.firm_usd, d.pledged_usd, top),
            pledged: usd_excluding(d.pledged_usd, &d.unconverted.pledged()),
            firm: usd_excluding(d.firm_usd, &d.unconverted.firm()),
            paid: usd_excluding(d.paid_usd, &d.unconverted.paid()),
            not_converted: not_converted(&d.unconverted),
            kind: org_kind_label(d.kind),
            contributions: d.contributions,
            currencies: d.currencies.join(", "),
            name: d.name.clone(),
            slug: d.slug.clone(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "funding.html")]
pub struct FundingPage<'a> {
    pub nav: Nav,
    pub active: &'a [String],
    /// Everything below the print line, rendered once per revision and view.
    pub content: &'a str,
    /// For admins (the content is the same for every role): rates the totals lack.
    pub missing_rates: &'a [MissingRate],
}

/// One view of `/funding` (its filters, sort and page), kept with the revision.
pub struct RenderedView {
    pub active: Vec<String>,
    pub content: String,
    pub missing_rates: Vec<MissingRate>,
}

impl Weight for RenderedView {
    /// The HTML is nearly all of it.
    fn weight(&self) -> usize {
        self.content.len()
    }
}

#[derive(Template)]
#[template(path = "funding_content.html")]
pub struct FundingContent<'a> {
    pub controls: Vec<FilterControl<'a>>,
    pub active: Vec<String>,
    pub total: &'a FundingView,
    /// For staff: what the totals owe to drafts (`view::drafts_note`).
    pub drafts_note: String,
    pub rows: Vec<ItemRow<'a>>,
    pub row_count: usize,
    pub pager: Pager,
    pub sorts: Vec<SortLink>,
    pub sort: &'static str,
    /// The filters as `a=b&` (empty without filters), to prefix sort, page and table.
    pub query_prefix: String,
    pub donors: &'a [DonorRow],
    pub donors_more: usize,
    pub themes: &'a [GroupRow],
    pub areas: &'a [GroupRow],
    pub places: &'a [GroupRow],
    pub places_more: usize,
    pub bienniums: &'a [GroupRow],
    pub unfunded: &'a [NeedRow],
    pub unfunded_more: usize,
}

pub async fn show(
    snap: Snap,
    audience: Audience,
    nav: Nav,
    HtmlQuery(params): HtmlQuery<Params>,
) -> Result<Html<String>, AppError> {
    let page = parse_page(Some(&params.list.page))?;
    let records = &snap.records;
    let d = snap.dashboard(audience);
    let filters = parse_filters(&params.list.filters, d)?;
    let sort = SortKey::parse(&params.list.sort, &SORTS)?;
    let query = query_string(&filters, &[]);
    let key = format!("{query}#{}#{page}", sort.as_str());
    let view = match d.funding_view(&key) {
        Some(view) => view,
        None => {
            // Staff read, beside each total, what delegates see of the same view.
            let delegates =
                (audience == Audience::Internal).then(|| snap.dashboard(Audience::Published));
            let view = render_view(d, delegates, records, &filters, sort, page)?;
            d.keep_funding_view(key, view)
        }
    };
    render(&FundingPage {
        nav,
        active: &view.active,
        content: &view.content,
        missing_rates: &view.missing_rates,
    })
}

/// Computes and renders one view of the page below its print line.
fn render_view(
    d: &Dashboard,
    delegates: Option<&Dashboard>,
    records: &Records,
    filters: &Filters,
    sort: SortKey,
    page: usize,
) -> Result<RenderedView, AppError> {
    let rows = d.rows(filters, sort);
    let query = query_string(filters, &[]);
    let query_prefix = if query.is_empty() {
        String::new()
    } else {
        format!("{query}&")
    };
    let pager = Pager::new(
        page,
        rows.len(),
        PAGE_SIZE,
        format!("/funding?{query_prefix}sort={}", sort.as_str()),
    )?;
    let shown = &rows[pager.range()];
    let row_scale = scale(shown.iter().map(|&i| d.portfolio.funding_ref(i)));
    let item_rows = shown
        .iter()
        .map(|&i| ItemRow {
            item: d.line(i),
            bar: stacked_bar(d.portfolio.funding_ref(i), row_scale),
        })
        .collect();
    let computed;
    let sections = if filters.is_empty() {
        &d.funding_unfiltered
    } else {
        computed = sections(d, records, &rows);
        &computed
    };
    let drafts_note = match delegates {
        Some(published) => {
            let drafts = with_descendants(d, &rows)
                .into_iter()
                .filter(|&i| !d.portfolio.items[i].published)
                .count();
            let seen = published
                .portfolio
                .combined_indices(&published.rows(filters, sort));
            drafts_note(drafts, &d.portfolio.combined_indices(&rows), &seen)
        }
        None => String::new(),
    };
    let controls = controls(filters, &d.filter_values);
    let active = describe(&controls);
    let missing_rates = sections.total.missing_rates.clone();
    let content = FundingContent {
        active: active.clone(),
        total: &sections.total,
        drafts_note,
        row_count: rows.len(),
        rows: item_rows,
        pager,
        sorts: SortLink::all(&SORTS, sort),
        sort: sort.as_str(),
        donors: &sections.donor_rows,
        donors_more: sections.donors.len() - sections.donor_rows.len(),
        themes: &sections.theme_rows,
        areas: &sections.area_rows,
        places: &sections.place_rows,
        places_more: sections.places.len() - sections.place_rows.len(),
        bienniums: &sections.biennium_rows,
        unfunded: &sections.unfunded,
        unfunded_more: sections.unfunded_count - sections.unfunded.len(),
        controls,
        query_prefix,
    }
    .render()?;
    Ok(RenderedView {
        active,
        content,
        missing_rates,
    })
}

/// `a=b&c=d` for the filters plus extra pairs, for links that keep the current view.
pub fn query_string(filters: &Filters, extra: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in filters.pairs() {
        s.append_pair(k, &v);
    }
    for (k, v) in extra {
        s.append_pair(k, v);
    }
    s.finish()
}

/// The tables `/funding.csv?table=` and `/funding.xlsx?table=` offer, with the name of
/// each one's sheet in a workbook.
const TABLES: [(&str, &str); 10] = [
    ("programmes", "Programmes and initiatives"),
    ("items", "All items"),
    ("contributions", "Contributions"),
    ("donors", "Donors"),
    ("themes", "Themes"),
    ("result-areas", "Result areas"),
    ("places", "Countries and regions"),
    ("bienniums", "Bienniums"),
    ("milestones", "Milestones"),
    ("targets", "Targets"),
];

/// The sheets of the funding status workbook: the page's own tables, in its order.
const PAGE_TABLES: [&str; 7] = [
    "programmes",
    "donors",
    "themes",
    "result-areas",
    "places",
    "bienniums",
    "contributions",
];

/// `/funding.csv?table=...`: exactly the rows of that table under the current filters,
/// all pages, RFC 4180, UTF-8, with labels people read and original and USD amounts.
/// Written row by row from the cached revision: memory stays flat in the number of rows.
pub async fn csv(
    snap: Snap,
    audience: Audience,
    HtmlQuery(params): HtmlQuery<Params>,
) -> Result<Response, AppError> {
    let filters = parse_filters(&params.list.filters, snap.dashboard(audience))?;
    let sort = SortKey::parse(&params.list.sort, &SORTS)?;
    let name = if params.table.is_empty() {
        "programmes"
    } else {
        params.table.as_str()
    };
    let snapshot: Arc<Snapshot> = snap.0;
    let (name, _) = table_named(name)?;
    let table = table(&snapshot, audience, &filters, sort, name);
    Ok(csv_response(
        snapshot,
        &format!("portfolio-{name}.csv"),
        table,
    ))
}

/// `/funding.xlsx`: the funding status page's view (its filters and sort) as one
/// workbook, a sheet per table; `?table=...` gives that table alone, as the CSV does.
/// Each view's workbook is written once per revision and served from memory after.
pub async fn xlsx(
    snap: Snap,
    audience: Audience,
    HtmlQuery(params): HtmlQuery<Params>,
) -> Result<Response, AppError> {
    let filters = parse_filters(&params.list.filters, snap.dashboard(audience))?;
    let sort = SortKey::parse(&params.list.sort, &SORTS)?;
    let snapshot: Arc<Snapshot> = snap.0;
    let names: Vec<&'static str> = if params.table.is_empty() {
        PAGE_TABLES.to_vec()
    } else {
        vec![table_named(&params.table)?.0]
    };
    let filename = match names.as_slice() {
        [one] => format!("portfolio-{one}.xlsx"),
        _ => "portfolio-funding.xlsx".to_string(),
    };
    // the checked values, not the raw query: one workbook per view however it is spelled
    let key = format!(
        "{}#{}#{}",
        names.join(","),
        query_string(&filters, &[]),
        sort.as_str()
    );
    let workbook = off_async(move || {
        let d = snapshot.dashboard(audience);
        d.workbook(&key, !filters.is_empty(), || {
            let sheets = names
                .iter()
                .map(|&name| {
                    let (name, sheet) = table_named(name)?;
                    Ok((sheet, table(&snapshot, audience, &filters, sort, name)))
                })
                .collect::<Result<Vec<_>, AppError>>()?;
            export::workbook(&snapshot, &sheets)
        })
    })
    .await?;
    Ok(xlsx_response(&filename, workbook))
}

/// The table called `name` and its sheet name, or a 400 that lists the tables.
fn table_named(name: &str) -> Result<(&'static str, &'static str), AppError> {
    TABLES
        .iter()
        .copied()
        .find(|(t, _)| *t == name)
        .ok_or_else(|| {
            let known: Vec<&str> = TABLES.iter().map(|(t, _)| *t).collect();
            AppError::BadRequest(format!(
                "Unknown table “{name}”. Use one of: {}.",
                known.join(", ")
            ))
        })
}

/// The rows of the table `name` (one of `TABLES`) under the filters.
fn table(
    snapshot: &Snapshot,
    audience: Audience,
    filters: &Filters,
    sort: SortKey,
    name: &str,
) -> Table {
    let d = snapshot.dashboard(audience);
    match name {
        "programmes" => item_table(audience, d.rows(filters, sort)),
        // Every kind, components included, in the order the overview lists them.
        "items" => item_table(audience, d.matching(filters)),
        "contributions" => contribution_table(snapshot, audience, filters),
        "donors" => donor_table(snapshot, audience, filters, sort),
        "milestones" => milestone_table(snapshot, audience, filters),
        "targets" => target_table(snapshot, audience, filters),
        _ => group_table(snapshot, audience, filters, sort, name),
    }
}

const FUNDING_HEADER: [&str; 12] = [
    "Title",
    "Kind",
    "Status",
    "Result areas",
    "Budget (USD)",
    "Budget is a lower bound",
    "Pledged (USD)",
    "Committed or paid (USD)",
    "Paid (USD)",
    "Gap (USD)",
    "Coverage (%)",
    "Funding state",
];

/// The columns that say which figures are bounds, last in a row (they came after the
/// others: the columns before them stay where spreadsheets expect them).
const BOUNDS_HEADER: [&str; 5] = [
    "Pledged is a lower bound",
    "Committed or paid is a lower bound",
    "Paid is a lower bound",
    "Gap is",
    "Coverage is",
];

/// Which figures are bounds: yes or no for the money, "at least", "at most",
/// "approximate" or "exact" for gap and coverage (empty when unknown).
fn bounds_cells(f: &Funding) -> [String; 5] {
    let bound = |known: bool, bound: Bound| {
        if known {
            bound.label().to_string()
        } else {
            String::new()
        }
    };
    [
        yes_no(f.pledged_is_lower_bound),
        yes_no(f.firm_is_lower_bound),
        yes_no(f.paid_is_lower_bound),
        bound(f.gap_usd.is_some(), f.gap_bound),
        bound(f.coverage.is_some(), f.coverage_bound),
    ]
}

/// The columns after the figures that say which money they leave out.
const NOT_CONVERTED_HEADER: [&str; 2] = ["Not converted (original currency)", "Why not converted"];

/// A USD figure as a cell: empty (not 0.00) when the only money behind it has no rate.
fn usd_cell(usd: Decimal, left_out: &[(Currency, Decimal)]) -> String {
    if usd.is_zero() && !left_out.is_empty() {
        String::new()
    } else {
        two_places(usd)
    }
}

/// The money a row's USD figures leave out, in its own currencies ("NOK 5000000.00", one
/// per figure and currency, joined with "; "), and why ("no NOK rate for March 2008").
fn not_converted_cells(unconverted: &Unconverted) -> [String; 2] {
    let sums: Vec<String> = [
        (unconverted.budget(), "budget"),
        (unconverted.pledged(), "pledged"),
    ]
    .iter()
    .flat_map(|(sums, figure)| {
        sums.iter()
            .map(move |(currency, amount)| format!("{currency} {} {figure}", two_places(*amount)))
    })
    .collect();
    [sums.join("; "), missing_rates_text(unconverted)]
}

/// Figures as spreadsheet cells: plain decimals, empty when unknown.
fn funding_cells(f: &Funding) -> Vec<String> {
    let left_out = &f.unconverted;
    vec![
        f.budget_usd.map(two_places).unwrap_or_default(),
        yes_no(f.budget_is_lower_bound),
        usd_cell(f.pledged_usd, &left_out.pledged()),
        usd_cell(f.firm_usd, &left_out.firm()),
        usd_cell(f.paid_usd, &left_out.paid()),
        f.gap_usd.map(two_places).unwrap_or_default(),
        f.coverage
            .map(|c| (c * Decimal::ONE_HUNDRED).round_dp(1).to_string())
            .unwrap_or_default(),
        FundingState::of(f).label().to_string(),
    ]
}

fn item_header() -> Vec<String> {
    let mut header: Vec<String> = FUNDING_HEADER.iter().map(|s| s.to_string()).collect();
    header.extend(
        [
            "Part of",
            "Stated budgets (original currency)",
            "Contributions (original currency)",
        ]
        .map(String::from),
    );
    header.extend(NOT_CONVERTED_HEADER.map(String::from));
    // last, so the columns before it stay where spreadsheets expect them
    header.push("Published".into());
    header.extend(BOUNDS_HEADER.map(String::from));
    header
}

/// Every item's CSV line, encoded, computed once per revision and audience on first use.
pub fn item_lines(d: &Dashboard, records: &Records) -> Vec<axum::body::Bytes> {
    (0..d.portfolio.items.len())
        .map(|i| csv_line(item_cells(d, records, i)))
        .collect()
}

/// The cells of an item's row: figures in USD, and the item's own stated amounts in
/// their original currencies.
fn item_cells(d: &Dashboard, records: &Records, i: usize) -> Vec<String> {
    let p = &d.portfolio;
    let item = &p.items[i];
    let parent = item
        .parent_id
        .and_then(|parent| p.index_of(parent))
        .map(|parent| p.items[parent].title.clone())
        .unwrap_or_default();
    let budgets: Vec<String> = records
        .budgets_of_item(item.id)
        .map(|b| format_money(b.amount, &b.currency))
        .collect();
    // in the order they were given, not by donor
    let mut contributions: Vec<_> = records.contributions_of_item(item.id).collect();
    contributions.sort_by_key(|c| c.as_of);
    let contributions: Vec<String> = contributions
        .iter()
        .map(|c| format_money(c.amount, &c.currency))
        .collect();
    let mut record = vec![
        item.title.clone(),
        d.kind_labels[i].clone(),
        d.status_labels[i].clone(),
        d.area_codes[i].clone(),
    ];
    record.extend(funding_cells(p.funding_ref(i)));
    record.extend([parent, budgets.join("; "), contributions.join("; ")]);
    record.extend(not_converted_cells(&p.funding_ref(i).unconverted));
    // staff read drafts too: say which
    record.push(yes_no(item.published));
    record.extend(bounds_cells(p.funding_ref(i)));
    record
}

/// One line per item; the CSV from the lines kept with the revision.
fn item_table(audience: Audience, rows: Vec<usize>) -> Table {
    Table::new(item_header(), rows, move |snapshot, i| {
        item_cells(snapshot.dashboard(audience), &snapshot.records, i)
    })
    .with_encoded_lines(move |snapshot, i, out| {
        let lines = snapshot
            .dashboard(audience)
            .csv_item_lines(&snapshot.records);
        out.extend_from_slice(&lines[i]);
    })
}

/// One line per contribution to the items in view (and their components); with an
/// organisation filter, that organisation's contributions only.
fn contribution_table(snapshot: &Snapshot, audience: Audience, filters: &Filters) -> Table {
    let d = snapshot.dashboard(audience);
    let records = &snapshot.records;
    let in_view = items_in_view(d, filters);
    let only_org = filters
        .organisation
        .as_deref()
        .and_then(|slug| records.organisation(slug))
        .map(|o| o.id);
    let org_name = |id: i64| {
        records
            .organisation_by_id(id)
            .map_or("", |o| o.name.as_str())
    };
    let mut rows: Vec<usize> = records
        .data
        .contributions
        .iter()
        .enumerate()
        .filter(|(_, c)| in_view.contains(&c.item_id) && only_org.is_none_or(|o| o == c.org_id))
        .map(|(i, _)| i)
        .collect();
    // by organisation, then date (the records come by date)
    rows.sort_by(|&a, &b| {
        let (ca, cb) = (
            &records.data.contributions[a],
            &records.data.contributions[b],
        );
        org_name(ca.org_id).cmp(org_name(cb.org_id))
    });
    let header = [
        "Organisation",
        "Item",
        "Status",
        "Amount",
        "Currency",
        "Amount (USD)",
        "Rate month",
        "Pledged on",
        "Self-financing",
        "Approximate",
        "Source",
        "Not converted",
        "Why not converted",
    ]
    .map(String::from)
    .to_vec();
    Table::new(header, rows, move |snapshot, i| {
        let records = &snapshot.records;
        let d = snapshot.dashboard(audience);
        let c = &records.data.contributions[i];
        let title = d
            .portfolio
            .index_of(c.item_id)
            .map(|i| d.portfolio.items[i].title.clone())
            .unwrap_or_default();
        vec![
            records
                .organisation_by_id(c.org_id)
                .map(|o| o.name.clone())
                .unwrap_or_default(),
            title,
            c.status.label().to_string(),
            two_places(c.amount),
            c.currency.clone(),
            c.amount_usd.map(two_places).unwrap_or_default(),
            c.rate_month
                .map(|m| m.format("%Y-%m").to_string())
                .unwrap_or_default(),
            c.pledged_on.map(|d| d.to_string()).unwrap_or_default(),
            yes_no(c.self_financing),
            yes_no(c.approximate),
            c.source_para.clone().unwrap_or_default(),
            yes_no(c.amount_usd.is_none()),
            if c.amount_usd.is_none() {
                no_rate(&c.currency, c.as_of)
            } else {
                String::new()
            },
        ]
    })
}

/// The ids of the items in view (and their components).
fn items_in_view(d: &Dashboard, filters: &Filters) -> std::collections::HashSet<i64> {
    with_descendants(d, &d.matching(filters))
        .into_iter()
        .map(|i| d.portfolio.items[i].id)
        .collect()
}

/// The title of the item with this id, in this audience's portfolio.
fn item_title(d: &Dashboard, item_id: i64) -> String {
    d.portfolio
        .index_of(item_id)
        .map(|i| d.portfolio.items[i].title.clone())
        .unwrap_or_default()
}

/// One line per milestone of the items in view, by due date: the date as written, the
/// first and last day of its period and its precision.
fn milestone_table(snapshot: &Snapshot, audience: Audience, filters: &Filters) -> Table {
    let d = snapshot.dashboard(audience);
    let in_view = items_in_view(d, filters);
    let delivery = &snapshot.records.data.delivery;
    let rows: Vec<usize> = (0..delivery.milestones.len())
        .filter(|&i| in_view.contains(&delivery.milestones[i].item_id))
        .collect();
    let header = [
        "Item",
        "Milestone",
        "Due",
        "Due from",
        "Due by",
        "Precision",
        "Status",
        "Done on",
        "Source",
        "Note",
    ]
    .map(String::from)
    .to_vec();
    Table::new(header, rows, move |snapshot, i| {
        let m = &snapshot.records.data.delivery.milestones[i];
        vec![
            item_title(snapshot.dashboard(audience), m.item_id),
            m.title.clone(),
            m.due.to_string(),
            m.due.first_day().to_string(),
            m.due.last_day().to_string(),
            m.due.precision().as_str().to_string(),
            m.status.label().to_string(),
            m.done_on.map(|d| d.to_string()).unwrap_or_default(),
            m.source_para.clone().unwrap_or_default(),
            m.note.clone().unwrap_or_default(),
        ]
    })
}

/// One line per target of the items in view, with its latest recorded value (empty when
/// none is recorded: unknown, not zero).
fn target_table(snapshot: &Snapshot, audience: Audience, filters: &Filters) -> Table {
    let d = snapshot.dashboard(audience);
    let in_view = items_in_view(d, filters);
    let delivery = &snapshot.records.data.delivery;
    let rows: Vec<usize> = (0..delivery.targets.len())
        .filter(|&i| in_view.contains(&delivery.targets[i].item_id))
        .collect();
    let header = [
        "Item",
        "What is counted",
        "Target",
        "By",
        "Current value",
        "Recorded on",
        "Source",
        "Note",
    ]
    .map(String::from)
    .to_vec();
    Table::new(header, rows, move |snapshot, i| {
        let t = &snapshot.records.data.delivery.targets[i];
        let latest = t.updates.last();
        vec![
            item_title(snapshot.dashboard(audience), t.item_id),
            t.measure.clone(),
            t.target_value.normalize().to_string(),
            t.period.map(|p| p.to_string()).unwrap_or_default(),
            latest
                .map(|u| u.value.normalize().to_string())
                .unwrap_or_default(),
            latest
                .map(|u| u.recorded_on.to_string())
                .unwrap_or_default(),
            t.source_para.clone().unwrap_or_default(),
            t.note.clone().unwrap_or_default(),
        ]
    })
}

/// Calls `f` with the sections for the filters (precomputed when there are none).
pub(crate) fn with_sections<T>(
    snapshot: &Snapshot,
    audience: Audience,
    filters: &Filters,
    sort: SortKey,
    f: impl FnOnce(&FundingSections) -> T,
) -> T {
    let d = snapshot.dashboard(audience);
    if filters.is_empty() {
        f(&d.funding_unfiltered)
    } else {
        f(&sections(d, &snapshot.records, &d.rows(filters, sort)))
    }
}

fn donor_table(snapshot: &Snapshot, audience: Audience, filters: &Filters, sort: SortKey) -> Table {
    let header = [
        "Organisation",
        "Kind",
        "Contributions",
        "Currencies",
        "Pledged (USD)",
        "Committed or paid (USD)",
        "Paid (USD)",
    ]
    .into_iter()
    .chain(NOT_CONVERTED_HEADER)
    .map(String::from)
    .collect();
    let lines: Vec<Vec<String>> = with_sections(snapshot, audience, filters, sort, |s| {
        s.donors
            .iter()
            .map(|d| {
                let mut line = vec![
                    d.name.clone(),
                    org_kind_label(d.kind),
                    d.contributions.to_string(),
                    d.currencies.join(", "),
                    usd_cell(d.pledged_usd, &d.unconverted.pledged()),
                    usd_cell(d.firm_usd, &d.unconverted.firm()),
                    usd_cell(d.paid_usd, &d.unconverted.paid()),
                ];
                line.extend(not_converted_cells(&d.unconverted));
                line
            })
            .collect()
    });
    Table::from_lines(header, lines)
}

fn group_table(
    snapshot: &Snapshot,
    audience: Audience,
    filters: &Filters,
    sort: SortKey,
    table: &str,
) -> Table {
    let first = match table {
        "themes" => "Theme",
        "result-areas" => "Result area",
        "places" => "Country or region",
        _ => "Biennium",
    };
    let lines = with_sections(snapshot, audience, filters, sort, |sections| {
        let groups = match table {
            "themes" => &sections.themes,
            "result-areas" => &sections.areas,
            "places" => &sections.places,
            _ => &sections.bienniums,
        };
        groups
            .iter()
            .map(|g| {
                let mut record = vec![g.label.clone(), g.items.to_string()];
                record.extend(funding_cells(&g.funding));
                record.extend(not_converted_cells(&g.funding.unconverted));
                record.extend(bounds_cells(&g.funding));
                record
            })
            .collect()
    });
    let mut header = vec![first.to_string(), "Items".to_string()];
    header.extend(FUNDING_HEADER[4..].iter().map(|s| s.to_string()));
    header.extend(NOT_CONVERTED_HEADER.map(String::from));
    header.extend(BOUNDS_HEADER.map(String::from));
    Table::from_lines(header, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_menus_become_text_fields() {
        let values: Vec<(String, String)> = (0..=MENU_LIMIT)
            .map(|i| (format!("org-{i}"), format!("Organisation {i}")))
            .collect();
        let long = control(
            "organisation",
            "Organisation",
            "Any organisation",
            Some("org-7"),
            pairs(&values),
        );
        assert_eq!(long.typed, Some(("org-7", "org-0")));
        assert_eq!(
            describe(&[long]),
            ["Organisation: Organisation 7"],
            "the page still names the chosen value"
        );

        let short = control(
            "organisation",
            "Organisation",
            "Any",
            Some("org-1"),
            pairs(&values[..3]),
        );
        assert_eq!(short.typed, None);
        assert_eq!(short.choices.len(), 3);
        assert!(short.choices[1].selected);
    }
}
