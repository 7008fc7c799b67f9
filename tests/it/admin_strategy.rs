//! Admin pages for themes, result areas and exchange rates: saves, validation, 409 on
//! stale versions, archive/restore, conversion with a new rate, and the audit rows.

use crate::harness::{Session, TestApp};
use portfolio_tracker::domain::auth::Role;
use serde_json::Value;
use sqlx::PgPool;

async fn area_id(pool: &PgPool, code: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM result_areas WHERE code = $1")
        .bind(code)
        .fetch_one(pool)
        .await
        .expect("the result area is seeded")
}

async fn area_title(pool: &PgPool, code: &str) -> Option<String> {
    sqlx::query_scalar("SELECT title FROM result_areas WHERE code = $1")
        .bind(code)
        .fetch_one(pool)
        .await
        .expect("the result area exists")
}

/// Audit rows of one entity: (action, entity_id, item_id, before, after), oldest first.
async fn audit_rows(
    pool: &PgPool,
    entity: &str,
) -> Vec<(
    String,
    Option<i64>,
    Option<i64>,
    Option<Value>,
    Option<Value>,
)> {
    sqlx::query_as(
        "SELECT action, entity_id, item_id, before, after FROM audit_log WHERE entity = $1 ORDER BY id",
    )
    .bind(entity)
    .fetch_all(pool)
    .await
    .expect("read the audit log")
}

/// The programmes API as the session sees it.
async fn api_item(session: &Session, slug: &str) -> Value {
    let (status, body) = session.get("/api/v1/programmes").await;
    assert_eq!(status, 200);
    let json: Value = serde_json::from_str(&body).expect("JSON");
    json["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["slug"] == slug)
        .cloned()
        .unwrap_or_else(|| panic!("{slug} is in the API"))
}

async fn save_area(
    admin: &Session,
    id: i64,
    code: &str,
    title: &str,
    version: &str,
) -> (u16, String, String) {
    admin
        .post(
            &format!("/admin/result-areas/{id}"),
            &[
                ("code", code),
                ("theme", &code[..1]),
                ("title", title),
                ("source_para", "para. 7"),
                ("version", version),
            ],
        )
        .await
}

#[tokio::test]
async fn a_title_given_through_the_form_replaces_the_unknown_one() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let pool = &app.db.pool;
    let id = area_id(pool, "3.4").await;

    let (_, page) = admin.get("/result-areas").await;
    assert!(page.contains(
        "<strong>3.4</strong></a> <span class=\"muted\">(title not given in the source)</span>"
    ));
    let (status, list) = admin.get("/admin/result-areas").await;
    assert_eq!(status, 200);
    assert!(list.contains("title not given in the source"));
    assert!(list.contains(&format!("/admin/result-areas/{id}/edit")));
    assert!(list.contains("/admin/themes/3/edit"));
    let (status, form) = admin.get(&format!("/admin/result-areas/{id}/edit")).await;
    assert_eq!(status, 200);
    assert!(form.contains("value=\"3.4\""));

    let (status, location, _) =
        save_area(&admin, id, "3.4", "  Drug demand reduction  ", "1").await;
    assert_eq!(status, 303);
    assert_eq!(location, "/admin/result-areas?done=saved");
    assert_eq!(
        area_title(pool, "3.4").await.as_deref(),
        Some("Drug demand reduction")
    );
    let (_, page) = admin.get("/result-areas").await;
    assert!(page.contains("<strong>3.4</strong></a> Drug demand reduction"));

    // Emptying the title makes it unknown again: NULL, never an empty string.
    let (status, _, _) = save_area(&admin, id, "3.4", "   ", "2").await;
    assert_eq!(status, 303);
    assert_eq!(area_title(pool, "3.4").await, None);

    let rows = audit_rows(pool, "result_area").await;
    assert_eq!(rows.len(), 2);
    let (action, entity_id, item_id, before, after) = &rows[0];
    assert_eq!(action, "update");
    assert_eq!(*entity_id, Some(id));
    assert_eq!(*item_id, None);
    assert_eq!(before.as_ref().unwrap()["title"], Value::Null);
    assert_eq!(after.as_ref().unwrap()["title"], "Drug demand reduction");
    assert_eq!(rows[1].4.as_ref().unwrap()["title"], Value::Null);
}

