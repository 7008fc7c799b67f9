//! Handlers, one module per page or area.

pub mod api;
pub mod item;
pub mod login;
pub mod overview;
pub mod result_areas;

use askama::Template;
use axum::response::Html;

use crate::web::AppError;

/// Renders a page template into a response.
pub fn render(page: &impl Template) -> Result<Html<String>, AppError> {
    Ok(Html(page.render()?))
}
