//! The editing pages of every record: one set of handlers and routes (list, new,
//! create, edit, update, archive, restore) over the `EditPage` trait. A record type says
//! where its pages are, what its form needs and how its form reads; the save itself is
//! `store::editing`. The answers are the same for all: 303 to where the person works
//! after a save, 422 with the form as typed and a message per field, 409 with the saved
//! and the typed values side by side.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use sqlx::PgPool;

use crate::domain::forms::FieldErrors;
use crate::domain::records;
use crate::domain::vocab::Vocabulary;
use crate::store::editing::{self, Archivable, Creatable, Editable, Saved};
use crate::web::auth::{CurrentUser, Nav, SignedIn};
use crate::web::forms::HtmlForm;
use crate::web::forms::with_query_param;
pub use crate::web::forms::{PathParams, parse_id, query_param};
use crate::web::{AppError, AppState};

/// Where a save leaves the person: the notice the next page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Created,
    Saved,
    Archived,
    Restored,
}

impl Done {
    /// The `done=` value of the page a save redirects to.
    pub fn as_str(self) -> &'static str {
        match self {
            Done::Created => "created",
            Done::Saved => "saved",
            Done::Archived => "archived",
            Done::Restored => "restored",
        }
    }
}

/// A record's editing pages.
pub trait EditPage: Editable {
    /// Route patterns, in axum's syntax. `UPDATE` is the record's own address (its form
    /// is at `/edit`, archive and restore below it). No `LIST` when another page lists
    /// them (an item's money page lists its budgets).
    const LIST: Option<&'static str>;
    const UPDATE: &'static str;

    /// The form as the browser sends it: strings, so nothing typed is lost.
    type Form: VersionedForm + DeserializeOwned + Default + Send + Sync + 'static;
    /// What the form's page offers besides the record: menus, other sections.
    type Context: Default + Send + Sync;

    fn parse_key(path: &PathParams) -> Result<Self::Key, AppError>;

    /// The owner of a saved record (none for most).
    fn owner_of(
        _pool: &PgPool,
        _record: &Self::Record,
    ) -> impl Future<Output = Result<Self::Owner, AppError>> + Send {
        async { Ok(Self::Owner::default()) }
    }

    /// Loads what the page needs (nothing for most). `form` is what is shown (a menu
    /// keeps its choice).
    fn context(
        _pool: &PgPool,
        _owner: &Self::Owner,
        _record: Option<&Self::Record>,
        _form: &Self::Form,
    ) -> impl Future<Output = Result<Self::Context, AppError>> + Send {
        async { Ok(Self::Context::default()) }
    }

    /// The form showing a saved record.
    fn form_of(record: &Self::Record) -> Self::Form;

    /// Reads the typed strings (`domain::forms`), with what else the rules need.
    fn validate(form: &Self::Form, check: Check<'_, Self>) -> Result<Self::Fields, FieldErrors>;

    /// The form's values as (label, value) for the side-by-side view of a conflict,
    /// written the way people read them (labels, not codes).
    fn conflict_values(form: &Self::Form, context: &Self::Context) -> Vec<(&'static str, String)>;

    /// The form shown again after a refused save (a password is never sent back).
    fn shown_again(form: Self::Form, _before: Option<&Self::Record>) -> Self::Form {
        form
    }

    /// Where the person goes after a save: the list, for records that have one.
    fn done_url(_record: &Self::Record, done: Done) -> String {
        format!("{}?done={}", Self::LIST.unwrap_or("/admin"), done.as_str())
    }

    /// The notice of the edit page after a redirect to it (`?done=`).
    fn notice(_done: &str) -> &'static str {
        ""
    }

    fn render(page: FormPage<'_, Self>) -> Result<String, askama::Error>;

    /// The list page (its filters and grouping are the record's own).
    fn list(_request: ListRequest<'_>) -> impl Future<Output = HtmlResult> + Send {
        async { Err(AppError::NotFound) }
    }
}

/// What a page handler answers.
pub type HtmlResult = Result<Html<String>, AppError>;

/// What the rules of a save may look at besides the form.
pub struct Check<'a, R: EditPage> {
    /// The page's menus (the codes a choice must be one of).
    pub context: &'a R::Context,
    /// The saved record; None for a new one.
    pub before: Option<&'a R::Record>,
    /// Who saves (an admin cannot demote themself).
    pub editor: &'a CurrentUser,
    /// Today's date (`AppState::today`), for rules such as "not after today".
    pub today: chrono::NaiveDate,
}

/// A request for a record's list page.
pub struct ListRequest<'a> {
    pub state: &'a AppState,
    pub nav: Nav,
    /// The raw query string: a record's own filters, and `done=` after a save.
    pub query: Option<String>,
}