#[tokio::test]
async fn a_duplicate_code_is_refused_with_everything_typed_kept() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let (status, _, body) = admin
        .post(
            "/admin/result-areas",
            &[
                ("code", "3.4"),
                ("theme", "3"),
                ("title", "Typed title"),
                ("source_para", "para. 99"),
                ("version", "0"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("another result area already has code 3.4"));
    assert!(body.contains("value=\"Typed title\""));
    assert!(body.contains("value=\"para. 99\""));
    assert!(body.contains("aria-invalid=\"true\""));

    // Renaming another area onto a taken code: the same message.
    let id = area_id(&app.db.pool, "3.5").await;
    let (status, _, body) = save_area(&admin, id, "3.4", "Treatment", "1").await;
    assert_eq!(status, 422);
    assert!(body.contains("another result area already has code 3.4"));

    // Malformed codes and a code outside its theme get field messages, not 500s.
    for (code, theme) in [
        ("3-4", "3"),
        ("3.04", "3"),
        ("99999999999.1", "3"),
        ("1.9", "3"),
    ] {
        let (status, _, body) = admin
            .post(
                "/admin/result-areas",
                &[("code", code), ("theme", theme), ("version", "0")],
            )
            .await;
        assert_eq!(status, 422, "{code}");
        assert!(body.contains("id=\"code-error\""), "{code}");
    }
    let (status, _, _) = admin
        .post(
            "/admin/result-areas",
            &[("code", "4.1"), ("theme", "4"), ("version", "0")],
        )
        .await;
    assert_eq!(status, 422, "no theme 4");
    assert!(audit_rows(&app.db.pool, "result_area").await.is_empty());

    // A new, valid area is created with an unknown title.
    let (status, location, _) = admin
        .post(
            "/admin/result-areas",
            &[
                ("code", "3.11"),
                ("theme", "3"),
                ("title", ""),
                ("version", "0"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/result-areas?done=created")
    );
    assert_eq!(area_title(&app.db.pool, "3.11").await, None);
    let rows = audit_rows(&app.db.pool, "result_area").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "create");
    assert_eq!(rows[0].1, Some(area_id(&app.db.pool, "3.11").await));
}

#[tokio::test]
async fn a_stale_version_is_a_conflict_and_overwrites_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let pool = &app.db.pool;
    let id = area_id(pool, "3.4").await;
    let (status, _, _) = save_area(&admin, id, "3.4", "First save", "1").await;
    assert_eq!(status, 303);
    let (status, _, body) = save_area(&admin, id, "3.4", "Second save", "1").await;
    assert_eq!(status, 409);
    assert!(body.contains("Someone else saved this record"));
    assert!(body.contains("First save"), "shows what is saved");
    assert!(
        body.contains("value=\"Second save\""),
        "keeps what was typed"
    );
    assert!(
        body.contains("name=\"version\" value=\"2\""),
        "a re-save is deliberate"
    );
    assert_eq!(area_title(pool, "3.4").await.as_deref(), Some("First save"));
    assert_eq!(audit_rows(pool, "result_area").await.len(), 1);

    // Themes too.
    let (status, _, _) = admin
        .post("/admin/themes/3", &[("title", "Justice"), ("version", "1")])
        .await;
    assert_eq!(status, 303);
    let (status, _, body) = admin
        .post("/admin/themes/3", &[("title", "Health"), ("version", "1")])
        .await;
    assert_eq!(status, 409);
    assert!(body.contains("value=\"Health\""));
    let title: Option<String> = sqlx::query_scalar("SELECT title FROM themes WHERE code = '3'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(title.as_deref(), Some("Justice"));
}

#[tokio::test]
async fn theme_titles_are_edited_and_emptied_to_unknown() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let pool = &app.db.pool;
    let (status, form) = admin.get("/admin/themes/2/edit").await;
    assert_eq!(status, 200);
    assert!(form.contains("Edit theme 2"));
    for bad in [
        "/admin/themes/x/edit",
        "/admin/themes/2a/edit",
        "/admin/themes/99/edit",
    ] {
        assert_eq!(admin.get(bad).await.0, 404, "{bad}");
    }
    let (status, _, _) = admin
        .post("/admin/themes/x", &[("title", "T"), ("version", "1")])
        .await;
    assert_eq!(status, 404);

    let (status, _, _) = admin
        .post(
            "/admin/themes/2",
            &[("title", " Health and security "), ("version", "1")],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page) = admin.get("/result-areas").await;
    assert!(page.contains("Theme 2: Health and security"));
    let (status, _, _) = admin
        .post("/admin/themes/2", &[("title", ""), ("version", "2")])
        .await;
    assert_eq!(status, 303);
    let title: Option<String> = sqlx::query_scalar("SELECT title FROM themes WHERE code = '2'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(title, None);
    let (status, _, body) = admin
        .post(
            "/admin/themes/2",
            &[("title", &"x".repeat(301)), ("version", "3")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("at most 300 characters"));

    let rows = audit_rows(pool, "theme").await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, "update");
    assert_eq!(rows[0].1, None);
    assert_eq!(rows[0].3.as_ref().unwrap()["code"], "2");
    assert_eq!(rows[0].4.as_ref().unwrap()["title"], "Health and security");
}

#[tokio::test]
async fn an_archived_area_disappears_until_restored() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let pool = &app.db.pool;
    let id = area_id(pool, "3.6").await;
    assert_eq!(
        api_item(&admin, "guinea-bissau").await["result_areas"],
        serde_json::json!(["1.2", "1.3", "3.6"])
    );

    let (status, location, _) = admin
        .post(&format!("/admin/result-areas/{id}/archive"), &[])
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/result-areas?done=archived")
    );
    let (_, page) = admin.get("/result-areas").await;
    assert!(!page.contains("<strong>3.6</strong>"));
    let (_, item) = admin.get("/programmes/guinea-bissau").await;
    assert!(!item.contains("<strong>3.6</strong>"));
    assert_eq!(
        api_item(&admin, "guinea-bissau").await["result_areas"],
        serde_json::json!(["1.2", "1.3"])
    );
    let (_, list) = admin.get("/admin/result-areas?done=archived").await;
    assert!(list.contains("Archived. It can be restored from this list."));
    assert!(list.contains("<span class=\"tag\">Archived</span>"));
    assert!(list.contains(&format!("/admin/result-areas/{id}/restore")));

    // Its code stays taken, and the message says where it is.
    let (status, _, body) = admin
        .post(
            "/admin/result-areas",
            &[("code", "3.6"), ("theme", "3"), ("version", "0")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("it is archived"));

    let (status, _, _) = admin
        .post(&format!("/admin/result-areas/{id}/restore"), &[])
        .await;
    assert_eq!(status, 303);
    let (_, page) = admin.get("/result-areas").await;
    assert!(page.contains("<strong>3.6</strong>"));
    assert_eq!(
        api_item(&admin, "guinea-bissau").await["result_areas"],
        serde_json::json!(["1.2", "1.3", "3.6"])
    );
    let actions: Vec<String> = audit_rows(pool, "result_area")
        .await
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(actions, ["archive", "restore"]);
    assert_eq!(
        admin.post("/admin/result-areas/0/archive", &[]).await.0,
        404
    );
    assert_eq!(
        admin.post("/admin/result-areas/abc/archive", &[]).await.0,
        404
    );
}

async fn post_rate(
    admin: &Session,
    path: &str,
    rate: &str,
    version: &str,
) -> (u16, String, String) {
    admin
        .post(
            path,
            &[
                ("currency", "GBP"),
                ("month", "2009-03"),
                ("usd_per_unit", rate),
                ("source", "Test rate"),
                ("version", version),
            ],
        )
        .await
}

#[tokio::test]
async fn a_new_rate_converts_amounts_of_its_currency_and_month() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let pool = &app.db.pool;
    let (status, location, _) = post_rate(&admin, "/admin/exchange-rates", " 2 ", "0").await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/exchange-rates?done=created")
    );
    let (_, list) = admin.get("/admin/exchange-rates").await;
    assert!(list.contains("March 2009"));
    assert!(list.contains("/admin/exchange-rates/GBP/2009-03/edit"));

    // A GBP contribution of that month, entered directly in SQL.
    sqlx::query(
        "INSERT INTO contributions (item_id, org_id, amount, currency, status, as_of)
         SELECT i.id, (SELECT min(id) FROM organisations), 1000000, 'GBP', 'pledged', '2009-03-15'
           FROM items i WHERE i.slug = 'guinea-bissau'",
    )
    .execute(pool)
    .await
    .expect("insert a contribution");
    app.dashboards_rebuilt().await;
    assert_eq!(
        api_item(&admin, "guinea-bissau").await["pledged_usd"],
        "9000000.00",
        "7,000,000 USD + 1,000,000 GBP at 2"
    );

    // Editing the rate converts the same amount again at once.
    let edit = "/admin/exchange-rates/GBP/2009-03";
    let (status, form) = admin.get(&format!("{edit}/edit")).await;
    assert_eq!(status, 200);
    assert!(form.contains("value=\"2\""));
    assert!(form.contains("value=\"2009-03\""));
    let (status, _, _) = post_rate(&admin, edit, "1.5", "1").await;
    assert_eq!(status, 303);
    assert_eq!(
        api_item(&admin, "guinea-bissau").await["pledged_usd"],
        "8500000.00"
    );

    // A stale save is a conflict and changes nothing.
    let (status, _, body) = post_rate(&admin, edit, "3", "1").await;
    assert_eq!(status, 409);
    assert!(body.contains("Someone else saved this record"));
    let rate: rust_decimal::Decimal = sqlx::query_scalar(
        "SELECT usd_per_unit FROM exchange_rates WHERE currency = 'GBP' AND month = '2009-03-01'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(rate, rust_decimal::Decimal::new(15, 1));

    // The same currency and month twice: a field message.
    let (status, _, body) = post_rate(&admin, "/admin/exchange-rates", "2", "0").await;
    assert_eq!(status, 422);
    assert!(body.contains("there is already a GBP rate for March 2009"));

    let rows = audit_rows(pool, "exchange_rate").await;
    assert_eq!(rows.len(), 2);
    let (action, entity_id, item_id, before, after) = &rows[0];
    assert_eq!(
        (action.as_str(), *entity_id, *item_id),
        ("create", None, None)
    );
    assert_eq!(*before, None);
    let after = after.as_ref().unwrap();
    assert_eq!(after["currency"], "GBP");
    assert_eq!(after["month"], "2009-03-01");
    assert_eq!(after["usd_per_unit"], "2");
    assert_eq!(rows[1].0, "update");
    assert_eq!(rows[1].3.as_ref().unwrap()["usd_per_unit"], "2");
    assert_eq!(rows[1].4.as_ref().unwrap()["usd_per_unit"], "1.5");
}

