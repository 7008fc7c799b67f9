//! Milestones, targets and progress: read for the dashboards in one query each, and
//! saved through the save pipeline (`store::editing`) like every other record.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgExecutor};

use crate::domain::dates::{PartialDate, from_columns, to_columns, to_nullable_columns};
use crate::domain::delivery::{Delivery, Milestone, ProgressUpdate, Target};
use crate::domain::records::delivery::{MilestoneFields, ProgressFields, TargetFields, count_text};
use crate::domain::vocab::MilestoneStatus;
use crate::store::editing::{Archivable, Change, Creatable, Editable, keyed_by_id};
use crate::store::money::ItemRef;

/// One milestone as stored, with its item (for the audit trail and the forms).
#[derive(Debug, Clone)]
pub struct MilestoneRow {
    pub id: i64,
    pub item_id: i64,
    pub item_slug: String,
    pub item_title: String,
    pub title: String,
    pub due_on: NaiveDate,
    pub due_precision: String,
    pub status: MilestoneStatus,
    pub done_on: Option<NaiveDate>,
    pub done_precision: Option<String>,
    pub source_para: Option<String>,
    pub note: Option<String>,
    pub version: i32,
    pub archived: bool,
}

impl MilestoneRow {
    pub fn fields(&self) -> MilestoneFields {
        MilestoneFields {
            title: self.title.clone(),
            due: from_columns(Some(self.due_on), Some(&self.due_precision))
                .unwrap_or(PartialDate::day(self.due_on)),
            status: self.status,
            done_on: from_columns(self.done_on, self.done_precision.as_deref()),
            source_para: self.source_para.clone(),
            note: self.note.clone(),
        }
    }
}

