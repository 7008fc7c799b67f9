//! The admin forms of an item's milestones and targets. They are listed on the item's
//! page (its Delivery section), where a save returns.

use askama::Template;
use axum::Router;
use sqlx::PgPool;

use crate::domain::forms::FieldErrors;
use crate::domain::records::delivery::{MilestoneFields, MilestoneForm, TargetFields, TargetForm};
use crate::domain::vocab::MilestoneStatus;
use crate::store::delivery::{MilestoneRow, Milestones, TargetRow, Targets};
use crate::store::money::{self as store, ItemRef};
use crate::web::AppError;
use crate::web::AppState;
use crate::web::admin::pipeline::{
    self, Check, Choice, ConflictRow, CreatePage, Done, EditPage, FormPage, PathParams,
    form_template,
};
use crate::web::auth::Nav;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(pipeline::routes::<Milestones>())
        .merge(pipeline::create_routes::<Milestones>())
        .merge(pipeline::archive_routes::<Milestones>())
        .merge(pipeline::routes::<Targets>())
        .merge(pipeline::create_routes::<Targets>())
        .merge(pipeline::archive_routes::<Targets>())
}

async fn item(pool: &PgPool, id: i64) -> Result<ItemRef, AppError> {
    store::item(pool, id).await?.ok_or(AppError::NotFound)
}

/// Back to the item's page, at its Delivery section, with the notice of what was done.
fn item_page_url(slug: &str, done: Done) -> String {
    format!("/programmes/{slug}?done={}#delivery-heading", done.as_str())
}

#[derive(Template)]
#[template(path = "admin/delivery/milestone_form.html")]
pub struct MilestoneTemplate {
    pub nav: Nav,
    pub return_to: Option<String>,
    pub item: ItemRef,
    pub action: String,
    pub is_new: bool,
    pub form: MilestoneForm,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
    pub statuses: Vec<Choice>,
    /// Where its archive form posts (an existing milestone only).
    pub archive: Option<String>,
}

impl EditPage for Milestones {
    /// Listed on the item's page.
    const LIST: Option<&'static str> = None;
    const UPDATE: &'static str = "/admin/milestones/{id}";
    type Form = MilestoneForm;
    type Context = ();

    fn parse_key(path: &PathParams) -> Result<i64, AppError> {
        path.id("id")
    }

    async fn owner_of(pool: &PgPool, m: &MilestoneRow) -> Result<ItemRef, AppError> {
        item(pool, m.item_id).await
    }

    fn form_of(m: &MilestoneRow) -> MilestoneForm {
        m.fields().to_form(m.version)
    }

    fn validate(
        form: &MilestoneForm,
        check: Check<'_, Self>,
    ) -> Result<MilestoneFields, FieldErrors> {
        form.validate(check.today)
    }

    fn conflict_values(form: &MilestoneForm, _: &()) -> Vec<(&'static str, String)> {
        form.labelled()
    }

    fn done_url(m: &MilestoneRow, done: Done) -> String {
        item_page_url(&m.item_slug, done)
    }

    fn render(page: FormPage<'_, Self>) -> Result<String, askama::Error> {
        let archive = page
            .record
            .map(|m| format!("/admin/milestones/{}/archive", m.id));
        form_template!(
            page,
            MilestoneTemplate {
                item: page.owner.clone(),
                statuses: pipeline::choices::<MilestoneStatus>(),
                archive,
            }
        )
        .render()
    }
}

impl CreatePage for Milestones {
    const CREATE: &'static str = "/admin/items/{id}/milestones";

    async fn owner(pool: &PgPool, path: &PathParams) -> Result<ItemRef, AppError> {
        item(pool, path.id("id")?).await
    }

    fn blank(_: &()) -> MilestoneForm {
        MilestoneForm::blank()
    }
}

#[derive(Template)]
#[template(path = "admin/delivery/target_form.html")]
pub struct TargetTemplate {
    pub nav: Nav,
    pub return_to: Option<String>,
    pub item: ItemRef,
    pub action: String,
    pub is_new: bool,
    pub form: TargetForm,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
    pub archive: Option<String>,
}

impl EditPage for Targets {
    const LIST: Option<&'static str> = None;
    const UPDATE: &'static str = "/admin/targets/{id}";
    type Form = TargetForm;
    type Context = ();

    fn parse_key(path: &PathParams) -> Result<i64, AppError> {
        path.id("id")
    }

    async fn owner_of(pool: &PgPool, t: &TargetRow) -> Result<ItemRef, AppError> {
        item(pool, t.item_id).await
    }

    fn form_of(t: &TargetRow) -> TargetForm {
        t.fields().to_form(t.version)
    }

    fn validate(form: &TargetForm, _: Check<'_, Self>) -> Result<TargetFields, FieldErrors> {
        form.validate()
    }

    fn conflict_values(form: &TargetForm, _: &()) -> Vec<(&'static str, String)> {
        form.labelled()
    }

    fn done_url(t: &TargetRow, done: Done) -> String {
        item_page_url(&t.item_slug, done)
    }

    fn render(page: FormPage<'_, Self>) -> Result<String, askama::Error> {
        let archive = page
            .record
            .map(|t| format!("/admin/targets/{}/archive", t.id));
        form_template!(
            page,
            TargetTemplate {
                item: page.owner.clone(),
                archive,
            }
        )
        .render()
    }
}

impl CreatePage for Targets {
    const CREATE: &'static str = "/admin/items/{id}/targets";

    async fn owner(pool: &PgPool, path: &PathParams) -> Result<ItemRef, AppError> {
        item(pool, path.id("id")?).await
    }

    fn blank(_: &()) -> TargetForm {
        TargetForm::blank()
    }
}
