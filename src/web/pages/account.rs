//! A signed-in person's own account: changing their password. Someone whose password an
//! administrator set is sent here after signing in, and can open nothing else until they
//! have chosen their own (see `web::auth::load_session`).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::accounts::{self, AccountError};
use crate::domain::auth::password_problem;
use crate::domain::forms::FieldErrors;
use crate::store::throttle::{self, Reservation};
use crate::store::users;
use crate::web::auth::{CHANGE_PASSWORD, Nav, SignedIn, cookie_name, safe_next};
use crate::web::forms::{HtmlForm, HtmlQuery};
use crate::web::pages::login::{BUSY, Client, locked_message, verify};
use crate::web::{AppError, AppState};

#[derive(Template)]
#[template(path = "account_password.html")]
pub struct PasswordPage {
    pub nav: Nav,
    /// An administrator set the password: this page is the only one open.
    pub must_change: bool,
    /// Where to go afterwards (a local path), or "" for back here with a notice.
    pub next: String,
    pub notice: &'static str,
    pub errors: FieldErrors,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    next: String,
    done: String,
}

/// A `next` worth following: a local path other than this page, or "" for none.
fn onward(next: &str) -> String {
    if next.is_empty() {
        return String::new();
    }
    let next = safe_next(Some(next));
    if next.starts_with(CHANGE_PASSWORD) {
        String::new()
    } else {
        next
    }
}

pub async fn form(
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlQuery(query): HtmlQuery<PageQuery>,
) -> Result<Html<String>, AppError> {
    let page = PasswordPage {
        nav,
        must_change: user.must_change_password,
        next: onward(&query.next),
        notice: if query.done == "changed" {
            "Your password has been changed."
        } else {
            ""
        },
        errors: FieldErrors::default(),
    };
    Ok(Html(page.render()?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    repeat_password: String,
    next: String,
}

/// Checks the form, then the current password (through the sign-in throttle and the
/// queue of password checks, as a sign-in: it is a password guess too), then stores the
/// new one. Every error comes back on the page with its message; the password fields are
/// never sent back.
pub async fn submit(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    jar: CookieJar,
    client: Client,
    HtmlForm(input): HtmlForm<PasswordForm>,
) -> Result<Response, AppError> {
    let next = onward(&input.next);
    let again = |status: StatusCode, errors: FieldErrors| -> Result<Response, AppError> {
        let page = PasswordPage {
            nav: nav.clone(),
            must_change: user.must_change_password,
            next: next.clone(),
            notice: "",
            errors,
        };
        Ok((status, Html(page.render()?)).into_response())
    };

    let mut errors = FieldErrors::default();
    if input.current_password.is_empty() {
        errors.add("current_password", "enter your current password");
    }
    if let Some(problem) = password_problem(&input.new_password) {
        errors.add("new_password", problem);
    } else if input.new_password == input.current_password {
        errors.add(
            "new_password",
            "choose a password different from your current one",
        );
    }
    if input.repeat_password != input.new_password {
        errors.add(
            "repeat_password",
            "the two new passwords differ: type the same one twice",
        );
    }
    if !errors.is_empty() {
        return again(StatusCode::UNPROCESSABLE_ENTITY, errors);
    }

    let Some(_place) = state.limits.admit() else {
        let mut response = again(
            StatusCode::TOO_MANY_REQUESTS,
            FieldErrors::one("current_password", BUSY),
        )?;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return Ok(response);
    };
    let locks_until = match throttle::reserve(&state.pool, &user.email, &client.0).await? {
        Reservation::Locked(until) => {
            return again(
                StatusCode::TOO_MANY_REQUESTS,
                FieldErrors::one("current_password", locked_message(until)),
            );
        }
        Reservation::Allowed { locks_until } => locks_until,
    };
    let stored = users::credentials(&state.pool, &user.email)
        .await?
        .map(|c| c.password_hash);
    if !verify(&state, input.current_password.clone(), stored).await? {
        let message = match locks_until {
            Some(until) => locked_message(until),
            None => "this is not your current password".to_string(),
        };
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            FieldErrors::one("current_password", message),
        );
    }

    let session = jar
        .get(cookie_name(state.settings.cookie_secure))
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    match accounts::change_own_password(
        &state.pool,
        &user.actor(),
        user.id,
        &user.email,
        &input.new_password,
        &session,
    )
    .await
    {
        Ok(()) => {}
        Err(AccountError::Refused(problem)) => {
            return again(
                StatusCode::UNPROCESSABLE_ENTITY,
                FieldErrors::one("new_password", problem),
            );
        }
        Err(AccountError::Failed(e)) => return Err(AppError::Internal(e)),
    }
    let to = if next.is_empty() {
        format!("{CHANGE_PASSWORD}?done=changed")
    } else {
        next
    };
    Ok(Redirect::to(&to).into_response())
}
