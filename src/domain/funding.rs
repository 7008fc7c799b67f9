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
//!
//! Amounts the source states as lower bounds ("over 18 million euros", `lower_bound`)
//! carry into every figure they count in, and into every total that holds them ([`Bound`]):
//! - A budget stated as a lower bound makes the budget a lower bound ("at least"). The
//!   gap computed against it is then a lower bound too, and coverage an upper bound
//!   ("at most"): the true budget may be larger.
//! - A contribution stated as a lower bound makes pledged a lower bound, and firm and
//!   paid too when its status counts there. Where it counts against a stated budget,
//!   coverage is then a lower bound and the gap an upper bound: more money may have
//!   come. A part whose gap is already 0 stays at 0 (more money cannot open a gap), so
//!   "fully funded" stays certain.
//! - Where both pull on the gap (a lower-bound budget beside a lower-bound pledge in one
//!   part, or in different parts of a total), or on coverage, the figure is neither
//!   bound: it is shown as an estimate ("approx."), with a sentence saying that it may
//!   be larger or smaller. It is still the figure the stated amounts give, not unknown:
//!   the stated amounts are real money.
//! - Only amounts in the USD figures count: an amount that no rate converts is left out
//!   of them whatever its qualifier (and said to be left out, [`Unconverted`]).

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

/// How a figure relates to the true value when some amounts behind it are lower bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bound {
    /// As stated: no amount behind it is a bound.
    #[default]
    Exact,
    /// The true value may be more ("at least").
    AtLeast,
    /// The true value may be less ("at most").
    AtMost,
    /// The true value may be more or less: bounds pull both ways.
    Approximate,
}

impl Bound {
    /// The bound of a figure that may be more than computed, less, or both.
    pub fn of(may_be_more: bool, may_be_less: bool) -> Bound {
        match (may_be_more, may_be_less) {
            (false, false) => Bound::Exact,
            (true, false) => Bound::AtLeast,
            (false, true) => Bound::AtMost,
            (true, true) => Bound::Approximate,
        }
    }

    /// As a download's cell says it.
    pub fn label(self) -> &'static str {
        match self {
            Bound::Exact => "exact",
            Bound::AtLeast => "at least",
            Bound::AtMost => "at most",
            Bound::Approximate => "approximate",
        }
    }
}

/// How many amounts in the USD figures the source states as lower bounds, by the
/// figure they count in (a paid contribution counts in pledged, firm and paid).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LowerBounds {
    pub budgets: u32,
    pub pledged: u32,
    pub firm: u32,
    pub paid: u32,
}

impl AddAssign for LowerBounds {
    fn add_assign(&mut self, other: LowerBounds) {
        self.budgets += other.budgets;
        self.pledged += other.pledged;
        self.firm += other.firm;
        self.paid += other.paid;
    }
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
    /// Amounts above stated as lower bounds ("over ...").
    pub lower_bounds: LowerBounds,
}

impl OwnFigures {
    /// A parent with no budget and no money of its own is only a container: its budget is
    /// the sum of its parts. Every other item without a stated budget has an unknown one.
    fn budget_missing(&self) -> bool {
        self.budget_usd.is_none() && (!self.has_children || self.pledged_usd > Decimal::ZERO)
    }

    /// Adds a stated budget: its USD value, or (None) the original left out;
    /// `lower_bound` when the source gives it as one ("over ...").
    pub fn add_budget(&mut self, usd: Option<Decimal>, original: Original, lower_bound: bool) {
        match usd {
            Some(usd) => {
                *self.budget_usd.get_or_insert(Decimal::ZERO) += usd;
                self.lower_bounds.budgets += u32::from(lower_bound);
            }
            None => self.leave_out(Counted::Budget, original),
        }
    }

