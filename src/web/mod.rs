//! The web application: routes grouped by page, one error type, the middleware stack,
//! and the server loop.

mod assets;
mod error;
mod health;
pub mod pages;
mod server;
pub mod view;

pub use error::AppError;
pub use server::serve;

use crate::domain::portfolio::Portfolio;
use crate::store::portfolio::PortfolioCache;
use axum::Router;
use axum::routing::get;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    portfolio: Arc<PortfolioCache>,
}

impl AppState {
    pub fn new(pool: PgPool) -> AppState {
        AppState {
            pool,
            portfolio: Arc::default(),
        }
    }

    /// The portfolio with its roll-ups, reloaded only when the data changed.
    pub async fn portfolio(&self) -> Result<Arc<Portfolio>, AppError> {
        Ok(self.portfolio.get(&self.pool).await?)
    }
}

/// Every route of the application. Each page module owns its handlers.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::overview::show))
        .route("/programmes/{slug}", get(pages::item::show))
        .route("/result-areas", get(pages::result_areas::show))
        .route("/api/v1/programmes", get(pages::api::programmes))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/static/style.css", get(assets::stylesheet))
        .fallback(error::not_found)
}

/// Wraps the routes in the middleware every response passes through (outermost last).
pub fn with_middleware(router: Router) -> Router {
    router
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(TraceLayer::new_for_http())
}
