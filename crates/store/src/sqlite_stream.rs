//! [`StreamStore`] on SQLite. Writes go through the store's one writer connection; event-log
//! appends and the processor's commits are group-committed like decisions (whatever callers
//! queued while the previous commit ran is written in ONE transaction, one fsync; a processor
//! commit sits in a savepoint so its failed compare-and-swap fails it alone).
//! Partition leases are an in-process registry: on SQLite every worker lives in one process.

use crate::rows::sql::sqlite as lite;
use crate::sqlite::{SqliteStore, collect};
use crate::stream::{self, sql};
use crate::{
    AlertRow, AppendHook, Appended, DeadLetter, Delivery, LeaseSession, LogEvent, NewLogEvent,
    ProcessedBatch, Result, SeqRange, StoreError, StreamStore, now_micros,
};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

/// One caller's events, waiting for the group commit.
pub(crate) struct AppendJob {
    events: Vec<NewLogEvent>,
    then: Option<AppendHook>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<Appended>>>,
}

/// The event log's customer index is keyed by `seq >> LOG_BLOCK_SHIFT` first (migration 0012), so
/// appends touch only the newest block's part of it.
pub(crate) const LOG_BLOCK_SHIFT: u32 = 12;
/// One block of the customer index; the expression must be the index's (`seq >> 12`).
const CUSTOMER_IN_BLOCK: &str =
    "SELECT seq FROM event_log WHERE (seq >> 12) = ?1 AND customer_id = ?2 ORDER BY seq";

/// The seqs of a customer's events in the embedded log, ascending (at most one with
/// `first_only`): one index seek per block of 4 096 seqs between the log's first and last event
/// (a 100 M-event log is ~24 k seeks).
pub(crate) fn customer_log_seqs(
    c: &Connection,
    customer: &str,
    first_only: bool,
) -> Result<Vec<i64>> {
    let (lo, hi): (Option<i64>, Option<i64>) = c
        .prepare_cached(
            "SELECT (SELECT min(seq) FROM event_log), (SELECT max(seq) FROM event_log)",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Ok(Vec::new());
    };
    let mut stmt = c.prepare_cached(CUSTOMER_IN_BLOCK)?;
    let mut out = Vec::new();
    for block in (lo >> LOG_BLOCK_SHIFT)..=(hi >> LOG_BLOCK_SHIFT) {
        let mut rows = stmt.query(params![block, customer])?;
        while let Some(r) = rows.next()? {
            out.push(r.get(0)?);
            if first_only {
                return Ok(out);
            }
        }
    }
    Ok(out)
}

/// Erase a customer's events from the embedded log, and their NATS-mode applied markers:
/// `(stream_applied rows, event_log rows)` deleted.
pub(crate) fn erase_customer_log(c: &Connection, customer: &str) -> Result<(u64, u64)> {
    let seqs = customer_log_seqs(c, customer, false)?;
    let mut applied = c.prepare_cached(
        "DELETE FROM stream_applied WHERE event_id = (SELECT event_id FROM event_log WHERE seq = ?1)",
    )?;
    let mut log = c.prepare_cached("DELETE FROM event_log WHERE seq = ?1")?;
    let (mut a, mut l) = (0, 0);
    for s in seqs {
        a += applied.execute([s])? as u64;
        l += log.execute([s])? as u64;
    }
    Ok((a, l))
}

/// Most events committed in one group (callers' batches are never split).
const APPEND_GROUP_EVENTS: usize = 100_000;
/// Most callers committed in one group.
const APPEND_GROUP_JOBS: usize = 256;

/// A write waiting for the stream's group commit: an append, or a processor's commit (offset,
/// alerts, outbox). Both kinds share one transaction and one fsync: at a steady rate the
/// processor's commit rides along with the next append instead of costing its own fsync.
pub(crate) enum WriteJob {
    Append(AppendJob),
    Processed {
        batch: Box<ProcessedBatch>,
        reply: tokio::sync::oneshot::Sender<Result<usize>>,
    },
}

impl WriteJob {
    fn size(&self) -> usize {
        match self {
            WriteJob::Append(a) => a.events.len(),
            WriteJob::Processed { batch, .. } => {
                1 + batch.alerts.len()
                    + batch.applied.len()
                    + batch.holds.len()
                    + batch.transactions.len()
                    + batch.balances.len()
            }
        }
    }
}

/// One job's work, moved to the blocking thread.
enum Work {
    Append(Vec<NewLogEvent>),
    Processed(Box<ProcessedBatch>),
}

/// One job's outcome. A processed batch fails alone (its savepoint is rolled back, the group
/// still commits); an append cannot fail alone.
enum Done {
    Append(Vec<Appended>, SeqRange),
    Processed(Result<usize>),
}

