//! `/search?q=`: programmes, organisations, countries and result areas whose names
//! contain the text (case, accents and punctuation aside: `domain::search`), grouped by
//! type, exact titles first.

use crate::web::forms::HtmlQuery;
use askama::Template;
use axum::response::Html;
use serde::Deserialize;

use crate::domain::auth::Audience;
use crate::domain::vocab::TITLE_NOT_GIVEN;
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
    pub areas: Vec<Hit>,
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
        areas: Vec::new(),
    };
    if page.q.is_empty() {
        return render(&page);
    }
    let d = snap.dashboard(audience);
    let records = &snap.records;
    let data = &records.data;
    // The index holds only what this audience sees, so the limit never hides a hit.
    page.items = d
        .search_index(records)
        .search(&page.q, MAX_ITEMS)
        .into_iter()
        .map(|i| Hit {
            href: format!("/programmes/{}", d.portfolio.items[i].slug),
            label: d.portfolio.items[i].title.clone(),
            // staff read drafts too: say which
            detail: match d.portfolio.items[i].published {
                true => d.kind_labels[i].clone(),
                false => format!("{} · Draft", d.kind_labels[i]),
            },
        })
        .collect();
    // So do these: filtered before the limit, never after.
    page.organisations = d
        .organisation_search(records)
        .search(&page.q, MAX_OTHERS)
        .into_iter()
        .map(|o| &data.organisations[o])
        .map(|o| Hit {
            href: format!("/organisations/{}", o.slug),
            label: o.name.clone(),
            detail: String::new(),
        })
        .collect();
    page.places = d
        .place_search(records)
        .search(&page.q, MAX_OTHERS)
        .into_iter()
        .map(|p| &data.places[p])
        .map(|p| Hit {
            href: crate::web::view::place_href(&p.name),
            label: p.name.clone(),
            detail: Dashboard::place_label(p.kind).to_string(),
        })
        .collect();
    page.areas = records
        .area_search()
        .search(&page.q, MAX_OTHERS)
        .into_iter()
        .map(|a| &data.result_areas[a])
        .map(|a| Hit {
            href: format!("/result-areas/{}", a.code),
            label: format!(
                "{} {}",
                a.code,
                a.title.as_deref().unwrap_or(TITLE_NOT_GIVEN)
            ),
            detail: format!("Theme {}", a.theme_code),
        })
        .collect();
    render(&page)
}
