//! `/timeline`: items as rows, years and quarters as columns, each item's own period as a
//! bar and its milestones as marks as wide as their precision (a quarter is a quarter
//! wide), today's date marked. Inline SVG with a table beside it that says the same in
//! text; no JavaScript. Filtered like the funding page, a page of rows at a time.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use chrono::{Datelike, NaiveDate};

use crate::domain::auth::Audience;
use crate::domain::dates::{period_days, period_text};
use crate::domain::delivery::Milestone;
use crate::web::auth::Nav;
use crate::web::dashboard::Dashboard;
use crate::web::forms::HtmlQuery;
use crate::web::pages::delivery::standing_class;
use crate::web::pages::funding::{FilterControl, controls, describe, parse_filters, query_string};
use crate::web::pages::overview::parse_page;
use crate::web::pages::{ListQuery, render};
use crate::web::snapshot::Snap;
use crate::web::view::Pager;
use crate::web::{AppError, AppState};

/// Rows per page.
const PAGE_SIZE: usize = 40;
/// The drawing's width, its label column and its row height (SVG user units).
const WIDTH: f64 = 1200.0;
const LABEL: f64 = 330.0;
const ROW: f64 = 26.0;
const HEADER: f64 = 34.0;
/// A mark narrower than this (a day) is drawn this wide, to be seen.
const MIN_MARK: f64 = 5.0;
/// Titles in the drawing are cut to this many characters (the table has them whole).
const LABEL_CHARS: usize = 44;

pub struct YearColumn {
    pub year: i32,
    pub x: String,
    pub width: String,
    pub label_x: String,
    /// Where its second, third and fourth quarters start.
    pub quarters: Vec<String>,
}

pub struct Mark {
    pub x: String,
    pub width: String,
    pub class: &'static str,
    pub label: String,
}

pub struct TimelineRow {
    pub slug: String,
    pub title: String,
    pub short_title: String,
    pub depth: usize,
    pub draft: bool,
    pub y: String,
    pub text_y: String,
    pub bar: Option<Mark>,
    pub marks: Vec<Mark>,
    /// For the table: the item's period and its milestones in words.
    pub period: String,
    pub milestones: Vec<MilestoneText>,
}

pub struct MilestoneText {
    pub due: String,
    pub title: String,
    pub standing: String,
    pub class: &'static str,
    pub source_para: String,
}

#[derive(Template)]
#[template(path = "timeline.html")]
pub struct TimelinePage<'a> {
    pub nav: Nav,
    pub controls: Vec<FilterControl<'a>>,
    pub active: Vec<String>,
    pub rows: Vec<TimelineRow>,
    pub row_count: usize,
    pub pager: Pager,
    pub years: Vec<YearColumn>,
    pub height: String,
    pub today: String,
    /// Where today falls in the drawing, when it does.
    pub today_x: Option<String>,
    pub today_note: String,
    pub overdue: usize,
    pub slipped: usize,
    /// The filters as `a=b&` (empty without filters), for the download links.
    pub query_prefix: String,
}

/// The span of years the drawing covers.
#[derive(Clone, Copy)]
struct Axis {
    first_year: i32,
    years: i32,
}

impl Axis {
    fn covering(dates: impl Iterator<Item = (NaiveDate, NaiveDate)>) -> Option<Axis> {
        let (mut low, mut high) = (i32::MAX, i32::MIN);
        for (first, last) in dates {
            low = low.min(first.year());
            high = high.max(last.year());
        }
        (low <= high).then_some(Axis {
            first_year: low,
            years: high - low + 1,
        })
    }

    fn year_width(&self) -> f64 {
        (WIDTH - LABEL - 10.0) / f64::from(self.years)
    }

    /// The x of the start of `day`.
    fn x(&self, day: NaiveDate) -> f64 {
        let year = day.year() - self.first_year;
        let days_in_year = if day.leap_year() { 366.0 } else { 365.0 };
        let within = f64::from(day.ordinal0()) / days_in_year;
        LABEL + (f64::from(year) + within) * self.year_width()
    }

    /// From the start of `first` to the end of `last`.
    fn span(&self, first: NaiveDate, last: NaiveDate) -> (f64, f64) {
        let x = self.x(first);
        let end = last.succ_opt().map_or(WIDTH - 10.0, |next| self.x(next));
        (x, (end - x).max(MIN_MARK))
    }

    fn contains(&self, day: NaiveDate) -> bool {
        (self.first_year..self.first_year + self.years).contains(&day.year())
    }

    fn columns(&self) -> Vec<YearColumn> {
        let width = self.year_width();
        (0..self.years)
            .map(|n| {
                let x = LABEL + f64::from(n) * width;
                YearColumn {
                    year: self.first_year + n,
                    x: px(x),
                    width: px(width),
                    label_x: px(x + width / 2.0),
                    quarters: (1..4).map(|q| px(x + width * f64::from(q) / 4.0)).collect(),
                }
            })
            .collect()
    }
}

fn px(value: f64) -> String {
    format!("{value:.1}")
}

