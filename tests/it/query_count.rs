//! How many SQL statements each page runs, at two portfolio sizes: the seeded report, then
//! the same database with ~1,100 more items (components, budgets, alignments, places,
//! partners, contributions). A page whose count grows with the portfolio runs a query per
//! row somewhere (N+1); the test fails then and prints every page's count at both sizes.
//!
//! # How statements are counted
//!
//! With PostgreSQL's `pg_stat_statements` (the embedded cluster preloads it when the
//! server has it, see `crates/embedded-pg/src/binaries.rs`), which counts calls per (user, database,
//! statement). Every test has its own database, so the calls made in this test's database
//! between two readings are this test's, whatever the other tests do in parallel. The
//! readings themselves run in the `postgres` database, so they are not counted.
//!
//! What counts as a statement: every query, insert, update or delete the page sends
//! (`pg_stat_statements.track = top`: statements a trigger or function runs are part of
//! the statement that fired them). Transaction control and session settings (`BEGIN`,
//! `COMMIT`, `SET`, ...) and the driver's own catalog lookups (sqlx reads `pg_type` once
//! per connection for a type it has not met) are not statements of the page: they are
//! reported beside the count ("+N other"), and must not grow either, but the bound is on
//! statements.
//!
//! When the server cannot load `pg_stat_statements` (a PostgreSQL without the contrib
//! modules) the test says so and passes, unless `PT_REQUIRE_PG_STAT_STATEMENTS` is set
//! (`.ci/run` sets it).

use crate::harness::{Session, TestApp};
use portfolio_tracker::domain::auth::Role;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// An anonymous page runs only the revision check: everything else comes from the
/// dashboards computed once per revision. A signed-in page adds the session lookup.
const MAX_ANONYMOUS: i64 = 1;
const MAX_SIGNED_IN: i64 = 2;

/// Pages an anonymous reader of a public site reaches, at both sizes.
const ANONYMOUS_PAGES: &[&str] = &[
    "/",
    "/?sort=gap",
    "/?sort=title",
    "/programmes/guinea-bissau",
    "/programmes/rainbow-strategy",
    "/result-areas",
    "/result-areas/1.2",
    "/funding",
    "/funding?result_area=1.2",
    "/funding?theme=1&funding=partly-funded",
    "/organisations/european-union",
    "/places/Guinea-Bissau",
    "/search?q=drug",
    "/api/v1/programmes",
    "/funding.csv?table=items",
    "/funding.csv?table=contributions",
];

/// Pages a signed-in staff member reads (the session lookup is one more statement).
const STAFF_PAGES: &[&str] = &["/", "/programmes/guinea-bissau"];

/// A later page of the overview (25 programmes and initiatives each): measured at the
/// big size and compared with `/` at the small one.
const SECOND_PAGE: &str = "/?page=2";

/// The bigger portfolio: 200 programmes and initiatives with 4 components each, 60 more
/// components under Guinea-Bissau and 40 under the Rainbow Strategy; budgets on three
/// items in four (some in euros); alignments (every fifth item to 1.2), places (every
/// seventh in Guinea-Bissau), partners and 4,000 contributions from the seeded
/// organisations (every sixth from the European Union). Every title says "drug", so the
/// search finds them all.
const GROW: &str = r#"
INSERT INTO exchange_rates (currency, month, usd_per_unit, source)
SELECT 'EUR', make_date(y, m, 1), 1.3 + (m % 5) * 0.02, 'query-count test rate'
  FROM generate_series(2008, 2011) y, generate_series(1, 12) m
ON CONFLICT DO NOTHING;

INSERT INTO items (slug, title, kind, status, report_section, summary, published, start_date, end_date)
SELECT 'qcount-' || g, 'Qcount drug programme ' || lpad(g::text, 4, '0'),
       CASE WHEN g % 4 = 0 THEN 'initiative' ELSE 'programme' END,
       (ARRAY['planned','in_development','seeking_funding','ongoing','completed'])[1 + g % 5],
       'X.' || lpad(g::text, 4, '0'), 'Synthetic item for counting queries.', g % 10 <> 0,
       CASE WHEN g % 3 = 0 THEN make_date(2008 + g % 4, 1, 1) END,
       CASE WHEN g % 3 = 0 THEN make_date(2009 + g % 4, 12, 31) END
  FROM generate_series(1, 200) g;

