//! The web application: routes grouped by who may use them, one error type, the
//! middleware stack, and the server loop.

pub mod admin;
pub mod api;
mod assets;
pub mod auth;
pub mod cache;
pub mod charts;
pub mod connections;
pub mod dashboard;
pub(crate) mod error;
pub mod export;
pub mod forms;
mod health;
pub mod kept;
pub mod limits;
pub mod pages;
pub mod request_id;
mod security;
mod server;
pub mod snapshot;
pub mod view;

pub use error::AppError;
pub use server::serve;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tower_http::CompressionLevel;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::trace::TraceLayer;

use crate::config::WebSettings;
use crate::web::cache::{CacheError, PortfolioCache};
use crate::web::dashboard::Snapshot;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub settings: Arc<WebSettings>,
    dashboards: Arc<PortfolioCache>,
    /// Rate limits, the queue of password checks, and who the client is.
    pub limits: Arc<limits::Limits>,
}

impl AppState {
    pub fn new(pool: PgPool, settings: WebSettings) -> AppState {
        AppState {
            pool,
            limits: Arc::new(limits::Limits::new(&settings)),
            settings: Arc::new(settings),
            dashboards: Arc::default(),
        }
    }

    /// Today's date for the delivery rules: the `today` setting, else the clock (UTC).
    pub fn today(&self) -> chrono::NaiveDate {
        self.settings
            .today
            .unwrap_or_else(|| chrono::Utc::now().date_naive())
    }

    /// Passwords checked with Argon2 since this app started (see `limits::Limits`).
    pub fn password_checks(&self) -> u64 {
        self.limits.password_checks()
    }

    /// The newest computed dashboards (a cold start waits for the first build; later a
    /// changed revision is rebuilt in the background).
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, CacheError> {
        self.dashboards.for_request(&self.pool).await
    }

    /// `snapshot`'s dashboards as the portfolio stood at the end of `day` (`?as_of=`).
    pub async fn snapshot_as_at(
        &self,
        snapshot: &Arc<Snapshot>,
        day: chrono::NaiveDate,
    ) -> Result<Arc<Snapshot>, CacheError> {
        self.dashboards.as_at(snapshot, day).await
    }

    /// Brings the dashboards up to the database's revision and waits for it: at start,
    /// after a write, and in tests that change the database directly.
    pub async fn refresh_dashboards(&self) -> Result<Arc<Snapshot>, CacheError> {
        self.dashboards.refresh(&self.pool).await
    }
}

