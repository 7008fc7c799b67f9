//! `export` and `import` (src/portable.rs): export → import into an empty database →
//! export gives the same bytes, and the imported database serves the same figures, pages
//! and audit trail; an import into a database that holds data, or of a broken file,
//! changes nothing; password hashes travel only with --with-credentials; every table of
//! the schema is either exported or left out with a reason.

use crate::api_tokens::{get_with, token_for};
use crate::backup::{answers, contents, url_of};
use crate::conformance::{form_at, post_form};
use crate::harness::{
    EmptyDb, PASSWORD, Session, TestApp, TestDb, client, empty_db, fresh_db, serve_state,
};
use crate::served::{TempDataDir, failed, ok, run};
use chrono::{DateTime, Utc};
use portfolio_tracker::commands;
use portfolio_tracker::config::WebSettings;
use portfolio_tracker::db::{self, Seeding};
use portfolio_tracker::domain::auth::Role;
use portfolio_tracker::portable::{self, Credentials};
use portfolio_tracker::store::generate;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::collections::BTreeSet;
use std::time::Instant;

const ADMIN: &str = "portable-admin@example.org";

async fn export(pool: &PgPool, credentials: Credentials) -> Vec<u8> {
    let document = portable::export(pool, credentials)
        .await
        .expect("export the database");
    portable::to_bytes(&document).expect("encode the export")
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new database of the test cluster, migrated as `migrate` would, with nothing loaded.
async fn migrated_empty() -> (EmptyDb, TestDb) {
    let empty = empty_db().await;
    let owner = db::connect_with(empty.owner.clone())
        .await
        .expect("connect as owner");
    let pool = db::connect_with(empty.app.clone())
        .await
        .expect("connect as the application");
    db::prepare(Some(&owner), &pool, Seeding::Never)
        .await
        .expect("migrate the empty database");
    let test_db = TestDb {
        url: url_of(&empty.app),
        owner_url: url_of(&empty.owner),
        pool,
        owner,
    };
    (empty, test_db)
}

/// `bytes` imported into a new migrated database, served like [`TestApp::spawn`].
async fn imported_app(bytes: &[u8]) -> TestApp {
    let (_, db) = migrated_empty().await;
    let document = portable::from_bytes(bytes).expect("a readable export");
    portable::import(&db.owner, document)
        .await
        .expect("import into the empty database");
    let (addr, state) = serve_state(db.pool.clone(), WebSettings::default()).await;
    TestApp {
        addr,
        db,
        client: client(),
        state,
    }
}

/// Signs `ADMIN` in on `app`, an account made before the export (so the sign-in's audit
/// row is in both databases).
async fn admin_of(app: &TestApp) -> Session {
    app.create_user(ADMIN, Role::Admin).await;
    app.sign_in(ADMIN, PASSWORD)
        .await
        .unwrap_or_else(|r| panic!("the admin signs in, got {}", r.status()))
}

/// The same browser on `to`: its session row is copied from `from` (sessions are not
/// exported), so both servers are asked by one signed-in admin and no new sign-in adds
/// an audit row to one of them.
async fn same_browser_on(from: &TestApp, to: &TestApp, admin: &Session) -> Session {
    type SessionRow = (
        Vec<u8>,
        i64,
        String,
        DateTime<Utc>,
        DateTime<Utc>,
        DateTime<Utc>,
    );
    let rows: Vec<SessionRow> = sqlx::query_as(
        "SELECT id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at FROM sessions",
    )
    .fetch_all(&from.db.owner)
    .await
    .expect("read the sessions");
    for row in rows {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at,
                                   expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(row.0)
        .bind(row.1)
        .bind(row.2)
        .bind(row.3)
        .bind(row.4)
        .bind(row.5)
        .execute(&to.db.owner)
        .await
        .expect("copy a session");
    }
    Session {
        app_url: format!("http://{}", to.addr),
        ..admin.clone()
    }
}

/// Every dashboard page, CSV table, API answer and audit page is the same on both.
async fn assert_same_answers(source: &TestApp, imported: &TestApp, admin: &Session) {
    let on_imported = same_browser_on(source, imported, admin).await;
    let from_source = answers(admin).await;
    let from_imported = answers(&on_imported).await;
    assert_eq!(from_source.len(), from_imported.len());
    for ((path, status_a, body_a), (_, status_b, body_b)) in from_source.iter().zip(&from_imported)
    {
        assert_eq!(*status_a, 200, "GET {path} on the source");
        assert_eq!(*status_b, 200, "GET {path} on the imported database");
        assert!(
            body_a == body_b,
            "GET {path} differs between the source and the imported database: {}",
            first_difference(body_a, body_b)
        );
    }
}

/// Where two texts part, with some context from each (for a failure message).
fn first_difference(a: &str, b: &str) -> String {
    let at = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i);
    let from = a.floor_char_boundary(at.saturating_sub(120));
    let around =
        |s: &str| s[from.min(s.len())..s.ceil_char_boundary((at + 120).min(s.len()))].to_string();
    format!("\n  source:   …{}…\n  imported: …{}…", around(a), around(b))
}

