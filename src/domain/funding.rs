//! Funding arithmetic: the one place where budget, pledged, firm, gap and coverage are
//! defined. Every page and the JSON API read their figures from [`Funding`].
//!
//! Rules:
//! - `gap = max(budget − pledged, 0)` and `coverage = pledged / budget`, per item.
//! - A budget the source does not state is unknown: gap and coverage are then unknown,
//!   never 0 % and never "fully funded".
//! - A parent rolls up its own figures and its children's. Gaps add up part by part, so
//!   a surplus in one part never hides a shortfall in another. A part whose budget is
//!   unknown makes the rolled-up budget and gap lower bounds.

use crate::domain::money::Currency;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::ops::{Add, AddAssign};

/// Which figure an amount without a rate would have counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Counted {
    Budget,
    /// A contribution that is pledged only.
    Pledged,
    /// Committed, not yet paid.
    Committed,
    Paid,
}

impl Counted {
    /// A contribution at its status: `firm` (committed or paid), `paid`.
    pub fn contribution(firm: bool, paid: bool) -> Counted {
        match (firm, paid) {
            (_, true) => Counted::Paid,
            (true, false) => Counted::Committed,
            (false, false) => Counted::Pledged,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Counted::Budget => "budget",
            Counted::Pledged => "pledged",
            Counted::Committed => "committed",
            Counted::Paid => "paid",
        }
    }

    /// Committed or paid.
    pub fn is_firm(self) -> bool {
        matches!(self, Counted::Committed | Counted::Paid)
    }

    pub fn is_paid(self) -> bool {
        self == Counted::Paid
    }
}

/// An amount as stated: its currency, the date it applies to, and the amount.
pub type Original = (Currency, NaiveDate, Decimal);

/// Amounts that no exchange rate converts to USD, kept in their own currencies: they
/// are never a USD figure (least of all 0), so every total that leaves them out can say
/// which money it leaves out, and why (no rate for that currency and month).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Unconverted {
    /// Sums per (figure, currency, month of the rate that is missing), sorted.
    sums: Vec<(Counted, Currency, NaiveDate, Decimal)>,
    /// How many amounts the sums hold.
    count: u32,
}

impl Unconverted {
    /// One amount of `currency` dated in `month` (any day of it) that has no rate.
    pub fn one(counted: Counted, currency: Currency, month: NaiveDate, amount: Decimal) -> Self {
        let mut u = Unconverted::default();
        u.add(counted, currency, month, amount);
        u
    }

    pub fn add(&mut self, counted: Counted, currency: Currency, on: NaiveDate, amount: Decimal) {
        let month = first_of_month(on);
        self.count += 1;
        let key = (counted, currency, month);
        match self
            .sums
            .binary_search_by(|&(c, cur, m, _)| (c, cur, m).cmp(&key))
        {
            Ok(at) => self.sums[at].3 += amount,
            Err(at) => self.sums.insert(at, (counted, currency, month, amount)),
        }
    }

    /// Adds the amounts of another.
    pub fn absorb(&mut self, other: &Unconverted) {
        if other.count == 0 {
            return;
        }
        for &(counted, currency, month, amount) in &other.sums {
            self.add(counted, currency, month, amount);
            self.count -= 1;
        }
        self.count += other.count;
    }

    /// The sums per (figure, currency, month without a rate), in that order.
    pub fn sums(&self) -> &[(Counted, Currency, NaiveDate, Decimal)] {
        &self.sums
    }

    /// How many amounts are left out.
    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Sums per currency of the amounts counted as one of `figures`, by currency code.
    fn per_currency(&self, figures: &[Counted]) -> Vec<(Currency, Decimal)> {
        let mut sums: Vec<(Currency, Decimal)> = Vec::new();
        for &(counted, currency, _, amount) in &self.sums {
            if !figures.contains(&counted) {
                continue;
            }
            match sums.binary_search_by(|(c, _)| c.cmp(&currency)) {
                Ok(at) => sums[at].1 += amount,
                Err(at) => sums.insert(at, (currency, amount)),
            }
        }
        sums
    }

