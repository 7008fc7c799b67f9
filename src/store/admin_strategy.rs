//! Editing the strategy: themes and result areas as the admin pages see them, archived
//! areas included. The public pages read through `store::strategy`, which hides
//! archived areas.

use sqlx::{PgConnection, PgExecutor, PgPool};

use crate::domain::forms::FieldErrors;
pub use crate::domain::records::result_area::AreaFields;
pub use crate::domain::records::theme::ThemeFields;
use crate::store::editing::{Archivable, Change, Creatable, Editable, keyed_by_id};

#[derive(Debug, Clone)]
pub struct ThemeRecord {
    pub code: String,
    pub title: Option<String>,
    pub version: i32,
}

#[derive(Debug, Clone)]
pub struct AreaRecord {
    pub id: i64,
    pub code: String,
    pub theme_code: String,
    pub title: Option<String>,
    pub source_para: Option<String>,
    pub version: i32,
    pub archived: bool,
    /// Items (not archived) aligned with the area.
    pub items: i64,
}

impl From<&AreaRecord> for AreaFields {
    fn from(a: &AreaRecord) -> Self {
        AreaFields {
            code: a.code.clone(),
            theme_code: a.theme_code.clone(),
            title: a.title.clone(),
            source_para: a.source_para.clone(),
        }
    }
}

/// Every theme (`code` None) or one, in order.
async fn select_themes(
    db: impl PgExecutor<'_>,
    code: Option<&str>,
) -> sqlx::Result<Vec<ThemeRecord>> {
    sqlx::query_as!(
        ThemeRecord,
        "SELECT code, title, version FROM themes
          WHERE $1::text IS NULL OR code = $1
          ORDER BY code::numeric",
        code
    )
    .fetch_all(db)
    .await
}

pub async fn themes(pool: &PgPool) -> sqlx::Result<Vec<ThemeRecord>> {
    select_themes(pool, None).await
}

pub async fn theme(db: impl PgExecutor<'_>, code: &str) -> sqlx::Result<Option<ThemeRecord>> {
    Ok(select_themes(db, Some(code)).await?.pop())
}

