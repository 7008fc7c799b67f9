//! Portfolio Tracker: a UN office's programmes, their strategy alignment, budgets,
//! pledges and funding gaps. `app` builds the web application from its state.

pub mod accounts;
pub mod backup;
pub mod commands;
pub mod config;
pub mod db;
pub mod domain;
pub mod iati;
pub mod portable;
pub mod store;
pub mod web;

pub use web::AppState;

/// The whole web application: every route, the middleware stack and the state.
pub fn app(state: AppState) -> axum::Router {
    web::with_middleware(web::routes(&state).with_state(state.clone()), &state)
}
