//! Several instances of the app on one database, as behind a load balancer: they start
//! and migrate together safely, share sessions, and each shows the others' edits.

use crate::conformance::saved_item_form::{Form, saved_form};
use crate::harness::{TestApp, empty_db, fresh_db};

/// Who the page header says is signed in.
const WHO: &str = "header.site-header .account .who";
use portfolio_tracker::db::{self, Seeding};
use portfolio_tracker::domain::auth::Role;
use sqlx::PgPool;
use std::time::{Duration, Instant};

/// Rows per seeded table: the seed loaded once (as in the template) gives these.
async fn seeded_counts(pool: &PgPool) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for table in [
        "items",
        "budgets",
        "contributions",
        "organisations",
        "result_areas",
        "themes",
        "exchange_rates",
        "alignments",
        "item_places",
        "item_organisations",
        "places",
    ] {
        let sql = format!("SELECT count(*) FROM {table}");
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(pool)
            .await
            .expect("count");
        out.push((table, count));
    }
    out
}

#[tokio::test]
async fn two_instances_start_and_migrate_at_once() {
    let empty = empty_db().await;
    let owner_a = db::connect_with(empty.owner.clone())
        .await
        .expect("owner A");
    let owner_b = db::connect_with(empty.owner.clone())
        .await
        .expect("owner B");
    let pool_a = db::connect_with(empty.app.clone()).await.expect("pool A");
    let pool_b = db::connect_with(empty.app).await.expect("pool B");

    // What `serve` does on start, twice at the same time on an empty database: migrate
    // and grant as the owner, seed as the application role.
    let (a, b) = tokio::join!(
        db::prepare(Some(&owner_a), &pool_a, Seeding::IfEmpty),
        db::prepare(Some(&owner_b), &pool_b, Seeding::IfEmpty)
    );
    let a = a.expect("instance A starts");
    let b = b.expect("instance B starts");
    let seeded: Vec<_> = [a, b].into_iter().flatten().collect();
    assert_eq!(seeded.len(), 1, "exactly one instance seeds: {seeded:?}");
    assert!(
        seeded[0].items > 0,
        "that one loads the items: {}",
        seeded[0]
    );

    // The seed is there exactly once: the same rows as the template, seeded once.
    let expected = seeded_counts(&fresh_db().await.pool).await;
    assert_eq!(seeded_counts(&pool_a).await, expected);
    assert_eq!(
        seeded[0].items, expected[0].1 as u64,
        "the report counts every item"
    );

    // Each migration applied once, successfully.
    let applied: Vec<(i64, i64, bool)> = sqlx::query_as(
        "SELECT version, count(*), bool_and(success) FROM _sqlx_migrations
          GROUP BY version ORDER BY version",
    )
    .fetch_all(&pool_b)
    .await
    .expect("migrations table");
    let mut versions: Vec<i64> = db::MIGRATOR.iter().map(|m| m.version).collect();
    versions.sort_unstable();
    assert_eq!(
        applied,
        versions.iter().map(|v| (*v, 1, true)).collect::<Vec<_>>(),
        "every migration once"
    );

    // A later start (a restart, a third instance) changes nothing.
    let again = db::prepare(Some(&owner_b), &pool_b, Seeding::IfEmpty)
        .await
        .expect("a later start");
    assert!(again.is_none(), "a later start does not seed: {again:?}");
    assert_eq!(seeded_counts(&pool_b).await, expected);
    pool_a.close().await;
    pool_b.close().await;
    owner_a.close().await;
    owner_b.close().await;
}

#[tokio::test]
async fn a_session_from_one_instance_works_on_the_other() {
    let a = TestApp::spawn().await;
    let b = a.another_instance().await;
    let (email, on_a) = a.signed_in_with_email(Role::Admin).await;
    let (status, page) = on_a.page("/admin").await;
    assert_eq!(status, 200, "signed in on A");
    assert!(
        page.text_of(WHO).starts_with(&email),
        "{}",
        page.text_of(WHO)
    );

    // The same browser, routed to B by the load balancer.
    let on_b = b.session_for(on_a.cookie.clone()).await;
    assert_eq!(on_b.csrf, on_a.csrf, "one session, one CSRF token");
    let (status, page) = on_b.page("/admin").await;
    assert_eq!(
        status,
        200,
        "B knows the session A created: {}",
        page.main_text()
    );
    assert!(
        page.text_of(WHO).starts_with(&email),
        "B shows who is signed in: {}",
        page.text_of(WHO)
    );
    let (status, page) = on_b.page("/programmes/guinea-bissau").await;
    assert_eq!(status, 200);
    assert!(
        page.text_of(WHO).starts_with(&email),
        "{}",
        page.text_of(WHO)
    );

    // Signing out on B ends the session everywhere.
    let (status, location, _) = on_b.post("/logout", &[]).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/login"),
        "signed out on B"
    );
    let response = on_a.get_response("/admin").await;
    assert_eq!(response.status().as_u16(), 303, "A no longer accepts it");
    assert!(
        crate::harness::location(&response).starts_with("/login"),
        "A sends the browser to sign in"
    );
    let (status, _) = on_b.get("/admin").await;
    assert_eq!(status, 303, "nor does B");
}

#[tokio::test]
async fn an_edit_on_one_instance_shows_on_the_other() {
    let a = TestApp::spawn().await;
    let b = a.another_instance().await;
    let admin_on_a = a.signed_in(Role::Admin).await;
    let staff_on_b = b.signed_in(Role::Staff).await;
    let page = "/programmes/guinea-bissau";
    let old_title = "West Africa: Guinea-Bissau";
    let new_title = "Guinea-Bissau, edited on instance A";

    // B has built its cached portfolio with the old title.
    let (status, shown) = staff_on_b.page(page).await;
    assert_eq!(status, 200);
    assert_eq!(
        shown.text_of("main h1"),
        old_title,
        "B shows the seeded title first"
    );
    assert!(!shown.body.contains(new_title));

    // The admin saves the edit form on A.
    let id: i64 = sqlx::query_scalar("SELECT id FROM items WHERE slug = 'guinea-bissau'")
        .fetch_one(&a.db.pool)
        .await
        .expect("the item");
    let mut form: Form = saved_form(&a.db.pool, id).await;
    let title = form
        .iter_mut()
        .find(|(name, _)| *name == "title")
        .expect("a title field");
    assert_eq!(title.1, old_title);
    title.1 = new_title.to_string();
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, location, body) = admin_on_a
        .post(&format!("/admin/items/{id}"), &fields)
        .await;
    assert_eq!(status, 303, "the edit is saved: {body}");
    assert_eq!(location, "/admin/items?done=saved");

    // B notices the new revision; it may serve its old copy while it rebuilds.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, shown) = staff_on_b.page(page).await;
        assert_eq!(status, 200);
        let heading = shown.text_of("main h1");
        if heading == new_title {
            break;
        }
        assert_eq!(heading, old_title, "the old title until the new one");
        assert!(
            Instant::now() < deadline,
            "B still shows the old title 5 s after the edit on A"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
