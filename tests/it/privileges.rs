//! Least privilege in the database: the app connects as a role that may read and append
//! to the audit trail and do nothing else with it, and that holds no power over the
//! schema; the owner, which runs the migrations, grants it its rights after each run.

use crate::harness::{TestApp, fresh_db};
use portfolio_tracker::db::{self, Seeding};
use sqlx::PgPool;

async fn scalar_i64(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The error `sql` ends with on `pool`: its SQLSTATE and message.
async fn refusal(pool: &PgPool, sql: &str) -> (String, String) {
    let error = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(pool)
        .await
        .expect_err(sql);
    let db = error
        .as_database_error()
        .unwrap_or_else(|| panic!("{sql}: not a database error: {error}"));
    (
        db.code().as_deref().unwrap_or_default().to_string(),
        db.message().to_string(),
    )
}

#[tokio::test]
async fn the_app_connects_as_a_role_without_power_over_the_schema() {
    let app = TestApp::spawn().await;
    // The pool the app under test was given, as `serve` gives it.
    let pool = &app.state.pool;
    let role: (String, bool, bool, bool, bool) = sqlx::query_as(
        "SELECT rolname::text, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls
           FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(pool)
    .await
    .expect("the role");
    assert_eq!(role, (db::APP_ROLE.into(), false, false, false, false));
    assert_eq!(
        scalar_i64(
            pool,
            "SELECT count(*) FROM pg_class WHERE pg_has_role(relowner, 'USAGE')"
        )
        .await,
        0,
        "it owns nothing (nor is it a member of a role that does)"
    );
    assert!(
        db::roles::excess_rights(pool).await.unwrap().is_empty(),
        "the app's own check finds nothing to complain about"
    );
    let owner: String = sqlx::query_scalar(
        "SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = 'audit_log'::regclass",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        owner, "postgres",
        "the owner (the migrations' role) owns it"
    );
}

#[tokio::test]
async fn the_app_role_may_read_and_append_to_the_audit_trail_and_nothing_more() {
    let db = fresh_db().await;
    let pool = &db.pool;
    sqlx::query(
        "INSERT INTO audit_log (actor_email, action, entity, summary)
         VALUES ('least@example.org', 'update', 'item', 'appended by the app role')",
    )
    .execute(pool)
    .await
    .expect("the app role appends");
    let rows = scalar_i64(pool, "SELECT count(*) FROM audit_log").await;
    assert!(rows >= 1, "and reads");

    for sql in [
        "UPDATE audit_log SET summary = 'rewritten'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "DROP TRIGGER audit_log_no_truncate ON audit_log",
        "DROP TABLE audit_log",
        "SET session_replication_role = replica",
        "SET SESSION AUTHORIZATION postgres",
        "SET ROLE postgres",
        "COPY audit_log TO PROGRAM 'cat'",
        "CREATE TABLE audit_log_copy (id int)",
        "CREATE OR REPLACE FUNCTION audit_log_is_append_only() RETURNS trigger
             LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
        "ALTER ROLE portfolio_app SUPERUSER",
        "CREATE ROLE intruder SUPERUSER",
    ] {
        let (code, message) = refusal(pool, sql).await;
        assert_eq!(
            code, "42501",
            "{sql}: refused for want of rights, got {message}"
        );
        assert!(
            ["permission denied", "must be owner", "must be superuser"]
                .iter()
                .any(|m| message.contains(m)),
            "{sql}: {message}"
        );
    }
    assert_eq!(
        scalar_i64(pool, "SELECT count(*) FROM audit_log").await,
        rows,
        "nothing was lost"
    );
    assert_eq!(
        scalar_i64(
            pool,
            "SELECT count(*) FROM audit_log WHERE summary = 'rewritten'"
        )
        .await,
        0
    );
    let enabled = scalar_i64(
        &db.owner,
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass
            AND tgenabled = 'O' AND NOT tgisinternal",
    )
    .await;
    assert_eq!(enabled, 2, "both triggers are still there and enabled");
}

#[tokio::test]
async fn the_app_role_still_reads_and_writes_the_portfolio() {
    let db = fresh_db().await;
    let pool = &db.pool;
    for sql in [
        "UPDATE items SET title = title || ' (edited)' WHERE slug = 'guinea-bissau'",
        "INSERT INTO places (name, kind) VALUES ('Least Privilege Land', 'country')",
        "DELETE FROM places WHERE name = 'Least Privilege Land'",
        "UPDATE portfolio_revision SET revision = revision + 1",
        "SELECT count(*) FROM budgets_usd",
        "SELECT count(*) FROM _sqlx_migrations",
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    for sql in [
        "DELETE FROM _sqlx_migrations",
        "DELETE FROM portfolio_revision",
        "TRUNCATE items CASCADE",
    ] {
        let (code, message) = refusal(pool, sql).await;
        assert_eq!(code, "42501", "{sql}: {message}");
    }
}

#[tokio::test]
async fn every_migration_run_grants_new_tables_and_takes_back_extra_rights() {
    let db = fresh_db().await;
    // What a later migration would do: a new table, made by the owner.
    sqlx::raw_sql(
        "CREATE TABLE later_migration_table (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, t TEXT);
         GRANT TRUNCATE, UPDATE ON audit_log TO portfolio_app;",
    )
    .execute(&db.owner)
    .await
    .expect("the owner changes the schema (and grants too much by hand)");
    assert_eq!(
        refusal(&db.pool, "SELECT count(*) FROM later_migration_table")
            .await
            .0,
        "42501",
        "not yet granted"
    );

    // The start-up step that follows every migration run.
    db::prepare(Some(&db.owner), &db.pool, Seeding::Never)
        .await
        .expect("prepare");
    for sql in [
        "INSERT INTO later_migration_table (t) VALUES ('one')",
        "UPDATE later_migration_table SET t = 'two'",
        "SELECT count(*) FROM later_migration_table",
        "DELETE FROM later_migration_table",
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    for sql in ["TRUNCATE audit_log", "UPDATE audit_log SET summary = ''"] {
        let (code, message) = refusal(&db.pool, sql).await;
        assert!(
            code == "42501" && message.contains("permission denied"),
            "{sql}: the extra right was taken back, got {message}"
        );
    }

    // Once the rights are right, a start changes nothing in the catalog.
    let acl = "SELECT md5(string_agg(relname || coalesce(relacl::text, ''), ',' ORDER BY relname))
                 FROM pg_class WHERE relnamespace = 'public'::regnamespace";
    let before: String = sqlx::query_scalar(acl).fetch_one(&db.owner).await.unwrap();
    let xmin = "SELECT max(xmin::text::bigint) FROM pg_class
                 WHERE relnamespace = 'public'::regnamespace";
    let touched: i64 = sqlx::query_scalar(xmin).fetch_one(&db.owner).await.unwrap();
    db::prepare(Some(&db.owner), &db.pool, Seeding::Never)
        .await
        .expect("prepare again");
    let after: String = sqlx::query_scalar(acl).fetch_one(&db.owner).await.unwrap();
    assert_eq!(before, after);
    let touched_again: i64 = sqlx::query_scalar(xmin).fetch_one(&db.owner).await.unwrap();
    assert_eq!(touched, touched_again, "no catalog row was rewritten");
}
