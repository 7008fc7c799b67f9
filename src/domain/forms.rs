//! The one field validator every form uses (and the spreadsheet import will): plain
//! strings in, typed values or a message per field out. A message is shown next to its
//! field; every field is checked, so a person sees all of them at once.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

use crate::domain::money::parse_amount;
use crate::domain::vocab::Vocabulary;

/// Dates are accepted in these years: chrono reads years PostgreSQL cannot store (such
/// as -5000), and nothing in a portfolio falls outside.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2100;

/// A date as every form takes it: `YYYY-MM-DD`, in `YEARS`. Empty is None; the error is
/// the message to show beside the field.
pub fn parse_date(raw: &str) -> Result<Option<NaiveDate>, &'static str> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(d) if YEARS.contains(&d.year()) => Ok(Some(d)),
        Ok(_) => Err("use a year between 1900 and 2100"),
        Err(_) => Err("use the form YYYY-MM-DD, for example 2008-02-07"),
    }
}

/// An HTML checkbox sends its value when ticked and nothing otherwise.
pub fn ticked(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| !v.is_empty())
}

/// `2000`, `20,000`: limits in messages, grouped from five digits on as in prose.
fn limit(max: usize) -> String {
    if max < 10_000 {
        return max.to_string();
    }
    crate::domain::money::group_thousands(Decimal::from(max))
}

/// The messages of one form, by field name. Its methods read one field each: they
/// return the typed value (a placeholder when the field is wrong) and note what is
/// wrong, so a form reads every field and then asks `into_result`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<&'static str, String>);

impl FieldErrors {
    /// Errors holding one message.
    pub fn one(field: &'static str, message: impl Into<String>) -> FieldErrors {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        errors
    }

    /// Notes a message; the first one for a field stands.
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.entry(field).or_insert_with(|| message.into());
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every message with its field, in field-name order (the import reports them all).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0
            .iter()
            .map(|(field, message)| (*field, message.as_str()))
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

    /// Text that must be given: trimmed, at most `max` characters.
    pub fn required(
        &mut self,
        field: &'static str,
        raw: &str,
        max: usize,
        missing: &str,
    ) -> String {
        let text = self.optional(field, raw, max);
        if text.is_none() {
            self.add(field, missing);
        }
        text.unwrap_or_default()
    }

    /// Text that may be left empty: trimmed; empty is None (unknown, never "").
    pub fn optional(&mut self, field: &'static str, raw: &str, max: usize) -> Option<String> {
        let text = self.text(field, raw, max);
        Some(text).filter(|t| !t.is_empty())
    }

    /// Text that may be empty and is stored as "" then: trimmed, at most `max`.
    pub fn text(&mut self, field: &'static str, raw: &str, max: usize) -> String {
        let text = raw.trim();
        if text.chars().count() > max {
            self.add(field, format!("use at most {} characters", limit(max)));
        }
        text.to_string()
    }

    /// A slug for addresses (`domain::slug`); `example` shows one in the message.
    pub fn slug(&mut self, field: &'static str, raw: &str, message: &str) -> String {
        let slug = raw.trim().to_string();
        if !crate::domain::slug::is_valid(&slug) {
            self.add(field, message);
        }
        slug
    }

    /// A slug as typed, or made from `name` when left empty (`slug::from_name`), so
    /// nobody has to type one; a typed slug is kept as typed.
    pub fn slug_or_from(
        &mut self,
        field: &'static str,
        raw: &str,
        name: &str,
        message: &str,
    ) -> String {
        if !raw.trim().is_empty() {
            return self.slug(field, raw, message);
        }
        let derived = crate::domain::slug::from_name(name);
        if derived.is_empty() && !name.trim().is_empty() {
            self.add(field, "the name has no letters a slug can use: type one");
        }
        derived
    }

    /// A sum of money as people type it (`19,000,000.50`), by the rules of `parse_amount`.
    pub fn money(&mut self, field: &'static str, raw: &str) -> Decimal {
        parse_amount(raw).unwrap_or_else(|e| {
            self.add(field, e.to_string());
            Decimal::ZERO
        })
    }

    /// A date that may be left empty (`parse_date`).
    pub fn date(&mut self, field: &'static str, raw: &str) -> Option<NaiveDate> {
        parse_date(raw).unwrap_or_else(|message| {
            self.add(field, message);
            None
        })
    }

