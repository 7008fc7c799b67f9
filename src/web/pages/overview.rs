//! `/`: headline totals and every programme and initiative with its components.

use askama::Template;
use axum::response::Html;
use serde::Deserialize;

use crate::domain::auth::Audience;
use crate::web::auth::Nav;
use crate::web::charts::StackedBar;
use crate::web::charts::over_time::FundingOverTime;
use crate::web::dashboard::{Dashboard, GapRow, ItemLine, SortKey};
use crate::web::forms::HtmlQuery;
use crate::web::pages::activity::ActivityEntry;
use crate::web::pages::delivery::DeliveryWatch;
use crate::web::snapshot::Snap;
use crate::web::view::{FundingView, Pager, SortLink};
use crate::web::{AppError, AppState};
use axum::extract::State;

use super::render;

/// Top-level items per page (each with its components).
const PAGE_SIZE: usize = 25;

#[derive(Debug, Deserialize)]
pub struct Params {
    sort: Option<String>,
    page: Option<String>,
}

/// Parses a 1-based page number; anything else is a 400 that says what was wrong.
pub fn parse_page(value: Option<&str>) -> Result<usize, AppError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(1),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|p| *p >= 1 && *p <= 1_000_000)
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "“{v}” is not a page number: use a whole number from 1."
                ))
            }),
    }
}

/// One item's row of the table; rendered once per revision ([`Dashboard::overview_rows`]).
pub struct Row<'a> {
    pub item: ItemLine<'a>,
    pub depth: usize,
    pub has_children: bool,
    pub result_areas: &'a str,
}

#[derive(Template)]
#[template(path = "partials/overview_row.html")]
pub struct RowHtml<'a> {
    pub row: Row<'a>,
}

/// Every item's overview row as HTML, in portfolio order.
pub fn render_rows(d: &Dashboard) -> Vec<String> {
    let p = &d.portfolio;
    (0..p.items.len())
        .map(|i| {
            let row = Row {
                item: d.line(i),
                depth: p.ancestors(i).count(),
                has_children: !p.children[i].is_empty(),
                result_areas: &d.area_codes[i],
            };
            RowHtml { row }.render().unwrap_or_else(|e| {
                tracing::error!("rendering an overview row: {e}");
                String::new()
            })
        })
        .collect()
}

#[derive(Template)]
#[template(path = "overview.html")]
pub struct OverviewPage<'a> {
    pub nav: Nav,
    pub largest_gaps: &'a [GapRow],
    pub budgeted_parts: usize,
    pub parts: usize,
    pub drafts_note: &'a str,
    pub pipeline: StackedBar,
    pub over_time: &'a Option<FundingOverTime>,
    pub recent: &'a [ActivityEntry],
    pub total: &'a FundingView,
    pub programme_count: usize,
    pub initiative_count: usize,
    pub component_count: usize,
    /// The page's rows, pre-rendered.
    pub rows: Vec<&'a str>,
    pub sorts: Vec<SortLink>,
    pub pager: Pager,
    /// Staff only: what is due, overdue or slipped.
    pub watch: Option<DeliveryWatch>,
    pub today: String,
}

pub async fn show(
    State(state): State<AppState>,
    snap: Snap,
    audience: Audience,
    nav: Nav,
    HtmlQuery(params): HtmlQuery<Params>,
) -> Result<Html<String>, AppError> {
    let sort = SortKey::parse(params.sort.as_deref().unwrap_or(""), &SortKey::ALL)?;
    let page = parse_page(params.page.as_deref())?;
    let d = snap.dashboard(audience);
    let p = &d.portfolio;
    let pager = Pager::new(
        page,
        p.roots.len(),
        PAGE_SIZE,
        format!("/?sort={}", sort.as_str()),
    )?;
    let range = pager.range();
    let html = d.overview_rows();
    let rows = d
        .roots(sort)
        .skip(range.start)
        .take(range.len())
        .flat_map(|r| std::iter::once(r).chain(p.descendants(r).into_iter().map(|(i, _)| i)))
        .map(|i| html[i].as_str())
        .collect();
    let today = state.today();
    let watch = nav
        .is_staff
        .then(|| DeliveryWatch::of(&snap.records.data.delivery, p, today));
    render(&OverviewPage {
        watch,
        today: today.format("%-d %B %Y").to_string(),
        nav,
        largest_gaps: &d.largest_gaps,
        budgeted_parts: d.budgeted_parts,
        drafts_note: &d.drafts_note,
        parts: d.parts,
        pipeline: d.pipeline.clone(),
        over_time: &d.over_time,
        recent: &d.recent_changes,
        total: &d.total,
        programme_count: d.programme_count,
        initiative_count: d.initiative_count,
        component_count: d.component_count,
        rows,
        sorts: SortLink::all(&SortKey::ALL, sort),
        pager,
    })
}
