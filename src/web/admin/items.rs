//! Admin: programmes, initiatives and components, and their strategy alignments. Follows
//! the organisations pattern (a form of strings, 422 keeping what was typed, a versioned
//! save whose 409 shows both sides, archive and restore, the audit row in the same
//! transaction) and adds the parent (with a cycle check), places and alignments.

use crate::web::forms::HtmlPath;
use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{Html, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use serde::Deserialize;
use sqlx::{PgConnection, PgPool};

use crate::domain::forms::FieldErrors;
use crate::domain::slug;
use crate::domain::vocab::{ItemKind, ItemStatus, TITLE_NOT_GIVEN, label_of};
use crate::store::admin_items::{
    self as store, AdminItem, AlignmentRow, ItemFields, ItemSnapshot, ListFilter, PAGE_SIZE,
};
use crate::store::audit::{self, Entry};
use crate::store::strategy;
use crate::web::admin::edit::{self, ConflictRow, FormValues};
use crate::web::auth::{Nav, SignedIn};
use crate::web::forms::HtmlForm;
use crate::web::pages::overview::parse_page;
use crate::web::pages::render;
use crate::web::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/items", get(list).post(create))
        .route("/admin/items/new", get(new))
        .route("/admin/items/{id}/edit", get(edit_form))
        .route("/admin/items/{id}", post(update))
        .route("/admin/items/{id}/archive", post(archive))
        .route("/admin/items/{id}/restore", post(restore))
        .route("/admin/items/{id}/alignments", post(add_alignment))
        .route(
            "/admin/items/{id}/alignments/{result_area_id}/delete",
            post(remove_alignment),
        )
}

/// Longest title, and longest text of any other field.
const MAX_TITLE: usize = 300;
const MAX_TEXT: usize = 20_000;
/// Longest place name; longest search text on the list.
const MAX_PLACE: usize = 200;
const MAX_SEARCH: usize = 200;

const PARENT_NEEDED: &str = "a component belongs to a programme or an initiative: choose which one";
const PARENT_FORBIDDEN: &str = "only components have a parent: leave this empty for a programme or an initiative, or make it a component";
const PARENT_CYCLE: &str =
    "an item cannot sit under itself or under one of its own components: choose another parent";
const PARENT_GONE: &str = "that item is archived or no longer exists: choose another parent";
const END_BEFORE_START: &str = "the end date cannot be before the start date";

/// An option of a menu.
pub struct Choice {
    pub value: String,
    pub label: String,
}

fn kind_choices() -> Vec<Choice> {
    ItemKind::ALL
        .iter()
        .map(|k| Choice {
            value: k.as_str().into(),
            label: k.label().into(),
        })
        .collect()
}

fn status_choices() -> Vec<Choice> {
    ItemStatus::ALL
        .iter()
        .map(|s| Choice {
            value: s.as_str().into(),
            label: s.label().into(),
        })
        .collect()
}

/// "programme", "component", ... for sentences.
fn kind_word(kind: &str) -> String {
    label_of(ItemKind::parse, kind).to_lowercase()
}

// ---------------------------------------------------------------------------------------
// The list

/// The list's query parameters, as typed. Read by hand so that no malformed query ever
/// gets a bare framework error.
#[derive(Debug, Default)]
struct ListParams {
    kind: String,
    status: String,
    published: String,
    archived: String,
    q: String,
    page: String,
    done: String,
}

