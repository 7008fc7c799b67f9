//! Items as the admin pages edit them: every item including drafts and archived ones,
//! the versioned save, places kept in step with a comma-separated list, strategy
//! alignments, and the snapshot the audit trail records.

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor, PgPool};

use crate::domain::dates::{PartialDate, from_columns, to_columns};
use crate::domain::forms::FieldErrors;
pub use crate::domain::records::item::ItemFields;
use crate::domain::records::item::{END_BEFORE_START, PARENT_CYCLE, PARENT_GONE, PARENT_NEEDED};
use crate::domain::vocab::{ItemKind, ItemStatus};
use crate::store::audit::{self, Actor, Entry};
use crate::store::editing::{Archivable, Change, Creatable, Editable, keyed_by_id};

/// One row of the admin list.
#[derive(Debug, Clone)]
pub struct ListRow {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub kind: ItemKind,
    pub parent_title: Option<String>,
    pub parent_archived: bool,
    pub status: ItemStatus,
    pub published: bool,
    pub archived: bool,
}

/// The list's filters; None means "any".
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub kind: Option<ItemKind>,
    pub status: Option<ItemStatus>,
    pub published: Option<bool>,
    pub archived: Option<bool>,
    pub text: Option<String>,
}

pub const PAGE_SIZE: i64 = 50;

