//! `GET /api/v1/funding/{table}`: the summaries of `/funding` (by donor, theme, result
//! area, country or region, biennium) under the same filters, as JSON. Served from the
//! dashboards' snapshot: without filters the sections computed with the revision,
//! with filters the per-item tallies summed as the page sums them (`funding::sections`).
//! By item is `GET /api/v1/items`.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::auth::Audience;
use crate::domain::funding::Funding;
use crate::domain::money::two_places;
use crate::web::api::error::{ApiError, ErrorBody};
use crate::web::api::items::{BoundJson, FilterParams, NotConvertedJson, usd_or_null};
use crate::web::dashboard::SortKey;
use crate::web::forms::{HtmlPath, HtmlQuery};
use crate::web::pages::funding::{Group, parse_filters, with_sections};
use crate::web::snapshot::Snap;

/// The grouped tables, by their name in the address.
const GROUP_TABLES: [&str; 4] = ["themes", "result-areas", "places", "bienniums"];

/// One group's money.
#[derive(Serialize, ToSchema)]
pub struct GroupJson {
    /// The theme, result area, place or biennium as the page names it.
    pub label: String,
    /// Its page, if it has one.
    pub url: Option<String>,
    /// Items counted in it.
    pub items: usize,
    pub budget_usd: Option<String>,
    pub pledged_usd: Option<String>,
    pub firm_usd: Option<String>,
    pub paid_usd: Option<String>,
    pub gap_usd: Option<String>,
    pub coverage: Option<f64>,
    /// Some part has no stated budget, or a budget is stated as a lower bound.
    pub budget_is_lower_bound: bool,
    /// A contribution in the figure is stated as a lower bound: the money may be more.
    pub pledged_is_lower_bound: bool,
    pub firm_is_lower_bound: bool,
    pub paid_is_lower_bound: bool,
    /// How `gap_usd` relates to the true gap; null when the gap is unknown.
    pub gap_bound: Option<BoundJson>,
    /// How `coverage` relates to the true coverage; null when coverage is unknown.
    pub coverage_bound: Option<BoundJson>,
    pub not_converted: Vec<NotConvertedJson>,
}

impl From<&Group> for GroupJson {
    fn from(g: &Group) -> Self {
        let f: &Funding = &g.funding;
        GroupJson {
            label: g.label.clone(),
            url: Some(g.href.clone()).filter(|h| !h.is_empty()),
            items: g.items,
            budget_usd: f.budget_usd.map(two_places),
            pledged_usd: usd_or_null(f.pledged_usd, &f.unconverted.pledged()),
            firm_usd: usd_or_null(f.firm_usd, &f.unconverted.firm()),
            paid_usd: usd_or_null(f.paid_usd, &f.unconverted.paid()),
            gap_usd: f.gap_usd.map(two_places),
            coverage: f.coverage.and_then(|c| c.round_dp(4).try_into().ok()),
            budget_is_lower_bound: f.budget_is_lower_bound,
            pledged_is_lower_bound: f.pledged_is_lower_bound,
            firm_is_lower_bound: f.firm_is_lower_bound,
            paid_is_lower_bound: f.paid_is_lower_bound,
            gap_bound: BoundJson::of(f.gap_usd.is_some(), f.gap_bound),
            coverage_bound: BoundJson::of(f.coverage.is_some(), f.coverage_bound),
            not_converted: NotConvertedJson::all(&f.unconverted),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct GroupTable {
    /// `themes`, `result-areas`, `places` or `bienniums`.
    pub table: String,
    pub rows: Vec<GroupJson>,
}

/// One donor's money.
#[derive(Serialize, ToSchema)]
pub struct DonorJson {
    pub slug: String,
    pub name: String,
    /// `government`, `un_entity`, ...
    pub kind: String,
    pub contributions: i64,
    /// The currencies it gave in.
    pub currencies: Vec<String>,
    pub pledged_usd: Option<String>,
    pub firm_usd: Option<String>,
    pub paid_usd: Option<String>,
    pub not_converted: Vec<NotConvertedJson>,
}

/// The funding of the items matching the filters, by donor, largest first.
#[utoipa::path(get, path = "/api/v1/funding/donors", tag = "funding",
    params(FilterParams),
    responses((status = 200, body = Vec<DonorJson>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)))]
pub async fn donors(
    snap: Snap,
    audience: Audience,
    HtmlQuery(params): HtmlQuery<FilterParams>,
) -> Result<Json<Vec<DonorJson>>, ApiError> {
    let filters = parse_filters(&params.filters(), snap.dashboard(audience))?;
    let sort = SortKey::parse(&params.sort, &SortKey::ALL)?;
    let rows = with_sections(&snap, audience, &filters, sort, |s| {
        s.donors
            .iter()
            .map(|d| DonorJson {
                slug: d.slug.clone(),
                name: d.name.clone(),
                kind: d.kind.as_str().to_string(),
                contributions: d.contributions,
                currencies: d.currencies.clone(),
                pledged_usd: usd_or_null(d.pledged_usd, &d.unconverted.pledged()),
                firm_usd: usd_or_null(d.firm_usd, &d.unconverted.firm()),
                paid_usd: usd_or_null(d.paid_usd, &d.unconverted.paid()),
                not_converted: NotConvertedJson::all(&d.unconverted),
            })
            .collect()
    });
    Ok(Json(rows))
}

/// The funding of the items matching the filters, grouped by theme, result area,
/// country or region, or biennium.
#[utoipa::path(get, path = "/api/v1/funding/{table}", tag = "funding",
    params(("table" = String, Path, description = "`themes`, `result-areas`, `places` or `bienniums`"),
           FilterParams),
    responses((status = 200, body = GroupTable), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn groups(
    snap: Snap,
    audience: Audience,
    HtmlPath(table): HtmlPath<String>,
    HtmlQuery(params): HtmlQuery<FilterParams>,
) -> Result<Json<GroupTable>, ApiError> {
    if !GROUP_TABLES.contains(&table.as_str()) {
        return Err(ApiError::not_found());
    }
    let filters = parse_filters(&params.filters(), snap.dashboard(audience))?;
    let sort = SortKey::parse(&params.sort, &SortKey::ALL)?;
    let rows = with_sections(&snap, audience, &filters, sort, |s| {
        let groups = match table.as_str() {
            "themes" => &s.themes,
            "result-areas" => &s.areas,
            "places" => &s.places,
            _ => &s.bienniums,
        };
        groups.iter().map(GroupJson::from).collect()
    });
    Ok(Json(GroupTable { table, rows }))
}