/// Every route, grouped by its access rule; the rule is declared with the group. Groups
/// whose rule depends on who asks load the session first (outermost route layer).
pub fn routes(state: &AppState) -> Router<AppState> {
    // Dashboards: signed-in readers, or everyone when PUBLIC_READ is on.
    let read = Router::new()
        .route("/", get(pages::overview::show))
        .route("/programmes/{slug}", get(pages::item::show))
        .route("/result-areas", get(pages::result_areas::show))
        .route("/funding", get(pages::funding::show))
        .route("/timeline", get(pages::timeline::show))
        .route("/changes", get(pages::changes::show))
        .route("/changes.csv", get(pages::changes::csv))
        .route("/changes.xlsx", get(pages::changes::xlsx))
        .route("/funding.csv", get(pages::funding::csv))
        .route("/funding.xlsx", get(pages::funding::xlsx))
        .route("/iati/activities.xml", get(pages::iati::activities))
        .route("/result-areas/{code}", get(pages::result_areas::detail))
        .route("/organisations/{slug}", get(pages::organisation::show))
        .route("/places/{name}", get(pages::place::show))
        .route("/search", get(pages::search::show))
        .route_layer(from_fn_with_state(state.clone(), snapshot::revalidate))
        .route_layer(from_fn_with_state(state.clone(), auth::remember_view))
        .route_layer(from_fn_with_state(state.clone(), auth::require_read))
        .route_layer(from_fn_with_state(state.clone(), auth::load_session));

    // Staff and admins: drafts' history, the change log of an item, and every change.
    let staff = Router::new()
        .route("/programmes/{slug}/history", get(pages::item::history))
        .route("/activity", get(pages::activity::show))
        .route_layer(from_fn_with_state(state.clone(), auth::require_staff))
        .route_layer(from_fn_with_state(state.clone(), auth::load_session));

    // Staff and admins record delivery: a milestone done, progress on a target.
    let staff_writes = Router::new()
        .route(
            "/milestones/{id}/done",
            get(pages::delivery::mark_done_form).post(pages::delivery::mark_done),
        )
        .route(
            "/targets/{id}/progress",
            get(pages::delivery::progress_form).post(pages::delivery::record_progress),
        )
        .route_layer(from_fn_with_state(
            state.clone(),
            snapshot::refresh_after_write,
        ))
        .route_layer(from_fn_with_state(state.clone(), auth::verify_csrf_token))
        .route_layer(from_fn_with_state(state.clone(), auth::require_staff))
        .route_layer(from_fn_with_state(state.clone(), auth::load_session));

    // Admins: every editing form, accounts, rates and the audit trail.
    let admin = admin::routes()
        .route_layer(from_fn_with_state(
            state.clone(),
            snapshot::refresh_after_write,
        ))
        .route_layer(from_fn_with_state(state.clone(), auth::verify_csrf_token))
        // an admin's writes only: others are refused before they count
        .route_layer(from_fn_with_state(
            state.clone(),
            limits::limit_admin_writes,
        ))
        .route_layer(from_fn_with_state(state.clone(), auth::require_admin))
        .route_layer(from_fn_with_state(state.clone(), auth::load_session));

    // Anyone signed in.
    let signed_in = Router::new()
        .route("/logout", post(pages::login::logout))
        .route(
            "/account/password",
            get(pages::account::form).post(pages::account::submit),
        )
        .route(
            "/account/tokens",
            get(pages::tokens::list).post(pages::tokens::create),
        )
        .route("/account/tokens/{id}/revoke", post(pages::tokens::revoke))
        .route_layer(from_fn_with_state(state.clone(), auth::verify_csrf_token))
        .route_layer(from_fn_with_state(state.clone(), auth::require_signed_in))
        .route_layer(from_fn_with_state(state.clone(), auth::load_session));

    // Everyone. The sign-in page shows who is signed in already.
    let sign_in = Router::new()
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route_layer(from_fn_with_state(state.clone(), auth::load_session))
        .route_layer(from_fn_with_state(state.clone(), limits::limit_sign_ins));

    // Everyone, and no session is looked up: the stylesheet, icon and health checks cost no
    // query. (Error pages always show the signed-out header.)
    let open = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/static/style.css", get(assets::stylesheet))
        .route("/favicon.svg", get(assets::favicon))
        .route("/favicon.ico", get(assets::favicon));

    Router::new()
        .merge(read)
        .merge(api::routes(state))
        .merge(staff)
        .merge(staff_writes)
        .merge(admin)
        .merge(signed_in)
        .merge(sign_in)
        .merge(open)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
}

/// Wraps the routes in the middleware every response passes through (outermost last).
pub fn with_middleware(router: Router, state: &AppState) -> Router {
    let settings = &state.settings;
    router
        .layer(security::cross_origin_check())
        // what every form extractor reads at most (the CSRF check reads the same)
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(from_fn_with_state(
            Duration::from_secs(settings.request_timeout_secs),
            limits::time_limit,
        ))
        .layer(CatchPanicLayer::custom(error::panic_response))
        // every error of an /api/ address, whoever answered it, as the API's JSON body
        .layer(from_fn(api::error::as_json))
        // outside the panic and timeout answers, so they carry the headers too
        .layer(from_fn_with_state(state.clone(), security::no_store))
        .layer(security::headers(state.settings.cookie_secure))
        .layer(compression())
        // the request id: error pages show it, every log line of the request carries it
        // (the trace span), the response returns it; see `request_id`
        .layer(from_fn(request_id::scope))
        .layer(TraceLayer::new_for_http().make_span_with(request_id::span::<axum::body::Body>))
        .layer(request_id::propagate())
        .layer(request_id::set())
        .layer(from_fn(request_id::drop_unacceptable))
}

/// gzip or Brotli for whatever the client accepts. A middle level: dashboards are
/// rendered per request, so the best ratio is not worth its CPU. Not for workbooks
/// (already zip archives) nor the IATI file (20 MB and more at scale, which the route
/// sends from a gzip copy kept with the revision): compressing those per request would
/// let any client spend a second of CPU per request.
fn compression() -> CompressionLayer<impl Predicate> {
    let predicate = DefaultPredicate::new()
        .and(NotForContentType::const_new(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .and(NotForContentType::const_new("application/xml"));
    CompressionLayer::new()
        .gzip(true)
        .br(true)
        .quality(CompressionLevel::Precise(4))
        .compress_when(predicate)
}
