//! Admin: an item's money. Budgets and contributions (pledges) are listed with their
//! archived rows, edited with the pattern of `organisations` (forms of strings, versioned
//! saves, 409 with both sides, archive / restore) and audited against their item, so the
//! item's History tab shows them. The dashboards follow at once: the portfolio cache
//! reloads when the revision triggers fire.

use crate::web::forms::HtmlPath;
use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{Html, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::forms::FieldErrors;
use crate::domain::money::{format_money, group_thousands, parse_amount};
use crate::domain::vocab::{ContributionStatus, label_of};
use crate::store::audit::{self, Entry};
use crate::store::money::{
    self as store, Budget, BudgetFields, Contribution, ContributionFields, ItemRef, Money,
};
use crate::store::organisations;
use crate::web::admin::edit::{self, ConflictRow, FormValues};
use crate::web::auth::{Nav, SignedIn};
use crate::web::forms::HtmlForm;
use crate::web::pages::render;
use crate::web::view::usd;
use crate::web::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/items/{id}/money", get(show))
        .route("/admin/items/{id}/budgets/new", get(new_budget))
        .route("/admin/items/{id}/budgets", post(create_budget))
        .route("/admin/budgets/{id}/edit", get(edit_budget))
        .route("/admin/budgets/{id}", post(update_budget))
        .route("/admin/budgets/{id}/archive", post(archive_budget))
        .route("/admin/budgets/{id}/restore", post(restore_budget))
        .route("/admin/items/{id}/contributions/new", get(new_contribution))
        .route("/admin/items/{id}/contributions", post(create_contribution))
        .route("/admin/contributions/{id}/edit", get(edit_contribution))
        .route("/admin/contributions/{id}", post(update_contribution))
        .route(
            "/admin/contributions/{id}/archive",
            post(archive_contribution),
        )
        .route(
            "/admin/contributions/{id}/restore",
            post(restore_contribution),
        )
}

// ---------------------------------------------------------------------------------------
// Validation shared by both forms

const PERIOD_MAX: usize = 100;
const SOURCE_MAX: usize = 100;
const NOTE_MAX: usize = 2000;

fn amount(errors: &mut FieldErrors, raw: &str) -> Decimal {
    parse_amount(raw).unwrap_or_else(|e| {
        errors.add("amount", e.to_string());
        Decimal::ZERO
    })
}

/// The code as the menu sends it; the database's list of codes is the authority.
fn currency(errors: &mut FieldErrors, raw: &str, known: &[String]) -> String {
    let code = raw.trim().to_ascii_uppercase();
    if code.is_empty() {
        errors.add("currency", "choose the currency of the amount");
    } else if !known.contains(&code) {
        let shown: String = code.chars().take(12).collect();
        errors.add("currency", format!("unknown currency code {shown}"));
    }
    code
}

/// An ISO date; `missing` is the message when it is required and left empty.
fn date(
    errors: &mut FieldErrors,
    field: &'static str,
    raw: &str,
    missing: Option<&str>,
) -> Option<NaiveDate> {
    match crate::domain::forms::parse_date(raw) {
        Ok(None) => {
            if let Some(message) = missing {
                errors.add(field, message);
            }
            None
        }
        Ok(date) => date,
        Err(message) => {
            errors.add(field, message);
            None
        }
    }
}

const AS_OF_MISSING: &str =
    "enter the date the figure applies to (YYYY-MM-DD): it picks the exchange rate";

/// Optional free text: trimmed, empty is none, too long is a message.
fn text(errors: &mut FieldErrors, field: &'static str, raw: &str, max: usize) -> Option<String> {
    let trimmed = raw.trim();
    if trimmed.chars().count() > max {
        errors.add(field, format!("use at most {max} characters"));
    }
    Some(trimmed.to_string()).filter(|t| !t.is_empty())
}

fn yes_no(ticked: bool) -> String {
    if ticked { "yes" } else { "no" }.to_string()
}

/// An amount as typed, written the way the saved one is shown, so that "7000000" and
/// "7,000,000" do not count as a difference in a conflict.
fn comparable_amount(typed: &str) -> String {
    parse_amount(typed).map_or_else(|_| typed.to_string(), group_thousands)
}

