//! A contribution's events: reading them, recording new ones, and keeping the
//! contribution's amount and status at what they add up to (domain::contribution_events).
//! Events are only ever added; the table is append-only for the application role.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;

use crate::domain::contribution_events::{Event, EventKind, Standing};
use crate::domain::dates::{self, PartialDate};
use crate::domain::forms::FieldErrors;
use crate::domain::records::contribution_event::EventFields;
use crate::domain::vocab::ContributionStatus;
use crate::store::editing::{Change, Creatable, Editable};

/// The contribution events are recorded on, as their page names it.
#[derive(Debug, Clone, Default)]
pub struct ContributionRef {
    pub id: i64,
    pub item_id: i64,
    pub item_title: String,
    pub org_name: String,
    pub currency: String,
    /// As it stands now.
    pub amount: Decimal,
    pub approximate: bool,
    pub status: String,
}

pub async fn contribution(db: &mut PgConnection, id: i64) -> sqlx::Result<Option<ContributionRef>> {
    let Some(c) = crate::store::money::contribution(&mut *db, id).await? else {
        return Ok(None);
    };
    Ok(Some(ContributionRef {
        id: c.id,
        item_id: c.item_id,
        amount: c.amount,
        approximate: c.approximate,
        status: c.status.label().to_lowercase(),
        item_title: c.item_title,
        org_name: c.org_name,
        currency: c.currency,
    }))
}

/// One recorded event, as the pages and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub id: i64,
    pub contribution_id: i64,
    #[serde(flatten)]
    pub fields: EventFields,
    pub recorded_at: DateTime<Utc>,
    /// The contribution's item, for the audit trail's History tab.
    #[serde(skip)]
    pub item_id: i64,
}

impl EventRow {
    pub fn event(&self) -> Event {
        self.fields.event()
    }
}

/// The events of a contribution (`contribution_id`) in the order they happened, or one
/// event (`id`).
async fn select(
    db: &mut PgConnection,
    contribution_id: Option<i64>,
    id: Option<i64>,
) -> sqlx::Result<Vec<EventRow>> {
    let rows = sqlx::query!(
        r#"SELECT e.id, e.contribution_id, c.item_id, e.kind AS "kind: EventKind", e.amount,
                  e.on_date, e.on_precision, e.source, e.note, e.recorded_at
             FROM contribution_events e
             JOIN contributions c ON c.id = e.contribution_id
            WHERE e.contribution_id = $1 OR e.id = $2
            ORDER BY partial_date_last_day(e.on_date, e.on_precision), e.id"#,
        contribution_id,
        id
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(EventRow {
                id: r.id,
                contribution_id: r.contribution_id,
                item_id: r.item_id,
                fields: EventFields {
                    contribution_id: r.contribution_id,
                    kind: r.kind,
                    amount: r.amount,
                    on: PartialDate::from_stored(r.on_date, &r.on_precision)?,
                    source: r.source,
                    note: r.note,
                },
                recorded_at: r.recorded_at,
            })
        })
        .collect())
}

pub async fn of(db: &mut PgConnection, contribution_id: i64) -> sqlx::Result<Vec<EventRow>> {
    select(db, Some(contribution_id), None).await
}

/// Where a contribution stands by its recorded events.
pub async fn standing(db: &mut PgConnection, contribution_id: i64) -> sqlx::Result<Standing> {
    let rows = of(db, contribution_id).await?;
    let events: Vec<Event> = rows.iter().map(EventRow::event).collect();
    Ok(Standing::of(&events))
}

async fn insert(db: &mut PgConnection, contribution_id: i64, f: &EventFields) -> sqlx::Result<i64> {
    let (on_date, on_precision) = dates::to_columns(Some(f.on));
    sqlx::query_scalar!(
        "INSERT INTO contribution_events (contribution_id, kind, amount, on_date, on_precision,
                                          source, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        contribution_id,
        f.kind as EventKind,
        f.amount,
        on_date,
        on_precision,
        f.source,
        f.note
    )
    .fetch_one(db)
    .await
}

