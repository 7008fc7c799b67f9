//! `/organisations/{slug}`: a donor's or partner's contributions by item, status and
//! currency, and the items it takes part in.

use crate::web::forms::HtmlPath;
use askama::Template;
use axum::extract::State;
use axum::response::Html;

use crate::domain::auth::Audience;
use crate::domain::money::format_money;
use crate::domain::slug;
use crate::domain::vocab::{ContributionStatus, OrgRole, label_of};
use crate::store::dashboards;
use crate::web::auth::Nav;
use crate::web::view::{self, org_kind_label};
use crate::web::{AppError, AppState};

use super::render;

pub struct ContributionRow {
    pub item_slug: String,
    pub item_title: String,
    pub status: String,
    pub original: String,
    pub usd: String,
    pub rate: String,
    pub date: String,
    pub self_financing: bool,
    pub source_para: String,
}

pub struct StatusTotal {
    pub status: String,
    pub usd: String,
    pub count: usize,
}

pub struct RoleRow {
    pub item_slug: String,
    pub item_title: String,
    pub role: String,
}

#[derive(Template)]
#[template(path = "organisation.html")]
pub struct OrganisationPage {
    pub nav: Nav,
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub source_paras: String,
    pub contributions: Vec<ContributionRow>,
    pub totals: Vec<StatusTotal>,
    pub currencies: String,
    pub roles: Vec<RoleRow>,
}

pub async fn show(
    State(state): State<AppState>,
    audience: Audience,
    nav: Nav,
    HtmlPath(org_slug): HtmlPath<String>,
) -> Result<Html<String>, AppError> {
    if !slug::is_valid(&org_slug) {
        return Err(AppError::NotFound);
    }
    let org = dashboards::organisation(&state.pool, &org_slug)
        .await?
        .ok_or(AppError::NotFound)?;
    let portfolio = state.portfolio(audience).await?;
    // Only money to items this reader may see.
    let contributions: Vec<_> = dashboards::contributions_of(&state.pool, org.id)
        .await?
        .into_iter()
        .filter_map(|c| portfolio.index_of(c.item_id).map(|i| (i, c)))
        .collect();
    let totals = ContributionStatus::ALL
        .iter()
        .filter_map(|status| {
            let of_status: Vec<_> = contributions
                .iter()
                .filter(|(_, c)| c.status == status.as_str())
                .collect();
            (!of_status.is_empty()).then(|| StatusTotal {
                status: status.label().to_string(),
                usd: format_money(
                    of_status.iter().filter_map(|(_, c)| c.amount_usd).sum(),
                    "USD",
                ),
                count: of_status.len(),
            })
        })
        .collect();
    let mut currencies: Vec<String> = contributions
        .iter()
        .map(|(_, c)| c.currency.clone())
        .collect();
    currencies.sort();
    currencies.dedup();
    let roles = dashboards::roles_of(&state.pool, org.id)
        .await?
        .into_iter()
        .filter_map(|(item_id, role)| {
            portfolio.index_of(item_id).map(|i| RoleRow {
                item_slug: portfolio.items[i].slug.clone(),
                item_title: portfolio.items[i].title.clone(),
                role: label_of(OrgRole::parse, &role),
            })
        })
        .collect();
    render(&OrganisationPage {
        nav,
        slug: org.slug.clone(),
        name: match &org.acronym {
            Some(a) if !org.name.contains(a.as_str()) => format!("{} ({a})", org.name),
            _ => org.name.clone(),
        },
        kind: org_kind_label(&org.kind),
        source_paras: org.source_paras.clone().unwrap_or_default(),
        contributions: contributions
            .into_iter()
            .map(|(i, c)| ContributionRow {
                item_slug: portfolio.items[i].slug.clone(),
                item_title: portfolio.items[i].title.clone(),
                status: label_of(ContributionStatus::parse, &c.status),
                original: view::amount(c.amount, &c.currency, c.approximate),
                usd: view::optional_usd(c.amount_usd),
                rate: view::rate_used(&c.currency, c.rate_month, c.usd_per_unit),
                date: c
                    .pledged_on
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "not stated".into()),
                self_financing: c.self_financing,
                source_para: c.source_para.unwrap_or_default(),
            })
            .collect(),
        totals,
        currencies: currencies.join(", "),
        roles,
    })
}
