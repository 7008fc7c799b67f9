//! Recording what happened to a contribution: a pledge, a commitment, a payment, a
//! reduction or a cancellation, dated, with its source.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, Serializer};

use crate::domain::contribution_events::{Event, EventKind};
use crate::domain::dates::PartialDate;
use crate::domain::forms::FieldErrors;
use crate::domain::money::two_places;
use crate::domain::records::budget::NOTE_MAX;

/// Longer than a paragraph reference: an event's source may be a letter or a receipt.
pub const EVENT_SOURCE_MAX: usize = 300;

/// What the form (and the API) sends.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EventForm {
    pub kind: String,
    pub amount: String,
    pub on: String,
    pub source: String,
    pub note: String,
    /// Unused (an event is never edited); the editing pages' forms all carry one.
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventFields {
    /// The contribution it happened to.
    #[serde(skip)]
    pub contribution_id: i64,
    pub kind: EventKind,
    /// None for a cancellation.
    #[serde(serialize_with = "optional_decimal")]
    pub amount: Option<Decimal>,
    pub on: PartialDate,
    pub source: Option<String>,
    pub note: Option<String>,
}

fn optional_decimal<S: Serializer>(amount: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match amount {
        Some(a) => s.serialize_str(&two_places(*a)),
        None => s.serialize_none(),
    }
}

impl EventFields {
    pub fn event(&self) -> Event {
        Event {
            kind: self.kind,
            amount: self.amount,
            on: self.on,
        }
    }

    /// "Paid 1,000.00 (Q3 2008)", for the audit trail.
    pub fn summary(&self) -> String {
        match self.amount {
            Some(a) => format!("{} {} ({})", self.kind.label(), two_places(a), self.on),
            None => format!("{} ({})", self.kind.label(), self.on),
        }
    }
}

impl EventForm {
    /// The typed fields of an event of contribution `contribution_id`; an event may not
    /// be dated after `today` (it records what happened, not what is planned).
    pub fn validate(
        &self,
        contribution_id: i64,
        today: NaiveDate,
    ) -> Result<EventFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let kind = errors.choice::<EventKind>("kind", &self.kind, "choose what happened");
        let amount = match kind {
            EventKind::Cancelled => {
                if !self.amount.trim().is_empty() {
                    errors.add(
                        "amount",
                        "a cancellation has no amount: it cancels what is not paid",
                    );
                }
                None
            }
            _ if self.amount.trim().is_empty() => {
                errors.add("amount", "type the amount, in the contribution's currency");
                Some(Decimal::ZERO)
            }
            _ => Some(errors.money("amount", &self.amount)),
        };
        let on = match errors.partial_date("on", &self.on) {
            Some(on) if on.first_day() > today => {
                errors.add("on", "an event cannot be dated after today");
                on
            }
            Some(on) => on,
            None => {
                if self.on.trim().is_empty() {
                    errors.add(
                        "on",
                        "type the date it happened (2008-03-14, 2008-03, 2008-Q1, 2008)",
                    );
                }
                PartialDate::day(today)
            }
        };
        let fields = EventFields {
            contribution_id,
            kind,
            amount,
            on,
            source: errors.optional("source", &self.source, EVENT_SOURCE_MAX),
            note: errors.optional("note", &self.note, NOTE_MAX),
        };
        errors.into_result(fields)
    }

    pub fn labelled(&self) -> Vec<(&'static str, String)> {
        vec![
            ("What happened", self.kind.clone()),
            ("Amount", self.amount.clone()),
            ("Date", self.on.clone()),
            ("Source", self.source.clone()),
            ("Note", self.note.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a day")
    }

    fn form(kind: &str, amount: &str, on: &str) -> EventForm {
        EventForm {
            kind: kind.into(),
            amount: amount.into(),
            on: on.into(),
            ..EventForm::default()
        }
    }

    #[test]
    fn a_payment_keeps_its_amount_and_the_precision_of_its_date() {
        let f = form("paid", "1,000.50", "2008-Q3")
            .validate(1, day("2008-12-01"))
            .expect("valid");
        assert_eq!(f.kind, EventKind::Paid);
        assert_eq!(f.amount, Some(Decimal::new(100050, 2)));
        assert_eq!(f.on.code(), "2008-Q3");
        assert_eq!(f.summary(), "Paid 1000.50 (Q3 2008)");
    }

    #[test]
    fn each_mistake_is_named_on_its_field() {
        let e = form("", "", "")
            .validate(1, day("2008-12-01"))
            .expect_err("empty");
        assert!(e.get("kind").is_some() && e.get("on").is_some());
        let e = form("paid", "", "2009")
            .validate(1, day("2008-12-01"))
            .expect_err("later");
        assert!(e.get("amount").is_some());
        assert_eq!(e.get("on"), Some("an event cannot be dated after today"));
        let e = form("cancelled", "5", "2008")
            .validate(1, day("2008-12-01"))
            .expect_err("amount");
        assert!(e.get("amount").is_some_and(|m| m.contains("no amount")));
        let ok = form("cancelled", "", "2008")
            .validate(1, day("2008-12-01"))
            .expect("ok");
        assert_eq!(ok.amount, None);
    }
}
