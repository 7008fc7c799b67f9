//! Amounts as people type them: `parse_amount` never panics, whatever it accepts is an
//! amount the database holds, and it reads back what the app writes for it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portfolio_tracker::domain::money::{MAX_AMOUNT, group_thousands, parse_amount, two_places};
use rust_decimal::Decimal;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_amount(text) {
        Ok(amount) => {
            assert!(amount >= Decimal::ZERO && amount <= Decimal::from(MAX_AMOUNT));
            assert!(amount.scale() <= 2);
            assert_eq!(parse_amount(&group_thousands(amount)), Ok(amount));
            assert_eq!(parse_amount(&two_places(amount)), Ok(amount));
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