fn iso(date: Option<NaiveDate>) -> String {
    date.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// `about USD 7,000,000` when the source gives a rounded figure.
fn money_text(amount: Decimal, currency: &str, approximate: bool) -> String {
    let money = format_money(amount, currency);
    if approximate {
        format!("about {money}")
    } else {
        money
    }
}

/// `USD 7,000,000 → USD 7,500,000`, or the amount alone when it did not change.
fn change(before: String, after: String) -> String {
    if before == after {
        after
    } else {
        format!("{before} → {after}")
    }
}

/// A constraint the database enforced although validation passed: something changed
/// in between (a currency or organisation removed, the item deleted).
fn refused(e: sqlx::Error) -> Result<FieldErrors, AppError> {
    let mut errors = FieldErrors::default();
    match edit::constraint_violation(&e).as_deref() {
        Some("budgets_currency_fkey" | "contributions_currency_fkey") => errors.add(
            "currency",
            "this currency code is no longer known; choose another",
        ),
        Some("contributions_org_id_fkey") => errors.add(
            "organisation",
            "this organisation no longer exists; choose another",
        ),
        Some("budgets_item_id_fkey" | "contributions_item_id_fkey") => {
            return Err(AppError::NotFound);
        }
        _ => return Err(e.into()),
    }
    Ok(errors)
}

async fn item_or_404(state: &AppState, raw_id: &str) -> Result<ItemRef, AppError> {
    let id = edit::parse_id(raw_id)?;
    store::item(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)
}

fn money_page_url(item_id: i64, done: &str) -> String {
    format!("/admin/items/{item_id}/money?done={done}")
}

// ---------------------------------------------------------------------------------------
// The money page

pub struct BudgetLine {
    pub id: i64,
    pub amount: String,
    pub usd: String,
    pub period: String,
    pub as_of: String,
    pub source_para: String,
    pub note: String,
    pub archived: bool,
}

pub struct ContributionLine {
    pub id: i64,
    pub organisation: String,
    pub status: String,
    pub amount: String,
    pub usd: String,
    pub pledged_on: String,
    pub as_of: String,
    pub self_financing: bool,
    pub source_para: String,
    pub note: String,
    pub archived: bool,
}

/// The USD column: the view's conversion, or why there is none.
fn usd_text(
    archived: bool,
    currency: &str,
    amount_usd: Option<Decimal>,
    rate_month: Option<NaiveDate>,
) -> String {
    match (archived, amount_usd, rate_month) {
        (true, _, _) => "archived, not counted".into(),
        (false, None, _) => "not converted yet".into(),
        (false, Some(u), Some(month)) if currency != "USD" => {
            format!("{} (rate of {})", usd(u), month.format("%Y-%m"))
        }
        (false, Some(u), _) => usd(u),
    }
}

impl From<&Budget> for BudgetLine {
    fn from(b: &Budget) -> Self {
        BudgetLine {
            id: b.id,
            amount: money_text(b.amount, &b.currency, b.approximate),
            usd: usd_text(b.archived, &b.currency, b.amount_usd, b.rate_month),
            period: b.period.clone().unwrap_or_default(),
            as_of: iso(Some(b.as_of)),
            source_para: b.source_para.clone().unwrap_or_default(),
            note: b.note.clone().unwrap_or_default(),
            archived: b.archived,
        }
    }
}

impl From<&Contribution> for ContributionLine {
    fn from(c: &Contribution) -> Self {
        ContributionLine {
            id: c.id,
            organisation: c.org_name.clone(),
            status: label_of(ContributionStatus::parse, &c.status),
            amount: money_text(c.amount, &c.currency, c.approximate),
            usd: usd_text(c.archived, &c.currency, c.amount_usd, c.rate_month),
            pledged_on: iso(c.pledged_on),
            as_of: iso(Some(c.as_of)),
            self_financing: c.self_financing,
            source_para: c.source_para.clone().unwrap_or_default(),
            note: c.note.clone().unwrap_or_default(),
            archived: c.archived,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/money/show.html")]
pub struct MoneyPage {
    pub nav: Nav,
    pub item: ItemRef,
    pub notice: String,
    pub budgets: Vec<BudgetLine>,
    pub contributions: Vec<ContributionLine>,
    /// Counted amounts no exchange rate converts yet, described for the notice.
    pub unconverted: Vec<String>,
}

fn notice_text(query: Option<&str>) -> String {
    let done = query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "done")
            .map(|(_, v)| v.into_owned())
    });
    match done.as_deref() {
        Some("budget-added") => "Budget added.",
        Some("budget-saved") => "Budget saved.",
        Some("budget-archived") => "Budget archived: it no longer counts. Restore it below.",
        Some("budget-restored") => "Budget restored: it counts again.",
        Some("contribution-added") => "Contribution added.",
        Some("contribution-saved") => "Contribution saved.",
        Some("contribution-archived") => {
            "Contribution archived: it no longer counts. Restore it below."
        }
        Some("contribution-restored") => "Contribution restored: it counts again.",
        _ => "",
    }
    .to_string()
}

fn unconverted(budgets: &[Budget], contributions: &[Contribution]) -> Vec<String> {
    let month = |d: NaiveDate| d.format("%Y-%m").to_string();
    let budgets = budgets
        .iter()
        .filter(|b| !b.archived && b.amount_usd.is_none())
        .map(|b| {
            format!(
                "The budget of {} (as of {}): no {} rate for {} or earlier.",
                format_money(b.amount, &b.currency),
                iso(Some(b.as_of)),
                b.currency,
                month(b.as_of)
            )
        });
    let contributions = contributions
        .iter()
        .filter(|c| !c.archived && c.amount_usd.is_none())
        .map(|c| {
            format!(
                "The contribution of {} from {} (as of {}): no {} rate for {} or earlier.",
                format_money(c.amount, &c.currency),
                c.org_name,
                iso(Some(c.as_of)),
                c.currency,
                month(c.as_of)
            )
        });
    budgets.chain(contributions).collect()
}

pub async fn show(
    State(state): State<AppState>,
    nav: Nav,
    HtmlPath(id): HtmlPath<String>,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, AppError> {
    let item = item_or_404(&state, &id).await?;
    let budgets = store::budgets(&state.pool, item.id).await?;
    let contributions = store::contributions(&state.pool, item.id).await?;
    render(&MoneyPage {
        nav,
        notice: notice_text(query.as_deref()),
        unconverted: unconverted(&budgets, &contributions),
        budgets: budgets.iter().map(BudgetLine::from).collect(),
        contributions: contributions.iter().map(ContributionLine::from).collect(),
        item,
    })
}

// ---------------------------------------------------------------------------------------
// Budgets

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct BudgetForm {
    pub amount: String,
    pub currency: String,
    pub approximate: Option<String>,
    pub period: String,
    pub as_of: String,
    pub source_para: String,
    pub note: String,
    pub version: String,
}

impl BudgetForm {
    pub fn is_approximate(&self) -> bool {
        edit::ticked(&self.approximate)
    }

    fn validate(&self, currencies: &[String]) -> Result<BudgetFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let fields = BudgetFields {
            amount: amount(&mut errors, &self.amount),
            currency: currency(&mut errors, &self.currency, currencies),
            approximate: self.is_approximate(),
            period: text(&mut errors, "period", &self.period, PERIOD_MAX),
            as_of: date(&mut errors, "as_of", &self.as_of, Some(AS_OF_MISSING)).unwrap_or_default(),
            source_para: text(&mut errors, "source_para", &self.source_para, SOURCE_MAX),
            note: text(&mut errors, "note", &self.note, NOTE_MAX),
        };
        errors.into_result(fields)
    }
}

impl From<&Budget> for BudgetForm {
    fn from(b: &Budget) -> Self {
        BudgetForm {
            amount: group_thousands(b.amount),
            currency: b.currency.clone(),
            approximate: b.approximate.then(|| "on".to_string()),
            period: b.period.clone().unwrap_or_default(),
            as_of: iso(Some(b.as_of)),
            source_para: b.source_para.clone().unwrap_or_default(),
            note: b.note.clone().unwrap_or_default(),
            version: b.version.to_string(),
        }
    }
}

impl FormValues for BudgetForm {
    fn values(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Amount", comparable_amount(&self.amount)),
            ("Currency", self.currency.clone()),
            ("Approximate", yes_no(self.is_approximate())),
            ("Period", self.period.clone()),
            ("As of", self.as_of.clone()),
            ("Source paragraph", self.source_para.clone()),
            ("Note", self.note.clone()),
        ]
    }
}

