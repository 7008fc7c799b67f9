//! Admin pages for items: create, edit with a version check, parent rules, places,
//! alignments, archive and restore, the audit trail, and who may use them.

use crate::harness::{Session, TestApp};
use portfolio_tracker::domain::auth::Role;
use portfolio_tracker::store::admin_items;
use sqlx::PgPool;

/// A form as (name, value) pairs that a test can change before posting.
pub(crate) type Form = Vec<(&'static str, String)>;

async fn post(session: &Session, path: &str, form: &Form) -> (u16, String, String) {
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    session.post(path, &fields).await
}

fn set(form: &mut Form, name: &'static str, value: &str) {
    match form.iter_mut().find(|(k, _)| *k == name) {
        Some(field) => field.1 = value.to_string(),
        None => form.push((name, value.to_string())),
    }
}

fn without(form: &Form, name: &str) -> Form {
    form.iter().filter(|(k, _)| *k != name).cloned().collect()
}

/// A new draft programme's form.
fn programme(title: &str, slug: &str) -> Form {
    vec![
        ("title", title.into()),
        ("slug", slug.into()),
        ("kind", "programme".into()),
        ("parent", String::new()),
        ("report_section", "II.Z".into()),
        ("status", "seeking_funding".into()),
        ("status_note", String::new()),
        ("summary", "Counters piracy off the Horn of Africa.".into()),
        ("description", String::new()),
        ("period", "2009-2011".into()),
        ("start_date", "2009-01-01".into()),
        ("end_date", "2011-12-31".into()),
        ("places", "Somalia, West Africa".into()),
        ("source_paras", "para. 99".into()),
        ("internal_notes", "Donor meeting in May.".into()),
        ("version", "0".into()),
    ]
}

/// The edit form of a saved item, as the edit page would post it.
pub(crate) async fn saved_form(pool: &PgPool, id: i64) -> Form {
    let i = admin_items::by_id(pool, id)
        .await
        .expect("query")
        .expect("item exists");
    let text = |t: Option<String>| t.unwrap_or_default();
    let mut form: Form = vec![
        ("title", i.title),
        ("slug", i.slug),
        ("kind", i.kind),
        (
            "parent",
            i.parent_id.map(|p| p.to_string()).unwrap_or_default(),
        ),
        ("report_section", text(i.report_section)),
        ("status", i.status),
        ("status_note", text(i.status_note)),
        ("summary", i.summary),
        ("description", i.description),
        ("period", text(i.period)),
        (
            "start_date",
            i.start_date.map(|d| d.to_string()).unwrap_or_default(),
        ),
        (
            "end_date",
            i.end_date.map(|d| d.to_string()).unwrap_or_default(),
        ),
        ("places", i.places),
        ("source_paras", text(i.source_paras)),
        ("internal_notes", i.internal_notes),
        ("version", i.version.to_string()),
    ];
    if i.published {
        form.push(("published", "on".into()));
    }
    form
}

/// Creates an item; its id from the redirect to its edit page.
async fn create(admin: &Session, form: &Form) -> i64 {
    let (status, location, body) = post(admin, "/admin/items", form).await;
    assert_eq!(status, 303, "create answers a redirect: {body}");
    location
        .strip_prefix("/admin/items/")
        .and_then(|rest| rest.strip_suffix("/edit?done=created"))
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("redirect to the edit page, got {location}"))
}

async fn id_of(pool: &PgPool, slug: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM items WHERE slug = $1")
        .bind(slug)
        .fetch_one(pool)
        .await
        .expect("item by slug")
}

async fn result_area(pool: &PgPool, code: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM result_areas WHERE code = $1")
        .bind(code)
        .fetch_one(pool)
        .await
        .expect("result area by code")
}

