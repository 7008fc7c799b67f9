//! Admin: monthly exchange rates to US dollars, on the generic editing pages. Saving a
//! rate converts every amount of that currency and month at once (the `*_usd` views read
//! the table and its trigger invalidates the cached portfolio).

use askama::Template;
use axum::Router;
use chrono::NaiveDate;
use sqlx::PgPool;

use crate::domain::forms::FieldErrors;
use crate::domain::records::rate::{RateFields, RateForm, month_label, month_value, parse_month};
use crate::store::rates::{self as store, Rate, Rates};
use crate::web::admin::pipeline::{
    self, Check, Choice, ConflictRow, CreatePage, EditPage, FormPage, HtmlResult, ListRequest,
    PathParams, form_template,
};
use crate::web::auth::Nav;
use crate::web::pages::render;
use crate::web::{AppError, AppState};

/// The most of a prefilled value the form shows (a code or a month is far shorter).
const PREFILL_MAX: usize = 20;

pub fn routes() -> Router<AppState> {
    pipeline::routes::<Rates>().merge(pipeline::create_routes::<Rates>())
}

pub struct RateRow {
    pub currency: String,
    pub month: String,
    pub month_value: String,
    pub usd_per_unit: String,
    pub source: String,
}

impl From<&Rate> for RateRow {
    fn from(r: &Rate) -> Self {
        RateRow {
            currency: r.currency.clone(),
            month: month_label(r.month),
            month_value: month_value(r.month),
            usd_per_unit: r.usd_per_unit.normalize().to_string(),
            source: r.source.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/rates/list.html")]
pub struct ListPage {
    pub nav: Nav,
    pub notice: &'static str,
    pub currency: String,
    pub filter_choices: Vec<String>,
    pub rates: Vec<RateRow>,
}

fn notice_text(done: &str) -> &'static str {
    match done {
        "created" => {
            "Rate added. Amounts in that currency convert with it from its month on, until a later month has a rate."
        }
        "saved" => "Saved. Every amount converted with this rate now uses the new figure.",
        _ => "",
    }
}

/// The `?currency=` filter: empty for all, else a known code other than USD.
fn filter_currency(raw: Option<String>, known: &[String]) -> Result<Option<String>, AppError> {
    let code = match raw.as_deref().map(str::trim) {
        None | Some("") => return Ok(None),
        Some(code) => code.to_ascii_uppercase(),
    };
    if code == "USD" {
        return Err(AppError::BadRequest(
            "US dollars have no exchange rate: every amount is converted to them. Choose another currency."
                .into(),
        ));
    }
    if !known.contains(&code) {
        let shown: String = code.chars().take(12).collect();
        return Err(AppError::BadRequest(format!(
            "“{shown}” is not a currency code this system knows. Use a three-letter ISO 4217 code such as EUR."
        )));
    }
    Ok(Some(code))
}

#[derive(Template)]
#[template(path = "admin/rates/form.html")]
pub struct FormTemplate {
    pub nav: Nav,
    /// Where Cancel leads: where the person came from, if known.
    pub return_to: Option<String>,
    pub action: String,
    pub is_new: bool,
    pub heading: String,
    pub form: RateForm,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
    pub currencies: Vec<Choice>,
}

impl EditPage for Rates {
    const LIST: Option<&'static str> = Some("/admin/exchange-rates");
    const UPDATE: &'static str = "/admin/exchange-rates/{currency}/{month}";
    type Form = RateForm;
    /// The currencies a rate can be given for.
    type Context = Vec<String>;

    /// A currency code and a YYYY-MM month, else no such page.
    fn parse_key(path: &PathParams) -> Result<(String, NaiveDate), AppError> {
        let currency = path.get("currency");
        let valid_code = currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase());
        match (valid_code, parse_month(path.get("month"))) {
            (true, Some(month)) => Ok((currency.to_string(), month)),
            _ => Err(AppError::NotFound),
        }
    }

    async fn context(
        pool: &PgPool,
        _: &(),
        _: Option<&Rate>,
        _: &RateForm,
    ) -> Result<Vec<String>, AppError> {
        Ok(store::currencies(pool).await?)
    }

    fn form_of(r: &Rate) -> RateForm {
        RateForm {
            currency: r.currency.clone(),
            month: month_value(r.month),
            usd_per_unit: r.usd_per_unit.normalize().to_string(),
            source: r.source.clone(),
            version: r.version.to_string(),
        }
    }

    fn validate(form: &RateForm, check: Check<'_, Self>) -> Result<RateFields, FieldErrors> {
        form.validate(check.context)
    }

    fn conflict_values(form: &RateForm, _: &Vec<String>) -> Vec<(&'static str, String)> {
        form.labelled()
    }

    fn render(page: FormPage<'_, Self>) -> Result<String, askama::Error> {
        let heading = match page.record {
            None => "Add an exchange rate".to_string(),
            Some(r) => format!("Edit the {} rate for {}", r.currency, month_label(r.month)),
        };
        let currencies = page.context.iter().map(|c| Choice::new(c, c.as_str()));
        form_template!(
            page,
            FormTemplate {
                heading,
                currencies: currencies.collect(),
            }
        )
        .render()
    }

    async fn list(request: ListRequest<'_>) -> HtmlResult {
        let known = store::currencies(request.pool()).await?;
        let currency = filter_currency(request.param("currency"), &known)?;
        let rates = store::list(request.pool(), currency.as_deref()).await?;
        render(&ListPage {
            notice: notice_text(&request.param("done").unwrap_or_default()),
            currency: currency.unwrap_or_default(),
            filter_choices: store::currencies_with_rates(request.pool()).await?,
            rates: rates.iter().map(RateRow::from).collect(),
            nav: request.nav,
        })
    }
}

impl CreatePage for Rates {
    const CREATE: &'static str = "/admin/exchange-rates";

    fn blank(_: &Vec<String>) -> RateForm {
        RateForm {
            version: "0".into(),
            ..RateForm::default()
        }
    }

    /// `?currency=NOK&month=2008-03`, from the link beside an amount that lacks the rate.
    /// Shown as given (a short prefix of it): the save checks both.
    fn prefill(form: &mut RateForm, query: Option<&str>) {
        let given = |key: &str| {
            pipeline::query_param(query, key)
                .map(|value| value.trim().chars().take(PREFILL_MAX).collect::<String>())
        };
        if let Some(currency) = given("currency") {
            form.currency = currency.to_ascii_uppercase();
        }
        if let Some(month) = given("month") {
            form.month = month;
        }
    }
}
