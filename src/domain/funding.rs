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

use rust_decimal::Decimal;
use std::ops::Add;

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
    pub unconverted: u32,
    /// Whether the item has components of its own.
    pub has_children: bool,
}

impl OwnFigures {
    /// A parent with no budget and no money of its own is only a container: its budget is
    /// the sum of its parts. Every other item without a stated budget has an unknown one.
    fn budget_missing(&self) -> bool {
        self.budget_usd.is_none() && (!self.has_children || self.pledged_usd > Decimal::ZERO)
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
#[derive(Debug, Clone, Copy, Default, PartialEq)]
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
    unconverted: u32,
}

impl From<&OwnFigures> for Tally {
    fn from(own: &OwnFigures) -> Self {
        let mut tally = Tally {
            pledged_usd: own.pledged_usd,
            firm_usd: own.firm_usd,
            paid_usd: own.paid_usd,
            unconverted: own.unconverted,
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

impl Add for Tally {
    type Output = Tally;
    fn add(self, other: Tally) -> Tally {
        Tally {
            budgeted_items: self.budgeted_items + other.budgeted_items,
            items_missing_budget: self.items_missing_budget + other.items_missing_budget,
            budget_usd: self.budget_usd + other.budget_usd,
            pledged_against_budget_usd: self.pledged_against_budget_usd
                + other.pledged_against_budget_usd,
            gap_usd: self.gap_usd + other.gap_usd,
            pledged_usd: self.pledged_usd + other.pledged_usd,
            firm_usd: self.firm_usd + other.firm_usd,
            paid_usd: self.paid_usd + other.paid_usd,
            unconverted: self.unconverted + other.unconverted,
        }
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
    pub unconverted_amounts: u32,
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
            unconverted_amounts: t.unconverted,
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
            rolled[a] = rolled[a] + own_tally;
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
        let f = Funding::from(tallies[0]);
        assert_eq!(f.coverage, Some(dec!(0)));
        assert_eq!(f.pledged_usd, dec!(14000000));
        assert_eq!(f.pledged_outside_budget_usd, dec!(14000000));
        assert_eq!(f.gap_usd, Some(dec!(28000000)));
        assert!(f.budget_is_lower_bound);
        let budgeted = Funding::from(tallies[1]);
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
        let f = Funding::from(rolled[0]);
        assert_eq!(f.budget_usd, Some(dec!(60)));
        assert_eq!(f.pledged_usd, dec!(29));
        assert_eq!(f.firm_usd, dec!(25));
        // 6 + 0 + 30: the surplus of the second child does not hide the third's gap
        assert_eq!(f.gap_usd, Some(dec!(36)));
        assert!(!f.budget_is_lower_bound);
        assert_eq!(Funding::from(rolled[1]).gap_usd, Some(dec!(0)));
    }

    #[test]
    fn child_with_unknown_budget_makes_parent_a_lower_bound() {
        let own = vec![
            parent(OwnFigures::default()),
            leaf(Some(dec!(28000000)), dec!(0), dec!(0)),
            leaf(None, dec!(14000000), dec!(0)),
        ];
        let rolled = roll_up(&own, &[None, Some(0), Some(0)]);
        let f = Funding::from(rolled[0]);
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
        let f = Funding::from(roll_up(&own, &[None, Some(0)])[0]);
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
        assert_eq!(Funding::from(rolled[0]).gap_usd, Some(dec!(4)));
        assert_eq!(Funding::from(rolled[1]).gap_usd, Some(dec!(4)));
    }

    #[test]
    fn parent_money_without_parent_budget_is_a_missing_budget() {
        let own = vec![
            parent(leaf(None, dec!(3), dec!(0))),
            leaf(Some(dec!(10)), dec!(0), dec!(0)),
        ];
        let f = Funding::from(roll_up(&own, &[None, Some(0)])[0]);
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

    #[test]
    fn unconverted_amounts_are_counted() {
        let own = OwnFigures {
            unconverted: 2,
            ..leaf(Some(dec!(1)), dec!(0), dec!(0))
        };
        assert_eq!(Funding::from(Tally::from(&own)).unconverted_amounts, 2);
    }
}
