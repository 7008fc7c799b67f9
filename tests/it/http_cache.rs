//! HTTP caching and paging of the per-revision dashboards: validators, 304s, compression,
//! what browsers may store, and the paged API.

use crate::harness::TestApp;
use portfolio_tracker::domain::auth::Role;

#[tokio::test]
async fn a_repeat_request_with_the_etag_is_answered_304_until_the_data_changes() {
    let app = TestApp::spawn_public().await;
    let first = app.client.get(app.url("/funding")).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(first.headers()["cache-control"], "no-cache");
    let again = app
        .client
        .get(app.url("/funding"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.text().await.unwrap().is_empty(), "no body on a 304");

    let other = app
        .client
        .get(app.url("/funding?sort=title"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200, "another query is another validator");

    sqlx::query("UPDATE items SET title = 'Guinea-Bissau, renamed' WHERE slug = 'guinea-bissau'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    app.dashboards_rebuilt().await;
    let changed = app
        .client
        .get(app.url("/funding"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200, "a new revision is a new validator");
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
}

#[tokio::test]
async fn signed_in_pages_are_never_stored_and_data_is_private() {
    let app = TestApp::spawn().await;
    let staff = app.signed_in(Role::Staff).await;
    let page = staff.get_response("/").await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let csv = staff.get_response("/funding.csv?table=items").await;
    assert_eq!(csv.headers()["cache-control"], "private, no-cache");
    assert!(csv.headers().contains_key("etag"));
}

/// No browser or proxy keeps a page that carries a CSRF token, internal notes or what
/// someone typed: every page a signed-in person gets, whatever its status, and the
/// sign-in page and error pages for anyone. Only the anonymous dashboards may be kept.
#[tokio::test]
async fn pages_with_a_token_notes_or_typed_input_are_never_stored() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let staff = app.signed_in(Role::Staff).await;
    let viewer = app.signed_in(Role::Viewer).await;
    let never_stored = |what: &str, response: &reqwest::Response| {
        let headers = response.headers();
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("text/html; charset=utf-8"),
            "{what}: a page"
        );
        assert_eq!(
            headers.get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{what}"
        );
        assert!(
            !headers.contains_key("etag"),
            "{what}: nothing to revalidate"
        );
    };
    for (who, role, path, status) in [
        (&admin, "admin", "/admin/organisations/new", 200),
        (&admin, "admin", "/admin/items", 200),
        (&admin, "admin", "/admin/audit", 200),
        (&admin, "admin", "/admin/organisations/999999/edit", 404),
        (&staff, "staff", "/programmes/guinea-bissau", 200),
        (&staff, "staff", "/programmes/guinea-bissau/history", 200),
        (&staff, "staff", "/activity", 200),
        (&staff, "staff", "/programmes/no-such-item", 404),
        (&staff, "staff", "/funding?sort=nonsense", 400),
        (&staff, "staff", "/no/such/page", 404),
        (&staff, "staff", "/account/password", 200),
        (&staff, "staff", "/login", 200),
        (&viewer, "viewer", "/", 200),
        (&viewer, "viewer", "/admin", 403),
    ] {
        let response = who.get_response(path).await;
        assert_eq!(response.status().as_u16(), status, "{role} GET {path}");
        never_stored(&format!("{role} GET {path}"), &response);
    }

    // A form sent back with its messages and what was typed (422).
    let csrf = admin.csrf.clone();
    let refused = admin
        .post_raw(
            "/admin/organisations",
            &[
                ("_csrf", csrf.as_str()),
                ("slug", "Not A Slug!"),
                ("name", ""),
            ],
            &[],
        )
        .await;
    assert_eq!(refused.status().as_u16(), 422);
    never_stored("a refused admin form", &refused);

    // Anyone: the sign-in page, the sign-in form sent back with the typed address, and
    // error pages.
    let login = app.client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(login.status().as_u16(), 200);
    never_stored("the sign-in page", &login);
    let wrong = app
        .post_login(
            &[
                ("email", "someone@example.org"),
                ("password", "not the password"),
            ],
            None,
            &[],
        )
        .await;
    assert_eq!(wrong.status().as_u16(), 422);
    never_stored("a refused sign-in", &wrong);
    let missing = app
        .client
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    never_stored("an error page", &missing);

    // What may be kept still is: a public site's dashboards, revalidated.
    let public = TestApp::spawn_public().await;
    let overview = public.client.get(public.url("/")).send().await.unwrap();
    assert_eq!(overview.headers()["cache-control"], "no-cache");
    assert!(overview.headers().contains_key("etag"));
}

#[tokio::test]
async fn pages_are_compressed_for_clients_that_accept_it() {
    let app = TestApp::spawn_public().await;
    for encoding in ["gzip", "br"] {
        let r = app
            .client
            .get(app.url("/"))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-encoding"], encoding);
    }
}

/// A CSV download is a stream; compressed, it used to be polled past its end and the
/// server dropped the connection with no answer (found by scripts/sqlmap, which asks
/// for gzip).
#[tokio::test]
async fn csv_downloads_are_compressed_whole() {
    let app = TestApp::spawn_public().await;
    for table in ["programmes", "items", "contributions", "donors", "places"] {
        let path = format!("/funding.csv?table={table}");
        let plain = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(plain.status(), 200);
        let plain = plain.bytes().await.expect("the whole CSV");
        for encoding in ["gzip", "br"] {
            let r = app
                .client
                .get(app.url(&path))
                .header("accept-encoding", encoding)
                .header("connection", "close")
                .send()
                .await
                .unwrap_or_else(|e| panic!("{path} with {encoding}: {e}"));
            assert_eq!(r.status(), 200, "{path} with {encoding}");
            let body = r
                .bytes()
                .await
                .unwrap_or_else(|e| panic!("{path} with {encoding}: the body: {e}"));
            assert!(
                !body.is_empty() && body.len() < plain.len(),
                "{path} with {encoding}: {} compressed bytes of {}",
                body.len(),
                plain.len()
            );
        }
    }
}

#[tokio::test]
async fn the_api_is_paged_with_links() {
    let app = TestApp::spawn_public().await;
    let r = app
        .client
        .get(app.url("/api/v1/programmes?per_page=10&page=2&sort=gap"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let link = r.headers()["link"].to_str().unwrap().to_string();
    assert!(
        link.contains("rel=\"next\"") && link.contains("rel=\"prev\""),
        "{link}"
    );
    assert!(link.contains("page=3"), "{link}");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 10);
    assert_eq!(body["page"], 2);
    let total = body["total"].as_u64().unwrap();
    assert!(total > 40, "every item of the seed: {total}");
    assert!(body["next"].as_str().unwrap().contains("page=3"));

    // Every page together lists every item once.
    let mut seen = std::collections::HashSet::new();
    let mut next = Some("/api/v1/programmes?per_page=7".to_string());
    while let Some(path) = next {
        let body = app.get_json(&path).await;
        for item in body["items"].as_array().unwrap() {
            assert!(seen.insert(item["slug"].as_str().unwrap().to_string()));
        }
        next = body["next"].as_str().map(str::to_string);
    }
    assert_eq!(seen.len() as u64, total);

    for bad in [
        "per_page=0",
        "per_page=501",
        "per_page=x",
        "page=0",
        "sort=nope",
    ] {
        let (status, _) = app.get(&format!("/api/v1/programmes?{bad}")).await;
        assert_eq!(status, 400, "{bad}");
    }
    let (status, _) = app.get("/api/v1/programmes?page=99").await;
    assert_eq!(status, 404, "past the last page");
    let filtered = app
        .get_json("/api/v1/programmes?result_area=1.2&per_page=500")
        .await;
    for item in filtered["items"].as_array().unwrap() {
        assert!(
            item["result_areas"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "1.2")
        );
    }
}

#[tokio::test]
async fn csv_cells_that_a_spreadsheet_would_run_are_kept_as_text() {
    let app = TestApp::spawn_public().await;
    sqlx::query("UPDATE items SET title = '=HYPERLINK(\"http://x\")' WHERE slug = 'guinea-bissau'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (_, csv) = app.get("/funding.csv?table=items").await;
    assert!(csv.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{csv}");
}
