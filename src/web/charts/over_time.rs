//! Funding over time: pledged, committed or paid, and paid money added up month by
//! month (each contribution's events, in USD at their month's rate) against the budget,
//! as step lines in inline SVG with a table of the months in which something changed.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::domain::funding::{Counted, first_of_month};
use crate::web::view;

/// The drawing's size and margins (SVG user units).
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 8.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 22.0;

/// Cumulative sums at the end of one month, in USD.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MonthTotals {
    pub month: NaiveDate,
    pub pledged: Decimal,
    pub firm: Decimal,
    pub paid: Decimal,
}

/// One month of the table.
pub struct MonthRow {
    pub month: String,
    pub pledged: String,
    pub firm: String,
    pub paid: String,
}

pub struct YearTick {
    pub x: String,
    pub label: i32,
}

/// The chart, ready to print.
pub struct FundingOverTime {
    pub width: String,
    pub height: String,
    pub pledged: String,
    pub firm: String,
    pub paid: String,
    /// The budget's height, when it is known.
    pub budget_y: Option<String>,
    pub budget: String,
    pub ticks: Vec<YearTick>,
    pub rows: Vec<MonthRow>,
    /// The text alternative.
    pub label: String,
    /// How many amounts no rate converts (left out of the lines).
    pub unconverted: usize,
}

/// Month-end cumulative totals of `parts` (the month an amount is known by, the figure
/// it counts in, its USD value or None without a rate), for each month in which one
/// changed, oldest first; and how many parts had no rate.
pub fn cumulative(
    parts: impl Iterator<Item = (NaiveDate, Counted, Option<Decimal>)>,
) -> (Vec<MonthTotals>, usize) {
    let mut changes: Vec<(NaiveDate, Counted, Decimal)> = Vec::new();
    let mut unconverted = 0;
    for (day, counted, usd) in parts {
        match usd {
            Some(usd) => changes.push((first_of_month(day), counted, usd)),
            None => unconverted += 1,
        }
    }
    changes.sort_by_key(|&(month, _, _)| month);
    let mut months: Vec<MonthTotals> = Vec::new();
    let mut now = MonthTotals::default();
    for (month, counted, usd) in changes {
        if months.last().is_some_and(|m| m.month != month) || months.is_empty() {
            now.month = month;
            months.push(now);
        }
        now.pledged += usd;
        if counted.is_firm() {
            now.firm += usd;
        }
        if counted.is_paid() {
            now.paid += usd;
        }
        if let Some(last) = months.last_mut() {
            *last = now;
        }
    }
    (months, unconverted)
}

impl FundingOverTime {
    /// The chart of `months` (from [`cumulative`]) until `until`, against `budget` (a
    /// lower bound when `at_least`: parts of it are not stated); None when there is
    /// nothing to draw.
    pub fn new(
        months: &[MonthTotals],
        unconverted: usize,
        (budget, at_least): (Option<Decimal>, bool),
        until: NaiveDate,
    ) -> Option<FundingOverTime> {
        let first = months.first()?.month;
        let last_change = months.last()?.month;
        let end = first_of_month(until).max(last_change);
        let span = month_index(first, end) + 1;
        let top = months
            .iter()
            .map(|m| m.pledged.max(m.firm))
            .chain(budget)
            .max()
            .unwrap_or(Decimal::ONE)
            .max(Decimal::ONE);
        let x = |month: NaiveDate| {
            LEFT + (WIDTH - LEFT - RIGHT) * month_index(first, month) as f64 / span as f64
        };
        let y = |usd: Decimal| {
            let share = (usd / top).to_f64().unwrap_or(0.0).clamp(0.0, 1.0);
            HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * share
        };
        let right_edge = WIDTH - RIGHT;
        let line = |value: fn(&MonthTotals) -> Decimal| steps(months, &x, &y, value, right_edge);
        let latest = months.last()?;
        let budget_text = budget
            .map(|b| {
                format!(
                    "{}{}",
                    if at_least { "at least " } else { "" },
                    view::usd(b)
                )
            })
            .unwrap_or_else(|| "not stated".into());
        let ticks = (first.year()..=end.year())
            .filter_map(|year| {
                let jan = NaiveDate::from_ymd_opt(year, 1, 1)?;
                (jan >= first).then(|| YearTick {
                    x: format!("{:.1}", x(jan)),
                    label: year,
                })
            })
            .collect();
        Some(FundingOverTime {
            width: format!("{WIDTH}"),
            height: format!("{HEIGHT}"),
            pledged: line(|m| m.pledged),
            firm: line(|m| m.firm),
            paid: line(|m| m.paid),
            budget_y: budget.map(|b| format!("{:.1}", y(b))),
            budget: budget_text.clone(),
            ticks,
            rows: months
                .iter()
                .map(|m| MonthRow {
                    month: m.month.format("%B %Y").to_string(),
                    pledged: view::usd(m.pledged),
                    firm: view::usd(m.firm),
                    paid: view::usd(m.paid),
                })
                .collect(),
            label: format!(
                "Funding over time from {} to {}: by then {} pledged, {} committed or paid, {} paid{}.",
                first.format("%B %Y"),
                end.format("%B %Y"),
                view::usd(latest.pledged),
                view::usd(latest.firm),
                view::usd(latest.paid),
                budget
                    .map(|_| format!(", against a budget of {}", budget_text))
                    .unwrap_or_default()
            ),
            unconverted,
        })
    }
}

