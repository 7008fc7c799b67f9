//! The HTML pages: status codes and the content a reader needs.

use crate::harness::{Page, TestApp, select_in, text, text_in};
use portfolio_tracker::domain::auth::Role;

/// The overview's table of programmes and initiatives.
const PORTFOLIO: &str = "section[aria-labelledby=\"items-heading\"] table.portfolio";

/// The titles of a table's rows, top to bottom (the link in each row's header cell).
fn row_titles(page: &Page, table: &str) -> Vec<String> {
    page.texts(&format!("{table} tbody > tr > th[scope=\"row\"] > a"))
}

/// Where the one title that contains `part` is in `titles`.
fn position_of(titles: &[String], part: &str) -> usize {
    let found: Vec<usize> = (0..titles.len())
        .filter(|&i| titles[i].contains(part))
        .collect();
    match found.as_slice() {
        [at] => *at,
        _ => panic!("one title holds {part:?}, not {}: {titles:?}", found.len()),
    }
}

#[tokio::test]
async fn overview_lists_the_whole_portfolio_with_totals() {
    let app = TestApp::spawn_public().await;
    let (status, page) = app.page("/").await;
    assert_eq!(status, 200);
    let titles = row_titles(&page, PORTFOLIO);
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
        position_of(&titles, title);
    }
    assert_eq!(page.text_of("main h2#totals-heading"), "Headline figures");
    let budget = page.figure("main dl.headline", "Budget");
    assert!(
        budget.starts_with("at least USD "),
        "totals over unknown budgets are lower bounds: {budget}"
    );
    let table = page.table(PORTFOLIO);
    let gb = table.row_linking("/programmes/guinea-bissau");
    assert_eq!(gb.text("Gap"), "USD 12,000,000", "Guinea-Bissau's gap");
    let coverage = gb.cell("Coverage");
    assert_eq!(
        select_in(coverage, "span.pct")
            .into_iter()
            .map(text)
            .collect::<Vec<_>>(),
        ["37 %"],
        "Guinea-Bissau's coverage"
    );
    let bars = select_in(coverage, "svg.bar[role=\"img\"]");
    assert_eq!(bars.len(), 1, "a coverage bar");
    assert!(
        bars[0]
            .value()
            .attr("aria-label")
            .is_some_and(|l| !l.is_empty()),
        "the bar says what it shows"
    );
}

#[tokio::test]
async fn overview_sorts_by_gap_largest_first() {
    let app = TestApp::spawn_public().await;
    let (status, page) = app.page("/?sort=gap").await;
    assert_eq!(status, 200);
    let titles = row_titles(&page, PORTFOLIO);
    let rainbow = position_of(&titles, "The Rainbow Strategy");
    let gb = position_of(&titles, "West Africa: Guinea-Bissau");
    let treatment = position_of(&titles, "Treatment and rehabilitation programme");
    assert!(rainbow < gb, "28 M gap before 12 M gap: {titles:?}");
    assert!(gb < treatment, "known gaps before unknown ones: {titles:?}");
}

#[tokio::test]
async fn bad_query_parameters_get_a_400_page() {
    let app = TestApp::spawn_public().await;
    let (status, page) = app.page("/?sort=bogus").await;
    assert_eq!(status, 400);
    assert_eq!(page.text_of("main h1"), "That request cannot be answered");
    let why = page.text_of("main p.lead");
    assert!(why.contains("Unknown sort"), "{why}");
    assert_eq!(app.get("/?page=-1").await.0, 400);
    assert_eq!(app.get("/?page=abc").await.0, 400);
    assert_eq!(app.get("/?page=99").await.0, 404);
}

