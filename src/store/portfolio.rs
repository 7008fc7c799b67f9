//! Loads the portfolio tree with each item's own figures in USD, in one query.

use crate::domain::auth::Audience;
use crate::domain::funding::OwnFigures;
use crate::domain::portfolio::{Facets, Gift, ItemSummary, Portfolio};
use rust_decimal::Decimal;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    parent_id: Option<i64>,
    slug: String,
    title: String,
    kind: String,
    status: String,
    report_section: Option<String>,
    published: bool,
    start_date: Option<chrono::NaiveDate>,
    end_date: Option<chrono::NaiveDate>,
    budget_usd: Option<Decimal>,
    pledged_usd: Decimal,
    firm_usd: Decimal,
    paid_usd: Decimal,
    unconverted: i64,
}

/// Own figures per item: budgets and contributions summed in USD by the conversion views.
/// Items are ordered as the report orders them: by section, then as seeded or created.
const LOAD: &str = "
WITH b AS (
    SELECT item_id, sum(amount_usd) AS usd, count(*) FILTER (WHERE amount_usd IS NULL) AS unconverted
      FROM budgets_usd GROUP BY item_id),
c AS (
    SELECT item_id,
           coalesce(sum(amount_usd), 0) AS pledged,
           coalesce(sum(amount_usd) FILTER (WHERE status IN ('committed', 'paid')), 0) AS firm,
           coalesce(sum(amount_usd) FILTER (WHERE status = 'paid'), 0) AS paid,
           count(*) FILTER (WHERE amount_usd IS NULL) AS unconverted
      FROM contributions_usd GROUP BY item_id)
SELECT i.id, i.parent_id, i.slug, i.title, i.kind, i.status, i.report_section, i.published,
       i.start_date, i.end_date,
       b.usd AS budget_usd,
       coalesce(c.pledged, 0) AS pledged_usd,
       coalesce(c.firm, 0) AS firm_usd,
       coalesce(c.paid, 0) AS paid_usd,
       coalesce(b.unconverted, 0) + coalesce(c.unconverted, 0) AS unconverted
  FROM items i
  LEFT JOIN b ON b.item_id = i.id
  LEFT JOIN c ON c.item_id = i.id
 WHERE i.archived_at IS NULL
 ORDER BY i.report_section NULLS LAST, i.id";

/// The computed portfolio, kept in memory and reloaded only when the database's
/// `portfolio_revision` (bumped by triggers on every table the figures depend on) moves.
/// Checking costs one primary-key read; reloading aggregates every contribution.
#[derive(Default)]
pub struct PortfolioCache {
    current: Mutex<Option<(i64, Views)>>,
}

/// The two views of one load: everything not archived, and the published part.
#[derive(Clone)]
struct Views {
    internal: Arc<Portfolio>,
    published: Arc<Portfolio>,
}

impl Views {
    fn for_audience(&self, audience: Audience) -> Arc<Portfolio> {
        match audience {
            Audience::Internal => Arc::clone(&self.internal),
            Audience::Published => Arc::clone(&self.published),
        }
    }
}

impl PortfolioCache {
    pub async fn get(&self, pool: &PgPool, audience: Audience) -> sqlx::Result<Arc<Portfolio>> {
        // Read the revision before loading: a write in between makes the cache look stale
        // on the next request (a harmless reload), never fresh when it is not.
        let revision: i64 = sqlx::query_scalar("SELECT revision FROM portfolio_revision")
            .fetch_one(pool)
            .await?;
        let mut current = self.current.lock().await;
        if let Some((cached, views)) = current.as_ref()
            && *cached == revision
        {
            return Ok(views.for_audience(audience));
        }
        let items = load(pool).await?;
        let views = Views {
            published: Arc::new(Portfolio::visible(&items, |it| it.published)),
            internal: Arc::new(Portfolio::visible(&items, |_| true)),
        };
        let portfolio = views.for_audience(audience);
        *current = Some((revision, views));
        Ok(portfolio)
    }
}

#[derive(sqlx::FromRow)]
struct GiftRow {
    item_id: i64,
    slug: String,
    name: String,
    kind: String,
    pledged_usd: Decimal,
    firm_usd: Decimal,
    paid_usd: Decimal,
    contributions: i64,
    currencies: Vec<String>,
}

