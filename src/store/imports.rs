//! Contribution imports: the file's rows checked against the database and, when every
//! one is valid, saved in one transaction through the save pipeline
//! (`editing::create_in`), each with its audit row, under one import record.
//!
//! A check and a save run the same steps in one transaction: organisations the person
//! chose to create are created first (audited like the organisation form's), then what
//! the rows need is loaded in a fixed number of queries whatever the row count, then
//! `domain::import::check` judges every row. A check (the preview, `--dry-run`) or a
//! file with any problem rolls all of it back.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgExecutor, PgPool};
use std::collections::{BTreeSet, HashSet};

use crate::domain::import::{Checked, Column, Known, Named, Options, SameKey, Sheet, check};
use crate::domain::records::organisation::OrganisationForm;
use crate::domain::vocab::{ContributionStatus, OrgKind};
use crate::store::audit::Actor;
use crate::store::editing::{Saved, create_in};
use crate::store::money::{Contributions, ItemRef, currencies};
use crate::store::organisations::Organisations;

/// What to do with a file.
pub struct Request<'a> {
    pub file_name: &'a str,
    pub sheet: &'a Sheet,
    /// Organisation cells (as written) to create as new organisations.
    pub create_organisations: &'a BTreeSet<String>,
    pub options: Options,
    /// Save when every row is valid; false only checks.
    pub save: bool,
    /// The web's staged upload, removed in the transaction that saves it.
    pub upload: Option<i64>,
}

/// The rows checked, with what happened to the organisations to create.
pub struct Report {
    pub checked: Checked,
    /// Organisations created (or, in a check, that the save would create).
    pub created: Vec<String>,
    /// Organisations that cannot be created as named, and why.
    pub not_created: Vec<(String, String)>,
}

pub enum Outcome {
    /// Checked only, or refused for its problems: nothing was saved.
    Checked(Report),
    /// Every row saved under the import record `id`.
    Saved { id: i64, report: Report },
}

/// Checks, and saves when asked and every row is valid. `progress` is told how many rows
/// are saved so far.
pub async fn run(
    pool: &PgPool,
    actor: &Actor,
    request: &Request<'_>,
    progress: &(dyn Fn(usize) + Sync),
) -> anyhow::Result<Outcome> {
    let mut tx = pool.begin().await?;
    let mut known = load_known(&mut tx, request.sheet).await?;
    let asked = unknown_to_create(request, &known);
    let (created, not_created) = create_organisations(&mut tx, actor, asked, &known).await?;
    if !created.is_empty() {
        known.organisations = organisations(&mut *tx).await?;
    }
    let report = Report {
        checked: check(request.sheet, &known, &request.options),
        created,
        not_created,
    };
    let rows = match report.checked.to_save() {
        Some(rows) if request.save => rows,
        // rolled back: a check leaves nothing behind, not even the organisations
        _ => return Ok(Outcome::Checked(report)),
    };
    let id = insert_import(&mut *tx, actor, request.file_name, rows.len()).await?;
    let mut saved = Vec::with_capacity(rows.len());
    for (done, (item, fields)) in rows.iter().enumerate() {
        let owner = ItemRef {
            id: item.id,
            slug: item.slug.clone(),
            title: item.name.clone(),
            archived: item.archived,
        };
        match create_in::<Contributions>(&mut tx, actor, &owner, fields).await? {
            Saved::Done(contribution) => saved.push(contribution.id),
            _ => anyhow::bail!("a contribution of the import was not saved"),
        }
        progress(done + 1);
    }
    link_to_import(&mut *tx, id, &saved).await?;
    if let Some(upload) = request.upload {
        discard_upload(&mut *tx, upload).await?;
    }
    tx.commit().await?;
    Ok(Outcome::Saved { id, report })
}

/// The organisation cells the person chose to create that name no organisation.
fn unknown_to_create(request: &Request<'_>, known: &Known) -> Vec<String> {
    let exists = |text: &str| {
        known
            .organisations
            .iter()
            .any(|o| o.slug == text || o.name == text)
    };
    request
        .sheet
        .values(Column::Organisation)
        .into_iter()
        .filter(|name| request.create_organisations.contains(name) && !exists(name))
        .collect()
}