#[tokio::test]
async fn programme_page_shows_budget_contributions_alignment_and_sources() {
    let app = TestApp::spawn_public().await;
    let (status, page) = app.page("/programmes/guinea-bissau").await;
    assert_eq!(status, 200);
    assert_eq!(page.text_of("main h1"), "West Africa: Guinea-Bissau");
    let funding = "main dl.figures";
    assert_eq!(page.figure(funding, "Budget"), "USD 19,000,000");
    assert_eq!(page.figure(funding, "Pledged"), "USD 7,000,000");
    assert_eq!(page.figure(funding, "Gap"), "USD 12,000,000");
    assert!(
        page.figure(funding, "Coverage").ends_with("37 %"),
        "coverage: {}",
        page.figure(funding, "Coverage")
    );
    let areas = select_in(
        page.figure_element("main dl.facts", "Strategy result areas"),
        "li",
    )
    .into_iter()
    .map(text)
    .collect::<Vec<_>>();
    for area in [
        "International cooperation in criminal justice matters",
        "Prison reform",
    ] {
        assert!(
            areas.iter().any(|a| a.contains(area)),
            "aligned with {area}: {areas:?}"
        );
    }
    let meta = page.text_of("main p.meta");
    assert!(meta.contains("paras. 5-7"), "the item's paragraphs: {meta}");
    let budgets = page.table("section[aria-labelledby=\"budget-heading\"] table");
    assert_eq!(budgets.rows.len(), 1);
    assert_eq!(budgets.rows[0].text("Amount"), "approx. USD 19,000,000");
    assert!(
        budgets.rows[0].text("Source").starts_with("para. 5"),
        "the budget's paragraph: {}",
        budgets.rows[0].text("Source")
    );
}

#[tokio::test]
async fn converted_amounts_show_their_original_currency() {
    let app = TestApp::spawn_public().await;
    let (status, page) = app
        .page("/programmes/victim-empowerment-south-africa")
        .await;
    assert_eq!(status, 200);
    let contributions = page.table("section[aria-labelledby=\"contributions-heading\"] table");
    let eu = contributions.row_linking("/organisations/european-union");
    assert_eq!(
        eu.text("Amount"),
        "more than EUR 18,000,000",
        "original amount, a lower bound as the report says (\"over\")"
    );
    assert!(
        eu.text("Exchange rate").starts_with("1 EUR = "),
        "the rate used: {}",
        eu.text("Exchange rate")
    );
    let unknown = page.text_of("section[aria-labelledby=\"budget-heading\"] p.unknown");
    assert!(
        unknown.starts_with("Budget not stated"),
        "unknown budget said plainly: {unknown}"
    );
    assert_eq!(page.figure("main dl.figures", "Coverage"), "unknown");
    assert!(!page.body.contains("0 %"), "unknown coverage is never 0 %");
}

#[tokio::test]
async fn unknown_budget_is_shown_as_unknown() {
    let app = TestApp::spawn_public().await;
    let (status, page) = app.page("/programmes/forensic-science").await;
    assert_eq!(status, 200);
    let figures = "main dl.figures";
    assert_eq!(page.figure(figures, "Budget"), "budget not stated");
    assert_eq!(page.figure(figures, "Gap"), "unknown (budget not stated)");
    assert_eq!(page.figure(figures, "Coverage"), "unknown");
    let state = page.figure(figures, "State");
    assert_ne!(state, "Fully funded");
    assert!(!page.body.contains("Fully funded"));
    assert!(!page.body.contains("0 %"));
}

#[tokio::test]
async fn component_page_links_back_to_its_parent() {
    let app = TestApp::spawn_public().await;
    let (status, page) = app
        .page("/programmes/rainbow-turkmen-border-initiative")
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        page.texts("nav.crumbs a[href=\"/programmes/rainbow-strategy\"]"),
        [
            "The Rainbow Strategy: addressing the regional dimensions of the opiate threat from Afghanistan"
        ],
        "breadcrumb to the strategy"
    );
    let contributions = page.table("section[aria-labelledby=\"contributions-heading\"] table");
    let turkmenistan = contributions.row_linking("/organisations/government-of-turkmenistan");
    assert_eq!(
        select_in(turkmenistan.cell("Organisation"), "a")
            .into_iter()
            .map(text)
            .collect::<Vec<_>>(),
        ["Government of Turkmenistan"]
    );
    assert_eq!(
        select_in(turkmenistan.cell("Organisation"), "div.sub")
            .into_iter()
            .map(text)
            .collect::<Vec<_>>(),
        ["self-financing"]
    );
}

