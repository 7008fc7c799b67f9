//! `/result-areas`: the strategy alignment matrix, by theme.

use crate::web::forms::{HtmlPath, HtmlQuery};
use askama::Template;
use axum::extract::State;
use axum::response::Html;
use std::collections::HashMap;

use crate::domain::auth::Audience;
use crate::domain::filters::FundingState;
use crate::domain::money::percent;
use crate::domain::portfolio::Portfolio;
use crate::domain::vocab::TITLE_NOT_GIVEN;
use crate::store;
use crate::web::auth::Nav;
use crate::web::pages::overview::parse_page;
use crate::web::view::FundingView;
use crate::web::{AppError, AppState};

use super::render;

pub struct ItemLink {
    pub slug: String,
    pub title: String,
}

/// One cell of the area × programme matrix.
pub struct Cell {
    pub aligned: bool,
    /// Words, so the state never rests on the shading alone.
    pub label: String,
    pub class: &'static str,
}

/// A programme or initiative heading a matrix column.
pub struct Column {
    pub short: String,
    pub slug: String,
    pub title: String,
}

const COLUMNS_PER_PAGE: usize = 20;

pub struct AreaRow {
    pub cells: Vec<Cell>,
    pub code: String,
    pub title: String,
    pub title_known: bool,
    pub source_para: String,
    pub items: Vec<ItemLink>,
    pub funding: FundingView,
}

pub struct ThemeSection {
    pub code: String,
    pub title: String,
    pub title_known: bool,
    pub areas: Vec<AreaRow>,
}

