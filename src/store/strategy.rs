//! Strategy themes and result areas, for the admin forms.

use sqlx::PgPool;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResultArea {
    pub id: i64,
    pub code: String,
    pub theme_code: String,
    pub title: Option<String>,
    pub source_para: Option<String>,
}

/// Result areas in strategy order: 1.1, 1.2, ..., 3.10.
pub async fn result_areas(pool: &PgPool) -> sqlx::Result<Vec<ResultArea>> {
    sqlx::query_as!(
        ResultArea,
        "SELECT id, code, theme_code, title, source_para FROM result_areas
          WHERE archived_at IS NULL
          ORDER BY string_to_array(code, '.')::numeric[]",
    )
    .fetch_all(pool)
    .await
}
