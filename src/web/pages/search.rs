//! `/search?q=`: programmes, organisations and countries whose names contain the text,
//! grouped by type.

use crate::web::forms::HtmlQuery;
use askama::Template;
use axum::extract::State;
use axum::response::Html;
use serde::Deserialize;

use crate::domain::auth::Audience;
use crate::store::dashboards;
use crate::web::auth::Nav;
use crate::web::view::kind_label;
use crate::web::{AppError, AppState};

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

pub async fn show(
    State(state): State<AppState>,
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
    let portfolio = state.portfolio(audience).await?;
    page.items = dashboards::search_items(&state.pool, &page.q)
        .await?
        .into_iter()
        .filter_map(|id| portfolio.index_of(id))
        .map(|i| Hit {
            href: format!("/programmes/{}", portfolio.items[i].slug),
            label: portfolio.items[i].title.clone(),
            detail: kind_label(&portfolio.items[i].kind),
        })
        .collect();
    page.organisations = dashboards::search_organisations(&state.pool, &page.q)
        .await?
        .into_iter()
        .map(|(slug, name)| Hit {
            href: format!("/organisations/{slug}"),
            label: name,
            detail: String::new(),
        })
        .collect();
    page.places = dashboards::search_places(&state.pool, &page.q)
        .await?
        .into_iter()
        .map(|(name, kind)| Hit {
            href: crate::web::view::place_href(&name),
            label: name,
            detail: if kind == "region" {
                "Region".into()
            } else {
                "Country".into()
            },
        })
        .collect();
    render(&page)
}