INSERT INTO items (slug, title, kind, parent_id, status, report_section, published)
SELECT p.slug || '-c' || c, p.title || ', component ' || c, 'component', p.id, 'ongoing',
       p.report_section, true
  FROM items p, generate_series(1, 4) c
 WHERE p.slug LIKE 'qcount-%' AND p.parent_id IS NULL;

INSERT INTO items (slug, title, kind, parent_id, status, report_section, published)
SELECT p.slug || '-qcount-' || c, 'Qcount drug component ' || c || ' of ' || p.slug, 'component',
       p.id, 'ongoing', p.report_section, c % 10 <> 0
  FROM items p
  JOIN (VALUES ('guinea-bissau', 60), ('rainbow-strategy', 40)) AS n (slug, parts) ON n.slug = p.slug
 CROSS JOIN LATERAL generate_series(1, n.parts) c;

INSERT INTO budgets (item_id, amount, currency, as_of)
SELECT id, 100000 + (id * 7919) % 5000000, CASE WHEN id % 3 = 0 THEN 'EUR' ELSE 'USD' END, '2009-06-15'
  FROM items WHERE slug LIKE '%qcount-%' AND id % 4 <> 0;

INSERT INTO alignments (item_id, result_area_id)
SELECT i.id, ra.id FROM items i
  JOIN result_areas ra ON ra.id = (SELECT array_agg(id ORDER BY id) FROM result_areas)
                                  [1 + i.id % (SELECT count(*) FROM result_areas)]
 WHERE i.slug LIKE '%qcount-%'
UNION
SELECT i.id, ra.id FROM items i, result_areas ra
 WHERE i.slug LIKE '%qcount-%' AND i.id % 5 = 0 AND ra.code = '1.2'
ON CONFLICT DO NOTHING;

INSERT INTO item_places (item_id, place_id)
SELECT i.id, p.id FROM items i
  JOIN places p ON p.id = (SELECT array_agg(id ORDER BY id) FROM places)[1 + i.id % (SELECT count(*) FROM places)]
 WHERE i.slug LIKE '%qcount-%'
UNION
SELECT i.id, p.id FROM items i, places p
 WHERE i.slug LIKE '%qcount-%' AND i.id % 7 = 0 AND p.name = 'Guinea-Bissau'
ON CONFLICT DO NOTHING;

INSERT INTO item_organisations (item_id, org_id, role)
SELECT i.id, (SELECT array_agg(id ORDER BY id) FROM organisations)[1 + i.id % (SELECT count(*) FROM organisations)],
       'partner'
  FROM items i WHERE i.slug LIKE '%qcount-%'
ON CONFLICT DO NOTHING;

INSERT INTO contributions (item_id, org_id, amount, currency, status, as_of)
SELECT (SELECT array_agg(id ORDER BY id) FROM items WHERE slug LIKE '%qcount-%')
           [1 + g % (SELECT count(*) FROM items WHERE slug LIKE '%qcount-%')],
       CASE WHEN g % 6 = 0 THEN (SELECT id FROM organisations WHERE slug = 'european-union')
            ELSE (SELECT array_agg(id ORDER BY id) FROM organisations)[1 + g % (SELECT count(*) FROM organisations)] END,
       1000 + (g::bigint * 104729) % 20000,
       CASE WHEN g % 4 = 0 THEN 'EUR' ELSE 'USD' END,
       (ARRAY['pledged','committed','paid'])[1 + g % 3],
       make_date(2008 + g % 4, 1 + g % 12, 1 + g % 28)
  FROM generate_series(1, 4000) g;

ANALYZE;
"#;

/// A title from [`GROW`] that the first page of `/` lists once the app has seen the
/// bigger portfolio.
const GROWN_TITLE: &str = "Qcount drug programme 0001";

