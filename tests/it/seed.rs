//! The seed portfolio: complete, traceable, and idempotent.

use crate::harness::fresh_db;
use portfolio_tracker::store::seed;

async fn counts(pool: &sqlx::PgPool) -> Vec<i64> {
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
        out.push(
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await
                .expect("count"),
        );
    }
    out
}

#[tokio::test]
async fn seeding_twice_changes_nothing() {
    let db = fresh_db().await; // already seeded once, from the template
    let before = counts(&db.pool).await;
    let report = seed::load(&db.pool).await.expect("second seed");
    assert!(report.is_empty(), "second run adds nothing: {report}");
    assert_eq!(counts(&db.pool).await, before);
}

#[tokio::test]
async fn seeding_does_not_overwrite_edits() {
    let db = fresh_db().await;
    sqlx::query("UPDATE items SET title = 'Edited title' WHERE slug = 'guinea-bissau'")
        .execute(&db.pool)
        .await
        .expect("edit");
    seed::load(&db.pool).await.expect("re-seed");
    let title: String = sqlx::query_scalar("SELECT title FROM items WHERE slug = 'guinea-bissau'")
        .fetch_one(&db.pool)
        .await
        .expect("title");
    assert_eq!(title, "Edited title");
}

#[tokio::test]
async fn every_figure_names_its_paragraph() {
    let db = fresh_db().await;
    let missing: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM budgets WHERE source_para IS NULL)
              + (SELECT count(*) FROM contributions WHERE source_para IS NULL)
              + (SELECT count(*) FROM alignments WHERE source_para IS NULL)
              + (SELECT count(*) FROM items WHERE source_paras IS NULL)",
    )
    .fetch_one(&db.pool)
    .await
    .expect("count");
    assert_eq!(missing, 0);
}

#[tokio::test]
async fn the_report_shape_is_seeded() {
    let db = fresh_db().await;
    let sections: Vec<String> = sqlx::query_scalar(
        "SELECT report_section FROM items WHERE parent_id IS NULL ORDER BY report_section",
    )
    .fetch_all(&db.pool)
    .await
    .expect("sections");
    assert_eq!(
        sections,
        [
            "II.A", "II.B", "II.C", "II.D", "II.E", "II.F", "II.G", "II.H", "II.I", "III.A",
            "III.B", "III.C"
        ]
    );
    let unnamed: Vec<String> =
        sqlx::query_scalar("SELECT code FROM result_areas WHERE title IS NULL ORDER BY code")
            .fetch_all(&db.pool)
            .await
            .expect("areas");
    assert_eq!(
        unnamed,
        ["3.4"],
        "only 3.4 is unnamed, and it has no invented title"
    );
    let self_financed: String = sqlx::query_scalar(
        "SELECT i.slug FROM contributions c JOIN items i ON i.id = c.item_id WHERE c.self_financing",
    )
    .fetch_one(&db.pool)
    .await
    .expect("one self-financing contribution");
    assert_eq!(self_financed, "rainbow-turkmen-border-initiative");
    let currencies: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT currency::text FROM contributions ORDER BY 1")
            .fetch_all(&db.pool)
            .await
            .expect("currencies");
    assert_eq!(currencies, ["EUR", "USD"]);
}
