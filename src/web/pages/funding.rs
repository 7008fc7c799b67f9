//! `/funding`: funding status for delegates — by programme, by donor, by result area, by
//! country or region and by biennium — under bookmarkable filters, with the unfunded and
//! "seeking funding" items ranked by gap, and a CSV of every table.

use crate::web::forms::HtmlQuery;
use askama::Template;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::cmp::Ordering;
use std::collections::HashMap;

use crate::domain::auth::Audience;
use crate::domain::filters::{Biennium, Filters, FundingState, RawFilters};
use crate::domain::funding::Funding;
use crate::domain::money::{format_money, two_places};
use crate::domain::portfolio::{Facets, Portfolio};
use crate::domain::vocab::{ItemKind, ItemStatus, TITLE_NOT_GIVEN};
use crate::store::dashboards::{self, FilterValues};
use crate::web::auth::Nav;
use crate::web::charts::{StackedBar, stacked_bar};
use crate::web::pages::overview::parse_page;
use crate::web::view::{FundingView, kind_label, status_label};
use crate::web::{AppError, AppState};

use super::render;

const PAGE_SIZE: usize = 50;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Params {
    #[serde(flatten)]
    filters: RawFilters,
    sort: String,
    page: String,
    table: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Gap,
    Budget,
    Coverage,
    Title,
}

impl Sort {
    const ALL: [(Sort, &'static str, &'static str); 4] = [
        (Sort::Gap, "gap", "Largest gap"),
        (Sort::Budget, "budget", "Largest budget"),
        (Sort::Coverage, "coverage", "Lowest coverage"),
        (Sort::Title, "title", "Title"),
    ];

    fn parse(raw: &str) -> Result<Sort, AppError> {
        if raw.is_empty() {
            return Ok(Sort::Gap);
        }
        Sort::ALL
            .iter()
            .find(|(_, k, _)| *k == raw)
            .map(|(s, _, _)| *s)
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "Unknown sort “{raw}”. Use one of: {}.",
                    Sort::ALL.map(|(_, k, _)| k).join(", ")
                ))
            })
    }
}

