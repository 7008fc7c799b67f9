//! `GET /api/v1/programmes`: every item with its funding figures as JSON.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::domain::auth::Audience;
use crate::domain::money::two_places;
use crate::store;
use crate::web::{AppError, AppState};

#[derive(Serialize)]
pub struct ProgrammeList {
    pub items: Vec<ProgrammeJson>,
}

/// One item. Money is a decimal string with two places, or null when unknown.
#[derive(Serialize)]
pub struct ProgrammeJson {
    pub slug: String,
    pub title: String,
    pub kind: String,
    pub status: String,
    pub parent: Option<String>,
    pub result_areas: Vec<String>,
    pub budget_usd: Option<String>,
    pub pledged_usd: String,
    pub firm_usd: String,
    pub gap_usd: Option<String>,
    /// pledged / budget, 0–1 (more when over-pledged); null when the budget is unknown.
    pub coverage: Option<f64>,
    /// Some part has no stated budget: budget and gap are lower bounds.
    pub budget_is_lower_bound: bool,
    pub url: String,
}

pub async fn programmes(
    State(state): State<AppState>,
    audience: Audience,
) -> Result<Json<ProgrammeList>, AppError> {
    let portfolio = state.portfolio(audience).await?;
    let ids: Vec<i64> = portfolio.items.iter().map(|i| i.id).collect();
    let mut codes = store::items::result_area_codes(&state.pool, &ids).await?;
    let order = portfolio.roots.iter().flat_map(|&r| {
        std::iter::once(r).chain(portfolio.descendants(r).into_iter().map(|(i, _)| i))
    });
    let items = order
        .map(|i| {
            let item = &portfolio.items[i];
            let funding = portfolio.funding(i);
            ProgrammeJson {
                slug: item.slug.clone(),
                title: item.title.clone(),
                kind: item.kind.clone(),
                status: item.status.clone(),
                parent: item
                    .parent_id
                    .and_then(|p| portfolio.index_of(p))
                    .map(|p| portfolio.items[p].slug.clone()),
                result_areas: codes.remove(&item.id).unwrap_or_default(),
                budget_usd: funding.budget_usd.map(two_places),
                pledged_usd: two_places(funding.pledged_usd),
                firm_usd: two_places(funding.firm_usd),
                gap_usd: funding.gap_usd.map(two_places),
                coverage: funding.coverage.and_then(|c| c.round_dp(4).try_into().ok()),
                budget_is_lower_bound: funding.budget_is_lower_bound,
                url: format!("/programmes/{}", item.slug),
            }
        })
        .collect();
    Ok(Json(ProgrammeList { items }))
}
