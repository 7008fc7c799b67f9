//! Admin: the global audit trail, filterable by person, record type and date.

use crate::web::forms::{HtmlQuery, date_param};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use serde::Deserialize;

use crate::store::audit::{self, Filter, PAGE_SIZE};
use crate::web::auth::Nav;
use crate::web::pages::item::HistoryEntry;
use crate::web::pages::overview::parse_page;
use crate::web::pages::render;
use crate::web::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/audit", get(show))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Params {
    actor: String,
    entity: String,
    from: String,
    to: String,
    page: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
pub struct AuditPage {
    pub nav: Nav,
    pub actors: Vec<String>,
    pub entities: Vec<String>,
    pub actor: String,
    pub entity: String,
    pub from: String,
    pub to: String,
    pub entries: Vec<HistoryEntry>,
    pub total: i64,
    pub page: usize,
    pub pages: usize,
    pub query: String,
}

pub async fn show(
    State(state): State<AppState>,
    nav: Nav,
    HtmlQuery(p): HtmlQuery<Params>,
) -> Result<Html<String>, AppError> {
    let page = parse_page(Some(&p.page))?;
    let (actors, entities) = audit::facets(&state.pool).await?;
    if !p.entity.is_empty() && !entities.contains(&p.entity) {
        return Err(AppError::BadRequest(format!(
            "Unknown record type “{}”.",
            p.entity
        )));
    }
    let filter = Filter {
        actor_email: Some(p.actor.clone()).filter(|a| !a.is_empty()),
        entity: Some(p.entity.clone()).filter(|e| !e.is_empty()),
        from: date_param(&p.from, "from")?,
        to: date_param(&p.to, "to")?,
    };
    let (rows, total) = audit::list(&state.pool, &filter, page as i64).await?;
    let pages = usize::try_from((total + PAGE_SIZE - 1) / PAGE_SIZE)
        .unwrap_or(1)
        .max(1);
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("actor", &p.actor)
        .append_pair("entity", &p.entity)
        .append_pair("from", &p.from)
        .append_pair("to", &p.to)
        .finish();
    render(&AuditPage {
        nav,
        actors,
        entities,
        actor: p.actor,
        entity: p.entity,
        from: p.from,
        to: p.to,
        entries: rows.into_iter().map(HistoryEntry::from).collect(),
        total,
        page,
        pages,
        query,
    })
}
