//! Admin: monthly exchange rates to US dollars. Saving a rate converts every amount of
//! that currency and month at once (the `*_usd` views read the table and its trigger
//! invalidates the cached portfolio). Rates are never deleted: amounts may have been
//! reported with them; a wrong rate is corrected by editing it.

use askama::Template;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::response::{Html, Response};
use axum::routing::{get, post};
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::str::FromStr;

use crate::domain::forms::FieldErrors;
use crate::store::audit::{self, Entry};
use crate::store::rates::{self as store, Rate, RateFields};
use crate::web::admin::edit::{self, ConflictRow, FormValues};
use crate::web::auth::{Nav, SignedIn};
use crate::web::forms::HtmlForm;
use crate::web::pages::render;
use crate::web::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/exchange-rates", get(list).post(create))
        .route("/admin/exchange-rates/new", get(new))
        .route(
            "/admin/exchange-rates/{currency}/{month}/edit",
            get(edit_form),
        )
        .route("/admin/exchange-rates/{currency}/{month}", post(update))
}

const LIST: &str = "/admin/exchange-rates";
const MAX_SOURCE: usize = 2000;

/// The first value of `key` in a query string. Read by hand so that a repeated or odd
/// parameter never becomes the framework's bare 400 answer (as `Query<T>` would).
pub fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

// ---------------------------------------------------------------- parsing

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("enter the rate: US dollars for one unit of the currency, e.g. 1.4749")]
    Empty,
    #[error("that is not a rate: use digits and a decimal point, e.g. 1.4749")]
    NotANumber,
    #[error("use a decimal point and no commas, e.g. 1.4749")]
    Comma,
    #[error("a rate is more than zero")]
    NotPositive,
    #[error("use at most 10 decimal places")]
    TooManyDecimals,
    #[error(
        "no currency is worth more than 1,000,000 US dollars a unit: check the figure, and that it is US dollars per unit, not units per US dollar"
    )]
    TooLarge,
}

/// The largest rate accepted, in US dollars per unit.
const MAX_RATE: i64 = 1_000_000;

/// Parses a rate typed by a person: `1.4749`, `0.0000238`, `.5`. At most 10 decimal
/// places (the column is NUMERIC(20,10)), more than zero, at most 1,000,000.
pub fn parse_rate(input: &str) -> Result<Decimal, RateError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(RateError::Empty);
    }
    if text.contains(',') {
        return Err(RateError::Comma);
    }
    let (negative, number) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let has_point = number.contains('.');
    if !digits(int_part)
        || !digits(frac_part)
        || (int_part.is_empty() && frac_part.is_empty())
        || (has_point && frac_part.is_empty())
    {
        return Err(RateError::NotANumber);
    }
    if negative {
        return Err(RateError::NotPositive);
    }
    if frac_part.len() > 10 {
        return Err(RateError::TooManyDecimals);
    }
    // Checked before parsing so an absurdly long number cannot overflow a Decimal.
    if int_part.trim_start_matches('0').len() > 7 {
        return Err(RateError::TooLarge);
    }
    let int_part = if int_part.is_empty() { "0" } else { int_part };
    let frac_part = if frac_part.is_empty() { "0" } else { frac_part };
    let rate =
        Decimal::from_str(&format!("{int_part}.{frac_part}")).map_err(|_| RateError::NotANumber)?;
    if rate.is_zero() {
        return Err(RateError::NotPositive);
    }
    if rate > Decimal::from(MAX_RATE) {
        return Err(RateError::TooLarge);
    }
    Ok(rate.normalize())
}

/// `2008-02` (what `<input type="month">` sends) → 2008-02-01. Years 1900-2100 only:
/// anything else is a typing mistake.
pub fn parse_month(raw: &str) -> Option<NaiveDate> {
    let (year, month) = raw.split_once('-')?;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if year.len() != 4 || month.len() != 2 || !digits(year) || !digits(month) {
        return None;
    }
    let year: i32 = year.parse().ok()?;
    let month: u32 = month.parse().ok()?;
    if !(1900..=2100).contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(year, month, 1)
}

/// 2008-02-01 → `February 2008`.
pub fn month_label(month: NaiveDate) -> String {
    month.format("%B %Y").to_string()
}

