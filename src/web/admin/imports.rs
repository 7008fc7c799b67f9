//! Admin: importing contributions from a spreadsheet (CSV or XLSX).
//!
//! `GET /admin/imports` lists past imports and offers the upload form; the upload
//! (multipart, within `IMPORT_MAX_BYTES`; its `_csrf` field is checked by
//! `auth::verify_csrf_token` like any form's) is read at once, so a malformed file is
//! refused on the spot, then kept in the database for its preview
//! (`/admin/imports/uploads/{id}`), which shows every row as it will be saved and every
//! problem by line and column. The preview's form sends back only the upload's id and
//! the person's choices (organisations to create, save without a rate): "Check again"
//! shows the preview for them, "Save" checks everything again and saves all rows in one
//! transaction, or nothing. `/admin/imports/{id}` shows one import.

use askama::Template;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use std::collections::BTreeSet;

use crate::domain::forms::ticked;
use crate::domain::import::{CheckedRow, Column, Options, Sheet};
use crate::domain::money::group_thousands;
use crate::store::imports::{self as store, Import, ImportedRow, Outcome, Report, Request};
use crate::web::admin::pipeline::{self, done_param, parse_id, see_other};
use crate::web::auth::{Nav, SignedIn};
use crate::web::forms::{HtmlPath, multipart_parts};
use crate::web::pages::render;
use crate::web::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/imports", get(list).post(upload))
        .route("/admin/imports/{id}", get(show))
        .route("/admin/imports/uploads/{id}", get(preview).post(save))
}

// ---------------------------------------------------------------------------------------
// The list and the upload

#[derive(Template)]
#[template(path = "admin/imports/list.html")]
pub struct ListPage {
    pub nav: Nav,
    pub imports: Vec<ImportLine>,
    /// Why the file just uploaded cannot be imported.
    pub file_error: String,
}

pub struct ImportLine {
    pub id: i64,
    pub when: String,
    pub who: String,
    pub file_name: String,
    pub rows: i32,
}

impl From<&Import> for ImportLine {
    fn from(i: &Import) -> Self {
        ImportLine {
            id: i.id,
            when: i.imported_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            who: i.actor_email.clone(),
            file_name: i.file_name.clone(),
            rows: i.row_count,
        }
    }
}

