//! `portfolio-tracker backup` and `restore`, run as an operator runs them: a backup taken
//! while `serve` runs, restored into a fresh `DATA_DIR`, serves the same figures, pages and
//! audit trail; a database that holds data is replaced only with `--replace`; bad files
//! are explained and change nothing.

use crate::conformance::{form_at, post_form};
use crate::harness::{PASSWORD, Session, empty_db, fresh_db};
use crate::served::{Served, TempDataDir, failed, ok, run, running_socket};
use portfolio_tracker::config::DbSettings;
use portfolio_tracker::db::{self, Database};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use std::path::Path;

const ADMIN: &str = "backup-admin@example.org";

/// Every table of the database with its number of rows and a digest of their text, and
/// every sequence with its last value: equal for two databases that hold the same.
pub(crate) async fn contents(pool: &PgPool) -> Vec<(String, i64, String)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("list the tables");
    assert!(tables.len() > 10, "a migrated database: {tables:?}");
    let mut out = Vec::new();
    for table in tables {
        let (rows, digest): (i64, Option<String>) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY t::text)) FROM \"{table}\" t"
        )))
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("read {table}: {e}"));
        out.push((table, rows, digest.unwrap_or_default()));
    }
    let sequences: Vec<(String, i64)> = sqlx::query_as(
        "SELECT sequencename::text, coalesce(last_value, 0) FROM pg_sequences
          WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("list the sequences");
    out.extend(
        sequences
            .into_iter()
            .map(|(name, last)| (format!("sequence {name}"), last, String::new())),
    );
    out
}

/// The audit trail, every column of every row, in order.
async fn audit_trail(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT to_jsonb(a)::text FROM audit_log a ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("read the audit trail")
}

/// The database of a `DATA_DIR` whose server runs (the socket of `serve`).
async fn running_pool(data_dir: &TempDataDir) -> PgPool {
    db::connect_with(
        PgConnectOptions::new()
            .socket(running_socket(&data_dir.0))
            .username(embedded_pg::SUPERUSER)
            .database(db::EMBEDDED_DATABASE),
    )
    .await
    .expect("connect to the running server's database")
}

/// What the database of a `DATA_DIR` no process runs holds (its cluster is started here
/// for the time being).
async fn stopped_contents(data_dir: &TempDataDir) -> Vec<(String, i64, String)> {
    let settings = DbSettings {
        database_url: None,
        database_owner_url: None,
        data_dir: data_dir.0.clone(),
        pool_size: 2,
        own_embedded_server: true,
    };
    let database = Database::connect_as_owner(&settings)
        .await
        .expect("open the stopped DATA_DIR");
    let held = contents(&database.pool).await;
    database.close().await;
    held
}

/// The pages, exports and API answers that carry the dashboards' figures, the audit
/// trail and the activity, as an admin sees them.
const COMPARED: &[&str] = &[
    "/",
    "/?sort=gap",
    "/funding",
    "/funding?funding=partly-funded",
    "/result-areas",
    "/result-areas/1.2",
    "/programmes/guinea-bissau",
    "/programmes/guinea-bissau/history",
    "/places/Guinea-Bissau",
    "/activity",
    "/admin/audit",
    "/api/v1/programmes?per_page=500",
    "/funding.csv?table=programmes",
    "/funding.csv?table=donors",
    "/funding.csv?table=themes",
    "/funding.csv?table=result-areas",
    "/funding.csv?table=places",
    "/funding.csv?table=bienniums",
    "/funding.csv?table=items",
    "/funding.csv?table=contributions",
];

pub(crate) async fn answers(session: &Session) -> Vec<(String, u16, String)> {
    let mut out = Vec::new();
    for path in COMPARED {
        let (status, body) = session.get(path).await;
        out.push((path.to_string(), status, without_clock(&body)));
    }
    out
}

/// A page without its print stamp ("page generated 3 December 2026, 08:52 UTC"): the
/// two servers are asked a moment apart, maybe on either side of a minute.
fn without_clock(body: &str) -> String {
    match body.find("page generated ") {
        Some(at) => {
            let end = body[at..].find("</p>").map_or(body.len(), |e| at + e);
            format!("{}{}", &body[..at], &body[end..])
        }
        None => body.to_string(),
    }
}