/// 2008-02-01 → `2008-02`, for URLs and the month input.
pub fn month_value(month: NaiveDate) -> String {
    format!("{:04}-{:02}", month.year(), month.month())
}

/// The rate a URL names: a currency code and a YYYY-MM month, else no such page.
fn parse_key(path: Result<Path<(String, String)>, PathRejection>) -> Result<Key, AppError> {
    let Path((currency, month)) = path.map_err(|_| AppError::NotFound)?;
    let valid_code = currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase());
    match (valid_code, parse_month(&month)) {
        (true, Some(month)) => Ok(Key { currency, month }),
        _ => Err(AppError::NotFound),
    }
}

struct Key {
    currency: String,
    month: NaiveDate,
}

impl Key {
    fn url(&self) -> String {
        format!("{LIST}/{}/{}", self.currency, month_value(self.month))
    }
}

// ---------------------------------------------------------------- the list

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
    pub notice: String,
    pub currency: String,
    pub filter_choices: Vec<String>,
    pub rates: Vec<RateRow>,
}

fn notice_text(done: Option<&str>) -> String {
    match done {
        Some("created") => {
            "Rate added. Amounts in that currency convert with it from its month on, until a later month has a rate."
        }
        Some("saved") => "Saved. Every amount converted with this rate now uses the new figure.",
        _ => "",
    }
    .to_string()
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

pub async fn list(
    State(state): State<AppState>,
    nav: Nav,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, AppError> {
    let known = store::currencies(&state.pool).await?;
    let currency = filter_currency(query_param(query.as_deref(), "currency"), &known)?;
    let rates = store::list(&state.pool, currency.as_deref()).await?;
    render(&ListPage {
        nav,
        notice: notice_text(query_param(query.as_deref(), "done").as_deref()),
        currency: currency.unwrap_or_default(),
        filter_choices: store::currencies_with_rates(&state.pool).await?,
        rates: rates.iter().map(RateRow::from).collect(),
    })
}

// ---------------------------------------------------------------- the form

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct RateForm {
    pub currency: String,
    pub month: String,
    pub usd_per_unit: String,
    pub source: String,
    pub version: String,
}

impl From<&Rate> for RateForm {
    fn from(r: &Rate) -> Self {
        RateForm {
            currency: r.currency.clone(),
            month: month_value(r.month),
            usd_per_unit: r.usd_per_unit.normalize().to_string(),
            source: r.source.clone(),
            version: r.version.to_string(),
        }
    }
}

impl FormValues for RateForm {
    fn values(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Currency", self.currency.clone()),
            (
                "Month",
                parse_month(self.month.trim()).map_or(self.month.clone(), month_label),
            ),
            ("US dollars per unit", self.usd_per_unit.clone()),
            ("Source", self.source.clone()),
        ]
    }
}

impl RateForm {
    fn validate(&self, currencies: &[String]) -> Result<RateFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let currency = self.currency.trim().to_string();
        if currency == "USD" {
            errors.add(
                "currency",
                "US dollars need no rate: choose another currency",
            );
        } else if !currencies.contains(&currency) {
            errors.add("currency", "choose the currency the rate is for");
        }
        let month = parse_month(self.month.trim());
        if month.is_none() {
            errors.add("month", "choose a month, e.g. 2008-02 (year, then month)");
        }
        let usd_per_unit = parse_rate(&self.usd_per_unit)
            .map_err(|e| errors.add("usd_per_unit", e.to_string()))
            .unwrap_or_default();
        let source = self.source.trim().to_string();
        if source.is_empty() {
            errors.add(
                "source",
                "say where the rate comes from, e.g. UN operational rates of exchange, February 2008",
            );
        } else if source.chars().count() > MAX_SOURCE {
            errors.add("source", "a source has at most 2,000 characters");
        }
        errors.into_result(RateFields {
            currency,
            month: month.unwrap_or_default(),
            usd_per_unit,
            source,
        })
    }
}

