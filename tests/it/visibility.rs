//! Drafts and internal notes: viewers (and anonymous public readers) never receive them;
//! staff and admins do.

use crate::harness::{Page, Session, TestApp};
use portfolio_tracker::domain::auth::Role;

const SMART_TITLE: &str = "Global Synthetics Monitoring";

async fn execute(app: &TestApp, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&app.db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// SMART becomes a draft with internal notes; Guinea-Bissau stays published but gets a
/// note of its own.
async fn app_with_a_draft() -> TestApp {
    let app = TestApp::spawn().await;
    execute(
        &app,
        "UPDATE items SET published = false, internal_notes = 'SECRET-NOTE' WHERE slug = 'smart'",
    )
    .await;
    execute(
        &app,
        "UPDATE items SET internal_notes = 'OTHER-SECRET' WHERE slug = 'guinea-bissau'",
    )
    .await;
    app
}

fn assert_no_secrets(body: &str, what: &str) {
    for secret in ["SECRET-NOTE", "OTHER-SECRET"] {
        assert!(!body.contains(secret), "{what} leaks {secret}");
    }
}

/// What a viewer must never receive, checked on every page a viewer can open.
async fn assert_viewer_sees_no_draft(get: impl AsyncFn(&str) -> (u16, String)) {
    for path in ["/", "/?sort=gap", "/result-areas"] {
        let (status, body) = get(path).await;
        assert_eq!(status, 200, "{path}");
        assert_no_secrets(&body, path);
        assert!(!body.contains(SMART_TITLE), "{path} lists the draft");
        assert!(
            !body.contains("/programmes/smart\""),
            "{path} links to the draft"
        );
    }
    let (status, body) = get("/programmes/smart").await;
    assert_eq!(status, 404, "the draft does not exist for a viewer");
    assert_no_secrets(&body, "/programmes/smart");
    assert!(!body.contains(SMART_TITLE));

    let (status, body) = get("/programmes/guinea-bissau").await;
    assert_eq!(status, 200);
    assert_no_secrets(&body, "/programmes/guinea-bissau");
    assert!(!body.contains("Internal notes"));

    let (status, body) = get("/api/v1/programmes").await;
    assert_eq!(status, 200);
    assert_no_secrets(&body, "the API");
    assert!(!body.contains(SMART_TITLE));
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let slugs: Vec<&str> = json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["slug"].as_str())
        .collect();
    assert!(slugs.contains(&"guinea-bissau"));
    assert!(!slugs.contains(&"smart"), "the API lists the draft");
}

#[tokio::test]
async fn a_viewer_never_receives_drafts_or_internal_notes() {
    let app = app_with_a_draft().await;
    let viewer = app.signed_in(Role::Viewer).await;
    assert_viewer_sees_no_draft(async |path: &str| viewer.get(path).await).await;
    for path in [
        "/programmes/guinea-bissau/history",
        "/programmes/smart/history",
    ] {
        let (status, body) = viewer.get(path).await;
        assert_eq!(status, 403, "{path}");
        assert_no_secrets(&body, path);
    }
}

#[tokio::test]
async fn anonymous_public_readers_see_what_a_viewer_sees() {
    let app = TestApp::spawn_public().await;
    execute(
        &app,
        "UPDATE items SET published = false, internal_notes = 'SECRET-NOTE' WHERE slug = 'smart'",
    )
    .await;
    execute(
        &app,
        "UPDATE items SET internal_notes = 'OTHER-SECRET' WHERE slug = 'guinea-bissau'",
    )
    .await;
    assert_viewer_sees_no_draft(async |path: &str| app.get(path).await).await;
}

/// The internal notes an item page shows (staff and admins only).
const NOTES: &str = "main section.internal[aria-labelledby=\"notes-heading\"]";

