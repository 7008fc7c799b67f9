//! `GET /api/v1/items` (and its first name, `/api/v1/programmes`): items with their
//! funding figures as JSON, paged, with the filters and sorts of the dashboards, served
//! from the dashboards' snapshot. `GET /api/v1/items/{slug}`: one item with its
//! components, alignments, organisations, budgets and contributions. The full list is the
//! CSV (`/funding.csv?table=items`).

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

use crate::domain::auth::Audience;
use crate::domain::filters::Filters;
use crate::domain::filters::RawFilters;
use crate::domain::funding::{Bound, Unconverted};
use crate::domain::money::{Currency, two_places};
use crate::web::AppError;
use crate::web::dashboard::SortKey;
use crate::web::forms::HtmlQuery;
use crate::web::pages::funding::{parse_filters, query_string};
use crate::web::pages::overview::parse_page;
use crate::web::snapshot::Snap;
use crate::web::view::{Pager, no_rate};
use rust_decimal::Decimal;
use utoipa::{IntoParams, ToSchema};

use crate::web::api::error::{ApiError, ErrorBody};

const DEFAULT_PER_PAGE: usize = 100;
const MAX_PER_PAGE: usize = 500;

/// The filters and sort of `/funding`, as a query. Each value is checked where the
/// dashboards check it; an unknown one is a 400 that lists the values there are.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    /// `programme`, `initiative` or `component`.
    kind: String,
    /// An item status, e.g. `ongoing`.
    status: String,
    /// A theme code, e.g. `1`.
    theme: String,
    /// A result area code, e.g. `3.6`.
    result_area: String,
    /// An organisation's slug.
    organisation: String,
    /// A place's name.
    place: String,
    /// A biennium, e.g. `2008-2009`.
    biennium: String,
    /// `gap`, `unfunded`, `partly`, `fully` ...
    funding: String,
    /// `report` (default), `gap`, `budget`, `coverage` or `title`.
    pub sort: String,
}

/// Which page of a list, as a query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// From 1.
    pub page: String,
    /// 1 to 500; 100 when not given.
    pub per_page: String,
}