impl ListParams {
    fn parse(raw: Option<&str>) -> ListParams {
        let mut p = ListParams::default();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let slot = match key.as_ref() {
                "kind" => &mut p.kind,
                "status" => &mut p.status,
                "published" => &mut p.published,
                "archived" => &mut p.archived,
                "q" => &mut p.q,
                "page" => &mut p.page,
                "done" => &mut p.done,
                _ => continue,
            };
            *slot = value.trim().to_string();
        }
        p
    }

    fn filter(&self) -> Result<ListFilter, AppError> {
        let kind = match self.kind.as_str() {
            "" => None,
            k => Some(ItemKind::parse(k).ok_or_else(|| {
                AppError::BadRequest(format!(
                    "Unknown kind “{k}”: use programme, initiative or component."
                ))
            })?),
        };
        let status = match self.status.as_str() {
            "" => None,
            s => Some(ItemStatus::parse(s).ok_or_else(|| {
                let known: Vec<&str> = ItemStatus::ALL.iter().map(|s| s.as_str()).collect();
                AppError::BadRequest(format!("Unknown status “{s}”: use {}.", known.join(", ")))
            })?),
        };
        if self.q.chars().count() > MAX_SEARCH {
            return Err(AppError::BadRequest(format!(
                "The search text is too long: at most {MAX_SEARCH} characters."
            )));
        }
        Ok(ListFilter {
            kind: kind.map(|k| k.as_str().to_string()),
            status: status.map(|s| s.as_str().to_string()),
            published: yes_no(&self.published, "published")?,
            archived: yes_no(&self.archived, "archived")?,
            text: Some(self.q.clone()).filter(|q| !q.is_empty()),
        })
    }

    /// The filters as a query string, for the pager's links.
    fn query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("kind", &self.kind)
            .append_pair("status", &self.status)
            .append_pair("published", &self.published)
            .append_pair("archived", &self.archived)
            .append_pair("q", &self.q)
            .finish()
    }
}

fn yes_no(value: &str, name: &str) -> Result<Option<bool>, AppError> {
    match value {
        "" => Ok(None),
        "yes" => Ok(Some(true)),
        "no" => Ok(Some(false)),
        other => Err(AppError::BadRequest(format!(
            "Unknown value “{other}” for “{name}”: use yes or no."
        ))),
    }
}

fn notice_text(done: &str) -> &'static str {
    match done {
        "created" => {
            "Created. Add its strategy alignments below; its budgets and contributions are on its money page."
        }
        "saved" => "Saved.",
        "archived" => {
            "Archived: it and its components no longer appear on the dashboards. It can be restored from this list."
        }
        "restored" => "Restored.",
        "aligned" => "Alignment added.",
        "unaligned" => "Alignment removed.",
        _ => "",
    }
}

/// One row of the list, ready to show.
pub struct ListItem {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub kind: String,
    pub parent: String,
    pub parent_archived: bool,
    pub status: String,
    pub published: bool,
    pub archived: bool,
}

#[derive(Template)]
#[template(path = "admin/items/list.html")]
pub struct ListPage {
    pub nav: Nav,
    pub notice: &'static str,
    pub items: Vec<ListItem>,
    pub kinds: Vec<Choice>,
    pub statuses: Vec<Choice>,
    pub kind: String,
    pub status: String,
    pub published: String,
    pub archived: String,
    pub q: String,
    pub total: i64,
    pub page: usize,
    pub pages: usize,
    pub query: String,
}

