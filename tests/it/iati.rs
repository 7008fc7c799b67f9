//! IATI 2.03 publishing: the seed and a generated portfolio validate against the official
//! schema (tests/fixtures/iati-2.03), and a few IATI ruleset checks hold.

use crate::harness::{DbUrls, TestApp, fresh_db};
use std::collections::HashSet;
use std::process::Command;

fn export(urls: &DbUrls) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_portfolio-tracker"))
        .envs(urls.env())
        .env("RUST_LOG", "warn")
        .arg("export-iati")
        .output()
        .expect("run the binary");
    assert!(
        out.status.success(),
        "export-iati failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// `xmllint --noout --schema` against the committed copy of the official schema.
fn validate(xml: &str, name: &str) {
    let schema = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/iati-2.03/iati-activities-schema.xsd"
    );
    let file = std::env::temp_dir().join(format!("{name}-{}.xml", std::process::id()));
    std::fs::write(&file, xml).expect("write the XML");
    let out = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema", schema])
        .arg(&file)
        .output()
        .expect("xmllint must be installed (apt-get install libxml2-utils)");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "{name} does not validate: {}",
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Every value of `attr` on `<tag ...>` elements inside `chunk`.
fn attrs<'a>(chunk: &'a str, tag: &str, attr: &str) -> Vec<&'a str> {
    let open = format!("<{tag} ");
    let key = format!("{attr}=\"");
    chunk
        .match_indices(&open)
        .filter_map(|(at, _)| {
            let rest = &chunk[at..];
            let el = &rest[..rest.find('>').unwrap_or(rest.len())];
            let v = &el[el.find(&key)? + key.len()..];
            Some(&v[..v.find('"')?])
        })
        .collect()
}

