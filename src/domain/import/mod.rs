//! Spreadsheet import of contributions, the part that needs no database: a file's
//! header matched to the columns, and each row turned into the contribution form
//! (`ContributionForm`) and checked by its one validator, so a row is refused for
//! exactly what the form would refuse. What the database knows (items, organisations,
//! currencies, rates, contributions already saved) comes in as [`Known`]; each problem
//! names its line and the file's own column.
//!
//! Columns (header names in any case and order; spaces, `_` and `-` alike):
//! `organisation`, `item`, `amount`, `currency`, `status`, `date` are required; `pledged
//! on`, `source`, `note` are optional. `date` (or `as of`) is the date the figure
//! applies to, the form's required "as of", which picks the exchange rate; `pledged on`
//! is the optional date of the pledge. Organisations and items are named by slug or by
//! exact name (title).

pub mod read;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::{BTreeSet, HashMap, HashSet};

use crate::domain::records::budget::{NoRate, confirm_without_rate, rate_needed};
use crate::domain::records::contribution::{
    ContributionChoices, ContributionFields, ContributionForm,
};
use crate::domain::vocab::ContributionStatus;
pub use read::{FileError, Line, Table};

/// A column the import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Organisation,
    Item,
    Amount,
    Currency,
    Status,
    Date,
    PledgedOn,
    Source,
    Note,
}

impl Column {
    pub const ALL: [Column; 9] = [
        Column::Organisation,
        Column::Item,
        Column::Amount,
        Column::Currency,
        Column::Status,
        Column::Date,
        Column::PledgedOn,
        Column::Source,
        Column::Note,
    ];

    /// Its name in messages and in a template header.
    pub fn name(self) -> &'static str {
        self.names()[0]
    }

    /// The header texts that mean it, normalised (`normalize_header`).
    fn names(self) -> &'static [&'static str] {
        match self {
            Column::Organisation => &["organisation", "organization"],
            Column::Item => &["item"],
            Column::Amount => &["amount"],
            Column::Currency => &["currency"],
            Column::Status => &["status"],
            Column::Date => &["date", "as of"],
            Column::PledgedOn => &["pledged on"],
            Column::Source => &["source", "source paragraph", "source para"],
            Column::Note => &["note"],
        }
    }

    pub fn required(self) -> bool {
        !matches!(self, Column::PledgedOn | Column::Source | Column::Note)
    }

    /// The column a message of the contribution form's `field` is about.
    fn of_field(field: &str) -> Option<Column> {
        Some(match field {
            "organisation" => Column::Organisation,
            "amount" => Column::Amount,
            // the "save without a USD figure" confirmation is about the currency's rate
            "currency" | "without_rate" => Column::Currency,
            "status" => Column::Status,
            "as_of" => Column::Date,
            "pledged_on" => Column::PledgedOn,
            "source_para" => Column::Source,
            "note" => Column::Note,
            _ => return None,
        })
    }
}

