//! The delegate's dashboards: funding status, filters, CSV, organisation, place, result
//! area and search pages.

use crate::harness::{Page, TestApp, select_in, text};

/// The table of the /funding section headed by the element with this id.
fn section_table(id: &str) -> String {
    format!("main section[aria-labelledby=\"{id}\"] table")
}

/// The texts of the row headers of a table (each row's first cell), top to bottom.
fn row_headers(page: &Page, table: &str) -> Vec<String> {
    page.texts(&format!("{table} tbody > tr > th[scope=\"row\"]"))
}

/// The titles a table links to in its row headers, top to bottom.
fn row_links(page: &Page, table: &str) -> Vec<String> {
    page.texts(&format!("{table} tbody > tr > th[scope=\"row\"] > a"))
}

/// Where the one entry that contains `part` is in `list`.
fn position(list: &[String], part: &str) -> usize {
    let found: Vec<usize> = (0..list.len())
        .filter(|&i| list[i].contains(part))
        .collect();
    match found.as_slice() {
        [at] => *at,
        _ => panic!("one entry holds {part:?}, not {}: {list:?}", found.len()),
    }
}

#[tokio::test]
async fn funding_status_ranks_gaps_and_lists_donors() {
    let app = TestApp::spawn_public().await;
    let (status, page) = app.page("/funding").await;
    assert_eq!(status, 200);
    let by_item = row_links(&page, &section_table("by-item-heading"));
    assert!(
        position(&by_item, "The Rainbow Strategy")
            < position(&by_item, "West Africa: Guinea-Bissau"),
        "largest gap first: {by_item:?}"
    );
    assert_eq!(
        page.text_of("main h2#unfunded-heading"),
        "Unfunded and seeking funding, largest gap first"
    );
    let unfunded = page.table(&section_table("unfunded-heading"));
    let gaps = unfunded.column("Gap");
    let gb = position(&unfunded.column("Title"), "West Africa: Guinea-Bissau");
    assert_eq!(gaps[gb], "USD 12,000,000");
    let donors = row_links(&page, &section_table("donors-heading"));
    for donor in [
        "European Union",
        "Government of Turkmenistan",
        "Government of Canada",
    ] {
        assert!(
            donors.iter().any(|d| d == donor),
            "donor {donor}: {donors:?}"
        );
    }
    let bienniums = row_headers(&page, &section_table("bienniums-heading"));
    assert!(
        bienniums.iter().any(|b| b == "2008-2009"),
        "by biennium: {bienniums:?}"
    );
    let themes = row_headers(&page, &section_table("themes-heading"));
    assert!(
        themes
            .iter()
            .any(|t| t == "Theme 3: title not given in the source"),
        "by theme: {themes:?}"
    );
    let charts = page.select("main table svg[role=\"img\"]");
    assert!(!charts.is_empty(), "charts in the tables");
    for chart in charts {
        assert!(
            chart
                .value()
                .attr("aria-label")
                .is_some_and(|l| !l.trim().is_empty()),
            "charts have a text alternative"
        );
    }
}

