//! Turns domain figures into the words and numbers people read. Templates only print
//! what these functions prepare.

use crate::domain::filters::FundingState;
use crate::domain::funding::Funding;
use crate::domain::money::{format_money, group_thousands, percent};
use crate::domain::vocab::{ItemKind, ItemStatus, OrgKind};
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// Width in pixels of a full coverage bar.
const BAR_WIDTH: u32 = 120;

/// Funding figures ready to print.
#[derive(Debug, Clone, Default)]
pub struct FundingView {
    pub budget: String,
    pub pledged: String,
    pub firm: String,
    pub paid: String,
    pub committed: String,
    pub pledged_only: String,
    pub gap: String,
    pub coverage: String,
    /// What the coverage relates to, when pledges go to parts without a stated budget
    /// ("of the stated USD 28,000,000 budget; USD 14,000,000 pledged to parts without a
    /// stated budget"); empty otherwise.
    pub coverage_note: String,
    pub budget_known: bool,
    pub state: &'static str,
    pub state_class: &'static str,
    pub bar: CoverageBar,
    /// Sentences a reader needs to read the figures right (lower bounds, missing rates).
    pub caveats: Vec<String>,
}

/// An inline SVG coverage bar; `filled` is a width in pixels.
#[derive(Debug, Clone, Default)]
pub struct CoverageBar {
    pub width: u32,
    pub filled: String,
    pub label: String,
    pub known: bool,
}

/// A page of a longer list: which rows it shows and the links to its neighbours.
#[derive(Debug, Clone)]
pub struct Pager {
    pub page: usize,
    pub pages: usize,
    per_page: usize,
    total: usize,
    /// The list's address without `page`, e.g. `/?sort=gap`; `&page=N` is appended.
    base: String,
}

impl Pager {
    /// Page `page` (from 1) of `total` rows; a page past the end is a 404.
    pub fn new(
        page: usize,
        total: usize,
        per_page: usize,
        base: String,
    ) -> Result<Pager, crate::web::AppError> {
        let pages = total.div_ceil(per_page).max(1);
        if page > pages {
            return Err(crate::web::AppError::NotFound);
        }
        Ok(Pager {
            page,
            pages,
            per_page,
            total,
            base,
        })
    }

    /// The rows of this page, as a range over the whole list.
    pub fn range(&self) -> std::ops::Range<usize> {
        let start = ((self.page - 1) * self.per_page).min(self.total);
        start..(start + self.per_page).min(self.total)
    }

    fn href(&self, page: usize) -> String {
        let joiner = if self.base.contains('?') { "&" } else { "?" };
        format!("{}{joiner}page={page}", self.base)
    }

    pub fn prev(&self) -> Option<String> {
        (self.page > 1).then(|| self.href(self.page - 1))
    }

    pub fn next(&self) -> Option<String> {
        (self.page < self.pages).then(|| self.href(self.page + 1))
    }
}

/// A choice of order above a table.
pub struct SortLink {
    pub key: &'static str,
    pub label: &'static str,
    pub current: bool,
}

impl SortLink {
    pub fn all(
        keys: &[crate::web::dashboard::SortKey],
        current: crate::web::dashboard::SortKey,
    ) -> Vec<SortLink> {
        keys.iter()
            .map(|&k| SortLink {
                key: k.as_str(),
                label: k.label(),
                current: k == current,
            })
            .collect()
    }
}

pub fn usd(amount: Decimal) -> String {
    format_money(amount, "USD")
}

