//! Validation results for forms: a message per field, shown next to that field.

use chrono::{Datelike, NaiveDate};
use std::collections::BTreeMap;

/// A date as every form takes it: `YYYY-MM-DD`, in the years 1900 to 2100 (chrono reads
/// years PostgreSQL cannot store, such as -5000; nothing in a portfolio falls outside).
/// Empty is None; the error is the message to show beside the field.
pub fn parse_date(raw: &str) -> Result<Option<NaiveDate>, &'static str> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(d) if (1900..=2100).contains(&d.year()) => Ok(Some(d)),
        Ok(_) => Err("use a year between 1900 and 2100"),
        Err(_) => Err("use the form YYYY-MM-DD, for example 2008-02-07"),
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<&'static str, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.entry(field).or_insert_with(|| message.into());
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Ok when nothing was added.
    pub fn into_result<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso_and_within_the_years_stored() {
        assert_eq!(
            parse_date(" 2008-02-07 "),
            Ok(NaiveDate::from_ymd_opt(2008, 2, 7))
        );
        assert_eq!(parse_date(""), Ok(None));
        assert_eq!(
            parse_date("-5000-01-01"),
            Err("use a year between 1900 and 2100")
        );
        assert_eq!(
            parse_date("2101-01-01"),
            Err("use a year between 1900 and 2100")
        );
        assert!(parse_date("31/01/2009").unwrap_err().contains("YYYY-MM-DD"));
        assert!(parse_date("2009-02-30").is_err());
    }
}
