//! The real-time event stream's storage: the embedded event log (the durable half of the
//! in-process queue), processing offsets with compare-and-swap, engine checkpoints, alerts and
//! their webhook outbox, dead letters, and — for scale-out on PostgreSQL — worker membership and
//! partition leases. Reached through [`crate::Store::stream`]; both backends implement it and pass
//! the same tests (`tests/stream.rs`).
//!
//! Exactly-once effects come from one transaction per processed batch
//! ([`StreamStore::commit_processed`]): the offset moves from the position the processor started
//! from to the one it reached, together with the alerts it raised and their outbox rows. A second
//! processor that started from the same position gets [`crate::StoreError::Conflict`] and writes
//! nothing.

use crate::rows::{Cells, req_int, req_text};
use crate::{Result, StoreError};
use async_trait::async_trait;
use std::collections::HashMap;

/// Largest dead-letter payload stored, in bytes; longer payloads are cut (on a character
/// boundary) on write.
pub const DEAD_LETTER_MAX_PAYLOAD: usize = 16 * 1024;

/// One event for the embedded log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogEvent {
    /// The producer's id; the log keeps the first event with a given id.
    pub event_id: String,
    pub customer_id: String,
    /// Event time, µs since the epoch.
    pub ts_micros: i64,
    /// The event type (`transaction`, `login`, …).
    pub kind: String,
    /// The event as JSON (the wire envelope).
    pub body: String,
}

/// What [`StreamStore::append_events`] did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Appended at this sequence number.
    New(i64),
    /// An event with the same id is already in the log (or earlier in the same batch), at this
    /// sequence number; nothing was written.
    Duplicate(i64),
}

impl Appended {
    /// The sequence number the event has in the log, either way.
    pub fn seq(self) -> i64 {
        match self {
            Appended::New(s) | Appended::Duplicate(s) => s,
        }
    }
}

/// The stretch of sequence numbers one append covered: every event of the log with a seq in
/// `(after, upto]` is one of that append's new events (numbers consumed by duplicates have no
/// row). Lets a reader that has applied everything up to `after` take the append's events from
/// memory instead of reading the log back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    pub after: i64,
    pub upto: i64,
}

/// Called once an append is durable, with its results and — when the backend can tell — the
/// [`SeqRange`] it covered. The embedded SQLite log calls these on its writer, in commit order.
pub type AppendHook = Box<dyn FnOnce(Option<SeqRange>, &[Appended]) + Send>;

/// One event read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub seq: i64,
    pub event_id: String,
    pub customer_id: String,
    pub body: String,
}

/// A stored alert. `body` is the engine's alert as JSON; the other columns are copies of its
/// fields for filtering and paging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    /// Deterministic (same rule, customer and trigger events ⇒ same id): the key for idempotence.
    pub id: String,
    pub customer_id: String,
    pub rule: String,
    pub kind: String,
    pub severity: String,
    /// Event time of the last trigger, µs.
    pub at_micros: i64,
    /// When the alert was stored, µs.
    pub created_micros: i64,
    /// The source that raised it (`embedded`, `nats.p<N>`).
    pub source: String,
    pub body: String,
}

/// A fraud alert's decision held for a reviewer, written with the batch that raised it.
#[derive(Debug, Clone, PartialEq)]
pub struct FraudHold {
    pub decision: sextant_core::Decision,
    pub review: crate::ReviewCase,
    pub audit: sextant_core::AuditRecord,
}

