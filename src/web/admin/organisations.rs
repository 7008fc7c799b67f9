//! Admin: organisations. The pattern every editing page follows: a form of strings,
//! validated into fields or messages; a versioned save that answers 409 with both sides
//! when someone saved first; archive and restore; every change audited in the same
//! transaction.

use crate::web::forms::{HtmlPath, HtmlQuery};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{Html, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::domain::forms::FieldErrors;
use crate::domain::slug;
use crate::domain::vocab::OrgKind;
use crate::store::audit::{self, Entry};
use crate::store::organisations::{self as store, Organisation, OrganisationFields};
use crate::web::admin::edit::{self, ConflictRow, FormValues};
use crate::web::auth::{Nav, SignedIn};
use crate::web::forms::HtmlForm;
use crate::web::pages::render;
use crate::web::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/organisations", get(list).post(create))
        .route("/admin/organisations/new", get(new))
        .route("/admin/organisations/{id}/edit", get(edit_form))
        .route("/admin/organisations/{id}", post(update))
        .route("/admin/organisations/{id}/archive", post(archive))
        .route("/admin/organisations/{id}/restore", post(restore))
        .route("/admin/organisations/{id}/delete", post(delete))
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct OrgForm {
    pub slug: String,
    pub name: String,
    pub acronym: String,
    pub kind: String,
    pub source_paras: String,
    pub version: String,
}

impl From<&Organisation> for OrgForm {
    fn from(o: &Organisation) -> Self {
        OrgForm {
            slug: o.slug.clone(),
            name: o.name.clone(),
            acronym: o.acronym.clone().unwrap_or_default(),
            kind: o.kind.clone(),
            source_paras: o.source_paras.clone().unwrap_or_default(),
            version: o.version.to_string(),
        }
    }
}

impl FormValues for OrgForm {
    fn values(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Slug", self.slug.clone()),
            ("Name", self.name.clone()),
            ("Acronym", self.acronym.clone()),
            (
                "Kind",
                OrgKind::parse(&self.kind).map_or(self.kind.clone(), |k| k.label().to_string()),
            ),
            ("Source paragraphs", self.source_paras.clone()),
        ]
    }
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

impl OrgForm {
    fn validate(&self) -> Result<OrganisationFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let slug = self.slug.trim().to_string();
        if !slug::is_valid(&slug) {
            errors.add(
                "slug",
                "use lowercase letters, digits and single hyphens, e.g. government-of-canada",
            );
        }
        let name = self.name.trim().to_string();
        if name.is_empty() {
            errors.add("name", "enter the organisation's name");
        } else if name.chars().count() > 300 {
            errors.add("name", "a name has at most 300 characters");
        }
        if self.acronym.trim().chars().count() > 30 {
            errors.add("acronym", "an acronym has at most 30 characters");
        }
        if self.source_paras.trim().chars().count() > 300 {
            errors.add(
                "source_paras",
                "source paragraphs have at most 300 characters",
            );
        }
        let kind = OrgKind::parse(&self.kind);
        if kind.is_none() {
            errors.add("kind", "choose what kind of body it is");
        }
        errors.into_result(OrganisationFields {
            slug,
            name,
            acronym: optional(&self.acronym),
            kind: kind.map_or_else(String::new, |k| k.as_str().to_string()),
            source_paras: optional(&self.source_paras),
        })
    }
}

pub struct KindChoice {
    pub value: &'static str,
    pub label: &'static str,
}

#[derive(Template)]
#[template(path = "admin/organisations/form.html")]
pub struct FormPage {
    pub nav: Nav,
    pub action: String,
    pub is_new: bool,
    pub form: OrgForm,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
    pub kinds: Vec<KindChoice>,
}

