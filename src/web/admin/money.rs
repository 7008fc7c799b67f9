//! Admin: an item's money. Its page lists budgets and contributions (pledges) with
//! their archived rows; both are edited on the generic editing pages, created under
//! their item and audited against it, so the item's History tab shows them. The
//! dashboards follow at once: the portfolio cache reloads when the revision triggers
//! fire.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{Html, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgPool;

use crate::domain::forms::FieldErrors;
use crate::domain::funding::first_of_month;
use crate::domain::money::{format_money, group_thousands};
use crate::domain::records::budget::{
    BudgetForm, NoRate, amount_text, confirm_without_rate, rate_needed,
};
use crate::domain::records::contribution::{ContributionChoices, ContributionForm};
use crate::domain::vocab::ContributionStatus;
use crate::store::money::{
    self as store, Budget, BudgetFields, Budgets, Contribution, ContributionFields, Contributions,
    ItemRef,
};
use crate::store::{organisations, rates};
use crate::web::admin::pipeline::{
    self, Check, Choice, ConflictRow, CreatePage, Done, EditPage, FormPage, PathParams, choices,
    done_param, form_template,
};
use crate::web::auth::Nav;
use crate::web::forms::{HtmlForm, HtmlPath, with_query_param};
use crate::web::pages::render;
use crate::web::view::{MissingRate, usd};
use crate::web::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/items/{id}/money", get(show))
        .merge(pipeline::routes::<Budgets>())
        .merge(pipeline::create_routes::<Budgets>())
        .merge(pipeline::archive_routes::<Budgets>())
        .merge(pipeline::routes::<Contributions>())
        .merge(pipeline::create_routes::<Contributions>())
        .merge(pipeline::archive_routes::<Contributions>())
        .route(
            "/admin/items/{id}/contributions/new/organisation",
            post(add_organisation_first),
        )
}

/// The contribution form's "Add a new organisation first": nothing is saved yet; what
/// was typed travels in the address the organisation form returns to (with `kept`), so
/// the contribution comes back half-filled with the new donor chosen.
async fn add_organisation_first(
    State(state): State<AppState>,
    path: PathParams,
    RawQuery(query): RawQuery,
    HtmlForm(typed): HtmlForm<ContributionForm>,
) -> Result<Response, AppError> {
    let item = item(&state.pool, path.id("id")?).await?.id;
    let typed = ContributionForm {
        version: String::new(),
        ..typed
    };
    let fields = serde_urlencoded::to_string(&typed).map_err(|e| AppError::Internal(e.into()))?;
    let mut back = format!("/admin/items/{item}/contributions/new?{KEPT}=1&{fields}");
    if let Some(origin) = pipeline::return_to(query.as_deref()) {
        back = with_query_param(&back, "return_to", &origin);
    }
    pipeline::see_other(&with_query_param(
        "/admin/organisations/new",
        "return_to",
        &back,
    ))
}

/// Marks a new-contribution address that carries a half-filled form.
const KEPT: &str = "kept";

/// Where "Add a new organisation first" posts: beside the create address, with its query
/// (the `return_to` of the contribution).
fn new_organisation_action(create_action: &str) -> String {
    match create_action.split_once('?') {
        Some((path, query)) => format!("{path}/new/organisation?{query}"),
        None => format!("{create_action}/new/organisation"),
    }
}

fn iso(date: Option<NaiveDate>) -> String {
    date.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

async fn item(pool: &PgPool, id: i64) -> Result<ItemRef, AppError> {
    store::item(pool, id).await?.ok_or(AppError::NotFound)
}

/// Where a save of `entity` (`budget`, `contribution`) returns: the item's money page.
fn money_page_url(item_id: i64, entity: &str, done: Done) -> String {
    let done = match done {
        Done::Created => "added",
        other => other.as_str(),
    };
    format!("/admin/items/{item_id}/money?done={entity}-{done}")
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
            amount: amount_text(b.amount, &b.currency, b.approximate),
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
            status: c.status.label().to_string(),
            amount: amount_text(c.amount, &c.currency, c.approximate),
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
    pub notice: &'static str,
    pub budgets: Vec<BudgetLine>,
    pub contributions: Vec<ContributionLine>,
    /// Counted amounts no exchange rate converts yet, described for the notice.
    pub unconverted: Vec<UnconvertedLine>,
}

/// An amount no rate converts, and the form that adds the rate.
pub struct UnconvertedLine {
    pub text: String,
    pub add_rate: MissingRate,
}

fn notice_text(done: &str) -> &'static str {
    match done {
        "budget-added" => "Budget added.",
        "budget-saved" => "Budget saved.",
        "budget-archived" => "Budget archived: it no longer counts. Restore it below.",
        "budget-restored" => "Budget restored: it counts again.",
        "contribution-added" => "Contribution added.",
        "contribution-saved" => "Contribution saved.",
        "contribution-archived" => "Contribution archived: it no longer counts. Restore it below.",
        "contribution-restored" => "Contribution restored: it counts again.",
        _ => "",
    }
}

