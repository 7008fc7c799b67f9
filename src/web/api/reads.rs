//! The API's reads besides the item lists (`api::items`): one item in full, the
//! contributions, organisations, places, result areas and exchange rates. Everything but
//! a single contribution (which carries its version) and the rates is served from the
//! dashboards' snapshot, so a read costs no query over the portfolio. What a reader sees
//! follows their role exactly as the pages do (`Audience`): a delegate never gets a
//! draft (404, as if it did not exist) or an item's internal notes.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::dates::PartialDate;
use crate::domain::delivery::{Milestone, Target};

use crate::domain::auth::Audience;
use crate::domain::vocab::TITLE_NOT_GIVEN;
use crate::store::{money, rates};
use crate::web::AppState;
use crate::web::api::error::{ApiError, ErrorBody};
use crate::web::api::items::{PageParams, ProgrammeJson, parse_per_page, programme_json};
use crate::web::api::json::{self, BudgetJson, ContributionJson, Paging};
use crate::web::forms::{HtmlPath, HtmlQuery};
use crate::web::pages::item::visible_item;
use crate::web::pages::overview::parse_page;
use crate::web::snapshot::Snap;
use crate::web::view::Pager;

/// A date with its precision: both ends of its period, the precision, and the form it is
/// written in (`2008-Q3`, which the item write accepts back).
#[derive(Debug, Serialize, ToSchema)]
pub struct DateSpanJson {
    #[schema(example = "2008-Q3")]
    pub code: String,
    /// As the pages print it: "Q3 2008".
    #[schema(example = "Q3 2008")]
    pub text: String,
    #[schema(example = "quarter")]
    pub precision: &'static str,
    #[schema(format = Date, example = "2008-07-01")]
    pub first_day: String,
    #[schema(format = Date, example = "2008-09-30")]
    pub last_day: String,
}

impl From<PartialDate> for DateSpanJson {
    fn from(d: PartialDate) -> Self {
        DateSpanJson {
            code: d.code(),
            text: d.to_string(),
            precision: d.precision().as_str(),
            first_day: d.first_day().to_string(),
            last_day: d.last_day().to_string(),
        }
    }
}

/// An item in full.
#[derive(Serialize, ToSchema)]
pub struct ItemDetail {
    /// Its funding figures, as the lists give them.
    #[serde(flatten)]
    pub item: ProgrammeJson,
    pub status_note: Option<String>,
    pub summary: String,
    pub description: String,
    /// The period as the source states it.
    pub period: Option<String>,
    /// When it starts, as precisely as the source gives it.
    pub start_date: Option<DateSpanJson>,
    /// When it ends (the period in which it ends).
    pub end_date: Option<DateSpanJson>,
    pub report_section: Option<String>,
    pub source_paras: Option<String>,
    /// Staff and admins only; absent for delegates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal_notes: Option<String>,
    pub places: Vec<String>,
    /// Its components, depth-first, each with its depth below this item (1 = child).
    pub components: Vec<ComponentJson>,
    pub alignments: Vec<AlignmentJson>,
    pub organisations: Vec<ItemOrganisationJson>,
    pub budgets: Vec<BudgetJson>,
    pub contributions: Vec<ContributionJson>,
    /// Its dated commitments, by due date.
    pub milestones: Vec<MilestoneJson>,
    /// What it counts toward, with the progress recorded (oldest first).
    pub targets: Vec<TargetJson>,
    /// The version a change (`PUT`) must name.
    pub version: i32,
}

#[derive(Serialize, ToSchema)]
pub struct ComponentJson {
    pub slug: String,
    pub title: String,
    pub depth: usize,
    pub published: bool,
}

#[derive(Serialize, ToSchema)]
pub struct AlignmentJson {
    /// The result area's code, e.g. `3.6`.
    pub result_area: String,
    pub title: Option<String>,
    pub source_para: Option<String>,
    pub note: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ItemOrganisationJson {
    pub slug: String,
    pub name: String,
    /// Its role in the item, e.g. `donor`, `implementing_partner`.
    pub role: String,
    pub source_para: Option<String>,
}

/// One item with everything recorded about it.
#[utoipa::path(get, path = "/api/v1/items/{slug}", tag = "items",
    params(("slug" = String, Path, description = "The item's slug")),
    responses((status = 200, body = ItemDetail), (status = 401, body = ErrorBody),
              (status = 404, description = "No such item, or a draft for a delegate", body = ErrorBody)))]