pub async fn list(
    State(state): State<AppState>,
    nav: Nav,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, AppError> {
    let params = ListParams::parse(raw.as_deref());
    let filter = params.filter()?;
    let page = parse_page(Some(&params.page))?;
    let (rows, total) = store::list(&state.pool, &filter, page as i64).await?;
    let pages = usize::try_from((total + PAGE_SIZE - 1) / PAGE_SIZE)
        .unwrap_or(1)
        .max(1);
    if page > pages {
        return Err(AppError::NotFound);
    }
    let items = rows
        .into_iter()
        .map(|r| ListItem {
            kind: label_of(ItemKind::parse, &r.kind),
            status: label_of(ItemStatus::parse, &r.status),
            parent: r.parent_title.unwrap_or_default(),
            parent_archived: r.parent_archived,
            id: r.id,
            slug: r.slug,
            title: r.title,
            published: r.published,
            archived: r.archived,
        })
        .collect();
    let query = params.query();
    render(&ListPage {
        nav,
        notice: notice_text(&params.done),
        items,
        kinds: kind_choices(),
        statuses: status_choices(),
        kind: params.kind,
        status: params.status,
        published: params.published,
        archived: params.archived,
        q: params.q,
        total,
        page,
        pages,
        query,
    })
}

// ---------------------------------------------------------------------------------------
// The form

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ItemForm {
    pub title: String,
    pub slug: String,
    pub kind: String,
    pub parent: String,
    pub report_section: String,
    pub status: String,
    pub status_note: String,
    pub summary: String,
    pub description: String,
    pub period: String,
    pub start_date: String,
    pub end_date: String,
    pub places: String,
    pub source_paras: String,
    pub published: Option<String>,
    pub internal_notes: String,
    pub version: String,
}

impl From<&AdminItem> for ItemForm {
    fn from(i: &AdminItem) -> Self {
        let text = |t: &Option<String>| t.clone().unwrap_or_default();
        let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
        ItemForm {
            title: i.title.clone(),
            slug: i.slug.clone(),
            kind: i.kind.clone(),
            parent: i.parent_id.map(|p| p.to_string()).unwrap_or_default(),
            report_section: text(&i.report_section),
            status: i.status.clone(),
            status_note: text(&i.status_note),
            summary: i.summary.clone(),
            description: i.description.clone(),
            period: text(&i.period),
            start_date: date(i.start_date),
            end_date: date(i.end_date),
            places: i.places.clone(),
            source_paras: text(&i.source_paras),
            published: i.published.then(|| "on".to_string()),
            internal_notes: i.internal_notes.clone(),
            version: i.version.to_string(),
        }
    }
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

impl ItemForm {
    fn validate(&self) -> Result<ItemFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let title = self.title.trim().to_string();
        if title.is_empty() {
            errors.add("title", "enter the title");
        } else if title.chars().count() > MAX_TITLE {
            errors.add("title", "a title has at most 300 characters");
        }
        let slug = self.slug.trim().to_string();
        if !slug::is_valid(&slug) {
            errors.add(
                "slug",
                "use lowercase letters, digits and single hyphens, at most 100 characters, e.g. west-africa-guinea-bissau",
            );
        }
        let kind = ItemKind::parse(&self.kind);
        if kind.is_none() {
            errors.add(
                "kind",
                "choose whether it is a programme, an initiative or a component",
            );
        }
        let status = ItemStatus::parse(&self.status);
        if status.is_none() {
            errors.add("status", "choose where it stands");
        }
        let parent_id = parent_id(&mut errors, kind, &self.parent);
        self.check_lengths(&mut errors);
        let start_date = date(&mut errors, "start_date", &self.start_date);
        let end_date = date(&mut errors, "end_date", &self.end_date);
        if let (Some(start), Some(end)) = (start_date, end_date)
            && end < start
        {
            errors.add("end_date", END_BEFORE_START);
        }
        let places = place_names(&mut errors, &self.places);
        errors.into_result(ItemFields {
            title,
            slug,
            kind: kind.map_or_else(String::new, |k| k.as_str().to_string()),
            parent_id,
            report_section: optional(&self.report_section),
            status: status.map_or_else(String::new, |s| s.as_str().to_string()),
            status_note: optional(&self.status_note),
            summary: self.summary.trim().to_string(),
            description: self.description.trim().to_string(),
            period: optional(&self.period),
            start_date,
            end_date,
            places,
            source_paras: optional(&self.source_paras),
            published: edit::ticked(&self.published),
            internal_notes: self.internal_notes.trim().to_string(),
        })
    }

    fn check_lengths(&self, errors: &mut FieldErrors) {
        for (field, value) in [
            ("report_section", &self.report_section),
            ("status_note", &self.status_note),
            ("summary", &self.summary),
            ("description", &self.description),
            ("period", &self.period),
            ("source_paras", &self.source_paras),
            ("internal_notes", &self.internal_notes),
        ] {
            if value.chars().count() > MAX_TEXT {
                errors.add(field, "at most 20,000 characters");
            }
        }
    }
}

/// The parent chosen: required for a component, refused for anything else.
fn parent_id(errors: &mut FieldErrors, kind: Option<ItemKind>, raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let parsed = raw.parse::<i64>().ok().filter(|id| *id > 0);
    match kind {
        Some(ItemKind::Component) if raw.is_empty() => errors.add("parent", PARENT_NEEDED),
        Some(ItemKind::Component) if parsed.is_none() => {
            errors.add("parent", "choose the parent from the list")
        }
        Some(ItemKind::Programme | ItemKind::Initiative) if !raw.is_empty() => {
            errors.add("parent", PARENT_FORBIDDEN)
        }
        _ => {}
    }
    parsed.filter(|_| kind == Some(ItemKind::Component))
}

fn date(errors: &mut FieldErrors, field: &'static str, raw: &str) -> Option<NaiveDate> {
    crate::domain::forms::parse_date(raw).unwrap_or_else(|message| {
        errors.add(field, message);
        None
    })
}

/// Comma-separated place names, trimmed, without blanks or repeats (ignoring case).
fn place_names(errors: &mut FieldErrors, raw: &str) -> Vec<String> {
    if raw.chars().count() > MAX_TEXT {
        errors.add("places", "at most 20,000 characters");
        return Vec::new();
    }
    let mut names: Vec<String> = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name.chars().count() > MAX_PLACE {
            let start: String = name.chars().take(30).collect();
            errors.add(
                "places",
                format!("“{start}…” is too long for a place name (at most {MAX_PLACE} characters); separate places with commas"),
            );
        } else if !names
            .iter()
            .any(|n| n.to_lowercase() == name.to_lowercase())
        {
            names.push(name.to_string());
        }
    }
    names
}

