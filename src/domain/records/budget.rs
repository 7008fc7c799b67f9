//! A budget of an item: an amount in its currency, as of a date (which picks the
//! exchange rate), with the paragraph of the report it comes from.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, Serializer};

use crate::domain::forms::{FieldErrors, ticked};
use crate::domain::money::{group_thousands, parse_amount, two_places};
use crate::domain::records::yes_no;

pub const PERIOD_MAX: usize = 100;
pub const SOURCE_MAX: usize = 100;
pub const NOTE_MAX: usize = 2000;

pub const AS_OF_MISSING: &str =
    "enter the date the figure applies to (YYYY-MM-DD): it picks the exchange rate";

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct BudgetForm {
    pub amount: String,
    pub currency: String,
    pub approximate: Option<String>,
    pub period: String,
    pub as_of: String,
    pub source_para: String,
    pub note: String,
    /// Ticked to save although no exchange rate converts the amount yet.
    pub without_rate: Option<String>,
    pub version: String,
}

/// The fields a person edits; also the audit record's before / after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetFields {
    #[serde(serialize_with = "decimal_string")]
    pub amount: Decimal,
    pub currency: String,
    pub approximate: bool,
    pub period: Option<String>,
    pub as_of: NaiveDate,
    pub source_para: Option<String>,
    pub note: Option<String>,
}

/// Audit trails show amounts as decimal strings with two places, never as JSON numbers
/// (which readers may parse as floats).
pub fn decimal_string<S: Serializer>(amount: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&two_places(*amount))
}

/// A currency and month that no exchange rate converts yet: an amount saved with them
/// is shown in its own currency, not in USD, until an admin adds the rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoRate {
    pub currency: String,
    /// The first day of the month.
    pub month: NaiveDate,
}

/// The field of the "save without a USD figure" checkbox.
pub const WITHOUT_RATE: &str = "without_rate";

impl NoRate {
    /// "March 2008"
    pub fn month_label(&self) -> String {
        self.month.format("%B %Y").to_string()
    }

    /// What the form says before it saves such an amount.
    pub fn warning(&self) -> String {
        format!(
            "there is no {} exchange rate for {} yet: the amount will be shown as {} (not \
             converted) and left out of the USD totals until the rate is added. Tick “Save \
             without a USD figure” to save it anyway, or add the rate first",
            self.currency,
            self.month_label(),
            self.currency
        )
    }
}

/// The currency and date an amount form converts with, when both read and the currency
/// is not USD: what to look a rate up for before saving.
pub fn rate_needed(currency: &str, as_of: &str) -> Option<(String, NaiveDate)> {
    let currency = currency.trim().to_ascii_uppercase();
    if currency == "USD" || currency.len() != 3 {
        return None;
    }
    let as_of = crate::domain::forms::parse_date(as_of).ok().flatten()?;
    Some((currency, crate::domain::funding::first_of_month(as_of)))
}

/// A form's result with the missing-rate check: an amount no rate converts is saved only
/// once the person has ticked `without_rate`; until then the form comes back with the
/// warning beside its other messages (and everything typed).
pub fn confirm_without_rate<T>(
    result: Result<T, FieldErrors>,
    no_rate: Option<&NoRate>,
    confirmed: &Option<String>,
) -> Result<T, FieldErrors> {
    let Some(no_rate) = no_rate.filter(|_| !ticked(confirmed)) else {
        return result;
    };
    let mut errors = result.err().unwrap_or_default();
    errors.add(WITHOUT_RATE, no_rate.warning());
    Err(errors)
}

/// An amount as typed, written the way the saved one is shown, so that "7000000" and
/// "7,000,000" do not count as a difference in a conflict.
pub fn comparable_amount(typed: &str) -> String {
    parse_amount(typed).map_or_else(|_| typed.to_string(), group_thousands)
}

/// `about USD 7,000,000` when the source gives a rounded figure.
pub fn amount_text(amount: Decimal, currency: &str, approximate: bool) -> String {
    let money = crate::domain::money::format_money(amount, currency);
    if approximate {
        format!("about {money}")
    } else {
        money
    }
}

/// `USD 7,000,000 → USD 7,500,000`, or the amount alone when it did not change.
pub fn change(before: String, after: String) -> String {
    if before == after {
        after
    } else {
        format!("{before} → {after}")
    }
}

