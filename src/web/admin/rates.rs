//! Admin: monthly exchange rates to US dollars, on the generic editing pages. Saving a
//! rate converts every amount of that currency and month at once (the `*_usd` views read
//! the table and its trigger invalidates the cached portfolio).

use askama::Template;
use axum::Router;
use axum::response::Html;
use chrono::NaiveDate;
use sqlx::PgPool;

use crate::domain::forms::FieldErrors;
use crate::domain::records::rate::{RateFields, RateForm, month_label, month_value, parse_month};
use crate::store::rates::{self as store, Rate, Rates};
use crate::web::admin::pipeline::{
    self, Choice, ConflictRow, CreatePage, Done, EditPage, FormPage, PathParams, done_param,
};
use crate::web::auth::{CurrentUser, Nav};
use crate::web::pages::render;
use crate::web::{AppError, AppState};

const LIST: &str = "/admin/exchange-rates";

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

/// The first value of `key` in a query string. Read by hand so that a repeated or odd
/// parameter never becomes the framework's bare 400 answer (as `Query<T>` would).
fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
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

    fn validate(
        form: &RateForm,
        currencies: &Vec<String>,
        _: Option<&Rate>,
        _: &CurrentUser,
    ) -> Result<RateFields, FieldErrors> {
        form.validate(currencies)
    }

    fn version_field(form: &mut RateForm) -> &mut String {
        &mut form.version
    }

    fn conflict_values(form: &RateForm, _: &Vec<String>) -> Vec<(&'static str, String)> {
        form.labelled()
    }

    fn done_url(_: &Rate, done: Done) -> String {
        format!("{LIST}?done={}", done.as_str())
    }

    fn render(page: FormPage<'_, Self>) -> Result<String, askama::Error> {
        let heading = match page.record {
            None => "Add an exchange rate".to_string(),
            Some(r) => format!("Edit the {} rate for {}", r.currency, month_label(r.month)),
        };
        FormTemplate {
            nav: page.nav,
            action: page.action,
            is_new: page.is_new,
            heading,
            form: page.form,
            errors: page.errors,
            conflict: page.conflict,
            currencies: page
                .context
                .iter()
                .map(|c| Choice::new(c, c.as_str()))
                .collect(),
        }
        .render()
    }

    async fn list(
        state: &AppState,
        nav: Nav,
        query: Option<String>,
    ) -> Result<Html<String>, AppError> {
        let known = store::currencies(&state.pool).await?;
        let currency = filter_currency(query_param(query.as_deref(), "currency"), &known)?;
        let rates = store::list(&state.pool, currency.as_deref()).await?;
        render(&ListPage {
            nav,
            notice: notice_text(&done_param(query.as_deref())),
            currency: currency.unwrap_or_default(),
            filter_choices: store::currencies_with_rates(&state.pool).await?,
            rates: rates.iter().map(RateRow::from).collect(),
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
    }
}