/// Saves the title if `version` is still current. False when someone saved in between.
pub async fn update_theme(
    db: impl PgExecutor<'_>,
    version: i32,
    f: &ThemeFields,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE themes SET title = $3, version = version + 1 WHERE code = $1 AND version = $2",
        f.code,
        version,
        f.title
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Result areas, archived ones included, in strategy order (1.1, 1.2, ..., 3.10): every
/// one, or the one with this id, or the one with this code.
async fn select_areas(
    db: impl PgExecutor<'_>,
    id: Option<i64>,
    code: Option<&str>,
) -> sqlx::Result<Vec<AreaRecord>> {
    sqlx::query_as!(
        AreaRecord,
        r#"SELECT ra.id, ra.code, ra.theme_code, ra.title, ra.source_para, ra.version,
                  ra.archived_at IS NOT NULL AS "archived!",
                  (SELECT count(*) FROM alignments a JOIN items i ON i.id = a.item_id
                    WHERE a.result_area_id = ra.id AND i.archived_at IS NULL) AS "items!"
             FROM result_areas ra
            WHERE ($1::bigint IS NULL OR ra.id = $1) AND ($2::text IS NULL OR ra.code = $2)
            ORDER BY string_to_array(ra.code, '.')::numeric[]"#,
        id,
        code
    )
    .fetch_all(db)
    .await
}

pub async fn areas(pool: &PgPool) -> sqlx::Result<Vec<AreaRecord>> {
    select_areas(pool, None, None).await
}

pub async fn area(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<AreaRecord>> {
    Ok(select_areas(db, Some(id), None).await?.pop())
}

/// The area holding a code, to say whether a clashing one is archived.
pub async fn area_by_code(db: impl PgExecutor<'_>, code: &str) -> sqlx::Result<Option<AreaRecord>> {
    Ok(select_areas(db, None, Some(code)).await?.pop())
}

pub async fn insert_area(db: impl PgExecutor<'_>, f: &AreaFields) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO result_areas (code, theme_code, title, source_para) VALUES ($1, $2, $3, $4)
         RETURNING id",
        f.code,
        f.theme_code,
        f.title,
        f.source_para
    )
    .fetch_one(db)
    .await
}

/// Saves if `version` is still current. False when someone saved in between.
pub async fn update_area(
    db: impl PgExecutor<'_>,
    id: i64,
    version: i32,
    f: &AreaFields,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE result_areas SET code = $3, theme_code = $4, title = $5, source_para = $6,
                version = version + 1
          WHERE id = $1 AND version = $2",
        id,
        version,
        f.code,
        f.theme_code,
        f.title,
        f.source_para
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Archives (`archived` true) or restores. False when nothing changed.
pub async fn set_area_archived(
    db: impl PgExecutor<'_>,
    id: i64,
    archived: bool,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE result_areas SET archived_at = CASE WHEN $2 THEN now() END, version = version + 1
          WHERE id = $1 AND (archived_at IS NOT NULL) <> $2",
        id,
        archived
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Result areas as the save pipeline edits them.
pub struct ResultAreas;

impl Editable for ResultAreas {
    const ENTITY: &'static str = "result_area";
    type Record = AreaRecord;
    type Owner = ();
    type Fields = AreaFields;

    keyed_by_id!(area, update_area);

    async fn refusal(
        pool: &PgPool,
        constraint: &str,
        fields: &AreaFields,
    ) -> sqlx::Result<Option<FieldErrors>> {
        Ok(match constraint {
            "result_areas_code_key" => {
                let archived = area_by_code(pool, &fields.code)
                    .await?
                    .is_some_and(|a| a.archived);
                let mut message = format!("another result area already has code {}", fields.code);
                if archived {
                    message.push_str(" (it is archived: restore it from the list instead)");
                }
                Some(FieldErrors::one("code", message))
            }
            "result_areas_theme_code_fkey" => Some(FieldErrors::one(
                "theme",
                "that theme no longer exists: choose another",
            )),
            _ => None,
        })
    }

    fn audit(before: Option<&AreaRecord>, after: &AreaRecord) -> Change {
        Change::created_or_edited(
            before.map(AreaFields::from),
            AreaFields::from(after),
            &Self::describe(after),
        )
    }

    fn audit_ids(record: &AreaRecord) -> (Option<i64>, Option<i64>) {
        (Some(record.id), None)
    }
}

impl Creatable for ResultAreas {
    async fn insert(db: &mut PgConnection, _: &(), fields: &AreaFields) -> sqlx::Result<i64> {
        insert_area(db, fields).await
    }
}

/// Archiving hides the area from /result-areas and from item pages (their queries skip
/// archived areas); its alignments stay, so restoring brings everything back.
impl Archivable for ResultAreas {
    async fn set_archived(db: &mut PgConnection, id: &i64, archived: bool) -> sqlx::Result<bool> {
        set_area_archived(db, *id, archived).await
    }

    fn describe(record: &AreaRecord) -> String {
        format!("result area {}", record.code)
    }
}

/// Themes as the save pipeline edits them: titles only; the report fixes the themes.
pub struct Themes;

impl Editable for Themes {
    const ENTITY: &'static str = "theme";
    type Key = String;
    type Record = ThemeRecord;
    type Owner = ();
    type Fields = ThemeFields;

    async fn load(db: &mut PgConnection, code: &String) -> sqlx::Result<Option<ThemeRecord>> {
        theme(db, code).await
    }

    fn version(record: &ThemeRecord) -> i32 {
        record.version
    }

    async fn update(
        db: &mut PgConnection,
        _: &String,
        version: i32,
        fields: &ThemeFields,
    ) -> sqlx::Result<bool> {
        update_theme(db, version, fields).await
    }

    fn audit(before: Option<&ThemeRecord>, after: &ThemeRecord) -> Change {
        Change::of(
            before.map(ThemeFields::from),
            ThemeFields::from(after),
            format!("Edited the title of theme {}", after.code),
        )
    }

    fn audit_ids(_: &ThemeRecord) -> (Option<i64>, Option<i64>) {
        (None, None)
    }
}

impl From<&ThemeRecord> for ThemeFields {
    fn from(t: &ThemeRecord) -> Self {
        ThemeFields {
            code: t.code.clone(),
            title: t.title.clone(),
        }
    }
}
