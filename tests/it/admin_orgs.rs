//! Organisations admin, end to end: validation, unique slugs, optimistic locking,
//! archive and restore, hard delete, and the audit row each change writes.

use crate::harness::TestApp;
use portfolio_tracker::domain::auth::Role;
use serde_json::Value;

const LIST: &str = "/admin/organisations";

/// One audit row of an organisation: action, actor, before, after.
type AuditRow = (String, Option<String>, Option<Value>, Option<Value>);

async fn audit_rows(app: &TestApp, org_id: i64) -> Vec<AuditRow> {
    sqlx::query_as(
        "SELECT action, actor_email, before, after FROM audit_log
          WHERE entity = 'organisation' AND entity_id = $1 ORDER BY id",
    )
    .bind(org_id)
    .fetch_all(&app.db.pool)
    .await
    .expect("audit rows")
}

async fn organisation_audit_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE entity = 'organisation'")
        .fetch_one(&app.db.pool)
        .await
        .expect("count")
}

async fn org_id(app: &TestApp, slug: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT id FROM organisations WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&app.db.pool)
        .await
        .expect("look up an organisation")
}

async fn org_name(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("SELECT name FROM organisations WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .expect("the organisation exists")
}

/// An organisation that no contribution names (so it may be hard-deleted).
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

/// The hidden `version` field of a form page.
fn form_version(html: &str) -> String {
    let marker = "name=\"version\" value=\"";
    let start = html.find(marker).expect("a version field") + marker.len();
    let end = html[start..].find('"').expect("end of value") + start;
    html[start..end].to_string()
}

fn org_form<'a>(slug: &'a str, name: &'a str, version: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("slug", slug),
        ("name", name),
        ("acronym", "ACR"),
        ("kind", "donor_group"),
        ("source_paras", "para. 99"),
        ("version", version),
    ]
}

