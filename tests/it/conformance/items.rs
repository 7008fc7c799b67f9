//! Programmes, initiatives and components: the generic suite, and what only items have:
//! drafts and publication, places, parents (and loops), alignments, the archive taking
//! components along, the audit trail on the item's History tab, and the filtered list.

use super::page::{Page, field_error_in, text_of};
use super::{
    Create, Duplicate, Edit, Find, Ident, Invalid, ItemLink, Missing, RecordSpec, Retire, Step,
    Target, api_item, constraint, fields, form_at, id_by, overview_titles, page, post_form, scalar,
};
use crate::harness::{Session, TestApp};
use portfolio_tracker::domain::auth::Role;
use serde_json::json;

conformance!(spec);

const GB: &str = "West Africa: Guinea-Bissau";
const TR: &str = "Treatment and rehabilitation programme";
const TR_COMPONENT: &str = "Awareness-raising and advocacy";
const SLUG_RULE: &str = "use lowercase letters, digits and single hyphens";
const PARENT_CYCLE: &str = "cannot sit under itself or under one of its own components";

/// A new draft programme, as typed over the empty form.
fn programme(title: &str, slug: &str, places: &str) -> Vec<(&'static str, String)> {
    fields(&[
        ("title", title),
        ("slug", slug),
        ("kind", "programme"),
        ("parent", ""),
        ("report_section", "II.Z"),
        ("status", "seeking_funding"),
        ("status_note", ""),
        ("summary", "Counters piracy off the Horn of Africa."),
        ("description", ""),
        ("period", "2009-2011"),
        ("start_date", "2009-01-01"),
        ("end_date", "2011-12-31"),
        ("places", places),
        ("source_paras", "para. 99"),
        ("internal_notes", "Donor meeting in May."),
    ])
}

