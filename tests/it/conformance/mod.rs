//! One conformance suite for every record type the admin pages edit. A `RecordSpec`
//! describes a record type (its addresses, a valid form, invalid ones, its unique key
//! and the constraint behind it, the field a stale save fights over, how it is retired,
//! its audit entity); `conformance!` runs the generic tests of `generic` against it, so
//! each record type's results are listed apart, e.g.
//! `conformance::organisations::a_stale_save_is_a_409_and_overwrites_nothing`. Steps that
//! do not apply to a record type are declared in its spec with the reason, and the test
//! checks that the app indeed offers no such thing. Tests only one record type needs sit
//! beside its spec.

pub mod generic;
pub mod page;
pub mod saved_item_form;

use crate::harness::{Session, TestApp};
use serde_json::Value;

/// Runs the generic suite against `spec(&app)` (an async fn in the calling module).
macro_rules! conformance {
    ($spec:path) => {
        #[tokio::test]
        async fn create_is_a_303_with_one_audit_row() {
            let app = $crate::harness::TestApp::spawn().await;
            let spec = $spec(&app).await;
            $crate::conformance::generic::create(&app, &spec).await;
        }

        #[tokio::test]
        async fn invalid_input_is_a_422_keeping_every_typed_value() {
            let app = $crate::harness::TestApp::spawn().await;
            let spec = $spec(&app).await;
            $crate::conformance::generic::invalid(&app, &spec).await;
        }

        #[tokio::test]
        async fn a_duplicate_key_is_a_field_error_from_its_named_constraint() {
            let app = $crate::harness::TestApp::spawn().await;
            let spec = $spec(&app).await;
            $crate::conformance::generic::duplicate(&app, &spec).await;
        }

        #[tokio::test]
        async fn the_database_refuses_with_the_named_constraints() {
            let app = $crate::harness::TestApp::spawn().await;
            let spec = $spec(&app).await;
            $crate::conformance::generic::constraints(&app, &spec).await;
        }

        #[tokio::test]
        async fn a_stale_save_is_a_409_and_overwrites_nothing() {
            let app = $crate::harness::TestApp::spawn().await;
            let spec = $spec(&app).await;
            $crate::conformance::generic::stale(&app, &spec).await;
        }

        #[tokio::test]
        async fn a_save_without_a_valid_version_is_a_400_and_changes_nothing() {
            let app = $crate::harness::TestApp::spawn().await;
            let spec = $spec(&app).await;
            $crate::conformance::generic::version(&app, &spec).await;
        }

        #[tokio::test]
        async fn archive_and_restore_are_audited_and_flip_the_flag() {
            let app = $crate::harness::TestApp::spawn().await;
            let spec = $spec(&app).await;
            $crate::conformance::generic::retire(&app, &spec).await;
        }

        #[tokio::test]
        async fn viewers_and_staff_are_refused_and_anonymous_is_sent_to_sign_in() {
            let app = $crate::harness::TestApp::spawn().await;
            let spec = $spec(&app).await;
            $crate::conformance::generic::refused(&app, &spec).await;
        }

        #[tokio::test]
        async fn unknown_or_malformed_addresses_are_not_found() {
            let app = $crate::harness::TestApp::spawn().await;
            let spec = $spec(&app).await;
            $crate::conformance::generic::not_found(&app, &spec).await;
        }

        #[tokio::test]
        async fn a_nul_byte_is_a_400_not_a_500_and_saves_nothing() {
            let app = $crate::harness::TestApp::spawn().await;
            let spec = $spec(&app).await;
            $crate::conformance::generic::nul_byte(&app, &spec).await;
        }
    };
}

mod accounts;
mod budgets;
mod contributions;
mod exchange_rates;
mod items;
mod organisations;
mod result_areas;
mod themes;