async fn api_has(session: &Session, slug: &str) -> Option<serde_json::Value> {
    let (status, body) = session.get("/api/v1/programmes").await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    json["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["slug"] == slug)
        .cloned()
}

#[tokio::test]
async fn a_new_programme_reaches_staff_at_once_and_viewers_once_published() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let staff = app.signed_in(Role::Staff).await;
    let viewer = app.signed_in(Role::Viewer).await;
    // Load the dashboards first, so the cached portfolio must notice the change.
    assert_eq!(staff.get("/").await.0, 200);
    assert_eq!(viewer.get("/").await.0, 200);

    let (status, body) = admin.get("/admin/items/new").await;
    assert_eq!(status, 200);
    assert!(body.contains("Internal notes (staff and admins only)"));
    let id = create(
        &admin,
        &programme("Maritime crime programme", "maritime-crime"),
    )
    .await;
    let area = result_area(&app.db.pool, "1.1").await;
    let alignment = vec![
        ("result_area", area.to_string()),
        ("source_para", "para. 99".into()),
        ("note", "piracy".into()),
    ];
    let (status, location, _) =
        post(&admin, &format!("/admin/items/{id}/alignments"), &alignment).await;
    assert_eq!(status, 303);
    assert!(location.ends_with("done=aligned#alignments"), "{location}");
    let (status, _, body) =
        post(&admin, &format!("/admin/items/{id}/alignments"), &alignment).await;
    assert_eq!(status, 422, "a duplicate alignment is refused");
    assert!(
        body.contains("already aligned with that result area"),
        "{body}"
    );

    let (_, body) = staff.get("/").await;
    assert!(
        body.contains("Maritime crime programme"),
        "staff see the draft"
    );
    let json = api_has(&staff, "maritime-crime")
        .await
        .expect("in the API for staff");
    assert_eq!(json["result_areas"], serde_json::json!(["1.1"]));
    assert_eq!(json["kind"], "programme");
    let (_, body) = viewer.get("/").await;
    assert!(
        !body.contains("Maritime crime programme"),
        "viewers do not see drafts"
    );
    assert!(api_has(&viewer, "maritime-crime").await.is_none());
    assert_eq!(viewer.get("/programmes/maritime-crime").await.0, 404);

    let mut form = saved_form(&app.db.pool, id).await;
    set(&mut form, "published", "on");
    let (status, location, _) = post(&admin, &format!("/admin/items/{id}"), &form).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/items?done=saved")
    );

    let (_, body) = viewer.get("/").await;
    assert!(
        body.contains("Maritime crime programme"),
        "published for viewers"
    );
    assert!(api_has(&viewer, "maritime-crime").await.is_some());
    let (status, body) = viewer.get("/programmes/maritime-crime").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("Somalia") && body.contains("West Africa"),
        "places shown"
    );
    assert!(
        !body.contains("Donor meeting in May."),
        "internal notes hidden from viewers"
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
async fn validation_errors_answer_422_and_keep_what_was_typed() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM items")
            .fetch_one(&app.db.pool)
            .await
            .expect("count")
    };
    let before = count().await;

    let mut form = programme("Typed title that stays", "Not A Slug");
    set(&mut form, "end_date", "2008-12-31");
    set(&mut form, "description", &"x".repeat(20_001));
    let (status, _, body) = post(&admin, "/admin/items", &form).await;
    assert_eq!(status, 422);
    assert!(
        body.contains("value=\"Typed title that stays\""),
        "the title is kept"
    );
    assert!(body.contains("value=\"Not A Slug\""), "the slug is kept");
    assert!(body.contains("use lowercase letters, digits and single hyphens"));
    assert!(body.contains("the end date cannot be before the start date"));
    assert!(body.contains("at most 20,000 characters"));
    assert!(body.contains("aria-invalid=\"true\""));

    let mut form = programme("", "guinea-bissau");
    set(&mut form, "start_date", "31/01/2009");
    let (status, _, body) = post(&admin, "/admin/items", &form).await;
    assert_eq!(status, 422);
    assert!(body.contains("enter the title"));
    assert!(body.contains("use the form YYYY-MM-DD"));
    let mut form = programme("Ancient", "ancient-programme");
    set(&mut form, "start_date", "-5000-01-01");
    let (status, _, body) = post(&admin, "/admin/items", &form).await;
    assert_eq!(
        status, 422,
        "a year PostgreSQL cannot store is a field message, not a 500"
    );
    assert!(body.contains("use a year between 1900 and 2100"));
    let (status, _, body) = post(&admin, "/admin/items", &programme("Copy", "guinea-bissau")).await;
    assert_eq!(status, 422, "a slug in use is a field message, not a 500");
    assert!(body.contains("another item already uses this slug"));

    let mut form = programme("Orphan component", "orphan-component");
    set(&mut form, "kind", "component");
    let (status, _, body) = post(&admin, "/admin/items", &form).await;
    assert_eq!(status, 422, "a component needs a parent");
    assert!(body.contains("a component belongs to a programme or an initiative"));
    assert!(body.contains("value=\"Orphan component\""));

    let parent = id_of(&app.db.pool, "guinea-bissau").await;
    let mut form = programme("Programme with a parent", "programme-with-parent");
    set(&mut form, "parent", &parent.to_string());
    let (status, _, body) = post(&admin, "/admin/items", &form).await;
    assert_eq!(status, 422, "only components have a parent");
    assert!(body.contains("only components have a parent"));

    assert_eq!(count().await, before, "nothing was saved");

    let mut form = programme("Guinea-Bissau component", "guinea-bissau-courts");
    set(&mut form, "kind", "component");
    set(&mut form, "parent", &parent.to_string());
    create(&admin, &form).await;
    let (_, body) = admin.get("/").await;
    assert!(body.contains("Guinea-Bissau component"));
}