async fn assert_sees_draft_and_notes(session: &Session, role: &str) {
    let (status, page) = session.page("/programmes/smart").await;
    assert_eq!(status, 200, "{role}: the draft");
    assert!(
        page.text_of("main h1").starts_with(SMART_TITLE),
        "{role}: {}",
        page.text_of("main h1")
    );
    assert_eq!(
        page.text_of("main p.meta .tag.draft"),
        "Draft: not published",
        "{role}: marked as a draft"
    );
    assert_eq!(page.text_of(&format!("{NOTES} h2")), "Internal notes");
    assert_eq!(
        page.texts(&format!("{NOTES} p:not(.sub)")),
        ["SECRET-NOTE"],
        "{role}: its internal notes"
    );
    let (status, page) = session.page("/programmes/guinea-bissau").await;
    assert_eq!(status, 200);
    assert_eq!(
        page.texts(&format!("{NOTES} p:not(.sub)")),
        ["OTHER-SECRET"],
        "{role}: notes of a published item"
    );
    assert!(!page.has(".tag.draft"), "{role}: published");
    assert!(
        !page.body.contains("Draft: not published"),
        "{role}: published"
    );
    let (_, overview) = session.page("/").await;
    assert!(
        overview
            .texts("table.portfolio tbody > tr > th[scope=\"row\"] > a")
            .iter()
            .any(|t| t.starts_with(SMART_TITLE)),
        "{role}: the draft is listed"
    );
    let (_, areas) = session.page("/result-areas").await;
    assert!(
        areas.has("table.areas a[href=\"/programmes/smart\"]"),
        "{role}: the draft serves its result areas"
    );
    let (_, api) = session.get("/api/v1/programmes").await;
    let api: serde_json::Value = serde_json::from_str(&api).expect("JSON");
    assert!(
        api["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|i| i["slug"] == "smart"),
        "{role}: the draft in the API"
    );
    let (status, _) = session.get("/programmes/smart/history").await;
    assert_eq!(status, 200, "{role}: the draft's history");
}

#[tokio::test]
async fn staff_and_admins_see_drafts_and_internal_notes() {
    let app = app_with_a_draft().await;
    let staff = app.signed_in(Role::Staff).await;
    assert_sees_draft_and_notes(&staff, "staff").await;
    let admin = app.signed_in(Role::Admin).await;
    assert_sees_draft_and_notes(&admin, "admin").await;
}

/// The number in the budget figure of the overview's headline.
fn headline_budget(overview: &str) -> u64 {
    let text = Page::parse(overview).figure("main dl.headline", "Budget");
    let digits: String = text
        .split('.')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("a number in {text:?}"))
}

#[tokio::test]
async fn a_draft_parent_hides_its_components_from_viewers() {
    let app = TestApp::spawn().await;
    let viewer = app.signed_in(Role::Viewer).await;
    let staff = app.signed_in(Role::Staff).await;
    let before = headline_budget(&viewer.get("/").await.1);
    assert_eq!(viewer.get("/programmes/rainbow-green-paper").await.0, 200);

    execute(
        &app,
        "UPDATE items SET published = false WHERE slug = 'rainbow-strategy'",
    )
    .await;
    app.dashboards_rebuilt().await;

    for path in [
        "/programmes/rainbow-strategy",
        "/programmes/rainbow-green-paper",
        "/programmes/rainbow-turkmen-border-initiative",
    ] {
        assert_eq!(viewer.get(path).await.0, 404, "viewer: {path}");
        assert_eq!(staff.get(path).await.0, 200, "staff: {path}");
    }
    let (_, overview) = viewer.get("/").await;
    assert!(!overview.contains("The Rainbow Strategy"));
    let after = headline_budget(&overview);
    assert!(
        after < before,
        "the viewer's totals drop without the draft: {before} -> {after}"
    );
    let staff_total = headline_budget(&staff.get("/").await.1);
    assert_eq!(staff_total, before, "staff totals still include it");

    let (_, api) = viewer.get("/api/v1/programmes").await;
    assert!(
        !api.contains("rainbow-"),
        "no component of the draft in the API"
    );
    let (_, areas) = viewer.get("/result-areas").await;
    assert!(
        !areas.contains("/programmes/rainbow-"),
        "nor on the result areas"
    );
}

