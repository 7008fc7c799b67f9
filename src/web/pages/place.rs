//! `/places/{name}`: the items in one country or region, with their funding.

use crate::web::forms::HtmlPath;
use askama::Template;
use axum::response::Html;

use crate::domain::auth::Audience;
use crate::domain::filters::Filters;
use crate::web::AppError;
use crate::web::auth::Nav;
use crate::web::dashboard::ItemLine;
use crate::web::snapshot::Snap;
use crate::web::view::{FundingView, Pager, place_href};

use super::{PageNumber, render};

/// Items per page.
const PAGE_SIZE: usize = 50;

#[derive(Template)]
#[template(path = "place.html")]
pub struct PlacePage<'a> {
    pub nav: Nav,
    pub name: String,
    pub total: &'a FundingView,
    pub drafts_note: &'a str,
    pub rows: Vec<ItemLine<'a>>,
    pub row_count: usize,
    pub pager: Pager,
    pub filter_query: String,
}

pub async fn show(
    snap: Snap,
    audience: Audience,
    nav: Nav,
    HtmlPath(name): HtmlPath<String>,
    PageNumber(page): PageNumber,
) -> Result<Html<String>, AppError> {
    let d = snap.dashboard(audience);
    // A place named on drafts alone does not exist for delegates.
    let place = d
        .places
        .get(&name)
        .filter(|_| d.shows_place(&name))
        .ok_or(AppError::NotFound)?;
    let pager = Pager::new(page, place.items.len(), PAGE_SIZE, place_href(&name))?;
    let filters = Filters {
        place: Some(name.clone()),
        ..Filters::default()
    };
    render(&PlacePage {
        nav,
        total: &place.total,
        drafts_note: &place.drafts_note,
        rows: place.items[pager.range()]
            .iter()
            .map(|&i| d.line(i))
            .collect(),
        row_count: place.items.len(),
        pager,
        filter_query: crate::web::pages::funding::query_string(&filters, &[]),
        name,
    })
}
