//! `/places/{name}`: the items in one country or region, with their funding.

use crate::web::forms::{HtmlPath, HtmlQuery};
use askama::Template;
use axum::response::Html;

use crate::domain::auth::Audience;
use crate::domain::filters::Filters;
use crate::web::AppError;
use crate::web::auth::Nav;
use crate::web::pages::overview::parse_page;
use crate::web::snapshot::Snap;
use crate::web::view::{FundingView, Pager, place_href};

use super::render;

/// Items per page.
const PAGE_SIZE: usize = 50;

pub struct PlaceRow<'a> {
    pub slug: &'a str,
    pub title: &'a str,
    pub kind: &'a str,
    pub status: &'a str,
    pub funding: &'a FundingView,
}

#[derive(Template)]
#[template(path = "place.html")]
pub struct PlacePage<'a> {
    pub nav: Nav,
    pub name: String,
    pub total: &'a FundingView,
    pub rows: Vec<PlaceRow<'a>>,
    pub row_count: usize,
    pub pager: Pager,
    pub filter_query: String,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Params {
    page: String,
}

pub async fn show(
    snap: Snap,
    audience: Audience,
    nav: Nav,
    HtmlPath(name): HtmlPath<String>,
    HtmlQuery(params): HtmlQuery<Params>,
) -> Result<Html<String>, AppError> {
    let page = parse_page(Some(&params.page))?;
    let d = snap.dashboard(audience);
    let place = d.places.get(&name).ok_or(AppError::NotFound)?;
    let p = &d.portfolio;
    let pager = Pager::new(page, place.items.len(), PAGE_SIZE, place_href(&name))?;
    let filters = Filters {
        place: Some(name.clone()),
        ..Filters::default()
    };
    render(&PlacePage {
        nav,
        total: &place.total,
        rows: place.items[pager.range()]
            .iter()
            .map(|&i| PlaceRow {
                slug: &p.items[i].slug,
                title: &p.items[i].title,
                kind: &d.kind_labels[i],
                status: &d.status_labels[i],
                funding: &d.views[i],
            })
            .collect(),
        row_count: place.items.len(),
        pager,
        filter_query: crate::web::pages::funding::query_string(&filters, &[]),
        name,
    })
}