/// One reading of this database's statement statistics, keyed by (user, statement, top
/// level): calls and the statement's text.
type Snapshot = HashMap<(i64, i64, bool), (i64, String)>;

/// What one page ran.
#[derive(Debug, Default, Clone)]
struct Count {
    /// Statements (queries, inserts, updates, deletes).
    statements: i64,
    /// Transaction control, settings and the driver's catalog lookups.
    other: i64,
    /// Each statement's text and how often it ran.
    detail: Vec<(i64, String)>,
}

/// Reads `pg_stat_statements` from the `postgres` database for one test database.
struct StatementStats {
    conn: PgConnection,
    database: String,
    /// Measurements repeated because an entry was evicted meanwhile.
    repeated: u32,
}

impl StatementStats {
    /// None when the server has not loaded `pg_stat_statements`.
    async fn connect(test_db_url: &str) -> Option<StatementStats> {
        let options: PgConnectOptions = test_db_url.parse().expect("test database URL");
        let database = options
            .get_database()
            .expect("the URL names the database")
            .to_string();
        let mut conn = PgConnection::connect_with(&options.database("postgres"))
            .await
            .expect("connect to the postgres database");
        let loaded: bool = sqlx::query_scalar(
            "SELECT 'pg_stat_statements' = ANY (
                 string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))",
        )
        .fetch_one(&mut conn)
        .await
        .expect("read shared_preload_libraries");
        if !loaded {
            return None;
        }
        // Only these tests create it, once per cluster; it stays for later runs. Two of
        // them may try at once on a new cluster (IF NOT EXISTS does not settle that race):
        // the one that loses finds it made.
        if let Err(e) = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(&mut conn)
            .await
        {
            let code = e.as_database_error().and_then(|d| d.code());
            assert!(
                matches!(code.as_deref(), Some("23505" | "42710")),
                "CREATE EXTENSION pg_stat_statements: {e}"
            );
        }
        // The statistics outlive the test databases (and are saved across restarts), so a
        // cluster that has run the suite a few times is full of dropped databases' entries
        // and evicts constantly: forget those (never dbid 0: reset(0, 0, 0) is "all").
        sqlx::query(
            "SELECT pg_stat_statements_reset(0, d.dbid, 0)
               FROM (SELECT DISTINCT dbid FROM pg_stat_statements
                      WHERE dbid <> 0 AND dbid NOT IN (SELECT oid FROM pg_database)) d",
        )
        .execute(&mut conn)
        .await
        .expect("forget the statistics of dropped databases");
        Some(StatementStats {
            conn,
            database,
            repeated: 0,
        })
    }

    /// How many entries the statistics have evicted so far (it keeps at most
    /// `pg_stat_statements.max`; the cluster outlives many test databases).
    async fn evictions(&mut self) -> i64 {
        sqlx::query_scalar("SELECT dealloc FROM pg_stat_statements_info")
            .fetch_one(&mut self.conn)
            .await
            .expect("read pg_stat_statements_info")
    }

    async fn snapshot(&mut self) -> Snapshot {
        let rows: Vec<(i64, i64, bool, i64, String)> = sqlx::query_as(
            "SELECT s.userid::int8, s.queryid, s.toplevel, s.calls, coalesce(s.query, '')
               FROM pg_stat_statements(true) s
              WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = $1)",
        )
        .bind(&self.database)
        .fetch_all(&mut self.conn)
        .await
        .expect("read pg_stat_statements");
        rows.into_iter()
            .map(|(user, query_id, top, calls, text)| ((user, query_id, top), (calls, text)))
            .collect()
    }

    async fn total(&mut self) -> i64 {
        self.snapshot().await.values().map(|(calls, _)| calls).sum()
    }

    /// Waits until nothing runs in the database: the same total 50 ms apart (a statement
    /// is recorded when it finishes; a response can overtake the bookkeeping by a hair).
    async fn settle(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut last = self.total().await;
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.total().await;
            if now == last || Instant::now() > deadline {
                return;
            }
            last = now;
        }
    }

    /// The statements `get` makes the app run in this database.
    async fn count<F: Future<Output = (u16, String)>>(
        &mut self,
        path: &str,
        get: impl Fn() -> F,
    ) -> Count {
        for _attempt in 0..5 {
            self.settle().await;
            let evicted = self.evictions().await;
            let before = self.snapshot().await;
            let (status, _) = get().await;
            assert_eq!(status, 200, "GET {path}");
            self.settle().await;
            let after = self.snapshot().await;
            if self.evictions().await != evicted || before.keys().any(|k| !after.contains_key(k)) {
                // An entry was evicted between the readings: the difference is not
                // trustworthy. Measure again.
                self.repeated += 1;
                continue;
            }
            return difference(&before, &after);
        }
        panic!("pg_stat_statements kept evicting entries while {path} was measured");
    }
}

