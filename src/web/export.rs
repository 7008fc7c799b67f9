//! Downloads of the dashboards' tables, as CSV or XLSX. A CSV is written row by row from
//! a cached snapshot: the response body is a stream of small chunks, so memory stays
//! flat however many rows a table has. A workbook holds the same cells, its figures as
//! numbers.

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use std::sync::Arc;

use crate::web::AppError;
use crate::web::dashboard::Snapshot;

/// Rows per chunk of the response body.
const CHUNK_ROWS: usize = 256;

type CellsFn = Box<dyn Fn(&Snapshot, usize) -> Vec<String> + Send + Sync>;
type RowFn = Box<dyn Fn(&Snapshot, usize, &mut Vec<u8>) + Send + Sync>;

/// A downloadable table: a header, the keys of its rows, and the cells of a key's row.
/// The same table is written as CSV or as a sheet of a workbook.
pub struct Table {
    header: Vec<String>,
    rows: Vec<usize>,
    cells: CellsFn,
    /// CSV lines kept with the revision, when there are any (the CSV then skips `cells`).
    encoded: Option<RowFn>,
}

impl Table {
    pub fn new(
        header: Vec<String>,
        rows: Vec<usize>,
        cells: impl Fn(&Snapshot, usize) -> Vec<String> + Send + Sync + 'static,
    ) -> Table {
        Table {
            header,
            rows,
            cells: Box::new(cells),
            encoded: None,
        }
    }

    /// Writes CSV lines that come already encoded (e.g. kept with the revision); they
    /// must be `csv_line` of the row's `cells`.
    pub fn with_encoded_lines(
        mut self,
        line: impl Fn(&Snapshot, usize, &mut Vec<u8>) + Send + Sync + 'static,
    ) -> Table {
        self.encoded = Some(Box::new(line));
        self
    }

    /// A short table whose lines are ready (a few hundred groups at most).
    pub fn from_lines(header: Vec<String>, lines: Vec<Vec<String>>) -> Table {
        let keys = (0..lines.len()).collect();
        Table::new(header, keys, move |_, i| lines[i].clone())
    }

    /// The CSV line of the row of `key`.
    fn write_csv_line(&self, snapshot: &Snapshot, key: usize, out: &mut Vec<u8>) {
        match &self.encoded {
            Some(line) => line(snapshot, key, out),
            None => out.extend_from_slice(&csv_line((self.cells)(snapshot, key))),
        }
    }
}

/// A spreadsheet reads a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
/// return as a formula; a leading apostrophe keeps it text. Plain numbers (our own
/// figures, which may be negative) are left alone.
fn defuse(cell: String) -> String {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && cell.parse::<rust_decimal::Decimal>().is_err() {
        format!("'{cell}")
    } else {
        cell
    }
}

/// One CSV line (RFC 4180, CRLF), its cells defused.
pub fn csv_line(cells: Vec<String>) -> Bytes {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(256));
    let cells: Vec<String> = cells.into_iter().map(defuse).collect();
    if let Err(e) = out.write_record(&cells) {
        // writing to a Vec cannot fail short of memory; say so rather than panic
        tracing::error!("writing a CSV line: {e}");
    }
    Bytes::from(out.into_inner().unwrap_or_default())
}

/// `200 text/csv` streaming `table` from `snapshot`, offered as a download.
pub fn csv_response(snapshot: Arc<Snapshot>, filename: &str, table: Table) -> Response {
    let first = csv_line(table.header.clone());
    let table = Arc::new(table);
    let chunks = futures_util::stream::unfold(0usize, move |start| {
        let rows = &table.rows;
        let chunk = (start < rows.len()).then(|| {
            let end = (start + CHUNK_ROWS).min(rows.len());
            let mut bytes = Vec::with_capacity(64 * 1024);
            for &key in &rows[start..end] {
                table.write_csv_line(&snapshot, key, &mut bytes);
            }
            (
                Ok::<Bytes, std::convert::Infallible>(Bytes::from(bytes)),
                end,
            )
        });
        async move { chunk }
    });
    // Fused: the compression layer polls the body again after its end, which a bare
    // `unfold` answers with a panic (and the client with a dropped connection).
    let body = futures_util::StreamExt::fuse(futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok(first) }),
        chunks,
    ));
    download("text/csv; charset=utf-8", filename, Body::from_stream(body))
}

