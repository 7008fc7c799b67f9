//! Delivery on the pages: an item's milestones and targets (its page's Delivery
//! section), and what staff do with them — mark a milestone done, record progress on a
//! target — each on a small form of its own that works without JavaScript.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, Response};
use chrono::NaiveDate;

use crate::domain::delivery::{Delivery, Milestone, Target};
use crate::domain::forms::FieldErrors;
use crate::domain::records::delivery::{MarkDoneForm, ProgressForm, count_text};
use crate::domain::vocab::MilestoneStatus;
use crate::store::delivery::{self as store, Milestones, Progress, ProgressEntry};
use crate::store::editing::{self, Saved};
use crate::web::admin::pipeline::{PathParams, page_with, see_other};
use crate::web::auth::{Nav, SignedIn};
use crate::web::forms::HtmlForm;
use crate::web::view::CoverageBar;
use crate::web::{AppError, AppState};

use super::render;

/// Width of a target's progress bar, in pixels.
const BAR_WIDTH: u32 = 120;

pub struct MilestoneRow {
    pub id: i64,
    pub title: String,
    pub due: String,
    /// "Done (November 2007)", "Overdue", "Planned", …
    pub standing: String,
    /// A CSS class for the standing: `done`, `overdue`, `slipped`, `cancelled`, `planned`.
    pub class: &'static str,
    pub source_para: String,
    pub note: String,
    /// Planned or slipped: staff may mark it done.
    pub open: bool,
}

impl MilestoneRow {
    pub fn of(m: &Milestone, today: NaiveDate) -> MilestoneRow {
        MilestoneRow {
            id: m.id,
            title: m.title.clone(),
            due: m.due.to_string(),
            standing: m.standing(today),
            class: standing_class(m, today),
            source_para: m.source_para.clone().unwrap_or_default(),
            note: m.note.clone().unwrap_or_default(),
            open: matches!(
                m.status,
                MilestoneStatus::Planned | MilestoneStatus::Slipped
            ),
        }
    }
}

pub fn standing_class(m: &Milestone, today: NaiveDate) -> &'static str {
    match m.status {
        MilestoneStatus::Planned if m.is_overdue(today) => "overdue",
        MilestoneStatus::Planned => "planned",
        MilestoneStatus::Done => "done",
        MilestoneStatus::Slipped => "slipped",
        MilestoneStatus::Cancelled => "cancelled",
    }
}

pub struct UpdateRow {
    pub value: String,
    pub recorded_on: String,
    pub note: String,
    pub recorded_by: String,
}

pub struct TargetRow {
    pub id: i64,
    pub progress: String,
    pub bar: CoverageBar,
    pub period: String,
    pub source_para: String,
    pub note: String,
    /// Newest first.
    pub history: Vec<UpdateRow>,
}

impl TargetRow {
    pub fn of(t: &Target) -> TargetRow {
        TargetRow {
            id: t.id,
            progress: t.progress_text(),
            bar: progress_bar(t),
            period: t.period.map(|p| p.to_string()).unwrap_or_default(),
            source_para: t.source_para.clone().unwrap_or_default(),
            note: t.note.clone().unwrap_or_default(),
            history: t
                .updates
                .iter()
                .rev()
                .map(|u| UpdateRow {
                    value: count_text(u.value),
                    recorded_on: u.recorded_on.format("%-d %B %Y").to_string(),
                    note: u.note.clone().unwrap_or_default(),
                    recorded_by: u.recorded_by.clone(),
                })
                .collect(),
        }
    }
}

fn progress_bar(t: &Target) -> CoverageBar {
    let percent = t.percent();
    CoverageBar {
        width: BAR_WIDTH,
        filled: percent.map_or(0, |p| p * BAR_WIDTH / 100).to_string(),
        label: match percent {
            Some(p) => format!("{p}% of the target reached"),
            None => "no progress recorded".into(),
        },
        known: percent.is_some(),
    }
}

/// An item's Delivery section.
pub struct ItemDelivery {
    pub milestones: Vec<MilestoneRow>,
    pub targets: Vec<TargetRow>,
}

