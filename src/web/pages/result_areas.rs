//! `/result-areas`: the strategy alignment matrix, by theme.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use std::collections::HashMap;

use crate::domain::auth::Audience;
use crate::domain::vocab::TITLE_NOT_GIVEN;
use crate::store;
use crate::web::auth::Nav;
use crate::web::view::FundingView;
use crate::web::{AppError, AppState};

use super::render;

pub struct ItemLink {
    pub slug: String,
    pub title: String,
}

pub struct AreaRow {
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
    pub themes: Vec<ThemeSection>,
    pub unserved: Vec<String>,
}

pub async fn show(
    State(state): State<AppState>,
    audience: Audience,
    nav: Nav,
) -> Result<Html<String>, AppError> {
    let pool = &state.pool;
    let themes = store::strategy::themes(pool).await?;
    let areas = store::strategy::result_areas(pool).await?;
    let pairs = store::strategy::alignment_pairs(pool).await?;
    let portfolio = state.portfolio(audience).await?;

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
    axum::extract::Path(code): axum::extract::Path<String>,
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
