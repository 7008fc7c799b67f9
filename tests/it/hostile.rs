//! Hostile input: markup, spreadsheet formulas and SQL typed into every field people fill
//! in come out inert on every page, CSV table and JSON answer; and what exists only on
//! drafts (a place, an organisation) does not exist for delegates, not even in a menu or
//! a search.

use crate::harness::{Page, Session, TestApp};
use portfolio_tracker::domain::auth::Role;
use rust_decimal::Decimal;
use std::str::FromStr;

const FORMULA: &str = r#"=HYPERLINK("http://evil.example","x")"#;
const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = r#""><img src=x onerror=alert(1)>"#;
const SQL: &str = "'; DROP TABLE items; --";

/// A hostile value for a field: starts with `start` (a formula, or a character a
/// spreadsheet reads as the start of one), then markup and SQL.
fn hostile(start: &str) -> String {
    format!("{start} {SCRIPT} {IMG} {SQL}")
}

/// The hostile item's title.
fn title() -> String {
    hostile(FORMULA)
}

/// The hostile place's name (a place's name is also its address: no control characters).
fn place_name() -> String {
    hostile("+cmd|' /C calc'!A0")
}

/// Runs one statement with its parameters bound (the hostile values are data, never SQL).
async fn exec(app: &TestApp, sql: &str, binds: &[String]) {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
    for value in binds {
        query = query.bind(value.clone());
    }
    query
        .execute(&app.db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A published programme and a draft one with hostile text in every field people fill
/// in, a hostile organisation (funding and taking part) and place, and hostile strategy
/// titles.
async fn app_with_hostile_records() -> TestApp {
    let app = TestApp::spawn().await;
    exec(
        &app,
        "INSERT INTO organisations (slug, name, acronym, kind, source_paras)
         VALUES ('hostile-donor', $1, $2, 'ngo', $3)",
        &[hostile("@SUM(1+1)"), hostile("-2+3"), hostile("+1+1")],
    )
    .await;
    exec(
        &app,
        "INSERT INTO places (name, kind) VALUES ($1, 'country')",
        &[place_name()],
    )
    .await;
    exec(
        &app,
        "INSERT INTO items (slug, title, kind, status, status_note, summary, description,
                            period, source_paras, internal_notes, published)
         VALUES ('hostile', $1, 'programme', 'ongoing', $2, $3, $4, $5, $6, $7, true),
                ('hostile-draft', $8, 'programme', 'planned', $2, $3, $4, $5, $6, $7, false)",
        &[
            title(),
            hostile("\t=1+1"),
            hostile("-1+1"),
            hostile("@A1"),
            hostile("=2008"),
            hostile("\r=1+1"),
            hostile("=NOTE()"),
            hostile("\t=DRAFT()"),
        ],
    )
    .await;
    exec(
        &app,
        "INSERT INTO item_places (item_id, place_id)
         SELECT i.id, p.id FROM items i, places p WHERE i.slug LIKE 'hostile%' AND p.name = $1",
        &[place_name()],
    )
    .await;
    exec(
        &app,
        "INSERT INTO item_organisations (item_id, org_id, role, source_para)
         SELECT i.id, o.id, 'partner', $1 FROM items i, organisations o
          WHERE i.slug LIKE 'hostile%' AND o.slug = 'hostile-donor'",
        &[hostile("=ROLE()")],
    )
    .await;
    exec(
        &app,
        "INSERT INTO alignments (item_id, result_area_id, source_para, note)
         SELECT i.id, a.id, $1, $2 FROM items i, result_areas a
          WHERE i.slug LIKE 'hostile%' AND a.code = '1.1'",
        &[hostile("-ALIGN"), hostile("@ALIGN")],
    )
    .await;
    exec(
        &app,
        "INSERT INTO budgets (item_id, amount, currency, as_of, period, source_para, note)
         SELECT id, 1000, 'USD', '2008-02-07', $1, $2, $3 FROM items WHERE slug LIKE 'hostile%'",
        &[hostile("=PERIOD"), hostile("+BUDGET"), hostile("-BUDGET")],
    )
    .await;
    exec(
        &app,
        "INSERT INTO contributions (item_id, org_id, amount, currency, status, as_of,
                                    source_para, note)
         SELECT i.id, o.id, 400, 'USD', 'pledged', '2008-02-07', $1, $2
           FROM items i, organisations o
          WHERE i.slug LIKE 'hostile%' AND o.slug = 'hostile-donor'",
        &[hostile("-GIFT"), hostile("=GIFT()")],
    )
    .await;
    exec(
        &app,
        "UPDATE result_areas SET title = $1 WHERE code = '1.1'",
        &[hostile("=AREA()")],
    )
    .await;
    exec(
        &app,
        "UPDATE themes SET title = $1 WHERE code = '1'",
        &[hostile("@THEME")],
    )
    .await;
    app.dashboards_rebuilt().await;
    app
}

