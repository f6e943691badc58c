//! Fan-out of committed alerts to live subscribers (Server-Sent Events) and the runtime's
//! counters. Only alerts already committed to the store are published here.

use serde::Serialize;
use sextant_stream::Alert;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use tokio::sync::broadcast;

/// Live alert subscribers. A slow subscriber that falls more than the channel's capacity behind
/// misses alerts (it sees `Lagged` and can re-read them from `/v1/alerts`); the processor never
/// waits for subscribers.
#[derive(Clone)]
pub struct AlertHub {
    tx: broadcast::Sender<Arc<Alert>>,
}

impl Default for AlertHub {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl AlertHub {
    pub fn new(capacity: usize) -> Self {
        Self {
            tx: broadcast::channel(capacity).0,
        }
    }
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Alert>> {
        self.tx.subscribe()
    }
    pub(crate) fn publish(&self, a: Alert) {
        // No subscribers is fine.
        let _ = self.tx.send(Arc::new(a));
    }
}

/// Counters shared by ingestion, processors and the status route.
#[derive(Default)]
pub(crate) struct Counters {
    pub accepted: AtomicU64,
    pub duplicates: AtomicU64,
    pub rejected: AtomicU64,
    pub processed: AtomicU64,
    pub alerts: AtomicU64,
    pub suppressed_by_consent: AtomicU64,
    /// Embedded mode: the log's head and how far the processor has applied (committed within
    /// `commit_every`; at once when a batch raised alerts).
    pub head: AtomicI64,
    pub offset: AtomicI64,
    /// NATS mode: committed offset per partition this process works on.
    pub partitions: Mutex<BTreeMap<u32, i64>>,
    pub last_error: Mutex<Option<String>>,
}

/// `GET /v1/stream/status`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatusView {
    /// `embedded` or `nats`.
    pub mode: &'static str,
    /// Events accepted, duplicates dropped and rejects (dead-lettered) since this process started.
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Events applied and alerts stored by this process since it started.
    pub processed: u64,
    pub alerts: u64,
    /// Alerts the engine raised that the customer's consents do not allow (not stored).
    pub suppressed_by_consent: u64,
    /// Embedded: the log's last sequence number and how far the processor has applied (its
    /// alerts are committed; the offset itself within `commit_every`).
    pub log_head: Option<i64>,
    pub offset: Option<i64>,
    /// Embedded: events accepted but not yet processed.
    pub lag: Option<i64>,
    /// NATS: the partitions this process owns, with their committed stream sequence.
    pub partitions: BTreeMap<u32, i64>,
    /// Customers whose streaming state this process holds in memory.
    pub customers_in_memory: usize,
    /// The last processing error (retried), if any.
    pub last_error: Option<String>,
}

impl Counters {
    pub(crate) fn set_error(&self, e: Option<String>) {
        *self.last_error.lock().expect("poisoned") = e;
    }
    pub(crate) fn view(&self, mode: &'static str, customers: usize) -> StatusView {
        let embedded = mode == "embedded";
        let head = self.head.load(Ordering::Relaxed);
        let offset = self.offset.load(Ordering::Relaxed);
        StatusView {
            mode,
            accepted: self.accepted.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            processed: self.processed.load(Ordering::Relaxed),
            alerts: self.alerts.load(Ordering::Relaxed),
            suppressed_by_consent: self.suppressed_by_consent.load(Ordering::Relaxed),
            log_head: embedded.then_some(head),
            offset: embedded.then_some(offset),
            lag: embedded.then_some((head - offset).max(0)),
            partitions: self.partitions.lock().expect("poisoned").clone(),
            customers_in_memory: customers,
            last_error: self.last_error.lock().expect("poisoned").clone(),
        }
    }
}