/// Values typed into a form, by field name.
pub type Fields = Vec<(&'static str, String)>;

/// `[("a", "1")]` as owned `Fields`.
pub fn fields(pairs: &[(&'static str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

/// Everything the generic suite needs to know about one record type.
pub struct RecordSpec {
    /// `audit_log.entity` of its changes.
    pub entity: &'static str,
    /// Its table, counted to see that a refused form saved nothing.
    pub table: &'static str,
    /// The admin page listing it.
    pub list: String,
    pub create: Step<Create>,
    /// Forms with mistakes, posted where `create` posts (or, with no create, to the
    /// target's save address).
    pub invalid: Vec<Invalid>,
    pub duplicate: Duplicate,
    /// Statements the database must refuse with the named constraint: the names the
    /// form's error mapping turns into field messages.
    pub constraints: Vec<Constraint>,
    /// A saved record: edited, made stale, retired and refused.
    pub target: Target,
    pub edit: Edit,
    pub retire: Retire,
    pub missing: Missing,
    /// A text field where a NUL byte goes.
    pub nul_field: &'static str,
    /// Typed values the pages never send back (passwords): not kept on a 422 or a 409.
    pub secret: Vec<&'static str>,
    /// More admin addresses of this record type that viewers and staff must not use.
    pub more_gets: Vec<String>,
    pub more_posts: Vec<String>,
}

/// A step the record type has, or why it has none; `gets` and `posts` are the addresses
/// it would have, which must not answer.
pub enum Step<T> {
    Yes(T),
    No {
        reason: &'static str,
        gets: Vec<String>,
        posts: Vec<String>,
    },
}

pub struct Create {
    /// The page with the empty form.
    pub new: String,
    /// Where it posts.
    pub post: String,
    /// Typed over the empty form's defaults; its values are stored as typed.
    pub fields: Fields,
    /// The made record.
    pub find: Find,
    /// The redirect; `{id}` stands for the new id.
    pub location: String,
    pub notice: &'static str,
    /// Text a row of the page after the redirect shows for it, if it lists it.
    pub listed: Option<&'static str>,
    /// Its edit page; `{id}` stands for the new id.
    pub edit: String,
    /// Values the audit row's `after` holds.
    pub after: Vec<(&'static str, Value)>,
    /// The audit row's `item_id`.
    pub item_id: ItemLink,
    /// Typed fields the edit page does not show (a password; a key fixed once made).
    pub not_on_edit: Vec<&'static str>,
}

/// The portfolio item an audit row is filed under.
pub enum ItemLink {
    None,
    Item(i64),
    /// The record is an item: its own id.
    Itself,
}

/// How to find a record just made.
pub enum Find {
    /// SQL answering its id.
    Id(String),
    /// It has no id: its audit rows name it by these values.
    Key(Vec<(&'static str, Value)>),
}

/// How audit rows name one record.
#[derive(Debug, Clone)]
pub enum Ident {
    Id(i64),
    /// No id: `after` (or `before`, for a delete) holds these values.
    Key(Vec<(&'static str, Value)>),
}

pub struct Invalid {
    /// Typed over the valid form.
    pub set: Fields,
    /// (field, part of the message next to it).
    pub errors: Vec<(&'static str, &'static str)>,
    /// Typed values the page cannot show as typed (a value no option of a menu offers,
    /// a password, which is never sent back); checked to be not shown.
    pub unkept: Vec<&'static str>,
}

impl Invalid {
    pub fn new(set: &[(&'static str, &str)], errors: &[(&'static str, &'static str)]) -> Invalid {
        Invalid {
            set: fields(set),
            errors: errors.to_vec(),
            unkept: Vec::new(),
        }
    }

    pub fn unkept(self, names: &[&'static str]) -> Invalid {
        Invalid {
            unkept: names.to_vec(),
            ..self
        }
    }
}

pub enum Duplicate {
    /// A unique key typed in the form.
    /// Each case: what is typed, and part of the message next to `field`.
    Key {
        field: &'static str,
        constraint: &'static str,
        /// Typed over the valid create form: a key in use.
        taken: (Fields, &'static str),
        /// Typed over the target's edit form: another record's key, if the key can change.
        rename: Option<(Fields, &'static str)>,
        /// Typed over the valid create form: a key nobody uses yet...
        fresh: (Fields, &'static str),
        /// ...which this statement takes while the form is being saved.
        insert: String,
    },
    /// Nothing unique is typed: the same form twice makes two records.
    NoNaturalKey { reason: &'static str },
    /// The key is the address, not a field: the form has no control for `field`.
    KeyInAddress {
        reason: &'static str,
        field: &'static str,
    },
}

pub struct Constraint {
    pub sql: String,
    pub name: &'static str,
}

pub fn constraint(sql: impl Into<String>, name: &'static str) -> Constraint {
    Constraint {
        sql: sql.into(),
        name,
    }
}

pub struct Target {
    pub ident: Ident,
    /// Its audit rows' `item_id`.
    pub item_id: Option<i64>,
    pub edit: String,
    pub save: String,
    /// Where a save redirects, and the notice there.
    pub saved: String,
    pub saved_notice: &'static str,
    /// SQL answering the edited field as text (NULL for unknown).
    pub stored: String,
    /// SQL answering its version.
    pub version: String,
}

/// The field two admins change at once, and how it reads everywhere.
pub struct Edit {
    pub field: &'static str,
    /// What the first admin types, and what the second.
    pub first: &'static str,
    pub second: &'static str,
    /// The conflict table's row, and how it shows both values.
    pub label: &'static str,
    pub shown_first: &'static str,
    pub shown_second: &'static str,
    /// `stored` before, after the first save and after the second.
    pub stored_before: Option<&'static str>,
    pub stored_first: Option<&'static str>,
    pub stored_second: Option<&'static str>,
    /// The key of the field in the audit row, and its values before and after.
    pub audit_key: &'static str,
    pub audit_before: Value,
    pub audit_first: Value,
}

pub enum Retire {
    Archive {
        archive: String,
        restore: String,
        /// Redirects and their notices.
        archived: String,
        restored: String,
        archived_notice: &'static str,
        restored_notice: &'static str,
        /// A page with its Archive or Restore button.
        shown_on: String,
        /// SQL answering whether it is archived.
        flag: String,
    },
    /// Accounts: the edit form's `disabled` box, audited as disable and enable.
    Disable { email: String, flag: String },
    Never {
        reason: &'static str,
        posts: Vec<String>,
    },
}

pub struct Missing {
    pub gets: Vec<String>,
    pub posts: Vec<String>,
}

/// One row of `audit_log`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub action: String,
    pub actor_email: Option<String>,
    pub entity_id: Option<i64>,
    pub item_id: Option<i64>,
    pub summary: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Every audit row of one record, oldest first.
pub async fn audit_rows(app: &TestApp, entity: &str, ident: &Ident) -> Vec<AuditRow> {
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT action, actor_email, entity_id, item_id, summary, before, after
           FROM audit_log WHERE entity = $1 ORDER BY id",
    )
    .bind(entity)
    .fetch_all(&app.db.pool)
    .await
    .expect("read the audit log");
    rows.into_iter()
        .filter(|row| match ident {
            Ident::Id(id) => row.entity_id == Some(*id),
            Ident::Key(pairs) => {
                let named = row.after.as_ref().or(row.before.as_ref());
                named.is_some_and(|v| pairs.iter().all(|(k, want)| &v[*k] == want))
            }
        })
        .collect()
}

/// How many audit rows name this entity at all.
pub async fn audit_count(app: &TestApp, entity: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE entity = $1")
        .bind(entity)
        .fetch_one(&app.db.pool)
        .await
        .expect("count audit rows")
}

/// The rows of a table.
pub async fn row_count(app: &TestApp, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(&app.db.pool)
        .await
        .unwrap_or_else(|e| panic!("count {table}: {e}"))
}

/// The first column of the one row `sql` answers.
pub async fn scalar<T>(app: &TestApp, sql: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&app.db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// An id by a unique column, e.g. `id_by(app, "items", "slug", "guinea-bissau")`.
pub async fn id_by(app: &TestApp, table: &str, column: &str, value: &str) -> i64 {
    let sql = format!("SELECT id FROM {table} WHERE {column} = $1");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(value)
        .fetch_one(&app.db.pool)
        .await
        .unwrap_or_else(|e| panic!("{table}.{column} = {value}: {e}"))
}

/// A page as a signed-in person sees it: asserts the status, parses the body.
pub async fn page(session: &Session, path: &str, status: u16) -> page::Page {
    let (got, body) = session.get(path).await;
    assert_eq!(got, status, "GET {path}");
    page::Page::parse(&body)
}

/// The form of the page at `path`, as a browser would send it.
pub async fn form_at(session: &Session, path: &str) -> page::Form {
    page(session, path, 200).await.submitted()
}

/// POSTs a form (the session adds its CSRF token): status, Location, body.
pub async fn post_form(session: &Session, path: &str, form: &page::Form) -> (u16, String, String) {
    session.post(path, &form.pairs()).await
}

/// The programmes API as this session sees it.
pub async fn api_items(session: &Session) -> Vec<Value> {
    let (status, body) = session.get("/api/v1/programmes").await;
    assert_eq!(status, 200);
    let json: Value = serde_json::from_str(&body).expect("JSON");
    json["items"].as_array().expect("items").clone()
}

/// One item of the programmes API, if this session sees it.
pub async fn api_item(session: &Session, slug: &str) -> Option<Value> {
    api_items(session)
        .await
        .into_iter()
        .find(|i| i["slug"] == slug)
}

/// The titles the overview's portfolio table lists.
pub async fn overview_titles(session: &Session) -> Vec<String> {
    page(session, "/", 200)
        .await
        .texts("table.portfolio tbody tr th[scope=row] a")
}

#[tokio::test]
async fn the_audit_table_is_append_only() {
    let app = TestApp::spawn().await;
    let admin = app
        .signed_in(portfolio_tracker::domain::auth::Role::Admin)
        .await;
    let mut form = form_at(&admin, "/admin/organisations/new").await;
    form.set("slug", "audited-org");
    form.set("name", "Audited Org");
    assert_eq!(
        post_form(&admin, "/admin/organisations", &form).await.0,
        303
    );
    let rows_before: i64 = scalar(&app, "SELECT count(*) FROM audit_log").await;
    assert!(rows_before >= 2, "a sign-in and a create are recorded");

    for sql in [
        "UPDATE audit_log SET summary = 'rewritten'",
        "UPDATE audit_log SET actor_email = NULL WHERE entity = 'organisation'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE entity = 'organisation'",
        "TRUNCATE audit_log",
    ] {
        // The application's role holds no right to try (tests/it/privileges.rs); the
        // owner holds them, and the table's triggers refuse it.
        for (pool, refusal) in [
            (&app.db.pool, "permission denied"),
            (&app.db.owner, "append-only"),
        ] {
            let error = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(pool)
                .await
                .expect_err(sql);
            let db = error.as_database_error().expect("a database error");
            assert_eq!(db.code().as_deref(), Some("42501"), "{sql}: {db}");
            assert!(db.message().contains(refusal), "{sql}: {db}");
        }
    }
    let rows_after: i64 = scalar(&app, "SELECT count(*) FROM audit_log").await;
    assert_eq!(rows_after, rows_before);
    let rewritten: i64 = scalar(
        &app,
        "SELECT count(*) FROM audit_log WHERE summary = 'rewritten'",
    )
    .await;
    assert_eq!(rewritten, 0);
}