/// `Pledged_On ` → `pledged on`.
fn normalize_header(text: &str) -> String {
    text.trim_start_matches('\u{feff}')
        .to_lowercase()
        .replace(['_', '-'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where each column is in the file, and its header as the file writes it.
#[derive(Debug, Clone)]
pub struct Columns {
    at: HashMap<Column, (usize, String)>,
}

impl Columns {
    /// The file's header matched to the columns: every required one present, none twice,
    /// no header the import does not know (a misspelt optional column would otherwise be
    /// dropped without a word). Blank header cells are ignored.
    pub fn match_header(header: &[String]) -> Result<Columns, FileError> {
        let mut at = HashMap::new();
        let mut unknown = Vec::new();
        for (index, written) in header.iter().enumerate() {
            let normal = normalize_header(written);
            if normal.is_empty() {
                continue;
            }
            let Some(column) = Column::ALL
                .into_iter()
                .find(|c| c.names().contains(&normal.as_str()))
            else {
                unknown.push(format!("“{}”", written.trim()));
                continue;
            };
            if at
                .insert(column, (index, written.trim().to_string()))
                .is_some()
            {
                return Err(FileError(format!(
                    "line 1 has two columns for {}: keep one",
                    column.name()
                )));
            }
        }
        let missing: Vec<&str> = Column::ALL
            .into_iter()
            .filter(|c| c.required() && !at.contains_key(c))
            .map(Column::name)
            .collect();
        let mut problems = Vec::new();
        if !missing.is_empty() {
            problems.push(format!("the file has no column {}", missing.join(", ")));
        }
        if !unknown.is_empty() {
            problems.push(format!("unknown column {}", unknown.join(", ")));
        }
        if problems.is_empty() {
            return Ok(Columns { at });
        }
        Err(FileError(format!(
            "{}. Line 1 must name the columns {} (optional: pledged on, source, note), in \
             any order",
            problems.join("; "),
            Column::ALL
                .into_iter()
                .filter(|c| c.required())
                .map(Column::name)
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    /// The column's header as the file writes it (`Amount`), for messages.
    pub fn header(&self, column: Column) -> String {
        self.at
            .get(&column)
            .map_or_else(|| column.name().to_string(), |(_, text)| text.clone())
    }

    /// The cell of `column` in `line`, trimmed; "" when the column or cell is absent.
    fn cell<'a>(&self, line: &'a Line, column: Column) -> &'a str {
        self.at
            .get(&column)
            .and_then(|(index, _)| line.cells.get(*index))
            .map_or("", |c| c.trim())
    }
}

/// The file's table with its columns matched: what the checks read.
#[derive(Debug, Clone)]
pub struct Sheet {
    pub table: Table,
    pub columns: Columns,
}

impl Sheet {
    /// Reads a CSV or XLSX file and matches its header.
    pub fn parse(bytes: &[u8]) -> Result<Sheet, FileError> {
        let table = read::read(bytes)?;
        let columns = Columns::match_header(&table.header)?;
        Ok(Sheet { table, columns })
    }

    /// The distinct texts of a column, as written (trimmed): what to look up.
    pub fn values(&self, column: Column) -> BTreeSet<String> {
        self.table
            .rows
            .iter()
            .map(|line| self.columns.cell(line, column).to_string())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// A date cell as the form reads it: a spreadsheet's day number becomes YYYY-MM-DD.
    fn date(&self, line: &Line, column: Column) -> String {
        let text = self.columns.cell(line, column);
        match read::serial_date(text).filter(|_| self.table.serial_dates) {
            Some(date) => date,
            None => text.to_string(),
        }
    }
}

/// An item or organisation as the import looks it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub archived: bool,
}

/// What makes two contributions the same one: item, organisation, amount, currency,
/// status and date.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SameKey {
    pub item_id: i64,
    pub org_id: i64,
    pub amount: Decimal,
    pub currency: String,
    pub status: ContributionStatus,
    pub as_of: NaiveDate,
}

impl SameKey {
    pub fn new(item_id: i64, fields: &ContributionFields) -> SameKey {
        SameKey {
            item_id,
            org_id: fields.org_id,
            // 1000 and 1000.00 are the same amount
            amount: fields.amount.normalize(),
            currency: fields.currency.clone(),
            status: fields.status,
            as_of: fields.as_of,
        }
    }
}

/// What the database holds that the checks need, loaded in a fixed number of queries.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub items: Vec<Named>,
    pub organisations: Vec<Named>,
    pub currencies: Vec<String>,
    /// (currency, first of month) pairs that have an exchange rate.
    pub rates: HashSet<(String, NaiveDate)>,
    /// Contributions saved already (not archived).
    pub existing: HashSet<SameKey>,
}

/// The one record of `records` a cell names, by slug or by exact name; `what` is
/// `item` or `organisation` for the messages.
fn look_up<'a>(records: &'a [Named], text: &str, what: &str) -> Result<&'a Named, String> {
    if text.is_empty() {
        return Err(format!("enter the {what}'s slug or name"));
    }
    if let Some(found) = records.iter().find(|r| r.slug == text) {
        return Ok(found);
    }
    let named: Vec<&Named> = records.iter().filter(|r| r.name == text).collect();
    match named.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "unknown {what} “{text}”: use its slug or exact name"
        )),
        _ => Err(format!(
            "{} {what}s are named “{text}”: use the slug of the one you mean",
            named.len()
        )),
    }
}

