//! The documented API: a token-authenticated script reads and writes a contribution
//! through the admin form's rules and the save pipeline (audit row under the person,
//! 409 on a stale version, 422 with the field), role rules as on the pages, the error
//! body, and the OpenAPI document listing exactly the routes the router declares.

use crate::api_tokens::{get_with, token_for};
use crate::harness::TestApp;
use portfolio_tracker::domain::auth::Role;
use serde_json::{Value, json};
use std::collections::BTreeSet;

async fn send_with(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    let response = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn org_id(app: &TestApp, slug: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM organisations WHERE slug = $1")
        .bind(slug)
        .fetch_one(&app.db.pool)
        .await
        .expect("the organisation is seeded")
}

fn pledge(org: i64, amount: &str) -> Value {
    json!({
        "organisation_id": org, "amount": amount, "currency": "USD",
        "status": "pledged", "as_of": "2008-03-01", "note": "via the API"
    })
}

/// An admin with a read-write token: (email, token id, token).
async fn writer(app: &TestApp) -> (String, i64, String) {
    let email = "writer@example.org".to_string();
    app.create_user(&email, Role::Admin).await;
    let (id, token) = token_for(app, &email, Role::Admin, true).await;
    (email, id, token)
}

#[tokio::test]
async fn a_token_writes_a_contribution_audited_under_its_person() {
    let app = TestApp::spawn().await;
    let (email, token_id, token) = writer(&app).await;
    let canada = org_id(&app, "government-of-canada").await;
    let (status, created) = send_with(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/items/guinea-bissau/contributions",
        &pledge(canada, "1,250,000.50"),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["amount"], "1250000.5");
    assert_eq!(created["currency"], "USD");
    assert_eq!(created["amount_usd"], "1250000.50");
    assert_eq!(created["item"], "guinea-bissau");
    assert_eq!(created["version"], 1);
    let id = created["id"].as_i64().expect("an id");

    let (actor, token_used): (Option<String>, Option<i64>) = sqlx::query_as(
        "SELECT actor_email, api_token_id FROM audit_log
          WHERE entity = 'contribution' AND entity_id = $1 AND action = 'create'",
    )
    .bind(id)
    .fetch_one(&app.db.pool)
    .await
    .expect("an audit row");
    assert_eq!(actor.as_deref(), Some(email.as_str()));
    assert_eq!(token_used, Some(token_id));

    let (status, read) = get_with(&app, &token, &format!("/api/v1/contributions/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(read["note"], "via the API");
    let (_, item) = get_with(&app, &token, "/api/v1/items/guinea-bissau").await;
    assert_eq!(
        item["pledged_usd"], "8250000.50",
        "the dashboards follow at once"
    );

    let mut changed = pledge(canada, "2000000");
    changed["version"] = read["version"].clone();
    let path = format!("/api/v1/contributions/{id}");
    let (status, saved) = send_with(&app, &token, reqwest::Method::PUT, &path, &changed).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["amount"], "2000000");
    assert_eq!(saved["version"], 2);
}

#[tokio::test]
async fn a_stale_version_is_409_with_the_record_as_saved_now() {
    let app = TestApp::spawn().await;
    let (_, _, token) = writer(&app).await;
    let canada = org_id(&app, "government-of-canada").await;
    let (_, created) = send_with(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/items/guinea-bissau/contributions",
        &pledge(canada, "1000"),
    )
    .await;
    let path = format!("/api/v1/contributions/{}", created["id"]);
    let mut first = pledge(canada, "2000");
    first["version"] = json!(1);
    assert_eq!(
        send_with(&app, &token, reqwest::Method::PUT, &path, &first)
            .await
            .0,
        200
    );
    let mut stale = pledge(canada, "3000");
    stale["version"] = json!(1);
    let (status, body) = send_with(&app, &token, reqwest::Method::PUT, &path, &stale).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "version_conflict");
    assert_eq!(body["error"]["current"]["amount"], "2000");
    assert_eq!(body["error"]["current"]["version"], 2);
    let (_, now) = get_with(&app, &token, &path).await;
    assert_eq!(now["amount"], "2000", "nothing was saved");
}

#[tokio::test]
async fn a_token_changes_an_item_through_the_item_form_rules() {
    let app = TestApp::spawn().await;
    let (_, _, token) = writer(&app).await;
    let (_, read) = get_with(&app, &token, "/api/v1/items/guinea-bissau").await;
    let version = read["version"].as_i64().expect("a version");
    let body = |title: &str, version: i64| {
        json!({
            "title": title, "slug": "guinea-bissau", "kind": "programme",
            "status": read["status"], "summary": read["summary"],
            "places": ["Guinea-Bissau"], "published": true, "version": version
        })
    };
    let path = "/api/v1/items/guinea-bissau";
    let (status, saved) = send_with(
        &app,
        &token,
        reqwest::Method::PUT,
        path,
        &body("Guinea-Bissau renamed", version),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["title"], "Guinea-Bissau renamed");
    assert_eq!(saved["version"], version + 1);
    let (status, stale) = send_with(
        &app,
        &token,
        reqwest::Method::PUT,
        path,
        &body("Lost update", version),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(stale["error"]["current"]["title"], "Guinea-Bissau renamed");
    let (status, refused) = send_with(
        &app,
        &token,
        reqwest::Method::PUT,
        path,
        &body(" ", version + 1),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(refused["error"]["field"], "title");
}

#[tokio::test]
async fn a_refused_field_is_422_naming_it() {
    let app = TestApp::spawn().await;
    let (_, _, token) = writer(&app).await;
    let canada = org_id(&app, "government-of-canada").await;
    let (status, body) = send_with(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/items/guinea-bissau/contributions",
        &pledge(canada, "a lot"),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "invalid");
    assert_eq!(body["error"]["field"], "amount");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("amount: ")
    );
    let (status, body) = send_with(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/items/guinea-bissau/contributions",
        &json!({"amount": 5}),
    )
    .await;
    assert_eq!(status, 400, "a body of the wrong shape");
    assert_eq!(body["error"]["code"], "bad_request");
}

#[tokio::test]
async fn a_read_only_token_cannot_write() {
    let app = TestApp::spawn().await;
    let email = "reader-admin@example.org";
    app.create_user(email, Role::Admin).await;
    let (_, token) = token_for(&app, email, Role::Admin, false).await;
    let canada = org_id(&app, "government-of-canada").await;
    let (status, body) = send_with(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/items/guinea-bissau/contributions",
        &pledge(canada, "1000"),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "read_only_token");
}

#[tokio::test]
async fn a_browser_session_writes_only_with_its_csrf_header() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let canada = org_id(&app, "government-of-canada").await;
    let post = |csrf: Option<String>| {
        let mut request = admin
            .client
            .post(app.url("/api/v1/items/guinea-bissau/contributions"))
            .header("cookie", &admin.cookie)
            .json(&pledge(canada, "1000"));
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.send()
    };
    let refused = post(None).await.expect("request");
    assert_eq!(refused.status().as_u16(), 403);
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "csrf_rejected");
    let accepted = post(Some(admin.csrf.clone())).await.expect("request");
    assert_eq!(accepted.status().as_u16(), 201);
}

