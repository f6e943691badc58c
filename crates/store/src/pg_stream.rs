//! [`StreamStore`] on PostgreSQL. Batches travel as arrays (`unnest`), one statement per table
//! per batch, never one per row. Event-log appends take a transaction-scoped advisory lock so
//! seqs become visible in the order they were allocated (a reader paging by `seq > offset` never
//! skips an event committed late). Partition leases are session advisory locks held by a
//! dedicated connection outside the pool: when that connection ends, PostgreSQL releases them.

use crate::Store;
use crate::postgres::PgStore;
use crate::stream::{self, sql};
use crate::{
    AlertRow, Appended, DeadLetter, Delivery, LeaseSession, LogEvent, NewLogEvent, ProcessedBatch,
    Result, StoreError, StreamStore, now_micros,
};
use async_trait::async_trait;
use std::collections::{BTreeSet, HashMap};
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;

/// Advisory lock key serialising event-log appends (alongside `postgres.rs`'s keys).
const EVENT_LOG_LOCK: i64 = 0x5E47_0003;
/// Advisory lock class (first key of `pg_try_advisory_lock(int, int)`) of partition leases.
const LEASE_CLASS: i32 = 0x5E47_0004;

/// The lease lock class for a store: [`LEASE_CLASS`], mixed with the schema name when the store
/// lives in its own schema (advisory locks are per database, so stores in different schemas —
/// parallel tests — must not contend for each other's partitions).
pub(crate) fn lease_class(schema: Option<&str>) -> i32 {
    match schema {
        None => LEASE_CLASS,
        Some(s) => {
            // FNV-1a, 32 bits.
            let h = s.bytes().fold(0x811c_9dc5_u32, |h, b| {
                (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
            });
            LEASE_CLASS ^ (h & 0x7fff_ffff) as i32
        }
    }
}

const APPEND: &str = "INSERT INTO event_log (event_id, customer_id, ts, kind, body) \
    SELECT e, c, t, k, b FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[]) \
    WITH ORDINALITY AS u(e, c, t, k, b, n) ORDER BY n \
    ON CONFLICT (event_id) DO NOTHING RETURNING event_id, seq";
const EXISTING: &str = "SELECT event_id, seq FROM event_log WHERE event_id = ANY($1)";
const INSERT_ALERTS: &str = "INSERT INTO alerts (id, customer_id, rule, kind, severity, at, created_at, source, body) \
    SELECT i, c, r, k, s, a, t, o, b FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], \
    $7::bigint[], $8::text[], $9::text[]) WITH ORDINALITY AS u(i, c, r, k, s, a, t, o, b, n) ORDER BY n \
    ON CONFLICT (id) DO NOTHING RETURNING id";
const INSERT_DELIVERIES: &str = "INSERT INTO webhook_deliveries (alert_id, webhook, status, attempts, next_at, created_at, updated_at) \
    SELECT a, w, 'pending', 0, $3::bigint, $3::bigint, $3::bigint FROM unnest($1::text[]) WITH ORDINALITY AS x(a, i) \
    CROSS JOIN unnest($2::text[]) WITH ORDINALITY AS y(w, j) ORDER BY i, j \
    ON CONFLICT (alert_id, webhook) DO NOTHING";
const INSERT_APPLIED: &str = "INSERT INTO stream_applied (event_id, source, seq, applied_at) \
    SELECT e, $3::text, s, $4::bigint FROM unnest($1::text[], $2::bigint[]) AS u(e, s) \
    ON CONFLICT (event_id) DO NOTHING";
/// Streamed transactions into the ledger (see [`ProcessedBatch::transactions`]): a row goes in
/// only if its account belongs to its customer (the table has no foreign key: this join is the
/// check) and its id is new. The customer's row is locked `FOR KEY SHARE` until COMMIT, so an
/// erasure (which locks it `FOR UPDATE` first) either waits for this batch and then deletes its
/// rows too, or goes first and leaves no customer to join. Returns the ids skipped for their
/// account, in input order.
const INSERT_TRANSACTIONS: &str = "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], \
    $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::text[], \
    $12::bigint[], $13::text[]) WITH ORDINALITY AS x(id, customer_id, account_id, ts, amount_minor, currency, \
    merchant, category, mcc, channel, country, balance_after_minor, status, n)), \
  ok AS (SELECT u.* FROM u JOIN customers c ON c.id = u.customer_id \
    JOIN accounts a ON a.id = u.account_id AND a.customer_id = u.customer_id FOR KEY SHARE OF c), \
  ins AS (INSERT INTO transactions (id, customer_id, account_id, ts, amount_minor, currency, merchant, \
    category, mcc, channel, country, balance_after_minor, status) \
    SELECT id, customer_id, account_id, ts, amount_minor, currency, merchant, category, mcc, channel, \
    country, balance_after_minor, status FROM ok ORDER BY n ON CONFLICT (id) DO NOTHING) \
  SELECT id FROM u WHERE NOT EXISTS (SELECT 1 FROM ok WHERE ok.n = u.n) ORDER BY n";
/// Streamed balances (see [`ProcessedBatch::balances`], one per account): returns the accounts
/// not updated.
const UPDATE_BALANCES: &str = "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], \
    $4::bigint[], $5::bigint[]) AS x(account_id, customer_id, currency, balance, at)), \
  up AS (UPDATE accounts a SET \
      balance_minor = CASE WHEN a.balance_at IS NULL OR a.balance_at <= u.at \
        THEN u.balance ELSE a.balance_minor END, \
      balance_at = GREATEST(COALESCE(a.balance_at, u.at), u.at) \
    FROM u \
    WHERE a.id = u.account_id AND a.customer_id = u.customer_id AND a.currency = u.currency \
    RETURNING a.id) \
  SELECT account_id FROM u WHERE account_id NOT IN (SELECT id FROM up)";
const APPLIED: &str = "SELECT event_id, source, seq FROM stream_applied WHERE event_id = ANY($1)";
const INSERT_DEAD_LETTERS: &str = "INSERT INTO dead_letters (source, position, customer_id, received_at, payload, reason) \
    SELECT s, p, c, r, d, e FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[]) \
    WITH ORDINALITY AS u(s, p, c, r, d, e, n) ORDER BY n";

/// Report the rows a statement returned as skipped (their first column names each one).
fn report_skipped(mut report: crate::stream::Skipped, rows: &[tokio_postgres::Row]) -> Result<()> {
    for r in rows {
        report.add(r.try_get(0)?);
    }
    report.report();
    Ok(())
}

impl PgStore {
    async fn exec(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.execute(&stmt, params).await?)
    }
}

