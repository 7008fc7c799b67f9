//! `/programmes/{slug}`: everything about one programme, initiative or component.

use crate::web::forms::HtmlPath;
use askama::Template;
use axum::extract::State;
use axum::response::Html;

use crate::domain::auth::Audience;
use crate::domain::portfolio::Portfolio;
use crate::domain::slug;
use crate::domain::vocab::{ContributionStatus, OrgRole, TITLE_NOT_GIVEN, label_of};
use crate::store;
use crate::store::audit;
use crate::web::auth::Nav;
use crate::web::view::{self, FundingView, kind_label, status_label};
use crate::web::{AppError, AppState};
use std::sync::Arc;

use super::render;

pub struct Crumb {
    pub slug: String,
    pub title: String,
}

pub struct ComponentRow {
    pub slug: String,
    pub title: String,
    pub depth: usize,
    pub status: String,
    pub funding: FundingView,
}

pub struct PlaceLink {
    pub name: String,
    pub href: String,
}

pub struct AlignmentRow {
    pub code: String,
    pub title: String,
    pub title_known: bool,
    pub source_para: String,
    pub note: String,
}

pub struct OrgRow {
    pub slug: String,
    pub role: String,
    pub name: String,
    pub source_para: String,
}

pub struct MoneyRow {
    pub who: String,
    pub who_slug: String,
    pub status: String,
    pub original: String,
    pub usd: String,
    pub rate: String,
    pub date: String,
    pub self_financing: bool,
    pub period: String,
    pub source_para: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "item.html")]
pub struct ItemPage {
    pub nav: Nav,
    pub published: bool,
    /// Shown to staff and admins only.
    pub internal_notes: Option<String>,
    pub item_id: i64,
    pub slug: String,
    pub title: String,
    pub kind: String,
    pub status: String,
    pub status_note: String,
    pub summary: String,
    pub description: String,
    pub period: String,
    pub dates: String,
    pub places: Vec<PlaceLink>,
    pub source_paras: String,
    pub report_section: String,
    pub crumbs: Vec<Crumb>,
    pub funding: FundingView,
    pub has_components: bool,
    pub components: Vec<ComponentRow>,
    pub alignments: Vec<AlignmentRow>,
    pub organisations: Vec<OrgRow>,
    pub budgets: Vec<MoneyRow>,
    pub contributions: Vec<MoneyRow>,
}

/// The item behind `slug` if this audience may see it: drafts (and anything under a
/// draft) do not exist for viewers.
async fn visible_item(
    state: &AppState,
    audience: Audience,
    slug: &str,
) -> Result<(store::items::Item, Arc<Portfolio>, usize), AppError> {
    if !slug::is_valid(slug) {
        return Err(AppError::NotFound);
    }
    let item = store::items::by_slug(&state.pool, slug)
        .await?
        .ok_or(AppError::NotFound)?;
    let portfolio = state.portfolio(audience).await?;
    let index = portfolio.index_of(item.id).ok_or(AppError::NotFound)?;
    Ok((item, portfolio, index))
}