/// Edits an admin makes: a draft programme with an internal note, a EUR contribution,
/// an archived budget, a viewer's account, a contribution saved through the API with a
/// token (audited with the token's id) and a spreadsheet import of two contributions.
async fn edit_as_an_admin(app: &TestApp, admin: &Session) {
    let mut form = form_at(admin, "/admin/items/new").await;
    for (name, value) in [
        ("title", "Portable draft programme"),
        ("slug", "portable-draft"),
        ("kind", "programme"),
        ("status", "seeking_funding"),
        ("summary", "Not published yet."),
        ("start_date", "2009-01-01"),
        ("places", "Somalia"),
        ("internal_notes", "Donor meeting in May; do not quote."),
    ] {
        form.set(name, value);
    }
    let (status, _, body) = post_form(admin, "/admin/items", &form).await;
    assert_eq!(status, 303, "the draft is created: {body}");

    let item: i64 = scalar(
        &app.db.pool,
        "SELECT id FROM items WHERE slug = 'guinea-bissau'",
    )
    .await;
    let org: i64 = scalar(
        &app.db.pool,
        "SELECT id FROM organisations WHERE slug = 'government-of-canada'",
    )
    .await;
    let mut form = form_at(admin, &format!("/admin/items/{item}/contributions/new")).await;
    for (name, value) in [
        ("organisation", org.to_string().as_str()),
        ("amount", "1234567.89"),
        ("currency", "EUR"),
        ("as_of", "2008-02-07"),
        ("note", "pledged in euros"),
    ] {
        form.set(name, value);
    }
    let action = format!("/admin/items/{item}/contributions");
    let (status, _, body) = post_form(admin, &action, &form).await;
    assert_eq!(status, 303, "the EUR contribution is saved: {body}");

    let budget: i64 = scalar(
        &app.db.pool,
        &format!("SELECT min(id) FROM budgets WHERE item_id = {item} AND archived_at IS NULL"),
    )
    .await;
    let (status, _, body) = admin
        .post(&format!("/admin/budgets/{budget}/archive"), &[])
        .await;
    assert_eq!(status, 303, "the budget is archived: {body}");
    app.create_user("portable-viewer@example.org", Role::Viewer)
        .await;
    write_through_the_api(app, org).await;
    import_a_spreadsheet(app).await;
}

/// A contribution POSTed with the admin's read-write token.
async fn write_through_the_api(app: &TestApp, org: i64) {
    let (_, secret) = token_for(app, ADMIN, Role::Admin, true).await;
    let response = app
        .client
        .post(app.url("/api/v1/items/guinea-bissau/contributions"))
        .bearer_auth(&secret)
        .json(&serde_json::json!({
            "organisation_id": org, "amount": "4321.00", "currency": "USD",
            "status": "pledged", "as_of": "2008-03-01", "note": "via the API"
        }))
        .send()
        .await
        .expect("the API request");
    assert_eq!(response.status().as_u16(), 201, "the API saves the pledge");
}

/// Two contributions imported from a CSV file, as `import-contributions` does.
async fn import_a_spreadsheet(app: &TestApp) {
    let dir = TempDataDir::new("spreadsheet");
    std::fs::create_dir_all(&dir.0).expect("a temporary directory");
    let file = dir.0.join("pledges.csv");
    std::fs::write(
        &file,
        "organisation,item,amount,currency,status,date\n\
         government-of-canada,guinea-bissau,700,USD,pledged,2009-05-01\n\
         european-union,guinea-bissau,800.50,EUR,committed,2009-05-01\n",
    )
    .expect("write the CSV");
    let args = commands::ImportArgs {
        file: &file,
        dry_run: false,
        create_organisations: false,
        without_rate: false,
        progress: false,
    };
    let said = commands::import_contributions(&app.db.pool, args)
        .await
        .expect("the spreadsheet imports");
    assert!(said.starts_with("imported 2 contributions"), "{said}");
    // Written outside the server, as another instance would: the server picks it up at
    // its next rebuild, which the comparison must not race.
    app.dashboards_rebuilt().await;
}

