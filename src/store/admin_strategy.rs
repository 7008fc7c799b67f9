//! Editing the strategy: themes and result areas as the admin pages see them, archived
//! areas included. The public pages read through `store::strategy`, which hides
//! archived areas.

use sqlx::{PgExecutor, PgPool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ThemeRecord {
    pub code: String,
    pub title: Option<String>,
    pub version: i32,
}

/// What a person edits on a theme; the code names it and does not change.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ThemeFields {
    pub code: String,
    pub title: Option<String>,
}

impl From<&ThemeRecord> for ThemeFields {
    fn from(t: &ThemeRecord) -> Self {
        ThemeFields {
            code: t.code.clone(),
            title: t.title.clone(),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
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

/// The fields a person edits on a result area.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AreaFields {
    pub code: String,
    pub theme_code: String,
    pub title: Option<String>,
    pub source_para: Option<String>,
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

pub async fn themes(pool: &PgPool) -> sqlx::Result<Vec<ThemeRecord>> {
    sqlx::query_as("SELECT code, title, version FROM themes ORDER BY code::numeric")
        .fetch_all(pool)
        .await
}

pub async fn theme(db: impl PgExecutor<'_>, code: &str) -> sqlx::Result<Option<ThemeRecord>> {
    sqlx::query_as("SELECT code, title, version FROM themes WHERE code = $1")
        .bind(code)
        .fetch_optional(db)
        .await
}

/// Saves the title if `version` is still current. False when someone saved in between.
pub async fn update_theme(
    db: impl PgExecutor<'_>,
    version: i32,
    f: &ThemeFields,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE themes SET title = $3, version = version + 1 WHERE code = $1 AND version = $2",
    )
    .bind(&f.code)
    .bind(version)
    .bind(&f.title)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

const SELECT_AREA: &str =
    "SELECT ra.id, ra.code, ra.theme_code, ra.title, ra.source_para, ra.version,
        ra.archived_at IS NOT NULL AS archived,
        (SELECT count(*) FROM alignments a JOIN items i ON i.id = a.item_id
          WHERE a.result_area_id = ra.id AND i.archived_at IS NULL) AS items
   FROM result_areas ra";

/// Every result area, archived ones included, in strategy order (1.1, 1.2, ..., 3.10).
pub async fn areas(pool: &PgPool) -> sqlx::Result<Vec<AreaRecord>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_AREA} ORDER BY string_to_array(ra.code, '.')::numeric[]"
    )))
    .fetch_all(pool)
    .await
}

pub async fn area(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<AreaRecord>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_AREA} WHERE ra.id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The area holding a code, to say whether a clashing one is archived.
pub async fn area_by_code(db: impl PgExecutor<'_>, code: &str) -> sqlx::Result<Option<AreaRecord>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_AREA} WHERE ra.code = $1"
    )))
    .bind(code)
    .fetch_optional(db)
    .await
}

pub async fn insert_area(db: impl PgExecutor<'_>, f: &AreaFields) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO result_areas (code, theme_code, title, source_para) VALUES ($1, $2, $3, $4)
         RETURNING id",
    )
    .bind(&f.code)
    .bind(&f.theme_code)
    .bind(&f.title)
    .bind(&f.source_para)
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
    let done = sqlx::query(
        "UPDATE result_areas SET code = $3, theme_code = $4, title = $5, source_para = $6,
                version = version + 1
          WHERE id = $1 AND version = $2",
    )
    .bind(id)
    .bind(version)
    .bind(&f.code)
    .bind(&f.theme_code)
    .bind(&f.title)
    .bind(&f.source_para)
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
    let done = sqlx::query(
        "UPDATE result_areas SET archived_at = CASE WHEN $2 THEN now() END, version = version + 1
          WHERE id = $1 AND (archived_at IS NOT NULL) <> $2",
    )
    .bind(id)
    .bind(archived)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
