//! Who is asking: the session behind a request, what they may see, and the per-route
//! access rules. Each route group declares its rule where it is declared (see
//! `web::router`); handlers never re-check roles.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use subtle::ConstantTimeEq;

use crate::domain::auth::{Audience, Role};
use crate::store::sessions::{self, SessionUser};
use crate::store::tokens::{self, TokenUser};
use crate::web::api::error::ApiError;
use crate::web::forms::{query_param, with_query_param};
use crate::web::{AppError, AppState};

/// The signed-in person, put into request extensions by [`load_session`].
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub csrf_token: String,
    /// An administrator set the password: only the change of password (and sign-out) may
    /// be reached until it is changed (see [`load_session`]).
    pub must_change_password: bool,
    /// The API token this request came with (`Authorization: Bearer`), or None for a
    /// browser session.
    pub token: Option<TokenGrant>,
}

/// What a request's API token allows besides its person's role.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub id: i64,
    pub name: String,
    pub can_write: bool,
}

impl From<TokenUser> for CurrentUser {
    fn from(t: TokenUser) -> Self {
        CurrentUser {
            id: t.id,
            role: t.role,
            email: t.email,
            display_name: t.display_name,
            // No cookie is involved, so there is no cross-site request to guard against;
            // an empty token never matches a form's (see `verify_csrf_token`).
            csrf_token: String::new(),
            must_change_password: t.must_change_password,
            token: Some(TokenGrant {
                id: t.token_id,
                name: t.token_name,
                can_write: t.can_write,
            }),
        }
    }
}

impl From<SessionUser> for CurrentUser {
    fn from(s: SessionUser) -> Self {
        CurrentUser {
            id: s.id,
            role: s.role,
            email: s.email,
            display_name: s.display_name,
            csrf_token: s.csrf_token,
            must_change_password: s.must_change_password,
            token: None,
        }
    }
}

/// Where a person whose password an administrator set is sent until they change it (the
/// route is declared in `web::routes`).
pub const CHANGE_PASSWORD: &str = "/account/password";

/// What such a person may still reach: the change of password and sign-out.
fn reachable_before_changing(path: &str) -> bool {
    matches!(path, CHANGE_PASSWORD | "/logout")
}

/// Someone who must change their password asked for another page: browsers go to the
/// change of password (and come back afterwards), API clients get a 403 saying why.
fn change_password_first(req: &Request) -> Response {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    if is_api(path) {
        return ApiError::forbidden(
            "password_change_required",
            "Change your password first: sign in with a browser.",
        )
        .into_response();
    }
    let next = if req.method() == Method::GET {
        path
    } else {
        "/"
    };
    let encoded: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    Redirect::to(&format!("{CHANGE_PASSWORD}?next={encoded}")).into_response()
}

impl CurrentUser {
    pub fn actor(&self) -> crate::store::audit::Actor {
        crate::store::audit::Actor {
            id: Some(self.id),
            email: self.email.clone(),
            token_id: self.token.as_ref().map(|t| t.id),
        }
    }
}

/// The session cookie's name; `__Host-` binds it to this exact origin over HTTPS.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-pt_session"
    } else {
        "pt_session"
    }
}

pub fn session_cookie(secure: bool, token: String) -> Cookie<'static> {
    Cookie::build((cookie_name(secure), token))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::hours(sessions::ABSOLUTE_HOURS))
        .build()
}

/// A cookie that tells the browser to forget the session.
pub fn removal_cookie(secure: bool) -> Cookie<'static> {
    let mut cookie = session_cookie(secure, String::new());
    cookie.make_removal();
    cookie
}

/// The JSON API's addresses: they answer JSON errors and accept API tokens.
pub fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
}

/// The token of an `Authorization: Bearer …` header; `Err` for a header that is not one.
fn bearer(req: &Request) -> Option<Result<&str, ()>> {
    let value = req.headers().get(header::AUTHORIZATION)?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    Some(token.ok_or(()))
}

