//! Turns domain figures into the words and numbers people read. Templates only print
//! what these functions prepare.

use crate::domain::filters::FundingState;
use crate::domain::funding::{Bound, Funding, Unconverted};
use crate::domain::money::{Currency, format_money, group_thousands, percent};
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
    /// Why some money is not in the USD figures ("not converted: no NOK rate for March
    /// 2008"), empty when all of it is; a cell's title.
    pub not_converted: String,
    /// The rates that would convert it, for admins to add.
    pub missing_rates: Vec<MissingRate>,
}

/// An exchange rate that no amount can do without: what it is and where an admin adds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingRate {
    /// "NOK rate for March 2008"
    pub label: String,
    /// The new-rate form, filled in with the currency and month.
    pub href: String,
}

impl MissingRate {
    pub fn new(currency: &str, month: NaiveDate) -> MissingRate {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("currency", currency)
            .append_pair("month", &month.format("%Y-%m").to_string())
            .finish();
        MissingRate {
            label: format!("{currency} rate for {}", self::month(month)),
            href: format!("/admin/exchange-rates/new?{query}"),
        }
    }

    pub fn all(unconverted: &Unconverted) -> Vec<MissingRate> {
        unconverted
            .missing_rates()
            .into_iter()
            .map(|(currency, month)| MissingRate::new(currency.as_str(), month))
            .collect()
    }
}

/// "NOK 5,000,000", or several currencies joined: "CHF 30 + NOK 5,000,000".
pub fn originals(sums: &[(Currency, Decimal)]) -> String {
    sums.iter()
        .map(|(currency, amount)| format_money(*amount, currency.as_str()))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// "no NOK rate for March 2008", the rates joined with "; ". Empty when none is missing.
pub fn missing_rates_text(unconverted: &Unconverted) -> String {
    unconverted
        .missing_rates()
        .into_iter()
        .map(|(currency, month)| no_rate(currency.as_str(), month))
        .collect::<Vec<_>>()
        .join("; ")
}

/// "no NOK rate for March 2008"
pub fn no_rate(currency: &str, on: NaiveDate) -> String {
    format!("no {currency} rate for {}", month(on))
}

/// "not converted: no NOK rate for March 2008", or "" when everything is converted.
pub fn not_converted(unconverted: &Unconverted) -> String {
    if unconverted.is_empty() {
        String::new()
    } else {
        format!("not converted: {}", missing_rates_text(unconverted))
    }
}

/// A USD figure and the money it leaves out because no rate converts it: "USD 1,000",
/// "USD 1,000 (excludes NOK 5,000,000 not converted)", or, when nothing is converted,
/// "NOK 5,000,000 (not converted)": never "USD 0" for money that is there.
pub fn usd_excluding(usd_amount: Decimal, left_out: &[(Currency, Decimal)]) -> String {
    match (left_out.is_empty(), usd_amount.is_zero()) {
        (true, _) => usd(usd_amount),
        (false, true) => format!("{} (not converted)", originals(left_out)),
        (false, false) => format!(
            "{} (excludes {} not converted)",
            usd(usd_amount),
            originals(left_out)
        ),
    }
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

/// The words before a figure that is a bound: "at least ", "at most ", or "approx." when
/// it may be either way; nothing for a figure as stated.
pub fn bound_prefix(bound: Bound) -> &'static str {
    match bound {
        Bound::Exact => "",
        Bound::AtLeast => "at least ",
        Bound::AtMost => "at most ",
        Bound::Approximate => "approx. ",
    }
}

/// The words before a figure that is a lower bound, or nothing.
/// A figure for a table cell, as HTML: the words of a bound ("at least", "at most",
/// "approx.") in a span of their own, so a narrow column puts them above the amount
/// rather than widening the table; the text reads the same.
pub fn figure_html(figure: &str) -> String {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    for words in ["at least", "at most", "approx."] {
        if let Some(rest) = figure.strip_prefix(words).and_then(|r| r.strip_prefix(' ')) {
            return format!("<span class=\"bound\">{words}</span> {}", escape(rest));
        }
    }
    escape(figure)
}

pub fn lower_bound_prefix(is_lower_bound: bool) -> &'static str {
    bound_prefix(Bound::of(is_lower_bound, false))
}

