//! Admin money pages: budgets and contributions edited, checked, versioned, archived and
//! audited, with the dashboards following at once.

use crate::harness::{Session, TestApp};
use portfolio_tracker::domain::auth::Role;
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::PgPool;
use std::str::FromStr;

const GB_PLEDGE: &str = "guinea-bissau/lisbon-pledges";
const GB_BUDGET: &str = "guinea-bissau/budget";

async fn scalar_i64(pool: &PgPool, sql: &'static str, bind: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn gb_item_id(pool: &PgPool) -> i64 {
    scalar_i64(
        pool,
        "SELECT id FROM items WHERE slug = $1",
        "guinea-bissau",
    )
    .await
}

async fn contribution_id(pool: &PgPool, key: &str) -> i64 {
    scalar_i64(
        pool,
        "SELECT id FROM contributions WHERE seed_key = $1",
        key,
    )
    .await
}

async fn budget_id(pool: &PgPool, key: &str) -> i64 {
    scalar_i64(pool, "SELECT id FROM budgets WHERE seed_key = $1", key).await
}

async fn org_id(pool: &PgPool, slug: &str) -> String {
    scalar_i64(pool, "SELECT id FROM organisations WHERE slug = $1", slug)
        .await
        .to_string()
}

async fn version_of(pool: &PgPool, table: &str, id: i64) -> String {
    let sql = format!("SELECT version FROM {table} WHERE id = $1");
    let v: i32 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("version");
    v.to_string()
}

async fn amount_of(pool: &PgPool, table: &str, id: i64) -> Decimal {
    let sql = format!("SELECT amount FROM {table} WHERE id = $1");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("amount")
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("decimal")
}

/// Guinea-Bissau as the JSON API shows it to this session.
async fn api_gb(session: &Session) -> Value {
    let (status, body) = session.get("/api/v1/programmes").await;
    assert_eq!(status, 200);
    let json: Value = serde_json::from_str(&body).expect("JSON");
    json["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["slug"] == "guinea-bissau")
        .cloned()
        .expect("Guinea-Bissau in the API")
}

/// The fields of the Lisbon pledge as seeded, with `amount` and `version` to fill in.
fn pledge_form<'a>(org: &'a str, amount: &'a str, version: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("organisation", org),
        ("amount", amount),
        ("currency", "USD"),
        ("status", "pledged"),
        ("pledged_on", ""),
        ("as_of", "2008-02-07"),
        ("approximate", "on"),
        ("source_para", "para. 5"),
        (
            "note",
            "roughly US$ 7 million was pledged following the Lisbon conference",
        ),
        ("version", version),
    ]
}

fn budget_form<'a>(
    amount: &'a str,
    currency: &'a str,
    version: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("amount", amount),
        ("currency", currency),
        ("period", "2008-2010"),
        ("as_of", "2008-02-07"),
        ("source_para", "para. 5"),
        ("note", ""),
        ("version", version),
    ]
}

