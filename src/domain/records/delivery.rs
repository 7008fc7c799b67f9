//! What an item delivers: its milestones (dated commitments) and targets (a number to
//! reach, with dated progress). Admins create and edit both; staff record progress and
//! mark milestones done.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::dates::PartialDate;
use crate::domain::forms::FieldErrors;
use crate::domain::records::budget::{NOTE_MAX, SOURCE_MAX, decimal_string};
use crate::domain::vocab::{MilestoneStatus, Vocabulary};

pub const TITLE_MAX: usize = 300;
pub const MEASURE_MAX: usize = 200;

pub const DUE_MISSING: &str =
    "enter when it is due, as precisely as known: 2008-02-13, 2008-11, 2008-Q3, 2008 or 2008-2009";
pub const DONE_ONLY_WHEN_DONE: &str =
    "only a done milestone has a date it was done: clear the date or mark it done";
pub const DONE_IN_FUTURE: &str = "the date it was done cannot be after today";
pub const TARGET_ABOVE_ZERO: &str = "enter the number to reach, above 0";

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct MilestoneForm {
    pub title: String,
    pub due: String,
    pub status: String,
    pub done_on: String,
    pub source_para: String,
    pub note: String,
    pub version: String,
}

/// A milestone's typed fields; also its audit record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MilestoneFields {
    pub title: String,
    pub due: PartialDate,
    pub status: MilestoneStatus,
    pub done_on: Option<PartialDate>,
    pub source_para: Option<String>,
    pub note: Option<String>,
}

impl MilestoneForm {
    pub fn blank() -> MilestoneForm {
        MilestoneForm {
            status: MilestoneStatus::Planned.as_str().into(),
            version: "0".into(),
            ..MilestoneForm::default()
        }
    }

    /// `today` bounds the date it was done (a milestone is not done tomorrow).
    pub fn validate(&self, today: NaiveDate) -> Result<MilestoneFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let due = errors.partial_date("due", &self.due);
        if due.is_none() && self.due.trim().is_empty() {
            errors.add("due", DUE_MISSING);
        }
        let status: MilestoneStatus = errors.choice(
            "status",
            &self.status,
            "choose planned, done, slipped or cancelled",
        );
        let done_on = errors.partial_date("done_on", &self.done_on);
        if let Some(done) = done_on {
            if status != MilestoneStatus::Done {
                errors.add("done_on", DONE_ONLY_WHEN_DONE);
            } else if done.first_day() > today {
                errors.add("done_on", DONE_IN_FUTURE);
            }
        }
        let fields = MilestoneFields {
            title: errors.required("title", &self.title, TITLE_MAX, "enter what is to be done"),
            due: due.unwrap_or(PartialDate::day(today)),
            status,
            done_on,
            source_para: errors.optional("source_para", &self.source_para, SOURCE_MAX),
            note: errors.optional("note", &self.note, NOTE_MAX),
        };
        errors.into_result(fields)
    }

    pub fn labelled(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Title", self.title.clone()),
            ("Due", self.due.clone()),
            ("Status", MilestoneStatus::label_for(&self.status)),
            ("Done on", self.done_on.clone()),
            ("Source paragraph", self.source_para.clone()),
            ("Note", self.note.clone()),
        ]
    }
}

impl MilestoneFields {
    /// The form that shows these fields (a stale save's "what is saved now").
    pub fn to_form(&self, version: i32) -> MilestoneForm {
        MilestoneForm {
            title: self.title.clone(),
            due: self.due.code(),
            status: self.status.as_str().into(),
            done_on: self.done_on.map(|d| d.code()).unwrap_or_default(),
            source_para: self.source_para.clone().unwrap_or_default(),
            note: self.note.clone().unwrap_or_default(),
            version: version.to_string(),
        }
    }
}

/// "Mark done" on the item page: staff say when (default today).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct MarkDoneForm {
    pub done_on: String,
    pub version: String,
}