impl From<&Funding> for FundingView {
    fn from(f: &Funding) -> Self {
        let at_least = lower_bound_prefix(f.budget_is_lower_bound);
        let left_out = &f.unconverted;
        let budget = match f.budget_usd {
            Some(b) => format!("{at_least}{}", usd_excluding(b, &left_out.budget())),
            None if !left_out.budget().is_empty() => {
                format!("{} (not converted)", originals(&left_out.budget()))
            }
            None => "budget not stated".to_string(),
        };
        let pledged_left_out = left_out.pledged();
        let gap_bound = bound_prefix(f.gap_bound);
        let gap = match f.gap_usd {
            // the gap is the budget less converted money: what no rate converts yet may close part of it
            Some(g) if !pledged_left_out.is_empty() && !g.is_zero() => format!(
                "{gap_bound}{} (before {} not converted)",
                usd(g),
                originals(&pledged_left_out)
            ),
            Some(g) => format!("{gap_bound}{}", usd(g)),
            None => "unknown".to_string(),
        };
        let coverage = match f.coverage {
            Some(c) => format!("{}{}", bound_prefix(f.coverage_bound), percent(c)),
            None if f.budget_usd.is_none() => "unknown".to_string(),
            None => "n/a".to_string(),
        };
        let (state, state_class) = funding_state(f);
        let mut caveats = Vec::new();
        if f.budget_is_lower_bound && f.parts_without_budget > 0 {
            // the gap may be an estimate instead (`bound_caveats` says so)
            let bounds = if f.gap_bound == Bound::AtLeast {
                "budget and gap are lower bounds"
            } else {
                "the budget is a lower bound"
            };
            caveats.push(format!(
                "{} part{} without a stated budget: {bounds}, and coverage relates pledges to \
                 stated budgets only.",
                f.parts_without_budget,
                if f.parts_without_budget == 1 { "" } else { "s" }
            ));
        }
        caveats.extend(bound_caveats(f));
        let left_out_count = left_out.count();
        if left_out_count > 0 {
            let budget = left_out.budget();
            let pledged = left_out.pledged();
            let what: Vec<String> = [(budget, "budgeted"), (pledged, "pledged")]
                .into_iter()
                .filter(|(sums, _)| !sums.is_empty())
                .map(|(sums, figure)| format!("{} {figure}", originals(&sums)))
                .collect();
            caveats.push(format!(
                "{left_out_count} amount{} left out of the USD figures ({}): {}.",
                if left_out_count == 1 { "" } else { "s" },
                what.join("; "),
                not_converted(left_out),
            ));
        }
        FundingView {
            budget,
            pledged: if f.pledged_usd.is_zero() && pledged_left_out.is_empty() {
                "none recorded".to_string()
            } else {
                let at_least = lower_bound_prefix(f.pledged_is_lower_bound);
                format!(
                    "{at_least}{}",
                    usd_excluding(f.pledged_usd, &pledged_left_out)
                )
            },
            firm: format!(
                "{}{}",
                lower_bound_prefix(f.firm_is_lower_bound),
                usd_excluding(f.firm_usd, &left_out.firm())
            ),
            paid: format!(
                "{}{}",
                lower_bound_prefix(f.paid_is_lower_bound),
                usd_excluding(f.paid_usd, &left_out.paid())
            ),
            not_converted: not_converted(left_out),
            missing_rates: MissingRate::all(left_out),
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

/// What the amounts stated as lower bounds ("more than") do to the figures, and which
/// figures they leave as estimates.
fn bound_caveats(f: &Funding) -> Vec<String> {
    let plural = |n: u32| if n == 1 { "" } else { "s" };
    let mut caveats = Vec::new();
    let budgets = f.lower_bounds.budgets;
    if budgets > 0 {
        caveats.push(format!(
            "{budgets} budget{} stated as more than an amount: the budget may be larger than shown.",
            plural(budgets)
        ));
    }
    let pledges = f.lower_bounds.pledged;
    if pledges > 0 {
        caveats.push(format!(
            "{pledges} contribution{} stated as more than an amount: the money may be more than shown.",
            plural(pledges)
        ));
    }
    let estimates: Vec<&str> = [
        (f.gap_usd.is_some(), f.gap_bound, "gap"),
        (f.coverage.is_some(), f.coverage_bound, "coverage"),
    ]
    .into_iter()
    .filter(|&(known, bound, _)| known && bound == Bound::Approximate)
    .map(|(_, _, figure)| figure)
    .collect();
    if !estimates.is_empty() {
        caveats.push(format!(
            "The {} only approximate: a budget stated as more than an amount pulls one way, \
             money stated as more than an amount the other, so the true figure may be larger or smaller.",
            match estimates.as_slice() {
                [one] => format!("{one} is"),
                _ => estimates.join(" and ") + " are",
            }
        ));
    }
    caveats
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

/// "1 EUR = 1.4749 USD (February 2008 rate)" or why there is no USD figure ("not
/// converted: no NOK rate for March 2008", `as_of` being the date the amount applies to).
pub fn rate_used(
    currency: &str,
    as_of: NaiveDate,
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
        _ => format!("not converted: {}", no_rate(currency, as_of)),
    }
}

/// An amount as the source gives it: "approx. USD 19,000,000", "more than EUR
/// 18,000,000" (a lower bound), "USD 1,200,000".
pub fn amount(amount: Decimal, currency: &str, approximate: bool, lower_bound: bool) -> String {
    let prefix = match (approximate, lower_bound) {
        (_, true) => "more than ",
        (true, false) => "approx. ",
        (false, false) => "",
    };
    format!("{prefix}{currency} {}", group_thousands(amount))
}

/// The USD value of an amount, or the amount itself when no rate converts it: "NOK
/// 5,000,000 (not converted)".
pub fn usd_or_original(amount_usd: Option<Decimal>, amount: Decimal, currency: &str) -> String {
    amount_usd.map_or_else(
        || format!("{} (not converted)", format_money(amount, currency)),
        usd,
    )
}

/// The form that adds the rate an amount lacks, for admins; None when it has a USD value.
pub fn missing_rate(
    amount_usd: Option<Decimal>,
    currency: &str,
    as_of: NaiveDate,
) -> Option<MissingRate> {
    amount_usd
        .is_none()
        .then(|| MissingRate::new(currency, crate::domain::funding::first_of_month(as_of)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::funding::{Counted, OwnFigures, Tally};
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
        let v = FundingView::from(&Funding::from(tallies[0].clone()));
        assert_eq!(v.coverage, "0 %");
        assert_eq!(
            v.coverage_note,
            "of the stated USD 28,000,000 budget; USD 14,000,000 pledged to parts without a stated budget"
        );
        assert_eq!(v.state, "Partly funded");
        let budgeted_only = FundingView::from(&Funding::from(tallies[1].clone()));
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
        let day = NaiveDate::from_ymd_opt(2008, 3, 12).expect("a date");
        assert_eq!(
            rate_used("EUR", day, feb, Some(dec!(1.4749))),
            "1 EUR = 1.4749 USD (February 2008 rate)"
        );
        assert_eq!(rate_used("USD", day, None, Some(dec!(1))), "in USD");
        assert_eq!(
            rate_used("NOK", day, None, None),
            "not converted: no NOK rate for March 2008"
        );
    }

    fn nok_pledge(firm_usd: Decimal) -> Funding {
        let nok = Currency::new("NOK").expect("a code");
        let day = NaiveDate::from_ymd_opt(2008, 3, 12).expect("a date");
        let mut own = OwnFigures::default();
        own.add_contribution(None, Counted::Pledged, (nok, day, dec!(5000000)), false);
        own.add_contribution(Some(firm_usd), Counted::Paid, (nok, day, dec!(1)), false);
        Funding::from(Tally::from(&own))
    }

    #[test]
    fn money_without_a_rate_is_never_usd_0() {
        let v = FundingView::from(&nok_pledge(dec!(0)));
        assert_eq!(v.pledged, "NOK 5,000,000 (not converted)");
        assert_eq!(v.firm, "USD 0", "the NOK pledge is not firm");
        assert_eq!(v.not_converted, "not converted: no NOK rate for March 2008");
        assert_eq!(
            v.caveats,
            [
                "1 amount left out of the USD figures (NOK 5,000,000 pledged): not converted: no NOK rate for March 2008."
            ]
        );
        assert_eq!(
            v.missing_rates,
            [MissingRate {
                label: "NOK rate for March 2008".into(),
                href: "/admin/exchange-rates/new?currency=NOK&month=2008-03".into(),
            }]
        );
        let with_budget = Funding {
            budget_usd: Some(dec!(10000000)),
            gap_usd: Some(dec!(10000000)),
            ..nok_pledge(dec!(0))
        };
        assert_eq!(
            FundingView::from(&with_budget).gap,
            "USD 10,000,000 (before NOK 5,000,000 not converted)"
        );
        let v = FundingView::from(&nok_pledge(dec!(1000)));
        assert_eq!(
            v.pledged,
            "USD 1,000 (excludes NOK 5,000,000 not converted)"
        );
        assert_eq!(v.firm, "USD 1,000");
    }

    #[test]
    fn lower_bounds_read_as_at_least_at_most_or_approx() {
        let usd_code = Currency::new("USD").expect("a code");
        let day = NaiveDate::from_ymd_opt(2008, 2, 7).expect("a date");
        let with = |budget_over: bool| {
            let mut own = OwnFigures::default();
            own.add_budget(
                Some(dec!(30000000)),
                (usd_code, day, dec!(30000000)),
                budget_over,
            );
            let eu = (usd_code, day, dec!(26000000));
            own.add_contribution(Some(dec!(26000000)), Counted::Committed, eu, true);
            FundingView::from(&Funding::from(Tally::from(&own)))
        };
        let v = with(false);
        assert_eq!(v.budget, "USD 30,000,000");
        assert_eq!(v.pledged, "at least USD 26,000,000");
        assert_eq!(v.firm, "at least USD 26,000,000");
        assert_eq!(v.paid, "USD 0", "nothing paid: no bound");
        assert_eq!(v.gap, "at most USD 4,000,000");
        assert_eq!(v.coverage, "at least 87 %");
        assert_eq!(
            v.caveats,
            ["1 contribution stated as more than an amount: the money may be more than shown."]
        );
        let both = with(true);
        assert_eq!(both.budget, "at least USD 30,000,000");
        assert_eq!(
            figure_html(&both.budget),
            "<span class=\"bound\">at least</span> USD 30,000,000"
        );
        assert_eq!(figure_html("USD 1 <b>"), "USD 1 &lt;b&gt;");
        assert_eq!(both.gap, "approx. USD 4,000,000");
        assert_eq!(both.coverage, "approx. 87 %");
        assert!(
            both.caveats
                .iter()
                .any(|c| c.starts_with("The gap and coverage are only approximate")),
            "{:?}",
            both.caveats
        );
        assert!(
            !both
                .caveats
                .iter()
                .any(|c| c.contains("without a stated budget")),
            "no part lacks a budget"
        );
    }

    #[test]
    fn a_budget_without_a_rate_is_stated_not_missing() {
        let nok = Currency::new("NOK").expect("a code");
        let day = NaiveDate::from_ymd_opt(2008, 3, 12).expect("a date");
        let mut own = OwnFigures::default();
        own.add_budget(None, (nok, day, dec!(9000000)), false);
        let v = FundingView::from(&Funding::from(Tally::from(&own)));
        assert_eq!(v.budget, "NOK 9,000,000 (not converted)");
        assert_eq!(v.pledged, "none recorded");
        assert_eq!(
            usd_or_original(None, dec!(9000000), "NOK"),
            "NOK 9,000,000 (not converted)"
        );
    }
}