#[tokio::test]
async fn a_viewer_gets_404_for_a_draft_and_never_internal_notes() {
    let app = TestApp::spawn().await;
    sqlx::query(
        "UPDATE items SET published = false, internal_notes = 'SECRET-NOTE' WHERE slug = 'smart';",
    )
    .execute(&app.db.pool)
    .await
    .expect("make a draft");
    sqlx::query("UPDATE items SET internal_notes = 'OTHER-SECRET' WHERE slug = 'guinea-bissau'")
        .execute(&app.db.pool)
        .await
        .expect("notes");
    app.dashboards_rebuilt().await;
    for (role, email) in [
        (Role::Viewer, "v@example.org"),
        (Role::Staff, "s@example.org"),
    ] {
        app.create_user(email, role).await;
        let (_, token) = token_for(&app, email, role, false).await;
        let (status, draft) = get_with(&app, &token, "/api/v1/items/smart").await;
        let (_, gb) = get_with(&app, &token, "/api/v1/items/guinea-bissau").await;
        let (_, list) = get_with(&app, &token, "/api/v1/items?per_page=500").await;
        let listed = list.to_string().contains("\"slug\":\"smart\"");
        if role == Role::Viewer {
            assert_eq!(status, 404);
            assert_eq!(draft["error"]["code"], "not_found");
            assert!(gb.get("internal_notes").is_none());
            assert!(!listed, "no draft in the list");
        } else {
            assert_eq!(status, 200);
            assert_eq!(draft["internal_notes"], "SECRET-NOTE");
            assert_eq!(gb["internal_notes"], "OTHER-SECRET");
            assert!(listed);
        }
    }
}

