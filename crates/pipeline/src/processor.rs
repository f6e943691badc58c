//! The `Stream` handle and the processing step shared by the embedded processor and the NATS
//! partition tasks: apply in order, filter by consent, hold fraud for review, commit alerts with
//! the offset, then publish.

use crate::config::StreamConfig;
use crate::hub::{AlertHub, Counters, StatusView};
use crate::{PipelineError, Result};
use sextant_bus::Bus;
use sextant_core::{AuditRecord, ConsentPurpose, ConsentState, CustomerId, Decision, DecisionId};
use sextant_store::{
    AlertRow, DeadLetter, FraudHold, ProcessedBatch, ReviewCase, ReviewStatus, Store, StoreError,
};
use sextant_stream::{Alert, AlertKind, CustomerView, Engine, RuleSet};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// The source name of the embedded log's processor.
pub(crate) const EMBEDDED: &str = "embedded";

pub(crate) struct Inner {
    pub store: Arc<dyn Store>,
    pub rules: Arc<RuleSet>,
    pub cfg: StreamConfig,
    pub hub: AlertHub,
    pub counters: Counters,
    /// Woken by ingestion so the embedded processor does not wait for its poll interval.
    pub wake: Notify,
    pub bus: Option<Arc<Bus>>,
    /// The engines this process runs, by source (`embedded`, `nats.p<N>`).
    pub engines: Mutex<HashMap<String, Arc<Mutex<Engine>>>>,
    /// Bumped by `forget`: each processor that sees a new value checkpoints at its next
    /// commit point.
    pub forget_gen: std::sync::atomic::AtomicU64,
    /// NATS mode: the consumers' backlog as last read, and when (read at most every
    /// [`crate::ingest::BACKLOG_EVERY`]).
    pub backlog: tokio::sync::Mutex<Option<(std::time::Instant, u64)>>,
    /// Embedded mode: the events just appended to the log, parsed (see [`crate::tail`]).
    pub tail: Mutex<crate::tail::Tail>,
    /// Where streamed feedback about recommendations goes (see [`crate::feedback`]).
    pub feedback: std::sync::OnceLock<Arc<dyn crate::FeedbackSink>>,
}

/// The event stream of one process: ingestion, processing, fan-out. Cheap to clone.
#[derive(Clone)]
pub struct Stream {
    pub(crate) inner: Arc<Inner>,
}

impl Stream {
    /// Embedded mode (`bus = None`): events go to the store's log and one processor applies them.
    /// NATS mode: events go to JetStream and workers lease partitions.
    pub fn new(
        store: Arc<dyn Store>,
        rules: Arc<RuleSet>,
        cfg: StreamConfig,
        bus: Option<Arc<Bus>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                rules,
                cfg,
                hub: AlertHub::default(),
                counters: Counters::default(),
                wake: Notify::new(),
                bus,
                engines: Mutex::new(HashMap::new()),
                forget_gen: std::sync::atomic::AtomicU64::new(0),
                backlog: tokio::sync::Mutex::new(None),
                tail: Mutex::new(crate::tail::Tail::default()),
                feedback: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Hand streamed feedback about recommendations to `sink` (once, before processing starts;
    /// a second call is refused and returns false). Without a sink, feedback events only count
    /// in the customers' windows.
    pub fn set_feedback_sink(&self, sink: Arc<dyn crate::FeedbackSink>) -> bool {
        self.inner.feedback.set(sink).is_ok()
    }

    pub fn mode(&self) -> &'static str {
        if self.inner.bus.is_some() {
            "nats"
        } else {
            EMBEDDED
        }
    }

    /// Live alerts, after they are committed.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<Alert>> {
        self.inner.hub.subscribe()
    }

    /// Start the embedded processor. Returns when `stop` turns true (after a final checkpoint)
    /// or on a fatal error (a corrupt checkpoint).
    pub fn spawn_processor(&self, stop: watch::Receiver<bool>) -> JoinHandle<Result<()>> {
        let inner = self.inner.clone();
        tokio::spawn(async move { run_embedded(inner, stop).await })
    }

    /// Start a NATS worker that leases its share of the partitions.
    pub fn spawn_worker(
        &self,
        worker_id: String,
        stop: watch::Receiver<bool>,
    ) -> JoinHandle<Result<()>> {
        let inner = self.inner.clone();
        tokio::spawn(async move { crate::worker::run_worker(inner, worker_id, stop).await })
    }

