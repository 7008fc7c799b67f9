//! The save pipeline: the one sequence every editable record goes through, whichever
//! page or command saves it.
//!
//! In one transaction: the record's own database checks → insert or versioned update →
//! a refusal by a constraint turned into a message on the field it is about → the stale
//! version reported with what is saved now → hooks of the record (an account ends its
//! sessions) → the audit row with before and after → commit. Validating the typed
//! strings comes first, in `domain` (it needs no database); the web layer turns the
//! outcome into 303, 422 or 409 (`web::admin::pipeline`).

use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

use crate::domain::forms::FieldErrors;
use crate::store::audit::{self, Actor, Entry};

/// A record people edit, as the database sees it.
pub trait Editable: Send + Sync + Sized + 'static {
    /// Its name in the audit trail: `organisation`, `budget`, `exchange_rate`.
    const ENTITY: &'static str;
    /// What identifies one: an id, or a natural key such as (currency, month).
    type Key: Clone + Send + Sync;
    /// One as loaded, with what its pages show.
    type Record: Send + Sync;
    /// What a new one is created under: an item for budgets, `()` for most.
    type Owner: Default + Send + Sync;
    /// Its validated, typed fields.
    type Fields: Send + Sync;

    fn load(
        db: &mut PgConnection,
        key: &Self::Key,
    ) -> impl Future<Output = sqlx::Result<Option<Self::Record>>> + Send;

    /// The version the record is at; a save names the version it was loaded at.
    fn version(record: &Self::Record) -> i32;

    /// Saves if `version` is still current; false when someone saved in between.
    fn update(
        db: &mut PgConnection,
        key: &Self::Key,
        version: i32,
        fields: &Self::Fields,
    ) -> impl Future<Output = sqlx::Result<bool>> + Send;

    /// The key after a save of `fields` (a rate's currency and month can be corrected).
    fn saved_key(key: &Self::Key, _fields: &Self::Fields) -> Self::Key {
        key.clone()
    }

    /// Rules that need the database (an item's parent must not be archived), checked in
    /// the save's transaction. `before` is None for a new record.
    fn check(
        _db: &mut PgConnection,
        _before: Option<&Self::Record>,
        _fields: &Self::Fields,
    ) -> impl Future<Output = sqlx::Result<FieldErrors>> + Send {
        async { Ok(FieldErrors::default()) }
    }

    /// A constraint the database enforced although validation passed (someone changed
    /// something in between): the message for the field it is about, or None when it is
    /// not something the person can fix. The failed transaction is gone: read with `pool`.
    fn refusal(
        _pool: &PgPool,
        _constraint: &str,
        _fields: &Self::Fields,
    ) -> impl Future<Output = sqlx::Result<Option<FieldErrors>>> + Send {
        async { Ok(None) }
    }

    /// Anything else a save changes, in its transaction, audited under `actor` (an
    /// account's sessions end when it is disabled; an item's components are published
    /// with it when asked).
    fn after_save(
        _db: &mut PgConnection,
        _actor: &Actor,
        _fields: &Self::Fields,
        _before: Option<&Self::Record>,
        _after: &Self::Record,
    ) -> impl Future<Output = sqlx::Result<()>> + Send {
        async { Ok(()) }
    }

    /// The audit row of a create (`before` None) or an update.
    fn audit(before: Option<&Self::Record>, after: &Self::Record) -> Change;

    /// The record's id in the audit trail, and the item it belongs to (for the item's
    /// History tab).
    fn audit_ids(record: &Self::Record) -> (Option<i64>, Option<i64>);
}

/// The part of an `Editable` impl that every record keyed by its id writes alike: the
/// key is an `i64`, `load` and `update` call the module's `$load(db, id)` and
/// `$update(db, id, version, fields)`, and the record's `version` field is its version.
macro_rules! keyed_by_id {
    ($load:path, $update:path) => {
        type Key = i64;

        async fn load(db: &mut sqlx::PgConnection, id: &i64) -> sqlx::Result<Option<Self::Record>> {
            $load(db, *id).await
        }

        fn version(record: &Self::Record) -> i32 {
            record.version
        }

        async fn update(
            db: &mut sqlx::PgConnection,
            id: &i64,
            version: i32,
            fields: &Self::Fields,
        ) -> sqlx::Result<bool> {
            $update(db, *id, version, fields).await
        }
    };
}
pub(crate) use keyed_by_id;

/// A record people create (themes, for one, are only edited).
pub trait Creatable: Editable {
    fn insert(
        db: &mut PgConnection,
        owner: &Self::Owner,
        fields: &Self::Fields,
    ) -> impl Future<Output = sqlx::Result<Self::Key>> + Send;
}

/// A record that is archived rather than deleted: it leaves the dashboards and menus,
/// and can be restored.
pub trait Archivable: Editable {
    fn set_archived(
        db: &mut PgConnection,
        key: &Self::Key,
        archived: bool,
    ) -> impl Future<Output = sqlx::Result<bool>> + Send;

    /// The record for people, e.g. `organisation Government of Canada`.
    fn describe(record: &Self::Record) -> String;
}