#[tokio::test]
async fn invalid_rates_are_refused_next_to_the_field() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    for (rate, message) in [
        ("0", "a rate is more than zero"),
        ("-1", "a rate is more than zero"),
        ("abc", "that is not a rate"),
        ("1.12345678901", "use at most 10 decimal places"),
        ("1,4749", "use a decimal point"),
        ("2000000", "1,000,000"),
        ("", "enter the rate"),
    ] {
        let (status, _, body) = post_rate(&admin, "/admin/exchange-rates", rate, "0").await;
        assert_eq!(status, 422, "{rate}");
        assert!(body.contains(message), "{rate}: {message}");
        assert!(body.contains("id=\"usd_per_unit-error\""), "{rate}");
        assert!(body.contains("Test rate"), "{rate}: typed values kept");
    }
    for (currency, month, field) in [
        ("USD", "2009-03", "currency"),
        ("XYZ", "2009-03", "currency"),
        ("GBP", "2009-13", "month"),
        ("GBP", "March 2009", "month"),
    ] {
        let (status, _, body) = admin
            .post(
                "/admin/exchange-rates",
                &[
                    ("currency", currency),
                    ("month", month),
                    ("usd_per_unit", "1.2"),
                    ("source", "Test"),
                    ("version", "0"),
                ],
            )
            .await;
        assert_eq!(status, 422, "{currency} {month}");
        assert!(body.contains(&format!("id=\"{field}-error\"")));
    }
    let (status, _, body) = admin
        .post(
            "/admin/exchange-rates",
            &[
                ("currency", "GBP"),
                ("month", "2009-03"),
                ("usd_per_unit", "1.2"),
                ("source", "  "),
                ("version", "0"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("say where the rate comes from"));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM exchange_rates")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 1, "only the seeded EUR rate");
    assert!(audit_rows(&app.db.pool, "exchange_rate").await.is_empty());
}

#[tokio::test]
async fn the_rate_list_filters_and_bad_addresses_are_not_found() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let (status, body) = admin.get("/admin/exchange-rates?currency=EUR").await;
    assert_eq!(status, 200);
    assert!(body.contains("February 2008"));
    assert!(body.contains("1.4749"));
    assert!(
        body.contains("a wrong rate is corrected by editing it")
            || body.contains("A wrong rate is corrected by editing it")
    );
    let (status, body) = admin.get("/admin/exchange-rates?currency=GBP").await;
    assert_eq!(status, 200);
    assert!(body.contains("No rate for GBP yet."));
    let (status, body) = admin.get("/admin/exchange-rates?currency=XYZ").await;
    assert_eq!(status, 400);
    assert!(body.contains("is not a currency code this system knows"));
    assert_eq!(admin.get("/admin/exchange-rates?currency=USD").await.0, 400);
    assert_eq!(
        admin
            .get("/admin/exchange-rates?currency=EUR&currency=GBP&done=x&done=y")
            .await
            .0,
        200
    );
    let (status, form) = admin.get("/admin/exchange-rates/EUR/2008-02/edit").await;
    assert_eq!(status, 200);
    assert!(form.contains("value=\"1.4749\""));
    for bad in [
        "/admin/exchange-rates/EUR/2008-13/edit",
        "/admin/exchange-rates/eur/2008-02/edit",
        "/admin/exchange-rates/EUR/2009-02/edit",
        "/admin/exchange-rates/EURO/2008-02/edit",
        "/admin/exchange-rates/EUR/2008-02-01/edit",
        "/admin/exchange-rates/%FF/2008-02/edit",
    ] {
        assert_eq!(admin.get(bad).await.0, 404, "{bad}");
    }
    let (status, body) = admin.get("/admin/exchange-rates/new").await;
    assert_eq!(status, 200);
    assert!(body.contains("type=\"month\""));
    assert!(!body.contains("value=\"USD\""), "USD needs no rate");

    let staff = app.signed_in(Role::Staff).await;
    assert_ne!(staff.get("/admin/exchange-rates").await.0, 200);
    assert_ne!(staff.get("/admin/result-areas").await.0, 200);
}
