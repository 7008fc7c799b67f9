//! `/account/tokens`: a signed-in person's API tokens. They create one (name, lifetime,
//! read-only or, for admins, read-write) and see it once, on the page that answers the
//! creation; the list shows each token's prefix, access, expiry and last use, with a
//! button that revokes it. The rules are `TokenForm::validate`'s; the tokens are
//! `store::tokens`'s (only their hashes are stored).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;

use crate::domain::forms::FieldErrors;
use crate::domain::records::api_token::{DEFAULT_DAYS, MAX_DAYS, TokenForm};
use crate::store::tokens::{self, TokenRow, access_label};
use crate::web::auth::{CurrentUser, Nav, SignedIn};
use crate::web::forms::{HtmlForm, HtmlPath, HtmlQuery, parse_id};
use crate::web::{AppError, AppState};

pub struct TokenLine {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub access: &'static str,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    /// "active", "expired" or "revoked".
    pub state: &'static str,
    pub live: bool,
}

impl TokenLine {
    fn new(row: &TokenRow) -> TokenLine {
        let now = Utc::now();
        let day = |at: chrono::DateTime<Utc>| at.format("%Y-%m-%d").to_string();
        TokenLine {
            id: row.id,
            name: row.name.clone(),
            prefix: row.prefix.clone(),
            access: access_label(row.can_write),
            created: day(row.created_at),
            expires: day(row.expires_at),
            last_used: row
                .last_used_at
                .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|| "never".into()),
            state: match (row.revoked_at, row.is_live(now)) {
                (Some(_), _) => "revoked",
                (None, false) => "expired",
                (None, true) => "active",
            },
            live: row.is_live(now),
        }
    }
}

#[derive(Template)]
#[template(path = "account_tokens.html")]
pub struct TokensPage {
    pub nav: Nav,
    pub tokens: Vec<TokenLine>,
    /// Only admins are offered read-write tokens.
    pub may_write: bool,
    pub form: TokenForm,
    pub errors: FieldErrors,
    /// The token just created, shown this once.
    pub created: Option<String>,
    pub notice: &'static str,
    pub max_days: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    done: String,
}

async fn page(
    state: &AppState,
    nav: Nav,
    user: &CurrentUser,
    form: TokenForm,
    errors: FieldErrors,
    created: Option<String>,
    notice: &'static str,
) -> Result<TokensPage, AppError> {
    let rows = tokens::of_user(&state.pool, user.id).await?;
    Ok(TokensPage {
        nav,
        tokens: rows.iter().map(TokenLine::new).collect(),
        may_write: user.role >= crate::domain::auth::Role::Admin,
        form,
        errors,
        created,
        notice,
        max_days: MAX_DAYS,
    })
}

fn blank() -> TokenForm {
    TokenForm {
        days: DEFAULT_DAYS.to_string(),
        ..TokenForm::default()
    }
}

pub async fn list(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlQuery(query): HtmlQuery<PageQuery>,
) -> Result<Html<String>, AppError> {
    let notice = if query.done == "revoked" {
        "Token revoked: it no longer works."
    } else {
        ""
    };
    let page = page(
        &state,
        nav,
        &user,
        blank(),
        FieldErrors::default(),
        None,
        notice,
    )
    .await?;
    Ok(Html(page.render()?))
}

/// Creates the token and answers with the page showing it once (no redirect: the
/// secret is in this answer only, never in an address or a stored page).
pub async fn create(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlForm(form): HtmlForm<TokenForm>,
) -> Result<Response, AppError> {
    let fields = match form.validate(user.role) {
        Ok(fields) => fields,
        Err(errors) => {
            let page = page(&state, nav, &user, form, errors, None, "").await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
        }
    };
    let made = tokens::create(&state.pool, &user.actor(), user.id, &fields).await?;
    let page = page(
        &state,
        nav,
        &user,
        blank(),
        FieldErrors::default(),
        Some(made.secret),
        "",
    )
    .await?;
    Ok(Html(page.render()?).into_response())
}

pub async fn revoke(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
) -> Result<Response, AppError> {
    let id = parse_id(&id)?;
    if !tokens::revoke(&state.pool, &user.actor(), user.id, id).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/account/tokens?done=revoked").into_response())
}
