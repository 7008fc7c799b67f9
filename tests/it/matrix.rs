//! Who may do what: every route declared in `src/web`, requested by an anonymous visitor,
//! a viewer, a staff member and an admin, with the status each must get. A completeness
//! test reads the route declarations from the source, so a route without a row here
//! fails the suite.
//!
//! Adding a route means adding one row to `ROWS`. A path names its parameters with the
//! placeholders of [`placeholders`] (`{item}`, `{org}`, `{user}`, ...), which are filled
//! with real ids from the seeded database; parameter names do not matter when the rows
//! are compared with the source (`/admin/items/{item}` covers `/admin/items/{id}`).

use crate::harness::{Session, TestApp};
use portfolio_tracker::domain::auth::Role;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// What one role must get.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Exactly this status.
    Is(u16),
    /// 303 to the sign-in page, with `next` leading back (see [`sign_in_location`]).
    Login,
    /// Whatever the handler legitimately answers (303, 400, 404, 409, 422, ...), but never
    /// a server error and never an access refusal: the request reached the handler.
    Handled,
}
use Expect::{Handled, Is, Login};

/// Columns: anonymous, viewer, staff, admin.
type Expectations = [Expect; 4];

const OPEN: Expectations = [Is(200), Is(200), Is(200), Is(200)];
const READ: Expectations = [Login, Is(200), Is(200), Is(200)];
const API: Expectations = [Is(401), Is(200), Is(200), Is(200)];
const STAFF: Expectations = [Login, Is(403), Is(200), Is(200)];
const ADMIN_GET: Expectations = [Login, Is(403), Is(403), Is(200)];
const ADMIN_POST: Expectations = [Login, Is(403), Is(403), Handled];
const SIGNED_IN_POST: Expectations = [Login, Is(303), Is(303), Is(303)];
/// Staff and admins record delivery (a milestone done, progress); delegates may not.
const STAFF_POST: Expectations = [Login, Is(403), Handled, Handled];

/// An admin POST whose answer for the admin is known exactly.
const fn admin_post(status: u16) -> Expectations {
    [Login, Is(403), Is(403), Is(status)]
}

type Form = &'static [(&'static str, &'static str)];

const NO_FORM: Form = &[];
const NEW_ORG: Form = &[
    ("slug", "matrix-org"),
    ("name", "Matrix Org"),
    ("kind", "government"),
    ("version", "0"),
];
const EDIT_ORG: Form = &[
    ("slug", "government-of-canada"),
    ("name", "Government of Canada"),
    ("kind", "government"),
    ("version", "{org_version}"),
];
const NEW_USER: Form = &[
    ("email", "matrix-new@example.org"),
    ("role", "viewer"),
    ("password", "a long enough password"),
];
const EDIT_USER: Form = &[
    ("display_name", "Matrix Target"),
    ("role", "staff"),
    ("version", "{user_version}"),
];
const NEW_PASSWORD: Form = &[("password", "a brand new password")];