/// Start the task that group-commits the stream's writes on the writer connection.
pub(crate) fn spawn_append_writer(
    writer: Arc<tokio::sync::Mutex<Connection>>,
) -> tokio::sync::mpsc::Sender<WriteJob> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<WriteJob>(APPEND_GROUP_JOBS);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut total = first.size();
            let mut jobs = vec![first];
            while jobs.len() < APPEND_GROUP_JOBS && total < APPEND_GROUP_EVENTS {
                match rx.try_recv() {
                    Ok(j) => {
                        total += j.size();
                        jobs.push(j);
                    }
                    Err(_) => break,
                }
            }
            let mut guard = writer.clone().lock_owned().await;
            let work: Vec<Work> = jobs
                .iter_mut()
                .map(|j| match j {
                    WriteJob::Append(a) => Work::Append(std::mem::take(&mut a.events)),
                    WriteJob::Processed { batch, .. } => Work::Processed(std::mem::take(batch)),
                })
                .collect();
            let outcome =
                tokio::task::spawn_blocking(move || commit_write_group(&mut guard, &work)).await;
            match outcome {
                Ok(Ok(results)) => {
                    // Hooks run here, one job after the other, so they see appends in commit
                    // (seq) order.
                    for (job, done) in jobs.into_iter().zip(results) {
                        match (job, done) {
                            (WriteJob::Append(job), Done::Append(r, range)) => {
                                if let Some(then) = job.then {
                                    then(Some(range), &r);
                                }
                                let _ = job.reply.send(Ok(r));
                            }
                            (WriteJob::Processed { reply, .. }, Done::Processed(r)) => {
                                let _ = reply.send(r);
                            }
                            _ => unreachable!("one outcome per job, in order"),
                        }
                    }
                }
                Ok(Err(e)) => {
                    let failed = || StoreError::group_failed("stream write", &e);
                    for job in jobs {
                        match job {
                            WriteJob::Append(a) => {
                                let _ = a.reply.send(Err(failed()));
                            }
                            WriteJob::Processed { reply, .. } => {
                                let _ = reply.send(Err(failed()));
                            }
                        }
                    }
                }
                Err(e) => {
                    for job in jobs {
                        let err = StoreError::Task(e.to_string());
                        match job {
                            WriteJob::Append(a) => {
                                let _ = a.reply.send(Err(err));
                            }
                            WriteJob::Processed { reply, .. } => {
                                let _ = reply.send(Err(err));
                            }
                        }
                    }
                }
            }
        }
    });
    tx
}

/// Write every job, then commit once. No savepoint per append: an open savepoint makes SQLite
/// keep a statement journal for every insert, which measured 10× slower; and an append can only
/// fail as a whole (I/O, disk full), never because of one caller's events (no foreign keys;
/// duplicates are not errors). A processed batch gets a savepoint (a few statements), so a
/// failed compare-and-swap fails that job alone. The error means nothing was committed.
/// Each append's results come with the seq range it covered, read from `sqlite_sequence` (which
/// also counts the numbers that duplicates consumed).
fn commit_write_group(conn: &mut Connection, work: &[Work]) -> Result<Vec<Done>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut after = log_sequence(&tx)?;
    let mut results = Vec::with_capacity(work.len());
    for w in work {
        match w {
            Work::Append(events) => {
                let r = append_on(&tx, events)?;
                let upto = log_sequence(&tx)?;
                results.push(Done::Append(r, SeqRange { after, upto }));
                after = upto;
            }
            Work::Processed(b) => {
                tx.execute_batch("SAVEPOINT processed")?;
                let r = processed_on(&tx, b);
                if r.is_err() {
                    tx.execute_batch("ROLLBACK TO processed")?;
                }
                tx.execute_batch("RELEASE processed")?;
                // The batch's ledger rows go in after its savepoint, like appends: inside an
                // open savepoint every insert paid for the savepoint's bookkeeping (measured:
                // 2.9 k events/s against 150 k without ledger rows), and these inserts can
                // only fail as a whole (I/O) — a bad reference is skipped by the statement,
                // a known id left alone — which fails the group like an append would.
                if r.is_ok() && !b.transactions.is_empty() {
                    crate::sqlite::write_streamed_transactions(&tx, &b.transactions)?.report();
                }
                if r.is_ok() && !b.balances.is_empty() {
                    write_streamed_balances(&tx, &b.balances)?;
                }
                results.push(Done::Processed(r));
            }
        }
    }
    tx.commit()?;
    Ok(results)
}

