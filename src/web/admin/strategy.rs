//! Admin: the strategy's themes and result areas. Titles the source does not give stay
//! unknown (NULL), never an empty string, so pages can say so. Result areas follow the
//! organisations pattern: versioned saves, 409 with both sides, archive and restore,
//! every change audited in the same transaction.

use crate::web::forms::HtmlPath;
use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{Html, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::domain::forms::FieldErrors;
use crate::domain::vocab::TITLE_NOT_GIVEN;
use crate::store::admin_strategy::{
    self as store, AreaFields, AreaRecord, ThemeFields, ThemeRecord,
};
use crate::store::audit::{self, Entry};
use crate::web::admin::edit::{self, ConflictRow, FormValues};
use crate::web::admin::organisations::notice_text;
use crate::web::admin::rates::query_param;
use crate::web::auth::{Nav, SignedIn};
use crate::web::forms::HtmlForm;
use crate::web::pages::render;
use crate::web::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/result-areas", get(list).post(create))
        .route("/admin/result-areas/new", get(new))
        .route("/admin/result-areas/{id}/edit", get(edit_form))
        .route("/admin/result-areas/{id}", post(update))
        .route("/admin/result-areas/{id}/archive", post(archive))
        .route("/admin/result-areas/{id}/restore", post(restore))
        .route("/admin/themes/{code}/edit", get(theme_form))
        .route("/admin/themes/{code}", post(update_theme))
}

const LIST: &str = "/admin/result-areas";
const MAX_TITLE: usize = 300;
const MAX_SOURCE: usize = 100;

/// Trimmed text, or None when nothing is left: unknown, never an empty string.
fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

/// `3.4`: theme number, dot, area number; at most three digits each and no leading
/// zeros, so codes sort as numbers and `3.04` cannot pose as a second `3.4`.
fn is_area_code(code: &str) -> bool {
    code.split_once('.')
        .is_some_and(|(theme, area)| is_number(theme) && is_number(area))
}

fn is_number(part: &str) -> bool {
    (1..=3).contains(&part.len())
        && part.bytes().all(|b| b.is_ascii_digit())
        && !part.starts_with('0')
}

/// A theme code from the URL: digits only, anything else is a page that does not exist.
fn parse_theme_code(raw: &str) -> Result<String, AppError> {
    Some(raw)
        .filter(|c| (1..=9).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_string)
        .ok_or(AppError::NotFound)
}

fn title_or_unknown(title: &str) -> String {
    match title.trim() {
        "" => format!("({TITLE_NOT_GIVEN})"),
        t => t.to_string(),
    }
}

// ---------------------------------------------------------------- the list

pub struct AreaRow {
    pub id: i64,
    pub code: String,
    pub title: Option<String>,
    pub source_para: String,
    pub items: i64,
    pub archived: bool,
}

pub struct ThemeBlock {
    pub code: String,
    pub title: Option<String>,
    pub areas: Vec<AreaRow>,
}

#[derive(Template)]
#[template(path = "admin/strategy/list.html")]
pub struct ListPage {
    pub nav: Nav,
    pub notice: String,
    pub not_given: &'static str,
    pub themes: Vec<ThemeBlock>,
}

fn theme_blocks(themes: Vec<ThemeRecord>, areas: Vec<AreaRecord>) -> Vec<ThemeBlock> {
    themes
        .into_iter()
        .map(|t| ThemeBlock {
            areas: areas
                .iter()
                .filter(|a| a.theme_code == t.code)
                .map(|a| AreaRow {
                    id: a.id,
                    code: a.code.clone(),
                    title: a.title.clone(),
                    source_para: a.source_para.clone().unwrap_or_default(),
                    items: a.items,
                    archived: a.archived,
                })
                .collect(),
            code: t.code,
            title: t.title,
        })
        .collect()
}

