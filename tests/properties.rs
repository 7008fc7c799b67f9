//! Property tests of every parser the server owns: whatever a person or a query string
//! sends, the parser answers without panicking, a bad value gets a message a person can
//! read (never an empty one), and values the app writes itself read back as written.

use chrono::{Datelike, NaiveDate};
use proptest::prelude::*;
use rust_decimal::Decimal;

use portfolio_tracker::domain::filters::RawFilters;
use portfolio_tracker::domain::forms::{FieldErrors, YEARS, parse_date};
use portfolio_tracker::domain::money::{
    Currency, MAX_AMOUNT, group_thousands, parse_amount, two_places,
};
use portfolio_tracker::domain::records::budget::BudgetForm;
use portfolio_tracker::domain::records::item::ItemForm;
use portfolio_tracker::domain::records::organisation::OrganisationForm;
use portfolio_tracker::domain::search::{TextIndex, normalise};
use portfolio_tracker::domain::slug;
use portfolio_tracker::domain::vocab::{ItemKind, ItemStatus};
use portfolio_tracker::web::dashboard::SortKey;
use portfolio_tracker::web::pages::overview::parse_page;

/// Text as hostile clients send it: any Unicode, or ASCII with the characters parsers
/// split on, or near-misses of valid values.
fn input() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9,.\\- +eE_]{0,24}",
        "[ -~]{0,40}",
        "[a-z0-9-]{0,30}",
        "[0-9]{1,5}-[0-9]{1,3}-[0-9]{1,3}",
    ]
}

/// An amount the app can hold: at most 15 integer digits and two decimals, not negative.
fn amount() -> impl Strategy<Value = Decimal> {
    (0..=MAX_AMOUNT, 0u32..=2, 0i64..100).prop_map(|(units, scale, cents)| {
        let cents = match scale {
            0 => 0,
            1 => cents % 10,
            _ => cents,
        };
        Decimal::from(units) + Decimal::new(cents, scale)
    })
}

/// Each message a set of field errors holds, for the fields a form has.
fn messages<'a>(errors: &'a FieldErrors, fields: &[&str]) -> Vec<&'a str> {
    let found: Vec<&str> = fields.iter().filter_map(|f| errors.get(f)).collect();
    assert_eq!(found.len(), errors.len(), "a message for an unknown field");
    found
}