#[async_trait]
impl StreamStore for PgStore {
    async fn append_events(&self, events: &[NewLogEvent]) -> Result<Vec<Appended>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
        let customers: Vec<&str> = events.iter().map(|e| e.customer_id.as_str()).collect();
        let ts: Vec<i64> = events.iter().map(|e| e.ts_micros).collect();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        let bodies: Vec<&str> = events.iter().map(|e| e.body.as_str()).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&EVENT_LOG_LOCK])
            .await?;
        let stmt = tx.prepare_cached(APPEND).await?;
        let inserted = tx
            .query(&stmt, &[&ids, &customers, &ts, &kinds, &bodies])
            .await?;
        // Inserted rows, by id; the first occurrence of an id in the batch is the new one.
        let mut new: HashMap<String, i64> = HashMap::with_capacity(inserted.len());
        for r in &inserted {
            new.insert(r.try_get(0)?, r.try_get(1)?);
        }
        let mut existing: HashMap<String, i64> = HashMap::new();
        if inserted.len() < events.len() {
            let missing: Vec<&str> = ids
                .iter()
                .copied()
                .filter(|id| !new.contains_key(*id))
                .collect();
            if !missing.is_empty() {
                let stmt = tx.prepare_cached(EXISTING).await?;
                for r in tx.query(&stmt, &[&missing]).await? {
                    existing.insert(r.try_get(0)?, r.try_get(1)?);
                }
            }
        }
        tx.commit().await?;
        let mut claimed: HashMap<&str, i64> = HashMap::new();
        ids.iter()
            .map(|id| {
                if let Some(&seq) = claimed.get(id) {
                    return Ok(Appended::Duplicate(seq));
                }
                if let Some(&seq) = new.get(*id) {
                    claimed.insert(id, seq);
                    return Ok(Appended::New(seq));
                }
                existing
                    .get(*id)
                    .map(|&seq| Appended::Duplicate(seq))
                    .ok_or_else(|| {
                        StoreError::corrupt("event_log", "event_id", "neither inserted nor found")
                    })
            })
            .collect()
    }

    async fn read_log(&self, after_seq: i64, limit: u32) -> Result<Vec<LogEvent>> {
        self.query(
            sql::READ_LOG,
            &[&after_seq, &i64::from(limit)],
            stream::log_event,
        )
        .await
    }

    async fn log_head(&self) -> Result<i64> {
        let client = self.client().await?;
        Ok(client.query_one(sql::LOG_HEAD, &[]).await?.try_get(0)?)
    }

    async fn stream_offset(&self, source: &str) -> Result<i64> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql::OFFSET).await?;
        Ok(match client.query_opt(&stmt, &[&source]).await? {
            Some(r) => r.try_get(0)?,
            None => 0,
        })
    }

    async fn commit_processed(&self, b: &ProcessedBatch) -> Result<usize> {
        let mut unknown = crate::stream::Skipped::holds();
        for h in &b.holds {
            if self.get_decision(&h.decision.id).await?.is_some() {
                continue;
            }
            match self
                .record_decisions(
                    std::slice::from_ref(&h.decision),
                    std::slice::from_ref(&h.review),
                    h.audit.clone(),
                )
                .await
            {
                Ok(_) => {}
                Err(StoreError::UnknownCustomer(_)) => unknown.add(h.decision.id.as_str()),
                Err(e) => return Err(e),
            }
        }
        unknown.report();
        let now = now_micros();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let moved = if b.expected_offset == 0 {
            let stmt = tx.prepare_cached(sql::CAS_FIRST).await?;
            tx.execute(&stmt, &[&b.source, &b.new_offset, &now]).await?
        } else {
            let stmt = tx.prepare_cached(sql::CAS).await?;
            tx.execute(&stmt, &[&b.source, &b.new_offset, &now, &b.expected_offset])
                .await?
        };
        if moved != 1 {
            let stmt = tx.prepare_cached(sql::OFFSET).await?;
            let actual = match tx.query_opt(&stmt, &[&b.source]).await? {
                Some(r) => r.try_get(0)?,
                None => 0,
            };
            return Err(stream::offset_conflict(
                &b.source,
                b.expected_offset,
                actual,
            ));
        }
        if !b.transactions.is_empty() {
            let t = &b.transactions;
            let text =
                |f: fn(&sextant_core::Transaction) -> &str| t.iter().map(f).collect::<Vec<&str>>();
            let int =
                |f: fn(&sextant_core::Transaction) -> i64| t.iter().map(f).collect::<Vec<i64>>();
            let opt = |f: fn(&sextant_core::Transaction) -> Option<i64>| {
                t.iter().map(f).collect::<Vec<Option<i64>>>()
            };
            let merchants: Vec<Option<&str>> = t.iter().map(|t| t.merchant.as_deref()).collect();
            let stmt = tx.prepare_cached(INSERT_TRANSACTIONS).await?;
            let skipped = tx
                .query(
                    &stmt,
                    &[
                        &text(|t| t.id.as_str()),
                        &text(|t| t.customer_id.as_str()),
                        &text(|t| t.account_id.as_str()),
                        &int(|t| t.timestamp.timestamp_micros()),
                        &int(|t| t.amount.minor),
                        &text(|t| t.amount.currency.as_str()),
                        &merchants,
                        &text(|t| t.category.as_str()),
                        &opt(|t| t.mcc.map(|m| i64::from(m.value()))),
                        &text(|t| t.channel.as_str()),
                        &text(|t| t.country.as_str()),
                        &opt(|t| t.balance_after.map(|m| m.minor)),
                        &text(|t| t.status.as_str()),
                    ],
                )
                .await?;
            report_skipped(crate::stream::Skipped::transactions(), &skipped)?;
        }
        if !b.balances.is_empty() {
            let v = &b.balances;
            let accounts: Vec<&str> = v.iter().map(|b| b.account_id.as_str()).collect();
            let customers: Vec<&str> = v.iter().map(|b| b.customer_id.as_str()).collect();
            let currencies: Vec<&str> = v.iter().map(|b| b.balance.currency.as_str()).collect();
            let minor: Vec<i64> = v.iter().map(|b| b.balance.minor).collect();
            let at: Vec<i64> = v.iter().map(|b| b.at).collect();
            let stmt = tx.prepare_cached(UPDATE_BALANCES).await?;
            let skipped = tx
                .query(&stmt, &[&accounts, &customers, &currencies, &minor, &at])
                .await?;
            report_skipped(crate::stream::Skipped::balances(), &skipped)?;
        }
        let mut new_ids: Vec<String> = Vec::new();
        if !b.alerts.is_empty() {
            let col = |f: fn(&AlertRow) -> &str| b.alerts.iter().map(f).collect::<Vec<&str>>();
            let ints = |f: fn(&AlertRow) -> i64| b.alerts.iter().map(f).collect::<Vec<i64>>();
            let stmt = tx.prepare_cached(INSERT_ALERTS).await?;
            let rows = tx
                .query(
                    &stmt,
                    &[
                        &col(|a| a.id.as_str()),
                        &col(|a| a.customer_id.as_str()),
                        &col(|a| a.rule.as_str()),
                        &col(|a| a.kind.as_str()),
                        &col(|a| a.severity.as_str()),
                        &ints(|a| a.at_micros),
                        &ints(|a| a.created_micros),
                        &col(|a| a.source.as_str()),
                        &col(|a| a.body.as_str()),
                    ],
                )
                .await?;
            for r in &rows {
                new_ids.push(r.try_get(0)?);
            }
        }
        if !new_ids.is_empty() && !b.webhooks.is_empty() {
            let stmt = tx.prepare_cached(INSERT_DELIVERIES).await?;
            tx.execute(&stmt, &[&new_ids, &b.webhooks, &now]).await?;
        }
        if !b.applied.is_empty() {
            let ids: Vec<&str> = b.applied.iter().map(|(id, _)| id.as_str()).collect();
            let seqs: Vec<i64> = b.applied.iter().map(|(_, s)| *s).collect();
            let stmt = tx.prepare_cached(INSERT_APPLIED).await?;
            tx.execute(&stmt, &[&ids, &seqs, &b.source, &now]).await?;
        }
        tx.commit().await?;
        Ok(new_ids.len())
    }

    async fn applied_events(&self, event_ids: &[String]) -> Result<HashMap<String, (String, i64)>> {
        if event_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let client = self.client().await?;
        let stmt = client.prepare_cached(APPLIED).await?;
        let mut out = HashMap::new();
        for r in client.query(&stmt, &[&event_ids]).await? {
            out.insert(r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?));
        }
        Ok(out)
    }

    async fn save_checkpoint(&self, source: &str, offset: i64, snapshot: &[u8]) -> Result<()> {
        self.exec(
            sql::SAVE_CHECKPOINT,
            &[&source, &offset, &snapshot, &now_micros()],
        )
        .await?;
        Ok(())
    }

    async fn load_checkpoint(&self, source: &str) -> Result<Option<(i64, Vec<u8>)>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql::LOAD_CHECKPOINT).await?;
        Ok(match client.query_opt(&stmt, &[&source]).await? {
            Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
            None => None,
        })
    }

    async fn dead_letter(&self, rows: &[DeadLetter]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let sources: Vec<&str> = rows.iter().map(|d| d.source.as_str()).collect();
        let positions: Vec<Option<i64>> = rows.iter().map(|d| d.position).collect();
        let customers: Vec<Option<&str>> = rows.iter().map(|d| d.customer_id.as_deref()).collect();
        let received: Vec<i64> = rows.iter().map(|d| d.received_micros).collect();
        let payloads: Vec<&str> = rows
            .iter()
            .map(|d| stream::truncate_payload(&d.payload))
            .collect();
        let reasons: Vec<&str> = rows.iter().map(|d| d.reason.as_str()).collect();
        self.exec(
            INSERT_DEAD_LETTERS,
            &[
                &sources, &positions, &customers, &received, &payloads, &reasons,
            ],
        )
        .await?;
        Ok(())
    }

    async fn list_dead_letters(&self, after_id: i64, limit: u32) -> Result<Vec<(i64, DeadLetter)>> {
        self.query(
            sql::LIST_DEAD_LETTERS,
            &[&after_id, &i64::from(limit)],
            stream::dead_letter_row,
        )
        .await
    }

    async fn list_alerts(
        &self,
        customer: Option<&str>,
        kind: Option<&str>,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> Result<Vec<AlertRow>> {
        let sql = sql::list_alerts(customer.is_some(), kind.is_some(), before.is_some());
        let limit = i64::from(limit);
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(5);
        if let Some(c) = &customer {
            params.push(c);
        }
        if let Some(k) = &kind {
            params.push(k);
        }
        if let Some((at, id)) = &before {
            params.push(at);
            params.push(id);
        }
        params.push(&limit);
        self.query(&sql, &params, stream::alert_row).await
    }

    async fn get_alert(&self, id: &str) -> Result<Option<AlertRow>> {
        Ok(self
            .query(sql::GET_ALERT, &[&id], stream::alert_row)
            .await?
            .pop())
    }

    async fn count_alerts(&self) -> Result<u64> {
        let client = self.client().await?;
        let n: i64 = client.query_one(sql::COUNT_ALERTS, &[]).await?.try_get(0)?;
        Ok(n as u64)
    }

    async fn due_deliveries(&self, now_micros: i64, limit: u32) -> Result<Vec<Delivery>> {
        let until = now_micros.saturating_add(stream::CLAIM_MICROS);
        let mut rows = self
            .query(
                sql::CLAIM,
                &[&now_micros, &i64::from(limit), &until],
                stream::delivery_row,
            )
            .await?;
        rows.sort_by_key(|d| d.id);
        Ok(rows)
    }

    async fn delivery_done(
        &self,
        id: i64,
        ok: bool,
        next_at_micros: Option<i64>,
        error: Option<&str>,
    ) -> Result<()> {
        let now = now_micros();
        match (ok, next_at_micros) {
            (true, _) => self.exec(sql::DELIVERED, &[&id, &now]).await?,
            (false, Some(next)) => self.exec(sql::RETRY, &[&id, &now, &next, &error]).await?,
            (false, None) => self.exec(sql::GIVE_UP, &[&id, &now, &error]).await?,
        };
        Ok(())
    }

    async fn heartbeat(&self, worker: &str, now: i64, ttl_micros: i64) -> Result<u32> {
        let horizon = now.saturating_sub(ttl_micros);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let stmt = tx.prepare_cached(sql::HEARTBEAT).await?;
        tx.execute(&stmt, &[&worker, &now]).await?;
        let stmt = tx.prepare_cached(sql::PRUNE_WORKERS).await?;
        tx.execute(&stmt, &[&horizon]).await?;
        let stmt = tx.prepare_cached(sql::LIVE_WORKERS).await?;
        let live: i64 = tx.query_one(&stmt, &[&horizon]).await?.try_get(0)?;
        tx.commit().await?;
        Ok(u32::try_from(live).unwrap_or(u32::MAX))
    }

    async fn lease_session(&self) -> Result<Box<dyn LeaseSession>> {
        let (client, conn) = self
            .config
            .connect(NoTls)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::warn!(error = %e, "lease session connection ended");
            }
        });
        Ok(Box::new(PgLeases {
            client,
            class: self.lease_class,
            held: BTreeSet::new(),
        }))
    }
}

