//! Result areas: the generic suite, titles the source does not give (NULL, shown as not
//! given), and what archiving one hides.

use super::page::Page;
use super::{
    Create, Duplicate, Edit, Find, Ident, Invalid, ItemLink, Missing, RecordSpec, Retire, Step,
    Target, api_item, audit_rows, constraint, fields, form_at, id_by, page, post_form, scalar,
};
use crate::harness::{Session, TestApp};
use portfolio_tracker::domain::auth::Role;
use serde_json::{Value, json};

conformance!(spec);

pub async fn spec(app: &TestApp) -> RecordSpec {
    let id = id_by(app, "result_areas", "code", "3.4").await;
    let long_title = "t".repeat(301);
    let long_source = "s".repeat(101);
    let code_form = "use the theme's number, a dot and the area's number";
    RecordSpec {
        entity: "result_area",
        table: "result_areas",
        list: "/admin/result-areas".into(),
        create: Step::Yes(Create {
            new: "/admin/result-areas/new".into(),
            post: "/admin/result-areas".into(),
            fields: fields(&[
                ("code", "3.11"),
                ("theme", "3"),
                ("title", ""),
                ("source_para", "para. 99"),
            ]),
            find: Find::Id("SELECT id FROM result_areas WHERE code = '3.11'".into()),
            location: "/admin/result-areas?done=created".into(),
            notice: "Created.",
            listed: Some("3.11 | title not given in the source | 3 | para. 99"),
            edit: "/admin/result-areas/{id}/edit".into(),
            after: vec![
                ("code", json!("3.11")),
                ("theme_code", json!("3")),
                ("title", Value::Null),
                ("source_para", json!("para. 99")),
            ],
            item_id: ItemLink::None,
            not_on_edit: vec![],
        }),
        invalid: vec![
            Invalid::new(&[("code", "3-4")], &[("code", code_form)]),
            Invalid::new(&[("code", "3.04")], &[("code", code_form)]),
            Invalid::new(&[("code", "99999999999.1")], &[("code", code_form)]),
            Invalid::new(
                &[("code", "1.9"), ("theme", "3")],
                &[(
                    "code",
                    "a result area of theme 3 has a code starting with “3.”",
                )],
            ),
            Invalid::new(
                &[("code", "4.1"), ("theme", "4")],
                &[("theme", "choose the theme the result area belongs to")],
            )
            .unkept(&["theme"]),
            Invalid::new(
                &[("title", &long_title)],
                &[("title", "use at most 300 characters")],
            ),
            Invalid::new(
                &[("source_para", &long_source)],
                &[("source_para", "use at most 100 characters")],
            ),
        ],
        duplicate: Duplicate::Key {
            field: "code",
            constraint: "result_areas_code_key",
            taken: (
                fields(&[
                    ("code", "3.4"),
                    ("title", "Typed title"),
                    ("source_para", "para. 99"),
                ]),
                "another result area already has code 3.4",
            ),
            rename: Some((
                fields(&[("code", "3.5"), ("title", "Treatment")]),
                "another result area already has code 3.5",
            )),
            fresh: (
                fields(&[("code", "3.12")]),
                "another result area already has code 3.12",
            ),
            insert: "INSERT INTO result_areas (code, theme_code) VALUES ('3.12', '3')".into(),
        },
        constraints: vec![
            constraint(
                format!("UPDATE result_areas SET code = '3.5' WHERE id = {id}"),
                "result_areas_code_key",
            ),
            constraint(
                format!("UPDATE result_areas SET theme_code = '9' WHERE id = {id}"),
                "result_areas_theme_code_fkey",
            ),
            constraint(
                format!("UPDATE result_areas SET title = '  ' WHERE id = {id}"),
                "result_areas_title_check",
            ),
        ],
        target: Target {
            ident: Ident::Id(id),
            item_id: None,
            edit: format!("/admin/result-areas/{id}/edit"),
            save: format!("/admin/result-areas/{id}"),
            saved: "/admin/result-areas?done=saved".into(),
            saved_notice: "Saved.",
            stored: format!("SELECT title FROM result_areas WHERE id = {id}"),
            version: format!("SELECT version FROM result_areas WHERE id = {id}"),
        },
        edit: Edit {
            field: "title",
            first: "First save",
            second: "Second save",
            label: "Title",
            shown_first: "First save",
            shown_second: "Second save",
            stored_before: None,
            stored_first: Some("First save"),
            stored_second: Some("Second save"),
            audit_key: "title",
            audit_before: Value::Null,
            audit_first: json!("First save"),
        },
        retire: Retire::Archive {
            archive: format!("/admin/result-areas/{id}/archive"),
            restore: format!("/admin/result-areas/{id}/restore"),
            archived: "/admin/result-areas?done=archived".into(),
            restored: "/admin/result-areas?done=restored".into(),
            archived_notice: "Archived. It can be restored from this list.",
            restored_notice: "Restored.",
            shown_on: "/admin/result-areas".into(),
            flag: format!("SELECT archived_at IS NOT NULL FROM result_areas WHERE id = {id}"),
        },
        missing: Missing {
            gets: vec![
                "/admin/result-areas/999999/edit".into(),
                "/admin/result-areas/abc/edit".into(),
            ],
            posts: vec![
                "/admin/result-areas/999999".into(),
                "/admin/result-areas/0/archive".into(),
                "/admin/result-areas/abc/archive".into(),
                "/admin/result-areas/999999/restore".into(),
            ],
        },
        nul_field: "title",
        secret: vec![],
        more_gets: vec![],
        more_posts: vec![],
    }
}

