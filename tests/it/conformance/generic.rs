//! The generic tests, run per record type by `conformance!`.

use super::page::{Form, Page};
use super::{
    Create, Duplicate, Fields, Find, Ident, ItemLink, RecordSpec, Retire, Step, Target,
    audit_count, audit_rows, form_at, page, post_form, row_count, scalar,
};
use crate::harness::{PASSWORD, Session, TestApp, location};
use portfolio_tracker::domain::auth::Role;
use serde_json::json;
use std::time::Duration;

/// The edited field as stored now (None: NULL, unknown).
async fn stored(app: &TestApp, target: &Target) -> Option<String> {
    scalar(app, &target.stored).await
}

async fn version_of(app: &TestApp, target: &Target) -> String {
    scalar::<i32>(app, &target.version).await.to_string()
}

async fn flag(app: &TestApp, sql: &str) -> bool {
    scalar(app, sql).await
}

/// The valid create form as typed into the empty form, and where it posts; with no
/// create, the target's edit form and its save address.
async fn typed_form(session: &Session, spec: &RecordSpec) -> (Form, String) {
    match &spec.create {
        Step::Yes(create) => {
            let mut form = form_at(session, &create.new).await;
            form.set_all(&create.fields);
            (form, create.post.clone())
        }
        Step::No { .. } => (
            form_at(session, &spec.target.edit).await,
            spec.target.save.clone(),
        ),
    }
}