#[derive(Template)]
#[template(path = "admin/rates/form.html")]
pub struct FormPage {
    pub nav: Nav,
    pub action: String,
    pub is_new: bool,
    pub heading: String,
    pub form: RateForm,
    pub errors: FieldErrors,
    pub conflict: Vec<ConflictRow>,
    pub currencies: Vec<String>,
}

impl FormPage {
    fn new(nav: Nav, key: Option<&Key>, form: RateForm, currencies: Vec<String>) -> FormPage {
        let (action, heading) = match key {
            None => (LIST.to_string(), "Add an exchange rate".to_string()),
            Some(k) => (
                k.url(),
                format!("Edit the {} rate for {}", k.currency, month_label(k.month)),
            ),
        };
        FormPage {
            nav,
            action,
            is_new: key.is_none(),
            heading,
            form,
            errors: FieldErrors::default(),
            conflict: Vec::new(),
            currencies,
        }
    }

    fn with_errors(self, errors: FieldErrors) -> FormPage {
        FormPage { errors, ..self }
    }
}

/// A duplicate (currency, month): the message for the month field.
fn duplicate(e: &sqlx::Error, f: &RateFields) -> Option<FieldErrors> {
    (edit::unique_violation(e).as_deref() == Some("exchange_rates_pkey")).then(|| {
        let mut errors = FieldErrors::default();
        errors.add(
            "month",
            format!(
                "there is already a {} rate for {}: edit that one instead",
                f.currency,
                month_label(f.month)
            ),
        );
        errors
    })
}

pub async fn new(State(state): State<AppState>, nav: Nav) -> Result<Html<String>, AppError> {
    let currencies = store::currencies(&state.pool).await?;
    let form = RateForm {
        version: "0".into(),
        ..RateForm::default()
    };
    render(&FormPage::new(nav, None, form, currencies))
}

pub async fn create(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    HtmlForm(form): HtmlForm<RateForm>,
) -> Result<Response, AppError> {
    let currencies = store::currencies(&state.pool).await?;
    let fields = match form.validate(&currencies) {
        Ok(fields) => fields,
        Err(errors) => {
            return edit::unprocessable(
                &FormPage::new(nav, None, form, currencies).with_errors(errors),
            );
        }
    };
    let mut tx = state.pool.begin().await?;
    if let Err(e) = store::insert(&mut *tx, &fields).await {
        return match duplicate(&e, &fields) {
            Some(errors) => {
                edit::unprocessable(&FormPage::new(nav, None, form, currencies).with_errors(errors))
            }
            None => Err(e.into()),
        };
    }
    let entry = Entry {
        action: "create",
        entity: "exchange_rate",
        entity_id: None,
        item_id: None,
        summary: format!(
            "Added the {} rate for {}: {} USD per unit",
            fields.currency,
            month_label(fields.month),
            fields.usd_per_unit
        ),
        before: None,
        after: Some(&fields),
    };
    audit::record(&mut *tx, &user.actor(), entry).await?;
    tx.commit().await?;
    edit::see_other("/admin/exchange-rates?done=created")
}

