//! `/activity`: every change to the portfolio for staff and admins, newest first, each
//! named by its record's title with links to the record and the item's history. The
//! before/after snapshots stay on the admins' audit trail (`/admin/audit`).

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use serde::Deserialize;

use crate::domain::activity::{self, Known, RECORD_TYPES, Verb};
use crate::store::audit::{self, Activity, ActivityFilter};
use crate::web::auth::Nav;
use crate::web::forms::{HtmlQuery, date_param};
use crate::web::pages::overview::parse_page;
use crate::web::pages::render;
use crate::web::{AppError, AppState};

/// Changes per page.
pub const PAGE_SIZE: usize = 50;

/// One change as people read it. Built once per row, for any role: the template picks
/// the record's link for the reader ([`ActivityEntry::record_link`]).
#[derive(Debug, Clone)]
pub struct ActivityEntry {
    /// `2024-05-01 14:03 UTC`, and the same instant for `<time datetime>`.
    pub at: String,
    pub at_iso: String,
    pub who: String,
    pub verb: &'static str,
    /// What happened, in a sentence: "Published programme “Guinea-Bissau”".
    pub headline: String,
    /// The record: "contribution of USD 1,000,000 from Canada to “Guinea-Bissau”".
    pub record: String,
    /// The record's page for readers (none when it is archived or gone).
    pub page: Option<String>,
    /// Its admin edit page (or the list it is edited from).
    pub edit: Option<String>,
    /// The item's History tab, and its changes on this page.
    pub history: Option<String>,
    pub item_changes: Option<String>,
}

impl ActivityEntry {
    /// The record's link for this reader: the edit page for admins, else its page.
    pub fn record_link(&self, nav: &Nav) -> Option<&str> {
        if nav.is_admin {
            self.edit.as_deref().or(self.page.as_deref())
        } else {
            self.page.as_deref()
        }
    }
}

