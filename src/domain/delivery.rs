//! Delivery: each item's milestones and targets as the dashboards hold them, and the
//! rules about time ("overdue", "due soon") that take today's date as an argument, so
//! that they can be tested for any day.

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use std::collections::HashMap;

use crate::domain::dates::PartialDate;
use crate::domain::records::delivery::{count_text, percent_reached};
use crate::domain::vocab::MilestoneStatus;

/// How far ahead "due soon" looks.
pub const DUE_SOON_DAYS: u64 = 90;

#[derive(Debug, Clone)]
pub struct Milestone {
    pub id: i64,
    pub item_id: i64,
    pub title: String,
    pub due: PartialDate,
    pub status: MilestoneStatus,
    pub done_on: Option<PartialDate>,
    pub source_para: Option<String>,
    pub note: Option<String>,
    pub version: i32,
}

impl Milestone {
    /// Still planned, and the whole period it was due in is over: a milestone due in
    /// Q3 2008 is overdue from 1 October 2008.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.status == MilestoneStatus::Planned && self.due.ended_before(today)
    }

    /// Planned, and its due period ends within `days` from today (not overdue yet).
    pub fn is_due_within(&self, today: NaiveDate, days: u64) -> bool {
        let horizon = today
            .checked_add_days(Days::new(days))
            .unwrap_or(NaiveDate::MAX);
        self.status == MilestoneStatus::Planned
            && !self.is_overdue(today)
            && self.due.last_day() <= horizon
    }

    /// What the page says of where it stands: "Done (November 2007)", "Overdue".
    pub fn standing(&self, today: NaiveDate) -> String {
        match (self.status, self.done_on) {
            (MilestoneStatus::Done, Some(on)) => format!("Done ({on})"),
            (MilestoneStatus::Planned, _) if self.is_overdue(today) => "Overdue".into(),
            (status, _) => status.label().into(),
        }
    }
}

/// Progress toward a target, as recorded.
#[derive(Debug, Clone)]
pub struct ProgressUpdate {
    pub value: Decimal,
    pub recorded_on: NaiveDate,
    pub note: Option<String>,
    /// Who recorded it: an account's name or address, `seed` for the report's figures.
    pub recorded_by: String,
}

#[derive(Debug, Clone)]
pub struct Target {
    pub id: i64,
    pub item_id: i64,
    pub measure: String,
    pub target_value: Decimal,
    pub period: Option<PartialDate>,
    pub source_para: Option<String>,
    pub note: Option<String>,
    pub version: i32,
    /// Oldest first; the last is the current value.
    pub updates: Vec<ProgressUpdate>,
}

impl Target {
    /// The latest recorded value; none recorded is not zero, it is unknown.
    pub fn current(&self) -> Option<Decimal> {
        self.updates.last().map(|u| u.value)
    }

    /// "3 of 3 expert consultations held", or "target 5 countries assisted" when no
    /// progress is recorded.
    pub fn progress_text(&self) -> String {
        let target = count_text(self.target_value);
        match self.current() {
            Some(value) => format!("{} of {target} {}", count_text(value), self.measure),
            None => format!("target {target} {} (no progress recorded)", self.measure),
        }
    }

    pub fn percent(&self) -> Option<u32> {
        self.current()
            .map(|value| percent_reached(value, self.target_value))
    }
}

/// Every item's milestones and targets, with each item's looked up once.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    /// By due date (first day, then the narrower period), then id.
    pub milestones: Vec<Milestone>,
    /// As entered.
    pub targets: Vec<Target>,
    milestones_of: HashMap<i64, Vec<usize>>,
    targets_of: HashMap<i64, Vec<usize>>,
    /// Milestones by deadline: the last day of their due period, the narrower period
    /// first (Q4 2008 before "2008", both due by 31 December).
    by_deadline: Vec<usize>,
}

impl Delivery {
    pub fn new(mut milestones: Vec<Milestone>, targets: Vec<Target>) -> Delivery {
        milestones.sort_by(|a, b| a.due.cmp(&b.due).then(a.id.cmp(&b.id)));
        let mut milestones_of: HashMap<i64, Vec<usize>> = HashMap::new();
        for (i, m) in milestones.iter().enumerate() {
            milestones_of.entry(m.item_id).or_default().push(i);
        }
        let mut targets_of: HashMap<i64, Vec<usize>> = HashMap::new();
        for (i, t) in targets.iter().enumerate() {
            targets_of.entry(t.item_id).or_default().push(i);
        }
        let mut by_deadline: Vec<usize> = (0..milestones.len()).collect();
        by_deadline.sort_by_key(|&i| {
            let due = milestones[i].due;
            (
                due.last_day(),
                std::cmp::Reverse(due.first_day()),
                milestones[i].id,
            )
        });
        Delivery {
            milestones,
            targets,
            milestones_of,
            targets_of,
            by_deadline,
        }
    }

