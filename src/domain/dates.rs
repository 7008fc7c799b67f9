//! Dates with the precision their source gives: "13 February 2008", "November 2007",
//! "Q3 2008", "H1 2008", "2008", "2008-2009". A report that says "in 2008" has not said
//! 1 January 2008; a [`PartialDate`] keeps the difference. Pages print it as written,
//! sorting and filtering use its first and last day, and the database stores the first
//! day beside the precision (`*_on` + `*_precision` columns).

use chrono::{Datelike, Months, NaiveDate};
use serde::{Serialize, Serializer};
use std::fmt;

use crate::domain::forms::YEARS;

/// How much of a date the source gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Precision {
    Day,
    Month,
    Quarter,
    Half,
    Year,
    /// Two consecutive years, the budget period of the United Nations (2008-2009).
    Biennium,
}

impl Precision {
    pub const ALL: [Precision; 6] = [
        Precision::Day,
        Precision::Month,
        Precision::Quarter,
        Precision::Half,
        Precision::Year,
        Precision::Biennium,
    ];

    /// The name stored in the database (`*_precision` columns).
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Day => "day",
            Precision::Month => "month",
            Precision::Quarter => "quarter",
            Precision::Half => "half",
            Precision::Year => "year",
            Precision::Biennium => "biennium",
        }
    }

    pub fn from_name(name: &str) -> Option<Precision> {
        Precision::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// Months the period spans (a day counts as none).
    fn months(self) -> u32 {
        match self {
            Precision::Day => 0,
            Precision::Month => 1,
            Precision::Quarter => 3,
            Precision::Half => 6,
            Precision::Year => 12,
            Precision::Biennium => 24,
        }
    }
}

/// A date known to a day, month, quarter, half-year, year or biennium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartialDate {
    first: NaiveDate,
    precision: Precision,
}

/// What a typed date gets wrong.
pub const DATE_FORMS: &str = "use a date such as 2008-02-13, 2008-11 (a month), 2008-Q3 \
                              (a quarter), 2008-H1 (a half-year), 2008 (a year) or \
                              2008-2009 (a biennium)";
pub const YEAR_RANGE: &str = "use a year between 1900 and 2100";

impl PartialDate {
    /// A date known to the day.
    pub fn day(date: NaiveDate) -> PartialDate {
        PartialDate {
            first: date,
            precision: Precision::Day,
        }
    }

    /// From the stored first day and precision name; None when they do not fit together
    /// (a quarter that does not start a quarter), which the database's checks prevent.
    pub fn from_stored(first: NaiveDate, precision: &str) -> Option<PartialDate> {
        let precision = Precision::from_name(precision)?;
        PartialDate::starting(first, precision)
    }

    /// The period of `precision` that starts on `first`, if one does.
    pub fn starting(first: NaiveDate, precision: Precision) -> Option<PartialDate> {
        let aligned = match precision {
            Precision::Day => true,
            Precision::Month => first.day() == 1,
            Precision::Quarter => first.day() == 1 && first.month0().is_multiple_of(3),
            Precision::Half => first.day() == 1 && first.month0().is_multiple_of(6),
            Precision::Year | Precision::Biennium => first.ordinal() == 1,
        };
        aligned.then_some(PartialDate { first, precision })
    }