#[tokio::test]
async fn an_admin_creates_an_organisation_and_one_audit_row_records_it() {
    let app = TestApp::spawn().await;
    let (email, admin) = app.signed_in_with_email(Role::Admin).await;
    let (status, _) = admin.get("/admin/organisations/new").await;
    assert_eq!(status, 200);

    let (status, to, _) = admin
        .post(
            LIST,
            &org_form("friends-of-the-office", "Friends of the Office", "0"),
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(to, "/admin/organisations?done=created");
    let id = org_id(&app, "friends-of-the-office")
        .await
        .expect("the row exists");
    let (kind, acronym, paras): (String, Option<String>, Option<String>) =
        sqlx::query_as("SELECT kind, acronym, source_paras FROM organisations WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .expect("row");
    assert_eq!(
        (kind.as_str(), acronym.as_deref(), paras.as_deref()),
        ("donor_group", Some("ACR"), Some("para. 99"))
    );
    let (_, list) = admin.get(&to).await;
    assert!(list.contains("Created."), "the notice");
    assert!(list.contains("Friends of the Office"));

    let rows = audit_rows(&app, id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (action, actor, before, after) = &rows[0];
    assert_eq!(action, "create");
    assert_eq!(actor.as_deref(), Some(email.as_str()));
    assert_eq!(before, &None);
    let after = after.as_ref().expect("after");
    assert_eq!(after["name"], "Friends of the Office");
    assert_eq!(after["slug"], "friends-of-the-office");
}

#[tokio::test]
async fn invalid_input_is_a_422_that_keeps_what_was_typed() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let before = organisation_audit_count(&app).await;

    let (status, _, body) = admin
        .post(
            LIST,
            &[
                ("slug", "Bad Slug"),
                ("name", "   "),
                ("acronym", "TYPED-ACRONYM"),
                ("kind", "intergovernmental"),
                ("source_paras", "para. 123"),
                ("version", "0"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("use lowercase letters"), "slug message");
    assert!(body.contains("enter the organisation"), "name message");
    assert!(body.contains("value=\"Bad Slug\""), "typed slug kept");
    assert!(
        body.contains("value=\"TYPED-ACRONYM\""),
        "typed acronym kept"
    );
    assert!(
        body.contains("value=\"para. 123\""),
        "typed paragraphs kept"
    );
    assert!(
        body.contains("value=\"intergovernmental\" selected"),
        "chosen kind kept"
    );
    assert!(body.contains("aria-invalid=\"true\""));
    assert!(body.contains("2 things to fix"));

    let long = "x".repeat(301);
    let (status, _, body) = admin.post(LIST, &org_form("long-name", &long, "0")).await;
    assert_eq!(status, 422);
    assert!(body.contains("at most 300 characters"));
    let (status, _, body) = admin
        .post(
            LIST,
            &[
                ("slug", "odd-kind"),
                ("name", "Odd Kind"),
                ("kind", "spaceship"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("choose what kind of body it is"));
    let (status, _, _) = admin.post(LIST, &org_form("nul-byte", "a\0b", "0")).await;
    assert_eq!(
        status, 400,
        "a NUL byte is a bad request, not a server error"
    );

    for slug in ["bad-slug", "long-name", "odd-kind", "nul-byte"] {
        assert_eq!(org_id(&app, slug).await, None, "{slug} was not created");
    }
    assert_eq!(
        organisation_audit_count(&app).await,
        before,
        "nothing audited"
    );
}

#[tokio::test]
async fn a_duplicate_slug_is_a_422_on_the_slug_field() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let (status, _, body) = admin
        .post(
            LIST,
            &org_form("government-of-canada", "Another Canada", "0"),
        )
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("another organisation already uses this slug"));
    assert!(body.contains("value=\"Another Canada\""), "typed name kept");
    assert!(body.contains("id=\"slug-error\""), "next to the slug field");

    // Renaming another organisation onto a taken slug is refused the same way.
    let (id, _) = org_without_contributions(&app).await;
    let (_, form) = admin.get(&format!("/admin/organisations/{id}/edit")).await;
    let version = form_version(&form);
    let (status, _, body) = admin
        .post(
            &format!("/admin/organisations/{id}"),
            &org_form("government-of-canada", "Renamed", &version),
        )
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("another organisation already uses this slug"));
    assert_ne!(org_name(&app, id).await, "Renamed");
    assert!(audit_rows(&app, id).await.is_empty());
}

#[tokio::test]
async fn a_stale_save_is_a_409_showing_both_versions_and_keeps_the_first() {
    let app = TestApp::spawn().await;
    let (email_a, a) = app.signed_in_with_email(Role::Admin).await;
    let b = app.signed_in(Role::Admin).await;
    let id = org_id(&app, "government-of-canada").await.expect("seeded");
    let edit = format!("/admin/organisations/{id}/edit");
    let save = format!("/admin/organisations/{id}");

    let (_, form_a) = a.get(&edit).await;
    let (_, form_b) = b.get(&edit).await;
    assert!(form_a.contains("value=\"Government of Canada\""));
    let version = form_version(&form_a);
    assert_eq!(version, form_version(&form_b));

    let (status, to, _) = a
        .post(
            &save,
            &org_form("government-of-canada", "Canada as A saved it", &version),
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(to, "/admin/organisations?done=saved");

    let (status, _, body) = b
        .post(
            &save,
            &org_form("government-of-canada", "Canada as B typed it", &version),
        )
        .await;
    assert_eq!(status, 409);
    assert!(body.contains("Someone else saved this record"));
    assert!(body.contains("Canada as A saved it"), "the saved value");
    assert!(body.contains("Canada as B typed it"), "the typed value");
    assert!(
        body.contains("value=\"Canada as B typed it\""),
        "the form keeps what B typed"
    );
    assert_eq!(org_name(&app, id).await, "Canada as A saved it");
    let rows = audit_rows(&app, id).await;
    assert_eq!(rows.len(), 1, "only A's save is audited: {rows:?}");
    let (action, actor, before, after) = &rows[0];
    assert_eq!(action, "update");
    assert_eq!(actor.as_deref(), Some(email_a.as_str()));
    assert_eq!(
        before.as_ref().expect("before")["name"],
        "Government of Canada"
    );
    assert_eq!(
        after.as_ref().expect("after")["name"],
        "Canada as A saved it"
    );

    // The conflict page carries the current version: saving again is deliberate.
    let current = form_version(&body);
    assert_ne!(current, version);
    let (status, _, _) = b
        .post(
            &save,
            &org_form("government-of-canada", "Canada as B typed it", &current),
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(org_name(&app, id).await, "Canada as B typed it");
    assert_eq!(audit_rows(&app, id).await.len(), 2);
}

#[tokio::test]
async fn a_save_without_a_valid_version_is_refused_without_changes() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let id = org_id(&app, "government-of-canada").await.expect("seeded");
    for version in ["", "abc"] {
        let (status, _, _) = admin
            .post(
                &format!("/admin/organisations/{id}"),
                &org_form("government-of-canada", "Tampered", version),
            )
            .await;
        assert_eq!(status, 400, "version {version:?}");
    }
    assert_eq!(org_name(&app, id).await, "Government of Canada");
    assert!(audit_rows(&app, id).await.is_empty());
}

async fn archived(app: &TestApp, id: i64) -> bool {
    sqlx::query_scalar("SELECT archived_at IS NOT NULL FROM organisations WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .expect("row")
}

#[tokio::test]
async fn archive_and_restore_each_write_one_audit_row() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let id = org_id(&app, "government-of-canada").await.expect("seeded");

    let (status, to, _) = admin
        .post(&format!("/admin/organisations/{id}/archive"), &[])
        .await;
    assert_eq!(
        (status, to.as_str()),
        (303, "/admin/organisations?done=archived")
    );
    assert!(archived(&app, id).await);
    let (_, list) = admin.get(&to).await;
    assert!(list.contains("Archived. It can be restored"));
    assert!(list.contains(&format!("/admin/organisations/{id}/restore")));

    // Archiving what is archived changes nothing and records nothing.
    let (status, _, _) = admin
        .post(&format!("/admin/organisations/{id}/archive"), &[])
        .await;
    assert_eq!(status, 303);

    let (status, to, _) = admin
        .post(&format!("/admin/organisations/{id}/restore"), &[])
        .await;
    assert_eq!(
        (status, to.as_str()),
        (303, "/admin/organisations?done=restored")
    );
    assert!(!archived(&app, id).await);

    let actions: Vec<String> = audit_rows(&app, id)
        .await
        .into_iter()
        .map(|(action, ..)| action)
        .collect();
    assert_eq!(actions, ["archive", "restore"]);
}

#[tokio::test]
async fn an_organisation_with_contributions_cannot_be_hard_deleted() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let id = org_id(&app, "government-of-canada").await.expect("seeded");
    let (status, _, body) = admin
        .post(&format!("/admin/organisations/{id}/delete"), &[])
        .await;
    assert_eq!(status, 409);
    assert!(body.contains("cannot be deleted"), "{body}");
    assert!(body.contains("contribution"), "says why");
    assert!(
        body.contains("Archive the organisation instead"),
        "says what to do"
    );
    assert_eq!(
        org_id(&app, "government-of-canada").await,
        Some(id),
        "still there"
    );
    assert!(audit_rows(&app, id).await.is_empty(), "nothing audited");
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
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM organisations WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .expect("count");
    assert_eq!(left, 0);
    let links: i64 =
        sqlx::query_scalar("SELECT count(*) FROM item_organisations WHERE org_id = $1")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .expect("count");
    assert_eq!(links, 0, "its links to items went with it");

    let rows = audit_rows(&app, id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (action, actor, before, after) = &rows[0];
    assert_eq!(action, "delete");
    assert_eq!(actor.as_deref(), Some(email.as_str()));
    assert_eq!(before.as_ref().expect("before")["name"], name.as_str());
    assert_eq!(after, &None);

    let (_, list) = admin.get(&to).await;
    assert!(list.contains("Deleted."));
}

async fn try_sql(app: &TestApp, sql: &str) -> Result<u64, String> {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&app.db.pool)
        .await
        .map(|done| done.rows_affected())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_audit_table_is_append_only() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let (status, _, _) = admin
        .post(LIST, &org_form("audited-org", "Audited Org", "0"))
        .await;
    assert_eq!(status, 303);
    let rows_before: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&app.db.pool)
        .await
        .expect("count");
    assert!(rows_before >= 2, "a sign-in and a create are recorded");

    for sql in [
        "UPDATE audit_log SET summary = 'rewritten'",
        "UPDATE audit_log SET actor_email = NULL WHERE entity = 'organisation'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE entity = 'organisation'",
        "TRUNCATE audit_log",
    ] {
        let outcome = try_sql(&app, sql).await;
        let error = outcome.expect_err(sql);
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
    let rows_after: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&app.db.pool)
        .await
        .expect("count");
    assert_eq!(rows_after, rows_before);
    let rewritten: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE summary = 'rewritten'")
            .fetch_one(&app.db.pool)
            .await
            .expect("count");
    assert_eq!(rewritten, 0);
}

#[tokio::test]
async fn over_long_source_paragraphs_get_a_field_message() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let paras = "p".repeat(10_000);
    let (status, _, body) = admin
        .post(
            LIST,
            &[
                ("slug", "long-paragraphs"),
                ("name", "Long Paragraphs"),
                ("kind", "government"),
                ("source_paras", &paras),
                ("version", "0"),
            ],
        )
        .await;
    assert_eq!(status, 422, "over-long input gets a field message");
    assert!(body.contains("at most"), "says the limit");
    assert!(
        body.contains("aria-invalid=\"true\""),
        "marked next to its field"
    );
    assert_eq!(org_id(&app, "long-paragraphs").await, None);
}