impl ListRequest<'_> {
    pub fn pool(&self) -> &PgPool {
        &self.state.pool
    }

    /// The first value of a query parameter.
    pub fn param(&self, key: &str) -> Option<String> {
        query_param(self.query.as_deref(), key)
    }

    /// The notice after a save redirected here, shared by the simpler record types.
    pub fn notice(&self) -> &'static str {
        match self.param("done").unwrap_or_default().as_str() {
            "created" => "Created.",
            "saved" => "Saved.",
            "archived" => "Archived. It can be restored from this list.",
            "restored" => "Restored.",
            "deleted" => "Deleted.",
            _ => "",
        }
    }
}

/// A form whose hidden `version` field holds the version it was loaded at: the save
/// is refused (409) when the record has moved on since.
pub trait VersionedForm {
    fn version(&mut self) -> &mut String;
}

macro_rules! versioned_forms {
    ($($form:ty),* $(,)?) => {
        $(impl VersionedForm for $form {
            fn version(&mut self) -> &mut String {
                &mut self.version
            }
        })*
    };
}

versioned_forms!(
    records::account::AccountForm,
    records::budget::BudgetForm,
    records::contribution::ContributionForm,
    records::contribution_event::EventForm,
    records::delivery::MilestoneForm,
    records::delivery::TargetForm,
    records::item::ItemForm,
    records::organisation::OrganisationForm,
    records::rate::RateForm,
    records::result_area::AreaForm,
    records::theme::ThemeForm,
);

/// Fills the fields every form template has from a [`FormPage`]; the record's own
/// fields (its menus) follow: `form_template!(page, FormTemplate { kinds: ... })`.
macro_rules! form_template {
    ($page:ident, $template:ident { $($field:ident $(: $value:expr)?),* $(,)? }) => {
        $template {
            return_to: $crate::web::admin::pipeline::return_to_of(&$page.action),
            $($field $(: $value)?,)*
            nav: $page.nav,
            action: $page.action,
            is_new: $page.is_new,
            form: $page.form,
            errors: $page.errors,
            conflict: $page.conflict,
        }
    };
}
pub(crate) use form_template;

/// A record's pages for creating one.
pub trait CreatePage: EditPage + Creatable {
    /// Where the form of a new one posts; `{owner}` names the record it is created
    /// under (the form itself is at `/new` below it).
    const CREATE: &'static str;

    /// The owner named in the create address (none for most).
    fn owner(
        _pool: &PgPool,
        _path: &PathParams,
    ) -> impl Future<Output = Result<Self::Owner, AppError>> + Send {
        async { Ok(Self::Owner::default()) }
    }

    /// The form of a new record.
    fn blank(context: &Self::Context) -> Self::Form;

    /// Fills the new record's form from its address's query, for links that start one
    /// filled in (a missing exchange rate's currency and month); most take nothing.
    fn prefill(_form: &mut Self::Form, _query: Option<&str>) {}
}

/// What every form page shows; a record's template adds its own menus from `context`.
pub struct FormPage<'a, R: EditPage> {
    pub nav: Nav,
    /// Where the form posts.
    pub action: String,
    pub is_new: bool,
    pub owner: &'a R::Owner,
    /// The saved record (None for a new one).
    pub record: Option<&'a R::Record>,
    pub context: R::Context,
    pub form: R::Form,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
    pub notice: &'static str,
}

impl<'a, R: EditPage> FormPage<'a, R> {
    /// The form as first shown: no messages, no conflict, no notice.
    pub fn new(
        nav: Nav,
        action: String,
        owner: &'a R::Owner,
        record: Option<&'a R::Record>,
        context: R::Context,
        form: R::Form,
    ) -> Self {
        FormPage {
            nav,
            action,
            is_new: record.is_none(),
            owner,
            record,
            context,
            form,
            errors: FieldErrors::default(),
            conflict: Vec::new(),
            notice: "",
        }
    }
}

/// Where the person came from, as kept in a form's address (`action`): Cancel leads back
/// there.
pub fn return_to_of(action: &str) -> Option<String> {
    return_to(action.split_once('?').map(|(_, query)| query))
}

