//! Admin: a contribution's events. Its page lists what happened to it, in order, and
//! records the next event (a payment, a reduction, …); the contribution's amount and
//! status follow from them (domain::contribution_events).

use askama::Template;
use axum::Router;
use sqlx::PgPool;

use crate::domain::forms::FieldErrors;
use crate::domain::records::contribution_event::{EventFields, EventForm};
use crate::domain::vocab::EventKind;
use crate::store::contribution_events::{
    self as store, ContributionEvents, ContributionRef, EventRow,
};
use crate::web::admin::pipeline::{
    self, Check, Choice, ConflictRow, CreatePage, Done, EditPage, FormPage, PathParams,
    form_template,
};
use crate::web::auth::Nav;
use crate::web::view;
use crate::web::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    pipeline::create_routes::<ContributionEvents>()
}

/// The events page of a contribution, where a save returns.
fn events_page_url(contribution_id: i64) -> String {
    format!("/admin/contributions/{contribution_id}/events/new#events-heading")
}

/// One event as the page lists it.
pub struct EventLine {
    pub kind: &'static str,
    pub amount: String,
    pub on: String,
    pub source: String,
    pub note: String,
}

impl EventLine {
    fn of(row: &EventRow, currency: &str) -> EventLine {
        let f = &row.fields;
        EventLine {
            kind: f.kind.label(),
            amount: f
                .amount
                .map(|a| view::amount(a, currency, false, false))
                .unwrap_or_else(|| "what was not paid".into()),
            on: f.on.to_string(),
            source: f.source.clone().unwrap_or_default(),
            note: f.note.clone().unwrap_or_default(),
        }
    }
}

/// The contribution's events so far, shown above the form.
#[derive(Debug, Default)]
pub struct Recorded {
    pub contribution_id: i64,
    pub events: Vec<EventRow>,
}

#[derive(Template)]
#[template(path = "admin/money/events.html")]
pub struct EventsTemplate {
    pub nav: Nav,
    pub return_to: Option<String>,
    pub contribution: ContributionRef,
    pub standing: String,
    pub events: Vec<EventLine>,
    pub kinds: Vec<Choice>,
    pub action: String,
    pub is_new: bool,
    pub form: EventForm,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
}

impl EditPage for ContributionEvents {
    const LIST: Option<&'static str> = None;
    /// Events are never edited; only their create routes are served.
    const UPDATE: &'static str = "/admin/contribution-events/{id}";
    type Form = EventForm;
    type Context = Recorded;

    fn parse_key(path: &PathParams) -> Result<i64, AppError> {
        path.id("id")
    }

    async fn owner_of(pool: &PgPool, e: &EventRow) -> Result<ContributionRef, AppError> {
        contribution(pool, e.contribution_id).await
    }

    async fn context(
        pool: &PgPool,
        owner: &ContributionRef,
        _: Option<&EventRow>,
        _: &EventForm,
    ) -> Result<Recorded, AppError> {
        let mut db = pool.acquire().await?;
        Ok(Recorded {
            contribution_id: owner.id,
            events: store::of(&mut db, owner.id).await?,
        })
    }

    fn form_of(e: &EventRow) -> EventForm {
        let f = &e.fields;
        EventForm {
            kind: f.kind.as_str().into(),
            amount: f
                .amount
                .map(crate::domain::money::group_thousands)
                .unwrap_or_default(),
            on: f.on.code(),
            source: f.source.clone().unwrap_or_default(),
            note: f.note.clone().unwrap_or_default(),
            version: "1".into(),
        }
    }

    fn validate(form: &EventForm, check: Check<'_, Self>) -> Result<EventFields, FieldErrors> {
        form.validate(check.context.contribution_id, check.today)
    }

    fn conflict_values(form: &EventForm, _: &Recorded) -> Vec<(&'static str, String)> {
        form.labelled()
    }

    fn done_url(e: &EventRow, _: Done) -> String {
        events_page_url(e.contribution_id)
    }

    fn render(page: FormPage<'_, Self>) -> Result<String, askama::Error> {
        let c = page.owner.clone();
        let events = page
            .context
            .events
            .iter()
            .map(|e| EventLine::of(e, &c.currency))
            .collect();
        form_template!(
            page,
            EventsTemplate {
                standing: format!(
                    "{}, {}",
                    view::amount(c.amount, &c.currency, c.approximate, false),
                    c.status
                ),
                contribution: c,
                events,
                kinds: pipeline::choices::<EventKind>(),
            }
        )
        .render()
    }
}

async fn contribution(pool: &PgPool, id: i64) -> Result<ContributionRef, AppError> {
    let mut db = pool.acquire().await?;
    store::contribution(&mut db, id)
        .await?
        .ok_or(AppError::NotFound)
}

impl CreatePage for ContributionEvents {
    const CREATE: &'static str = "/admin/contributions/{id}/events";

    async fn owner(pool: &PgPool, path: &PathParams) -> Result<ContributionRef, AppError> {
        contribution(pool, path.id("id")?).await
    }

    fn blank(_: &Recorded) -> EventForm {
        EventForm {
            kind: EventKind::Paid.as_str().into(),
            version: "0".into(),
            ..EventForm::default()
        }
    }
}
