//! `/changes?from=&to=`: what changed in the portfolio between two days, both included:
//! new pledges, commitments, payments, reductions and cancellations (contributions'
//! events known by a day in the range), budgets stated for a day in it, items whose
//! period starts or ends in it, and items whose funding gap opened or closed (the gap
//! as at the day before `from` against the gap as at `to`). With totals; as a page, CSV
//! and XLSX. "Since the last session" is one link: from the day after the Commission's
//! last session (`LAST_SESSION`) to today.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, Response};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::sync::Arc;

use crate::domain::auth::Audience;
use crate::domain::contribution_events::EventKind;
use crate::domain::dates::PartialDate;
use crate::web::auth::Nav;
use crate::web::dashboard::{Dashboard, Snapshot};
use crate::web::export::{Table, csv_response, workbook, xlsx_response};
use crate::web::forms::HtmlQuery;
use crate::web::kept::{Weight, off_async};
use crate::web::pages::overview::parse_page;
use crate::web::pages::render;
use crate::web::snapshot::Snap;
use crate::web::view::{self, Pager};
use crate::web::{AppError, AppState};

/// Rows per page.
const PAGE_SIZE: usize = 100;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ChangesQuery {
    pub from: String,
    pub to: String,
    pub page: String,
}

/// What kind of change a row is, in the order the totals list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    Pledge,
    Commitment,
    Payment,
    Reduction,
    Cancellation,
    Budget,
    ItemStarted,
    ItemEnded,
    GapOpened,
    GapClosed,
}

impl ChangeKind {
    const ALL: [ChangeKind; 10] = [
        ChangeKind::Pledge,
        ChangeKind::Commitment,
        ChangeKind::Payment,
        ChangeKind::Reduction,
        ChangeKind::Cancellation,
        ChangeKind::Budget,
        ChangeKind::ItemStarted,
        ChangeKind::ItemEnded,
        ChangeKind::GapOpened,
        ChangeKind::GapClosed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::Pledge => "New pledge",
            ChangeKind::Commitment => "Commitment",
            ChangeKind::Payment => "Payment",
            ChangeKind::Reduction => "Reduction",
            ChangeKind::Cancellation => "Cancellation",
            ChangeKind::Budget => "Budget stated",
            ChangeKind::ItemStarted => "Item starts",
            ChangeKind::ItemEnded => "Item ends",
            ChangeKind::GapOpened => "Funding gap opened",
            ChangeKind::GapClosed => "Funding gap closed",
        }
    }

    fn of_event(kind: EventKind) -> ChangeKind {
        match kind {
            EventKind::Pledged => ChangeKind::Pledge,
            EventKind::Committed => ChangeKind::Commitment,
            EventKind::Paid => ChangeKind::Payment,
            EventKind::Reduced => ChangeKind::Reduction,
            EventKind::Cancelled => ChangeKind::Cancellation,
        }
    }
}

/// One change, as the page, the CSV and the workbook show it.
#[derive(Debug, Clone)]
pub struct ChangeRow {
    /// When: a day, or a period as the source gives it ("Q3 2008"); and as typed
    /// ("2008-Q3"), for the downloads.
    pub date: String,
    pub date_code: String,
    /// The day the range is compared with (the last day of the period).
    pub day: NaiveDate,
    pub kind: ChangeKind,
    pub item_slug: String,
    pub item_title: String,
    pub organisation: String,
    /// As stated: "EUR 1,000,000"; empty when the change has no amount.
    pub amount_text: String,
    pub amount: Option<Decimal>,
    pub currency: String,
    pub usd: Option<Decimal>,
    pub note: String,
}

/// Count and USD sum of one kind of change.
pub struct Total {
    pub label: &'static str,
    pub count: usize,
    pub usd: String,
    /// Amounts no rate converts, left out of `usd`.
    pub unconverted: usize,
}