pub async fn spec(app: &TestApp) -> RecordSpec {
    let id = id_by(app, "items", "slug", "guinea-bissau").await;
    let area = id_by(app, "result_areas", "code", "1.2").await;
    let long_description = "x".repeat(20_001);
    RecordSpec {
        entity: "item",
        table: "items",
        list: "/admin/items".into(),
        create: Step::Yes(Create {
            new: "/admin/items/new".into(),
            post: "/admin/items".into(),
            fields: programme("Maritime crime programme", "maritime-crime", "Somalia"),
            find: Find::Id("SELECT id FROM items WHERE slug = 'maritime-crime'".into()),
            location: "/admin/items/{id}/edit?done=created".into(),
            notice: "Created. Add its strategy alignments below; its budgets and contributions are on its money page.",
            listed: None,
            edit: "/admin/items/{id}/edit".into(),
            after: vec![
                ("title", json!("Maritime crime programme")),
                ("slug", json!("maritime-crime")),
                ("kind", json!("programme")),
                ("parent", json!(null)),
                ("start_date", json!("2009-01-01")),
                ("countries_and_regions", json!("Somalia")),
                ("published", json!(false)),
                ("internal_notes", json!("Donor meeting in May.")),
            ],
            item_id: ItemLink::Itself,
            not_on_edit: vec![],
        }),
        invalid: vec![
            Invalid::new(
                &[
                    ("title", "Typed title that stays"),
                    ("slug", "Not A Slug"),
                    ("end_date", "2008-12-31"),
                    ("description", &long_description),
                ],
                &[
                    ("slug", SLUG_RULE),
                    ("end_date", "the end date cannot be before the start date"),
                    ("description", "at most 20,000 characters"),
                ],
            ),
            Invalid::new(
                &[("title", ""), ("start_date", "31/01/2009")],
                &[
                    ("title", "enter the title"),
                    (
                        "start_date",
                        "use a date such as 2008-02-13, 2008-11 (a month), 2008-Q3",
                    ),
                ],
            ),
            Invalid::new(
                &[("start_date", "-5000-01-01")],
                &[("start_date", "use a year between 1900 and 2100")],
            ),
            Invalid::new(
                &[("title", "Orphan component"), ("kind", "component")],
                &[(
                    "parent",
                    "a component belongs to a programme or an initiative",
                )],
            ),
            Invalid::new(
                &[("parent", &id.to_string())],
                &[("parent", "only components have a parent")],
            ),
        ],
        duplicate: Duplicate::Key {
            field: "slug",
            constraint: "items_slug_key",
            taken: (
                fields(&[("title", "Copy"), ("slug", "guinea-bissau")]),
                "another item already uses this slug",
            ),
            rename: Some((
                fields(&[("slug", "treatment-rehabilitation")]),
                "another item already uses this slug",
            )),
            fresh: (
                fields(&[("slug", "raced-item")]),
                "another item already uses this slug",
            ),
            insert: "INSERT INTO items (slug, title, kind, status)
                     VALUES ('raced-item', 'Raced first', 'programme', 'planned')"
                .into(),
        },
        constraints: vec![
            constraint(
                format!("UPDATE items SET slug = 'treatment-rehabilitation' WHERE id = {id}"),
                "items_slug_key",
            ),
            constraint(
                format!("UPDATE items SET kind = 'component' WHERE id = {id}"),
                "items_parent_matches_kind",
            ),
            constraint(
                format!("UPDATE items SET kind = 'component', parent_id = id WHERE id = {id}"),
                "items_parent_cycle",
            ),
            constraint(
                format!("UPDATE items SET kind = 'component', parent_id = 999999 WHERE id = {id}"),
                "items_parent_id_fkey",
            ),
            constraint(
                format!(
                    "UPDATE items SET start_date = '2010-01-01', end_date = '2009-01-01'
                      WHERE id = {id}"
                ),
                "items_dates_ordered",
            ),
            constraint(
                format!(
                    "INSERT INTO alignments (item_id, result_area_id)
                     SELECT item_id, result_area_id FROM alignments WHERE item_id = {id} LIMIT 1"
                ),
                "alignments_pkey",
            ),
        ],
        target: Target {
            ident: Ident::Id(id),
            item_id: Some(id),
            edit: format!("/admin/items/{id}/edit"),
            save: format!("/admin/items/{id}"),
            saved: "/admin/items?done=saved".into(),
            saved_notice: "Saved.",
            stored: format!("SELECT title FROM items WHERE id = {id}"),
            version: format!("SELECT version FROM items WHERE id = {id}"),
        },
        edit: Edit {
            field: "title",
            first: "Saved first by another admin",
            second: "Typed on a stale form",
            label: "Title",
            shown_first: "Saved first by another admin",
            shown_second: "Typed on a stale form",
            stored_before: Some(GB),
            stored_first: Some("Saved first by another admin"),
            stored_second: Some("Typed on a stale form"),
            audit_key: "title",
            audit_before: json!(GB),
            audit_first: json!("Saved first by another admin"),
        },
        retire: Retire::Archive {
            archive: format!("/admin/items/{id}/archive"),
            restore: format!("/admin/items/{id}/restore"),
            archived: "/admin/items?done=archived".into(),
            restored: "/admin/items?done=restored".into(),
            archived_notice: "Archived: it and its components no longer appear on the dashboards. It can be restored from this list.",
            restored_notice: "Restored.",
            shown_on: "/admin/items?q=guinea-bissau".into(),
            flag: format!("SELECT archived_at IS NOT NULL FROM items WHERE id = {id}"),
        },
        missing: Missing {
            gets: vec![
                "/admin/items/abc/edit".into(),
                "/admin/items/999999/edit".into(),
                "/admin/items/0/edit".into(),
            ],
            posts: vec![
                "/admin/items/999999".into(),
                "/admin/items/999999/archive".into(),
                "/admin/items/abc/restore".into(),
                "/admin/items/999999/alignments".into(),
                format!("/admin/items/{id}/alignments/999999/delete"),
            ],
        },
        nul_field: "title",
        secret: vec![],
        more_gets: vec![],
        more_posts: vec![
            format!("/admin/items/{id}/alignments"),
            format!("/admin/items/{id}/alignments/{area}/delete"),
        ],
    }
}

