//! Reading an uploaded file into a table of text cells: CSV (UTF-8, with or without a
//! byte-order mark; comma or semicolon) or XLSX (the first sheet). Anything else, a file
//! that is not UTF-8 and a spreadsheet holding a formula are refused with a message that
//! says how to fix the file. Line numbers are the ones a spreadsheet shows: the header
//! is line 1.

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use std::io::Cursor;

/// A file that cannot be imported at all; nothing of it is used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FileError(pub String);

fn refuse<T>(message: impl Into<String>) -> Result<T, FileError> {
    Err(FileError(message.into()))
}

/// Rows a file may hold: far more than one import needs, few enough that the preview
/// and the single transaction stay quick.
pub const MAX_ROWS: usize = 20_000;

/// One row below the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// As a spreadsheet numbers it (the header is 1).
    pub number: usize,
    pub cells: Vec<String>,
}

/// A file's header and rows, every cell as text (blank rows left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Line>,
    /// From a spreadsheet, where a date may be a day number (an Excel serial).
    pub serial_dates: bool,
}

/// What the file's first bytes say it is.
enum Kind {
    Csv,
    Xlsx,
    /// The binary .xls of Excel 97-2003 (an OLE compound file).
    OldExcel,
}

fn kind(bytes: &[u8]) -> Kind {
    if bytes.starts_with(b"PK\x03\x04") {
        Kind::Xlsx
    } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        Kind::OldExcel
    } else {
        Kind::Csv
    }
}

/// The table of a CSV or XLSX file.
pub fn read(bytes: &[u8]) -> Result<Table, FileError> {
    let table = match kind(bytes) {
        Kind::Xlsx => read_xlsx(bytes)?,
        Kind::OldExcel => {
            return refuse(
                "this is an old Excel file (.xls): save it as an Excel workbook (.xlsx) or as \
                 CSV UTF-8 and upload that",
            );
        }
        Kind::Csv => read_csv(bytes)?,
    };
    if table.header.iter().all(|h| h.trim().is_empty()) {
        return refuse("the file is empty: line 1 must be the header naming the columns");
    }
    if table.rows.is_empty() {
        return refuse("the file has a header but no rows below it");
    }
    if table.rows.len() > MAX_ROWS {
        return refuse(format!(
            "the file has {} rows; import at most {MAX_ROWS} at a time",
            table.rows.len()
        ));
    }
    Ok(table)
}

fn is_blank(cells: &[String]) -> bool {
    cells.iter().all(|c| c.trim().is_empty())
}

const UTF8_HELP: &str = "save it as “CSV UTF-8” (in Excel: File → Save As → CSV UTF-8) and \
                         upload it again";

/// The text of a CSV file, which must be UTF-8: a byte-order mark is dropped; anything
/// else is refused, naming the first line that is not.
fn csv_text(bytes: &[u8]) -> Result<&[u8], FileError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return refuse(format!("the file is UTF-16 text, not UTF-8: {UTF8_HELP}"));
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Err(e) = std::str::from_utf8(text) {
        let valid = &text[..e.valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        return refuse(format!(
            "the file is not UTF-8 text (line {line} holds a character in another encoding): \
             {UTF8_HELP}"
        ));
    }
    Ok(text)
}

/// Comma, or semicolon when the header has semicolons and no comma (what Excel writes
/// where the comma is the decimal separator).
fn delimiter(text: &[u8]) -> u8 {
    let header = text.split(|b| *b == b'\n').next().unwrap_or_default();
    let has = |c: u8| header.contains(&c);
    if has(b';') && !has(b',') { b';' } else { b',' }
}

/// Counts lines up to a byte offset, moving forward only: the csv crate's own line count
/// skips blank lines, which a spreadsheet shows.
struct LineCounter<'a> {
    text: &'a [u8],
    byte: usize,
    line: usize,
}

impl LineCounter<'_> {
    /// The line of the record read from `byte` on (which may be where the blank lines
    /// before it start).
    fn line_at(&mut self, byte: usize) -> usize {
        let mut byte = byte.min(self.text.len()).max(self.byte);
        while matches!(self.text.get(byte), Some(b'\n' | b'\r')) {
            byte += 1;
        }
        self.line += self.text[self.byte..byte]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.byte = byte;
        self.line
    }
}

fn read_csv(bytes: &[u8]) -> Result<Table, FileError> {
    let text = csv_text(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter(text))
        .from_reader(text);
    let mut lines = LineCounter {
        text,
        byte: 0,
        line: 1,
    };
    let mut header = None;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = lines.line_at(e.position().map_or(0, |p| p.byte() as usize));
                return refuse(format!("line {line} cannot be read as CSV: {e}"));
            }
        };
        let number = lines.line_at(record.position().map_or(0, |p| p.byte() as usize));
        let cells: Vec<String> = record.iter().map(str::to_string).collect();
        if header.is_none() {
            header = Some(cells);
        } else if !is_blank(&cells) {
            rows.push(Line { number, cells });
        }
        if rows.len() > MAX_ROWS {
            break;
        }
    }
    Ok(Table {
        header: header.unwrap_or_default(),
        rows,
        serial_dates: false,
    })
}