impl FilterParams {
    pub fn filters(&self) -> RawFilters {
        RawFilters {
            kind: self.kind.clone(),
            status: self.status.clone(),
            theme: self.theme.clone(),
            result_area: self.result_area.clone(),
            organisation: self.organisation.clone(),
            place: self.place.clone(),
            biennium: self.biennium.clone(),
            funding: self.funding.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProgrammeList {
    pub items: Vec<ProgrammeJson>,
    /// Items matching the filters, over all pages.
    pub total: usize,
    pub page: usize,
    pub per_page: usize,
    pub pages: usize,
    /// The address of the next page, or null on the last.
    pub next: Option<String>,
    pub prev: Option<String>,
}

/// One item. Money is a decimal string with two places, or null when unknown.
#[derive(Serialize, ToSchema)]
pub struct ProgrammeJson {
    pub slug: String,
    pub title: String,
    pub kind: String,
    pub status: String,
    pub parent: Option<String>,
    /// False for a draft (only staff and admins receive drafts).
    pub published: bool,
    pub result_areas: Vec<String>,
    pub budget_usd: Option<String>,
    /// Null when the only money pledged has no exchange rate (see `not_converted`).
    pub pledged_usd: Option<String>,
    pub firm_usd: Option<String>,
    pub gap_usd: Option<String>,
    /// pledged / budget, 0–1 (more when over-pledged); null when the budget is unknown.
    pub coverage: Option<f64>,
    /// Some part has no stated budget, or a budget is stated as a lower bound ("over
    /// ..."): the budget may be larger.
    pub budget_is_lower_bound: bool,
    /// A contribution in `pledged_usd` is stated as a lower bound: the money may be more.
    pub pledged_is_lower_bound: bool,
    /// The same for `firm_usd`.
    pub firm_is_lower_bound: bool,
    /// How `gap_usd` relates to the true gap; null when the gap is unknown.
    pub gap_bound: Option<BoundJson>,
    /// How `coverage` relates to the true coverage; null when coverage is unknown.
    pub coverage_bound: Option<BoundJson>,
    /// Amounts left out of the USD figures because no exchange rate converts them, in
    /// their own currencies; empty when every amount is converted.
    pub not_converted: Vec<NotConvertedJson>,
    pub url: String,
}

/// How a figure relates to the true value when amounts behind it are stated as lower
/// bounds: `exact` (none is), `at_least` (it may be more: a budget stated as a lower
/// bound, or parts without a stated budget), `at_most` (it may be less: money stated as
/// a lower bound closes a gap), `approximate` (both pull on it).
#[derive(Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BoundJson {
    Exact,
    AtLeast,
    AtMost,
    Approximate,
}

impl BoundJson {
    /// The bound of a figure, or None when the figure is unknown.
    pub fn of(known: bool, bound: Bound) -> Option<BoundJson> {
        known.then_some(match bound {
            Bound::Exact => BoundJson::Exact,
            Bound::AtLeast => BoundJson::AtLeast,
            Bound::AtMost => BoundJson::AtMost,
            Bound::Approximate => BoundJson::Approximate,
        })
    }
}

/// Money of one figure, currency and month that no rate converts.
#[derive(Serialize, ToSchema)]
pub struct NotConvertedJson {
    /// "budget", "pledged", "committed" or "paid".
    pub figure: &'static str,
    pub currency: String,
    pub amount: String,
    /// The month that has no rate: "2008-03".
    pub month: String,
    /// "no NOK rate for March 2008"
    pub reason: String,
}

impl NotConvertedJson {
    pub fn all(unconverted: &Unconverted) -> Vec<NotConvertedJson> {
        unconverted
            .sums()
            .iter()
            .map(|&(figure, currency, month, amount)| NotConvertedJson {
                figure: figure.as_str(),
                currency: currency.to_string(),
                amount: two_places(amount),
                month: month.format("%Y-%m").to_string(),
                reason: no_rate(currency.as_str(), month),
            })
            .collect()
    }
}

/// A USD figure, or null when the only money behind it has no rate (never "0.00").
pub fn usd_or_null(usd: Decimal, left_out: &[(Currency, Decimal)]) -> Option<String> {
    (!usd.is_zero() || left_out.is_empty()).then(|| two_places(usd))
}

pub fn parse_per_page(raw: &str) -> Result<usize, AppError> {
    if raw.is_empty() {
        return Ok(DEFAULT_PER_PAGE);
    }
    raw.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_PER_PAGE).contains(n))
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "“{raw}” is not a page size: use a whole number from 1 to {MAX_PER_PAGE}."
            ))
        })
}

/// RFC 8288 links to the neighbouring, first and last pages.
fn link_header(pager: &Pager, first: String, last: String) -> Option<HeaderValue> {
    let mut links = vec![
        format!("<{first}>; rel=\"first\""),
        format!("<{last}>; rel=\"last\""),
    ];
    if let Some(next) = pager.next() {
        links.push(format!("<{next}>; rel=\"next\""));
    }
    if let Some(prev) = pager.prev() {
        links.push(format!("<{prev}>; rel=\"prev\""));
    }
    HeaderValue::from_str(&links.join(", ")).ok()
}