fn difference(before: &Snapshot, after: &Snapshot) -> Count {
    let mut count = Count::default();
    for (key, (calls, text)) in after {
        let calls = calls - before.get(key).map_or(0, |(c, _)| *c);
        if calls == 0 {
            continue;
        }
        if is_other(text) {
            count.other += calls;
        } else {
            count.statements += calls;
        }
        count.detail.push((calls, one_line(text)));
    }
    count.detail.sort_by(|a, b| a.1.cmp(&b.1));
    count
}

/// Transaction control, session settings, and the driver's catalog lookups.
fn is_other(text: &str) -> bool {
    let first = text
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(
        first.as_str(),
        "BEGIN"
            | "START"
            | "COMMIT"
            | "END"
            | "ROLLBACK"
            | "ABORT"
            | "SAVEPOINT"
            | "RELEASE"
            | "SET"
            | "RESET"
            | "SHOW"
            | "DISCARD"
            | "DEALLOCATE"
    ) || text.contains("pg_catalog.")
}

fn one_line(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(110) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line,
    }
}

/// Who requests a page.
enum Reader<'a> {
    Anonymous(&'a TestApp),
    Staff(&'a Session),
}

impl Reader<'_> {
    async fn get(&self, path: &str) -> (u16, String) {
        match self {
            Reader::Anonymous(app) => app.get(path).await,
            Reader::Staff(session) => session.get(path).await,
        }
    }

    fn label(&self, path: &str) -> String {
        match self {
            Reader::Anonymous(_) => path.to_string(),
            Reader::Staff(_) => format!("{path} (staff)"),
        }
    }
}

