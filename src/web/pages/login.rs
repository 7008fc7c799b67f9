//! Sign-in and sign-out.

use crate::web::forms::HtmlQuery;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::sync::LazyLock;
use tokio::sync::Semaphore;

use crate::domain::auth::{self, normalize_email};
use crate::store::audit::{self, Actor, Entry};
use crate::store::{sessions, users};
use crate::web::auth::{Nav, SignedIn, cookie_name, removal_cookie, safe_next, session_cookie};
use crate::web::forms::HtmlForm;
use crate::web::{AppError, AppState};

/// Each Argon2 verification takes ~19 MiB and tens of milliseconds: a few at a time.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(4));

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub nav: Nav,
    pub email: String,
    pub next: String,
    pub error: String,
    /// No account exists yet: say how to create the first admin.
    pub first_run: bool,
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn form(
    State(state): State<AppState>,
    nav: Nav,
    HtmlQuery(query): HtmlQuery<LoginQuery>,
) -> Result<Html<String>, AppError> {
    let first_run = users::none_exist(&state.pool).await?;
    let page = LoginPage {
        nav,
        email: String::new(),
        next: safe_next(query.next.as_deref()),
        error: String::new(),
        first_run,
    };
    Ok(Html(page.render()?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    password: String,
    next: String,
}

pub async fn submit(
    State(state): State<AppState>,
    jar: CookieJar,
    HtmlForm(input): HtmlForm<LoginForm>,
) -> Result<Response, AppError> {
    let email = normalize_email(&input.email);
    let next = safe_next(Some(&input.next));
    let refuse = |status: StatusCode, error: String| -> Result<Response, AppError> {
        let page = LoginPage {
            nav: Nav::default(),
            email: input.email.trim().to_string(),
            next: next.clone(),
            error,
            first_run: false,
        };
        Ok((status, Html(page.render()?)).into_response())
    };
    if email.is_empty() || input.password.is_empty() {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter your email address and your password.".into(),
        );
    }
    if auth::email_problem(&email).is_some() {
        // No account can have this address: answer as for a wrong password, at the same
        // cost, without recording it (an absurd address must not reach the throttle table).
        verify(input.password.clone(), None).await?;
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Wrong email address or password.".into(),
        );
    }
    if let Some(until) = users::locked_until(&state.pool, &email).await? {
        return refuse(StatusCode::TOO_MANY_REQUESTS, locked_message(until));
    }

    let account = users::credentials(&state.pool, &email).await?;
    let verified = verify(
        input.password.clone(),
        account.as_ref().map(|(_, hash)| hash.clone()),
    )
    .await?;
    let actor = Actor {
        id: account.as_ref().map(|(id, _)| *id),
        email: email.clone(),
    };
    let Some((user_id, _)) = account.filter(|_| verified) else {
        let locked = users::record_failure(&state.pool, &email).await?;
        audit::record(&state.pool, &actor, entry("login_failure", actor.id)).await?;
        return match locked {
            Some(until) => refuse(StatusCode::TOO_MANY_REQUESTS, locked_message(until)),
            None => refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Wrong email address or password.".into(),
            ),
        };
    };

    users::clear_failures(&state.pool, &email).await?;
    let previous = jar
        .get(cookie_name(state.settings.cookie_secure))
        .map(|c| c.value().to_string());
    let token = sessions::create(&state.pool, user_id, previous.as_deref()).await?;
    audit::record(&state.pool, &actor, entry("login_success", Some(user_id))).await?;
    let jar = jar.add(session_cookie(state.settings.cookie_secure, token));
    Ok((jar, Redirect::to(&next)).into_response())
}

pub async fn logout(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    jar: CookieJar,
) -> Result<Response, AppError> {
    if let Some(cookie) = jar.get(cookie_name(state.settings.cookie_secure)) {
        sessions::delete(&state.pool, cookie.value()).await?;
    }
    audit::record(&state.pool, &user.actor(), entry("logout", Some(user.id))).await?;
    let jar = jar.add(removal_cookie(state.settings.cookie_secure));
    Ok((jar, Redirect::to("/login")).into_response())
}

fn entry(action: &'static str, user_id: Option<i64>) -> Entry<'static> {
    Entry {
        action,
        entity: "session",
        entity_id: user_id,
        item_id: None,
        summary: String::new(),
        before: None,
        after: None,
    }
}

fn locked_message(until: DateTime<Utc>) -> String {
    format!(
        "Too many failed sign-in attempts for this address: sign-in is locked for 15 minutes, until {} UTC. Try again then, or ask an administrator to reset your password.",
        until.format("%H:%M")
    )
}

/// Argon2 off the async runtime. An unknown email is verified against a dummy hash, so
/// it costs the same time as a wrong password.
async fn verify(password: String, stored: Option<String>) -> Result<bool, AppError> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    tokio::task::spawn_blocking(move || auth::verify_or_dummy(&password, stored.as_deref()))
        .await
        .map_err(|e| AppError::Internal(e.into()))
}
