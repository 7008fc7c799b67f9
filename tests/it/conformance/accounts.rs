//! Accounts: the generic suite (disable and enable take the place of archive and restore),
//! and what only accounts have: role changes, password resets, no self-demotion.

use super::page::{Page, field_error_in};
use super::{
    Create, Duplicate, Edit, Find, Ident, Invalid, ItemLink, Missing, RecordSpec, Retire, Step,
    Target, audit_rows, constraint, fields, form_at, page, post_form, scalar,
};
use crate::harness::{PASSWORD, TestApp, location};
use portfolio_tracker::domain::auth::Role;
use serde_json::{Value, json};

conformance!(spec);

const TARGET: &str = "conformance.target@example.org";

pub async fn spec(app: &TestApp) -> RecordSpec {
    app.create_user(TARGET, Role::Staff).await;
    let id = app.user_id(TARGET).await;
    let long_name = "n".repeat(201);
    RecordSpec {
        entity: "user",
        table: "users",
        list: "/admin/users".into(),
        create: Step::Yes(Create {
            new: "/admin/users/new".into(),
            post: "/admin/users".into(),
            fields: fields(&[
                ("email", "new.person@example.org"),
                ("display_name", "New Person"),
                ("role", "staff"),
                ("password", "a long enough first password"),
            ]),
            find: Find::Id("SELECT id FROM users WHERE email = 'new.person@example.org'".into()),
            location: "/admin/users?done=created".into(),
            notice: "Created.",
            listed: Some("new.person@example.org | New Person | staff | Active"),
            edit: "/admin/users/{id}/edit".into(),
            after: vec![
                ("email", json!("new.person@example.org")),
                ("display_name", json!("New Person")),
                ("role", json!("staff")),
                ("disabled_at", Value::Null),
                ("password_hash", Value::Null),
            ],
            item_id: ItemLink::None,
            not_on_edit: vec!["email", "password"],
        }),
        invalid: vec![
            Invalid::new(
                &[("email", "not-an-email")],
                &[("email", "enter an address like name@example.org")],
            ),
            Invalid::new(&[("email", "")], &[("email", "enter an email address")]),
            Invalid::new(
                &[("password", "too short")],
                &[("password", "a password needs at least 12 characters")],
            ),
            Invalid::new(
                &[("display_name", &long_name)],
                &[("display_name", "use at most 200 characters")],
            ),
            Invalid::new(&[("role", "superuser")], &[("role", "choose a role")]).unkept(&["role"]),
        ],
        duplicate: Duplicate::Key {
            field: "email",
            constraint: "users_email_key",
            taken: (
                fields(&[("email", "Conformance.Target@Example.org ")]),
                "an account with this email address exists already",
            ),
            rename: None,
            fresh: (
                fields(&[("email", "raced.person@example.org")]),
                "an account with this email address exists already",
            ),
            insert: "INSERT INTO users (email, role, password_hash)
                     VALUES ('raced.person@example.org', 'viewer', '$argon2id$raced')"
                .into(),
        },
        constraints: vec![
            constraint(
                format!(
                    "INSERT INTO users (email, role, password_hash)
                     SELECT email, 'viewer', password_hash FROM users WHERE id = {id}"
                ),
                "users_email_key",
            ),
            constraint(
                format!("UPDATE users SET role = 'superuser' WHERE id = {id}"),
                "users_role_check",
            ),
        ],
        target: Target {
            ident: Ident::Id(id),
            item_id: None,
            edit: format!("/admin/users/{id}/edit"),
            save: format!("/admin/users/{id}"),
            saved: "/admin/users?done=saved".into(),
            saved_notice: "Saved.",
            stored: format!("SELECT display_name FROM users WHERE id = {id}"),
            version: format!("SELECT version FROM users WHERE id = {id}"),
        },
        edit: Edit {
            field: "display_name",
            first: "Name as A saved it",
            second: "Name as B typed it",
            label: "Name",
            shown_first: "Name as A saved it",
            shown_second: "Name as B typed it",
            stored_before: Some(""),
            stored_first: Some("Name as A saved it"),
            stored_second: Some("Name as B typed it"),
            audit_key: "display_name",
            audit_before: json!(""),
            audit_first: json!("Name as A saved it"),
        },
        retire: Retire::Disable {
            email: TARGET.into(),
            flag: format!("SELECT disabled_at IS NOT NULL FROM users WHERE id = {id}"),
        },
        missing: Missing {
            gets: vec![
                "/admin/users/999999/edit".into(),
                "/admin/users/abc/edit".into(),
            ],
            posts: vec![
                "/admin/users/999999".into(),
                "/admin/users/0".into(),
                "/admin/users/999999/password".into(),
            ],
        },
        nul_field: "display_name",
        secret: vec!["password"],
        more_gets: vec![],
        more_posts: vec![format!("/admin/users/{id}/password")],
    }
}

