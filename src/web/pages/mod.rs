//! Handlers, one module per page or area.

pub mod api;
pub mod funding;
pub mod item;
pub mod login;
pub mod organisation;
pub mod overview;
pub mod place;
pub mod result_areas;
pub mod search;

use askama::Template;
use axum::response::Html;

use crate::web::AppError;

/// Renders a page template into a response.
pub fn render(page: &impl Template) -> Result<Html<String>, AppError> {
    Ok(Html(page.render()?))
}