/// Creates an item through the form; its id, from the redirect to its edit page.
async fn create(admin: &Session, typed: &[(&'static str, String)]) -> i64 {
    let mut form = form_at(admin, "/admin/items/new").await;
    form.set_all(typed);
    let (status, location, body) = post_form(admin, "/admin/items", &form).await;
    assert_eq!(status, 303, "create answers a redirect: {body}");
    location
        .strip_prefix("/admin/items/")
        .and_then(|rest| rest.strip_suffix("/edit?done=created"))
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("a redirect to the edit page, got {location}"))
}

/// The titles a page of the admin list shows.
fn listed(page: &Page) -> Vec<String> {
    page.texts("table tbody th[scope=row] a")
}

#[tokio::test]
async fn a_new_programme_reaches_staff_at_once_and_viewers_once_published() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let staff = app.signed_in(Role::Staff).await;
    let viewer = app.signed_in(Role::Viewer).await;
    let title = "Maritime crime programme";
    // Load the dashboards first, so the cached portfolio must notice the change.
    assert!(!overview_titles(&staff).await.is_empty());
    assert!(!overview_titles(&viewer).await.is_empty());

    let new = page(&admin, "/admin/items/new", 200).await;
    assert!(
        new.text("label[for=internal_notes]")
            .starts_with("Internal notes (staff and admins only)")
    );
    let id = create(
        &admin,
        &programme(title, "maritime-crime", "Somalia, West Africa"),
    )
    .await;
    let area = id_by(&app, "result_areas", "code", "1.1").await.to_string();
    let align = format!("/admin/items/{id}/alignments");
    let alignment = [
        ("result_area", area.as_str()),
        ("source_para", "para. 99"),
        ("note", "piracy"),
    ];
    let (status, location, _) = admin.post(&align, &alignment).await;
    assert_eq!(
        (status, location.as_str()),
        (
            303,
            format!("/admin/items/{id}/edit?done=aligned#alignments").as_str()
        )
    );
    let (status, _, body) = admin.post(&align, &alignment).await;
    assert_eq!(status, 422, "a duplicate alignment is refused");
    let refused = Page::parse(&body);
    assert_eq!(
        field_error_in(refused.form_to(&align), "result_area").as_deref(),
        Some("this item is already aligned with that result area")
    );
    assert!(
        refused
            .text("#alignments ~ .error-summary")
            .contains("The alignment was not added")
    );

    assert!(
        overview_titles(&staff).await.contains(&title.to_string()),
        "staff see the draft"
    );
    let json = api_item(&staff, "maritime-crime")
        .await
        .expect("in the API for staff");
    assert_eq!(json["result_areas"], json!(["1.1"]));
    assert_eq!(json["kind"], "programme");
    assert!(
        !overview_titles(&viewer).await.contains(&title.to_string()),
        "viewers do not see drafts"
    );
    assert!(api_item(&viewer, "maritime-crime").await.is_none());
    assert_eq!(viewer.get("/programmes/maritime-crime").await.0, 404);

    let mut form = form_at(&admin, &format!("/admin/items/{id}/edit")).await;
    form.set("published", "on");
    let (status, location, _) = post_form(&admin, &format!("/admin/items/{id}"), &form).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/items?done=saved")
    );

    assert!(
        overview_titles(&viewer).await.contains(&title.to_string()),
        "published"
    );
    assert!(api_item(&viewer, "maritime-crime").await.is_some());
    let (status, body) = viewer.get("/programmes/maritime-crime").await;
    assert_eq!(status, 200);
    let public = Page::parse(&body);
    let places = public.definition("Countries and regions");
    assert!(
        places.contains("Somalia") && places.contains("West Africa"),
        "places shown: {places}"
    );
    assert!(
        !public.exists("section.internal"),
        "no internal notes section"
    );
    assert!(
        !body.contains("Donor meeting in May."),
        "internal notes appear nowhere for viewers"
    );
    let (_, body) = staff.get("/programmes/maritime-crime").await;
    assert!(
        Page::parse(&body)
            .text("section.internal")
            .contains("Donor meeting in May."),
        "staff read them"
    );

    // "West Africa" was a region already and stays one; "Somalia" is new, as a country.
    let kinds: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.name, p.kind FROM item_places ip JOIN places p ON p.id = ip.place_id
          WHERE ip.item_id = $1 ORDER BY p.name",
    )
    .bind(id)
    .fetch_all(&app.db.pool)
    .await
    .expect("places");
    assert_eq!(
        kinds,
        vec![
            ("Somalia".to_string(), "country".to_string()),
            ("West Africa".to_string(), "region".to_string())
        ]
    );
}