/// Every item that is not archived, with its own figures and facets, straight from the
/// database: five queries whatever the portfolio's size.
pub async fn load(pool: &PgPool) -> sqlx::Result<Vec<ItemSummary>> {
    let rows: Vec<Row> = sqlx::query_as(LOAD).fetch_all(pool).await?;
    let mut items: Vec<ItemSummary> = rows.into_iter().map(ItemSummary::from).collect();
    let index: HashMap<i64, usize> = items.iter().enumerate().map(|(i, it)| (it.id, i)).collect();
    let facet = |item_id: i64| index.get(&item_id).copied();

    let areas: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT a.item_id, ra.code, ra.theme_code FROM alignments a
           JOIN result_areas ra ON ra.id = a.result_area_id
          WHERE ra.archived_at IS NULL ORDER BY string_to_array(ra.code, '.')::numeric[]",
    )
    .fetch_all(pool)
    .await?;
    for (item_id, code, theme) in areas {
        if let Some(i) = facet(item_id) {
            let f = &mut items[i].facets;
            f.result_areas.push(code);
            if !f.themes.contains(&theme) {
                f.themes.push(theme);
            }
        }
    }
    let organisations: Vec<(i64, String)> = sqlx::query_as(
        "SELECT c.item_id, o.slug FROM contributions c JOIN organisations o ON o.id = c.org_id
          WHERE c.archived_at IS NULL
         UNION
         SELECT io.item_id, o.slug FROM item_organisations io JOIN organisations o ON o.id = io.org_id",
    )
    .fetch_all(pool)
    .await?;
    for (item_id, slug) in organisations {
        if let Some(i) = facet(item_id) {
            items[i].facets.organisations.push(slug);
        }
    }
    let gifts: Vec<GiftRow> = sqlx::query_as(
        "SELECT c.item_id, o.slug, o.name, o.kind,
                coalesce(sum(c.amount_usd), 0) AS pledged_usd,
                coalesce(sum(c.amount_usd) FILTER (WHERE c.status IN ('committed', 'paid')), 0) AS firm_usd,
                coalesce(sum(c.amount_usd) FILTER (WHERE c.status = 'paid'), 0) AS paid_usd,
                count(*) AS contributions,
                array_agg(DISTINCT c.currency::text ORDER BY c.currency::text) AS currencies
           FROM contributions_usd c JOIN organisations o ON o.id = c.org_id
          GROUP BY c.item_id, o.id",
    )
    .fetch_all(pool)
    .await?;
    for g in gifts {
        if let Some(i) = facet(g.item_id) {
            items[i].facets.gifts.push(Gift {
                org_slug: g.slug,
                org_name: g.name,
                org_kind: g.kind,
                pledged_usd: g.pledged_usd,
                firm_usd: g.firm_usd,
                paid_usd: g.paid_usd,
                contributions: g.contributions,
                currencies: g.currencies,
            });
        }
    }
    let places: Vec<(i64, String)> = sqlx::query_as(
        "SELECT ip.item_id, p.name FROM item_places ip JOIN places p ON p.id = ip.place_id ORDER BY p.name",
    )
    .fetch_all(pool)
    .await?;
    for (item_id, name) in places {
        if let Some(i) = facet(item_id) {
            items[i].facets.places.push(name);
        }
    }
    Ok(items)
}

impl From<Row> for ItemSummary {
    fn from(r: Row) -> Self {
        ItemSummary {
            id: r.id,
            parent_id: r.parent_id,
            slug: r.slug,
            title: r.title,
            kind: r.kind,
            status: r.status,
            report_section: r.report_section,
            published: r.published,
            start_date: r.start_date,
            end_date: r.end_date,
            facets: Facets::default(),
            own: OwnFigures {
                budget_usd: r.budget_usd,
                pledged_usd: r.pledged_usd,
                firm_usd: r.firm_usd,
                paid_usd: r.paid_usd,
                unconverted: u32::try_from(r.unconverted).unwrap_or(u32::MAX),
                has_children: false,
            },
        }
    }
}
