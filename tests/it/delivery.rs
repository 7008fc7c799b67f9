//! Delivery (issue 12): dates keep the precision the report gives; the report's
//! milestones and targets are seeded with their paragraphs; staff record progress and
//! mark milestones done through the save pipeline (audit, 422, 409); admins create and
//! edit them; the overview's lists and the timeline depend on a fixed "today".

use crate::harness::{Page, Session, TestApp};
use chrono::NaiveDate;
use portfolio_tracker::config::WebSettings;
use portfolio_tracker::domain::auth::Role;

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a date")
}

async fn app_on(today: &str) -> TestApp {
    TestApp::spawn_with(WebSettings {
        today: Some(day(today)),
        public_read: true,
        ..WebSettings::default()
    })
    .await
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&app.db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn target_id(app: &TestApp, key: &str) -> i64 {
    scalar(
        app,
        &format!("SELECT id FROM targets WHERE seed_key = '{key}'"),
    )
    .await
}

async fn milestone_id(app: &TestApp, key: &str) -> i64 {
    scalar(
        app,
        &format!("SELECT id FROM milestones WHERE seed_key = '{key}'"),
    )
    .await
}

/// The value of a form's hidden `version` field.
fn version_in(body: &str) -> String {
    Page::parse(body)
        .attr("input[name=\"version\"]", "value")
        .expect("a version field")
}

#[tokio::test]
async fn seeded_dates_are_no_more_precise_than_the_report() {
    let app = TestApp::spawn_public().await;
    let precision = |slug: &'static str| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query_as::<_, (Option<NaiveDate>, String)>(
                "SELECT start_date, start_precision FROM items WHERE slug = $1",
            )
            .bind(slug)
            .fetch_one(&pool)
            .await
            .expect("a seeded item")
        }
    };
    // "In 2008, UNODC will launch" (SMART): a year, not 1 January
    assert_eq!(
        precision("smart").await,
        (Some(day("2008-01-01")), "year".into())
    );
    // "launched in November 2007" (TARCET): a month
    assert_eq!(
        precision("rainbow-tarcet").await,
        (Some(day("2007-11-01")), "month".into())
    );
    // "Since 2005 … have sought technical advice" dates requests, not a start
    assert_eq!(precision("gulf-states").await.0, None);
    // the Vienna Forum, 13-15 February 2008: days
    assert_eq!(precision("un-gift-vienna-forum").await.1, "day");

    let (status, body) = app.get("/programmes/smart").await;
    assert_eq!(status, 200);
    let facts = Page::parse(&body).text_of(".facts");
    assert!(facts.contains("2008"), "{facts}");
    assert!(
        !facts.contains("1 January 2008"),
        "no invented day: {facts}"
    );

    let (status, body) = app.get("/api/v1/items/smart").await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["start_date"]["precision"], "year", "{json}");
    assert_eq!(json["start_date"]["first_day"], "2008-01-01");
    assert_eq!(json["start_date"]["last_day"], "2008-12-31");
}

#[tokio::test]
async fn the_reports_milestones_and_targets_are_seeded_with_their_paragraphs() {
    let app = TestApp::spawn_public().await;
    let (milestones, without_para) = (
        scalar(&app, "SELECT count(*) FROM milestones").await,
        scalar(
            &app,
            "SELECT count(*) FROM milestones WHERE source_para IS NULL",
        )
        .await,
    );
    assert!(
        milestones >= 30,
        "the report's dated commitments: {milestones}"
    );
    assert_eq!(without_para, 0, "each with its paragraph");
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM targets WHERE source_para IS NULL"
        )
        .await,
        0
    );
    let (status, body) = app
        .get("/programmes/paris-pact-east-africa-consultation")
        .await;
    assert_eq!(status, 200);
    let page = Page::parse(&body);
    let row = page.text_of("#delivery-heading ~ div table tbody tr");
    assert!(row.contains("Q3 2008") && row.contains("para. 54"), "{row}");
    // the API gives each milestone's period, precision and paragraph, and targets with
    // their progress (none recorded is null, not zero)
    let (_, body) = app
        .get("/api/v1/items/paris-pact-east-africa-consultation")
        .await;
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let due = &json["milestones"][0]["due"];
    assert_eq!(
        (due["code"].as_str(), due["precision"].as_str()),
        (Some("2008-Q3"), Some("quarter")),
        "{json}"
    );
    assert_eq!(due["last_day"], "2008-09-30");
    assert_eq!(json["milestones"][0]["source_para"], "para. 54");
    let (_, body) = app
        .get("/api/v1/items/paris-pact-expert-consultations-2008")
        .await;
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["targets"][0]["target"], "3", "{json}");
    assert!(json["targets"][0]["current"].is_null(), "{json}");
    // nothing the report reports as done is planned, and the reverse
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM milestones WHERE status = 'done'
               AND partial_date_last_day(due_on, due_precision) > '2008-02-07'"
        )
        .await,
        0,
        "done only when the report (7 February 2008) says so"
    );
}