/// A page of items matching `filter` and the number of all matches. Components sit under
/// their parent; archived items come last.
pub async fn list(
    pool: &PgPool,
    filter: &ListFilter,
    page: i64,
) -> sqlx::Result<(Vec<ListRow>, i64)> {
    let pattern = filter.text.as_deref().map(like_pattern);
    // One statement: the page of rows, each with the count of all matches.
    let rows = sqlx::query!(
        r#"SELECT i.id, i.slug, i.title, i.kind AS "kind: ItemKind", p.title AS "parent_title?",
                  coalesce(p.archived_at IS NOT NULL, false) AS "parent_archived!",
                  i.status AS "status: ItemStatus", i.published,
                  i.archived_at IS NOT NULL AS "archived!", count(*) OVER () AS "total!"
             FROM items i LEFT JOIN items p ON p.id = i.parent_id
            WHERE ($1::text IS NULL OR i.kind = $1)
              AND ($2::text IS NULL OR i.status = $2)
              AND ($3::bool IS NULL OR i.published = $3)
              AND ($4::bool IS NULL OR (i.archived_at IS NOT NULL) = $4)
              AND ($5::text IS NULL OR i.title ILIKE $5 ESCAPE '\' OR i.slug ILIKE $5 ESCAPE '\')
            ORDER BY i.archived_at IS NOT NULL, coalesce(p.report_section, i.report_section) NULLS LAST,
                     coalesce(i.parent_id, i.id), i.parent_id IS NOT NULL, i.id
            LIMIT $6 OFFSET $7"#,
        filter.kind as Option<ItemKind>,
        filter.status as Option<ItemStatus>,
        filter.published,
        filter.archived,
        pattern,
        PAGE_SIZE,
        (page.max(1) - 1) * PAGE_SIZE
    )
    .fetch_all(pool)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    let rows = rows
        .into_iter()
        .map(|r| ListRow {
            id: r.id,
            slug: r.slug,
            title: r.title,
            kind: r.kind,
            parent_title: r.parent_title,
            parent_archived: r.parent_archived,
            status: r.status,
            published: r.published,
            archived: r.archived,
        })
        .collect();
    Ok((rows, total))
}

/// `%text%` for ILIKE, with the pattern characters in `text` taken literally.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// One item with everything its edit form shows.
#[derive(Debug, Clone)]
pub struct AdminItem {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub kind: ItemKind,
    pub parent_id: Option<i64>,
    pub parent_slug: Option<String>,
    pub report_section: Option<String>,
    pub status: ItemStatus,
    pub status_note: Option<String>,
    pub summary: String,
    pub description: String,
    pub period: Option<String>,
    /// The first day of the start's period; [`AdminItem::start`] with its precision.
    pub start_date: Option<NaiveDate>,
    pub start_precision: String,
    pub end_date: Option<NaiveDate>,
    pub end_precision: String,
    /// Its countries and regions, comma-separated.
    pub places: String,
    pub source_paras: Option<String>,
    pub published: bool,
    pub internal_notes: String,
    pub archived: bool,
    pub version: i32,
}

impl AdminItem {
    pub fn start(&self) -> Option<PartialDate> {
        from_columns(self.start_date, Some(&self.start_precision))
    }

    pub fn end(&self) -> Option<PartialDate> {
        from_columns(self.end_date, Some(&self.end_precision))
    }
}

pub async fn by_id(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<AdminItem>> {
    sqlx::query_as!(
        AdminItem,
        r#"SELECT i.id, i.slug, i.title, i.kind AS "kind: ItemKind", i.parent_id,
                  p.slug AS "parent_slug?", i.report_section, i.status AS "status: ItemStatus",
                  i.status_note, i.summary, i.description, i.period, i.start_date, i.start_precision,
                  i.end_date, i.end_precision,
                  coalesce((SELECT string_agg(pl.name, ', ' ORDER BY pl.kind DESC, pl.name)
                              FROM item_places ip JOIN places pl ON pl.id = ip.place_id
                             WHERE ip.item_id = i.id), '') AS "places!",
                  i.source_paras, i.published, i.internal_notes,
                  i.archived_at IS NOT NULL AS "archived!", i.version
             FROM items i LEFT JOIN items p ON p.id = i.parent_id
            WHERE i.id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

/// What the audit trail records of an item: its editable fields as people read them
/// (the parent by slug, dates as ISO text, places as one list).
#[derive(Debug, Clone, Serialize)]
pub struct ItemSnapshot {
    pub title: String,
    pub slug: String,
    pub kind: ItemKind,
    pub parent: Option<String>,
    pub report_section: Option<String>,
    pub status: ItemStatus,
    pub status_note: Option<String>,
    pub summary: String,
    pub description: String,
    pub period: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub countries_and_regions: String,
    pub source_paras: Option<String>,
    pub published: bool,
    pub internal_notes: String,
}

impl From<&AdminItem> for ItemSnapshot {
    fn from(i: &AdminItem) -> Self {
        ItemSnapshot {
            title: i.title.clone(),
            slug: i.slug.clone(),
            kind: i.kind,
            parent: i.parent_slug.clone(),
            report_section: i.report_section.clone(),
            status: i.status,
            status_note: i.status_note.clone(),
            summary: i.summary.clone(),
            description: i.description.clone(),
            period: i.period.clone(),
            start_date: i.start().map(|d| d.code()),
            end_date: i.end().map(|d| d.code()),
            countries_and_regions: i.places.clone(),
            source_paras: i.source_paras.clone(),
            published: i.published,
            internal_notes: i.internal_notes.clone(),
        }
    }
}

pub async fn insert(db: &mut PgConnection, f: &ItemFields) -> sqlx::Result<i64> {
    let (start, end) = (to_columns(f.start_date), to_columns(f.end_date));
    let id = sqlx::query_scalar!(
        "INSERT INTO items (title, slug, kind, parent_id, report_section, status, status_note,
                            summary, description, period, start_date, end_date, source_paras,
                            published, internal_notes, start_precision, end_precision)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
         RETURNING id",
        f.title,
        f.slug,
        f.kind as ItemKind,
        f.parent_id,
        f.report_section,
        f.status as ItemStatus,
        f.status_note,
        f.summary,
        f.description,
        f.period,
        start.0,
        end.0,
        f.source_paras,
        f.published,
        f.internal_notes,
        start.1,
        end.1
    )
    .fetch_one(&mut *db)
    .await?;
    sync_places(db, id, &f.places).await?;
    Ok(id)
}

/// Saves if `version` is still current. False when someone saved in between.
pub async fn update(
    db: &mut PgConnection,
    id: i64,
    version: i32,
    f: &ItemFields,
) -> sqlx::Result<bool> {
    let (start, end) = (to_columns(f.start_date), to_columns(f.end_date));
    let done = sqlx::query!(
        "UPDATE items SET title = $3, slug = $4, kind = $5, parent_id = $6, report_section = $7,
                status = $8, status_note = $9, summary = $10, description = $11, period = $12,
                start_date = $13, end_date = $14, source_paras = $15, published = $16,
                internal_notes = $17, start_precision = $18, end_precision = $19,
                version = version + 1, updated_at = now()
          WHERE id = $1 AND version = $2",
        id,
        version,
        f.title,
        f.slug,
        f.kind as ItemKind,
        f.parent_id,
        f.report_section,
        f.status as ItemStatus,
        f.status_note,
        f.summary,
        f.description,
        f.period,
        start.0,
        end.0,
        f.source_paras,
        f.published,
        f.internal_notes,
        start.1,
        end.1
    )
    .execute(&mut *db)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sync_places(db, id, &f.places).await?;
    Ok(true)
}

/// Links the item to exactly these places. A name matches an existing place whatever its
/// case; a name that matches none becomes a new place of kind country.
async fn sync_places(db: &mut PgConnection, item_id: i64, names: &[String]) -> sqlx::Result<()> {
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        ids.push(place_id(db, name).await?);
    }
    sqlx::query!(
        "DELETE FROM item_places WHERE item_id = $1 AND NOT (place_id = ANY($2))",
        item_id,
        &ids
    )
    .execute(&mut *db)
    .await?;
    sqlx::query!(
        "INSERT INTO item_places (item_id, place_id) SELECT $1, unnest($2::bigint[])
         ON CONFLICT DO NOTHING",
        item_id,
        &ids
    )
    .execute(&mut *db)
    .await?;
    Ok(())
}

async fn place_id(db: &mut PgConnection, name: &str) -> sqlx::Result<i64> {
    let found = sqlx::query_scalar!(
        "SELECT id FROM places WHERE lower(name) = lower($1) ORDER BY name = $1 DESC, id LIMIT 1",
        name
    )
    .fetch_optional(&mut *db)
    .await?;
    if let Some(id) = found {
        return Ok(id);
    }
    // ON CONFLICT covers a concurrent insert of the same name: the UPDATE is a no-op that
    // still returns the row's id.
    sqlx::query_scalar!(
        "INSERT INTO places (name, kind) VALUES ($1, 'country')
         ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
        name
    )
    .fetch_one(&mut *db)
    .await
}

/// Archives (`archived` true) or restores. False when nothing changed.
pub async fn set_archived(db: impl PgExecutor<'_>, id: i64, archived: bool) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE items SET archived_at = CASE WHEN $2 THEN now() END, version = version + 1,
                updated_at = now()
          WHERE id = $1 AND (archived_at IS NOT NULL) <> $2",
        id,
        archived
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether making `parent_id` the parent of `item_id` would close a loop: the parent is
/// the item itself or one of its descendants.
pub async fn would_cycle(
    db: impl PgExecutor<'_>,
    item_id: i64,
    parent_id: i64,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"WITH RECURSIVE below (id) AS (
             SELECT $1::bigint
             UNION
             SELECT i.id FROM items i JOIN below b ON i.parent_id = b.id)
         SELECT EXISTS (SELECT 1 FROM below WHERE id = $2) AS "cycle!""#,
        item_id,
        parent_id
    )
    .fetch_one(db)
    .await
}

/// Whether the item exists and is not archived: whether it can be chosen as a parent.
pub async fn is_active(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM items WHERE id = $1 AND archived_at IS NULL) AS "active!""#,
        id
    )
    .fetch_one(db)
    .await
}