/// Who asks: an API token (`Authorization: Bearer`, on `/api/` addresses only, where no
/// form is ever posted) or else the session cookie; records the user in the request. A
/// route layer of the groups that need to know who asks (see `web::routes`). A token
/// that is unknown, expired or revoked is refused (401) rather than read as anonymous,
/// so a script learns at once that its token stopped working.
pub async fn load_session(
    State(state): State<AppState>,
    jar: CookieJar,
    mut req: Request,
    next: Next,
) -> Response {
    if is_api(req.uri().path())
        && let Some(token) = bearer(&req)
    {
        let found = match token {
            Ok(token) => tokens::lookup(&state.pool, token).await,
            Err(()) => Ok(None),
        };
        match found {
            Ok(Some(user)) => {
                if user.must_change_password {
                    return change_password_first(&req);
                }
                req.extensions_mut().insert(CurrentUser::from(user));
                return next.run(req).await;
            }
            Ok(None) => {
                return ApiError::unauthorized(
                    "The API token is unknown, expired or revoked: create a new one on your account page.",
                )
                .into_response();
            }
            Err(e) => return ApiError::from(e).into_response(),
        }
    }
    if let Some(cookie) = jar.get(cookie_name(state.settings.cookie_secure)) {
        match sessions::lookup(&state.pool, cookie.value()).await {
            Ok(Some(user)) => {
                if user.must_change_password && !reachable_before_changing(req.uri().path()) {
                    return change_password_first(&req);
                }
                req.extensions_mut().insert(CurrentUser::from(user));
            }
            Ok(None) => {}
            Err(e) => return AppError::from(e).into_response(),
        }
    }
    next.run(req).await
}

/// The rule a route group declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Dashboards: any signed-in role, or anyone when PUBLIC_READ is on.
    Read,
    /// At least this role.
    Role(Role),
}

/// The answer that refuses this request, or None when `access` lets it through.
fn refusal(access: Access, state: &AppState, req: &Request) -> Option<Response> {
    let user = req.extensions().get::<CurrentUser>();
    let allowed = match (access, user) {
        (Access::Read, None) => state.settings.public_read,
        (Access::Read, Some(_)) => true,
        (Access::Role(need), Some(u)) => u.role >= need,
        (Access::Role(_), None) => false,
    };
    match (allowed, user) {
        (true, _) => None,
        (false, Some(_)) => Some(AppError::Forbidden.into_response()),
        (false, None) => Some(sign_in_first(req)),
    }
}

/// Anonymous: browsers go to the sign-in page and come back; API clients get a 401.
fn sign_in_first(req: &Request) -> Response {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    if is_api(path) {
        return ApiError::unauthorized(
            "Sign in first: send `Authorization: Bearer <token>` with a token from your account page, or a session cookie.",
        )
        .into_response();
    }
    let next = if req.method() == Method::GET {
        path
    } else {
        "/"
    };
    let encoded: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    Redirect::to(&format!("/login?next={encoded}")).into_response()
}

pub async fn require_read(State(state): State<AppState>, req: Request, next: Next) -> Response {
    guard(Access::Read, state, req, next).await
}

pub async fn require_staff(State(state): State<AppState>, req: Request, next: Next) -> Response {
    guard(Access::Role(Role::Staff), state, req, next).await
}

pub async fn require_admin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    guard(Access::Role(Role::Admin), state, req, next).await
}

pub async fn require_signed_in(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    guard(Access::Role(Role::Viewer), state, req, next).await
}

async fn guard(access: Access, state: AppState, req: Request, next: Next) -> Response {
    match refusal(access, &state, &req) {
        None => next.run(req).await,
        Some(answer) => answer,
    }
}

