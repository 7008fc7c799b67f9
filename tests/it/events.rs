//! Contributions as dated events (issue 12): forms add events rather than overwrite a
//! status; every dashboard reads the portfolio "as at" a day (`?as_of=`); `/changes`
//! lists exactly what happened between two days.

use crate::harness::{Session, TestApp};
use chrono::NaiveDate;
use portfolio_tracker::config::WebSettings;
use portfolio_tracker::domain::auth::Role;

async fn app_on(today: &str) -> TestApp {
    TestApp::spawn_with(WebSettings {
        today: Some(NaiveDate::parse_from_str(today, "%Y-%m-%d").expect("a day")),
        public_read: true,
        ..WebSettings::default()
    })
    .await
}

/// The seeded Lisbon pledge to Guinea-Bissau: USD 7,000,000 pledged, known on the
/// report's date (2008-02-07), against a budget of USD 19,000,000.
async fn guinea_bissau_pledge(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT c.id FROM contributions c JOIN items i ON i.id = c.item_id
          WHERE i.slug = 'guinea-bissau'",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("the seeded pledge")
}

/// The version the contribution's edit form carries.
async fn edit_version(admin: &Session, contribution: i64) -> String {
    let (_, form) = admin
        .get(&format!("/admin/contributions/{contribution}/edit"))
        .await;
    crate::harness::Page::parse(&form)
        .attr("input[name=\"version\"]", "value")
        .expect("a version")
}

async fn record(admin: &Session, contribution: i64, fields: &[(&str, &str)]) -> (u16, String) {
    let (status, _, body) = admin
        .post(
            &format!("/admin/contributions/{contribution}/events"),
            fields,
        )
        .await;
    (status, body)
}

/// Rows of a CSV download as maps from header to cell.
async fn csv_rows(app: &TestApp, path: &str) -> Vec<std::collections::HashMap<String, String>> {
    let (status, body) = app.get(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header = reader.headers().expect("a header").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("a row");
            header
                .iter()
                .map(String::from)
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

/// (pledged, paid) in USD of an item, as the funding CSV gives them.
async fn pledged_and_paid(app: &TestApp, query: &str, title: &str) -> (String, String) {
    let rows = csv_rows(app, &format!("/funding.csv?table=items{query}")).await;
    let row = rows
        .iter()
        .find(|r| r["Title"] == title)
        .unwrap_or_else(|| panic!("{title} in the CSV"));
    (row["Pledged (USD)"].clone(), row["Paid (USD)"].clone())
}

/// A portfolio whose events span January and May 2008: a pledge on 15 January, the
/// seeded state on 7 February, a payment on 10 May.
async fn events_spanning_2008(app: &TestApp) -> Session {
    let admin = app.signed_in(Role::Admin).await;
    let pledge = guinea_bissau_pledge(app).await;
    for fields in [
        [
            ("kind", "pledged"),
            ("amount", "1,000,000"),
            ("on", "2008-01-15"),
            ("source", "letter of 15 January"),
        ],
        [
            ("kind", "paid"),
            ("amount", "2,000,000"),
            ("on", "2008-05-10"),
            ("source", "receipt 42"),
        ],
    ] {
        let (status, body) = record(&admin, pledge, &fields).await;
        assert_eq!(status, 303, "{body}");
    }
    app.dashboards_rebuilt().await;
    admin
}

#[tokio::test]
async fn every_dashboard_reads_the_portfolio_as_at_a_day() {
    let app = app_on("2008-10-15").await;
    events_spanning_2008(&app).await;
    let title = "West Africa: Guinea-Bissau";
    // today: 7,000,000 seeded + 1,000,000 pledged in January; 2,000,000 paid in May
    assert_eq!(
        pledged_and_paid(&app, "", title).await,
        ("8000000.00".into(), "2000000.00".into())
    );
    // at the end of January only the January pledge was known
    assert_eq!(
        pledged_and_paid(&app, "&as_of=2008-01-31", title).await,
        ("1000000.00".into(), "0.00".into())
    );
    // before any event the item has no money at all
    assert_eq!(
        pledged_and_paid(&app, "&as_of=2007-12-31", title).await,
        ("0.00".into(), "0.00".into())
    );
    // the page says which day it shows, and links back to today
    let (status, body) = app.get("/programmes/guinea-bissau?as_of=2008-01-31").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("as it stood at the end of 31 January 2008"),
        "{body}"
    );
    assert!(body.contains("href=\"/programmes/guinea-bissau\""));
    let (_, today) = app.get("/programmes/guinea-bissau").await;
    assert!(!today.contains("as it stood at the end of"));
    // a day that is not one is a clear 400, never a 500
    let (status, body) = app.get("/funding?as_of=2008-13-01").await;
    assert_eq!(status, 400);
    assert!(body.contains("YYYY-MM-DD"), "{body}");
}

#[tokio::test]
async fn changes_lists_exactly_the_events_between_its_days() {
    let app = app_on("2008-10-15").await;
    events_spanning_2008(&app).await;
    let events = |rows: Vec<std::collections::HashMap<String, String>>| {
        let mut found: Vec<(String, String, String)> = rows
            .into_iter()
            .filter(|r| {
                [
                    "New pledge",
                    "Commitment",
                    "Payment",
                    "Reduction",
                    "Cancellation",
                ]
                .contains(&r["Change"].as_str())
            })
            .map(|r| (r["Date"].clone(), r["Change"].clone(), r["Amount"].clone()))
            .collect();
        found.sort();
        found
    };
    // February to 9 May: the four contributions the report gives, nothing else
    let middle = events(csv_rows(&app, "/changes.csv?from=2008-02-01&to=2008-05-09").await);
    assert_eq!(
        middle,
        vec![
            (
                "2008-02-07".into(),
                "Commitment".into(),
                "1200000.00".into()
            ),
            (
                "2008-02-07".into(),
                "Commitment".into(),
                "18000000.00".into()
            ),
            (
                "2008-02-07".into(),
                "New pledge".into(),
                "14000000.00".into()
            ),
            (
                "2008-02-07".into(),
                "New pledge".into(),
                "7000000.00".into()
            ),
        ]
    );
    // both days are included: the payment of 10 May alone
    let may = events(csv_rows(&app, "/changes.csv?from=2008-05-10&to=2008-05-10").await);
    assert_eq!(
        may,
        vec![("2008-05-10".into(), "Payment".into(), "2000000.00".into())]
    );
    // the January pledge opened Guinea-Bissau's gap-free period? No: 8 of 19 million,
    // still a gap; the page lists the January pledge with its USD total
    let (status, page) = app.get("/changes?from=2008-01-01&to=2008-01-31").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("New pledge") && page.contains("USD 1,000,000"),
        "{page}"
    );
    let (status, body) = app.get("/changes?from=2008-05-01&to=2008-03-01").await;
    assert_eq!(status, 400);
    assert!(body.contains("give the earlier day first"), "{body}");
    let (status, _) = app.get("/changes.xlsx?from=2008-01-01&to=2008-12-31").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_form_that_sets_a_status_adds_events_and_a_status_never_goes_back() {
    let app = app_on("2008-10-15").await;
    let admin = app.signed_in(Role::Admin).await;
    let pledge = guinea_bissau_pledge(&app).await;
    let version = edit_version(&admin, pledge).await;
    let org: i64 = sqlx::query_scalar("SELECT org_id FROM contributions WHERE id = $1")
        .bind(pledge)
        .fetch_one(&app.db.pool)
        .await
        .expect("org");
    let org = org.to_string();
    let save = |status: &'static str, version: String| {
        let admin = admin.clone();
        let org = org.clone();
        async move {
            admin
                .post(
                    &format!("/admin/contributions/{pledge}"),
                    &[
                        ("organisation", org.as_str()),
                        ("amount", "7,000,000"),
                        ("currency", "USD"),
                        ("status", status),
                        ("as_of", "2008-06-30"),
                        ("approximate", "on"),
                        ("version", version.as_str()),
                    ],
                )
                .await
        }
    };
    let (status, _, body) = save("paid", version.clone()).await;
    assert_eq!(status, 303, "{body}");
    let kinds: Vec<(String, Option<String>, NaiveDate)> = sqlx::query_as(
        "SELECT kind, amount::text, on_date FROM contribution_events
          WHERE contribution_id = $1 ORDER BY id",
    )
    .bind(pledge)
    .fetch_all(&app.db.pool)
    .await
    .expect("events");
    let june = NaiveDate::from_ymd_opt(2008, 6, 30).expect("a day");
    assert_eq!(
        kinds,
        vec![
            (
                "pledged".into(),
                Some("7000000.00".into()),
                NaiveDate::from_ymd_opt(2008, 2, 7).expect("a day")
            ),
            ("paid".into(), Some("7000000.00".into()), june),
        ]
    );
    // going back to "pledged" would unpay it: refused, with what to do instead
    let version = edit_version(&admin, pledge).await;
    let (status, _, body) = save("pledged", version).await;
    assert_eq!(status, 422);
    assert!(body.contains("only moves forward"), "{body}");
}

