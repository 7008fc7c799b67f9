//! Themes: edited only (their codes come from the strategy), never archived; a title the
//! source does not give stays unknown.

use super::{
    Duplicate, Edit, Ident, Invalid, Missing, RecordSpec, Retire, Step, Target, audit_rows,
    constraint, form_at, page, post_form, scalar,
};
use crate::harness::TestApp;
use portfolio_tracker::domain::auth::Role;
use serde_json::{Value, json};

conformance!(spec);

pub async fn spec(_app: &TestApp) -> RecordSpec {
    let long_title = "x".repeat(301);
    RecordSpec {
        entity: "theme",
        table: "themes",
        list: "/admin/result-areas".into(),
        create: Step::No {
            reason: "themes are the strategy's own: their codes are fixed, only titles are edited",
            gets: vec!["/admin/themes/new".into()],
            posts: vec!["/admin/themes".into()],
        },
        invalid: vec![Invalid::new(
            &[("title", &long_title)],
            &[("title", "use at most 300 characters")],
        )],
        duplicate: Duplicate::KeyInAddress {
            reason: "a theme's code is its address; the form edits its title only",
            field: "code",
        },
        constraints: vec![constraint(
            "UPDATE themes SET title = '  ' WHERE code = '3'",
            "themes_title_check",
        )],
        target: Target {
            ident: Ident::Key(vec![("code", json!("3"))]),
            item_id: None,
            edit: "/admin/themes/3/edit".into(),
            save: "/admin/themes/3".into(),
            saved: "/admin/result-areas?done=saved".into(),
            saved_notice: "Saved.",
            stored: "SELECT title FROM themes WHERE code = '3'".into(),
            version: "SELECT version FROM themes WHERE code = '3'".into(),
        },
        edit: Edit {
            field: "title",
            first: "Justice",
            second: "Health",
            label: "Title",
            shown_first: "Justice",
            shown_second: "Health",
            stored_before: None,
            stored_first: Some("Justice"),
            stored_second: Some("Health"),
            audit_key: "title",
            audit_before: Value::Null,
            audit_first: json!("Justice"),
        },
        retire: Retire::Never {
            reason: "themes are part of the strategy: never archived or deleted",
            posts: vec![
                "/admin/themes/3/archive".into(),
                "/admin/themes/3/delete".into(),
            ],
        },
        missing: Missing {
            gets: vec![
                "/admin/themes/x/edit".into(),
                "/admin/themes/2a/edit".into(),
                "/admin/themes/99/edit".into(),
                "/admin/themes/1234567890/edit".into(),
            ],
            posts: vec!["/admin/themes/x".into(), "/admin/themes/99".into()],
        },
        nul_field: "title",
        secret: vec![],
        more_gets: vec![],
        more_posts: vec![],
    }
}

#[tokio::test]
async fn theme_titles_are_edited_and_emptied_to_unknown() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let edit = "/admin/themes/2/edit";
    assert_eq!(page(&admin, edit, 200).await.h1(), "Edit theme 2");
    let heading = || async { page(&admin, "/result-areas", 200).await.text("h2#theme-2") };
    assert_eq!(heading().await, "Theme 2 (title not given in the source)");

    let mut form = form_at(&admin, edit).await;
    form.set("title", " Health and security ");
    let (status, to, _) = post_form(&admin, "/admin/themes/2", &form).await;
    assert_eq!(
        (status, to.as_str()),
        (303, "/admin/result-areas?done=saved")
    );
    assert_eq!(heading().await, "Theme 2: Health and security", "trimmed");
    let admin_list = page(&admin, "/admin/result-areas", 200).await;
    assert_eq!(
        admin_list.text("h2#theme-2"),
        "Theme 2: Health and security"
    );

    let mut form = form_at(&admin, edit).await;
    form.set("title", "");
    assert_eq!(post_form(&admin, "/admin/themes/2", &form).await.0, 303);
    let title: Option<String> = scalar(&app, "SELECT title FROM themes WHERE code = '2'").await;
    assert_eq!(title, None, "unknown, not an empty string");
    assert_eq!(heading().await, "Theme 2 (title not given in the source)");

    let rows = audit_rows(&app, "theme", &Ident::Key(vec![("code", json!("2"))])).await;
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(rows[0].action, "update");
    assert_eq!(rows[0].entity_id, None);
    assert_eq!(rows[0].item_id, None);
    assert_eq!(rows[0].before.as_ref().expect("before")["code"], "2");
    assert_eq!(
        rows[0].after.as_ref().expect("after")["title"],
        "Health and security"
    );
    assert_eq!(rows[1].after.as_ref().expect("after")["title"], Value::Null);
}
