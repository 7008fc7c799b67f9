//! A monthly exchange rate to US dollars, and how people type rates and months.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

use crate::domain::forms::FieldErrors;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct RateForm {
    pub currency: String,
    pub month: String,
    pub usd_per_unit: String,
    pub source: String,
    pub version: String,
}

/// The fields a person edits; `month` is the first day of the month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateFields {
    pub currency: String,
    pub month: NaiveDate,
    pub usd_per_unit: Decimal,
    pub source: String,
}

impl RateForm {
    /// `currencies`: the codes a rate can be given for.
    pub fn validate(&self, currencies: &[String]) -> Result<RateFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let currency = self.currency.trim().to_string();
        if currency == "USD" {
            errors.add(
                "currency",
                "US dollars need no rate: choose another currency",
            );
        } else if !currencies.contains(&currency) {
            errors.add("currency", "choose the currency the rate is for");
        }
        let month = parse_month(self.month.trim());
        if month.is_none() {
            errors.add("month", "choose a month, e.g. 2008-02 (year, then month)");
        }
        let usd_per_unit = parse_rate(&self.usd_per_unit)
            .map_err(|e| errors.add("usd_per_unit", e.to_string()))
            .unwrap_or_default();
        let source = errors.required(
            "source",
            &self.source,
            2000,
            "say where the rate comes from, e.g. UN operational rates of exchange, February 2008",
        );
        errors.into_result(RateFields {
            currency,
            month: month.unwrap_or_default(),
            usd_per_unit,
            source,
        })
    }

    pub fn labelled(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Currency", self.currency.clone()),
            (
                "Month",
                parse_month(self.month.trim()).map_or(self.month.clone(), month_label),
            ),
            ("US dollars per unit", self.usd_per_unit.clone()),
            ("Source", self.source.clone()),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("enter the rate: US dollars for one unit of the currency, e.g. 1.4749")]
    Empty,
    #[error("that is not a rate: use digits and a decimal point, e.g. 1.4749")]
    NotANumber,
    #[error("use a decimal point and no commas, e.g. 1.4749")]
    Comma,
    #[error("a rate is more than zero")]
    NotPositive,
    #[error("use at most 10 decimal places")]
    TooManyDecimals,
    #[error(
        "no currency is worth more than 1,000,000 US dollars a unit: check the figure, and that it is US dollars per unit, not units per US dollar"
    )]
    TooLarge,
}

/// The largest rate accepted, in US dollars per unit.
const MAX_RATE: i64 = 1_000_000;

/// Parses a rate typed by a person: `1.4749`, `0.0000238`, `.5`. At most 10 decimal
/// places (the column is NUMERIC(20,10)), more than zero, at most 1,000,000.
pub fn parse_rate(input: &str) -> Result<Decimal, RateError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(RateError::Empty);
    }
    if text.contains(',') {
        return Err(RateError::Comma);
    }
    let (negative, number) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let has_point = number.contains('.');
    if !digits(int_part)
        || !digits(frac_part)
        || (int_part.is_empty() && frac_part.is_empty())
        || (has_point && frac_part.is_empty())
    {
        return Err(RateError::NotANumber);
    }
    if negative {
        return Err(RateError::NotPositive);
    }
    if frac_part.len() > 10 {
        return Err(RateError::TooManyDecimals);
    }
    // Checked before parsing so an absurdly long number cannot overflow a Decimal.
    if int_part.trim_start_matches('0').len() > 7 {
        return Err(RateError::TooLarge);
    }
    let int_part = if int_part.is_empty() { "0" } else { int_part };
    let frac_part = if frac_part.is_empty() { "0" } else { frac_part };
    let rate =
        Decimal::from_str(&format!("{int_part}.{frac_part}")).map_err(|_| RateError::NotANumber)?;
    if rate.is_zero() {
        return Err(RateError::NotPositive);
    }
    if rate > Decimal::from(MAX_RATE) {
        return Err(RateError::TooLarge);
    }
    Ok(rate.normalize())
}

/// `2008-02` (what `<input type="month">` sends) → 2008-02-01. Years 1900-2100 only:
/// anything else is a typing mistake.
pub fn parse_month(raw: &str) -> Option<NaiveDate> {
    let (year, month) = raw.split_once('-')?;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if year.len() != 4 || month.len() != 2 || !digits(year) || !digits(month) {
        return None;
    }
    let year: i32 = year.parse().ok()?;
    let month: u32 = month.parse().ok()?;
    if !(1900..=2100).contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(year, month, 1)
}

/// 2008-02-01 → `February 2008`.
pub fn month_label(month: NaiveDate) -> String {
    month.format("%B %Y").to_string()
}

/// 2008-02-01 → `2008-02`, for URLs and the month input.
pub fn month_value(month: NaiveDate) -> String {
    format!("{:04}-{:02}", month.year(), month.month())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn accepts_rates_as_people_type_them() {
        assert_eq!(parse_rate("1.4749"), Ok(dec!(1.4749)));
        assert_eq!(parse_rate(" 1.4749 "), Ok(dec!(1.4749)));
        assert_eq!(parse_rate("0.0000238095"), Ok(dec!(0.0000238095)));
        assert_eq!(parse_rate(".5"), Ok(dec!(0.5)));
        assert_eq!(parse_rate("3"), Ok(dec!(3)));
        assert_eq!(parse_rate("1000000"), Ok(dec!(1000000)));
        assert_eq!(parse_rate("1.5000000000"), Ok(dec!(1.5)));
    }

    #[test]
    fn rejects_what_is_not_a_rate() {
        assert_eq!(parse_rate(""), Err(RateError::Empty));
        assert_eq!(parse_rate("0"), Err(RateError::NotPositive));
        assert_eq!(parse_rate("0.0000000000"), Err(RateError::NotPositive));
        assert_eq!(parse_rate("-1"), Err(RateError::NotPositive));
        assert_eq!(parse_rate("abc"), Err(RateError::NotANumber));
        assert_eq!(parse_rate("-abc"), Err(RateError::NotANumber));
        assert_eq!(parse_rate("1e5"), Err(RateError::NotANumber));
        assert_eq!(parse_rate("1."), Err(RateError::NotANumber));
        assert_eq!(parse_rate("."), Err(RateError::NotANumber));
        assert_eq!(parse_rate("1.2.3"), Err(RateError::NotANumber));
        assert_eq!(parse_rate("NaN"), Err(RateError::NotANumber));
        assert_eq!(parse_rate("1_000"), Err(RateError::NotANumber));
        assert_eq!(parse_rate("1,4749"), Err(RateError::Comma));
        assert_eq!(parse_rate("1.12345678901"), Err(RateError::TooManyDecimals));
        assert_eq!(parse_rate("1000000.01"), Err(RateError::TooLarge));
        assert_eq!(parse_rate(&"9".repeat(60)), Err(RateError::TooLarge));
    }

    #[test]
    fn months_are_year_dash_month() {
        assert_eq!(parse_month("2008-02"), NaiveDate::from_ymd_opt(2008, 2, 1));
        for bad in [
            "",
            "2008",
            "2008-2",
            "2008-13",
            "2008-00",
            "08-02",
            "2008-02-01",
            "1800-01",
            "+208-02",
        ] {
            assert_eq!(parse_month(bad), None, "{bad}");
        }
        let feb = NaiveDate::from_ymd_opt(2008, 2, 1).unwrap();
        assert_eq!(month_label(feb), "February 2008");
        assert_eq!(month_value(feb), "2008-02");
    }
}