const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// `200` with a finished workbook (see [`workbook`]), offered as a download.
pub fn xlsx_response(filename: &str, workbook: Bytes) -> Response {
    download(XLSX_TYPE, filename, Body::from(workbook))
}

/// A workbook of one sheet per `(name, table)`. A workbook is a zip archive, written
/// whole: this takes a while for a long table, so call it off the async threads.
pub fn workbook(snapshot: &Snapshot, sheets: &[(&str, Table)]) -> Result<Bytes, AppError> {
    write_workbook(snapshot, sheets)
        .map(Bytes::from)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("writing a workbook: {e}")))
}

fn download(content_type: &'static str, filename: &str, body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// How a column's cells are written to a sheet. The CSV's cells are text; a sheet
/// holds its figures as numbers, so they can be summed and sorted as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Text,
    /// Money, two places; the currency is in the header ("Pledged (USD)") or in the
    /// "Currency" column beside it ("Amount").
    Money,
    /// A percentage, one place ("Coverage (%)").
    Percent,
    /// A count ("Items", "Contributions").
    Count,
}

impl Column {
    fn of(header: &str) -> Column {
        match header {
            "Amount" => Column::Money,
            "Items" | "Contributions" | "Target" | "Current value" => Column::Count,
            h if h.ends_with("(USD)") => Column::Money,
            h if h.ends_with("(%)") => Column::Percent,
            _ => Column::Text,
        }
    }
}

/// The workbook's bytes: per sheet a bold, frozen header row with a filter, then the
/// rows; figures as numbers, an empty cell where a figure is unknown.
fn write_workbook(snapshot: &Snapshot, sheets: &[(&str, Table)]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.00");
    let percent = Format::new().set_num_format("0.0");
    for (name, table) in sheets {
        let sheet = book.add_worksheet();
        sheet.set_name(*name)?;
        let columns: Vec<Column> = table.header.iter().map(|h| Column::of(h)).collect();
        for (c, title) in (0u16..).zip(&table.header) {
            sheet.write_string_with_format(0, c, title, &bold)?;
            let width = if columns[c as usize] == Column::Text {
                24
            } else {
                16
            };
            sheet.set_column_width(c, width)?;
        }
        for (r, &key) in (1u32..).zip(&table.rows) {
            for (c, cell) in (0u16..).zip((table.cells)(snapshot, key)) {
                if cell.is_empty() {
                    continue;
                }
                let column = columns.get(c as usize).copied().unwrap_or(Column::Text);
                match (column, cell.parse::<Decimal>()) {
                    (Column::Money, Ok(n)) => {
                        sheet.write_number_with_format(r, c, as_f64(n), &money)?
                    }
                    (Column::Percent, Ok(n)) => {
                        sheet.write_number_with_format(r, c, as_f64(n), &percent)?
                    }
                    (Column::Count, Ok(n)) => sheet.write_number(r, c, as_f64(n))?,
                    // text cells are never read as formulas: no defusing needed
                    _ => sheet.write_string(r, c, &cell)?,
                };
            }
        }
        sheet.set_freeze_panes(1, 0)?;
        let last_col = table.header.len().saturating_sub(1) as u16;
        sheet.autofilter(0, 0, table.rows.len() as u32, last_col)?;
    }
    book.save_to_buffer()
}

/// A sheet's numbers are IEEE doubles: exact to the cent for any amount below 10^13.
fn as_f64(n: Decimal) -> f64 {
    n.to_f64().unwrap_or_default()
}