    /// Stated budgets left out, per currency.
    pub fn budget(&self) -> Vec<(Currency, Decimal)> {
        self.per_currency(&[Counted::Budget])
    }

    /// Contributions left out of the pledged figure (every status), per currency.
    pub fn pledged(&self) -> Vec<(Currency, Decimal)> {
        self.per_currency(&[Counted::Pledged, Counted::Committed, Counted::Paid])
    }

    /// Committed or paid contributions left out, per currency.
    pub fn firm(&self) -> Vec<(Currency, Decimal)> {
        self.per_currency(&[Counted::Committed, Counted::Paid])
    }

    /// Paid contributions left out, per currency.
    pub fn paid(&self) -> Vec<(Currency, Decimal)> {
        self.per_currency(&[Counted::Paid])
    }

    /// The rates that are missing: each (currency, month) once, by currency then month.
    pub fn missing_rates(&self) -> Vec<(Currency, NaiveDate)> {
        let mut missing: Vec<(Currency, NaiveDate)> =
            self.sums.iter().map(|&(_, c, m, _)| (c, m)).collect();
        missing.sort_unstable();
        missing.dedup();
        missing
    }
}

/// The first day of the date's month: the month an exchange rate is given for.
pub fn first_of_month(date: NaiveDate) -> NaiveDate {
    // Day 1 exists in every month; the fallback is never taken.
    NaiveDate::from_ymd_opt(
        chrono::Datelike::year(&date),
        chrono::Datelike::month(&date),
        1,
    )
    .unwrap_or(date)
}

/// One item's own figures, already converted to USD, before any roll-up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OwnFigures {
    /// Sum of the item's stated budgets; `None` when the source states none.
    pub budget_usd: Option<Decimal>,
    /// All contributions at their current status.
    pub pledged_usd: Decimal,
    /// Contributions that are committed or paid.
    pub firm_usd: Decimal,
    /// Contributions that are paid.
    pub paid_usd: Decimal,
    /// Amounts that could not be converted because no exchange rate exists for them.
    pub unconverted: Unconverted,
    /// Whether the item has components of its own.
    pub has_children: bool,
}

impl OwnFigures {
    /// A parent with no budget and no money of its own is only a container: its budget is
    /// the sum of its parts. Every other item without a stated budget has an unknown one.
    fn budget_missing(&self) -> bool {
        self.budget_usd.is_none() && (!self.has_children || self.pledged_usd > Decimal::ZERO)
    }

    /// Adds a stated budget: its USD value, or (None) the original left out.
    pub fn add_budget(&mut self, usd: Option<Decimal>, original: Original) {
        match usd {
            Some(usd) => *self.budget_usd.get_or_insert(Decimal::ZERO) += usd,
            None => self.leave_out(Counted::Budget, original),
        }
    }

    /// Adds a contribution counted as `counted`: its USD value, or (None) the original
    /// left out.
    pub fn add_contribution(&mut self, usd: Option<Decimal>, counted: Counted, original: Original) {
        let Some(usd) = usd else {
            self.leave_out(counted, original);
            return;
        };
        self.pledged_usd += usd;
        if counted.is_firm() {
            self.firm_usd += usd;
        }
        if counted.is_paid() {
            self.paid_usd += usd;
        }
    }

    fn leave_out(&mut self, counted: Counted, (currency, on, amount): Original) {
        self.unconverted.add(counted, currency, on, amount);
    }
}

#[cfg(test)]
impl OwnFigures {
    /// A component's figures, for tests here and in the charts: budget, pledged, firm
    /// and paid.
    pub fn money(budget: Option<Decimal>, pledged: Decimal, firm: Decimal, paid: Decimal) -> Self {
        OwnFigures {
            budget_usd: budget,
            pledged_usd: pledged,
            firm_usd: firm,
            paid_usd: paid,
            ..OwnFigures::default()
        }
    }
}

/// A summable tally of one or more items' own figures. Roll-ups and cross-item totals
/// (a result area, the whole portfolio) are sums of tallies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    budgeted_items: u32,
    items_missing_budget: u32,
    budget_usd: Decimal,
    /// Pledged to items whose budget is stated: the numerator of coverage.
    pledged_against_budget_usd: Decimal,
    gap_usd: Decimal,
    pledged_usd: Decimal,
    firm_usd: Decimal,
    paid_usd: Decimal,
    unconverted: Unconverted,
}

