//! The API's writes: contributions created under an item and changed. A JSON body is
//! turned into the admin form the pages post (`ContributionForm`) and goes through the
//! same steps as the form: the record's page context (menus, the missing-rate check),
//! `EditPage::validate`, and the save pipeline (`store::editing`: version check, audit
//! row under the person, naming the token). No rule is written twice: a refused field is
//! the form's message, answered as 422 with `field`; a stale `version` is 409 with the
//! record as saved now.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::domain::auth::Audience;
use crate::domain::records::contribution::ContributionForm;
use crate::domain::records::contribution_event::EventForm;
use crate::domain::records::item::ItemForm;
use crate::store::admin_items::{AdminItem, Items};
use crate::store::contribution_events::{self, ContributionEvents};
use crate::store::editing::{self, Saved};
use crate::store::money::{self, Contributions};
use crate::web::AppState;
use crate::web::admin::pipeline::{Check, CreatePage, EditPage};
use crate::web::api::error::{ApiError, ErrorBody};
use crate::web::api::json::{ContributionJson, EventJson};
use crate::web::api::reads::{contribution_id, visible_contribution};
use crate::web::auth::{CurrentUser, SignedIn};
use crate::web::forms::HtmlPath;
use crate::web::pages::item::visible_item;
use crate::web::snapshot::Snap;

/// A JSON body, with a body that cannot be read answered by the API's 400 (or 415
/// without a JSON content type) instead of the framework's plain text.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError::new(
                match rejection.status() {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
                    _ => StatusCode::BAD_REQUEST,
                },
                "bad_request",
                format!("The body could not be read: {}", rejection.body_text()),
            )),
        }
    }
}

/// A contribution as sent: the admin form's fields, typed as JSON. Money is a decimal
/// string (`"1500000"`, `"1,500,000.50"`), dates `YYYY-MM-DD`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContributionInput {
    /// The giving organisation's id (`GET /api/v1/organisations`).
    pub organisation_id: i64,
    #[schema(example = "1500000")]
    pub amount: String,
    #[schema(example = "USD")]
    pub currency: String,
    /// `pledged`, `committed` or `paid`.
    #[schema(example = "pledged")]
    pub status: String,
    #[serde(default)]
    #[schema(example = "2008-02-07")]
    pub pledged_on: Option<String>,
    #[schema(example = "2008-02-07")]
    pub as_of: String,
    #[serde(default)]
    pub approximate: bool,
    #[serde(default)]
    pub self_financing: bool,
    #[serde(default)]
    pub source_para: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// Save although no exchange rate converts the amount yet (it counts once a rate is
    /// added); without it such an amount is refused (422 on `currency`).
    #[serde(default)]
    pub without_rate: bool,
    /// The version it was read at (`GET /api/v1/contributions/{id}`); required to change
    /// one, ignored when creating.
    #[serde(default)]
    pub version: Option<i32>,
}

fn tick(on: bool) -> Option<String> {
    on.then(|| "on".to_string())
}

impl ContributionInput {
    /// The form the admin page would have posted.
    fn form(&self) -> ContributionForm {
        ContributionForm {
            organisation: self.organisation_id.to_string(),
            amount: self.amount.clone(),
            currency: self.currency.clone(),
            status: self.status.clone(),
            pledged_on: self.pledged_on.clone().unwrap_or_default(),
            as_of: self.as_of.clone(),
            approximate: tick(self.approximate),
            self_financing: tick(self.self_financing),
            source_para: self.source_para.clone().unwrap_or_default(),
            note: self.note.clone().unwrap_or_default(),
            without_rate: tick(self.without_rate),
            version: self.version.map(|v| v.to_string()).unwrap_or_default(),
        }
    }
}

