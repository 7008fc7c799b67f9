//! `/activity`: every change for staff and admins, named by title, linked to the record
//! and the item's history, filtered and paged; and the overview's recent changes.

use crate::conformance::{form_at, id_by, post_form};
use crate::harness::{Page, Session, TestApp, select_in, text};
use portfolio_tracker::domain::auth::Role;

const GB_TITLE: &str = "West Africa: Guinea-Bissau";

/// The page at `path` as this session sees it, asserting a 200.
async fn read(session: &Session, path: &str) -> Page {
    let (status, page) = session.page(path).await;
    assert_eq!(status, 200, "GET {path}: {}", page.main_text());
    page
}

/// The column `header` of the activity table (empty when the page lists no change).
fn column(page: &Page, header: &str) -> Vec<String> {
    if !page.has("table.activity") {
        return Vec::new();
    }
    page.table("table.activity").column(header)
}

/// The links in the cell under `header` of the table's row `n`.
fn links_in(page: &Page, n: usize, header: &str) -> Vec<String> {
    let table = page.table("table.activity");
    select_in(table.rows[n].cell(header), "a")
        .into_iter()
        .filter_map(|a| a.value().attr("href").map(str::to_string))
        .collect()
}

/// Saves the item's edit form with `changes` applied, as an admin's browser would.
async fn edit_item(admin: &Session, id: i64, changes: &[(&str, &str)]) {
    let mut form = form_at(admin, &format!("/admin/items/{id}/edit")).await;
    for (name, value) in changes {
        form.set(name, value);
    }
    let (status, _, body) = post_form(admin, &format!("/admin/items/{id}"), &form).await;
    assert_eq!(status, 303, "the save is accepted: {body}");
}

/// Audit rows written directly, `n` of them, one a minute from `start` (a timestamp).
async fn insert_rows(app: &TestApp, n: i32, start: &str, entity: &str, summary: &str) {
    sqlx::query(
        "INSERT INTO audit_log (at, actor_email, action, entity, summary)
         SELECT $2::timestamptz + g * interval '1 minute', 'script@example.org', 'update', $3,
                $4 || ' ' || g
           FROM generate_series(1, $1) g",
    )
    .bind(n)
    .bind(start)
    .bind(entity)
    .bind(summary)
    .execute(&app.db.pool)
    .await
    .expect("insert audit rows");
}

#[tokio::test]
async fn staff_read_the_activity_and_viewers_do_not() {
    let app = TestApp::spawn().await;
    let staff = app.signed_in(Role::Staff).await;
    let viewer = app.signed_in(Role::Viewer).await;
    let page = read(&staff, "/activity").await;
    assert_eq!(page.text_of("h1"), "Activity");
    assert!(
        page.attrs("header nav a", "href")
            .contains(&"/activity".to_string())
    );
    assert_eq!(viewer.get("/activity").await.0, 403);
    let (_, home) = viewer.page("/").await;
    assert!(
        !home
            .attrs("header nav a", "href")
            .contains(&"/activity".to_string()),
        "no link a viewer cannot follow"
    );
    // the anonymous reader is sent to sign in (the route matrix checks the address)
    assert_eq!(app.get("/activity").await.0, 303);
    // the before/after snapshots stay the admins'
    assert_eq!(staff.get("/admin/audit").await.0, 403);
}

#[tokio::test]
async fn an_edit_names_the_item_by_title_and_links_to_it_and_its_history() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let staff = app.signed_in(Role::Staff).await;
    let gb = id_by(&app, "items", "slug", "guinea-bissau").await;
    edit_item(
        &admin,
        gb,
        &[("status_note", "Reviewed by the activity test")],
    )
    .await;

    let page = read(&staff, "/activity").await;
    assert_eq!(column(&page, "Record"), [format!("programme “{GB_TITLE}”")]);
    assert_eq!(
        column(&page, "Change"),
        [format!("Edited: Edited programme “{GB_TITLE}”")]
    );
    assert_eq!(links_in(&page, 0, "Record"), ["/programmes/guinea-bissau"]);
    assert_eq!(
        links_in(&page, 0, "Links"),
        [
            "/programmes/guinea-bissau/history",
            "/activity?item=guinea-bissau"
        ]
    );
    assert!(!page.main_text().contains('#'), "no record named by id");
    // an admin is taken to the edit form instead
    let page = read(&admin, "/activity").await;
    assert_eq!(
        links_in(&page, 0, "Record"),
        [format!("/admin/items/{gb}/edit")]
    );

    // the overview's recent changes name and link the record, and lead here
    let home = read(&staff, "/").await;
    let recent = home.select("ul.recent > li");
    assert_eq!(recent.len(), 1);
    assert!(
        text(recent[0]).starts_with(&format!("Edited programme “{GB_TITLE}”")),
        "{}",
        text(recent[0])
    );
    let hrefs: Vec<&str> = select_in(recent[0], "a")
        .into_iter()
        .filter_map(|a| a.value().attr("href"))
        .collect();
    assert_eq!(
        hrefs,
        [
            "/programmes/guinea-bissau",
            "/programmes/guinea-bissau/history"
        ]
    );
    assert!(
        home.attrs("main a", "href")
            .contains(&"/activity".to_string())
    );
    assert_eq!(home.select("main a[href=\"/activity\"]").len(), 1);
}