/// Items, programmes first (the first name of `GET /api/v1/items`).
#[utoipa::path(get, path = "/api/v1/programmes", tag = "items", params(FilterParams, PageParams),
    responses((status = 200, body = ProgrammeList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn programmes(
    snap: Snap,
    audience: Audience,
    HtmlQuery(filters): HtmlQuery<FilterParams>,
    HtmlQuery(paging): HtmlQuery<PageParams>,
) -> Result<Response, ApiError> {
    Ok(list(
        "/api/v1/programmes",
        &snap,
        audience,
        &filters,
        &paging,
    )?)
}

/// Items (programmes, initiatives and components) with their funding figures, filtered,
/// sorted and paged as on `/funding`. A `Link` header names the neighbouring pages.
#[utoipa::path(get, path = "/api/v1/items", tag = "items", params(FilterParams, PageParams),
    responses((status = 200, body = ProgrammeList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn items(
    snap: Snap,
    audience: Audience,
    HtmlQuery(filters): HtmlQuery<FilterParams>,
    HtmlQuery(paging): HtmlQuery<PageParams>,
) -> Result<Response, ApiError> {
    Ok(list("/api/v1/items", &snap, audience, &filters, &paging)?)
}

/// An item as the lists show it: its funding figures for this audience.
pub fn programme_json(p: &crate::domain::portfolio::Portfolio, i: usize) -> ProgrammeJson {
    let item = &p.items[i];
    let funding = p.funding_ref(i);
    ProgrammeJson {
        slug: item.slug.clone(),
        title: item.title.clone(),
        kind: item.kind.as_str().to_string(),
        published: item.published,
        status: item.status.as_str().to_string(),
        parent: item
            .parent_id
            .and_then(|parent| p.index_of(parent))
            .map(|parent| p.items[parent].slug.clone()),
        result_areas: item.facets.result_areas.clone(),
        budget_usd: funding.budget_usd.map(two_places),
        pledged_usd: usd_or_null(funding.pledged_usd, &funding.unconverted.pledged()),
        firm_usd: usd_or_null(funding.firm_usd, &funding.unconverted.firm()),
        not_converted: NotConvertedJson::all(&funding.unconverted),
        gap_usd: funding.gap_usd.map(two_places),
        coverage: funding.coverage.and_then(|c| c.round_dp(4).try_into().ok()),
        budget_is_lower_bound: funding.budget_is_lower_bound,
        pledged_is_lower_bound: funding.pledged_is_lower_bound,
        firm_is_lower_bound: funding.firm_is_lower_bound,
        gap_bound: BoundJson::of(funding.gap_usd.is_some(), funding.gap_bound),
        coverage_bound: BoundJson::of(funding.coverage.is_some(), funding.coverage_bound),
        url: format!("/programmes/{}", item.slug),
    }
}

fn list(
    path: &str,
    snap: &Snap,
    audience: Audience,
    params: &FilterParams,
    paging: &PageParams,
) -> Result<Response, AppError> {
    let filters = parse_filters(&params.filters(), snap.dashboard(audience))?;
    let sort = SortKey::parse(&params.sort, &SortKey::ALL)?;
    let page = parse_page(Some(&paging.page))?;
    let per_page = parse_per_page(&paging.per_page)?;
    let d = snap.dashboard(audience);
    let p = &d.portfolio;
    // every kind, components included, in the chosen order
    let matching: Cow<[usize]> = if filters == Filters::default() {
        Cow::Borrowed(d.order(sort))
    } else {
        d.order(sort)
            .iter()
            .copied()
            .filter(|&i| p.passes(i, &filters))
            .collect()
    };
    let base = format!(
        "{path}?{}",
        query_string(
            &filters,
            &[("sort", sort.as_str()), ("per_page", &per_page.to_string())]
        )
    );
    let pager = Pager::new(page, matching.len(), per_page, base)?;
    let items = matching[pager.range()]
        .iter()
        .map(|&i| programme_json(p, i))
        .collect();
    let page_href = |n: usize| {
        format!(
            "{path}?{}",
            query_string(
                &filters,
                &[
                    ("sort", sort.as_str()),
                    ("per_page", &per_page.to_string()),
                    ("page", &n.to_string())
                ]
            )
        )
    };
    let links = link_header(&pager, page_href(1), page_href(pager.pages));
    let body = ProgrammeList {
        items,
        total: matching.len(),
        page: pager.page,
        per_page,
        pages: pager.pages,
        next: pager.next(),
        prev: pager.prev(),
    };
    let mut response = Json(body).into_response();
    if let Some(links) = links {
        response.headers_mut().insert(header::LINK, links);
    }
    Ok(response)
}