pub async fn edit_form(
    State(state): State<AppState>,
    nav: Nav,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Html<String>, AppError> {
    let key = parse_key(path)?;
    let rate = store::by_key(&state.pool, &key.currency, key.month)
        .await?
        .ok_or(AppError::NotFound)?;
    let currencies = store::currencies(&state.pool).await?;
    render(&FormPage::new(
        nav,
        Some(&key),
        RateForm::from(&rate),
        currencies,
    ))
}

pub async fn update(
    State(state): State<AppState>,
    nav: Nav,
    SignedIn(user): SignedIn,
    path: Result<Path<(String, String)>, PathRejection>,
    HtmlForm(form): HtmlForm<RateForm>,
) -> Result<Response, AppError> {
    let key = parse_key(path)?;
    let version = edit::parse_version(&form.version)?;
    let currencies = store::currencies(&state.pool).await?;
    let fields = match form.validate(&currencies) {
        Ok(fields) => fields,
        Err(errors) => {
            return edit::unprocessable(
                &FormPage::new(nav, Some(&key), form, currencies).with_errors(errors),
            );
        }
    };
    let mut tx = state.pool.begin().await?;
    let before = store::by_key(&mut *tx, &key.currency, key.month)
        .await?
        .ok_or(AppError::NotFound)?;
    let saved = match store::update(&mut *tx, &key.currency, key.month, version, &fields).await {
        Ok(saved) => saved,
        Err(e) => {
            return match duplicate(&e, &fields) {
                Some(errors) => edit::unprocessable(
                    &FormPage::new(nav, Some(&key), form, currencies).with_errors(errors),
                ),
                None => Err(e.into()),
            };
        }
    };
    if !saved {
        // Someone saved since this form was loaded: show both, keep what was typed, and
        // let the person save again on top of the current version if they mean to.
        let conflict = edit::conflict_rows(&RateForm::from(&before), &form);
        let form = RateForm {
            version: before.version.to_string(),
            ..form
        };
        return edit::conflict(&FormPage {
            conflict,
            ..FormPage::new(nav, Some(&key), form, currencies)
        });
    }
    let before = RateFields::from(&before);
    let entry = Entry {
        action: "update",
        entity: "exchange_rate",
        entity_id: None,
        item_id: None,
        summary: format!(
            "Edited the {} rate for {}: {} → {} USD per unit",
            key.currency,
            month_label(key.month),
            before.usd_per_unit,
            fields.usd_per_unit
        ),
        before: Some(&before),
        after: Some(&fields),
    };
    audit::record(&mut *tx, &user.actor(), entry).await?;
    tx.commit().await?;
    edit::see_other("/admin/exchange-rates?done=saved")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn accepts_rates_as_people_type_them() {
        assert_eq!(parse_rate("1.4749"), Ok(dec!(1.4749)));
        assert_eq!(parse_rate(" 1.4749 "), Ok(dec!(1.4749)));
        assert_eq!(parse_rate("0.0000238095"), Ok(dec!(0.0000238095)));
        assert_eq!(parse_rate(".5"), Ok(dec!(0.5)));
        assert_eq!(parse_rate("3"), Ok(dec!(3)));
        assert_eq!(parse_rate("1000000"), Ok(dec!(1000000)));
        assert_eq!(parse_rate("1.5000000000"), Ok(dec!(1.5)));
    }

    #[test]
    fn rejects_what_is_not_a_rate() {
        assert_eq!(parse_rate(""), Err(RateError::Empty));
        assert_eq!(parse_rate("0"), Err(RateError::NotPositive));
        assert_eq!(parse_rate("0.0000000000"), Err(RateError::NotPositive));
        assert_eq!(parse_rate("-1"), Err(RateError::NotPositive));
        assert_eq!(parse_rate("abc"), Err(RateError::NotANumber));
        assert_eq!(parse_rate("-abc"), Err(RateError::NotANumber));
        assert_eq!(parse_rate("1e5"), Err(RateError::NotANumber));
        assert_eq!(parse_rate("1."), Err(RateError::NotANumber));
        assert_eq!(parse_rate("."), Err(RateError::NotANumber));
        assert_eq!(parse_rate("1.2.3"), Err(RateError::NotANumber));
        assert_eq!(parse_rate("NaN"), Err(RateError::NotANumber));
        assert_eq!(parse_rate("1_000"), Err(RateError::NotANumber));
        assert_eq!(parse_rate("1,4749"), Err(RateError::Comma));
        assert_eq!(parse_rate("1.12345678901"), Err(RateError::TooManyDecimals));
        assert_eq!(parse_rate("1000000.01"), Err(RateError::TooLarge));
        assert_eq!(parse_rate(&"9".repeat(60)), Err(RateError::TooLarge));
    }

    #[test]
    fn months_are_year_dash_month() {
        assert_eq!(parse_month("2008-02"), NaiveDate::from_ymd_opt(2008, 2, 1));
        for bad in [
            "",
            "2008",
            "2008-2",
            "2008-13",
            "2008-00",
            "08-02",
            "2008-02-01",
            "1800-01",
            "+208-02",
        ] {
            assert_eq!(parse_month(bad), None, "{bad}");
        }
        let feb = NaiveDate::from_ymd_opt(2008, 2, 1).unwrap();
        assert_eq!(month_label(feb), "February 2008");
        assert_eq!(month_value(feb), "2008-02");
    }

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