#[derive(Template)]
#[template(path = "admin/money/budget_form.html")]
pub struct BudgetPage {
    pub nav: Nav,
    pub item: ItemRef,
    pub action: String,
    pub is_new: bool,
    pub form: BudgetForm,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
    pub currencies: Vec<String>,
    /// False when the form carries a code the menu does not list (kept, to show it).
    pub known_currency: bool,
}

impl BudgetPage {
    /// `budget_id` None: the form that adds one.
    fn new(
        nav: Nav,
        item: ItemRef,
        budget_id: Option<i64>,
        form: BudgetForm,
        currencies: Vec<String>,
    ) -> BudgetPage {
        BudgetPage {
            action: match budget_id {
                Some(id) => format!("/admin/budgets/{id}"),
                None => format!("/admin/items/{}/budgets", item.id),
            },
            is_new: budget_id.is_none(),
            known_currency: form.currency.is_empty() || currencies.contains(&form.currency),
            nav,
            item,
            form,
            errors: FieldErrors::default(),
            conflict: Vec::new(),
            currencies,
        }
    }
}

pub async fn new_budget(
    State(state): State<AppState>,
    nav: Nav,
    HtmlPath(id): HtmlPath<String>,
) -> Result<Html<String>, AppError> {
    let item = item_or_404(&state, &id).await?;
    let form = BudgetForm {
        currency: "USD".into(),
        version: "0".into(),
        ..BudgetForm::default()
    };
    let currencies = store::currencies(&state.pool).await?;
    render(&BudgetPage::new(nav, item, None, form, currencies))
}