async fn scalar(pool: &PgPool, statement: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(statement.to_string()))
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn export_import_export_is_byte_identical_and_every_figure_matches() {
    let source = TestApp::spawn().await;
    let admin = admin_of(&source).await;
    edit_as_an_admin(&source, &admin).await;

    let started = Instant::now();
    let first = export(&source.db.pool, Credentials::Included).await;
    let exported_in = started.elapsed();
    let text = String::from_utf8(first.clone()).expect("UTF-8");
    for stored in [
        "\"amount\": \"1234567.89\"",
        "\"currency\": \"EUR\"",
        "Donor meeting in May; do not quote.",
        "\"published\": false",
        "portable-viewer@example.org",
        "\"file_name\": \"pledges.csv\"",
        "\"token_hash\": \"\\\\x",
    ] {
        assert!(text.contains(stored), "the export holds {stored}");
    }
    assert!(text.ends_with("}\n"), "one final newline");

    let started = Instant::now();
    let imported = imported_app(&first).await;
    let imported_in = started.elapsed();
    let second = export(&imported.db.pool, Credentials::Included).await;
    eprintln!(
        "seeded report + edits: export {} bytes in {exported_in:?}, import in {imported_in:?}\n  \
         first  sha256 {}\n  second sha256 {}",
        first.len(),
        sha256(&first),
        sha256(&second)
    );
    assert!(
        first == second,
        "export → import → export is byte-identical"
    );

    // The stored USD figures come from the same rates: every page agrees.
    assert_same_answers(&source, &imported, &admin).await;
    let (_, csv) = admin.get("/funding.csv?table=contributions").await;
    assert!(
        csv.contains("1234567.89"),
        "the EUR contribution is compared"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_generated_portfolio_round_trips_byte_for_byte() {
    let source = TestApp::spawn().await;
    let admin = admin_of(&source).await;
    let options = generate::Options {
        items: 300,
        contributions: 3000,
        seed: 1,
        force: false,
    };
    generate::generate(&source.db.pool, &source.db.owner, &options, false)
        .await
        .expect("generate a portfolio");
    source.dashboards_rebuilt().await;

    let started = Instant::now();
    let first = export(&source.db.pool, Credentials::Included).await;
    let exported_in = started.elapsed();
    let started = Instant::now();
    let imported = imported_app(&first).await;
    let imported_in = started.elapsed();
    let second = export(&imported.db.pool, Credentials::Included).await;
    eprintln!(
        "generated 300 items / 3,000 contributions: export {} bytes in {exported_in:?}, \
         import in {imported_in:?}\n  first  sha256 {}\n  second sha256 {}",
        first.len(),
        sha256(&first),
        sha256(&second)
    );
    assert!(
        first == second,
        "export → import → export is byte-identical"
    );
    let contributions = scalar(&imported.db.pool, "SELECT count(*) FROM contributions").await;
    assert!(contributions > 3000, "{contributions} contributions");
    assert_same_answers(&source, &imported, &admin).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn new_rows_after_an_import_get_new_ids() {
    let source = fresh_db().await;
    // A contribution deleted before the export: its id is in the audit trail's past, and
    // must not be handed out again.
    let highest = scalar(&source.pool, "SELECT max(id) FROM contributions").await;
    sqlx::query("DELETE FROM contributions WHERE id = $1")
        .bind(highest)
        .execute(&source.pool)
        .await
        .expect("delete the newest contribution");
    let imported = imported_app(&export(&source.pool, Credentials::Left).await).await;
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO contributions (item_id, org_id, amount, currency, status, as_of)
         SELECT item_id, org_id, 1, 'USD', 'pledged', as_of FROM contributions LIMIT 1
         RETURNING id",
    )
    .fetch_one(&imported.db.pool)
    .await
    .expect("a new contribution");
    assert_eq!(
        next,
        highest + 1,
        "the sequence went on where the source's stood"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn password_hashes_travel_only_with_credentials() {
    let source = TestApp::spawn().await;
    source.create_user(ADMIN, Role::Admin).await;

    let without = export(&source.db.pool, Credentials::Left).await;
    let text = String::from_utf8(without.clone()).expect("UTF-8");
    assert!(text.contains(ADMIN), "the account is exported");
    assert!(!text.contains("$argon2"), "no password hash in the file");
    assert!(!text.contains("password_hash"), "no hash field at all");
    let imported = imported_app(&without).await;
    assert_eq!(
        export(&imported.db.pool, Credentials::Left).await,
        without,
        "round trip without credentials"
    );
    let refused = imported.sign_in(ADMIN, PASSWORD).await;
    assert!(
        refused.is_err(),
        "no sign-in until an admin sets a password"
    );

    let with = export(&source.db.pool, Credentials::Included).await;
    assert!(String::from_utf8_lossy(&with).contains("\"password_hash\": \"$argon2id$"));
    let imported = imported_app(&with).await;
    assert_eq!(export(&imported.db.pool, Credentials::Included).await, with);
    let session = imported
        .sign_in(ADMIN, PASSWORD)
        .await
        .unwrap_or_else(|r| panic!("the admin signs in on the import, got {}", r.status()));
    let (status, _) = session.get("/admin/audit").await;
    assert_eq!(status, 200, "as an admin");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_tokens_keep_working_only_with_credentials_and_are_revoked_without() {
    let source = TestApp::spawn().await;
    source.create_user(ADMIN, Role::Admin).await;
    let (id, secret) = token_for(&source, ADMIN, Role::Admin, false).await;

    let with = export(&source.db.pool, Credentials::Included).await;
    let imported = imported_app(&with).await;
    let (status, _) = get_with(&imported, &secret, "/api/v1/items?per_page=1").await;
    assert_eq!(
        status, 200,
        "the token works on the import made with credentials"
    );

    let without = export(&source.db.pool, Credentials::Left).await;
    assert!(
        !String::from_utf8_lossy(&without).contains("token_hash"),
        "no token hash in the file"
    );
    let document = portable::from_bytes(&without).expect("the file reads");
    let (_empty, db) = migrated_empty().await;
    let said = portable::import(&db.owner, document)
        .await
        .expect("the import loads")
        .to_string();
    assert!(said.contains("1 API token(s) came without"), "{said}");
    let revoked: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT revoked_at FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_one(&db.owner)
            .await
            .expect("the token row is there");
    assert!(revoked.is_some(), "a token without its hash is revoked");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_into_a_database_that_holds_data_is_refused_and_changes_nothing() {
    let db = fresh_db().await;
    let document = portable::from_bytes(&export(&db.pool, Credentials::Left).await)
        .expect("a readable export");
    let before = contents(&db.owner).await;
    let refused = portable::import(&db.owner, document)
        .await
        .expect_err("the seeded database holds data");
    let said = format!("{refused:#}");
    assert!(
        said.contains("already holds data")
            && said.contains("items")
            && said.contains("Nothing was changed"),
        "{said}"
    );
    assert_eq!(contents(&db.owner).await, before, "nothing was changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_the_database_refuses_leaves_the_empty_database_empty() {
    let source = fresh_db().await;
    let bytes = export(&source.pool, Credentials::Left).await;
    let mut document: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
    // The last table but one: everything before it has been loaded when it fails.
    let contributions = document["contributions"]
        .as_array_mut()
        .expect("contributions");
    let last = contributions.len() - 1;
    contributions[last]["currency"] = "XXX".into();
    let broken = serde_json::to_vec(&document).expect("encode");
    let (_, db) = migrated_empty().await;
    let before = contents(&db.owner).await;
    let refused = portable::import(
        &db.owner,
        portable::from_bytes(&broken).expect("the document still fits the format"),
    )
    .await
    .expect_err("no currency XXX");
    let said = format!("{refused:#}");
    assert!(
        said.contains("loading contributions") && said.contains("foreign key"),
        "{said}"
    );
    assert_eq!(contents(&db.owner).await, before, "nothing was loaded");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_table_is_exported_or_left_out_with_a_reason_and_every_column_travels() {
    let source = TestApp::spawn().await;
    let admin = admin_of(&source).await;
    edit_as_an_admin(&source, &admin).await;
    sqlx::query("INSERT INTO login_failures_unknown (day, failures) VALUES ('2026-12-01', 3)")
        .execute(&source.db.owner)
        .await
        .expect("count failed sign-ins");

    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&source.db.owner)
    .await
    .expect("list the tables");
    let exported: BTreeSet<&str> = portable::EXPORTED.iter().copied().collect();
    let left_out: BTreeSet<&str> = portable::NOT_EXPORTED.iter().map(|(t, _)| *t).collect();
    assert!(
        exported.is_disjoint(&left_out),
        "{:?}",
        exported.intersection(&left_out)
    );
    let listed: BTreeSet<&str> = exported.union(&left_out).copied().collect();
    let live: BTreeSet<&str> = tables.iter().map(String::as_str).collect();
    assert_eq!(
        live.difference(&listed).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "tables neither exported nor in portable::NOT_EXPORTED with a reason"
    );
    assert_eq!(
        listed.difference(&live).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "listed tables the schema does not have"
    );
    for (table, reason) in portable::NOT_EXPORTED {
        assert!(reason.len() > 20, "{table} is left out for a reason");
    }

    let document: serde_json::Value =
        serde_json::from_slice(&export(&source.db.pool, Credentials::Included).await)
            .expect("JSON");
    for table in portable::EXPORTED {
        let rows = document[*table].as_array().expect("a list per table");
        let first = rows
            .first()
            .unwrap_or_else(|| panic!("{table} has a row in this database"));
        let fields: BTreeSet<String> = first
            .as_object()
            .expect("a row is an object")
            .keys()
            .cloned()
            .collect();
        let columns: BTreeSet<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns
              WHERE table_schema = 'public' AND table_name = $1",
        )
        .bind(table)
        .fetch_all(&source.db.owner)
        .await
        .expect("list the columns")
        .into_iter()
        .collect();
        assert_eq!(fields, columns, "every column of {table} travels");
    }
}

/// The binary, as an operator runs it: against DATABASE_URL, from standard input, and
/// into the embedded database of a new DATA_DIR.
#[tokio::test(flavor = "multi_thread")]
async fn the_commands_round_trip_through_files_stdin_and_the_embedded_database() {
    let source = fresh_db().await;
    let files = TempDataDir::new("portable-files");
    std::fs::create_dir_all(&files.0).expect("create the directory");
    let file = files.0.join("portfolio.json");
    let file = file.to_str().expect("UTF-8");
    let said = ok(
        &run(&source.urls().env(), &["export", "--output", file], None).await,
        "export --output",
    );
    assert!(
        said.contains("exported") && said.contains("without password hashes"),
        "{said}"
    );
    let exported = std::fs::read(file).expect("the export file");

    let target = empty_db().await;
    let target_env = [
        ("DATABASE_URL", url_of(&target.app)),
        ("DATABASE_OWNER_URL", url_of(&target.owner)),
    ];
    let target_env: Vec<(&str, &str)> = target_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let said = ok(&run(&target_env, &["import", file], None).await, "import");
    assert!(
        said.contains("imported") && said.contains("items 51") && said.contains("users 0"),
        "{said}"
    );
    let again = run(&target_env, &["export"], None).await;
    ok(&again, "export to stdout");
    assert!(
        again.stdout == exported,
        "export → import → export through the binary"
    );

    let refused = run(&target_env, &["import", file], None).await;
    assert_eq!(refused.status.code(), Some(1));
    let said = failed(&refused, "a second import");
    assert!(
        said.contains("already holds data") && said.contains("Nothing was changed"),
        "{said}"
    );

    let broken = files.0.join("broken.json");
    std::fs::write(
        &broken,
        "{\"format\": \"portfolio-tracker\",\n \"version\": 1,\n \"themes\": [}\n",
    )
    .expect("write");
    let said = failed(
        &run(
            &target_env,
            &["import", broken.to_str().expect("UTF-8")],
            None,
        )
        .await,
        "import of broken JSON",
    );
    assert!(
        said.contains("not valid JSON")
            && said.contains("line 3")
            && said.contains("nothing was changed"),
        "{said}"
    );

    // From standard input.
    let other = empty_db().await;
    let other_env = [
        ("DATABASE_URL", url_of(&other.app)),
        ("DATABASE_OWNER_URL", url_of(&other.owner)),
    ];
    let other_env: Vec<(&str, &str)> = other_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let text = String::from_utf8(exported.clone()).expect("UTF-8");
    let said = ok(
        &run(&other_env, &["import", "-"], Some(&text)).await,
        "import -",
    );
    assert!(said.contains("imported standard input"), "{said}");

    // The embedded database of a new DATA_DIR: never seeded by the import.
    let data_dir = TempDataDir::new("portable-embedded");
    let on_dir = [("DATA_DIR", data_dir.path())];
    ok(
        &run(&on_dir, &["import", file], None).await,
        "import into DATA_DIR",
    );
    let again = run(&on_dir, &["export"], None).await;
    ok(&again, "export from DATA_DIR");
    assert!(
        again.stdout == exported,
        "the embedded database round-trips too"
    );
}