/// Creates a record under `owner` as the record's create form does.
async fn create<R: CreatePage>(
    state: &AppState,
    user: &CurrentUser,
    owner: &R::Owner,
    form: &R::Form,
) -> Result<R::Record, ApiError> {
    let context = R::context(&state.pool, owner, None, form).await?;
    let check = Check {
        context: &context,
        before: None,
        editor: user,
        today: state.today(),
    };
    let fields = R::validate(form, check)?;
    match editing::create::<R>(&state.pool, &user.actor(), owner, &fields).await? {
        Saved::Done(record) => Ok(record),
        Saved::Refused(errors) => Err(ApiError::invalid(&errors)),
        Saved::Stale(_) | Saved::Missing => Err(ApiError::not_found()),
    }
}

/// Changes a record as its edit form does. Stale: 409 with `current(record)`.
async fn update<R: EditPage>(
    state: &AppState,
    user: &CurrentUser,
    key: &R::Key,
    version: i32,
    form: &R::Form,
    current: impl Fn(&R::Record) -> serde_json::Value,
) -> Result<R::Record, ApiError> {
    let before = {
        let mut db = state.pool.acquire().await?;
        R::load(&mut db, key)
            .await?
            .ok_or_else(ApiError::not_found)?
    };
    let owner = R::owner_of(&state.pool, &before).await?;
    let context = R::context(&state.pool, &owner, Some(&before), form).await?;
    let check = Check {
        context: &context,
        before: Some(&before),
        editor: user,
        today: state.today(),
    };
    let fields = R::validate(form, check)?;
    match editing::update::<R>(&state.pool, &user.actor(), key, version, &fields).await? {
        Saved::Done(record) => Ok(record),
        Saved::Refused(errors) => Err(ApiError::invalid(&errors)),
        Saved::Stale(now) => Err(ApiError::conflict(current(&now))),
        Saved::Missing => Err(ApiError::not_found()),
    }
}

/// The contribution as the API shows it, with slugs from the snapshot.
fn contribution_json(snap: &Snap, c: &money::Contribution, item_slug: &str) -> ContributionJson {
    let org_slug = snap
        .records
        .organisation_by_id(c.org_id)
        .map(|o| o.slug.clone())
        .unwrap_or_default();
    ContributionJson::saved(c, item_slug, &org_slug)
}