pub async fn create_budget(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
    HtmlForm(form): HtmlForm<BudgetForm>,
) -> Result<Response, AppError> {
    let item = item_or_404(&state, &id).await?;
    let currencies = store::currencies(&state.pool).await?;
    let fields = match form.validate(&currencies) {
        Ok(fields) => fields,
        Err(errors) => {
            let page = BudgetPage::new(nav, item, None, form, currencies);
            return edit::unprocessable(&BudgetPage { errors, ..page });
        }
    };
    let mut tx = state.pool.begin().await?;
    let budget_id = match store::insert_budget(&mut *tx, item.id, &fields).await {
        Ok(id) => id,
        Err(e) => {
            let errors = refused(e)?;
            let page = BudgetPage::new(nav, item, None, form, currencies);
            return edit::unprocessable(&BudgetPage { errors, ..page });
        }
    };
    let entry = Entry {
        action: "create",
        entity: "budget",
        entity_id: Some(budget_id),
        item_id: Some(item.id),
        summary: format!(
            "Added a budget of {} to {}",
            money_text(fields.amount, &fields.currency, fields.approximate),
            item.title
        ),
        before: None,
        after: Some(&fields),
    };
    audit::record(&mut *tx, &user.actor(), entry).await?;
    tx.commit().await?;
    edit::see_other(&money_page_url(item.id, "budget-added"))
}