impl ItemDelivery {
    pub fn of(delivery: &Delivery, item_id: i64, today: NaiveDate) -> ItemDelivery {
        ItemDelivery {
            milestones: delivery
                .milestones_of(item_id)
                .map(|m| MilestoneRow::of(m, today))
                .collect(),
            targets: delivery.targets_of(item_id).map(TargetRow::of).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.milestones.is_empty() && self.targets.is_empty()
    }
}

/// A milestone in one of the overview's lists, with its item.
pub struct WatchRow {
    pub item_slug: String,
    pub item_title: String,
    pub title: String,
    pub due: String,
    pub standing: String,
    pub class: &'static str,
}

/// One list of the overview's delivery watch, cut at [`WATCH_ROWS`].
pub struct WatchList {
    pub rows: Vec<WatchRow>,
    /// How many more there are (on the timeline).
    pub more: usize,
}

/// How many milestones each of the overview's lists shows.
pub const WATCH_ROWS: usize = 10;

/// For staff on the overview: milestones due in the next 90 days, overdue and slipped.
pub struct DeliveryWatch {
    pub due_soon: WatchList,
    pub overdue: WatchList,
    pub slipped: WatchList,
    pub horizon: u64,
}

/// One of the overview's lists: its heading, element id, rows and what it says when empty.
pub type WatchSection<'a> = (&'static str, &'static str, &'a WatchList, &'static str);

impl DeliveryWatch {
    /// The lists in the order the overview shows them.
    pub fn lists(&self) -> [WatchSection<'_>; 3] {
        [
            (
                "Overdue",
                "watch-overdue",
                &self.overdue,
                "Nothing overdue.",
            ),
            (
                "Due in the next 90 days",
                "watch-due",
                &self.due_soon,
                "Nothing due in the next 90 days.",
            ),
            (
                "Slipped",
                "watch-slipped",
                &self.slipped,
                "Nothing slipped.",
            ),
        ]
    }

