//! Admin: the global audit trail, filterable by person, record type and date.

use crate::web::forms::{HtmlQuery, date_param};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use serde::Deserialize;

use crate::domain::auth::normalize_email;
use crate::store::audit::{self, Filter, PAGE_SIZE};
use crate::store::throttle;
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
    pub entities: Vec<String>,
    /// Failed sign-ins today for addresses no account has (counted, not listed).
    pub unknown_failures_today: i64,
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
    let entities = audit::entities(&state.pool).await?;
    let unknown_failures_today = throttle::unknown_failures_today(&state.pool).await?;
    // A text field, not a menu of every address that ever appeared: the address as typed,
    // trimmed, compared as accounts store them (lowercased) unless it is a command-line
    // actor ("command line (name)").
    let actor = p.actor.trim();
    let actor = if actor.contains('@') {
        normalize_email(actor)
    } else {
        actor.to_string()
    };
    if !p.entity.is_empty() && !entities.contains(&p.entity) {
        return Err(AppError::BadRequest(format!(
            "Unknown record type “{}”.",
            p.entity
        )));
    }
    let filter = Filter {
        actor_email: Some(actor.clone()).filter(|a| !a.is_empty()),
        entity: Some(p.entity.clone()).filter(|e| !e.is_empty()),
        from: date_param(&p.from, "from")?,
        to: date_param(&p.to, "to")?,
    };
    let (rows, total) = audit::list(&state.pool, &filter, page as i64).await?;
    let pages = usize::try_from((total + PAGE_SIZE - 1) / PAGE_SIZE)
        .unwrap_or(1)
        .max(1);
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("actor", &actor)
        .append_pair("entity", &p.entity)
        .append_pair("from", &p.from)
        .append_pair("to", &p.to)
        .finish();
    render(&AuditPage {
        nav,
        entities,
        unknown_failures_today,
        actor,
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