pub async fn edit_budget(
    State(state): State<AppState>,
    nav: Nav,
    HtmlPath(id): HtmlPath<String>,
) -> Result<Html<String>, AppError> {
    let id = edit::parse_id(&id)?;
    let budget = store::budget(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let item = store::item(&state.pool, budget.item_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let currencies = store::currencies(&state.pool).await?;
    let form = BudgetForm::from(&budget);
    render(&BudgetPage::new(nav, item, Some(id), form, currencies))
}

pub async fn update_budget(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
    HtmlForm(form): HtmlForm<BudgetForm>,
) -> Result<Response, AppError> {
    let id = edit::parse_id(&id)?;
    let version = edit::parse_version(&form.version)?;
    let mut tx = state.pool.begin().await?;
    let before = store::budget(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let item = store::item(&mut *tx, before.item_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let currencies = store::currencies(&mut *tx).await?;
    let fields = match form.validate(&currencies) {
        Ok(fields) => fields,
        Err(errors) => {
            let page = BudgetPage::new(nav, item, Some(id), form, currencies);
            return edit::unprocessable(&BudgetPage { errors, ..page });
        }
    };
    let saved = match store::update_budget(&mut *tx, id, version, &fields).await {
        Ok(saved) => saved,
        Err(e) => {
            let errors = refused(e)?;
            let page = BudgetPage::new(nav, item, Some(id), form, currencies);
            return edit::unprocessable(&BudgetPage { errors, ..page });
        }
    };
    if !saved {
        // Someone saved since this form was loaded: show both, keep what was typed, and
        // let the person save again on top of the current version if they mean to.
        let conflict = edit::conflict_rows(&BudgetForm::from(&before), &form);
        let form = BudgetForm {
            version: before.version.to_string(),
            ..form
        };
        let page = BudgetPage::new(nav, item, Some(id), form, currencies);
        return edit::conflict(&BudgetPage { conflict, ..page });
    }
    let old = BudgetFields::from(&before);
    let entry = Entry {
        action: "update",
        entity: "budget",
        entity_id: Some(id),
        item_id: Some(item.id),
        summary: format!(
            "Edited a budget of {}: {}",
            item.title,
            change(
                money_text(old.amount, &old.currency, old.approximate),
                money_text(fields.amount, &fields.currency, fields.approximate)
            )
        ),
        before: Some(&old),
        after: Some(&fields),
    };
    audit::record(&mut *tx, &user.actor(), entry).await?;
    tx.commit().await?;
    edit::see_other(&money_page_url(item.id, "budget-saved"))
}

pub async fn archive_budget(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
) -> Result<Response, AppError> {
    set_archived(&state, &user, &id, Money::Budget, true).await
}

pub async fn restore_budget(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
) -> Result<Response, AppError> {
    set_archived(&state, &user, &id, Money::Budget, false).await
}

// ---------------------------------------------------------------------------------------
// Contributions

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ContributionForm {
    pub organisation: String,
    pub amount: String,
    pub currency: String,
    pub status: String,
    pub pledged_on: String,
    pub as_of: String,
    pub approximate: Option<String>,
    pub self_financing: Option<String>,
    pub source_para: String,
    pub note: String,
    pub version: String,
}

/// An organisation that can be chosen: (id, name).
type OrgChoices = Vec<(i64, String)>;

impl ContributionForm {
    pub fn is_approximate(&self) -> bool {
        edit::ticked(&self.approximate)
    }

    pub fn is_self_financing(&self) -> bool {
        edit::ticked(&self.self_financing)
    }

    fn validate(
        &self,
        currencies: &[String],
        orgs: &[(i64, String)],
    ) -> Result<ContributionFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let org_id = self
            .organisation
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|id| orgs.iter().any(|(o, _)| o == id));
        if org_id.is_none() {
            errors.add(
                "organisation",
                "choose the organisation that gives the money",
            );
        }
        let status = ContributionStatus::parse(self.status.trim());
        if status.is_none() {
            errors.add("status", "choose pledged, committed or paid");
        }
        let fields = ContributionFields {
            org_id: org_id.unwrap_or_default(),
            amount: amount(&mut errors, &self.amount),
            currency: currency(&mut errors, &self.currency, currencies),
            status: status.map_or_else(String::new, |s| s.as_str().to_string()),
            pledged_on: date(&mut errors, "pledged_on", &self.pledged_on, None),
            as_of: date(&mut errors, "as_of", &self.as_of, Some(AS_OF_MISSING)).unwrap_or_default(),
            approximate: self.is_approximate(),
            self_financing: self.is_self_financing(),
            source_para: text(&mut errors, "source_para", &self.source_para, SOURCE_MAX),
            note: text(&mut errors, "note", &self.note, NOTE_MAX),
        };
        errors.into_result(fields)
    }
}

impl From<&Contribution> for ContributionForm {
    fn from(c: &Contribution) -> Self {
        ContributionForm {
            organisation: c.org_id.to_string(),
            amount: group_thousands(c.amount),
            currency: c.currency.clone(),
            status: c.status.clone(),
            pledged_on: iso(c.pledged_on),
            as_of: iso(Some(c.as_of)),
            approximate: c.approximate.then(|| "on".to_string()),
            self_financing: c.self_financing.then(|| "on".to_string()),
            source_para: c.source_para.clone().unwrap_or_default(),
            note: c.note.clone().unwrap_or_default(),
            version: c.version.to_string(),
        }
    }
}

/// A contribution form with organisation names, for the side-by-side of a conflict.
struct Labelled<'a> {
    form: &'a ContributionForm,
    orgs: &'a [(i64, String)],
}

impl FormValues for Labelled<'_> {
    fn values(&self) -> Vec<(&'static str, String)> {
        let f = self.form;
        let organisation = self
            .orgs
            .iter()
            .find(|(id, _)| id.to_string() == f.organisation.trim())
            .map_or_else(|| f.organisation.clone(), |(_, name)| name.clone());
        vec![
            ("Organisation", organisation),
            ("Amount", comparable_amount(&f.amount)),
            ("Currency", f.currency.clone()),
            ("Status", label_of(ContributionStatus::parse, &f.status)),
            ("Pledged on", f.pledged_on.clone()),
            ("As of", f.as_of.clone()),
            ("Approximate", yes_no(f.is_approximate())),
            ("Self-financing", yes_no(f.is_self_financing())),
            ("Source paragraph", f.source_para.clone()),
            ("Note", f.note.clone()),
        ]
    }
}