/// One problem of a row. `column` None: the row as a whole (a duplicate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub column: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, column {column}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// One row checked: the form it became and what it saves, or its problems.
#[derive(Debug, Clone)]
pub struct CheckedRow {
    pub line: usize,
    pub item: Option<Named>,
    /// The organisation's name as saved, or the cell as written when unknown.
    pub organisation: String,
    pub form: ContributionForm,
    /// The fields saved; None when the row has a problem.
    pub fields: Option<ContributionFields>,
    /// By column (the `Column`, for the preview's highlighting) and message.
    pub problems: Vec<(Option<Column>, Problem)>,
    /// No exchange rate converts the amount yet (saved only "without a USD figure").
    pub needs_rate: bool,
}

impl CheckedRow {
    /// Whether `column` has a problem (the preview highlights its cell).
    pub fn flags(&self, column: Column) -> bool {
        self.problems.iter().any(|(c, _)| *c == Some(column))
    }
}

/// Every row of a file checked.
#[derive(Debug, Clone)]
pub struct Checked {
    pub rows: Vec<CheckedRow>,
    /// Organisation cells that name no organisation, as written: each can be created.
    pub unknown_organisations: Vec<String>,
}

impl Checked {
    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        self.rows
            .iter()
            .flat_map(|r| r.problems.iter().map(|(_, p)| p))
    }

    pub fn rows_with_problems(&self) -> usize {
        self.rows.iter().filter(|r| !r.problems.is_empty()).count()
    }

    /// Whether any row's amount has no exchange rate yet.
    pub fn needs_rates(&self) -> bool {
        self.rows.iter().any(|r| r.needs_rate)
    }

    pub fn is_valid(&self) -> bool {
        self.rows_with_problems() == 0
    }

    /// The rows to save, with their items: all of them, or None when any has a problem.
    pub fn to_save(&self) -> Option<Vec<(&Named, &ContributionFields)>> {
        self.rows
            .iter()
            .map(|r| Some((r.item.as_ref()?, r.fields.as_ref()?)))
            .collect::<Option<Vec<_>>>()
            .filter(|_| self.is_valid())
    }
}

/// Choices the person made on the preview (or the command line's flags).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Save amounts no exchange rate converts yet, as the form's "Save without a USD
    /// figure" does.
    pub without_rate: bool,
}

/// Checks every row of `sheet` against what the database holds.
pub fn check(sheet: &Sheet, known: &Known, options: &Options) -> Checked {
    let choices = ContributionChoices {
        currencies: known.currencies.clone(),
        organisations: known
            .organisations
            .iter()
            .filter(|o| !o.archived)
            .map(|o| (o.id, o.name.clone()))
            .collect(),
        no_rate: None,
    };
    let mut seen: HashMap<SameKey, usize> = HashMap::new();
    let mut unknown_organisations = Vec::new();
    let rows = sheet
        .table
        .rows
        .iter()
        .map(|line| {
            let mut row = check_row(sheet, known, &choices, options, line);
            if let Some(name) = unknown_organisation(sheet, known, line)
                && !unknown_organisations.contains(&name)
            {
                unknown_organisations.push(name);
            }
            flag_duplicate(&mut row, known, &mut seen);
            row
        })
        .collect();
    Checked {
        rows,
        unknown_organisations,
    }
}

/// The organisation cell of `line` when it names no organisation at all (one that can
/// be created), as written.
fn unknown_organisation(sheet: &Sheet, known: &Known, line: &Line) -> Option<String> {
    let text = sheet.columns.cell(line, Column::Organisation);
    let named = |o: &&Named| o.slug == text || o.name == text;
    (!text.is_empty() && !known.organisations.iter().any(|o| named(&o))).then(|| text.to_string())
}