/// The last seq AUTOINCREMENT handed out for the event log (0 before the first).
fn log_sequence(c: &Connection) -> Result<i64> {
    Ok(
        c.prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'event_log'")?
            .query_row([], |r| r.get(0))
            .optional()?
            .unwrap_or(0),
    )
}

fn append_on(c: &Connection, events: &[NewLogEvent]) -> Result<Vec<Appended>> {
    // Plain INSERT + last_insert_rowid: measured about twice as fast as `RETURNING seq`.
    let mut insert = c.prepare_cached(
        "INSERT INTO event_log (event_id, customer_id, ts, kind, body) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (event_id) DO NOTHING",
    )?;
    let mut existing = c.prepare_cached("SELECT seq FROM event_log WHERE event_id = ?1")?;
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let n = insert.execute(params![
            e.event_id,
            e.customer_id,
            e.ts_micros,
            e.kind,
            e.body
        ])?;
        out.push(if n == 1 {
            Appended::New(c.last_insert_rowid())
        } else {
            Appended::Duplicate(existing.query_row([&e.event_id], |r| r.get(0))?)
        });
    }
    Ok(out)
}

/// Set the balances of the accounts streamed `balance` events name, unless the stored one is
/// newer (see [`ProcessedBatch::balances`]).
fn write_streamed_balances(c: &Connection, rows: &[crate::StreamedBalance]) -> Result<()> {
    let mut update = c.prepare_cached(
        "UPDATE accounts SET \
           balance_minor = CASE WHEN balance_at IS NULL OR balance_at <= ?5 THEN ?1 ELSE balance_minor END, \
           balance_at = MAX(COALESCE(balance_at, ?5), ?5) \
         WHERE id = ?2 AND customer_id = ?3 AND currency = ?4",
    )?;
    let mut skipped = crate::stream::Skipped::balances();
    for b in rows {
        let n = update.execute(params![
            b.balance.minor,
            b.account_id.as_str(),
            b.customer_id.as_str(),
            b.balance.currency.as_str(),
            b.at
        ])?;
        if n == 0 {
            skipped.add(b.account_id.as_str());
        }
    }
    skipped.report();
    Ok(())
}