/// Creates each named organisation as the organisation form would (kind "other", the
/// slug made from the name): the ones created, and the ones refused with why.
async fn create_organisations(
    db: &mut PgConnection,
    actor: &Actor,
    names: Vec<String>,
    known: &Known,
) -> anyhow::Result<(Vec<String>, Vec<(String, String)>)> {
    let mut created = Vec::new();
    let mut refused = Vec::new();
    let mut slugs: HashSet<String> = known.organisations.iter().map(|o| o.slug.clone()).collect();
    for name in names {
        let form = OrganisationForm {
            name: name.clone(),
            kind: OrgKind::Other.as_str().into(),
            ..OrganisationForm::blank()
        };
        let fields = match form.validate() {
            Ok(fields) => fields,
            Err(errors) => {
                let why: Vec<&str> = errors.iter().map(|(_, message)| message).collect();
                refused.push((name, why.join("; ")));
                continue;
            }
        };
        // checked here: a refused insert would abort the whole transaction
        if !slugs.insert(fields.slug.clone()) {
            let why = format!(
                "another organisation has the slug {}: name that one, or rename this",
                fields.slug
            );
            refused.push((name, why));
            continue;
        }
        match create_in::<Organisations>(db, actor, &(), &fields).await? {
            Saved::Done(_) => created.push(name),
            _ => refused.push((name, "it could not be created".into())),
        }
    }
    Ok((created, refused))
}

/// Everything the checks need, in five queries whatever the number of rows.
async fn load_known(db: &mut PgConnection, sheet: &Sheet) -> sqlx::Result<Known> {
    let currencies = currencies(&mut *db).await?;
    let wanted: Vec<String> = sheet
        .values(Column::Currency)
        .into_iter()
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let items = items(&mut *db).await?;
    let named = sheet.values(Column::Item);
    let item_ids: Vec<i64> = items
        .iter()
        .filter(|i| named.contains(&i.slug) || named.contains(&i.name))
        .map(|i| i.id)
        .collect();
    Ok(Known {
        existing: existing(&mut *db, &item_ids).await?,
        organisations: organisations(&mut *db).await?,
        rates: rates(&mut *db, &wanted).await?,
        items,
        currencies,
    })
}

async fn items(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Named>> {
    sqlx::query_as!(
        Named,
        r#"SELECT id, slug, title AS name, archived_at IS NOT NULL AS "archived!" FROM items"#
    )
    .fetch_all(db)
    .await
}

async fn organisations(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Named>> {
    sqlx::query_as!(
        Named,
        r#"SELECT id, slug, name, archived_at IS NOT NULL AS "archived!" FROM organisations"#
    )
    .fetch_all(db)
    .await
}

/// The months that have a rate, for the file's currencies.
async fn rates(
    db: impl PgExecutor<'_>,
    currencies: &[String],
) -> sqlx::Result<HashSet<(String, NaiveDate)>> {
    let rows = sqlx::query!(
        r#"SELECT currency::text AS "currency!", month AS "month!" FROM monthly_rates
            WHERE currency::text = ANY($1)"#,
        currencies
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.currency, r.month)).collect())
}

/// The contributions saved already (not archived) to the file's items, as the duplicate
/// check compares them.
async fn existing(db: impl PgExecutor<'_>, items: &[i64]) -> sqlx::Result<HashSet<SameKey>> {
    let rows = sqlx::query!(
        r#"SELECT item_id, org_id, amount, currency::text AS "currency!",
                  status AS "status: ContributionStatus", as_of
             FROM contributions WHERE archived_at IS NULL AND item_id = ANY($1)"#,
        items
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| SameKey {
            item_id: r.item_id,
            org_id: r.org_id,
            amount: r.amount.normalize(),
            currency: r.currency,
            status: r.status,
            as_of: r.as_of,
        })
        .collect())
}

