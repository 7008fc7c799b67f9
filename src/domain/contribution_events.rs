//! A contribution's life as dated events, and what they add up to: the one place where
//! a contribution's pledged, firm (committed or paid) and paid amounts, and its status,
//! follow from what happened to it.
//!
//! Rules, applied in date order:
//! - `pledged a`: the pledge grows by `a` (a cancelled contribution is pledged anew).
//! - `committed a`: `a` more is committed; a commitment beyond the pledge pledges it too.
//! - `paid a`: `a` more is paid; a payment is committed and pledged money as well.
//! - `reduced a`: the pledge shrinks by `a`, never below what is paid; the commitment
//!   shrinks with it when it no longer fits.
//! - `cancelled`: what is not paid is off: pledged and committed fall to what is paid.
//!
//! The status is `paid` when payments cover the pledge, `committed` when commitments do,
//! `cancelled` when a cancellation left nothing, and `pledged` otherwise. "As at" a date
//! counts only the events known to have happened by then: those whose period (a payment
//! "in Q3 2008") is over by that day. Each event's money is converted at its own month's
//! rate (the month of that last day), so the funding figures are sums of events' changes
//! ([`Standing::apply`]) rather than of contributions.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::domain::dates::PartialDate;
use crate::domain::funding::Counted;
use crate::domain::vocab::ContributionStatus;
pub use crate::domain::vocab::EventKind;

/// One thing that happened to a contribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// In the contribution's currency; None for a cancellation.
    pub amount: Option<Decimal>,
    pub on: PartialDate,
}

impl Event {
    /// The day by which it had certainly happened: the last day of its period. "As at"
    /// and the exchange rate go by it.
    pub fn known_by(&self) -> NaiveDate {
        self.on.last_day()
    }

    fn amount(&self) -> Decimal {
        self.amount.unwrap_or(Decimal::ZERO)
    }
}

/// What a contribution's events add up to, in its currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    pub pledged: Decimal,
    /// Committed or paid.
    pub firm: Decimal,
    pub paid: Decimal,
    cancelled: bool,
    committed_seen: bool,
    paid_seen: bool,
}

/// How one event changed the three amounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Change {
    pub pledged: Decimal,
    pub firm: Decimal,
    pub paid: Decimal,
}

impl Change {
    /// The change split by the figure each part counts in: money pledged only, committed
    /// and not paid, paid. Their sum is the change of the pledge.
    pub fn parts(&self) -> [(Counted, Decimal); 3] {
        [
            (Counted::Pledged, self.pledged - self.firm),
            (Counted::Committed, self.firm - self.paid),
            (Counted::Paid, self.paid),
        ]
    }

    pub fn is_zero(&self) -> bool {
        self.pledged.is_zero() && self.firm.is_zero() && self.paid.is_zero()
    }
}

