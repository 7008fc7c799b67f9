//! An item's edit form as the edit page would post it, built from the database (used by
//! tests/it/instances.rs too).

use portfolio_tracker::store::admin_items;
use sqlx::PgPool;

/// A form as (name, value) pairs that a test can change before posting.
pub(crate) type Form = Vec<(&'static str, String)>;

/// The edit form of a saved item, as the edit page would post it.
pub(crate) async fn saved_form(pool: &PgPool, id: i64) -> Form {
    let i = admin_items::by_id(pool, id)
        .await
        .expect("query")
        .expect("item exists");
    let text = |t: Option<String>| t.unwrap_or_default();
    let mut form: Form = vec![
        ("title", i.title),
        ("slug", i.slug),
        ("kind", i.kind.as_str().to_string()),
        (
            "parent",
            i.parent_id.map(|p| p.to_string()).unwrap_or_default(),
        ),
        ("report_section", text(i.report_section)),
        ("status", i.status.as_str().to_string()),
        ("status_note", text(i.status_note)),
        ("summary", i.summary),
        ("description", i.description),
        ("period", text(i.period)),
        (
            "start_date",
            i.start_date.map(|d| d.to_string()).unwrap_or_default(),
        ),
        (
            "end_date",
            i.end_date.map(|d| d.to_string()).unwrap_or_default(),
        ),
        ("places", i.places),
        ("source_paras", text(i.source_paras)),
        ("internal_notes", i.internal_notes),
        ("version", i.version.to_string()),
    ];
    if i.published {
        form.push(("published", "on".into()));
    }
    form
}
