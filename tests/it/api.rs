//! `GET /api/v1/programmes`: the seeded portfolio as JSON.

use crate::harness::TestApp;
use serde_json::Value;

fn find<'a>(items: &'a [Value], slug: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["slug"] == slug)
        .unwrap_or_else(|| panic!("{slug} is in the API"))
}

#[tokio::test]
async fn lists_every_programme_initiative_and_component() {
    let app = TestApp::spawn_public().await;
    let body = app.get_json("/api/v1/programmes").await;
    let items = body["items"].as_array().expect("items array");
    let count = |kind: &str| items.iter().filter(|i| i["kind"] == kind).count();
    assert_eq!(count("programme"), 9, "programmes II.A-I");
    assert_eq!(count("initiative"), 3, "initiatives III.A-C");
    assert!(count("component") >= 20, "components are listed too");
    for item in items {
        let is_component = item["kind"] == "component";
        assert_eq!(
            item["parent"].is_string(),
            is_component,
            "{}: parent iff component",
            item["slug"]
        );
        assert!(item["result_areas"].is_array());
    }
    let slugs: Vec<&str> = items.iter().filter_map(|i| i["slug"].as_str()).collect();
    for parent in items.iter().filter_map(|i| i["parent"].as_str()) {
        assert!(slugs.contains(&parent), "parent {parent} is listed");
    }
}

#[tokio::test]
async fn guinea_bissau_has_the_reported_gap_and_coverage() {
    let app = TestApp::spawn_public().await;
    let body = app.get_json("/api/v1/programmes").await;
    let gb = find(body["items"].as_array().unwrap(), "guinea-bissau");
    assert_eq!(gb["kind"], "programme");
    assert_eq!(gb["parent"], Value::Null);
    assert_eq!(gb["budget_usd"], "19000000.00");
    assert_eq!(gb["pledged_usd"], "7000000.00");
    assert_eq!(gb["firm_usd"], "0.00");
    assert_eq!(gb["gap_usd"], "12000000.00");
    let coverage = gb["coverage"].as_f64().expect("coverage is a number");
    assert!(
        (coverage - 7.0 / 19.0).abs() < 0.0001,
        "coverage {coverage}"
    );
    assert_eq!(gb["result_areas"], serde_json::json!(["1.2", "1.3", "3.6"]));
    assert_eq!(gb["budget_is_lower_bound"], false);
}

#[tokio::test]
async fn unknown_budgets_are_null_never_zero() {
    let app = TestApp::spawn_public().await;
    let body = app.get_json("/api/v1/programmes").await;
    let treatment = find(
        body["items"].as_array().unwrap(),
        "treatment-rehabilitation",
    );
    assert_eq!(treatment["budget_usd"], Value::Null);
    assert_eq!(treatment["gap_usd"], Value::Null);
    assert_eq!(treatment["coverage"], Value::Null);
    assert_eq!(treatment["result_areas"], serde_json::json!(["3.5"]));
}

#[tokio::test]
async fn euro_commitment_converts_at_the_monthly_rate() {
    let app = TestApp::spawn_public().await;
    let rate: rust_decimal::Decimal = sqlx::query_scalar(
        "SELECT usd_per_unit FROM exchange_rates WHERE currency = 'EUR' AND month = '2008-02-01'",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("the February 2008 EUR rate is seeded");
    let expected = (rust_decimal::Decimal::from(18_000_000) * rate).round_dp(2);
    let body = app.get_json("/api/v1/programmes").await;
    let vep = find(
        body["items"].as_array().unwrap(),
        "victim-empowerment-south-africa",
    );
    assert_eq!(vep["pledged_usd"], format!("{expected:.2}"));
    assert_eq!(
        vep["firm_usd"],
        format!("{expected:.2}"),
        "the EU commitment is firm"
    );
    assert_eq!(
        vep["budget_usd"],
        Value::Null,
        "the report states no budget"
    );
}

#[tokio::test]
async fn parents_roll_up_and_flag_lower_bounds() {
    let app = TestApp::spawn_public().await;
    let body = app.get_json("/api/v1/programmes").await;
    let items = body["items"].as_array().unwrap();
    let rainbow = find(items, "rainbow-strategy");
    assert_eq!(
        rainbow["budget_usd"], "28000000.00",
        "only the green paper states a budget"
    );
    assert_eq!(rainbow["budget_is_lower_bound"], true);
    assert_eq!(
        rainbow["pledged_usd"], "14000000.00",
        "Turkmenistan's self-financing pledge"
    );
    assert_eq!(
        rainbow["gap_usd"], "28000000.00",
        "the pledge is for an unbudgeted part"
    );
    let post_conflict = find(items, "post-conflict-states");
    assert_eq!(
        post_conflict["budget_usd"], "4200000.00",
        "Burundi 3.0 M + Southern Sudan 1.2 M"
    );
    assert_eq!(post_conflict["gap_usd"], "3000000.00");
    assert_eq!(post_conflict["budget_is_lower_bound"], true);
}
