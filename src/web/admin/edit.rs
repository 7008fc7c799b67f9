//! What every editing form shares: parsing ids and versions, the 422 / 409 / 303
//! answers, and the side-by-side view of a conflicting save.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::web::AppError;

/// An id from the URL; anything else is a page that does not exist.
pub fn parse_id(raw: &str) -> Result<i64, AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(AppError::NotFound)
}

/// The version a form was loaded at (hidden field). A tampered value is a bad request.
pub fn parse_version(raw: &str) -> Result<i32, AppError> {
    raw.trim().parse::<i32>().map_err(|_| {
        AppError::BadRequest(
            "The form lacks its version number; reload the page and try again.".into(),
        )
    })
}

/// An HTML checkbox sends its value when ticked and nothing otherwise.
pub fn ticked(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| !v.is_empty())
}

/// The form again with messages next to the fields and everything typed kept.
pub fn unprocessable(page: &impl Template) -> Result<Response, AppError> {
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
}

/// Someone else saved first: the form again with their values beside these.
pub fn conflict(page: &impl Template) -> Result<Response, AppError> {
    Ok((StatusCode::CONFLICT, Html(page.render()?)).into_response())
}

/// After a successful POST: go to the page that shows the result.
pub fn see_other(url: &str) -> Result<Response, AppError> {
    Ok(Redirect::to(url).into_response())
}

/// A form's values as (label, value), in the order the form shows them.
pub trait FormValues {
    fn values(&self) -> Vec<(&'static str, String)>;
}

/// One field of a conflicting save: what is stored now, and what this person typed.
#[derive(Debug, Clone)]
pub struct ConflictRow {
    pub field: &'static str,
    pub saved: String,
    pub yours: String,
    pub differs: bool,
}

pub fn conflict_rows(saved: &impl FormValues, yours: &impl FormValues) -> Vec<ConflictRow> {
    saved
        .values()
        .into_iter()
        .zip(yours.values())
        .map(|((field, saved), (_, yours))| ConflictRow {
            field,
            differs: saved.trim() != yours.trim(),
            saved,
            yours,
        })
        .collect()
}

/// The name of the unique constraint a database error broke, if that is what happened.
pub fn unique_violation(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
            db.constraint().map(str::to_string)
        }
        _ => None,
    }
}

/// The name of the check or foreign-key constraint a database error broke.
pub fn constraint_violation(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db)
            if matches!(db.code().as_deref(), Some("23514" | "23503" | "23502")) =>
        {
            db.constraint().map(str::to_string)
        }
        _ => None,
    }
}

/// The flag an archive or restore flips, recorded as the audit row's before and after so
/// the History tab shows the change.
#[derive(serde::Serialize)]
pub struct ArchivedFlag {
    archived: bool,
}

/// The audit entry of archiving (or restoring) a record: the same shape for every type.
/// `what` names the record for people, e.g. "organisation Government of Canada".
pub fn archive_entry(
    entity: &'static str,
    id: i64,
    item_id: Option<i64>,
    archived: bool,
    what: &str,
) -> crate::store::audit::Entry<'static> {
    let (action, verb) = if archived {
        ("archive", "Archived")
    } else {
        ("restore", "Restored")
    };
    let (before, after): (&'static ArchivedFlag, &'static ArchivedFlag) = if archived {
        (
            &ArchivedFlag { archived: false },
            &ArchivedFlag { archived: true },
        )
    } else {
        (
            &ArchivedFlag { archived: true },
            &ArchivedFlag { archived: false },
        )
    };
    crate::store::audit::Entry {
        action,
        entity,
        entity_id: Some(id),
        item_id,
        summary: format!("{verb} {what}"),
        before: Some(before),
        after: Some(after),
    }
}
