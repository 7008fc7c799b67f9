//! Sign-in and sign-out.

use crate::web::forms::HtmlQuery;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::auth::{self, normalize_email};
use crate::store::audit::{self, Actor, Entry};
use crate::store::throttle::{self, Reservation};
use crate::store::{sessions, users};
use crate::web::auth::{
    CHANGE_PASSWORD, Nav, SignedIn, cookie_name, removal_cookie, safe_next, session_cookie,
};
use crate::web::forms::HtmlForm;
use crate::web::{AppError, AppState};

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

/// What a sign-in answers when the queue of password checks is full.
pub const BUSY: &str = "Too many sign-ins at once; try again in a minute.";

/// Checks the typed address and password. In order: a malformed address is refused
/// without hashing; a full queue of password checks is answered 429 at once; the attempt
/// is reserved in the throttle (one atomic statement, so parallel posts cannot exceed the
/// limit) and refused if this client is locked out of the address; only then is the
/// password verified (an unknown address against a dummy hash, at the same cost).
pub async fn submit(
    State(state): State<AppState>,
    jar: CookieJar,
    client: Client,
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
    if let Some(problem) = auth::sign_in_email_problem(&email) {
        // No account can have this address: say so, without hashing and without
        // recording it (an absurd address must not reach the throttle table).
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, problem.into());
    }
    let Some(_place) = state.limits.admit() else {
        let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, BUSY.into())?;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return Ok(response);
    };
    let reservation = throttle::reserve(&state.pool, &email, &client.0).await?;
    if state.limits.sweep_due() {
        state.limits.forget_idle_clients();
        throttle::sweep(&state.pool).await?;
    }
    let locks_until = match reservation {
        Reservation::Locked(until) => {
            return refuse(StatusCode::TOO_MANY_REQUESTS, locked_message(until));
        }
        Reservation::Allowed { locks_until } => locks_until,
    };

    let account = users::credentials(&state.pool, &email).await?;
    let verified = verify(
        &state,
        input.password.clone(),
        account.as_ref().map(|a| a.password_hash.clone()),
    )
    .await?;
    let actor = Actor {
        id: account.as_ref().map(|a| a.id),
        email: email.clone(),
        token_id: None,
    };
    let Some(account) = account.filter(|_| verified) else {
        if actor.id.is_some() {
            audit::record(&state.pool, &actor, entry("login_failure", actor.id)).await?;
        } else {
            // Made-up addresses are counted per day, not one audit row each.
            throttle::count_unknown_failure(&state.pool).await?;
        }
        return match locks_until {
            Some(until) => refuse(StatusCode::TOO_MANY_REQUESTS, locked_message(until)),
            None => refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Wrong email address or password.".into(),
            ),
        };
    };

    throttle::clear(&state.pool, &email, &client.0).await?;
    let previous = jar
        .get(cookie_name(state.settings.cookie_secure))
        .map(|c| c.value().to_string());
    let token = sessions::create(&state.pool, account.id, previous.as_deref()).await?;
    audit::record(
        &state.pool,
        &actor,
        entry("login_success", Some(account.id)),
    )
    .await?;
    let jar = jar.add(session_cookie(state.settings.cookie_secure, token));
    let to = if account.must_change_password {
        let encoded: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
        format!("{CHANGE_PASSWORD}?next={encoded}")
    } else {
        next
    };
    Ok((jar, Redirect::to(&to)).into_response())
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

/// The lock names what lifts it: the time it ends, or a password reset by an
/// administrator (`accounts::set_new_password` clears every lock on the address). It is
/// this network address's lock only: signing in from elsewhere still works.
pub fn locked_message(until: DateTime<Utc>) -> String {
    format!(
        "Too many failed sign-in attempts for this email address from your network: signing in to it from here is locked for 15 minutes, until {} UTC. Try again then, or ask an administrator to reset your password, which lifts the lock at once.",
        until.format("%H:%M")
    )
}

/// Argon2 off the async runtime, one of [`HASH_WORKERS`](crate::web::limits::HASH_WORKERS)
/// at a time. An unknown email is verified against a dummy hash, so it costs the same time
/// as a wrong password. Callers hold a place in the queue (`Limits::admit`) first.
pub async fn verify(
    state: &AppState,
    password: String,
    stored: Option<String>,
) -> Result<bool, AppError> {
    let _turn = state.limits.hashing_turn().await?;
    tokio::task::spawn_blocking(move || auth::verify_or_dummy(&password, stored.as_deref()))
        .await
        .map_err(|e| AppError::Internal(e.into()))
}

/// The client of a request as the throttle keys it (see `web::limits::client_ip`).
pub struct Client(pub String);

impl axum::extract::FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client(
            state.limits.client(&parts.extensions, &parts.headers),
        ))
    }
}