fn check_row(
    sheet: &Sheet,
    known: &Known,
    choices: &ContributionChoices,
    options: &Options,
    line: &Line,
) -> CheckedRow {
    let columns = &sheet.columns;
    let cell = |column| columns.cell(line, column).to_string();
    let item = look_up(&known.items, columns.cell(line, Column::Item), "item");
    let organisation = look_up(
        &known.organisations,
        columns.cell(line, Column::Organisation),
        "organisation",
    )
    .and_then(|o| match o.archived {
        true => Err(format!(
            "organisation “{}” is archived: restore it first, or name another",
            o.name
        )),
        false => Ok(o),
    });
    let form = ContributionForm {
        organisation: organisation
            .as_ref()
            .map_or_else(|_| String::new(), |o| o.id.to_string()),
        amount: cell(Column::Amount),
        currency: cell(Column::Currency),
        // `Pledged` in a spreadsheet is the form's `pledged`
        status: cell(Column::Status).to_lowercase(),
        pledged_on: sheet.date(line, Column::PledgedOn),
        as_of: sheet.date(line, Column::Date),
        source_para: cell(Column::Source),
        note: cell(Column::Note),
        without_rate: options.without_rate.then(|| "on".to_string()),
        version: "0".into(),
        ..ContributionForm::default()
    };
    let no_rate = missing_rate(known, &form);
    let validated =
        confirm_without_rate(form.validate(choices), no_rate.as_ref(), &form.without_rate);
    let problem = |column: Column, message: String| {
        let problem = Problem {
            line: line.number,
            column: Some(columns.header(column)),
            message,
        };
        (Some(column), problem)
    };
    let mut problems = Vec::new();
    if let Err(message) = &item {
        problems.push(problem(Column::Item, message.clone()));
    }
    if let Err(errors) = &validated {
        for (field, message) in errors.iter() {
            let column = Column::of_field(field).unwrap_or(Column::Amount);
            let message = match (&organisation, column) {
                // the form's "choose the organisation" means nothing in a file
                (Err(why), Column::Organisation) => why.clone(),
                _ => message.to_string(),
            };
            problems.push(problem(column, message));
        }
    }
    CheckedRow {
        line: line.number,
        organisation: organisation
            .as_ref()
            .map_or_else(|_| cell(Column::Organisation), |o| o.name.clone()),
        item: item.ok().cloned(),
        fields: validated.ok().filter(|_| problems.is_empty()),
        needs_rate: no_rate.is_some(),
        form,
        problems,
    }
}

/// The rate the row's amount needs and the database lacks, as the form looks it up.
fn missing_rate(known: &Known, form: &ContributionForm) -> Option<NoRate> {
    let (currency, month) = rate_needed(&form.currency, &form.as_of)?;
    let checkable = known.currencies.contains(&currency);
    (checkable && !known.rates.contains(&(currency.clone(), month)))
        .then_some(NoRate { currency, month })
}