/// The audit record of a contribution: its fields and the organisation's name, so the
/// trail reads without looking up ids.
#[derive(Serialize)]
struct ContributionRecord<'a> {
    #[serde(flatten)]
    fields: &'a ContributionFields,
    organisation: &'a str,
}

pub struct Choice {
    pub value: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "admin/money/contribution_form.html")]
pub struct ContributionPage {
    pub nav: Nav,
    pub item: ItemRef,
    pub action: String,
    pub is_new: bool,
    pub form: ContributionForm,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
    pub currencies: Vec<String>,
    pub known_currency: bool,
    pub organisations: Vec<Choice>,
    pub statuses: Vec<Choice>,
}

impl ContributionPage {
    /// `contribution_id` None: the form that adds one.
    fn new(
        nav: Nav,
        item: ItemRef,
        contribution_id: Option<i64>,
        form: ContributionForm,
        choices: &Choices,
    ) -> ContributionPage {
        ContributionPage {
            action: match contribution_id {
                Some(id) => format!("/admin/contributions/{id}"),
                None => format!("/admin/items/{}/contributions", item.id),
            },
            is_new: contribution_id.is_none(),
            known_currency: form.currency.is_empty() || choices.currencies.contains(&form.currency),
            organisations: choices
                .orgs
                .iter()
                .map(|(id, name)| Choice {
                    value: id.to_string(),
                    label: name.clone(),
                })
                .collect(),
            statuses: ContributionStatus::ALL
                .iter()
                .map(|s| Choice {
                    value: s.as_str().to_string(),
                    label: s.label().to_string(),
                })
                .collect(),
            currencies: choices.currencies.clone(),
            nav,
            item,
            form,
            errors: FieldErrors::default(),
            conflict: Vec::new(),
        }
    }
}

/// What a contribution form offers: currencies, and organisations that are not archived
/// (plus the one already recorded, if it was archived since, so an edit keeps it).
struct Choices {
    currencies: Vec<String>,
    orgs: OrgChoices,
}

impl Choices {
    async fn load(state: &AppState, current: Option<&Contribution>) -> Result<Choices, AppError> {
        let mut orgs = organisations::choices(&state.pool).await?;
        if let Some(c) = current.filter(|c| !orgs.iter().any(|(id, _)| *id == c.org_id)) {
            orgs.push((c.org_id, format!("{} (archived)", c.org_name)));
        }
        Ok(Choices {
            currencies: store::currencies(&state.pool).await?,
            orgs,
        })
    }

    fn org_name(&self, id: i64) -> &str {
        self.orgs
            .iter()
            .find(|(o, _)| *o == id)
            .map_or("", |(_, name)| name.as_str())
    }
}

pub async fn new_contribution(
    State(state): State<AppState>,
    nav: Nav,
    HtmlPath(id): HtmlPath<String>,
) -> Result<Html<String>, AppError> {
    let item = item_or_404(&state, &id).await?;
    let form = ContributionForm {
        currency: "USD".into(),
        status: ContributionStatus::Pledged.as_str().into(),
        version: "0".into(),
        ..ContributionForm::default()
    };
    let choices = Choices::load(&state, None).await?;
    render(&ContributionPage::new(nav, item, None, form, &choices))
}