/// What the audit trail says about one save.
pub struct Change {
    pub action: &'static str,
    pub summary: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl Change {
    /// `create` when there is no `before`, else `update`, with both as JSON.
    pub fn of<T: serde::Serialize>(before: Option<T>, after: T, summary: String) -> Change {
        let json = |v: &T| serde_json::to_value(v).unwrap_or(Value::Null);
        Change {
            action: if before.is_some() { "update" } else { "create" },
            summary,
            before: before.as_ref().map(json),
            after: Some(json(&after)),
        }
    }

    /// [`Change::of`] summed up as `Created …` or `Edited …` and `what` the record is
    /// (for most records the text [`Archivable::describe`] gives it).
    pub fn created_or_edited<T: serde::Serialize>(
        before: Option<T>,
        after: T,
        what: &str,
    ) -> Change {
        let verb = if before.is_some() {
            "Edited"
        } else {
            "Created"
        };
        Change::of(before, after, format!("{verb} {what}"))
    }
}

/// How a save ended.
pub enum Saved<R: Editable> {
    /// Saved and audited: the record as stored now.
    Done(R::Record),
    /// Refused, with a message per field; nothing was stored.
    Refused(FieldErrors),
    /// Someone saved first: the record as they left it; nothing was stored.
    Stale(R::Record),
    /// No such record (any more).
    Missing,
}

pub async fn create<R: Creatable>(
    pool: &PgPool,
    actor: &Actor,
    owner: &R::Owner,
    fields: &R::Fields,
) -> sqlx::Result<Saved<R>> {
    let mut tx = pool.begin().await?;
    match create_in::<R>(&mut tx, actor, owner, fields).await {
        Ok(Saved::Done(after)) => {
            tx.commit().await?;
            Ok(Saved::Done(after))
        }
        Ok(other) => Ok(other),
        Err(e) => {
            // the failed transaction is gone before the refusal is looked up
            drop(tx);
            refused::<R>(pool, e, fields).await
        }
    }
}

/// [`create`] within a transaction the caller owns and commits (an import saves many
/// records in one): the checks, the insert and the audit row, nothing committed. A
/// constraint's refusal comes back as the database error; the caller rolls back.
pub async fn create_in<R: Creatable>(
    db: &mut PgConnection,
    actor: &Actor,
    owner: &R::Owner,
    fields: &R::Fields,
) -> sqlx::Result<Saved<R>> {
    let errors = R::check(db, None, fields).await?;
    if !errors.is_empty() {
        return Ok(Saved::Refused(errors));
    }
    let key = R::insert(db, owner, fields).await?;
    let Some(after) = R::load(db, &key).await? else {
        return Ok(Saved::Missing);
    };
    record_save::<R>(db, actor, fields, None, &after).await?;
    Ok(Saved::Done(after))
}

pub async fn update<R: Editable>(
    pool: &PgPool,
    actor: &Actor,
    key: &R::Key,
    version: i32,
    fields: &R::Fields,
) -> sqlx::Result<Saved<R>> {
    let mut tx = pool.begin().await?;
    let Some(before) = R::load(&mut tx, key).await? else {
        return Ok(Saved::Missing);
    };
    let errors = R::check(&mut tx, Some(&before), fields).await?;
    if !errors.is_empty() {
        return Ok(Saved::Refused(errors));
    }
    match R::update(&mut tx, key, version, fields).await {
        Ok(true) => {}
        Ok(false) => return Ok(Saved::Stale(before)),
        Err(e) => return refused::<R>(pool, e, fields).await,
    }
    let Some(after) = R::load(&mut tx, &R::saved_key(key, fields)).await? else {
        return Ok(Saved::Missing);
    };
    record_save::<R>(&mut tx, actor, fields, Some(&before), &after).await?;
    tx.commit().await?;
    Ok(Saved::Done(after))
}

/// Archives or restores; audited only when the flag changed. The record as it was.
pub async fn set_archived<R: Archivable>(
    pool: &PgPool,
    actor: &Actor,
    key: &R::Key,
    archived: bool,
) -> sqlx::Result<Option<R::Record>> {
    let mut tx = pool.begin().await?;
    let Some(record) = R::load(&mut tx, key).await? else {
        return Ok(None);
    };
    if R::set_archived(&mut tx, key, archived).await? {
        let (entity_id, item_id) = R::audit_ids(&record);
        let (action, verb) = if archived {
            ("archive", "Archived")
        } else {
            ("restore", "Restored")
        };
        let entry = Entry {
            action,
            entity: R::ENTITY,
            entity_id,
            item_id,
            summary: format!("{verb} {}", R::describe(&record)),
            // The flag is what changed, so the History tab shows it.
            before: Some(&json!({ "archived": !archived })),
            after: Some(&json!({ "archived": archived })),
        };
        audit::record(&mut *tx, actor, entry).await?;
    }
    tx.commit().await?;
    Ok(Some(record))
}

/// What every save does after the write: the record's own hooks, then its audit row.
async fn record_save<R: Editable>(
    db: &mut PgConnection,
    actor: &Actor,
    fields: &R::Fields,
    before: Option<&R::Record>,
    after: &R::Record,
) -> sqlx::Result<()> {
    R::after_save(db, actor, fields, before, after).await?;
    let change = R::audit(before, after);
    let (entity_id, item_id) = R::audit_ids(after);
    let entry = Entry {
        action: change.action,
        entity: R::ENTITY,
        entity_id,
        item_id,
        summary: change.summary,
        before: change.before.as_ref().map(|v| v as _),
        after: change.after.as_ref().map(|v| v as _),
    };
    audit::record(&mut *db, actor, entry).await
}

async fn refused<R: Editable>(
    pool: &PgPool,
    error: sqlx::Error,
    fields: &R::Fields,
) -> sqlx::Result<Saved<R>> {
    let Some(constraint) = violated_constraint(&error) else {
        return Err(error);
    };
    match R::refusal(pool, &constraint, fields).await? {
        Some(errors) => Ok(Saved::Refused(errors)),
        None => Err(error),
    }
}

/// The name of the constraint a database error broke (unique, check, foreign key, not
/// null, or a trigger that raises one of these with a constraint name).
pub fn violated_constraint(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db)
            if matches!(
                db.code().as_deref(),
                Some("23505" | "23514" | "23503" | "23502")
            ) =>
        {
            db.constraint().map(str::to_string)
        }
        _ => None,
    }
}