#[tokio::test]
async fn a_stale_version_gets_409_with_both_values_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let other = app.signed_in(Role::Admin).await;
    let id = id_of(&app.db.pool, "guinea-bissau").await;
    let loaded = saved_form(&app.db.pool, id).await;

    let mut first = loaded.clone();
    set(&mut first, "title", "Saved first by another admin");
    let (status, _, _) = post(&other, &format!("/admin/items/{id}"), &first).await;
    assert_eq!(status, 303);

    let mut second = loaded.clone();
    set(&mut second, "title", "Typed on a stale form");
    let (status, _, body) = post(&admin, &format!("/admin/items/{id}"), &second).await;
    assert_eq!(status, 409);
    assert!(body.contains("Someone else saved this record"));
    assert!(
        body.contains("Saved first by another admin"),
        "the saved value"
    );
    assert!(body.contains("Typed on a stale form"), "the typed value");
    let saved = admin_items::by_id(&app.db.pool, id)
        .await
        .expect("query")
        .expect("item");
    assert_eq!(saved.title, "Saved first by another admin", "unchanged");
    assert!(
        body.contains(&format!("name=\"version\" value=\"{}\"", saved.version)),
        "the form now carries the current version, so a second save is deliberate"
    );
}

#[tokio::test]
async fn a_parent_cannot_be_the_item_itself_or_below_it() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let pool = &app.db.pool;
    let programme = id_of(pool, "treatment-rehabilitation").await;
    let component = id_of(pool, "treatment-awareness-advocacy").await;

    let mut form = saved_form(pool, programme).await;
    set(&mut form, "kind", "component");
    for parent in [component, programme] {
        set(&mut form, "parent", &parent.to_string());
        let (status, _, body) = post(&admin, &format!("/admin/items/{programme}"), &form).await;
        assert_eq!(status, 422, "parent {parent} would close a loop");
        assert!(body.contains("cannot sit under itself or under one of its own components"));
    }
    let (_, body) = admin.get(&format!("/admin/items/{programme}/edit")).await;
    let menu = body
        .split("<select id=\"parent\"")
        .nth(1)
        .and_then(|rest| rest.split("</select>").next())
        .expect("a parent menu");
    assert!(
        menu.contains("West Africa: Guinea-Bissau"),
        "other items are offered"
    );
    assert!(
        !menu.contains("Awareness-raising and advocacy")
            && !menu.contains("Treatment and rehabilitation programme"),
        "neither the item nor its own components are offered as its parent"
    );
    let saved = admin_items::by_id(pool, programme)
        .await
        .expect("query")
        .expect("item");
    assert_eq!((saved.kind.as_str(), saved.parent_id), ("programme", None));

    let mut form = saved_form(pool, component).await;
    set(&mut form, "parent", "");
    let (status, _, _) = post(&admin, &format!("/admin/items/{component}"), &form).await;
    assert_eq!(status, 422, "a component keeps a parent");
}