impl MarkDoneForm {
    /// `saved` with its status done and the date it was done.
    pub fn apply(
        &self,
        saved: &MilestoneFields,
        today: NaiveDate,
    ) -> Result<MilestoneFields, FieldErrors> {
        MilestoneForm {
            status: MilestoneStatus::Done.as_str().into(),
            done_on: match self.done_on.trim() {
                "" => PartialDate::day(today).code(),
                typed => typed.to_string(),
            },
            ..saved.to_form(0)
        }
        .validate(today)
    }
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct TargetForm {
    pub measure: String,
    pub target_value: String,
    pub period: String,
    pub source_para: String,
    pub note: String,
    pub version: String,
}

/// A target's typed fields; also its audit record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetFields {
    pub measure: String,
    #[serde(serialize_with = "decimal_string")]
    pub target_value: Decimal,
    pub period: Option<PartialDate>,
    pub source_para: Option<String>,
    pub note: Option<String>,
}

impl TargetForm {
    pub fn blank() -> TargetForm {
        TargetForm {
            version: "0".into(),
            ..TargetForm::default()
        }
    }

    pub fn validate(&self) -> Result<TargetFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let target_value = errors.money("target_value", &self.target_value);
        if target_value <= Decimal::ZERO && errors.get("target_value").is_none() {
            errors.add("target_value", TARGET_ABOVE_ZERO);
        }
        let fields = TargetFields {
            measure: errors.required(
                "measure",
                &self.measure,
                MEASURE_MAX,
                "say what is counted, e.g. countries reached",
            ),
            target_value,
            period: errors.partial_date("period", &self.period),
            source_para: errors.optional("source_para", &self.source_para, SOURCE_MAX),
            note: errors.optional("note", &self.note, NOTE_MAX),
        };
        errors.into_result(fields)
    }

    pub fn labelled(&self) -> Vec<(&'static str, String)> {
        vec![
            ("What is counted", self.measure.clone()),
            ("Target", self.target_value.clone()),
            ("By", self.period.clone()),
            ("Source paragraph", self.source_para.clone()),
            ("Note", self.note.clone()),
        ]
    }
}

impl TargetFields {
    pub fn to_form(&self, version: i32) -> TargetForm {
        TargetForm {
            measure: self.measure.clone(),
            target_value: count_text(self.target_value),
            period: self.period.map(|d| d.code()).unwrap_or_default(),
            source_para: self.source_para.clone().unwrap_or_default(),
            note: self.note.clone().unwrap_or_default(),
            version: version.to_string(),
        }
    }
}

/// Progress toward a target, as staff record it.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ProgressForm {
    pub value: String,
    pub recorded_on: String,
    pub note: String,
    /// The target's version when the page was loaded: progress recorded by someone else
    /// in between is a conflict, not silently the older value.
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProgressFields {
    #[serde(serialize_with = "decimal_string")]
    pub value: Decimal,
    pub recorded_on: NaiveDate,
    pub note: Option<String>,
}

impl ProgressForm {
    pub fn validate(&self, today: NaiveDate) -> Result<ProgressFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let recorded_on = match errors.date("recorded_on", &self.recorded_on) {
            Some(day) if day > today => {
                errors.add(
                    "recorded_on",
                    "progress cannot be recorded for a day after today",
                );
                day
            }
            Some(day) => day,
            None => today,
        };
        let fields = ProgressFields {
            value: errors.money("value", &self.value),
            recorded_on,
            note: errors.optional("note", &self.note, NOTE_MAX),
        };
        errors.into_result(fields)
    }

    pub fn labelled(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Value", self.value.clone()),
            ("As of", self.recorded_on.clone()),
            ("Note", self.note.clone()),
        ]
    }
}

/// A count as people write it: `3`, `2.5`, `12,000` (no trailing `.00`).
pub fn count_text(value: Decimal) -> String {
    let normal = value.normalize();
    let whole = normal.trunc();
    let grouped = crate::domain::money::group_thousands(whole);
    let grouped = grouped.split('.').next().unwrap_or_default().to_string();
    match (normal - whole).is_zero() {
        true => grouped,
        false => {
            let fraction = (normal - whole).abs().to_string();
            format!("{grouped}{}", fraction.trim_start_matches('0'))
        }
    }
}