/// Requests each page twice (pool connections, statement caches and the app's portfolio
/// cache exist afterwards), then counts each page's statements.
async fn measure(
    stats: &mut StatementStats,
    readers: &[(Reader<'_>, &[&str])],
) -> Vec<(String, Count)> {
    for (reader, pages) in readers {
        for _ in 0..2 {
            for path in *pages {
                let (status, _) = reader.get(path).await;
                assert_eq!(status, 200, "warming up: GET {path}");
            }
        }
    }
    let mut counts = Vec::new();
    for (reader, pages) in readers {
        for path in *pages {
            let count = stats.count(path, || reader.get(path)).await;
            counts.push((reader.label(path), count));
        }
    }
    counts
}

/// Waits (up to 10 s) until `/` lists an item of the bigger portfolio: the app's cache
/// may rebuild in the background when the revision moves.
async fn wait_for_grown_portfolio(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, page) = app.page("/").await;
        assert_eq!(status, 200);
        let titles = page.texts("table.portfolio tbody > tr > th[scope=\"row\"] > a");
        if titles.iter().any(|t| t == GROWN_TITLE) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after 10 s / still does not list {GROWN_TITLE}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn statements_label(count: &Count) -> String {
    match count.other {
        0 => count.statements.to_string(),
        other => format!("{} (+{other} other)", count.statements),
    }
}

fn table(small: &[(String, Count)], big: &[(String, Count)]) -> String {
    let small: HashMap<&str, &Count> = small.iter().map(|(p, c)| (p.as_str(), c)).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "SQL statements per page (pg_stat_statements), seeded report vs ~1,100 more items:"
    );
    let _ = writeln!(out, "{:<42} {:>20} {:>20}", "page", "small", "big");
    for (page, count) in big {
        let small = match small.get(page.as_str()) {
            Some(c) => statements_label(c),
            None => format!("(/: {})", statements_label(small["/"])),
        };
        let _ = writeln!(
            out,
            "{page:<42} {small:>20} {:>20}",
            statements_label(count)
        );
    }
    out
}

fn details(label: &str, count: &Count) -> String {
    let mut out = format!("  {label}:\n");
    for (calls, text) in &count.detail {
        let _ = writeln!(out, "    {calls} × {text}");
    }
    out
}

#[tokio::test]
async fn no_page_runs_more_statements_for_a_bigger_portfolio() {
    let app = TestApp::spawn_public().await;
    let Some(mut stats) = StatementStats::connect(&app.db.owner_url).await else {
        let message = "pg_stat_statements is not loaded by the test cluster (the server has \
                       no contrib modules?): statements per page were not counted";
        if std::env::var_os("PT_REQUIRE_PG_STAT_STATEMENTS").is_some() {
            panic!("{message}, and PT_REQUIRE_PG_STAT_STATEMENTS is set");
        }
        eprintln!("SKIPPED: {message}");
        return;
    };
    let staff = app.signed_in(Role::Staff).await;
    let readers = [
        (Reader::Anonymous(&app), ANONYMOUS_PAGES),
        (Reader::Staff(&staff), STAFF_PAGES),
    ];

    let small = measure(&mut stats, &readers).await;

    sqlx::raw_sql(GROW)
        .execute(&app.db.pool)
        .await
        .expect("grow the portfolio");
    wait_for_grown_portfolio(&app).await;
    let second_page: &[&str] = &[SECOND_PAGE];
    let big_readers = [
        (Reader::Anonymous(&app), ANONYMOUS_PAGES),
        (Reader::Anonymous(&app), second_page),
        (Reader::Staff(&staff), STAFF_PAGES),
    ];
    let big = measure(&mut stats, &big_readers).await;

    let mut report = table(&small, &big);
    if stats.repeated > 0 {
        let _ = writeln!(
            report,
            "({} measurements repeated: pg_stat_statements evicted entries meanwhile)",
            stats.repeated
        );
    }
    report.push_str("\nStatements per page (calls × normalised text), bigger portfolio:\n");
    for (page, count) in &big {
        report.push_str(&details(page, count));
    }
    println!("{report}");
    // Also kept on disk, for a look without --nocapture.
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("query-counts.txt"),
        &report,
    );

    let small_by_page: HashMap<&str, &Count> = small.iter().map(|(p, c)| (p.as_str(), c)).collect();
    let mut problems = String::new();
    for (page, count) in &big {
        let baseline = if page == SECOND_PAGE {
            small_by_page["/"]
        } else {
            small_by_page[page.as_str()]
        };
        if count.statements > baseline.statements || count.other > baseline.other {
            let _ = writeln!(
                problems,
                "{page}: {} statements (+{} other) for the bigger portfolio, {} (+{}) for the seeded one",
                count.statements, count.other, baseline.statements, baseline.other
            );
            problems.push_str(&details("small", baseline));
            problems.push_str(&details("big", count));
        }
    }
    for (page, count) in small.iter().chain(&big) {
        let limit = if page.ends_with("(staff)") {
            MAX_SIGNED_IN
        } else {
            MAX_ANONYMOUS
        };
        if count.statements > limit {
            let _ = writeln!(
                problems,
                "{page}: {} statements, more than {limit}",
                count.statements
            );
            problems.push_str(&details("ran", count));
        }
    }
    assert!(problems.is_empty(), "{problems}\n{report}");
}

