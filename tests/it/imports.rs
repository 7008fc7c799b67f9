//! Spreadsheet import of contributions: the upload, the preview's problems by line and
//! column, the all-or-nothing save in one transaction, malformed files, and the command
//! line.

use crate::harness::{Page, Session, TestApp, TestDb, fresh_db, location};
use portfolio_tracker::config::WebSettings;
use portfolio_tracker::domain::auth::Role;
use std::process::Command;
use std::time::Instant;

const HEADER: &str = "organisation,item,amount,currency,status,date,source,note\n";

/// A file of `rows` contributions of Canada to Guinea-Bissau, each its own amount
/// (1,002 on line 2 and one more on each line), in USD; `bad` replaces the amount of
/// one line.
fn contributions_csv(rows: usize, bad: Option<(usize, &str)>) -> String {
    let mut csv = String::from(HEADER);
    for line in 2..rows + 2 {
        let amount = match bad {
            Some((bad_line, text)) if bad_line == line => text.to_string(),
            _ => (1000 + line).to_string(),
        };
        csv.push_str(&format!(
            "government-of-canada,guinea-bissau,{amount},USD,pledged,2024-03-01,para {line},row {line}\n"
        ));
    }
    csv
}

/// Contributions, audit rows and imports: what a refused import must leave as it was.
async fn counts(db: &TestDb) -> (i64, i64, i64) {
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&db.pool)
            .await
            .expect(sql)
    };
    (
        count("SELECT count(*) FROM contributions").await,
        count("SELECT count(*) FROM audit_log").await,
        count("SELECT count(*) FROM contribution_imports").await,
    )
}