#[tokio::test]
async fn correcting_the_guinea_bissau_pledge_shows_everywhere_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let pool = &app.db.pool;
    let item = gb_item_id(pool).await;
    let id = contribution_id(pool, GB_PLEDGE).await;
    let org = org_id(pool, "lisbon-conference-donors").await;

    let before = api_gb(&admin).await;
    assert_eq!(before["pledged_usd"], "7000000.00");
    let (status, page) = admin.get(&format!("/admin/items/{item}/money")).await;
    assert_eq!(status, 200);
    assert!(page.contains("href=\"/programmes/guinea-bissau\""));
    assert!(page.contains(&format!("href=\"/admin/items/{item}/edit\"")));
    assert!(page.contains(&format!("/admin/contributions/{id}/edit")));
    assert!(page.contains("about USD 7,000,000"));

    let (status, form) = admin.get(&format!("/admin/contributions/{id}/edit")).await;
    assert_eq!(status, 200);
    assert!(
        form.contains("value=\"7,000,000\""),
        "the amount to correct"
    );

    let version = version_of(pool, "contributions", id).await;
    let (status, location, _) = admin
        .post(
            &format!("/admin/contributions/{id}"),
            &pledge_form(&org, "7,500,000", &version),
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        location,
        format!("/admin/items/{item}/money?done=contribution-saved")
    );

    // The dashboards: the item page and the API, immediately.
    let (_, public) = admin.get("/programmes/guinea-bissau").await;
    assert!(public.contains("USD 7,500,000"), "new pledged");
    assert!(public.contains("USD 11,500,000"), "new gap");
    let after = api_gb(&admin).await;
    assert_eq!(after["pledged_usd"], "7500000.00");
    assert_eq!(after["gap_usd"], "11500000.00");
    assert_eq!(after["budget_usd"], "19000000.00");

    // The seed key is kept: a re-seed recognises the row and neither duplicates nor
    // reverts it.
    portfolio_tracker::store::seed::load(pool)
        .await
        .expect("re-seed");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM contributions WHERE seed_key = $1")
        .bind(GB_PLEDGE)
        .fetch_one(pool)
        .await
        .expect("count");
    assert_eq!(rows, 1);
    assert_eq!(amount_of(pool, "contributions", id).await, dec("7500000"));

    // The audit row, and the two pages that show it.
    let (action, entity_id, item_id, old, new): (String, i64, i64, String, String) =
        sqlx::query_as(
            "SELECT action, entity_id, item_id, before->>'amount', after->>'amount'
               FROM audit_log WHERE entity = 'contribution' ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(pool)
        .await
        .expect("an audit row");
    assert_eq!((action.as_str(), entity_id, item_id), ("update", id, item));
    assert_eq!((old.as_str(), new.as_str()), ("7000000.00", "7500000.00"));
    for path in ["/admin/audit", "/programmes/guinea-bissau/history"] {
        let (status, body) = admin.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            body.contains("7000000.00"),
            "{path} shows the amount before"
        );
        assert!(body.contains("7500000.00"), "{path} shows the amount after");
        assert!(
            body.contains("about USD 7,000,000 → about USD 7,500,000"),
            "{path} summarises the change"
        );
    }
}

#[tokio::test]
async fn money_forms_accept_the_amounts_people_type() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let pool = &app.db.pool;
    let item = gb_item_id(pool).await;

    let (status, form) = admin.get(&format!("/admin/items/{item}/budgets/new")).await;
    assert_eq!(status, 200);
    assert!(
        form.find("<option value=\"USD\"") < form.find("<option value=\"AED\""),
        "USD is offered first"
    );
    assert!(form.contains("it picks the exchange rate"));

    for (typed, stored) in [("19,000,000", "19000000"), ("19000000.50", "19000000.50")] {
        let (status, location, _) = admin
            .post(
                &format!("/admin/items/{item}/budgets"),
                &budget_form(typed, "USD", "0"),
            )
            .await;
        assert_eq!(status, 303, "{typed} is accepted");
        assert_eq!(
            location,
            format!("/admin/items/{item}/money?done=budget-added")
        );
        let (amount, seed_key): (Decimal, Option<String>) =
            sqlx::query_as("SELECT amount, seed_key FROM budgets ORDER BY id DESC LIMIT 1")
                .fetch_one(pool)
                .await
                .expect("the new budget");
        assert_eq!(amount, dec(stored));
        assert_eq!(seed_key, None);
    }
    let (entity, item_id, after_amount): (String, i64, String) = sqlx::query_as(
        "SELECT entity, item_id, after->>'amount' FROM audit_log
          WHERE action = 'create' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .expect("audit of the creation");
    assert_eq!(
        (entity.as_str(), item_id, after_amount.as_str()),
        ("budget", item, "19000000.50")
    );

    let org = org_id(pool, "lisbon-conference-donors").await;
    let mut fields = pledge_form(&org, "1,000", "0");
    fields[2] = ("currency", "EUR");
    fields[4] = ("pledged_on", "2008-01-15");
    let (status, location, _) = admin
        .post(&format!("/admin/items/{item}/contributions"), &fields)
        .await;
    assert_eq!(status, 303);
    let (_, page) = admin.get(&location).await;
    assert!(page.contains("about EUR 1,000"));
    assert!(
        page.contains("(rate of 2008-02)"),
        "converted at the seeded rate"
    );
    assert!(page.contains("Contribution added."));
}