/// No element that runs script: no `script`, no event handler attribute, no
/// `javascript:` address.
fn assert_inert_html(path: &str, body: &str) {
    let page = Page::parse(body);
    for element in page.select("*") {
        let element = element.value();
        assert_ne!(element.name(), "script", "{path}: a script element");
        for (name, value) in element.attrs() {
            assert!(
                !name.to_ascii_lowercase().starts_with("on"),
                "{path}: <{} {name}={value:?}>",
                element.name()
            );
            assert!(
                !value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("javascript:"),
                "{path}: <{} {name}={value:?}>",
                element.name()
            );
        }
    }
    assert!(!page.has("img[src=x]"), "{path}: the planted image");
}

/// Every cell a spreadsheet would read as a formula is a plain number.
fn assert_defused_csv(path: &str, body: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body.as_bytes());
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| {
            r.unwrap_or_else(|e| panic!("{path}: {e}"))
                .iter()
                .map(String::from)
                .collect()
        })
        .collect();
    assert!(!rows.is_empty(), "{path}: a header at least");
    for row in &rows {
        for cell in row {
            if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                assert!(
                    Decimal::from_str(cell).is_ok(),
                    "{path}: a formula cell {cell:?}"
                );
            }
        }
    }
    rows
}

/// Whether some cell of `rows` is `value`, defused.
fn has_defused(rows: &[Vec<String>], value: &str) -> bool {
    let defused = format!("'{value}");
    rows.iter().flatten().any(|cell| *cell == defused)
}

const CSV_TABLES: [&str; 8] = [
    "programmes",
    "items",
    "contributions",
    "donors",
    "themes",
    "result-areas",
    "places",
    "bienniums",
];

/// Every output a reader gets, checked; `staff` adds the drafts' and history pages.
async fn assert_outputs_inert(session: &Session, who: &str, staff: bool) {
    let place = portfolio_tracker::web::view::place_href(&place_name());
    let place_query: String = form_urlencoded::byte_serialize(place_name().as_bytes()).collect();
    let mut pages = vec![
        "/".to_string(),
        "/?sort=title".to_string(),
        "/funding".to_string(),
        "/funding?organisation=hostile-donor".to_string(),
        format!("/funding?place={place_query}"),
        "/funding?theme=1&result_area=1.1".to_string(),
        "/programmes/hostile".to_string(),
        place.clone(),
        "/organisations/hostile-donor".to_string(),
        "/result-areas".to_string(),
        "/result-areas/1.1".to_string(),
        "/search?q=hyperlink".to_string(),
        "/search?q=script".to_string(),
        "/search?q=calc".to_string(),
        "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_string(),
    ];
    if staff {
        pages.extend(
            [
                "/programmes/hostile-draft",
                "/programmes/hostile/history",
                "/activity",
            ]
            .map(String::from),
        );
    }
    for path in &pages {
        let (status, body) = session.get(path).await;
        assert_eq!(status, 200, "{who}: {path}");
        assert_inert_html(&format!("{who}: {path}"), &body);
    }

    // The text is shown, as text.
    let (_, item) = session.page("/programmes/hostile").await;
    assert!(
        item.text_of("main h1").contains(&title()),
        "{who}: the title"
    );
    let (_, place_page) = session.page(&place).await;
    assert!(
        place_page.text_of("main h1").contains(&place_name()),
        "{who}: the place's name"
    );
    let (_, search) = session.page("/search?q=script").await;
    assert!(
        search.main_text().contains(SCRIPT),
        "{who}: search finds the hostile records"
    );

    for table in CSV_TABLES {
        let path = format!("/funding.csv?table={table}");
        let (status, body) = session.get(&path).await;
        assert_eq!(status, 200, "{who}: {path}");
        let rows = assert_defused_csv(&format!("{who}: {path}"), &body);
        let expected = match table {
            "programmes" | "items" => Some(title()),
            "contributions" | "donors" => Some(hostile("@SUM(1+1)")),
            "places" => Some(place_name()),
            _ => None,
        };
        if let Some(expected) = expected {
            assert!(
                has_defused(&rows, &expected),
                "{who}: {path} has {expected:?} defused"
            );
        }
        if table == "contributions" {
            assert!(has_defused(&rows, &hostile("-GIFT")), "{who}: the source");
        }
    }
    // filtered tables too
    let (_, body) = session
        .get("/funding.csv?table=contributions&organisation=hostile-donor")
        .await;
    let rows = assert_defused_csv(&format!("{who}: contributions of the donor"), &body);
    assert!(rows.len() > 1, "{who}: the donor's contributions");

    let (status, body) = session
        .get("/api/v1/programmes?organisation=hostile-donor")
        .await;
    assert_eq!(status, 200, "{who}: the API");
    let json: serde_json::Value = serde_json::from_str(&body).expect("the API answers JSON");
    let titles: Vec<&str> = json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["title"].as_str())
        .collect();
    assert!(
        titles.contains(&title().as_str()),
        "{who}: the API returns the title unchanged: {titles:?}"
    );
    assert_eq!(
        titles.iter().any(|t| t.contains("DRAFT()")),
        staff,
        "{who}: the draft in the API"
    );
}