fn unconverted(budgets: &[Budget], contributions: &[Contribution]) -> Vec<UnconvertedLine> {
    let line = |what: String, currency: &str, as_of: NaiveDate| UnconvertedLine {
        text: format!(
            "{what} (as of {}): no {currency} rate for {} or earlier.",
            iso(Some(as_of)),
            as_of.format("%Y-%m")
        ),
        add_rate: MissingRate::new(currency, first_of_month(as_of)),
    };
    let budgets = budgets
        .iter()
        .filter(|b| !b.archived && b.amount_usd.is_none())
        .map(|b| {
            let what = format!("The budget of {}", format_money(b.amount, &b.currency));
            line(what, &b.currency, b.as_of)
        });
    let contributions = contributions
        .iter()
        .filter(|c| !c.archived && c.amount_usd.is_none())
        .map(|c| {
            let what = format!(
                "The contribution of {} from {}",
                format_money(c.amount, &c.currency),
                c.org_name
            );
            line(what, &c.currency, c.as_of)
        });
    budgets.chain(contributions).collect()
}

/// The missing rate an amount form's currency and date would need, if any: looked up
/// from what was typed, so the form warns before it saves such an amount. A code the
/// menu does not offer has its own message instead.
async fn no_rate(
    pool: &PgPool,
    currencies: &[String],
    form: (&str, &str),
) -> Result<Option<NoRate>, AppError> {
    let Some((currency, month)) = rate_needed(form.0, form.1) else {
        return Ok(None);
    };
    if !currencies.contains(&currency) {
        return Ok(None);
    }
    Ok((!rates::converts(pool, &currency, month).await?).then_some(NoRate { currency, month }))
}