/// Records `events` (already checked) on the contribution, with `source` and `note`.
pub async fn record(
    db: &mut PgConnection,
    contribution_id: i64,
    events: &[Event],
    source: Option<&str>,
    note: &str,
) -> sqlx::Result<()> {
    for e in events {
        let fields = EventFields {
            contribution_id,
            kind: e.kind,
            amount: e.amount,
            on: e.on,
            source: source.map(str::to_string),
            note: Some(note.to_string()),
        };
        insert(db, contribution_id, &fields).await?;
    }
    Ok(())
}

/// Sets the contribution's amount and status to what its events add up to; a new
/// version when they changed, so a form opened before answers 409.
pub async fn settle(db: &mut PgConnection, contribution_id: i64) -> sqlx::Result<()> {
    let now = standing(db, contribution_id).await?;
    sqlx::query!(
        "UPDATE contributions SET amount = $2, status = $3, version = version + 1
          WHERE id = $1 AND (amount, status) IS DISTINCT FROM ($2, $3)",
        contribution_id,
        now.pledged,
        now.status() as ContributionStatus
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Events recorded one at a time on a contribution's page or through the API.
pub struct ContributionEvents;

impl Editable for ContributionEvents {
    const ENTITY: &'static str = "contribution_event";
    type Key = i64;
    type Record = EventRow;
    type Owner = ContributionRef;
    type Fields = EventFields;

    async fn load(db: &mut PgConnection, id: &i64) -> sqlx::Result<Option<EventRow>> {
        Ok(select(db, None, Some(*id)).await?.pop())
    }

    fn version(_: &EventRow) -> i32 {
        1
    }

    /// Events are never edited: a correction is a new event.
    async fn update(_: &mut PgConnection, _: &i64, _: i32, _: &EventFields) -> sqlx::Result<bool> {
        Ok(false)
    }

    fn audit(_: Option<&EventRow>, after: &EventRow) -> Change {
        let summary = format!(
            "Recorded on contribution {}: {}",
            after.contribution_id,
            after.fields.summary()
        );
        Change::of(None, &after.fields, summary)
    }

    fn audit_ids(record: &EventRow) -> (Option<i64>, Option<i64>) {
        (Some(record.id), Some(record.item_id))
    }

    /// Whether the event may be recorded on its contribution now (a reduction no larger
    /// than what is unpaid, no second cancellation). The contribution's row stays locked
    /// until commit, so two events recorded at once are checked one after the other.
    async fn check(
        db: &mut PgConnection,
        _: Option<&EventRow>,
        f: &EventFields,
    ) -> sqlx::Result<FieldErrors> {
        sqlx::query!(
            "SELECT id FROM contributions WHERE id = $1 FOR UPDATE",
            f.contribution_id
        )
        .fetch_optional(&mut *db)
        .await?;
        let now = standing(db, f.contribution_id).await?;
        Ok(match now.accepts(&f.event()) {
            Ok(()) => FieldErrors::default(),
            Err(message) => FieldErrors::one("kind", message),
        })
    }
}

impl Creatable for ContributionEvents {
    async fn insert(
        db: &mut PgConnection,
        owner: &ContributionRef,
        f: &EventFields,
    ) -> sqlx::Result<i64> {
        let id = insert(db, owner.id, f).await?;
        settle(db, owner.id).await?;
        Ok(id)
    }
}

/// The events a contribution form's amount and status add to the contribution's
/// history; the message (on `status` or `amount`) when they cannot be reached.
pub async fn to_reach(
    db: &mut PgConnection,
    contribution_id: i64,
    amount: Decimal,
    status: ContributionStatus,
    as_of: NaiveDate,
) -> sqlx::Result<Result<Vec<Event>, FieldErrors>> {
    let now = standing(db, contribution_id).await?;
    Ok(now
        .events_to_reach(amount, status, PartialDate::day(as_of))
        .map_err(|message| {
            let field = if message == crate::domain::contribution_events::BELOW_PAID {
                "amount"
            } else {
                "status"
            };
            FieldErrors::one(field, message)
        }))
}