impl FormPage {
    fn new(nav: Nav, action: String, is_new: bool, form: OrgForm) -> FormPage {
        FormPage {
            nav,
            action,
            is_new,
            form,
            errors: FieldErrors::default(),
            conflict: Vec::new(),
            kinds: OrgKind::ALL
                .iter()
                .map(|k| KindChoice {
                    value: k.as_str(),
                    label: k.label(),
                })
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/organisations/list.html")]
pub struct ListPage {
    pub nav: Nav,
    pub notice: String,
    pub organisations: Vec<Organisation>,
}

#[derive(Debug, Deserialize)]
pub struct Notice {
    pub done: Option<String>,
}

pub fn notice_text(done: Option<&str>) -> String {
    match done {
        Some("created") => "Created.",
        Some("saved") => "Saved.",
        Some("archived") => "Archived. It can be restored from this list.",
        Some("restored") => "Restored.",
        Some("deleted") => "Deleted.",
        _ => "",
    }
    .to_string()
}

pub async fn list(
    State(state): State<AppState>,
    nav: Nav,
    HtmlQuery(notice): HtmlQuery<Notice>,
) -> Result<Html<String>, AppError> {
    let organisations = store::list(&state.pool).await?;
    render(&ListPage {
        nav,
        notice: notice_text(notice.done.as_deref()),
        organisations,
    })
}

pub async fn new(nav: Nav) -> Result<Html<String>, AppError> {
    let form = OrgForm {
        kind: OrgKind::Government.as_str().into(),
        version: "0".into(),
        ..OrgForm::default()
    };
    render(&FormPage::new(
        nav,
        "/admin/organisations".into(),
        true,
        form,
    ))
}

pub async fn create(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlForm(form): HtmlForm<OrgForm>,
) -> Result<Response, AppError> {
    let fields = match form.validate() {
        Ok(fields) => fields,
        Err(errors) => {
            return edit::unprocessable(&FormPage {
                errors,
                ..FormPage::new(nav, "/admin/organisations".into(), true, form)
            });
        }
    };
    let mut tx = state.pool.begin().await?;
    let id = match store::insert(&mut *tx, &fields).await {
        Ok(id) => id,
        Err(e) if edit::unique_violation(&e).as_deref() == Some("organisations_slug_key") => {
            let mut errors = FieldErrors::default();
            errors.add("slug", "another organisation already uses this slug");
            return edit::unprocessable(&FormPage {
                errors,
                ..FormPage::new(nav, "/admin/organisations".into(), true, form)
            });
        }
        Err(e) => return Err(e.into()),
    };
    let entry = Entry {
        action: "create",
        entity: "organisation",
        entity_id: Some(id),
        item_id: None,
        summary: format!("Created organisation {}", fields.name),
        before: None,
        after: Some(&fields),
    };
    audit::record(&mut *tx, &user.actor(), entry).await?;
    tx.commit().await?;
    edit::see_other("/admin/organisations?done=created")
}

pub async fn edit_form(
    State(state): State<AppState>,
    nav: Nav,
    HtmlPath(id): HtmlPath<String>,
) -> Result<Html<String>, AppError> {
    let id = edit::parse_id(&id)?;
    let org = store::by_id(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    render(&FormPage::new(
        nav,
        format!("/admin/organisations/{id}"),
        false,
        OrgForm::from(&org),
    ))
}

pub async fn update(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
    HtmlForm(form): HtmlForm<OrgForm>,
) -> Result<Response, AppError> {
    let id = edit::parse_id(&id)?;
    let version = edit::parse_version(&form.version)?;
    let action = format!("/admin/organisations/{id}");
    let fields = match form.validate() {
        Ok(fields) => fields,
        Err(errors) => {
            return edit::unprocessable(&FormPage {
                errors,
                ..FormPage::new(nav, action, false, form)
            });
        }
    };
    let mut tx = state.pool.begin().await?;
    let before = store::by_id(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let saved = match store::update(&mut *tx, id, version, &fields).await {
        Ok(saved) => saved,
        Err(e) if edit::unique_violation(&e).as_deref() == Some("organisations_slug_key") => {
            let mut errors = FieldErrors::default();
            errors.add("slug", "another organisation already uses this slug");
            return edit::unprocessable(&FormPage {
                errors,
                ..FormPage::new(nav, action, false, form)
            });
        }
        Err(e) => return Err(e.into()),
    };
    if !saved {
        // Someone saved since this form was loaded: show both, keep what was typed, and
        // let the person save again on top of the current version if they mean to.
        let current = OrgForm::from(&before);
        let conflict = edit::conflict_rows(&current, &form);
        let form = OrgForm {
            version: before.version.to_string(),
            ..form
        };
        return edit::conflict(&FormPage {
            conflict,
            ..FormPage::new(nav, action, false, form)
        });
    }
    let entry = Entry {
        action: "update",
        entity: "organisation",
        entity_id: Some(id),
        item_id: None,
        summary: format!("Edited organisation {}", fields.name),
        before: Some(&OrganisationFields::from(&before)),
        after: Some(&fields),
    };
    audit::record(&mut *tx, &user.actor(), entry).await?;
    tx.commit().await?;
    edit::see_other("/admin/organisations?done=saved")
}

impl From<&Organisation> for OrganisationFields {
    fn from(o: &Organisation) -> Self {
        OrganisationFields {
            slug: o.slug.clone(),
            name: o.name.clone(),
            acronym: o.acronym.clone(),
            kind: o.kind.clone(),
            source_paras: o.source_paras.clone(),
        }
    }
}

pub async fn archive(
    state: State<AppState>,
    user: SignedIn,
    id: HtmlPath<String>,
) -> Result<Response, AppError> {
    set_archived(state, user, id, true).await
}

pub async fn restore(
    state: State<AppState>,
    user: SignedIn,
    id: HtmlPath<String>,
) -> Result<Response, AppError> {
    set_archived(state, user, id, false).await
}

async fn set_archived(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
    archived: bool,
) -> Result<Response, AppError> {
    let id = edit::parse_id(&id)?;
    let mut tx = state.pool.begin().await?;
    let org = store::by_id(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if store::set_archived(&mut *tx, id, archived).await? {
        let what = format!("organisation {}", org.name);
        let entry = edit::archive_entry("organisation", id, None, archived, &what);
        audit::record(&mut *tx, &user.actor(), entry).await?;
    }
    tx.commit().await?;
    edit::see_other(if archived {
        "/admin/organisations?done=archived"
    } else {
        "/admin/organisations?done=restored"
    })
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
    HtmlPath(id): HtmlPath<String>,
) -> Result<Response, AppError> {
    let id = edit::parse_id(&id)?;
    let mut tx = state.pool.begin().await?;
    let org = store::by_id(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if org.contributions > 0 {
        let page = RefusedPage {
            nav,
            heading: format!("{} cannot be deleted", org.name),
            message: format!(
                "{} contribution{} {} recorded from this organisation. Deleting it would lose that funding history. \
                 Archive the organisation instead: it disappears from the choices in forms, and an admin can restore it.",
                org.contributions,
                if org.contributions == 1 { "" } else { "s" },
                if org.contributions == 1 { "is" } else { "are" }
            ),
            back: "/admin/organisations".into(),
        };
        return edit::conflict(&page);
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
    edit::see_other("/admin/organisations?done=deleted")
}