#[tokio::test]
async fn staff_record_three_of_three_consultations_and_see_the_bar_and_history_change() {
    let app = app_on("2008-12-20").await;
    let staff = app.signed_in(Role::Staff).await;
    let id = target_id(
        &app,
        "paris-pact-expert-consultations-2008/consultations-held",
    )
    .await;
    let item = "/programmes/paris-pact-expert-consultations-2008";
    let (_, before) = staff.get(item).await;
    assert!(
        before.contains("target 3 expert consultations held"),
        "no progress yet"
    );

    let (status, form) = staff.get(&format!("/targets/{id}/progress")).await;
    assert_eq!(status, 200);
    let version = version_in(&form);
    for (value, note) in [("1", "Black Sea meeting held"), ("3", "all three held")] {
        let (_, form) = staff.get(&format!("/targets/{id}/progress")).await;
        let (status, location, body) = staff
            .post(
                &format!("/targets/{id}/progress"),
                &[
                    ("value", value),
                    ("recorded_on", "2008-12-19"),
                    ("note", note),
                    ("version", &version_in(&form)),
                ],
            )
            .await;
        assert_eq!(status, 303, "{body}");
        assert!(location.starts_with(item), "{location}");
    }
    let (_, after) = staff.get(item).await;
    let page = Page::parse(&after);
    assert!(
        page.text_of("li.target")
            .contains("3 of 3 expert consultations held"),
        "{}",
        page.text_of("li.target")
    );
    assert_eq!(
        page.attr("li.target svg.bar", "aria-label").as_deref(),
        Some("100% of the target reached")
    );
    let history = page.texts("li.target details li");
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(
        history[0].contains("all three held"),
        "newest first: {history:?}"
    );

    // the first form's version is stale now: a conflict, nothing saved
    let (status, _, body) = staff
        .post(
            &format!("/targets/{id}/progress"),
            &[
                ("value", "2"),
                ("recorded_on", "2008-12-19"),
                ("version", &version),
            ],
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("current value is now 3 of 3"), "{body}");
    assert!(body.contains("value=\"2\""), "what was typed is kept");
    // a value that does not read: 422 with the message, nothing saved
    let (_, form) = staff.get(&format!("/targets/{id}/progress")).await;
    let (status, _, body) = staff
        .post(
            &format!("/targets/{id}/progress"),
            &[
                ("value", "three"),
                ("recorded_on", "2008-12-19"),
                ("version", &version_in(&form)),
            ],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("value=\"three\""), "what was typed is kept");
    assert_eq!(
        scalar(
            &app,
            &format!("SELECT count(*) FROM target_updates WHERE target_id = {id}")
        )
        .await,
        2
    );
    assert_eq!(
        scalar(
            &app,
            &format!("SELECT count(*) FROM audit_log WHERE entity = 'target' AND entity_id = {id}")
        )
        .await,
        2,
        "each recording audited"
    );
}

#[tokio::test]
async fn delegates_cannot_record_progress_or_mark_milestones_done() {
    let app = TestApp::spawn().await;
    let viewer = app.signed_in(Role::Viewer).await;
    let id = target_id(
        &app,
        "paris-pact-expert-consultations-2008/consultations-held",
    )
    .await;
    let (status, _, _) = viewer
        .post(
            &format!("/targets/{id}/progress"),
            &[("value", "3"), ("version", "1")],
        )
        .await;
    assert_eq!(status, 403);
    let (_, body) = viewer
        .get("/programmes/paris-pact-expert-consultations-2008")
        .await;
    assert!(
        !body.contains("Record progress"),
        "no staff action for delegates"
    );
}

#[tokio::test]
async fn the_overdue_and_due_soon_lists_follow_the_day_fixed_for_the_test() {
    let on_report_date = app_on("2008-02-07").await;
    let staff = on_report_date.signed_in(Role::Staff).await;
    let (_, body) = staff.get("/").await;
    let page = Page::parse(&body);
    assert!(page.text_of("#watch-heading").contains("7 February 2008"));
    let overdue = watch_list(&page, "watch-overdue");
    assert!(
        overdue.is_empty(),
        "nothing is late on the report's date: {overdue:?}"
    );
    let due = watch_list(&page, "watch-due");
    assert!(
        due.iter()
            .any(|r| r.contains("Vienna Forum") || r.contains("13 February 2008")),
        "the Vienna Forum is due within 90 days: {due:?}"
    );

    let in_october = app_on("2008-10-15").await;
    let staff: Session = in_october.signed_in(Role::Staff).await;
    let (_, body) = staff.get("/").await;
    let page = Page::parse(&body);
    let overdue = watch_list(&page, "watch-overdue");
    assert!(
        overdue
            .iter()
            .any(|r| r.starts_with("Q3 2008") && r.contains("East Africa")),
        "the Q3 2008 Kenya meeting is overdue from 1 October: {overdue:?}"
    );
    assert!(
        !overdue.iter().any(|r| r.starts_with("Q4 2008")),
        "Q4 2008 is not over yet: {overdue:?}"
    );
    let due = watch_list(&page, "watch-due");
    assert!(due.iter().any(|r| r.starts_with("Q4 2008")), "{due:?}");

    // delegates do not get the staff lists
    let (_, body) = in_october.get("/").await;
    assert!(!body.contains("watch-heading"));
}