    /// Over the items of `portfolio` (the staff's whole portfolio, drafts included).
    pub fn of(
        delivery: &Delivery,
        portfolio: &crate::domain::portfolio::Portfolio,
        today: NaiveDate,
    ) -> DeliveryWatch {
        let list = |milestones: &mut dyn Iterator<Item = &Milestone>| {
            let mut rows = Vec::new();
            let mut more = 0;
            for m in milestones {
                let Some(index) = portfolio.index_of(m.item_id) else {
                    continue;
                };
                if rows.len() == WATCH_ROWS {
                    more += 1;
                    continue;
                }
                let item = &portfolio.items[index];
                rows.push(WatchRow {
                    item_slug: item.slug.clone(),
                    item_title: item.title.clone(),
                    title: m.title.clone(),
                    due: m.due.to_string(),
                    standing: m.standing(today),
                    class: standing_class(m, today),
                });
            }
            WatchList { rows, more }
        };
        let horizon = crate::domain::delivery::DUE_SOON_DAYS;
        DeliveryWatch {
            due_soon: list(&mut delivery.due_within(today, horizon)),
            overdue: list(&mut delivery.overdue(today)),
            slipped: list(&mut delivery.slipped()),
            horizon,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Mark a milestone done (staff)

#[derive(Template)]
#[template(path = "delivery/mark_done.html")]
pub struct MarkDonePage {
    pub nav: Nav,
    pub item_slug: String,
    pub item_title: String,
    pub title: String,
    pub due: String,
    pub action: String,
    pub form: MarkDoneForm,
    pub errors: FieldErrors,
    /// Someone changed the milestone since the form was loaded: what it says now.
    pub conflict: Option<String>,
}

async fn milestone(state: &AppState, path: &PathParams) -> Result<store::MilestoneRow, AppError> {
    let found = store::milestone(&state.pool, path.id("id")?).await?;
    found.filter(|m| !m.archived).ok_or(AppError::NotFound)
}

fn mark_done_page(nav: Nav, m: &store::MilestoneRow, form: MarkDoneForm) -> MarkDonePage {
    let fields = m.fields();
    MarkDonePage {
        nav,
        item_slug: m.item_slug.clone(),
        item_title: m.item_title.clone(),
        title: m.title.clone(),
        due: fields.due.to_string(),
        action: format!("/milestones/{}/done", m.id),
        form,
        errors: FieldErrors::default(),
        conflict: None,
    }
}

pub async fn mark_done_form(
    State(state): State<AppState>,
    nav: Nav,
    path: PathParams,
) -> Result<Html<String>, AppError> {
    let m = milestone(&state, &path).await?;
    let form = MarkDoneForm {
        done_on: state.today().format("%Y-%m-%d").to_string(),
        version: m.version.to_string(),
    };
    render(&mark_done_page(nav, &m, form))
}

pub async fn mark_done(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    path: PathParams,
    HtmlForm(form): HtmlForm<MarkDoneForm>,
) -> Result<Response, AppError> {
    let m = milestone(&state, &path).await?;
    let version: i32 = form.version.trim().parse().unwrap_or(0);
    let fields = match form.apply(&m.fields(), state.today()) {
        Ok(fields) => fields,
        Err(errors) => {
            let page = MarkDonePage {
                errors,
                ..mark_done_page(nav, &m, form)
            };
            return page_with(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let actor = user.actor();
    match editing::update::<Milestones>(&state.pool, &actor, &m.id, version, &fields).await? {
        Saved::Done(after) => see_other(&format!(
            "/programmes/{}?done=milestone#delivery-heading",
            after.item_slug
        )),
        Saved::Refused(errors) => {
            let page = MarkDonePage {
                errors,
                ..mark_done_page(nav, &m, form)
            };
            page_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Saved::Stale(now) => {
            let fresh = MarkDoneForm {
                version: now.version.to_string(),
                ..form
            };
            let page = MarkDonePage {
                conflict: Some(milestone_now(&now, state.today())),
                ..mark_done_page(nav, &now, fresh)
            };
            page_with(StatusCode::CONFLICT, &page)
        }
        Saved::Missing => Err(AppError::NotFound),
    }
}

/// What a stored milestone says now, in one line (for a conflict).
fn milestone_now(m: &store::MilestoneRow, today: NaiveDate) -> String {
    let fields = m.fields();
    let now = Milestone {
        id: m.id,
        item_id: m.item_id,
        title: fields.title,
        due: fields.due,
        status: fields.status,
        done_on: fields.done_on,
        source_para: None,
        note: None,
        version: m.version,
    };
    format!(
        "Someone changed this milestone while you were typing: it is now “{}”, due {}: {}. \
         Nothing was saved; save again to mark it done.",
        now.title,
        now.due,
        now.standing(today)
    )
}

// ---------------------------------------------------------------------------------------
// Record progress on a target (staff)

#[derive(Template)]
#[template(path = "delivery/progress.html")]
pub struct ProgressPage {
    pub nav: Nav,
    pub item_slug: String,
    pub item_title: String,
    pub measure: String,
    pub target: String,
    pub current: String,
    pub action: String,
    pub form: ProgressForm,
    pub errors: FieldErrors,
    pub conflict: Option<String>,
}

async fn target(state: &AppState, path: &PathParams) -> Result<store::TargetRow, AppError> {
    let found = store::target(&state.pool, path.id("id")?).await?;
    found.filter(|t| !t.archived).ok_or(AppError::NotFound)
}

fn progress_page(nav: Nav, t: &store::TargetRow, form: ProgressForm) -> ProgressPage {
    ProgressPage {
        nav,
        item_slug: t.item_slug.clone(),
        item_title: t.item_title.clone(),
        measure: t.measure.clone(),
        target: count_text(t.target_value),
        current: t
            .current
            .map_or_else(|| "none recorded".to_string(), count_text),
        action: format!("/targets/{}/progress", t.id),
        form,
        errors: FieldErrors::default(),
        conflict: None,
    }
}

pub async fn progress_form(
    State(state): State<AppState>,
    nav: Nav,
    path: PathParams,
) -> Result<Html<String>, AppError> {
    let t = target(&state, &path).await?;
    let form = ProgressForm {
        recorded_on: state.today().format("%Y-%m-%d").to_string(),
        version: t.version.to_string(),
        ..ProgressForm::default()
    };
    render(&progress_page(nav, &t, form))
}

pub async fn record_progress(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    path: PathParams,
    HtmlForm(form): HtmlForm<ProgressForm>,
) -> Result<Response, AppError> {
    let t = target(&state, &path).await?;
    let version: i32 = form.version.trim().parse().unwrap_or(0);
    let fields = match form.validate(state.today()) {
        Ok(fields) => fields,
        Err(errors) => {
            let page = ProgressPage {
                errors,
                ..progress_page(nav, &t, form)
            };
            return page_with(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let entry = ProgressEntry {
        fields,
        actor_id: Some(user.id),
        actor_email: user.email.clone(),
    };
    match editing::update::<Progress>(&state.pool, &user.actor(), &t.id, version, &entry).await? {
        Saved::Done(after) => see_other(&format!(
            "/programmes/{}?done=progress#delivery-heading",
            after.item_slug
        )),
        Saved::Refused(errors) => {
            let page = ProgressPage {
                errors,
                ..progress_page(nav, &t, form)
            };
            page_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Saved::Stale(now) => {
            let fresh = ProgressForm {
                version: now.version.to_string(),
                ..form
            };
            let current = now.current.map_or_else(|| "none".to_string(), count_text);
            let page = ProgressPage {
                conflict: Some(format!(
                    "Someone recorded progress on this target while you were typing: the \
                     current value is now {current} of {}. Nothing was saved; your entry is \
                     kept below. Save it again if it is still right.",
                    count_text(now.target_value)
                )),
                ..progress_page(nav, &now, fresh)
            };
            page_with(StatusCode::CONFLICT, &page)
        }
        Saved::Missing => Err(AppError::NotFound),
    }
}
