//! Organisations: the generic suite, and the hard delete (refused while contributions
//! name the organisation).

use super::page::Page;
use super::{
    Create, Duplicate, Edit, Find, Ident, Invalid, ItemLink, Missing, RecordSpec, Retire, Step,
    Target, audit_rows, constraint, fields, id_by, scalar,
};
use crate::harness::TestApp;
use portfolio_tracker::domain::auth::Role;
use serde_json::{Value, json};

conformance!(spec);

pub async fn spec(app: &TestApp) -> RecordSpec {
    let id = id_by(app, "organisations", "slug", "government-of-canada").await;
    let long_name = "x".repeat(301);
    let long_paras = "p".repeat(10_000);
    let long_acronym = "A".repeat(31);
    RecordSpec {
        entity: "organisation",
        table: "organisations",
        list: "/admin/organisations".into(),
        create: Step::Yes(Create {
            new: "/admin/organisations/new".into(),
            post: "/admin/organisations".into(),
            fields: fields(&[
                ("slug", "friends-of-the-office"),
                ("name", "Friends of the Office"),
                ("acronym", "ACR"),
                ("kind", "donor_group"),
                ("source_paras", "para. 99"),
            ]),
            find: Find::Id(
                "SELECT id FROM organisations WHERE slug = 'friends-of-the-office'".into(),
            ),
            location: "/admin/organisations?done=created".into(),
            notice: "Created.",
            listed: Some("Friends of the Office (ACR)"),
            edit: "/admin/organisations/{id}/edit".into(),
            after: vec![
                ("slug", json!("friends-of-the-office")),
                ("name", json!("Friends of the Office")),
                ("acronym", json!("ACR")),
                ("kind", json!("donor_group")),
                ("source_paras", json!("para. 99")),
            ],
            item_id: ItemLink::None,
            not_on_edit: vec![],
        }),
        invalid: vec![
            Invalid::new(
                &[
                    ("slug", "Bad Slug"),
                    ("name", "   "),
                    ("acronym", "TYPED-ACRONYM"),
                    ("kind", "intergovernmental"),
                    ("source_paras", "para. 123"),
                ],
                &[
                    ("slug", "use lowercase letters, digits and single hyphens"),
                    ("name", "enter the organisation's name"),
                ],
            ),
            Invalid::new(
                &[("name", &long_name)],
                &[("name", "use at most 300 characters")],
            ),
            Invalid::new(
                &[("source_paras", &long_paras)],
                &[("source_paras", "use at most 300 characters")],
            ),
            Invalid::new(
                &[("acronym", &long_acronym)],
                &[("acronym", "use at most 30 characters")],
            ),
            Invalid::new(
                &[("kind", "spaceship")],
                &[("kind", "choose what kind of body it is")],
            )
            .unkept(&["kind"]),
        ],
        duplicate: Duplicate::Key {
            field: "slug",
            constraint: "organisations_slug_key",
            taken: (
                fields(&[("slug", "government-of-canada"), ("name", "Another Canada")]),
                "another organisation already uses this slug",
            ),
            rename: Some((
                fields(&[("slug", "unodc"), ("name", "Renamed")]),
                "another organisation already uses this slug",
            )),
            fresh: (
                fields(&[("slug", "raced-organisation"), ("name", "Raced")]),
                "another organisation already uses this slug",
            ),
            insert: "INSERT INTO organisations (slug, name, kind)
                     VALUES ('raced-organisation', 'Raced first', 'government')"
                .into(),
        },
        constraints: vec![constraint(
            format!("UPDATE organisations SET slug = 'unodc' WHERE id = {id}"),
            "organisations_slug_key",
        )],
        target: Target {
            ident: Ident::Id(id),
            item_id: None,
            edit: format!("/admin/organisations/{id}/edit"),
            save: format!("/admin/organisations/{id}"),
            saved: "/admin/organisations?done=saved".into(),
            saved_notice: "Saved.",
            stored: format!("SELECT name FROM organisations WHERE id = {id}"),
            version: format!("SELECT version FROM organisations WHERE id = {id}"),
        },
        edit: Edit {
            field: "name",
            first: "Canada as A saved it",
            second: "Canada as B typed it",
            label: "Name",
            shown_first: "Canada as A saved it",
            shown_second: "Canada as B typed it",
            stored_before: Some("Government of Canada"),
            stored_first: Some("Canada as A saved it"),
            stored_second: Some("Canada as B typed it"),
            audit_key: "name",
            audit_before: json!("Government of Canada"),
            audit_first: json!("Canada as A saved it"),
        },
        retire: Retire::Archive {
            archive: format!("/admin/organisations/{id}/archive"),
            restore: format!("/admin/organisations/{id}/restore"),
            archived: "/admin/organisations?done=archived".into(),
            restored: "/admin/organisations?done=restored".into(),
            archived_notice: "Archived. It can be restored from this list.",
            restored_notice: "Restored.",
            shown_on: "/admin/organisations".into(),
            flag: format!("SELECT archived_at IS NOT NULL FROM organisations WHERE id = {id}"),
        },
        missing: Missing {
            gets: vec![
                "/admin/organisations/999999/edit".into(),
                "/admin/organisations/abc/edit".into(),
                "/admin/organisations/0/edit".into(),
            ],
            posts: vec![
                "/admin/organisations/999999".into(),
                "/admin/organisations/999999/archive".into(),
                "/admin/organisations/abc/restore".into(),
                "/admin/organisations/999999/delete".into(),
            ],
        },
        nul_field: "name",
        secret: vec![],
        more_gets: vec![],
        more_posts: vec![format!("/admin/organisations/{id}/delete")],
    }
}