pub async fn create_contribution(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
    HtmlForm(form): HtmlForm<ContributionForm>,
) -> Result<Response, AppError> {
    let item = item_or_404(&state, &id).await?;
    let choices = Choices::load(&state, None).await?;
    let fields = match form.validate(&choices.currencies, &choices.orgs) {
        Ok(fields) => fields,
        Err(errors) => {
            let page = ContributionPage::new(nav, item, None, form, &choices);
            return edit::unprocessable(&ContributionPage { errors, ..page });
        }
    };
    let mut tx = state.pool.begin().await?;
    let contribution_id = match store::insert_contribution(&mut *tx, item.id, &fields).await {
        Ok(id) => id,
        Err(e) => {
            let errors = refused(e)?;
            let page = ContributionPage::new(nav, item, None, form, &choices);
            return edit::unprocessable(&ContributionPage { errors, ..page });
        }
    };
    let organisation = choices.org_name(fields.org_id);
    let entry = Entry {
        action: "create",
        entity: "contribution",
        entity_id: Some(contribution_id),
        item_id: Some(item.id),
        summary: format!(
            "Added a contribution of {} from {} to {}",
            money_text(fields.amount, &fields.currency, fields.approximate),
            organisation,
            item.title
        ),
        before: None,
        after: Some(&ContributionRecord {
            fields: &fields,
            organisation,
        }),
    };
    audit::record(&mut *tx, &user.actor(), entry).await?;
    tx.commit().await?;
    edit::see_other(&money_page_url(item.id, "contribution-added"))
}