/// The row heading of result area `code` on /result-areas, if it is listed.
async fn public_row(session: &Session, code: &str) -> Option<String> {
    let page = page(session, "/result-areas", 200).await;
    page.all("table.areas tbody th[scope=row]")
        .into_iter()
        .find(|th| {
            th.select(&super::page::sel("a strong"))
                .any(|s| super::page::text_of(s) == code)
        })
        .map(|th| {
            // without the source paragraph underneath
            let sub: String = th
                .select(&super::page::sel("div.sub"))
                .map(super::page::text_of)
                .collect();
            let all = super::page::text_of(th);
            all.strip_suffix(&sub).unwrap_or(&all).trim().to_string()
        })
}

async fn title(app: &TestApp, code: &str) -> Option<String> {
    scalar(
        app,
        &format!("SELECT title FROM result_areas WHERE code = '{code}'"),
    )
    .await
}

#[tokio::test]
async fn a_title_given_through_the_form_replaces_the_unknown_one() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let id = id_by(&app, "result_areas", "code", "3.4").await;

    assert_eq!(
        public_row(&admin, "3.4").await.as_deref(),
        Some("3.4 (title not given in the source)")
    );
    let list = page(&admin, "/admin/result-areas", 200).await;
    let row = list
        .rows("table")
        .into_iter()
        .find(|r| r.starts_with("3.4 |"))
        .expect("3.4 listed");
    assert!(row.contains("| title not given in the source |"), "{row}");
    let links = list.links();
    assert!(links.contains(&format!("/admin/result-areas/{id}/edit")));
    assert!(links.contains(&"/admin/themes/3/edit".to_string()));

    let mut form = form_at(&admin, &format!("/admin/result-areas/{id}/edit")).await;
    assert_eq!(form.get("code"), Some("3.4"));
    assert_eq!(form.get("title"), Some(""));
    form.set("title", "  Drug demand reduction  ");
    let save = format!("/admin/result-areas/{id}");
    let (status, to, _) = post_form(&admin, &save, &form).await;
    assert_eq!(
        (status, to.as_str()),
        (303, "/admin/result-areas?done=saved")
    );
    assert_eq!(
        title(&app, "3.4").await.as_deref(),
        Some("Drug demand reduction"),
        "trimmed"
    );
    assert_eq!(
        public_row(&admin, "3.4").await.as_deref(),
        Some("3.4 Drug demand reduction")
    );

    // Emptying the title makes it unknown again: NULL, never an empty string.
    let mut form = form_at(&admin, &format!("/admin/result-areas/{id}/edit")).await;
    form.set("title", "   ");
    assert_eq!(post_form(&admin, &save, &form).await.0, 303);
    assert_eq!(title(&app, "3.4").await, None);

    let rows = audit_rows(&app, "result_area", &Ident::Id(id)).await;
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(rows[0].action, "update");
    assert_eq!(rows[0].item_id, None);
    assert_eq!(
        rows[0].before.as_ref().expect("before")["title"],
        Value::Null
    );
    assert_eq!(
        rows[0].after.as_ref().expect("after")["title"],
        "Drug demand reduction"
    );
    assert_eq!(rows[1].after.as_ref().expect("after")["title"], Value::Null);
}

#[tokio::test]
async fn an_archived_area_disappears_until_restored() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let id = id_by(&app, "result_areas", "code", "3.6").await;
    let areas = |item: Option<serde_json::Value>| item.expect("in the API")["result_areas"].clone();
    let item_areas = || async {
        page(&admin, "/programmes/guinea-bissau", 200)
            .await
            .texts("dl.facts dd li strong")
    };
    assert_eq!(
        areas(api_item(&admin, "guinea-bissau").await),
        json!(["1.2", "1.3", "3.6"])
    );
    assert_eq!(item_areas().await, ["1.2", "1.3", "3.6"]);

    let (status, _, _) = admin
        .post(&format!("/admin/result-areas/{id}/archive"), &[])
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        public_row(&admin, "3.6").await,
        None,
        "not on /result-areas"
    );
    assert_eq!(item_areas().await, ["1.2", "1.3"], "not on the item's page");
    assert_eq!(
        areas(api_item(&admin, "guinea-bissau").await),
        json!(["1.2", "1.3"])
    );
    let list = page(&admin, "/admin/result-areas", 200).await;
    let row = list
        .rows("table")
        .into_iter()
        .find(|r| r.starts_with("3.6 |"))
        .expect("3.6 still listed for admins");
    assert!(row.contains("| Archived |"), "{row}");

    // Its code stays taken, and the message says where it is.
    let mut form = form_at(&admin, "/admin/result-areas/new").await;
    form.set("code", "3.6");
    form.set("theme", "3");
    let (status, _, body) = post_form(&admin, "/admin/result-areas", &form).await;
    assert_eq!(status, 422);
    let message = Page::parse(&body).field_error("code").expect("a message");
    assert!(
        message.contains("another result area already has code 3.6")
            && message.contains("it is archived: restore it from the list instead"),
        "{message}"
    );

    let (status, _, _) = admin
        .post(&format!("/admin/result-areas/{id}/restore"), &[])
        .await;
    assert_eq!(status, 303);
    assert!(public_row(&admin, "3.6").await.is_some());
    assert_eq!(item_areas().await, ["1.2", "1.3", "3.6"]);
    assert_eq!(
        areas(api_item(&admin, "guinea-bissau").await),
        json!(["1.2", "1.3", "3.6"])
    );
}