#[tokio::test]
async fn filters_are_bookmarkable_and_bad_values_are_a_400() {
    let app = TestApp::spawn_public().await;
    let (status, page) = app.page("/funding?organisation=european-union").await;
    assert_eq!(status, 200);
    let by_item = row_links(&page, &section_table("by-item-heading"));
    assert_eq!(
        by_item,
        ["Victim Empowerment Programme of South Africa"],
        "only what the EU funds"
    );
    assert!(
        !page.body.contains("West Africa: Guinea-Bissau"),
        "filtered out"
    );
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
        let (status, page) = app.page(bad).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(
            page.text_of("main h1"),
            "That request cannot be answered",
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
    let (status, page) = app.page("/organisations/european-union").await;
    assert_eq!(status, 200);
    assert_eq!(page.text_of("main h1"), "European Union");
    let by_item = page.table(&section_table("by-item-heading"));
    let vep = by_item.row("Victim Empowerment Programme of South Africa");
    assert_eq!(
        vep.text("Amount"),
        "more than EUR 18,000,000",
        "the report says \"over\""
    );
    assert_eq!(vep.text("Status"), "Committed");
    let by_status = page.table(&section_table("totals-heading"));
    assert_eq!(by_status.row("Committed").text("Contributions"), "1");
    assert_eq!(app.get("/organisations/no-such-org").await.0, 404);
    assert_eq!(app.get("/organisations/Bad%20Slug").await.0, 404);
}

#[tokio::test]
async fn place_result_area_and_search_pages() {
    let app = TestApp::spawn_public().await;
    let (status, page) = app.page("/places/Guinea-Bissau").await;
    assert_eq!(status, 200);
    assert_eq!(page.text_of("main h1"), "Guinea-Bissau");
    let items = row_links(&page, "main table");
    assert!(
        items.iter().any(|t| t == "West Africa: Guinea-Bissau"),
        "{items:?}"
    );
    assert_eq!(app.get("/places/Atlantis").await.0, 404);

    let (status, page) = app.page("/result-areas/3.4").await;
    assert_eq!(status, 200);
    assert_eq!(
        page.text_of("main p.callout"),
        "No item serves this result area."
    );
    assert!(!page.has("main table"), "no rows");
    let (status, page) = app.page("/result-areas/3.6").await;
    assert_eq!(status, 200);
    let items = row_links(&page, "main table");
    assert!(
        items.iter().any(|t| t == "West Africa: Guinea-Bissau"),
        "{items:?}"
    );
    assert!(!page.has("main p.callout"));
    assert_eq!(app.get("/result-areas/9.9").await.0, 404);

    let (status, page) = app.page("/search?q=canada").await;
    assert_eq!(status, 200);
    assert_eq!(
        search_hits(&page, "orgs-heading"),
        ["/organisations/government-of-canada"]
    );
    let (status, page) = app.page("/search?q=guinea").await;
    assert_eq!(status, 200);
    assert!(
        search_hits(&page, "items-heading").contains(&"/programmes/guinea-bissau".to_string()),
        "{:?}",
        search_hits(&page, "items-heading")
    );
    assert!(
        search_hits(&page, "places-heading").contains(&"/places/Guinea-Bissau".to_string()),
        "{:?}",
        search_hits(&page, "places-heading")
    );
    assert_eq!(
        app.get(&format!("/search?q={}", "x".repeat(201))).await.0,
        400
    );
}

/// The links a search results section (headed by the element with this id) lists.
fn search_hits(page: &Page, heading: &str) -> Vec<String> {
    page.attrs(
        &format!("main section[aria-labelledby=\"{heading}\"] li > a"),
        "href",
    )
}

/// Every link of every search results section, items, organisations and places alike.
fn all_search_hits(page: &Page) -> Vec<String> {
    [
        "items-heading",
        "orgs-heading",
        "places-heading",
        "areas-heading",
    ]
    .into_iter()
    .flat_map(|h| search_hits(page, h))
    .collect()
}

#[tokio::test]
async fn search_never_treats_wildcards_as_patterns() {
    let app = TestApp::spawn_public().await;
    // Punctuation never decides a match, so a query of nothing else finds nothing; one that
    // treated these characters as patterns (`%` any text, `_` any character) would match
    // everything.
    for q in ["%25_%5C", "%25", "_", "%5C"] {
        let (status, page) = app.page(&format!("/search?q={q}")).await;
        assert_eq!(status, 200, "{q}");
        assert_eq!(
            all_search_hits(&page),
            Vec::<String>::new(),
            "{q} matches nothing"
        );
        assert!(
            page.text_of("main > p").starts_with("Nothing matches"),
            "{q}: {}",
            page.text_of("main > p")
        );
    }

    sqlx::raw_sql(
        "INSERT INTO items (slug, title, kind, status, published)
              VALUES ('literal-pattern', 'Coverage of 100%_\\ pilot', 'programme', 'ongoing', true),
                     ('near-miss', 'Coverage of 100 pilot', 'programme', 'ongoing', true);",
    )
    .execute(&app.db.pool)
    .await
    .expect("two items");
    app.dashboards_rebuilt().await;
    // `_` is not "any character", `%` not "any text"
    for q in ["c_verage", "cov%25pilot", "pil%25ot"] {
        let (status, page) = app.page(&format!("/search?q={q}")).await;
        assert_eq!(status, 200, "{q}");
        assert_eq!(all_search_hits(&page), Vec::<String>::new(), "{q}");
    }
    // and the punctuation of a title is as good as a space
    let (status, page) = app.page("/search?q=100%25_%5C+pilot").await;
    assert_eq!(status, 200);
    assert_eq!(
        page.texts("main section[aria-labelledby=\"items-heading\"] li > a"),
        ["Coverage of 100%_\\ pilot", "Coverage of 100 pilot"]
    );
}

#[tokio::test]
async fn search_ignores_case_accents_hyphens_and_punctuation() {
    let app = TestApp::spawn_public().await;
    for q in ["guinea+bissau", "GUINEA-BISSAU", "Guinea%E2%80%93Bissau"] {
        let (status, page) = app.page(&format!("/search?q={q}")).await;
        assert_eq!(status, 200, "{q}");
        assert_eq!(
            search_hits(&page, "items-heading")
                .first()
                .map(String::as_str),
            Some("/programmes/guinea-bissau"),
            "{q}: the item titled Guinea-Bissau comes first"
        );
        assert!(
            search_hits(&page, "places-heading").contains(&"/places/Guinea-Bissau".to_string()),
            "{q}"
        );
    }
    sqlx::raw_sql(
        "INSERT INTO places (name, kind) VALUES ('Côte d’Ivoire', 'country');
         INSERT INTO item_places (item_id, place_id)
              SELECT i.id, p.id FROM items i, places p
               WHERE i.slug = 'guinea-bissau' AND p.name = 'Côte d’Ivoire';",
    )
    .execute(&app.db.pool)
    .await
    .expect("a place");
    app.dashboards_rebuilt().await;
    let (_, page) = app.page("/search?q=Cote+d%27Ivoire").await;
    assert_eq!(
        page.texts("main section[aria-labelledby=\"places-heading\"] li > a"),
        ["Côte d’Ivoire"]
    );
    // result areas by code and by title
    let (_, page) = app.page("/search?q=1.1").await;
    assert!(
        search_hits(&page, "areas-heading")
            .first()
            .map(String::as_str)
            == Some("/result-areas/1.1"),
        "{:?}",
        search_hits(&page, "areas-heading")
    );
}

#[tokio::test]
async fn overview_answers_the_largest_gaps_at_a_glance() {
    let app = TestApp::spawn_public().await;
    let (status, page) = app.page("/").await;
    assert_eq!(status, 200);
    assert_eq!(page.text_of("main h2#gaps-heading"), "Largest funding gaps");
    let gaps = page.texts("main section[aria-labelledby=\"gaps-heading\"] ol.gaps > li > a");
    let green = gaps
        .iter()
        .position(|g| g.contains("Green paper"))
        .unwrap_or_else(|| panic!("the green paper is listed: {gaps:?}"));
    assert_eq!(green, 0, "the green paper is the largest gap: {gaps:?}");
    let gb = position(&gaps, "West Africa: Guinea-Bissau");
    assert!(green < gb, "then Guinea-Bissau: {gaps:?}");
    assert_eq!(page.text_of("main h2#pipeline-heading"), "Funding pipeline");
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
    let (_, page) = app.page("/organisations/european-union").await;
    assert!(
        page.has(
            "main section[aria-labelledby=\"by-item-heading\"] \
             a[href=\"/funding.csv?table=contributions&organisation=european-union\"][download]"
        ),
        "the organisation's contributions link to their CSV"
    );
    let place = csv("/funding.csv?table=items&place=Guinea-Bissau").await;
    assert!(place.contains("West Africa: Guinea-Bissau"));
}

#[tokio::test]
async fn place_links_with_spaces_lead_to_their_page() {
    let app = TestApp::spawn_public().await;
    let (_, page) = app.page("/programmes/guinea-bissau").await;
    let places = page.figure_element("main dl.facts", "Countries and regions");
    let links: Vec<(String, String)> = select_in(places, "a")
        .into_iter()
        .map(|a| (text(a), a.value().attr("href").unwrap_or("").to_string()))
        .collect();
    assert!(
        links.contains(&(
            "West Africa".to_string(),
            "/places/West%20Africa".to_string()
        )),
        "{links:?}"
    );
    let (status, page) = app.page("/places/West%20Africa").await;
    assert_eq!(status, 200);
    assert_eq!(page.text_of("main h1"), "West Africa");
    let items = row_links(&page, "main table");
    assert!(
        items.iter().any(|t| t == "West Africa: Guinea-Bissau"),
        "{items:?}"
    );
}

#[tokio::test]
async fn coverage_says_what_it_relates_to_and_pledges_elsewhere_are_not_unfunded() {
    let app = TestApp::spawn_public().await;
    // The Rainbow Strategy: its one stated budget (the green paper's, USD 28M) has no
    // pledge; its pledges go to parts whose budget the report does not state.
    let (status, page) = app.page("/programmes/rainbow-strategy").await;
    assert_eq!(status, 200);
    let coverage = page.figure("main dl.figures", "Coverage");
    assert!(coverage.contains("0 %"), "{coverage}");
    assert!(
        coverage.contains("of the stated USD 28,000,000 budget; USD")
            && coverage.ends_with("pledged to parts without a stated budget"),
        "{coverage}"
    );
    assert_eq!(page.figure("main dl.figures", "State"), "Partly funded");

    let (_, page) = app.page("/").await;
    let scope = page.text_of("main #gaps-scope");
    let gaps = page.select("main section[aria-labelledby=\"gaps-heading\"] ol.gaps > li");
    let budgeted: usize = scope
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a count first: {scope}"));
    assert!(gaps.len() <= budgeted, "{scope}");
    assert!(
        scope.ends_with("without components state a budget: only their gaps are known."),
        "{scope}"
    );
}