    /// NATS mode: feed this process's live subscribers from the alert announcements of every
    /// worker, and apply erasures announced by any process (a no-op in embedded mode).
    /// Reconnects after a broken subscription.
    pub fn spawn_announcements(&self, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let Some(bus) = inner.bus.clone() else {
                return;
            };
            while !*stop.borrow() {
                let subs = match (bus.announcements().await, bus.erasures().await) {
                    (Ok(a), Ok(e)) => Some((a, e)),
                    (Err(e), _) | (_, Err(e)) => {
                        tracing::warn!(error = %e, "announcements unavailable; retrying");
                        None
                    }
                };
                let Some((mut alerts, mut erasures)) = subs else {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                };
                loop {
                    tokio::select! {
                        m = alerts.next() => match m {
                            Some(bytes) => match serde_json::from_slice::<Alert>(&bytes) {
                                Ok(a) => inner.hub.publish(a),
                                Err(e) => tracing::warn!(error = %e, "unreadable alert announcement"),
                            },
                            None => break,
                        },
                        m = erasures.next() => match m {
                            Some(bytes) => match std::str::from_utf8(&bytes).ok().and_then(|s| CustomerId::parse(s).ok()) {
                                Some(id) => forget_here(&inner, &id),
                                None => tracing::warn!("unreadable erasure announcement"),
                            },
                            None => break,
                        },
                        _ = stop.changed() => return,
                    }
                }
            }
        })
    }

    /// Start the webhook dispatcher (a no-op loop when no webhook is configured).
    pub fn spawn_webhooks(&self, stop: watch::Receiver<bool>) -> JoinHandle<()> {
        let inner = self.inner.clone();
        tokio::spawn(async move { crate::webhook::run_dispatcher(inner, stop).await })
    }

    /// Counters and offsets.
    pub fn status(&self) -> StatusView {
        let customers = self
            .inner
            .engines
            .lock()
            .expect("poisoned")
            .values()
            .map(|e| e.lock().expect("poisoned").customers())
            .sum();
        self.inner.counters.view(self.mode(), customers)
    }

    /// The customer's live windows and baselines, if this process holds them.
    pub fn customer_view(&self, id: &CustomerId) -> Option<CustomerView> {
        let engines = self.inner.engines.lock().expect("poisoned");
        engines
            .values()
            .find_map(|e| e.lock().expect("poisoned").customer(id))
    }

    /// Erasure: drop the customer's in-memory state everywhere in this process (and, in NATS
    /// mode, announce it so every other process drops it too), and have every processor
    /// checkpoint at its next commit point (where its state matches its offset), so no new
    /// snapshot keeps the customer. The store's erase removes the log rows and the embedded
    /// checkpoint, so a crash before that re-builds state from a log without them.
    pub fn forget(&self, id: &CustomerId) {
        forget_here(&self.inner, id);
        if let Some(bus) = self.inner.bus.clone() {
            let id = id.as_str().to_string();
            tokio::spawn(async move {
                if let Err(e) = bus.announce_erasure(&id).await {
                    tracing::error!(error = %e, "announcing an erasure failed; other processes keep the customer's in-memory state until they restart");
                }
            });
        }
    }
}

impl Stream {
    /// Erasure of everything the stream holds about a customer outside the store: [`Stream::forget`]
    /// (in-memory state here and, announced, in every process), then in NATS mode the customer's
    /// raw events still retained by the JetStream stream — on their partition's subject and on
    /// the dead-letter subject — are deleted. Returns the messages deleted (`None` in embedded
    /// mode, whose event log lives in the store and is erased with it).
    pub async fn erase(&self, id: &CustomerId) -> Result<Option<u64>> {
        self.forget(id);
        let Some(bus) = self.inner.bus.clone() else {
            return Ok(None);
        };
        let partition = sextant_stream::partition_of(id.as_str(), bus.partitions());
        let n = bus
            .erase_messages(partition, |payload| {
                #[derive(serde::Deserialize)]
                struct Who<'a> {
                    #[serde(borrow)]
                    customer_id: Option<std::borrow::Cow<'a, str>>,
                }
                serde_json::from_slice::<Who>(payload)
                    .ok()
                    .and_then(|w| w.customer_id)
                    .is_some_and(|c| c == id.as_str())
            })
            .await?;
        Ok(Some(n))
    }
}