/// A form's values for the side-by-side view of a conflicting save, with the parent by
/// its title rather than its id.
struct Shown<'a> {
    form: &'a ItemForm,
    parents: &'a [Choice],
}

impl FormValues for Shown<'_> {
    fn values(&self) -> Vec<(&'static str, String)> {
        let f = self.form;
        let parent = match self.parents.iter().find(|p| p.value == f.parent.trim()) {
            Some(p) => p.label.clone(),
            None => f.parent.clone(),
        };
        vec![
            ("Title", f.title.clone()),
            ("Slug", f.slug.clone()),
            ("Kind", label_of(ItemKind::parse, &f.kind)),
            ("Parent", parent),
            ("Report section", f.report_section.clone()),
            ("Status", label_of(ItemStatus::parse, &f.status)),
            ("Status note", f.status_note.clone()),
            ("Summary", f.summary.clone()),
            ("Description", f.description.clone()),
            ("Period", f.period.clone()),
            ("Start date", f.start_date.clone()),
            ("End date", f.end_date.clone()),
            ("Countries and regions", f.places.clone()),
            ("Source paragraphs", f.source_paras.clone()),
            (
                "Published",
                if edit::ticked(&f.published) {
                    "yes"
                } else {
                    "no"
                }
                .to_string(),
            ),
            ("Internal notes", f.internal_notes.clone()),
        ]
    }
}

/// The add-an-alignment form on the edit page.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct AlignForm {
    pub result_area: String,
    pub source_para: String,
    pub note: String,
}

impl AlignForm {
    fn validate(&self) -> Result<(i64, Option<String>, Option<String>), FieldErrors> {
        let mut errors = FieldErrors::default();
        let area = self
            .result_area
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0);
        if area.is_none() {
            errors.add("result_area", "choose a result area from the list");
        }
        if self.source_para.chars().count() > MAX_TEXT {
            errors.add("align_source_para", "at most 20,000 characters");
        }
        if self.note.chars().count() > MAX_TEXT {
            errors.add("align_note", "at most 20,000 characters");
        }
        errors.into_result((
            area.unwrap_or_default(),
            optional(&self.source_para),
            optional(&self.note),
        ))
    }
}

#[derive(Template)]
#[template(path = "admin/items/form.html")]
pub struct FormPage {
    pub nav: Nav,
    pub action: String,
    pub is_new: bool,
    pub item_id: i64,
    /// The saved slug and state, for the links to the item's other pages.
    pub saved_slug: String,
    pub archived: bool,
    pub notice: &'static str,
    pub form: ItemForm,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
    pub kinds: Vec<Choice>,
    pub statuses: Vec<Choice>,
    pub parents: Vec<Choice>,
    pub alignments: Vec<AlignmentRow>,
    pub areas: Vec<Choice>,
    pub align: AlignForm,
    pub align_errors: FieldErrors,
}