/// A multipart body as a browser sends the upload form: `_csrf` (when given) first.
fn multipart(csrf: Option<&str>, file_name: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----import-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    if let Some(csrf) = csrf {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_upload(
    admin: &Session,
    csrf: Option<&str>,
    name: &str,
    content: &[u8],
) -> reqwest::Response {
    let (content_type, body) = multipart(csrf, name, content);
    admin
        .client
        .post(format!("{}/admin/imports", admin.app_url))
        .header("cookie", &admin.cookie)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("upload")
}

/// Uploads a readable file: the address of its preview.
async fn upload(admin: &Session, name: &str, content: &[u8]) -> String {
    let response = post_upload(admin, Some(&admin.csrf), name, content).await;
    let status = response.status().as_u16();
    let preview = location(&response);
    let body = response.text().await.unwrap_or_default();
    assert_eq!(
        status,
        303,
        "the upload is accepted: {}",
        Page::parse(&body).main_text()
    );
    assert!(preview.starts_with("/admin/imports/uploads/"), "{preview}");
    preview
}

/// Uploads a file the import refuses as a whole: the page's message.
async fn refused_upload(admin: &Session, name: &str, content: &[u8]) -> String {
    let response = post_upload(admin, Some(&admin.csrf), name, content).await;
    assert_eq!(response.status().as_u16(), 422);
    Page::parse(&response.text().await.expect("body")).text_of(".error-summary")
}

/// The problems the preview lists, one per line.
fn problems(page: &Page) -> Vec<String> {
    page.texts("#problems li")
}

#[tokio::test]
async fn a_thousand_rows_with_one_bad_row_save_nothing_and_the_corrected_file_saves_all() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let before = counts(&app.db).await;

    let bad = contributions_csv(1000, Some((537, "12.345")));
    let preview = upload(&admin, "pledges.csv", bad.as_bytes()).await;
    let (status, body) = admin.get(&preview).await;
    assert_eq!(status, 200);
    let page = Page::parse(&body);
    let listed = problems(&page);
    println!("1,000-row file with a bad row: {listed:?}");
    assert_eq!(
        listed,
        ["line 537, column amount: use at most two decimal places"]
    );
    assert_eq!(
        page.text_of("#summary").split('.').next(),
        Some("1000 rows, 1 with problems")
    );
    assert_eq!(
        page.select("td.problem").len(),
        1,
        "the one cell is highlighted"
    );
    assert!(
        !page.has("button[value=save]"),
        "no Save while a row has a problem"
    );
    // pressing Save anyway (a hand-made request) saves nothing either
    let (status, _, _) = admin.post(&preview, &[("action", "save")]).await;
    assert_eq!(status, 422);
    let after_bad = counts(&app.db).await;
    println!(
        "counts (contributions, audit rows, imports) before {before:?}, after the bad file {after_bad:?}"
    );
    assert_eq!(after_bad.0, before.0, "no contribution saved");
    assert_eq!(after_bad.2, before.2, "no import recorded");

    let good = contributions_csv(1000, None);
    let preview = upload(&admin, "pledges-corrected.csv", good.as_bytes()).await;
    let (_, body) = admin.get(&preview).await;
    let page = Page::parse(&body);
    assert!(problems(&page).is_empty(), "{:?}", problems(&page));
    assert_eq!(page.text_of("button[value=save]"), "Save all 1000 rows");
    let started = Instant::now();
    let (status, saved_at, _) = admin.post(&preview, &[("action", "save")]).await;
    let took = started.elapsed();
    println!("saving 1,000 rows (one request, one transaction) took {took:?}");
    assert_eq!(status, 303);
    assert!(saved_at.starts_with("/admin/imports/"), "{saved_at}");

    let after = counts(&app.db).await;
    println!("counts after the corrected file {after:?}");
    assert_eq!(after.0 - after_bad.0, 1000, "every row saved");
    assert_eq!(after.2 - after_bad.2, 1, "one import record");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log a JOIN contributions c ON c.id = a.entity_id
          WHERE a.entity = 'contribution' AND a.action = 'create' AND c.import_id IS NOT NULL",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("audit rows");
    assert_eq!(audited, 1000, "one audit row per contribution");
    assert_eq!(after.1 - after_bad.1, 1000, "and no other audit row");
    let (row_count, file, linked, transactions): (i32, String, i64, i64) = sqlx::query_as(
        "SELECT i.row_count, i.file_name,
                (SELECT count(*) FROM contributions c WHERE c.import_id = i.id),
                (SELECT count(DISTINCT xmin::text) FROM contributions c WHERE c.import_id = i.id)
           FROM contribution_imports i",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("the import");
    assert_eq!(
        (row_count, file.as_str(), linked),
        (1000, "pledges-corrected.csv", 1000)
    );
    assert_eq!(transactions, 1, "all rows written by one transaction");

    // the dashboards count the new pledges: 7,000,000 reported + 1,002 + … + 2,001
    let (_, json) = admin.get("/api/v1/programmes").await;
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let gb = json["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["slug"] == "guinea-bissau"))
        .expect("Guinea-Bissau listed");
    assert_eq!(gb["pledged_usd"], "8501500.00");

    let (status, body) = admin.get(&saved_at).await;
    assert_eq!(status, 200);
    let page = Page::parse(&body);
    assert_eq!(page.select("#rows tbody tr").len(), 1000);
    assert_eq!(page.figure("#import", "Rows"), "1000");
    let (_, list) = admin.get("/admin/imports").await;
    assert!(list.contains("pledges-corrected.csv"));
}

#[tokio::test]
async fn headers_are_matched_in_any_order_and_case() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let csv = "Note,DATE,Status,Currency,Amount,ITEM,Organisation\n\
               first,2024-03-01,Committed,usd,\"2,500.50\",West Africa: Guinea-Bissau,Government of Canada\n";
    let preview = upload(&admin, "mixed.csv", csv.as_bytes()).await;
    let (status, at, _) = admin.post(&preview, &[("action", "save")]).await;
    assert_eq!(status, 303, "saved");
    let (amount, status, note): (String, String, Option<String>) = sqlx::query_as(
        "SELECT amount::text, status::text, note FROM contributions
          WHERE import_id = (SELECT id FROM contribution_imports)",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("the row");
    assert_eq!(
        (amount.as_str(), status.as_str(), note.as_deref()),
        ("2500.50", "committed", Some("first"))
    );
    assert!(at.starts_with("/admin/imports/"));
}

#[tokio::test]
async fn an_unknown_organisation_is_created_when_ticked() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let csv = format!("{HEADER}Friends of Bissau,guinea-bissau,500,USD,pledged,2024-03-01,,\n");
    let preview = upload(&admin, "new-donor.csv", csv.as_bytes()).await;
    let (_, body) = admin.get(&preview).await;
    let page = Page::parse(&body);
    assert_eq!(
        problems(&page),
        [
            "line 2, column organisation: unknown organisation “Friends of Bissau”: use its slug or exact name"
        ]
    );
    assert_eq!(
        page.attrs("input[name=create]", "value"),
        ["Friends of Bissau"]
    );
    // "Check again" with the box ticked: valid, and still nothing saved
    let ticked = [("create", "Friends of Bissau"), ("action", "check")];
    let (status, _, body) = admin.post(&preview, &ticked).await;
    assert_eq!(status, 200);
    assert!(problems(&Page::parse(&body)).is_empty());
    assert!(Page::parse(&body).has("button[value=save]"));
    let orgs = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM organisations WHERE name = 'Friends of Bissau'",
        )
        .fetch_one(&app.db.pool)
        .await
        .expect("count")
    };
    assert_eq!(orgs().await, 0, "checking creates nothing");
    let (status, _, _) = admin
        .post(
            &preview,
            &[("create", "Friends of Bissau"), ("action", "save")],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(orgs().await, 1);
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE entity = 'organisation' AND action = 'create'
            AND summary LIKE '%Friends of Bissau%'",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("audit");
    assert_eq!(audited, 1, "the new organisation is audited");
}

#[tokio::test]
async fn a_duplicate_of_a_saved_contribution_or_of_another_row_is_named() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let csv = format!(
        "{HEADER}government-of-canada,guinea-bissau,700,USD,paid,2024-03-01,,\n\
         government-of-canada,guinea-bissau,700.00,USD,Paid,2024-03-01,,\n"
    );
    let preview = upload(&admin, "twice.csv", csv.as_bytes()).await;
    let (_, body) = admin.get(&preview).await;
    assert_eq!(
        problems(&Page::parse(&body)),
        ["line 3: the same item, organisation, amount, currency, status and date as line 2"]
    );
    let once = format!("{HEADER}government-of-canada,guinea-bissau,700,USD,paid,2024-03-01,,\n");
    let first = upload(&admin, "once.csv", once.as_bytes()).await;
    assert_eq!(admin.post(&first, &[("action", "save")]).await.0, 303);
    let again = upload(&admin, "once-again.csv", once.as_bytes()).await;
    let (_, body) = admin.get(&again).await;
    let listed = problems(&Page::parse(&body));
    assert_eq!(listed.len(), 1);
    assert!(
        listed[0].starts_with("line 2: a contribution with the same item"),
        "{listed:?}"
    );
}