fn watch_list(page: &Page, id: &str) -> Vec<String> {
    page.texts(&format!("ul[aria-labelledby=\"{id}\"] li"))
}

#[tokio::test]
async fn staff_mark_a_milestone_done_and_a_stale_form_is_a_conflict() {
    let app = app_on("2008-10-20").await;
    let staff = app.signed_in(Role::Staff).await;
    let id = milestone_id(&app, "paris-pact-east-africa-consultation/held").await;
    let (status, form) = staff.get(&format!("/milestones/{id}/done")).await;
    assert_eq!(status, 200);
    let version = version_in(&form);
    let (status, _, body) = staff
        .post(
            &format!("/milestones/{id}/done"),
            &[("done_on", "2008-11"), ("version", &version)],
        )
        .await;
    assert_eq!(status, 422, "November is after the fixed today: {body}");
    let (status, location, body) = staff
        .post(
            &format!("/milestones/{id}/done"),
            &[("done_on", "2008-09"), ("version", &version)],
        )
        .await;
    assert_eq!(status, 303, "{body}");
    let (_, page) = staff.get(&location).await;
    assert!(
        page.contains("Done (September 2008)"),
        "shown with its precision"
    );
    assert!(page.contains("The milestone is marked done."));
    let (status, _, _) = staff
        .post(
            &format!("/milestones/{id}/done"),
            &[("done_on", "2008-09"), ("version", &version)],
        )
        .await;
    assert_eq!(status, 409, "the version moved on");
}

#[tokio::test]
async fn admins_add_a_milestone_with_a_precise_due_date_and_bad_dates_are_named() {
    let app = app_on("2008-10-20").await;
    let admin = app.signed_in(Role::Admin).await;
    let item = scalar(&app, "SELECT id FROM items WHERE slug = 'smart'").await;
    let action = format!("/admin/items/{item}/milestones");
    let (status, _, body) = admin
        .post(
            &action,
            &[
                ("title", "Regional workshop"),
                ("due", "2009-Q5"),
                ("status", "planned"),
                ("version", "0"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("2008-Q3 (a quarter)"),
        "the message says the forms: {body}"
    );
    assert!(
        body.contains("value=\"Regional workshop\""),
        "what was typed is kept"
    );
    let (status, _, body) = admin
        .post(
            &action,
            &[
                ("title", "Regional workshop"),
                ("due", "2009-H1"),
                ("status", "planned"),
                ("source_para", "para. 40"),
                ("version", "0"),
            ],
        )
        .await;
    assert_eq!(status, 303, "{body}");
    let (_, page) = admin.get("/programmes/smart").await;
    assert!(page.contains("H1 2009"), "shown as written");
    let (status, body) = admin.get("/timeline?result_area=").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("Regional workshop: due H1 2009"),
        "a mark on the timeline"
    );
    assert!(
        scalar(
            &app,
            "SELECT count(*) FROM audit_log WHERE entity = 'milestone' AND action = 'create'"
        )
        .await
            >= 1
    );
}

#[tokio::test]
async fn an_items_dates_keep_their_precision_through_the_edit_form() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let id = scalar(&app, "SELECT id FROM items WHERE slug = 'smart'").await;
    let (_, form) = admin.get(&format!("/admin/items/{id}/edit")).await;
    let page = Page::parse(&form);
    assert_eq!(page.attr("#start_date", "value").as_deref(), Some("2008"));
    let mut fields = crate::conformance::form_at(&admin, &format!("/admin/items/{id}/edit")).await;
    fields.set("start_date", "2008-Q2");
    fields.set("end_date", "2009-2011");
    let (status, _, body) =
        crate::conformance::post_form(&admin, &format!("/admin/items/{id}"), &fields).await;
    assert_eq!(status, 422, "2009-2011 is not a biennium: {body}");
    assert!(body.contains("two consecutive years"), "{body}");
    fields.set("end_date", "2010-2011");
    let (status, _, body) =
        crate::conformance::post_form(&admin, &format!("/admin/items/{id}"), &fields).await;
    assert_eq!(status, 303, "{body}");
    let (_, page) = admin.get("/programmes/smart").await;
    assert!(page.contains("Q2 2008 to 2010-2011"), "both kept as typed");
}

