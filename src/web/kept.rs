//! Answers built from one revision of the data and kept with it: a `/funding` view, a
//! workbook, the IATI file. Whatever depends only on the data is built once per
//! revision, never per request; the revision's snapshot holds them, so they go when it
//! goes (a new revision starts empty).
//!
//! A store of answers that readers choose (any filter gives a new one) is bounded in
//! bytes: past its budget an answer is still built and served, only not kept.

use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::web::AppError;

/// Runs a build (or the wait for another request's build of the same answer) on the
/// blocking threads, so that the async threads keep serving meanwhile.
pub async fn off_async<T: Send + 'static>(
    build: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(build)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("building an answer: {e}")))?
}

/// How much memory a kept answer holds, for the budget.
pub trait Weight {
    fn weight(&self) -> usize;
}

impl Weight for Bytes {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl<T: Weight> Weight for Arc<T> {
    fn weight(&self) -> usize {
        T::weight(self)
    }
}

/// One key's answer: empty while its first build runs (or after it failed). Askers of
/// the same key wait on its lock, so a burst of requests builds it once.
type Slot<V> = Arc<Mutex<Option<V>>>;

struct Slots<V> {
    /// The weight (keys included) of the answers counted against the budget.
    bytes: usize,
    /// Each key's slot and what it counts against the budget (0 while it is built).
    by_key: HashMap<String, (Slot<V>, usize)>,
}

/// Answers by key, kept while they fit in a budget of bytes.
pub struct Kept<V> {
    budget: usize,
    slots: Mutex<Slots<V>>,
}

/// A poisoned lock only means a build panicked: what it guards is still consistent
/// (a slot is written whole or not at all).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl<V: Clone + Weight> Kept<V> {
    /// Keeps answers while their weight stays within `budget` bytes.
    pub fn within(budget: usize) -> Kept<V> {
        Kept {
            budget,
            slots: Mutex::new(Slots {
                bytes: 0,
                by_key: HashMap::new(),
            }),
        }
    }

    /// Keeps every answer: for keys from a short, fixed list (the views without filters).
    pub fn all() -> Kept<V> {
        Kept::within(usize::MAX)
    }

    /// The answer kept for `key`, if any (waits if it is being built).
    pub fn get(&self, key: &str) -> Option<V> {
        let slot = lock(&self.slots)
            .by_key
            .get(key)
            .map(|(s, _)| Arc::clone(s))?;
        lock(&slot).clone()
    }

    /// Keeps `value` for `key` if it fits and the key has none yet; returns it either way.
    pub fn keep(&self, key: String, value: V) -> V {
        let mut slots = lock(&self.slots);
        if !slots.by_key.contains_key(&key) && slots.fits(&key, &value, self.budget) {
            let weight = key.len() + value.weight();
            slots.bytes += weight;
            let slot = Arc::new(Mutex::new(Some(value.clone())));
            slots.by_key.insert(key, (slot, weight));
        }
        value
    }

    /// The answer for `key`: the kept one, or built by `build` and kept if it fits. Only
    /// one build of a key runs at a time; the others wait for it and take its answer.
    /// Blocks: call it off the async threads.
    pub fn get_or_build<E>(&self, key: &str, build: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        let slot = Arc::clone(
            &lock(&self.slots)
                .by_key
                .entry(key.to_string())
                .or_default()
                .0,
        );
        let mut answer = lock(&slot);
        if let Some(value) = answer.as_ref() {
            return Ok(value.clone());
        }
        let built = build();
        if let Ok(value) = &built {
            *answer = Some(value.clone());
        }
        drop(answer);
        self.settle(key, &slot, built.as_ref().ok());
        built
    }

