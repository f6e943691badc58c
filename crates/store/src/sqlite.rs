//! The embedded default: one SQLite file in WAL mode. One writer connection behind an async
//! mutex (SQLite allows one writer at a time anyway) and a small pool of reader connections;
//! all blocking calls run on tokio's blocking pool.

use crate::migrate::{CREATE_TABLE, MIGRATIONS};
use crate::owners::{AccountOwners, MAX_OWNERS_IN_MEMORY};
use crate::rows::{self, Cells, nba};
use crate::{
    ApiKeyRecord, Backend, Batch, IdempotentResponse, ImportRecord, ImportSink, RecordKind, Result,
    RowReject, Store, StoreError, Table, now_micros,
};
use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};
use sextant_core::{
    Account, AuditEntry, AuditRecord, ConsentRecord, Customer, CustomerEvent, CustomerId,
    CustomerMessage, Decision, DecisionId, Product, ProductId, ProtectedAttributes, Transaction,
    TransactionId, audit,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::OwnedMutexGuard;

/// Reader connections kept open (each with its prepared-statement cache): enough for every
/// blocking thread that reads at once under a 16-connection load, so none is opened per request.
const MAX_IDLE_READERS: usize = 32;
/// SQLite's extended result code for a failed foreign-key constraint.
const SQLITE_CONSTRAINT_FOREIGNKEY: i32 = 787;

pub struct SqliteStore {
    path: PathBuf,
    writer: Arc<tokio::sync::Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    /// Decisions are written by a group-committing task (see `spawn_decision_writer`).
    decisions: tokio::sync::mpsc::Sender<DecisionJob>,
    /// Event-log appends and the stream processor's commits are group-committed too (see
    /// `sqlite_stream::spawn_append_writer`).
    pub(crate) appends: tokio::sync::mpsc::Sender<crate::sqlite_stream::WriteJob>,
}

fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // A recommendation alone runs a dozen distinct statements; rusqlite's default cache of 16
    // made them re-prepare on every request (measured).
    conn.set_prepared_statement_cache_capacity(256);
    // The bundled SQLite is built with STAT4, which re-prepares a statement whenever a bound
    // value changes (to re-plan for that value): ~12% of the recommendation path's CPU in perf.
    // Our plans do not depend on the values; the query-planner stability guarantee keeps them.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    // WAL: readers never block the writer. synchronous=FULL: a committed transaction survives a
    // crash or power loss (acknowledged data is never lost). (Memory-mapped reads were tried for
    // the recommendation path: no gain on a 1M-customer database, and remapping cost ~6%.)
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON; PRAGMA cache_size = -65536;",
    )?;
    Ok(conn)
}

impl SqliteStore {
    /// Open (creating if needed) the database file and apply pending migrations.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let p = path.clone();
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection> {
            let mut conn = connect(&p)?;
            migrate(&mut conn)?;
            Ok(conn)
        })
        .await??;
        // Checkpoints run beside the writer, not inside its commits: a commit that has to copy
        // the WAL into the database file stalled requests for hundreds of milliseconds under load
        // (measured with `bench/nba/run.sh`).
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
        spawn_checkpointer(path.clone());
        let writer = Arc::new(tokio::sync::Mutex::new(conn));
        Ok(Self {
            path,
            decisions: spawn_decision_writer(writer.clone()),
            appends: crate::sqlite_stream::spawn_append_writer(writer.clone()),
            writer,
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().expect("reader pool poisoned").pop();
            let conn = match pooled {
                Some(c) => c,
                None => connect(&path)?,
            };
            let out = f(&conn);
            let mut pool = readers.lock().expect("reader pool poisoned");
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
            out
        })
        .await?
    }

    pub(crate) async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let mut guard = self.writer.clone().lock_owned().await;
        tokio::task::spawn_blocking(move || f(&mut guard)).await?
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(CREATE_TABLE)?;
    for m in MIGRATIONS {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let done: Option<i64> = tx
            .query_row(
                "SELECT version FROM schema_migrations WHERE version = ?1",
                [m.version],
                |r| r.get(0),
            )
            .optional()?;
        if done.is_none() {
            tx.execute_batch(m.sqlite)
                .map_err(|e| StoreError::Migration {
                    version: m.version,
                    reason: e.to_string(),
                })?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                params![m.version, m.name, now_micros()],
            )?;
            tracing::info!(
                version = m.version,
                name = m.name,
                "applied SQLite migration"
            );
        }
        tx.commit()?;
    }
    Ok(())
}

pub(crate) fn collect<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: fn(&dyn Cells) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(row)?);
    }
    Ok(out)
}

// Per-customer reads on one connection, shared by the single-purpose methods and by
// `customer_snapshot` (which runs them all in one blocking call).
fn customer_on(c: &Connection, id: &str) -> Result<Option<Customer>> {
    let sql = format!(
        "SELECT {} FROM customers WHERE id = ?1",
        rows::CUSTOMER_COLS
    );
    Ok(collect(c, &sql, [id], rows::customer)?.pop())
}

fn accounts_on(c: &Connection, id: &str) -> Result<Vec<Account>> {
    let sql = format!(
        "SELECT {} FROM accounts WHERE customer_id = ?1 ORDER BY id",
        rows::ACCOUNT_COLS
    );
    collect(c, &sql, [id], rows::account)
}

fn consents_on(c: &Connection, id: &str) -> Result<Vec<ConsentRecord>> {
    let sql = format!(
        "SELECT {} FROM consents WHERE customer_id = ?1 ORDER BY seq",
        rows::CONSENT_COLS
    );
    collect(c, &sql, [id], rows::consent)
}

fn do_not_sell_on(c: &Connection, id: &str) -> Result<Option<bool>> {
    Ok(
        c.prepare_cached("SELECT do_not_sell FROM customers WHERE id = ?1")?
            .query_row([id], |r| r.get::<_, i64>(0))
            .optional()?
            .map(|v| v != 0),
    )
}

fn events_on(c: &Connection, id: &str) -> Result<Vec<CustomerEvent>> {
    let sql = format!(
        "SELECT {} FROM events WHERE customer_id = ?1 ORDER BY ts, id",
        rows::EVENT_COLS
    );
    collect(c, &sql, [id], rows::event)
}

fn features_on(c: &Connection, id: &str) -> Result<Option<crate::FeatureRow>> {
    Ok(collect(
        c,
        &rows::sql::sqlite(rows::sql::GET_FEATURES),
        [id],
        rows::feature_row,
    )?
    .pop())
}

fn segment_on(c: &Connection, id: &str) -> Result<Option<crate::SegmentRow>> {
    Ok(collect(
        c,
        &rows::sql::sqlite(rows::sql::GET_SEGMENT),
        [id],
        rows::segment_row,
    )?
    .pop())
}

fn pending_on(c: &Connection, id: &str) -> Result<Vec<Decision>> {
    let sql = format!(
        "SELECT {} FROM decisions INDEXED BY decisions_pending \
         WHERE customer_id = ?1 AND status = 'pending_review' ORDER BY at, id",
        rows::DECISION_COLS
    );
    collect(c, &sql, [id], rows::decision)
}

fn approved_on(c: &Connection, id: &str) -> Result<Vec<Decision>> {
    let sql = format!(
        "SELECT {} FROM decisions INDEXED BY decisions_approved \
         WHERE customer_id = ?1 AND status = 'approved' ORDER BY at, id",
        rows::DECISION_COLS
    );
    collect(c, &sql, [id], rows::decision)
}