#[tokio::test]
async fn a_file_without_a_required_column_is_refused_and_named() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let before = counts(&app.db).await;
    let csv = "organisation,item,amount,status,date\ngovernment-of-canada,guinea-bissau,5,paid,2024-03-01\n";
    let message = refused_upload(&admin, "short.csv", csv.as_bytes()).await;
    assert!(
        message.contains("the file has no column currency"),
        "{message}"
    );
    assert!(message.contains("Nothing was saved"), "{message}");
    assert_eq!(counts(&app.db).await, before);
}

#[tokio::test]
async fn a_file_not_in_utf8_is_refused_with_how_to_save_it() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let mut latin1 =
        format!("{HEADER}government-of-canada,guinea-bissau,5,USD,paid,2024-03-01,,caf")
            .into_bytes();
    latin1.extend_from_slice(b"\xE9\n");
    let message = refused_upload(&admin, "latin1.csv", &latin1).await;
    assert!(message.contains("not UTF-8"), "{message}");
    assert!(message.contains("line 2"), "{message}");
    assert!(message.contains("CSV UTF-8"), "{message}");
}

/// An XLSX file of one contribution: the date a real date cell, the amount a number;
/// with `formula`, the amount is computed by a formula instead.
fn workbook(formula: bool) -> Vec<u8> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let header = [
        "Item",
        "Organisation",
        "Amount",
        "Currency",
        "Status",
        "Date",
    ];
    for (column, text) in header.iter().enumerate() {
        sheet.write_string(0, column as u16, *text).expect("header");
    }
    sheet.write_string(1, 0, "guinea-bissau").expect("item");
    sheet
        .write_string(1, 1, "Government of Canada")
        .expect("org");
    if formula {
        sheet.write_formula(1, 2, "=1000+234.5").expect("formula");
    } else {
        sheet.write_number(1, 2, 1234.5).expect("amount");
    }
    sheet.write_string(1, 3, "USD").expect("currency");
    sheet.write_string(1, 4, "paid").expect("status");
    let date = ExcelDateTime::from_ymd(2024, 3, 1).expect("date");
    let format = Format::new().set_num_format("yyyy-mm-dd");
    sheet
        .write_datetime_with_format(1, 5, &date, &format)
        .expect("date");
    book.save_to_buffer().expect("xlsx")
}

#[tokio::test]
async fn an_xlsx_file_is_imported() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let preview = upload(&admin, "pledges.xlsx", &workbook(false)).await;
    let (status, _, _) = admin.post(&preview, &[("action", "save")]).await;
    assert_eq!(status, 303);
    let (amount, as_of): (String, String) = sqlx::query_as(
        "SELECT amount::text, as_of::text FROM contributions WHERE import_id IS NOT NULL",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("the row");
    assert_eq!((amount.as_str(), as_of.as_str()), ("1234.50", "2024-03-01"));
}

#[tokio::test]
async fn an_xlsx_file_with_a_formula_is_refused_naming_the_cell() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let before = counts(&app.db).await;
    let message = refused_upload(&admin, "computed.xlsx", &workbook(true)).await;
    assert!(
        message.contains("cell C2 holds a formula (=1000+234.5)"),
        "{message}"
    );
    assert_eq!(counts(&app.db).await, before);
}

