//! Inline SVG charts, drawn on the server: no JavaScript, no external files. Every chart
//! carries a text alternative, and the pages print the same numbers in a table beside it.

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

fn bar(
    parts: &[(&'static str, &'static str, Decimal)],
    scale: Decimal,
    suffix: &str,
) -> StackedBar {
    let mut x = Decimal::ZERO;
    let mut segments = Vec::new();
    let mut words = Vec::new();
    for (class, name, amount) in parts {
        if amount.is_zero() {
            continue;
        }
        words.push(format!("{name} USD {}", group_thousands(*amount)));
        let width = px(*amount, scale);
        segments.push(Segment {
            x: x.to_string(),
            width: width.to_string(),
            class,
            title: format!("{name}: USD {}", group_thousands(*amount)),
        });
        x += width;
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