impl Standing {
    /// What `events` (in date order) add up to.
    pub fn of<'a>(events: impl IntoIterator<Item = &'a Event>) -> Standing {
        let mut standing = Standing::default();
        for e in events {
            standing.apply(e);
        }
        standing
    }

    /// What the events known by `day` add up to; None when none is (the contribution did
    /// not exist yet as far as anyone knew).
    pub fn as_at<'a>(
        events: impl IntoIterator<Item = &'a Event>,
        day: NaiveDate,
    ) -> Option<Standing> {
        let mut counted = events
            .into_iter()
            .filter(|e| e.known_by() <= day)
            .peekable();
        counted.peek()?;
        Some(Standing::of(counted))
    }

    /// Applies one event and says how it changed the amounts.
    pub fn apply(&mut self, e: &Event) -> Change {
        let before = *self;
        let a = e.amount();
        match e.kind {
            EventKind::Pledged => {
                self.pledged += a;
                self.cancelled = false;
            }
            EventKind::Committed => {
                self.firm += a;
                self.pledged = self.pledged.max(self.firm);
                self.committed_seen = true;
            }
            EventKind::Paid => {
                self.paid += a;
                self.firm = self.firm.max(self.paid);
                self.pledged = self.pledged.max(self.firm);
                self.paid_seen = true;
            }
            EventKind::Reduced => {
                self.pledged = (self.pledged - a).max(self.paid);
                self.firm = self.firm.min(self.pledged);
            }
            EventKind::Cancelled => {
                self.pledged = self.paid;
                self.firm = self.paid;
                self.cancelled = true;
            }
        }
        Change {
            pledged: self.pledged - before.pledged,
            firm: self.firm - before.firm,
            paid: self.paid - before.paid,
        }
    }

    pub fn status(&self) -> ContributionStatus {
        if self.cancelled && self.pledged.is_zero() {
            ContributionStatus::Cancelled
        } else if self.paid_seen && self.paid >= self.pledged {
            ContributionStatus::Paid
        } else if (self.committed_seen || self.paid_seen) && self.firm >= self.pledged {
            ContributionStatus::Committed
        } else {
            ContributionStatus::Pledged
        }
    }

    /// The events that bring this standing to a pledge of `amount` at `status` on `on`:
    /// what a form or the API that sets a contribution's amount and status records. A
    /// status goes forward only (a payment cannot be taken back by changing a status),
    /// and a pledge cannot fall below what is paid; the error says what to do instead.
    pub fn events_to_reach(
        &self,
        amount: Decimal,
        status: ContributionStatus,
        on: PartialDate,
    ) -> Result<Vec<Event>, &'static str> {
        let event = |kind, amount| Event { kind, amount, on };
        let current = self.status();
        if status == ContributionStatus::Cancelled {
            return Ok(match current {
                ContributionStatus::Cancelled => vec![],
                _ => vec![event(EventKind::Cancelled, None)],
            });
        }
        if rank(status) < rank(current) {
            return Err(STATUS_BACKWARDS);
        }
        if amount < self.paid {
            return Err(BELOW_PAID);
        }
        let mut events = Vec::new();
        if amount > self.pledged || current == ContributionStatus::Cancelled {
            events.push(event(EventKind::Pledged, Some(amount - self.pledged)));
        } else if amount < self.pledged {
            events.push(event(EventKind::Reduced, Some(self.pledged - amount)));
        }
        let mut after = *self;
        for e in &events {
            after.apply(e);
        }
        match status {
            ContributionStatus::Paid if after.status() != ContributionStatus::Paid => {
                events.push(event(EventKind::Paid, Some(amount - after.paid)));
            }
            ContributionStatus::Committed if after.status() != ContributionStatus::Committed => {
                events.push(event(EventKind::Committed, Some(amount - after.firm)));
            }
            _ => {}
        }
        Ok(events)
    }

    /// Whether `e` may be recorded now; the message says why not.
    pub fn accepts(&self, e: &Event) -> Result<(), &'static str> {
        match e.kind {
            EventKind::Reduced if e.amount() > self.pledged - self.paid => Err(REDUCED_TOO_FAR),
            EventKind::Cancelled if self.status() == ContributionStatus::Cancelled => {
                Err(ALREADY_CANCELLED)
            }
            EventKind::Cancelled if self.pledged == self.paid => Err(NOTHING_TO_CANCEL),
            _ => Ok(()),
        }
    }
}

/// Statuses in the order a contribution moves through them.
fn rank(status: ContributionStatus) -> u8 {
    match status {
        ContributionStatus::Cancelled => 0,
        ContributionStatus::Pledged => 1,
        ContributionStatus::Committed => 2,
        ContributionStatus::Paid => 3,
    }
}

pub const STATUS_BACKWARDS: &str = "a status only moves forward (pledged, committed, paid): \
    to take money back, record a reduction or a cancellation on the contribution's events";
pub const BELOW_PAID: &str =
    "the amount cannot be less than what is already paid; record a reduction of what is unpaid";
pub const REDUCED_TOO_FAR: &str =
    "a reduction can take off at most what is pledged and not yet paid";
