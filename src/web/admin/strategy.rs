//! Admin: the strategy's themes and result areas, on the generic editing pages. Titles
//! the source does not give stay unknown (NULL), never an empty string, so pages can
//! say so.

use askama::Template;
use axum::Router;
use sqlx::PgPool;

use crate::domain::forms::FieldErrors;
use crate::domain::records::result_area::AreaForm;
use crate::domain::records::theme::{ThemeForm, is_theme_code};
use crate::domain::vocab::TITLE_NOT_GIVEN;
use crate::store::admin_strategy::{
    self as store, AreaFields, AreaRecord, ResultAreas, ThemeFields, ThemeRecord, Themes,
};
use crate::web::admin::pipeline::{
    self, Check, Choice, ConflictRow, CreatePage, Done, EditPage, FormPage, HtmlResult,
    ListRequest, PathParams, form_template,
};
use crate::web::auth::Nav;
use crate::web::pages::render;
use crate::web::{AppError, AppState};

const LIST: &str = "/admin/result-areas";

pub fn routes() -> Router<AppState> {
    pipeline::routes::<ResultAreas>()
        .merge(pipeline::create_routes::<ResultAreas>())
        .merge(pipeline::archive_routes::<ResultAreas>())
        .merge(pipeline::routes::<Themes>())
}

// ---------------------------------------------------------------- the list

pub struct ThemeBlock {
    pub code: String,
    pub title: Option<String>,
    pub areas: Vec<AreaRecord>,
}

#[derive(Template)]
#[template(path = "admin/strategy/list.html")]
pub struct ListPage {
    pub nav: Nav,
    pub notice: &'static str,
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
                .cloned()
                .collect(),
            code: t.code,
            title: t.title,
        })
        .collect()
}

// ---------------------------------------------------------------- result areas

#[derive(Template)]
#[template(path = "admin/strategy/form.html")]
pub struct AreaTemplate {
    pub nav: Nav,
    /// Where Cancel leads: where the person came from, if known.
    pub return_to: Option<String>,
    pub action: String,
    pub is_new: bool,
    pub form: AreaForm,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
    pub themes: Vec<Choice>,
}

fn theme_menu(themes: &[ThemeRecord]) -> Vec<Choice> {
    themes
        .iter()
        .map(|t| {
            let label = match &t.title {
                Some(title) => format!("Theme {}: {title}", t.code),
                None => format!("Theme {}", t.code),
            };
            Choice::new(&t.code, label)
        })
        .collect()
}

impl EditPage for ResultAreas {
    const LIST: Option<&'static str> = Some("/admin/result-areas");
    const UPDATE: &'static str = "/admin/result-areas/{id}";
    type Form = AreaForm;
    /// The themes an area can belong to.
    type Context = Vec<ThemeRecord>;

    fn parse_key(path: &PathParams) -> Result<i64, AppError> {
        path.id("id")
    }

    async fn context(
        pool: &PgPool,
        _: &(),
        _: Option<&AreaRecord>,
        _: &AreaForm,
    ) -> Result<Vec<ThemeRecord>, AppError> {
        Ok(store::themes(pool).await?)
    }

    fn form_of(a: &AreaRecord) -> AreaForm {
        AreaForm {
            code: a.code.clone(),
            theme: a.theme_code.clone(),
            title: a.title.clone().unwrap_or_default(),
            source_para: a.source_para.clone().unwrap_or_default(),
            version: a.version.to_string(),
        }
    }

    fn validate(form: &AreaForm, check: Check<'_, Self>) -> Result<AreaFields, FieldErrors> {
        let codes: Vec<String> = check.context.iter().map(|t| t.code.clone()).collect();
        form.validate(&codes)
    }

    fn conflict_values(form: &AreaForm, _: &Vec<ThemeRecord>) -> Vec<(&'static str, String)> {
        form.labelled()
    }

    fn render(page: FormPage<'_, Self>) -> Result<String, askama::Error> {
        form_template!(
            page,
            AreaTemplate {
                themes: theme_menu(&page.context)
            }
        )
        .render()
    }

    async fn list(request: ListRequest<'_>) -> HtmlResult {
        let themes = store::themes(request.pool()).await?;
        let areas = store::areas(request.pool()).await?;
        render(&ListPage {
            notice: request.notice(),
            not_given: TITLE_NOT_GIVEN,
            themes: theme_blocks(themes, areas),
            nav: request.nav,
        })
    }
}

impl CreatePage for ResultAreas {
    const CREATE: &'static str = "/admin/result-areas";

    fn blank(themes: &Vec<ThemeRecord>) -> AreaForm {
        AreaForm {
            theme: themes.first().map(|t| t.code.clone()).unwrap_or_default(),
            version: "0".into(),
            ..AreaForm::default()
        }
    }
}

// ---------------------------------------------------------------- themes

#[derive(Template)]
#[template(path = "admin/strategy/theme.html")]
pub struct ThemeTemplate {
    pub nav: Nav,
    /// Where Cancel leads: where the person came from, if known.
    pub return_to: Option<String>,
    /// The form posts to `/admin/themes/{code}`, which the template spells itself.
    pub action: String,
    pub is_new: bool,
    pub code: String,
    pub form: ThemeForm,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
}

impl EditPage for Themes {
    /// Themes are listed with their areas.
    const LIST: Option<&'static str> = None;
    const UPDATE: &'static str = "/admin/themes/{code}";
    type Form = ThemeForm;
    type Context = ();

    /// Digits only: anything else is a page that does not exist.
    fn parse_key(path: &PathParams) -> Result<String, AppError> {
        Some(path.get("code"))
            .filter(|c| is_theme_code(c))
            .map(str::to_string)
            .ok_or(AppError::NotFound)
    }

    fn form_of(t: &ThemeRecord) -> ThemeForm {
        ThemeForm {
            title: t.title.clone().unwrap_or_default(),
            version: t.version.to_string(),
        }
    }

    fn validate(form: &ThemeForm, check: Check<'_, Self>) -> Result<ThemeFields, FieldErrors> {
        form.validate(check.before.map_or("", |t| t.code.as_str()))
    }

    fn conflict_values(form: &ThemeForm, _: &()) -> Vec<(&'static str, String)> {
        form.labelled()
    }

    fn done_url(_: &ThemeRecord, _: Done) -> String {
        format!("{LIST}?done=saved")
    }

    fn render(page: FormPage<'_, Self>) -> Result<String, askama::Error> {
        let code = page.record.map(|t| t.code.clone()).unwrap_or_default();
        form_template!(page, ThemeTemplate { code }).render()
    }
}