/// The statistics of this app's database, or None (the test is skipped) when the cluster
/// has not loaded `pg_stat_statements` and `PT_REQUIRE_PG_STAT_STATEMENTS` is not set.
async fn stats_or_skip(app: &TestApp) -> Option<StatementStats> {
    let stats = StatementStats::connect(&app.db.owner_url).await;
    if stats.is_none() {
        assert!(
            std::env::var_os("PT_REQUIRE_PG_STAT_STATEMENTS").is_none(),
            "pg_stat_statements is not loaded, and PT_REQUIRE_PG_STAT_STATEMENTS is set"
        );
        eprintln!("SKIPPED: pg_stat_statements is not loaded by the test cluster");
    }
    stats
}

/// The stylesheet and the liveness check never look up a session, even with a cookie.
#[tokio::test]
async fn assets_and_liveness_run_no_statement_even_signed_in() {
    let app = TestApp::spawn().await;
    let Some(mut stats) = stats_or_skip(&app).await else {
        return;
    };
    let staff = app.signed_in(Role::Staff).await;
    for path in ["/static/style.css", "/favicon.ico", "/healthz"] {
        assert_eq!(staff.get(path).await.0, 200, "GET {path}");
        let count = stats.count(path, || staff.get(path)).await;
        assert_eq!(
            (count.statements, count.other),
            (0, 0),
            "{}",
            details(path, &count)
        );
    }
    // where it is needed, the same session is looked up
    let count = stats.count("/", || staff.get("/")).await;
    assert!(
        count
            .detail
            .iter()
            .any(|(_, text)| text.contains("sessions")),
        "{}",
        details("/", &count)
    );
}

/// Pages of `/activity`: unfiltered, by item (one more statement: the item the filter
/// names), and a later page of one record type.
const ACTIVITY_PAGES: &[&str] = &[
    "/activity",
    "/activity?item=guinea-bissau",
    "/activity?type=theme&page=2",
];

/// The session, the accounts of the person menu, one page of changes, and the item a
/// filter names.
const MAX_ACTIVITY: i64 = 4;

/// A longer audit trail: 3,000 more changes, a third of them to Guinea-Bissau, and 3,000
/// failed sign-ins (which the page leaves out).
const GROW_TRAIL: &str = r#"
INSERT INTO audit_log (at, actor_email, action, entity, entity_id, item_id, summary)
SELECT now() - g * interval '1 minute', 'qcount@example.org', 'update',
       (ARRAY['item', 'theme', 'budget'])[1 + g % 3],
       CASE WHEN g % 3 = 0 THEN (SELECT id FROM items WHERE slug = 'guinea-bissau') END,
       CASE WHEN g % 3 <> 1 THEN (SELECT id FROM items WHERE slug = 'guinea-bissau') END,
       'Query count change ' || g
  FROM generate_series(1, 3000) g;
INSERT INTO audit_log (actor_email, action, entity, summary)
SELECT 'junk-' || g || '@example.org', 'login_failure', 'session', ''
  FROM generate_series(1, 3000) g;
ANALYZE audit_log;
"#;

/// `/activity` runs as many statements for a long audit trail as for a short one.
#[tokio::test]
async fn the_activity_page_runs_as_many_statements_for_a_longer_trail() {
    let app = TestApp::spawn().await;
    let Some(mut stats) = stats_or_skip(&app).await else {
        return;
    };
    let staff = app.signed_in(Role::Staff).await;
    let readers = [(Reader::Staff(&staff), ACTIVITY_PAGES)];
    let small = measure(&mut stats, &readers).await;
    // as the owner: only it may ANALYZE
    sqlx::raw_sql(GROW_TRAIL)
        .execute(&app.db.owner)
        .await
        .expect("lengthen the audit trail");
    let big = measure(&mut stats, &readers).await;
    let report = table(&small, &big);
    for ((page, before), (_, after)) in small.iter().zip(&big) {
        assert!(
            after.statements <= before.statements && after.statements <= MAX_ACTIVITY,
            "{page}: {} statements for the long trail, {} for the short one\n{}{}{report}",
            after.statements,
            before.statements,
            details("short", before),
            details("long", after)
        );
    }
}
