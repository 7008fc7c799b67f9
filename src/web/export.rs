//! Downloads written row by row from a cached snapshot: the response body is a stream of
//! small chunks, so memory stays flat however many rows a table has.

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use crate::web::dashboard::Snapshot;

/// Rows per chunk of the response body.
const CHUNK_ROWS: usize = 256;

type RowFn = Box<dyn Fn(&Snapshot, usize, &mut Vec<u8>) + Send + Sync>;

/// A CSV table: a header, the keys of its rows, and how to write the row of a key.
pub struct CsvTable {
    header: Vec<String>,
    rows: Vec<usize>,
    line: RowFn,
}

impl CsvTable {
    pub fn new(
        header: Vec<String>,
        rows: Vec<usize>,
        cells: impl Fn(&Snapshot, usize) -> Vec<String> + Send + Sync + 'static,
    ) -> CsvTable {
        CsvTable::encoded(header, rows, move |snapshot, key, out| {
            out.extend_from_slice(&csv_line(cells(snapshot, key)));
        })
    }

    /// A table whose lines come already encoded (e.g. kept with the revision).
    pub fn encoded(
        header: Vec<String>,
        rows: Vec<usize>,
        line: impl Fn(&Snapshot, usize, &mut Vec<u8>) + Send + Sync + 'static,
    ) -> CsvTable {
        CsvTable {
            header,
            rows,
            line: Box::new(line),
        }
    }

    /// A short table whose lines are ready (a few hundred groups at most).
    pub fn from_lines(header: Vec<String>, lines: Vec<Vec<String>>) -> CsvTable {
        let keys = (0..lines.len()).collect();
        CsvTable::new(header, keys, move |_, i| lines[i].clone())
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
pub fn csv_response(snapshot: Arc<Snapshot>, filename: &str, table: CsvTable) -> Response {
    let CsvTable { header, rows, line } = table;
    let first = csv_line(header);
    let chunks = futures_util::stream::unfold(0usize, move |start| {
        let chunk = (start < rows.len()).then(|| {
            let end = (start + CHUNK_ROWS).min(rows.len());
            let mut bytes = Vec::with_capacity(64 * 1024);
            for &key in &rows[start..end] {
                line(&snapshot, key, &mut bytes);
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
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}
