//! Admin: programmes, initiatives and components on the generic editing pages, plus
//! what only items have: the list with its filters, the parent menu, and the strategy
//! alignments on the edit page.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::post;
use sqlx::PgPool;

use crate::domain::forms::FieldErrors;
use crate::domain::records::item::{AlignForm, ItemFields, ItemForm};
use crate::domain::vocab::{ItemKind, ItemStatus, TITLE_NOT_GIVEN};
use crate::store::admin_items::{
    self as store, AdminItem, AlignmentRow, Items, ListFilter, PAGE_SIZE, kind_word,
};
use crate::store::audit::{self, Entry};
use crate::store::strategy;
use crate::web::admin::pipeline::{
    self, Check, Choice, ConflictRow, CreatePage, Done, EditPage, FormPage, HtmlResult,
    ListRequest, PathParams, choices, form_template, label_in,
};
use crate::web::auth::{Nav, SignedIn};
use crate::web::forms::HtmlForm;
use crate::web::pages::overview::parse_page;
use crate::web::pages::render;
use crate::web::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    pipeline::routes::<Items>()
        .merge(pipeline::create_routes::<Items>())
        .merge(pipeline::archive_routes::<Items>())
        .route("/admin/items/{id}/alignments", post(add_alignment))
        .route(
            "/admin/items/{id}/alignments/{result_area_id}/delete",
            post(remove_alignment),
        )
}

/// Longest search text on the list.
const MAX_SEARCH: usize = 200;

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
            kind,
            status,
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
    /// This list page, as the edit links' `return_to`, so a save comes back here.
    pub back: String,
}

