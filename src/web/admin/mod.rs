//! Admin pages: every editing form, accounts, exchange rates and the audit trail. All of
//! them sit behind the admin guard and the CSRF token check declared in `web::routes`.

pub mod audit;
pub mod contribution_events;
pub mod delivery;
pub mod imports;
pub mod items;
pub mod money;
pub mod organisations;
pub mod pipeline;
pub mod rates;
pub mod strategy;
pub mod users;

use askama::Template;
use axum::Router;
use axum::response::Html;
use axum::routing::get;

use crate::web::auth::Nav;
use crate::web::pages::render;
use crate::web::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(home))
        .merge(items::routes())
        .merge(money::routes())
        .merge(contribution_events::routes())
        .merge(delivery::routes())
        .merge(imports::routes())
        .merge(organisations::routes())
        .merge(strategy::routes())
        .merge(rates::routes())
        .merge(users::routes())
        .merge(audit::routes())
}

#[derive(Template)]
#[template(path = "admin/home.html")]
pub struct HomePage {
    pub nav: Nav,
}

pub async fn home(nav: Nav) -> Result<Html<String>, AppError> {
    render(&HomePage { nav })
}