async fn insert_import(
    db: impl PgExecutor<'_>,
    actor: &Actor,
    file_name: &str,
    rows: usize,
) -> anyhow::Result<i64> {
    let id = sqlx::query_scalar!(
        "INSERT INTO contribution_imports (actor_id, actor_email, file_name, row_count)
         VALUES ($1, $2, $3, $4) RETURNING id",
        actor.id,
        actor.email,
        file_name,
        i32::try_from(rows)?
    )
    .fetch_one(db)
    .await?;
    Ok(id)
}

async fn link_to_import(db: impl PgExecutor<'_>, import: i64, ids: &[i64]) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE contributions SET import_id = $1 WHERE id = ANY($2)",
        import,
        ids
    )
    .execute(db)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Imports as the pages list them

/// One import record.
#[derive(Debug, Clone)]
pub struct Import {
    pub id: i64,
    pub imported_at: DateTime<Utc>,
    pub actor_email: String,
    pub file_name: String,
    pub row_count: i32,
}

/// Every import, newest first.
pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<Import>> {
    sqlx::query_as!(
        Import,
        "SELECT id, imported_at, actor_email, file_name, row_count
           FROM contribution_imports ORDER BY imported_at DESC, id DESC"
    )
    .fetch_all(pool)
    .await
}

pub async fn by_id(pool: &PgPool, id: i64) -> sqlx::Result<Option<Import>> {
    sqlx::query_as!(
        Import,
        "SELECT id, imported_at, actor_email, file_name, row_count
           FROM contribution_imports WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await
}

/// A contribution an import saved, as it is now.
#[derive(Debug, Clone)]
pub struct ImportedRow {
    pub id: i64,
    pub item_id: i64,
    pub item_title: String,
    pub org_name: String,
    pub amount: Decimal,
    pub currency: String,
    pub status: ContributionStatus,
    pub as_of: NaiveDate,
    pub archived: bool,
}

/// The contributions of import `id`, in the order they were saved (the file's).
pub async fn rows(pool: &PgPool, id: i64) -> sqlx::Result<Vec<ImportedRow>> {
    sqlx::query_as!(
        ImportedRow,
        r#"SELECT c.id, c.item_id, i.title AS item_title, o.name AS org_name, c.amount,
                  c.currency::text AS "currency!", c.status AS "status: ContributionStatus",
                  c.as_of, c.archived_at IS NOT NULL AS "archived!"
             FROM contributions c
             JOIN items i ON i.id = c.item_id
             JOIN organisations o ON o.id = c.org_id
            WHERE c.import_id = $1
            ORDER BY c.id"#,
        id
    )
    .fetch_all(pool)
    .await
}

// ---------------------------------------------------------------------------------------
// Uploads waiting for their save (the web's preview)

/// A file uploaded and not saved yet.
pub struct Upload {
    pub id: i64,
    pub file_name: String,
    pub content: Vec<u8>,
}

/// Keeps a file for `user`'s preview and save; uploads older than a day go at the same
/// time. Its id.
pub async fn stage_upload(
    pool: &PgPool,
    user: i64,
    file_name: &str,
    content: &[u8],
) -> sqlx::Result<i64> {
    sqlx::query!(
        "DELETE FROM contribution_import_uploads WHERE uploaded_at < now() - interval '1 day'"
    )
    .execute(pool)
    .await?;
    sqlx::query_scalar!(
        "INSERT INTO contribution_import_uploads (user_id, file_name, content)
         VALUES ($1, $2, $3) RETURNING id",
        user,
        file_name,
        content
    )
    .fetch_one(pool)
    .await
}

/// `user`'s staged upload `id`: another person's is not theirs to see or save.
pub async fn upload(pool: &PgPool, user: i64, id: i64) -> sqlx::Result<Option<Upload>> {
    sqlx::query_as!(
        Upload,
        "SELECT id, file_name, content FROM contribution_import_uploads
          WHERE id = $1 AND user_id = $2",
        id,
        user
    )
    .fetch_optional(pool)
    .await
}

async fn discard_upload(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM contribution_import_uploads WHERE id = $1", id)
        .execute(db)
        .await?;
    Ok(())
}