async fn list_page(request: ListRequest<'_>) -> HtmlResult {
    let params = ListParams::parse(request.query.as_deref());
    let filter = params.filter()?;
    let page = parse_page(Some(&params.page))?;
    let (rows, total) = store::list(request.pool(), &filter, page as i64).await?;
    let pages = usize::try_from((total + PAGE_SIZE - 1) / PAGE_SIZE)
        .unwrap_or(1)
        .max(1);
    if page > pages {
        return Err(AppError::NotFound);
    }
    let items = rows
        .into_iter()
        .map(|r| ListItem {
            kind: r.kind.label().to_string(),
            status: r.status.label().to_string(),
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
    let here = format!("/admin/items?{query}&page={page}");
    let back = form_urlencoded::byte_serialize(here.as_bytes()).collect();
    render(&ListPage {
        back,
        nav: request.nav,
        notice: notice_text(&params.done),
        items,
        kinds: choices::<ItemKind>(),
        statuses: choices::<ItemStatus>(),
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

#[derive(Template)]
#[template(path = "admin/items/form.html")]
pub struct FormTemplate {
    pub nav: Nav,
    /// Where Cancel leads: where the person came from, if known.
    pub return_to: Option<String>,
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
    pub unpublished_components: i64,
}

/// What an item's form shows besides its fields.
#[derive(Default)]
pub struct ItemContext {
    pub parents: Vec<Choice>,
    pub alignments: Vec<AlignmentRow>,
    /// The result areas it could still be aligned with.
    pub areas: Vec<Choice>,
    /// The add-an-alignment form, as typed when it was refused.
    pub align: AlignForm,
    pub align_errors: FieldErrors,
    /// Items below it that are not published: the form offers to publish them with it.
    pub unpublished_components: i64,
}

/// Possible parents of `item`: the saved and the typed parent stay listed even when
/// archived, so that saving changes nothing by accident.
async fn parent_menu(
    pool: &PgPool,
    item: Option<&AdminItem>,
    form: &ItemForm,
) -> Result<Vec<Choice>, AppError> {
    let keep: Vec<i64> = item
        .and_then(|i| i.parent_id)
        .into_iter()
        .chain(form.parent.trim().parse::<i64>().ok())
        .collect();
    let parents = store::parent_choices(pool, item.map(|i| i.id), &keep).await?;
    Ok(parents
        .into_iter()
        .map(|p| {
            let label = format!(
                "{} ({}){}",
                p.title,
                p.kind.label(),
                if p.archived { " — archived" } else { "" }
            );
            Choice::new(p.id, label)
        })
        .collect())
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
        .map(|ra| {
            let title = ra.title.as_deref().unwrap_or(TITLE_NOT_GIVEN);
            Choice::new(ra.id, format!("{} {title}", ra.code))
        })
        .collect();
    Ok((alignments, areas))
}

impl EditPage for Items {
    const LIST: Option<&'static str> = Some("/admin/items");
    const UPDATE: &'static str = "/admin/items/{id}";
    type Form = ItemForm;
    type Context = ItemContext;

    fn parse_key(path: &PathParams) -> Result<i64, AppError> {
        path.id("id")
    }

    async fn context(
        pool: &PgPool,
        _: &(),
        item: Option<&AdminItem>,
        form: &ItemForm,
    ) -> Result<ItemContext, AppError> {
        let (alignments, areas) = match item {
            Some(i) => alignment_section(pool, i.id).await?,
            None => (Vec::new(), Vec::new()),
        };
        Ok(ItemContext {
            parents: parent_menu(pool, item, form).await?,
            alignments,
            areas,
            align: AlignForm::default(),
            align_errors: FieldErrors::default(),
            unpublished_components: match item {
                Some(i) => store::unpublished_below(pool, i.id).await?,
                None => 0,
            },
        })
    }

    fn form_of(i: &AdminItem) -> ItemForm {
        let text = |t: &Option<String>| t.clone().unwrap_or_default();
        ItemForm {
            title: i.title.clone(),
            slug: i.slug.clone(),
            kind: i.kind.as_str().into(),
            parent: i.parent_id.map(|p| p.to_string()).unwrap_or_default(),
            report_section: text(&i.report_section),
            status: i.status.as_str().into(),
            status_note: text(&i.status_note),
            summary: i.summary.clone(),
            description: i.description.clone(),
            period: text(&i.period),
            start_date: i.start().map(|d| d.code()).unwrap_or_default(),
            end_date: i.end().map(|d| d.code()).unwrap_or_default(),
            places: i.places.clone(),
            source_paras: text(&i.source_paras),
            published: i.published.then(|| "on".to_string()),
            publish_components: None,
            internal_notes: i.internal_notes.clone(),
            version: i.version.to_string(),
        }
    }

    fn validate(form: &ItemForm, _: Check<'_, Self>) -> Result<ItemFields, FieldErrors> {
        form.validate()
    }

    /// With the parent by its title rather than its id.
    fn conflict_values(form: &ItemForm, context: &ItemContext) -> Vec<(&'static str, String)> {
        form.labelled(label_in(&context.parents, &form.parent))
    }

    fn done_url(item: &AdminItem, done: Done) -> String {
        match done {
            Done::Created => format!("/admin/items/{}/edit?done=created", item.id),
            other => format!("/admin/items?done={}", other.as_str()),
        }
    }

    fn notice(done: &str) -> &'static str {
        notice_text(done)
    }

    fn render(page: FormPage<'_, Self>) -> Result<String, askama::Error> {
        let ItemContext {
            parents,
            alignments,
            areas,
            align,
            align_errors,
            unpublished_components,
        } = page.context;
        form_template!(
            page,
            FormTemplate {
                item_id: page.record.map_or(0, |i| i.id),
                saved_slug: page.record.map(|i| i.slug.clone()).unwrap_or_default(),
                archived: page.record.is_some_and(|i| i.archived),
                notice: page.notice,
                kinds: choices::<ItemKind>(),
                statuses: choices::<ItemStatus>(),
                parents,
                alignments,
                areas,
                align,
                align_errors,
                unpublished_components,
            }
        )
        .render()
    }

    async fn list(request: ListRequest<'_>) -> HtmlResult {
        list_page(request).await
    }
}

impl CreatePage for Items {
    const CREATE: &'static str = "/admin/items";

    fn blank(_: &ItemContext) -> ItemForm {
        ItemForm::blank()
    }
}

// ---------------------------------------------------------------------------------------
// Alignments: added and removed on the item's edit page, one row each, so they do not
// go through the form's versioned save (an alignment has no version and no form of its own).

/// The edit page again, answering 422, with a message at the add-an-alignment form.
async fn alignment_refused(
    pool: &PgPool,
    nav: Nav,
    item: &AdminItem,
    align: AlignForm,
    align_errors: FieldErrors,
) -> Result<Response, AppError> {
    let form = Items::form_of(item);
    let context = Items::context(pool, &(), Some(item), &form).await?;
    let context = ItemContext {
        align,
        align_errors,
        ..context
    };
    let action = format!("/admin/items/{}", item.id);
    let html = Items::render(FormPage::new(nav, action, &(), Some(item), context, form))?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response())
}

async fn item(pool: &PgPool, id: i64) -> Result<AdminItem, AppError> {
    store::by_id(pool, id).await?.ok_or(AppError::NotFound)
}

pub async fn add_alignment(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    path: PathParams,
    HtmlForm(align): HtmlForm<AlignForm>,
) -> Result<Response, AppError> {
    let item = item(&state.pool, path.id("id")?).await?;
    let fields = match align.validate() {
        Ok(fields) => fields,
        Err(errors) => return alignment_refused(&state.pool, nav, &item, align, errors).await,
    };
    let area_id = fields.result_area_id;
    let mut tx = state.pool.begin().await?;
    let added = store::add_alignment(
        &mut *tx,
        item.id,
        area_id,
        fields.source_para.as_deref(),
        fields.note.as_deref(),
    )
    .await;
    let refusal = match added {
        Ok(true) => None,
        Ok(false) => Some("that result area is archived or no longer exists: choose another"),
        Err(e) if store::is_duplicate_alignment(&e) => {
            Some("this item is already aligned with that result area")
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(message) = refusal {
        drop(tx);
        let errors = FieldErrors::one("result_area", message);
        return alignment_refused(&state.pool, nav, &item, align, errors).await;
    }
    let row = store::alignment(&mut *tx, item.id, area_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let entry = Entry {
        action: "create",
        entity: "alignment",
        entity_id: Some(area_id),
        item_id: Some(item.id),
        summary: format!(
            "Aligned {} “{}” with result area {}",
            kind_word(item.kind),
            item.title,
            row.result_area
        ),
        before: None,
        after: Some(&row),
    };
    audit::record(&mut *tx, &user.actor(), entry).await?;
    tx.commit().await?;
    pipeline::see_other(&format!(
        "/admin/items/{}/edit?done=aligned#alignments",
        item.id
    ))
}

pub async fn remove_alignment(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    path: PathParams,
) -> Result<Response, AppError> {
    let id = path.id("id")?;
    let area_id = path.id("result_area_id")?;
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
                kind_word(item.kind),
                item.title,
                row.result_area
            ),
            before: Some(&row),
            after: None,
        };
        audit::record(&mut *tx, &user.actor(), entry).await?;
    }
    tx.commit().await?;
    pipeline::see_other(&format!("/admin/items/{id}/edit?done=unaligned#alignments"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_filters_refuse_unknown_values() {
        let ok = ListParams::parse(Some(
            "kind=component&status=ongoing&published=no&archived=yes&q=a",
        ));
        let filter = ok.filter().ok().unwrap_or_default();
        assert_eq!(filter.kind, Some(ItemKind::Component));
        assert_eq!(filter.published, Some(false));
        assert_eq!(filter.archived, Some(true));
        for bad in ["kind=bogus", "status=done", "published=maybe", "archived=1"] {
            assert!(ListParams::parse(Some(bad)).filter().is_err(), "{bad}");
        }
    }
}