#[tokio::test]
async fn a_component_is_created_under_its_parent() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let parent = id_by(&app, "items", "slug", "guinea-bissau").await;
    let mut typed = programme("Guinea-Bissau component", "guinea-bissau-courts", "");
    typed.push(("kind", "component".into()));
    typed.push(("parent", parent.to_string()));
    let id = create(&admin, &typed).await;
    let (kind, parent_id): (String, Option<i64>) =
        sqlx::query_as("SELECT kind, parent_id FROM items WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .expect("the component");
    assert_eq!((kind.as_str(), parent_id), ("component", Some(parent)));
    assert!(
        overview_titles(&admin)
            .await
            .contains(&"Guinea-Bissau component".to_string())
    );
}

#[tokio::test]
async fn a_parent_cannot_be_the_item_itself_or_below_it() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let programme = id_by(&app, "items", "slug", "treatment-rehabilitation").await;
    let component = id_by(&app, "items", "slug", "treatment-awareness-advocacy").await;

    let edit = page(&admin, &format!("/admin/items/{programme}/edit"), 200).await;
    let offered = edit.texts("select[name=parent] option");
    assert!(
        offered.contains(&format!("{GB} (Programme)")),
        "other items are offered: {offered:?}"
    );
    assert!(
        !offered
            .iter()
            .any(|o| o.starts_with(TR_COMPONENT) || o.starts_with(TR)),
        "neither the item nor its own components are offered as its parent"
    );

    let mut form = edit.submitted();
    form.set("kind", "component");
    for parent in [component, programme] {
        form.set("parent", &parent.to_string());
        let (status, _, body) =
            post_form(&admin, &format!("/admin/items/{programme}"), &form).await;
        assert_eq!(status, 422, "parent {parent} would close a loop");
        let message = Page::parse(&body).field_error("parent").expect("a message");
        assert!(message.contains(PARENT_CYCLE), "{message}");
    }
    let (kind, parent_id): (String, Option<i64>) =
        sqlx::query_as("SELECT kind, parent_id FROM items WHERE id = $1")
            .bind(programme)
            .fetch_one(&app.db.pool)
            .await
            .expect("the programme");
    assert_eq!((kind.as_str(), parent_id), ("programme", None));

    let mut form = form_at(&admin, &format!("/admin/items/{component}/edit")).await;
    form.set("parent", "");
    let (status, _, body) = post_form(&admin, &format!("/admin/items/{component}"), &form).await;
    assert_eq!(status, 422, "a component keeps a parent");
    let message = Page::parse(&body).field_error("parent").expect("a message");
    assert!(message.contains("a component belongs to a programme or an initiative"));
}

#[tokio::test]
async fn an_archived_item_and_its_components_leave_the_dashboards_until_restored() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let id = id_by(&app, "items", "slug", "treatment-rehabilitation").await;
    let both = |titles: &[String]| {
        (
            titles.contains(&TR.into()),
            titles.contains(&TR_COMPONENT.into()),
        )
    };
    assert_eq!(both(&overview_titles(&admin).await), (true, true));

    let (status, location, _) = admin.post(&format!("/admin/items/{id}/archive"), &[]).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/items?done=archived")
    );
    assert_eq!(
        both(&overview_titles(&admin).await),
        (false, false),
        "hidden with its components"
    );
    assert_eq!(
        admin.get("/programmes/treatment-rehabilitation").await.0,
        404
    );
    let archived = page(&admin, "/admin/items?archived=yes", 200).await;
    assert_eq!(listed(&archived), [TR], "only it is archived");
    assert!(archived.has_form_to(&format!("/admin/items/{id}/restore")));
    let all = page(&admin, "/admin/items?q=treatment", 200).await;
    let row = all
        .rows("table")
        .into_iter()
        .find(|r| r.starts_with(TR))
        .expect("the list shows archived items too");
    assert!(row.contains("| Archived |"), "{row}");
    let component = all
        .rows("table")
        .into_iter()
        .find(|r| r.starts_with(TR_COMPONENT))
        .expect("its component");
    assert!(
        component.contains(&format!("| {TR} Archived |")),
        "the parent is marked archived: {component}"
    );

    let (status, _, _) = admin.post(&format!("/admin/items/{id}/restore"), &[]).await;
    assert_eq!(status, 303);
    assert_eq!(
        both(&overview_titles(&admin).await),
        (true, true),
        "back on the dashboard"
    );
}