    pub fn milestones_of(&self, item_id: i64) -> impl Iterator<Item = &Milestone> {
        self.milestones_of
            .get(&item_id)
            .into_iter()
            .flatten()
            .map(|&i| &self.milestones[i])
    }

    pub fn targets_of(&self, item_id: i64) -> impl Iterator<Item = &Target> {
        self.targets_of
            .get(&item_id)
            .into_iter()
            .flatten()
            .map(|&i| &self.targets[i])
    }

    fn by_deadline(&self) -> impl Iterator<Item = &Milestone> {
        self.by_deadline.iter().map(|&i| &self.milestones[i])
    }

    /// Planned milestones whose due period is over, most overdue first.
    pub fn overdue(&self, today: NaiveDate) -> impl Iterator<Item = &Milestone> {
        self.by_deadline().filter(move |m| m.is_overdue(today))
    }

    /// Planned milestones due within `days`, the nearest deadline first.
    pub fn due_within(&self, today: NaiveDate, days: u64) -> impl Iterator<Item = &Milestone> {
        self.by_deadline()
            .filter(move |m| m.is_due_within(today, days))
    }

    /// Slipped milestones, by deadline.
    pub fn slipped(&self) -> impl Iterator<Item = &Milestone> {
        self.by_deadline()
            .filter(|m| m.status == MilestoneStatus::Slipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a date")
    }

    fn milestone(id: i64, due: &str, status: MilestoneStatus) -> Milestone {
        Milestone {
            id,
            item_id: 1,
            title: format!("m{id}"),
            due: PartialDate::parse(due).expect("a date"),
            status,
            done_on: None,
            source_para: None,
            note: None,
            version: 1,
        }
    }

    #[test]
    fn overdue_and_due_soon_depend_on_the_day_asked_and_the_due_precision() {
        let delivery = Delivery::new(
            vec![
                milestone(1, "2008-Q3", MilestoneStatus::Planned),
                milestone(2, "2008-02-13", MilestoneStatus::Planned),
                milestone(3, "2008", MilestoneStatus::Planned),
                milestone(4, "2007-11", MilestoneStatus::Done),
                milestone(5, "2008-01", MilestoneStatus::Slipped),
            ],
            vec![],
        );
        let ids = |it: &mut dyn Iterator<Item = &Milestone>| it.map(|m| m.id).collect::<Vec<_>>();
        // the report's date: nothing planned is late yet
        assert!(ids(&mut delivery.overdue(day("2008-02-07"))).is_empty());
        assert_eq!(ids(&mut delivery.due_within(day("2008-02-07"), 90)), [2]);
        // 1 October 2008: the Forum and Q3 are past; "2008" is not over until 2009
        assert_eq!(ids(&mut delivery.overdue(day("2008-10-01"))), [2, 1]);
        // both due by 31 December: the narrower period first
        let q4 = Delivery::new(
            vec![
                milestone(6, "2008", MilestoneStatus::Planned),
                milestone(7, "2008-Q4", MilestoneStatus::Planned),
            ],
            vec![],
        );
        assert_eq!(ids(&mut q4.due_within(day("2008-10-15"), 90)), [7, 6]);
        assert_eq!(ids(&mut delivery.due_within(day("2008-10-15"), 90)), [3]);
        assert!(ids(&mut delivery.overdue(day("2008-09-30"))).contains(&2));
        assert!(!ids(&mut delivery.overdue(day("2008-09-30"))).contains(&1));
        assert_eq!(ids(&mut delivery.slipped()), [5]);
        assert_eq!(delivery.milestones_of(1).count(), 5);
        assert_eq!(delivery.milestones_of(2).count(), 0);
    }

    #[test]
    fn a_target_without_progress_is_unknown_not_zero() {
        let mut target = Target {
            id: 1,
            item_id: 1,
            measure: "expert consultations held".into(),
            target_value: Decimal::from(3),
            period: None,
            source_para: None,
            note: None,
            version: 1,
            updates: vec![],
        };
        assert_eq!(target.current(), None);
        assert_eq!(target.percent(), None);
        assert!(target.progress_text().contains("no progress recorded"));
        for value in [1, 3] {
            target.updates.push(ProgressUpdate {
                value: Decimal::from(value),
                recorded_on: day("2008-10-01"),
                note: None,
                recorded_by: "staff@example.org".into(),
            });
        }
        assert_eq!(target.progress_text(), "3 of 3 expert consultations held");
        assert_eq!(target.percent(), Some(100));
    }
}