fn offset_on(c: &Connection, source: &str) -> Result<i64> {
    Ok(c.prepare_cached(&lite(sql::OFFSET))?
        .query_row([source], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// A processed batch's writes, inside the caller's transaction.
fn processed_on(tx: &Connection, b: &ProcessedBatch) -> Result<usize> {
    let now = now_micros();
    let mut unknown = crate::stream::Skipped::holds();
    for h in &b.holds {
        let held: Option<i64> = tx
            .prepare_cached("SELECT 1 FROM decisions WHERE id = ?1")?
            .query_row([h.decision.id.as_str()], |r| r.get(0))
            .optional()?;
        if held.is_some() {
            continue;
        }
        tx.execute_batch("SAVEPOINT hold")?;
        match crate::sqlite::write_decisions(
            tx,
            std::slice::from_ref(&h.decision),
            std::slice::from_ref(&h.review),
            h.audit.clone(),
        ) {
            Ok(_) => tx.execute_batch("RELEASE hold")?,
            Err(StoreError::UnknownCustomer(_)) => {
                tx.execute_batch("ROLLBACK TO hold; RELEASE hold")?;
                unknown.add(h.decision.id.as_str());
            }
            Err(e) => return Err(e),
        }
    }
    unknown.report();
    let moved = if b.expected_offset == 0 {
        tx.prepare_cached(&lite(sql::CAS_FIRST))?
            .execute(params![b.source, b.new_offset, now])?
    } else {
        tx.prepare_cached(&lite(sql::CAS))?.execute(params![
            b.source,
            b.new_offset,
            now,
            b.expected_offset
        ])?
    };
    if moved != 1 {
        let actual = offset_on(tx, &b.source)?;
        return Err(stream::offset_conflict(
            &b.source,
            b.expected_offset,
            actual,
        ));
    }
    let mut new_alerts = 0;
    {
        let mut alert = tx.prepare_cached(&lite(sql::INSERT_ALERT))?;
        let mut delivery = tx.prepare_cached(&lite(sql::INSERT_DELIVERY))?;
        for a in &b.alerts {
            let n = alert.execute(params![
                a.id,
                a.customer_id,
                a.rule,
                a.kind,
                a.severity,
                a.at_micros,
                a.created_micros,
                a.source,
                a.body
            ])?;
            if n == 1 {
                new_alerts += 1;
                for w in &b.webhooks {
                    delivery.execute(params![a.id, w, now])?;
                }
            }
        }
        let mut applied = tx.prepare_cached(&lite(sql::INSERT_APPLIED))?;
        for (event_id, seq) in &b.applied {
            applied.execute(params![event_id, b.source, seq, now])?;
        }
    }
    Ok(new_alerts)
}

impl SqliteStore {
    async fn append(
        &self,
        events: &[NewLogEvent],
        then: Option<AppendHook>,
    ) -> Result<Vec<Appended>> {
        if events.is_empty() {
            if let Some(then) = then {
                then(None, &[]);
            }
            return Ok(Vec::new());
        }
        let (reply, rx) = tokio::sync::oneshot::channel();
        let stopped = || StoreError::Task("the event log writer has stopped".into());
        self.appends
            .send(WriteJob::Append(AppendJob {
                events: events.to_vec(),
                then,
                reply,
            }))
            .await
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

#[async_trait]
impl StreamStore for SqliteStore {
    async fn append_events(&self, events: &[NewLogEvent]) -> Result<Vec<Appended>> {
        self.append(events, None).await
    }

    async fn append_events_then(
        &self,
        events: &[NewLogEvent],
        then: AppendHook,
    ) -> Result<Vec<Appended>> {
        self.append(events, Some(then)).await
    }

    async fn read_log(&self, after_seq: i64, limit: u32) -> Result<Vec<LogEvent>> {
        self.read(move |c| {
            collect(
                c,
                &lite(sql::READ_LOG),
                params![after_seq, limit],
                stream::log_event,
            )
        })
        .await
    }

    async fn log_head(&self) -> Result<i64> {
        self.read(|c| {
            Ok(c.prepare_cached(sql::LOG_HEAD)?
                .query_row([], |r| r.get(0))?)
        })
        .await
    }

    async fn stream_offset(&self, source: &str) -> Result<i64> {
        let source = source.to_string();
        self.read(move |c| offset_on(c, &source)).await
    }

    async fn commit_processed(&self, b: &ProcessedBatch) -> Result<usize> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let stopped = || StoreError::Task("the stream writer has stopped".into());
        self.appends
            .send(WriteJob::Processed {
                batch: Box::new(b.clone()),
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    async fn applied_events(&self, event_ids: &[String]) -> Result<HashMap<String, (String, i64)>> {
        let ids = event_ids.to_vec();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&lite(sql::APPLIED))?;
            let mut out = HashMap::new();
            for id in ids {
                let found: Option<(String, i64)> = stmt
                    .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                if let Some(v) = found {
                    out.insert(id, v);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn save_checkpoint(&self, source: &str, offset: i64, snapshot: &[u8]) -> Result<()> {
        let (source, snapshot) = (source.to_string(), snapshot.to_vec());
        self.write(move |c| {
            c.prepare_cached(&lite(sql::SAVE_CHECKPOINT))?
                .execute(params![source, offset, snapshot, now_micros()])?;
            Ok(())
        })
        .await
    }

    async fn load_checkpoint(&self, source: &str) -> Result<Option<(i64, Vec<u8>)>> {
        let source = source.to_string();
        self.read(move |c| {
            Ok(c.prepare_cached(&lite(sql::LOAD_CHECKPOINT))?
                .query_row([source], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        })
        .await
    }

    async fn dead_letter(&self, rows: &[DeadLetter]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let rows = rows.to_vec();
        self.write(move |c| {
            let tx = c.transaction()?;
            {
                let mut stmt = tx.prepare_cached(&lite(sql::INSERT_DEAD_LETTER))?;
                for d in &rows {
                    stmt.execute(params![
                        d.source,
                        d.position,
                        d.customer_id,
                        d.received_micros,
                        stream::truncate_payload(&d.payload),
                        d.reason
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn list_dead_letters(&self, after_id: i64, limit: u32) -> Result<Vec<(i64, DeadLetter)>> {
        self.read(move |c| {
            collect(
                c,
                &lite(sql::LIST_DEAD_LETTERS),
                params![after_id, limit],
                stream::dead_letter_row,
            )
        })
        .await
    }

    async fn list_alerts(
        &self,
        customer: Option<&str>,
        kind: Option<&str>,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> Result<Vec<AlertRow>> {
        let (customer, kind) = (customer.map(str::to_string), kind.map(str::to_string));
        self.read(move |c| {
            let sql = lite(&sql::list_alerts(
                customer.is_some(),
                kind.is_some(),
                before.is_some(),
            ));
            let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(5);
            values.extend(customer.map(Into::into));
            values.extend(kind.map(Into::into));
            if let Some((at, id)) = before {
                values.push(at.into());
                values.push(id.into());
            }
            values.push(i64::from(limit).into());
            collect(
                c,
                &sql,
                rusqlite::params_from_iter(values),
                stream::alert_row,
            )
        })
        .await
    }

    async fn get_alert(&self, id: &str) -> Result<Option<AlertRow>> {
        let id = id.to_string();
        self.read(move |c| Ok(collect(c, &lite(sql::GET_ALERT), [id], stream::alert_row)?.pop()))
            .await
    }

    async fn count_alerts(&self) -> Result<u64> {
        self.read(|c| {
            let n: i64 = c
                .prepare_cached(sql::COUNT_ALERTS)?
                .query_row([], |r| r.get(0))?;
            Ok(n as u64)
        })
        .await
    }

    async fn due_deliveries(&self, now_micros: i64, limit: u32) -> Result<Vec<Delivery>> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let rows = collect(
                &tx,
                &lite(sql::DUE),
                params![now_micros, limit],
                stream::delivery_row,
            )?;
            let until = now_micros.saturating_add(stream::CLAIM_MICROS);
            {
                let mut claim = tx.prepare_cached(&lite(sql::CLAIM_ONE))?;
                for d in &rows {
                    claim.execute(params![d.id, until])?;
                }
            }
            tx.commit()?;
            Ok(rows)
        })
        .await
    }

    async fn delivery_done(
        &self,
        id: i64,
        ok: bool,
        next_at_micros: Option<i64>,
        error: Option<&str>,
    ) -> Result<()> {
        let error = error.map(str::to_string);
        self.write(move |c| {
            let now = now_micros();
            match (ok, next_at_micros) {
                (true, _) => c
                    .prepare_cached(&lite(sql::DELIVERED))?
                    .execute(params![id, now])?,
                (false, Some(next)) => c
                    .prepare_cached(&lite(sql::RETRY))?
                    .execute(params![id, now, next, error])?,
                (false, None) => c
                    .prepare_cached(&lite(sql::GIVE_UP))?
                    .execute(params![id, now, error])?,
            };
            Ok(())
        })
        .await
    }

    async fn heartbeat(&self, worker: &str, now: i64, ttl_micros: i64) -> Result<u32> {
        let worker = worker.to_string();
        self.write(move |c| {
            let tx = c.transaction()?;
            let horizon = now.saturating_sub(ttl_micros);
            tx.prepare_cached(&lite(sql::HEARTBEAT))?
                .execute(params![worker, now])?;
            tx.prepare_cached(&lite(sql::PRUNE_WORKERS))?
                .execute([horizon])?;
            let live: i64 = tx
                .prepare_cached(&lite(sql::LIVE_WORKERS))?
                .query_row([horizon], |r| r.get(0))?;
            tx.commit()?;
            Ok(u32::try_from(live).unwrap_or(u32::MAX))
        })
        .await
    }

    async fn lease_session(&self) -> Result<Box<dyn LeaseSession>> {
        let db = std::fs::canonicalize(self.path()).unwrap_or_else(|_| self.path().to_path_buf());
        Ok(Box::new(LocalLeases {
            db,
            id: NEXT_SESSION.fetch_add(1, Ordering::Relaxed),
            held: HashSet::new(),
        }))
    }
}

/// Partition leases held in this process: (database file, partition) → session id.
static LEASES: LazyLock<Mutex<HashMap<(PathBuf, u32), u64>>> = LazyLock::new(Default::default);
static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// A lease session on SQLite: leases live in [`LEASES`] until released or the session is dropped.
struct LocalLeases {
    db: PathBuf,
    id: u64,
    held: HashSet<u32>,
}

fn registry() -> std::sync::MutexGuard<'static, HashMap<(PathBuf, u32), u64>> {
    // A panic while holding the lock leaves the map consistent (single inserts and removes).
    LEASES.lock().unwrap_or_else(|e| e.into_inner())
}

#[async_trait]
impl LeaseSession for LocalLeases {
    async fn try_acquire(&mut self, partition: u32) -> Result<bool> {
        let mut map = registry();
        let holder = *map.entry((self.db.clone(), partition)).or_insert(self.id);
        if holder == self.id {
            self.held.insert(partition);
        }
        Ok(holder == self.id)
    }

    async fn release(&mut self, partition: u32) -> Result<()> {
        if self.held.remove(&partition) {
            registry().remove(&(self.db.clone(), partition));
        }
        Ok(())
    }

    async fn check(&mut self) -> Result<()> {
        Ok(())
    }
}

impl Drop for LocalLeases {
    fn drop(&mut self) {
        let mut map = registry();
        for p in self.held.drain() {
            map.remove(&(self.db.clone(), p));
        }
    }
}
