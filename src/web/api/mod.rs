//! The documented JSON API under `/api/v1`: reads of the portfolio for every role (with
//! the pages' role rules), writes for admins, its OpenAPI 3.1 document generated from
//! these handlers and types (`openapi`), and a page listing the endpoints (`docs`).
//!
//! Who asks is decided in `web::auth::load_session`: an API token
//! (`Authorization: Bearer pt_…`) or a browser session. Writes need an admin and, with a
//! token, a read-write one; with a browser session, the session's CSRF token in the
//! `X-CSRF-Token` header (`web::auth::api_write_access`). Every error is the body of
//! `error` with its status, whatever layer answered it (`error::as_json`).

pub mod docs;
pub mod error;
pub mod funding;
pub mod items;
pub mod json;
pub mod openapi;
pub mod reads;
pub mod writes;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post, put};

use crate::web::{AppState, auth, limits, snapshot};

/// The API's routes, grouped by access rule as `web::routes` groups the pages.
pub fn routes(state: &AppState) -> Router<AppState> {
    // Reads: any signed-in role (or token), or everyone when PUBLIC_READ is on.
    let reads = Router::new()
        .route("/api/v1/programmes", get(items::programmes))
        .route("/api/v1/items", get(items::items))
        .route("/api/v1/items/{slug}", get(reads::item))
        .route("/api/v1/contributions", get(reads::contributions))
        .route("/api/v1/contributions/{id}", get(reads::contribution))
        .route(
            "/api/v1/contributions/{id}/events",
            get(reads::contribution_events),
        )
        .route("/api/v1/organisations", get(reads::organisations))
        .route("/api/v1/places", get(reads::places))
        .route("/api/v1/result-areas", get(reads::result_areas))
        .route("/api/v1/exchange-rates", get(reads::exchange_rates))
        .route("/api/v1/funding/donors", get(funding::donors))
        .route("/api/v1/funding/{table}", get(funding::groups))
        .route_layer(from_fn_with_state(state.clone(), snapshot::revalidate))
        .route_layer(from_fn_with_state(state.clone(), auth::require_read))
        .route_layer(from_fn_with_state(state.clone(), auth::load_session));

    // Writes: admins, with a read-write token or the session's CSRF token.
    let writes = Router::new()
        .route(
            "/api/v1/items/{slug}/contributions",
            post(writes::create_contribution),
        )
        .route(
            "/api/v1/contributions/{id}",
            put(writes::update_contribution),
        )
        .route(
            "/api/v1/contributions/{id}/events",
            post(writes::record_event),
        )
        .route("/api/v1/items/{slug}", put(writes::update_item))
        .route_layer(from_fn_with_state(
            state.clone(),
            snapshot::refresh_after_write,
        ))
        .route_layer(from_fn(auth::api_write_access))
        .route_layer(from_fn_with_state(
            state.clone(),
            limits::limit_admin_writes,
        ))
        .route_layer(from_fn_with_state(state.clone(), auth::require_admin))
        .route_layer(from_fn_with_state(state.clone(), auth::load_session));

    // The documentation: everyone (it holds no data); the page shows who is signed in.
    let documentation = Router::new()
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1", get(docs::page))
        .route_layer(from_fn_with_state(state.clone(), auth::load_session));

    reads.merge(writes).merge(documentation)
}