#[tokio::test]
async fn a_money_change_names_the_item_and_the_donor() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let staff = app.signed_in(Role::Staff).await;
    let contribution: i64 = sqlx::query_scalar(
        "SELECT c.id FROM contributions c JOIN items i ON i.id = c.item_id
          WHERE i.slug = 'guinea-bissau' AND c.archived_at IS NULL ORDER BY c.id LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("a contribution to Guinea-Bissau");
    let path = format!("/admin/contributions/{contribution}");
    let mut form = form_at(&admin, &format!("{path}/edit")).await;
    form.set("note", "Checked by the activity test");
    let (status, _, body) = post_form(&admin, &path, &form).await;
    assert_eq!(status, 303, "{body}");

    let page = read(&staff, "/activity").await;
    let record = column(&page, "Record");
    assert_eq!(record.len(), 1);
    assert!(
        record[0].starts_with("contribution of ")
            && record[0].ends_with(&format!("to “{GB_TITLE}”")),
        "{record:?}"
    );
    assert!(record[0].contains(" from "), "names the donor: {record:?}");
    assert_eq!(links_in(&page, 0, "Record"), ["/programmes/guinea-bissau"]);
    let page = read(&admin, "/activity").await;
    assert_eq!(links_in(&page, 0, "Record"), [format!("{path}/edit")]);
}

#[tokio::test]
async fn publishing_is_logged_and_shown_as_such() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let staff = app.signed_in(Role::Staff).await;
    let gb = id_by(&app, "items", "slug", "guinea-bissau").await;
    edit_item(&admin, gb, &[("published", "")]).await;
    edit_item(&admin, gb, &[("published", "on")]).await;

    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, summary FROM audit_log WHERE entity = 'item' AND entity_id = $1 ORDER BY id",
    )
    .bind(gb)
    .fetch_all(&app.db.pool)
    .await
    .expect("audit rows");
    assert_eq!(
        rows,
        [
            (
                "unpublish".into(),
                format!("Unpublished programme “{GB_TITLE}”")
            ),
            (
                "publish".into(),
                format!("Published programme “{GB_TITLE}”")
            ),
        ]
    );
    let page = read(&staff, "/activity").await;
    assert_eq!(
        column(&page, "Change"),
        [
            format!("Published: Published programme “{GB_TITLE}”"),
            format!("Unpublished: Unpublished programme “{GB_TITLE}”"),
        ]
    );

    // a row written before publishing had an action of its own reads as a publish too
    sqlx::query(
        "INSERT INTO audit_log (actor_email, action, entity, entity_id, item_id, summary, before, after)
         VALUES ('old@example.org', 'update', 'item', $1, $1, 'Edited programme “Old title”',
                 '{\"title\": \"Old title\", \"published\": false}',
                 '{\"title\": \"Old title\", \"published\": true}')",
    )
    .bind(gb)
    .execute(&app.db.pool)
    .await
    .expect("an older row");
    let page = read(&staff, "/activity").await;
    assert_eq!(
        column(&page, "Change")[0],
        "Published: Published programme “Old title”"
    );
    assert_eq!(
        column(&page, "Record")[0],
        format!("programme “{GB_TITLE}”"),
        "named by its title now"
    );
}