/// Notes a row that repeats a saved contribution or an earlier row of the file.
fn flag_duplicate(row: &mut CheckedRow, known: &Known, seen: &mut HashMap<SameKey, usize>) {
    let (Some(item), Some(fields)) = (&row.item, &row.fields) else {
        return;
    };
    let key = SameKey::new(item.id, fields);
    let message = if known.existing.contains(&key) {
        "a contribution with the same item, organisation, amount, currency, status and date \
         is saved already"
            .to_string()
    } else if let Some(first) = seen.get(&key) {
        format!("the same item, organisation, amount, currency, status and date as line {first}")
    } else {
        seen.insert(key, row.line);
        return;
    };
    row.fields = None;
    let problem = Problem {
        line: row.line,
        column: None,
        message,
    };
    row.problems.push((None, problem));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(id: i64, slug: &str, name: &str) -> Named {
        Named {
            id,
            slug: slug.into(),
            name: name.into(),
            archived: false,
        }
    }

    fn known() -> Known {
        Known {
            items: vec![named(1, "guinea-bissau", "Guinea-Bissau")],
            organisations: vec![named(7, "government-of-canada", "Government of Canada")],
            currencies: vec!["USD".into(), "EUR".into()],
            rates: HashSet::from([(
                "EUR".to_string(),
                NaiveDate::from_ymd_opt(2008, 2, 1).expect("date"),
            )]),
            existing: HashSet::new(),
        }
    }

    fn sheet(text: &str) -> Sheet {
        Sheet::parse(text.as_bytes()).expect("a readable file")
    }

    fn messages(checked: &Checked) -> Vec<String> {
        checked.problems().map(ToString::to_string).collect()
    }

    #[test]
    fn headers_match_in_any_order_and_case() {
        let s = sheet(
            "Status,AMOUNT,Item,Organisation,Currency,As_Of,Note\n\
             Pledged,\"1,000\",guinea-bissau,Government of Canada,eur,2008-02-07,first\n",
        );
        let checked = check(&s, &known(), &Options::default());
        assert_eq!(messages(&checked), Vec::<String>::new());
        let fields = checked.rows[0].fields.as_ref().expect("valid");
        assert_eq!(fields.amount, Decimal::from(1000));
        assert_eq!(fields.currency, "EUR");
        assert_eq!(fields.org_id, 7);
        assert_eq!(fields.note.as_deref(), Some("first"));
    }

    #[test]
    fn a_missing_or_unknown_column_names_itself() {
        let error = Sheet::parse(b"organisation,item,amount,status,dat\nx,y,1,paid,2008-01-01\n")
            .expect_err("missing columns");
        assert!(error.0.contains("no column currency, date"), "{error}");
        assert!(error.0.contains("unknown column “dat”"), "{error}");
    }

    #[test]
    fn each_problem_names_its_line_and_the_files_column() {
        let s = sheet(
            "organisation,item,Amount,currency,status,date\n\
             government-of-canada,guinea-bissau,1.234,USD,paid,2008-02-07\n\
             Nobody,nowhere,10,XYZ,given,07/02/2008\n",
        );
        let checked = check(&s, &known(), &Options::default());
        let messages = messages(&checked);
        assert!(messages.contains(&"line 2, column Amount: use at most two decimal places".into()));
        assert!(messages.contains(
            &"line 3, column item: unknown item “nowhere”: use its slug or exact name".into()
        ));
        assert!(messages.contains(
            &"line 3, column organisation: unknown organisation “Nobody”: use its slug or exact name".into()
        ));
        assert!(messages.contains(&"line 3, column currency: unknown currency code XYZ".into()));
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("line 3, column status:"))
        );
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("line 3, column date: use the form"))
        );
        assert_eq!(checked.unknown_organisations, ["Nobody"]);
        assert!(checked.to_save().is_none());
    }

    #[test]
    fn a_missing_rate_is_a_problem_unless_saving_without_it() {
        let s = sheet(
            "organisation,item,amount,currency,status,date\n\
             government-of-canada,guinea-bissau,10,EUR,paid,2009-05-01\n",
        );
        let checked = check(&s, &known(), &Options::default());
        let messages = messages(&checked);
        assert!(
            messages[0]
                .starts_with("line 2, column currency: there is no EUR exchange rate for May 2009"),
            "{messages:?}"
        );
        let anyway = check(&s, &known(), &Options { without_rate: true });
        assert!(anyway.is_valid());
    }

    #[test]
    fn duplicates_of_saved_contributions_and_of_earlier_rows_are_flagged() {
        let s = sheet(
            "organisation,item,amount,currency,status,date\n\
             government-of-canada,guinea-bissau,10,USD,paid,2008-02-07\n\
             Government of Canada,Guinea-Bissau,10.00,usd,Paid,2008-02-07\n\
             government-of-canada,guinea-bissau,20,USD,paid,2008-02-07\n",
        );
        let mut known = known();
        let mut checked = check(&s, &known, &Options::default());
        assert_eq!(
            messages(&checked),
            ["line 3: the same item, organisation, amount, currency, status and date as line 2"]
        );
        let saved = checked.rows[2].fields.clone().expect("valid");
        known.existing.insert(SameKey::new(1, &saved));
        checked = check(&s, &known, &Options::default());
        assert!(messages(&checked)[1].starts_with("line 4: a contribution with the same"));
    }

    #[test]
    fn spreadsheet_day_numbers_are_dates() {
        let mut s = sheet(
            "organisation,item,amount,currency,status,date\n\
             government-of-canada,guinea-bissau,10,USD,paid,39485\n",
        );
        assert!(
            !check(&s, &known(), &Options::default()).is_valid(),
            "not in a CSV"
        );
        s.table.serial_dates = true;
        let checked = check(&s, &known(), &Options::default());
        let fields = checked.rows[0].fields.as_ref().expect("valid");
        assert_eq!(
            fields.as_of,
            NaiveDate::from_ymd_opt(2008, 2, 7).expect("date")
        );
    }
}
