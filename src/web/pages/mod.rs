//! Handlers, one module per page or area.

pub mod account;
pub mod activity;
pub mod changes;
pub mod delivery;
pub mod funding;
pub mod iati;
pub mod item;
pub mod login;
pub mod organisation;
pub mod overview;
pub mod place;
pub mod result_areas;
pub mod search;
pub mod timeline;
pub mod tokens;

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Html;

use crate::domain::filters::RawFilters;
use crate::store::portfolio::ContributionRecord;
use crate::web::AppError;
use crate::web::forms::HtmlQuery;
use crate::web::pages::overview::parse_page;
use crate::web::view;

/// Renders a page template into a response.
pub fn render<T: Template>(page: &T) -> Result<Html<String>, AppError> {
    // Dashboard pages run to tens of kilobytes: one allocation up front rather than
    // copying the page over as it doubles from askama's small estimate.
    let mut html = String::with_capacity(PAGE_CAPACITY.max(T::SIZE_HINT));
    page.render_into(&mut html)?;
    Ok(Html(html))
}

const PAGE_CAPACITY: usize = 32 * 1024;

/// `?page=N` of a paged page that reads nothing else from its query: the number, checked
/// as [`parse_page`] checks it (1 without the parameter).
pub struct PageNumber(pub usize);

impl<S: Send + Sync> FromRequestParts<S> for PageNumber {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        #[derive(Default, serde::Deserialize)]
        #[serde(default)]
        struct Params {
            page: String,
        }
        let HtmlQuery(params) = HtmlQuery::<Params>::from_request_parts(parts, state).await?;
        parse_page(Some(&params.page)).map(PageNumber)
    }
}

/// A contribution as a table row shows it, on the item's page and on the organisation's:
/// the two differ only in whom or what the row names beside it.
pub struct ContributionCells {
    pub status: String,
    pub original: String,
    pub usd: String,
    pub rate: String,
    /// For admins: the form that adds the rate this amount lacks.
    pub add_rate: Option<view::MissingRate>,
    pub date: String,
    pub self_financing: bool,
    pub source_para: String,
}

impl From<&ContributionRecord> for ContributionCells {
    fn from(c: &ContributionRecord) -> Self {
        ContributionCells {
            status: c.status.label().to_string(),
            original: view::amount(c.amount, &c.currency, c.approximate, c.lower_bound),
            usd: view::usd_or_original(c.amount_usd, c.amount, &c.currency),
            rate: view::rate_used(&c.currency, c.as_of, c.rate_month, c.usd_per_unit),
            add_rate: view::missing_rate(c.amount_usd, &c.currency, c.as_of),
            date: c
                .pledged_on
                .map(|d| d.to_string())
                .unwrap_or_else(|| "not stated".into()),
            self_financing: c.self_financing,
            source_para: c.source_para.clone().unwrap_or_default(),
        }
    }
}

/// The query of a list of items that can be filtered, sorted and paged (`/funding` and
/// the JSON API), as received: each is checked where it is used.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ListQuery {
    #[serde(flatten)]
    pub filters: RawFilters,
    pub sort: String,
    pub page: String,
}