/// A possible parent in the form's menu.
#[derive(Debug, Clone)]
pub struct ParentChoice {
    pub id: i64,
    pub title: String,
    pub kind: ItemKind,
    pub archived: bool,
}

/// Items that can be chosen as the parent of `item_id` (None for a new item): not
/// archived, and neither the item nor one of its descendants. `keep` (the saved and the
/// typed parent) are listed even when archived, so that saving changes nothing by accident.
pub async fn parent_choices(
    pool: &PgPool,
    item_id: Option<i64>,
    keep: &[i64],
) -> sqlx::Result<Vec<ParentChoice>> {
    sqlx::query_as!(
        ParentChoice,
        r#"WITH RECURSIVE below (id) AS (
             SELECT id FROM items WHERE id = $1
             UNION
             SELECT i.id FROM items i JOIN below b ON i.parent_id = b.id)
         SELECT id, title, kind AS "kind: ItemKind", archived_at IS NOT NULL AS "archived!"
           FROM items
          WHERE (archived_at IS NULL OR id = ANY($2)) AND id NOT IN (SELECT id FROM below)
          ORDER BY kind = 'component', lower(title), id"#,
        item_id,
        keep
    )
    .fetch_all(pool)
    .await
}

/// One strategy alignment of an item.
#[derive(Debug, Clone, Serialize)]
pub struct AlignmentRow {
    #[serde(skip)]
    pub result_area_id: i64,
    pub result_area: String,
    pub title: Option<String>,
    pub source_para: Option<String>,
    pub note: Option<String>,
    #[serde(skip)]
    pub area_archived: bool,
}

