//! Organisations: donors, governments, UN entities, banks, regional bodies.

use sqlx::{PgConnection, PgExecutor, PgPool};

use crate::domain::forms::FieldErrors;
pub use crate::domain::records::organisation::OrganisationFields;
use crate::domain::vocab::OrgKind;
use crate::store::editing::{Archivable, Change, Creatable, Editable, keyed_by_id};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Organisation {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub acronym: Option<String>,
    pub kind: OrgKind,
    pub source_paras: Option<String>,
    pub version: i32,
    #[serde(skip)]
    pub archived: bool,
    #[serde(skip)]
    pub contributions: i64,
}

/// Every organisation (`id` None) or one, archived ones last.
async fn select(db: impl PgExecutor<'_>, id: Option<i64>) -> sqlx::Result<Vec<Organisation>> {
    sqlx::query_as!(
        Organisation,
        r#"SELECT o.id, o.slug, o.name, o.acronym, o.kind AS "kind: OrgKind", o.source_paras,
                  o.version, o.archived_at IS NOT NULL AS "archived!",
                  (SELECT count(*) FROM contributions c WHERE c.org_id = o.id) AS "contributions!"
             FROM organisations o
            WHERE $1::bigint IS NULL OR o.id = $1
            ORDER BY o.archived_at IS NOT NULL, o.name"#,
        id
    )
    .fetch_all(db)
    .await
}

pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<Organisation>> {
    select(pool, None).await
}

/// Organisations that can be chosen in forms (not archived).
pub async fn choices(pool: &PgPool) -> sqlx::Result<Vec<(i64, String)>> {
    let rows =
        sqlx::query!("SELECT id, name FROM organisations WHERE archived_at IS NULL ORDER BY name")
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.name)).collect())
}

pub async fn by_id(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Organisation>> {
    Ok(select(db, Some(id)).await?.pop())
}

pub async fn insert(db: impl PgExecutor<'_>, f: &OrganisationFields) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO organisations (slug, name, acronym, kind, source_paras) VALUES ($1, $2, $3, $4, $5)
         RETURNING id",
        f.slug,
        f.name,
        f.acronym,
        f.kind as OrgKind,
        f.source_paras
    )
    .fetch_one(db)
    .await
}

/// Saves if `version` is still current. False when someone saved in between.
pub async fn update(
    db: impl PgExecutor<'_>,
    id: i64,
    version: i32,
    f: &OrganisationFields,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE organisations SET slug = $3, name = $4, acronym = $5, kind = $6, source_paras = $7,
                version = version + 1
          WHERE id = $1 AND version = $2",
        id,
        version,
        f.slug,
        f.name,
        f.acronym,
        f.kind as OrgKind,
        f.source_paras
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Archives (`archived` true) or restores. False when nothing changed.
pub async fn set_archived(db: impl PgExecutor<'_>, id: i64, archived: bool) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE organisations SET archived_at = CASE WHEN $2 THEN now() END, version = version + 1
          WHERE id = $1 AND (archived_at IS NOT NULL) <> $2",
        id,
        archived
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes an organisation and its links to items; the caller first makes sure it has no
/// contributions (the foreign key refuses otherwise).
pub async fn delete(db: &mut sqlx::PgConnection, id: i64) -> sqlx::Result<bool> {
    sqlx::query!("DELETE FROM item_organisations WHERE org_id = $1", id)
        .execute(&mut *db)
        .await?;
    let done = sqlx::query!("DELETE FROM organisations WHERE id = $1", id)
        .execute(&mut *db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Organisations as the save pipeline edits them.
pub struct Organisations;

impl Editable for Organisations {
    const ENTITY: &'static str = "organisation";
    type Record = Organisation;
    type Owner = ();
    type Fields = OrganisationFields;

    keyed_by_id!(by_id, update);

    async fn refusal(
        _: &PgPool,
        constraint: &str,
        _: &OrganisationFields,
    ) -> sqlx::Result<Option<FieldErrors>> {
        Ok((constraint == "organisations_slug_key")
            .then(|| FieldErrors::one("slug", "another organisation already uses this slug")))
    }

    fn audit(before: Option<&Organisation>, after: &Organisation) -> Change {
        Change::created_or_edited(
            before.map(OrganisationFields::from),
            OrganisationFields::from(after),
            &Self::describe(after),
        )
    }

    fn audit_ids(record: &Organisation) -> (Option<i64>, Option<i64>) {
        (Some(record.id), None)
    }
}

impl Creatable for Organisations {
    async fn insert(
        db: &mut PgConnection,
        _: &(),
        fields: &OrganisationFields,
    ) -> sqlx::Result<i64> {
        insert(db, fields).await
    }
}

impl Archivable for Organisations {
    async fn set_archived(db: &mut PgConnection, id: &i64, archived: bool) -> sqlx::Result<bool> {
        set_archived(db, *id, archived).await
    }

    fn describe(record: &Organisation) -> String {
        format!("organisation {}", record.name)
    }
}

impl From<&Organisation> for OrganisationFields {
    fn from(o: &Organisation) -> Self {
        OrganisationFields {
            slug: o.slug.clone(),
            name: o.name.clone(),
            acronym: o.acronym.clone(),
            kind: o.kind,
            source_paras: o.source_paras.clone(),
        }
    }
}