#[tokio::test]
async fn archive_hides_the_item_and_its_components_and_restore_brings_them_back() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let id = id_of(&app.db.pool, "treatment-rehabilitation").await;
    let titles = [
        "Treatment and rehabilitation programme",
        "Awareness-raising and advocacy",
    ];
    let (_, body) = admin.get("/").await;
    assert!(titles.iter().all(|t| body.contains(t)));

    let (status, location, _) = admin.post(&format!("/admin/items/{id}/archive"), &[]).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/items?done=archived")
    );
    let (_, page) = admin.get("/").await;
    // the table, not "Recent changes", which names the archived item
    let body = &page[page.find("id=\"items-heading\"").expect("the table")..];
    assert!(
        titles.iter().all(|t| !body.contains(t)),
        "hidden with its components"
    );
    assert_eq!(
        admin.get("/programmes/treatment-rehabilitation").await.0,
        404
    );
    let (status, body) = admin.get("/admin/items?archived=yes").await;
    assert_eq!(status, 200);
    assert!(body.contains("Treatment and rehabilitation programme"));
    assert!(
        body.contains(&format!("/admin/items/{id}/restore")),
        "a Restore button"
    );
    let (_, body) = admin.get("/admin/items").await;
    assert!(
        body.contains("Treatment and rehabilitation programme"),
        "the list shows all"
    );

    let (status, _, _) = admin.post(&format!("/admin/items/{id}/restore"), &[]).await;
    assert_eq!(status, 303);
    let (_, body) = admin.get("/").await;
    assert!(
        titles.iter().all(|t| body.contains(t)),
        "back on the dashboard"
    );
}

#[tokio::test]
async fn every_change_is_audited_against_the_item() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let staff = app.signed_in(Role::Staff).await;
    let id = create(&admin, &programme("Audited programme", "audited-programme")).await;
    let area = result_area(&app.db.pool, "2.1").await;
    let (status, _, _) = post(
        &admin,
        &format!("/admin/items/{id}/alignments"),
        &vec![("result_area", area.to_string())],
    )
    .await;
    assert_eq!(status, 303);
    let mut form = saved_form(&app.db.pool, id).await;
    set(&mut form, "title", "Audited programme, renamed");
    set(&mut form, "published", "on");
    assert_eq!(
        post(&admin, &format!("/admin/items/{id}"), &form).await.0,
        303
    );
    assert_eq!(
        admin
            .post(&format!("/admin/items/{id}/archive"), &[])
            .await
            .0,
        303
    );
    assert_eq!(
        admin
            .post(&format!("/admin/items/{id}/restore"), &[])
            .await
            .0,
        303
    );
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
        ("update", "item", id),
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
    let after: serde_json::Value =
        sqlx::query_scalar("SELECT after FROM audit_log WHERE item_id = $1 AND action = 'update'")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .expect("after");
    assert_eq!(after["start_date"], "2009-01-01", "dates as ISO text");
    assert_eq!(after["countries_and_regions"], "West Africa, Somalia");

    let (status, body) = staff.get("/programmes/audited-programme/history").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("Audited programme, renamed")
            && body.contains("<del>Audited programme</del>")
    );
}