/// How far a target is reached, in whole percent, at most 100 (for the bar; the text
/// says the numbers).
pub fn percent_reached(current: Decimal, target: Decimal) -> u32 {
    if target <= Decimal::ZERO {
        return 0;
    }
    use rust_decimal::prelude::ToPrimitive;
    let percent = (current / target * Decimal::ONE_HUNDRED).round();
    percent.to_u32().map_or(0, |p| p.min(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a date")
    }

    #[test]
    fn a_milestone_keeps_the_precision_it_is_typed_with() {
        let form = MilestoneForm {
            title: "Expert meeting in Kenya".into(),
            due: "2008-Q3".into(),
            ..MilestoneForm::blank()
        };
        let fields = form.validate(day("2008-02-07")).expect("valid");
        assert_eq!(fields.due.to_string(), "Q3 2008");
        assert_eq!(fields.status, MilestoneStatus::Planned);
        assert_eq!(fields.to_form(3).due, "2008-Q3");
    }

    #[test]
    fn a_milestone_needs_a_title_and_a_due_date_and_a_done_date_only_when_done() {
        let errors = MilestoneForm {
            done_on: "2008-01".into(),
            ..MilestoneForm::blank()
        }
        .validate(day("2008-02-07"))
        .expect_err("refused");
        assert_eq!(errors.get("due"), Some(DUE_MISSING));
        assert!(errors.get("title").is_some());
        assert_eq!(errors.get("done_on"), Some(DONE_ONLY_WHEN_DONE));

        let done_tomorrow = MilestoneForm {
            title: "Launch".into(),
            due: "2008".into(),
            status: "done".into(),
            done_on: "2008-02-08".into(),
            ..MilestoneForm::blank()
        };
        let errors = done_tomorrow
            .validate(day("2008-02-07"))
            .expect_err("refused");
        assert_eq!(errors.get("done_on"), Some(DONE_IN_FUTURE));
    }

    #[test]
    fn mark_done_keeps_the_rest_and_defaults_to_today() {
        let saved = MilestoneForm {
            title: "Launch".into(),
            due: "2008".into(),
            note: "kept".into(),
            ..MilestoneForm::blank()
        }
        .validate(day("2008-02-07"))
        .expect("valid");
        let done = MarkDoneForm::default()
            .apply(&saved, day("2008-05-02"))
            .expect("valid");
        assert_eq!(done.status, MilestoneStatus::Done);
        assert_eq!(
            done.done_on.map(|d| d.code()).as_deref(),
            Some("2008-05-02")
        );
        assert_eq!(done.note.as_deref(), Some("kept"));
    }

    #[test]
    fn a_target_is_a_number_above_zero_and_progress_is_not_in_the_future() {
        let errors = TargetForm {
            measure: "consultations held".into(),
            target_value: "0".into(),
            ..TargetForm::blank()
        }
        .validate()
        .expect_err("refused");
        assert_eq!(errors.get("target_value"), Some(TARGET_ABOVE_ZERO));
        let progress = ProgressForm {
            value: "3".into(),
            recorded_on: "2008-02-08".into(),
            ..ProgressForm::default()
        };
        assert!(progress.validate(day("2008-02-07")).is_err());
        let recorded = ProgressForm {
            recorded_on: String::new(),
            ..progress
        }
        .validate(day("2008-02-07"))
        .expect("valid");
        assert_eq!(recorded.recorded_on, day("2008-02-07"), "today by default");
    }

    #[test]
    fn counts_and_percentages_read_as_people_write_them() {
        assert_eq!(count_text(Decimal::new(300, 2)), "3");
        assert_eq!(count_text(Decimal::new(250, 2)), "2.5");
        assert_eq!(count_text(Decimal::from(12000)), "12,000");
        assert_eq!(percent_reached(Decimal::from(3), Decimal::from(3)), 100);
        assert_eq!(percent_reached(Decimal::from(1), Decimal::from(3)), 33);
        assert_eq!(percent_reached(Decimal::from(7), Decimal::from(5)), 100);
        assert_eq!(percent_reached(Decimal::ZERO, Decimal::from(5)), 0);
    }
}