/// A lease session: one dedicated connection; each lease is the session advisory lock
/// `(class, partition)`. Dropping the client closes the connection, releasing every lease.
struct PgLeases {
    client: tokio_postgres::Client,
    class: i32,
    held: BTreeSet<u32>,
}

impl PgLeases {
    fn key(partition: u32) -> i32 {
        // Bijective: partitions above i32::MAX (never used) still get distinct keys.
        partition as i32
    }
}

#[async_trait]
impl LeaseSession for PgLeases {
    async fn try_acquire(&mut self, partition: u32) -> Result<bool> {
        if self.held.contains(&partition) {
            // Session advisory locks stack; taking it again would need two unlocks.
            return Ok(true);
        }
        let got: bool = self
            .client
            .query_one(
                "SELECT pg_try_advisory_lock($1, $2)",
                &[&self.class, &Self::key(partition)],
            )
            .await?
            .try_get(0)?;
        if got {
            self.held.insert(partition);
        }
        Ok(got)
    }

    async fn release(&mut self, partition: u32) -> Result<()> {
        if self.held.remove(&partition) {
            self.client
                .query_one(
                    "SELECT pg_advisory_unlock($1, $2)",
                    &[&self.class, &Self::key(partition)],
                )
                .await?;
        }
        Ok(())
    }

    async fn check(&mut self) -> Result<()> {
        if self.client.is_closed() {
            return Err(StoreError::Unavailable(
                "the lease session's connection is closed (its leases are lost)".into(),
            ));
        }
        self.client
            .simple_query("SELECT 1")
            .await
            .map_err(|e| StoreError::Unavailable(format!("lease session lost: {e}")))?;
        Ok(())
    }
}