/// One field of a conflicting save: what is stored now, and what this person typed.
#[derive(Debug, Clone)]
pub struct ConflictRow {
    pub field: &'static str,
    pub saved: String,
    pub yours: String,
    pub differs: bool,
}

fn conflict_rows(
    saved: Vec<(&'static str, String)>,
    yours: Vec<(&'static str, String)>,
) -> Vec<ConflictRow> {
    saved
        .into_iter()
        .zip(yours)
        .map(|((field, saved), (_, yours))| ConflictRow {
            field,
            differs: saved.trim() != yours.trim(),
            saved,
            yours,
        })
        .collect()
}

/// An option of a menu.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

impl Choice {
    pub fn new(value: impl ToString, label: impl Into<String>) -> Choice {
        Choice {
            value: value.to_string(),
            label: label.into(),
        }
    }
}

/// The values of a vocabulary as a menu.
pub fn choices<T: Vocabulary>() -> Vec<Choice> {
    T::all()
        .iter()
        .map(|v| Choice::new(v.as_str(), v.label()))
        .collect()
}

/// The label a menu shows for `value`, or the value itself.
pub fn label_in(menu: &[Choice], value: &str) -> String {
    menu.iter()
        .find(|c| c.value == value.trim())
        .map_or_else(|| value.to_string(), |c| c.label.clone())
}

/// The version a form was loaded at (hidden field). A tampered value is a bad request.
fn parse_version(raw: &str) -> Result<i32, AppError> {
    raw.trim().parse::<i32>().map_err(|_| {
        AppError::BadRequest(
            "The form lacks its version number; reload the page and try again.".into(),
        )
    })
}

/// `return_to=` of a query string: where the person came from, to go back to after
/// the save (the list page they were on, the item's page, or a form that sent them to
/// create a record it was missing). Only paths on this site are followed.
pub fn return_to(query: Option<&str>) -> Option<String> {
    query_param(query, "return_to").filter(|to| crate::web::auth::safe_next(Some(to)) == *to)
}

/// Where a save goes: back where the person came from, else the record's own place.
/// Admin pages get the `done` notice; other pages have none to show.
fn after_save(query: Option<&str>, done: Done, otherwise: impl FnOnce() -> String) -> String {
    match return_to(query) {
        Some(back) if back.starts_with("/admin/") => with_query_param(&back, "done", done.as_str()),
        Some(back) => back,
        None => otherwise(),
    }
}

/// A form's page (`…/new`, `…/edit`): one that sent the person to create a record it
/// lacked, and gets it chosen on the way back.
fn is_form(url: &str) -> bool {
    let path = url.split_once('?').map_or(url, |(path, _)| path);
    path.starts_with("/admin/") && (path.ends_with("/new") || path.ends_with("/edit"))
}

/// A create form's address, keeping where to return after the save.
fn with_return_to(action: String, query: Option<&str>) -> String {
    match return_to(query) {
        Some(back) => with_query_param(&action, "return_to", &back),
        None => action,
    }
}

/// `done=` of a query string.
pub fn done_param(query: Option<&str>) -> String {
    query_param(query, "done").unwrap_or_default()
}

/// A page with a status other than 200.
pub fn page_with(status: StatusCode, page: &impl Template) -> Result<Response, AppError> {
    Ok((status, Html(page.render()?)).into_response())
}

fn answer(status: StatusCode, html: Result<String, askama::Error>) -> Result<Response, AppError> {
    Ok((status, Html(html?)).into_response())
}

/// The routes of a record's pages.
pub fn routes<R: EditPage>() -> Router<AppState> {
    let mut router = Router::new()
        .route(&format!("{}/edit", R::UPDATE), get(edit::<R>))
        .route(R::UPDATE, post(update::<R>));
    if let Some(list_path) = R::LIST {
        router = router.route(list_path, get(list::<R>));
    }
    router
}

/// New and create, for records people create.
pub fn create_routes<R: CreatePage>() -> Router<AppState> {
    Router::new()
        .route(&format!("{}/new", R::CREATE), get(new::<R>))
        .route(R::CREATE, post(create::<R>))
}

/// Archive and restore, for records that have them.
pub fn archive_routes<R: EditPage + Archivable>() -> Router<AppState> {
    Router::new()
        .route(&format!("{}/archive", R::UPDATE), post(archive::<R>))
        .route(&format!("{}/restore", R::UPDATE), post(restore::<R>))
}

async fn list<R: EditPage>(
    State(state): State<AppState>,
    nav: Nav,
    RawQuery(query): RawQuery,
) -> HtmlResult {
    let state = &state;
    R::list(ListRequest { state, nav, query }).await
}

async fn new<R: CreatePage>(
    State(state): State<AppState>,
    nav: Nav,
    path: PathParams,
    RawQuery(query): RawQuery,
) -> HtmlResult {
    let owner = R::owner(&state.pool, &path).await?;
    let context = R::context(&state.pool, &owner, None, &R::Form::default()).await?;
    let mut form = R::blank(&context);
    R::prefill(&mut form, query.as_deref());
    let action = with_return_to(path.fill(R::CREATE), query.as_deref());
    let html = R::render(FormPage::new(nav, action, &owner, None, context, form))?;
    Ok(Html(html))
}

async fn create<R: CreatePage>(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    path: PathParams,
    RawQuery(query): RawQuery,
    HtmlForm(form): HtmlForm<R::Form>,
) -> Result<Response, AppError> {
    let owner = R::owner(&state.pool, &path).await?;
    let context = R::context(&state.pool, &owner, None, &form).await?;
    let check = Check {
        context: &context,
        before: None,
        editor: &user,
        today: state.today(),
    };
    let errors = match R::validate(&form, check) {
        Ok(fields) => {
            match editing::create::<R>(&state.pool, &user.actor(), &owner, &fields).await? {
                Saved::Done(record) => {
                    let created = R::audit_ids(&record).0;
                    let url = match (return_to(query.as_deref()), created) {
                        (Some(back), Some(id)) if is_form(&back) => {
                            with_query_param(&back, R::ENTITY, &id.to_string())
                        }
                        _ => after_save(query.as_deref(), Done::Created, || {
                            R::done_url(&record, Done::Created)
                        }),
                    };
                    return see_other(&url);
                }
                Saved::Refused(errors) => errors,
                Saved::Stale(_) | Saved::Missing => return Err(AppError::NotFound),
            }
        }
        Err(errors) => errors,
    };
    let form = R::shown_again(form, None);
    let action = with_return_to(path.fill(R::CREATE), query.as_deref());
    let page = FormPage {
        errors,
        ..FormPage::new(nav, action, &owner, None, context, form)
    };
    answer(StatusCode::UNPROCESSABLE_ENTITY, R::render(page))
}

async fn load<R: EditPage>(pool: &PgPool, key: &R::Key) -> Result<R::Record, AppError> {
    let mut db = pool.acquire().await?;
    R::load(&mut db, key).await?.ok_or(AppError::NotFound)
}

async fn edit<R: EditPage>(
    State(state): State<AppState>,
    nav: Nav,
    path: PathParams,
    RawQuery(query): RawQuery,
) -> HtmlResult {
    let record = load::<R>(&state.pool, &R::parse_key(&path)?).await?;
    let owner = R::owner_of(&state.pool, &record).await?;
    let form = R::form_of(&record);
    let context = R::context(&state.pool, &owner, Some(&record), &form).await?;
    let action = with_return_to(path.fill(R::UPDATE), query.as_deref());
    let html = R::render(FormPage {
        notice: R::notice(&done_param(query.as_deref())),
        ..FormPage::new(nav, action, &owner, Some(&record), context, form)
    })?;
    Ok(Html(html))
}

async fn update<R: EditPage>(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    path: PathParams,
    RawQuery(query): RawQuery,
    HtmlForm(mut form): HtmlForm<R::Form>,
) -> Result<Response, AppError> {
    let key = R::parse_key(&path)?;
    let version = parse_version(form.version())?;
    let before = load::<R>(&state.pool, &key).await?;
    let owner = R::owner_of(&state.pool, &before).await?;
    let context = R::context(&state.pool, &owner, Some(&before), &form).await?;
    let check = Check {
        context: &context,
        before: Some(&before),
        editor: &user,
        today: state.today(),
    };
    let saved = match R::validate(&form, check) {
        Ok(fields) => {
            editing::update::<R>(&state.pool, &user.actor(), &key, version, &fields).await?
        }
        Err(errors) => Saved::Refused(errors),
    };
    let (status, errors, conflict, shown) = match saved {
        Saved::Done(record) => {
            let url = after_save(query.as_deref(), Done::Saved, || {
                R::done_url(&record, Done::Saved)
            });
            return see_other(&url);
        }
        Saved::Missing => return Err(AppError::NotFound),
        Saved::Refused(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors, Vec::new(), before),
        Saved::Stale(current) => {
            // Someone saved since this form was loaded: show both, keep what was typed,
            // and let the person save again on top of the current version if they mean to.
            let conflict = conflict_rows(
                R::conflict_values(&R::form_of(&current), &context),
                R::conflict_values(&form, &context),
            );
            *form.version() = R::version(&current).to_string();
            (
                StatusCode::CONFLICT,
                FieldErrors::default(),
                conflict,
                current,
            )
        }
    };
    let form = R::shown_again(form, Some(&shown));
    let action = with_return_to(path.fill(R::UPDATE), query.as_deref());
    let page = FormPage {
        errors,
        conflict,
        ..FormPage::new(nav, action, &owner, Some(&shown), context, form)
    };
    answer(status, R::render(page))
}

async fn archive<R: EditPage + Archivable>(
    state: State<AppState>,
    user: SignedIn,
    path: PathParams,
) -> Result<Response, AppError> {
    set_archived::<R>(state, user, path, true).await
}

async fn restore<R: EditPage + Archivable>(
    state: State<AppState>,
    user: SignedIn,
    path: PathParams,
) -> Result<Response, AppError> {
    set_archived::<R>(state, user, path, false).await
}

async fn set_archived<R: EditPage + Archivable>(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    path: PathParams,
    archived: bool,
) -> Result<Response, AppError> {
    let key = R::parse_key(&path)?;
    let record = editing::set_archived::<R>(&state.pool, &user.actor(), &key, archived)
        .await?
        .ok_or(AppError::NotFound)?;
    let done = if archived {
        Done::Archived
    } else {
        Done::Restored
    };
    see_other(&R::done_url(&record, done))
}

/// After a successful POST: go to the page that shows the result.
pub fn see_other(url: &str) -> Result<Response, AppError> {
    Ok(Redirect::to(url).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_take_the_first_value() {
        assert_eq!(
            query_param(Some("currency=EUR&currency=GBP"), "currency"),
            Some("EUR".into())
        );
        assert_eq!(query_param(Some("done=saved"), "currency"), None);
        assert_eq!(query_param(None, "currency"), None);
        assert_eq!(done_param(Some("a=1&done=saved")), "saved");
    }

    #[test]
    fn only_local_paths_are_returned_to() {
        let q = |to: &str| {
            format!(
                "return_to={}",
                form_urlencoded::byte_serialize(to.as_bytes()).collect::<String>()
            )
        };
        assert_eq!(
            return_to(Some(&q("/admin/items/4/contributions/new"))),
            Some("/admin/items/4/contributions/new".into())
        );
        assert_eq!(
            return_to(Some(&q("/programmes/x"))),
            Some("/programmes/x".into())
        );
        for bad in [
            "//evil.example/admin/",
            "https://evil.example",
            "/admin\\x",
            "",
        ] {
            assert_eq!(return_to(Some(&q(bad))), None, "{bad}");
        }
        assert_eq!(
            with_query_param("/admin/items/4/contributions/new", "organisation", "12"),
            "/admin/items/4/contributions/new?organisation=12"
        );
        let back = |to: &str| after_save(Some(&q(to)), Done::Saved, || "/list".into());
        assert_eq!(
            back("/admin/items?kind=&page=2"),
            "/admin/items?kind=&page=2&done=saved"
        );
        assert_eq!(back("/programmes/x"), "/programmes/x");
        assert_eq!(back("https://evil.example"), "/list");
    }

    #[test]
    fn only_a_form_gets_the_new_record_chosen() {
        assert!(is_form("/admin/items/4/contributions/new?kept=1&amount=5"));
        assert!(is_form("/admin/contributions/9/edit"));
        assert!(!is_form("/admin/items?page=2"));
        assert!(!is_form("/programmes/new"));
        assert_eq!(
            return_to_of(
                "/admin/organisations?return_to=%2Fadmin%2Fitems%2F4%2Fcontributions%2Fnew"
            ),
            Some("/admin/items/4/contributions/new".into())
        );
        assert_eq!(return_to_of("/admin/organisations"), None);
    }
}