/// Short text naming what a case typed, for failure messages.
fn describe(set: &Fields) -> String {
    set.iter()
        .map(|(k, v)| {
            let shown: String = v.chars().take(24).collect();
            if v.chars().count() > 24 {
                format!("{k}={shown:?}… ({} chars)", v.chars().count())
            } else {
                format!("{k}={shown:?}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The message next to `field` contains `message`, and the control says so to assistive
/// technology (aria-invalid, and aria-describedby naming the message).
fn assert_field_message(page: &Page, field: &str, message: &str, what: &str) {
    let form = page.record_form();
    let shown = super::page::field_error_in(form, field)
        .unwrap_or_else(|| panic!("{what}: a message next to {field}"));
    assert!(
        shown.contains(message),
        "{what}: {field} says {shown:?}, expected {message:?}"
    );
    let control = page.control(field);
    assert_eq!(
        control.attr("aria-invalid"),
        Some("true"),
        "{what}: {field} is marked invalid"
    );
    let error_ids: Vec<String> = page
        .all(".error-message[id]")
        .into_iter()
        .filter(|e| super::page::text_of(*e) == shown)
        .filter_map(|e| e.attr("id").map(str::to_string))
        .collect();
    let described: Vec<&str> = control
        .attr("aria-describedby")
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert!(
        error_ids.iter().any(|id| described.contains(&id.as_str())),
        "{what}: {field} is described by its message {error_ids:?}, got {described:?}"
    );
}

/// Only these fields have a message, and the summary counts them.
fn assert_only_messages(page: &Page, fields: &[&str], what: &str) {
    let form = page.record_form();
    for (name, _) in &Form::from_element(form).fields {
        let hidden =
            super::page::control_in(form, name).is_some_and(|c| c.attr("type") == Some("hidden"));
        if !hidden && !fields.contains(&name.as_str()) {
            assert_eq!(
                super::page::field_error_in(form, name),
                None,
                "{what}: no message next to {name}"
            );
        }
    }
    let n = fields.len();
    let summary = page.error_summary().expect("a summary of the mistakes");
    let count = format!("{n} thing{} to fix", if n == 1 { "" } else { "s" });
    assert!(summary.contains(&count), "{what}: {summary:?} says {count}");
}

/// The page shows the form as it was posted: sending it again sends the same values.
fn assert_kept(page: &Page, posted: &Form, unkept: &[&str], what: &str) {
    let shown = page.submitted();
    assert_eq!(
        shown.without(unkept),
        posted.without(unkept),
        "{what}: every typed value is kept"
    );
    for name in unkept {
        assert_ne!(
            shown.get(name),
            posted.get(name),
            "{what}: {name} is declared as not shown as typed"
        );
    }
}

fn expected_id(ident: &Ident) -> Option<i64> {
    match ident {
        Ident::Id(id) => Some(*id),
        Ident::Key(_) => None,
    }
}

/// GETs and POSTs to addresses a record type does not have: 404 or 405, nothing saved.
async fn assert_absent(
    app: &TestApp,
    spec: &RecordSpec,
    session: &Session,
    reason: &str,
    gets: &[String],
    posts: &[String],
) {
    let rows = row_count(app, spec.table).await;
    let audited = audit_count(app, spec.entity).await;
    let before = stored(app, &spec.target).await;
    let form = form_at(session, &spec.target.edit).await;
    assert!(!gets.is_empty() || !posts.is_empty(), "{reason}: addresses");
    for path in gets {
        let (status, _) = session.get(path).await;
        assert!(
            matches!(status, 404 | 405),
            "{reason}: GET {path} answers {status}"
        );
    }
    for path in posts {
        let (status, _, _) = post_form(session, path, &form).await;
        assert!(
            matches!(status, 404 | 405),
            "{reason}: POST {path} answers {status}"
        );
    }
    assert_eq!(row_count(app, spec.table).await, rows, "{reason}");
    assert_eq!(audit_count(app, spec.entity).await, audited, "{reason}");
    assert_eq!(stored(app, &spec.target).await, before, "{reason}");
}

// ---------------------------------------------------------------------------------------
// Create

pub async fn create(app: &TestApp, spec: &RecordSpec) {
    let (email, admin) = app.signed_in_with_email(Role::Admin).await;
    let create = match &spec.create {
        Step::Yes(create) => create,
        Step::No {
            reason,
            gets,
            posts,
        } => return assert_absent(app, spec, &admin, reason, gets, posts).await,
    };
    let rows = row_count(app, spec.table).await;
    let audited = audit_count(app, spec.entity).await;

    let mut form = form_at(&admin, &create.new).await;
    assert_eq!(form.get("version"), Some("0"), "a new form is at version 0");
    form.set_all(&create.fields);
    let (status, to, body) = post_form(&admin, &create.post, &form).await;
    assert_eq!(status, 303, "create answers a redirect: {body}");
    let (ident, id) = find(app, create).await;
    assert_eq!(to, create.location.replace("{id}", &id));
    assert_eq!(
        row_count(app, spec.table).await,
        rows + 1,
        "one record more"
    );

    let shown = page(&admin, &to, 200).await;
    assert_eq!(shown.notice().as_deref(), Some(create.notice), "the notice");
    if let Some(listed) = create.listed {
        let rows = shown.rows("table");
        assert!(
            rows.iter().any(|r| r.contains(listed)),
            "{to} lists {listed:?}: {rows:#?}"
        );
    }

    let audit = audit_rows(app, spec.entity, &ident).await;
    assert_eq!(audit.len(), 1, "one audit row: {audit:#?}");
    let row = &audit[0];
    assert_eq!(row.action, "create");
    assert_eq!(row.actor_email.as_deref(), Some(email.as_str()), "who");
    assert_eq!(row.entity_id, expected_id(&ident));
    let item_id = match create.item_id {
        ItemLink::None => None,
        ItemLink::Item(id) => Some(id),
        ItemLink::Itself => expected_id(&ident),
    };
    assert_eq!(row.item_id, item_id, "the item it belongs to");
    assert!(!row.summary.is_empty(), "a summary for people");
    assert_eq!(row.before, None, "nothing before a create");
    let after = row.after.as_ref().expect("what was created");
    for (key, want) in &create.after {
        assert_eq!(&after[*key], want, "after.{key}: {after:#}");
    }
    assert_eq!(
        audit_count(app, spec.entity).await,
        audited + 1,
        "no other audit row"
    );

    // What was typed is what was stored: its edit page shows it again.
    let saved = form_at(&admin, &create.edit.replace("{id}", &id)).await;
    let mut skip = create.not_on_edit.clone();
    skip.push("version");
    assert_eq!(saved.without(&skip), form.without(&skip), "stored as typed");
    assert_eq!(
        saved.get("version"),
        Some("1"),
        "a new record is at version 1"
    );
}

async fn find(app: &TestApp, create: &Create) -> (Ident, String) {
    match &create.find {
        Find::Id(sql) => {
            let id: i64 = scalar(app, sql).await;
            (Ident::Id(id), id.to_string())
        }
        Find::Key(pairs) => (Ident::Key(pairs.clone()), String::new()),
    }
}

// ---------------------------------------------------------------------------------------
// Invalid input

pub async fn invalid(app: &TestApp, spec: &RecordSpec) {
    let admin = app.signed_in(Role::Admin).await;
    assert!(!spec.invalid.is_empty(), "invalid cases");
    let rows = row_count(app, spec.table).await;
    let audited = audit_count(app, spec.entity).await;
    let before = stored(app, &spec.target).await;
    for case in &spec.invalid {
        let what = describe(&case.set);
        let (mut form, path) = typed_form(&admin, spec).await;
        form.set_all(&case.set);
        let (status, _, body) = post_form(&admin, &path, &form).await;
        assert_eq!(status, 422, "{what}");
        let page = Page::parse(&body);
        for (field, message) in &case.errors {
            assert_field_message(&page, field, message, &what);
        }
        let fields: Vec<&str> = case.errors.iter().map(|(f, _)| *f).collect();
        assert_only_messages(&page, &fields, &what);
        let mut unkept = case.unkept.clone();
        unkept.extend(&spec.secret);
        assert_kept(&page, &form, &unkept, &what);
    }
    assert_eq!(row_count(app, spec.table).await, rows, "nothing was saved");
    assert_eq!(
        audit_count(app, spec.entity).await,
        audited,
        "nothing audited"
    );
    assert_eq!(stored(app, &spec.target).await, before, "nothing changed");
}

// ---------------------------------------------------------------------------------------
// Duplicate keys

pub async fn duplicate(app: &TestApp, spec: &RecordSpec) {
    let admin = app.signed_in(Role::Admin).await;
    let rows = row_count(app, spec.table).await;
    let audited = audit_count(app, spec.entity).await;
    match &spec.duplicate {
        Duplicate::Key {
            field,
            constraint,
            taken: (taken, taken_message),
            rename,
            fresh: (fresh, fresh_message),
            insert,
        } => {
            let Step::Yes(create) = &spec.create else {
                panic!("a key typed in a form is typed when creating");
            };
            // A key in use, typed into the new form.
            let (mut form, path) = typed_form(&admin, spec).await;
            form.set_all(taken);
            let what = format!("create with {}", describe(taken));
            let (status, _, body) = post_form(&admin, &path, &form).await;
            assert_eq!(status, 422, "{what}: a field message, not a 500");
            let page = Page::parse(&body);
            assert_field_message(&page, field, taken_message, &what);
            assert_only_messages(&page, &[field], &what);
            assert_kept(&page, &form, &spec.secret, &what);
            assert_eq!(row_count(app, spec.table).await, rows, "{what}");

            // Another record's key, typed into the target's edit form.
            if let Some((rename, message)) = rename {
                let what = format!("save with {}", describe(rename));
                let before = stored(app, &spec.target).await;
                let version = version_of(app, &spec.target).await;
                let mut form = form_at(&admin, &spec.target.edit).await;
                form.set_all(rename);
                let (status, _, body) = post_form(&admin, &spec.target.save, &form).await;
                assert_eq!(status, 422, "{what}");
                let page = Page::parse(&body);
                assert_field_message(&page, field, message, &what);
                assert_only_messages(&page, &[field], &what);
                assert_kept(&page, &form, &spec.secret, &what);
                assert_eq!(stored(app, &spec.target).await, before, "{what}");
                assert_eq!(version_of(app, &spec.target).await, version, "{what}");
                let audit = audit_rows(app, spec.entity, &spec.target.ident).await;
                assert!(audit.is_empty(), "{what}: nothing audited: {audit:#?}");
            }

            // The race no form check can see: another transaction takes the key while the
            // form is saved. The save waits for it, the database refuses the key with the
            // named constraint, and the form shows that as the field's message.
            let mut tx = app.db.pool.begin().await.expect("begin");
            sqlx::query(sqlx::AssertSqlSafe(insert.clone()))
                .execute(&mut *tx)
                .await
                .unwrap_or_else(|e| panic!("{insert}: {e}"));
            let mut form = form_at(&admin, &create.new).await;
            form.set_all(&create.fields);
            form.set_all(fresh);
            let pending = tokio::spawn(send(&admin, &create.post, &form));
            until_a_statement_waits_for_a_lock(app).await;
            tx.commit().await.expect("commit the key");
            let (status, body) = pending.await.expect("the save ends");
            let what = format!("create with {} while it is being taken", describe(fresh));
            assert_eq!(status, 422, "{what}: {body}");
            let page = Page::parse(&body);
            assert_field_message(&page, field, fresh_message, &what);
            assert_kept(&page, &form, &spec.secret, &what);
            assert_eq!(
                row_count(app, spec.table).await,
                rows + 1,
                "{what}: only the other transaction's row"
            );

            // And that constraint is the one named.
            let error = sqlx::query(sqlx::AssertSqlSafe(insert.clone()))
                .execute(&app.db.pool)
                .await
                .expect_err("the key is taken");
            let db = error.as_database_error().expect("a database error");
            assert_eq!(db.code().as_deref(), Some("23505"), "{db}");
            assert_eq!(db.constraint(), Some(*constraint), "{db}");
            assert_eq!(
                audit_count(app, spec.entity).await,
                audited,
                "nothing audited"
            );
        }
        Duplicate::NoNaturalKey { reason } => {
            let Step::Yes(create) = &spec.create else {
                panic!("{reason}: made twice through its create form");
            };
            let (form, path) = typed_form(&admin, spec).await;
            for _ in 0..2 {
                let (status, to, body) = post_form(&admin, &path, &form).await;
                assert_eq!(status, 303, "{reason}: {body}");
                assert!(
                    to.starts_with(create.location.split("{id}").next().unwrap_or("")),
                    "{to}"
                );
            }
            assert_eq!(row_count(app, spec.table).await, rows + 2, "{reason}");
            assert_eq!(audit_count(app, spec.entity).await, audited + 2, "{reason}");
        }
        Duplicate::KeyInAddress { reason, field } => {
            let page = page(&admin, &spec.target.edit, 200).await;
            assert_eq!(
                super::page::control_in(page.record_form(), field).map(|c| c.html()),
                None,
                "{reason}"
            );
            // A key sent anyway is not read: the record of the address is saved.
            let before = stored(app, &spec.target).await;
            let mut form = page.submitted();
            form.set(spec.edit.field, spec.edit.first);
            form.set(field, "1");
            let (status, to, _) = post_form(&admin, &spec.target.save, &form).await;
            assert_eq!((status, to.as_str()), (303, spec.target.saved.as_str()));
            assert_eq!(
                stored(app, &spec.target).await.as_deref(),
                spec.edit.stored_first,
                "{reason}"
            );
            assert_ne!(before.as_deref(), spec.edit.stored_first);
            assert_eq!(row_count(app, spec.table).await, rows, "{reason}");
        }
    }
}

/// Sends a form as `session` would, from a task of its own.
fn send(
    session: &Session,
    path: &str,
    form: &Form,
) -> impl std::future::Future<Output = (u16, String)> + Send + 'static {
    let mut fields = form.fields.clone();
    fields.push(("_csrf".into(), session.csrf.clone()));
    let request = session
        .client
        .post(format!("{}{path}", session.app_url))
        .header("cookie", &session.cookie)
        .form(&fields);
    async move {
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }
}

/// Waits until some statement of this test's database waits for a lock.
async fn until_a_statement_waits_for_a_lock(app: &TestApp) {
    for _ in 0..400 {
        let waiting: i64 = scalar(
            app,
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .await;
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the save never waited for the key being taken");
}

// ---------------------------------------------------------------------------------------
// Constraints

pub async fn constraints(app: &TestApp, spec: &RecordSpec) {
    assert!(!spec.constraints.is_empty(), "named constraints");
    for c in &spec.constraints {
        let mut tx = app.db.pool.begin().await.expect("begin");
        let error = sqlx::query(sqlx::AssertSqlSafe(c.sql.clone()))
            .execute(&mut *tx)
            .await
            .expect_err(&c.sql);
        let db = error
            .as_database_error()
            .unwrap_or_else(|| panic!("{}: {error}", c.sql));
        assert!(
            matches!(
                db.code().as_deref(),
                Some("23505" | "23514" | "23503" | "23502")
            ),
            "{}: a constraint violation, got {db}",
            c.sql
        );
        assert_eq!(db.constraint(), Some(c.name), "{}: {db}", c.sql);
        tx.rollback().await.expect("roll back");
    }
}

// ---------------------------------------------------------------------------------------
// Stale saves

pub async fn stale(app: &TestApp, spec: &RecordSpec) {
    let (email_a, a) = app.signed_in_with_email(Role::Admin).await;
    let b = app.signed_in(Role::Admin).await;
    let (t, e) = (&spec.target, &spec.edit);
    assert_eq!(stored(app, t).await.as_deref(), e.stored_before);

    let loaded = form_at(&a, &t.edit).await;
    assert_eq!(
        form_at(&b, &t.edit).await,
        loaded,
        "both load the same form"
    );
    let loaded_version = loaded.get("version").expect("a version").to_string();
    assert_eq!(loaded_version, version_of(app, t).await);

    let mut first = loaded.clone();
    first.set(e.field, e.first);
    let (status, to, body) = post_form(&a, &t.save, &first).await;
    assert_eq!((status, to.as_str()), (303, t.saved.as_str()), "{body}");
    let notice = page(&a, &to, 200).await.notice();
    assert_eq!(notice.as_deref(), Some(t.saved_notice));
    assert_eq!(stored(app, t).await.as_deref(), e.stored_first);
    let current = version_of(app, t).await;
    assert_ne!(current, loaded_version, "a save moves the version on");

    let mut second = loaded.clone();
    second.set(e.field, e.second);
    let (status, _, body) = post_form(&b, &t.save, &second).await;
    assert_eq!(status, 409, "{body}");
    let page = Page::parse(&body);
    let conflict = page.conflict().expect("the saved-and-typed table");
    assert!(
        conflict
            .heading
            .contains("Someone else saved this record while you were editing"),
        "{}",
        conflict.heading
    );
    let row = conflict
        .rows
        .iter()
        .find(|r| r.label == e.label)
        .unwrap_or_else(|| panic!("a row for {}: {:#?}", e.label, conflict.rows));
    assert!(row.differs, "{} is marked as differing", e.label);
    assert_eq!(
        (row.saved.as_str(), row.yours.as_str()),
        (e.shown_first, e.shown_second)
    );
    for other in conflict.rows.iter().filter(|r| r.label != e.label) {
        assert!(!other.differs, "only {} differs: {other:?}", e.label);
    }
    let shown = page.submitted();
    assert_eq!(
        shown.get("version"),
        Some(current.as_str()),
        "the form now carries the saved version, so saving again is deliberate"
    );
    assert_eq!(
        shown.without(&["version"]),
        second.without(&["version"]),
        "the form keeps what was typed"
    );
    assert_eq!(stored(app, t).await.as_deref(), e.stored_first, "unchanged");
    assert_eq!(version_of(app, t).await, current, "unchanged");

    let audit = audit_rows(app, spec.entity, &t.ident).await;
    assert_eq!(audit.len(), 1, "only the first save is audited: {audit:#?}");
    let row = &audit[0];
    assert_eq!(row.action, "update");
    assert_eq!(row.actor_email.as_deref(), Some(email_a.as_str()));
    assert_eq!(row.entity_id, expected_id(&t.ident));
    assert_eq!(row.item_id, t.item_id);
    let before = row.before.as_ref().expect("before");
    let after = row.after.as_ref().expect("after");
    assert_eq!(before[e.audit_key], e.audit_before, "before: {before:#}");
    assert_eq!(after[e.audit_key], e.audit_first, "after: {after:#}");

    // Saving the conflict page's form again overwrites, on purpose.
    let (status, to, body) = post_form(&b, &t.save, &shown).await;
    assert_eq!((status, to.as_str()), (303, t.saved.as_str()), "{body}");
    assert_eq!(stored(app, t).await.as_deref(), e.stored_second);
    assert_eq!(audit_rows(app, spec.entity, &t.ident).await.len(), 2);
}

// ---------------------------------------------------------------------------------------
// Versions

pub async fn version(app: &TestApp, spec: &RecordSpec) {
    let admin = app.signed_in(Role::Admin).await;
    let t = &spec.target;
    let before = stored(app, t).await;
    let version = version_of(app, t).await;
    let audited = audit_count(app, spec.entity).await;
    let loaded = form_at(&admin, &t.edit).await;
    for sent in [None, Some(""), Some("abc"), Some("1.5")] {
        let mut form = loaded.clone();
        form.set(spec.edit.field, spec.edit.first);
        match sent {
            None => form.remove("version"),
            Some(v) => form.set("version", v),
        }
        let (status, _, body) = post_form(&admin, &t.save, &form).await;
        assert_eq!(status, 400, "version {sent:?}");
        let lead = Page::parse(&body).lead();
        assert!(lead.contains("version number"), "version {sent:?}: {lead}");
    }
    assert_eq!(stored(app, t).await, before, "unchanged");
    assert_eq!(version_of(app, t).await, version, "unchanged");
    assert_eq!(
        audit_count(app, spec.entity).await,
        audited,
        "nothing audited"
    );
}

// ---------------------------------------------------------------------------------------
// Archive and restore (accounts: disable and enable)

pub async fn retire(app: &TestApp, spec: &RecordSpec) {
    let (email, admin) = app.signed_in_with_email(Role::Admin).await;
    let t = &spec.target;
    match &spec.retire {
        Retire::Archive {
            archive,
            restore,
            archived,
            restored,
            archived_notice,
            restored_notice,
            shown_on,
            flag: flag_sql,
        } => {
            assert!(!flag(app, flag_sql).await, "not archived to begin with");
            let page_of = |list: Page| {
                (
                    list.has_form_to(restore),
                    list.has_form_to(archive),
                    list.notice(),
                )
            };

            let (status, to, _) = admin.post(archive, &[]).await;
            assert_eq!((status, to.as_str()), (303, archived.as_str()));
            assert!(flag(app, flag_sql).await, "archived");
            let (_, _, notice) = page_of(page(&admin, &to, 200).await);
            assert_eq!(notice.as_deref(), Some(*archived_notice));
            let (restore_button, archive_button, _) = page_of(page(&admin, shown_on, 200).await);
            assert!(
                restore_button && !archive_button,
                "{shown_on}: a Restore button"
            );

            let (status, _, _) = admin.post(archive, &[]).await;
            assert_eq!(status, 303, "archiving again");
            assert_eq!(
                audit_rows(app, spec.entity, &t.ident).await.len(),
                1,
                "archiving what is archived records nothing"
            );

            let (status, to, _) = admin.post(restore, &[]).await;
            assert_eq!((status, to.as_str()), (303, restored.as_str()));
            assert!(!flag(app, flag_sql).await, "restored");
            let (_, _, notice) = page_of(page(&admin, &to, 200).await);
            assert_eq!(notice.as_deref(), Some(*restored_notice));
            let (restore_button, archive_button, _) = page_of(page(&admin, shown_on, 200).await);
            assert!(
                !restore_button && archive_button,
                "{shown_on}: an Archive button"
            );

            let (status, _, _) = admin.post(restore, &[]).await;
            assert_eq!(status, 303, "restoring again");

            let audit = audit_rows(app, spec.entity, &t.ident).await;
            let actions: Vec<&str> = audit.iter().map(|r| r.action.as_str()).collect();
            assert_eq!(actions, ["archive", "restore"], "one row each");
            for (row, archived) in audit.iter().zip([true, false]) {
                assert_eq!(row.actor_email.as_deref(), Some(email.as_str()));
                assert_eq!(row.entity_id, expected_id(&t.ident));
                assert_eq!(row.item_id, t.item_id);
                assert!(!row.summary.is_empty());
                assert_eq!(row.before, Some(json!({ "archived": !archived })));
                assert_eq!(row.after, Some(json!({ "archived": archived })));
            }
        }
        Retire::Disable {
            email: person,
            flag: flag_sql,
        } => {
            assert!(!flag(app, flag_sql).await, "enabled to begin with");
            let session = app
                .sign_in(person, PASSWORD)
                .await
                .unwrap_or_else(|r| panic!("the person signs in: {}", r.status()));
            assert_eq!(session.get("/").await.0, 200);

            let mut form = form_at(&admin, &t.edit).await;
            assert_eq!(form.get("disabled"), None, "the box is not ticked");
            form.set("disabled", "on");
            let (status, to, _) = post_form(&admin, &t.save, &form).await;
            assert_eq!((status, to.as_str()), (303, t.saved.as_str()));
            assert!(flag(app, flag_sql).await, "disabled");
            let response = session.get_response("/").await;
            assert_eq!(response.status().as_u16(), 303, "signed out at once");
            assert!(location(&response).starts_with("/login"));
            assert!(
                app.sign_in(person, PASSWORD).await.is_err(),
                "cannot sign in"
            );

            let mut form = form_at(&admin, &t.edit).await;
            assert_eq!(form.get("disabled"), Some("on"), "the box shows it");
            form.set("disabled", "");
            let (status, to, _) = post_form(&admin, &t.save, &form).await;
            assert_eq!((status, to.as_str()), (303, t.saved.as_str()));
            assert!(!flag(app, flag_sql).await, "enabled");
            assert!(
                app.sign_in(person, PASSWORD).await.is_ok(),
                "signs in again"
            );

            let audit = audit_rows(app, spec.entity, &t.ident).await;
            let actions: Vec<&str> = audit.iter().map(|r| r.action.as_str()).collect();
            assert_eq!(actions, ["disable", "enable"], "one row each");
            for (row, disabled) in audit.iter().zip([true, false]) {
                assert_eq!(row.actor_email.as_deref(), Some(email.as_str()));
                assert_eq!(row.entity_id, expected_id(&t.ident));
                let before = &row.before.as_ref().expect("before")["disabled_at"];
                let after = &row.after.as_ref().expect("after")["disabled_at"];
                assert_eq!((before.is_null(), after.is_null()), (disabled, !disabled));
            }
        }
        Retire::Never { reason, posts } => {
            assert_absent(app, spec, &admin, reason, &[], posts).await;
            assert_eq!(admin.get(&t.edit).await.0, 200, "{reason}: still there");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Who may use the pages

pub async fn refused(app: &TestApp, spec: &RecordSpec) {
    let admin = app.signed_in(Role::Admin).await;
    let t = &spec.target;
    let form = form_at(&admin, &t.edit).await;
    let mut gets = vec![spec.list.clone()];
    let mut posts = Vec::new();
    if let Step::Yes(create) = &spec.create {
        gets.push(create.new.clone());
        posts.push(create.post.clone());
    }
    gets.push(t.edit.clone());
    posts.push(t.save.clone());
    let flag_sql = match &spec.retire {
        Retire::Archive {
            archive,
            restore,
            flag,
            ..
        } => {
            posts.push(archive.clone());
            posts.push(restore.clone());
            Some(flag.clone())
        }
        Retire::Disable { flag, .. } => Some(flag.clone()),
        Retire::Never { .. } => None,
    };
    gets.extend(spec.more_gets.iter().cloned());
    posts.extend(spec.more_posts.iter().cloned());

    // Signed in first: their accounts are rows of `users`.
    let viewer = app.signed_in(Role::Viewer).await;
    let staff = app.signed_in(Role::Staff).await;
    let rows = row_count(app, spec.table).await;
    let audited = audit_count(app, spec.entity).await;
    let before = stored(app, t).await;
    let version = version_of(app, t).await;
    let flagged = match &flag_sql {
        Some(sql) => Some(flag(app, sql).await),
        None => None,
    };

    for (role, session) in [(Role::Viewer, viewer), (Role::Staff, staff)] {
        for path in &gets {
            let (status, body) = session.get(path).await;
            assert_eq!(status, 403, "{role:?} GET {path}");
            assert_eq!(
                Page::parse(&body).h1(),
                "Not allowed",
                "{role:?} GET {path}"
            );
        }
        for path in &posts {
            let (status, _, body) = post_form(&session, path, &form).await;
            assert_eq!(status, 403, "{role:?} POST {path}");
            assert_eq!(
                Page::parse(&body).h1(),
                "Not allowed",
                "{role:?} POST {path}"
            );
        }
    }
    for path in &gets {
        let response = app.client.get(app.url(path)).send().await.expect("GET");
        let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
        assert_eq!(response.status().as_u16(), 303, "anonymous GET {path}");
        assert_eq!(location(&response), format!("/login?next={next}"));
    }
    for path in &posts {
        let response = app
            .client
            .post(app.url(path))
            .form(&form.fields)
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status().as_u16(), 303, "anonymous POST {path}");
        assert_eq!(
            location(&response),
            "/login?next=%2F",
            "anonymous POST {path}"
        );
    }

    assert_eq!(row_count(app, spec.table).await, rows, "nothing created");
    assert_eq!(stored(app, t).await, before, "nothing changed");
    assert_eq!(version_of(app, t).await, version, "nothing saved");
    if let (Some(sql), Some(was)) = (&flag_sql, flagged) {
        assert_eq!(flag(app, sql).await, was, "not archived");
    }
    assert_eq!(
        audit_count(app, spec.entity).await,
        audited,
        "nothing audited"
    );
}

// ---------------------------------------------------------------------------------------
// Unknown records

pub async fn not_found(app: &TestApp, spec: &RecordSpec) {
    let admin = app.signed_in(Role::Admin).await;
    let form = form_at(&admin, &spec.target.edit).await;
    assert!(!spec.missing.gets.is_empty() && !spec.missing.posts.is_empty());
    for path in &spec.missing.gets {
        let (status, body) = admin.get(path).await;
        assert_eq!(status, 404, "GET {path}");
        assert_eq!(Page::parse(&body).h1(), "Page not found", "GET {path}");
    }
    for path in &spec.missing.posts {
        let (status, _, body) = post_form(&admin, path, &form).await;
        assert_eq!(status, 404, "POST {path}");
        assert_eq!(Page::parse(&body).h1(), "Page not found", "POST {path}");
    }
}

// ---------------------------------------------------------------------------------------
// Text PostgreSQL cannot store

pub async fn nul_byte(app: &TestApp, spec: &RecordSpec) {
    let admin = app.signed_in(Role::Admin).await;
    let rows = row_count(app, spec.table).await;
    let audited = audit_count(app, spec.entity).await;
    let before = stored(app, &spec.target).await;
    let (mut form, path) = typed_form(&admin, spec).await;
    form.set(spec.nul_field, "a\0b");
    let (status, _, body) = post_form(&admin, &path, &form).await;
    assert_eq!(status, 400, "the request's fault, not a 500");
    let lead = Page::parse(&body).lead();
    assert!(lead.contains("cannot be stored"), "{lead}");
    assert_eq!(row_count(app, spec.table).await, rows, "nothing saved");
    assert_eq!(stored(app, &spec.target).await, before, "nothing changed");
    assert_eq!(
        audit_count(app, spec.entity).await,
        audited,
        "nothing audited"
    );
}