    /// Reads `2008-02-13`, `2008-11`, `2008-Q3` (or `Q3 2008`), `2008-H1` (or `H1 2008`),
    /// `2008` and `2008-2009`; surrounding space and case do not matter.
    pub fn parse(raw: &str) -> Result<PartialDate, &'static str> {
        let text = raw.trim().to_ascii_uppercase().replace(['–', '—'], "-");
        if let Ok(day) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            return match YEARS.contains(&day.year()) {
                true => Ok(PartialDate::day(day)),
                false => Err(YEAR_RANGE),
            };
        }
        let (year, rest) = match text.split_once([' ', '-']) {
            // "Q3 2008" and "H1 2008": the period before the year
            Some((period, year)) if period.starts_with(['Q', 'H']) => (year, period),
            Some((year, rest)) => (year, rest),
            None => (text.as_str(), ""),
        };
        let year = parse_year(year)?;
        let start = |month: u32| NaiveDate::from_ymd_opt(year, month, 1).ok_or(DATE_FORMS);
        let date = match rest.as_bytes() {
            [] => PartialDate::of(start(1)?, Precision::Year),
            [b'Q', q @ b'1'..=b'4'] => {
                PartialDate::of(start(u32::from(q - b'1') * 3 + 1)?, Precision::Quarter)
            }
            [b'H', h @ b'1'..=b'2'] => {
                PartialDate::of(start(u32::from(h - b'1') * 6 + 1)?, Precision::Half)
            }
            [_, _, _, _] => {
                if parse_year(rest)? != year + 1 {
                    return Err("a biennium is two consecutive years, such as 2008-2009");
                }
                PartialDate::of(start(1)?, Precision::Biennium)
            }
            [_, _] if rest.bytes().all(|b| b.is_ascii_digit()) => {
                let month = rest.parse().map_err(|_| DATE_FORMS)?;
                PartialDate::of(start(month)?, Precision::Month)
            }
            _ => match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
                Ok(day) => PartialDate::day(day),
                Err(_) => return Err(DATE_FORMS),
            },
        };
        Ok(date)
    }

    fn of(first: NaiveDate, precision: Precision) -> PartialDate {
        PartialDate { first, precision }
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    pub fn first_day(&self) -> NaiveDate {
        self.first
    }

    pub fn last_day(&self) -> NaiveDate {
        match self.precision.months() {
            0 => self.first,
            months => self
                .first
                .checked_add_months(Months::new(months))
                .and_then(|next| next.pred_opt())
                .unwrap_or(NaiveDate::MAX),
        }
    }

    /// The form it is typed and stored in text: `2008-Q3`.
    pub fn code(&self) -> String {
        let year = self.first.year();
        match self.precision {
            Precision::Day => self.first.format("%Y-%m-%d").to_string(),
            Precision::Month => self.first.format("%Y-%m").to_string(),
            Precision::Quarter => format!("{year}-Q{}", self.first.month0() / 3 + 1),
            Precision::Half => format!("{year}-H{}", self.first.month0() / 6 + 1),
            Precision::Year => year.to_string(),
            Precision::Biennium => format!("{year}-{}", year + 1),
        }
    }

    /// Whether the whole period is over by `today` (a milestone due in Q3 2008 is not
    /// late until October).
    pub fn ended_before(&self, today: NaiveDate) -> bool {
        self.last_day() < today
    }

    /// Whether any of the period lies within `from ..= to`.
    pub fn overlaps(&self, from: NaiveDate, to: NaiveDate) -> bool {
        self.first <= to && self.last_day() >= from
    }
}

fn parse_year(text: &str) -> Result<i32, &'static str> {
    if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DATE_FORMS);
    }
    let year: i32 = text.parse().map_err(|_| DATE_FORMS)?;
    if YEARS.contains(&year) {
        Ok(year)
    } else {
        Err(YEAR_RANGE)
    }
}

/// As written: "13 February 2008", "November 2007", "Q3 2008", "H1 2008", "2008",
/// "2008-2009".
impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let year = self.first.year();
        match self.precision {
            Precision::Day => write!(f, "{}", self.first.format("%-d %B %Y")),
            Precision::Month => write!(f, "{}", self.first.format("%B %Y")),
            Precision::Quarter => write!(f, "Q{} {year}", self.first.month0() / 3 + 1),
            Precision::Half => write!(f, "H{} {year}", self.first.month0() / 6 + 1),
            Precision::Year => write!(f, "{year}"),
            Precision::Biennium => write!(f, "{year}-{}", year + 1),
        }
    }
}

/// In audit records and JSON, the typed form (`2008-Q3`).
impl Serialize for PartialDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.code())
    }
}

/// Sorted by first day, then the narrower period first (13 Feb 2008 before Q1 2008
/// before 2008).
impl Ord for PartialDate {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.first, self.precision).cmp(&(other.first, other.precision))
    }
}

impl PartialOrd for PartialDate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// An optional date as its two columns: the first day, and the precision's name (`day`
/// for none, the columns' default).
pub fn to_columns(date: Option<PartialDate>) -> (Option<NaiveDate>, &'static str) {
    match date {
        Some(d) => (Some(d.first_day()), d.precision().as_str()),
        None => (None, Precision::Day.as_str()),
    }
}