#[tokio::test]
async fn hostile_text_in_every_field_comes_out_inert_for_every_audience() {
    let app = app_with_hostile_records().await;
    // The statement in the text never ran.
    let items: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&app.db.pool)
        .await
        .expect("items still there");
    assert!(items > 2);

    let staff = app.signed_in(Role::Staff).await;
    assert_outputs_inert(&staff, "staff", true).await;
    let viewer = app.signed_in(Role::Viewer).await;
    assert_outputs_inert(&viewer, "viewer", false).await;
    assert_eq!(viewer.get("/programmes/hostile-draft").await.0, 404);

    // The admin forms show the values in their fields, escaped.
    let admin = app.signed_in(Role::Admin).await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM items WHERE slug = 'hostile'")
        .fetch_one(&app.db.pool)
        .await
        .expect("the item");
    let org: i64 = sqlx::query_scalar("SELECT id FROM organisations WHERE slug = 'hostile-donor'")
        .fetch_one(&app.db.pool)
        .await
        .expect("the organisation");
    for path in [
        format!("/admin/items/{id}/edit"),
        format!("/admin/items/{id}/money"),
        format!("/admin/organisations/{org}/edit"),
        "/admin/items?q=hyperlink".to_string(),
        "/admin/audit".to_string(),
        "/admin/organisations".to_string(),
        "/admin/items".to_string(),
        "/admin/result-areas".to_string(),
    ] {
        let (status, body) = admin.get(&path).await;
        assert_eq!(status, 200, "admin: {path}");
        assert_inert_html(&format!("admin: {path}"), &body);
    }
}

/// A draft programme in a place and with donors that no published item has.
async fn app_with_a_secret_draft() -> TestApp {
    let app = TestApp::spawn().await;
    sqlx::raw_sql(
        "INSERT INTO organisations (slug, name, kind) VALUES
             ('quiet-donor', 'Quiet Donor Foundation', 'ngo'),
             ('quiet-partner', 'Quiet Partner Agency', 'ngo');
         INSERT INTO places (name, kind) VALUES ('Atlantis', 'country');
         INSERT INTO items (slug, title, kind, status, published)
              VALUES ('quiet-draft', 'Quiet draft programme', 'programme', 'planned', false);
         INSERT INTO item_places (item_id, place_id)
              SELECT i.id, p.id FROM items i, places p
               WHERE i.slug = 'quiet-draft' AND p.name = 'Atlantis';
         INSERT INTO contributions (item_id, org_id, amount, currency, status, as_of)
              SELECT i.id, o.id, 5000, 'USD', 'pledged', '2008-02-07' FROM items i, organisations o
               WHERE i.slug = 'quiet-draft' AND o.slug = 'quiet-donor';
         INSERT INTO item_organisations (item_id, org_id, role)
              SELECT i.id, o.id, 'partner' FROM items i, organisations o
               WHERE i.slug = 'quiet-draft' AND o.slug = 'quiet-partner';",
    )
    .execute(&app.db.pool)
    .await
    .expect("the draft");
    app.dashboards_rebuilt().await;
    app
}