/// `A`, `B`, … `Z`, `AA`: a spreadsheet's name of column `index` (from 0).
pub fn column_letters(index: usize) -> String {
    let mut letters = Vec::new();
    let mut n = index + 1;
    while n > 0 {
        let rest = (n - 1) % 26;
        letters.push(b'A' + rest as u8);
        n = (n - 1) / 26;
    }
    letters.iter().rev().map(|b| *b as char).collect()
}

fn read_xlsx(bytes: &[u8]) -> Result<Table, FileError> {
    let unreadable = |e: calamine::XlsxError| {
        FileError(format!(
            "the file cannot be read as an Excel workbook ({e}): save it again as .xlsx or as \
             CSV UTF-8"
        ))
    };
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).map_err(unreadable)?;
    let Some(sheet) = book.sheet_names().first().cloned() else {
        return refuse("the workbook has no sheet");
    };
    refuse_formulas(&book.worksheet_formula(&sheet).map_err(unreadable)?)?;
    let range = book.worksheet_range(&sheet).map_err(unreadable)?;
    let (first_row, first_column) = range.start().unwrap_or((0, 0));
    let mut lines = range.rows().enumerate().map(|(index, row)| {
        let leading = std::iter::repeat_n(String::new(), first_column as usize);
        Line {
            number: first_row as usize + index + 1,
            cells: leading.chain(row.iter().map(cell_text)).collect(),
        }
    });
    let header = lines.next().map(|line| line.cells).unwrap_or_default();
    let rows = lines
        .filter(|line| !is_blank(&line.cells))
        .take(MAX_ROWS + 1)
        .collect();
    Ok(Table {
        header,
        rows,
        serial_dates: true,
    })
}

/// An import takes values: a formula's result is whatever the program last computed,
/// which the file may not even hold. The first one found is named by its cell.
fn refuse_formulas(formulas: &calamine::Range<String>) -> Result<(), FileError> {
    let (first_row, first_column) = formulas.start().unwrap_or((0, 0));
    let found = formulas
        .used_cells()
        .find(|(_, _, formula)| !formula.trim().is_empty());
    match found {
        None => Ok(()),
        Some((row, column, formula)) => {
            let cell = format!(
                "{}{}",
                column_letters(first_column as usize + column),
                first_row as usize + row + 1
            );
            let shown: String = formula.chars().take(40).collect();
            refuse(format!(
                "cell {cell} holds a formula (={shown}): the import takes values only. Copy the \
                 sheet and paste it as values (Paste Special → Values), then upload it again"
            ))
        }
    }
}

/// A cell as text: numbers as written (the shortest form that reads back the same),
/// dates as YYYY-MM-DD.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(text) => text.clone(),
        Data::Int(n) => n.to_string(),
        Data::Float(x) => x.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(when) => when
            .as_datetime()
            .map_or_else(|| when.as_f64().to_string(), |d| d.date().to_string()),
        Data::DateTimeIso(text) => text.chars().take(10).collect(),
        Data::DurationIso(text) => text.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// The date of an Excel day number (1900 date system: day 1 is 1900-01-01, with its
/// phantom 29 February 1900), or None when `text` is not a whole number of days.
pub fn serial_date(text: &str) -> Option<String> {
    let days: i64 = text.trim().parse().ok()?;
    if !(1..=2_958_465).contains(&days) {
        return None;
    }
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)?;
    let date = epoch.checked_add_signed(chrono::Duration::days(days))?;
    Some(date.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_lines_are_numbered_as_a_spreadsheet_shows_them() {
        let table = read(b"\xEF\xBB\xBFitem,amount\na,1\n\nb,2\n").expect("reads");
        assert_eq!(table.header, ["item", "amount"]);
        let numbers: Vec<usize> = table.rows.iter().map(|r| r.number).collect();
        assert_eq!(
            numbers,
            [2, 4],
            "the blank line 3 is skipped, not renumbered"
        );
    }

    #[test]
    fn semicolons_are_read_when_the_header_uses_them() {
        let table = read(b"item;amount\na;1,5\n").expect("reads");
        assert_eq!(table.rows[0].cells, ["a", "1,5"]);
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_with_its_line() {
        let error = read(b"item,note\na,ok\nb,caf\xE9\n").expect_err("latin-1");
        assert!(error.0.contains("not UTF-8"), "{error}");
        assert!(error.0.contains("line 3"), "{error}");
        assert!(error.0.contains("CSV UTF-8"), "{error}");
        assert!(
            read(b"\xFF\xFEi\0t\0")
                .expect_err("utf-16")
                .0
                .contains("UTF-16")
        );
    }

    #[test]
    fn empty_files_and_old_excel_files_are_refused() {
        assert!(read(b"").is_err());
        assert!(
            read(b"item,amount\n")
                .expect_err("no rows")
                .0
                .contains("no rows")
        );
        let xls = read(&[0xD0, 0xCF, 0x11, 0xE0, 0, 0]).expect_err("xls");
        assert!(xls.0.contains(".xlsx"), "{xls}");
        let broken = read(b"PK\x03\x04 not really a zip").expect_err("broken zip");
        assert!(broken.0.contains("Excel workbook"), "{broken}");
    }

    #[test]
    fn column_letters_and_serial_dates() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(serial_date("39485").as_deref(), Some("2008-02-07"));
        assert_eq!(serial_date("2008-02-07"), None);
        assert_eq!(serial_date("1.5"), None);
    }
}