impl FormPage {
    /// The page for `item` (None: a new one) showing `form`, with its menus and, for a
    /// saved item, its alignments.
    async fn load(
        pool: &PgPool,
        nav: Nav,
        item: Option<&AdminItem>,
        form: ItemForm,
    ) -> Result<FormPage, AppError> {
        let keep: Vec<i64> = item
            .and_then(|i| i.parent_id)
            .into_iter()
            .chain(form.parent.trim().parse::<i64>().ok())
            .collect();
        let parents = store::parent_choices(pool, item.map(|i| i.id), &keep)
            .await?
            .into_iter()
            .map(|p| Choice {
                value: p.id.to_string(),
                label: format!(
                    "{} ({}){}",
                    p.title,
                    label_of(ItemKind::parse, &p.kind),
                    if p.archived { " — archived" } else { "" }
                ),
            })
            .collect();
        let (alignments, areas) = match item {
            Some(i) => alignment_section(pool, i.id).await?,
            None => (Vec::new(), Vec::new()),
        };
        Ok(FormPage {
            nav,
            action: item.map_or_else(
                || "/admin/items".into(),
                |i| format!("/admin/items/{}", i.id),
            ),
            is_new: item.is_none(),
            item_id: item.map_or(0, |i| i.id),
            saved_slug: item.map(|i| i.slug.clone()).unwrap_or_default(),
            archived: item.is_some_and(|i| i.archived),
            notice: "",
            form,
            errors: FieldErrors::default(),
            conflict: Vec::new(),
            kinds: kind_choices(),
            statuses: status_choices(),
            parents,
            alignments,
            areas,
            align: AlignForm::default(),
            align_errors: FieldErrors::default(),
        })
    }
}

/// The item's alignments, and the result areas it could still be aligned with.
async fn alignment_section(
    pool: &PgPool,
    item_id: i64,
) -> Result<(Vec<AlignmentRow>, Vec<Choice>), AppError> {
    let alignments = store::alignments(pool, item_id).await?;
    let areas = strategy::result_areas(pool)
        .await?
        .into_iter()
        .filter(|ra| !alignments.iter().any(|a| a.result_area_id == ra.id))
        .map(|ra| Choice {
            value: ra.id.to_string(),
            label: format!(
                "{} {}",
                ra.code,
                ra.title.as_deref().unwrap_or(TITLE_NOT_GIVEN)
            ),
        })
        .collect();
    Ok((alignments, areas))
}

/// The form again, answering 422, with these messages and everything typed kept.
async fn invalid(
    pool: &PgPool,
    nav: Nav,
    item: Option<&AdminItem>,
    form: ItemForm,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    let page = FormPage::load(pool, nav, item, form).await?;
    edit::unprocessable(&FormPage { errors, ..page })
}

fn one(field: &'static str, message: &str) -> FieldErrors {
    let mut errors = FieldErrors::default();
    errors.add(field, message);
    errors
}

/// The field a refusal by the database is about, with the message to show there. The
/// form checks all of these first; this covers a change made in between.
fn field_error(e: &sqlx::Error) -> Option<(&'static str, &'static str)> {
    let constraint = edit::unique_violation(e).or_else(|| edit::constraint_violation(e))?;
    Some(match constraint.as_str() {
        "items_slug_key" => ("slug", "another item already uses this slug"),
        "items_parent_matches_kind" => ("parent", PARENT_NEEDED),
        "items_not_own_parent" | "items_parent_cycle" => ("parent", PARENT_CYCLE),
        "items_parent_id_fkey" => ("parent", PARENT_GONE),
        "items_dates_ordered" => ("end_date", END_BEFORE_START),
        "alignments_pkey" => (
            "result_area",
            "this item is already aligned with that result area",
        ),
        _ => return None,
    })
}

/// A database result, with a refusal about one field turned into that field's message.
fn refused<T>(result: sqlx::Result<T>) -> Result<Result<T, FieldErrors>, AppError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(e) => match field_error(&e) {
            Some((field, message)) => Ok(Err(one(field, message))),
            None => Err(e.into()),
        },
    }
}

