//! The feature table served from memory for online scoring.
//!
//! [`FeatureCache`] holds the current feature vector of every customer (the rows of the
//! versioned feature table at [`FEATURE_VERSION`], decoded once) and keeps itself current by
//! reading only the rows written since it last looked (`features.written_at`, indexed), at most
//! once per [`SYNC_EVERY`]. A batch refresh or an online recomputation in any process therefore
//! reaches scoring within about a second, and a score costs no feature-table query.
//!
//! Invariants:
//! - The cache never decides consent: callers check profiling consent from the store on every
//!   request before asking it (so a withdrawn consent takes effect at once whatever is cached).
//! - What this process deletes it evicts at once ([`FeatureCache::evict`]: consent withdrawal,
//!   erasure). A row another process deletes stays here until that customer's row is written
//!   again; for an erased customer that is harmless (the store no longer knows them, so the
//!   consent check fails first); a customer who withdrew profiling consent through another
//!   process and later granted it again may be scored from the vector cached before until the
//!   next refresh writes theirs (documented in README).
//! - Each poll re-reads the last [`LATE_COMMIT_MARGIN`] of writes, so a transaction that took its
//!   timestamp before another's but committed after it is not missed.

use crate::Result;
use sextant_core::CustomerId;
use sextant_features::{FEATURE_VERSION, FeatureVector};
use sextant_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How often the cache asks the store for rows written since its last look.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);
/// Writes this recent are read again on every poll (µs).
pub const LATE_COMMIT_MARGIN: i64 = 5_000_000;
/// Rows per page when reading changes.
const PAGE: u32 = 5_000;

#[derive(Default)]
struct Inner {
    vectors: HashMap<CustomerId, Arc<FeatureVector>>,
    /// Newest `written_at` applied.
    newest: i64,
    checked: Option<Instant>,
}

/// The in-memory feature table (see the module docs). Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct FeatureCache {
    inner: RwLock<Inner>,
    /// Serializes syncs, so one request reads the changes while the others keep serving.
    syncing: tokio::sync::Mutex<()>,
}

impl FeatureCache {
    /// The customer's current feature vector, if the feature table has one of this version.
    pub async fn get(
        &self,
        store: &dyn Store,
        id: &CustomerId,
    ) -> Result<Option<Arc<FeatureVector>>> {
        self.sync(store).await?;
        Ok(self.peek(id))
    }

    /// What is in memory now, without looking for changes.
    pub fn peek(&self, id: &CustomerId) -> Option<Arc<FeatureVector>> {
        self.inner
            .read()
            .expect("feature cache poisoned")
            .vectors
            .get(id)
            .cloned()
    }

    /// Customers held in memory.
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .expect("feature cache poisoned")
            .vectors
            .len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forget a customer at once (this process deleted their features).
    pub fn evict(&self, id: &CustomerId) {
        self.inner
            .write()
            .expect("feature cache poisoned")
            .vectors
            .remove(id);
    }

    /// Apply the rows written since the last look, if [`SYNC_EVERY`] has passed (the first
    /// call loads the whole table).
    pub async fn sync(&self, store: &dyn Store) -> Result<()> {
        self.sync_with(store, false).await
    }

    /// Apply the rows written since the last look now, whatever the time since.
    pub async fn sync_now(&self, store: &dyn Store) -> Result<()> {
        self.sync_with(store, true).await
    }

    async fn sync_with(&self, store: &dyn Store, force: bool) -> Result<()> {
        let due = |i: &Inner| force || i.checked.is_none_or(|t| t.elapsed() >= SYNC_EVERY);
        if !due(&self.inner.read().expect("feature cache poisoned")) {
            return Ok(());
        }
        let _guard = if force {
            self.syncing.lock().await
        } else if let Ok(g) = self.syncing.try_lock() {
            g
        } else {
            // Another request is reading the changes: serve what is here, unless nothing has
            // been loaded yet (then wait for the load).
            let loaded = self.inner.read().expect("feature cache poisoned").checked;
            if loaded.is_none() {
                drop(self.syncing.lock().await);
            }
            return Ok(());
        };
        if !due(&self.inner.read().expect("feature cache poisoned")) {
            return Ok(());
        }
        let start = {
            let i = self.inner.read().expect("feature cache poisoned");
            if i.checked.is_none() {
                i64::MIN
            } else {
                i.newest.saturating_sub(LATE_COMMIT_MARGIN)
            }
        };
        let mut cursor: (i64, Option<CustomerId>) = (start, None);
        loop {
            let page = store
                .features_written_since((cursor.0, cursor.1.as_ref()), PAGE)
                .await?;
            let full = page.len() == PAGE as usize;
            let mut decoded = Vec::with_capacity(page.len());
            for (written, row) in page {
                let v = (row.version == FEATURE_VERSION as i64)
                    .then(|| serde_json::from_str::<FeatureVector>(&row.vector).ok())
                    .flatten();
                cursor = (written, Some(row.customer_id.clone()));
                decoded.push((written, row.customer_id, v));
            }
            {
                let mut i = self.inner.write().expect("feature cache poisoned");
                for (written, id, v) in decoded {
                    i.newest = i.newest.max(written);
                    match v {
                        Some(v) => i.vectors.insert(id, Arc::new(v)),
                        None => i.vectors.remove(&id),
                    };
                }
            }
            if !full {
                break;
            }
        }
        self.inner.write().expect("feature cache poisoned").checked = Some(Instant::now());
        Ok(())
    }
}