pub const ALREADY_CANCELLED: &str = "the contribution is already cancelled";
pub const NOTHING_TO_CANCEL: &str = "everything pledged is paid: there is nothing left to cancel";

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn on(text: &str) -> PartialDate {
        PartialDate::parse(text).expect("a date")
    }

    fn e(kind: EventKind, amount: Option<Decimal>, date: &str) -> Event {
        Event {
            kind,
            amount,
            on: on(date),
        }
    }

    #[test]
    fn one_event_stands_for_a_contribution_as_it_was() {
        for (kind, status) in [
            (EventKind::Pledged, ContributionStatus::Pledged),
            (EventKind::Committed, ContributionStatus::Committed),
            (EventKind::Paid, ContributionStatus::Paid),
        ] {
            let s = Standing::of(&[e(kind, Some(dec!(100)), "2008-02-07")]);
            assert_eq!((s.pledged, s.status()), (dec!(100), status));
        }
        let paid = Standing::of(&[e(EventKind::Paid, Some(dec!(100)), "2008-02-07")]);
        assert_eq!((paid.firm, paid.paid), (dec!(100), dec!(100)));
        let zero = Standing::of(&[e(EventKind::Paid, Some(dec!(0)), "2008-02-07")]);
        assert_eq!(zero.status(), ContributionStatus::Paid);
    }

    #[test]
    fn payments_in_instalments_leave_it_committed_until_the_last() {
        let events = [
            e(EventKind::Pledged, Some(dec!(300)), "2008-01-10"),
            e(EventKind::Committed, Some(dec!(300)), "2008-03"),
            e(EventKind::Paid, Some(dec!(100)), "2008-Q2"),
            e(EventKind::Paid, Some(dec!(200)), "2008-11-30"),
        ];
        let s = Standing::of(&events[..3]);
        assert_eq!(
            (s.pledged, s.firm, s.paid, s.status()),
            (
                dec!(300),
                dec!(300),
                dec!(100),
                ContributionStatus::Committed
            )
        );
        assert_eq!(Standing::of(&events).status(), ContributionStatus::Paid);
    }

    #[test]
    fn as_at_counts_only_events_known_by_that_day() {
        let events = [
            e(EventKind::Pledged, Some(dec!(300)), "2008-01-10"),
            e(EventKind::Paid, Some(dec!(100)), "2008-Q2"),
        ];
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("day");
        assert_eq!(Standing::as_at(&events, day("2008-01-09")), None);
        let january = Standing::as_at(&events, day("2008-01-31")).expect("pledged by then");
        assert_eq!((january.pledged, january.paid), (dec!(300), dec!(0)));
        // a payment "in Q2" is known to have happened only once the quarter is over
        let june = Standing::as_at(&events, day("2008-06-29")).expect("pledged");
        assert_eq!(june.paid, dec!(0));
        let july = Standing::as_at(&events, day("2008-06-30")).expect("pledged");
        assert_eq!(july.paid, dec!(100));
    }

    #[test]
    fn a_reduction_never_takes_back_what_is_paid_and_a_cancellation_keeps_it() {
        let mut s = Standing::of(&[
            e(EventKind::Pledged, Some(dec!(300)), "2008-01-10"),
            e(EventKind::Paid, Some(dec!(100)), "2008-02-01"),
        ]);
        assert_eq!(
            s.accepts(&e(EventKind::Reduced, Some(dec!(250)), "2008-03-01")),
            Err(REDUCED_TOO_FAR)
        );
        let change = s.apply(&e(EventKind::Cancelled, None, "2008-03-01"));
        assert_eq!(change.pledged, dec!(-200));
        assert_eq!(
            (s.pledged, s.status()),
            (dec!(100), ContributionStatus::Paid)
        );
        let mut nothing_paid = Standing::of(&[e(EventKind::Pledged, Some(dec!(50)), "2008")]);
        nothing_paid.apply(&e(EventKind::Cancelled, None, "2009"));
        assert_eq!(nothing_paid.status(), ContributionStatus::Cancelled);
        assert_eq!(
            nothing_paid.accepts(&e(EventKind::Cancelled, None, "2009")),
            Err(ALREADY_CANCELLED)
        );
    }

    #[test]
    fn changes_split_into_the_figures_they_count_in_and_sum_to_the_standing() {
        let events = [
            e(EventKind::Pledged, Some(dec!(300)), "2008-01-10"),
            e(EventKind::Committed, Some(dec!(200)), "2008-02-01"),
            e(EventKind::Paid, Some(dec!(50)), "2008-03-01"),
            e(EventKind::Reduced, Some(dec!(120)), "2008-04-01"),
        ];
        let mut s = Standing::default();
        let (mut pledged_only, mut committed, mut paid) = (dec!(0), dec!(0), dec!(0));
        for ev in &events {
            let [(_, p), (_, c), (_, d)] = s.apply(ev).parts();
            (pledged_only, committed, paid) = (pledged_only + p, committed + c, paid + d);
        }
        assert_eq!(
            (s.pledged, s.firm, s.paid),
            (dec!(180), dec!(180), dec!(50))
        );
        assert_eq!(pledged_only + committed + paid, s.pledged);
        assert_eq!(committed + paid, s.firm);
        assert_eq!(paid, s.paid);
    }

    #[test]
    fn a_form_reaches_the_amount_and_status_it_asks_for_with_events() {
        let start = Standing::of(&[e(EventKind::Pledged, Some(dec!(100)), "2008-02-07")]);
        let when = on("2008-05-01");
        for (amount, status) in [
            (dec!(100), ContributionStatus::Pledged),
            (dec!(150), ContributionStatus::Pledged),
            (dec!(80), ContributionStatus::Committed),
            (dec!(120), ContributionStatus::Paid),
            (dec!(0), ContributionStatus::Pledged),
        ] {
            let events = start
                .events_to_reach(amount, status, when)
                .expect("reachable");
            let mut after = start;
            for ev in &events {
                assert_eq!(ev.on, when);
                after.apply(ev);
            }
            assert_eq!(
                (after.pledged, after.status()),
                (amount, status),
                "{events:?}"
            );
        }
        assert!(
            start
                .events_to_reach(dec!(100), ContributionStatus::Pledged, when)
                .expect("nothing to do")
                .is_empty()
        );
        let paid = Standing::of(&[e(EventKind::Paid, Some(dec!(100)), "2008-02-07")]);
        assert_eq!(
            paid.events_to_reach(dec!(100), ContributionStatus::Pledged, when),
            Err(STATUS_BACKWARDS)
        );
        assert_eq!(
            paid.events_to_reach(dec!(90), ContributionStatus::Paid, when),
            Err(BELOW_PAID)
        );
        let cancel = start
            .events_to_reach(dec!(100), ContributionStatus::Cancelled, when)
            .expect("cancellable");
        assert_eq!(cancel.len(), 1);
        assert_eq!(
            Standing::of(&cancel).status(),
            ContributionStatus::Cancelled
        );
    }
}
