//! Money parsing and display. Money is always `Decimal`, never a float.

use rust_decimal::{Decimal, RoundingStrategy};
use std::str::FromStr;

/// The largest amount accepted from a person: NUMERIC(18,2) holds 16 integer digits, and
/// nothing in a portfolio comes near a quadrillion.
pub const MAX_AMOUNT: i64 = 999_999_999_999_999;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("enter an amount, for example 19000000 or 19,000,000.50")]
    Empty,
    #[error("“{0}” is not an amount: use digits, optional thousands commas and a decimal point")]
    NotANumber(String),
    #[error("amounts cannot be negative")]
    Negative,
    #[error("use at most two decimal places")]
    TooManyDecimals,
    #[error(
        "that amount is larger than any budget this system accepts (at most 999,999,999,999,999)"
    )]
    TooLarge,
}

/// Parses an amount typed by a person: `19000000`, `19,000,000`, `19000000.50`.
/// Commas are accepted only as thousands separators in groups of three.
pub fn parse_amount(input: &str) -> Result<Decimal, MoneyError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(MoneyError::Empty);
    }
    if text.starts_with('-') {
        return Err(MoneyError::Negative);
    }
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    let digits =
        strip_thousands_commas(int_part).ok_or_else(|| MoneyError::NotANumber(text.to_string()))?;
    if let Some(frac) = frac_part {
        if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MoneyError::NotANumber(text.to_string()));
        }
        if frac.len() > 2 {
            return Err(MoneyError::TooManyDecimals);
        }
    }
    if digits.trim_start_matches('0').len() > 15 {
        return Err(MoneyError::TooLarge);
    }
    let normalised = match frac_part {
        Some(frac) => format!("{digits}.{frac}"),
        None => digits,
    };
    let amount =
        Decimal::from_str(&normalised).map_err(|_| MoneyError::NotANumber(text.to_string()))?;
    if amount > Decimal::from(MAX_AMOUNT) {
        return Err(MoneyError::TooLarge);
    }
    Ok(amount)
}

/// `19,000,000` → `19000000`; `None` for anything that is not digits in proper groups.
fn strip_thousands_commas(int_part: &str) -> Option<String> {
    if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit() || b == b',') {
        return None;
    }
    if !int_part.contains(',') {
        return Some(int_part.to_string());
    }
    let groups: Vec<&str> = int_part.split(',').collect();
    let first_ok = (1..=3).contains(&groups[0].len());
    let rest_ok = groups[1..].iter().all(|g| g.len() == 3);
    (first_ok && rest_ok).then(|| groups.concat())
}