pub async fn list(
    State(state): State<AppState>,
    nav: Nav,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, AppError> {
    let themes = store::themes(&state.pool).await?;
    let areas = store::areas(&state.pool).await?;
    render(&ListPage {
        nav,
        notice: notice_text(query_param(query.as_deref(), "done").as_deref()),
        not_given: TITLE_NOT_GIVEN,
        themes: theme_blocks(themes, areas),
    })
}

// ---------------------------------------------------------------- result areas

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct AreaForm {
    pub code: String,
    pub theme: String,
    pub title: String,
    pub source_para: String,
    pub version: String,
}

impl From<&AreaRecord> for AreaForm {
    fn from(a: &AreaRecord) -> Self {
        AreaForm {
            code: a.code.clone(),
            theme: a.theme_code.clone(),
            title: a.title.clone().unwrap_or_default(),
            source_para: a.source_para.clone().unwrap_or_default(),
            version: a.version.to_string(),
        }
    }
}

impl FormValues for AreaForm {
    fn values(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Code", self.code.clone()),
            ("Theme", self.theme.clone()),
            ("Title", title_or_unknown(&self.title)),
            ("Source paragraph", self.source_para.clone()),
        ]
    }
}

impl AreaForm {
    fn validate(&self, themes: &[ThemeRecord]) -> Result<AreaFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let code = self.code.trim().to_string();
        let theme = self.theme.trim().to_string();
        if !is_area_code(&code) {
            errors.add(
                "code",
                "use the theme's number, a dot and the area's number, e.g. 3.4",
            );
        }
        if !themes.iter().any(|t| t.code == theme) {
            errors.add("theme", "choose the theme the result area belongs to");
        } else if is_area_code(&code) && !code.starts_with(&format!("{theme}.")) {
            errors.add(
                "code",
                format!("a result area of theme {theme} has a code starting with “{theme}.”"),
            );
        }
        if self.title.trim().chars().count() > MAX_TITLE {
            errors.add("title", "a title has at most 300 characters");
        }
        if self.source_para.trim().chars().count() > MAX_SOURCE {
            errors.add(
                "source_para",
                "a source reference has at most 100 characters",
            );
        }
        errors.into_result(AreaFields {
            code,
            theme_code: theme,
            title: optional(&self.title),
            source_para: optional(&self.source_para),
        })
    }
}

pub struct ThemeChoice {
    pub value: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "admin/strategy/form.html")]
pub struct AreaPage {
    pub nav: Nav,
    pub action: String,
    pub is_new: bool,
    pub form: AreaForm,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
    pub themes: Vec<ThemeChoice>,
}

impl AreaPage {
    fn new(nav: Nav, action: String, form: AreaForm, themes: &[ThemeRecord]) -> AreaPage {
        AreaPage {
            nav,
            is_new: action == LIST,
            action,
            form,
            errors: FieldErrors::default(),
            conflict: Vec::new(),
            themes: themes
                .iter()
                .map(|t| ThemeChoice {
                    value: t.code.clone(),
                    label: match &t.title {
                        Some(title) => format!("Theme {}: {title}", t.code),
                        None => format!("Theme {}", t.code),
                    },
                })
                .collect(),
        }
    }

    fn with_errors(self, errors: FieldErrors) -> AreaPage {
        AreaPage { errors, ..self }
    }
}

/// A save the database refused for a reason the person can fix: the message for the
/// field concerned, or None for anything else.
async fn refused(
    state: &AppState,
    e: &sqlx::Error,
    f: &AreaFields,
) -> Result<Option<FieldErrors>, AppError> {
    let mut errors = FieldErrors::default();
    if edit::unique_violation(e).as_deref() == Some("result_areas_code_key") {
        // Read outside the failed transaction, which answers nothing more.
        let archived = store::area_by_code(&state.pool, &f.code)
            .await?
            .is_some_and(|a| a.archived);
        let mut message = format!("another result area already has code {}", f.code);
        if archived {
            message.push_str(" (it is archived: restore it from the list instead)");
        }
        errors.add("code", message);
    } else if edit::constraint_violation(e).as_deref() == Some("result_areas_theme_code_fkey") {
        errors.add("theme", "that theme no longer exists: choose another");
    } else {
        return Ok(None);
    }
    Ok(Some(errors))
}

pub async fn new(State(state): State<AppState>, nav: Nav) -> Result<Html<String>, AppError> {
    let themes = store::themes(&state.pool).await?;
    let form = AreaForm {
        theme: themes.first().map(|t| t.code.clone()).unwrap_or_default(),
        version: "0".into(),
        ..AreaForm::default()
    };
    render(&AreaPage::new(nav, LIST.into(), form, &themes))
}