/// The outcome of processing one batch, committed in one transaction.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProcessedBatch {
    /// `embedded` or `nats.p<N>`.
    pub source: String,
    /// The offset the processor started from (0 = none stored yet).
    pub expected_offset: i64,
    pub new_offset: i64,
    pub alerts: Vec<AlertRow>,
    /// Webhook names: one outbox row per NEW alert per name.
    pub webhooks: Vec<String>,
    /// `(event_id, seq)` of the events applied, recorded for dedupe (NATS mode); may be empty.
    pub applied: Vec<(String, i64)>,
    /// Decisions to hold for review, each with its review case and audit entry. A hold whose
    /// decision id is already stored is skipped (a replay), and so is one for a customer the
    /// store does not know (events can arrive before the profile: the alert is kept).
    pub holds: Vec<FraudHold>,
    /// Streamed transactions for the ledger (the `transactions` table), written in the same
    /// transaction as the offset. Idempotent by transaction id: an id already stored (a replay,
    /// or a row imported before) is left as it is. A row whose account is not the customer's
    /// (or not known yet) is skipped and counted in one warning per batch: the event stays in
    /// the log or the JetStream stream, and a later import can bring the row.
    pub transactions: Vec<sextant_core::Transaction>,
    /// Streamed account balances, at most one per account (the newest), written in the same
    /// transaction: `accounts.balance_minor` is set when the account is the customer's and in
    /// the same currency, and the balance is not older than the one stored (`balance_at`: a late
    /// event changes nothing); any other update is skipped and counted in one warning per batch.
    pub balances: Vec<StreamedBalance>,
}

/// An account's balance as a `balance` event reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamedBalance {
    pub customer_id: sextant_core::CustomerId,
    pub account_id: sextant_core::AccountId,
    pub balance: sextant_core::Money,
    /// When the balance was true: the event's timestamp, µs since the epoch.
    pub at: i64,
}

/// An event that could not be processed, kept for inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub source: String,
    /// Its position in the source (log seq or stream seq), when known.
    pub position: Option<i64>,
    pub customer_id: Option<String>,
    pub received_micros: i64,
    /// The raw payload, cut to [`DEAD_LETTER_MAX_PAYLOAD`] bytes on write.
    pub payload: String,
    pub reason: String,
}

/// One pending webhook delivery of an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub alert_id: String,
    pub webhook: String,
    /// Attempts made so far.
    pub attempts: i32,
    /// The alert's JSON.
    pub body: String,
}

/// The stream's storage. Every method is one round trip or one transaction.
#[async_trait]
pub trait StreamStore: Send + Sync {
    /// Append events to the embedded log in one transaction, deduplicating on `event_id`; the
    /// events are durable when this returns. One result per input event, in input order. Seqs
    /// increase in input order and are never reused, but need not be contiguous (a rejected
    /// duplicate may consume a number), and a seq becomes visible only after every lower one.
    async fn append_events(&self, events: &[NewLogEvent]) -> Result<Vec<Appended>>;
    /// [`Self::append_events`], then `then` once the events are durable (before this returns).
    /// Backends that know the seq range an append covered pass it (SQLite); the default passes
    /// `None`.
    async fn append_events_then(
        &self,
        events: &[NewLogEvent],
        then: AppendHook,
    ) -> Result<Vec<Appended>> {
        let r = self.append_events(events).await?;
        then(None, &r);
        Ok(r)
    }
    /// Up to `limit` events with `seq > after_seq`, seq ascending.
    async fn read_log(&self, after_seq: i64, limit: u32) -> Result<Vec<LogEvent>>;
    /// The highest seq in the log, 0 if empty.
    async fn log_head(&self) -> Result<i64>;

    /// The committed offset of `source`, 0 if none.
    async fn stream_offset(&self, source: &str) -> Result<i64>;
    /// In ONE transaction: move the offset from `expected_offset` to `new_offset` (if the stored
    /// offset is not `expected_offset`: [`crate::StoreError::Conflict`], nothing written), insert
    /// the alerts whose ids are new, one outbox row per new alert per webhook, and the applied
    /// event ids not yet recorded. Returns how many alerts were new. The holds are written
    /// before it — in the same transaction on SQLite, in their own (idempotent by decision id)
    /// on PostgreSQL.
    async fn commit_processed(&self, b: &ProcessedBatch) -> Result<usize>;
    /// Of `event_ids`, those already applied: id → (source, seq).
    async fn applied_events(&self, event_ids: &[String]) -> Result<HashMap<String, (String, i64)>>;
    /// Store (replacing) the engine snapshot of `source` taken at `offset`.
    async fn save_checkpoint(&self, source: &str, offset: i64, snapshot: &[u8]) -> Result<()>;
    async fn load_checkpoint(&self, source: &str) -> Result<Option<(i64, Vec<u8>)>>;
    async fn dead_letter(&self, rows: &[DeadLetter]) -> Result<()>;
    /// Dead letters with id > `after_id`, oldest first.
    async fn list_dead_letters(&self, after_id: i64, limit: u32) -> Result<Vec<(i64, DeadLetter)>>;