/// The item's alignments in strategy order, archived result areas included (marked) so
/// they can be removed; or only the one with `result_area_id`.
async fn select_alignments(
    db: impl PgExecutor<'_>,
    item_id: i64,
    result_area_id: Option<i64>,
) -> sqlx::Result<Vec<AlignmentRow>> {
    sqlx::query_as!(
        AlignmentRow,
        r#"SELECT a.result_area_id, ra.code AS result_area, ra.title, a.source_para, a.note,
                  ra.archived_at IS NOT NULL AS "area_archived!"
             FROM alignments a JOIN result_areas ra ON ra.id = a.result_area_id
            WHERE a.item_id = $1 AND ($2::bigint IS NULL OR a.result_area_id = $2)
            ORDER BY string_to_array(ra.code, '.')::numeric[]"#,
        item_id,
        result_area_id
    )
    .fetch_all(db)
    .await
}

pub async fn alignments(db: impl PgExecutor<'_>, item_id: i64) -> sqlx::Result<Vec<AlignmentRow>> {
    select_alignments(db, item_id, None).await
}

pub async fn alignment(
    db: impl PgExecutor<'_>,
    item_id: i64,
    result_area_id: i64,
) -> sqlx::Result<Option<AlignmentRow>> {
    Ok(select_alignments(db, item_id, Some(result_area_id))
        .await?
        .pop())
}

/// Adds an alignment with a result area that is not archived. False when the result area
/// is archived or gone; a duplicate is the primary key's unique violation.
pub async fn add_alignment(
    db: impl PgExecutor<'_>,
    item_id: i64,
    result_area_id: i64,
    source_para: Option<&str>,
    note: Option<&str>,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "INSERT INTO alignments (item_id, result_area_id, source_para, note)
         SELECT $1, id, $3, $4 FROM result_areas WHERE id = $2 AND archived_at IS NULL",
        item_id,
        result_area_id,
        source_para,
        note
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether a failed insert was an alignment that exists already.
pub fn is_duplicate_alignment(error: &sqlx::Error) -> bool {
    crate::store::editing::violated_constraint(error).as_deref() == Some("alignments_pkey")
}

pub async fn remove_alignment(
    db: impl PgExecutor<'_>,
    item_id: i64,
    result_area_id: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "DELETE FROM alignments WHERE item_id = $1 AND result_area_id = $2",
        item_id,
        result_area_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Items as the save pipeline edits them.
pub struct Items;

/// "programme", "component", ... for sentences.
/// How many items below `id` (components, sub-components) are not published.
pub async fn unpublished_below(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"WITH RECURSIVE below(id) AS (
               SELECT id FROM items WHERE parent_id = $1
               UNION
               SELECT i.id FROM items i JOIN below b ON i.parent_id = b.id)
           SELECT count(*) AS "count!" FROM items
            WHERE id IN (SELECT id FROM below) AND NOT published AND archived_at IS NULL"#,
        id
    )
    .fetch_one(db)
    .await
}

pub fn kind_word(kind: ItemKind) -> String {
    kind.label().to_lowercase()
}

impl Editable for Items {
    const ENTITY: &'static str = "item";
    type Record = AdminItem;
    type Owner = ();
    type Fields = ItemFields;

    keyed_by_id!(by_id, update);