/// An organisation no contribution names (so it may be hard-deleted).
async fn org_without_contributions(app: &TestApp) -> (i64, String) {
    sqlx::query_as(
        "SELECT o.id, o.name FROM organisations o
          WHERE NOT EXISTS (SELECT 1 FROM contributions c WHERE c.org_id = o.id)
          ORDER BY o.id LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("the seed has an organisation without contributions")
}

#[tokio::test]
async fn an_organisation_with_contributions_cannot_be_hard_deleted() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let id = id_by(&app, "organisations", "slug", "government-of-canada").await;
    let (status, _, body) = admin
        .post(&format!("/admin/organisations/{id}/delete"), &[])
        .await;
    assert_eq!(status, 409);
    let page = Page::parse(&body);
    assert_eq!(page.h1(), "Government of Canada cannot be deleted");
    let why = page.lead();
    assert!(why.contains("contribution"), "says why: {why}");
    assert!(
        why.contains("Archive the organisation instead"),
        "says what to do: {why}"
    );
    assert!(
        page.links().contains(&"/admin/organisations".to_string()),
        "a way back"
    );
    let left: i64 = scalar(
        &app,
        &format!("SELECT count(*) FROM organisations WHERE id = {id}"),
    )
    .await;
    assert_eq!(left, 1, "still there");
    assert!(
        audit_rows(&app, "organisation", &Ident::Id(id))
            .await
            .is_empty(),
        "nothing audited"
    );
}

#[tokio::test]
async fn an_organisation_without_contributions_is_hard_deleted_and_audited() {
    let app = TestApp::spawn().await;
    let (email, admin) = app.signed_in_with_email(Role::Admin).await;
    let (id, name) = org_without_contributions(&app).await;
    let (status, to, _) = admin
        .post(&format!("/admin/organisations/{id}/delete"), &[])
        .await;
    assert_eq!(
        (status, to.as_str()),
        (303, "/admin/organisations?done=deleted")
    );
    let left: i64 = scalar(
        &app,
        &format!("SELECT count(*) FROM organisations WHERE id = {id}"),
    )
    .await;
    assert_eq!(left, 0);
    let links: i64 = scalar(
        &app,
        &format!("SELECT count(*) FROM item_organisations WHERE org_id = {id}"),
    )
    .await;
    assert_eq!(links, 0, "its links to items went with it");

    let rows = audit_rows(&app, "organisation", &Ident::Id(id)).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.action, "delete");
    assert_eq!(row.actor_email.as_deref(), Some(email.as_str()));
    assert_eq!(row.before.as_ref().expect("before")["name"], name.as_str());
    assert_eq!(row.after, None::<Value>);

    let list = super::page(&admin, &to, 200).await;
    assert_eq!(list.notice().as_deref(), Some("Deleted."));
    assert!(
        !list.has_form_to(&format!("/admin/organisations/{id}/delete")),
        "no longer listed"
    );
}

#[tokio::test]
async fn a_slug_left_empty_is_made_from_the_name() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let (status, location, _) = admin
        .post(
            "/admin/organisations",
            &[
                ("slug", ""),
                ("name", "Government of Côte d’Ivoire"),
                ("kind", "government"),
                ("version", "0"),
            ],
        )
        .await;
    assert_eq!(status, 303, "created");
    assert_eq!(location, "/admin/organisations?done=created");
    let slug: String = scalar(
        &app,
        "SELECT slug FROM organisations WHERE name = 'Government of Côte d’Ivoire'",
    )
    .await;
    assert_eq!(slug, "government-of-cote-d-ivoire");
}
