//! The computed dashboards, kept in memory per portfolio revision.
//!
//! Each request reads the database's `portfolio_revision` (one primary-key read; triggers
//! bump it on every table the dashboards show). When it moved, one background task loads
//! the new state and computes a new [`Snapshot`] while readers keep the copy they have:
//! only a cold start waits. Requests that write through this instance wait for the
//! rebuild themselves ([`PortfolioCache::refresh`]), so the person who saved sees the
//! change on the next page; other instances pick it up after their own rebuild.

use arc_swap::ArcSwapOption;
use chrono::NaiveDate;
use sqlx::PgPool;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::sync::Mutex;

use crate::store::portfolio;
use crate::web::dashboard::Snapshot;

#[derive(Default)]
pub struct PortfolioCache {
    current: ArcSwapOption<Snapshot>,
    /// Held by whoever builds a snapshot: one build at a time.
    building: Mutex<()>,
    /// A background rebuild is scheduled or running.
    scheduled: AtomicBool,
    /// The portfolio as at past dates (`?as_of=`), newest use last; each built once per
    /// revision and date, by the first request that asks (the others wait for it).
    as_at: std::sync::Mutex<VecDeque<AsAt>>,
}

/// One past date's dashboards at one revision.
type AsAt = (i64, NaiveDate, Arc<tokio::sync::OnceCell<Arc<Snapshot>>>);

/// How many past dates' dashboards are kept (each about the size of today's).
const AS_AT_KEPT: usize = 6;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("computing the dashboards failed: {0}")]
    Build(#[from] tokio::task::JoinError),
}

impl PortfolioCache {
    /// The snapshot a request reads: the newest one built. When the database has moved
    /// on, a rebuild starts in the background and this request still gets the older copy.
    pub async fn for_request(self: &Arc<Self>, pool: &PgPool) -> Result<Arc<Snapshot>, CacheError> {
        let revision = portfolio::revision(pool).await?;
        match self.current.load_full() {
            Some(snapshot) if snapshot.revision >= revision => Ok(snapshot),
            Some(stale) => {
                self.rebuild_in_background(pool.clone());
                Ok(stale)
            }
            None => self.refresh(pool).await,
        }
    }

    /// Makes the snapshot current with the database and waits for it: at start, and after
    /// a write through this instance.
    pub async fn refresh(&self, pool: &PgPool) -> Result<Arc<Snapshot>, CacheError> {
        let _only_builder = self.building.lock().await;
        let revision = portfolio::revision(pool).await?;
        if let Some(snapshot) = self.current.load_full()
            && snapshot.revision >= revision
        {
            return Ok(snapshot);
        }
        let started = Instant::now();
        let data = portfolio::load(pool).await?;
        let loaded = started.elapsed();
        // CPU-bound work off the request threads.
        let snapshot = Arc::new(tokio::task::spawn_blocking(move || Snapshot::build(data)).await?);
        tracing::info!(
            revision = snapshot.revision,
            load_ms = loaded.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "dashboards rebuilt"
        );
        self.install(&snapshot);
        Ok(snapshot)
    }

    /// The dashboards of `current`'s revision as the portfolio stood at the end of `day`.
    pub async fn as_at(
        &self,
        current: &Arc<Snapshot>,
        day: NaiveDate,
    ) -> Result<Arc<Snapshot>, CacheError> {
        let cell = self.as_at_cell(current.revision, day);
        let snapshot = cell
            .get_or_try_init(|| async {
                let now = Arc::clone(current);
                let then = tokio::task::spawn_blocking(move || {
                    Snapshot::build_as_at(now.records.data.as_at(day), day)
                })
                .await?;
                Ok::<_, CacheError>(Arc::new(then))
            })
            .await?;
        Ok(Arc::clone(snapshot))
    }

    /// The slot of (revision, day), made (and the least recently used dropped) if new.
    fn as_at_cell(
        &self,
        revision: i64,
        day: NaiveDate,
    ) -> Arc<tokio::sync::OnceCell<Arc<Snapshot>>> {
        let mut kept = self
            .as_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.retain(|(r, _, _)| *r >= revision);
        let cell = match kept
            .iter()
            .position(|(r, d, _)| *r == revision && *d == day)
        {
            Some(at) => kept.remove(at).map(|(_, _, cell)| cell),
            None => None,
        }
        .unwrap_or_default();
        kept.push_back((revision, day, Arc::clone(&cell)));
        while kept.len() > AS_AT_KEPT {
            kept.pop_front();
        }
        cell
    }

    /// Replaces the current snapshot unless it is already newer.
    fn install(&self, snapshot: &Arc<Snapshot>) {
        self.current.rcu(|current| match current {
            Some(newer) if newer.revision > snapshot.revision => Some(Arc::clone(newer)),
            _ => Some(Arc::clone(snapshot)),
        });
    }

    fn rebuild_in_background(self: &Arc<Self>, pool: PgPool) {
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = cache.refresh(&pool).await {
                tracing::error!("rebuilding the dashboards failed; serving the previous copy: {e}");
            }
            cache.scheduled.store(false, Ordering::Release);
        });
    }
}