pub async fn milestone(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<MilestoneRow>> {
    sqlx::query_as!(
        MilestoneRow,
        r#"SELECT m.id, m.item_id, i.slug AS item_slug, i.title AS item_title, m.title,
                  m.due_on, m.due_precision, m.status AS "status: MilestoneStatus", m.done_on,
                  m.done_precision, m.source_para, m.note, m.version,
                  m.archived_at IS NOT NULL AS "archived!"
             FROM milestones m JOIN items i ON i.id = m.item_id
            WHERE m.id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

async fn insert_milestone(
    db: &mut PgConnection,
    item_id: i64,
    f: &MilestoneFields,
) -> sqlx::Result<i64> {
    let (due, done) = (to_columns(Some(f.due)), to_nullable_columns(f.done_on));
    sqlx::query_scalar!(
        "INSERT INTO milestones (item_id, title, due_on, due_precision, status, done_on,
                                 done_precision, source_para, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        item_id,
        f.title,
        due.0,
        due.1,
        f.status as MilestoneStatus,
        done.0,
        done.1,
        f.source_para,
        f.note,
    )
    .fetch_one(db)
    .await
}

async fn update_milestone(
    db: &mut PgConnection,
    id: i64,
    version: i32,
    f: &MilestoneFields,
) -> sqlx::Result<bool> {
    let (due, done) = (to_columns(Some(f.due)), to_nullable_columns(f.done_on));
    let saved = sqlx::query!(
        "UPDATE milestones SET title = $3, due_on = $4, due_precision = $5, status = $6,
                done_on = $7, done_precision = $8, source_para = $9, note = $10,
                version = version + 1
          WHERE id = $1 AND version = $2",
        id,
        version,
        f.title,
        due.0,
        due.1,
        f.status as MilestoneStatus,
        done.0,
        done.1,
        f.source_para,
        f.note,
    )
    .execute(db)
    .await?;
    Ok(saved.rows_affected() == 1)
}

/// Milestones as the save pipeline edits them, created under their item.
pub struct Milestones;

impl Editable for Milestones {
    const ENTITY: &'static str = "milestone";
    type Record = MilestoneRow;
    type Owner = ItemRef;
    type Fields = MilestoneFields;

    keyed_by_id!(milestone, update_milestone);

    fn audit(before: Option<&MilestoneRow>, after: &MilestoneRow) -> Change {
        let what = format!("the milestone “{}” of {}", after.title, after.item_title);
        let summary = match before {
            Some(b) if b.status != after.status => {
                format!("Marked {what} {}", after.status.label().to_lowercase())
            }
            Some(_) => format!("Edited {what}"),
            None => format!("Added {what}"),
        };
        Change::of(before.map(MilestoneRow::fields), after.fields(), summary)
    }

    fn audit_ids(record: &MilestoneRow) -> (Option<i64>, Option<i64>) {
        (Some(record.id), Some(record.item_id))
    }
}

impl Creatable for Milestones {
    async fn insert(
        db: &mut PgConnection,
        item: &ItemRef,
        f: &MilestoneFields,
    ) -> sqlx::Result<i64> {
        insert_milestone(db, item.id, f).await
    }
}

impl Archivable for Milestones {
    async fn set_archived(db: &mut PgConnection, id: &i64, archived: bool) -> sqlx::Result<bool> {
        let changed = sqlx::query!(
            "UPDATE milestones SET archived_at = CASE WHEN $2 THEN now() END,
                    version = version + 1
              WHERE id = $1 AND (archived_at IS NOT NULL) <> $2",
            id,
            archived
        )
        .execute(db)
        .await?;
        Ok(changed.rows_affected() == 1)
    }

    fn describe(m: &MilestoneRow) -> String {
        format!("the milestone “{}” of {}", m.title, m.item_title)
    }
}

/// One target as stored, with its item and its recorded progress.
#[derive(Debug, Clone)]
pub struct TargetRow {
    pub id: i64,
    pub item_id: i64,
    pub item_slug: String,
    pub item_title: String,
    pub measure: String,
    pub target_value: Decimal,
    pub period_on: Option<NaiveDate>,
    pub period_precision: Option<String>,
    pub source_para: Option<String>,
    pub note: Option<String>,
    pub version: i32,
    pub archived: bool,
    /// The latest value recorded, if any.
    pub current: Option<Decimal>,
}

impl TargetRow {
    pub fn fields(&self) -> TargetFields {
        TargetFields {
            measure: self.measure.clone(),
            target_value: self.target_value,
            period: from_columns(self.period_on, self.period_precision.as_deref()),
            source_para: self.source_para.clone(),
            note: self.note.clone(),
        }
    }

    fn describe(&self) -> String {
        format!(
            "the target “{} {}” of {}",
            count_text(self.target_value),
            self.measure,
            self.item_title
        )
    }
}

pub async fn target(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<TargetRow>> {
    sqlx::query_as!(
        TargetRow,
        r#"SELECT t.id, t.item_id, i.slug AS item_slug, i.title AS item_title, t.measure,
                  t.target_value, t.period_on, t.period_precision, t.source_para, t.note,
                  t.version, t.archived_at IS NOT NULL AS "archived!",
                  (SELECT u.value FROM target_updates u WHERE u.target_id = t.id
                    ORDER BY u.recorded_on DESC, u.id DESC LIMIT 1) AS current
             FROM targets t JOIN items i ON i.id = t.item_id
            WHERE t.id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

async fn insert_target(db: &mut PgConnection, item_id: i64, f: &TargetFields) -> sqlx::Result<i64> {
    let period = to_nullable_columns(f.period);
    sqlx::query_scalar!(
        "INSERT INTO targets (item_id, measure, target_value, period_on, period_precision,
                              source_para, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        item_id,
        f.measure,
        f.target_value,
        period.0,
        period.1,
        f.source_para,
        f.note,
    )
    .fetch_one(db)
    .await
}

async fn update_target(
    db: &mut PgConnection,
    id: i64,
    version: i32,
    f: &TargetFields,
) -> sqlx::Result<bool> {
    let period = to_nullable_columns(f.period);
    let saved = sqlx::query!(
        "UPDATE targets SET measure = $3, target_value = $4, period_on = $5,
                period_precision = $6, source_para = $7, note = $8, version = version + 1
          WHERE id = $1 AND version = $2",
        id,
        version,
        f.measure,
        f.target_value,
        period.0,
        period.1,
        f.source_para,
        f.note,
    )
    .execute(db)
    .await?;
    Ok(saved.rows_affected() == 1)
}

/// Targets as the save pipeline edits them, created under their item.
pub struct Targets;

impl Editable for Targets {
    const ENTITY: &'static str = "target";
    type Record = TargetRow;
    type Owner = ItemRef;
    type Fields = TargetFields;

    keyed_by_id!(target, update_target);

    fn audit(before: Option<&TargetRow>, after: &TargetRow) -> Change {
        Change::created_or_edited(
            before.map(TargetRow::fields),
            after.fields(),
            &after.describe(),
        )
    }

    fn audit_ids(record: &TargetRow) -> (Option<i64>, Option<i64>) {
        (Some(record.id), Some(record.item_id))
    }
}

impl Creatable for Targets {
    async fn insert(db: &mut PgConnection, item: &ItemRef, f: &TargetFields) -> sqlx::Result<i64> {
        insert_target(db, item.id, f).await
    }
}

impl Archivable for Targets {
    async fn set_archived(db: &mut PgConnection, id: &i64, archived: bool) -> sqlx::Result<bool> {
        let changed = sqlx::query!(
            "UPDATE targets SET archived_at = CASE WHEN $2 THEN now() END,
                    version = version + 1
              WHERE id = $1 AND (archived_at IS NOT NULL) <> $2",
            id,
            archived
        )
        .execute(db)
        .await?;
        Ok(changed.rows_affected() == 1)
    }

    fn describe(t: &TargetRow) -> String {
        t.describe()
    }
}

/// Recording progress on a target: an edit of the target (its version moves, so two
/// people recording at once see a conflict rather than one value silently hiding the
/// other) that adds one dated update. The updates themselves are never rewritten.
pub struct Progress;

/// Who records progress: set by the web layer for the update row (the audit row names
/// the actor too). Kept with the fields so `update` can write it.
#[derive(Debug, Clone)]
pub struct ProgressEntry {
    pub fields: ProgressFields,
    pub actor_id: Option<i64>,
    pub actor_email: String,
}

async fn record_progress(
    db: &mut PgConnection,
    id: i64,
    version: i32,
    entry: &ProgressEntry,
) -> sqlx::Result<bool> {
    let moved = sqlx::query!(
        "UPDATE targets SET version = version + 1 WHERE id = $1 AND version = $2",
        id,
        version
    )
    .execute(&mut *db)
    .await?;
    if moved.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query!(
        "INSERT INTO target_updates (target_id, value, recorded_on, note, actor_id, actor_email)
         VALUES ($1, $2, $3, $4, $5, $6)",
        id,
        entry.fields.value,
        entry.fields.recorded_on,
        entry.fields.note,
        entry.actor_id,
        entry.actor_email,
    )
    .execute(&mut *db)
    .await?;
    Ok(true)
}

impl Editable for Progress {
    const ENTITY: &'static str = "target";
    type Record = TargetRow;
    type Owner = ();
    type Fields = ProgressEntry;

    keyed_by_id!(target, record_progress);

    fn audit(before: Option<&TargetRow>, after: &TargetRow) -> Change {
        let value = after.current.map_or_else(String::new, count_text);
        let summary = format!(
            "Recorded progress on {}: {value} of {}",
            after.describe(),
            count_text(after.target_value)
        );
        let as_json = |t: &TargetRow| serde_json::json!({ "progress": t.current.map(count_text) });
        Change {
            action: "update",
            summary,
            before: before.map(as_json),
            after: Some(as_json(after)),
        }
    }

    fn audit_ids(record: &TargetRow) -> (Option<i64>, Option<i64>) {
        (Some(record.id), Some(record.item_id))
    }
}

/// Every milestone and target that is not archived, with the progress recorded, for the
/// dashboards: three queries whatever the portfolio's size.
pub async fn read_all(db: &mut PgConnection) -> sqlx::Result<Delivery> {
    let milestones = sqlx::query!(
        r#"SELECT id, item_id, title, due_on, due_precision, status AS "status: MilestoneStatus",
                  done_on, done_precision, source_para, note, version
             FROM milestones WHERE archived_at IS NULL"#
    )
    .map(|r| Milestone {
        id: r.id,
        item_id: r.item_id,
        title: r.title,
        due: from_columns(Some(r.due_on), Some(&r.due_precision))
            .unwrap_or(PartialDate::day(r.due_on)),
        status: r.status,
        done_on: from_columns(r.done_on, r.done_precision.as_deref()),
        source_para: r.source_para,
        note: r.note,
        version: r.version,
    })
    .fetch_all(&mut *db)
    .await?;
    let mut targets: Vec<Target> = sqlx::query!(
        "SELECT id, item_id, measure, target_value, period_on, period_precision, source_para,
                note, version
           FROM targets WHERE archived_at IS NULL ORDER BY id"
    )
    .map(|r| Target {
        id: r.id,
        item_id: r.item_id,
        measure: r.measure,
        target_value: r.target_value,
        period: from_columns(r.period_on, r.period_precision.as_deref()),
        source_para: r.source_para,
        note: r.note,
        version: r.version,
        updates: Vec::new(),
    })
    .fetch_all(&mut *db)
    .await?;
    let updates = sqlx::query!(
        r#"SELECT u.target_id, u.value, u.recorded_on, u.note,
                  coalesce(a.display_name, u.actor_email) AS "recorded_by!"
             FROM target_updates u
             JOIN targets t ON t.id = u.target_id AND t.archived_at IS NULL
             LEFT JOIN users a ON a.id = u.actor_id
            ORDER BY u.target_id, u.recorded_on, u.id"#
    )
    .fetch_all(&mut *db)
    .await?;
    // Both are in target id order: one pass hands each target its updates.
    let mut next = 0;
    for u in updates {
        while targets.get(next).is_some_and(|t| t.id < u.target_id) {
            next += 1;
        }
        if let Some(target) = targets.get_mut(next).filter(|t| t.id == u.target_id) {
            target.updates.push(ProgressUpdate {
                value: u.value,
                recorded_on: u.recorded_on,
                note: u.note,
                recorded_by: u.recorded_by,
            });
        }
    }
    Ok(Delivery::new(milestones, targets))
}