#[tokio::test]
async fn errors_are_json_with_a_stable_body() {
    let app = TestApp::spawn().await;
    let (status, body) = get_with(&app, "", "/api/v1/items").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    let email = "json@example.org";
    app.create_user(email, Role::Viewer).await;
    let (_, token) = token_for(&app, email, Role::Viewer, false).await;
    let (status, body) = get_with(&app, &token, "/api/v1/no-such-thing").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, body) = get_with(&app, &token, "/api/v1/items?sort=nonsense").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    let (status, body) = get_with(&app, &token, "/api/v1/contributions/abc").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let canada = org_id(&app, "government-of-canada").await;
    let (status, body) = send_with(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/items/guinea-bissau/contributions",
        &pledge(canada, "1"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
}

#[tokio::test]
async fn the_openapi_document_lists_every_api_route_of_the_router() {
    let app = TestApp::spawn().await;
    let doc = app.get_json("/api/v1/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap_or("").starts_with("3.1"));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("operations").keys() {
            documented.insert((method.to_uppercase(), crate::matrix::normalized(path)));
        }
    }
    let served: BTreeSet<(String, String)> = crate::matrix::declared_in_src_web()
        .into_iter()
        .filter(|(_, path)| path.starts_with("/api/v1/"))
        .filter(|(_, path)| path != "/api/v1/openapi.json")
        .collect();
    assert_eq!(documented, served);
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let (status, page) = app.get("/api/v1").await;
    assert_eq!(status, 200);
    for (method, path) in &served {
        let shown = format!("{method} {path}").replace("{}", "{");
        assert!(
            page.contains(&shown[..shown.find('{').unwrap_or(shown.len())]),
            "the docs page lists {method} {path}"
        );
    }
}

#[tokio::test]
async fn the_funding_summaries_are_the_pages_tables() {
    let app = TestApp::spawn_public().await;
    let areas = app.get_json("/api/v1/funding/result-areas").await;
    assert_eq!(areas["table"], "result-areas");
    let rows = areas["rows"].as_array().expect("rows");
    let area = rows
        .iter()
        .find(|r| r["label"].as_str().is_some_and(|l| l.starts_with("3.6 ")))
        .expect("result area 3.6 has items");
    assert!(area["items"].as_u64().unwrap_or(0) >= 1);
    assert_eq!(area["url"], "/result-areas/3.6");

    let donors = app
        .get_json("/api/v1/funding/donors?place=Guinea-Bissau")
        .await;
    let donors = donors.as_array().expect("donors");
    let total: rust_decimal::Decimal = donors
        .iter()
        .filter_map(|d| {
            d["pledged_usd"]
                .as_str()?
                .parse::<rust_decimal::Decimal>()
                .ok()
        })
        .sum();
    assert_eq!(
        total,
        rust_decimal::Decimal::from(7_000_000),
        "Guinea-Bissau's pledges"
    );
    assert_eq!(app.get("/api/v1/funding/nothing").await.0, 404);
    assert_eq!(app.get("/api/v1/funding/themes?theme=99").await.0, 400);
}

#[tokio::test]
async fn a_token_records_a_payment_and_the_contribution_follows_its_events() {
    let app = TestApp::spawn_with(portfolio_tracker::config::WebSettings {
        today: chrono::NaiveDate::from_ymd_opt(2008, 10, 15),
        ..portfolio_tracker::config::WebSettings::default()
    })
    .await;
    let (_, _, token) = writer(&app).await;
    let id: i64 = sqlx::query_scalar(
        "SELECT c.id FROM contributions c JOIN items i ON i.id = c.item_id
          WHERE i.slug = 'guinea-bissau'",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("the seeded pledge");
    let path = format!("/api/v1/contributions/{id}/events");
    let payment =
        json!({"kind": "paid", "amount": "7000000", "on": "2008-Q2", "source": "receipt"});
    let (status, body) = send_with(&app, &token, reqwest::Method::POST, &path, &payment).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["kind"], "paid");
    assert_eq!(body["on"]["code"], "2008-Q2");
    assert_eq!(body["on"]["last_day"], "2008-06-30");
    let (status, events) = send_with(&app, &token, reqwest::Method::GET, &path, &json!({})).await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = events
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["pledged", "paid"]);
    let (_, now) = send_with(
        &app,
        &token,
        reqwest::Method::GET,
        &format!("/api/v1/contributions/{id}"),
        &json!({}),
    )
    .await;
    assert_eq!(now["status"], "paid", "{now}");
    // a second cancellation of what is all paid is refused, naming the field
    let cancel = json!({"kind": "cancelled", "on": "2008-09"});
    let (status, body) = send_with(&app, &token, reqwest::Method::POST, &path, &cancel).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "kind", "{body}");
}