/// Checks the open filters (codes, slugs, names) against what exists.
fn check_known(filters: &Filters, known: &FilterValues) -> Result<(), AppError> {
    let unknown = |what: &str, value: &str| {
        Err(AppError::BadRequest(format!(
            "There is no {what} “{value}”. Choose one from the filter menus."
        )))
    };
    if let Some(t) = &filters.theme
        && !known.themes.iter().any(|(c, _)| c == t)
    {
        return unknown("theme", t);
    }
    if let Some(r) = &filters.result_area
        && !known.result_areas.iter().any(|(c, _)| c == r)
    {
        return unknown("result area", r);
    }
    if let Some(o) = &filters.organisation
        && !known.organisations.iter().any(|(s, _)| s == o)
    {
        return unknown("organisation", o);
    }
    if let Some(p) = &filters.place
        && !known.places.contains(p)
    {
        return unknown("country or region", p);
    }
    Ok(())
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct FilterControl {
    pub name: &'static str,
    pub label: &'static str,
    pub any: &'static str,
    pub choices: Vec<Choice>,
}

fn control(
    name: &'static str,
    label: &'static str,
    any: &'static str,
    current: Option<&str>,
    options: Vec<(String, String)>,
) -> FilterControl {
    FilterControl {
        name,
        label,
        any,
        choices: options
            .into_iter()
            .map(|(value, label)| Choice {
                selected: current == Some(value.as_str()),
                value,
                label,
            })
            .collect(),
    }
}

fn controls(filters: &Filters, known: &FilterValues) -> Vec<FilterControl> {
    let titled = |code: &String, title: &Option<String>| {
        format!("{code} {}", title.as_deref().unwrap_or(TITLE_NOT_GIVEN))
    };
    vec![
        control(
            "kind",
            "Kind",
            "Any kind",
            filters.kind.map(|k| k.as_str()),
            ItemKind::ALL
                .iter()
                .map(|k| (k.as_str().into(), k.label().into()))
                .collect(),
        ),
        control(
            "status",
            "Status",
            "Any status",
            filters.status.map(|s| s.as_str()),
            ItemStatus::ALL
                .iter()
                .map(|s| (s.as_str().into(), s.label().into()))
                .collect(),
        ),
        control(
            "theme",
            "Theme",
            "Any theme",
            filters.theme.as_deref(),
            known
                .themes
                .iter()
                .map(|(c, t)| (c.clone(), format!("Theme {}", titled(c, t))))
                .collect(),
        ),
        control(
            "result_area",
            "Result area",
            "Any result area",
            filters.result_area.as_deref(),
            known
                .result_areas
                .iter()
                .map(|(c, t)| (c.clone(), titled(c, t)))
                .collect(),
        ),
        control(
            "organisation",
            "Organisation",
            "Any organisation",
            filters.organisation.as_deref(),
            known
                .organisations
                .iter()
                .map(|(s, n)| (s.clone(), n.clone()))
                .collect(),
        ),
        control(
            "place",
            "Country or region",
            "Anywhere",
            filters.place.as_deref(),
            known
                .places
                .iter()
                .map(|p| (p.clone(), p.clone()))
                .collect(),
        ),
        control(
            "biennium",
            "Biennium",
            "Any biennium",
            filters.biennium.map(|b| b.as_str()),
            Biennium::ALL
                .iter()
                .map(|b| (b.as_str().into(), b.as_str().into()))
                .collect(),
        ),
        control(
            "funding",
            "Funding",
            "Any funding state",
            filters.funding.map(|f| f.as_str()),
            FundingState::ALL
                .iter()
                .map(|f| (f.as_str().into(), f.label().into()))
                .collect(),
        ),
    ]
}

/// One line per active filter, for the page (and the printout) to say what is shown.
fn describe(controls: &[FilterControl]) -> Vec<String> {
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

pub struct ItemRow {
    pub slug: String,
    pub title: String,
    pub kind: String,
    pub status: String,
    pub result_areas: String,
    pub funding: FundingView,
    pub bar: StackedBar,
}

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
    pub contributions: i64,
    pub currencies: String,
    pub bar: StackedBar,
}

pub struct SortLink {
    pub key: &'static str,
    pub label: &'static str,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "funding.html")]
pub struct FundingPage {
    pub nav: Nav,
    pub controls: Vec<FilterControl>,
    pub active: Vec<String>,
    pub total: FundingView,
    pub rows: Vec<ItemRow>,
    pub row_count: usize,
    pub page: usize,
    pub pages: usize,
    pub sorts: Vec<SortLink>,
    pub sort: &'static str,
    /// The filters as `a=b&` (empty without filters), to prefix sort, page and table.
    pub query_prefix: String,
    pub donors: Vec<DonorRow>,
    pub themes: Vec<GroupRow>,
    pub areas: Vec<GroupRow>,
    pub places: Vec<GroupRow>,
    pub bienniums: Vec<GroupRow>,
    pub unfunded: Vec<ItemRow>,
    pub generated: String,
}

/// Everything the page and the CSV share: the filtered, sorted rows and their groupings.
struct View {
    portfolio: std::sync::Arc<Portfolio>,
    filters: Filters,
    known: FilterValues,
    rows: Vec<usize>,
    sort: Sort,
}

async fn view(state: &AppState, audience: Audience, params: &Params) -> Result<View, AppError> {
    let filters = params.filters.parse().map_err(AppError::BadRequest)?;
    let sort = Sort::parse(&params.sort)?;
    let known = dashboards::filter_values(&state.pool).await?;
    check_known(&filters, &known)?;
    let portfolio = state.portfolio(audience).await?;
    // Without a kind filter, list programmes and initiatives (their components roll up
    // into them); asking for a kind lists exactly that kind.
    let mut rows: Vec<usize> = portfolio
        .matching(&filters)
        .into_iter()
        .filter(|&i| filters.kind.is_some() || portfolio.items[i].parent_id.is_none())
        .collect();
    rows.sort_by(|&a, &b| compare(&portfolio, sort, a, b));
    Ok(View {
        portfolio,
        filters,
        known,
        rows,
        sort,
    })
}

fn compare(p: &Portfolio, sort: Sort, a: usize, b: usize) -> Ordering {
    let (fa, fb) = (p.funding(a), p.funding(b));
    let known_desc = |x: Option<Decimal>, y: Option<Decimal>| match (x, y) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    let by = match sort {
        Sort::Gap => known_desc(fa.gap_usd, fb.gap_usd),
        Sort::Budget => known_desc(fa.budget_usd, fb.budget_usd),
        Sort::Coverage => known_desc(fa.coverage.map(|c| -c), fb.coverage.map(|c| -c)),
        Sort::Title => p.items[a]
            .title
            .to_lowercase()
            .cmp(&p.items[b].title.to_lowercase()),
    };
    by.then(a.cmp(&b))
}

/// The bar scale: the largest budget or pledge among the rows shown together.
fn scale<'a>(fundings: impl Iterator<Item = &'a Funding>) -> Decimal {
    fundings
        .map(|f| f.budget_usd.unwrap_or_default().max(f.pledged_usd))
        .max()
        .unwrap_or_default()
}

fn item_row(p: &Portfolio, i: usize, scale: Decimal) -> ItemRow {
    let item = &p.items[i];
    let funding = p.funding(i);
    ItemRow {
        slug: item.slug.clone(),
        title: item.title.clone(),
        kind: kind_label(&item.kind),
        status: status_label(&item.status),
        result_areas: item.facets.result_areas.join(", "),
        bar: stacked_bar(&funding, scale),
        funding: FundingView::from(&funding),
    }
}

/// Items and their descendants, each once: the money under a set of rows.
fn with_descendants(p: &Portfolio, rows: &[usize]) -> Vec<usize> {
    let mut all: Vec<usize> = rows
        .iter()
        .flat_map(|&r| std::iter::once(r).chain(p.descendants(r).into_iter().map(|(i, _)| i)))
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

fn ids(p: &Portfolio, rows: &[usize]) -> Vec<i64> {
    rows.iter().map(|&i| p.items[i].id).collect()
}

/// Groups rows by a key (a row may fall in several groups); each group's money counts
/// each part once.
fn groups(
    p: &Portfolio,
    rows: &[usize],
    keys: impl Fn(usize) -> Vec<(String, String)>,
) -> Vec<(String, String, Vec<i64>)> {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut members: HashMap<String, Vec<i64>> = HashMap::new();
    for &r in rows {
        for (key, href) in keys(r) {
            if !members.contains_key(&key) {
                order.push((key.clone(), href));
            }
            members.entry(key).or_default().push(p.items[r].id);
        }
    }
    order
        .into_iter()
        .map(|(key, href)| {
            let ids = members.remove(&key).unwrap_or_default();
            (key, href, ids)
        })
        .collect()
}

fn group_rows(p: &Portfolio, grouped: Vec<(String, String, Vec<i64>)>) -> Vec<GroupRow> {
    let fundings: Vec<Funding> = grouped.iter().map(|(_, _, ids)| p.combined(ids)).collect();
    let scale = scale(fundings.iter());
    grouped
        .into_iter()
        .zip(fundings)
        .map(|((label, href, ids), f)| GroupRow {
            label,
            href,
            items: ids.len(),
            bar: stacked_bar(&f, scale),
            funding: FundingView::from(&f),
        })
        .collect()
}

/// Rows grouped by a coded facet (themes, result areas), each group labelled with the
/// code's title (or that the source gives none), in strategy order of the codes.
fn coded_grouping(
    v: &View,
    codes: impl Fn(&Facets) -> &[String],
    known: &[(String, Option<String>)],
    label: impl Fn(&str, &str) -> (String, String),
) -> Vec<(String, String, Vec<i64>)> {
    let titles: HashMap<&str, &Option<String>> =
        known.iter().map(|(c, t)| (c.as_str(), t)).collect();
    let mut grouped = groups(&v.portfolio, &v.rows, |r| {
        codes(&v.portfolio.items[r].facets)
            .iter()
            .map(|code| {
                let title = titles
                    .get(code.as_str())
                    .and_then(|t| t.as_deref())
                    .unwrap_or(TITLE_NOT_GIVEN);
                label(code, title)
            })
            .collect()
    });
    grouped.sort_by_key(|g| area_order(&g.0));
    grouped
}

/// Rows grouped by strategy theme.
fn theme_grouping(v: &View) -> Vec<(String, String, Vec<i64>)> {
    coded_grouping(
        v,
        |f| &f.themes,
        &v.known.themes,
        |code, title| {
            (
                format!("Theme {code}: {title}"),
                format!("/funding?theme={code}"),
            )
        },
    )
}

/// Rows grouped by result area.
fn area_grouping(v: &View) -> Vec<(String, String, Vec<i64>)> {
    coded_grouping(
        v,
        |f| &f.result_areas,
        &v.known.result_areas,
        |code, title| (format!("{code} {title}"), format!("/result-areas/{code}")),
    )
}

/// The code's numbers in a group label: "3.10 ..." sorts after "3.9 ...", "Theme 2: ..."
/// before "Theme 3: ...".
fn area_order(label: &str) -> Vec<u32> {
    label
        .split_whitespace()
        .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or("")
        .trim_end_matches(':')
        .split('.')
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// Rows grouped by country or region, alphabetically.
fn place_grouping(v: &View) -> Vec<(String, String, Vec<i64>)> {
    let mut grouped = groups(&v.portfolio, &v.rows, |r| {
        v.portfolio.items[r]
            .facets
            .places
            .iter()
            .map(|name| (name.clone(), crate::web::view::place_href(name)))
            .collect()
    });
    grouped.sort_by(|a, b| a.0.cmp(&b.0));
    grouped
}

/// Rows grouped by the biennium their period overlaps (their own or an ancestor's).
fn biennium_grouping(v: &View) -> Vec<(String, String, Vec<i64>)> {
    groups(&v.portfolio, &v.rows, |r| {
        let (start, end) = v.portfolio.effective_dates(r);
        let keys: Vec<(String, String)> = Biennium::ALL
            .iter()
            .filter(|b| b.overlaps(start, end))
            .map(|b| {
                (
                    b.as_str().to_string(),
                    format!("/funding?biennium={}", b.as_str()),
                )
            })
            .collect();
        if keys.is_empty() {
            vec![("Dates not stated".to_string(), String::new())]
        } else {
            keys
        }
    })
}

fn donor_rows(v: &View) -> Vec<DonorRow> {
    let donors = v.portfolio.donors(&with_descendants(&v.portfolio, &v.rows));
    let top = donors
        .iter()
        .map(|d| d.pledged_usd)
        .max()
        .unwrap_or_default();
    donors
        .into_iter()
        .map(|d| DonorRow {
            bar: crate::web::charts::pipeline_bar(d.paid_usd, d.firm_usd, d.pledged_usd, top),
            pledged: format_money(d.pledged_usd, "USD"),
            firm: format_money(d.firm_usd, "USD"),
            paid: format_money(d.paid_usd, "USD"),
            kind: crate::web::view::org_kind_label(&d.kind),
            contributions: d.contributions,
            currencies: d.currencies.join(", "),
            name: d.name,
            slug: d.slug,
        })
        .collect()
}

pub async fn show(
    State(state): State<AppState>,
    audience: Audience,
    nav: Nav,
    HtmlQuery(params): HtmlQuery<Params>,
) -> Result<Html<String>, AppError> {
    let page = parse_page(Some(&params.page))?;
    let v = view(&state, audience, &params).await?;
    let pages = v.rows.len().div_ceil(PAGE_SIZE).max(1);
    if page > pages {
        return Err(AppError::NotFound);
    }
    let shown: Vec<usize> = v
        .rows
        .iter()
        .copied()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();
    let fundings: Vec<Funding> = shown.iter().map(|&i| v.portfolio.funding(i)).collect();
    let row_scale = scale(fundings.iter());
    let rows = shown
        .iter()
        .map(|&i| item_row(&v.portfolio, i, row_scale))
        .collect();
    let mut unfunded: Vec<usize> = v
        .rows
        .iter()
        .copied()
        .filter(|&i| {
            v.portfolio.items[i].status == ItemStatus::SeekingFunding.as_str()
                || FundingState::of(&v.portfolio.funding(i)) == FundingState::Unfunded
        })
        .collect();
    unfunded.sort_by(|&a, &b| compare(&v.portfolio, Sort::Gap, a, b));
    let unfunded_scale = scale(
        unfunded
            .iter()
            .map(|&i| v.portfolio.funding(i))
            .collect::<Vec<_>>()
            .iter(),
    );
    let controls = controls(&v.filters, &v.known);
    let query = query_string(&v.filters, &[]);
    render(&FundingPage {
        nav,
        active: describe(&controls),
        total: FundingView::from(&v.portfolio.combined(&ids(&v.portfolio, &v.rows))),
        row_count: v.rows.len(),
        rows,
        page,
        pages,
        sorts: Sort::ALL
            .iter()
            .map(|(s, key, label)| SortLink {
                key,
                label,
                current: *s == v.sort,
            })
            .collect(),
        sort: Sort::ALL
            .iter()
            .find(|(s, _, _)| *s == v.sort)
            .map_or("gap", |(_, k, _)| k),
        donors: donor_rows(&v),
        themes: group_rows(&v.portfolio, theme_grouping(&v)),
        areas: group_rows(&v.portfolio, area_grouping(&v)),
        places: group_rows(&v.portfolio, place_grouping(&v)),
        bienniums: group_rows(&v.portfolio, biennium_grouping(&v)),
        unfunded: unfunded
            .iter()
            .map(|&i| item_row(&v.portfolio, i, unfunded_scale))
            .collect(),
        generated: chrono::Utc::now().format("%d %B %Y, %H:%M UTC").to_string(),
        controls,
        query_prefix: if query.is_empty() {
            String::new()
        } else {
            format!("{query}&")
        },
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

/// `/funding.csv?table=...`: exactly the rows of that table under the current filters,
/// all pages, RFC 4180, UTF-8, with labels people read and original and USD amounts.
pub async fn csv(
    State(state): State<AppState>,
    audience: Audience,
    HtmlQuery(params): HtmlQuery<Params>,
) -> Result<Response, AppError> {
    let v = view(&state, audience, &params).await?;
    let table = if params.table.is_empty() {
        "programmes"
    } else {
        params.table.as_str()
    };
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let write = |out: &mut csv::Writer<Vec<u8>>, record: Vec<String>| {
        out.write_record(&record)
            .map_err(|e| AppError::Internal(e.into()))
    };
    match table {
        "programmes" => write_items(&mut out, &state, &v, &v.rows).await?,
        // Every kind, components included, in the order the overview lists them.
        "items" => write_items(&mut out, &state, &v, &v.portfolio.matching(&v.filters)).await?,
        "contributions" => write_contributions(&mut out, &state, &v).await?,
        "donors" => {
            write(
                &mut out,
                vec![
                    "Organisation".into(),
                    "Kind".into(),
                    "Contributions".into(),
                    "Currencies".into(),
                    "Pledged (USD)".into(),
                    "Committed or paid (USD)".into(),
                    "Paid (USD)".into(),
                ],
            )?;
            for d in v.portfolio.donors(&with_descendants(&v.portfolio, &v.rows)) {
                write(
                    &mut out,
                    vec![
                        d.name,
                        crate::web::view::org_kind_label(&d.kind),
                        d.contributions.to_string(),
                        d.currencies.join(", "),
                        two_places(d.pledged_usd),
                        two_places(d.firm_usd),
                        two_places(d.paid_usd),
                    ],
                )?;
            }
        }
        "themes" | "result-areas" | "places" | "bienniums" => {
            let rows = match table {
                "themes" => grouped_funding(&v, theme_grouping(&v)),
                "result-areas" => grouped_funding(&v, area_grouping(&v)),
                "places" => grouped_funding(&v, place_grouping(&v)),
                _ => grouped_funding(&v, biennium_grouping(&v)),
            };
            let first = match table {
                "themes" => "Theme",
                "result-areas" => "Result area",
                "places" => "Country or region",
                _ => "Biennium",
            };
            let mut header = vec![first.to_string(), "Items".to_string()];
            header.extend(FUNDING_HEADER[4..].iter().map(|s| s.to_string()));
            write(&mut out, header)?;
            for (label, count, f) in rows {
                let mut record = vec![label, count.to_string()];
                record.extend(funding_cells(&f));
                write(&mut out, record)?;
            }
        }
        other => {
            return Err(AppError::BadRequest(format!(
                "Unknown table “{other}”. Use one of: programmes, items, contributions, donors, themes, result-areas, places, bienniums."
            )));
        }
    }
    let bytes = out
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("writing CSV: {e}")))?;
    let filename = format!("attachment; filename=\"portfolio-{table}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, filename),
        ],
        bytes,
    )
        .into_response())
}

fn csv_error(e: csv::Error) -> AppError {
    AppError::Internal(anyhow::anyhow!("writing CSV: {e}"))
}

/// One line per item: figures in USD, and the item's own stated amounts in their
/// original currencies.
async fn write_items(
    out: &mut csv::Writer<Vec<u8>>,
    state: &AppState,
    v: &View,
    rows: &[usize],
) -> Result<(), AppError> {
    let ids = ids(&v.portfolio, rows);
    let (budgets, contributions) = dashboards::original_amounts(&state.pool, &ids).await?;
    // Grouped once by item: a lookup per row, not a scan of every amount per row.
    let by_item = |list: Vec<(i64, Decimal, String)>| {
        let mut grouped: HashMap<i64, Vec<String>> = HashMap::new();
        for (item, amount, currency) in list {
            grouped
                .entry(item)
                .or_default()
                .push(format_money(amount, &currency));
        }
        grouped
    };
    let (budgets, contributions) = (by_item(budgets), by_item(contributions));
    let originals = |grouped: &HashMap<i64, Vec<String>>, id: i64| {
        grouped
            .get(&id)
            .map(|amounts| amounts.join("; "))
            .unwrap_or_default()
    };
    let mut header: Vec<&str> = FUNDING_HEADER.to_vec();
    header.extend([
        "Part of",
        "Stated budgets (original currency)",
        "Contributions (original currency)",
    ]);
    out.write_record(&header).map_err(csv_error)?;
    for &i in rows {
        let item = &v.portfolio.items[i];
        let parent = item
            .parent_id
            .and_then(|p| v.portfolio.index_of(p))
            .map(|p| v.portfolio.items[p].title.clone())
            .unwrap_or_default();
        let mut record = vec![
            item.title.clone(),
            kind_label(&item.kind),
            status_label(&item.status),
            item.facets.result_areas.join(", "),
        ];
        record.extend(funding_cells(&v.portfolio.funding(i)));
        record.extend([
            parent,
            originals(&budgets, item.id),
            originals(&contributions, item.id),
        ]);
        out.write_record(&record).map_err(csv_error)?;
    }
    Ok(())
}

/// One line per contribution to the items in view (and their components); with an
/// organisation filter, that organisation's contributions only.
async fn write_contributions(
    out: &mut csv::Writer<Vec<u8>>,
    state: &AppState,
    v: &View,
) -> Result<(), AppError> {
    let item_ids = ids(
        &v.portfolio,
        &with_descendants(&v.portfolio, &v.portfolio.matching(&v.filters)),
    );
    out.write_record([
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
    ])
    .map_err(csv_error)?;
    for c in dashboards::contributions_to(&state.pool, &item_ids, v.filters.organisation.as_deref())
        .await?
    {
        let title = v
            .portfolio
            .index_of(c.item_id)
            .map(|i| v.portfolio.items[i].title.clone())
            .unwrap_or_default();
        out.write_record([
            c.org_name,
            title,
            crate::domain::vocab::label_of(
                crate::domain::vocab::ContributionStatus::parse,
                &c.status,
            ),
            two_places(c.amount),
            c.currency,
            c.amount_usd.map(two_places).unwrap_or_default(),
            c.rate_month
                .map(|m| m.format("%Y-%m").to_string())
                .unwrap_or_default(),
            c.pledged_on.map(|d| d.to_string()).unwrap_or_default(),
            if c.self_financing {
                "yes".into()
            } else {
                "no".into()
            },
            if c.approximate {
                "yes".into()
            } else {
                "no".into()
            },
            c.source_para.unwrap_or_default(),
        ])
        .map_err(csv_error)?;
    }
    Ok(())
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

/// Figures as spreadsheet cells: plain decimals, empty when unknown.
fn funding_cells(f: &Funding) -> Vec<String> {
    vec![
        f.budget_usd.map(two_places).unwrap_or_default(),
        if f.budget_is_lower_bound {
            "yes".into()
        } else {
            "no".into()
        },
        two_places(f.pledged_usd),
        two_places(f.firm_usd),
        two_places(f.paid_usd),
        f.gap_usd.map(two_places).unwrap_or_default(),
        f.coverage
            .map(|c| (c * Decimal::ONE_HUNDRED).round_dp(1).to_string())
            .unwrap_or_default(),
        FundingState::of(f).label().to_string(),
    ]
}

fn grouped_funding(
    v: &View,
    grouped: Vec<(String, String, Vec<i64>)>,
) -> Vec<(String, usize, Funding)> {
    grouped
        .into_iter()
        .map(|(label, _, ids)| (label, ids.len(), v.portfolio.combined(&ids)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::area_order;

    #[test]
    fn group_labels_sort_by_their_code() {
        assert!(area_order("3.9 Something") < area_order("3.10 Other"));
        assert!(area_order("Theme 2: x") < area_order("Theme 10: y"));
        assert_eq!(
            area_order("Theme 3: title not given in the source"),
            vec![3]
        );
    }
}
