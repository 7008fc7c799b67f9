//! Inline SVG charts, drawn on the server: no JavaScript, no external files. Every chart
//! carries a text alternative, and the pages print the same numbers in a table beside it.

pub mod over_time;

use crate::domain::funding::Funding;
use crate::domain::money::group_thousands;
use rust_decimal::Decimal;

/// Width in pixels of the longest bar in a chart.
pub const BAR_WIDTH: u32 = 160;

/// One coloured part of a bar.
#[derive(Debug, Clone)]
pub struct Segment {
    pub x: String,
    pub width: String,
    pub class: &'static str,
    pub title: String,
}

/// A horizontal bar made of segments: paid, committed, pledged, and the gap.
#[derive(Debug, Clone)]
pub struct StackedBar {
    pub width: u32,
    pub segments: Vec<Segment>,
    /// The text alternative: every segment's name and amount.
    pub label: String,
}

fn px(amount: Decimal, scale: Decimal) -> Decimal {
    if scale <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    (amount.max(Decimal::ZERO) / scale * Decimal::from(BAR_WIDTH))
        .round_dp(1)
        .normalize()
}

/// The length of a bar in money: its segments laid end to end.
fn length(parts: &[(&'static str, &'static str, Decimal)]) -> Decimal {
    parts
        .iter()
        .map(|(_, _, amount)| amount.max(&Decimal::ZERO))
        .sum()
}

fn bar(
    parts: &[(&'static str, &'static str, Decimal)],
    scale: Decimal,
    suffix: &str,
) -> StackedBar {
    // A scale shorter than this bar would push its last segments (the gap) past the end
    // of the chart, where the SVG clips them: stretch the scale to the bar instead.
    let scale = scale.max(length(parts));
    // Each segment runs between the rounded positions of its start and end, so the
    // rounding never adds up past the bar's end.
    let mut start = Decimal::ZERO;
    let mut x = Decimal::ZERO;
    let mut segments = Vec::new();
    let mut words = Vec::new();
    for (class, name, amount) in parts {
        if amount.is_zero() {
            continue;
        }
        words.push(format!("{name} USD {}", group_thousands(*amount)));
        start += amount.max(&Decimal::ZERO);
        let end = px(start, scale);
        segments.push(Segment {
            x: x.to_string(),
            width: (end - x).normalize().to_string(),
            class,
            title: format!("{name}: USD {}", group_thousands(*amount)),
        });
        x = end;
    }
    let mut label = if words.is_empty() {
        "No money recorded".to_string()
    } else {
        words.join(", ")
    };
    label.push_str(suffix);
    StackedBar {
        width: BAR_WIDTH,
        segments,
        label,
    }
}

/// The money a funding bar spans: everything pledged, then the gap. The gap is counted
/// part by part (a surplus in one part never fills another's), so this can be more than
/// both the budget and the pledges; a chart's scale must cover it or the gap is cut off.
pub fn funding_length(f: &Funding) -> Decimal {
    f.pledged_usd.max(Decimal::ZERO) + f.gap_usd.unwrap_or_default().max(Decimal::ZERO)
}

/// Paid, committed and pledged money, then the remaining gap, on a common scale.
pub fn stacked_bar(f: &Funding, scale: Decimal) -> StackedBar {
    let suffix = match f.budget_usd {
        None => "; budget not stated, gap unknown".to_string(),
        Some(b) if f.budget_is_lower_bound => {
            format!("; budget at least USD {}", group_thousands(b))
        }
        Some(b) => format!("; budget USD {}", group_thousands(b)),
    };
    bar(
        &[
            ("seg-paid", "paid", f.paid_usd),
            ("seg-committed", "committed", f.committed_only_usd()),
            ("seg-pledged", "pledged", f.pledged_only_usd()),
            ("seg-gap", "gap", f.gap_usd.unwrap_or_default()),
        ],
        scale,
        &suffix,
    )
}

