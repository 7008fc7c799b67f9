//! The HTML pages: status codes and the content a reader needs.

use crate::harness::TestApp;

#[tokio::test]
async fn overview_lists_the_whole_portfolio_with_totals() {
    let app = TestApp::spawn_public().await;
    let (status, body) = app.get("/").await;
    assert_eq!(status, 200);
    for title in [
        "Treatment and rehabilitation programme",
        "West Africa: Guinea-Bissau",
        "Victim Empowerment Programme of South Africa",
        "Latin America and the Caribbean",
        "States in the Persian Gulf area",
        "The Rainbow Strategy",
        "Assistance to post-conflict States",
        "Global Synthetics Monitoring",
        "Forensic science programme",
        "United Nations Global Initiative to Fight Human Trafficking",
        "Paris Pact initiative",
        "Stolen Asset Recovery initiative",
    ] {
        assert!(body.contains(title), "overview lists {title}");
    }
    assert!(body.contains("Headline figures"));
    assert!(
        body.contains("at least USD"),
        "totals over unknown budgets are lower bounds"
    );
    assert!(body.contains("USD 12,000,000"), "Guinea-Bissau's gap");
    assert!(body.contains("37 %"), "Guinea-Bissau's coverage");
    assert!(body.contains("<svg"), "coverage bars");
}

#[tokio::test]
async fn overview_sorts_by_gap_largest_first() {
    let app = TestApp::spawn_public().await;
    let (status, page) = app.get("/?sort=gap").await;
    assert_eq!(status, 200);
    let body = &page[page.find("id=\"items-heading\"").expect("the table")..];
    let rainbow = body.find("The Rainbow Strategy").expect("rainbow listed");
    let gb = body
        .find("West Africa: Guinea-Bissau")
        .expect("Guinea-Bissau listed");
    let treatment = body
        .find("Treatment and rehabilitation programme")
        .expect("treatment listed");
    assert!(rainbow < gb, "28 M gap before 12 M gap");
    assert!(gb < treatment, "known gaps before unknown ones");
}

#[tokio::test]
async fn bad_query_parameters_get_a_400_page() {
    let app = TestApp::spawn_public().await;
    let (status, body) = app.get("/?sort=bogus").await;
    assert_eq!(status, 400);
    assert!(body.contains("Unknown sort"));
    assert_eq!(app.get("/?page=-1").await.0, 400);
    assert_eq!(app.get("/?page=abc").await.0, 400);
    assert_eq!(app.get("/?page=99").await.0, 404);
}

#[tokio::test]
async fn programme_page_shows_budget_contributions_alignment_and_sources() {
    let app = TestApp::spawn_public().await;
    let (status, body) = app.get("/programmes/guinea-bissau").await;
    assert_eq!(status, 200);
    for expected in [
        "West Africa: Guinea-Bissau",
        "approx. USD 19,000,000",
        "USD 7,000,000",
        "USD 12,000,000",
        "37 %",
        "International cooperation in criminal justice matters",
        "Prison reform",
        "paras. 5-7",
        "para. 5",
    ] {
        assert!(
            body.contains(expected),
            "Guinea-Bissau page shows {expected}"
        );
    }
}

#[tokio::test]
async fn converted_amounts_show_their_original_currency() {
    let app = TestApp::spawn_public().await;
    let (status, body) = app.get("/programmes/victim-empowerment-south-africa").await;
    assert_eq!(status, 200);
    assert!(body.contains("EUR 18,000,000"), "original amount");
    assert!(body.contains("1 EUR = "), "the rate used");
    assert!(
        body.contains("Budget not stated"),
        "unknown budget said plainly"
    );
    assert!(!body.contains("0 %"), "unknown coverage is never 0 %");
}

#[tokio::test]
async fn unknown_budget_is_shown_as_unknown() {
    let app = TestApp::spawn_public().await;
    let (status, body) = app.get("/programmes/forensic-science").await;
    assert_eq!(status, 200);
    assert!(body.contains("budget not stated"));
    assert!(body.contains("unknown"));
    assert!(!body.contains("Fully funded"));
    assert!(!body.contains("0 %"));
}

#[tokio::test]
async fn component_page_links_back_to_its_parent() {
    let app = TestApp::spawn_public().await;
    let (status, body) = app
        .get("/programmes/rainbow-turkmen-border-initiative")
        .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("href=\"/programmes/rainbow-strategy\""),
        "breadcrumb to the strategy"
    );
    assert!(body.contains("self-financing"));
    assert!(body.contains("Government of Turkmenistan"));
}

#[tokio::test]
async fn result_areas_page_marks_the_areas_nobody_serves() {
    let app = TestApp::spawn_public().await;
    let (status, body) = app.get("/result-areas").await;
    assert_eq!(status, 200);
    for code in [
        "1.1", "1.2", "1.3", "2.1", "2.2", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8",
    ] {
        assert!(
            body.contains(&format!("<strong>{code}</strong>")),
            "result area {code} listed"
        );
    }
    assert!(
        body.contains("title not given in the source"),
        "3.4 has no invented title"
    );
    assert!(body.contains("No item serves this result area"));
    assert!(body.contains("Treatment and rehabilitation of drug-dependent persons"));
}

#[tokio::test]
async fn unknown_pages_are_a_real_404() {
    let app = TestApp::spawn_public().await;
    for path in [
        "/programmes/no-such-programme",
        "/no/such/page",
        "/programmes/%00",
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 404, "{path}");
        assert!(
            body.contains("Page not found"),
            "{path} renders the 404 page"
        );
    }
}

#[tokio::test]
async fn stylesheet_is_served() {
    let app = TestApp::spawn_public().await;
    let response = app
        .client
        .get(app.url("/static/style.css"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/css; charset=utf-8"
    );
}
