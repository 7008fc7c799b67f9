//! Admin: accounts. Create (with a first password the admin hands over), change role,
//! disable (which ends the person's sessions at once), reset a password.

use crate::commands::{self, AccountError};
use crate::web::forms::{HtmlPath, HtmlQuery};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{Html, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::domain::auth::{self, Role, email_problem, normalize_email, password_problem};
use crate::domain::forms::FieldErrors;
use crate::store::audit::{self, Entry};
use crate::store::sessions;
use crate::store::users::{self as store, User};
use crate::web::admin::edit::{self, ConflictRow, FormValues};
use crate::web::admin::organisations::{Notice, notice_text};
use crate::web::auth::{Nav, SignedIn};
use crate::web::forms::HtmlForm;
use crate::web::pages::render;
use crate::web::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list).post(create))
        .route("/admin/users/new", get(new))
        .route("/admin/users/{id}/edit", get(edit_form))
        .route("/admin/users/{id}", post(update))
        .route("/admin/users/{id}/password", post(reset_password))
}

pub struct RoleChoice {
    pub value: &'static str,
    pub label: &'static str,
}

fn role_choices() -> Vec<RoleChoice> {
    Role::ALL
        .iter()
        .map(|r| RoleChoice {
            value: r.as_str(),
            label: r.label(),
        })
        .collect()
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct UserForm {
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub disabled: Option<String>,
    pub password: String,
    pub version: String,
}

impl From<&User> for UserForm {
    fn from(u: &User) -> Self {
        UserForm {
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            role: u.role.clone(),
            disabled: u.disabled_at.map(|_| "on".to_string()),
            password: String::new(),
            version: u.version.to_string(),
        }
    }
}

impl FormValues for UserForm {
    fn values(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Name", self.display_name.clone()),
            (
                "Role",
                Role::parse(&self.role).map_or(self.role.clone(), |r| r.label().to_string()),
            ),
            (
                "Disabled",
                if edit::ticked(&self.disabled) {
                    "yes"
                } else {
                    "no"
                }
                .to_string(),
            ),
        ]
    }
}

#[derive(Template)]
#[template(path = "admin/users/form.html")]
pub struct FormPage {
    pub nav: Nav,
    pub action: String,
    pub is_new: bool,
    pub user_id: i64,
    pub form: UserForm,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
    pub roles: Vec<RoleChoice>,
    pub notice: String,
}