#[tokio::test]
async fn an_event_that_does_not_fit_is_refused_with_a_reason_and_nothing_is_lost() {
    let app = app_on("2008-10-15").await;
    let admin = app.signed_in(Role::Admin).await;
    let pledge = guinea_bissau_pledge(&app).await;
    // 7,000,000 pledged, nothing paid: a reduction of 8,000,000 takes off too much
    let (status, body) = record(
        &admin,
        pledge,
        &[
            ("kind", "reduced"),
            ("amount", "8,000,000"),
            ("on", "2008-Q2"),
            ("note", "kept"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body.contains("at most what is pledged and not yet paid"),
        "{body}"
    );
    assert!(
        body.contains("kept") && body.contains("2008-Q2"),
        "what was typed is shown again"
    );
    // a date after today is refused too
    let (status, body) = record(
        &admin,
        pledge,
        &[("kind", "paid"), ("amount", "1"), ("on", "2009")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("cannot be dated after today"), "{body}");
    // a cancellation leaves the contribution cancelled, with its history and audit
    let (status, body) = record(&admin, pledge, &[("kind", "cancelled"), ("on", "2008-09")]).await;
    assert_eq!(status, 303, "{body}");
    let (amount, status): (String, String) =
        sqlx::query_as("SELECT amount::text, status FROM contributions WHERE id = $1")
            .bind(pledge)
            .fetch_one(&app.db.pool)
            .await
            .expect("the contribution");
    assert_eq!((amount.as_str(), status.as_str()), ("0.00", "cancelled"));
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE entity = 'contribution_event' AND summary LIKE '%Cancelled%'",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("audit");
    assert_eq!(audited, 1);
    let (_, page) = admin
        .get(&format!("/admin/contributions/{pledge}/events/new"))
        .await;
    assert!(
        page.contains("Cancelled") && page.contains("September 2008"),
        "{page}"
    );
}