#[tokio::test]
async fn every_change_is_audited_against_the_item() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let staff = app.signed_in(Role::Staff).await;
    let id = create(
        &admin,
        &programme(
            "Audited programme",
            "audited-programme",
            "Somalia, West Africa",
        ),
    )
    .await;
    let area = id_by(&app, "result_areas", "code", "2.1").await;
    let (status, _, _) = admin
        .post(
            &format!("/admin/items/{id}/alignments"),
            &[("result_area", area.to_string().as_str())],
        )
        .await;
    assert_eq!(status, 303);
    let mut form = form_at(&admin, &format!("/admin/items/{id}/edit")).await;
    form.set("title", "Audited programme, renamed");
    form.set("published", "on");
    assert_eq!(
        post_form(&admin, &format!("/admin/items/{id}"), &form)
            .await
            .0,
        303
    );
    for step in ["archive", "restore"] {
        assert_eq!(
            admin
                .post(&format!("/admin/items/{id}/{step}"), &[])
                .await
                .0,
            303
        );
    }
    let path = format!("/admin/items/{id}/alignments/{area}/delete");
    assert_eq!(admin.post(&path, &[]).await.0, 303);
    assert_eq!(admin.post(&path, &[]).await.0, 404, "already removed");

    let rows: Vec<(String, String, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT action, entity, entity_id, item_id FROM audit_log
          WHERE item_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&app.db.pool)
    .await
    .expect("audit rows");
    let expected = [
        ("create", "item", id),
        ("create", "alignment", area),
        // the save also ticked "published": a publish, not an edit
        ("publish", "item", id),
        ("archive", "item", id),
        ("restore", "item", id),
        ("delete", "alignment", area),
    ];
    assert_eq!(rows.len(), expected.len(), "{rows:?}");
    for (row, (action, entity, entity_id)) in rows.iter().zip(expected) {
        assert_eq!(
            (row.0.as_str(), row.1.as_str(), row.2, row.3),
            (action, entity, Some(entity_id), Some(id))
        );
    }
    let after: serde_json::Value = scalar(
        &app,
        &format!("SELECT after FROM audit_log WHERE item_id = {id} AND action = 'publish'"),
    )
    .await;
    assert_eq!(after["start_date"], "2009-01-01", "dates as ISO text");
    assert_eq!(after["countries_and_regions"], "West Africa, Somalia");

    let history = page(&staff, "/programmes/audited-programme/history", 200).await;
    let changes: Vec<(String, String, String)> = history
        .all("table.diff tbody tr")
        .into_iter()
        .map(|tr| {
            let cell = |css: &str| {
                tr.select(&super::page::sel(css))
                    .next()
                    .map(text_of)
                    .unwrap_or_default()
            };
            (cell("th"), cell("td del"), cell("td ins"))
        })
        .collect();
    assert!(
        changes
            .iter()
            .any(|(_, before, after)| before == "Audited programme"
                && after == "Audited programme, renamed"),
        "the rename, before and after: {changes:#?}"
    );
}