    /// A date with its precision (`2008`, `2008-Q3`, `2008-02-13`, …); empty is None.
    pub fn partial_date(
        &mut self,
        field: &'static str,
        raw: &str,
    ) -> Option<crate::domain::dates::PartialDate> {
        crate::domain::dates::parse_optional(raw).unwrap_or_else(|message| {
            self.add(field, message);
            None
        })
    }

    /// A date that must be given; `missing` says why it is needed.
    pub fn required_date(&mut self, field: &'static str, raw: &str, missing: &str) -> NaiveDate {
        let date = self.date(field, raw);
        if date.is_none() && raw.trim().is_empty() {
            self.add(field, missing);
        }
        date.unwrap_or_default()
    }

    /// An ISO 4217 code from `known` (the database's list is the authority), in capitals.
    pub fn currency(&mut self, field: &'static str, raw: &str, known: &[String]) -> String {
        let code = raw.trim().to_ascii_uppercase();
        if code.is_empty() {
            self.add(field, "choose the currency of the amount");
        } else if !known.contains(&code) {
            let shown: String = code.chars().take(12).collect();
            self.add(field, format!("unknown currency code {shown}"));
        }
        code
    }

    /// One value of a closed vocabulary (a kind, a status, a role); the first value as
    /// the placeholder when it is not one.
    pub fn choice<T: Vocabulary>(&mut self, field: &'static str, raw: &str, missing: &str) -> T {
        T::parse(raw.trim()).unwrap_or_else(|| {
            self.add(field, missing);
            T::all()[0]
        })
    }

    /// An id chosen from a menu: a positive number, else `missing`.
    pub fn id(&mut self, field: &'static str, raw: &str, missing: &str) -> i64 {
        let id = raw.trim().parse::<i64>().ok().filter(|id| *id > 0);
        if id.is_none() {
            self.add(field, missing);
        }
        id.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::vocab::ItemKind;

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

    #[test]
    fn every_field_is_read_and_every_problem_noted() {
        let mut errors = FieldErrors::default();
        assert_eq!(errors.required("name", "  ", 10, "enter the name"), "");
        assert_eq!(errors.optional("acronym", "  ", 10), None);
        assert_eq!(errors.optional("note", " x ", 10), Some("x".into()));
        errors.text("summary", &"y".repeat(20_001), 20_000);
        errors.text("source", &"y".repeat(2_001), 2_000);
        assert_eq!(errors.money("amount", "1.234"), Decimal::ZERO);
        assert_eq!(errors.currency("currency", " eur ", &["EUR".into()]), "EUR");
        errors.currency("other_currency", "XXX", &["EUR".into()]);
        assert_eq!(
            errors.choice::<ItemKind>("kind", "component", "choose"),
            ItemKind::Component
        );
        errors.choice::<ItemKind>("kind2", "bogus", "choose a kind");
        errors.slug("slug", "Not A Slug", "use lowercase letters");
        errors.required_date("as_of", "", "enter the date");
        errors.date("start", "-5000-01-01");
        assert_eq!(errors.id("parent", "x", "choose the parent"), 0);
        assert_eq!(errors.get("name"), Some("enter the name"));
        assert_eq!(errors.get("summary"), Some("use at most 20,000 characters"));
        assert_eq!(errors.get("source"), Some("use at most 2000 characters"));
        assert_eq!(errors.get("amount"), Some("use at most two decimal places"));
        assert_eq!(
            errors.get("other_currency"),
            Some("unknown currency code XXX")
        );
        assert_eq!(errors.get("kind2"), Some("choose a kind"));
        assert_eq!(errors.get("as_of"), Some("enter the date"));
        assert_eq!(
            errors.get("start"),
            Some("use a year between 1900 and 2100")
        );
        assert_eq!(errors.get("parent"), Some("choose the parent"));
        assert_eq!(errors.get("slug"), Some("use lowercase letters"));
        for fine in ["acronym", "note", "currency", "kind"] {
            assert_eq!(errors.get(fine), None, "{fine}");
        }
        assert!(errors.into_result(()).is_err());
        assert_eq!(FieldErrors::default().into_result(7), Ok(7));
    }
}
