//! `portfolio-tracker generate`: a deterministic synthetic portfolio on top of the seed.

use crate::harness::{DbUrls, fresh_db};
use sqlx::PgPool;
use std::process::{Command, Output};

const ITEMS: &str = "300";
const CONTRIBUTIONS: &str = "3000";

fn generate(urls: &DbUrls, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portfolio-tracker"))
        .envs(urls.env())
        .env("RUST_LOG", "warn")
        .args([
            "generate",
            "--items",
            ITEMS,
            "--contributions",
            CONTRIBUTIONS,
            "--seed",
            "42",
        ])
        .args(extra)
        .output()
        .expect("run the binary")
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "generate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Everything the generator writes, by names rather than ids, as one hash.
async fn digest(pool: &PgPool) -> String {
    sqlx::query_scalar(
        "SELECT md5(string_agg(row, E'\\n' ORDER BY row)) FROM (
           SELECT concat_ws('|', 'item', i.slug, i.title, i.kind, p.slug, i.report_section,
                            i.status, i.status_note, i.summary, i.description, i.period,
                            i.start_date, i.end_date, i.source_paras, i.published,
                            i.internal_notes) AS row
             FROM items i LEFT JOIN items p ON p.id = i.parent_id
           UNION ALL
           SELECT concat_ws('|', 'contribution', i.slug, o.slug, c.amount, c.currency, c.status,
                            c.pledged_on, c.as_of, c.approximate, c.self_financing,
                            c.source_para, c.note, c.seed_key)
             FROM contributions c JOIN items i ON i.id = c.item_id
             JOIN organisations o ON o.id = c.org_id
           UNION ALL
           SELECT concat_ws('|', 'budget', i.slug, b.amount, b.currency, b.approximate, b.period,
                            b.as_of, b.source_para, b.note, b.seed_key)
             FROM budgets b JOIN items i ON i.id = b.item_id
           UNION ALL
           SELECT concat_ws('|', 'alignment', i.slug, ra.code, a.source_para, a.note)
             FROM alignments a JOIN items i ON i.id = a.item_id
             JOIN result_areas ra ON ra.id = a.result_area_id
           UNION ALL
           SELECT concat_ws('|', 'place', i.slug, pl.name, pl.kind)
             FROM item_places ip JOIN items i ON i.id = ip.item_id
             JOIN places pl ON pl.id = ip.place_id
           UNION ALL
           SELECT concat_ws('|', 'role', i.slug, o.slug, io.role, io.source_para)
             FROM item_organisations io JOIN items i ON i.id = io.item_id
             JOIN organisations o ON o.id = io.org_id
           UNION ALL
           SELECT concat_ws('|', 'organisation', slug, name, acronym, kind, source_paras)
             FROM organisations
           UNION ALL
           SELECT concat_ws('|', 'rate', currency, month, usd_per_unit, source)
             FROM exchange_rates
         ) t",
    )
    .fetch_one(pool)
    .await
    .expect("digest")
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn same_seed_same_portfolio_with_the_promised_shape() {
    let first = fresh_db().await;
    let second = fresh_db().await;
    let seeded = digest(&first.pool).await;

    let output = generate(&first.urls(), &[]);
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("300 items"), "{stdout}");
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("rows"),
        "no progress bar off a terminal"
    );
    assert_success(&generate(&second.urls(), &[]));
    let generated = digest(&first.pool).await;
    assert_ne!(generated, seeded);
    assert_eq!(
        generated,
        digest(&second.pool).await,
        "same seed, same data"
    );

    let pool = &first.pool;
    assert_eq!(
        count(pool, "SELECT count(*) FROM items WHERE slug LIKE 'gen-%'").await,
        300
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM contributions c JOIN items i ON i.id = c.item_id
              WHERE i.slug LIKE 'gen-%'"
        )
        .await,
        3000
    );
    assert!(
        count(
            pool,
            "SELECT count(*) FROM items s JOIN items c ON c.id = s.parent_id
               JOIN items t ON t.id = c.parent_id
              WHERE t.slug LIKE 'gen-%' AND t.parent_id IS NULL"
        )
        .await
            > 0,
        "three levels deep"
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM items WHERE slug = 'gen-1-1-1' AND kind = 'component'"
        )
        .await,
        1
    );
    let drafts = count(
        pool,
        "SELECT count(*) FROM items WHERE slug LIKE 'gen-%' AND NOT published",
    )
    .await;
    assert!((10..=60).contains(&drafts), "about 10 % drafts: {drafts}");
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM items WHERE slug = 'gen-7' AND published"
        )
        .await,
        1
    );
    assert!(
        count(
            pool,
            "SELECT count(*) FROM items i WHERE slug LIKE 'gen-%'
                AND NOT EXISTS (SELECT 1 FROM budgets b WHERE b.item_id = i.id)"
        )
        .await
            > 30,
        "items with an unknown budget"
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM result_areas ra WHERE NOT EXISTS (
                SELECT 1 FROM alignments a JOIN items i ON i.id = a.item_id
                 WHERE a.result_area_id = ra.id AND i.slug LIKE 'gen-%')"
        )
        .await,
        0,
        "every result area is aligned by a generated item"
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(DISTINCT c.status) FROM contributions c
               JOIN items i ON i.id = c.item_id WHERE i.slug LIKE 'gen-%'"
        )
        .await,
        3
    );
    assert!(
        count(
            pool,
            "SELECT count(DISTINCT c.currency) FROM contributions c
               JOIN items i ON i.id = c.item_id WHERE i.slug LIKE 'gen-%'"
        )
        .await
            >= 6
    );
    assert!(
        count(
            pool,
            "SELECT count(DISTINCT b.currency) FROM budgets b
               JOIN items i ON i.id = b.item_id WHERE i.slug LIKE 'gen-%'"
        )
        .await
            >= 4
    );
    assert!(
        count(
            pool,
            "SELECT count(*) FROM organisations WHERE slug LIKE 'gen-org-%'"
        )
        .await
            >= 200
    );
    assert!(
        count(
            pool,
            "SELECT count(*) FROM places WHERE name LIKE 'Genland %' OR name LIKE 'Genregion %'"
        )
        .await
            >= 200
    );
    assert!(
        count(
            pool,
            "SELECT count(*) FROM item_organisations io JOIN items i ON i.id = io.item_id
              WHERE i.slug LIKE 'gen-%' AND io.role = 'lead'"
        )
        .await
            > 0
    );
    // Every generated amount converts to USD: a rate exists for each month used.
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM contributions_usd WHERE amount_usd IS NULL"
        )
        .await,
        0
    );
    // The dashboards convert while loading: to the cent what the views give.
    let data = portfolio_tracker::store::portfolio::load(pool)
        .await
        .expect("load the portfolio");
    type Conversion = (
        i64,
        Option<chrono::NaiveDate>,
        Option<rust_decimal::Decimal>,
        Option<rust_decimal::Decimal>,
    );
    let views = |sql: &'static str| async move {
        let rows: Vec<Conversion> = sqlx::query_as(sql)
            .fetch_all(pool)
            .await
            .expect("read a view");
        rows.into_iter()
            .map(|(id, month, rate, usd)| (id, (month, rate, usd)))
            .collect::<std::collections::HashMap<_, _>>()
    };
    let contributions =
        views("SELECT id, rate_month, usd_per_unit, amount_usd FROM contributions_usd").await;
    assert_eq!(contributions.len(), data.contributions.len());
    for c in &data.contributions {
        let loaded = (c.rate_month, c.usd_per_unit, c.amount_usd);
        assert_eq!(contributions[&c.id], loaded, "contribution {}", c.id);
    }
    let budgets = views("SELECT id, rate_month, usd_per_unit, amount_usd FROM budgets_usd").await;
    assert_eq!(budgets.len(), data.budgets.len());
    for b in &data.budgets {
        let loaded = (b.rate_month, b.usd_per_unit, b.amount_usd);
        assert_eq!(budgets[&b.id], loaded, "budget {}", b.id);
    }
    assert!(
        data.contributions
            .iter()
            .any(|c| c.currency != "USD" && c.amount_usd.is_some()),
        "the comparison covers amounts converted at a rate"
    );
    // The seeded rate survives.
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM exchange_rates
              WHERE currency = 'EUR' AND month = '2008-02-01' AND source NOT LIKE 'synthetic%'"
        )
        .await,
        1
    );

    // A second run refuses and writes nothing.
    let again = generate(&first.urls(), &[]);
    assert!(
        !again.status.success(),
        "a second run without --force fails"
    );
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("--force") && stderr.contains("generated portfolio"),
        "{stderr}"
    );
    assert_eq!(digest(pool).await, generated, "nothing written");

    // With --force it replaces the earlier run with the same portfolio.
    let forced = generate(&first.urls(), &["--force"]);
    assert_success(&forced);
    assert_eq!(digest(pool).await, generated);
}

#[tokio::test]
async fn refuses_a_database_with_more_than_the_seed() {
    let db = fresh_db().await;
    sqlx::query(
        "INSERT INTO contributions (item_id, org_id, amount, currency, status, as_of)
         SELECT (SELECT min(id) FROM items), (SELECT min(id) FROM organisations),
                1000, 'USD', 'pledged', '2009-01-01'",
    )
    .execute(&db.pool)
    .await
    .expect("a hand-made contribution");
    let before = digest(&db.pool).await;
    let output = generate(&db.urls(), &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("1 contributions") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(digest(&db.pool).await, before);
}