/// (method, path with placeholders, form fields for a POST, expected statuses).
/// Rows run in this order (POST /logout last, see `run_matrix`); an admin's POST really
/// happens, so later rows see its effect.
#[rustfmt::skip]
const ROWS: &[(&str, &str, Form, Expectations)] = &[
    // Dashboards.
    ("GET",  "/",                                      NO_FORM,      READ),
    ("GET",  "/programmes/{slug}",                     NO_FORM,      READ),
    ("GET",  "/result-areas",                          NO_FORM,      READ),
    ("GET",  "/api/v1/programmes",                     NO_FORM,      API),
    ("GET",  "/api/v1/items",                          NO_FORM,      API),
    ("GET",  "/api/v1/items/{slug}",                   NO_FORM,      API),
    ("GET",  "/api/v1/contributions",                  NO_FORM,      API),
    ("GET",  "/api/v1/contributions/{contribution}",   NO_FORM,      API),
    ("GET",  "/api/v1/contributions/{contribution}/events", NO_FORM, API),
    ("GET",  "/api/v1/organisations",                  NO_FORM,      API),
    ("GET",  "/api/v1/places",                         NO_FORM,      API),
    ("GET",  "/api/v1/result-areas",                   NO_FORM,      API),
    ("GET",  "/api/v1/exchange-rates",                 NO_FORM,      API),
    ("GET",  "/api/v1/funding/donors",                 NO_FORM,      API),
    ("GET",  "/api/v1/funding/{funding_table}",        NO_FORM,      API),
    ("GET",  "/api/v1/openapi.json",                   NO_FORM,      OPEN),
    ("GET",  "/api/v1",                                NO_FORM,      OPEN),
    // API writes: a form body is no JSON (415) once access is granted; a browser session
    // without the X-CSRF-Token header is refused first (403) — see tests/it/api_v1.rs.
    ("POST", "/api/v1/items/{slug}/contributions",     NO_FORM,      [Is(401), Is(403), Is(403), Is(403)]),
    ("PUT",  "/api/v1/contributions/{contribution}",   NO_FORM,      [Is(401), Is(403), Is(403), Is(403)]),
    ("POST", "/api/v1/contributions/{contribution}/events", NO_FORM, [Is(401), Is(403), Is(403), Is(403)]),
    ("PUT",  "/api/v1/items/{slug}",                   NO_FORM,      [Is(401), Is(403), Is(403), Is(403)]),
    ("GET",  "/programmes/{slug}/history",             NO_FORM,      STAFF),
    ("GET",  "/activity",                              NO_FORM,      STAFF),
    ("GET",  "/funding",                               NO_FORM,      READ),
    ("GET",  "/timeline",                              NO_FORM,      READ),
    ("GET",  "/changes",                               NO_FORM,      READ),
    ("GET",  "/changes.csv",                           NO_FORM,      READ),
    ("GET",  "/changes.xlsx",                          NO_FORM,      READ),
    ("GET",  "/milestones/{milestone}/done",           NO_FORM,      STAFF),
    ("POST", "/milestones/{milestone}/done",           NO_FORM,      STAFF_POST),
    ("GET",  "/targets/{target}/progress",             NO_FORM,      STAFF),
    ("POST", "/targets/{target}/progress",             NO_FORM,      STAFF_POST),
    ("GET",  "/funding.csv",                           NO_FORM,      READ),
    ("GET",  "/funding.xlsx",                          NO_FORM,      READ),
    ("GET",  "/iati/activities.xml",                   NO_FORM,      READ),
    ("GET",  "/result-areas/{area_code}",              NO_FORM,      READ),
    ("GET",  "/organisations/{org_slug}",              NO_FORM,      READ),
    ("GET",  "/places/{place}",                        NO_FORM,      READ),
    ("GET",  "/search",                                NO_FORM,      READ),
    // Administration.
    ("GET",  "/admin",                                 NO_FORM,      ADMIN_GET),
    ("GET",  "/admin/audit",                           NO_FORM,      ADMIN_GET),
    ("GET",  "/admin/organisations",                   NO_FORM,      ADMIN_GET),
    ("GET",  "/admin/organisations/new",               NO_FORM,      ADMIN_GET),
    ("GET",  "/admin/organisations/{org}/edit",        NO_FORM,      ADMIN_GET),
    ("POST", "/admin/organisations",                   NO_FORM,      ADMIN_POST),
    ("POST", "/admin/organisations",                   NEW_ORG,      admin_post(303)),
    ("POST", "/admin/organisations/{org}",             EDIT_ORG,     admin_post(303)),
    ("POST", "/admin/organisations/{org}/archive",     NO_FORM,      admin_post(303)),
    ("POST", "/admin/organisations/{org}/restore",     NO_FORM,      admin_post(303)),
    ("POST", "/admin/organisations/{org}/delete",      NO_FORM,      admin_post(409)),
    ("POST", "/admin/organisations/{free_org}/delete", NO_FORM,      admin_post(303)),
    ("GET",  "/admin/items",                           NO_FORM,      ADMIN_GET),
    ("GET",  "/admin/items/new",                       NO_FORM,      ADMIN_GET),
    ("GET",  "/admin/items/{item}/edit",               NO_FORM,      ADMIN_GET),
    ("POST", "/admin/items",                           NO_FORM,      ADMIN_POST),
    ("POST", "/admin/items/{item}",                    NO_FORM,      ADMIN_POST),
    ("POST", "/admin/items/{item}/archive",            NO_FORM,      admin_post(303)),
    ("POST", "/admin/items/{item}/restore",            NO_FORM,      admin_post(303)),
    ("POST", "/admin/items/{item}/alignments",         NO_FORM,      ADMIN_POST),
    ("POST", "/admin/items/{item}/alignments/{result_area}/delete", NO_FORM, ADMIN_POST),
    ("GET",  "/admin/items/{item}/money",              NO_FORM,      ADMIN_GET),
    ("GET",  "/admin/items/{item}/budgets/new",        NO_FORM,      ADMIN_GET),
    ("POST", "/admin/items/{item}/budgets",            NO_FORM,      ADMIN_POST),
    ("GET",  "/admin/budgets/{budget}/edit",           NO_FORM,      ADMIN_GET),
    ("POST", "/admin/budgets/{budget}",                NO_FORM,      ADMIN_POST),
    ("POST", "/admin/budgets/{budget}/archive",        NO_FORM,      ADMIN_POST),
    ("POST", "/admin/budgets/{budget}/restore",        NO_FORM,      ADMIN_POST),
    ("GET",  "/admin/items/{item}/contributions/new",  NO_FORM,      ADMIN_GET),
    ("POST", "/admin/items/{item}/contributions",      NO_FORM,      ADMIN_POST),
    ("POST", "/admin/items/{item}/contributions/new/organisation", NO_FORM, admin_post(303)),
    ("GET",  "/admin/contributions/{contribution}/edit", NO_FORM,    ADMIN_GET),
    ("POST", "/admin/contributions/{contribution}",    NO_FORM,      ADMIN_POST),
    ("POST", "/admin/contributions/{contribution}/archive", NO_FORM, ADMIN_POST),
    ("GET",  "/admin/contributions/{contribution}/events/new", NO_FORM, ADMIN_GET),
    ("POST", "/admin/contributions/{contribution}/events", NO_FORM,  admin_post(422)),
    ("POST", "/admin/contributions/{contribution}/restore", NO_FORM, ADMIN_POST),
    ("GET",  "/admin/items/{item}/milestones/new",     NO_FORM,      ADMIN_GET),
    ("POST", "/admin/items/{item}/milestones",         NO_FORM,      admin_post(422)),
    ("GET",  "/admin/milestones/{milestone}/edit",     NO_FORM,      ADMIN_GET),
    ("POST", "/admin/milestones/{milestone}",          NO_FORM,      ADMIN_POST),
    ("POST", "/admin/milestones/{milestone}/archive",  NO_FORM,      admin_post(303)),
    ("POST", "/admin/milestones/{milestone}/restore",  NO_FORM,      admin_post(303)),
    ("GET",  "/admin/items/{item}/targets/new",        NO_FORM,      ADMIN_GET),
    ("POST", "/admin/items/{item}/targets",            NO_FORM,      admin_post(422)),
    ("GET",  "/admin/targets/{target}/edit",           NO_FORM,      ADMIN_GET),
    ("POST", "/admin/targets/{target}",                NO_FORM,      ADMIN_POST),
    ("POST", "/admin/targets/{target}/archive",        NO_FORM,      admin_post(303)),
    ("POST", "/admin/targets/{target}/restore",        NO_FORM,      admin_post(303)),
    ("GET",  "/admin/result-areas",                    NO_FORM,      ADMIN_GET),
    ("GET",  "/admin/result-areas/new",                NO_FORM,      ADMIN_GET),
    ("GET",  "/admin/result-areas/{result_area}/edit", NO_FORM,      ADMIN_GET),
    ("POST", "/admin/result-areas",                    NO_FORM,      ADMIN_POST),
    ("POST", "/admin/result-areas/{result_area}",      NO_FORM,      ADMIN_POST),
    ("POST", "/admin/result-areas/{result_area}/archive", NO_FORM,   ADMIN_POST),
    ("POST", "/admin/result-areas/{result_area}/restore", NO_FORM,   ADMIN_POST),
    ("GET",  "/admin/themes/{theme}/edit",             NO_FORM,      ADMIN_GET),
    ("POST", "/admin/themes/{theme}",                  NO_FORM,      ADMIN_POST),
    ("GET",  "/admin/exchange-rates",                  NO_FORM,      ADMIN_GET),
    ("GET",  "/admin/exchange-rates/new",              NO_FORM,      ADMIN_GET),
    ("GET",  "/admin/exchange-rates/{currency}/{rate_month}/edit", NO_FORM, ADMIN_GET),
    ("POST", "/admin/exchange-rates",                  NO_FORM,      ADMIN_POST),
    ("POST", "/admin/exchange-rates/{currency}/{rate_month}", NO_FORM, ADMIN_POST),
    ("GET",  "/admin/imports",                         NO_FORM,      ADMIN_GET),
    ("POST", "/admin/imports",                         NO_FORM,      admin_post(400)),
    ("GET",  "/admin/imports/{missing}",               NO_FORM,      [Login, Is(403), Is(403), Is(404)]),
    ("GET",  "/admin/imports/uploads/{missing}",       NO_FORM,      [Login, Is(403), Is(403), Is(404)]),
    ("POST", "/admin/imports/uploads/{missing}",       NO_FORM,      admin_post(404)),
    ("GET",  "/admin/users",                           NO_FORM,      ADMIN_GET),
    ("GET",  "/admin/users/new",                       NO_FORM,      ADMIN_GET),
    ("GET",  "/admin/users/{user}/edit",               NO_FORM,      ADMIN_GET),
    ("POST", "/admin/users",                           NEW_USER,     admin_post(303)),
    ("POST", "/admin/users/{user}",                    EDIT_USER,    admin_post(303)),
    ("POST", "/admin/users/{user}/password",           NEW_PASSWORD, admin_post(303)),
    // Anyone.
    ("GET",  "/account/password",                      NO_FORM,      [Login, Is(200), Is(200), Is(200)]),
    ("POST", "/account/password",                      NO_FORM,      [Login, Is(422), Is(422), Is(422)]),
    ("GET",  "/account/tokens",                        NO_FORM,      [Login, Is(200), Is(200), Is(200)]),
    ("POST", "/account/tokens",                        NO_FORM,      [Login, Is(422), Is(422), Is(422)]),
    ("POST", "/account/tokens/{token}/revoke",         NO_FORM,      [Login, Is(404), Is(404), Is(404)]),
    ("GET",  "/login",                                 NO_FORM,      OPEN),
    ("POST", "/login",                                 NO_FORM,      [Is(422), Is(422), Is(422), Is(422)]),
    ("GET",  "/healthz",                               NO_FORM,      OPEN),
    ("GET",  "/readyz",                                NO_FORM,      OPEN),
    ("GET",  "/static/style.css",                      NO_FORM,      OPEN),
    ("GET",  "/favicon.svg",                           NO_FORM,      OPEN),
    ("GET",  "/favicon.ico",                           NO_FORM,      OPEN),
    ("POST", "/logout",                                NO_FORM,      SIGNED_IN_POST),
];