#[tokio::test]
async fn the_filters_narrow_the_changes() {
    let app = TestApp::spawn().await;
    let (first_email, first) = app.signed_in_with_email(Role::Admin).await;
    let (_, second) = app.signed_in_with_email(Role::Admin).await;
    let staff = app.signed_in(Role::Staff).await;
    let gb = id_by(&app, "items", "slug", "guinea-bissau").await;
    let org = id_by(&app, "organisations", "slug", "government-of-canada").await;
    edit_item(&first, gb, &[("status_note", "First admin's note")]).await;
    let mut form = form_at(&second, &format!("/admin/organisations/{org}/edit")).await;
    form.set("name", "Government of Canada (renamed)");
    let (status, _, body) = post_form(&second, &format!("/admin/organisations/{org}"), &form).await;
    assert_eq!(status, 303, "{body}");
    insert_rows(&app, 2, "2009-03-10 12:00:00Z", "theme", "Old theme change").await;

    let records = |page: &Page| column(page, "Record");
    let everything = read(&staff, "/activity").await;
    assert_eq!(records(&everything).len(), 4);

    // by item: its title or its address
    for item in ["guinea-bissau", "west+africa%3A+guinea-bissau"] {
        let page = read(&staff, &format!("/activity?item={item}")).await;
        assert_eq!(
            records(&page),
            [format!("programme “{GB_TITLE}”")],
            "{item}"
        );
    }
    let page = read(&staff, "/activity?item=no-such-item").await;
    assert!(!page.has("table.activity"));
    assert!(
        page.text_of("p.notice").contains("“no-such-item”"),
        "{}",
        page.main_text()
    );

    // by person: the menu offers accounts only
    let first_id = app.user_id(&first_email).await;
    let page = read(&staff, &format!("/activity?person={first_id}")).await;
    assert_eq!(records(&page), [format!("programme “{GB_TITLE}”")]);
    let people = everything.attrs("select#person option", "value");
    assert!(people.contains(&first_id.to_string()));
    assert!(
        !everything
            .texts("select#person option")
            .iter()
            .any(|p| p.contains("script@example.org")),
        "an address that is no account is not offered"
    );
    let page = read(&staff, "/activity?person=987654321").await;
    assert!(records(&page).is_empty());

    // by record type
    let page = read(&staff, "/activity?type=organisation").await;
    assert_eq!(
        records(&page),
        ["organisation Government of Canada (renamed)"]
    );
    assert_eq!(
        links_in(&page, 0, "Record"),
        ["/organisations/government-of-canada"]
    );

    // by date: from and to are whole days, both included
    let page = read(&staff, "/activity?from=2009-03-10&to=2009-03-10").await;
    assert_eq!(
        column(&page, "Change"),
        ["Edited: Old theme change 2", "Edited: Old theme change 1"]
    );
    let page = read(&staff, "/activity?to=2009-03-09").await;
    assert!(records(&page).is_empty());
    let page = read(&staff, "/activity?from=2009-03-11").await;
    assert_eq!(records(&page).len(), 2, "only today's two edits");
    // the filters combine, and the form shows them
    let page = read(
        &staff,
        &format!("/activity?item=guinea-bissau&person={first_id}&type=item"),
    )
    .await;
    assert_eq!(records(&page).len(), 1);
    assert_eq!(
        page.attr("input#item", "value").as_deref(),
        Some("guinea-bissau")
    );
    assert_eq!(
        page.attr("select#type option[selected]", "value")
            .as_deref(),
        Some("item")
    );
}

#[tokio::test]
async fn the_changes_are_paged_newest_first() {
    let app = TestApp::spawn().await;
    let staff = app.signed_in(Role::Staff).await;
    insert_rows(&app, 60, "2010-01-01 00:00:00Z", "theme", "Change").await;
    // sign-ins are not changes
    insert_rows(&app, 5, "2011-01-01 00:00:00Z", "session", "Sign-in").await;

    let first = read(&staff, "/activity?type=").await;
    let changes = column(&first, "Change");
    assert_eq!(changes.len(), 50);
    assert_eq!(changes[0], "Edited: Change 60");
    assert_eq!(changes[49], "Edited: Change 11");
    assert!(first.select("a[rel=prev]").is_empty());
    let next = first.attr("a[rel=next]", "href").expect("a next page");
    assert!(next.contains("page=2"), "{next}");

    let second = read(&staff, &next).await;
    let changes = column(&second, "Change");
    assert_eq!(changes.len(), 10);
    assert_eq!(changes[0], "Edited: Change 10");
    assert_eq!(changes[9], "Edited: Change 1");
    assert!(second.select("a[rel=next]").is_empty());
    assert!(second.has("a[rel=prev]"));

    // the filters are kept across pages
    let page = read(&staff, "/activity?type=theme&from=2010-01-01").await;
    let next = page.attr("a[rel=next]", "href").expect("a next page");
    assert!(
        next.contains("type=theme") && next.contains("from=2010-01-01"),
        "{next}"
    );
    let beyond = read(&staff, "/activity?page=9").await;
    assert!(!beyond.has("table.activity"));
}

#[tokio::test]
async fn bad_filter_values_get_a_clear_400() {
    let app = TestApp::spawn().await;
    let staff = app.signed_in(Role::Staff).await;
    for query in [
        "person=abc",
        "person=1.5",
        "type=session",
        "type=bogus",
        "from=2020-13-01",
        "to=yesterday",
        "from=2010-02-01&to=2010-01-01",
        "page=0",
        "page=abc",
        "page=1&page=2",
    ] {
        let (status, page) = staff.page(&format!("/activity?{query}")).await;
        assert_eq!(status, 400, "{query}: {}", page.main_text());
        assert_eq!(
            page.text_of("h1"),
            "That request cannot be answered",
            "{query}"
        );
    }
}