fn forget_here(inner: &Inner, id: &CustomerId) {
    let engines: Vec<Arc<Mutex<Engine>>> = inner
        .engines
        .lock()
        .expect("poisoned")
        .values()
        .cloned()
        .collect();
    for engine in engines {
        engine.lock().expect("poisoned").forget(id);
    }
    inner.tail.lock().expect("poisoned").forget(id);
    inner.forget_gen.fetch_add(1, Ordering::SeqCst);
}

/// An event as it reaches the processor: raw (from the log or the bus) or already parsed (from
/// the embedded log's in-memory tail).
pub(crate) enum Body {
    Raw(Vec<u8>),
    Parsed(Arc<sextant_stream::StreamEvent>),
}

/// One event handed to [`apply_batch`].
pub(crate) struct Item {
    pub seq: i64,
    pub body: Body,
    /// Already committed before a restart: re-apply to rebuild state, emit nothing.
    pub replay: bool,
    /// NATS: the event id was applied elsewhere under another sequence (a duplicate): skip.
    pub duplicate: bool,
}

impl Item {
    /// An event read back from the embedded log.
    fn from_log(r: sextant_store::LogEvent, replay: bool) -> Self {
        Item {
            seq: r.seq,
            body: Body::Raw(r.body.into_bytes()),
            replay,
            duplicate: false,
        }
    }
}

/// What a batch produced.
#[derive(Default)]
pub(crate) struct Applied {
    pub alerts: Vec<Alert>,
    pub dead: Vec<DeadLetter>,
    /// (event id, seq) of events newly applied.
    pub applied: Vec<(String, i64)>,
    pub count: u64,
    /// `message` events, as customer messages with their sentiment scored.
    pub messages: Vec<sextant_core::CustomerMessage>,
    /// `feedback` events about a recommendation, for the feedback sink.
    pub feedback: Vec<crate::StreamedFeedback>,
    /// Rows for the store's own tables (when [`StreamConfig::ledger`] is on).
    pub ledger: LedgerRows,
}

/// What streamed events write to the store's own tables: `transaction` events to the ledger,
/// `balance` events to their accounts. They wait with their uncommitted offset and go with its
/// commit ([`ProcessedBatch::transactions`], [`ProcessedBatch::balances`]).
#[derive(Default)]
pub(crate) struct LedgerRows {
    transactions: Vec<sextant_core::Transaction>,
    balances: Vec<sextant_store::StreamedBalance>,
}

impl LedgerRows {
    fn collect(&mut self, ev: &sextant_stream::StreamEvent) {
        match &ev.body {
            sextant_stream::EventBody::Transaction(t) => self.transactions.push(t.clone()),
            sextant_stream::EventBody::Balance {
                account_id,
                balance,
            } => self.balances.push(sextant_store::StreamedBalance {
                customer_id: ev.customer_id.clone(),
                account_id: account_id.clone(),
                balance: *balance,
                at: ev.timestamp.timestamp_micros(),
            }),
            _ => {}
        }
    }

    pub(crate) fn append(&mut self, other: &mut LedgerRows) {
        self.transactions.append(&mut other.transactions);
        self.balances.append(&mut other.balances);
    }

    /// Into `batch`, each account's balances reduced to the newest (by event time; of equal
    /// times, the last applied).
    pub(crate) fn into_batch(self, batch: &mut ProcessedBatch) {
        batch.transactions = self.transactions;
        let mut last: HashMap<sextant_core::AccountId, usize> = HashMap::new();
        for (i, b) in self.balances.iter().enumerate() {
            let newest = last.entry(b.account_id.clone()).or_insert(i);
            if self.balances[*newest].at <= b.at {
                *newest = i;
            }
        }
        batch.balances = self
            .balances
            .into_iter()
            .enumerate()
            .filter(|(i, b)| last.get(&b.account_id) == Some(i))
            .map(|(_, b)| b)
            .collect();
    }
}

/// A streamed `message` event as a stored customer message: the id derives from the event id,
/// so a replay after a crash stores nothing twice.
fn as_message(ev: &sextant_stream::StreamEvent) -> Option<sextant_core::CustomerMessage> {
    let sextant_stream::EventBody::Message { channel, text } = &ev.body else {
        return None;
    };
    let id = sextant_core::MessageId::parse(&format!("msg_evt_{}", ev.event_id)).ok()?;
    Some(sextant_core::CustomerMessage {
        id,
        customer_id: ev.customer_id.clone(),
        timestamp: ev.timestamp,
        channel: channel.as_str().to_string(),
        body: text.clone(),
        sentiment: Some(sextant_assistant::sentiment::score(text).compound),
    })
}