pub async fn show(
    State(state): State<AppState>,
    nav: Nav,
    HtmlPath(id): HtmlPath<String>,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, AppError> {
    let item = item(&state.pool, pipeline::parse_id(&id)?).await?;
    let budgets = store::budgets(&state.pool, item.id).await?;
    let contributions = store::contributions(&state.pool, item.id).await?;
    render(&MoneyPage {
        nav,
        notice: notice_text(&done_param(query.as_deref())),
        unconverted: unconverted(&budgets, &contributions),
        budgets: budgets.iter().map(BudgetLine::from).collect(),
        contributions: contributions.iter().map(ContributionLine::from).collect(),
        item,
    })
}

/// False when the form carries a currency the menu does not list: the template then
/// keeps it as an extra option, so what was typed is shown, not silently replaced.
fn is_listed(currency: &str, currencies: &[String]) -> bool {
    currency.is_empty() || currencies.iter().any(|c| c == currency)
}

/// The form that adds the rate a typed amount lacks.
fn add_rate(no_rate: &Option<NoRate>) -> Option<MissingRate> {
    no_rate
        .as_ref()
        .map(|missing| MissingRate::new(&missing.currency, missing.month))
}

// ---------------------------------------------------------------------------------------
// Budgets

#[derive(Template)]
#[template(path = "admin/money/budget_form.html")]
pub struct BudgetTemplate {
    pub nav: Nav,
    /// Where Cancel leads: where the person came from, if known.
    pub return_to: Option<String>,
    pub item: ItemRef,
    pub action: String,
    pub is_new: bool,
    pub form: BudgetForm,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
    pub currencies: Vec<String>,
    /// False when the form carries a code the menu does not list (kept, to show it).
    pub known_currency: bool,
    /// The typed currency has no rate for the typed month.
    pub no_rate: Option<NoRate>,
    /// The rate form for it.
    pub add_rate: Option<MissingRate>,
}

/// What a budget form offers, and whether the typed currency has a rate for the month.
#[derive(Default)]
pub struct BudgetChoices {
    pub currencies: Vec<String>,
    pub no_rate: Option<NoRate>,
}

impl EditPage for Budgets {
    /// Listed on the item's money page.
    const LIST: Option<&'static str> = None;
    const UPDATE: &'static str = "/admin/budgets/{id}";
    type Form = BudgetForm;
    type Context = BudgetChoices;

    fn parse_key(path: &PathParams) -> Result<i64, AppError> {
        path.id("id")
    }

    async fn owner_of(pool: &PgPool, budget: &Budget) -> Result<ItemRef, AppError> {
        item(pool, budget.item_id).await
    }

    async fn context(
        pool: &PgPool,
        _: &ItemRef,
        _: Option<&Budget>,
        form: &BudgetForm,
    ) -> Result<BudgetChoices, AppError> {
        let currencies = store::currencies(pool).await?;
        Ok(BudgetChoices {
            no_rate: no_rate(pool, &currencies, (&form.currency, &form.as_of)).await?,
            currencies,
        })
    }

    fn form_of(b: &Budget) -> BudgetForm {
        BudgetForm {
            amount: group_thousands(b.amount),
            currency: b.currency.clone(),
            approximate: b.approximate.then(|| "on".to_string()),
            period: b.period.clone().unwrap_or_default(),
            as_of: iso(Some(b.as_of)),
            source_para: b.source_para.clone().unwrap_or_default(),
            note: b.note.clone().unwrap_or_default(),
            without_rate: None,
            version: b.version.to_string(),
        }
    }

    fn validate(form: &BudgetForm, check: Check<'_, Self>) -> Result<BudgetFields, FieldErrors> {
        let context = check.context;
        let result = form.validate(&context.currencies);
        confirm_without_rate(result, context.no_rate.as_ref(), &form.without_rate)
    }

    fn conflict_values(form: &BudgetForm, _: &BudgetChoices) -> Vec<(&'static str, String)> {
        form.labelled()
    }

    fn done_url(budget: &Budget, done: Done) -> String {
        money_page_url(budget.item_id, "budget", done)
    }

    fn render(page: FormPage<'_, Self>) -> Result<String, askama::Error> {
        let known_currency = is_listed(&page.form.currency, &page.context.currencies);
        form_template!(
            page,
            BudgetTemplate {
                known_currency,
                item: page.owner.clone(),
                currencies: page.context.currencies,
                add_rate: add_rate(&page.context.no_rate),
                no_rate: page.context.no_rate,
            }
        )
        .render()
    }
}

impl CreatePage for Budgets {
    const CREATE: &'static str = "/admin/items/{id}/budgets";

    async fn owner(pool: &PgPool, path: &PathParams) -> Result<ItemRef, AppError> {
        item(pool, path.id("id")?).await
    }

    fn blank(_: &BudgetChoices) -> BudgetForm {
        BudgetForm {
            currency: "USD".into(),
            version: "0".into(),
            ..BudgetForm::default()
        }
    }
}

// ---------------------------------------------------------------------------------------
// Contributions

#[derive(Template)]
#[template(path = "admin/money/contribution_form.html")]
pub struct ContributionTemplate {
    pub nav: Nav,
    /// Where Cancel leads: where the person came from, if known.
    pub return_to: Option<String>,
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
    /// The typed currency has no rate for the typed month.
    pub no_rate: Option<NoRate>,
    /// The rate form for it.
    pub add_rate: Option<MissingRate>,
    /// Where the form goes to add the donor first (`add_organisation_first`).
    pub new_organisation_action: String,
}

impl EditPage for Contributions {
    /// Listed on the item's money page.
    const LIST: Option<&'static str> = None;
    const UPDATE: &'static str = "/admin/contributions/{id}";
    type Form = ContributionForm;
    type Context = ContributionChoices;

    fn parse_key(path: &PathParams) -> Result<i64, AppError> {
        path.id("id")
    }

    async fn owner_of(pool: &PgPool, contribution: &Contribution) -> Result<ItemRef, AppError> {
        item(pool, contribution.item_id).await
    }

    /// Currencies, and organisations that are not archived (plus the one already
    /// recorded, if it was archived since, so an edit keeps it).
    async fn context(
        pool: &PgPool,
        _: &ItemRef,
        current: Option<&Contribution>,
        form: &ContributionForm,
    ) -> Result<ContributionChoices, AppError> {
        let mut orgs = organisations::choices(pool).await?;
        if let Some(c) = current.filter(|c| !orgs.iter().any(|(id, _)| *id == c.org_id)) {
            orgs.push((c.org_id, format!("{} (archived)", c.org_name)));
        }
        let currencies = store::currencies(pool).await?;
        Ok(ContributionChoices {
            no_rate: no_rate(pool, &currencies, (&form.currency, &form.as_of)).await?,
            currencies,
            organisations: orgs,
        })
    }

    fn form_of(c: &Contribution) -> ContributionForm {
        ContributionForm {
            organisation: c.org_id.to_string(),
            amount: group_thousands(c.amount),
            currency: c.currency.clone(),
            status: c.status.as_str().into(),
            pledged_on: iso(c.pledged_on),
            as_of: iso(Some(c.as_of)),
            approximate: c.approximate.then(|| "on".to_string()),
            self_financing: c.self_financing.then(|| "on".to_string()),
            source_para: c.source_para.clone().unwrap_or_default(),
            note: c.note.clone().unwrap_or_default(),
            without_rate: None,
            version: c.version.to_string(),
        }
    }

    fn validate(
        form: &ContributionForm,
        check: Check<'_, Self>,
    ) -> Result<ContributionFields, FieldErrors> {
        let result = form.validate(check.context);
        confirm_without_rate(result, check.context.no_rate.as_ref(), &form.without_rate)
    }

    fn conflict_values(
        form: &ContributionForm,
        choices: &ContributionChoices,
    ) -> Vec<(&'static str, String)> {
        form.labelled(choices)
    }

    fn done_url(contribution: &Contribution, done: Done) -> String {
        money_page_url(contribution.item_id, "contribution", done)
    }

    fn render(page: FormPage<'_, Self>) -> Result<String, askama::Error> {
        let ContributionChoices {
            currencies,
            organisations,
            no_rate,
        } = page.context;
        let organisations = organisations
            .into_iter()
            .map(|(id, name)| Choice::new(id, name));
        let new_organisation_action = new_organisation_action(&page.action);
        form_template!(
            page,
            ContributionTemplate {
                new_organisation_action,
                known_currency: is_listed(&page.form.currency, &currencies),
                organisations: organisations.collect(),
                statuses: choices::<ContributionStatus>(),
                currencies,
                add_rate: add_rate(&no_rate),
                no_rate,
                item: page.owner.clone(),
            }
        )
        .render()
    }
}

impl CreatePage for Contributions {
    const CREATE: &'static str = "/admin/items/{id}/contributions";

    async fn owner(pool: &PgPool, path: &PathParams) -> Result<ItemRef, AppError> {
        item(pool, path.id("id")?).await
    }

    fn blank(_: &ContributionChoices) -> ContributionForm {
        ContributionForm {
            currency: "USD".into(),
            status: ContributionStatus::Pledged.as_str().into(),
            version: "0".into(),
            ..ContributionForm::default()
        }
    }

    /// Back from adding the donor the menu lacked: what was typed before
    /// (`add_organisation_first`), with `?organisation=<id>` chosen.
    fn prefill(form: &mut ContributionForm, query: Option<&str>) {
        let kept = query
            .filter(|q| pipeline::query_param(Some(q), KEPT).is_some())
            .and_then(|q| serde_urlencoded::from_str::<ContributionForm>(q).ok());
        if let Some(typed) = kept {
            *form = ContributionForm {
                organisation: String::new(),
                version: form.version.clone(),
                ..typed
            };
        }
        if let Some(id) = pipeline::query_param(query, "organisation")
            .filter(|id| !id.is_empty() && id.len() <= 19 && id.bytes().all(|b| b.is_ascii_digit()))
        {
            form.organisation = id;
        }
    }
}