#[derive(Template)]
#[template(path = "result_areas.html")]
pub struct ResultAreasPage {
    pub nav: Nav,
    pub columns: Vec<Column>,
    pub page: usize,
    pub pages: usize,
    pub themes: Vec<ThemeSection>,
    pub unserved: Vec<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Params {
    page: String,
}

/// The matrix cell of `area` for the programme at `root`: aligned if the programme or any
/// of its components serves the area, shaded and labelled by the programme's funding.
fn cell(portfolio: &Portfolio, root: usize, area: &str) -> Cell {
    let serves = std::iter::once(root)
        .chain(portfolio.descendants(root).into_iter().map(|(i, _)| i))
        .any(|i| {
            portfolio.items[i]
                .facets
                .result_areas
                .iter()
                .any(|c| c == area)
        });
    if !serves {
        return Cell {
            aligned: false,
            label: String::new(),
            class: "",
        };
    }
    let funding = portfolio.funding(root);
    let state = FundingState::of(&funding);
    let label = match funding.coverage {
        Some(c) => format!("{} covered", percent(c)),
        None => state.label().to_string(),
    };
    Cell {
        aligned: true,
        label,
        class: state.class(),
    }
}

pub async fn show(
    State(state): State<AppState>,
    audience: Audience,
    nav: Nav,
    HtmlQuery(params): HtmlQuery<Params>,
) -> Result<Html<String>, AppError> {
    let page = parse_page(Some(&params.page))?;
    let pool = &state.pool;
    let themes = store::strategy::themes(pool).await?;
    let areas = store::strategy::result_areas(pool).await?;
    let pairs = store::strategy::alignment_pairs(pool).await?;
    let portfolio = state.portfolio(audience).await?;

    let pages = portfolio.roots.len().div_ceil(COLUMNS_PER_PAGE).max(1);
    if page > pages {
        return Err(AppError::NotFound);
    }
    let roots: Vec<usize> = portfolio
        .roots
        .iter()
        .copied()
        .skip((page - 1) * COLUMNS_PER_PAGE)
        .take(COLUMNS_PER_PAGE)
        .collect();
    let columns = roots
        .iter()
        .map(|&r| {
            let item = &portfolio.items[r];
            Column {
                short: item
                    .report_section
                    .clone()
                    .unwrap_or_else(|| item.title.chars().take(12).collect()),
                slug: item.slug.clone(),
                title: item.title.clone(),
            }
        })
        .collect();

    let mut items_by_area: HashMap<i64, Vec<i64>> = HashMap::new();
    for (area, item) in pairs {
        items_by_area.entry(area).or_default().push(item);
    }
    let mut unserved = Vec::new();
    let sections = themes
        .into_iter()
        .map(|theme| {
            let rows = areas
                .iter()
                .filter(|a| a.theme_code == theme.code)
                .map(|area| {
                    let mut ids = items_by_area.remove(&area.id).unwrap_or_default();
                    // only items this reader may see, in report order as on the overview
                    ids.retain(|id| portfolio.index_of(*id).is_some());
                    ids.sort_by_key(|id| portfolio.index_of(*id));
                    if ids.is_empty() {
                        unserved.push(area.code.clone());
                    }
                    AreaRow {
                        cells: roots
                            .iter()
                            .map(|&r| cell(&portfolio, r, &area.code))
                            .collect(),
                        code: area.code.clone(),
                        title_known: area.title.is_some(),
                        title: area
                            .title
                            .clone()
                            .unwrap_or_else(|| TITLE_NOT_GIVEN.to_string()),
                        source_para: area.source_para.clone().unwrap_or_default(),
                        items: ids
                            .iter()
                            .filter_map(|id| portfolio.index_of(*id))
                            .map(|i| ItemLink {
                                slug: portfolio.items[i].slug.clone(),
                                title: portfolio.items[i].title.clone(),
                            })
                            .collect(),
                        funding: FundingView::from(&portfolio.combined(&ids)),
                    }
                })
                .collect();
            ThemeSection {
                title_known: theme.title.is_some(),
                title: theme.title.unwrap_or_else(|| TITLE_NOT_GIVEN.to_string()),
                code: theme.code,
                areas: rows,
            }
        })
        .collect();
    render(&ResultAreasPage {
        nav,
        columns,
        page,
        pages,
        themes: sections,
        unserved,
    })
}

pub struct AreaItemRow {
    pub slug: String,
    pub title: String,
    pub kind: String,
    pub source_para: String,
    pub funding: FundingView,
}

#[derive(Template)]
#[template(path = "result_area.html")]
pub struct ResultAreaPage {
    pub nav: Nav,
    pub code: String,
    pub title: String,
    pub title_known: bool,
    pub source_para: String,
    pub total: FundingView,
    pub rows: Vec<AreaItemRow>,
}

/// `/result-areas/{code}`: the items serving one result area and their gaps.
pub async fn detail(
    State(state): State<AppState>,
    audience: Audience,
    nav: Nav,
    HtmlPath(code): HtmlPath<String>,
) -> Result<Html<String>, AppError> {
    let area = store::strategy::result_areas(&state.pool)
        .await?
        .into_iter()
        .find(|a| a.code == code)
        .ok_or(AppError::NotFound)?;
    let portfolio = state.portfolio(audience).await?;
    let aligned = store::strategy::alignments_of(&state.pool, area.id).await?;
    let rows: Vec<(usize, Option<String>)> = aligned
        .into_iter()
        .filter_map(|(id, para)| portfolio.index_of(id).map(|i| (i, para)))
        .collect();
    let ids: Vec<i64> = rows.iter().map(|(i, _)| portfolio.items[*i].id).collect();
    render(&ResultAreaPage {
        nav,
        title_known: area.title.is_some(),
        title: area
            .title
            .clone()
            .unwrap_or_else(|| TITLE_NOT_GIVEN.to_string()),
        source_para: area.source_para.clone().unwrap_or_default(),
        total: FundingView::from(&portfolio.combined(&ids)),
        rows: rows
            .into_iter()
            .map(|(i, para)| AreaItemRow {
                slug: portfolio.items[i].slug.clone(),
                title: portfolio.items[i].title.clone(),
                kind: crate::web::view::kind_label(&portfolio.items[i].kind),
                source_para: para.unwrap_or_default(),
                funding: FundingView::from(&portfolio.funding(i)),
            })
            .collect(),
        code: area.code,
    })
}