#[tokio::test]
async fn an_upload_over_the_limit_is_413_and_saves_nothing() {
    let app = TestApp::spawn_with(WebSettings {
        import_max_bytes: 64 * 1024,
        ..WebSettings::default()
    })
    .await;
    let admin = app.signed_in(Role::Admin).await;
    let before = counts(&app.db).await;
    let big = contributions_csv(2000, None);
    assert!(big.len() > 64 * 1024);
    let response = post_upload(&admin, Some(&admin.csrf), "big.csv", big.as_bytes()).await;
    assert_eq!(response.status().as_u16(), 413);
    let body = response.text().await.expect("body");
    assert!(body.contains("Too much to send"));
    assert_eq!(counts(&app.db).await, before);
    let staged: i64 = sqlx::query_scalar("SELECT count(*) FROM contribution_import_uploads")
        .fetch_one(&app.db.pool)
        .await
        .expect("uploads");
    assert_eq!(staged, 0);
}

#[tokio::test]
async fn an_upload_needs_the_csrf_token_and_an_upload_is_its_uploaders() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let csv = contributions_csv(1, None);
    let response = post_upload(&admin, None, "no-token.csv", csv.as_bytes()).await;
    assert_eq!(response.status().as_u16(), 403);
    let response = post_upload(
        &admin,
        Some("not-the-token"),
        "bad-token.csv",
        csv.as_bytes(),
    )
    .await;
    assert_eq!(response.status().as_u16(), 403);
    let preview = upload(&admin, "mine.csv", csv.as_bytes()).await;
    let other = app.signed_in(Role::Admin).await;
    assert_eq!(other.get(&preview).await.0, 404);
    assert_eq!(other.post(&preview, &[("action", "save")]).await.0, 404);
}

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portfolio-tracker"));
    command
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_OWNER_URL")
        .env("RUST_LOG", "warn");
    command
}

#[tokio::test]
async fn the_command_line_checks_with_dry_run_and_saves_every_row_or_none() {
    let db = fresh_db().await;
    let dir = std::env::temp_dir().join(format!("pt-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("bad.csv");
    let good = dir.join("good.csv");
    std::fs::write(&bad, contributions_csv(1000, Some((537, "lots")))).expect("write");
    std::fs::write(&good, contributions_csv(1000, None)).expect("write");
    let before = counts(&db).await;
    let import = |file: &std::path::Path, dry_run: bool| {
        let mut command = binary();
        command
            .arg("import-contributions")
            .arg(file)
            .envs(db.urls().env());
        if dry_run {
            command.arg("--dry-run");
        }
        command.output().expect("run import-contributions")
    };

    let refused = import(&bad, false);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    println!("import-contributions bad.csv: {stderr}");
    assert!(!refused.status.success());
    assert!(stderr.contains("line 537, column amount: "), "{stderr}");
    assert!(
        stderr.contains("1 of 1000 rows have problems; nothing was saved"),
        "{stderr}"
    );
    assert_eq!(counts(&db).await, before);

    let checked = import(&good, true);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&checked.stdout).trim(),
        "1000 rows checked, no problems; nothing was saved (--dry-run)"
    );
    assert_eq!(counts(&db).await, before, "a dry run saves nothing");

    let started = Instant::now();
    let saved = import(&good, false);
    println!(
        "import-contributions good.csv (1,000 rows) took {:?}",
        started.elapsed()
    );
    let stdout = String::from_utf8_lossy(&saved.stdout);
    assert!(
        saved.status.success(),
        "{}",
        String::from_utf8_lossy(&saved.stderr)
    );
    assert!(
        stdout.starts_with("imported 1000 contributions from good.csv"),
        "{stdout}"
    );
    let after = counts(&db).await;
    assert_eq!(
        (after.0 - before.0, after.1 - before.1, after.2 - before.2),
        (1000, 1000, 1)
    );
    let actor: String = sqlx::query_scalar("SELECT actor_email FROM contribution_imports")
        .fetch_one(&db.pool)
        .await
        .expect("import");
    assert!(actor.starts_with("command line ("), "{actor}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_hundred_megabyte_upload_is_refused_before_it_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let before = counts(&app.db).await;
    // the headers of a 100 MB upload, and none of its body: the answer cannot wait for it
    let mut socket = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let request = format!(
        "POST /admin/imports HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\n\
         Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {}\r\n\r\n",
        app.addr,
        admin.cookie,
        100 * 1024 * 1024
    );
    socket
        .write_all(request.as_bytes())
        .await
        .expect("send headers");
    let mut answer = vec![0; 64 * 1024];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), socket.read(&mut answer))
        .await
        .expect("answered without waiting for the body")
        .expect("read");
    let head = String::from_utf8_lossy(&answer[..read]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert_eq!(counts(&app.db).await, before);
}