#[tokio::test]
async fn an_admin_cannot_demote_or_disable_their_own_account() {
    let app = TestApp::spawn().await;
    let (email, admin) = app.signed_in_with_email(Role::Admin).await;
    let id = app.user_id(&email).await;
    let edit = format!("/admin/users/{id}/edit");
    for (name, value) in [("role", "staff"), ("disabled", "on")] {
        let mut form = form_at(&admin, &edit).await;
        form.set(name, value);
        let (status, _, body) = post_form(&admin, &format!("/admin/users/{id}"), &form).await;
        assert_eq!(status, 422, "{name}={value}");
        let message = Page::parse(&body).field_error("role");
        assert_eq!(
            message.as_deref(),
            Some("you cannot demote or disable your own account; ask another admin"),
            "{name}={value}"
        );
    }
    let (role, disabled): (String, bool) =
        sqlx::query_as("SELECT role, disabled_at IS NOT NULL FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .expect("the account");
    assert_eq!((role.as_str(), disabled), ("admin", false));
    assert!(audit_rows(&app, "user", &Ident::Id(id)).await.is_empty());
    assert_eq!(admin.get("/admin").await.0, 200, "still an admin");
}

#[tokio::test]
async fn a_role_change_is_audited_as_one_and_ends_the_persons_sessions() {
    let app = TestApp::spawn().await;
    let (email_admin, admin) = app.signed_in_with_email(Role::Admin).await;
    let (email, staff) = app.signed_in_with_email(Role::Staff).await;
    let id = app.user_id(&email).await;
    let mut form = form_at(&admin, &format!("/admin/users/{id}/edit")).await;
    assert_eq!(form.get("role"), Some("staff"));
    form.set("role", "viewer");
    let (status, to, _) = post_form(&admin, &format!("/admin/users/{id}"), &form).await;
    assert_eq!((status, to.as_str()), (303, "/admin/users?done=saved"));
    let response = staff.get_response("/").await;
    assert_eq!(response.status().as_u16(), 303, "signed out at once");
    assert!(location(&response).starts_with("/login"));

    let rows = audit_rows(&app, "user", &Ident::Id(id)).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].action, "role_change");
    assert_eq!(rows[0].actor_email.as_deref(), Some(email_admin.as_str()));
    assert_eq!(rows[0].before.as_ref().expect("before")["role"], "staff");
    assert_eq!(rows[0].after.as_ref().expect("after")["role"], "viewer");
    let list = page(&admin, "/admin/users", 200).await;
    assert!(
        list.rows("table")
            .iter()
            .any(|r| r.starts_with(&format!("{email} |")) && r.contains("| viewer |")),
        "the list shows the new role"
    );
}

#[tokio::test]
async fn a_password_reset_is_audited_and_a_short_one_is_refused_next_to_its_field() {
    let app = TestApp::spawn().await;
    let (email_admin, admin) = app.signed_in_with_email(Role::Admin).await;
    let (email, person) = app.signed_in_with_email(Role::Staff).await;
    let id = app.user_id(&email).await;
    let reset = format!("/admin/users/{id}/password");

    let (status, _, body) = admin.post(&reset, &[("password", "short")]).await;
    assert_eq!(status, 422);
    let page = Page::parse(&body);
    assert_eq!(
        field_error_in(page.form_to(&reset), "password").as_deref(),
        Some("a password needs at least 12 characters")
    );
    assert_eq!(
        field_error_in(page.record_form(), "display_name"),
        None,
        "the message is at the reset form"
    );
    assert!(app.sign_in(&email, PASSWORD).await.is_ok(), "unchanged");

    let new_password = "a brand new passphrase";
    let (status, to, _) = admin.post(&reset, &[("password", new_password)]).await;
    assert_eq!((status, to.as_str()), (303, "/admin/users?done=saved"));
    assert_eq!(
        person.get_response("/").await.status().as_u16(),
        303,
        "signed out everywhere"
    );
    assert!(app.sign_in(&email, PASSWORD).await.is_err(), "old password");
    assert!(app.sign_in(&email, new_password).await.is_ok(), "new one");

    let rows = audit_rows(&app, "user", &Ident::Id(id)).await;
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["password_reset"]);
    assert_eq!(rows[0].actor_email.as_deref(), Some(email_admin.as_str()));
    let leaked: i64 = scalar(
        &app,
        "SELECT count(*) FROM audit_log
          WHERE before::text LIKE '%argon2%' OR after::text LIKE '%argon2%'
             OR summary LIKE '%argon2%'",
    )
    .await;
    assert_eq!(leaked, 0, "no password hash in the audit trail");
}