/// The range asked for: `from ..= to`.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Range {
    fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }

    /// The dates of the query; without them, since the last session until today.
    fn parse(q: &ChangesQuery, state: &AppState) -> Result<Range, AppError> {
        let since = state
            .settings
            .last_session
            .succ_opt()
            .unwrap_or(state.settings.last_session);
        let day = |raw: &str, name: &str, default: NaiveDate| -> Result<NaiveDate, AppError> {
            match raw.trim() {
                "" => Ok(default),
                text => NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                    AppError::BadRequest(format!(
                        "{name} must be a day written as YYYY-MM-DD, such as 2008-03-15 (it was {text:?})."
                    ))
                }),
            }
        };
        let range = Range {
            from: day(&q.from, "from", since)?,
            to: day(&q.to, "to", state.today())?,
        };
        if range.from > range.to {
            return Err(AppError::BadRequest(format!(
                "from ({}) is after to ({}): give the earlier day first.",
                range.from, range.to
            )));
        }
        Ok(range)
    }

    /// The day before the range: the portfolio it is compared with.
    fn day_before(&self) -> NaiveDate {
        self.from.pred_opt().unwrap_or(self.from)
    }

    fn query(&self) -> String {
        format!("from={}&to={}", self.from, self.to)
    }
}

/// The changes of one range as one audience sees them, kept with the revision.
pub struct Changes {
    pub rows: Vec<ChangeRow>,
}

impl Weight for Changes {
    fn weight(&self) -> usize {
        // the strings dominate: about 300 bytes a row
        self.rows.len() * 300
    }
}

/// Every change in `range` that `audience` may see, by day then kind: computed once per
/// revision, audience and range, then kept (within `CHANGES_BYTES`).
pub async fn changes(
    state: &AppState,
    snap: &Arc<Snapshot>,
    audience: Audience,
    range: Range,
) -> Result<Arc<Changes>, AppError> {
    let key = format!("{}#{}", audience as u8, range.query());
    if let Some(kept) = snap.changes.get(&key) {
        return Ok(kept);
    }
    let rows = compute(state, snap, audience, range).await?;
    Ok(snap.changes.keep(key, Arc::new(Changes { rows })))
}

async fn compute(
    state: &AppState,
    snap: &Arc<Snapshot>,
    audience: Audience,
    range: Range,
) -> Result<Vec<ChangeRow>, AppError> {
    let d = snap.dashboard(audience);
    let mut rows = events_in(snap, d, range);
    rows.extend(budgets_in(snap, d, range));
    rows.extend(items_in(d, range));
    let before = state.snapshot_as_at(snap, range.day_before()).await?;
    let after = state.snapshot_as_at(snap, range.to).await?;
    rows.extend(gaps_between(
        before.dashboard(audience),
        after.dashboard(audience),
        range.to,
    ));
    rows.sort_by(|a, b| (a.day, a.kind, &a.item_title).cmp(&(b.day, b.kind, &b.item_title)));
    Ok(rows)
}

fn events_in(snap: &Snapshot, d: &Dashboard, range: Range) -> Vec<ChangeRow> {
    let records = &snap.records;
    let data = &records.data;
    records
        .events_between(range.from, range.to)
        .iter()
        .filter_map(|at| {
            let c = &data.contributions[at.contribution];
            let e = &c.events[at.event];
            let item = &d.portfolio.items[d.portfolio.index_of(c.item_id)?];
            Some(ChangeRow {
                date: e.on.to_string(),
                date_code: e.on.code(),
                day: at.day,
                kind: ChangeKind::of_event(e.kind),
                item_slug: item.slug.clone(),
                item_title: item.title.clone(),
                organisation: records
                    .organisation_by_id(c.org_id)
                    .map(|o| o.display_name())
                    .unwrap_or_default(),
                amount_text: e
                    .amount
                    .map(|a| view::amount(a, &c.currency, c.approximate, c.lower_bound))
                    .unwrap_or_else(|| "what was not paid".into()),
                amount: e.amount,
                currency: c.currency.clone(),
                usd: e.amount.and_then(|a| data.usd(a, &c.currency, at.day)),
                note: String::new(),
            })
        })
        .collect()
}