pub async fn item(
    State(state): State<AppState>,
    snap: Snap,
    audience: Audience,
    HtmlPath(slug): HtmlPath<String>,
) -> Result<Json<ItemDetail>, ApiError> {
    let (item, d, index) = visible_item(&snap, audience, &slug)?;
    // The one figure the snapshot does not keep: a primary-key read.
    let version: i32 = sqlx::query_scalar("SELECT version FROM items WHERE id = $1")
        .bind(item.id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let records = &snap.records;
    let p = &d.portfolio;
    let components = p
        .descendants(index)
        .into_iter()
        .map(|(c, depth)| ComponentJson {
            slug: p.items[c].slug.clone(),
            title: p.items[c].title.clone(),
            depth,
            published: p.items[c].published,
        })
        .collect();
    let alignments = records
        .alignments_of_item(item.id)
        .filter_map(|a| {
            let area = records.result_area_by_id(a.result_area_id)?;
            Some(AlignmentJson {
                result_area: area.code.clone(),
                title: area.title.clone(),
                source_para: a.source_para.clone(),
                note: a.note.clone(),
            })
        })
        .collect();
    let organisations = records
        .roles_of_item(item.id)
        .filter_map(|r| {
            let org = records.organisation_by_id(r.org_id)?;
            Some(ItemOrganisationJson {
                slug: org.slug.clone(),
                name: org.display_name(),
                role: r.role.as_str().to_string(),
                source_para: r.source_para.clone(),
            })
        })
        .collect();
    Ok(Json(ItemDetail {
        item: programme_json(p, index),
        status_note: item.status_note.clone(),
        summary: item.summary.clone(),
        description: item.description.clone(),
        period: item.period.clone(),
        start_date: item.start().map(DateSpanJson::from),
        end_date: item.end().map(DateSpanJson::from),
        report_section: item.report_section.clone(),
        source_paras: item.source_paras.clone(),
        internal_notes: (audience == Audience::Internal).then(|| item.internal_notes.clone()),
        places: records
            .places_of_item(item.id)
            .map(|p| p.name.clone())
            .collect(),
        components,
        alignments,
        organisations,
        budgets: records
            .budgets_of_item(item.id)
            .map(BudgetJson::from)
            .collect(),
        contributions: records
            .contributions_of_item(item.id)
            .map(|c| ContributionJson::listed(c, &item.slug, records))
            .collect(),
        milestones: records
            .data
            .delivery
            .milestones_of(item.id)
            .map(MilestoneJson::from)
            .collect(),
        targets: records
            .data
            .delivery
            .targets_of(item.id)
            .map(TargetJson::from)
            .collect(),
        version,
    }))
}

/// A milestone of an item.
#[derive(Serialize, ToSchema)]
pub struct MilestoneJson {
    pub id: i64,
    pub title: String,
    pub due: DateSpanJson,
    /// `planned`, `done`, `slipped` or `cancelled`.
    #[schema(example = "planned")]
    pub status: &'static str,
    pub done_on: Option<DateSpanJson>,
    pub source_para: Option<String>,
    pub note: Option<String>,
}

impl From<&Milestone> for MilestoneJson {
    fn from(m: &Milestone) -> Self {
        MilestoneJson {
            id: m.id,
            title: m.title.clone(),
            due: m.due.into(),
            status: m.status.as_str(),
            done_on: m.done_on.map(DateSpanJson::from),
            source_para: m.source_para.clone(),
            note: m.note.clone(),
        }
    }
}

/// A target of an item and the progress recorded toward it.
#[derive(Serialize, ToSchema)]
pub struct TargetJson {
    pub id: i64,
    /// What is counted, e.g. "expert consultations held".
    pub measure: String,
    /// The number to reach, as a decimal string.
    #[schema(example = "3")]
    pub target: String,
    pub period: Option<DateSpanJson>,
    /// The latest value recorded, or null when none is (unknown, not zero).
    pub current: Option<String>,
    pub source_para: Option<String>,
    pub note: Option<String>,
    pub updates: Vec<ProgressJson>,
}

/// Progress recorded toward a target.
#[derive(Serialize, ToSchema)]
pub struct ProgressJson {
    pub value: String,
    #[schema(format = Date)]
    pub recorded_on: String,
    pub note: Option<String>,
    pub recorded_by: String,
}

impl From<&Target> for TargetJson {
    fn from(t: &Target) -> Self {
        TargetJson {
            id: t.id,
            measure: t.measure.clone(),
            target: t.target_value.normalize().to_string(),
            period: t.period.map(DateSpanJson::from),
            current: t.current().map(|v| v.normalize().to_string()),
            source_para: t.source_para.clone(),
            note: t.note.clone(),
            updates: t
                .updates
                .iter()
                .map(|u| ProgressJson {
                    value: u.value.normalize().to_string(),
                    recorded_on: u.recorded_on.to_string(),
                    note: u.note.clone(),
                    recorded_by: u.recorded_by.clone(),
                })
                .collect(),
        }
    }
}

/// The query of the contributions list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct ContributionParams {
    /// Only those to this item (its slug).
    item: String,
    /// Only those of this organisation (its slug).
    organisation: String,
}