/// Months from `from` to `to` (both first days).
fn month_index(from: NaiveDate, to: NaiveDate) -> i64 {
    i64::from(to.year() - from.year()) * 12 + i64::from(to.month()) - i64::from(from.month())
}

/// A step line: flat through each month, rising at the next change, on to the right edge.
fn steps(
    months: &[MonthTotals],
    x: &impl Fn(NaiveDate) -> f64,
    y: &impl Fn(Decimal) -> f64,
    value: fn(&MonthTotals) -> Decimal,
    right_edge: f64,
) -> String {
    let mut points = Vec::new();
    let mut previous = y(Decimal::ZERO);
    for m in months {
        let at = x(m.month);
        points.push(format!("{at:.1},{previous:.1}"));
        previous = y(value(m));
        points.push(format!("{at:.1},{previous:.1}"));
    }
    points.push(format!("{right_edge:.1},{previous:.1}"));
    points.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a day")
    }

    #[test]
    fn sums_add_up_month_by_month_and_count_what_has_no_rate() {
        let parts = vec![
            (day("2008-01-15"), Counted::Pledged, Some(dec!(100))),
            (day("2008-01-20"), Counted::Committed, Some(dec!(50))),
            (day("2008-03-02"), Counted::Pledged, Some(dec!(-50))),
            (day("2008-03-02"), Counted::Paid, Some(dec!(50))),
            (day("2008-04-01"), Counted::Paid, None),
        ];
        let (months, unconverted) = cumulative(parts.into_iter());
        assert_eq!(unconverted, 1);
        assert_eq!(
            months,
            vec![
                MonthTotals {
                    month: day("2008-01-01"),
                    pledged: dec!(150),
                    firm: dec!(50),
                    paid: dec!(0)
                },
                MonthTotals {
                    month: day("2008-03-01"),
                    pledged: dec!(150),
                    firm: dec!(100),
                    paid: dec!(50)
                },
            ]
        );
        let chart = FundingOverTime::new(
            &months,
            unconverted,
            (Some(dec!(300)), false),
            day("2008-12-31"),
        )
        .expect("a chart");
        assert_eq!(chart.rows.len(), 2);
        assert!(
            chart.label.contains("against a budget of USD 300"),
            "{}",
            chart.label
        );
        // the budget (the largest figure) is drawn at the top of the plot
        assert_eq!(chart.budget_y.as_deref(), Some("14.0"));
    }

    #[test]
    fn nothing_to_draw_is_no_chart() {
        let (months, _) = cumulative(std::iter::empty());
        assert!(FundingOverTime::new(&months, 0, (None, false), day("2008-12-31")).is_none());
    }
}
