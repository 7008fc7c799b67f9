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
pub fn render<T: Template>(page: &T) -> Result<Html<String>, AppError> {
    // Dashboard pages run to tens of kilobytes: one allocation up front rather than
    // copying the page over as it doubles from askama's small estimate.
    let mut html = String::with_capacity(PAGE_CAPACITY.max(T::SIZE_HINT));
    page.render_into(&mut html)?;
    Ok(Html(html))
}

const PAGE_CAPACITY: usize = 32 * 1024;