/// Synchronizer-token check for signed-in, state-changing requests: the form's `_csrf`
/// field must equal the session's token. (The Origin / Sec-Fetch-Site check of
/// `tower_http::csrf` runs first for every request.) The body is read here, within
/// `MAX_BODY_BYTES` like every form extractor's; a multipart body (a file upload, whose
/// `_csrf` is one of its fields) within `IMPORT_MAX_BYTES`.
pub async fn verify_csrf_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let Some(expected) = req
        .extensions()
        .get::<CurrentUser>()
        .map(|u| u.csrf_token.clone())
    else {
        return AppError::Forbidden.into_response();
    };
    let (parts, body) = req.into_parts();
    // A file upload (multipart) may be larger than a form: IMPORT_MAX_BYTES. A body
    // declared larger is refused before a byte of it is read.
    let multipart = crate::web::forms::is_multipart(&parts.headers);
    let limit = match multipart {
        true => state.settings.import_max_bytes,
        false => state.settings.max_body_bytes,
    };
    if declared_length(&parts.headers).is_some_and(|length| length > limit) {
        return AppError::TooLarge.into_response();
    }
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(e) => return crate::web::limits::body_error(e).into_response(),
    };
    let sent = match multipart {
        true => match crate::web::forms::multipart_parts(&parts.headers, bytes.clone()).await {
            Ok(fields) => fields
                .into_iter()
                .find(|part| part.name == "_csrf" && part.file_name.is_none())
                .map(|part| String::from_utf8_lossy(&part.data).into_owned()),
            Err(e) => return e.into_response(),
        },
        false => form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "_csrf")
            .map(|(_, v)| v.into_owned()),
    };
    let valid = matches_session_token(sent.as_deref(), &expected);
    if !valid {
        return AppError::CsrfRejected.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The body length a request declares (`Content-Length`), if it does.
fn declared_length(headers: &axum::http::HeaderMap) -> Option<usize> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Whether `sent` is the session's CSRF token. A request without a session token (an API
/// token's, which has none) never matches.
pub fn matches_session_token(sent: Option<&str>, expected: &str) -> bool {
    !expected.is_empty()
        && sent.is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected.as_bytes())))
}

/// The header that carries the session's CSRF token on an API write made with a
/// browser session (a form's `_csrf` field, for scripts in the page).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The API's writes: a token must be read-write; a browser session must send its CSRF
/// token in `X-CSRF-Token` (a cookie alone could be another site's forged request).
/// After `require_admin`, which decides the role.
pub async fn api_write_access(req: Request, next: Next) -> Response {
    let Some(user) = req.extensions().get::<CurrentUser>() else {
        return sign_in_first(&req);
    };
    let refusal = match &user.token {
        Some(token) if !token.can_write => Some(ApiError::forbidden(
            "read_only_token",
            "This API token is read-only: create a read-write token to make changes.",
        )),
        Some(_) => None,
        None => {
            let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            (!matches_session_token(sent, &user.csrf_token)).then(|| {
                ApiError::forbidden(
                    "csrf_rejected",
                    "A write with a browser session needs the session's CSRF token in the X-CSRF-Token header; scripts use an API token instead.",
                )
            })
        }
    };
    match refusal {
        Some(refusal) => refusal.into_response(),
        None => next.run(req).await,
    }
}

/// The query parameter that switches a staff member's view, and the cookie that keeps
/// the choice across links until they switch back.
const VIEW_PARAM: &str = "view";
const VIEW_COOKIE: &str = "pt_view";
const AS_DELEGATES: &str = "delegates";
const AS_STAFF: &str = "staff";

/// The switch in this request's query: `Some(true)` for `?view=delegates`, `Some(false)`
/// for any other `view=`, None without one.
fn view_switch_in(uri: &axum::http::Uri) -> Option<bool> {
    query_param(uri.query(), VIEW_PARAM).map(|v| v == AS_DELEGATES)
}

/// The view a staff member asked for: `Some(true)` for the delegates' view, from the
/// query or else the cookie; None when neither says.
fn asked_for_delegates_view(uri: &axum::http::Uri, jar: &CookieJar) -> Option<bool> {
    view_switch_in(uri).or_else(|| jar.get(VIEW_COOKIE).map(|c| c.value() == AS_DELEGATES))
}