async fn list_page(state: &AppState, nav: Nav, file_error: String) -> Result<Response, AppError> {
    let status = match file_error.is_empty() {
        true => StatusCode::OK,
        false => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let imports = store::list(&state.pool).await?;
    let page = render(&ListPage {
        nav,
        imports: imports.iter().map(ImportLine::from).collect(),
        file_error,
    })?;
    Ok((status, page).into_response())
}

pub async fn list(State(state): State<AppState>, nav: Nav) -> Result<Response, AppError> {
    list_page(&state, nav, String::new()).await
}

/// The file's name as the browser sent it, without any folder, within the column's 300
/// characters.
fn clean_file_name(sent: Option<&str>) -> String {
    let name = sent.unwrap_or_default();
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    let base: String = base.chars().filter(|c| !c.is_control()).take(300).collect();
    if base.is_empty() {
        "upload".into()
    } else {
        base
    }
}

/// The upload: a file that cannot be imported at all comes back at once with why;
/// anything else is kept for its preview.
pub async fn upload(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let bytes = axum::body::to_bytes(body, state.settings.import_max_bytes)
        .await
        .map_err(crate::web::limits::body_error)?;
    let file = multipart_parts(&headers, bytes)
        .await?
        .into_iter()
        .find(|part| part.name == "file");
    let Some(file) = file.filter(|f| !f.data.is_empty()) else {
        let why = "Choose a CSV or XLSX file to upload: none was sent, or it was empty.";
        return list_page(&state, nav, why.into()).await;
    };
    if let Err(e) = Sheet::parse(&file.data) {
        let why = format!("This file cannot be imported: {e}. Nothing was saved.");
        return list_page(&state, nav, why).await;
    }
    let name = clean_file_name(file.file_name.as_deref());
    let id = store::stage_upload(&state.pool, user.id, &name, &file.data).await?;
    see_other(&format!("/admin/imports/uploads/{id}"))
}

// ---------------------------------------------------------------------------------------
// The preview and the save

/// What the person chose on the preview: read from its form (or, for a first look,
/// nothing chosen).
#[derive(Debug, Default)]
struct Choices {
    create: BTreeSet<String>,
    without_rate: bool,
    save: bool,
}

impl Choices {
    /// `create` once per organisation to create, `without_rate`, and the button pressed
    /// (`action=save` or `check`).
    fn from_form(body: &[u8]) -> Choices {
        let mut choices = Choices::default();
        for (key, value) in form_urlencoded::parse(body) {
            match key.as_ref() {
                "create" => {
                    choices.create.insert(value.trim().to_string());
                }
                "without_rate" => choices.without_rate = ticked(&Some(value.into_owned())),
                "action" => choices.save = value == "save",
                _ => {}
            }
        }
        choices
    }
}

#[derive(Template)]
#[template(path = "admin/imports/preview.html")]
pub struct PreviewPage {
    pub nav: Nav,
    pub upload_id: i64,
    pub file_name: String,
    pub headers: Vec<String>,
    pub rows: Vec<PreviewRow>,
    pub rows_with_problems: usize,
    pub problems: Vec<String>,
    /// Unknown organisations: (name as written, ticked to create, why it cannot be).
    pub unknown_organisations: Vec<(String, bool, String)>,
    pub created: Vec<String>,
    pub needs_rates: bool,
    pub without_rate: bool,
    pub valid: bool,
}

pub struct PreviewRow {
    pub line: usize,
    /// Per column: the value as it will be saved, and whether it has a problem.
    pub cells: Vec<(String, bool)>,
    pub problems: Vec<String>,
}

/// The row as it will be saved: the saved values when it is valid, else what was read.
fn preview_row(row: &CheckedRow) -> PreviewRow {
    let form = &row.form;
    let item = row
        .item
        .as_ref()
        .map(|i| i.name.clone())
        .unwrap_or_else(|| String::from("?"));
    let amount = row
        .fields
        .as_ref()
        .map_or_else(|| form.amount.clone(), |f| group_thousands(f.amount));
    let status = crate::domain::vocab::ContributionStatus::parse(&form.status)
        .map_or_else(|| form.status.clone(), |s| s.label().to_string());
    let values = [
        (Column::Organisation, row.organisation.clone()),
        (Column::Item, item),
        (Column::Amount, amount),
        (Column::Currency, form.currency.trim().to_ascii_uppercase()),
        (Column::Status, status),
        (Column::Date, form.as_of.clone()),
        (Column::PledgedOn, form.pledged_on.clone()),
        (Column::Source, form.source_para.clone()),
        (Column::Note, form.note.clone()),
    ];
    PreviewRow {
        line: row.line,
        cells: values
            .into_iter()
            .map(|(column, value)| (value, row.flags(column)))
            .collect(),
        problems: row.problems.iter().map(|(_, p)| p.to_string()).collect(),
    }
}

fn preview_page(
    nav: Nav,
    upload: &store::Upload,
    sheet: &Sheet,
    report: &Report,
    choices: &Choices,
) -> PreviewPage {
    let checked = &report.checked;
    let why_not = |name: &str| {
        report
            .not_created
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, why)| why.clone())
            .unwrap_or_default()
    };
    let mut unknown: Vec<(String, bool, String)> = checked
        .unknown_organisations
        .iter()
        .map(|name| (name.clone(), false, why_not(name)))
        .collect();
    // created in the check's transaction, so no longer unknown: still offered, ticked
    unknown.extend(
        report
            .created
            .iter()
            .map(|name| (name.clone(), true, String::new())),
    );
    PreviewPage {
        nav,
        upload_id: upload.id,
        file_name: upload.file_name.clone(),
        headers: Column::ALL
            .into_iter()
            .map(|c| sheet.columns.header(c))
            .collect(),
        rows: checked.rows.iter().map(preview_row).collect(),
        rows_with_problems: checked.rows_with_problems(),
        problems: checked.problems().map(ToString::to_string).collect(),
        unknown_organisations: unknown,
        created: report.created.clone(),
        needs_rates: checked.needs_rates(),
        without_rate: choices.without_rate,
        valid: checked.is_valid(),
    }
}