#[tokio::test]
async fn money_forms_refuse_bad_input_and_keep_what_was_typed() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let pool = &app.db.pool;
    let item = gb_item_id(pool).await;
    let org = org_id(pool, "lisbon-conference-donors").await;
    let count = || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM budgets) + (SELECT count(*) FROM contributions)",
        )
        .fetch_one(pool)
        .await
        .expect("count");
        n
    };
    let rows = count().await;

    let cases = [
        ("-5", "amounts cannot be negative"),
        ("1.234", "use at most two decimal places"),
        ("1e6", "is not an amount"),
        (
            "99999999999999999",
            "larger than any budget this system accepts",
        ),
    ];
    for (typed, message) in cases {
        let budget = budget_form(typed, "USD", "0");
        let pledge = pledge_form(&org, typed, "0");
        for (path, fields) in [
            (format!("/admin/items/{item}/budgets"), budget),
            (format!("/admin/items/{item}/contributions"), pledge),
        ] {
            let (status, _, body) = admin.post(&path, &fields).await;
            assert_eq!(status, 422, "{typed} refused at {path}");
            assert!(body.contains(message), "{typed}: {message}");
            assert!(
                body.contains(&format!("value=\"{typed}\"")),
                "{typed} is kept"
            );
            assert!(body.contains("aria-invalid=\"true\""));
        }
    }

    let (status, _, body) = admin
        .post(
            &format!("/admin/items/{item}/budgets"),
            &budget_form("19,000,000", "XXX", "0"),
        )
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("unknown currency code XXX"));
    assert!(body.contains("<option value=\"XXX\" selected>"), "XXX kept");
    assert!(body.contains("value=\"19,000,000\""));
    assert!(body.contains("value=\"2008-02-07\""));

    let mut fields = pledge_form(&org, "5", "0");
    fields[5] = ("as_of", "");
    fields[4] = ("pledged_on", "7 Feb 2008");
    fields[3] = ("status", "promised");
    let long_note = "n".repeat(5000);
    fields[8] = ("note", &long_note);
    let (status, _, body) = admin
        .post(&format!("/admin/items/{item}/contributions"), &fields)
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("enter the date the figure applies to"));
    assert!(body.contains("use the form YYYY-MM-DD"));
    assert!(body.contains("value=\"7 Feb 2008\""));
    assert!(body.contains("choose pledged, committed or paid"));
    assert!(body.contains("use at most 2000 characters"));

    let mut fields = pledge_form("999999", "5", "0");
    fields[0] = ("organisation", "999999");
    let (status, _, body) = admin
        .post(&format!("/admin/items/{item}/contributions"), &fields)
        .await;
    assert_eq!(status, 422, "an organisation that cannot be chosen");
    assert!(body.contains("choose the organisation"));

    let mut fields = pledge_form(&org, "5", "0");
    fields[8] = ("note", "a\0b");
    let (status, _, _) = admin
        .post(&format!("/admin/items/{item}/contributions"), &fields)
        .await;
    assert_eq!(status, 400, "a NUL byte is the request's fault, not a 500");

    assert_eq!(count().await, rows, "nothing was saved");
}

#[tokio::test]
async fn a_stale_version_is_a_conflict_that_overwrites_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let pool = &app.db.pool;
    let id = budget_id(pool, GB_BUDGET).await;
    let loaded = version_of(pool, "budgets", id).await;

    let (status, _, _) = admin
        .post(
            &format!("/admin/budgets/{id}"),
            &budget_form("20,000,000", "USD", &loaded),
        )
        .await;
    assert_eq!(status, 303, "the first save wins");
    let current = version_of(pool, "budgets", id).await;
    assert_ne!(current, loaded);

    let (status, _, body) = admin
        .post(
            &format!("/admin/budgets/{id}"),
            &budget_form("21,000,000", "USD", &loaded),
        )
        .await;
    assert_eq!(status, 409);
    assert!(body.contains("Someone else saved this record"));
    assert!(body.contains("20,000,000"), "the saved value");
    assert!(
        body.contains("value=\"21,000,000\""),
        "the typed value kept"
    );
    assert!(
        body.contains(&format!("name=\"version\" value=\"{current}\"")),
        "saving again is deliberate"
    );
    assert_eq!(amount_of(pool, "budgets", id).await, dec("20000000"));
    assert_eq!(version_of(pool, "budgets", id).await, current);

    let (status, _, _) = admin
        .post(
            &format!("/admin/budgets/{id}"),
            &budget_form("21,000,000", "USD", &current),
        )
        .await;
    assert_eq!(status, 303, "a deliberate re-save");
    assert_eq!(amount_of(pool, "budgets", id).await, dec("21000000"));
    let key: Option<String> = sqlx::query_scalar("SELECT seed_key FROM budgets WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("seed key");
    assert_eq!(key.as_deref(), Some(GB_BUDGET));

    // The same for contributions, with organisation names side by side.
    let cid = contribution_id(pool, GB_PLEDGE).await;
    let org = org_id(pool, "lisbon-conference-donors").await;
    let (status, _, body) = admin
        .post(
            &format!("/admin/contributions/{cid}"),
            &pledge_form(&org, "8,000,000", "0"),
        )
        .await;
    assert_eq!(status, 409);
    assert!(body.contains("Donors at the Lisbon conference"));
    assert!(
        body.contains("Amount <strong>(differs)</strong></th><td>7,000,000</td><td>8,000,000</td>"),
        "amounts compared as amounts"
    );
    assert_eq!(amount_of(pool, "contributions", cid).await, dec("7000000"));
}