/// Records a contribution to an item (admins; a read-write token or the session's CSRF
/// token). Audited under the person, naming the token.
#[utoipa::path(post, path = "/api/v1/items/{slug}/contributions", tag = "contributions",
    params(("slug" = String, Path, description = "The item's slug")),
    request_body = ContributionInput,
    responses((status = 201, body = ContributionJson), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, description = "A field was refused: `field` names it", body = ErrorBody),
              (status = 429, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
pub async fn create_contribution(
    State(state): State<AppState>,
    snap: Snap,
    SignedIn(user): SignedIn,
    HtmlPath(slug): HtmlPath<String>,
    ApiJson(input): ApiJson<ContributionInput>,
) -> Result<Response, ApiError> {
    let (item, _, _) = visible_item(&snap, Audience::Internal, &slug)?;
    let owner = money::item(&state.pool, item.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let saved = create::<Contributions>(&state, &user, &owner, &input.form()).await?;
    let body = contribution_json(&snap, &saved, &owner.slug);
    let location = format!("/api/v1/contributions/{}", saved.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}

/// Changes a contribution. `version` must be the one read: a stale one is refused (409)
/// with the contribution as saved now in `error.current`.
#[utoipa::path(put, path = "/api/v1/contributions/{id}", tag = "contributions",
    params(("id" = i64, Path, description = "The contribution's id")),
    request_body = ContributionInput,
    responses((status = 200, body = ContributionJson), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "Changed since `version`", body = ErrorBody),
              (status = 415, body = ErrorBody),
              (status = 422, description = "A field was refused: `field` names it", body = ErrorBody),
              (status = 429, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
pub async fn update_contribution(
    State(state): State<AppState>,
    snap: Snap,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
    ApiJson(input): ApiJson<ContributionInput>,
) -> Result<Json<ContributionJson>, ApiError> {
    let id = contribution_id(&id)?;
    // Only contributions of items there are (not archived) are changed here.
    let shown = visible_contribution(&state, &snap, Audience::Internal, id).await?;
    let Some(version) = input.version else {
        return Err(ApiError::invalid(&crate::domain::forms::FieldErrors::one(
            "version",
            "send the version the contribution was read at",
        )));
    };
    let item_slug = shown.item.clone();
    let current = |now: &money::Contribution| {
        serde_json::to_value(contribution_json(&snap, now, &item_slug)).unwrap_or_default()
    };
    let saved =
        update::<Contributions>(&state, &user, &id, version, &input.form(), current).await?;
    Ok(Json(contribution_json(&snap, &saved, &shown.item)))
}

/// An event as sent: what happened, the amount (a decimal string in the contribution's
/// currency; none for a cancellation), the date as precisely as known.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// `pledged`, `committed`, `paid`, `reduced` or `cancelled`.
    #[schema(example = "paid")]
    pub kind: String,
    #[serde(default)]
    #[schema(example = "250000")]
    pub amount: Option<String>,
    /// `2008-05-10`, `2008-05`, `2008-Q2`, `2008-H1`, `2008` or `2008-2009`; not after today.
    #[schema(example = "2008-Q2")]
    pub on: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Records what happened to a contribution (admins): a payment, a reduction, … Its
/// amount and status follow; audited under the person, naming the token.
#[utoipa::path(post, path = "/api/v1/contributions/{id}/events", tag = "contributions",
    params(("id" = i64, Path, description = "The contribution's id")),
    request_body = EventInput,
    responses((status = 201, body = EventJson), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, description = "A field was refused: `field` names it", body = ErrorBody),
              (status = 429, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
pub async fn record_event(
    State(state): State<AppState>,
    snap: Snap,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
    ApiJson(input): ApiJson<EventInput>,
) -> Result<Response, ApiError> {
    let id = contribution_id(&id)?;
    visible_contribution(&state, &snap, Audience::Internal, id).await?;
    let owner = {
        let mut db = state.pool.acquire().await?;
        contribution_events::contribution(&mut db, id)
            .await?
            .ok_or_else(ApiError::not_found)?
    };
    let form = EventForm {
        kind: input.kind,
        amount: input.amount.unwrap_or_default(),
        on: input.on,
        source: input.source.unwrap_or_default(),
        note: input.note.unwrap_or_default(),
        version: String::new(),
    };
    let saved = create::<ContributionEvents>(&state, &user, &owner, &form).await?;
    let location = format!("/api/v1/contributions/{id}/events");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(EventJson::of(&saved)),
    )
        .into_response())
}

/// An item as sent: the admin item form's fields, typed as JSON. A `PUT` replaces every
/// field; what is left out is empty.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    pub title: String,
    /// Made from the title when empty or left out.
    #[serde(default)]
    pub slug: Option<String>,
    /// `programme`, `initiative` or `component`.
    #[schema(example = "programme")]
    pub kind: String,
    /// The parent's id: components only.
    #[serde(default)]
    pub parent_id: Option<i64>,
    #[serde(default)]
    pub report_section: Option<String>,
    /// An item status, e.g. `ongoing`.
    #[schema(example = "ongoing")]
    pub status: String,
    #[serde(default)]
    pub status_note: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub period: Option<String>,
    /// As precisely as known: `2008-02-13`, `2008-11`, `2008-Q3`, `2008-H1`, `2008` or
    /// `2008-2009`.
    #[serde(default)]
    #[schema(example = "2008")]
    pub start_date: Option<String>,
    /// The period in which it ends, in the same forms.
    #[serde(default)]
    #[schema(example = "2010-Q2")]
    pub end_date: Option<String>,
    /// Country and region names.
    #[serde(default)]
    pub places: Vec<String>,
    #[serde(default)]
    pub source_paras: Option<String>,
    #[serde(default)]
    pub published: bool,
    /// With `published`: publish its unpublished components too.
    #[serde(default)]
    pub publish_components: bool,
    #[serde(default)]
    pub internal_notes: Option<String>,
    /// The version it was read at (`GET /api/v1/items/{slug}`).
    pub version: i32,
}

impl ItemInput {
    /// The form the admin page would have posted.
    fn form(&self) -> ItemForm {
        let text = |t: &Option<String>| t.clone().unwrap_or_default();
        ItemForm {
            title: self.title.clone(),
            slug: text(&self.slug),
            kind: self.kind.clone(),
            parent: self.parent_id.map(|p| p.to_string()).unwrap_or_default(),
            report_section: text(&self.report_section),
            status: self.status.clone(),
            status_note: text(&self.status_note),
            summary: text(&self.summary),
            description: text(&self.description),
            period: text(&self.period),
            start_date: text(&self.start_date),
            end_date: text(&self.end_date),
            places: self.places.join(", "),
            source_paras: text(&self.source_paras),
            published: tick(self.published),
            publish_components: tick(self.publish_components),
            internal_notes: text(&self.internal_notes),
            version: self.version.to_string(),
        }
    }
}

/// An item as saved, with the version a next change names.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ItemSaved {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub kind: String,
    pub parent: Option<String>,
    pub report_section: Option<String>,
    pub status: String,
    pub status_note: Option<String>,
    pub summary: String,
    pub description: String,
    pub period: Option<String>,
    /// As precisely as known (`2008`, `2008-Q3`, `2008-02-13`, …).
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub places: Vec<String>,
    pub source_paras: Option<String>,
    pub published: bool,
    pub internal_notes: String,
    pub version: i32,
}

impl From<&AdminItem> for ItemSaved {
    fn from(i: &AdminItem) -> Self {
        ItemSaved {
            id: i.id,
            slug: i.slug.clone(),
            title: i.title.clone(),
            kind: i.kind.as_str().to_string(),
            parent: i.parent_slug.clone(),
            report_section: i.report_section.clone(),
            status: i.status.as_str().to_string(),
            status_note: i.status_note.clone(),
            summary: i.summary.clone(),
            description: i.description.clone(),
            period: i.period.clone(),
            start_date: i.start().map(|d| d.code()),
            end_date: i.end().map(|d| d.code()),
            places: i
                .places
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
            source_paras: i.source_paras.clone(),
            published: i.published,
            internal_notes: i.internal_notes.clone(),
            version: i.version,
        }
    }
}

/// Changes an item (admins). `version` must be the one read: a stale one is refused
/// (409) with the item as saved now in `error.current`.
#[utoipa::path(put, path = "/api/v1/items/{slug}", tag = "items",
    params(("slug" = String, Path, description = "The item's slug")),
    request_body = ItemInput,
    responses((status = 200, body = ItemSaved), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "Changed since `version`", body = ErrorBody),
              (status = 415, body = ErrorBody),
              (status = 422, description = "A field was refused: `field` names it", body = ErrorBody),
              (status = 429, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
pub async fn update_item(
    State(state): State<AppState>,
    snap: Snap,
    SignedIn(user): SignedIn,
    HtmlPath(slug): HtmlPath<String>,
    ApiJson(input): ApiJson<ItemInput>,
) -> Result<Json<ItemSaved>, ApiError> {
    let (item, _, _) = visible_item(&snap, Audience::Internal, &slug)?;
    let current = |now: &AdminItem| serde_json::to_value(ItemSaved::from(now)).unwrap_or_default();
    let saved = update::<Items>(
        &state,
        &user,
        &item.id,
        input.version,
        &input.form(),
        current,
    )
    .await?;
    Ok(Json(ItemSaved::from(&saved)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_becomes_the_admin_form() {
        let input: ContributionInput = serde_json::from_value(serde_json::json!({
            "organisation_id": 4, "amount": "1,000.50", "currency": "EUR",
            "status": "paid", "as_of": "2008-02-07", "self_financing": true, "version": 3
        }))
        .unwrap();
        let form = input.form();
        assert_eq!(form.organisation, "4");
        assert_eq!(form.amount, "1,000.50");
        assert_eq!(form.self_financing.as_deref(), Some("on"));
        assert_eq!(form.approximate, None);
        assert_eq!(form.version, "3");
        assert!(
            serde_json::from_value::<ContributionInput>(serde_json::json!({"amount": 5})).is_err()
        );
    }
}