impl FormPage {
    fn new(nav: Nav, user_id: i64, form: UserForm) -> FormPage {
        let is_new = user_id == 0;
        FormPage {
            nav,
            action: if is_new {
                "/admin/users".into()
            } else {
                format!("/admin/users/{user_id}")
            },
            is_new,
            user_id,
            form,
            errors: FieldErrors::default(),
            conflict: Vec::new(),
            roles: role_choices(),
            notice: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/users/list.html")]
pub struct ListPage {
    pub nav: Nav,
    pub notice: String,
    pub users: Vec<User>,
}

pub async fn list(
    State(state): State<AppState>,
    nav: Nav,
    HtmlQuery(notice): HtmlQuery<Notice>,
) -> Result<Html<String>, AppError> {
    let users = store::list(&state.pool).await?;
    render(&ListPage {
        nav,
        notice: notice_text(notice.done.as_deref()),
        users,
    })
}

pub async fn new(nav: Nav) -> Result<Html<String>, AppError> {
    let form = UserForm {
        role: Role::Viewer.as_str().into(),
        version: "0".into(),
        ..UserForm::default()
    };
    render(&FormPage::new(nav, 0, form))
}

/// Hashing is slow on purpose: off the async runtime.
async fn hash(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing a password: {e}")))
}

pub async fn create(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(admin): SignedIn,
    HtmlForm(form): HtmlForm<UserForm>,
) -> Result<Response, AppError> {
    let email = normalize_email(&form.email);
    let mut errors = FieldErrors::default();
    if let Some(problem) = email_problem(&email) {
        errors.add("email", problem);
    }
    let role = Role::parse(&form.role);
    if role.is_none() {
        errors.add("role", "choose a role");
    }
    if let Some(problem) = password_problem(&form.password) {
        errors.add("password", problem);
    }
    if form.display_name.chars().count() > 200 {
        errors.add("display_name", "a name has at most 200 characters");
    }
    let (Some(role), true) = (role, errors.is_empty()) else {
        let form = UserForm {
            password: String::new(),
            ..form
        };
        return edit::unprocessable(&FormPage {
            errors,
            ..FormPage::new(nav, 0, form)
        });
    };
    let password_hash = hash(form.password.clone()).await?;
    let mut tx = state.pool.begin().await?;
    let user = match store::insert(
        &mut *tx,
        &email,
        form.display_name.trim(),
        role,
        &password_hash,
    )
    .await
    {
        Ok(user) => user,
        Err(e) if edit::unique_violation(&e).as_deref() == Some("users_email_key") => {
            errors.add("email", "an account with this email address exists already");
            let form = UserForm {
                password: String::new(),
                ..form
            };
            return edit::unprocessable(&FormPage {
                errors,
                ..FormPage::new(nav, 0, form)
            });
        }
        Err(e) => return Err(e.into()),
    };
    let entry = Entry {
        action: "create",
        entity: "user",
        entity_id: Some(user.id),
        item_id: None,
        summary: format!("Created account {} ({})", user.email, role.as_str()),
        before: None,
        after: Some(&user),
    };
    audit::record(&mut *tx, &admin.actor(), entry).await?;
    tx.commit().await?;
    edit::see_other("/admin/users?done=created")
}

pub async fn edit_form(
    State(state): State<AppState>,
    nav: Nav,
    HtmlPath(id): HtmlPath<String>,
) -> Result<Html<String>, AppError> {
    let id = edit::parse_id(&id)?;
    let user = store::by_id(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    render(&FormPage::new(nav, id, UserForm::from(&user)))
}

pub async fn update(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(admin): SignedIn,
    HtmlPath(id): HtmlPath<String>,
    HtmlForm(form): HtmlForm<UserForm>,
) -> Result<Response, AppError> {
    let id = edit::parse_id(&id)?;
    let version = edit::parse_version(&form.version)?;
    let disabled = edit::ticked(&form.disabled);
    let mut errors = FieldErrors::default();
    let role = Role::parse(&form.role);
    if role.is_none() {
        errors.add("role", "choose a role");
    }
    if id == admin.id && (disabled || role != Some(Role::Admin)) {
        errors.add(
            "role",
            "you cannot demote or disable your own account; ask another admin",
        );
    }
    if form.display_name.chars().count() > 200 {
        errors.add("display_name", "a name has at most 200 characters");
    }
    let mut tx = state.pool.begin().await?;
    let before = store::by_id(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let form = UserForm {
        email: before.email.clone(),
        ..form
    };
    let (Some(role), true) = (role, errors.is_empty()) else {
        return edit::unprocessable(&FormPage {
            errors,
            ..FormPage::new(nav, id, form)
        });
    };
    let Some(after) = store::update(
        &mut *tx,
        id,
        version,
        form.display_name.trim(),
        role,
        disabled,
    )
    .await?
    else {
        let conflict = edit::conflict_rows(&UserForm::from(&before), &form);
        let form = UserForm {
            version: before.version.to_string(),
            ..form
        };
        return edit::conflict(&FormPage {
            conflict,
            ..FormPage::new(nav, id, form)
        });
    };
    let action = match (before.disabled_at.is_some(), disabled) {
        (false, true) => "disable",
        (true, false) => "enable",
        _ if before.role != after.role => "role_change",
        _ => "update",
    };
    if disabled || before.role != after.role {
        // A disabled account or a changed role takes effect now, not at next sign-in.
        sessions::delete_for_user(&mut *tx, id).await?;
    }
    let entry = Entry {
        action,
        entity: "user",
        entity_id: Some(id),
        item_id: None,
        summary: format!("{} account {}", action.replace('_', " "), after.email),
        before: Some(&before),
        after: Some(&after),
    };
    audit::record(&mut *tx, &admin.actor(), entry).await?;
    tx.commit().await?;
    edit::see_other("/admin/users?done=saved")
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
    HtmlPath(id): HtmlPath<String>,
    HtmlForm(input): HtmlForm<PasswordForm>,
) -> Result<Response, AppError> {
    let id = edit::parse_id(&id)?;
    let user = store::by_id(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    match commands::set_new_password(&state.pool, &admin.actor(), &user, &input.password).await {
        Ok(()) => {}
        Err(AccountError::Refused(problem)) => {
            let mut errors = FieldErrors::default();
            errors.add("password", problem);
            return edit::unprocessable(&FormPage {
                errors,
                ..FormPage::new(nav, id, UserForm::from(&user))
            });
        }
        Err(AccountError::Failed(e)) => return Err(AppError::Internal(e)),
    }
    edit::see_other("/admin/users?done=saved")
}