fn budgets_in(snap: &Snapshot, d: &Dashboard, range: Range) -> Vec<ChangeRow> {
    snap.records
        .data
        .budgets
        .iter()
        .filter(|b| range.contains(b.as_of))
        .filter_map(|b| {
            let item = &d.portfolio.items[d.portfolio.index_of(b.item_id)?];
            Some(ChangeRow {
                date: PartialDate::day(b.as_of).to_string(),
                date_code: b.as_of.to_string(),
                day: b.as_of,
                kind: ChangeKind::Budget,
                item_slug: item.slug.clone(),
                item_title: item.title.clone(),
                organisation: String::new(),
                amount_text: view::amount(b.amount, &b.currency, b.approximate, b.lower_bound),
                amount: Some(b.amount),
                currency: b.currency.clone(),
                usd: b.amount_usd,
                note: b.period.clone().unwrap_or_default(),
            })
        })
        .collect()
}

/// Items whose own period starts or ends in the range (by its first and last day).
fn items_in(d: &Dashboard, range: Range) -> Vec<ChangeRow> {
    let mut rows = Vec::new();
    for item in &d.portfolio.items {
        let ends = [
            (item.start, ChangeKind::ItemStarted, true),
            (item.end, ChangeKind::ItemEnded, false),
        ];
        for (date, kind, first) in ends {
            let Some(date) = date else { continue };
            let day = if first {
                date.first_day()
            } else {
                date.last_day()
            };
            if range.contains(day) {
                rows.push(ChangeRow {
                    date: date.to_string(),
                    date_code: date.code(),
                    day,
                    kind,
                    item_slug: item.slug.clone(),
                    item_title: item.title.clone(),
                    organisation: String::new(),
                    amount_text: String::new(),
                    amount: None,
                    currency: String::new(),
                    usd: None,
                    note: String::new(),
                });
            }
        }
    }
    rows
}

/// Items with a known budget whose gap was open and is closed, or the other way round.
fn gaps_between(before: &Dashboard, after: &Dashboard, to: NaiveDate) -> Vec<ChangeRow> {
    let open = |d: &Dashboard, i: usize| {
        let f = d.portfolio.funding_ref(i);
        f.gap_usd.map(|gap| gap > Decimal::ZERO)
    };
    after
        .portfolio
        .items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let was = before
                .portfolio
                .index_of(item.id)
                .and_then(|b| open(before, b))?;
            let is = open(after, i)?;
            let kind = match (was, is) {
                (true, false) => ChangeKind::GapClosed,
                (false, true) => ChangeKind::GapOpened,
                _ => return None,
            };
            let gap = after.portfolio.funding_ref(i).gap_usd;
            Some(ChangeRow {
                date: format!("by {}", PartialDate::day(to)),
                date_code: to.to_string(),
                day: to,
                kind,
                item_slug: item.slug.clone(),
                item_title: item.title.clone(),
                organisation: String::new(),
                amount_text: String::new(),
                amount: None,
                currency: String::new(),
                usd: gap.filter(|g| *g > Decimal::ZERO),
                note: match kind {
                    ChangeKind::GapOpened => "the gap now".into(),
                    _ => "fully pledged".into(),
                },
            })
        })
        .collect()
}

fn totals(rows: &[ChangeRow]) -> Vec<Total> {
    ChangeKind::ALL
        .iter()
        .filter_map(|&kind| {
            let of_kind: Vec<&ChangeRow> = rows.iter().filter(|r| r.kind == kind).collect();
            if of_kind.is_empty() {
                return None;
            }
            let sum: Decimal = of_kind.iter().filter_map(|r| r.usd).sum();
            let unconverted = of_kind
                .iter()
                .filter(|r| r.amount.is_some() && r.usd.is_none())
                .count();
            let has_money = of_kind.iter().any(|r| r.usd.is_some());
            Some(Total {
                label: kind.label(),
                count: of_kind.len(),
                usd: if has_money {
                    view::usd(sum)
                } else {
                    String::new()
                },
                unconverted,
            })
        })
        .collect()
}