pub async fn edit_contribution(
    State(state): State<AppState>,
    nav: Nav,
    HtmlPath(id): HtmlPath<String>,
) -> Result<Html<String>, AppError> {
    let id = edit::parse_id(&id)?;
    let contribution = store::contribution(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let item = store::item(&state.pool, contribution.item_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let choices = Choices::load(&state, Some(&contribution)).await?;
    let form = ContributionForm::from(&contribution);
    render(&ContributionPage::new(nav, item, Some(id), form, &choices))
}

pub async fn update_contribution(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
    HtmlForm(form): HtmlForm<ContributionForm>,
) -> Result<Response, AppError> {
    let id = edit::parse_id(&id)?;
    let version = edit::parse_version(&form.version)?;
    let current = store::contribution(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let item = store::item(&state.pool, current.item_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let choices = Choices::load(&state, Some(&current)).await?;
    let fields = match form.validate(&choices.currencies, &choices.orgs) {
        Ok(fields) => fields,
        Err(errors) => {
            let page = ContributionPage::new(nav, item, Some(id), form, &choices);
            return edit::unprocessable(&ContributionPage { errors, ..page });
        }
    };
    let mut tx = state.pool.begin().await?;
    let before = store::contribution(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let saved = match store::update_contribution(&mut *tx, id, version, &fields).await {
        Ok(saved) => saved,
        Err(e) => {
            let errors = refused(e)?;
            let page = ContributionPage::new(nav, item, Some(id), form, &choices);
            return edit::unprocessable(&ContributionPage { errors, ..page });
        }
    };
    if !saved {
        // As for budgets: both sides shown, the typed values kept, the version bumped so
        // that saving again is a deliberate overwrite.
        let saved_form = ContributionForm::from(&before);
        let conflict = edit::conflict_rows(
            &Labelled {
                form: &saved_form,
                orgs: &choices.orgs,
            },
            &Labelled {
                form: &form,
                orgs: &choices.orgs,
            },
        );
        let form = ContributionForm {
            version: before.version.to_string(),
            ..form
        };
        let page = ContributionPage::new(nav, item, Some(id), form, &choices);
        return edit::conflict(&ContributionPage { conflict, ..page });
    }
    audit_contribution_update(&mut tx, &user, &item, &before, &fields, &choices).await?;
    tx.commit().await?;
    edit::see_other(&money_page_url(item.id, "contribution-saved"))
}

async fn audit_contribution_update(
    tx: &mut sqlx::PgConnection,
    user: &crate::web::auth::CurrentUser,
    item: &ItemRef,
    before: &Contribution,
    fields: &ContributionFields,
    choices: &Choices,
) -> Result<(), AppError> {
    let old = ContributionFields::from(before);
    let organisation = choices.org_name(fields.org_id);
    let entry = Entry {
        action: "update",
        entity: "contribution",
        entity_id: Some(before.id),
        item_id: Some(item.id),
        summary: format!(
            "Edited the contribution of {} to {}: {}",
            organisation,
            item.title,
            change(
                money_text(old.amount, &old.currency, old.approximate),
                money_text(fields.amount, &fields.currency, fields.approximate)
            )
        ),
        before: Some(&ContributionRecord {
            fields: &old,
            organisation: &before.org_name,
        }),
        after: Some(&ContributionRecord {
            fields,
            organisation,
        }),
    };
    audit::record(&mut *tx, &user.actor(), entry).await?;
    Ok(())
}

pub async fn archive_contribution(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
) -> Result<Response, AppError> {
    set_archived(&state, &user, &id, Money::Contribution, true).await
}

pub async fn restore_contribution(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    HtmlPath(id): HtmlPath<String>,
) -> Result<Response, AppError> {
    set_archived(&state, &user, &id, Money::Contribution, false).await
}

// ---------------------------------------------------------------------------------------
// Archive and restore, for both

async fn set_archived(
    state: &AppState,
    user: &crate::web::auth::CurrentUser,
    raw_id: &str,
    table: Money,
    archived: bool,
) -> Result<Response, AppError> {
    let id = edit::parse_id(raw_id)?;
    let mut tx = state.pool.begin().await?;
    let (item_id, what) = match table {
        Money::Budget => {
            let b = store::budget(&mut *tx, id)
                .await?
                .ok_or(AppError::NotFound)?;
            let what = format!(
                "the budget of {}",
                money_text(b.amount, &b.currency, b.approximate)
            );
            (b.item_id, what)
        }
        Money::Contribution => {
            let c = store::contribution(&mut *tx, id)
                .await?
                .ok_or(AppError::NotFound)?;
            let what = format!(
                "the contribution of {} from {}",
                money_text(c.amount, &c.currency, c.approximate),
                c.org_name
            );
            (c.item_id, what)
        }
    };
    if store::set_archived(&mut *tx, table, id, archived).await? {
        let entry = edit::archive_entry(table.entity(), id, Some(item_id), archived, &what);
        audit::record(&mut *tx, &user.actor(), entry).await?;
    }
    tx.commit().await?;
    let done = format!(
        "{}-{}",
        table.entity(),
        if archived { "archived" } else { "restored" }
    );
    edit::see_other(&money_page_url(item_id, &done))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(amount: &str, currency: &str, as_of: &str) -> BudgetForm {
        BudgetForm {
            amount: amount.into(),
            currency: currency.into(),
            as_of: as_of.into(),
            version: "1".into(),
            ..BudgetForm::default()
        }
    }

    fn known() -> Vec<String> {
        vec!["USD".into(), "EUR".into()]
    }

    #[test]
    fn a_valid_budget_form_becomes_fields() {
        let fields = form("19,000,000.50", " eur ", "2008-02-07")
            .validate(&known())
            .expect("valid");
        assert_eq!(fields.amount, Decimal::new(1_900_000_050, 2));
        assert_eq!(fields.currency, "EUR");
        assert_eq!(fields.period, None);
        assert!(!fields.approximate);
    }

    #[test]
    fn every_field_gets_its_own_message() {
        let errors = form("-5", "XXX", "")
            .validate(&known())
            .expect_err("invalid");
        assert_eq!(errors.get("amount"), Some("amounts cannot be negative"));
        assert_eq!(errors.get("currency"), Some("unknown currency code XXX"));
        assert!(
            errors
                .get("as_of")
                .is_some_and(|m| m.contains("exchange rate"))
        );
        let errors = form("1", "USD", "1066-10-14")
            .validate(&known())
            .expect_err("invalid");
        assert_eq!(
            errors.get("as_of"),
            Some("use a year between 1900 and 2100")
        );
    }

    #[test]
    fn conflicts_compare_amounts_not_spellings() {
        assert_eq!(comparable_amount("7000000"), "7,000,000");
        assert_eq!(comparable_amount("7,000,000.00"), "7,000,000");
        assert_eq!(comparable_amount("abc"), "abc");
    }
}