pub async fn show(
    State(state): State<AppState>,
    audience: Audience,
    nav: Nav,
    HtmlPath(slug): HtmlPath<String>,
) -> Result<Html<String>, AppError> {
    let (item, portfolio, index) = visible_item(&state, audience, &slug).await?;
    let pool = &state.pool;

    let mut crumbs: Vec<Crumb> = portfolio
        .ancestors(index)
        .map(|a| Crumb {
            slug: portfolio.items[a].slug.clone(),
            title: portfolio.items[a].title.clone(),
        })
        .collect();
    crumbs.reverse();
    let components = portfolio
        .descendants(index)
        .into_iter()
        .map(|(c, depth)| ComponentRow {
            slug: portfolio.items[c].slug.clone(),
            title: portfolio.items[c].title.clone(),
            depth,
            status: status_label(&portfolio.items[c].status),
            funding: FundingView::from(&portfolio.funding(c)),
        })
        .collect::<Vec<_>>();

    let places = store::items::places(pool, item.id).await?;
    let organisations = store::items::organisations(pool, item.id).await?;
    let alignments = store::items::alignments(pool, &[item.id]).await?;
    let budgets = store::items::budgets(pool, item.id).await?;
    let contributions = store::items::contributions(pool, item.id).await?;

    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    render(&ItemPage {
        nav,
        published: item.published,
        internal_notes: (audience == Audience::Internal).then(|| item.internal_notes.clone()),
        item_id: item.id,
        kind: kind_label(&item.kind),
        status: status_label(&item.status),
        status_note: text(&item.status_note),
        period: text(&item.period),
        dates: match (item.start_date, item.end_date) {
            (Some(s), Some(e)) => format!("{s} to {e}"),
            (Some(s), None) => format!("from {s}"),
            (None, Some(e)) => format!("until {e}"),
            (None, None) => String::new(),
        },
        places: places
            .iter()
            .map(|p| PlaceLink {
                href: crate::web::view::place_href(&p.name),
                name: p.name.clone(),
            })
            .collect(),
        source_paras: text(&item.source_paras),
        report_section: text(&item.report_section),
        funding: FundingView::from(&portfolio.funding(index)),
        has_components: !components.is_empty(),
        components,
        crumbs,
        alignments: alignments
            .into_iter()
            .map(|a| AlignmentRow {
                title_known: a.title.is_some(),
                title: a.title.unwrap_or_else(|| TITLE_NOT_GIVEN.to_string()),
                code: a.code,
                source_para: a.source_para.unwrap_or_default(),
                note: a.note.unwrap_or_default(),
            })
            .collect(),
        organisations: organisations
            .into_iter()
            .map(|o| OrgRow {
                slug: o.slug.clone(),
                role: label_of(OrgRole::parse, &o.role),
                name: match o.acronym {
                    Some(acronym) if !o.name.contains(&acronym) => {
                        format!("{} ({acronym})", o.name)
                    }
                    _ => o.name,
                },
                source_para: o.source_para.unwrap_or_default(),
            })
            .collect(),
        budgets: budgets
            .into_iter()
            .map(|b| MoneyRow {
                who: String::new(),
                who_slug: String::new(),
                status: String::new(),
                original: view::amount(b.amount, &b.currency, b.approximate),
                usd: view::optional_usd(b.amount_usd),
                rate: view::rate_used(&b.currency, b.rate_month, b.usd_per_unit),
                date: b.as_of.to_string(),
                self_financing: false,
                period: b.period.unwrap_or_default(),
                source_para: b.source_para.unwrap_or_default(),
                note: b.note.unwrap_or_default(),
            })
            .collect(),
        contributions: contributions
            .into_iter()
            .map(|c| MoneyRow {
                who_slug: c.org_slug.clone(),
                who: c.org_name,
                status: label_of(ContributionStatus::parse, &c.status),
                original: view::amount(c.amount, &c.currency, c.approximate),
                usd: view::optional_usd(c.amount_usd),
                rate: view::rate_used(&c.currency, c.rate_month, c.usd_per_unit),
                date: c
                    .pledged_on
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "not stated".into()),
                self_financing: c.self_financing,
                period: String::new(),
                source_para: c.source_para.unwrap_or_default(),
                note: c.note.unwrap_or_default(),
            })
            .collect(),
        slug: item.slug,
        title: item.title,
        summary: item.summary,
        description: item.description,
    })
}

pub struct HistoryEntry {
    pub at: String,
    pub who: String,
    pub action: String,
    pub what: String,
    pub summary: String,
    pub changes: Vec<(String, String, String)>,
}

impl From<audit::Row> for HistoryEntry {
    fn from(row: audit::Row) -> Self {
        HistoryEntry {
            at: row.at.format("%Y-%m-%d %H:%M UTC").to_string(),
            who: row.actor_email.clone().unwrap_or_else(|| "system".into()),
            action: row.action.replace('_', " "),
            what: match row.entity_id {
                Some(id) => format!("{} #{id}", row.entity),
                None => row.entity.clone(),
            },
            changes: audit::diff(row.before.as_ref(), row.after.as_ref()),
            summary: row.summary,
        }
    }
}

#[derive(Template)]
#[template(path = "history.html")]
pub struct HistoryPage {
    pub nav: Nav,
    pub slug: String,
    pub title: String,
    pub entries: Vec<HistoryEntry>,
}

/// `/programmes/{slug}/history`: every recorded change to the item and its money.
pub async fn history(
    State(state): State<AppState>,
    audience: Audience,
    nav: Nav,
    HtmlPath(slug): HtmlPath<String>,
) -> Result<Html<String>, AppError> {
    let (item, _, _) = visible_item(&state, audience, &slug).await?;
    let entries = audit::for_item(&state.pool, item.id).await?;
    render(&HistoryPage {
        nav,
        slug: item.slug,
        title: item.title,
        entries: entries.into_iter().map(HistoryEntry::from).collect(),
    })
}