/// Changes a contribution's amount through the admin form, as an admin would.
async fn edit_contribution(admin: &Session, pool: &PgPool, amount: &str) {
    let id: i64 = sqlx::query_scalar(
        "SELECT c.id FROM contributions c JOIN items i ON i.id = c.item_id
          WHERE i.slug = 'guinea-bissau' AND c.archived_at IS NULL ORDER BY c.id LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .expect("a contribution to Guinea-Bissau");
    let path = format!("/admin/contributions/{id}");
    let mut form = form_at(admin, &format!("{path}/edit")).await;
    form.set("amount", amount);
    let (status, _, body) = post_form(admin, &path, &form).await;
    assert_eq!(status, 303, "the edit is saved: {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_while_serving_restores_into_a_fresh_data_dir_with_the_same_figures() {
    let a = TempDataDir::new("backup-a");
    let b = TempDataDir::new("backup-b");
    let files = TempDataDir::new("backup-files");
    std::fs::create_dir_all(&files.0).expect("create the backup directory");
    let dump = files.0.join("portfolio.dump");
    let dump = dump.to_str().expect("UTF-8");
    let on_a = [("DATA_DIR", a.path())];
    let on_b = [("DATA_DIR", b.path())];

    ok(&run(&on_a, &["seed"], None).await, "seed");
    ok(
        &run(
            &on_a,
            &[
                "user",
                "add",
                "--email",
                ADMIN,
                "--role",
                "admin",
                "--password-stdin",
            ],
            Some(&format!("{PASSWORD}\n")),
        )
        .await,
        "user add",
    );
    let serve_a = Served::start(&on_a);
    let pool_a = running_pool(&a).await;
    let admin = serve_a.sign_in(ADMIN, PASSWORD).await;
    edit_contribution(&admin, &pool_a, "12345678").await;

    // Taken while A serves: the command uses A's server.
    let said = ok(&run(&on_a, &["backup", dump], None).await, "backup");
    assert!(said.contains("backed up") && said.contains(dump), "{said}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dump)
            .expect("the backup exists")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "only its owner reads a backup");

    let said = ok(&run(&on_b, &["restore", dump], None).await, "restore");
    assert!(said.contains("restored"), "{said}");

    // Table by table, the restored database holds what A held (nothing has changed on A
    // since the backup).
    let restored = stopped_contents(&b).await;
    assert_eq!(contents(&pool_a).await, restored);
    let audit = audit_trail(&pool_a).await;
    assert!(
        audit
            .iter()
            .any(|row| row.contains("\"entity\": \"contribution\"")),
        "the edit is in the audit trail: {audit:?}"
    );

    // Served, B answers exactly as A does, to the same signed-in admin: the sessions were
    // restored too.
    let serve_b = Served::start(&on_b);
    let pool_b = running_pool(&b).await;
    assert_eq!(
        audit_trail(&pool_b).await,
        audit,
        "the audit trails are equal"
    );
    let admin_on_b = Session {
        app_url: serve_b.url.clone(),
        ..admin.clone()
    };
    let from_a = answers(&admin).await;
    let from_b = answers(&admin_on_b).await;
    for ((path, status_a, body_a), (_, status_b, body_b)) in from_a.iter().zip(&from_b) {
        assert_eq!(*status_a, 200, "GET {path} on A");
        assert_eq!(*status_b, 200, "GET {path} on B");
        assert!(body_a == body_b, "GET {path} differs between A and B");
    }
    let contributions = &from_b
        .iter()
        .find(|(path, ..)| path.ends_with("contributions"))
        .expect("the contributions table")
        .2;
    assert!(
        contributions.contains("12345678"),
        "the edit made before the backup is there"
    );

    // B holds a portfolio: restoring over it while it serves, or without --replace, is
    // refused and changes nothing.
    let refused = failed(&run(&on_b, &["restore", dump], None).await, "restore");
    assert!(refused.contains("stop the server"), "{refused}");
    pool_b.close().await;
    drop(serve_b);
    let refused = failed(&run(&on_b, &["restore", dump], None).await, "restore");
    assert!(
        refused.contains("already holds a portfolio")
            && refused.contains("--replace")
            && refused.contains("nothing was changed"),
        "{refused}"
    );

    // A changes after the backup; `restore --replace` brings it back to the backup.
    edit_contribution(&admin, &pool_a, "1").await;
    assert_ne!(contents(&pool_a).await, restored);
    pool_a.close().await;
    drop(serve_a);
    let said = ok(
        &run(&on_a, &["restore", "--replace", dump], None).await,
        "restore --replace",
    );
    assert!(said.contains("restored"), "{said}");
    assert_eq!(stopped_contents(&a).await, restored);
}

/// A URL for a database of the test cluster.
pub(crate) fn url_of(options: &PgConnectOptions) -> String {
    embedded_pg::connection_url(
        options.get_socket().expect("a socket"),
        options.get_database().expect("a database"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn with_database_url_a_restore_is_one_transaction_and_replaces_only_when_told() {
    let source = fresh_db().await;
    let files = TempDataDir::new("backup-url");
    std::fs::create_dir_all(&files.0).expect("create the backup directory");
    let dump = files.0.join("portfolio.dump");
    let dump = dump.to_str().expect("UTF-8");
    let source_urls = source.urls();
    let with_source = source_urls.env();
    ok(
        &run(
            &with_source,
            &[
                "user",
                "add",
                "--email",
                ADMIN,
                "--role",
                "staff",
                "--password-stdin",
            ],
            Some(&format!("{PASSWORD}\n")),
        )
        .await,
        "user add",
    );
    ok(&run(&with_source, &["backup", dump], None).await, "backup");
    let expected = contents(&source.pool).await;

    // Into an empty database.
    let empty = empty_db().await;
    let empty_url = url_of(&empty.owner);
    let empty_app_url = url_of(&empty.app);
    ok(
        &run(
            &[
                ("DATABASE_URL", &empty_app_url),
                ("DATABASE_OWNER_URL", &empty_url),
            ],
            &["restore", dump],
            None,
        )
        .await,
        "restore into an empty database",
    );
    let restored = db::connect(&empty_url).await.expect("connect");
    assert_eq!(contents(&restored).await, expected);
    assert_eq!(
        audit_trail(&restored).await,
        audit_trail(&source.pool).await
    );
    restored.close().await;

    // Over a database that holds the seeded portfolio: refused, then replaced.
    let seeded = fresh_db().await;
    let before = contents(&seeded.pool).await;
    assert_ne!(before, expected);
    let seeded_urls = seeded.urls();
    let with_seeded = seeded_urls.env();
    let refused = failed(
        &run(&with_seeded, &["restore", dump], None).await,
        "restore over a portfolio",
    );
    assert!(
        refused.contains("already holds a portfolio") && refused.contains("--replace"),
        "{refused}"
    );
    assert_eq!(contents(&seeded.pool).await, before, "nothing was changed");
    ok(
        &run(&with_seeded, &["restore", "--replace", dump], None).await,
        "restore --replace",
    );
    assert_eq!(contents(&seeded.pool).await, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_backup_files_are_explained_and_change_nothing() {
    let db = fresh_db().await;
    let before = contents(&db.pool).await;
    let files = TempDataDir::new("backup-bad");
    std::fs::create_dir_all(&files.0).expect("create the directory");
    let db_urls = db.urls();
    let with_db = db_urls.env();
    let restore = |file: &Path| {
        let file = file.to_str().expect("UTF-8").to_string();
        async move { run(&with_db, &["restore", "--replace", &file], None).await }
    };

    let missing = files.0.join("no-such.dump");
    let said = failed(&restore(&missing).await, "restore of a missing file");
    assert!(
        said.contains("cannot read the backup file") && said.contains("no-such.dump"),
        "{said}"
    );
    assert!(!said.contains("panicked"), "{said}");

    let text = files.0.join("notes.txt");
    std::fs::write(&text, "not a dump\n").expect("write");
    let said = failed(&restore(&text).await, "restore of a text file");
    assert!(
        said.contains("is not a backup made by `portfolio-tracker backup`"),
        "{said}"
    );

    let truncated = files.0.join("truncated.dump");
    std::fs::write(&truncated, b"PGDMP\x01\x0e").expect("write");
    let said = failed(&restore(&truncated).await, "restore of a truncated dump");
    assert!(said.contains("cannot be read as a dump"), "{said}");

    // A custom-format dump of some other database.
    let other = empty_db().await;
    let pg_dump = embedded_pg::find_program("pg_dump").expect("pg_dump is installed");
    let foreign = files.0.join("foreign.dump");
    let made = std::process::Command::new(pg_dump)
        .args(["--format=custom", "--file"])
        .arg(&foreign)
        .arg("--dbname")
        .arg(url_of(&other.owner))
        .output()
        .expect("run pg_dump");
    assert!(made.status.success(), "{made:?}");
    let said = failed(
        &restore(&foreign).await,
        "restore of another database's dump",
    );
    assert!(
        said.contains("not of a Portfolio Tracker database"),
        "{said}"
    );

    assert_eq!(contents(&db.pool).await, before, "nothing was changed");

    // Nothing to back up: an empty database, a DATA_DIR that does not exist.
    let out = files.0.join("out.dump");
    let out = out.to_str().expect("UTF-8");
    let said = failed(
        &run(
            &[("DATABASE_URL", &url_of(&other.owner))],
            &["backup", out],
            None,
        )
        .await,
        "backup of an empty database",
    );
    assert!(said.contains("nothing to back up"), "{said}");
    let nowhere = files.0.join("no-data-dir");
    let said = failed(
        &run(
            &[("DATA_DIR", nowhere.to_str().expect("UTF-8"))],
            &["backup", out],
            None,
        )
        .await,
        "backup of a DATA_DIR that does not exist",
    );
    assert!(said.contains("does not exist"), "{said}");
    assert!(!nowhere.exists(), "no DATA_DIR was made");
    assert!(!Path::new(out).exists(), "no backup file was left");
}