/// Apply events to the engine in order (synchronous; holds the engine's lock). With `ledger`,
/// new transaction and balance events are also collected for the store ([`LedgerRows`]).
pub(crate) fn apply_batch(
    source: &str,
    engine: &Mutex<Engine>,
    items: &[Item],
    ledger: bool,
) -> Applied {
    let mut out = Applied::default();
    let mut engine = engine.lock().expect("poisoned");
    for it in items {
        if it.duplicate {
            continue;
        }
        let parsed = match &it.body {
            Body::Parsed(ev) => Ok(std::borrow::Cow::Borrowed(&**ev)),
            Body::Raw(b) => sextant_stream::parse_event_bytes(b).map(std::borrow::Cow::Owned),
        };
        match parsed {
            Ok(ev) => {
                let alerts = engine.apply(&ev);
                if !it.replay {
                    out.messages.extend(as_message(&ev));
                    out.feedback.extend(crate::feedback::as_feedback(&ev));
                    if ledger {
                        out.ledger.collect(&ev);
                    }
                    out.alerts.extend(alerts);
                    out.applied.push((ev.event_id.clone(), it.seq));
                    out.count += 1;
                }
            }
            Err(e) if !it.replay => out.dead.push(DeadLetter {
                source: source.to_string(),
                position: Some(it.seq),
                customer_id: None,
                received_micros: sextant_store::now_micros(),
                payload: match &it.body {
                    Body::Raw(b) => String::from_utf8_lossy(b).into_owned(),
                    Body::Parsed(ev) => ev.to_json_string(),
                },
                reason: e.to_string(),
            }),
            Err(_) => {}
        }
    }
    out
}