    /// Publishing an item with "its components too" publishes every unpublished item
    /// below it in the same transaction, each audited as published, so delegates never
    /// see a programme whose parts are silently missing.
    async fn after_save(
        db: &mut PgConnection,
        actor: &Actor,
        fields: &ItemFields,
        _: Option<&AdminItem>,
        after: &AdminItem,
    ) -> sqlx::Result<()> {
        if !(fields.publish_components && after.published) {
            return Ok(());
        }
        let published = sqlx::query!(
            r#"WITH RECURSIVE below(id) AS (
                   SELECT id FROM items WHERE parent_id = $1
                   UNION
                   SELECT i.id FROM items i JOIN below b ON i.parent_id = b.id)
               UPDATE items SET published = true, version = version + 1, updated_at = now()
                WHERE id IN (SELECT id FROM below) AND NOT published AND archived_at IS NULL
               RETURNING id, title, kind AS "kind: ItemKind""#,
            after.id
        )
        .fetch_all(&mut *db)
        .await?;
        for component in published {
            let entry = Entry {
                action: "publish",
                entity: Self::ENTITY,
                entity_id: Some(component.id),
                item_id: Some(component.id),
                summary: format!(
                    "Published {} “{}” with “{}”",
                    kind_word(component.kind),
                    component.title,
                    after.title
                ),
                before: Some(&serde_json::json!({ "published": false })),
                after: Some(&serde_json::json!({ "published": true })),
            };
            audit::record(&mut *db, actor, entry).await?;
        }
        Ok(())
    }

    /// The parent must be an item that is not archived (unless it is the saved parent
    /// already) and must not close a loop (the database's trigger refuses a loop made
    /// by two saves at once).
    async fn check(
        db: &mut PgConnection,
        before: Option<&AdminItem>,
        fields: &ItemFields,
    ) -> sqlx::Result<FieldErrors> {
        let Some(parent) = fields.parent_id else {
            return Ok(FieldErrors::default());
        };
        let unchanged = before.is_some_and(|i| i.parent_id == Some(parent));
        if !unchanged && !is_active(&mut *db, parent).await? {
            return Ok(FieldErrors::one("parent", PARENT_GONE));
        }
        if let Some(item) = before
            && would_cycle(&mut *db, item.id, parent).await?
        {
            return Ok(FieldErrors::one("parent", PARENT_CYCLE));
        }
        Ok(FieldErrors::default())
    }

    async fn refusal(
        _: &PgPool,
        constraint: &str,
        _: &ItemFields,
    ) -> sqlx::Result<Option<FieldErrors>> {
        let (field, message) = match constraint {
            "items_slug_key" => ("slug", "another item already uses this slug"),
            "items_parent_matches_kind" => ("parent", PARENT_NEEDED),
            "items_not_own_parent" | "items_parent_cycle" => ("parent", PARENT_CYCLE),
            "items_parent_id_fkey" => ("parent", PARENT_GONE),
            "items_dates_ordered" => ("end_date", END_BEFORE_START),
            _ => return Ok(None),
        };
        Ok(Some(FieldErrors::one(field, message)))
    }

    /// A save that turns the published flag is a publish or an unpublish, whatever else
    /// it changed: that is what readers of the trail look for.
    fn audit(before: Option<&AdminItem>, after: &AdminItem) -> Change {
        let change = Change::created_or_edited(
            before.map(ItemSnapshot::from),
            ItemSnapshot::from(after),
            &Self::describe(after),
        );
        let (action, verb) = match before.map(|b| b.published) {
            Some(false) if after.published => ("publish", "Published"),
            Some(true) if !after.published => ("unpublish", "Unpublished"),
            _ => return change,
        };
        Change {
            action,
            summary: format!("{verb} {}", Self::describe(after)),
            ..change
        }
    }

    fn audit_ids(record: &AdminItem) -> (Option<i64>, Option<i64>) {
        (Some(record.id), Some(record.id))
    }
}

impl Creatable for Items {
    async fn insert(db: &mut PgConnection, _: &(), f: &ItemFields) -> sqlx::Result<i64> {
        insert(db, f).await
    }
}

impl Archivable for Items {
    async fn set_archived(db: &mut PgConnection, id: &i64, archived: bool) -> sqlx::Result<bool> {
        set_archived(db, *id, archived).await
    }

    fn describe(item: &AdminItem) -> String {
        format!("{} “{}”", kind_word(item.kind), item.title)
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn search_text_is_taken_literally() {
        assert_eq!(like_pattern("guinea"), "%guinea%");
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
