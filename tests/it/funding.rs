//! Funding rules end to end: rows in PostgreSQL → conversion views → roll-up → API.

use crate::harness::TestApp;
use crate::harness::text;
use serde_json::Value;

async fn exec(app: &TestApp, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&app.db.pool)
        .await
        .expect(sql);
}

async fn item(app: &TestApp, slug: &str) -> Value {
    let body = app.get_json("/api/v1/programmes").await;
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["slug"] == slug)
        .cloned()
        .expect("item listed")
}

#[tokio::test]
async fn firm_counts_committed_and_paid_and_pledged_counts_all() {
    let app = TestApp::spawn_public().await;
    exec(
        &app,
        "INSERT INTO items (slug, title, kind, status, published) VALUES ('test-prog', 'Test programme', 'programme', 'ongoing', true);
         INSERT INTO budgets (item_id, amount, currency, as_of)
              SELECT id, 1000, 'USD', '2008-02-07' FROM items WHERE slug = 'test-prog';
         INSERT INTO contributions (item_id, org_id, amount, currency, status, as_of)
              SELECT i.id, o.id, v.amount, 'USD', v.status, '2008-02-07'
                FROM items i, organisations o,
                     (VALUES (100, 'pledged'), (200, 'committed'), (300, 'paid')) AS v(amount, status)
               WHERE i.slug = 'test-prog' AND o.slug = 'government-of-canada';",
    )
    .await;
    let p = item(&app, "test-prog").await;
    assert_eq!(p["budget_usd"], "1000.00");
    assert_eq!(p["pledged_usd"], "600.00");
    assert_eq!(p["firm_usd"], "500.00");
    assert_eq!(p["gap_usd"], "400.00");
    assert_eq!(p["coverage"], 0.6);
}

#[tokio::test]
async fn over_pledged_items_have_no_negative_gap() {
    let app = TestApp::spawn_public().await;
    exec(
        &app,
        "INSERT INTO items (slug, title, kind, status, published) VALUES ('rich', 'Rich programme', 'programme', 'ongoing', true);
         INSERT INTO budgets (item_id, amount, currency, as_of) SELECT id, 100, 'USD', '2008-02-07' FROM items WHERE slug = 'rich';
         INSERT INTO contributions (item_id, org_id, amount, currency, status, as_of)
              SELECT i.id, o.id, 150, 'USD', 'paid', '2008-02-07' FROM items i, organisations o
               WHERE i.slug = 'rich' AND o.slug = 'government-of-canada';",
    )
    .await;
    let p = item(&app, "rich").await;
    assert_eq!(p["gap_usd"], "0.00");
    assert_eq!(p["coverage"], 1.5);
}

#[tokio::test]
async fn amounts_use_the_rate_of_their_month_or_the_latest_earlier_one() {
    let app = TestApp::spawn_public().await;
    exec(
        &app,
        "INSERT INTO exchange_rates (currency, month, usd_per_unit, source) VALUES
              ('GBP', '2008-01-01', 2.0, 'test'), ('GBP', '2008-03-01', 1.5, 'test');
         INSERT INTO items (slug, title, kind, status, published) VALUES ('gbp', 'Sterling programme', 'programme', 'ongoing', true);
         INSERT INTO budgets (item_id, amount, currency, as_of) SELECT id, 100, 'GBP', '2008-02-15' FROM items WHERE slug = 'gbp';
         INSERT INTO contributions (item_id, org_id, amount, currency, status, as_of)
              SELECT i.id, o.id, 10, 'GBP', 'pledged', '2008-03-31' FROM items i, organisations o
               WHERE i.slug = 'gbp' AND o.slug = 'government-of-canada';",
    )
    .await;
    let p = item(&app, "gbp").await;
    assert_eq!(
        p["budget_usd"], "200.00",
        "February has no rate: January's applies"
    );
    assert_eq!(p["pledged_usd"], "15.00", "March's rate applies in March");
}

#[tokio::test]
async fn amounts_without_any_rate_are_left_out_and_said_so() {
    let app = TestApp::spawn_public().await;
    exec(
        &app,
        "INSERT INTO items (slug, title, kind, status, published) VALUES ('yen', 'Yen programme', 'programme', 'ongoing', true);
         INSERT INTO budgets (item_id, amount, currency, as_of) SELECT id, 100, 'USD', '2008-02-07' FROM items WHERE slug = 'yen';
         INSERT INTO contributions (item_id, org_id, amount, currency, status, as_of)
              SELECT i.id, o.id, 5000, 'JPY', 'pledged', '2008-02-07' FROM items i, organisations o
               WHERE i.slug = 'yen' AND o.slug = 'government-of-canada';",
    )
    .await;
    let p = item(&app, "yen").await;
    assert_eq!(
        p["pledged_usd"],
        Value::Null,
        "no USD figure, never 0.00 (the JPY amount is in not_converted)"
    );
    assert_eq!(p["not_converted"][0]["amount"], "5000.00");
    let (status, page) = app.page("/programmes/yen").await;
    assert_eq!(status, 200);
    let contributions = page.table("main section[aria-labelledby=\"contributions-heading\"] table");
    let canada = contributions.row_linking("/organisations/government-of-canada");
    assert_eq!(canada.text("Amount"), "JPY 5,000", "original amount shown");
    let rate = canada.text("Exchange rate");
    assert!(
        rate.contains("not converted: no JPY rate for February 2008"),
        "{rate}"
    );
    let caveats: Vec<String> = page
        .select("main section[aria-labelledby=\"funding-heading\"] p.caveat")
        .into_iter()
        .map(text)
        .collect();
    assert!(
        caveats.iter().any(|c| c.contains("1 amount left out")),
        "{caveats:?}"
    );
}