impl From<Activity> for ActivityEntry {
    fn from(a: Activity) -> Self {
        let c = &a.change;
        let (before, after) = (c.before.as_ref(), c.after.as_ref());
        let verb = Verb::of(&c.action, before, after);
        let known = Known {
            item_title: a.item_title.as_deref(),
            item_kind: a.item_kind.as_deref(),
            org_name: a.org_name.as_deref(),
            area_code: a.area_code.as_deref(),
        };
        let record = activity::record_name(&c.entity, known, before, after);
        // Slugs and codes are checked by the database to be URL-safe ([a-z0-9-], digits
        // and a dot), so they go into addresses as they are.
        let item_page = a
            .item_slug
            .as_ref()
            .filter(|_| !a.item_archived)
            .map(|slug| format!("/programmes/{slug}"));
        let page = match c.entity.as_str() {
            "organisation" => a
                .org_slug
                .as_ref()
                .filter(|_| !a.org_archived)
                .map(|slug| format!("/organisations/{slug}")),
            "result_area" => a
                .area_code
                .as_ref()
                .filter(|_| !a.area_archived)
                .map(|code| format!("/result-areas/{code}")),
            _ => item_page.clone(),
        };
        let id = c.entity_id;
        let edit = match c.entity.as_str() {
            "item" => c.item_id.map(|id| format!("/admin/items/{id}/edit")),
            "alignment" => c
                .item_id
                .map(|id| format!("/admin/items/{id}/edit#alignments")),
            "budget" => id.map(|id| format!("/admin/budgets/{id}/edit")),
            "contribution" => id.map(|id| format!("/admin/contributions/{id}/edit")),
            // a deleted organisation has no edit page
            "organisation" => id
                .filter(|_| a.org_slug.is_some())
                .map(|id| format!("/admin/organisations/{id}/edit")),
            "result_area" => id.map(|id| format!("/admin/result-areas/{id}/edit")),
            // edited from lists of their own
            "theme" => Some("/admin/result-areas".to_string()),
            "exchange_rate" => Some("/admin/exchange-rates".to_string()),
            _ => None,
        };
        ActivityEntry {
            at: c.at.format("%Y-%m-%d %H:%M UTC").to_string(),
            at_iso: c.at.to_rfc3339(),
            who: c.actor_email.clone().unwrap_or_else(|| "system".into()),
            verb: verb.label(),
            headline: activity::headline(verb, &c.summary, &record),
            record,
            page,
            edit,
            history: item_page.map(|p| format!("{p}/history")),
            item_changes: a.item_slug.map(|slug| format!("/activity?item={slug}")),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Params {
    item: String,
    person: String,
    #[serde(rename = "type")]
    record_type: String,
    from: String,
    to: String,
    page: String,
}

#[derive(Template)]
#[template(path = "activity.html")]
pub struct ActivityPage {
    pub nav: Nav,
    pub people: Vec<(String, String)>,
    pub record_types: &'static [(&'static str, &'static str)],
    pub item: String,
    pub person: String,
    pub record_type: String,
    pub from: String,
    pub to: String,
    /// Why nothing can match (an item no record is called), when that is so.
    pub unknown: Option<String>,
    pub entries: Vec<ActivityEntry>,
    pub page: usize,
    pub prev: Option<String>,
    pub next: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    nav: Nav,
    HtmlQuery(p): HtmlQuery<Params>,
) -> Result<Html<String>, AppError> {
    let page = parse_page(Some(&p.page))?;
    let actor_id = match p.person.trim() {
        "" => None,
        id => Some(id.parse::<i64>().map_err(|_| {
            AppError::BadRequest(format!("“{id}” is not a person: choose one from the list."))
        })?),
    };
    let entity = match p.record_type.as_str() {
        "" => None,
        t if RECORD_TYPES.iter().any(|(value, _)| *value == t) => Some(t.to_string()),
        t => {
            return Err(AppError::BadRequest(format!(
                "Unknown record type “{t}”: choose one from the list."
            )));
        }
    };
    let (from, to) = (date_param(&p.from, "from")?, date_param(&p.to, "to")?);
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(AppError::BadRequest(format!(
            "“From” ({f}) is after “to” ({t}): no change can be in between."
        )));
    }
    let item_name = p.item.trim();
    let (item_id, unknown) = if item_name.is_empty() {
        (None, None)
    } else {
        match audit::find_item(&state.pool, item_name).await? {
            Some((id, _, _)) => (Some(id), None),
            None => (
                None,
                Some(format!(
                    "No programme, initiative or component has the title or address “{item_name}”."
                )),
            ),
        }
    };
    let people = audit::accounts(&state.pool)
        .await?
        .into_iter()
        .map(|(id, label)| (id.to_string(), label))
        .collect();
    let mut entries: Vec<ActivityEntry> = match unknown {
        Some(_) => Vec::new(),
        None => {
            let filter = ActivityFilter {
                item_id,
                actor_id,
                entity,
                from,
                to,
            };
            // One more than a page says whether there is a next one, without a count
            // over the whole trail.
            let offset = (page - 1).saturating_mul(PAGE_SIZE);
            audit::activity(
                &state.pool,
                &filter,
                i64::try_from(PAGE_SIZE + 1).unwrap_or(i64::MAX),
                i64::try_from(offset).unwrap_or(i64::MAX),
            )
            .await?
            .into_iter()
            .map(ActivityEntry::from)
            .collect()
        }
    };
    let has_next = entries.len() > PAGE_SIZE;
    entries.truncate(PAGE_SIZE);
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("item", item_name)
        .append_pair("person", p.person.trim())
        .append_pair("type", &p.record_type)
        .append_pair("from", p.from.trim())
        .append_pair("to", p.to.trim())
        .finish();
    let at = |n: usize| format!("/activity?{query}&page={n}");
    render(&ActivityPage {
        nav,
        people,
        record_types: RECORD_TYPES,
        item: item_name.to_string(),
        person: p.person.trim().to_string(),
        record_type: p.record_type,
        from: p.from.trim().to_string(),
        to: p.to.trim().to_string(),
        unknown,
        entries,
        page,
        prev: (page > 1).then(|| at(page - 1)),
        next: has_next.then(|| at(page + 1)),
    })
}