impl From<&Funding> for FundingView {
    fn from(f: &Funding) -> Self {
        let at_least = if f.budget_is_lower_bound {
            "at least "
        } else {
            ""
        };
        let budget = match f.budget_usd {
            Some(b) => format!("{at_least}{}", usd(b)),
            None => "budget not stated".to_string(),
        };
        let gap = match f.gap_usd {
            Some(g) => format!("{at_least}{}", usd(g)),
            None => "unknown".to_string(),
        };
        let coverage = match f.coverage {
            Some(c) => percent(c),
            None if f.budget_usd.is_none() => "unknown".to_string(),
            None => "n/a".to_string(),
        };
        let (state, state_class) = funding_state(f);
        let mut caveats = Vec::new();
        if f.budget_is_lower_bound {
            caveats.push(format!(
                "{} part{} without a stated budget: budget and gap are lower bounds, and coverage relates \
                 pledges to stated budgets only.",
                f.parts_without_budget,
                if f.parts_without_budget == 1 { "" } else { "s" }
            ));
        }
        if f.unconverted_amounts > 0 {
            caveats.push(format!(
                "{} amount{} left out: no exchange rate converts {} to USD yet.",
                f.unconverted_amounts,
                if f.unconverted_amounts == 1 { "" } else { "s" },
                if f.unconverted_amounts == 1 {
                    "it"
                } else {
                    "them"
                }
            ));
        }
        FundingView {
            budget,
            pledged: if f.pledged_usd.is_zero() {
                "none recorded".to_string()
            } else {
                usd(f.pledged_usd)
            },
            firm: usd(f.firm_usd),
            paid: usd(f.paid_usd),
            committed: usd(f.committed_only_usd()),
            pledged_only: usd(f.pledged_only_usd()),
            gap,
            budget_known: f.budget_usd.is_some(),
            bar: coverage_bar(f.coverage, &coverage),
            coverage_note: coverage_note(f),
            coverage,
            state,
            state_class,
            caveats,
        }
    }
}

/// For staff: what a total owes to drafts, beside what delegates read for the same
/// scope ("Includes 2 drafts: USD 2,000,000 of the budget. Delegates see a budget of
/// USD 51,200,000 and USD 9,000,000 pledged."). Empty without drafts.
pub fn drafts_note(drafts: usize, staff: &Funding, delegates: &Funding) -> String {
    if drafts == 0 {
        return String::new();
    }
    let mut parts = Vec::new();
    let budget_diff =
        staff.budget_usd.unwrap_or_default() - delegates.budget_usd.unwrap_or_default();
    if !budget_diff.is_zero() {
        parts.push(format!("{} of the budget", usd(budget_diff)));
    }
    let pledged_diff = staff.pledged_usd - delegates.pledged_usd;
    if !pledged_diff.is_zero() {
        parts.push(format!("{} pledged", usd(pledged_diff)));
    }
    let owed = if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join(" and "))
    };
    let budget = FundingView::from(delegates).budget;
    format!(
        "Includes {drafts} draft{}{owed}. Delegates see a budget of {budget} and {} pledged.",
        if drafts == 1 { "" } else { "s" },
        usd(delegates.pledged_usd),
    )
}

fn coverage_note(f: &Funding) -> String {
    match f.budget_usd {
        Some(budget) if f.coverage.is_some() && !f.pledged_outside_budget_usd.is_zero() => format!(
            "of the stated {} budget; {} pledged to parts without a stated budget",
            usd(budget),
            usd(f.pledged_outside_budget_usd)
        ),
        _ => String::new(),
    }
}

/// A word for the funding state that does not rely on colour.
fn funding_state(f: &Funding) -> (&'static str, &'static str) {
    let state = FundingState::of(f);
    (state.label(), state.class())
}

fn coverage_bar(coverage: Option<Decimal>, label: &str) -> CoverageBar {
    let filled = coverage
        .map(|c| c.clamp(Decimal::ZERO, Decimal::ONE) * Decimal::from(BAR_WIDTH))
        .unwrap_or_default()
        .round_dp(1);
    CoverageBar {
        width: BAR_WIDTH,
        filled: filled.to_string(),
        label: format!("Coverage {label}"),
        known: coverage.is_some(),
    }
}

/// When a page was rendered, for the print-only line of `base.html` ("page generated …").
pub fn generated_at() -> String {
    chrono::Utc::now()
        .format("%-d %B %Y, %H:%M UTC")
        .to_string()
}

pub fn kind_label(kind: ItemKind) -> String {
    kind.label().to_string()
}

/// The address of a country's or region's page. Names have spaces: a path segment needs
/// `%20`, not the `+` of form encoding (which would not decode back to a space).
pub fn place_href(name: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("/places/{}", encoded.replace('+', "%20"))
}

pub fn org_kind_label(kind: OrgKind) -> String {
    kind.label().to_string()
}

pub fn status_label(status: ItemStatus) -> String {
    status.label().to_string()
}

/// "February 2008" for the month an exchange rate applies to.
pub fn month(date: NaiveDate) -> String {
    date.format("%B %Y").to_string()
}