    /// Alerts newest first (`at` descending, then id descending), optionally for one customer
    /// and/or one kind, strictly before the keyset cursor `(at, id)`.
    async fn list_alerts(
        &self,
        customer: Option<&str>,
        kind: Option<&str>,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> Result<Vec<AlertRow>>;
    async fn get_alert(&self, id: &str) -> Result<Option<AlertRow>>;
    async fn count_alerts(&self) -> Result<u64>;

    /// Pending deliveries due at `now_micros` (`next_at <= now`), oldest first.
    ///
    /// The rows returned are claimed for [`CLAIM_MICROS`]: another dispatcher (another process)
    /// does not get them until then, unless `delivery_done` reschedules them.
    async fn due_deliveries(&self, now_micros: i64, limit: u32) -> Result<Vec<Delivery>>;
    /// Record an attempt: `ok` ⇒ delivered; `!ok` with `next_at_micros` ⇒ retry then; `!ok`
    /// without ⇒ give up (status `failed`). Each call counts one attempt.
    async fn delivery_done(
        &self,
        id: i64,
        ok: bool,
        next_at_micros: Option<i64>,
        error: Option<&str>,
    ) -> Result<()>;

    /// Record that `worker` is alive at `now_micros`, forget workers not seen within
    /// `ttl_micros`, and return how many are live (this one included).
    async fn heartbeat(&self, worker: &str, now_micros: i64, ttl_micros: i64) -> Result<u32>;
    /// A session that can hold partition leases (PostgreSQL: a dedicated connection holding
    /// advisory locks; SQLite: an in-process registry). Dropping it releases its leases.
    async fn lease_session(&self) -> Result<Box<dyn LeaseSession>>;
}

/// Exclusive partition leases held by one session.
#[async_trait]
pub trait LeaseSession: Send {
    /// Take the lease on `partition` if no other session holds it (true also if this session
    /// already holds it).
    async fn try_acquire(&mut self, partition: u32) -> Result<bool>;
    async fn release(&mut self, partition: u32) -> Result<()>;
    /// An error if the session (and with it every lease it held) is lost.
    async fn check(&mut self) -> Result<()>;
}

/// Cut a dead-letter payload to at most [`DEAD_LETTER_MAX_PAYLOAD`] bytes, on a character
/// boundary.
pub(crate) fn truncate_payload(s: &str) -> &str {
    if s.len() <= DEAD_LETTER_MAX_PAYLOAD {
        return s;
    }
    let mut end = DEAD_LETTER_MAX_PAYLOAD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// How long `due_deliveries` claims the rows it returns (a dispatcher that dies mid-delivery
/// leaves them to the others after this).
pub const CLAIM_MICROS: i64 = 60_000_000;

/// Tables the stream adds that hold rows about a customer, erased with them, in deletion order:
/// `(table, DELETE statement with the customer id as $1)`.
pub(crate) const ERASE: &[(&str, &str)] = &[
    (
        "stream_applied",
        "DELETE FROM stream_applied WHERE event_id IN (SELECT event_id FROM event_log WHERE customer_id = $1)",
    ),
    ("event_log", "DELETE FROM event_log WHERE customer_id = $1"),
    (
        "webhook_deliveries",
        "DELETE FROM webhook_deliveries WHERE alert_id IN (SELECT id FROM alerts WHERE customer_id = $1)",
    ),
    ("alerts", "DELETE FROM alerts WHERE customer_id = $1"),
    (
        "dead_letters",
        "DELETE FROM dead_letters WHERE customer_id = $1",
    ),
    // The embedded processor's snapshot may hold the customer's windows: drop it, so a restart
    // rebuilds state from the log (which no longer has their events). The running processor
    // forgets the customer and checkpoints again at its next commit.
    (
        "stream_checkpoints",
        "DELETE FROM stream_checkpoints WHERE source = 'embedded' AND CAST($1 AS TEXT) IS NOT NULL",
    ),
];

/// Whether any stream table holds rows about the customer (erasure also applies to customers
/// known only from the stream).
pub(crate) const HAS_STREAM_ROWS: &str = "SELECT EXISTS (SELECT 1 FROM event_log WHERE customer_id = $1) \
    OR EXISTS (SELECT 1 FROM alerts WHERE customer_id = $1) \
    OR EXISTS (SELECT 1 FROM dead_letters WHERE customer_id = $1)";
/// [`HAS_STREAM_ROWS`] without the event log (SQLite finds a customer's log rows block by block:
/// `sqlite_stream::customer_log_seqs`).
pub(crate) const HAS_STREAM_ROWS_BESIDE_LOG: &str = "SELECT EXISTS (SELECT 1 FROM alerts WHERE customer_id = $1) \
    OR EXISTS (SELECT 1 FROM dead_letters WHERE customer_id = $1)";

/// Statements both backends run, with `$n` placeholders (SQLite gets them through
/// [`crate::rows::sql::sqlite`]).
pub(crate) mod sql {
    pub const READ_LOG: &str = "SELECT seq, event_id, customer_id, body FROM event_log WHERE seq > $1 \
        ORDER BY seq LIMIT $2";
    pub const LOG_HEAD: &str = "SELECT COALESCE(MAX(seq), 0) FROM event_log";
    pub const OFFSET: &str = "SELECT position FROM stream_offsets WHERE source = $1";
    /// The first commit of a source: expected offset 0 matches no row or a row at 0.
    pub const CAS_FIRST: &str = "INSERT INTO stream_offsets (source, position, updated_at) VALUES ($1, $2, $3) \
        ON CONFLICT (source) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at \
        WHERE stream_offsets.position = 0";
    pub const CAS: &str = "UPDATE stream_offsets SET position = $2, updated_at = $3 WHERE source = $1 AND position = $4";
    pub const INSERT_ALERT: &str = "INSERT INTO alerts (id, customer_id, rule, kind, severity, at, created_at, source, body) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING";
    pub const INSERT_DELIVERY: &str = "INSERT INTO webhook_deliveries (alert_id, webhook, status, attempts, next_at, created_at, updated_at) \
        VALUES ($1, $2, 'pending', 0, $3, $3, $3) ON CONFLICT (alert_id, webhook) DO NOTHING";
    pub const INSERT_APPLIED: &str = "INSERT INTO stream_applied (event_id, source, seq, applied_at) \
        VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING";
    pub const APPLIED: &str = "SELECT source, seq FROM stream_applied WHERE event_id = $1";
    pub const SAVE_CHECKPOINT: &str = "INSERT INTO stream_checkpoints (source, position, snapshot, saved_at) \
        VALUES ($1, $2, $3, $4) ON CONFLICT (source) DO UPDATE SET position = excluded.position, \
        snapshot = excluded.snapshot, saved_at = excluded.saved_at";
    pub const LOAD_CHECKPOINT: &str =
        "SELECT position, snapshot FROM stream_checkpoints WHERE source = $1";
    pub const INSERT_DEAD_LETTER: &str = "INSERT INTO dead_letters (source, position, customer_id, received_at, payload, reason) \
        VALUES ($1, $2, $3, $4, $5, $6)";
    pub const LIST_DEAD_LETTERS: &str = "SELECT id, source, position, customer_id, received_at, payload, reason \
        FROM dead_letters WHERE id > $1 ORDER BY id LIMIT $2";
    pub const ALERT_COLS: &str =
        "id, customer_id, rule, kind, severity, at, created_at, source, body";
    pub const GET_ALERT: &str = "SELECT id, customer_id, rule, kind, severity, at, created_at, source, body \
        FROM alerts WHERE id = $1";
    pub const COUNT_ALERTS: &str = "SELECT count(*) FROM alerts";
    pub const DUE: &str = "SELECT d.id, d.alert_id, d.webhook, d.attempts, a.body FROM webhook_deliveries d \
        JOIN alerts a ON a.id = d.alert_id WHERE d.status = 'pending' AND d.next_at <= $1 \
        ORDER BY d.next_at, d.id LIMIT $2";
    /// PostgreSQL: claim due deliveries (concurrent dispatchers skip each other's rows) by
    /// moving their `next_at` to `$3`, the end of the claim.
    pub const CLAIM: &str = "WITH due AS (SELECT id FROM webhook_deliveries WHERE status = 'pending' \
        AND next_at <= $1 ORDER BY next_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
        UPDATE webhook_deliveries d SET next_at = $3 FROM due, alerts a \
        WHERE d.id = due.id AND a.id = d.alert_id \
        RETURNING d.id, d.alert_id, d.webhook, d.attempts, a.body";
    /// SQLite (one writer): claim one selected row.
    pub const CLAIM_ONE: &str = "UPDATE webhook_deliveries SET next_at = $2 WHERE id = $1";
    pub const DELIVERED: &str = "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, \
        updated_at = $2, last_error = NULL WHERE id = $1 AND status = 'pending'";
    pub const RETRY: &str = "UPDATE webhook_deliveries SET attempts = attempts + 1, next_at = $3, updated_at = $2, \
        last_error = $4 WHERE id = $1 AND status = 'pending'";
    pub const GIVE_UP: &str = "UPDATE webhook_deliveries SET status = 'failed', attempts = attempts + 1, \
        updated_at = $2, last_error = $3 WHERE id = $1 AND status = 'pending'";
    pub const HEARTBEAT: &str = "INSERT INTO stream_workers (worker, last_seen) VALUES ($1, $2) \
        ON CONFLICT (worker) DO UPDATE SET last_seen = excluded.last_seen";
    pub const PRUNE_WORKERS: &str = "DELETE FROM stream_workers WHERE last_seen <= $1";
    pub const LIVE_WORKERS: &str = "SELECT count(*) FROM stream_workers WHERE last_seen > $1";

    /// Alerts newest first with the optional filters present (placeholders numbered in the
    /// order customer, kind, cursor at, cursor id, limit).
    pub fn list_alerts(customer: bool, kind: bool, before: bool) -> String {
        let mut conds = Vec::new();
        let mut n = 0;
        if customer {
            n += 1;
            conds.push(format!("customer_id = ${n}"));
        }
        if kind {
            n += 1;
            conds.push(format!("kind = ${n}"));
        }
        if before {
            conds.push(format!("(at, id) < (${}, ${})", n + 1, n + 2));
            n += 2;
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        format!(
            "SELECT {ALERT_COLS} FROM alerts{filter} ORDER BY at DESC, id DESC LIMIT ${}",
            n + 1
        )
    }
}

/// A row of [`sql::READ_LOG`].
pub(crate) fn log_event(r: &dyn Cells) -> Result<LogEvent> {
    Ok(LogEvent {
        seq: req_int(r, 0, "event_log", "seq")?,
        event_id: req_text(r, 1, "event_log", "event_id")?,
        customer_id: req_text(r, 2, "event_log", "customer_id")?,
        body: req_text(r, 3, "event_log", "body")?,
    })
}

/// A row of [`sql::ALERT_COLS`].
pub(crate) fn alert_row(r: &dyn Cells) -> Result<AlertRow> {
    const T: &str = "alerts";
    Ok(AlertRow {
        id: req_text(r, 0, T, "id")?,
        customer_id: req_text(r, 1, T, "customer_id")?,
        rule: req_text(r, 2, T, "rule")?,
        kind: req_text(r, 3, T, "kind")?,
        severity: req_text(r, 4, T, "severity")?,
        at_micros: req_int(r, 5, T, "at")?,
        created_micros: req_int(r, 6, T, "created_at")?,
        source: req_text(r, 7, T, "source")?,
        body: req_text(r, 8, T, "body")?,
    })
}

/// A row of [`sql::LIST_DEAD_LETTERS`].
pub(crate) fn dead_letter_row(r: &dyn Cells) -> Result<(i64, DeadLetter)> {
    const T: &str = "dead_letters";
    Ok((
        req_int(r, 0, T, "id")?,
        DeadLetter {
            source: req_text(r, 1, T, "source")?,
            position: r.int(2)?,
            customer_id: r.text(3)?,
            received_micros: req_int(r, 4, T, "received_at")?,
            payload: req_text(r, 5, T, "payload")?,
            reason: req_text(r, 6, T, "reason")?,
        },
    ))
}

/// A row of [`sql::DUE`].
pub(crate) fn delivery_row(r: &dyn Cells) -> Result<Delivery> {
    const T: &str = "webhook_deliveries";
    let attempts = req_int(r, 3, T, "attempts")?;
    Ok(Delivery {
        id: req_int(r, 0, T, "id")?,
        alert_id: req_text(r, 1, T, "alert_id")?,
        webhook: req_text(r, 2, T, "webhook")?,
        attempts: i32::try_from(attempts).map_err(|e| StoreError::corrupt(T, "attempts", e))?,
        body: req_text(r, 4, "alerts", "body")?,
    })
}

/// The error for a commit whose expected offset is not the stored one.
pub(crate) fn offset_conflict(source: &str, expected: i64, actual: i64) -> StoreError {
    StoreError::Conflict(format!(
        "stream offset of '{source}' is {actual}, not the expected {expected} (another processor committed first)"
    ))
}

/// Rows a processed batch could not store because the customer or account they name is not in
/// the store (events can arrive before the profile): the batch is committed without them and
/// they are reported once per batch — a replay would otherwise log a line per row.
pub(crate) struct Skipped {
    what: &'static str,
    count: usize,
    first: Option<String>,
}

impl Skipped {
    /// Fraud holds for unknown customers: their alerts are kept, no review case is opened.
    pub(crate) fn holds() -> Self {
        Self::new("fraud holds for customers the store does not know; alerts kept, no review cases")
    }

    /// Streamed balances whose account is not the customer's (or unknown), or in another
    /// currency.
    pub(crate) fn balances() -> Self {
        Self::new(
            "streamed balances for an account the store does not know as the customer's, or in \
             another currency; account not updated (the events are kept)",
        )
    }

    /// Streamed transactions whose account is not the customer's (or unknown).
    pub(crate) fn transactions() -> Self {
        Self::new(
            "streamed transactions whose account the store does not know as the customer's; \
             not written to the ledger (the events are kept)",
        )
    }

    fn new(what: &'static str) -> Self {
        Self {
            what,
            count: 0,
            first: None,
        }
    }

    pub(crate) fn add(&mut self, id: &str) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(id.to_string());
        }
    }

    #[cfg(test)]
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    pub(crate) fn report(self) {
        if let Some(first) = self.first {
            tracing::warn!(rows = self.count, first = %first, "{}", self.what);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_cut_on_a_char_boundary() {
        assert_eq!(truncate_payload("abc"), "abc");
        let long = "é".repeat(DEAD_LETTER_MAX_PAYLOAD); // 2 bytes each
        let cut = truncate_payload(&long);
        assert_eq!(cut.len(), DEAD_LETTER_MAX_PAYLOAD);
        let odd = format!("a{long}");
        let cut = truncate_payload(&odd);
        assert_eq!(cut.len(), DEAD_LETTER_MAX_PAYLOAD - 1);
        assert!(cut.is_char_boundary(cut.len()));
    }
}