/// Keep only the alerts the customer's consents allow. Fraud protection is the bank's legal
/// duty and needs no consent; distress warnings and information need personalization consent;
/// opportunities (nudges towards a product) need marketing consent. A customer the store does not
/// know gets fraud alerts only.
pub(crate) async fn consent_filter(inner: &Inner, alerts: Vec<Alert>) -> Result<Vec<Alert>> {
    let mut states: HashMap<CustomerId, Option<ConsentState>> = HashMap::new();
    let mut kept = Vec::with_capacity(alerts.len());
    for a in alerts {
        let purpose = match a.kind {
            AlertKind::Fraud => None,
            AlertKind::Opportunity => Some(ConsentPurpose::Marketing),
            _ => Some(ConsentPurpose::Personalization),
        };
        let allowed = match purpose {
            None => true,
            Some(p) => {
                if !states.contains_key(&a.customer_id) {
                    let s = inner
                        .store
                        .consent_state(&a.customer_id, &inner.cfg.consent_defaults)
                        .await?;
                    states.insert(a.customer_id.clone(), s);
                }
                states[&a.customer_id].as_ref().is_some_and(|s| s.allows(p))
            }
        };
        if allowed {
            kept.push(a);
        } else {
            inner
                .counters
                .suppressed_by_consent
                .fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(kept)
}

/// Alerts marked `hold_for_review` become a `fraud_hold` decision waiting for a reviewer, with
/// its review case and audit entry, written in the transaction that stores the alerts
/// ([`ProcessedBatch::holds`]). Idempotent by the alert's id (the store skips a decision id it
/// already holds), so a replay after a crash does not open a second case.
pub(crate) fn fraud_holds(inner: &Inner, alerts: &[Alert]) -> Vec<FraudHold> {
    alerts
        .iter()
        .filter(|a| a.hold_for_review)
        .map(|a| {
            let short = &a.id[..a.id.len().min(40)];
            let decision_id = DecisionId::parse(&format!("dec_alert_{short}"))
                .expect("hex alert ids make valid decision ids");
            let payload = serde_json::to_value(a).expect("alerts serialize");
            FraudHold {
                decision: Decision {
                    id: decision_id.clone(),
                    customer_id: a.customer_id.clone(),
                    at: chrono::Utc::now(),
                    kind: "fraud_hold".into(),
                    versions: serde_json::json!({ "stream_rules": inner.cfg.rules_version }),
                    payload,
                    status: "pending_review".into(),
                },
                review: ReviewCase {
                    id: format!("rev_alert_{short}"),
                    decision_id,
                    customer_id: a.customer_id.clone(),
                    created_at: sextant_store::now_micros(),
                    reason: serde_json::json!({
                        "kind": "fraud_alert", "rule": a.rule, "alert_id": a.id, "reason": a.reason,
                    }),
                    status: ReviewStatus::Pending,
                    reviewer: None,
                    note: None,
                    resolved_at: None,
                    modified_payload: None,
                },
                audit: AuditRecord {
                    actor: "system".into(),
                    action: "decision.fraud_hold".into(),
                    subject: a.customer_id.as_str().to_string(),
                    details: serde_json::json!({ "alert_id": a.id, "rule": a.rule, "events": a.events }),
                },
            }
        })
        .collect()
}

pub(crate) fn alert_rows(source: &str, alerts: &[Alert]) -> Vec<AlertRow> {
    let now = sextant_store::now_micros();
    alerts
        .iter()
        .map(|a| AlertRow {
            id: a.id.clone(),
            customer_id: a.customer_id.as_str().to_string(),
            rule: a.rule.clone(),
            kind: json_str(&a.kind),
            severity: json_str(&a.severity),
            at_micros: a.at.timestamp_micros(),
            created_micros: now,
            source: source.to_string(),
            body: serde_json::to_string(a).expect("alerts serialize"),
        })
        .collect()
}

fn json_str<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// Commit a processed batch, retrying transient store failures with back-off (nothing is
/// acknowledged meanwhile, so producers feel back-pressure). A moved offset means another
/// worker owns the source now: [`PipelineError::Fenced`].
pub(crate) async fn commit(
    inner: &Inner,
    batch: &ProcessedBatch,
    stop: &watch::Receiver<bool>,
) -> Result<usize> {
    let mut delay = Duration::from_millis(50);
    loop {
        match inner.store.stream().commit_processed(batch).await {
            Ok(n) => {
                inner.counters.set_error(None);
                return Ok(n);
            }
            Err(StoreError::Conflict(_)) => {
                return Err(PipelineError::Fenced(batch.source.clone()));
            }
            Err(e) => {
                tracing::warn!(source = %batch.source, error = %e, "commit failed; retrying");
                inner.counters.set_error(Some(e.to_string()));
                if *stop.borrow() {
                    return Err(e.into());
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// What a batch's outcome needs before its commit: the alerts the customers' consents allow,
/// malformed events dead-lettered (each retried on failure). Returns the alerts to commit
/// (their fraud holds go into the same commit: [`fraud_holds`]).
pub(crate) async fn settle(
    inner: &Inner,
    out: &Applied,
    stop: &watch::Receiver<bool>,
) -> Result<Vec<Alert>> {
    let alerts = if out.alerts.is_empty() {
        Vec::new()
    } else {
        retrying(inner, stop, "consent check", || {
            consent_filter(inner, out.alerts.clone())
        })
        .await?
    };
    if !out.messages.is_empty() {
        retrying(inner, stop, "customer messages", || {
            store_messages(inner, &out.messages)
        })
        .await?;
    }
    if let Some(sink) = inner.feedback.get() {
        for fb in &out.feedback {
            retrying(inner, stop, "streamed feedback", || async {
                sink.apply(fb).await.map_err(PipelineError::Feedback)
            })
            .await?;
        }
    }
    if !out.dead.is_empty() {
        retrying(inner, stop, "dead letter", || async {
            Ok(inner.store.stream().dead_letter(&out.dead).await?)
        })
        .await?;
    }
    Ok(alerts)
}

/// Store streamed messages (scored) so the churn features and reviewers see them like imported
/// ones, and — with profiling consent — move the profile's rolling sentiment, as assistant
/// messages do. Idempotent by id (a replayed message is neither stored nor counted twice); a
/// message from a customer the store does not know is skipped (the event stays in the log).
async fn store_messages(inner: &Inner, messages: &[sextant_core::CustomerMessage]) -> Result<()> {
    let a = inner.store.assistant();
    for m in messages {
        match a.insert_message(m).await {
            Ok(false) => {}
            Ok(true) => {
                let profiling = inner
                    .store
                    .consent_state(&m.customer_id, &inner.cfg.consent_defaults)
                    .await?
                    .is_some_and(|c| c.allows(ConsentPurpose::Profiling));
                if profiling
                    && let (Some(c), Some(score)) =
                        (inner.store.get_customer(&m.customer_id).await?, m.sentiment)
                {
                    let rolled = sextant_assistant::sentiment::rolling(
                        Some(c.sentiment_score.value()),
                        score,
                    );
                    a.set_customer_sentiment(m.customer_id.as_str(), rolled)
                        .await?;
                }
            }
            Err(StoreError::UnknownCustomer(_)) => {
                tracing::warn!(message = %m.id, "message event for a customer the store does not know; not stored")
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Move a source's committed offset (no alerts), with the ledger rows of the events up to it.
pub(crate) async fn commit_offset(
    inner: &Inner,
    source: &str,
    committed: i64,
    offset: i64,
    ledger: LedgerRows,
    stop: &watch::Receiver<bool>,
) -> Result<()> {
    let mut pb = ProcessedBatch {
        source: source.to_string(),
        expected_offset: committed,
        new_offset: offset,
        ..ProcessedBatch::default()
    };
    ledger.into_batch(&mut pb);
    commit(inner, &pb, stop).await.map(|_| ())
}

/// Retry a store call with back-off until it succeeds or `stop` is set.
pub(crate) async fn retrying<T, F, Fut>(
    inner: &Inner,
    stop: &watch::Receiver<bool>,
    what: &str,
    mut f: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut delay = Duration::from_millis(50);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e @ (PipelineError::Fenced(_) | PipelineError::Snapshot(_))) => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "{what} failed; retrying");
                inner.counters.set_error(Some(format!("{what}: {e}")));
                if *stop.borrow() {
                    return Err(e);
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// After a commit: count, publish to live subscribers — directly (embedded), or announced over
/// NATS so the subscribers of every process see them (each process feeds its own subscribers
/// from the announcements, this one included).
pub(crate) fn published(inner: &Inner, applied: u64, alerts: Vec<Alert>) {
    inner
        .counters
        .processed
        .fetch_add(applied, Ordering::Relaxed);
    inner
        .counters
        .alerts
        .fetch_add(alerts.len() as u64, Ordering::Relaxed);
    match &inner.bus {
        None => {
            for a in alerts {
                inner.hub.publish(a);
            }
        }
        Some(bus) if !alerts.is_empty() => {
            let payloads = alerts
                .iter()
                .map(|a| serde_json::to_vec(a).expect("alerts serialize").into())
                .collect();
            let bus = bus.clone();
            tokio::spawn(async move {
                if let Err(e) = bus.announce(payloads).await {
                    tracing::warn!(error = %e, "announcing alerts failed; they are in the store");
                }
            });
        }
        Some(_) => {}
    }
}

/// Snapshot `engine` as of `offset` and store it.
pub(crate) async fn checkpoint_at(
    inner: &Inner,
    source: &str,
    engine: &Arc<Mutex<Engine>>,
    offset: i64,
) -> Result<()> {
    let e = engine.clone();
    let started = Instant::now();
    let bytes = tokio::task::spawn_blocking(move || e.lock().expect("poisoned").snapshot())
        .await
        .expect("snapshot task");
    let snapshot_ms = started.elapsed().as_millis();
    save_snapshot(inner, source, offset, bytes, started, snapshot_ms).await?;
    Ok(())
}

/// Store a snapshot taken at `offset`; returns the offset.
async fn save_snapshot(
    inner: &Inner,
    source: &str,
    offset: i64,
    bytes: Vec<u8>,
    started: Instant,
    snapshot_ms: u128,
) -> Result<i64> {
    inner
        .store
        .stream()
        .save_checkpoint(source, offset, &bytes)
        .await?;
    tracing::debug!(
        source,
        offset,
        bytes = bytes.len(),
        snapshot_ms,
        total_ms = started.elapsed().as_millis(),
        "checkpoint"
    );
    Ok(offset)
}

/// When and how a processor checkpoints. The snapshot is taken in the processing loop (where
/// the engine's state matches the committed offset) and saved in the background, so a large
/// write does not hold up events; one save at a time, so checkpoints only move forward. A failed
/// save is logged and retried at the next opportunity (an older checkpoint only means a longer
/// replay on restart).
pub(crate) struct Checkpointer {
    source: String,
    engine: Arc<Mutex<Engine>>,
    saved_offset: i64,
    last: Instant,
    since: u64,
    forget_seen: u64,
    pending: Option<JoinHandle<Result<i64>>>,
}

impl Checkpointer {
    pub(crate) fn new(
        inner: &Inner,
        source: &str,
        engine: Arc<Mutex<Engine>>,
        offset: i64,
    ) -> Self {
        Self {
            source: source.to_string(),
            engine,
            saved_offset: offset,
            last: Instant::now(),
            since: 0,
            forget_seen: inner.forget_gen.load(Ordering::SeqCst),
            pending: None,
        }
    }

    /// Call after each commit (with the events it applied) and when idle: checkpoints at
    /// `offset` if it is time, or if a customer was forgotten since the last one.
    pub(crate) async fn maybe(&mut self, inner: &Arc<Inner>, offset: i64, applied: u64) {
        self.since += applied;
        if let Some(p) = &self.pending {
            if !p.is_finished() {
                return;
            }
            match self.pending.take().expect("checked").await {
                Ok(Ok(o)) => self.saved_offset = self.saved_offset.max(o),
                Ok(Err(e)) => {
                    tracing::warn!(source = %self.source, error = %e, "checkpoint failed; will retry");
                    inner.counters.set_error(Some(format!("checkpoint: {e}")));
                }
                Err(e) => tracing::error!(error = %e, "checkpoint task panicked"),
            }
        }
        let forget = inner.forget_gen.load(Ordering::SeqCst);
        let due = forget != self.forget_seen
            || (offset > self.saved_offset
                && (self.since >= inner.cfg.checkpoint_events
                    || self.last.elapsed() >= inner.cfg.checkpoint_every));
        if !due {
            return;
        }
        self.forget_seen = forget;
        self.last = Instant::now();
        self.since = 0;
        let e = self.engine.clone();
        let started = Instant::now();
        let bytes = tokio::task::spawn_blocking(move || e.lock().expect("poisoned").snapshot())
            .await
            .expect("snapshot task");
        let snapshot_ms = started.elapsed().as_millis();
        let (inner, source) = (inner.clone(), self.source.clone());
        self.pending = Some(tokio::spawn(async move {
            save_snapshot(&inner, &source, offset, bytes, started, snapshot_ms).await
        }));
    }

    /// Count events applied without a commit (no checkpoint can be taken there).
    pub(crate) fn add(&mut self, applied: u64) {
        self.since += applied;
    }

    /// On a clean stop: wait for a save in flight, then checkpoint at `offset` if newer.
    pub(crate) async fn finish(mut self, inner: &Inner, offset: i64) -> Result<()> {
        if let Some(p) = self.pending.take()
            && let Ok(Ok(o)) = p.await
        {
            self.saved_offset = self.saved_offset.max(o);
        }
        if offset > self.saved_offset || inner.forget_gen.load(Ordering::SeqCst) != self.forget_seen
        {
            checkpoint_at(inner, &self.source, &self.engine, offset).await?;
        }
        Ok(())
    }
}

/// Restore the engine of `source` from its checkpoint (or start empty), register it, and
/// return it with the checkpoint's offset.
pub(crate) async fn restore(inner: &Inner, source: &str) -> Result<(Arc<Mutex<Engine>>, i64)> {
    let (cp, engine) = match inner.store.stream().load_checkpoint(source).await? {
        Some((offset, bytes)) => {
            let rules = inner.rules.clone();
            match tokio::task::spawn_blocking(move || Engine::restore(rules, &bytes))
                .await
                .expect("restore task")
            {
                Ok(engine) => (offset, engine),
                // A checkpoint this version cannot read (an older format, or damaged): rebuild
                // the state from the events instead — from the whole log (embedded) or from
                // what JetStream still holds (nats). Alerts already stored are not repeated.
                Err(e) => {
                    tracing::warn!(source, error = %e, "checkpoint unusable; rebuilding state from the events");
                    (0, Engine::new(inner.rules.clone()))
                }
            }
        }
        None => (0, Engine::new(inner.rules.clone())),
    };
    let engine = Arc::new(Mutex::new(engine));
    inner
        .engines
        .lock()
        .expect("poisoned")
        .insert(source.to_string(), engine.clone());
    Ok((engine, cp))
}

async fn run_embedded(inner: Arc<Inner>, stop: watch::Receiver<bool>) -> Result<()> {
    let st = inner.store.stream();
    let (engine, cp) = retrying(&inner, &stop, "restore", || restore(&inner, EMBEDDED)).await?;
    let mut offset = retrying(&inner, &stop, "read offset", || async {
        Ok(st.stream_offset(EMBEDDED).await?)
    })
    .await?;
    let head = retrying(&inner, &stop, "read log head", || async {
        Ok(st.log_head().await?)
    })
    .await?;
    inner.counters.head.fetch_max(head, Ordering::Relaxed);
    // Rebuild the state between the checkpoint and the committed offset, emitting nothing.
    let mut pos = cp;
    while pos < offset {
        let batch = inner.cfg.batch;
        let rows = retrying(&inner, &stop, "read log", || async {
            Ok(st.read_log(pos, batch).await?)
        })
        .await?;
        if rows.is_empty() {
            break;
        }
        let items: Vec<Item> = rows
            .into_iter()
            .filter(|r| r.seq <= offset)
            .map(|r| Item::from_log(r, true))
            .collect();
        let Some(last) = items.last().map(|i| i.seq) else {
            break;
        };
        apply_batch(EMBEDDED, &engine, &items, false);
        pos = last;
    }
    inner.counters.offset.store(offset, Ordering::Relaxed);
    tracing::info!(
        checkpoint = cp,
        offset,
        head,
        "embedded stream processor started"
    );

    let mut ckpt = Checkpointer::new(&inner, EMBEDDED, engine.clone(), cp);
    // `offset` is how far the engine has applied; `committed` how far the store knows. A batch
    // that raised alerts is committed at once (alerts are durable before anyone sees them);
    // batches without alerts only move the offset, which is committed at most `commit_every`
    // later — after a crash they are applied again and, raising no alerts, change nothing but
    // the in-memory state they rebuild and the ledger rows they carry, which wait in `ledger`
    // for that commit. Checkpoints are taken only where offset = committed.
    let mut committed = offset;
    let mut ledger = LedgerRows::default();
    let mut last_commit = Instant::now();
    loop {
        if *stop.borrow() {
            break;
        }
        let batch = inner.cfg.batch;
        // The events just appended, from memory; the log when memory does not reach back to
        // the offset.
        let from_tail = inner
            .tail
            .lock()
            .expect("poisoned")
            .take(offset, batch as usize);
        let (items, new_offset) = match from_tail {
            Some((events, upto)) => (
                events
                    .into_iter()
                    .map(|(seq, ev)| Item {
                        seq,
                        body: Body::Parsed(ev),
                        replay: false,
                        duplicate: false,
                    })
                    .collect(),
                upto,
            ),
            None => {
                let rows = retrying(&inner, &stop, "read log", || async {
                    Ok(st.read_log(offset, batch).await?)
                })
                .await?;
                let upto = rows.last().map_or(offset, |r| r.seq);
                let items: Vec<Item> = rows.into_iter().map(|r| Item::from_log(r, false)).collect();
                (items, upto)
            }
        };
        if new_offset == offset {
            if committed < offset {
                let rows = std::mem::take(&mut ledger);
                commit_offset(&inner, EMBEDDED, committed, offset, rows, &stop).await?;
                committed = offset;
                last_commit = Instant::now();
            }
            ckpt.maybe(&inner, committed, 0).await;
            let mut stop2 = stop.clone();
            tokio::select! {
                _ = inner.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = stop2.changed() => {}
            }
            continue;
        }
        let mut out = apply_batch(EMBEDDED, &engine, &items, inner.cfg.ledger);
        let alerts = settle(&inner, &out, &stop).await?;
        ledger.append(&mut out.ledger);
        offset = new_offset;
        if !alerts.is_empty()
            || offset - committed >= inner.cfg.commit_events
            || last_commit.elapsed() >= inner.cfg.commit_every
        {
            let mut pb = ProcessedBatch {
                source: EMBEDDED.into(),
                expected_offset: committed,
                new_offset: offset,
                alerts: alert_rows(EMBEDDED, &alerts),
                webhooks: inner.cfg.webhooks.iter().map(|w| w.name.clone()).collect(),
                holds: fraud_holds(&inner, &alerts),
                ..ProcessedBatch::default()
            };
            std::mem::take(&mut ledger).into_batch(&mut pb);
            commit(&inner, &pb, &stop).await?;
            committed = offset;
            last_commit = Instant::now();
            published(&inner, out.count, alerts);
            ckpt.maybe(&inner, committed, out.count).await;
        } else {
            published(&inner, out.count, Vec::new());
            ckpt.add(out.count);
        }
        // Only now (the batch's alerts committed) does the status show the new offset, so a
        // client that sees the offset caught up also sees every alert up to it.
        inner.counters.offset.store(offset, Ordering::Relaxed);
        inner.counters.head.fetch_max(offset, Ordering::Relaxed);
    }
    if committed < offset {
        commit_offset(&inner, EMBEDDED, committed, offset, ledger, &stop).await?;
    }
    ckpt.finish(&inner, offset).await?;
    tracing::info!(offset, "embedded stream processor stopped");
    Ok(())
}