/// What the reader may see: their role's view; staff and admins may switch to what
/// delegates see (published figures only, no internal notes). The one rule, used by
/// handlers (through the extractor) and by the ETag alike.
pub fn audience_for(
    user: Option<&CurrentUser>,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
) -> Audience {
    let audience = Audience::of(user.map(|u| u.role));
    let as_delegates = || asked_for_delegates_view(uri, &CookieJar::from_headers(headers));
    match audience {
        Audience::Internal if as_delegates() == Some(true) => Audience::Published,
        other => other,
    }
}

/// What the reader may see ([`audience_for`]). Handlers take it as an argument.
impl<S: Send + Sync> FromRequestParts<S> for Audience {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(audience_for(
            parts.extensions.get::<CurrentUser>(),
            &parts.uri,
            &parts.headers,
        ))
    }
}

/// Remembers a `?view=` switch in a cookie, so the view a staff member chose holds on
/// every page they open from there until they switch back.
pub async fn remember_view(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let asked = view_switch_in(req.uri());
    let response = next.run(req).await;
    let Some(as_delegates) = asked else {
        return response;
    };
    let mut cookie = Cookie::build((VIEW_COOKIE, AS_DELEGATES))
        .path("/")
        .http_only(true)
        .secure(state.settings.cookie_secure)
        .same_site(SameSite::Lax)
        .build();
    if !as_delegates {
        cookie.make_removal();
    }
    (CookieJar::new().add(cookie), response).into_response()
}

/// The signed-in user, for handlers behind a signed-in guard.
pub struct SignedIn(pub CurrentUser);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .map(SignedIn)
            .ok_or(AppError::Forbidden)
    }
}

/// What the shared layout shows about the reader: who they are, what they can reach,
/// and the token every form carries.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    pub email: String,
    pub role_label: String,
    pub signed_in: bool,
    pub is_staff: bool,
    pub is_admin: bool,
    pub csrf: String,
    /// A staff member reading the delegates' view of the figures.
    pub as_delegates: bool,
    /// This page in the other view (staff only).
    pub switch_view: String,
    /// The page shows the portfolio as at the end of this day (`?as_of=`): "31 January
    /// 2008"; and the same page today.
    pub as_of: Option<String>,
    pub see_today: String,
}

impl Nav {
    pub fn for_user(user: Option<&CurrentUser>) -> Nav {
        match user {
            None => Nav::default(),
            Some(u) => Nav {
                email: u.email.clone(),
                role_label: u.role.label().to_string(),
                signed_in: true,
                is_staff: u.role >= Role::Staff,
                is_admin: u.role >= Role::Admin,
                csrf: u.csrf_token.clone(),
                ..Nav::default()
            },
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Nav {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let user = parts.extensions.get::<CurrentUser>();
        let mut nav = Nav::for_user(user);
        // path and query only: never the scheme or host of an absolute-form request
        let here = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        if let Some(day) = parts
            .extensions
            .get::<crate::web::snapshot::Snap>()
            .and_then(|s| s.as_at)
        {
            nav.as_of = Some(day.format("%-d %B %Y").to_string());
            nav.see_today =
                crate::web::forms::without_query_param(here, crate::web::snapshot::AS_OF);
        }
        if nav.is_staff {
            nav.as_delegates =
                audience_for(user, &parts.uri, &parts.headers) == Audience::Published;
            let to = if nav.as_delegates {
                AS_STAFF
            } else {
                AS_DELEGATES
            };
            nav.switch_view = with_query_param(here, VIEW_PARAM, to);
        }
        Ok(nav)
    }
}

/// Only paths on this site are followed after sign-in: `/x`, not `//evil.example` or
/// `https://evil.example` or `/\evil`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(char::is_control) =>
        {
            p.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_only_accepts_local_paths() {
        assert_eq!(safe_next(Some("/programmes/x?y=1")), "/programmes/x?y=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "evil",
            "",
            "/a\nb",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