/// The ruleset checks: dates, budget periods, transaction dates, related activities.
fn check_rules(xml: &str) {
    let today = chrono::Utc::now().date_naive().to_string();
    let ids: HashSet<&str> = xml
        .split("<iati-identifier>")
        .skip(1)
        .map(|s| &s[..s.find('<').unwrap()])
        .collect();
    assert!(!ids.is_empty());
    for activity in xml.split("<iati-activity ").skip(1) {
        let dates = attrs(activity, "activity-date", "iso-date");
        let types = attrs(activity, "activity-date", "type");
        let start = types
            .iter()
            .zip(&dates)
            .filter(|(t, _)| matches!(**t, "1" | "2"))
            .map(|(_, d)| *d)
            .min();
        let end = types
            .iter()
            .zip(&dates)
            .filter(|(t, _)| matches!(**t, "3" | "4"))
            .map(|(_, d)| *d)
            .max();
        if let (Some(s), Some(e)) = (start, end) {
            assert!(s <= e, "start {s} after end {e} in {activity:.200}");
        }
        for (t, d) in types.iter().zip(&dates) {
            if matches!(*t, "2" | "4") {
                assert!(*d <= today.as_str(), "actual date {d} in the future");
            }
        }
        // budget periods only: a result's period (a target's) may span its biennium
        let budgets_part = activity.split("<result ").next().unwrap_or(activity);
        let starts = attrs(budgets_part, "period-start", "iso-date");
        let ends = attrs(budgets_part, "period-end", "iso-date");
        for (ps, pe) in attrs(activity, "period-start", "iso-date")
            .iter()
            .zip(&attrs(activity, "period-end", "iso-date"))
        {
            assert!(ps <= pe, "period {ps}..{pe} ends before it starts");
        }
        assert_eq!(starts.len(), ends.len());
        for (ps, pe) in starts.iter().zip(&ends) {
            let a: chrono::NaiveDate = ps.parse().unwrap();
            let b: chrono::NaiveDate = pe.parse().unwrap();
            assert!(
                a <= b && (b - a).num_days() <= 365,
                "budget period {ps}..{pe}"
            );
            if let Some(s) = start {
                assert!(*ps >= s, "budget starts {ps} before the activity {s}");
            }
            if let Some(e) = end {
                assert!(*pe <= e, "budget ends {pe} after the activity {e}");
            }
        }
        for d in attrs(activity, "transaction-date", "iso-date") {
            assert!(d <= today.as_str(), "transaction date {d} in the future");
        }
        for r in attrs(activity, "related-activity", "ref") {
            assert!(ids.contains(r), "related activity {r} is not in the file");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn iati_seed_validates_and_leaves_drafts_out() {
    let db = fresh_db().await;
    sqlx::raw_sql(
        "INSERT INTO items (slug, title, kind, status, published, internal_notes)
              VALUES ('iati-draft-item', 'A draft for IATI', 'programme', 'ongoing', false,
                      'secret internal note');",
    )
    .execute(&db.pool)
    .await
    .expect("a draft");
    let xml = export(&db.urls());
    assert!(xml.contains("<iati-activities version=\"2.03\" generated-datetime=\""));
    assert!(xml.contains("XM-DAC-41123-"));
    assert!(!xml.contains("iati-draft-item"), "a draft was published");
    assert!(!xml.contains("secret internal note"));
    assert!(xml.contains("<transaction>"));
    assert!(xml.contains("<budget "));
    // countries by their stored ISO code (all 41 country links of the seed have one), the
    // seed's regions in the publisher's own vocabulary
    let compact: String = xml.lines().map(str::trim).collect();
    assert!(compact.contains("<recipient-country code=\"AF\"><narrative>Afghanistan</narrative>"));
    assert!(compact.contains("<recipient-country code=\"ZA\"><narrative>South Africa</narrative>"));
    assert!(compact.contains(
        "<recipient-region code=\"central-asia\" vocabulary=\"99\"><narrative>Central Asia</narrative>"
    ));
    assert_eq!(xml.matches("<recipient-country ").count(), 41);
    // targets as results: StAR's "at least five developing countries in the current
    // biennium" (para. 60), and the Rainbow Strategy's 4 of 7 action plans completed
    assert!(compact.contains(
        "<period><period-start iso-date=\"2008-01-01\"/><period-end iso-date=\"2009-12-31\"/><target value=\"5\"/></period>"
    ), "the StAR target as a result period");
    assert!(
        compact.contains("<target value=\"7\"/><actual value=\"4\"/>"),
        "progress as the actual"
    );
    validate(&xml, "iati-seed");
    check_rules(&xml);
}

#[tokio::test(flavor = "multi_thread")]
async fn iati_generated_5000_item_portfolio_validates() {
    let db = fresh_db().await;
    let urls = db.urls();
    let out = Command::new(env!("CARGO_BIN_EXE_portfolio-tracker"))
        .envs(urls.env())
        .env("RUST_LOG", "warn")
        .args([
            "generate",
            "--items",
            "5000",
            "--contributions",
            "50000",
            "--seed",
            "7",
        ])
        .output()
        .expect("run the binary");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = export(&urls);
    let published: i64 =
        sqlx::query_scalar("SELECT count(*) FROM items WHERE published AND archived_at IS NULL")
            .fetch_one(&db.pool)
            .await
            .expect("count published items");
    assert!(
        published > 4000,
        "most generated items are published: {published}"
    );
    assert_eq!(
        xml.matches("<iati-activity ").count() as i64,
        published,
        "one activity per published item"
    );
    eprintln!(
        "iati-generated: {published} activities, {} transactions, {} bytes",
        xml.matches("<transaction>").count(),
        xml.len()
    );
    validate(&xml, "iati-generated");
    check_rules(&xml);
}

#[tokio::test(flavor = "multi_thread")]
async fn iati_route_streams_the_published_portfolio() {
    let app = TestApp::spawn_public().await;
    let (status, body) = app.get("/iati/activities.xml").await;
    assert_eq!(status, 200);
    assert!(body.trim_end().ends_with("</iati-activities>"));
    validate(&body, "iati-route");
    check_rules(&body);
}

/// The route's file is kept with the data's revision: after a change, the next request
/// has it.
#[tokio::test(flavor = "multi_thread")]
async fn iati_route_file_goes_with_its_revision() {
    let app = TestApp::spawn_public().await;
    let eu = |amount: &str| {
        format!("<value currency=\"EUR\" value-date=\"2008-02-07\">{amount}</value>")
    };
    let (_, before) = app.get("/iati/activities.xml").await;
    assert!(
        before.contains(&eu("18000000")),
        "the EU's commitment is published"
    );
    let (_, again) = app.get("/iati/activities.xml").await;
    assert_eq!(before, again, "the same file, from memory");
    sqlx::query(
        "UPDATE contributions SET amount = 20000000 \
         WHERE seed_key = 'victim-empowerment-south-africa/eu-commitment'",
    )
    .execute(&app.db.pool)
    .await
    .expect("update the EU's commitment");
    app.dashboards_rebuilt().await;
    let (_, after) = app.get("/iati/activities.xml").await;
    assert!(
        after.contains(&eu("20000000")),
        "no file of an earlier revision"
    );
    assert!(!after.contains(&eu("18000000")));
}

#[tokio::test(flavor = "multi_thread")]
async fn iati_reporting_organisation_and_base_url_are_settings() {
    let db = fresh_db().await;
    let out = Command::new(env!("CARGO_BIN_EXE_portfolio-tracker"))
        .envs(db.urls().env())
        .env("RUST_LOG", "warn")
        .env("IATI_ORGANISATION_REF", "XM-TEST-7")
        .env("IATI_ORGANISATION_NAME", "Test Office")
        .args([
            "--public-base-url",
            "https://portfolio.example.org/",
            "export-iati",
        ])
        .output()
        .expect("run the binary");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(xml.contains("<iati-identifier>XM-TEST-7-treatment-rehabilitation</iati-identifier>"));
    assert!(xml.contains("<reporting-org ref=\"XM-TEST-7\" type=\"40\">"));
    assert!(xml.contains("<narrative>Test Office</narrative>"));
    assert!(xml.contains("vocabulary-uri=\"https://portfolio.example.org/result-areas\""));
    assert!(!xml.contains("XM-DAC-41123"));
}