#[tokio::test]
async fn result_areas_page_marks_the_areas_nobody_serves() {
    let app = TestApp::spawn_public().await;
    let (status, page) = app.page("/result-areas").await;
    assert_eq!(status, 200);
    let listed = page.texts("table.areas tbody > tr > th[scope=\"row\"] > a > strong");
    assert_eq!(
        listed,
        [
            "1.1", "1.2", "1.3", "2.1", "2.2", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7",
            "3.8",
        ],
        "every result area listed once, in order"
    );
    let unserved = page.select("table.areas tbody > tr.unserved");
    assert_eq!(unserved.len(), 1, "only 3.4 is unserved");
    let area = unserved[0];
    assert_eq!(text_in(area, "th > a > strong"), "3.4");
    assert_eq!(
        text_in(area, "th span.muted"),
        "(title not given in the source)",
        "3.4 has no invented title"
    );
    assert_eq!(
        text_in(area, "td strong.state-unserved"),
        "No item serves this result area"
    );
    let treatment = page
        .select("table.areas tbody > tr > th[scope=\"row\"]")
        .into_iter()
        .map(text)
        .find(|t| t.starts_with("3.5 "))
        .expect("a row for 3.5");
    assert!(
        treatment.contains("Treatment and rehabilitation of drug-dependent persons"),
        "{treatment}"
    );
}

#[tokio::test]
async fn unknown_pages_are_a_real_404() {
    let app = TestApp::spawn_public().await;
    for path in [
        "/programmes/no-such-programme",
        "/no/such/page",
        "/programmes/%00",
    ] {
        let (status, page) = app.page(path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(
            page.text_of("main h1"),
            "Page not found",
            "{path} renders the 404 page"
        );
    }
}

/// Browsers ask for /favicon.ico whatever a page links: it answers with the icon the
/// layout links, to anyone (the sign-in page of a private site asks for it too).
#[tokio::test]
async fn the_icon_answers_under_both_names_and_every_page_links_it() {
    let app = TestApp::spawn().await;
    for path in ["/favicon.svg", "/favicon.ico"] {
        let response = app.client.get(app.url(path)).send().await.expect("request");
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        assert_eq!(
            response.headers()["content-type"],
            "image/svg+xml",
            "{path}"
        );
        assert!(
            response.headers()["cache-control"]
                .to_str()
                .is_ok_and(|v| v.starts_with("public, max-age=")),
            "{path} is cacheable"
        );
        let body = response.text().await.expect("body");
        assert!(body.starts_with("<svg"), "{path}: {body}");
    }
    let (_, login) = app.page("/login").await;
    assert_eq!(
        login
            .attr(r#"link[rel="icon"][type="image/svg+xml"]"#, "href")
            .as_deref(),
        Some("/favicon.svg")
    );
    let session = app.signed_in(Role::Admin).await;
    for path in ["/", "/funding", "/admin/organisations", "/no/such/page"] {
        let (_, page) = session.page(path).await;
        assert!(
            page.has(r#"link[rel="icon"][href="/favicon.svg"]"#),
            "{path}"
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

/// Kinds read as words wherever people see them, never as stored spellings.
#[tokio::test]
async fn organisation_kinds_show_as_labels() {
    let app = TestApp::spawn().await;
    let session = app.signed_in(Role::Admin).await;
    let (status, page) = session.page("/admin/organisations").await;
    assert_eq!(status, 200);
    let kinds = page.table("table").column("Kind");
    assert!(kinds.iter().any(|k| k == "Regional body"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "UN entity"), "{kinds:?}");
    assert!(kinds.iter().all(|k| !k.contains('_')), "{kinds:?}");
    let (_, funding) = session.page("/funding").await;
    let donor_kinds = funding
        .table("#donors-heading ~ .table-scroll table")
        .column("Kind");
    assert!(!donor_kinds.is_empty());
    assert!(
        donor_kinds.iter().all(|k| !k.contains('_')),
        "{donor_kinds:?}"
    );
}