/// The parent must be an item that is not archived (unless it is the saved parent
/// already) and must not close a loop.
async fn check_parent(
    db: &mut PgConnection,
    item: Option<&AdminItem>,
    fields: &ItemFields,
) -> Result<Option<&'static str>, AppError> {
    let Some(parent) = fields.parent_id else {
        return Ok(None);
    };
    let unchanged = item.is_some_and(|i| i.parent_id == Some(parent));
    if !unchanged && !store::is_active(&mut *db, parent).await? {
        return Ok(Some(PARENT_GONE));
    }
    if let Some(item) = item
        && store::would_cycle(&mut *db, item.id, parent).await?
    {
        return Ok(Some(PARENT_CYCLE));
    }
    Ok(None)
}

async fn snapshot(db: &mut PgConnection, id: i64) -> Result<ItemSnapshot, AppError> {
    let item = store::by_id(db, id).await?.ok_or(AppError::NotFound)?;
    Ok(ItemSnapshot::from(&item))
}

/// `done=` of the query string, for the notice after a redirect.
fn done(raw: Option<&str>) -> &'static str {
    let done = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "done")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    notice_text(&done)
}

// ---------------------------------------------------------------------------------------
// Create and update

pub async fn new(State(state): State<AppState>, nav: Nav) -> Result<Html<String>, AppError> {
    let form = ItemForm {
        kind: ItemKind::Programme.as_str().into(),
        status: ItemStatus::Planned.as_str().into(),
        version: "0".into(),
        ..ItemForm::default()
    };
    render(&FormPage::load(&state.pool, nav, None, form).await?)
}

pub async fn create(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlForm(form): HtmlForm<ItemForm>,
) -> Result<Response, AppError> {
    let fields = match form.validate() {
        Ok(fields) => fields,
        Err(errors) => return invalid(&state.pool, nav, None, form, errors).await,
    };
    let mut tx = state.pool.begin().await?;
    if let Some(message) = check_parent(&mut tx, None, &fields).await? {
        drop(tx);
        return invalid(&state.pool, nav, None, form, one("parent", message)).await;
    }
    let id = match refused(store::insert(&mut tx, &fields).await)? {
        Ok(id) => id,
        Err(errors) => {
            drop(tx);
            return invalid(&state.pool, nav, None, form, errors).await;
        }
    };
    let after = snapshot(&mut tx, id).await?;
    let entry = Entry {
        action: "create",
        entity: "item",
        entity_id: Some(id),
        item_id: Some(id),
        summary: format!("Created {} “{}”", kind_word(&fields.kind), fields.title),
        before: None,
        after: Some(&after),
    };
    audit::record(&mut *tx, &user.actor(), entry).await?;
    tx.commit().await?;
    edit::see_other(&format!("/admin/items/{id}/edit?done=created"))
}