impl From<&OwnFigures> for Tally {
    fn from(own: &OwnFigures) -> Self {
        let mut tally = Tally {
            pledged_usd: own.pledged_usd,
            firm_usd: own.firm_usd,
            paid_usd: own.paid_usd,
            unconverted: own.unconverted.clone(),
            items_missing_budget: u32::from(own.budget_missing()),
            ..Tally::default()
        };
        if let Some(budget) = own.budget_usd {
            tally.budgeted_items = 1;
            tally.budget_usd = budget;
            tally.pledged_against_budget_usd = own.pledged_usd;
            tally.gap_usd = (budget - own.pledged_usd).max(Decimal::ZERO);
        }
        tally
    }
}

impl AddAssign<&Tally> for Tally {
    fn add_assign(&mut self, other: &Tally) {
        self.budgeted_items += other.budgeted_items;
        self.items_missing_budget += other.items_missing_budget;
        self.budget_usd += other.budget_usd;
        self.pledged_against_budget_usd += other.pledged_against_budget_usd;
        self.gap_usd += other.gap_usd;
        self.pledged_usd += other.pledged_usd;
        self.firm_usd += other.firm_usd;
        self.paid_usd += other.paid_usd;
        self.unconverted.absorb(&other.unconverted);
    }
}

impl Add for Tally {
    type Output = Tally;
    fn add(mut self, other: Tally) -> Tally {
        self += &other;
        self
    }
}

impl<'a> std::iter::Sum<&'a Tally> for Tally {
    fn sum<I: Iterator<Item = &'a Tally>>(iter: I) -> Tally {
        iter.fold(Tally::default(), |mut sum, t| {
            sum += t;
            sum
        })
    }
}

impl std::iter::Sum for Tally {
    fn sum<I: Iterator<Item = Tally>>(iter: I) -> Tally {
        iter.fold(Tally::default(), Add::add)
    }
}

/// The figures a person reads for an item, a group of items or the whole portfolio.
#[derive(Debug, Clone, PartialEq)]
pub struct Funding {
    /// `None`: no budget stated anywhere in scope.
    pub budget_usd: Option<Decimal>,
    pub pledged_usd: Decimal,
    pub firm_usd: Decimal,
    pub paid_usd: Decimal,
    /// `None` when the budget is unknown.
    pub gap_usd: Option<Decimal>,
    /// pledged / budget over the parts whose budget is stated; `None` when unknown.
    pub coverage: Option<Decimal>,
    /// Pledged to parts whose budget is not stated: in `pledged_usd`, outside coverage.
    pub pledged_outside_budget_usd: Decimal,
    /// Some part in scope has no stated budget: budget and gap are lower bounds.
    pub budget_is_lower_bound: bool,
    /// How many parts in scope have no stated budget.
    pub parts_without_budget: u32,
    /// Amounts left out because no exchange rate converts them to USD.
    pub unconverted: Unconverted,
}

impl Funding {
    /// Pledged but not yet committed or paid.
    pub fn pledged_only_usd(&self) -> Decimal {
        self.pledged_usd - self.firm_usd
    }

    /// Committed but not yet paid.
    pub fn committed_only_usd(&self) -> Decimal {
        self.firm_usd - self.paid_usd
    }

    /// Every stated budget is fully pledged (and no part is of unknown budget).
    pub fn is_fully_funded(&self) -> bool {
        self.gap_usd == Some(Decimal::ZERO) && !self.budget_is_lower_bound
    }
}