    /// Counts a new answer against the budget, or lets its slot go when it failed or does
    /// not fit (a later request builds it again).
    fn settle(&self, key: &str, slot: &Slot<V>, value: Option<&V>) {
        let mut slots = lock(&self.slots);
        let fits = value.is_some_and(|v| slots.fits(key, v, self.budget));
        // the slot may have been let go meanwhile (`retain_only`): then it counts for nothing
        let Some((kept, counted)) = slots.by_key.get_mut(key) else {
            return;
        };
        if !Arc::ptr_eq(kept, slot) || *counted > 0 {
            return;
        }
        match value {
            Some(value) if fits => {
                *counted = key.len() + value.weight();
                let weight = *counted;
                slots.bytes += weight;
            }
            _ => {
                slots.by_key.remove(key);
            }
        }
    }

    /// Lets every answer but `key`'s go: for answers that also depend on the day, once
    /// the day has changed.
    pub fn retain_only(&self, key: &str) {
        let mut slots = lock(&self.slots);
        slots.by_key.retain(|k, _| k == key);
        slots.bytes = slots.by_key.values().map(|(_, counted)| counted).sum();
    }
}

impl<V: Weight> Slots<V> {
    fn fits(&self, key: &str, value: &V, budget: usize) -> bool {
        self.bytes
            .saturating_add(key.len())
            .saturating_add(value.weight())
            <= budget
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn bytes(n: usize) -> Bytes {
        Bytes::from(vec![b'x'; n])
    }

    #[test]
    fn an_answer_is_built_once_and_served_from_memory() {
        let kept: Kept<Bytes> = Kept::all();
        let builds = AtomicUsize::new(0);
        let build = || {
            builds.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(bytes(10))
        };
        assert_eq!(kept.get_or_build("a", build), Ok(bytes(10)));
        assert_eq!(kept.get_or_build("a", build), Ok(bytes(10)));
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        assert_eq!(kept.get("a"), Some(bytes(10)));
    }

    #[test]
    fn past_the_budget_answers_are_served_but_not_kept() {
        let kept: Kept<Bytes> = Kept::within(30);
        assert_eq!(
            kept.get_or_build("a", || Ok::<_, ()>(bytes(20))),
            Ok(bytes(20))
        );
        assert_eq!(
            kept.get_or_build("b", || Ok::<_, ()>(bytes(20))),
            Ok(bytes(20))
        );
        assert!(kept.get("a").is_some(), "the first fits");
        assert!(kept.get("b").is_none(), "the second does not");
        assert_eq!(kept.keep("c".into(), bytes(20)), bytes(20));
        assert!(kept.get("c").is_none());
        assert_eq!(kept.keep("d".into(), bytes(5)), bytes(5));
        assert_eq!(kept.get("d"), Some(bytes(5)), "what still fits is kept");
    }

    #[test]
    fn a_failed_build_is_not_kept_and_is_tried_again() {
        let kept: Kept<Bytes> = Kept::all();
        assert_eq!(kept.get_or_build("a", || Err("no")), Err("no"));
        assert!(kept.get("a").is_none());
        assert_eq!(
            kept.get_or_build("a", || Ok::<_, &str>(bytes(1))),
            Ok(bytes(1))
        );
    }

    #[test]
    fn retain_only_lets_the_others_go_and_frees_their_bytes() {
        let kept: Kept<Bytes> = Kept::within(25);
        kept.keep("day1".into(), bytes(20));
        kept.retain_only("day2");
        assert!(kept.get("day1").is_none());
        assert_eq!(
            kept.get_or_build("day2", || Ok::<_, ()>(bytes(20))),
            Ok(bytes(20))
        );
        assert_eq!(
            kept.get("day2"),
            Some(bytes(20)),
            "the freed budget holds the new day"
        );
    }

    #[test]
    fn concurrent_askers_share_one_build() {
        let kept: Arc<Kept<Bytes>> = Arc::new(Kept::all());
        let builds = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (kept, builds) = (Arc::clone(&kept), Arc::clone(&builds));
                std::thread::spawn(move || {
                    kept.get_or_build("a", || {
                        builds.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        Ok::<_, ()>(bytes(3))
                    })
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().expect("no panic"), Ok(bytes(3)));
        }
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }
}