#[tokio::test]
async fn the_list_filters_and_refuses_unknown_values() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    create(
        &admin,
        &programme("Draft programme for the list", "draft-for-list"),
    )
    .await;

    let (status, body) = admin.get("/admin/items?published=no").await;
    assert_eq!(status, 200);
    assert!(body.contains("Draft programme for the list") && body.contains("Draft"));
    assert!(
        !body.contains("West Africa: Guinea-Bissau"),
        "published items filtered out"
    );
    let (_, body) = admin.get("/admin/items?kind=programme&q=GUINEA").await;
    assert!(body.contains("West Africa: Guinea-Bissau"));
    assert!(!body.contains("Awareness-raising and advocacy"));
    assert!(
        body.contains("/admin/items/") && body.contains("/money"),
        "money link"
    );
    let (_, body) = admin
        .get("/admin/items?kind=component&status=planned&archived=no")
        .await;
    assert!(body.contains("Awareness-raising and advocacy"));
    let (_, body) = admin.get("/admin/items?q=100%25_").await;
    assert!(
        body.contains("0 items"),
        "pattern characters are taken literally"
    );

    for (query, message) in [
        ("kind=bogus", "Unknown kind"),
        ("status=done", "Unknown status"),
        ("published=maybe", "use yes or no"),
        ("archived=1", "use yes or no"),
        ("page=abc", "not a page number"),
    ] {
        let (status, body) = admin.get(&format!("/admin/items?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(body.contains(message), "{query}: {message}");
    }
    // The seeded portfolio and the draft make more than one page of 50.
    let (_, body) = admin.get("/admin/items?archived=no").await;
    assert!(body.contains("Page 1 of 2"));
    assert!(
        body.contains("archived=no&#38;q=&amp;page=2"),
        "the pager keeps the filters"
    );
    let (status, body) = admin.get("/admin/items?archived=no&page=2").await;
    assert_eq!(status, 200);
    assert!(body.contains("Page 2 of 2"));
    assert_eq!(admin.get("/admin/items?page=9").await.0, 404);
    assert_eq!(admin.get("/admin/items/abc/edit").await.0, 404);
    assert_eq!(admin.get("/admin/items/999999/edit").await.0, 404);
    let form = without(&programme("x", "x"), "version");
    assert_eq!(
        post(&admin, "/admin/items/999999", &form).await.0,
        400,
        "no version"
    );
}

#[tokio::test]
async fn viewers_and_staff_cannot_use_the_item_admin() {
    let app = TestApp::spawn().await;
    let id = id_of(&app.db.pool, "guinea-bissau").await;
    let area = result_area(&app.db.pool, "1.2").await;
    let form = saved_form(&app.db.pool, id).await;
    for role in [Role::Viewer, Role::Staff] {
        let session = app.signed_in(role).await;
        for path in [
            "/admin/items".to_string(),
            format!("/admin/items/{id}/edit"),
        ] {
            assert_eq!(session.get(&path).await.0, 403, "{role:?} GET {path}");
        }
        for path in [
            "/admin/items".to_string(),
            format!("/admin/items/{id}"),
            format!("/admin/items/{id}/archive"),
            format!("/admin/items/{id}/restore"),
            format!("/admin/items/{id}/alignments"),
            format!("/admin/items/{id}/alignments/{area}/delete"),
        ] {
            assert_eq!(
                post(&session, &path, &form).await.0,
                403,
                "{role:?} POST {path}"
            );
        }
    }
    let saved = admin_items::by_id(&app.db.pool, id)
        .await
        .expect("query")
        .expect("item");
    assert!(!saved.archived);
}

/// Two changes that are each fine alone but together would put two components under each
/// other: the database serialises them and refuses the second.
#[tokio::test]
async fn two_saves_that_together_close_a_loop_are_refused_by_the_database() {
    let app = TestApp::spawn().await;
    let pool = &app.db.pool;
    let a = id_of(pool, "treatment-awareness-advocacy").await;
    let b = id_of(pool, "treatment-capacity-building").await;
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