impl From<Tally> for Funding {
    fn from(t: Tally) -> Self {
        let budget_known = t.budgeted_items > 0;
        let coverage = (budget_known && t.budget_usd > Decimal::ZERO)
            .then(|| t.pledged_against_budget_usd / t.budget_usd);
        Funding {
            budget_usd: budget_known.then_some(t.budget_usd),
            pledged_usd: t.pledged_usd,
            firm_usd: t.firm_usd,
            paid_usd: t.paid_usd,
            gap_usd: budget_known.then_some(t.gap_usd),
            coverage,
            pledged_outside_budget_usd: t.pledged_usd - t.pledged_against_budget_usd,
            budget_is_lower_bound: budget_known && t.items_missing_budget > 0,
            parts_without_budget: t.items_missing_budget,
            unconverted: t.unconverted,
        }
    }
}

/// Rolls up a forest of items. `parents[i]` is the index of item `i`'s parent, if any.
/// Returns one tally per item covering the item and all its descendants. Cycles (which
/// the database forbids only for direct self-reference) are cut rather than looped on.
pub fn roll_up(own: &[OwnFigures], parents: &[Option<usize>]) -> Vec<Tally> {
    let mut rolled: Vec<Tally> = own.iter().map(Tally::from).collect();
    for (item, own_tally) in own.iter().map(Tally::from).enumerate() {
        let mut ancestor = parents[item];
        let mut steps = 0;
        while let Some(a) = ancestor {
            if a == item || steps > own.len() {
                break;
            }
            rolled[a] += &own_tally;
            ancestor = parents[a];
            steps += 1;
        }
    }
    rolled
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn leaf(budget: Option<Decimal>, pledged: Decimal, firm: Decimal) -> OwnFigures {
        OwnFigures::money(budget, pledged, firm, Decimal::ZERO)
    }

    /// A container of parts, with the money of its own (if any).
    fn parent(own: OwnFigures) -> OwnFigures {
        OwnFigures {
            has_children: true,
            ..own
        }
    }

    #[test]
    fn guinea_bissau_gap_and_coverage() {
        let f = Funding::from(Tally::from(&leaf(
            Some(dec!(19000000)),
            dec!(7000000),
            dec!(0),
        )));
        assert_eq!(f.budget_usd, Some(dec!(19000000)));
        assert_eq!(f.gap_usd, Some(dec!(12000000)));
        let pct = (f.coverage.unwrap() * dec!(100)).round();
        assert_eq!(pct, dec!(37));
        assert!(!f.budget_is_lower_bound);
        assert!(!f.is_fully_funded());
    }

    #[test]
    fn gap_never_negative_when_overfunded() {
        let f = Funding::from(Tally::from(&leaf(Some(dec!(100)), dec!(150), dec!(150))));
        assert_eq!(f.gap_usd, Some(dec!(0)));
        assert_eq!(f.coverage, Some(dec!(1.5)));
        assert!(f.is_fully_funded());
    }

    #[test]
    fn unknown_budget_means_unknown_gap_and_coverage() {
        let f = Funding::from(Tally::from(&leaf(None, dec!(26000000), dec!(26000000))));
        assert_eq!(f.budget_usd, None);
        assert_eq!(f.gap_usd, None);
        assert_eq!(f.coverage, None);
        assert!(!f.is_fully_funded());
        assert_eq!(f.pledged_usd, dec!(26000000));
    }

    /// The Rainbow Strategy's shape: the budgeted part has nothing, the pledges go to a
    /// part whose budget is not stated.
    #[test]
    fn pledges_to_parts_without_a_budget_stay_outside_coverage() {
        let tallies = roll_up(
            &[
                parent(OwnFigures::default()),
                leaf(Some(dec!(28000000)), dec!(0), dec!(0)),
                leaf(None, dec!(14000000), dec!(0)),
            ],
            &[None, Some(0), Some(0)],
        );
        let f = Funding::from(tallies[0].clone());
        assert_eq!(f.coverage, Some(dec!(0)));
        assert_eq!(f.pledged_usd, dec!(14000000));
        assert_eq!(f.pledged_outside_budget_usd, dec!(14000000));
        assert_eq!(f.gap_usd, Some(dec!(28000000)));
        assert!(f.budget_is_lower_bound);
        let budgeted = Funding::from(tallies[1].clone());
        assert_eq!(budgeted.pledged_outside_budget_usd, dec!(0));
    }

    #[test]
    fn zero_budget_has_no_coverage_ratio() {
        let f = Funding::from(Tally::from(&leaf(Some(dec!(0)), dec!(0), dec!(0))));
        assert_eq!(f.gap_usd, Some(dec!(0)));
        assert_eq!(f.coverage, None);
    }

    #[test]
    fn firm_counts_committed_and_paid_only() {
        let own = OwnFigures::money(Some(dec!(10)), dec!(9), dec!(5), dec!(2));
        let f = Funding::from(Tally::from(&own));
        assert_eq!(f.firm_usd, dec!(5));
        assert_eq!(f.pledged_only_usd(), dec!(4));
        assert_eq!(f.committed_only_usd(), dec!(3));
        assert_eq!(f.gap_usd, Some(dec!(1)));
    }

    #[test]
    fn parent_rolls_up_children_and_own_figures() {
        // parent (own budget 10, pledged 4) with children budget 20/pledged 25 and 30/pledged 0
        let own = vec![
            parent(leaf(Some(dec!(10)), dec!(4), dec!(0))),
            leaf(Some(dec!(20)), dec!(25), dec!(25)),
            leaf(Some(dec!(30)), dec!(0), dec!(0)),
        ];
        let rolled = roll_up(&own, &[None, Some(0), Some(0)]);
        let f = Funding::from(rolled[0].clone());
        assert_eq!(f.budget_usd, Some(dec!(60)));
        assert_eq!(f.pledged_usd, dec!(29));
        assert_eq!(f.firm_usd, dec!(25));
        // 6 + 0 + 30: the surplus of the second child does not hide the third's gap
        assert_eq!(f.gap_usd, Some(dec!(36)));
        assert!(!f.budget_is_lower_bound);
        assert_eq!(Funding::from(rolled[1].clone()).gap_usd, Some(dec!(0)));
    }

    #[test]
    fn child_with_unknown_budget_makes_parent_a_lower_bound() {
        let own = vec![
            parent(OwnFigures::default()),
            leaf(Some(dec!(28000000)), dec!(0), dec!(0)),
            leaf(None, dec!(14000000), dec!(0)),
        ];
        let rolled = roll_up(&own, &[None, Some(0), Some(0)]);
        let f = Funding::from(rolled[0].clone());
        assert_eq!(f.budget_usd, Some(dec!(28000000)));
        assert_eq!(f.gap_usd, Some(dec!(28000000)));
        assert!(f.budget_is_lower_bound);
        assert_eq!(f.parts_without_budget, 1);
        assert_eq!(f.pledged_usd, dec!(14000000));
        // coverage only relates money to the budgets it was pledged against
        assert_eq!(f.coverage, Some(dec!(0)));
        assert!(!f.is_fully_funded());
    }

    #[test]
    fn container_whose_parts_all_lack_budgets_is_unknown() {
        let own = vec![parent(OwnFigures::default()), leaf(None, dec!(0), dec!(0))];
        let f = Funding::from(roll_up(&own, &[None, Some(0)])[0].clone());
        assert_eq!(f.budget_usd, None);
        assert_eq!(f.gap_usd, None);
        assert_eq!(f.coverage, None);
    }

    #[test]
    fn grandchildren_roll_up_through_their_parent() {
        let own = vec![
            parent(OwnFigures::default()),
            parent(OwnFigures::default()),
            leaf(Some(dec!(5)), dec!(1), dec!(1)),
        ];
        let rolled = roll_up(&own, &[None, Some(0), Some(1)]);
        assert_eq!(Funding::from(rolled[0].clone()).gap_usd, Some(dec!(4)));
        assert_eq!(Funding::from(rolled[1].clone()).gap_usd, Some(dec!(4)));
    }

    #[test]
    fn parent_money_without_parent_budget_is_a_missing_budget() {
        let own = vec![
            parent(leaf(None, dec!(3), dec!(0))),
            leaf(Some(dec!(10)), dec!(0), dec!(0)),
        ];
        let f = Funding::from(roll_up(&own, &[None, Some(0)])[0].clone());
        assert!(f.budget_is_lower_bound);
        assert_eq!(f.gap_usd, Some(dec!(10)));
    }

    #[test]
    fn cycles_do_not_hang() {
        let own = vec![leaf(Some(dec!(1)), dec!(0), dec!(0)); 2];
        let rolled = roll_up(&own, &[Some(1), Some(0)]);
        assert_eq!(rolled.len(), 2);
    }

    #[test]
    fn totals_are_sums_of_tallies() {
        let a = Tally::from(&leaf(Some(dec!(19000000)), dec!(7000000), dec!(0)));
        let b = Tally::from(&leaf(Some(dec!(3000000)), dec!(0), dec!(0)));
        let f = Funding::from([a, b].into_iter().sum::<Tally>());
        assert_eq!(f.budget_usd, Some(dec!(22000000)));
        assert_eq!(f.gap_usd, Some(dec!(15000000)));
    }

    fn nok() -> Currency {
        Currency::new("NOK").expect("a code")
    }

    fn march_2008() -> NaiveDate {
        NaiveDate::from_ymd_opt(2008, 3, 1).expect("a date")
    }

    #[test]
    fn unconverted_amounts_are_counted() {
        let mut unconverted = Unconverted::default();
        unconverted.add(Counted::Budget, nok(), march_2008(), dec!(1));
        unconverted.add(Counted::Pledged, nok(), march_2008(), dec!(2));
        let own = OwnFigures {
            unconverted,
            ..leaf(Some(dec!(1)), dec!(0), dec!(0))
        };
        assert_eq!(Funding::from(Tally::from(&own)).unconverted.count(), 2);
    }

    #[test]
    fn unconverted_money_is_kept_per_figure_currency_and_month() {
        let chf = Currency::new("CHF").expect("a code");
        let mid_march = NaiveDate::from_ymd_opt(2008, 3, 17).expect("a date");
        let april = NaiveDate::from_ymd_opt(2008, 4, 2).expect("a date");
        let mut u = Unconverted::default();
        u.add(Counted::Pledged, nok(), mid_march, dec!(5000000));
        u.add(Counted::Paid, nok(), april, dec!(1000));
        u.add(Counted::Committed, chf, april, dec!(30));
        u.add(Counted::Budget, nok(), march_2008(), dec!(7));
        assert_eq!(u.count(), 4);
        assert_eq!(u.pledged(), vec![(chf, dec!(30)), (nok(), dec!(5001000))]);
        assert_eq!(u.firm(), vec![(chf, dec!(30)), (nok(), dec!(1000))]);
        assert_eq!(u.paid(), vec![(nok(), dec!(1000))]);
        assert_eq!(u.budget(), vec![(nok(), dec!(7))]);
        let april_1st = NaiveDate::from_ymd_opt(2008, 4, 1).expect("a date");
        assert_eq!(
            u.missing_rates(),
            vec![(chf, april_1st), (nok(), march_2008()), (nok(), april_1st)]
        );
    }

    #[test]
    fn unconverted_money_rolls_up_and_is_never_usd() {
        let pledge = OwnFigures {
            unconverted: Unconverted::one(Counted::Pledged, nok(), march_2008(), dec!(5000000)),
            ..leaf(None, dec!(0), dec!(0))
        };
        let own = vec![
            parent(OwnFigures::default()),
            pledge.clone(),
            OwnFigures {
                unconverted: Unconverted::one(Counted::Pledged, nok(), march_2008(), dec!(1)),
                ..leaf(Some(dec!(10)), dec!(4), dec!(0))
            },
        ];
        let f = Funding::from(roll_up(&own, &[None, Some(0), Some(0)])[0].clone());
        assert_eq!(f.pledged_usd, dec!(4), "the NOK pledge is not a USD amount");
        assert_eq!(f.unconverted.pledged(), vec![(nok(), dec!(5000001))]);
        assert_eq!(f.unconverted.count(), 2);
        assert_eq!(f.unconverted.missing_rates(), vec![(nok(), march_2008())]);
        let twice: Tally = [Tally::from(&pledge), Tally::from(&pledge)].iter().sum();
        assert_eq!(
            Funding::from(twice).unconverted.pledged(),
            vec![(nok(), dec!(10000000))]
        );
    }
}
