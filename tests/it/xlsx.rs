//! XLSX downloads: the same rows and cells as the CSV beside them, figures as numbers,
//! and the funding status page's view as one workbook with a sheet per table.

use crate::harness::TestApp;
use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use std::io::Cursor;

const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

async fn download(app: &TestApp, path: &str) -> (reqwest::StatusCode, String, Vec<u8>) {
    let r = app.client.get(app.url(path)).send().await.expect("request");
    let status = r.status();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (
        status,
        content_type,
        r.bytes().await.expect("body").to_vec(),
    )
}

/// Every sheet of a workbook: its name and rows.
fn sheets(bytes: Vec<u8>) -> Vec<(String, Vec<Vec<Data>>)> {
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).expect("a workbook");
    book.sheet_names()
        .into_iter()
        .map(|name| {
            let range = book.worksheet_range(&name).expect("a sheet");
            let rows = range.rows().map(<[Data]>::to_vec).collect();
            (name, rows)
        })
        .collect()
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| {
            r.expect("a CSV record")
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

fn csv_header(text: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_string)
        .collect()
}

/// A text or empty sheet cell as the CSV writes it.
fn as_csv_cell(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        other => panic!("unexpected cell {other:?}"),
    }
}

/// Checks that a sheet holds exactly the CSV's header and cells, figures as numbers.
fn assert_sheet_matches_csv(sheet: &[Vec<Data>], csv: &str, what: &str) {
    let header = csv_header(csv);
    let rows = csv_rows(csv);
    let sheet_header: Vec<String> = sheet[0].iter().map(as_csv_cell).collect();
    assert_eq!(sheet_header, header, "{what}: header row");
    assert_eq!(
        sheet.len() - 1,
        rows.len(),
        "{what}: one sheet row per CSV row"
    );
    let mut numbers = 0;
    for (line, (sheet_row, csv_row)) in sheet[1..].iter().zip(&rows).enumerate() {
        for (col, name) in header.iter().enumerate() {
            let cell = sheet_row.get(col).unwrap_or(&Data::Empty);
            let expected = &csv_row[col];
            if matches!(cell, Data::Float(_)) {
                numbers += 1;
            }
            let place = format!("{what}: row {}, column {name}", line + 2);
            match cell {
                // the same figure (the CSV writes "0" or "0.0" for no coverage)
                Data::Float(f) => assert_eq!(Some(*f), expected.parse::<f64>().ok(), "{place}"),
                _ => assert_eq!(&as_csv_cell(cell), expected, "{place}"),
            }
        }
    }
    assert!(
        numbers > 0 || rows.is_empty(),
        "{what}: figures are numbers"
    );
}

#[tokio::test]
async fn funding_workbook_has_a_sheet_per_table_of_the_filtered_view() {
    let app = TestApp::spawn_public().await;
    let filter = "result_area=1.1&sort=gap";
    let (status, content_type, bytes) = download(&app, &format!("/funding.xlsx?{filter}")).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, XLSX_TYPE);
    let book = sheets(bytes);
    let names: Vec<&str> = book.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Programmes and initiatives",
            "Donors",
            "Themes",
            "Result areas",
            "Countries and regions",
            "Bienniums",
            "Contributions"
        ]
    );
    let tables = [
        "programmes",
        "donors",
        "themes",
        "result-areas",
        "places",
        "bienniums",
        "contributions",
    ];
    for ((name, sheet), table) in book.iter().zip(tables) {
        let (status, csv) = app
            .get(&format!("/funding.csv?{filter}&table={table}"))
            .await;
        assert_eq!(status, 200);
        assert_sheet_matches_csv(sheet, &csv, name);
    }
    let (_, unfiltered) = app.get("/funding.csv?table=programmes").await;
    assert!(
        book[0].1.len() - 1 < csv_rows(&unfiltered).len(),
        "the workbook holds the filtered view, not the whole portfolio"
    );
}

