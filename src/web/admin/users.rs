//! Admin: accounts on the generic editing pages (create with a first password the admin
//! hands over, change the role, disable, which ends the person's sessions at once), and
//! a password reset of its own (see `accounts::set_new_password`).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;

use crate::accounts::{self, AccountError, Accounts};
use crate::domain::auth::Role;
use crate::domain::forms::FieldErrors;
use crate::domain::records::account::{AccountFields, AccountForm};
use crate::store::users::{self as store, User};
use crate::web::admin::pipeline::{
    self, Check, Choice, ConflictRow, CreatePage, EditPage, FormPage, HtmlResult, ListRequest,
    PathParams, choices, form_template,
};
use crate::web::auth::{Nav, SignedIn};
use crate::web::forms::HtmlForm;
use crate::web::pages::render;
use crate::web::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    pipeline::routes::<Accounts>()
        .merge(pipeline::create_routes::<Accounts>())
        .route("/admin/users/{id}/password", post(reset_password))
}

#[derive(Template)]
#[template(path = "admin/users/form.html")]
pub struct FormTemplate {
    pub nav: Nav,
    /// Where Cancel leads: where the person came from, if known.
    pub return_to: Option<String>,
    pub action: String,
    pub is_new: bool,
    pub user_id: i64,
    pub form: AccountForm,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
    pub roles: Vec<Choice>,
    pub notice: String,
}

#[derive(Template)]
#[template(path = "admin/users/list.html")]
pub struct ListPage {
    pub nav: Nav,
    pub notice: &'static str,
    pub users: Vec<User>,
}

impl EditPage for Accounts {
    const LIST: Option<&'static str> = Some("/admin/users");
    const UPDATE: &'static str = "/admin/users/{id}";
    type Form = AccountForm;
    type Context = ();

    fn parse_key(path: &PathParams) -> Result<i64, AppError> {
        path.id("id")
    }

    fn form_of(u: &User) -> AccountForm {
        AccountForm {
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            role: u.role.as_str().into(),
            disabled: u.disabled_at.map(|_| "on".to_string()),
            password: String::new(),
            version: u.version.to_string(),
        }
    }

    fn validate(form: &AccountForm, check: Check<'_, Self>) -> Result<AccountFields, FieldErrors> {
        match check.before {
            None => form.validate_new(),
            Some(user) => form.validate_change(&user.email, user.id == check.editor.id),
        }
    }

    fn conflict_values(form: &AccountForm, _: &()) -> Vec<(&'static str, String)> {
        form.labelled()
    }

    /// A password is never sent back; the address of a saved account is not edited.
    fn shown_again(form: AccountForm, before: Option<&User>) -> AccountForm {
        AccountForm {
            password: String::new(),
            email: before.map_or(form.email, |u| u.email.clone()),
            ..form
        }
    }

    fn render(page: FormPage<'_, Self>) -> Result<String, askama::Error> {
        form_template!(
            page,
            FormTemplate {
                user_id: page.record.map_or(0, |u| u.id),
                roles: choices::<Role>(),
                notice: String::new(),
            }
        )
        .render()
    }

    async fn list(request: ListRequest<'_>) -> HtmlResult {
        render(&ListPage {
            notice: request.notice(),
            users: store::list(request.pool()).await?,
            nav: request.nav,
        })
    }
}

impl CreatePage for Accounts {
    const CREATE: &'static str = "/admin/users";

    fn blank(_: &()) -> AccountForm {
        AccountForm::blank()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    password: String,
}

pub async fn reset_password(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(admin): SignedIn,
    path: PathParams,
    HtmlForm(input): HtmlForm<PasswordForm>,
) -> Result<Response, AppError> {
    let user = store::by_id(&state.pool, path.id("id")?)
        .await?
        .ok_or(AppError::NotFound)?;
    // An admin chose it: the owner changes it at their next sign-in.
    match accounts::set_new_password(&state.pool, &admin.actor(), &user, &input.password, true)
        .await
    {
        Ok(()) => pipeline::see_other("/admin/users?done=saved"),
        Err(AccountError::Refused(problem)) => {
            let page = FormTemplate {
                nav,
                return_to: None,
                action: format!("/admin/users/{}", user.id),
                is_new: false,
                user_id: user.id,
                form: Accounts::form_of(&user),
                errors: FieldErrors::one("password", problem),
                conflict: Vec::new(),
                roles: choices::<Role>(),
                notice: String::new(),
            };
            pipeline::page_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(AccountError::Failed(e)) => Err(AppError::Internal(e)),
    }
}
