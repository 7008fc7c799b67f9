//! `/organisations/{slug}`: a donor's or partner's contributions by item, status and
//! currency, and the items it takes part in.

use crate::web::forms::HtmlPath;
use askama::Template;
use axum::response::Html;

use std::collections::HashMap;

use crate::domain::auth::Audience;
use crate::domain::funding::OwnFigures;
use crate::domain::portfolio::Portfolio;
use crate::domain::slug;
use crate::domain::vocab::ContributionStatus;
use crate::store::portfolio::ContributionRecord;
use crate::web::AppError;
use crate::web::auth::Nav;
use crate::web::dashboard::Records;
use crate::web::snapshot::Snap;
use crate::web::view::{Pager, lower_bound_prefix, not_converted, org_kind_label, usd_excluding};

use super::{ContributionCells, PageNumber, render};

pub struct ContributionRow {
    pub item_slug: String,
    pub item_title: String,
    pub item_draft: bool,
    pub cells: ContributionCells,
}

pub struct StatusTotal {
    pub status: String,
    pub usd: String,
    /// Why part of it is not in USD ("not converted: no NOK rate for March 2008").
    pub not_converted: String,
    pub count: usize,
}

pub struct RoleRow {
    pub item_slug: String,
    pub item_title: String,
    pub item_draft: bool,
    pub role: String,
}

#[derive(Template)]
#[template(path = "organisation.html")]
pub struct OrganisationPage<'a> {
    pub nav: Nav,
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub source_paras: String,
    pub contributions: Vec<ContributionRow>,
    pub contribution_count: usize,
    pub pager: Pager,
    pub totals: &'a [StatusTotal],
    pub currencies: &'a str,
    pub roles: Vec<RoleRow>,
}

/// One organisation's money as one audience sees it, computed once per revision.
#[derive(Default)]
pub struct OrganisationSummary {
    /// (item index, contribution record index), in the order the page lists them.
    pub contributions: Vec<(usize, usize)>,
    pub totals: Vec<StatusTotal>,
    /// Original currencies, sorted: "EUR, USD".
    pub currencies: String,
}

/// Every organisation's summary, by organisation id; only money to items this audience
/// may see.
pub fn summaries(portfolio: &Portfolio, records: &Records) -> HashMap<i64, OrganisationSummary> {
    let data = &records.data;
    data.organisations
        .iter()
        .filter(|o| !o.archived)
        .map(|org| {
            let contributions: Vec<(usize, usize)> = records
                .contribution_indices_of_org(org.id)
                .iter()
                .filter_map(|&c| Some((portfolio.index_of(data.contributions[c].item_id)?, c)))
                .collect();
            let records_of = || contributions.iter().map(|&(_, c)| &data.contributions[c]);
            let totals = ContributionStatus::ALL
                .iter()
                .filter_map(|status| {
                    let of_status: Vec<&ContributionRecord> =
                        records_of().filter(|c| c.status == *status).collect();
                    (!of_status.is_empty()).then(|| {
                        let mut sum = OwnFigures::default();
                        for c in &of_status {
                            c.add_to(&mut sum);
                        }
                        let usd = usd_excluding(sum.pledged_usd, &sum.unconverted.pledged());
                        let at_least = lower_bound_prefix(sum.lower_bounds.pledged > 0);
                        StatusTotal {
                            status: status.label().to_string(),
                            usd: format!("{at_least}{usd}"),
                            not_converted: not_converted(&sum.unconverted),
                            count: of_status.len(),
                        }
                    })
                })
                .collect();
            let mut currencies: Vec<&str> = records_of().map(|c| c.currency.as_str()).collect();
            currencies.sort_unstable();
            currencies.dedup();
            let summary = OrganisationSummary {
                totals,
                currencies: currencies.join(", "),
                contributions,
            };
            (org.id, summary)
        })
        .collect()
}

/// Contributions per page.
const PAGE_SIZE: usize = 50;

pub async fn show(
    snap: Snap,
    audience: Audience,
    nav: Nav,
    HtmlPath(org_slug): HtmlPath<String>,
    PageNumber(page): PageNumber,
) -> Result<Html<String>, AppError> {
    if !slug::is_valid(&org_slug) {
        return Err(AppError::NotFound);
    }
    let records = &snap.records;
    let dashboard = snap.dashboard(audience);
    // An organisation named on drafts alone does not exist for delegates.
    let org = records
        .organisation(&org_slug)
        .filter(|o| dashboard.shows_organisation(&o.slug))
        .ok_or(AppError::NotFound)?;
    let portfolio = &dashboard.portfolio;
    let summary = dashboard.organisation(records, org.id);
    let contributions = &summary.contributions;
    let roles = records
        .roles_of_org(org.id)
        .filter_map(|r| {
            portfolio.index_of(r.item_id).map(|i| RoleRow {
                item_slug: portfolio.items[i].slug.clone(),
                item_title: portfolio.items[i].title.clone(),
                item_draft: !portfolio.items[i].published,
                role: r.role.label().to_string(),
            })
        })
        .collect();
    let pager = Pager::new(
        page,
        contributions.len(),
        PAGE_SIZE,
        format!("/organisations/{}", org.slug),
    )?;
    render(&OrganisationPage {
        nav,
        slug: org.slug.clone(),
        name: org.display_name(),
        kind: org_kind_label(org.kind),
        source_paras: org.source_paras.clone().unwrap_or_default(),
        contribution_count: contributions.len(),
        contributions: contributions[pager.range()]
            .iter()
            .map(|&(i, c)| (i, &records.data.contributions[c]))
            .map(|(i, c)| ContributionRow {
                item_slug: portfolio.items[i].slug.clone(),
                item_title: portfolio.items[i].title.clone(),
                item_draft: !portfolio.items[i].published,
                cells: ContributionCells::from(c),
            })
            .collect(),
        pager,
        totals: &summary.totals,
        currencies: &summary.currencies,
        roles,
    })
}
