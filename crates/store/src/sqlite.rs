//! The embedded default: one SQLite file in WAL mode. One writer connection behind an async
//! mutex (SQLite allows one writer at a time anyway) and a small pool of reader connections;
//! all blocking calls run on tokio's blocking pool.

use crate::migrate::{CREATE_TABLE, MIGRATIONS};
use crate::rows::{self, Cells};
use crate::{
    ApiKeyRecord, Backend, Batch, IdempotentResponse, ImportRecord, ImportSink, RecordKind, Result,
    RowReject, Store, StoreError, Table, now_micros,
};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use sextant_core::{
    Account, AuditEntry, AuditRecord, Customer, CustomerId, Product, Transaction, TransactionId,
    audit,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::OwnedMutexGuard;

const MAX_IDLE_READERS: usize = 8;
/// SQLite's extended result code for a failed foreign-key constraint.
const SQLITE_CONSTRAINT_FOREIGNKEY: i32 = 787;

pub struct SqliteStore {
    path: PathBuf,
    writer: Arc<tokio::sync::Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // WAL: readers never block the writer. synchronous=FULL: a committed transaction survives a
    // crash or power loss (acknowledged data is never lost).
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;",
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
        Ok(Self {
            path,
            writer: Arc::new(tokio::sync::Mutex::new(conn)),
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn read<R: Send + 'static>(
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

    async fn write<R: Send + 'static>(
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

fn collect<T>(
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

    async fn ping(&self) -> Result<()> {
        self.read(|c| {
            Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())?)
        })
        .await
    }

    async fn get_customer(&self, id: &CustomerId) -> Result<Option<Customer>> {
        let id = id.as_str().to_string();
        self.read(move |c| {
            let sql = format!(
                "SELECT {} FROM customers WHERE id = ?1",
                rows::CUSTOMER_COLS
            );
            Ok(collect(c, &sql, [id], rows::customer)?.pop())
        })
        .await
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

    async fn list_accounts(&self, customer: &CustomerId) -> Result<Vec<Account>> {
        let id = customer.as_str().to_string();
        self.read(move |c| {
            let sql = format!(
                "SELECT {} FROM accounts WHERE customer_id = ?1 ORDER BY id",
                rows::ACCOUNT_COLS
            );
            collect(c, &sql, [id], rows::account)
        })
        .await
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
        let (guard, before) = tokio::task::spawn_blocking(move || -> Result<_> {
            guard.execute_batch("BEGIN IMMEDIATE")?;
            let before = count_table(&guard, kind.table());
            if before.is_err() {
                guard.execute_batch("ROLLBACK")?;
            }
            Ok((guard, before?))
        })
        .await??;
        Ok(Box::new(SqliteImport {
            conn: Some(guard),
            record: ImportRecord {
                id: format!("imp_{}", uuid::Uuid::now_v7().simple()),
                kind: kind.as_str().to_string(),
                source: source.to_string(),
                started_at: now_micros(),
                finished_at: None,
                status: "running".into(),
                rows_written: 0,
                rows_new: 0,
                rows_rejected: 0,
            },
            kind,
            before,
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

    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let last: Option<(i64, String)> = tx
                .query_row(
                    "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let (seq, prev) = match last {
                Some((s, h)) => (s + 1, h),
                None => (1, audit::GENESIS.to_string()),
            };
            let at =
                chrono::DateTime::from_timestamp_micros(now_micros()).expect("now is in range");
            let hash = audit::chain_hash(&prev, seq, at, &record);
            tx.execute(
                "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    seq,
                    at.timestamp_micros(),
                    record.actor,
                    record.action,
                    record.subject,
                    record.details.to_string(),
                    prev,
                    hash
                ],
            )?;
            tx.commit()?;
            Ok(AuditEntry {
                seq,
                at,
                actor: record.actor,
                action: record.action,
                subject: record.subject,
                details: record.details,
                prev_hash: prev,
                hash,
            })
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

/// An open SQLite import: holds the writer connection inside `BEGIN IMMEDIATE`.
struct SqliteImport {
    conn: Option<OwnedMutexGuard<Connection>>,
    record: ImportRecord,
    kind: RecordKind,
    before: u64,
}

impl Drop for SqliteImport {
    fn drop(&mut self) {
        // Dropped without commit or rollback (an error or a cancelled task): discard the writes.
        if let Some(conn) = self.conn.take() {
            if let Err(e) = conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, import = %self.record.id, "rollback of abandoned import failed");
            }
        }
    }
}

/// Outcome of one upsert: written, or refused with a reason.
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
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.extended_code == SQLITE_CONSTRAINT_FOREIGNKEY =>
        {
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

fn dup_msg(col: &str, id: &str) -> String {
    format!("duplicate {col} '{id}': it appears earlier in this import")
}

fn write_batch(conn: &Connection, import_id: &str, batch: &Batch) -> Result<(u64, Vec<RowReject>)> {
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
            let mut stmt = conn.prepare_cached(
                "INSERT INTO accounts (id, customer_id, kind, product_id, currency, opened_on, closed_on, status, \
                 limit_minor, balance_minor, import_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                 ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, kind = excluded.kind, \
                 product_id = excluded.product_id, currency = excluded.currency, opened_on = excluded.opened_on, \
                 closed_on = excluded.closed_on, status = excluded.status, limit_minor = excluded.limit_minor, \
                 balance_minor = excluded.balance_minor, import_id = excluded.import_id \
                 WHERE accounts.import_id IS NOT excluded.import_id",
            )?;
            for (line, a) in rows {
                let res = stmt.execute(params![
                    a.id.as_str(),
                    a.customer_id.as_str(),
                    a.kind.as_str(),
                    a.product_id.as_ref().map(|p| p.as_str()),
                    a.currency.as_str(),
                    a.opened_on.to_string(),
                    a.closed_on.map(|d| d.to_string()),
                    a.status.as_str(),
                    a.limit.map(|m| m.minor),
                    a.balance.minor,
                    import_id
                ]);
                written += upsert_outcome(
                    res,
                    *line,
                    || dup_msg("account_id", a.id.as_str()),
                    || {
                        (
                            "customer_id",
                            format!("customer '{}' does not exist", a.customer_id),
                        )
                    },
                    &mut rejects,
                )? as u64;
            }
        }
        Batch::Transactions(rows) => {
            let mut stmt = conn.prepare_cached(
                "INSERT INTO transactions (id, customer_id, account_id, ts, amount_minor, currency, merchant, \
                 category, mcc, channel, country, balance_after_minor, status, import_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
                 ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, account_id = excluded.account_id, \
                 ts = excluded.ts, amount_minor = excluded.amount_minor, currency = excluded.currency, \
                 merchant = excluded.merchant, category = excluded.category, mcc = excluded.mcc, \
                 channel = excluded.channel, country = excluded.country, \
                 balance_after_minor = excluded.balance_after_minor, status = excluded.status, \
                 import_id = excluded.import_id WHERE transactions.import_id IS NOT excluded.import_id",
            )?;
            for (line, t) in rows {
                let res = stmt.execute(params![
                    t.id.as_str(),
                    t.customer_id.as_str(),
                    t.account_id.as_str(),
                    t.timestamp.timestamp_micros(),
                    t.amount.minor,
                    t.amount.currency.as_str(),
                    t.merchant,
                    t.category.as_str(),
                    t.mcc.map(|m| m.value()),
                    t.channel.as_str(),
                    t.country.as_str(),
                    t.balance_after.map(|m| m.minor),
                    t.status.as_str(),
                    import_id
                ]);
                written += upsert_outcome(
                    res,
                    *line,
                    || dup_msg("transaction_id", t.id.as_str()),
                    || {
                        (
                            "account_id",
                            format!(
                                "account '{}' does not exist for customer '{}'",
                                t.account_id, t.customer_id
                            ),
                        )
                    },
                    &mut rejects,
                )? as u64;
            }
        }
        Batch::Products(rows) => {
            let mut stmt = conn.prepare_cached(
                "INSERT INTO products (id, name, family, risk_level, currency, min_income_minor, rate_bps, \
                 annual_fee_minor, description, active, import_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, family = excluded.family, \
                 risk_level = excluded.risk_level, currency = excluded.currency, \
                 min_income_minor = excluded.min_income_minor, rate_bps = excluded.rate_bps, \
                 annual_fee_minor = excluded.annual_fee_minor, description = excluded.description, \
                 active = excluded.active, import_id = excluded.import_id WHERE products.import_id IS NOT excluded.import_id",
            )?;
            for (line, p) in rows {
                let currency = p
                    .min_income
                    .or(p.annual_fee)
                    .map(|m| m.currency)
                    .unwrap_or(sextant_core::Currency::EUR);
                let res = stmt.execute(params![
                    p.id.as_str(),
                    p.name,
                    p.family.as_str(),
                    p.risk_level.as_str(),
                    currency.as_str(),
                    p.min_income.map(|m| m.minor),
                    p.rate_bps,
                    p.annual_fee.map(|m| m.minor),
                    p.description,
                    p.active as i64,
                    import_id
                ]);
                written += upsert_outcome(
                    res,
                    *line,
                    || dup_msg("product_id", p.id.as_str()),
                    || ("product_id", "foreign key".into()),
                    &mut rejects,
                )? as u64;
            }
        }
        Batch::Messages(rows) => {
            let mut stmt = conn.prepare_cached(
                "INSERT INTO messages (id, customer_id, ts, channel, body, sentiment, import_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, \
                 ts = excluded.ts, channel = excluded.channel, body = excluded.body, sentiment = excluded.sentiment, \
                 import_id = excluded.import_id WHERE messages.import_id IS NOT excluded.import_id",
            )?;
            for (line, m) in rows {
                let res = stmt.execute(params![
                    m.id.as_str(),
                    m.customer_id.as_str(),
                    m.timestamp.timestamp_micros(),
                    m.channel,
                    m.body,
                    m.sentiment,
                    import_id
                ]);
                written += upsert_outcome(
                    res,
                    *line,
                    || dup_msg("message_id", m.id.as_str()),
                    || {
                        (
                            "customer_id",
                            format!("customer '{}' does not exist", m.customer_id),
                        )
                    },
                    &mut rejects,
                )? as u64;
            }
        }
        Batch::Events(rows) => {
            let mut stmt = conn.prepare_cached(
                "INSERT INTO events (id, customer_id, ts, kind, product_id, decision_id, value, import_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, \
                 ts = excluded.ts, kind = excluded.kind, product_id = excluded.product_id, \
                 decision_id = excluded.decision_id, value = excluded.value, import_id = excluded.import_id \
                 WHERE events.import_id IS NOT excluded.import_id",
            )?;
            for (line, e) in rows {
                let res = stmt.execute(params![
                    e.id.as_str(),
                    e.customer_id.as_str(),
                    e.timestamp.timestamp_micros(),
                    e.kind.as_str(),
                    e.product_id.as_ref().map(|p| p.as_str()),
                    e.decision_id.as_ref().map(|d| d.as_str()),
                    e.value,
                    import_id
                ]);
                written += upsert_outcome(
                    res,
                    *line,
                    || dup_msg("event_id", e.id.as_str()),
                    || {
                        (
                            "customer_id",
                            format!("customer '{}' does not exist", e.customer_id),
                        )
                    },
                    &mut rejects,
                )? as u64;
            }
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
        let (conn, res) = tokio::task::spawn_blocking(move || {
            let res = write_batch(&conn, &import_id, &batch);
            (conn, res)
        })
        .await?;
        self.conn = Some(conn);
        let (written, rejects) = res?;
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
        let (kind, before) = (self.kind, self.before);
        let (conn, res) = tokio::task::spawn_blocking(move || {
            let res = (|| -> Result<ImportRecord> {
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
                conn.execute_batch("COMMIT")?;
                Ok(rec)
            })();
            (conn, res)
        })
        .await?;
        if res.is_err() {
            // Leave the connection usable: the transaction may still be open.
            let _ = conn.execute_batch("ROLLBACK");
        }
        drop(conn);
        res
    }

    async fn rollback(mut self: Box<Self>) -> Result<()> {
        let conn = self
            .conn
            .take()
            .ok_or_else(|| StoreError::Task("import already finished".into()))?;
        let rec = self.record.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            conn.execute_batch("ROLLBACK")?;
            conn.execute(
                "INSERT INTO imports (id, kind, source, started_at, finished_at, status) VALUES (?1, ?2, ?3, ?4, ?5, 'rolled_back')",
                params![rec.id, rec.kind, rec.source, rec.started_at, now_micros()],
            )?;
            Ok(())
        })
        .await?
    }
}