#[tokio::test]
async fn staff_see_drafts_marked_and_can_read_the_delegates_view() {
    let app = app_with_a_draft().await;
    let staff = app.signed_in(Role::Staff).await;
    let smart_row = "main table tr:has(a[href=\"/programmes/smart\"])";

    let (status, page) = staff.page("/").await;
    assert_eq!(status, 200);
    assert_eq!(
        page.text_of(&format!("{smart_row} .tag.draft")),
        "Draft",
        "the draft's row is marked"
    );
    assert!(
        !page.has("main table tr:has(a[href=\"/programmes/guinea-bissau\"]) .tag.draft"),
        "a published row is not"
    );
    let note = page.text_of("main p.drafts-note");
    assert!(
        note.starts_with("Includes 1 draft") && note.contains("Delegates see a budget of"),
        "{note}"
    );
    let (_, funding) = staff.page("/funding").await;
    assert!(
        funding
            .text_of("main p.drafts-note")
            .starts_with("Includes 1 draft")
    );
    // A result area's and a place's totals say the same, only where a draft counts.
    let (_, area) = staff.page("/result-areas/2.1").await;
    assert!(
        area.text_of("main p.drafts-note")
            .starts_with("Includes 1 draft"),
        "SMART serves 2.1"
    );
    let (_, place) = staff.page("/places/Guinea-Bissau").await;
    assert!(
        !place.has("main p.drafts-note"),
        "no draft in Guinea-Bissau"
    );
    let (_, search) = staff.page("/search?q=synthetics").await;
    let hits = search.texts("main section[aria-labelledby=\"items-heading\"] li");
    assert!(
        hits.iter()
            .any(|h| h.starts_with(SMART_TITLE) && h.ends_with("· Draft")),
        "search marks it too: {hits:?}"
    );

    // The switch: the same pages as delegates read them, kept across links by a cookie.
    let switch = page
        .attr("header a.view-switch", "href")
        .expect("a switch for staff");
    assert_eq!(switch, "/?view=delegates");
    let response = staff
        .client
        .get(app.url(&switch))
        .header("cookie", &staff.cookie)
        .send()
        .await
        .expect("request");
    let set_cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("pt_view="))
        .expect("the choice is remembered")
        .to_string();
    assert!(set_cookie.starts_with("pt_view=delegates"), "{set_cookie}");
    let page = Page::parse(&response.text().await.expect("body"));
    assert!(page.has("main p.view-banner"));
    assert!(!page.has(smart_row), "no draft in the delegates' view");
    assert!(!page.has("main p.drafts-note"));

    let as_delegates = Session {
        cookie: format!("{}; pt_view=delegates", staff.cookie),
        ..staff.clone()
    };
    let (status, body) = as_delegates.get("/programmes/guinea-bissau").await;
    assert_eq!(status, 200);
    assert_no_secrets(&body, "the delegates' view of an item");
    assert_eq!(as_delegates.get("/programmes/smart").await.0, 404);
    let (_, page) = as_delegates.page("/funding").await;
    assert_eq!(
        page.attr("header a.view-switch", "href").as_deref(),
        Some("/funding?view=staff")
    );
    // back: the query wins over the cookie
    let (_, page) = as_delegates.page("/?view=staff").await;
    assert!(page.has(smart_row));

    // a viewer cannot switch to the staff view
    let viewer = app.signed_in(Role::Viewer).await;
    let (_, body) = viewer.get("/?view=staff").await;
    assert!(!body.contains(SMART_TITLE));
    assert!(!Page::parse(&body).has("header a.view-switch"));
}

#[tokio::test]
async fn staff_csv_and_api_say_which_items_are_drafts() {
    let app = app_with_a_draft().await;
    let staff = app.signed_in(Role::Staff).await;
    let (status, csv) = staff.get("/funding.csv?table=items").await;
    assert_eq!(status, 200);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().expect("a header").clone();
    let published = header
        .iter()
        .position(|h| h == "Published")
        .expect("a Published column");
    let title = header.iter().position(|h| h == "Title").expect("Title");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a row")).collect();
    let smart = rows
        .iter()
        .find(|r| r[title].starts_with(SMART_TITLE))
        .expect("the draft is in the staff CSV");
    assert_eq!(&smart[published], "no");
    assert!(
        rows.iter()
            .filter(|r| !r[title].starts_with(SMART_TITLE))
            .all(|r| &r[published] == "yes")
    );

    let (_, body) = staff.get("/api/v1/programmes?per_page=500").await;
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    let items = json["items"].as_array().expect("items");
    let smart = items
        .iter()
        .find(|i| i["slug"] == "smart")
        .expect("the draft is in the staff API");
    assert_eq!(smart["published"], false);
}

#[tokio::test]
async fn a_places_totals_say_what_they_owe_to_a_draft() {
    let app = TestApp::spawn().await;
    execute(
        &app,
        "UPDATE items SET published = false WHERE slug = 'guinea-bissau'",
    )
    .await;
    app.dashboards_rebuilt().await;
    let staff = app.signed_in(Role::Staff).await;
    let (status, page) = staff.page("/places/Guinea-Bissau").await;
    assert_eq!(status, 200);
    let note = page.text_of("main p.drafts-note");
    assert!(
        note.starts_with("Includes 1 draft") && note.contains("Delegates see a budget of"),
        "{note}"
    );
    let viewer = app.signed_in(Role::Viewer).await;
    let (_, page) = viewer.page("/places/Guinea-Bissau").await;
    assert!(
        !page.has("main p.drafts-note"),
        "delegates get no such note"
    );
}
