//! `/`: headline totals and every programme and initiative with its components.

use crate::web::forms::HtmlQuery;
use askama::Template;
use axum::extract::State;
use axum::response::Html;
use serde::Deserialize;
use std::cmp::Ordering;

use crate::domain::auth::Audience;
use crate::domain::portfolio::Portfolio;
use crate::store;
use crate::store::audit;
use crate::web::auth::Nav;
use crate::web::charts::{StackedBar, pipeline_bar};
use crate::web::pages::item::HistoryEntry;
use crate::web::view::{FundingView, kind_label, status_label};
use crate::web::{AppError, AppState};

use super::render;

const PAGE_SIZE: usize = 50;

/// How the table of programmes and initiatives is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    /// As the report lists them.
    Report,
    /// Largest gap first; unknown gaps last.
    Gap,
    /// Largest budget first; unknown budgets last.
    Budget,
    /// Lowest coverage first; unknown coverage last.
    Coverage,
    Title,
}

impl Sort {
    const CHOICES: [(Sort, &'static str, &'static str); 5] = [
        (Sort::Report, "report", "Report order"),
        (Sort::Gap, "gap", "Largest gap"),
        (Sort::Budget, "budget", "Largest budget"),
        (Sort::Coverage, "coverage", "Lowest coverage"),
        (Sort::Title, "title", "Title"),
    ];

    fn parse(value: Option<&str>) -> Result<Sort, AppError> {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Ok(Sort::Report);
        };
        Sort::CHOICES
            .iter()
            .find(|(_, key, _)| *key == value)
            .map(|(s, _, _)| *s)
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "Unknown sort “{value}”. Use one of: {}.",
                    Sort::CHOICES.map(|(_, key, _)| key).join(", ")
                ))
            })
    }

    fn key(self) -> &'static str {
        Sort::CHOICES
            .iter()
            .find(|(s, _, _)| *s == self)
            .map_or("report", |(_, k, _)| k)
    }
}

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

pub struct Row {
    pub slug: String,
    pub title: String,
    pub kind: String,
    pub status: String,
    pub depth: usize,
    pub has_children: bool,
    pub result_areas: String,
    pub funding: FundingView,
}

pub struct SortLink {
    pub key: &'static str,
    pub label: &'static str,
    pub current: bool,
}

pub struct GapRow {
    pub slug: String,
    pub title: String,
    pub gap: String,
    pub coverage: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    pub nav: Nav,
    pub largest_gaps: Vec<GapRow>,
    pub pipeline: StackedBar,
    pub recent: Vec<HistoryEntry>,
    pub total: FundingView,
    pub programme_count: usize,
    pub initiative_count: usize,
    pub component_count: usize,
    pub rows: Vec<Row>,
    pub sorts: Vec<SortLink>,
    pub sort: &'static str,
    pub page: usize,
    pub pages: usize,
}

pub async fn show(
    State(state): State<AppState>,
    audience: Audience,
    nav: Nav,
    HtmlQuery(params): HtmlQuery<Params>,
) -> Result<Html<String>, AppError> {
    let sort = Sort::parse(params.sort.as_deref())?;
    let page = parse_page(params.page.as_deref())?;
    let portfolio = state.portfolio(audience).await?;

    let mut roots = portfolio.roots.clone();
    roots.sort_by(|&a, &b| compare(&portfolio, sort, a, b));
    let pages = roots.len().div_ceil(PAGE_SIZE).max(1);
    if page > pages {
        return Err(AppError::NotFound);
    }
    let shown: Vec<usize> = roots
        .iter()
        .copied()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();
    let with_parts: Vec<(usize, usize)> = shown
        .iter()
        .flat_map(|&r| std::iter::once((r, 0)).chain(portfolio.descendants(r)))
        .collect();
    let ids: Vec<i64> = with_parts
        .iter()
        .map(|&(i, _)| portfolio.items[i].id)
        .collect();
    let codes = store::items::result_area_codes(&state.pool, &ids).await?;

    let rows = with_parts
        .iter()
        .map(|&(i, depth)| {
            let item = &portfolio.items[i];
            Row {
                slug: item.slug.clone(),
                title: item.title.clone(),
                kind: kind_label(&item.kind),
                status: status_label(&item.status),
                depth,
                has_children: !portfolio.children[i].is_empty(),
                result_areas: codes
                    .get(&item.id)
                    .map(|c| c.join(", "))
                    .unwrap_or_default(),
                funding: FundingView::from(&portfolio.funding(i)),
            }
        })
        .collect();
    let count = |kind: &str| portfolio.items.iter().filter(|it| it.kind == kind).count();
    let total = portfolio.total();
    let recent = if audience == Audience::Internal {
        audit::recent_changes(&state.pool, 8)
            .await?
            .into_iter()
            .map(HistoryEntry::from)
            .collect()
    } else {
        Vec::new()
    };
    render(&OverviewPage {
        largest_gaps: largest_gaps(&portfolio, 5),
        pipeline: pipeline_bar(
            total.paid_usd,
            total.firm_usd,
            total.pledged_usd,
            total.pledged_usd,
        ),
        recent,
        nav,
        total: FundingView::from(&portfolio.total()),
        programme_count: count("programme"),
        initiative_count: count("initiative"),
        component_count: count("component"),
        rows,
        sorts: Sort::CHOICES
            .iter()
            .map(|(s, key, label)| SortLink {
                key,
                label,
                current: *s == sort,
            })
            .collect(),
        sort: sort.key(),
        page,
        pages,
    })
}

/// The items (of any kind, components included) with the largest known gaps.
fn largest_gaps(p: &Portfolio, n: usize) -> Vec<GapRow> {
    let mut with_gap: Vec<usize> = (0..p.items.len())
        .filter(|&i| {
            p.funding(i)
                .gap_usd
                .is_some_and(|g| g > rust_decimal::Decimal::ZERO)
        })
        // a parent's gap is its components' gaps: list the parts, not the sums
        .filter(|&i| p.children[i].is_empty())
        .collect();
    with_gap.sort_by(|&a, &b| {
        p.funding(b)
            .gap_usd
            .cmp(&p.funding(a).gap_usd)
            .then(a.cmp(&b))
    });
    with_gap
        .into_iter()
        .take(n)
        .map(|i| {
            let f = FundingView::from(&p.funding(i));
            GapRow {
                slug: p.items[i].slug.clone(),
                title: p.items[i].title.clone(),
                gap: f.gap,
                coverage: f.coverage,
            }
        })
        .collect()
}

/// Orders top-level items; unknown figures always sort last, ties keep report order.
fn compare(p: &Portfolio, sort: Sort, a: usize, b: usize) -> Ordering {
    let (fa, fb) = (p.funding(a), p.funding(b));
    let desc_known_first =
        |x: Option<rust_decimal::Decimal>, y: Option<rust_decimal::Decimal>| match (x, y) {
            (Some(x), Some(y)) => y.cmp(&x),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
    let by = match sort {
        Sort::Report => Ordering::Equal,
        Sort::Gap => desc_known_first(fa.gap_usd, fb.gap_usd),
        Sort::Budget => desc_known_first(fa.budget_usd, fb.budget_usd),
        Sort::Coverage => desc_known_first(fa.coverage.map(|c| -c), fb.coverage.map(|c| -c)),
        Sort::Title => p.items[a]
            .title
            .to_lowercase()
            .cmp(&p.items[b].title.to_lowercase()),
    };
    by.then(a.cmp(&b))
}