fn count_table(conn: &Connection, table: Table) -> Result<u64> {
    let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {}", table.name()), [], |r| {
        r.get(0)
    })?;
    Ok(n as u64)
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn stream(&self) -> &dyn crate::StreamStore {
        self
    }

    fn assistant(&self) -> &dyn crate::AssistantStore {
        self
    }

    fn outcomes(&self) -> &dyn crate::OutcomeStore {
        self
    }

    async fn ping(&self) -> Result<()> {
        self.read(|c| {
            Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())?)
        })
        .await
    }

    async fn get_customer(&self, id: &CustomerId) -> Result<Option<Customer>> {
        let id = id.as_str().to_string();
        self.read(move |c| customer_on(c, &id)).await
    }

    async fn list_customers(
        &self,
        after: Option<&CustomerId>,
        limit: u32,
    ) -> Result<Vec<Customer>> {
        let after = after.map(|a| a.as_str().to_string());
        self.read(move |c| {
            let sql = format!(
                "SELECT {} FROM customers WHERE ?1 IS NULL OR id > ?1 ORDER BY id LIMIT ?2",
                rows::CUSTOMER_COLS
            );
            collect(c, &sql, params![after, limit], rows::customer)
        })
        .await
    }

    async fn count(&self, table: Table) -> Result<u64> {
        self.read(move |c| count_table(c, table)).await
    }

    async fn customer_snapshot(
        &self,
        id: &CustomerId,
        defaults: &[sextant_core::ConsentPurpose],
    ) -> Result<Option<crate::CustomerSnapshot>> {
        let (id, defaults) = (id.as_str().to_string(), defaults.to_vec());
        self.read(move |c| {
            let (Some(customer), Some(dns)) = (customer_on(c, &id)?, do_not_sell_on(c, &id)?)
            else {
                return Ok(None);
            };
            let history = consents_on(c, &id)?;
            Ok(Some(crate::CustomerSnapshot {
                customer,
                consents: sextant_core::ConsentState::from_history(&history, dns, &defaults),
                accounts: accounts_on(c, &id)?,
                events: events_on(c, &id)?,
                features: features_on(c, &id)?,
                segment: segment_on(c, &id)?,
                approved: approved_on(c, &id)?,
                pending_review: pending_on(c, &id)?,
            }))
        })
        .await
    }

    async fn list_accounts(&self, customer: &CustomerId) -> Result<Vec<Account>> {
        let id = customer.as_str().to_string();
        self.read(move |c| accounts_on(c, &id)).await
    }

    async fn list_transactions(
        &self,
        customer: &CustomerId,
        before: Option<(i64, TransactionId)>,
        limit: u32,
    ) -> Result<Vec<Transaction>> {
        let id = customer.as_str().to_string();
        let (ts, tx) = match before {
            Some((ts, tx)) => (Some(ts), Some(tx.as_str().to_string())),
            None => (None, None),
        };
        self.read(move |c| {
            let sql = format!(
                "SELECT {} FROM transactions WHERE customer_id = ?1 AND (?2 IS NULL OR (ts, id) < (?2, ?3)) \
                 ORDER BY ts DESC, id DESC LIMIT ?4",
                rows::TRANSACTION_COLS
            );
            collect(c, &sql, params![id, ts, tx, limit], rows::transaction)
        })
        .await
    }

    async fn list_products(&self) -> Result<Vec<Product>> {
        self.read(|c| {
            let sql = format!("SELECT {} FROM products ORDER BY id", rows::PRODUCT_COLS);
            collect(c, &sql, [], rows::product)
        })
        .await
    }

    async fn begin_import(&self, kind: RecordKind, source: &str) -> Result<Box<dyn ImportSink>> {
        let guard = self.writer.clone().lock_owned().await;
        let (guard, before, owners) = tokio::task::spawn_blocking(move || -> Result<_> {
            // Transactions are checked against accounts in memory (see `AccountOwners`), so the
            // per-row foreign-key probe is switched off for this connection. The pragma is a
            // no-op inside a transaction: it is set before BEGIN and restored after COMMIT or
            // ROLLBACK (`end_import`).
            let in_memory = kind == RecordKind::Transactions
                && count_table(&guard, Table::Accounts)? <= MAX_OWNERS_IN_MEMORY;
            if in_memory {
                guard.execute_batch("PRAGMA foreign_keys = OFF")?;
            }
            if kind == RecordKind::Transactions {
                // The index rebuild before COMMIT sorts every key: with temporary files in
                // memory that sort held the whole index in RAM (RSS grew with the table); on
                // disk it spills past the cache size. Restored by `end_import`.
                guard.execute_batch("PRAGMA temp_store = FILE")?;
            }
            let started = guard.execute_batch("BEGIN IMMEDIATE");
            if let Err(e) = started {
                end_import(&guard, kind, in_memory);
                return Err(e.into());
            }
            // Inside the write transaction: accounts cannot change until this import ends.
            let loaded = (|| -> Result<_> {
                let before = count_table(&guard, kind.table())?;
                let owners = if in_memory {
                    Some(Arc::new(load_owners(&guard)?))
                } else {
                    None
                };
                Ok((before, owners))
            })();
            match loaded {
                Ok((before, owners)) => Ok((guard, before, owners)),
                Err(e) => {
                    guard.execute_batch("ROLLBACK")?;
                    end_import(&guard, kind, in_memory);
                    Err(e)
                }
            }
        })
        .await??;
        Ok(Box::new(SqliteImport {
            conn: Some(guard),
            record: ImportRecord::start(kind, source),
            kind,
            before,
            fk_off: owners.is_some(),
            owners,
            rebuild: None,
            writing: std::time::Duration::ZERO,
        }))
    }

    async fn list_imports(&self, limit: u32) -> Result<Vec<ImportRecord>> {
        self.read(move |c| {
            let sql = format!(
                "SELECT {} FROM imports ORDER BY started_at DESC LIMIT ?1",
                rows::IMPORT_COLS
            );
            collect(c, &sql, [limit], rows::import)
        })
        .await
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<()> {
        let k = key.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO api_keys (id, hash, role, customer_id, label, created_at, revoked_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    k.id,
                    k.hash,
                    k.role.as_str(),
                    k.customer_id.as_ref().map(|c| c.as_str()),
                    k.label,
                    k.created_at,
                    k.revoked_at
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn get_api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>> {
        let id = id.to_string();
        self.read(move |c| {
            let sql = format!("SELECT {} FROM api_keys WHERE id = ?1", rows::API_KEY_COLS);
            Ok(collect(c, &sql, [id], rows::api_key)?.pop())
        })
        .await
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        self.read(|c| {
            let sql = format!(
                "SELECT {} FROM api_keys ORDER BY created_at",
                rows::API_KEY_COLS
            );
            collect(c, &sql, [], rows::api_key)
        })
        .await
    }

    async fn revoke_api_key(&self, id: &str, at: i64) -> Result<bool> {
        let id = id.to_string();
        self.write(move |c| {
            let n = c.execute(
                "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, at],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn idempotency_get(&self, scope: &str, key: &str) -> Result<Option<IdempotentResponse>> {
        let (scope, key) = (scope.to_string(), key.to_string());
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT request_hash, status, body, created_at FROM idempotency WHERE scope = ?1 AND key = ?2",
                params![scope, key],
                |r| {
                    Ok(IdempotentResponse {
                        request_hash: r.get(0)?,
                        status: r.get::<_, i64>(1)? as u16,
                        body: r.get(2)?,
                        created_at: r.get(3)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    async fn idempotency_put(
        &self,
        scope: &str,
        key: &str,
        resp: &IdempotentResponse,
    ) -> Result<()> {
        let (scope, key, r) = (scope.to_string(), key.to_string(), resp.clone());
        self.write(move |c| {
            c.execute(
                "INSERT INTO idempotency (scope, key, request_hash, status, body, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (scope, key) DO NOTHING",
                params![
                    scope,
                    key,
                    r.request_hash,
                    r.status as i64,
                    r.body,
                    r.created_at
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn append_consent(&self, rec: &ConsentRecord) -> Result<bool> {
        let r = rec.clone();
        self.write(move |c| {
            let res = c.execute(
                "INSERT INTO consents (customer_id, purpose, granted, at, source) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![r.customer_id.as_str(), r.purpose.as_str(), r.granted as i64, r.at.timestamp_micros(), r.source],
            );
            match res {
                Ok(_) => Ok(true),
                Err(e) if is_fk_error(&e) => Ok(false),
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    async fn consent_history(&self, id: &CustomerId) -> Result<Vec<ConsentRecord>> {
        let id = id.as_str().to_string();
        self.read(move |c| consents_on(c, &id)).await
    }

    async fn do_not_sell(&self, id: &CustomerId) -> Result<Option<bool>> {
        let id = id.as_str().to_string();
        self.read(move |c| do_not_sell_on(c, &id)).await
    }

    async fn set_do_not_sell(&self, id: &CustomerId, value: bool) -> Result<bool> {
        let id = id.as_str().to_string();
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE customers SET do_not_sell = ?2 WHERE id = ?1",
                params![id, value as i64],
            )? == 1)
        })
        .await
    }

    async fn update_customer(&self, cu: &Customer) -> Result<bool> {
        let cu = cu.clone();
        self.write(move |c| {
            let n = c.execute(
                "UPDATE customers SET name = ?2, age = ?3, income_minor = ?4, currency = ?5, spending_habit = ?6, \
                 risk_profile = ?7, transactions = ?8, sentiment_score = ?9, engagement_level = ?10, email = ?11, \
                 phone = ?12, occupation = ?13, joined_on = ?14, updated_at = ?15 WHERE id = ?1",
                params![
                    cu.id.as_str(),
                    cu.name,
                    cu.age,
                    cu.income.minor,
                    cu.income.currency.as_str(),
                    cu.spending_habit.as_str(),
                    cu.risk_profile.as_str(),
                    cu.transactions,
                    cu.sentiment_score.value(),
                    cu.engagement_level.as_str(),
                    cu.email,
                    cu.phone,
                    cu.occupation,
                    cu.joined_on.map(|d| d.to_string()),
                    now_micros()
                ],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn get_protected(&self, id: &CustomerId) -> Result<Option<ProtectedAttributes>> {
        let id = id.as_str().to_string();
        self.read(move |c| {
            let sql = format!(
                "SELECT {} FROM customer_protected WHERE customer_id = ?1",
                rows::PROTECTED_COLS
            );
            Ok(collect(c, &sql, [id], rows::protected)?.pop())
        })
        .await
    }

    async fn list_messages(&self, id: &CustomerId) -> Result<Vec<CustomerMessage>> {
        let id = id.as_str().to_string();
        self.read(move |c| {
            let sql = format!(
                "SELECT {} FROM messages WHERE customer_id = ?1 ORDER BY ts, id",
                rows::MESSAGE_COLS
            );
            collect(c, &sql, [id], rows::message)
        })
        .await
    }

    async fn scan_messages(
        &self,
        after: Option<&sextant_core::MessageId>,
        limit: u32,
    ) -> Result<Vec<CustomerMessage>> {
        let after = after.map(|a| a.as_str().to_string());
        self.read(move |c| {
            let sql = format!(
                "SELECT {} FROM messages WHERE ?1 IS NULL OR id > ?1 ORDER BY id LIMIT ?2",
                rows::MESSAGE_COLS
            );
            collect(c, &sql, params![after, limit], rows::message)
        })
        .await
    }

    async fn set_message_body(&self, id: &sextant_core::MessageId, body: &str) -> Result<bool> {
        let (id, body) = (id.as_str().to_string(), body.to_string());
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE messages SET body = ?2 WHERE id = ?1",
                params![id, body],
            )? == 1)
        })
        .await
    }

    async fn sealed_page(
        &self,
        column: crate::SealedColumn,
        after: (&str, i64),
        limit: u32,
    ) -> Result<Vec<(String, i64, String)>> {
        let (text, n) = (after.0.to_string(), after.1);
        self.read(move |c| {
            let sql = rows::sql::sqlite(column.page_sql());
            let mut stmt = c.prepare_cached(&sql)?;
            let out = stmt
                .query_map(params![text, n, limit], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(out)
        })
        .await
    }

    async fn reseal(
        &self,
        column: crate::SealedColumn,
        key: (&str, i64),
        value: &str,
    ) -> Result<bool> {
        let (text, n, value) = (key.0.to_string(), key.1, value.to_string());
        self.write(move |c| {
            Ok(c.execute(
                &rows::sql::sqlite(column.update_sql()),
                params![text, n, value],
            )? == 1)
        })
        .await
    }

    async fn list_events(&self, id: &CustomerId) -> Result<Vec<CustomerEvent>> {
        let id = id.as_str().to_string();
        self.read(move |c| events_on(c, &id)).await
    }

    async fn list_decisions(&self, id: &CustomerId) -> Result<Vec<Decision>> {
        let id = id.as_str().to_string();
        self.read(move |c| {
            let sql = format!(
                "SELECT {} FROM decisions WHERE customer_id = ?1 ORDER BY at, id",
                rows::DECISION_COLS
            );
            collect(c, &sql, [id], rows::decision)
        })
        .await
    }

    async fn erase_customer(
        &self,
        id: &CustomerId,
        unlearn: &[crate::ArmWrite],
    ) -> Result<Option<Vec<(String, u64)>>> {
        let id = id.as_str().to_string();
        let unlearn = unlearn.to_vec();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM customers WHERE id = ?1", [&id], |r| r.get(0))
                .optional()?;
            let streamed: bool = !crate::sqlite_stream::customer_log_seqs(&tx, &id, true)?
                .is_empty()
                || tx.query_row(
                    &rows::sql::sqlite(crate::stream::HAS_STREAM_ROWS_BESIDE_LOG),
                    [&id],
                    |r| r.get(0),
                )?;
            let assisted: bool = tx.query_row(
                &rows::sql::sqlite(crate::assistant::HAS_ASSISTANT_ROWS),
                [&id],
                |r| r.get(0),
            )?;
            if exists.is_none() && !streamed && !assisted {
                return Ok(None);
            }
            for w in &unlearn {
                if !bandit_put_on(&tx, &w.policy, &w.arm, &w.state, w.expected)? {
                    return Err(StoreError::Conflict(format!(
                        "bandit arm '{}/{}' changed during the erasure",
                        w.policy, w.arm
                    )));
                }
            }
            let mut counts = Vec::new();
            for (table, sql) in crate::stream::ERASE {
                // The log and the applied markers found through it: block by block (the log's
                // customer index is keyed by seq block first).
                if *table == "stream_applied" {
                    let (applied, logged) = crate::sqlite_stream::erase_customer_log(&tx, &id)?;
                    counts.push((table.to_string(), applied));
                    counts.push(("event_log".to_string(), logged));
                    continue;
                }
                if *table == "event_log" {
                    continue;
                }
                let n = tx.execute(&rows::sql::sqlite(sql), [&id])?;
                counts.push((table.to_string(), n as u64));
            }
            for (table, col) in rows::CUSTOMER_TABLES {
                let n = tx.execute(&format!("DELETE FROM {table} WHERE {col} = ?1"), [&id])?;
                counts.push((table.to_string(), n as u64));
            }
            tx.commit()?;
            // secure_delete zeroed the freed cells; copy the pages into the database file and
            // empty the WAL so no old page image keeps the erased rows.
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(Some(counts))
        })
        .await
    }

    async fn audit_range(
        &self,
        from: i64,
        to: i64,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        self.read(move |c| {
            let sql = format!(
                "SELECT {} FROM audit_log WHERE at >= ?1 AND at < ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
                rows::AUDIT_COLS
            );
            collect(c, &sql, params![from, to, after, limit], rows::audit)
        })
        .await
    }

    async fn offer_outcomes(&self) -> Result<Vec<(ProtectedAttributes, bool)>> {
        self.read(|c| collect(c, rows::OFFER_OUTCOMES, [], rows::offer_outcome))
            .await
    }

    async fn spend_rows(&self, group: crate::SpendGroup) -> Result<Vec<crate::SpendRowOwned>> {
        self.read(move |c| collect(c, &rows::spend_rows_sql(group), [], rows::spend_row))
            .await
    }

    async fn privacy_charge(
        &self,
        analyst: &str,
        epsilon: u64,
        budget: u64,
        query: &str,
    ) -> Result<Result<u64, u64>> {
        let (analyst, query) = (analyst.to_string(), query.to_string());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let spent: i64 = tx.query_row(
                "SELECT COALESCE(SUM(epsilon_micros), 0) FROM privacy_ledger WHERE analyst = ?1",
                [&analyst],
                |r| r.get(0),
            )?;
            let spent = spent as u64;
            match spent.checked_add(epsilon) {
                Some(total) if total <= budget => {
                    tx.execute(
                        "INSERT INTO privacy_ledger (analyst, at, epsilon_micros, query) VALUES (?1, ?2, ?3, ?4)",
                        params![analyst, now_micros(), epsilon as i64, query],
                    )?;
                    tx.commit()?;
                    Ok(Ok(total))
                }
                _ => Ok(Err(spent)),
            }
        })
        .await
    }

    async fn customer_spend(&self, id: &CustomerId) -> Result<Vec<(String, i64)>> {
        let id = id.as_str().to_string();
        self.read(move |c| {
            collect(
                c,
                &rows::CUSTOMER_SPEND.replace("$1", "?1"),
                [id],
                rows::category_spend,
            )
        })
        .await
    }

    async fn dp_release_get(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_string();
        self.read(move |c| {
            Ok(
                c.query_row("SELECT body FROM dp_releases WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
        .await
    }

    async fn dp_release_put(&self, key: &str, epsilon: u64, body: &str) -> Result<String> {
        let (key, body) = (key.to_string(), body.to_string());
        self.write(move |c| {
            c.execute(
                "INSERT INTO dp_releases (key, released_at, epsilon_micros, body) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (key) DO NOTHING",
                params![key, now_micros(), epsilon as i64, body],
            )?;
            Ok(c.query_row("SELECT body FROM dp_releases WHERE key = ?1", [key], |r| r.get(0))?)
        })
        .await
    }

    async fn put_features(&self, rows: &[crate::FeatureRow]) -> Result<()> {
        let rows = rows.to_vec();
        self.write(move |c| {
            let tx = c.transaction()?;
            {
                let mut stmt = tx.prepare_cached(&rows::sql::sqlite(rows::sql::UPSERT_FEATURES))?;
                for r in &rows {
                    stmt.execute(params![
                        r.customer_id.as_str(),
                        r.version,
                        r.computed_at,
                        r.vector,
                        now_micros()
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn get_features(&self, id: &CustomerId) -> Result<Option<crate::FeatureRow>> {
        let id = id.as_str().to_string();
        self.read(move |c| features_on(c, &id)).await
    }

    async fn features_written_since(
        &self,
        after: (i64, Option<&CustomerId>),
        limit: u32,
    ) -> Result<Vec<(i64, crate::FeatureRow)>> {
        let (at, id) = (
            after.0,
            after.1.map_or(String::new(), |c| c.as_str().to_string()),
        );
        self.read(move |c| {
            collect(
                c,
                &rows::sql::sqlite(rows::sql::FEATURES_WRITTEN),
                params![at, id, limit],
                rows::written_feature_row,
            )
        })
        .await
    }

    async fn scan_features(
        &self,
        version: i64,
        after: Option<&CustomerId>,
        limit: u32,
    ) -> Result<Vec<crate::FeatureRow>> {
        let after = after.map(|a| a.as_str().to_string());
        self.read(move |c| {
            collect(
                c,
                &rows::sql::sqlite(rows::sql::SCAN_FEATURES),
                params![version, after, limit],
                rows::feature_row,
            )
        })
        .await
    }

    async fn delete_profiling(&self, id: &CustomerId) -> Result<()> {
        let id = id.as_str().to_string();
        self.write(move |c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM features WHERE customer_id = ?1", [&id])?;
            tx.execute(
                "DELETE FROM customer_segments WHERE customer_id = ?1",
                [&id],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn save_segment_model(&self, m: &crate::SegmentModelRecord) -> Result<i64> {
        let m = m.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let version: i64 = tx.query_row(rows::sql::NEXT_MODEL_VERSION, [], |r| r.get(0))?;
            tx.execute(
                &rows::sql::sqlite(rows::sql::INSERT_MODEL),
                params![
                    version,
                    m.created_at,
                    m.feature_version,
                    m.trained_on,
                    m.data_hash,
                    m.model
                ],
            )?;
            tx.commit()?;
            Ok(version)
        })
        .await
    }

    async fn segment_model(
        &self,
        version: Option<i64>,
    ) -> Result<Option<crate::SegmentModelRecord>> {
        self.read(move |c| {
            let sql = format!(
                "SELECT {} FROM segment_models WHERE (?1 IS NULL AND promoted = 1) OR version = ?1",
                rows::SEGMENT_MODEL_COLS
            );
            Ok(collect(c, &sql, [version], rows::segment_model)?.pop())
        })
        .await
    }

    async fn list_segment_models(&self) -> Result<Vec<crate::SegmentModelRecord>> {
        self.read(|c| {
            let sql = format!(
                "SELECT {} FROM segment_models ORDER BY version",
                rows::SEGMENT_MODEL_COLS
            );
            collect(c, &sql, [], rows::segment_model)
        })
        .await
    }

    async fn promote_segment_model(&self, version: i64) -> Result<bool> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let exists: Option<i64> = tx
                .query_row(
                    "SELECT version FROM segment_models WHERE version = ?1",
                    [version],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_none() {
                return Ok(false);
            }
            tx.execute(rows::sql::UNPROMOTE, [])?;
            tx.execute(&rows::sql::sqlite(rows::sql::PROMOTE), [version])?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn put_segments(&self, rows: &[crate::SegmentRow]) -> Result<()> {
        let rows = rows.to_vec();
        self.write(move |c| {
            let tx = c.transaction()?;
            {
                let mut stmt = tx.prepare_cached(&rows::sql::sqlite(rows::sql::UPSERT_SEGMENT))?;
                for r in &rows {
                    stmt.execute(params![
                        r.customer_id.as_str(),
                        r.model_version,
                        r.segment_id,
                        r.distance,
                        r.assigned_at
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn get_segment(&self, id: &CustomerId) -> Result<Option<crate::SegmentRow>> {
        let id = id.as_str().to_string();
        self.read(move |c| segment_on(c, &id)).await
    }

    async fn segment_sizes(&self, model_version: i64) -> Result<Vec<(String, u64)>> {
        self.read(move |c| {
            collect(
                c,
                &rows::sql::sqlite(rows::sql::SEGMENT_SIZES),
                [model_version],
                rows::segment_size,
            )
        })
        .await
    }

    async fn save_model(
        &self,
        name: &str,
        created_at: i64,
        card: &str,
        model: &str,
    ) -> Result<i64> {
        let (name, card, model) = (name.to_string(), card.to_string(), model.to_string());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let v: i64 = tx.query_row(
                &rows::sql::sqlite(rows::registry::NEXT_VERSION),
                [&name],
                |r| r.get(0),
            )?;
            tx.execute(
                &rows::sql::sqlite(rows::registry::INSERT),
                params![name, v, created_at, card, model],
            )?;
            tx.commit()?;
            Ok(v)
        })
        .await
    }

    async fn get_model(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<crate::ModelRecord>> {
        let name = name.to_string();
        self.read(move |c| {
            Ok(collect(
                c,
                &rows::sql::sqlite(rows::registry::GET).replace("::bigint", ""),
                params![name, version],
                rows::model,
            )?
            .pop())
        })
        .await
    }

    async fn list_models(&self) -> Result<Vec<crate::ModelRecord>> {
        self.read(|c| collect(c, rows::registry::LIST, [], rows::model))
            .await
    }

    async fn promote_model(&self, name: &str, version: i64) -> Result<bool> {
        let name = name.to_string();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let exists: Option<i64> = tx
                .query_row(
                    &rows::sql::sqlite(rows::registry::EXISTS),
                    params![name, version],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_none() {
                return Ok(false);
            }
            tx.execute(&rows::sql::sqlite(rows::registry::UNPROMOTE), [&name])?;
            tx.execute(
                &rows::sql::sqlite(rows::registry::PROMOTE),
                params![name, version],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn insert_decision(&self, d: &Decision) -> Result<bool> {
        let d = d.clone();
        self.write(move |c| {
            let res = c.execute(
                "INSERT INTO decisions (id, customer_id, at, kind, versions, payload, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    d.id.as_str(),
                    d.customer_id.as_str(),
                    d.at.timestamp_micros(),
                    d.kind,
                    d.versions.to_string(),
                    d.payload.to_string(),
                    d.status
                ],
            );
            match res {
                Ok(_) => Ok(true),
                Err(e) if is_fk_error(&e) => Ok(false),
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    async fn promoted_model_version(&self, name: &str) -> Result<Option<i64>> {
        let name = name.to_string();
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT version FROM models WHERE name = ?1 AND promoted = 1",
                [name],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    async fn insert_event(&self, e: &CustomerEvent) -> Result<crate::EventInsert> {
        let e = e.clone();
        self.write(move |c| insert_event_on(c, &e)).await
    }

    async fn decision_events(&self, id: &DecisionId) -> Result<Vec<CustomerEvent>> {
        let id = id.as_str().to_string();
        self.read(move |c| {
            let sql = format!(
                "SELECT {} FROM events WHERE decision_id = ?1 ORDER BY ts, id",
                rows::EVENT_COLS
            );
            collect(c, &sql, [id], rows::event)
        })
        .await
    }

    async fn get_decision(&self, id: &DecisionId) -> Result<Option<Decision>> {
        let id = id.as_str().to_string();
        self.read(move |c| {
            let sql = format!(
                "SELECT {} FROM decisions WHERE id = ?1",
                rows::DECISION_COLS
            );
            Ok(collect(c, &sql, [id], rows::decision)?.pop())
        })
        .await
    }

    async fn record_decisions(
        &self,
        decisions: &[Decision],
        reviews: &[crate::ReviewCase],
        audit: AuditRecord,
    ) -> Result<AuditEntry> {
        let (reply, wait) = tokio::sync::oneshot::channel();
        let job = DecisionJob {
            decisions: decisions.to_vec(),
            reviews: reviews.to_vec(),
            audit,
            reply,
        };
        self.decisions
            .send(job)
            .await
            .map_err(|_| StoreError::Task("the decision writer has stopped".into()))?;
        wait.await
            .map_err(|_| StoreError::Task("the decision writer has stopped".into()))?
    }

    async fn list_reviews(
        &self,
        status: Option<crate::ReviewStatus>,
        after: Option<(i64, String)>,
        limit: u32,
    ) -> Result<Vec<crate::ReviewCase>> {
        let status = status.map(|s| s.as_str());
        let (at, id) = after.unzip();
        self.read(move |c| {
            let sql = format!(
                "SELECT {} FROM reviews WHERE (?1 IS NULL OR status = ?1) \
                 AND (?2 IS NULL OR (created_at, id) > (?2, ?3)) ORDER BY created_at, id LIMIT ?4",
                rows::REVIEW_COLS
            );
            collect(c, &sql, params![status, at, id, limit], rows::review)
        })
        .await
    }

    async fn customer_reviews(&self, customer: &CustomerId) -> Result<Vec<crate::ReviewCase>> {
        let id = customer.as_str().to_string();
        self.read(move |c| {
            let sql = format!(
                "SELECT {} FROM reviews WHERE customer_id = ?1 ORDER BY created_at, id",
                rows::REVIEW_COLS
            );
            collect(c, &sql, [id], rows::review)
        })
        .await
    }

    async fn get_review(&self, id: &str) -> Result<Option<crate::ReviewCase>> {
        let id = id.to_string();
        self.read(move |c| {
            let sql = format!("SELECT {} FROM reviews WHERE id = ?1", rows::REVIEW_COLS);
            Ok(collect(c, &sql, [id], rows::review)?.pop())
        })
        .await
    }

    async fn resolve_review(
        &self,
        id: &str,
        outcome: &crate::ReviewOutcome,
        audit: AuditRecord,
    ) -> Result<Option<Result<AuditEntry, crate::ReviewStatus>>> {
        let decision_status = rows::resolved_decision_status(outcome.status)?;
        let (id, o) = (id.to_string(), outcome.clone());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let current: Option<(String, String)> = tx
                .query_row(
                    "SELECT status, decision_id FROM reviews WHERE id = ?1",
                    [&id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((status, decision_id)) = current else {
                return Ok(None);
            };
            let status = crate::ReviewStatus::parse(&status)
                .ok_or_else(|| StoreError::corrupt("reviews", "status", &status))?;
            if status != crate::ReviewStatus::Pending {
                return Ok(Some(Err(status)));
            }
            let payload = o.modified_payload.as_ref().map(|p| p.to_string());
            tx.execute(
                &rows::sql::sqlite(nba::RESOLVE_REVIEW),
                params![id, o.status.as_str(), o.reviewer, o.note, o.at, payload],
            )?;
            tx.execute(
                &rows::sql::sqlite(nba::RESOLVE_DECISION),
                params![decision_id, decision_status, payload],
            )?;
            let entry = append_audit_on(&tx, audit)?;
            tx.commit()?;
            Ok(Some(Ok(entry)))
        })
        .await
    }

    async fn approved_undelivered(&self, customer: &CustomerId) -> Result<Vec<Decision>> {
        let id = customer.as_str().to_string();
        self.read(move |c| approved_on(c, &id)).await
    }

    async fn set_decision_status(&self, id: &DecisionId, status: &str) -> Result<bool> {
        let (id, status) = (id.as_str().to_string(), status.to_string());
        self.write(move |c| {
            Ok(c.execute(
                &rows::sql::sqlite(nba::SET_DECISION_STATUS),
                params![id, status],
            )? == 1)
        })
        .await
    }

    async fn bandit_arms(&self, policy: &str) -> Result<Vec<crate::ArmRow>> {
        let policy = policy.to_string();
        self.read(move |c| collect(c, &rows::sql::sqlite(nba::ARMS), [policy], rows::arm))
            .await
    }

    async fn bandit_put(
        &self,
        policy: &str,
        arm: &str,
        state: &str,
        expected: i64,
    ) -> Result<bool> {
        let (policy, arm, state) = (policy.to_string(), arm.to_string(), state.to_string());
        self.write(move |c| bandit_put_on(c, &policy, &arm, &state, expected))
            .await
    }

    async fn record_feedback(
        &self,
        e: &CustomerEvent,
        policy: &str,
        arm: &str,
        state: &str,
        expected: i64,
    ) -> Result<crate::FeedbackWrite> {
        let e = e.clone();
        let (policy, arm, state) = (policy.to_string(), arm.to_string(), state.to_string());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            match insert_event_on(&tx, &e)? {
                crate::EventInsert::Inserted => {}
                crate::EventInsert::Duplicate => return Ok(crate::FeedbackWrite::Duplicate),
                crate::EventInsert::UnknownCustomer => {
                    return Err(StoreError::UnknownCustomer(e.customer_id.clone()));
                }
            }
            if !bandit_put_on(&tx, &policy, &arm, &state, expected)? {
                return Ok(crate::FeedbackWrite::Conflict);
            }
            tx.commit()?;
            Ok(crate::FeedbackWrite::Written)
        })
        .await
    }

    async fn put_recommender_model(&self, name: &str, body: &str) -> Result<()> {
        let (name, body) = (name.to_string(), body.to_string());
        self.write(move |c| {
            c.execute(
                &rows::sql::sqlite(nba::PUT_MODEL),
                params![name, now_micros(), body],
            )?;
            Ok(())
        })
        .await
    }

    async fn get_recommender_model(&self, name: &str) -> Result<Option<String>> {
        let name = name.to_string();
        self.read(move |c| {
            Ok(
                c.query_row(&rows::sql::sqlite(nba::GET_MODEL), [name], |r| r.get(0))
                    .optional()?,
            )
        })
        .await
    }

    async fn product_sets(
        &self,
        after: Option<&CustomerId>,
        limit: u32,
    ) -> Result<Vec<(CustomerId, Vec<ProductId>)>> {
        let after = after.map(|a| a.as_str().to_string());
        self.read(move |c| {
            let pairs = collect(
                c,
                &rows::sql::sqlite(nba::PRODUCT_SETS),
                params![after, limit],
                rows::customer_product,
            )?;
            Ok(rows::group_products(pairs))
        })
        .await
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let e = append_audit_on(&tx, record)?;
            tx.commit()?;
            Ok(e)
        })
        .await
    }

    async fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        self.read(move |c| {
            let sql = format!(
                "SELECT {} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                rows::AUDIT_COLS
            );
            collect(c, &sql, params![after, limit], rows::audit)
        })
        .await
    }
}

/// Append to the audit chain inside an open write transaction (the caller holds the writer
/// connection, so appends are serialised; the caller commits).
/// How often the background checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// A thread with its own connection that runs a PASSIVE checkpoint every [`CHECKPOINT_EVERY`]:
/// it copies what it can and never waits for, or blocks, readers or the writer (a TRUNCATE
/// checkpoint here made a 30-million-row import fail with "database is locked"). The WAL is
/// reused from its start once a checkpoint has caught up. The thread ends when the database
/// file is gone or the process exits; committed data is in the WAL either way, so a checkpoint
/// that does not run loses nothing.
fn spawn_checkpointer(path: PathBuf) {
    let spawned = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let Ok(conn) = connect(&path) else { return };
            loop {
                std::thread::sleep(CHECKPOINT_EVERY);
                if !path.exists() {
                    return;
                }
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::debug!(error = %e, "checkpoint skipped");
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no background checkpointer: the WAL grows until the next open");
    }
}

/// One caller's decisions, reviews and audit record, waiting for the group commit.
struct DecisionJob {
    decisions: Vec<Decision>,
    reviews: Vec<crate::ReviewCase>,
    audit: AuditRecord,
    reply: tokio::sync::oneshot::Sender<Result<AuditEntry>>,
}

/// Most jobs committed together.
const DECISION_GROUP: usize = 256;

/// Group commit for decisions: whatever callers queued while the previous commit was running is
/// written in ONE transaction (one fsync), each caller's part under its own savepoint, so each
/// is still all-or-nothing (an unknown customer fails that caller alone) and each caller is
/// answered only after the commit is durable. The queue is bounded (back-pressure on callers).
fn spawn_decision_writer(
    writer: Arc<tokio::sync::Mutex<Connection>>,
) -> tokio::sync::mpsc::Sender<DecisionJob> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<DecisionJob>(4 * DECISION_GROUP);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut jobs = vec![first];
            while jobs.len() < DECISION_GROUP {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            let mut guard = writer.clone().lock_owned().await;
            let work: Vec<_> = jobs
                .iter_mut()
                .map(|j| {
                    (
                        std::mem::take(&mut j.decisions),
                        std::mem::take(&mut j.reviews),
                        j.audit.clone(),
                    )
                })
                .collect();
            let outcome =
                tokio::task::spawn_blocking(move || commit_decision_group(&mut guard, work)).await;
            match outcome {
                Ok(Ok(results)) => {
                    for (job, r) in jobs.into_iter().zip(results) {
                        let _ = job.reply.send(r);
                    }
                }
                Ok(Err(e)) => {
                    for job in jobs {
                        let _ = job
                            .reply
                            .send(Err(StoreError::group_failed("decision commit", &e)));
                    }
                }
                Err(e) => {
                    for job in jobs {
                        let _ = job.reply.send(Err(StoreError::Task(e.to_string())));
                    }
                }
            }
        }
    });
    tx
}

type DecisionWork = (Vec<Decision>, Vec<crate::ReviewCase>, AuditRecord);

/// Write every caller's part under its own savepoint, then commit once. Returns each caller's
/// result; the outer error means nothing was committed.
fn commit_decision_group(
    conn: &mut Connection,
    work: Vec<DecisionWork>,
) -> Result<Vec<Result<AuditEntry>>> {
    let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(work.len());
    for (decisions, reviews, audit) in work {
        let sp = tx.savepoint()?;
        match write_decisions(&sp, &decisions, &reviews, audit) {
            Ok(entry) => {
                sp.commit()?;
                results.push(Ok(entry));
            }
            Err(e) => {
                drop(sp); // rolls back this caller's part only
                results.push(Err(e));
            }
        }
    }
    tx.commit()?;
    Ok(results)
}

pub(crate) fn write_decisions(
    tx: &Connection,
    decisions: &[Decision],
    reviews: &[crate::ReviewCase],
    audit: AuditRecord,
) -> Result<AuditEntry> {
    let customers: std::collections::BTreeSet<&CustomerId> = decisions
        .iter()
        .map(|d| &d.customer_id)
        .chain(reviews.iter().map(|r| &r.customer_id))
        .collect();
    for id in customers {
        let exists: Option<i64> = tx
            .query_row(
                &rows::sql::sqlite(nba::CUSTOMER_EXISTS),
                [id.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_none() {
            return Err(StoreError::UnknownCustomer(id.clone()));
        }
    }
    {
        let mut stmt = tx.prepare_cached(&rows::sql::sqlite(nba::INSERT_DECISION))?;
        for d in decisions {
            stmt.execute(params![
                d.id.as_str(),
                d.customer_id.as_str(),
                d.at.timestamp_micros(),
                d.kind,
                d.versions.to_string(),
                d.payload.to_string(),
                d.status
            ])?;
        }
        let mut stmt = tx.prepare_cached(&rows::sql::sqlite(nba::INSERT_REVIEW))?;
        for r in reviews {
            stmt.execute(params![
                r.id,
                r.decision_id.as_str(),
                r.customer_id.as_str(),
                r.created_at,
                r.reason.to_string(),
                r.status.as_str(),
                r.reviewer,
                r.note,
                r.resolved_at,
                r.modified_payload.as_ref().map(|p| p.to_string())
            ])?;
        }
    }
    append_audit_on(tx, audit)
}

fn append_audit_on(tx: &Connection, record: AuditRecord) -> Result<AuditEntry> {
    let last: Option<(i64, String)> = tx
        .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (seq, prev) = match last {
        Some((s, h)) => (s + 1, h),
        None => (1, audit::GENESIS.to_string()),
    };
    let at = chrono::DateTime::from_timestamp_micros(now_micros()).expect("now is in range");
    let e = audit::seal(seq, at, prev, record);
    tx.prepare_cached(
        "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        e.seq,
        e.at.timestamp_micros(),
        e.actor,
        e.action,
        e.subject,
        e.details.to_string(),
        e.prev_hash,
        e.hash
    ])?;
    Ok(e)
}

fn insert_event_on(c: &Connection, e: &CustomerEvent) -> Result<crate::EventInsert> {
    let res = c.execute(
        &rows::sql::sqlite(nba::INSERT_EVENT),
        params![
            e.id.as_str(),
            e.customer_id.as_str(),
            e.timestamp.timestamp_micros(),
            e.kind.as_str(),
            e.product_id.as_ref().map(|p| p.as_str()),
            e.decision_id.as_ref().map(|d| d.as_str()),
            e.value
        ],
    );
    match res {
        Ok(0) => Ok(crate::EventInsert::Duplicate),
        Ok(_) => Ok(crate::EventInsert::Inserted),
        Err(err) if is_fk_error(&err) => Ok(crate::EventInsert::UnknownCustomer),
        Err(err) => Err(err.into()),
    }
}

fn bandit_put_on(
    c: &Connection,
    policy: &str,
    arm: &str,
    state: &str,
    expected: i64,
) -> Result<bool> {
    let n = if expected == 0 {
        c.execute(
            &rows::sql::sqlite(nba::ARM_INSERT),
            params![policy, arm, state, now_micros()],
        )?
    } else {
        c.execute(
            &rows::sql::sqlite(nba::ARM_UPDATE),
            params![policy, arm, state, now_micros(), expected],
        )?
    };
    Ok(n == 1)
}

/// An open SQLite import: holds the writer connection inside `BEGIN IMMEDIATE`.
struct SqliteImport {
    conn: Option<OwnedMutexGuard<Connection>>,
    record: ImportRecord,
    kind: RecordKind,
    /// Rows in the table when the import began.
    before: u64,
    /// `PRAGMA foreign_keys` is off on the connection for this import (restored at the end).
    fk_off: bool,
    /// Accounts by id, for the in-memory reference check of transactions.
    owners: Option<Arc<AccountOwners>>,
    /// Secondary indexes dropped for a bulk load (their `CREATE INDEX` statements), rebuilt
    /// before COMMIT; `None` while they are in place.
    rebuild: Option<Vec<String>>,
    /// Time spent writing batches (debug log at commit).
    writing: std::time::Duration,
}

/// Every account's owner, loaded inside the import's write transaction (so it cannot go stale
/// before COMMIT): replaces SQLite's per-row foreign-key probe of `(account_id, customer_id)`
/// against accounts' unique index — one B-tree descent with text keys a row — by a hash lookup.
fn load_owners(conn: &Connection) -> Result<AccountOwners> {
    let mut stmt = conn.prepare("SELECT id, customer_id FROM accounts")?;
    let mut rows = stmt.query([])?;
    let mut owners = AccountOwners::default();
    while let Some(r) = rows.next()? {
        owners.insert(r.get(0)?, r.get(1)?);
    }
    Ok(owners)
}

/// After COMMIT or ROLLBACK of an import: switch foreign-key enforcement back on if the import
/// switched it off, and temporary files back to memory (see `connect`).
fn end_import(conn: &Connection, kind: RecordKind, fk_off: bool) {
    if fk_off && let Err(e) = conn.execute_batch("PRAGMA foreign_keys = ON") {
        tracing::error!(error = %e, "could not re-enable foreign keys after an import");
    }
    if kind == RecordKind::Transactions
        && let Err(e) = conn.execute_batch("PRAGMA temp_store = MEMORY")
    {
        tracing::error!(error = %e, "could not restore temp_store after an import");
    }
}

/// Drop `table`'s secondary indexes for a bulk load, returning their `CREATE INDEX` statements
/// to run before COMMIT. Building an index once from sorted keys is much cheaper than updating
/// it row by row. Unique indexes stay (they enforce a constraint the load relies on), as do the
/// implicit ones (primary key, UNIQUE constraints: no SQL in `sqlite_master`). SQLite DDL is
/// transactional: a rolled-back import gets its indexes back, and other connections keep
/// reading their snapshot, indexes included, until COMMIT.
fn drop_secondary_indexes(conn: &Connection, table: &str) -> Result<Vec<String>> {
    let indexes: Vec<(String, String)> = conn
        .prepare(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 \
             AND sql IS NOT NULL ORDER BY name",
        )?
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut dropped = Vec::new();
    for (name, sql) in indexes {
        if sql
            .trim_start()
            .get(..13)
            .is_some_and(|p| p.eq_ignore_ascii_case("CREATE UNIQUE"))
        {
            continue;
        }
        conn.execute_batch(&format!("DROP INDEX \"{name}\""))?;
        dropped.push(sql);
    }
    Ok(dropped)
}

impl Drop for SqliteImport {
    fn drop(&mut self) {
        // Dropped without commit or rollback (an error or a cancelled task): discard the writes.
        if let Some(conn) = self.conn.take() {
            if let Err(e) = conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, import = %self.record.id, "rollback of abandoned import failed");
            }
            end_import(&conn, self.kind, self.fk_off);
        }
    }
}

/// Outcome of one row-by-row upsert: written, or refused with a reason.
fn upsert_outcome(
    res: rusqlite::Result<usize>,
    line: u64,
    dup: impl FnOnce() -> String,
    fk: impl FnOnce() -> (&'static str, String),
    rejects: &mut Vec<RowReject>,
) -> Result<bool> {
    match res {
        Ok(0) => {
            rejects.push(RowReject {
                line,
                column: None,
                reason: dup(),
            });
            Ok(false)
        }
        Ok(_) => Ok(true),
        Err(e) if is_fk_error(&e) => {
            let (column, reason) = fk();
            rejects.push(RowReject {
                line,
                column: Some(column),
                reason,
            });
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

fn is_constraint_error(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

fn is_fk_error(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == SQLITE_CONSTRAINT_FOREIGNKEY)
}

fn dup_msg(col: &str, id: &str) -> String {
    format!("duplicate {col} '{id}': it appears earlier in this import")
}

/// Rows per multi-row `INSERT`: amortises statement overhead and the statement journal, which
/// dominate row-at-a-time inserts (measured with `sextant bench import`).
const CHUNK: usize = 128;

/// How one record kind is upserted: table, columns (`id` first), and how a row binds.
struct Upsert<R> {
    table: &'static str,
    cols: &'static [&'static str],
    id_label: &'static str,
    id: fn(&R) -> &str,
    values: for<'a> fn(&'a R, &mut Vec<ToSqlOutput<'a>>),
    reference: fn(&R) -> (&'static str, String),
}

fn text(s: &str) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
}
fn opt_text(s: Option<&str>) -> ToSqlOutput<'_> {
    s.map(text).unwrap_or(ToSqlOutput::Owned(Value::Null))
}
fn int(v: i64) -> ToSqlOutput<'static> {
    ToSqlOutput::Owned(Value::Integer(v))
}
fn opt_int(v: Option<i64>) -> ToSqlOutput<'static> {
    ToSqlOutput::Owned(v.map(Value::Integer).unwrap_or(Value::Null))
}
fn owned(v: Option<String>) -> ToSqlOutput<'static> {
    ToSqlOutput::Owned(v.map(Value::Text).unwrap_or(Value::Null))
}

fn insert_sql(table: &str, cols: &[&str], rows: usize) -> String {
    let one = format!("({})", vec!["?"; cols.len() + 1].join(", "));
    format!(
        "INSERT INTO {table} ({}, import_id) VALUES {}",
        cols.join(", "),
        vec![one; rows].join(", ")
    )
}

fn upsert_sql(table: &str, cols: &[&str], rows: usize) -> String {
    let one = format!("({})", vec!["?"; cols.len() + 1].join(", "));
    let updates: Vec<String> = cols[1..]
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}, import_id) VALUES {} ON CONFLICT (id) DO UPDATE SET {}, import_id = excluded.import_id \
         WHERE {table}.import_id IS NOT excluded.import_id",
        cols.join(", "),
        vec![one; rows].join(", "),
        updates.join(", ")
    )
}

/// Upsert rows in chunks, each inside a savepoint. A chunk writes every row or, if any row is a
/// duplicate (within this import) or fails a reference check, is rolled back to its savepoint and
/// redone row by row, which names exactly the bad rows. Clean data never pays for the slow path.
fn upsert_rows<R>(
    conn: &Connection,
    import_id: &str,
    spec: &Upsert<R>,
    rows: &[(u64, R)],
    rejects: &mut Vec<RowReject>,
) -> Result<u64> {
    let mut written = 0u64;
    // The statement text of a full chunk (several KB for 128 rows) is built once per batch,
    // not once per chunk. `sextant bench import` showed no difference beyond its noise (two
    // runs each way, 2026-11-30); kept because it is no more code than before.
    let full_insert = insert_sql(spec.table, spec.cols, CHUNK);
    let mut savepoint = conn.prepare_cached("SAVEPOINT chunk")?;
    let mut release = conn.prepare_cached("RELEASE chunk")?;
    let mut params = Vec::with_capacity(CHUNK * (spec.cols.len() + 1));
    for chunk in rows.chunks(CHUNK) {
        params.clear();
        for (_, r) in chunk {
            (spec.values)(r, &mut params);
            params.push(text(import_id));
        }
        savepoint.execute([])?;
        // Fast path: a plain INSERT (new rows, the bulk of any first import). A conflicting id
        // aborts the statement, and the upsert below handles re-imported rows.
        let mut insert = if chunk.len() == CHUNK {
            conn.prepare_cached(&full_insert)?
        } else {
            conn.prepare_cached(&insert_sql(spec.table, spec.cols, chunk.len()))?
        };
        let mut done = match insert.execute(rusqlite::params_from_iter(params.iter())) {
            Ok(n) => n == chunk.len(),
            Err(e) if is_constraint_error(&e) => false,
            Err(e) => {
                conn.execute_batch("ROLLBACK TO chunk; RELEASE chunk")?;
                return Err(e.into());
            }
        };
        if !done {
            let mut upsert =
                conn.prepare_cached(&upsert_sql(spec.table, spec.cols, chunk.len()))?;
            done = match upsert.execute(rusqlite::params_from_iter(params.iter())) {
                Ok(n) => n == chunk.len(),
                Err(e) if is_fk_error(&e) => false,
                Err(e) => {
                    conn.execute_batch("ROLLBACK TO chunk; RELEASE chunk")?;
                    return Err(e.into());
                }
            };
        }
        if done {
            release.execute([])?;
            written += chunk.len() as u64;
            continue;
        }
        conn.execute_batch("ROLLBACK TO chunk; RELEASE chunk")?;
        let mut one = conn.prepare_cached(&upsert_sql(spec.table, spec.cols, 1))?;
        for (line, r) in chunk {
            let mut p = Vec::with_capacity(spec.cols.len() + 1);
            (spec.values)(r, &mut p);
            p.push(text(import_id));
            let res = one.execute(rusqlite::params_from_iter(p.iter()));
            written += upsert_outcome(
                res,
                *line,
                || dup_msg(spec.id_label, (spec.id)(r)),
                || (spec.reference)(r),
                rejects,
            )? as u64;
        }
    }
    Ok(written)
}

const ACCOUNTS: Upsert<Account> = Upsert {
    table: "accounts",
    cols: &[
        "id",
        "customer_id",
        "kind",
        "product_id",
        "currency",
        "opened_on",
        "closed_on",
        "status",
        "limit_minor",
        "balance_minor",
    ],
    id_label: "account_id",
    id: |a| a.id.as_str(),
    values: |a, v| {
        v.extend([
            text(a.id.as_str()),
            text(a.customer_id.as_str()),
            text(a.kind.as_str()),
            opt_text(a.product_id.as_ref().map(|p| p.as_str())),
            text(a.currency.as_str()),
            owned(Some(a.opened_on.to_string())),
            owned(a.closed_on.map(|d| d.to_string())),
            text(a.status.as_str()),
            opt_int(a.limit.map(|m| m.minor)),
            int(a.balance.minor),
        ])
    },
    reference: |a| {
        (
            "customer_id",
            format!("customer '{}' does not exist", a.customer_id),
        )
    },
};

const TRANSACTIONS: Upsert<Transaction> = Upsert {
    table: "transactions",
    cols: &[
        "id",
        "customer_id",
        "account_id",
        "ts",
        "amount_minor",
        "currency",
        "merchant",
        "category",
        "mcc",
        "channel",
        "country",
        "balance_after_minor",
        "status",
    ],
    id_label: "transaction_id",
    id: |t| t.id.as_str(),
    values: |t, v| {
        v.extend([
            text(t.id.as_str()),
            text(t.customer_id.as_str()),
            text(t.account_id.as_str()),
            int(t.timestamp.timestamp_micros()),
            int(t.amount.minor),
            text(t.amount.currency.as_str()),
            opt_text(t.merchant.as_deref()),
            text(t.category.as_str()),
            opt_int(t.mcc.map(|m| m.value() as i64)),
            text(t.channel.as_str()),
            text(t.country.as_str()),
            opt_int(t.balance_after.map(|m| m.minor)),
            text(t.status.as_str()),
        ])
    },
    reference: AccountOwners::reject,
};

/// Streamed transactions into the ledger, inside the caller's transaction: a row is written
/// only if its account belongs to its customer (the foreign key; a violation skips the row
/// rather than failing the batch) and its id is new (a replay, or a row
/// imported before, stays as it is). Returns the rows skipped for their account.
pub(crate) fn write_streamed_transactions(
    tx: &Connection,
    rows: &[Transaction],
) -> Result<crate::stream::Skipped> {
    // `INSERT INTO transactions (<cols>) <source> ON CONFLICT (id) DO NOTHING`, the source
    // given the parameter list `?1, ?2, ...`.
    fn insert(source: impl FnOnce(&str) -> String) -> String {
        let params: Vec<String> = (1..=TRANSACTIONS.cols.len())
            .map(|i| format!("?{i}"))
            .collect();
        format!(
            "INSERT INTO transactions ({}) {} ON CONFLICT (id) DO NOTHING",
            TRANSACTIONS.cols.join(", "),
            source(&params.join(", "))
        )
    }
    // With foreign keys enforced (the writer's normal state) the key itself checks the account
    // and a violation fails just that row's statement, which is cheaper than probing accounts
    // for every row first (measured: README "Streamed transactions in the ledger"); should they
    // be off (an import switches them off on this connection and back on after), the probe.
    static PLAIN: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| insert(|p| format!("VALUES ({p})")));
    // ?2 is customer_id and ?3 account_id (the order of `TRANSACTIONS.cols`).
    static PROBED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        insert(|p| {
            format!(
                "SELECT {p} WHERE EXISTS (SELECT 1 FROM accounts WHERE id = ?3 AND customer_id = ?2)"
            )
        })
    });
    let keyed: bool = tx.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    let mut skipped = crate::stream::Skipped::transactions();
    let mut insert = tx.prepare_cached(if keyed { &PLAIN } else { &PROBED })?;
    let mut stored = tx.prepare_cached("SELECT 1 FROM transactions WHERE id = ?1")?;
    let mut values = Vec::with_capacity(TRANSACTIONS.cols.len());
    // Written grouped by customer: consecutive inserts then land on neighbouring pages of the
    // `(customer_id, ts, id)` index, which are still in the CPU cache (measured: ≈ +7 %
    // events/s with the ledger, README "Streamed transactions in the ledger"). Which row of a
    // repeated id is written depends on the order (the first that is valid), so a batch with a
    // repeated id keeps its arrival order.
    let mut order: Vec<&Transaction> = rows.iter().collect();
    let mut ids = std::collections::HashSet::with_capacity(rows.len());
    if rows.iter().all(|t| ids.insert(t.id.as_str())) {
        order.sort_by(|a, b| a.customer_id.as_str().cmp(b.customer_id.as_str()));
    }
    for t in order {
        values.clear();
        (TRANSACTIONS.values)(t, &mut values);
        let written = match insert.execute(rusqlite::params_from_iter(values.iter())) {
            Ok(n) => n,
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
            {
                0
            }
            Err(e) => return Err(e.into()),
        };
        if written == 0 && !stored.exists([t.id.as_str()])? {
            skipped.add(t.id.as_str());
        }
    }
    Ok(skipped)
}

const PRODUCTS: Upsert<Product> = Upsert {
    table: "products",
    cols: &[
        "id",
        "name",
        "family",
        "risk_level",
        "currency",
        "min_income_minor",
        "rate_bps",
        "annual_fee_minor",
        "description",
        "active",
    ],
    id_label: "product_id",
    id: |p| p.id.as_str(),
    values: |p, v| {
        let currency = p
            .min_income
            .or(p.annual_fee)
            .map(|m| m.currency)
            .unwrap_or(sextant_core::Currency::EUR);
        v.extend([
            text(p.id.as_str()),
            text(&p.name),
            text(p.family.as_str()),
            text(p.risk_level.as_str()),
            owned(Some(currency.as_str().to_string())),
            opt_int(p.min_income.map(|m| m.minor)),
            opt_int(p.rate_bps.map(i64::from)),
            opt_int(p.annual_fee.map(|m| m.minor)),
            text(&p.description),
            int(p.active as i64),
        ])
    },
    reference: |_| ("product_id", "foreign key".into()),
};

const MESSAGES: Upsert<CustomerMessage> = Upsert {
    table: "messages",
    cols: &["id", "customer_id", "ts", "channel", "body", "sentiment"],
    id_label: "message_id",
    id: |m| m.id.as_str(),
    values: |m, v| {
        v.extend([
            text(m.id.as_str()),
            text(m.customer_id.as_str()),
            int(m.timestamp.timestamp_micros()),
            text(&m.channel),
            text(&m.body),
            ToSqlOutput::Owned(m.sentiment.map(Value::Real).unwrap_or(Value::Null)),
        ])
    },
    reference: |m| {
        (
            "customer_id",
            format!("customer '{}' does not exist", m.customer_id),
        )
    },
};

const EVENTS: Upsert<CustomerEvent> = Upsert {
    table: "events",
    cols: &[
        "id",
        "customer_id",
        "ts",
        "kind",
        "product_id",
        "decision_id",
        "value",
    ],
    id_label: "event_id",
    id: |e| e.id.as_str(),
    values: |e, v| {
        v.extend([
            text(e.id.as_str()),
            text(e.customer_id.as_str()),
            int(e.timestamp.timestamp_micros()),
            text(e.kind.as_str()),
            opt_text(e.product_id.as_ref().map(|p| p.as_str())),
            opt_text(e.decision_id.as_ref().map(|d| d.as_str())),
            opt_int(e.value.map(i64::from)),
        ])
    },
    reference: |e| {
        (
            "customer_id",
            format!("customer '{}' does not exist", e.customer_id),
        )
    },
};

const CONSENTS: Upsert<crate::ConsentImport> = Upsert {
    table: "consents",
    cols: &["id", "customer_id", "purpose", "granted", "at", "source"],
    id_label: "consent_id",
    id: |c| c.id.as_str(),
    values: |c, v| {
        v.extend([
            text(&c.id),
            text(c.record.customer_id.as_str()),
            text(c.record.purpose.as_str()),
            int(c.record.granted as i64),
            int(c.record.at.timestamp_micros()),
            text(&c.record.source),
        ])
    },
    reference: |c| {
        (
            "customer_id",
            format!("customer '{}' does not exist", c.record.customer_id),
        )
    },
};

/// Write one batch inside the import's transaction. `owners`: check transactions' account
/// references in memory (foreign keys are off on the connection).
fn write_batch(
    conn: &Connection,
    import_id: &str,
    batch: &Batch,
    owners: Option<&AccountOwners>,
) -> Result<(u64, Vec<RowReject>)> {
    let mut rejects = Vec::new();
    let mut written = 0u64;
    match batch {
        Batch::Customers(rows) => {
            let mut stmt = conn.prepare_cached(
                "INSERT INTO customers (id, name, age, income_minor, currency, spending_habit, risk_profile, \
                 transactions, sentiment_score, engagement_level, email, phone, occupation, joined_on, import_id, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, age = excluded.age, \
                 income_minor = excluded.income_minor, currency = excluded.currency, \
                 spending_habit = excluded.spending_habit, risk_profile = excluded.risk_profile, \
                 transactions = excluded.transactions, sentiment_score = excluded.sentiment_score, \
                 engagement_level = excluded.engagement_level, email = excluded.email, phone = excluded.phone, \
                 occupation = excluded.occupation, joined_on = excluded.joined_on, import_id = excluded.import_id, \
                 updated_at = excluded.updated_at WHERE customers.import_id IS NOT excluded.import_id",
            )?;
            let mut prot = conn.prepare_cached(
                "INSERT INTO customer_protected (customer_id, gender, age_band, region, ethnicity, import_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (customer_id) DO UPDATE SET gender = excluded.gender, \
                 age_band = excluded.age_band, region = excluded.region, ethnicity = excluded.ethnicity, \
                 import_id = excluded.import_id",
            )?;
            let mut unprot =
                conn.prepare_cached("DELETE FROM customer_protected WHERE customer_id = ?1")?;
            let now = now_micros();
            for (line, c, p) in rows {
                let res = stmt.execute(params![
                    c.id.as_str(),
                    c.name,
                    c.age,
                    c.income.minor,
                    c.income.currency.as_str(),
                    c.spending_habit.as_str(),
                    c.risk_profile.as_str(),
                    c.transactions,
                    c.sentiment_score.value(),
                    c.engagement_level.as_str(),
                    c.email,
                    c.phone,
                    c.occupation,
                    c.joined_on.map(|d| d.to_string()),
                    import_id,
                    now
                ]);
                let ok = upsert_outcome(
                    res,
                    *line,
                    || dup_msg("Customer_ID", c.id.as_str()),
                    || ("Customer_ID", "foreign key".into()),
                    &mut rejects,
                )?;
                if ok {
                    written += 1;
                    if p.is_empty() {
                        unprot.execute([c.id.as_str()])?;
                    } else {
                        prot.execute(params![
                            c.id.as_str(),
                            p.gender,
                            p.age_band,
                            p.region,
                            p.ethnicity,
                            import_id
                        ])?;
                    }
                }
            }
        }
        Batch::Accounts(rows) => {
            written += upsert_rows(conn, import_id, &ACCOUNTS, rows, &mut rejects)?
        }
        Batch::Transactions(rows) => match owners {
            Some(o) if !rows.iter().all(|(_, t)| o.knows(t)) => {
                // Rare: unknown references. Reject them here, write the rest.
                let mut known = Vec::with_capacity(rows.len());
                for (line, t) in rows {
                    if o.knows(t) {
                        known.push((*line, t.clone()));
                    } else {
                        let (column, reason) = AccountOwners::reject(t);
                        rejects.push(RowReject {
                            line: *line,
                            column: Some(column),
                            reason,
                        });
                    }
                }
                written += upsert_rows(conn, import_id, &TRANSACTIONS, &known, &mut rejects)?;
                rejects.sort_by_key(|r| r.line);
            }
            _ => written += upsert_rows(conn, import_id, &TRANSACTIONS, rows, &mut rejects)?,
        },
        Batch::Products(rows) => {
            written += upsert_rows(conn, import_id, &PRODUCTS, rows, &mut rejects)?
        }
        Batch::Messages(rows) => {
            written += upsert_rows(conn, import_id, &MESSAGES, rows, &mut rejects)?
        }
        Batch::Events(rows) => {
            written += upsert_rows(conn, import_id, &EVENTS, rows, &mut rejects)?
        }
        Batch::Consents(rows) => {
            written += upsert_rows(conn, import_id, &CONSENTS, rows, &mut rejects)?
        }
    }
    Ok((written, rejects))
}

#[async_trait]
impl ImportSink for SqliteImport {
    async fn write(&mut self, batch: Batch) -> Result<Vec<RowReject>> {
        let conn = self
            .conn
            .take()
            .ok_or_else(|| StoreError::Task("import already finished".into()))?;
        let import_id = self.record.id.clone();
        let owners = self.owners.clone();
        // A bulk load (this import outgrows what the table held at its start, e.g. any import
        // into an empty table): drop the secondary indexes now and rebuild them before COMMIT.
        // Only for transactions, the one table imported in the millions.
        let drop_indexes = self.kind == RecordKind::Transactions
            && self.rebuild.is_none()
            && self.record.rows_written + batch.len() as u64 > self.before;
        let table = self.kind.table().name();
        let t = std::time::Instant::now();
        let (conn, res) = tokio::task::spawn_blocking(move || {
            let res = (|| -> Result<_> {
                let dropped = if drop_indexes {
                    Some(drop_secondary_indexes(&conn, table)?)
                } else {
                    None
                };
                let out = write_batch(&conn, &import_id, &batch, owners.as_deref())?;
                Ok((dropped, out))
            })();
            (conn, res)
        })
        .await?;
        self.writing += t.elapsed();
        self.conn = Some(conn);
        let (dropped, (written, rejects)) = res?;
        if dropped.is_some() {
            self.rebuild = dropped;
        }
        self.record.rows_written += written;
        Ok(rejects)
    }

    async fn finish(&mut self) -> Result<Vec<RowReject>> {
        // SQLite checks every row as it is written.
        Ok(Vec::new())
    }

    async fn commit(mut self: Box<Self>, rejected: u64) -> Result<ImportRecord> {
        let conn = self
            .conn
            .take()
            .ok_or_else(|| StoreError::Task("import already finished".into()))?;
        let mut rec = self.record.clone();
        let (kind, before, fk_off) = (self.kind, self.before, self.fk_off);
        let rebuild = self.rebuild.take().unwrap_or_default();
        tracing::debug!(
            ms = self.writing.as_millis() as u64,
            "import: batches written"
        );
        let (conn, res) = tokio::task::spawn_blocking(move || {
            let res = (|| -> Result<ImportRecord> {
                let t = std::time::Instant::now();
                for sql in &rebuild {
                    conn.execute_batch(sql)?;
                }
                if !rebuild.is_empty() {
                    tracing::debug!(
                        ms = t.elapsed().as_millis() as u64,
                        "import: secondary indexes rebuilt"
                    );
                }
                let after = count_table(&conn, kind.table())?;
                rec.rows_new = after.saturating_sub(before);
                rec.rows_rejected = rejected;
                rec.finished_at = Some(now_micros());
                rec.status = "committed".into();
                conn.execute(
                    "INSERT INTO imports (id, kind, source, started_at, finished_at, status, rows_written, rows_new, rows_rejected) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![rec.id, rec.kind, rec.source, rec.started_at, rec.finished_at, rec.status,
                        rec.rows_written as i64, rec.rows_new as i64, rec.rows_rejected as i64],
                )?;
                let t = std::time::Instant::now();
                conn.execute_batch("COMMIT")?;
                tracing::debug!(ms = t.elapsed().as_millis() as u64, "import: commit");
                Ok(rec)
            })();
            (conn, res)
        })
        .await?;
        if res.is_err() {
            // Leave the connection usable: the transaction may still be open.
            let _ = conn.execute_batch("ROLLBACK");
        }
        end_import(&conn, kind, fk_off);
        drop(conn);
        res
    }

    async fn rollback(mut self: Box<Self>) -> Result<()> {
        let conn = self
            .conn
            .take()
            .ok_or_else(|| StoreError::Task("import already finished".into()))?;
        let rec = self.record.clone();
        let (kind, fk_off) = (self.kind, self.fk_off);
        tokio::task::spawn_blocking(move || -> Result<()> {
            let rolled_back = conn.execute_batch("ROLLBACK");
            end_import(&conn, kind, fk_off);
            rolled_back?;
            conn.execute(
                "INSERT INTO imports (id, kind, source, started_at, finished_at, status) VALUES (?1, ?2, ?3, ?4, ?5, 'rolled_back')",
                params![rec.id, rec.kind, rec.source, rec.started_at, now_micros()],
            )?;
            Ok(())
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, customer: &str, account: &str) -> Transaction {
        Transaction {
            id: sextant_core::TransactionId::parse(id).unwrap(),
            customer_id: sextant_core::CustomerId::parse(customer).unwrap(),
            account_id: sextant_core::AccountId::parse(account).unwrap(),
            timestamp: chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap(),
            amount: sextant_core::Money::new(-100, sextant_core::Currency::EUR),
            merchant: None,
            category: "groceries".parse().unwrap(),
            mcc: None,
            channel: "card_present".parse().unwrap(),
            country: sextant_core::CountryCode::parse("DE").unwrap(),
            balance_after: None,
            status: sextant_core::TxStatus::Approved,
        }
    }

    /// Streamed ledger rows skip a bad account reference the same way whether the connection
    /// enforces foreign keys (the key checks it) or not (the probe does).
    #[test]
    fn streamed_transactions_check_the_account_with_or_without_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = connect(&dir.path().join("t.db")).unwrap();
        migrate(&mut c).unwrap();
        c.execute_batch(
            "INSERT INTO customers (id, name, age, income_minor, currency, spending_habit, \
               risk_profile, transactions, sentiment_score, engagement_level, updated_at) \
             VALUES ('1', 'A', 30, 1, 'EUR', 'x', 'x', 0, 0, 'x', 0), \
                    ('2', 'B', 30, 1, 'EUR', 'x', 'x', 0, 0, 'x', 0); \
             INSERT INTO accounts (id, customer_id, kind, currency, opened_on, status, balance_minor) \
             VALUES ('a1', '1', 'current', 'EUR', '2026-01-01', 'open', 0), \
                    ('a2', '2', 'current', 'EUR', '2026-01-01', 'open', 0);",
        )
        .unwrap();
        for (fk, prefix) in [("ON", "on"), ("OFF", "off")] {
            c.execute_batch(&format!("PRAGMA foreign_keys = {fk}"))
                .unwrap();
            let tx = c.transaction().unwrap();
            let rows = [
                row(&format!("{prefix}-1"), "2", "a2"),
                row(&format!("{prefix}-2"), "1", "a2"), // customer 2's account
                row(&format!("{prefix}-3"), "9", "a9"), // nobody's
                row(&format!("{prefix}-4"), "1", "a1"),
            ];
            let skipped = write_streamed_transactions(&tx, &rows).unwrap();
            tx.commit().unwrap();
            assert_eq!(skipped.count(), 2, "foreign keys {fk}");
            let mut ids: Vec<String> = c
                .prepare("SELECT id FROM transactions WHERE id LIKE ?1")
                .unwrap()
                .query_map([format!("{prefix}-%")], |r| r.get(0))
                .unwrap()
                .collect::<std::result::Result<_, _>>()
                .unwrap();
            ids.sort();
            assert_eq!(ids, vec![format!("{prefix}-1"), format!("{prefix}-4")]);
        }
    }
}