/// An optional date as two nullable columns (milestones' done date, targets' period):
/// both NULL when there is no date.
pub fn to_nullable_columns(date: Option<PartialDate>) -> (Option<NaiveDate>, Option<&'static str>) {
    match date {
        Some(d) => (Some(d.first_day()), Some(d.precision().as_str())),
        None => (None, None),
    }
}

/// An optional date from its two columns. The database's check keeps them together; a
/// pair that does not fit (none should) reads as the day stored.
pub fn from_columns(first: Option<NaiveDate>, precision: Option<&str>) -> Option<PartialDate> {
    let first = first?;
    let precision = precision.unwrap_or(Precision::Day.as_str());
    Some(PartialDate::from_stored(first, precision).unwrap_or(PartialDate::day(first)))
}

/// A period given by its start and end, in words: "2008 to 2010", "Q3 2008" (both the
/// same), "from November 2007", "until 2008"; empty when neither is known.
pub fn period_text(start: Option<PartialDate>, end: Option<PartialDate>) -> String {
    match (start, end) {
        (Some(s), Some(e)) if s == e => s.to_string(),
        (Some(s), Some(e)) => format!("{s} to {e}"),
        (Some(s), None) => format!("from {s}"),
        (None, Some(e)) => format!("until {e}"),
        (None, None) => String::new(),
    }
}

/// From the first day of `start` to the last day of `end`; one of them stands for both
/// when only one is known.
pub fn period_days(
    start: Option<PartialDate>,
    end: Option<PartialDate>,
) -> Option<(NaiveDate, NaiveDate)> {
    let first = start.or(end)?.first_day();
    let last = end.or(start)?.last_day();
    Some((first, last))
}

/// A period written as text (a budget's "2008-2010"), read as its first and last period
/// when it is one date form ("2008", "2008-Q3", "2008-2009") or two joined by "to" or a
/// dash ("2008-2010", "2008-Q3 to 2009-Q2"); None for words ("three-year") or an end
/// before the start.
pub fn parse_span(text: &str) -> Option<(PartialDate, PartialDate)> {
    if let Ok(one) = PartialDate::parse(text) {
        return Some((one, one));
    }
    let text = text.trim();
    let (from, to) = text
        .split_once(" to ")
        .or_else(|| text.split_once('–'))
        .or_else(|| {
            // "2008-2010": a dash between two years (within a date form it is no joint)
            let (a, b) = text.split_once('-')?;
            let year =
                |s: &str| s.trim().len() == 4 && s.trim().bytes().all(|c| c.is_ascii_digit());
            (year(a) && year(b)).then_some((a, b))
        })?;
    let (from, to) = (PartialDate::parse(from).ok()?, PartialDate::parse(to).ok()?);
    (from.first_day() <= to.last_day()).then_some((from, to))
}

