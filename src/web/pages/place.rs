//! `/places/{name}`: the items in one country or region, with their funding.

use crate::web::forms::HtmlPath;
use askama::Template;
use axum::extract::State;
use axum::response::Html;

use crate::domain::auth::Audience;
use crate::domain::filters::Filters;
use crate::web::auth::Nav;
use crate::web::view::{FundingView, kind_label, status_label};
use crate::web::{AppError, AppState};

use super::render;

pub struct PlaceRow {
    pub slug: String,
    pub title: String,
    pub kind: String,
    pub status: String,
    pub funding: FundingView,
}

#[derive(Template)]
#[template(path = "place.html")]
pub struct PlacePage {
    pub nav: Nav,
    pub name: String,
    pub total: FundingView,
    pub rows: Vec<PlaceRow>,
    pub filter_query: String,
}

pub async fn show(
    State(state): State<AppState>,
    audience: Audience,
    nav: Nav,
    HtmlPath(name): HtmlPath<String>,
) -> Result<Html<String>, AppError> {
    let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM places WHERE name = $1)")
        .bind(&name)
        .fetch_one(&state.pool)
        .await?;
    if !known {
        return Err(AppError::NotFound);
    }
    let portfolio = state.portfolio(audience).await?;
    let filters = Filters {
        place: Some(name.clone()),
        ..Filters::default()
    };
    let matching = portfolio.matching(&filters);
    let ids: Vec<i64> = matching.iter().map(|&i| portfolio.items[i].id).collect();
    render(&PlacePage {
        nav,
        total: FundingView::from(&portfolio.combined(&ids)),
        rows: matching
            .iter()
            .map(|&i| PlaceRow {
                slug: portfolio.items[i].slug.clone(),
                title: portfolio.items[i].title.clone(),
                kind: kind_label(&portfolio.items[i].kind),
                status: status_label(&portfolio.items[i].status),
                funding: FundingView::from(&portfolio.funding(i)),
            })
            .collect(),
        filter_query: crate::web::pages::funding::query_string(&filters, &[]),
        name,
    })
}
