//! `/search?q=`: programmes, organisations and countries whose names contain the text,
//! grouped by type.

use crate::web::forms::HtmlQuery;
use askama::Template;
use axum::response::Html;
use serde::Deserialize;

use crate::domain::auth::Audience;
use crate::web::AppError;
use crate::web::auth::Nav;
use crate::web::dashboard::Dashboard;
use crate::web::snapshot::Snap;

use super::render;

const MAX_QUERY_CHARS: usize = 200;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Params {
    q: String,
}

pub struct Hit {
    pub href: String,
    pub label: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchPage {
    pub nav: Nav,
    pub q: String,
    pub items: Vec<Hit>,
    pub organisations: Vec<Hit>,
    pub places: Vec<Hit>,
}

/// At most this many hits per kind.
const MAX_ITEMS: usize = 200;
const MAX_OTHERS: usize = 100;

pub async fn show(
    snap: Snap,
    audience: Audience,
    nav: Nav,
    HtmlQuery(params): HtmlQuery<Params>,
) -> Result<Html<String>, AppError> {
    let q = params.q.trim().to_string();
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::BadRequest(format!(
            "Search for at most {MAX_QUERY_CHARS} characters."
        )));
    }
    let mut page = SearchPage {
        nav,
        q,
        items: Vec::new(),
        organisations: Vec::new(),
        places: Vec::new(),
    };
    if page.q.is_empty() {
        return render(&page);
    }
    let needle = page.q.to_lowercase();
    let d = snap.dashboard(audience);
    let data = &snap.records.data;
    // The index holds only what this audience sees, so the limit never hides a hit.
    page.items = d
        .search_index(&snap.records)
        .find(&needle)
        .take(MAX_ITEMS)
        .map(|i| Hit {
            href: format!("/programmes/{}", d.portfolio.items[i].slug),
            label: d.portfolio.items[i].title.clone(),
            detail: d.kind_labels[i].clone(),
        })
        .collect();
    page.organisations = snap
        .records
        .organisation_search()
        .find(&needle)
        .take(MAX_OTHERS)
        .map(|o| &data.organisations[o])
        .map(|o| Hit {
            href: format!("/organisations/{}", o.slug),
            label: o.name.clone(),
            detail: String::new(),
        })
        .collect();
    page.places = snap
        .records
        .place_search()
        .find(&needle)
        .take(MAX_OTHERS)
        .map(|p| &data.places[p])
        .map(|p| Hit {
            href: crate::web::view::place_href(&p.name),
            label: p.name.clone(),
            detail: Dashboard::place_label(p.kind).to_string(),
        })
        .collect();
    render(&page)
}