/// A typed optional date: empty is None, anything else must read.
pub fn parse_optional(raw: &str) -> Result<Option<PartialDate>, &'static str> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        PartialDate::parse(raw).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("a date")
    }

    #[test]
    fn a_period_in_words_reads_as_its_first_and_last_period_when_it_names_dates() {
        let span = |text: &str| parse_span(text).map(|(a, b)| (a.code(), b.code()));
        assert_eq!(span("2008-2010"), Some(("2008".into(), "2010".into())));
        assert_eq!(
            span("2008-2009"),
            Some(("2008-2009".into(), "2008-2009".into()))
        );
        assert_eq!(span("2008"), Some(("2008".into(), "2008".into())));
        assert_eq!(
            span("2008-Q3 to 2009-Q2"),
            Some(("2008-Q3".into(), "2009-Q2".into()))
        );
        assert_eq!(span("three-year"), None);
        assert_eq!(span("bienniums 2008-2009 and 2010-2011"), None);
        assert_eq!(span("2010-2008"), None);
    }

    #[test]
    fn each_form_reads_with_its_first_and_last_day_and_prints_as_written() {
        for (typed, first, last, shown, code) in [
            (
                "2008-02-13",
                d(2008, 2, 13),
                d(2008, 2, 13),
                "13 February 2008",
                "2008-02-13",
            ),
            (
                "2007-11",
                d(2007, 11, 1),
                d(2007, 11, 30),
                "November 2007",
                "2007-11",
            ),
            (
                "2008-02",
                d(2008, 2, 1),
                d(2008, 2, 29),
                "February 2008",
                "2008-02",
            ),
            (
                "2008-Q3",
                d(2008, 7, 1),
                d(2008, 9, 30),
                "Q3 2008",
                "2008-Q3",
            ),
            (
                "q4 2008",
                d(2008, 10, 1),
                d(2008, 12, 31),
                "Q4 2008",
                "2008-Q4",
            ),
            (
                "2008-H2",
                d(2008, 7, 1),
                d(2008, 12, 31),
                "H2 2008",
                "2008-H2",
            ),
            (
                "H1 2009",
                d(2009, 1, 1),
                d(2009, 6, 30),
                "H1 2009",
                "2009-H1",
            ),
            (" 2008 ", d(2008, 1, 1), d(2008, 12, 31), "2008", "2008"),
            (
                "2008-2009",
                d(2008, 1, 1),
                d(2009, 12, 31),
                "2008-2009",
                "2008-2009",
            ),
            (
                "2010–2011",
                d(2010, 1, 1),
                d(2011, 12, 31),
                "2010-2011",
                "2010-2011",
            ),
        ] {
            let date = PartialDate::parse(typed).unwrap_or_else(|e| panic!("{typed}: {e}"));
            assert_eq!(date.first_day(), first, "{typed}");
            assert_eq!(date.last_day(), last, "{typed}");
            assert_eq!(date.to_string(), shown, "{typed}");
            assert_eq!(date.code(), code, "{typed}");
            assert_eq!(
                PartialDate::parse(&date.code()),
                Ok(date),
                "{typed} round trip"
            );
            let stored = PartialDate::from_stored(first, date.precision().as_str());
            assert_eq!(stored, Some(date), "{typed} from the database");
        }
    }

    #[test]
    fn what_is_not_a_date_is_refused_with_the_forms_it_may_take() {
        for typed in [
            "",
            "2008-13",
            "2008-Q5",
            "2008-H3",
            "31/01/2008",
            "2008-02-30",
            "in 2008",
            "08",
            "2008-Q",
            "2008-1",
            "Q3",
            "2008-11-5x",
        ] {
            assert_eq!(PartialDate::parse(typed), Err(DATE_FORMS), "{typed:?}");
        }
        assert_eq!(PartialDate::parse("1850"), Err(YEAR_RANGE));
        assert_eq!(PartialDate::parse("-5000-01-01"), Err(YEAR_RANGE));
        assert!(PartialDate::parse("2008-2010").is_err_and(|e| e.contains("consecutive")));
        assert_eq!(parse_optional("  "), Ok(None));
    }

    #[test]
    fn a_stored_first_day_must_start_its_period() {
        assert_eq!(PartialDate::from_stored(d(2008, 8, 1), "quarter"), None);
        assert_eq!(PartialDate::from_stored(d(2008, 1, 2), "year"), None);
        assert_eq!(PartialDate::from_stored(d(2008, 1, 1), "fortnight"), None);
    }

    #[test]
    fn a_period_is_over_only_after_its_last_day() {
        let q3 = PartialDate::parse("2008-Q3").expect("a quarter");
        assert!(!q3.ended_before(d(2008, 9, 30)));
        assert!(q3.ended_before(d(2008, 10, 1)));
        assert!(q3.overlaps(d(2008, 9, 30), d(2009, 1, 1)));
        assert!(!q3.overlaps(d(2008, 10, 1), d(2009, 1, 1)));
    }

    #[test]
    fn dates_sort_by_first_day_then_the_narrower_first() {
        let mut dates: Vec<PartialDate> = ["2008", "2008-Q1", "2007-11", "2008-01-01"]
            .iter()
            .map(|t| PartialDate::parse(t).expect("a date"))
            .collect();
        dates.sort();
        let codes: Vec<String> = dates.iter().map(PartialDate::code).collect();
        assert_eq!(codes, ["2007-11", "2008-01-01", "2008-Q1", "2008"]);
    }
}