#[derive(Template)]
#[template(path = "changes.html")]
pub struct ChangesPage {
    pub nav: Nav,
    pub from: String,
    pub to: String,
    pub from_text: String,
    pub to_text: String,
    /// The day before `from`: what the gaps are compared with.
    pub before: String,
    pub before_text: String,
    pub since_session: String,
    pub session_text: String,
    pub query: String,
    pub totals: Vec<Total>,
    pub rows: Vec<ChangeRow>,
    pub row_count: usize,
    pub pager: Pager,
}

fn day_text(day: NaiveDate) -> String {
    day.format("%-d %B %Y").to_string()
}

pub fn usd_text(usd: &Option<Decimal>) -> String {
    usd.map(view::usd).unwrap_or_default()
}

pub async fn show(
    State(state): State<AppState>,
    snap: Snap,
    audience: Audience,
    nav: Nav,
    HtmlQuery(q): HtmlQuery<ChangesQuery>,
) -> Result<Html<String>, AppError> {
    let range = Range::parse(&q, &state)?;
    let page = parse_page(Some(&q.page))?;
    let changes = changes(&state, &snap.0, audience, range).await?;
    let rows = &changes.rows;
    let pager = Pager::new(
        page,
        rows.len(),
        PAGE_SIZE,
        format!("/changes?{}", range.query()),
    )?;
    let session = state.settings.last_session;
    render(&ChangesPage {
        nav,
        from: range.from.to_string(),
        to: range.to.to_string(),
        from_text: day_text(range.from),
        before: range.day_before().to_string(),
        before_text: day_text(range.day_before()),
        to_text: day_text(range.to),
        since_session: format!(
            "/changes?from={}&to={}",
            session.succ_opt().unwrap_or(session),
            state.today()
        ),
        session_text: day_text(session),
        query: range.query(),
        totals: totals(rows),
        row_count: rows.len(),
        rows: rows[pager.range()].to_vec(),
        pager,
    })
}

const HEADER: [&str; 9] = [
    "Date",
    "Change",
    "Item",
    "Item slug",
    "Organisation",
    "Amount",
    "Currency",
    "Amount (USD)",
    "Note",
];

/// The rows as a download: each line is written from the kept rows as it is sent.
fn table(changes: Arc<Changes>) -> Table {
    let header = HEADER.iter().map(|h| h.to_string()).collect();
    let keys = (0..changes.rows.len()).collect();
    Table::new(header, keys, move |_, i| {
        let r = &changes.rows[i];
        let decimal = |d: Option<Decimal>| d.map(|d| d.round_dp(2).to_string()).unwrap_or_default();
        vec![
            r.date_code.clone(),
            r.kind.label().to_string(),
            r.item_title.clone(),
            r.item_slug.clone(),
            r.organisation.clone(),
            decimal(r.amount),
            r.currency.clone(),
            decimal(r.usd),
            r.note.clone(),
        ]
    })
}

fn filename(range: Range, extension: &str) -> String {
    format!("changes-{}-to-{}.{extension}", range.from, range.to)
}

/// The range a download asks for and its changes.
async fn asked(
    state: &AppState,
    snap: &Snap,
    audience: Audience,
    q: &ChangesQuery,
) -> Result<(Range, Arc<Changes>), AppError> {
    let range = Range::parse(q, state)?;
    Ok((range, changes(state, &snap.0, audience, range).await?))
}

pub async fn csv(
    State(state): State<AppState>,
    snap: Snap,
    audience: Audience,
    HtmlQuery(q): HtmlQuery<ChangesQuery>,
) -> Result<Response, AppError> {
    let (range, rows) = asked(&state, &snap, audience, &q).await?;
    Ok(csv_response(
        Arc::clone(&snap.0),
        &filename(range, "csv"),
        table(rows),
    ))
}

pub async fn xlsx(
    State(state): State<AppState>,
    snap: Snap,
    audience: Audience,
    HtmlQuery(q): HtmlQuery<ChangesQuery>,
) -> Result<Response, AppError> {
    let (range, rows) = asked(&state, &snap, audience, &q).await?;
    let snapshot = Arc::clone(&snap.0);
    let workbook = off_async(move || workbook(&snapshot, &[("changes", table(rows))])).await?;
    Ok(xlsx_response(&filename(range, "xlsx"), workbook))
}