/// `19000000` → `19,000,000`; `1234.5` → `1,234.50`. Whole amounts show no cents.
pub fn group_thousands(amount: Decimal) -> String {
    let rounded = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    let negative = rounded.is_sign_negative() && !rounded.is_zero();
    let abs = rounded.abs();
    let whole = abs.trunc();
    let cents = ((abs - whole) * Decimal::ONE_HUNDRED).trunc();
    let digits = whole.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 4);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    if !cents.is_zero() {
        grouped.push_str(&format!(".{cents:0>2}"));
    }
    if negative {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// `USD 19,000,000`, `EUR 18,000,000`.
pub fn format_money(amount: Decimal, currency: &str) -> String {
    format!("{currency} {}", group_thousands(amount))
}

/// Decimal string with exactly two places, as the JSON API promises: `"19000000.00"`.
pub fn two_places(amount: Decimal) -> String {
    let mut d = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    d.rescale(2);
    d.to_string()
}

/// An amount converted to USD at a rate, rounded to the cent half away from zero: the
/// arithmetic of the `budgets_usd` / `contributions_usd` views (`round(amount * rate, 2)`),
/// for the dashboards, which convert while loading (a test holds both to the same figures).
/// None when the product is beyond what a decimal holds.
pub fn to_usd(amount: Decimal, usd_per_unit: Decimal) -> Option<Decimal> {
    amount
        .checked_mul(usd_per_unit)
        .map(|usd| usd.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
}

/// A three-letter ISO 4217 code, stored inline: the dashboards keep one per gift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// ISO 4217's code for "no currency": stands in for a code that is not three letters
    /// (the database allows none such).
    pub const UNKNOWN: Currency = Currency(*b"XXX");

    /// The code as the database stores it (`CHAR(3)`): three ASCII letters.
    pub fn new(code: &str) -> Option<Currency> {
        let bytes: [u8; 3] = code.trim_end().as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_alphabetic)
            .then_some(Currency(bytes))
    }

    pub fn as_str(&self) -> &str {
        // three ASCII letters, checked in `new`
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Coverage as a whole percentage for display: 0.3684 → `37 %`.
pub fn percent(ratio: Decimal) -> String {
    let pct = (ratio * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    format!("{pct} %")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn accepts_the_forms_people_type() {
        assert_eq!(parse_amount("19000000"), Ok(dec!(19000000)));
        assert_eq!(parse_amount("19,000,000"), Ok(dec!(19000000)));
        assert_eq!(parse_amount(" 19000000.50 "), Ok(dec!(19000000.50)));
        assert_eq!(parse_amount("0.5"), Ok(dec!(0.5)));
    }

    #[test]
    fn rejects_what_is_not_money() {
        assert_eq!(parse_amount(""), Err(MoneyError::Empty));
        assert_eq!(parse_amount("-5"), Err(MoneyError::Negative));
        assert_eq!(parse_amount("1.234"), Err(MoneyError::TooManyDecimals));
        assert_eq!(
            parse_amount("1e6"),
            Err(MoneyError::NotANumber("1e6".into()))
        );
        assert!(matches!(
            parse_amount("19,00,000"),
            Err(MoneyError::NotANumber(_))
        ));
        assert!(matches!(parse_amount("1."), Err(MoneyError::NotANumber(_))));
        assert!(matches!(
            parse_amount("NaN"),
            Err(MoneyError::NotANumber(_))
        ));
        assert_eq!(parse_amount("9999999999999999"), Err(MoneyError::TooLarge));
        assert_eq!(
            parse_amount("999999999999999.99"),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn formats_for_reading() {
        assert_eq!(group_thousands(dec!(19000000)), "19,000,000");
        assert_eq!(group_thousands(dec!(1234.5)), "1,234.50");
        assert_eq!(group_thousands(dec!(999)), "999");
        assert_eq!(group_thousands(dec!(0)), "0");
        assert_eq!(format_money(dec!(18000000), "EUR"), "EUR 18,000,000");
    }

    #[test]
    fn two_places_for_the_api() {
        assert_eq!(two_places(dec!(19000000)), "19000000.00");
        assert_eq!(two_places(dec!(26535000.005)), "26535000.01");
    }

    #[test]
    fn converts_as_the_database_rounds() {
        assert_eq!(to_usd(dec!(200000), dec!(0.18568)), Some(dec!(37136)));
        assert_eq!(
            to_usd(dec!(0.05), dec!(0.5)),
            Some(dec!(0.03)),
            "half away from zero"
        );
        assert_eq!(to_usd(dec!(12860), dec!(1.381987)), Some(dec!(17772.35)));
        assert_eq!(to_usd(Decimal::MAX, dec!(2)), None);
    }

    #[test]
    fn currencies_are_three_letters() {
        assert_eq!(
            Currency::new("EUR").map(|c| c.to_string()),
            Some("EUR".into())
        );
        assert_eq!(Currency::new("EU"), None);
        assert_eq!(Currency::new("E1R"), None);
        assert!(Currency::new("CHF") < Currency::new("EUR"));
    }

    #[test]
    fn percent_rounds_half_up() {
        assert_eq!(percent(dec!(0.368421)), "37 %");
        assert_eq!(percent(dec!(1)), "100 %");
    }
}
