//! Strategy themes, result areas, and which items serve which area.

use sqlx::PgPool;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Theme {
    pub code: String,
    pub title: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResultArea {
    pub id: i64,
    pub code: String,
    pub theme_code: String,
    pub title: Option<String>,
    pub source_para: Option<String>,
}

pub async fn themes(pool: &PgPool) -> sqlx::Result<Vec<Theme>> {
    sqlx::query_as("SELECT code, title FROM themes ORDER BY code::int")
        .fetch_all(pool)
        .await
}

/// Result areas in strategy order: 1.1, 1.2, ..., 3.10.
pub async fn result_areas(pool: &PgPool) -> sqlx::Result<Vec<ResultArea>> {
    sqlx::query_as(
        "SELECT id, code, theme_code, title, source_para FROM result_areas
          WHERE archived_at IS NULL
          ORDER BY string_to_array(code, '.')::numeric[]",
    )
    .fetch_all(pool)
    .await
}

/// Every (result area, item) pair.
pub async fn alignment_pairs(pool: &PgPool) -> sqlx::Result<Vec<(i64, i64)>> {
    sqlx::query_as("SELECT result_area_id, item_id FROM alignments")
        .fetch_all(pool)
        .await
}

/// The items aligned to one result area, with the paragraph that says so.
pub async fn alignments_of(
    pool: &PgPool,
    result_area_id: i64,
) -> sqlx::Result<Vec<(i64, Option<String>)>> {
    sqlx::query_as(
        "SELECT item_id, source_para FROM alignments WHERE result_area_id = $1 ORDER BY item_id",
    )
    .bind(result_area_id)
    .fetch_all(pool)
    .await
}