proptest! {
    #[test]
    fn amounts_never_panic_and_say_what_is_wrong(raw in input()) {
        match parse_amount(&raw) {
            Ok(amount) => {
                prop_assert!(amount >= Decimal::ZERO);
                prop_assert!(amount <= Decimal::from(MAX_AMOUNT));
                prop_assert!(amount.scale() <= 2);
            }
            Err(e) => prop_assert!(!e.to_string().trim().is_empty()),
        }
    }

    #[test]
    fn amounts_read_back_as_the_app_writes_them(amount in amount()) {
        // grouped for people (19,000,000.50) and plain for spreadsheets (19000000.50)
        prop_assert_eq!(parse_amount(&group_thousands(amount)), Ok(amount));
        prop_assert_eq!(parse_amount(&two_places(amount)), Ok(amount));
        prop_assert_eq!(parse_amount(&format!("  {amount} ")), Ok(amount));
    }

    #[test]
    fn negative_and_over_precise_amounts_are_refused(amount in amount()) {
        let negative = format!("-{}", two_places(amount));
        prop_assert!(parse_amount(&negative).is_err());
        let precise = format!("{}1", two_places(amount));
        prop_assert!(parse_amount(&precise).is_err());
    }

    #[test]
    fn formatting_any_decimal_never_panics(mantissa in any::<i64>(), scale in 0u32..=28) {
        let d = Decimal::new(mantissa, scale);
        let _ = group_thousands(d);
        let _ = two_places(d);
        let _ = portfolio_tracker::domain::money::percent(d);
    }

    #[test]
    fn currency_codes_are_three_ascii_letters(raw in input()) {
        match Currency::new(&raw) {
            Some(code) => {
                prop_assert_eq!(code.as_str().len(), 3);
                prop_assert!(code.as_str().bytes().all(|b| b.is_ascii_alphabetic()));
                prop_assert_eq!(Currency::new(code.as_str()), Some(code));
            }
            None => prop_assert!(raw.trim_end().len() != 3
                || !raw.trim_end().bytes().all(|b| b.is_ascii_alphabetic())),
        }
    }

    #[test]
    fn currency_fields_name_the_problem(raw in input()) {
        let known = vec!["EUR".to_string(), "USD".to_string()];
        let mut errors = FieldErrors::default();
        let code = errors.currency("currency", &raw, &known);
        if known.contains(&code) {
            prop_assert!(errors.is_empty());
        } else {
            let message = errors.get("currency").unwrap_or_default();
            prop_assert!(!message.is_empty());
            // the echo of what was typed is cut short
            prop_assert!(message.chars().count() < 60, "{}", message);
        }
    }

    #[test]
    fn dates_never_panic_and_say_what_is_wrong(raw in input()) {
        match parse_date(&raw) {
            Ok(Some(date)) => prop_assert!(YEARS.contains(&date.year())),
            Ok(None) => prop_assert!(raw.trim().is_empty()),
            Err(message) => prop_assert!(!message.is_empty()),
        }
    }

    #[test]
    fn dates_read_back(days in 0i64..(201 * 366)) {
        let start = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default();
        let date = start + chrono::Duration::days(days);
        prop_assume!(YEARS.contains(&date.year()));
        prop_assert_eq!(parse_date(&date.to_string()), Ok(Some(date)));
    }

    #[test]
    fn form_fields_never_panic_and_leave_a_message(raw in input(), max in 0usize..50) {
        let mut errors = FieldErrors::default();
        let _ = errors.required("title", &raw, max, "give a title");
        let _ = errors.slug("slug", &raw, "use lowercase words");
        let _ = errors.slug_or_from("other_slug", "", &raw, "use lowercase words");
        let _ = errors.money("amount", &raw);
        let _ = errors.date("as_of", &raw);
        let _ = errors.required_date("start", &raw, "give a date");
        let _ = errors.choice::<ItemKind>("kind", &raw, "choose a kind");
        let _ = errors.choice::<ItemStatus>("status", &raw, "choose a status");
        let id = errors.id("parent", &raw, "choose a parent");
        prop_assert!(id >= 0);
        for message in messages(
            &errors,
            &["title", "slug", "other_slug", "amount", "as_of", "start", "kind", "status", "parent"],
        ) {
            prop_assert!(!message.trim().is_empty());
        }
    }

    #[test]
    fn whole_forms_never_panic_and_leave_a_message(
        a in input(), b in input(), c in input(), d in input(), e in input()
    ) {
        let item = ItemForm {
            title: a.clone(),
            slug: b.clone(),
            kind: c.clone(),
            parent: d.clone(),
            status: e.clone(),
            start_date: c.clone(),
            end_date: d.clone(),
            places: e.clone(),
            version: a.clone(),
            ..ItemForm::default()
        };
        if let Err(errors) = item.validate() {
            prop_assert!(!errors.is_empty());
            let fields = [
                "title", "slug", "kind", "parent", "report_section", "status", "status_note",
                "summary", "description", "period", "start_date", "end_date", "places",
                "source_paras", "published", "publish_components", "internal_notes", "version",
            ];
            for message in messages(&errors, &fields) {
                prop_assert!(!message.trim().is_empty());
            }
        }
        let budget = BudgetForm {
            amount: a.clone(),
            currency: b.clone(),
            as_of: c.clone(),
            period: d.clone(),
            version: e.clone(),
            ..BudgetForm::default()
        };
        if let Err(errors) = budget.validate(&["USD".to_string(), "EUR".to_string()]) {
            prop_assert!(!errors.is_empty());
            let fields = [
                "amount", "currency", "approximate", "period", "as_of", "source_para", "note",
                "without_rate", "version",
            ];
            for message in messages(&errors, &fields) {
                prop_assert!(!message.trim().is_empty());
            }
        }
        let organisation = OrganisationForm {
            slug: a,
            name: b,
            acronym: c,
            kind: d,
            version: e,
            ..OrganisationForm::default()
        };
        if let Err(errors) = organisation.validate() {
            prop_assert!(!errors.is_empty());
            let fields = ["slug", "name", "acronym", "kind", "source_paras", "version"];
            for message in messages(&errors, &fields) {
                prop_assert!(!message.trim().is_empty());
            }
        }
    }

    #[test]
    fn filters_never_panic_and_name_the_bad_value(
        kind in input(), status in input(), biennium in input(), funding in input(),
        open in input()
    ) {
        let raw = RawFilters {
            kind: kind.clone(),
            status,
            theme: open.clone(),
            result_area: open.clone(),
            organisation: open.clone(),
            place: open.clone(),
            biennium,
            funding,
        };
        match raw.parse() {
            Ok(filters) => {
                // open values are kept trimmed, and the pairs for links read back the same
                prop_assert_eq!(filters.theme.as_deref(), Some(open.trim()).filter(|s| !s.is_empty()));
                let pairs = filters.pairs();
                let get = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()).unwrap_or_default();
                let again = RawFilters {
                    kind: get("kind"),
                    status: get("status"),
                    theme: get("theme"),
                    result_area: get("result_area"),
                    organisation: get("organisation"),
                    place: get("place"),
                    biennium: get("biennium"),
                    funding: get("funding"),
                };
                prop_assert_eq!(again.parse(), Ok(filters));
            }
            Err(message) => {
                prop_assert!(message.starts_with("Unknown "), "{}", message);
                prop_assert!(message.contains("Use one of:"), "{}", message);
            }
        }
        if !kind.is_empty() && ItemKind::parse(&kind).is_none() {
            prop_assert!(raw.parse().is_err());
        }
    }

    #[test]
    fn sort_keys_and_page_numbers_never_panic(raw in input()) {
        match SortKey::parse(&raw, &SortKey::ALL) {
            Ok(key) => prop_assert!(raw.is_empty() || key.as_str() == raw),
            Err(e) => prop_assert!(!e.to_string().trim().is_empty()),
        }
        match parse_page(Some(&raw)) {
            Ok(page) => prop_assert!(page >= 1),
            Err(e) => prop_assert!(e.to_string().contains("page number")),
        }
    }

    #[test]
    fn page_numbers_read_back(page in 1usize..=1_000_000) {
        prop_assert_eq!(parse_page(Some(&page.to_string())).ok(), Some(page));
    }

    #[test]
    fn slugs_made_from_names_are_valid(name in input()) {
        let made = slug::from_name(&name);
        prop_assert!(made.is_empty() || slug::is_valid(&made), "{:?} -> {:?}", name, made);
        prop_assert!(made.len() <= slug::MAX_LEN);
        if slug::is_valid(&name) {
            prop_assert_eq!(slug::from_name(&name), name);
        }
    }

    #[test]
    fn search_normalisation_is_stable_and_finds_the_text_itself(text in input(), query in input()) {
        let once = normalise(&text);
        prop_assert_eq!(normalise(&once), once.clone());
        let index = TextIndex::new([text.clone(), String::new()]);
        let _ = index.search(&query, 10);
        // a text is found by its own (first-line) words
        let first = text.split('\n').next().unwrap_or_default();
        if !normalise(first.trim()).is_empty() {
            prop_assert_eq!(index.search(first, 10), vec![0]);
        }
    }
}