impl BudgetForm {
    pub fn is_approximate(&self) -> bool {
        ticked(&self.approximate)
    }

    /// `currencies`: the codes the database knows.
    pub fn validate(&self, currencies: &[String]) -> Result<BudgetFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let fields = BudgetFields {
            amount: errors.money("amount", &self.amount),
            currency: errors.currency("currency", &self.currency, currencies),
            approximate: self.is_approximate(),
            period: errors.optional("period", &self.period, PERIOD_MAX),
            as_of: errors.required_date("as_of", &self.as_of, AS_OF_MISSING),
            source_para: errors.optional("source_para", &self.source_para, SOURCE_MAX),
            note: errors.optional("note", &self.note, NOTE_MAX),
        };
        errors.into_result(fields)
    }

    pub fn labelled(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Amount", comparable_amount(&self.amount)),
            ("Currency", self.currency.clone()),
            ("Approximate", yes_no(self.is_approximate())),
            ("Period", self.period.clone()),
            ("As of", self.as_of.clone()),
            ("Source paragraph", self.source_para.clone()),
            ("Note", self.note.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(amount: &str, currency: &str, as_of: &str) -> BudgetForm {
        BudgetForm {
            amount: amount.into(),
            currency: currency.into(),
            as_of: as_of.into(),
            version: "1".into(),
            ..BudgetForm::default()
        }
    }

    fn known() -> Vec<String> {
        vec!["USD".into(), "EUR".into()]
    }

    #[test]
    fn a_valid_budget_form_becomes_fields() {
        let fields = form("19,000,000.50", " eur ", "2008-02-07")
            .validate(&known())
            .expect("valid");
        assert_eq!(fields.amount, Decimal::new(1_900_000_050, 2));
        assert_eq!(fields.currency, "EUR");
        assert_eq!(fields.period, None);
        assert!(!fields.approximate);
    }

    #[test]
    fn every_field_gets_its_own_message() {
        let errors = form("-5", "XXX", "")
            .validate(&known())
            .expect_err("invalid");
        assert_eq!(errors.get("amount"), Some("amounts cannot be negative"));
        assert_eq!(errors.get("currency"), Some("unknown currency code XXX"));
        assert!(
            errors
                .get("as_of")
                .is_some_and(|m| m.contains("exchange rate"))
        );
        let errors = form("1", "USD", "1066-10-14")
            .validate(&known())
            .expect_err("invalid");
        assert_eq!(
            errors.get("as_of"),
            Some("use a year between 1900 and 2100")
        );
    }

    #[test]
    fn conflicts_compare_amounts_not_spellings() {
        assert_eq!(comparable_amount("7000000"), "7,000,000");
        assert_eq!(comparable_amount("7,000,000.00"), "7,000,000");
        assert_eq!(comparable_amount("abc"), "abc");
    }

    #[test]
    fn a_rate_is_looked_up_for_other_currencies_by_month() {
        let march = NaiveDate::from_ymd_opt(2008, 3, 1);
        assert_eq!(
            rate_needed(" nok ", "2008-03-17"),
            Some(("NOK".to_string(), march.expect("a date")))
        );
        assert_eq!(rate_needed("USD", "2008-03-17"), None);
        assert_eq!(rate_needed("NOK", ""), None);
        assert_eq!(rate_needed("NOK", "17 March"), None);
    }

    #[test]
    fn an_amount_without_a_rate_is_saved_only_when_confirmed() {
        let no_rate = NoRate {
            currency: "NOK".into(),
            month: NaiveDate::from_ymd_opt(2008, 3, 1).expect("a date"),
        };
        let warned = confirm_without_rate(Ok(1), Some(&no_rate), &None).expect_err("warned");
        let warning = warned.get(WITHOUT_RATE).expect("the warning");
        assert!(
            warning.starts_with("there is no NOK exchange rate for March 2008 yet"),
            "{warning}"
        );
        assert_eq!(
            confirm_without_rate(Ok(1), Some(&no_rate), &Some("on".into())),
            Ok(1)
        );
        assert_eq!(confirm_without_rate(Ok(1), None, &None), Ok(1));
        // the warning joins the form's other messages rather than hiding them
        let both = confirm_without_rate::<i32>(
            Err(FieldErrors::one("amount", "enter an amount")),
            Some(&no_rate),
            &None,
        )
        .expect_err("refused");
        assert_eq!(both.len(), 2);
    }
}