const SECRETS: [&str; 4] = [
    "Quiet Donor Foundation",
    "quiet-donor",
    "Quiet Partner Agency",
    "Atlantis",
];

#[tokio::test]
async fn places_and_organisations_named_on_drafts_alone_do_not_exist_for_viewers() {
    let app = app_with_a_secret_draft().await;
    let viewer = app.signed_in(Role::Viewer).await;
    let staff = app.signed_in(Role::Staff).await;

    for path in [
        "/places/Atlantis",
        "/organisations/quiet-donor",
        "/organisations/quiet-partner",
    ] {
        assert_eq!(viewer.get(path).await.0, 404, "viewer: {path}");
        assert_eq!(staff.get(path).await.0, 200, "staff: {path}");
    }
    // No menu, search, table or answer names them.
    for path in [
        "/",
        "/funding",
        "/search?q=quiet",
        "/search?q=atlantis",
        "/api/v1/programmes?per_page=500",
        "/funding.csv?table=donors",
        "/funding.csv?table=places",
        "/funding.csv?table=contributions",
    ] {
        let (status, body) = viewer.get(path).await;
        assert_eq!(status, 200, "viewer: {path}");
        for secret in SECRETS {
            assert!(!body.contains(secret), "viewer: {path} names {secret}");
        }
    }
    // Filtering by them is refused as for a name that never existed.
    for (path, unknown) in [
        (
            "/funding?organisation=quiet-donor",
            "/funding?organisation=no-such-org",
        ),
        ("/funding?place=Atlantis", "/funding?place=Nowhere"),
        (
            "/funding.csv?table=contributions&organisation=quiet-partner",
            "/funding.csv?table=contributions&organisation=no-such-org",
        ),
        (
            "/api/v1/programmes?place=Atlantis",
            "/api/v1/programmes?place=Nowhere",
        ),
    ] {
        let (status, _) = viewer.get(path).await;
        assert_eq!(
            (status, viewer.get(unknown).await.0),
            (400, 400),
            "viewer: {path}"
        );
        assert_eq!(staff.get(path).await.0, 200, "staff: {path}");
    }

    // Staff are offered them, and find them.
    let (_, funding) = staff.page("/funding").await;
    assert!(funding.has("select[name=organisation] option[value=quiet-donor]"));
    assert!(funding.has("select[name=place] option[value=Atlantis]"));
    let (_, viewer_funding) = viewer.page("/funding").await;
    assert!(viewer_funding.has("select[name=organisation] option[value=government-of-canada]"));
    let (_, search) = staff.get("/search?q=quiet").await;
    assert!(search.contains("Quiet Donor Foundation") && search.contains("Quiet Partner Agency"));
    let (_, search) = staff.get("/search?q=atlantis").await;
    assert!(search.contains("/places/Atlantis"));

    // Published, the draft brings them into the delegates' view.
    sqlx::query("UPDATE items SET published = true WHERE slug = 'quiet-draft'")
        .execute(&app.db.pool)
        .await
        .expect("publish");
    app.dashboards_rebuilt().await;
    for path in [
        "/places/Atlantis",
        "/organisations/quiet-donor",
        "/organisations/quiet-partner",
    ] {
        assert_eq!(viewer.get(path).await.0, 200, "viewer, published: {path}");
    }
    let (_, search) = viewer.get("/search?q=quiet").await;
    assert!(search.contains("Quiet Donor Foundation"));
}