#[tokio::test]
async fn every_csv_table_has_an_xlsx_of_the_same_cells() {
    let app = TestApp::spawn_public().await;
    for path in [
        "table=items",
        "table=contributions&organisation=european-union",
        "table=items&place=Guinea-Bissau",
        "table=donors",
    ] {
        let (status, _, bytes) = download(&app, &format!("/funding.xlsx?{path}")).await;
        assert_eq!(status, 200, "{path}");
        let book = sheets(bytes);
        assert_eq!(book.len(), 1, "{path}: one sheet");
        let (_, csv) = app.get(&format!("/funding.csv?{path}")).await;
        assert_sheet_matches_csv(&book[0].1, &csv, path);
    }
}

#[tokio::test]
async fn amounts_are_numbers_with_their_currency_beside_them() {
    let app = TestApp::spawn_public().await;
    let (_, _, bytes) = download(
        &app,
        "/funding.xlsx?table=contributions&organisation=european-union",
    )
    .await;
    let book = sheets(bytes);
    let rows = &book[0].1;
    let column = |name: &str| {
        rows[0]
            .iter()
            .position(|c| *c == Data::String(name.into()))
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (amount, currency) = (column("Amount"), column("Currency"));
    assert_eq!(currency, amount + 1, "the currency is beside the amount");
    assert_eq!(rows[1][amount], Data::Float(18_000_000.0));
    assert_eq!(rows[1][currency], Data::String("EUR".into()));
}

#[tokio::test]
async fn unknown_figures_are_empty_cells_and_unknown_tables_are_refused() {
    let app = TestApp::spawn_public().await;
    let (_, _, bytes) = download(&app, "/funding.xlsx?table=items").await;
    let book = sheets(bytes);
    let rows = &book[0].1;
    let budget = rows[0]
        .iter()
        .position(|c| *c == Data::String("Budget (USD)".into()))
        .expect("a budget column");
    assert!(
        rows[1..]
            .iter()
            .any(|r| r.get(budget).is_none_or(|c| *c == Data::Empty)),
        "a budget the report does not state is an empty cell, never 0"
    );
    let (status, body) = app.get("/funding.xlsx?table=secrets").await;
    assert_eq!(status, 400);
    assert!(body.contains("Unknown table"), "{body}");
}

/// The EU's amount in the contributions sheet of the workbook at `path`.
async fn eu_amount(app: &TestApp, path: &str) -> Data {
    let (status, content_type, bytes) = download(app, path).await;
    assert_eq!((status.as_u16(), content_type.as_str()), (200, XLSX_TYPE));
    let book = sheets(bytes);
    let rows = &book[0].1;
    let column = |name: &str| {
        rows[0]
            .iter()
            .position(|c| *c == Data::String(name.into()))
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (organisation, amount) = (column("Organisation"), column("Amount"));
    rows.iter()
        .find(|r| r[organisation] == Data::String("European Union".into()))
        .map(|r| r[amount].clone())
        .expect("the EU's row")
}

/// Workbooks are kept with the data's revision, filtered or not: once the data changes,
/// the next download has the new figures.
#[tokio::test]
async fn a_kept_workbook_goes_with_its_revision() {
    let app = TestApp::spawn_public().await;
    let paths = [
        "/funding.xlsx?table=contributions",
        "/funding.xlsx?table=contributions&organisation=european-union",
    ];
    for path in paths {
        assert_eq!(eu_amount(&app, path).await, Data::Float(18_000_000.0));
        // again: from memory now
        assert_eq!(eu_amount(&app, path).await, Data::Float(18_000_000.0));
    }
    sqlx::query(
        "UPDATE contributions SET amount = 20000000 \
         WHERE seed_key = 'victim-empowerment-south-africa/eu-commitment'",
    )
    .execute(&app.db.pool)
    .await
    .expect("update the EU's commitment");
    app.dashboards_rebuilt().await;
    for path in paths {
        assert_eq!(
            eu_amount(&app, path).await,
            Data::Float(20_000_000.0),
            "{path}: no workbook of an earlier revision"
        );
    }
}