#[tokio::test]
async fn archive_removes_the_amount_from_the_figures_and_restore_brings_it_back() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let pool = &app.db.pool;
    let item = gb_item_id(pool).await;
    let id = contribution_id(pool, GB_PLEDGE).await;

    let (status, location, _) = admin
        .post(&format!("/admin/contributions/{id}/archive"), &[])
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        location,
        format!("/admin/items/{item}/money?done=contribution-archived")
    );
    let gb = api_gb(&admin).await;
    assert_eq!(gb["pledged_usd"], "0.00");
    assert_eq!(gb["gap_usd"], "19000000.00");
    let (_, page) = admin.get(&format!("/admin/items/{item}/money")).await;
    assert!(page.contains("archived, not counted"));
    assert!(page.contains(&format!("/admin/contributions/{id}/restore")));
    assert!(page.contains("Archived"));

    let (status, _, _) = admin
        .post(&format!("/admin/contributions/{id}/restore"), &[])
        .await;
    assert_eq!(status, 303);
    assert_eq!(api_gb(&admin).await["pledged_usd"], "7000000.00");

    let bid = budget_id(pool, GB_BUDGET).await;
    admin
        .post(&format!("/admin/budgets/{bid}/archive"), &[])
        .await;
    assert_eq!(api_gb(&admin).await["budget_usd"], Value::Null);
    admin
        .post(&format!("/admin/budgets/{bid}/restore"), &[])
        .await;
    assert_eq!(api_gb(&admin).await["budget_usd"], "19000000.00");

    let trail: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT action, entity, entity_id, item_id FROM audit_log
          WHERE entity IN ('budget', 'contribution') ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .expect("audit rows");
    assert_eq!(
        trail,
        vec![
            ("archive".into(), "contribution".into(), id, item),
            ("restore".into(), "contribution".into(), id, item),
            ("archive".into(), "budget".into(), bid, item),
            ("restore".into(), "budget".into(), bid, item),
        ]
    );
    // Archiving what is archived already changes and records nothing.
    admin
        .post(&format!("/admin/budgets/{bid}/restore"), &[])
        .await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE entity = 'budget'")
        .fetch_one(pool)
        .await
        .expect("count");
    assert_eq!(rows, 2);
}

#[tokio::test]
async fn an_amount_without_an_exchange_rate_is_saved_with_a_notice() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let pool = &app.db.pool;
    let item = gb_item_id(pool).await;
    let org = org_id(pool, "lisbon-conference-donors").await;
    let mut fields = pledge_form(&org, "250,000", "0");
    fields[2] = ("currency", "GBP");
    let (status, _, _) = admin
        .post(&format!("/admin/items/{item}/contributions"), &fields)
        .await;
    assert_eq!(status, 303);
    let (_, page) = admin.get(&format!("/admin/items/{item}/money")).await;
    assert!(page.contains("Not converted to USD yet"));
    assert!(page.contains("no GBP rate for 2008-02 or earlier"));
    assert!(page.contains("not converted yet"));
    assert_eq!(api_gb(&admin).await["pledged_usd"], "7000000.00");
}

#[tokio::test]
async fn unknown_or_malformed_ids_are_not_found() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    for path in [
        "/admin/items/999999/money",
        "/admin/items/abc/money",
        "/admin/items/0/budgets/new",
        "/admin/items/999999/contributions/new",
        "/admin/budgets/999999/edit",
        "/admin/contributions/-1/edit",
    ] {
        assert_eq!(admin.get(path).await.0, 404, "{path}");
    }
    for path in [
        "/admin/budgets/999999/archive",
        "/admin/contributions/999999/restore",
        "/admin/items/999999/budgets",
    ] {
        let (status, _, _) = admin.post(path, &budget_form("1", "USD", "0")).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _, _) = admin
        .post("/admin/budgets/999999", &budget_form("1", "USD", "0"))
        .await;
    assert_eq!(status, 404);
    let staff = app.signed_in(Role::Staff).await;
    let item = gb_item_id(&app.db.pool).await;
    assert_eq!(
        staff.get(&format!("/admin/items/{item}/money")).await.0,
        403
    );
}