#[tokio::test]
async fn anonymous_public_readers_get_no_place_or_organisation_of_a_draft() {
    let app = TestApp::spawn_public().await;
    sqlx::raw_sql(
        "INSERT INTO organisations (slug, name, kind) VALUES ('quiet-donor', 'Quiet Donor Foundation', 'ngo');
         INSERT INTO places (name, kind) VALUES ('Atlantis', 'country');
         INSERT INTO items (slug, title, kind, status, published)
              VALUES ('quiet-draft', 'Quiet draft programme', 'programme', 'planned', false);
         INSERT INTO item_places (item_id, place_id)
              SELECT i.id, p.id FROM items i, places p WHERE i.slug = 'quiet-draft' AND p.name = 'Atlantis';
         INSERT INTO contributions (item_id, org_id, amount, currency, status, as_of)
              SELECT i.id, o.id, 5000, 'USD', 'pledged', '2008-02-07' FROM items i, organisations o
               WHERE i.slug = 'quiet-draft' AND o.slug = 'quiet-donor';",
    )
    .execute(&app.db.pool)
    .await
    .expect("the draft");
    app.dashboards_rebuilt().await;
    assert_eq!(app.get("/places/Atlantis").await.0, 404);
    assert_eq!(app.get("/organisations/quiet-donor").await.0, 404);
    for path in ["/funding", "/search?q=quiet", "/search?q=atlantis"] {
        let (_, body) = app.get(path).await;
        assert!(
            !body.contains("Quiet Donor") && !body.contains("Atlantis"),
            "{path}"
        );
    }
}

/// Search lists at most 200 programmes and 100 organisations or places per query: the
/// audience's filter comes first, so drafts never take a delegate's places in the list.
#[tokio::test]
async fn search_filters_by_audience_before_its_limit() {
    let app = TestApp::spawn().await;
    sqlx::raw_sql(
        "INSERT INTO items (slug, title, kind, status, published)
              SELECT 'quokka-draft-' || n, 'Quokka draft ' || n, 'programme', 'planned', false
                FROM generate_series(1, 250) AS n;
         INSERT INTO items (slug, title, kind, status, published)
              VALUES ('quokka-seen', 'Quokka seen', 'programme', 'planned', true);
         INSERT INTO organisations (slug, name, kind)
              SELECT 'quokka-backer-' || n, 'Quokka Backer ' || lpad(n::text, 3, '0'), 'ngo'
                FROM generate_series(1, 150) AS n;
         INSERT INTO organisations (slug, name, kind) VALUES ('quokka-seen-donor', 'Quokka Seen Donor', 'ngo');
         INSERT INTO places (name, kind)
              SELECT 'Quokkaland ' || lpad(n::text, 3, '0'), 'region' FROM generate_series(1, 150) AS n;
         INSERT INTO places (name, kind) VALUES ('Quokkaland Seen', 'region');
         INSERT INTO contributions (item_id, org_id, amount, currency, status, as_of)
              SELECT i.id, o.id, 10, 'USD', 'pledged', '2008-02-07' FROM items i, organisations o
               WHERE (i.slug LIKE 'quokka-draft-%' AND o.slug LIKE 'quokka-backer-%'
                      AND substring(i.slug from 14)::int = substring(o.slug from 15)::int)
                  OR (i.slug = 'quokka-seen' AND o.slug = 'quokka-seen-donor');
         INSERT INTO item_places (item_id, place_id)
              SELECT i.id, p.id FROM items i, places p
               WHERE (i.slug LIKE 'quokka-draft-%' AND p.name LIKE 'Quokkaland 0%')
                  OR (i.slug = 'quokka-seen' AND p.name = 'Quokkaland Seen');",
    )
    .execute(&app.db.pool)
    .await
    .expect("many drafts");
    app.dashboards_rebuilt().await;
    let section = |page: &Page, kind: &str| {
        page.texts(&format!(
            "main section[aria-labelledby=\"{kind}-heading\"] li"
        ))
    };

    let viewer = app.signed_in(Role::Viewer).await;
    let (status, page) = viewer.page("/search?q=quokka").await;
    assert_eq!(status, 200);
    let items = section(&page, "items");
    assert_eq!(items.len(), 1, "{items:?}");
    assert!(items[0].starts_with("Quokka seen"), "{items:?}");
    assert_eq!(section(&page, "orgs"), ["Quokka Seen Donor"]);
    let places = section(&page, "places");
    assert_eq!(places.len(), 1, "{places:?}");
    assert!(places[0].starts_with("Quokkaland Seen"), "{places:?}");

    let staff = app.signed_in(Role::Staff).await;
    let (_, page) = staff.page("/search?q=quokka").await;
    assert_eq!(section(&page, "items").len(), 200, "staff: the limit");
    assert_eq!(section(&page, "orgs").len(), 100);
    assert_eq!(section(&page, "places").len(), 100);
}