/// The items a timeline shows: those passing the filters that have a period or a
/// milestone of their own.
fn dated_rows(d: &Dashboard, snap: &Snap, matching: Vec<usize>) -> Vec<usize> {
    let delivery = &snap.records.data.delivery;
    matching
        .into_iter()
        .filter(|&i| {
            let item = &d.portfolio.items[i];
            item.start.is_some()
                || item.end.is_some()
                || delivery.milestones_of(item.id).next().is_some()
        })
        .collect()
}

/// Every date drawn for the item at `i`: its own period and its milestones' periods.
fn item_dates<'a>(
    d: &'a Dashboard,
    snap: &'a Snap,
    i: usize,
) -> impl Iterator<Item = (NaiveDate, NaiveDate)> + 'a {
    let item = &d.portfolio.items[i];
    let period = period_days(item.start, item.end);
    let milestones = snap.records.data.delivery.milestones_of(item.id);
    period
        .into_iter()
        .chain(milestones.map(|m| (m.due.first_day(), m.due.last_day())))
}

fn mark_of(m: &Milestone, axis: Axis, today: NaiveDate) -> Mark {
    let (x, width) = axis.span(m.due.first_day(), m.due.last_day());
    Mark {
        x: px(x),
        width: px(width),
        class: standing_class(m, today),
        label: format!("{}: due {}, {}", m.title, m.due, m.standing(today)),
    }
}

fn short(title: &str) -> String {
    if title.chars().count() <= LABEL_CHARS {
        return title.to_string();
    }
    let cut: String = title.chars().take(LABEL_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

pub async fn show(
    State(state): State<AppState>,
    snap: Snap,
    audience: Audience,
    nav: Nav,
    HtmlQuery(params): HtmlQuery<ListQuery>,
) -> Result<Html<String>, AppError> {
    let page = parse_page(Some(&params.page))?;
    let d = snap.dashboard(audience);
    let filters = parse_filters(&params.filters, d)?;
    let today = state.today();
    let rows = dated_rows(d, &snap, d.matching(&filters));
    let query = query_string(&filters, &[]);
    let pager = Pager::new(page, rows.len(), PAGE_SIZE, format!("/timeline?{query}"))?;
    // One axis for every page of this view, so that pages line up.
    let axis = Axis::covering(rows.iter().flat_map(|&i| item_dates(d, &snap, i))).unwrap_or(Axis {
        first_year: today.year(),
        years: 1,
    });
    let delivery = &snap.records.data.delivery;
    let shown: Vec<TimelineRow> = rows[pager.range()]
        .iter()
        .enumerate()
        .map(|(n, &i)| {
            let item = &d.portfolio.items[i];
            let y = HEADER + n as f64 * ROW;
            let milestones: Vec<&Milestone> = delivery.milestones_of(item.id).collect();
            TimelineRow {
                slug: item.slug.clone(),
                title: item.title.clone(),
                short_title: short(&item.title),
                depth: d.portfolio.ancestors(i).count(),
                draft: !item.published,
                y: px(y),
                text_y: px(y + ROW / 2.0 + 4.0),
                bar: period_days(item.start, item.end).map(|(first, last)| {
                    let (x, width) = axis.span(first, last);
                    Mark {
                        x: px(x),
                        width: px(width),
                        class: "period",
                        label: String::new(),
                    }
                }),
                marks: milestones.iter().map(|m| mark_of(m, axis, today)).collect(),
                period: period_text(item.start, item.end),
                milestones: milestones
                    .iter()
                    .map(|m| MilestoneText {
                        due: m.due.to_string(),
                        title: m.title.clone(),
                        standing: m.standing(today),
                        class: standing_class(m, today),
                        source_para: m.source_para.clone().unwrap_or_default(),
                    })
                    .collect(),
            }
        })
        .collect();
    let controls = controls(&filters, &d.filter_values);
    let active = describe(&controls);
    let in_view: Vec<&Milestone> = rows
        .iter()
        .flat_map(|&i| delivery.milestones_of(d.portfolio.items[i].id))
        .collect();
    let today_text = today.format("%-d %B %Y").to_string();
    let today_note = match axis.contains(today) {
        true => String::new(),
        false => format!(
            "Today ({today_text}) falls outside the years shown ({}–{}).",
            axis.first_year,
            axis.first_year + axis.years - 1
        ),
    };
    let query_prefix = match query.is_empty() {
        true => String::new(),
        false => format!("{query}&"),
    };
    render(&TimelinePage {
        query_prefix,
        nav,
        controls,
        active,
        row_count: rows.len(),
        height: px(HEADER + shown.len().max(1) as f64 * ROW + 6.0),
        rows: shown,
        pager,
        years: axis.columns(),
        today_x: axis.contains(today).then(|| px(axis.x(today))),
        today: today_text,
        today_note,
        overdue: in_view.iter().filter(|m| m.is_overdue(today)).count(),
        slipped: in_view
            .iter()
            .filter(|m| standing_class(m, today) == "slipped")
            .count(),
    })
}