const TARGET_USER: &str = "matrix-target@example.org";

/// Real ids and values from the seeded database, read before each row (versions move as
/// the admin's POSTs land; only the admin's request, the row's last, changes anything).
async fn placeholders(app: &TestApp) -> HashMap<&'static str, String> {
    let pool = &app.db.pool;
    let one = |sql: &'static str| async move {
        sqlx::query_scalar::<_, Option<String>>(sql)
            .fetch_optional(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .flatten()
    };
    let values: [(&'static str, Option<String>); 23] = [
        (
            "milestone",
            one("SELECT id::text FROM milestones WHERE seed_key = 'guinea-bissau/presented-lisbon-donors'")
                .await,
        ),
        (
            "target",
            one("SELECT id::text FROM targets WHERE seed_key = 'star-pilot-country-assistance/countries-assisted'")
                .await,
        ),
        // an id no record has (imports and uploads: the seeded database has none)
        ("missing", Some("999999999".to_string())),
        ("area_code", Some("3.6".to_string())),
        ("funding_table", Some("result-areas".to_string())),
        // another person's token, or none: no one revokes it from their page
        ("token", Some("999999".to_string())),
        ("org_slug", Some("european-union".to_string())),
        ("place", Some("Guinea-Bissau".to_string())),
        (
            "rate_month",
            one("SELECT to_char(min(month), 'YYYY-MM') FROM exchange_rates WHERE currency = 'EUR'")
                .await,
        ),
        ("slug", Some("guinea-bissau".to_string())),
        (
            "item",
            one("SELECT id::text FROM items WHERE slug = 'guinea-bissau'").await,
        ),
        (
            "component",
            one("SELECT id::text FROM items WHERE slug = 'rainbow-green-paper'").await,
        ),
        (
            "budget",
            one(
                "SELECT min(b.id)::text FROM budgets b JOIN items i ON i.id = b.item_id
                  WHERE i.slug = 'guinea-bissau'",
            )
            .await,
        ),
        (
            "contribution",
            one(
                "SELECT min(c.id)::text FROM contributions c JOIN items i ON i.id = c.item_id
                  WHERE i.slug = 'guinea-bissau'",
            )
            .await,
        ),
        (
            "result_area",
            one("SELECT id::text FROM result_areas WHERE code = '1.2'").await,
        ),
        ("theme", one("SELECT min(code) FROM themes").await),
        ("currency", Some("EUR".to_string())),
        (
            "month",
            one("SELECT min(month)::text FROM exchange_rates WHERE currency = 'EUR'").await,
        ),
        (
            "org",
            one("SELECT id::text FROM organisations WHERE slug = 'government-of-canada'").await,
        ),
        (
            "org_version",
            one("SELECT version::text FROM organisations WHERE slug = 'government-of-canada'")
                .await,
        ),
        (
            "free_org",
            one("SELECT min(o.id)::text FROM organisations o
                  WHERE NOT EXISTS (SELECT 1 FROM contributions c WHERE c.org_id = o.id)")
            .await,
        ),
        (
            "user",
            one("SELECT id::text FROM users WHERE email = 'matrix-target@example.org'").await,
        ),
        (
            "user_version",
            one("SELECT version::text FROM users WHERE email = 'matrix-target@example.org'").await,
        ),
    ];
    // A value the database lacks is left out: a row using it fails with "unknown".
    values
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
        .collect()
}

/// `text` with every `{name}` replaced by its value.
fn fill(text: &str, values: &HashMap<&'static str, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .unwrap_or_else(|| panic!("unclosed placeholder in {text}"))
            + open;
        let name = &rest[open + 1..close];
        let value = values.get(name).unwrap_or_else(|| {
            let mut known: Vec<_> = values.keys().collect();
            known.sort();
            panic!("unknown placeholder {{{name}}} in {text}; known: {known:?}")
        });
        out.push_str(&rest[..open]);
        out.push_str(value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// A path pattern with parameter names dropped: `/admin/items/{id}` → `/admin/items/{}`.
fn normalize(pattern: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in pattern.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push('{');
            }
            '}' => {
                in_param = false;
                out.push('}');
            }
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// Status and Location of one request by one role (None: anonymous).
async fn send(
    app: &TestApp,
    who: Option<&Session>,
    method: &str,
    path: &str,
    form: &[(String, String)],
) -> (u16, String) {
    let url = app.url(path);
    let response = match (method, who) {
        ("GET", Some(s)) => s.get_response(path).await,
        ("GET", None) => app.client.get(url).send().await.expect("request"),
        ("POST", Some(s)) => {
            let mut fields: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            fields.push(("_csrf", &s.csrf));
            s.post_raw(path, &fields, &[]).await
        }
        ("POST", None) => app
            .client
            .post(url)
            .form(form)
            .send()
            .await
            .expect("request"),
        ("PUT", Some(s)) => s
            .client
            .put(url)
            .header("cookie", &s.cookie)
            .form(form)
            .send()
            .await
            .expect("request"),
        ("PUT", None) => app
            .client
            .put(url)
            .form(form)
            .send()
            .await
            .expect("request"),
        _ => panic!("the matrix sends GET, POST and PUT only, not {method}"),
    };
    let status = response.status().as_u16();
    (status, crate::harness::location(&response))
}

/// Where an anonymous request is sent: back to the page after sign-in for a GET, to the
/// overview for anything else.
fn sign_in_location(method: &str, path: &str) -> String {
    let next = if method == "GET" { path } else { "/" };
    let encoded: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("/login?next={encoded}")
}

fn check(expect: Expect, method: &str, path: &str, status: u16, location: &str) -> bool {
    match expect {
        Is(wanted) => status == wanted,
        Login => status == 303 && location == sign_in_location(method, path),
        Handled => !matches!(status, 401 | 403 | 500..=599),
    }
}

#[tokio::test]
async fn every_route_answers_each_role_as_declared() {
    let app = TestApp::spawn().await;
    app.create_user(TARGET_USER, Role::Viewer).await;
    let viewer = app.signed_in(Role::Viewer).await;
    let staff = app.signed_in(Role::Staff).await;
    let admin = app.signed_in(Role::Admin).await;
    let roles: [(&str, Option<&Session>); 4] = [
        ("anonymous", None),
        ("viewer", Some(&viewer)),
        ("staff", Some(&staff)),
        ("admin", Some(&admin)),
    ];
    // Signing out ends the sessions the other rows need: those rows run last.
    let (logout, others): (Vec<_>, Vec<_>) = ROWS.iter().partition(|r| r.1 == "/logout");
    let mut failures = Vec::new();
    for (method, path, form, expected) in others.into_iter().chain(logout) {
        let values = placeholders(&app).await;
        let concrete = fill(path, &values);
        let fields: Vec<(String, String)> = form
            .iter()
            .map(|(k, v)| (k.to_string(), fill(v, &values)))
            .collect();
        for ((role, session), expect) in roles.iter().zip(expected) {
            let (status, location) = send(&app, *session, method, &concrete, &fields).await;
            if !check(expect, method, &concrete, status, &location) {
                failures.push(format!(
                    "{method} {concrete} as {role}: got {status} (Location {location:?}), expected {expect:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[tokio::test]
async fn admin_pages_for_records_that_do_not_exist_are_404() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    for path in [
        "/admin/organisations/999999/edit",
        "/admin/organisations/abc/edit",
        "/admin/organisations/0/edit",
        "/admin/organisations/-1/edit",
        "/admin/organisations/99999999999999999999999/edit",
        "/admin/users/999999/edit",
        "/admin/users/x/edit",
    ] {
        assert_eq!(admin.get(path).await.0, 404, "GET {path}");
    }
    for path in [
        "/admin/organisations/999999",
        "/admin/organisations/999999/archive",
        "/admin/organisations/999999/restore",
        "/admin/organisations/999999/delete",
        "/admin/organisations/abc/delete",
        "/admin/users/999999/password",
    ] {
        let (status, _, _) = admin
            .post(
                path,
                &[
                    ("slug", "x"),
                    ("name", "X"),
                    ("kind", "government"),
                    ("version", "1"),
                    ("password", "a long enough password"),
                ],
            )
            .await;
        assert_eq!(status, 404, "POST {path}");
    }
}

// --- Completeness: the rows against the route declarations in src/web -------------------

const METHODS: [&str; 7] = ["get", "post", "put", "delete", "patch", "head", "options"];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/web") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without `//` comments (whole-line and trailing; route paths hold no `//`).
fn without_comments(source: &str) -> String {
    source
        .lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') || line.trim_start().starts_with("//") => {
                &line[..at]
            }
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text between the `(` at `open` and its matching `)`.
fn balanced(text: &str, open: usize) -> &str {
    let mut depth = 0;
    let mut in_string = false;
    for (i, c) in text[open..].char_indices() {
        match c {
            '"' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses after {}", &text[open..])
}

/// Every (METHOD, normalized pattern) that `.route("...", get(..).post(..))` declares.
fn declared_routes(source: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (at, _) in source.match_indices(".route(") {
        let args = balanced(source, at + ".route".len());
        let start = args.find('"').expect("a route path literal") + 1;
        let end = args[start..].find('"').expect("end of the path") + start;
        let pattern = normalize(&args[start..end]);
        let handlers = &args[end + 1..];
        for method in METHODS {
            let call = format!("{method}(");
            let declared = handlers.match_indices(&call).any(|(i, _)| {
                handlers[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            });
            if declared {
                found.push((method.to_uppercase(), pattern.clone()));
            }
        }
    }
    found
}

/// The value of `const NAME` inside `block`: its string literal, or None (`None`, no
/// literal before the `;`).
fn const_literal<'a>(block: &'a str, name: &str) -> Option<&'a str> {
    let at = block.find(&format!("const {name}:"))?;
    let value = &block[at..at + block[at..].find(';')?];
    let value = &value[value.find('=')?..];
    let start = value.find('"')? + 1;
    Some(&value[start..start + value[start..].find('"')?])
}

/// The body of `impl {trait_name} for {ty} {`, up to the next `impl `.
fn impl_block<'a>(source: &'a str, trait_name: &str, ty: &str) -> &'a str {
    let head = format!("impl {trait_name} for {ty} {{");
    let at = source
        .find(&head)
        .unwrap_or_else(|| panic!("{head} not found beside its routes"));
    let rest = &source[at + head.len()..];
    &rest[..rest.find("\nimpl ").unwrap_or(rest.len())]
}

/// The routes the generic editing pages (`web::admin::pipeline`) mount for a record type
/// `X`: `pipeline::routes::<X>()` serves `UPDATE` (POST), its `/edit` form and the
/// `LIST` page of `impl EditPage for X`; `create_routes` serves `CREATE` (POST) and its
/// `/new` form of `impl CreatePage for X`; `archive_routes` adds `/archive` and
/// `/restore` below `UPDATE`.
fn pipeline_routes(source: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut route = |method: &str, path: String| found.push((method.to_string(), normalize(&path)));
    for kind in ["routes", "create_routes", "archive_routes"] {
        let call = format!("pipeline::{kind}::<");
        for (at, _) in source.match_indices(&call) {
            let rest = &source[at + call.len()..];
            let ty = &rest[..rest.find('>').expect("the record type")];
            let edit = impl_block(source, "EditPage", ty);
            let update = const_literal(edit, "UPDATE").expect("EditPage::UPDATE is a literal");
            match kind {
                "routes" => {
                    route("POST", update.to_string());
                    route("GET", format!("{update}/edit"));
                    if let Some(list) = const_literal(edit, "LIST") {
                        route("GET", list.to_string());
                    }
                }
                "create_routes" => {
                    let create = const_literal(impl_block(source, "CreatePage", ty), "CREATE")
                        .expect("CreatePage::CREATE is a literal");
                    route("POST", create.to_string());
                    route("GET", format!("{create}/new"));
                }
                _ => {
                    route("POST", format!("{update}/archive"));
                    route("POST", format!("{update}/restore"));
                }
            }
        }
    }
    found
}

#[test]
fn the_pipeline_scanner_reads_record_declarations() {
    let source = r#"
        pub fn routes() -> Router<AppState> {
            pipeline::routes::<Things>()
                .merge(pipeline::create_routes::<Things>())
                .merge(pipeline::archive_routes::<Things>())
                .merge(pipeline::routes::<Labels>())
        }
        impl EditPage for Things {
            const LIST: Option<&'static str> = Some("/admin/things");
            const UPDATE: &'static str = "/admin/things/{id}";
        }
        impl CreatePage for Things {
            const CREATE: &'static str = "/admin/things";
        }
        impl EditPage for Labels {
            const LIST: Option<&'static str> = None;
            const UPDATE: &'static str = "/admin/labels/{code}";
        }
    "#;
    let routes: BTreeSet<_> = pipeline_routes(source).into_iter().collect();
    let expected: BTreeSet<(String, String)> = [
        ("GET", "/admin/things"),
        ("POST", "/admin/things"),
        ("GET", "/admin/things/new"),
        ("GET", "/admin/things/{}/edit"),
        ("POST", "/admin/things/{}"),
        ("POST", "/admin/things/{}/archive"),
        ("POST", "/admin/things/{}/restore"),
        ("GET", "/admin/labels/{}/edit"),
        ("POST", "/admin/labels/{}"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(routes, expected);
}

#[test]
fn the_route_scanner_reads_rustfmt_output() {
    let source = r#"
        Router::new()
            .route("/a/{id}", get(show).post(update))
            .route(
                "/b/{slug}/history",
                get(pages::item::history),
            )
            .route_layer(from_fn(check))
            // .route("/commented", get(nothing))
            .route("/c", axum::routing::delete(remove).put(replace)) // trailing
    "#;
    let routes: BTreeSet<_> = declared_routes(&without_comments(source))
        .into_iter()
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("GET", "/a/{}"),
        ("POST", "/a/{}"),
        ("GET", "/b/{}/history"),
        ("DELETE", "/c"),
        ("PUT", "/c"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(routes, expected);
}

/// Every (METHOD, normalized pattern) the sources under `src/web` declare.
pub(crate) fn declared_in_src_web() -> BTreeSet<(String, String)> {
    let web = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join("web");
    let mut files = Vec::new();
    rust_files(&web, &mut files);
    let mut declared = BTreeSet::new();
    for file in &files {
        if file.ends_with("admin/pipeline.rs") {
            // The generic editing pages, mounted per record type: `pipeline_routes` reads
            // each record's own declarations where it is mounted.
            continue;
        }
        let source = without_comments(&std::fs::read_to_string(file).expect("read a source"));
        for construct in [".nest(", ".nest_service(", ".route_service("] {
            assert!(
                !source.contains(construct),
                "{}: {construct} is not understood by this scanner; teach it, or use .route/.merge",
                file.display()
            );
        }
        declared.extend(declared_routes(&source));
        declared.extend(pipeline_routes(&source));
    }
    declared
}

/// A route pattern with its parameters' names dropped (`/a/{id}` → `/a/{}`).
pub(crate) fn normalized(pattern: &str) -> String {
    normalize(pattern)
}

#[test]
fn the_matrix_covers_every_route_declared_in_src_web() {
    let declared = declared_in_src_web();
    assert!(
        declared.len() > 20,
        "the scanner found the routes: {declared:?}"
    );
    let covered: BTreeSet<(String, String)> = ROWS
        .iter()
        .map(|(method, path, _, _)| (method.to_string(), normalize(path)))
        .collect();
    let missing: Vec<_> = declared.difference(&covered).collect();
    let stale: Vec<_> = covered.difference(&declared).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "routes without a row in tests/it/matrix.rs: {missing:?}\nrows for routes that do not exist: {stale:?}"
    );
}