#[tokio::test]
async fn the_timeline_draws_marks_as_wide_as_their_precision_with_a_table_beside() {
    let app = app_on("2008-10-15").await;
    let (status, body) = app.get("/timeline").await;
    assert_eq!(status, 200);
    let page = Page::parse(&body);
    assert!(page.has("svg[role=img][aria-labelledby=timeline-caption]"));
    assert!(page.has("line.today"), "today is inside the years shown");
    let width_of = |label_part: &str| -> f64 {
        page.select("rect.mark")
            .into_iter()
            .find(|r| r.text().collect::<String>().contains(label_part))
            .and_then(|r| r.value().attr("width"))
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("a mark for {label_part}"))
    };
    let quarter = width_of("due Q3 2008");
    let year = width_of("Treatment and rehabilitation programme launched");
    assert!(
        (year / quarter - 4.0).abs() < 0.2,
        "a year is four quarters wide: {year} / {quarter}"
    );
    let table = page.text_of("table[aria-labelledby=timeline-table-heading]");
    assert!(
        table.contains("Q3 2008") && table.contains("Overdue"),
        "{table}"
    );
    // filtered like the funding page; an unknown value is a 400, not a 500
    let (status, _) = app.get("/timeline?place=Kenya").await;
    assert_eq!(status, 200);
    let (status, _) = app.get("/timeline?status=bogus").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_database_seeded_with_the_old_invented_days_is_corrected_and_edits_are_kept() {
    let app = TestApp::spawn_public().await;
    // What the seed files before 0013 stored: days the report does not give.
    sqlx::raw_sql(
        "UPDATE items SET start_date = '2008-01-01', start_precision = 'day' WHERE slug = 'smart';
         UPDATE items SET start_date = '2005-01-01', start_precision = 'day' WHERE slug = 'gulf-states';
         UPDATE items SET start_date = '2008-01-01', start_precision = 'day',
                          end_date = '2010-12-31', end_precision = 'day' WHERE slug = 'guinea-bissau';
         -- an admin's own edit since: left alone
         UPDATE items SET start_date = '2008-03-15', start_precision = 'day' WHERE slug = 'un-gift';",
    )
    .execute(&app.db.owner)
    .await
    .expect("the old seeded values");
    sqlx::raw_sql(include_str!(
        "../../migrations/0014_seeded_dates_precision.sql"
    ))
    .execute(&app.db.owner)
    .await
    .expect("the migration runs");
    let dates = |slug: &'static str| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query_as::<_, (Option<NaiveDate>, String, Option<NaiveDate>, String)>(
                "SELECT start_date, start_precision, end_date, end_precision FROM items WHERE slug = $1",
            )
            .bind(slug)
            .fetch_one(&pool)
            .await
            .expect("a seeded item")
        }
    };
    assert_eq!(dates("smart").await.1, "year");
    assert_eq!(
        dates("gulf-states").await.0,
        None,
        "the spurious start is gone"
    );
    let gb = dates("guinea-bissau").await;
    assert_eq!(
        (gb.1.as_str(), gb.2, gb.3.as_str()),
        ("year", Some(day("2010-01-01")), "year")
    );
    assert_eq!(
        dates("un-gift").await,
        (Some(day("2008-03-15")), "day".into(), None, "day".into())
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM audit_log WHERE actor_email = 'migration 0014'"
        )
        .await,
        3,
        "each correction audited"
    );
}

#[tokio::test]
async fn milestones_and_targets_download_as_csv_with_both_ends_of_each_date() {
    let app = TestApp::spawn_public().await;
    let (status, csv) = app.get("/funding.csv?table=milestones&place=Kenya").await;
    assert_eq!(status, 200);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("Item,Milestone,Due,Due from,Due by,Precision,Status,Done on,Source,Note")
    );
    let kenya: Vec<&str> = lines.collect();
    assert!(
        kenya
            .iter()
            .any(|l| l.contains(",Q3 2008,2008-07-01,2008-09-30,quarter,Planned,,para. 54,")),
        "{kenya:?}"
    );
    let (_, csv) = app.get("/funding.csv?table=targets").await;
    let consultations = csv
        .lines()
        .find(|l| l.contains("expert consultations held"))
        .expect("the 2008 consultations target");
    assert!(
        consultations.contains(",3,2008,,,para. 54,"),
        "no progress recorded: the current value is empty, not 0: {consultations}"
    );
    let (status, _) = app.get("/funding.xlsx?table=targets").await;
    assert_eq!(status, 200);
}