#[tokio::test]
async fn the_list_filters_and_refuses_unknown_values() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let gb = id_by(&app, "items", "slug", "guinea-bissau").await;
    create(
        &admin,
        &programme("Draft programme for the list", "draft-for-list", ""),
    )
    .await;

    let drafts = page(&admin, "/admin/items?published=no", 200).await;
    assert_eq!(listed(&drafts), ["Draft programme for the list"]);
    assert_eq!(drafts.texts("table tbody span.tag.draft"), ["Draft"]);
    let found = page(&admin, "/admin/items?kind=programme&q=GUINEA", 200).await;
    assert!(listed(&found).contains(&GB.to_string()));
    assert!(!listed(&found).contains(&TR_COMPONENT.to_string()));
    assert!(
        found.links().contains(&format!("/admin/items/{gb}/money")),
        "a link to its money"
    );
    let components = page(
        &admin,
        "/admin/items?kind=component&status=planned&archived=no",
        200,
    )
    .await;
    assert!(listed(&components).contains(&TR_COMPONENT.to_string()));
    let literal = page(&admin, "/admin/items?q=100%25_", 200).await;
    assert!(
        literal.texts("p").contains(&"0 items.".to_string()),
        "pattern characters are taken literally"
    );
    assert!(listed(&literal).is_empty());

    for (query, message) in [
        ("kind=bogus", "Unknown kind"),
        ("status=done", "Unknown status"),
        ("published=maybe", "use yes or no"),
        ("archived=1", "use yes or no"),
        ("page=abc", "not a page number"),
    ] {
        let (status, body) = admin.get(&format!("/admin/items?{query}")).await;
        assert_eq!(status, 400, "{query}");
        let lead = Page::parse(&body).lead();
        assert!(lead.contains(message), "{query}: {lead}");
    }
    // The seeded portfolio and the draft make more than one page of 50.
    let first = page(&admin, "/admin/items?archived=no", 200).await;
    assert_eq!(first.text("nav.pager span"), "Page 1 of 2");
    assert_eq!(
        first.one("nav.pager a[rel=next]").attr("href"),
        Some("/admin/items?kind=&status=&published=&archived=no&q=&page=2"),
        "the pager keeps the filters"
    );
    let second = page(&admin, "/admin/items?archived=no&page=2", 200).await;
    assert_eq!(second.text("nav.pager span"), "Page 2 of 2");
    assert_eq!(admin.get("/admin/items?page=9").await.0, 404);
    // A form without its version is refused before the record is looked up.
    let mut form = form_at(&admin, "/admin/items/new").await;
    form.remove("version");
    assert_eq!(
        post_form(&admin, "/admin/items/999999", &form).await.0,
        400,
        "no version"
    );
}