/// Checks (and with `choices.save`, saves) the staged upload `id` of the signed-in person.
async fn check_or_save(
    state: &AppState,
    nav: Nav,
    user: &crate::web::auth::CurrentUser,
    id: &str,
    choices: Choices,
) -> Result<Response, AppError> {
    let id = parse_id(id)?;
    let upload = store::upload(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    // read when it was uploaded; only a change of this code could refuse it now
    let sheet = Sheet::parse(&upload.content)
        .map_err(|e| AppError::BadRequest(format!("This file cannot be imported: {e}.")))?;
    let request = Request {
        file_name: &upload.file_name,
        sheet: &sheet,
        create_organisations: &choices.create,
        options: Options {
            without_rate: choices.without_rate,
        },
        save: choices.save,
        upload: Some(upload.id),
    };
    let report = match store::run(&state.pool, &user.actor(), &request, &|_| {}).await? {
        Outcome::Saved { id, .. } => return see_other(&format!("/admin/imports/{id}?done=saved")),
        Outcome::Checked(report) => report,
    };
    let status = match choices.save {
        true => StatusCode::UNPROCESSABLE_ENTITY,
        false => StatusCode::OK,
    };
    let page = render(&preview_page(nav, &upload, &sheet, &report, &choices))?;
    Ok((status, page).into_response())
}

pub async fn preview(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
) -> Result<Response, AppError> {
    check_or_save(&state, nav, &user, &id, Choices::default()).await
}

pub async fn save(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    check_or_save(&state, nav, &user, &id, Choices::from_form(&body)).await
}

// ---------------------------------------------------------------------------------------
// One import

#[derive(Template)]
#[template(path = "admin/imports/show.html")]
pub struct ShowPage {
    pub nav: Nav,
    pub import: ImportLine,
    pub notice: &'static str,
    pub rows: Vec<ShownRow>,
}

pub struct ShownRow {
    pub id: i64,
    pub item_id: i64,
    pub item_title: String,
    pub organisation: String,
    pub amount: String,
    pub status: String,
    pub as_of: String,
    pub archived: bool,
}

impl From<&ImportedRow> for ShownRow {
    fn from(r: &ImportedRow) -> Self {
        ShownRow {
            id: r.id,
            item_id: r.item_id,
            item_title: r.item_title.clone(),
            organisation: r.org_name.clone(),
            amount: crate::domain::money::format_money(r.amount, &r.currency),
            status: r.status.label().to_string(),
            as_of: r.as_of.format("%Y-%m-%d").to_string(),
            archived: r.archived,
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    nav: Nav,
    HtmlPath(id): HtmlPath<String>,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, AppError> {
    let id = pipeline::parse_id(&id)?;
    let import = store::by_id(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let rows = store::rows(&state.pool, id).await?;
    let notice = match done_param(query.as_deref()).as_str() {
        "saved" => "Imported: every row of the file was saved.",
        _ => "",
    };
    render(&ShowPage {
        nav,
        import: ImportLine::from(&import),
        notice,
        rows: rows.iter().map(ShownRow::from).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_their_folders() {
        assert_eq!(
            clean_file_name(Some("C:\\Users\\me\\pledges.csv")),
            "pledges.csv"
        );
        assert_eq!(clean_file_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_file_name(None), "upload");
        assert_eq!(clean_file_name(Some("a\u{0}b.csv")), "ab.csv");
    }

    #[test]
    fn the_preview_form_says_what_was_chosen() {
        let choices = Choices::from_form(
            b"_csrf=x&create=New+Donor&create=Other&without_rate=on&action=save",
        );
        assert_eq!(choices.create.len(), 2);
        assert!(choices.without_rate && choices.save);
        assert!(!Choices::from_form(b"action=check").save);
    }
}