/// "1 EUR = 1.4749 USD (February 2008 rate)" or why there is no USD figure.
pub fn rate_used(
    currency: &str,
    rate_month: Option<NaiveDate>,
    usd_per_unit: Option<Decimal>,
) -> String {
    match (currency, rate_month, usd_per_unit) {
        ("USD", _, _) => "in USD".to_string(),
        (_, Some(m), Some(rate)) => {
            format!(
                "1 {currency} = {} USD ({} rate)",
                rate.normalize(),
                month(m)
            )
        }
        _ => format!("no {currency} rate for this month yet"),
    }
}

pub fn amount(amount: Decimal, currency: &str, approximate: bool) -> String {
    let prefix = if approximate { "approx. " } else { "" };
    format!("{prefix}{currency} {}", group_thousands(amount))
}

pub fn optional_usd(amount: Option<Decimal>) -> String {
    amount.map_or_else(|| "not converted".to_string(), usd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::funding::{OwnFigures, Tally};
    use rust_decimal::dec;

    #[test]
    fn unknown_budget_reads_as_unknown_not_zero() {
        let f = Funding::from(Tally::from(&OwnFigures::default()));
        let v = FundingView::from(&f);
        assert_eq!(v.budget, "budget not stated");
        assert_eq!(v.gap, "unknown");
        assert_eq!(v.pledged, "none recorded");
        assert_eq!(v.coverage, "unknown");
        assert_eq!(v.state, "Budget not stated");
        assert!(!v.bar.known);
    }

    #[test]
    fn known_budget_reads_plainly() {
        let own = OwnFigures {
            budget_usd: Some(dec!(19000000)),
            pledged_usd: dec!(7000000),
            ..OwnFigures::default()
        };
        let v = FundingView::from(&Funding::from(Tally::from(&own)));
        assert_eq!(v.budget, "USD 19,000,000");
        assert_eq!(v.gap, "USD 12,000,000");
        assert_eq!(v.coverage, "37 %");
        assert_eq!(v.bar.filled, "44.2");
    }

    #[test]
    fn coverage_says_what_it_relates_to_and_pledges_elsewhere_are_not_unfunded() {
        use crate::domain::funding::roll_up;
        let parts = [
            OwnFigures {
                has_children: true,
                ..OwnFigures::default()
            },
            OwnFigures {
                budget_usd: Some(dec!(28000000)),
                ..OwnFigures::default()
            },
            OwnFigures {
                pledged_usd: dec!(14000000),
                ..OwnFigures::default()
            },
        ];
        let tallies = roll_up(&parts, &[None, Some(0), Some(0)]);
        let v = FundingView::from(&Funding::from(tallies[0]));
        assert_eq!(v.coverage, "0 %");
        assert_eq!(
            v.coverage_note,
            "of the stated USD 28,000,000 budget; USD 14,000,000 pledged to parts without a stated budget"
        );
        assert_eq!(v.state, "Partly funded");
        let budgeted_only = FundingView::from(&Funding::from(tallies[1]));
        assert_eq!(budgeted_only.coverage_note, "");
        assert_eq!(budgeted_only.state, "Unfunded");
    }

    #[test]
    fn drafts_note_says_what_delegates_see() {
        let with = |budget, pledged| {
            Funding::from(Tally::from(&OwnFigures {
                budget_usd: Some(budget),
                pledged_usd: pledged,
                ..OwnFigures::default()
            }))
        };
        let staff = with(dec!(53200000), dec!(9000000));
        let delegates = with(dec!(51200000), dec!(9000000));
        assert_eq!(
            drafts_note(2, &staff, &delegates),
            "Includes 2 drafts: USD 2,000,000 of the budget. Delegates see a budget of USD 51,200,000 and USD 9,000,000 pledged."
        );
        assert_eq!(drafts_note(0, &staff, &delegates), "");
    }

    #[test]
    fn place_addresses_keep_spaces_and_plus_signs() {
        assert_eq!(place_href("West Africa"), "/places/West%20Africa");
        assert_eq!(place_href("A+B"), "/places/A%2BB");
    }

    #[test]
    fn rate_descriptions() {
        let feb = NaiveDate::from_ymd_opt(2008, 2, 1);
        assert_eq!(
            rate_used("EUR", feb, Some(dec!(1.4749))),
            "1 EUR = 1.4749 USD (February 2008 rate)"
        );
        assert_eq!(rate_used("USD", None, Some(dec!(1))), "in USD");
        assert_eq!(
            rate_used("EUR", None, None),
            "no EUR rate for this month yet"
        );
    }
}