/// The pipeline of one donor's money: paid, committed, pledged.
pub fn pipeline_bar(paid: Decimal, firm: Decimal, pledged: Decimal, scale: Decimal) -> StackedBar {
    bar(
        &[
            ("seg-paid", "paid", paid),
            ("seg-committed", "committed", firm - paid),
            ("seg-pledged", "pledged", pledged - firm),
        ],
        scale,
        "",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::funding::{OwnFigures, Tally};
    use rust_decimal::dec;

    #[test]
    fn segments_follow_each_other_on_a_common_scale() {
        let own = OwnFigures::money(Some(dec!(100)), dec!(60), dec!(40), dec!(10));
        let bar = stacked_bar(&Funding::from(Tally::from(&own)), dec!(200));
        let widths: Vec<&str> = bar.segments.iter().map(|s| s.width.as_str()).collect();
        assert_eq!(widths, ["8", "24", "16", "32"]);
        assert_eq!(bar.segments[1].x, "8");
        assert!(bar.label.contains("gap USD 40"));
        assert!(bar.label.ends_with("budget USD 100"));
    }

    /// The right edge of a bar's last segment, in pixels.
    fn end(bar: &StackedBar) -> Decimal {
        bar.segments.last().map_or(Decimal::ZERO, |s| {
            s.x.parse::<Decimal>().unwrap_or_default()
                + s.width.parse::<Decimal>().unwrap_or_default()
        })
    }

    /// Two parts of budget 100: one pledged 150 (a surplus of 50), one pledged nothing.
    /// The gap is 100 although budget minus pledged is 50.
    fn surplus_beside_a_shortfall() -> Funding {
        Funding {
            budget_usd: Some(dec!(200)),
            pledged_usd: dec!(150),
            firm_usd: dec!(0),
            paid_usd: dec!(0),
            gap_usd: Some(dec!(100)),
            coverage: Some(dec!(0.75)),
            pledged_outside_budget_usd: dec!(0),
            budget_is_lower_bound: false,
            parts_without_budget: 0,
            pledged_is_lower_bound: false,
            firm_is_lower_bound: false,
            paid_is_lower_bound: false,
            gap_bound: Default::default(),
            coverage_bound: Default::default(),
            lower_bounds: Default::default(),
            unconverted: Default::default(),
        }
    }

    #[test]
    fn the_gap_lies_inside_the_bar_when_a_surplus_elsewhere_does_not_fill_it() {
        let f = surplus_beside_a_shortfall();
        assert_eq!(funding_length(&f), dec!(250));
        // The scale of a page's rows covers the longest bar: everything fits.
        let bar = stacked_bar(&f, funding_length(&f));
        let gap = bar.segments.last().expect("a gap segment");
        assert_eq!(gap.class, "seg-gap");
        assert_eq!((gap.x.as_str(), gap.width.as_str()), ("96", "64"));
        assert_eq!(end(&bar), Decimal::from(BAR_WIDTH));
        // The scale of the old rule (the larger of budget and pledged) is too short for
        // this bar: the bar is drawn on its own length rather than past the chart's end.
        let bar = stacked_bar(&f, dec!(200));
        assert!(end(&bar) <= Decimal::from(BAR_WIDTH));
        assert_eq!(bar.segments.last().map(|s| s.width.as_str()), Some("64"));
    }

    #[test]
    fn rounding_never_adds_up_past_the_end() {
        // Three thirds, each 53.3 px when rounded alone: the segments meet and end at 160.
        let own = OwnFigures::money(Some(dec!(3)), dec!(2), dec!(1), dec!(0));
        let f = Funding::from(Tally::from(&own));
        let bar = stacked_bar(&f, funding_length(&f));
        assert_eq!(end(&bar), Decimal::from(BAR_WIDTH));
        for pair in bar.segments.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let a_end = a.x.parse::<Decimal>().unwrap_or_default()
                + a.width.parse::<Decimal>().unwrap_or_default();
            assert_eq!(a_end, b.x.parse::<Decimal>().unwrap_or_default());
        }
        // A row smaller than the scale ends where its money ends, inside the chart.
        let half = stacked_bar(&f, dec!(6));
        assert_eq!(end(&half), dec!(80));
    }

    #[test]
    fn unknown_budget_draws_no_gap_and_says_so() {
        let own = OwnFigures {
            pledged_usd: dec!(5),
            ..OwnFigures::default()
        };
        let bar = stacked_bar(&Funding::from(Tally::from(&own)), dec!(5));
        assert_eq!(bar.segments.len(), 1);
        assert!(bar.label.contains("gap unknown"));
        assert_eq!(
            stacked_bar(&Funding::from(Tally::from(&OwnFigures::default())), dec!(0))
                .segments
                .len(),
            0
        );
    }
}