#[tokio::test]
async fn the_database_refuses_bad_money() {
    let app = TestApp::spawn_public().await;
    for (bad, constraint) in [
        (
            "INSERT INTO budgets (item_id, amount, currency, as_of) SELECT id, -1, 'USD', '2008-01-01' FROM items LIMIT 1",
            "budgets_amount_check",
        ),
        (
            "INSERT INTO budgets (item_id, amount, currency, as_of) SELECT id, 1, 'XXX', '2008-01-01' FROM items LIMIT 1",
            "budgets_currency_fkey",
        ),
        (
            "INSERT INTO budgets (item_id, amount, currency, as_of) SELECT id, 1, 'usd', '2008-01-01' FROM items LIMIT 1",
            "budgets_currency_fkey",
        ),
        (
            "INSERT INTO contributions (item_id, org_id, amount, currency, status, as_of)
              SELECT i.id, o.id, 1, 'USD', 'promised', '2008-01-01' FROM items i, organisations o LIMIT 1",
            "contributions_status_check",
        ),
        (
            "INSERT INTO exchange_rates (currency, month, usd_per_unit, source) VALUES ('EUR', '2008-02-15', 1, 'x')",
            "exchange_rates_month_check",
        ),
        (
            "INSERT INTO items (slug, title, kind, status, published) VALUES ('Bad Slug', 'x', 'programme', 'ongoing', true)",
            "items_slug_check",
        ),
        (
            "INSERT INTO items (slug, title, kind, status, published) VALUES ('orphan', 'x', 'component', 'ongoing', true)",
            "items_parent_matches_kind",
        ),
    ] {
        let error = sqlx::query(sqlx::AssertSqlSafe(bad))
            .execute(&app.db.pool)
            .await
            .expect_err(bad);
        let refused_by = error
            .as_database_error()
            .unwrap_or_else(|| panic!("a database error, not {error}: {bad}"))
            .constraint();
        assert_eq!(refused_by, Some(constraint), "{bad}: {error}");
    }
}

#[tokio::test]
async fn figures_follow_changes_made_after_they_were_first_shown() {
    let app = TestApp::spawn_public().await;
    assert_eq!(item(&app, "guinea-bissau").await["gap_usd"], "12000000.00");
    // a further pledge of 2,000,000, as the events page records one (a contribution's
    // figures are what its events add up to)
    exec(
        &app,
        "INSERT INTO contribution_events (contribution_id, kind, amount, on_date)
         SELECT id, 'pledged', 2000000, '2008-03-01' FROM contributions
          WHERE seed_key = 'guinea-bissau/lisbon-pledges'",
    )
    .await;
    assert_eq!(
        item(&app, "guinea-bissau").await["gap_usd"],
        "12000000.00",
        "a reader is not held up by the rebuild: the previous copy answers"
    );
    app.dashboards_rebuilt().await;
    assert_eq!(
        item(&app, "guinea-bissau").await["gap_usd"],
        "10000000.00",
        "no stale cache once rebuilt"
    );
    exec(
        &app,
        "UPDATE exchange_rates SET usd_per_unit = 2 WHERE currency = 'EUR'",
    )
    .await;
    app.dashboards_rebuilt().await;
    assert_eq!(
        item(&app, "victim-empowerment-south-africa").await["pledged_usd"],
        "36000000.00",
        "a rate change is seen after the rebuild"
    );
}

/// The European Union "committed over 18 million euros" to the Victim Empowerment
/// Programme (the seed's one `qualifier = "over"`): its money, and every total holding
/// it, read "at least", in the API, on the pages and in the CSV.
#[tokio::test]
async fn money_stated_as_over_an_amount_makes_every_total_holding_it_at_least() {
    let app = TestApp::spawn_public().await;
    let vep = item(&app, "victim-empowerment-south-africa").await;
    assert_eq!(vep["pledged_is_lower_bound"], true);
    assert_eq!(
        vep["firm_is_lower_bound"], true,
        "a commitment is firm money"
    );
    assert_eq!(
        vep["gap_bound"],
        Value::Null,
        "no budget is stated: the gap is unknown, not a bound"
    );
    let gb = item(&app, "guinea-bissau").await;
    assert_eq!(gb["pledged_is_lower_bound"], false);
    assert_eq!(gb["gap_bound"], "exact");

    let (_, page) = app
        .page("/programmes/victim-empowerment-south-africa")
        .await;
    for term in ["Pledged", "Firm (committed + paid)"] {
        let figure = page.figure("main dl.figures", term);
        assert!(figure.starts_with("at least USD "), "{term}: {figure}");
    }
    let (_, overview) = app.page("/").await;
    let pledged = overview.figure("main dl.headline", "Pledged");
    assert!(
        pledged.starts_with("at least USD "),
        "the portfolio's total holds the EU's commitment: {pledged}"
    );

    let places = app.get_json("/api/v1/funding/places").await;
    let south_africa = places["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["label"] == "South Africa")
        .expect("South Africa is a place");
    assert_eq!(south_africa["pledged_is_lower_bound"], true);
    assert_eq!(
        south_africa["paid_is_lower_bound"], false,
        "nothing is paid"
    );

    let (_, csv) = app.get("/funding.csv?table=items").await;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().expect("a header").clone();
    let column = |name: &str| header.iter().position(|h| h == name).expect(name);
    assert_eq!(
        column("Pledged is a lower bound"),
        column("Published") + 1,
        "the new columns come last"
    );
    let row = reader
        .records()
        .map(|r| r.expect("a row"))
        .find(|r| &r[column("Title")] == "Victim Empowerment Programme of South Africa")
        .expect("the programme's row");
    assert_eq!(&row[column("Pledged is a lower bound")], "yes");
    assert_eq!(&row[column("Paid is a lower bound")], "no");
}