/// Two changes that are each fine alone but together would put two components under each
/// other: the database serialises them and refuses the second.
#[tokio::test]
async fn two_saves_that_together_close_a_loop_are_refused_by_the_database() {
    let app = TestApp::spawn().await;
    let pool = &app.db.pool;
    let a = id_by(&app, "items", "slug", "treatment-awareness-advocacy").await;
    let b = id_by(&app, "items", "slug", "treatment-capacity-building").await;
    let move_under = "UPDATE items SET parent_id = $2 WHERE id = $1";

    let mut first = pool.begin().await.expect("begin");
    sqlx::query(move_under)
        .bind(a)
        .bind(b)
        .execute(&mut *first)
        .await
        .expect("a under b, alone, is fine");
    let second = tokio::spawn({
        let pool = pool.clone();
        async move {
            let mut tx = pool.begin().await.expect("begin");
            let result = sqlx::query(move_under)
                .bind(b)
                .bind(a)
                .execute(&mut *tx)
                .await;
            result.err().and_then(|e| {
                e.as_database_error()
                    .and_then(|db| db.constraint().map(str::to_string))
            })
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !second.is_finished(),
        "the second change waits for the first"
    );
    first.commit().await.expect("commit the first");
    let refused = second.await.expect("the second change ends");
    assert_eq!(refused.as_deref(), Some("items_parent_cycle"));

    let parent_of_b: Option<i64> = sqlx::query_scalar("SELECT parent_id FROM items WHERE id = $1")
        .bind(b)
        .fetch_one(pool)
        .await
        .expect("b");
    assert_ne!(parent_of_b, Some(a), "b is not under a");
}

/// Follows the item's edit link from a page and saves: the person lands where they were.
async fn save_from(admin: &Session, from: &str) -> (u16, String) {
    let start = page(admin, from, 200).await;
    let edit = start
        .links()
        .into_iter()
        .find(|href| href.starts_with("/admin/items/") && href.contains("/edit?return_to="))
        .unwrap_or_else(|| panic!("{from} links to an item's form with the way back"));
    let form_page = page(admin, &edit, 200).await;
    let action = form_page
        .record_form()
        .attr("action")
        .expect("the form posts somewhere")
        .to_string();
    let (status, location, _) = post_form(admin, &action, &form_page.submitted()).await;
    (status, location)
}

#[tokio::test]
async fn a_save_returns_to_the_page_the_person_came_from() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let list = "/admin/items?q=a&page=2";
    assert_eq!(
        save_from(&admin, list).await,
        (
            303,
            "/admin/items?kind=&status=&published=&archived=&q=a&page=2&done=saved".into()
        ),
        "back to page 2 of the filtered list"
    );
    assert_eq!(
        save_from(&admin, "/programmes/guinea-bissau").await,
        (303, "/programmes/guinea-bissau".into()),
        "back to the item's page"
    );
    // a forged way back elsewhere is not followed
    let gb = id_by(&app, "items", "slug", "guinea-bissau").await;
    let form = form_at(&admin, &format!("/admin/items/{gb}/edit")).await;
    let (status, location, _) = post_form(
        &admin,
        &format!("/admin/items/{gb}?return_to=https%3A%2F%2Fevil.example%2F"),
        &form,
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/items?done=saved")
    );
}

#[tokio::test]
async fn publishing_an_item_offers_to_publish_its_components_in_one_audited_save() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    sqlx::raw_sql(
        "UPDATE items SET published = false
          WHERE slug = 'rainbow-strategy'
             OR parent_id = (SELECT id FROM items WHERE slug = 'rainbow-strategy')",
    )
    .execute(&app.db.pool)
    .await
    .expect("a draft programme with draft components");
    let drafts_below = "SELECT count(*) FROM items WHERE NOT published AND parent_id =
                          (SELECT id FROM items WHERE slug = 'rainbow-strategy')";
    let components: i64 = scalar(&app, drafts_below).await;
    assert!(
        components >= 2,
        "the seed's Rainbow Strategy has components"
    );
    let id = id_by(&app, "items", "slug", "rainbow-strategy").await;

    let edit = page(&admin, &format!("/admin/items/{id}/edit"), 200).await;
    assert_eq!(
        edit.text("label[for=publish_components]"),
        format!("Publish its {components} unpublished components too")
    );
    let mut form = edit.submitted();
    form.set("published", "on");
    form.set("publish_components", "on");
    let (status, _, _) = post_form(&admin, &format!("/admin/items/{id}"), &form).await;
    assert_eq!(status, 303);
    let left: i64 = scalar(&app, drafts_below).await;
    assert_eq!(left, 0, "the components are published with it");
    let audited: i64 = scalar(
        &app,
        "SELECT count(*) FROM audit_log WHERE action = 'publish' AND entity = 'item'
            AND item_id IN (SELECT id FROM items WHERE parent_id =
                              (SELECT id FROM items WHERE slug = 'rainbow-strategy'))",
    )
    .await;
    assert_eq!(audited, components, "one audit row per component");
    let edit = page(&admin, &format!("/admin/items/{id}/edit"), 200).await;
    assert!(!edit.exists("#publish_components"), "nothing left to offer");
}

#[tokio::test]
async fn publishing_without_the_tick_leaves_the_components_as_drafts() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    sqlx::raw_sql(
        "UPDATE items SET published = false
          WHERE parent_id = (SELECT id FROM items WHERE slug = 'rainbow-strategy')",
    )
    .execute(&app.db.pool)
    .await
    .expect("draft components");
    let id = id_by(&app, "items", "slug", "rainbow-strategy").await;
    let mut form = form_at(&admin, &format!("/admin/items/{id}/edit")).await;
    form.set("publish_components", "");
    let (status, _, _) = post_form(&admin, &format!("/admin/items/{id}"), &form).await;
    assert_eq!(status, 303);
    let published: i64 = scalar(
        &app,
        "SELECT count(*) FROM items WHERE published AND parent_id =
           (SELECT id FROM items WHERE slug = 'rainbow-strategy')",
    )
    .await;
    assert_eq!(published, 0);
}
