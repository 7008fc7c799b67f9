//! Admin: organisations. The generic editing pages (`pipeline`), plus a hard delete for
//! a mistaken entry.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;

use crate::domain::forms::FieldErrors;
use crate::domain::records::organisation::OrganisationForm;
use crate::domain::vocab::OrgKind;
use crate::store::audit::{self, Entry};
use crate::store::organisations::{self as store, Organisation, OrganisationFields, Organisations};
use crate::web::admin::pipeline::{
    self, Check, Choice, ConflictRow, CreatePage, EditPage, FormPage, HtmlResult, ListRequest,
    PathParams, choices, form_template,
};
use crate::web::auth::{Nav, SignedIn};
use crate::web::pages::render;
use crate::web::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    pipeline::routes::<Organisations>()
        .merge(pipeline::create_routes::<Organisations>())
        .merge(pipeline::archive_routes::<Organisations>())
        .route("/admin/organisations/{id}/delete", post(delete))
}

#[derive(Template)]
#[template(path = "admin/organisations/form.html")]
pub struct FormTemplate {
    pub nav: Nav,
    /// Where Cancel leads: where the person came from, if known.
    pub return_to: Option<String>,
    pub action: String,
    pub is_new: bool,
    pub form: OrganisationForm,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
    pub kinds: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "admin/organisations/list.html")]
pub struct ListPage {
    pub nav: Nav,
    pub notice: &'static str,
    pub organisations: Vec<Organisation>,
}

impl EditPage for Organisations {
    const LIST: Option<&'static str> = Some("/admin/organisations");
    const UPDATE: &'static str = "/admin/organisations/{id}";
    type Form = OrganisationForm;
    type Context = ();

    fn parse_key(path: &PathParams) -> Result<i64, AppError> {
        path.id("id")
    }

    fn form_of(o: &Organisation) -> OrganisationForm {
        OrganisationForm {
            slug: o.slug.clone(),
            name: o.name.clone(),
            acronym: o.acronym.clone().unwrap_or_default(),
            kind: o.kind.as_str().into(),
            source_paras: o.source_paras.clone().unwrap_or_default(),
            version: o.version.to_string(),
        }
    }

    fn validate(
        form: &OrganisationForm,
        _: Check<'_, Self>,
    ) -> Result<OrganisationFields, FieldErrors> {
        form.validate()
    }

    fn conflict_values(form: &OrganisationForm, _: &()) -> Vec<(&'static str, String)> {
        form.labelled()
    }

    fn render(page: FormPage<'_, Self>) -> Result<String, askama::Error> {
        form_template!(
            page,
            FormTemplate {
                kinds: choices::<OrgKind>()
            }
        )
        .render()
    }

    async fn list(request: ListRequest<'_>) -> HtmlResult {
        render(&ListPage {
            notice: request.notice(),
            organisations: store::list(request.pool()).await?,
            nav: request.nav,
        })
    }
}

impl CreatePage for Organisations {
    const CREATE: &'static str = "/admin/organisations";

    fn blank(_: &()) -> OrganisationForm {
        OrganisationForm::blank()
    }
}

#[derive(Template)]
#[template(path = "admin/refused.html")]
pub struct RefusedPage {
    pub nav: Nav,
    pub heading: String,
    pub message: String,
    pub back: String,
}

/// Hard delete, for a mistaken entry. Refused while money is recorded against it: that
/// history must stay; archive it instead.
pub async fn delete(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    path: PathParams,
) -> Result<Response, AppError> {
    let id = path.id("id")?;
    let mut tx = state.pool.begin().await?;
    let org = store::by_id(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if org.contributions > 0 {
        let one = org.contributions == 1;
        let page = RefusedPage {
            nav,
            heading: format!("{} cannot be deleted", org.name),
            message: format!(
                "{} contribution{} {} recorded from this organisation. Deleting it would lose that funding history. \
                 Archive the organisation instead: it disappears from the choices in forms, and an admin can restore it.",
                org.contributions,
                if one { "" } else { "s" },
                if one { "is" } else { "are" }
            ),
            back: "/admin/organisations".into(),
        };
        return pipeline::page_with(StatusCode::CONFLICT, &page);
    }
    store::delete(&mut tx, id).await?;
    let entry = Entry {
        action: "delete",
        entity: "organisation",
        entity_id: Some(id),
        item_id: None,
        summary: format!("Deleted organisation {}", org.name),
        before: Some(&OrganisationFields::from(&org)),
        after: None,
    };
    audit::record(&mut *tx, &user.actor(), entry).await?;
    tx.commit().await?;
    pipeline::see_other("/admin/organisations?done=deleted")
}
