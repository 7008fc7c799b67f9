//! Loads the portfolio tree with each item's own figures in USD, in one query.

use crate::domain::auth::Audience;
use crate::domain::funding::OwnFigures;
use crate::domain::portfolio::{ItemSummary, Portfolio};
use rust_decimal::Decimal;
use sqlx::PgPool;
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
        if let Some((cached, views)) = current.as_ref() {
            if *cached == revision {
                return Ok(views.for_audience(audience));
            }
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

/// Every item that is not archived, with its own figures, straight from the database.
pub async fn load(pool: &PgPool) -> sqlx::Result<Vec<ItemSummary>> {
    let rows: Vec<Row> = sqlx::query_as(LOAD).fetch_all(pool).await?;
    Ok(rows.into_iter().map(ItemSummary::from).collect())
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