#[derive(Serialize, ToSchema)]
pub struct ContributionList {
    pub contributions: Vec<ContributionJson>,
    #[serde(flatten)]
    pub paging: Paging,
}

/// Contributions to the items this reader may see, in the items' report order, paged.
#[utoipa::path(get, path = "/api/v1/contributions", tag = "contributions",
    params(ContributionParams, PageParams),
    responses((status = 200, body = ContributionList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn contributions(
    snap: Snap,
    audience: Audience,
    HtmlQuery(params): HtmlQuery<ContributionParams>,
    HtmlQuery(paging): HtmlQuery<PageParams>,
) -> Result<Json<ContributionList>, ApiError> {
    let d = snap.dashboard(audience);
    let records = &snap.records;
    let p = &d.portfolio;
    let page = parse_page(Some(&paging.page))?;
    let per_page = parse_per_page(&paging.per_page)?;
    let item_id = match params.item.as_str() {
        "" => None,
        slug => Some(visible_item(&snap, audience, slug)?.0.id),
    };
    let org_id = match params.organisation.as_str() {
        "" => None,
        slug => Some(
            records
                .organisation(slug)
                .filter(|o| d.shows_organisation(&o.slug))
                .ok_or_else(ApiError::not_found)?
                .id,
        ),
    };
    let rows: Vec<(usize, &crate::store::portfolio::ContributionRecord)> = records
        .data
        .contributions
        .iter()
        .filter(|c| item_id.is_none_or(|id| c.item_id == id))
        .filter(|c| org_id.is_none_or(|id| c.org_id == id))
        .filter_map(|c| p.index_of(c.item_id).map(|i| (i, c)))
        .collect();
    let base = format!(
        "/api/v1/contributions?{}",
        serde_urlencoded::to_string([
            ("item", params.item.as_str()),
            ("organisation", params.organisation.as_str()),
            ("per_page", &per_page.to_string()),
        ])
        .unwrap_or_default()
    );
    let pager = Pager::new(page, rows.len(), per_page, base)?;
    let contributions = rows[pager.range()]
        .iter()
        .map(|&(i, c)| ContributionJson::listed(c, &p.items[i].slug, records))
        .collect();
    Ok(Json(ContributionList {
        contributions,
        paging: Paging {
            total: rows.len(),
            page: pager.page,
            per_page,
            pages: pager.pages,
            next: pager.next(),
            prev: pager.prev(),
        },
    }))
}

/// A contribution id in a path: a positive whole number, else nothing is there (404).
pub fn contribution_id(raw: &str) -> Result<i64, ApiError> {
    Ok(crate::web::forms::parse_id(raw)?)
}

/// The contribution behind `id` as saved, with its item's and organisation's slugs, if
/// this audience may see its item.
pub async fn visible_contribution(
    state: &AppState,
    snap: &Snap,
    audience: Audience,
    id: i64,
) -> Result<ContributionJson, ApiError> {
    let c = money::contribution(&state.pool, id)
        .await?
        .filter(|c| !c.archived)
        .ok_or_else(ApiError::not_found)?;
    let d = snap.dashboard(audience);
    let index = d
        .portfolio
        .index_of(c.item_id)
        .ok_or_else(ApiError::not_found)?;
    let org_slug = snap
        .records
        .organisation_by_id(c.org_id)
        .map(|o| o.slug.clone())
        .unwrap_or_default();
    Ok(ContributionJson::saved(
        &c,
        &d.portfolio.items[index].slug,
        &org_slug,
    ))
}

/// What happened to a contribution, in the order it happened: its pledges, commitments,
/// payments, reductions and cancellation. Its amount and status are what they add up to.
#[utoipa::path(get, path = "/api/v1/contributions/{id}/events", tag = "contributions",
    params(("id" = i64, Path, description = "The contribution's id")),
    responses((status = 200, body = Vec<json::EventJson>), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn contribution_events(
    State(state): State<AppState>,
    snap: Snap,
    audience: Audience,
    HtmlPath(id): HtmlPath<String>,
) -> Result<Json<Vec<json::EventJson>>, ApiError> {
    let id = contribution_id(&id)?;
    visible_contribution(&state, &snap, audience, id).await?;
    let mut db = state.pool.acquire().await?;
    let events = crate::store::contribution_events::of(&mut db, id).await?;
    Ok(Json(events.iter().map(json::EventJson::of).collect()))
}

/// One contribution, with the `version` a change must name.
#[utoipa::path(get, path = "/api/v1/contributions/{id}", tag = "contributions",
    params(("id" = i64, Path, description = "The contribution's id")),
    responses((status = 200, body = ContributionJson), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn contribution(
    State(state): State<AppState>,
    snap: Snap,
    audience: Audience,
    HtmlPath(id): HtmlPath<String>,
) -> Result<Json<ContributionJson>, ApiError> {
    let id = contribution_id(&id)?;
    Ok(Json(
        visible_contribution(&state, &snap, audience, id).await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct OrganisationJson {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub acronym: Option<String>,
    /// `government`, `un_entity`, `bank`, ...
    pub kind: String,
    pub url: String,
}

/// Organisations this reader may see (delegates: those of the items they see), by name.
#[utoipa::path(get, path = "/api/v1/organisations", tag = "reference",
    responses((status = 200, body = Vec<OrganisationJson>), (status = 401, body = ErrorBody)))]
pub async fn organisations(snap: Snap, audience: Audience) -> Json<Vec<OrganisationJson>> {
    let d = snap.dashboard(audience);
    Json(
        snap.records
            .data
            .organisations
            .iter()
            .filter(|o| !o.archived && d.shows_organisation(&o.slug))
            .map(|o| OrganisationJson {
                id: o.id,
                slug: o.slug.clone(),
                name: o.name.clone(),
                acronym: o.acronym.clone(),
                kind: o.kind.as_str().to_string(),
                url: format!("/organisations/{}", o.slug),
            })
            .collect(),
    )
}

#[derive(Serialize, ToSchema)]
pub struct PlaceJson {
    pub name: String,
    /// `country`, `region`, ...
    pub kind: String,
}

/// Places (countries, regions) of the items this reader may see.
#[utoipa::path(get, path = "/api/v1/places", tag = "reference",
    responses((status = 200, body = Vec<PlaceJson>), (status = 401, body = ErrorBody)))]
pub async fn places(snap: Snap, audience: Audience) -> Json<Vec<PlaceJson>> {
    let d = snap.dashboard(audience);
    Json(
        snap.records
            .data
            .places
            .iter()
            .filter(|p| d.shows_place(&p.name))
            .map(|p| PlaceJson {
                name: p.name.clone(),
                kind: p.kind.as_str().to_string(),
            })
            .collect(),
    )
}

#[derive(Serialize, ToSchema)]
pub struct ResultAreaJson {
    pub code: String,
    pub theme: String,
    /// Null when the strategy gives the area no title.
    pub title: Option<String>,
    /// What a page shows when there is no title.
    pub label: String,
}

/// The strategy's result areas, by code.
#[utoipa::path(get, path = "/api/v1/result-areas", tag = "reference",
    responses((status = 200, body = Vec<ResultAreaJson>), (status = 401, body = ErrorBody)))]
pub async fn result_areas(snap: Snap) -> Json<Vec<ResultAreaJson>> {
    Json(
        snap.records
            .data
            .result_areas
            .iter()
            .map(|a| ResultAreaJson {
                code: a.code.clone(),
                theme: a.theme_code.clone(),
                title: a.title.clone(),
                label: a
                    .title
                    .clone()
                    .unwrap_or_else(|| TITLE_NOT_GIVEN.to_string()),
            })
            .collect(),
    )
}

#[derive(Serialize, ToSchema)]
pub struct RateJson {
    pub currency: String,
    /// `2008-02`: the rate converts amounts dated in this month (and later months
    /// without their own rate).
    pub month: String,
    /// US dollars per unit of `currency`, a decimal string.
    pub usd_per_unit: String,
    pub source: String,
}

/// The monthly exchange rates to USD, by currency and month.
#[utoipa::path(get, path = "/api/v1/exchange-rates", tag = "reference",
    responses((status = 200, body = Vec<RateJson>), (status = 401, body = ErrorBody)))]
pub async fn exchange_rates(
    State(state): State<AppState>,
) -> Result<Json<Vec<RateJson>>, ApiError> {
    let rates = rates::list(&state.pool, None).await?;
    Ok(Json(
        rates
            .iter()
            .map(|r| RateJson {
                currency: r.currency.clone(),
                month: r.month.format("%Y-%m").to_string(),
                usd_per_unit: json::amount(r.usd_per_unit),
                source: r.source.clone(),
            })
            .collect(),
    ))
}
