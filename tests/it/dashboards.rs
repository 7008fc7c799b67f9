//! The delegate's dashboards: funding status, filters, CSV, organisation, place, result
//! area and search pages.

use crate::harness::TestApp;

#[tokio::test]
async fn funding_status_ranks_gaps_and_lists_donors() {
    let app = TestApp::spawn_public().await;
    let (status, body) = app.get("/funding").await;
    assert_eq!(status, 200);
    let rainbow = body.find("The Rainbow Strategy").expect("rainbow listed");
    let gb = body
        .find("West Africa: Guinea-Bissau")
        .expect("Guinea-Bissau listed");
    assert!(rainbow < gb, "largest gap first");
    for donor in [
        "European Union",
        "Government of Turkmenistan",
        "Government of Canada",
    ] {
        assert!(body.contains(donor), "donor {donor}");
    }
    assert!(body.contains("Unfunded and seeking funding"));
    assert!(body.contains("2008-2009"), "by biennium");
    assert!(
        body.contains("Theme 3: title not given in the source"),
        "by theme"
    );
    assert!(
        body.contains("role=\"img\""),
        "charts have a text alternative"
    );
}

#[tokio::test]
async fn filters_are_bookmarkable_and_bad_values_are_a_400() {
    let app = TestApp::spawn_public().await;
    let (status, body) = app.get("/funding?organisation=european-union").await;
    assert_eq!(status, 200);
    assert!(body.contains("Victim Empowerment Programme of South Africa"));
    assert!(!body.contains("West Africa: Guinea-Bissau"), "filtered out");
    for bad in [
        "/funding?kind=bogus",
        "/funding?funding=rich",
        "/funding?organisation=nobody",
        "/funding?result_area=9.9",
        "/funding?page=-1",
        "/funding?page=999999999999",
        "/funding?sort=size",
        "/funding.csv?table=secrets",
    ] {
        let (status, body) = app.get(bad).await;
        assert_eq!(status, 400, "{bad}");
        assert!(
            body.contains("That request cannot be answered"),
            "{bad}: error page"
        );
    }
}

#[tokio::test]
async fn csv_has_exactly_the_filtered_rows_with_readable_labels() {
    let app = TestApp::spawn_public().await;
    let response = app
        .client
        .get(app.url("/funding.csv?table=programmes&result_area=3.6"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let text = response.text().await.expect("body");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("Title,Kind,Status,Result areas,Budget (USD)"));
    // Guinea-Bissau and the post-conflict programme serve 3.6 at the top level
    assert_eq!(lines.len(), 3, "header + 2 rows: {text}");
    assert!(text.contains(
        "West Africa: Guinea-Bissau,Programme,Seeking funding,\"1.2, 1.3, 3.6\",19000000.00"
    ));
    assert!(text.contains("\"USD 19,000,000\""), "original amounts");
}

#[tokio::test]
async fn organisation_page_shows_its_money_by_item_and_currency() {
    let app = TestApp::spawn_public().await;
    let (status, body) = app.get("/organisations/european-union").await;
    assert_eq!(status, 200);
    assert!(body.contains("Victim Empowerment Programme of South Africa"));
    assert!(body.contains("EUR 18,000,000"));
    assert!(body.contains("Committed"));
    assert_eq!(app.get("/organisations/no-such-org").await.0, 404);
    assert_eq!(app.get("/organisations/Bad%20Slug").await.0, 404);
}

#[tokio::test]
async fn place_result_area_and_search_pages() {
    let app = TestApp::spawn_public().await;
    let (status, body) = app.get("/places/Guinea-Bissau").await;
    assert_eq!(status, 200);
    assert!(body.contains("West Africa: Guinea-Bissau"));
    assert_eq!(app.get("/places/Atlantis").await.0, 404);

    let (status, body) = app.get("/result-areas/3.4").await;
    assert_eq!(status, 200);
    assert!(body.contains("No item serves this result area"));
    let (status, body) = app.get("/result-areas/3.6").await;
    assert_eq!(status, 200);
    assert!(body.contains("West Africa: Guinea-Bissau"));
    assert_eq!(app.get("/result-areas/9.9").await.0, 404);

    let (status, body) = app.get("/search?q=canada").await;
    assert_eq!(status, 200);
    assert!(body.contains("/organisations/government-of-canada"));
    let (status, body) = app.get("/search?q=guinea").await;
    assert_eq!(status, 200);
    assert!(body.contains("/programmes/guinea-bissau") && body.contains("/places/Guinea-Bissau"));
    assert_eq!(
        app.get("/search?q=%25_%5C").await.0,
        200,
        "LIKE wildcards are literal"
    );
    assert_eq!(
        app.get(&format!("/search?q={}", "x".repeat(201))).await.0,
        400
    );
}

#[tokio::test]
async fn overview_answers_the_largest_gaps_at_a_glance() {
    let app = TestApp::spawn_public().await;
    let (status, body) = app.get("/").await;
    assert_eq!(status, 200);
    let gaps = &body[body.find("Largest funding gaps").expect("section")..];
    let green = gaps
        .find("Green paper")
        .expect("green paper is the largest gap");
    let gb = gaps.find("Guinea-Bissau").expect("then Guinea-Bissau");
    assert!(green < gb);
    assert!(body.contains("Funding pipeline"));
}

#[tokio::test]
async fn every_table_has_a_csv_of_its_rows() {
    let app = TestApp::spawn_public().await;
    let csv = |path: &'static str| {
        let app = &app;
        async move {
            let r = app.client.get(app.url(path)).send().await.expect("request");
            assert_eq!(r.status().as_u16(), 200, "{path}");
            r.text().await.expect("body")
        }
    };
    let all = csv("/funding.csv?table=items").await;
    let rows = all.split("\r\n").filter(|l| !l.is_empty()).count() - 1;
    let items: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&app.db.pool)
        .await
        .expect("count");
    assert_eq!(
        rows as i64, items,
        "the overview's table: every item, components included"
    );
    let eu = csv("/funding.csv?table=contributions&organisation=european-union").await;
    assert!(eu.contains(
        "European Union,Victim Empowerment Programme of South Africa,Committed,18000000.00,EUR"
    ));
    assert!(
        !eu.contains("Canada"),
        "only that organisation's contributions"
    );
    let (_, page) = app.get("/organisations/european-union").await;
    assert!(page.contains("/funding.csv?table=contributions&amp;organisation=european-union"));
    let place = csv("/funding.csv?table=items&place=Guinea-Bissau").await;
    assert!(place.contains("West Africa: Guinea-Bissau"));
}

#[tokio::test]
async fn place_links_with_spaces_lead_to_their_page() {
    let app = TestApp::spawn_public().await;
    let (_, page) = app.get("/programmes/guinea-bissau").await;
    assert!(page.contains("href=\"/places/West%20Africa\""));
    let (status, body) = app.get("/places/West%20Africa").await;
    assert_eq!(status, 200);
    assert!(body.contains("West Africa: Guinea-Bissau"));
}