    /// Adds a contribution counted as `counted`: its USD value, or (None) the original
    /// left out; `lower_bound` when the source gives it as one ("over ...").
    pub fn add_contribution(
        &mut self,
        usd: Option<Decimal>,
        counted: Counted,
        original: Original,
        lower_bound: bool,
    ) {
        let Some(usd) = usd else {
            self.leave_out(counted, original);
            return;
        };
        let bound = u32::from(lower_bound);
        self.pledged_usd += usd;
        self.lower_bounds.pledged += bound;
        if counted.is_firm() {
            self.firm_usd += usd;
            self.lower_bounds.firm += bound;
        }
        if counted.is_paid() {
            self.paid_usd += usd;
            self.lower_bounds.paid += bound;
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
    lower_bounds: LowerBounds,
    /// Parts with a stated budget whose pledges hold a lower bound: coverage may be more.
    coverage_may_be_more: u32,
    /// Parts with a gap whose pledges hold a lower bound: the gap may be less.
    gap_may_be_less: u32,
}

impl From<&OwnFigures> for Tally {
    fn from(own: &OwnFigures) -> Self {
        let mut tally = Tally {
            pledged_usd: own.pledged_usd,
            firm_usd: own.firm_usd,
            paid_usd: own.paid_usd,
            unconverted: own.unconverted.clone(),
            items_missing_budget: u32::from(own.budget_missing()),
            lower_bounds: own.lower_bounds,
            ..Tally::default()
        };
        if let Some(budget) = own.budget_usd {
            let gap = (budget - own.pledged_usd).max(Decimal::ZERO);
            let pledged_more = own.lower_bounds.pledged > 0;
            tally.budgeted_items = 1;
            tally.budget_usd = budget;
            tally.pledged_against_budget_usd = own.pledged_usd;
            tally.gap_usd = gap;
            tally.coverage_may_be_more = u32::from(pledged_more);
            // more money than stated can close a gap, never open one
            tally.gap_may_be_less = u32::from(pledged_more && gap > Decimal::ZERO);
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
        self.lower_bounds += other.lower_bounds;
        self.coverage_may_be_more += other.coverage_may_be_more;
        self.gap_may_be_less += other.gap_may_be_less;
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
    /// Some part in scope has no stated budget, or a stated budget is a lower bound:
    /// the budget is a lower bound.
    pub budget_is_lower_bound: bool,
    /// How many parts in scope have no stated budget.
    pub parts_without_budget: u32,
    /// Some contribution in the figure is stated as a lower bound ("over ...").
    pub pledged_is_lower_bound: bool,
    pub firm_is_lower_bound: bool,
    pub paid_is_lower_bound: bool,
    /// How the gap relates to the true one (when it is known): at least with a budget
    /// that is a lower bound, at most with pledges that are.
    pub gap_bound: Bound,
    /// How coverage relates to the true one (when it is known): the other way round.
    pub coverage_bound: Bound,
    /// The amounts in scope stated as lower bounds, by figure.
    pub lower_bounds: LowerBounds,
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

    /// Every stated budget is fully pledged, and no budget may be larger than stated (a
    /// part of unknown budget, a budget that is a lower bound): a gap of at most 0.
    pub fn is_fully_funded(&self) -> bool {
        self.gap_usd == Some(Decimal::ZERO)
            && matches!(self.gap_bound, Bound::Exact | Bound::AtMost)
    }
}

impl From<Tally> for Funding {
    fn from(t: Tally) -> Self {
        let budget_known = t.budgeted_items > 0;
        let coverage = (budget_known && t.budget_usd > Decimal::ZERO)
            .then(|| t.pledged_against_budget_usd / t.budget_usd);
        let bounds = t.lower_bounds;
        let budget_is_lower_bound =
            budget_known && (t.items_missing_budget > 0 || bounds.budgets > 0);
        Funding {
            budget_usd: budget_known.then_some(t.budget_usd),
            pledged_usd: t.pledged_usd,
            firm_usd: t.firm_usd,
            paid_usd: t.paid_usd,
            gap_usd: budget_known.then_some(t.gap_usd),
            coverage,
            pledged_outside_budget_usd: t.pledged_usd - t.pledged_against_budget_usd,
            budget_is_lower_bound,
            parts_without_budget: t.items_missing_budget,
            pledged_is_lower_bound: bounds.pledged > 0,
            firm_is_lower_bound: bounds.firm > 0,
            paid_is_lower_bound: bounds.paid > 0,
            // a gap against a budget that may be larger may be larger too
            gap_bound: Bound::of(budget_is_lower_bound, t.gap_may_be_less > 0),
            // coverage relates stated budgets only: parts without one do not move it
            coverage_bound: Bound::of(t.coverage_may_be_more > 0, bounds.budgets > 0),
            lower_bounds: bounds,
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

    /// A USD amount as stated in March 2008.
    fn stated(amount: Decimal) -> Original {
        (Currency::new("USD").expect("a code"), march_2008(), amount)
    }

    /// An item's figures from its stated amounts, through the same calls the store makes:
    /// a budget and contributions, each `(usd, counted, lower bound)`.
    fn item(
        budget: Option<(Decimal, bool)>,
        contributions: &[(Decimal, Counted, bool)],
    ) -> OwnFigures {
        let mut own = OwnFigures::default();
        if let Some((usd, over)) = budget {
            own.add_budget(Some(usd), stated(usd), over);
        }
        for &(usd, counted, over) in contributions {
            own.add_contribution(Some(usd), counted, stated(usd), over);
        }
        own
    }

    fn funding_of(own: &OwnFigures) -> Funding {
        Funding::from(Tally::from(own))
    }

    #[test]
    fn a_budget_stated_as_a_lower_bound_makes_the_gap_at_least_and_coverage_at_most() {
        let f = funding_of(&item(
            Some((dec!(10), true)),
            &[(dec!(4), Counted::Pledged, false)],
        ));
        assert_eq!(f.budget_usd, Some(dec!(10)));
        assert!(f.budget_is_lower_bound);
        assert_eq!(
            f.parts_without_budget, 0,
            "the budget is stated, only as a bound"
        );
        assert_eq!(f.gap_usd, Some(dec!(6)));
        assert_eq!(f.gap_bound, Bound::AtLeast);
        assert_eq!(f.coverage_bound, Bound::AtMost);
        assert!(!f.pledged_is_lower_bound);
        assert_eq!(f.lower_bounds.budgets, 1);
    }

    #[test]
    fn a_fully_pledged_budget_that_is_a_lower_bound_is_not_fully_funded() {
        let f = funding_of(&item(
            Some((dec!(10), true)),
            &[(dec!(10), Counted::Paid, false)],
        ));
        assert_eq!(f.gap_usd, Some(dec!(0)));
        assert_eq!(
            f.gap_bound,
            Bound::AtLeast,
            "the budget may be more than pledged"
        );
        assert!(!f.is_fully_funded());
    }

    #[test]
    fn a_contribution_stated_as_a_lower_bound_bounds_its_figures_and_the_gap_from_above() {
        let f = funding_of(&item(
            Some((dec!(30), false)),
            &[
                (dec!(18), Counted::Committed, true),
                (dec!(2), Counted::Paid, false),
            ],
        ));
        assert!(f.pledged_is_lower_bound);
        assert!(f.firm_is_lower_bound, "a commitment counts in firm money");
        assert!(!f.paid_is_lower_bound, "it is not paid: paid is as stated");
        assert!(!f.budget_is_lower_bound);
        assert_eq!(f.gap_usd, Some(dec!(10)));
        assert_eq!(f.gap_bound, Bound::AtMost);
        assert_eq!(f.coverage_bound, Bound::AtLeast);
        assert_eq!(
            f.lower_bounds,
            LowerBounds {
                budgets: 0,
                pledged: 1,
                firm: 1,
                paid: 0
            }
        );
    }

    #[test]
    fn more_money_than_stated_cannot_open_a_gap() {
        let f = funding_of(&item(
            Some((dec!(10), false)),
            &[(dec!(12), Counted::Pledged, true)],
        ));
        assert_eq!(f.gap_usd, Some(dec!(0)));
        assert_eq!(f.gap_bound, Bound::Exact, "at most 0 is 0");
        assert!(f.is_fully_funded());
        assert_eq!(f.coverage_bound, Bound::AtLeast);
    }

    #[test]
    fn bounds_on_both_sides_make_gap_and_coverage_approximate() {
        let f = funding_of(&item(
            Some((dec!(20), true)),
            &[(dec!(5), Counted::Pledged, true)],
        ));
        assert_eq!(f.gap_usd, Some(dec!(15)));
        assert_eq!(f.gap_bound, Bound::Approximate);
        assert_eq!(f.coverage_bound, Bound::Approximate);
        assert!(f.budget_is_lower_bound && f.pledged_is_lower_bound);
        assert!(!f.is_fully_funded());
    }

    #[test]
    fn a_budget_bound_over_a_pledge_bound_that_closes_the_gap_leaves_the_gap_at_least() {
        // over 10 budgeted, over 12 pledged: the gap is 0 or more, never less
        let f = funding_of(&item(
            Some((dec!(10), true)),
            &[(dec!(12), Counted::Pledged, true)],
        ));
        assert_eq!(f.gap_bound, Bound::AtLeast);
        assert_eq!(f.coverage_bound, Bound::Approximate);
    }

    #[test]
    fn bounds_roll_up_to_parents_and_pull_a_total_both_ways() {
        let own = vec![
            parent(OwnFigures::default()),
            item(Some((dec!(10), true)), &[]),
            item(Some((dec!(10), false)), &[(dec!(4), Counted::Paid, true)]),
        ];
        let rolled = roll_up(&own, &[None, Some(0), Some(0)]);
        let f = Funding::from(rolled[0].clone());
        assert_eq!(f.budget_usd, Some(dec!(20)));
        assert!(f.budget_is_lower_bound, "a part's budget is a lower bound");
        assert!(f.pledged_is_lower_bound && f.firm_is_lower_bound && f.paid_is_lower_bound);
        assert_eq!(f.gap_usd, Some(dec!(16)));
        assert_eq!(
            f.gap_bound,
            Bound::Approximate,
            "one part's gap may be more, the other's less"
        );
        assert_eq!(Funding::from(rolled[1].clone()).gap_bound, Bound::AtLeast);
        assert_eq!(Funding::from(rolled[2].clone()).gap_bound, Bound::AtMost);
        assert!(!Funding::from(rolled[1].clone()).pledged_is_lower_bound);
        // a total of totals is the same sum
        let total: Tally = [rolled[1].clone(), rolled[2].clone()].iter().sum();
        assert_eq!(Funding::from(total), f);
    }

    #[test]
    fn a_bounded_pledge_to_a_part_without_a_budget_leaves_coverage_as_stated() {
        let own = vec![
            parent(OwnFigures::default()),
            item(
                Some((dec!(10), false)),
                &[(dec!(5), Counted::Pledged, false)],
            ),
            item(None, &[(dec!(26), Counted::Committed, true)]),
        ];
        let f = Funding::from(roll_up(&own, &[None, Some(0), Some(0)])[0].clone());
        assert!(f.pledged_is_lower_bound);
        assert_eq!(f.coverage, Some(dec!(0.5)));
        assert_eq!(
            f.coverage_bound,
            Bound::Exact,
            "coverage relates stated budgets only"
        );
        assert_eq!(
            f.gap_bound,
            Bound::AtLeast,
            "a part without a budget, as before"
        );
    }

    #[test]
    fn a_part_without_a_budget_beside_a_bounded_pledge_makes_the_gap_approximate() {
        let own = vec![
            parent(OwnFigures::default()),
            item(
                Some((dec!(10), false)),
                &[(dec!(5), Counted::Pledged, true)],
            ),
            item(None, &[]),
        ];
        let f = Funding::from(roll_up(&own, &[None, Some(0), Some(0)])[0].clone());
        assert!(f.budget_is_lower_bound);
        assert_eq!(f.gap_bound, Bound::Approximate);
        assert_eq!(f.coverage_bound, Bound::AtLeast);
    }

    #[test]
    fn amounts_without_a_rate_are_no_bound_of_the_usd_figures() {
        let mut own = OwnFigures::default();
        own.add_budget(Some(dec!(10)), stated(dec!(10)), false);
        own.add_budget(None, (nok(), march_2008(), dec!(5)), true);
        own.add_contribution(None, Counted::Paid, (nok(), march_2008(), dec!(5)), true);
        let f = funding_of(&own);
        assert!(!f.budget_is_lower_bound);
        assert!(!f.pledged_is_lower_bound && !f.paid_is_lower_bound);
        assert_eq!(f.gap_bound, Bound::Exact);
        assert_eq!(f.lower_bounds, LowerBounds::default());
        assert_eq!(
            f.unconverted.count(),
            2,
            "they are left out, and said to be"
        );
    }

    #[test]
    fn bound_of_each_direction() {
        assert_eq!(Bound::of(false, false), Bound::Exact);
        assert_eq!(Bound::of(true, false), Bound::AtLeast);
        assert_eq!(Bound::of(false, true), Bound::AtMost);
        assert_eq!(Bound::of(true, true), Bound::Approximate);
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