pub async fn edit_form(
    State(state): State<AppState>,
    nav: Nav,
    HtmlPath(id): HtmlPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, AppError> {
    let id = edit::parse_id(&id)?;
    let item = store::by_id(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let page = FormPage::load(&state.pool, nav, Some(&item), ItemForm::from(&item)).await?;
    render(&FormPage {
        notice: done(raw.as_deref()),
        ..page
    })
}

pub async fn update(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
    HtmlForm(form): HtmlForm<ItemForm>,
) -> Result<Response, AppError> {
    let id = edit::parse_id(&id)?;
    let version = edit::parse_version(&form.version)?;
    let mut tx = state.pool.begin().await?;
    let before = store::by_id(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let checked = match form.validate() {
        Ok(fields) => match check_parent(&mut tx, Some(&before), &fields).await? {
            Some(message) => Err(one("parent", message)),
            None => refused(store::update(&mut tx, id, version, &fields).await)?
                .map(|saved| (saved, fields)),
        },
        Err(errors) => Err(errors),
    };
    let fields = match checked {
        Ok((true, fields)) => fields,
        Ok((false, _)) => {
            drop(tx);
            return stale(&state.pool, nav, id, form).await;
        }
        Err(errors) => {
            drop(tx);
            return invalid(&state.pool, nav, Some(&before), form, errors).await;
        }
    };
    let after = snapshot(&mut tx, id).await?;
    let entry = Entry {
        action: "update",
        entity: "item",
        entity_id: Some(id),
        item_id: Some(id),
        summary: format!("Edited {} “{}”", kind_word(&fields.kind), fields.title),
        before: Some(&ItemSnapshot::from(&before)),
        after: Some(&after),
    };
    audit::record(&mut *tx, &user.actor(), entry).await?;
    tx.commit().await?;
    edit::see_other("/admin/items?done=saved")
}

/// Someone saved since this form was loaded: show both, keep what was typed, and let the
/// person save again on top of the current version if they mean to.
async fn stale(pool: &PgPool, nav: Nav, id: i64, form: ItemForm) -> Result<Response, AppError> {
    let current = store::by_id(pool, id).await?.ok_or(AppError::NotFound)?;
    let saved = ItemForm::from(&current);
    let form = ItemForm {
        version: current.version.to_string(),
        ..form
    };
    let page = FormPage::load(pool, nav, Some(&current), form).await?;
    let conflict = edit::conflict_rows(
        &Shown {
            form: &saved,
            parents: &page.parents,
        },
        &Shown {
            form: &page.form,
            parents: &page.parents,
        },
    );
    edit::conflict(&FormPage { conflict, ..page })
}

// ---------------------------------------------------------------------------------------
// Archive and restore

pub async fn archive(
    state: State<AppState>,
    user: SignedIn,
    id: HtmlPath<String>,
) -> Result<Response, AppError> {
    set_archived(state, user, id, true).await
}

pub async fn restore(
    state: State<AppState>,
    user: SignedIn,
    id: HtmlPath<String>,
) -> Result<Response, AppError> {
    set_archived(state, user, id, false).await
}

async fn set_archived(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
    archived: bool,
) -> Result<Response, AppError> {
    let id = edit::parse_id(&id)?;
    let mut tx = state.pool.begin().await?;
    let item = store::by_id(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if store::set_archived(&mut *tx, id, archived).await? {
        let what = format!("{} “{}”", kind_word(&item.kind), item.title);
        let entry = edit::archive_entry("item", id, Some(id), archived, &what);
        audit::record(&mut *tx, &user.actor(), entry).await?;
    }
    tx.commit().await?;
    edit::see_other(if archived {
        "/admin/items?done=archived"
    } else {
        "/admin/items?done=restored"
    })
}

// ---------------------------------------------------------------------------------------
// Alignments

/// The edit page again, answering 422, with a message at the add-an-alignment form.
async fn alignment_invalid(
    pool: &PgPool,
    nav: Nav,
    item: &AdminItem,
    align: AlignForm,
    align_errors: FieldErrors,
) -> Result<Response, AppError> {
    let page = FormPage::load(pool, nav, Some(item), ItemForm::from(item)).await?;
    edit::unprocessable(&FormPage {
        align,
        align_errors,
        ..page
    })
}

pub async fn add_alignment(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
    HtmlForm(align): HtmlForm<AlignForm>,
) -> Result<Response, AppError> {
    let id = edit::parse_id(&id)?;
    let item = store::by_id(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let (area_id, source_para, note) = match align.validate() {
        Ok(values) => values,
        Err(errors) => return alignment_invalid(&state.pool, nav, &item, align, errors).await,
    };
    let mut tx = state.pool.begin().await?;
    let added = store::add_alignment(
        &mut *tx,
        id,
        area_id,
        source_para.as_deref(),
        note.as_deref(),
    )
    .await;
    let errors = match refused(added)? {
        Ok(true) => None,
        Ok(false) => Some(one(
            "result_area",
            "that result area is archived or no longer exists: choose another",
        )),
        Err(errors) => Some(errors),
    };
    if let Some(errors) = errors {
        drop(tx);
        return alignment_invalid(&state.pool, nav, &item, align, errors).await;
    }
    let row = store::alignment(&mut *tx, id, area_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let entry = Entry {
        action: "create",
        entity: "alignment",
        entity_id: Some(area_id),
        item_id: Some(id),
        summary: format!(
            "Aligned {} “{}” with result area {}",
            kind_word(&item.kind),
            item.title,
            row.result_area
        ),
        before: None,
        after: Some(&row),
    };
    audit::record(&mut *tx, &user.actor(), entry).await?;
    tx.commit().await?;
    edit::see_other(&format!("/admin/items/{id}/edit?done=aligned#alignments"))
}

pub async fn remove_alignment(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    HtmlPath((id, area_id)): HtmlPath<(String, String)>,
) -> Result<Response, AppError> {
    let id = edit::parse_id(&id)?;
    let area_id = edit::parse_id(&area_id)?;
    let mut tx = state.pool.begin().await?;
    let item = store::by_id(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let row = store::alignment(&mut *tx, id, area_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if store::remove_alignment(&mut *tx, id, area_id).await? {
        let entry = Entry {
            action: "delete",
            entity: "alignment",
            entity_id: Some(area_id),
            item_id: Some(id),
            summary: format!(
                "Removed the alignment of {} “{}” with result area {}",
                kind_word(&item.kind),
                item.title,
                row.result_area
            ),
            before: Some(&row),
            after: None,
        };
        audit::record(&mut *tx, &user.actor(), entry).await?;
    }
    tx.commit().await?;
    edit::see_other(&format!("/admin/items/{id}/edit?done=unaligned#alignments"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> ItemForm {
        ItemForm {
            title: "A programme".into(),
            slug: "a-programme".into(),
            kind: "programme".into(),
            status: "planned".into(),
            version: "1".into(),
            ..ItemForm::default()
        }
    }

    #[test]
    fn a_component_needs_a_parent_and_nothing_else_may_have_one() {
        let component = ItemForm {
            kind: "component".into(),
            ..valid()
        };
        assert_eq!(
            component
                .validate()
                .err()
                .and_then(|e| e.get("parent").map(str::to_string)),
            Some(PARENT_NEEDED.to_string())
        );
        let with_parent = ItemForm {
            parent: "3".into(),
            ..component
        };
        assert_eq!(
            with_parent.validate().ok().and_then(|f| f.parent_id),
            Some(3)
        );
        let programme = ItemForm {
            parent: "3".into(),
            ..valid()
        };
        assert!(
            programme
                .validate()
                .is_err_and(|e| e.get("parent").is_some())
        );
    }

    #[test]
    fn dates_lengths_and_places_are_checked() {
        let form = ItemForm {
            start_date: "2010-01-01".into(),
            end_date: "2009-12-31".into(),
            title: "x".repeat(301),
            description: "y".repeat(20_001),
            ..valid()
        };
        let errors = form.validate().err().unwrap_or_default();
        assert_eq!(errors.get("end_date"), Some(END_BEFORE_START));
        assert!(errors.get("title").is_some());
        assert!(errors.get("description").is_some());
        assert!(
            ItemForm {
                start_date: "31/01/2008".into(),
                ..valid()
            }
            .validate()
            .is_err_and(|e| e.get("start_date").is_some())
        );
        let places = ItemForm {
            places: " Guinea-Bissau, West Africa,, guinea-bissau ,".into(),
            ..valid()
        };
        assert_eq!(
            places.validate().map(|f| f.places).unwrap_or_default(),
            vec!["Guinea-Bissau".to_string(), "West Africa".to_string()]
        );
    }

    #[test]
    fn list_filters_refuse_unknown_values() {
        let ok = ListParams::parse(Some(
            "kind=component&status=ongoing&published=no&archived=yes&q=a",
        ));
        let filter = ok.filter().ok().unwrap_or_default();
        assert_eq!(filter.kind.as_deref(), Some("component"));
        assert_eq!(filter.published, Some(false));
        assert_eq!(filter.archived, Some(true));
        for bad in ["kind=bogus", "status=done", "published=maybe", "archived=1"] {
            assert!(ListParams::parse(Some(bad)).filter().is_err(), "{bad}");
        }
    }
}