pub async fn create(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlForm(form): HtmlForm<AreaForm>,
) -> Result<Response, AppError> {
    let themes = store::themes(&state.pool).await?;
    let fields = match form.validate(&themes) {
        Ok(fields) => fields,
        Err(errors) => {
            return edit::unprocessable(
                &AreaPage::new(nav, LIST.into(), form, &themes).with_errors(errors),
            );
        }
    };
    let mut tx = state.pool.begin().await?;
    let id = match store::insert_area(&mut *tx, &fields).await {
        Ok(id) => id,
        Err(e) => match refused(&state, &e, &fields).await? {
            Some(errors) => {
                return edit::unprocessable(
                    &AreaPage::new(nav, LIST.into(), form, &themes).with_errors(errors),
                );
            }
            None => return Err(e.into()),
        },
    };
    let entry = Entry {
        action: "create",
        entity: "result_area",
        entity_id: Some(id),
        item_id: None,
        summary: format!("Created result area {}", fields.code),
        before: None,
        after: Some(&fields),
    };
    audit::record(&mut *tx, &user.actor(), entry).await?;
    tx.commit().await?;
    edit::see_other("/admin/result-areas?done=created")
}

pub async fn edit_form(
    State(state): State<AppState>,
    nav: Nav,
    HtmlPath(id): HtmlPath<String>,
) -> Result<Html<String>, AppError> {
    let id = edit::parse_id(&id)?;
    let area = store::area(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let themes = store::themes(&state.pool).await?;
    render(&AreaPage::new(
        nav,
        format!("/admin/result-areas/{id}"),
        AreaForm::from(&area),
        &themes,
    ))
}

pub async fn update(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
    HtmlForm(form): HtmlForm<AreaForm>,
) -> Result<Response, AppError> {
    let id = edit::parse_id(&id)?;
    let version = edit::parse_version(&form.version)?;
    let action = format!("/admin/result-areas/{id}");
    let themes = store::themes(&state.pool).await?;
    let fields = match form.validate(&themes) {
        Ok(fields) => fields,
        Err(errors) => {
            return edit::unprocessable(
                &AreaPage::new(nav, action, form, &themes).with_errors(errors),
            );
        }
    };
    let mut tx = state.pool.begin().await?;
    let before = store::area(&mut *tx, id).await?.ok_or(AppError::NotFound)?;
    let saved = match store::update_area(&mut *tx, id, version, &fields).await {
        Ok(saved) => saved,
        Err(e) => match refused(&state, &e, &fields).await? {
            Some(errors) => {
                return edit::unprocessable(
                    &AreaPage::new(nav, action, form, &themes).with_errors(errors),
                );
            }
            None => return Err(e.into()),
        },
    };
    if !saved {
        // Someone saved since this form was loaded: show both, keep what was typed, and
        // let the person save again on top of the current version if they mean to.
        let conflict = edit::conflict_rows(&AreaForm::from(&before), &form);
        let form = AreaForm {
            version: before.version.to_string(),
            ..form
        };
        return edit::conflict(&AreaPage {
            conflict,
            ..AreaPage::new(nav, action, form, &themes)
        });
    }
    let entry = Entry {
        action: "update",
        entity: "result_area",
        entity_id: Some(id),
        item_id: None,
        summary: format!("Edited result area {}", fields.code),
        before: Some(&AreaFields::from(&before)),
        after: Some(&fields),
    };
    audit::record(&mut *tx, &user.actor(), entry).await?;
    tx.commit().await?;
    edit::see_other("/admin/result-areas?done=saved")
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

/// Archiving hides the area from /result-areas and from item pages (their queries skip
/// archived areas); its alignments stay, so restoring brings everything back.
async fn set_archived(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
    archived: bool,
) -> Result<Response, AppError> {
    let id = edit::parse_id(&id)?;
    let mut tx = state.pool.begin().await?;
    let area = store::area(&mut *tx, id).await?.ok_or(AppError::NotFound)?;
    if store::set_area_archived(&mut *tx, id, archived).await? {
        let what = format!("result area {}", area.code);
        let entry = edit::archive_entry("result_area", id, None, archived, &what);
        audit::record(&mut *tx, &user.actor(), entry).await?;
    }
    tx.commit().await?;
    edit::see_other(if archived {
        "/admin/result-areas?done=archived"
    } else {
        "/admin/result-areas?done=restored"
    })
}

// ---------------------------------------------------------------- themes

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ThemeForm {
    pub title: String,
    pub version: String,
}

impl From<&ThemeRecord> for ThemeForm {
    fn from(t: &ThemeRecord) -> Self {
        ThemeForm {
            title: t.title.clone().unwrap_or_default(),
            version: t.version.to_string(),
        }
    }
}

impl FormValues for ThemeForm {
    fn values(&self) -> Vec<(&'static str, String)> {
        vec![("Title", title_or_unknown(&self.title))]
    }
}

#[derive(Template)]
#[template(path = "admin/strategy/theme.html")]
pub struct ThemePage {
    pub nav: Nav,
    pub code: String,
    pub form: ThemeForm,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
}

impl ThemePage {
    fn new(nav: Nav, code: String, form: ThemeForm) -> ThemePage {
        ThemePage {
            nav,
            code,
            form,
            errors: FieldErrors::default(),
            conflict: Vec::new(),
        }
    }
}

pub async fn theme_form(
    State(state): State<AppState>,
    nav: Nav,
    HtmlPath(code): HtmlPath<String>,
) -> Result<Html<String>, AppError> {
    let code = parse_theme_code(&code)?;
    let theme = store::theme(&state.pool, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    render(&ThemePage::new(nav, code, ThemeForm::from(&theme)))
}

pub async fn update_theme(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlPath(code): HtmlPath<String>,
    HtmlForm(form): HtmlForm<ThemeForm>,
) -> Result<Response, AppError> {
    let code = parse_theme_code(&code)?;
    let version = edit::parse_version(&form.version)?;
    if form.title.trim().chars().count() > MAX_TITLE {
        let mut errors = FieldErrors::default();
        errors.add("title", "a title has at most 300 characters");
        return edit::unprocessable(&ThemePage {
            errors,
            ..ThemePage::new(nav, code, form)
        });
    }
    let fields = ThemeFields {
        code: code.clone(),
        title: optional(&form.title),
    };
    let mut tx = state.pool.begin().await?;
    let before = store::theme(&mut *tx, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    if !store::update_theme(&mut *tx, version, &fields).await? {
        let conflict = edit::conflict_rows(&ThemeForm::from(&before), &form);
        let form = ThemeForm {
            version: before.version.to_string(),
            ..form
        };
        return edit::conflict(&ThemePage {
            conflict,
            ..ThemePage::new(nav, code, form)
        });
    }
    let entry = Entry {
        action: "update",
        entity: "theme",
        entity_id: None,
        item_id: None,
        summary: format!("Edited the title of theme {code}"),
        before: Some(&ThemeFields::from(&before)),
        after: Some(&fields),
    };
    audit::record(&mut *tx, &user.actor(), entry).await?;
    tx.commit().await?;
    edit::see_other("/admin/result-areas?done=saved")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_codes_are_theme_dot_number() {
        for good in ["3.4", "1.1", "3.10", "12.345"] {
            assert!(is_area_code(good), "{good}");
        }
        for bad in [
            "", "3", "3.", ".4", "3.4.1", "3.04", "03.4", "3,4", "a.b", "1.1234", "3.4 ",
        ] {
            assert!(!is_area_code(bad), "{bad}");
        }
    }

    #[test]
    fn theme_codes_in_urls_are_digits() {
        assert_eq!(parse_theme_code("3").ok(), Some("3".to_string()));
        assert!(parse_theme_code("x").is_err());
        assert!(parse_theme_code("3.1").is_err());
        assert!(parse_theme_code("").is_err());
        assert!(parse_theme_code("1234567890").is_err());
    }

    #[test]
    fn empty_title_is_unknown_not_empty() {
        assert_eq!(optional("   "), None);
        assert_eq!(optional(" Prison reform "), Some("Prison reform".into()));
    }
}
