//! PostgreSQL: the scale-out backend. A deadpool connection pool for reads and small writes;
//! imports stream rows with binary `COPY` into a temporary staging table, check duplicates and
//! references there in set-based SQL, and merge into the real table in one statement, all inside
//! one transaction. A transactions import into an empty table `COPY`s straight into it instead
//! (`Direct`), falling back to staging for the rest of the file at the first duplicate id.

use crate::migrate::{CREATE_TABLE, MIGRATIONS};
use crate::owners::{AccountOwners, MAX_OWNERS_IN_MEMORY};
use crate::rows::{self, Cells, nba};
use crate::{
    ApiKeyRecord, Backend, Batch, IdempotentResponse, ImportRecord, ImportSink, RecordKind, Result,
    RowReject, Store, StoreError, Table, now_micros,
};
use async_trait::async_trait;
use bytes::{BufMut, BytesMut};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use futures_util::SinkExt;
use sextant_core::{
    Account, AuditEntry, AuditRecord, ConsentRecord, Customer, CustomerEvent, CustomerId,
    CustomerMessage, Decision, DecisionId, Product, ProductId, ProtectedAttributes, Transaction,
    TransactionId, audit,
};
use tokio_postgres::GenericClient;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

/// Advisory lock keys (arbitrary constants) serialising migrations and audit appends.
const MIGRATION_LOCK: i64 = 0x5E47_0001;
const AUDIT_LOCK: i64 = 0x5E47_0002;
const POOL_SIZE: usize = 16;

pub struct PgStore {
    pool: Pool,
    /// The connection settings the pool uses, kept for connections outside it (lease sessions).
    pub(crate) config: tokio_postgres::Config,
    /// The advisory-lock class of partition leases (see `pg_stream::lease_class`).
    pub(crate) lease_class: i32,
}

impl PgStore {
    /// Connect, optionally inside `schema` (created if missing; used for one-schema-per-test
    /// isolation), and apply pending migrations.
    pub async fn connect(url: &str, schema: Option<String>) -> Result<Self> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| StoreError::Url(e.to_string()))?;
        if let Some(schema) = &schema {
            if !schema
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
                || schema.is_empty()
            {
                return Err(StoreError::Url(format!("invalid schema name '{schema}'")));
            }
            let (client, conn) = config
                .connect(NoTls)
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            tokio::spawn(conn);
            client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .await?;
            config.options(format!("-c search_path={schema}"));
        }
        let lease_class = crate::pg_stream::lease_class(schema.as_deref());
        let mgr = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = Self {
            pool,
            config,
            lease_class,
        };
        store.migrate().await?;
        Ok(store)
    }

    pub(crate) async fn client(&self) -> Result<Object> {
        Ok(self.pool.get().await?)
    }

    async fn migrate(&self) -> Result<()> {
        let mut client = self.client().await?;
        client.batch_execute(CREATE_TABLE).await?;
        for m in MIGRATIONS {
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await?;
            let done = tx
                .query_opt(
                    "SELECT version FROM schema_migrations WHERE version = $1",
                    &[&(m.version as i64)],
                )
                .await?;
            if done.is_none() {
                tx.batch_execute(m.postgres)
                    .await
                    .map_err(|e| StoreError::Migration {
                        version: m.version,
                        reason: e.to_string(),
                    })?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    &[&(m.version as i64), &m.name, &now_micros()],
                )
                .await?;
                tracing::info!(
                    version = m.version,
                    name = m.name,
                    "applied PostgreSQL migration"
                );
            }
            tx.commit().await?;
        }
        Ok(())
    }

    pub(crate) async fn query<T>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        map: fn(&dyn Cells) -> Result<T>,
    ) -> Result<Vec<T>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await?;
        let rows = client.query(&stmt, params).await?;
        rows.iter().map(|r| map(r)).collect()
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
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
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    async fn get_customer(&self, id: &CustomerId) -> Result<Option<Customer>> {
        let sql = format!(
            "SELECT {} FROM customers WHERE id = $1",
            rows::CUSTOMER_COLS
        );
        Ok(self
            .query(&sql, &[&id.as_str()], rows::customer)
            .await?
            .pop())
    }

    async fn list_customers(
        &self,
        after: Option<&CustomerId>,
        limit: u32,
    ) -> Result<Vec<Customer>> {
        let sql = format!(
            "SELECT {} FROM customers WHERE $1::text IS NULL OR id > $1 ORDER BY id LIMIT $2",
            rows::CUSTOMER_COLS
        );
        let after = after.map(|a| a.as_str());
        self.query(&sql, &[&after, &(limit as i64)], rows::customer)
            .await
    }

    async fn count(&self, table: Table) -> Result<u64> {
        let row = self
            .client()
            .await?
            .query_one(&format!("SELECT count(*) FROM {}", table.name()), &[])
            .await?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn list_accounts(&self, customer: &CustomerId) -> Result<Vec<Account>> {
        let sql = format!(
            "SELECT {} FROM accounts WHERE customer_id = $1 ORDER BY id",
            rows::ACCOUNT_COLS
        );
        self.query(&sql, &[&customer.as_str()], rows::account).await
    }

    async fn list_transactions(
        &self,
        customer: &CustomerId,
        before: Option<(i64, TransactionId)>,
        limit: u32,
    ) -> Result<Vec<Transaction>> {
        let sql = format!(
            "SELECT {} FROM transactions WHERE customer_id = $1 AND ($2::bigint IS NULL OR (ts, id) < ($2, $3::text)) \
             ORDER BY ts DESC, id DESC LIMIT $4",
            rows::TRANSACTION_COLS
        );
        let (ts, tx) = match &before {
            Some((ts, tx)) => (Some(*ts), Some(tx.as_str())),
            None => (None, None),
        };
        self.query(
            &sql,
            &[&customer.as_str(), &ts, &tx, &(limit as i64)],
            rows::transaction,
        )
        .await
    }

    async fn list_products(&self) -> Result<Vec<Product>> {
        let sql = format!("SELECT {} FROM products ORDER BY id", rows::PRODUCT_COLS);
        self.query(&sql, &[], rows::product).await
    }

    async fn begin_import(&self, kind: RecordKind, source: &str) -> Result<Box<dyn ImportSink>> {
        let client = self.client().await?;
        let spec = spec(kind);
        client
            .batch_execute(&format!(
                "BEGIN; CREATE TEMP TABLE stage ({}, line BIGINT NOT NULL) ON COMMIT DROP;",
                spec.stage_columns
            ))
            .await?;
        let direct = if kind == RecordKind::Transactions {
            match direct_load(&client).await {
                Ok(d) => d,
                Err(e) => {
                    // Inside the import's transaction: close the connection rather than pool it.
                    drop(Object::take(client));
                    return Err(e);
                }
            }
        } else {
            None
        };
        Ok(Box::new(PgImport {
            client: Some(client),
            kind,
            record: ImportRecord::start(kind, source),
            staged: 0,
            direct,
        }))
    }

    async fn list_imports(&self, limit: u32) -> Result<Vec<ImportRecord>> {
        let sql = format!(
            "SELECT {} FROM imports ORDER BY started_at DESC LIMIT $1",
            rows::IMPORT_COLS
        );
        self.query(&sql, &[&(limit as i64)], rows::import).await
    }

    async fn insert_api_key(&self, k: &ApiKeyRecord) -> Result<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO api_keys (id, hash, role, customer_id, label, created_at, revoked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &k.id,
                    &k.hash,
                    &k.role.as_str(),
                    &k.customer_id.as_ref().map(|c| c.as_str()),
                    &k.label,
                    &k.created_at,
                    &k.revoked_at,
                ],
            )
            .await?;
        Ok(())
    }

    async fn get_api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>> {
        let sql = format!("SELECT {} FROM api_keys WHERE id = $1", rows::API_KEY_COLS);
        Ok(self.query(&sql, &[&id], rows::api_key).await?.pop())
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        let sql = format!(
            "SELECT {} FROM api_keys ORDER BY created_at",
            rows::API_KEY_COLS
        );
        self.query(&sql, &[], rows::api_key).await
    }

    async fn revoke_api_key(&self, id: &str, at: i64) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &at],
            )
            .await?;
        Ok(n == 1)
    }

    async fn idempotency_get(&self, scope: &str, key: &str) -> Result<Option<IdempotentResponse>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT request_hash, status, body, created_at FROM idempotency WHERE scope = $1 AND key = $2",
                &[&scope, &key],
            )
            .await?;
        Ok(row.map(|r| IdempotentResponse {
            request_hash: r.get(0),
            status: r.get::<_, i64>(1) as u16,
            body: r.get(2),
            created_at: r.get(3),
        }))
    }

    async fn idempotency_put(&self, scope: &str, key: &str, r: &IdempotentResponse) -> Result<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO idempotency (scope, key, request_hash, status, body, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, key) DO NOTHING",
                &[
                    &scope,
                    &key,
                    &r.request_hash,
                    &(r.status as i64),
                    &r.body,
                    &r.created_at,
                ],
            )
            .await?;
        Ok(())
    }

    async fn append_consent(&self, r: &ConsentRecord) -> Result<bool> {
        // consents.customer_id has a foreign key: an unknown customer inserts nothing.
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO consents (customer_id, purpose, granted, at, source) \
                 SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM customers WHERE id = $1)",
                &[
                    &r.customer_id.as_str(),
                    &r.purpose.as_str(),
                    &(r.granted as i64),
                    &r.at.timestamp_micros(),
                    &r.source,
                ],
            )
            .await?;
        Ok(n == 1)
    }

    async fn consent_history(&self, id: &CustomerId) -> Result<Vec<ConsentRecord>> {
        let sql = format!(
            "SELECT {} FROM consents WHERE customer_id = $1 ORDER BY seq",
            rows::CONSENT_COLS
        );
        self.query(&sql, &[&id.as_str()], rows::consent).await
    }

    async fn do_not_sell(&self, id: &CustomerId) -> Result<Option<bool>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT do_not_sell FROM customers WHERE id = $1",
                &[&id.as_str()],
            )
            .await?;
        Ok(row.map(|r| r.get::<_, i64>(0) != 0))
    }

    async fn set_do_not_sell(&self, id: &CustomerId, value: bool) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE customers SET do_not_sell = $2 WHERE id = $1",
                &[&id.as_str(), &(value as i64)],
            )
            .await?;
        Ok(n == 1)
    }

    async fn update_customer(&self, cu: &Customer) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE customers SET name = $2, age = $3, income_minor = $4, currency = $5, spending_habit = $6, \
                 risk_profile = $7, transactions = $8, sentiment_score = $9, engagement_level = $10, email = $11, \
                 phone = $12, occupation = $13, joined_on = $14, updated_at = $15 WHERE id = $1",
                &[
                    &cu.id.as_str(),
                    &cu.name,
                    &(cu.age as i64),
                    &cu.income.minor,
                    &cu.income.currency.as_str(),
                    &cu.spending_habit.as_str(),
                    &cu.risk_profile.as_str(),
                    &(cu.transactions as i64),
                    &cu.sentiment_score.value(),
                    &cu.engagement_level.as_str(),
                    &cu.email,
                    &cu.phone,
                    &cu.occupation,
                    &cu.joined_on.map(|d| d.to_string()),
                    &now_micros(),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    async fn get_protected(&self, id: &CustomerId) -> Result<Option<ProtectedAttributes>> {
        let sql = format!(
            "SELECT {} FROM customer_protected WHERE customer_id = $1",
            rows::PROTECTED_COLS
        );
        Ok(self
            .query(&sql, &[&id.as_str()], rows::protected)
            .await?
            .pop())
    }

    async fn list_messages(&self, id: &CustomerId) -> Result<Vec<CustomerMessage>> {
        let sql = format!(
            "SELECT {} FROM messages WHERE customer_id = $1 ORDER BY ts, id",
            rows::MESSAGE_COLS
        );
        self.query(&sql, &[&id.as_str()], rows::message).await
    }

    async fn scan_messages(
        &self,
        after: Option<&sextant_core::MessageId>,
        limit: u32,
    ) -> Result<Vec<CustomerMessage>> {
        let sql = format!(
            "SELECT {} FROM messages WHERE $1::text IS NULL OR id > $1 ORDER BY id LIMIT $2",
            rows::MESSAGE_COLS
        );
        self.query(
            &sql,
            &[&after.map(|a| a.as_str()), &(limit as i64)],
            rows::message,
        )
        .await
    }

    async fn set_message_body(&self, id: &sextant_core::MessageId, body: &str) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE messages SET body = $2 WHERE id = $1",
                &[&id.as_str(), &body],
            )
            .await?;
        Ok(n == 1)
    }

    async fn sealed_page(
        &self,
        column: crate::SealedColumn,
        after: (&str, i64),
        limit: u32,
    ) -> Result<Vec<(String, i64, String)>> {
        let rows = self
            .client()
            .await?
            .query(column.page_sql(), &[&after.0, &after.1, &i64::from(limit)])
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get::<_, String>(0),
                    r.get::<_, i64>(1),
                    r.get::<_, String>(2),
                )
            })
            .collect())
    }

    async fn reseal(
        &self,
        column: crate::SealedColumn,
        key: (&str, i64),
        value: &str,
    ) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(column.update_sql(), &[&key.0, &key.1, &value])
            .await?;
        Ok(n == 1)
    }

    async fn list_events(&self, id: &CustomerId) -> Result<Vec<CustomerEvent>> {
        let sql = format!(
            "SELECT {} FROM events WHERE customer_id = $1 ORDER BY ts, id",
            rows::EVENT_COLS
        );
        self.query(&sql, &[&id.as_str()], rows::event).await
    }

    async fn list_decisions(&self, id: &CustomerId) -> Result<Vec<Decision>> {
        let sql = format!(
            "SELECT {} FROM decisions WHERE customer_id = $1 ORDER BY at, id",
            rows::DECISION_COLS
        );
        self.query(&sql, &[&id.as_str()], rows::decision).await
    }

    async fn erase_customer(
        &self,
        id: &CustomerId,
        unlearn: &[crate::ArmWrite],
    ) -> Result<Option<Vec<(String, u64)>>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let exists = tx
            .query_opt(
                "SELECT 1 FROM customers WHERE id = $1 FOR UPDATE",
                &[&id.as_str()],
            )
            .await?
            .is_some();
        let streamed: bool = tx
            .query_one(crate::stream::HAS_STREAM_ROWS, &[&id.as_str()])
            .await?
            .get(0);
        let assisted: bool = tx
            .query_one(crate::assistant::HAS_ASSISTANT_ROWS, &[&id.as_str()])
            .await?
            .try_get(0)?;
        if !exists && !streamed && !assisted {
            return Ok(None);
        }
        for w in unlearn {
            if !bandit_put_on(&*tx, &w.policy, &w.arm, &w.state, w.expected).await? {
                return Err(StoreError::Conflict(format!(
                    "bandit arm '{}/{}' changed during the erasure",
                    w.policy, w.arm
                )));
            }
        }
        let mut counts = Vec::new();
        for (table, sql) in crate::stream::ERASE {
            let n = tx.execute(*sql, &[&id.as_str()]).await?;
            counts.push((table.to_string(), n));
        }
        for (table, col) in rows::CUSTOMER_TABLES {
            let n = tx
                .execute(
                    &format!("DELETE FROM {table} WHERE {col} = $1"),
                    &[&id.as_str()],
                )
                .await?;
            counts.push((table.to_string(), n));
        }
        tx.commit().await?;
        // Let PostgreSQL reclaim the dead tuples now rather than whenever autovacuum runs.
        let tables: Vec<&str> = crate::stream::ERASE
            .iter()
            .chain(rows::CUSTOMER_TABLES)
            .map(|(t, _)| *t)
            .collect();
        client
            .batch_execute(&format!("VACUUM {}", tables.join(", ")))
            .await?;
        Ok(Some(counts))
    }

    async fn audit_range(
        &self,
        from: i64,
        to: i64,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        let sql = format!(
            "SELECT {} FROM audit_log WHERE at >= $1 AND at < $2 AND seq > $3 ORDER BY seq LIMIT $4",
            rows::AUDIT_COLS
        );
        self.query(&sql, &[&from, &to, &after, &(limit as i64)], rows::audit)
            .await
    }

    async fn offer_outcomes(&self) -> Result<Vec<(ProtectedAttributes, bool)>> {
        self.query(rows::OFFER_OUTCOMES, &[], rows::offer_outcome)
            .await
    }

    async fn spend_rows(&self, group: crate::SpendGroup) -> Result<Vec<crate::SpendRowOwned>> {
        self.query(&rows::spend_rows_sql(group), &[], rows::spend_row)
            .await
    }

    async fn privacy_charge(
        &self,
        analyst: &str,
        epsilon: u64,
        budget: u64,
        query: &str,
    ) -> Result<Result<u64, u64>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Serialise charges per analyst so two concurrent queries cannot both fit the budget.
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&analyst])
            .await?;
        let row = tx
            .query_one(
                "SELECT CAST(COALESCE(SUM(epsilon_micros), 0) AS BIGINT) FROM privacy_ledger WHERE analyst = $1",
                &[&analyst],
            )
            .await?;
        let spent = row.get::<_, i64>(0) as u64;
        match spent.checked_add(epsilon) {
            Some(total) if total <= budget => {
                tx.execute(
                    "INSERT INTO privacy_ledger (analyst, at, epsilon_micros, query) VALUES ($1, $2, $3, $4)",
                    &[&analyst, &now_micros(), &(epsilon as i64), &query],
                )
                .await?;
                tx.commit().await?;
                Ok(Ok(total))
            }
            _ => Ok(Err(spent)),
        }
    }

    async fn customer_spend(&self, id: &CustomerId) -> Result<Vec<(String, i64)>> {
        self.query(rows::CUSTOMER_SPEND, &[&id.as_str()], rows::category_spend)
            .await
    }

    async fn dp_release_get(&self, key: &str) -> Result<Option<String>> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT body FROM dp_releases WHERE key = $1", &[&key])
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn dp_release_put(&self, key: &str, epsilon: u64, body: &str) -> Result<String> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO dp_releases (key, released_at, epsilon_micros, body) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key) DO NOTHING",
                &[&key, &now_micros(), &(epsilon as i64), &body],
            )
            .await?;
        Ok(client
            .query_one("SELECT body FROM dp_releases WHERE key = $1", &[&key])
            .await?
            .get(0))
    }

    async fn put_features(&self, rows: &[crate::FeatureRow]) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let stmt = tx.prepare(rows::sql::UPSERT_FEATURES).await?;
        let written = now_micros();
        for r in rows {
            tx.execute(
                &stmt,
                &[
                    &r.customer_id.as_str(),
                    &r.version,
                    &r.computed_at,
                    &r.vector,
                    &written,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_features(&self, id: &CustomerId) -> Result<Option<crate::FeatureRow>> {
        Ok(self
            .query(rows::sql::GET_FEATURES, &[&id.as_str()], rows::feature_row)
            .await?
            .pop())
    }

    async fn features_written_since(
        &self,
        after: (i64, Option<&CustomerId>),
        limit: u32,
    ) -> Result<Vec<(i64, crate::FeatureRow)>> {
        let id = after.1.map_or("", |c| c.as_str());
        self.query(
            rows::sql::FEATURES_WRITTEN,
            &[&after.0, &id, &i64::from(limit)],
            rows::written_feature_row,
        )
        .await
    }

    async fn scan_features(
        &self,
        version: i64,
        after: Option<&CustomerId>,
        limit: u32,
    ) -> Result<Vec<crate::FeatureRow>> {
        self.query(
            rows::sql::SCAN_FEATURES,
            &[&version, &after.map(|a| a.as_str()), &(limit as i64)],
            rows::feature_row,
        )
        .await
    }

    async fn delete_profiling(&self, id: &CustomerId) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "DELETE FROM features WHERE customer_id = $1",
            &[&id.as_str()],
        )
        .await?;
        tx.execute(
            "DELETE FROM customer_segments WHERE customer_id = $1",
            &[&id.as_str()],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn save_segment_model(&self, m: &crate::SegmentModelRecord) -> Result<i64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("LOCK TABLE segment_models IN SHARE ROW EXCLUSIVE MODE", &[])
            .await?;
        let version: i64 = tx
            .query_one(rows::sql::NEXT_MODEL_VERSION, &[])
            .await?
            .get(0);
        tx.execute(
            rows::sql::INSERT_MODEL,
            &[
                &version,
                &m.created_at,
                &m.feature_version,
                &m.trained_on,
                &m.data_hash,
                &m.model,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(version)
    }

    async fn segment_model(
        &self,
        version: Option<i64>,
    ) -> Result<Option<crate::SegmentModelRecord>> {
        let sql = format!(
            "SELECT {} FROM segment_models WHERE ($1::bigint IS NULL AND promoted = 1) OR version = $1",
            rows::SEGMENT_MODEL_COLS
        );
        Ok(self
            .query(&sql, &[&version], rows::segment_model)
            .await?
            .pop())
    }

    async fn list_segment_models(&self) -> Result<Vec<crate::SegmentModelRecord>> {
        let sql = format!(
            "SELECT {} FROM segment_models ORDER BY version",
            rows::SEGMENT_MODEL_COLS
        );
        self.query(&sql, &[], rows::segment_model).await
    }

    async fn promote_segment_model(&self, version: i64) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if tx
            .query_opt(
                "SELECT version FROM segment_models WHERE version = $1 FOR UPDATE",
                &[&version],
            )
            .await?
            .is_none()
        {
            return Ok(false);
        }
        tx.execute(rows::sql::UNPROMOTE, &[]).await?;
        tx.execute(rows::sql::PROMOTE, &[&version]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn put_segments(&self, rows: &[crate::SegmentRow]) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let stmt = tx.prepare(rows::sql::UPSERT_SEGMENT).await?;
        for r in rows {
            tx.execute(
                &stmt,
                &[
                    &r.customer_id.as_str(),
                    &r.model_version,
                    &r.segment_id,
                    &r.distance,
                    &r.assigned_at,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_segment(&self, id: &CustomerId) -> Result<Option<crate::SegmentRow>> {
        Ok(self
            .query(rows::sql::GET_SEGMENT, &[&id.as_str()], rows::segment_row)
            .await?
            .pop())
    }

    async fn segment_sizes(&self, model_version: i64) -> Result<Vec<(String, u64)>> {
        self.query(
            rows::sql::SEGMENT_SIZES,
            &[&model_version],
            rows::segment_size,
        )
        .await
    }

    async fn save_model(
        &self,
        name: &str,
        created_at: i64,
        card: &str,
        model: &str,
    ) -> Result<i64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("LOCK TABLE models IN SHARE ROW EXCLUSIVE MODE", &[])
            .await?;
        let v: i64 = tx
            .query_one(rows::registry::NEXT_VERSION, &[&name])
            .await?
            .get(0);
        tx.execute(
            rows::registry::INSERT,
            &[&name, &v, &created_at, &card, &model],
        )
        .await?;
        tx.commit().await?;
        Ok(v)
    }

    async fn get_model(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<crate::ModelRecord>> {
        Ok(self
            .query(rows::registry::GET, &[&name, &version], rows::model)
            .await?
            .pop())
    }

    async fn list_models(&self) -> Result<Vec<crate::ModelRecord>> {
        self.query(rows::registry::LIST, &[], rows::model).await
    }

    async fn promote_model(&self, name: &str, version: i64) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if tx
            .query_opt(rows::registry::EXISTS, &[&name, &version])
            .await?
            .is_none()
        {
            return Ok(false);
        }
        tx.execute(rows::registry::UNPROMOTE, &[&name]).await?;
        tx.execute(rows::registry::PROMOTE, &[&name, &version])
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn insert_decision(&self, d: &Decision) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO decisions (id, customer_id, at, kind, versions, payload, status) \
                 SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM customers WHERE id = $2)",
                &[
                    &d.id.as_str(),
                    &d.customer_id.as_str(),
                    &d.at.timestamp_micros(),
                    &d.kind,
                    &d.versions.to_string(),
                    &d.payload.to_string(),
                    &d.status,
                ],
            )
            .await?;
        Ok(n == 1)
    }

    async fn promoted_model_version(&self, name: &str) -> Result<Option<i64>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT version FROM models WHERE name = $1 AND promoted = 1",
                &[&name],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn insert_event(&self, e: &CustomerEvent) -> Result<crate::EventInsert> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let res = insert_event_on(&tx, e).await?;
        if res == crate::EventInsert::Inserted {
            tx.commit().await?;
        }
        Ok(res)
    }

    async fn decision_events(&self, id: &DecisionId) -> Result<Vec<CustomerEvent>> {
        let sql = format!(
            "SELECT {} FROM events WHERE decision_id = $1 ORDER BY ts, id",
            rows::EVENT_COLS
        );
        self.query(&sql, &[&id.as_str()], rows::event).await
    }

    async fn get_decision(&self, id: &DecisionId) -> Result<Option<Decision>> {
        let sql = format!(
            "SELECT {} FROM decisions WHERE id = $1",
            rows::DECISION_COLS
        );
        Ok(self
            .query(&sql, &[&id.as_str()], rows::decision)
            .await?
            .pop())
    }

    async fn record_decisions(
        &self,
        decisions: &[Decision],
        reviews: &[crate::ReviewCase],
        audit: AuditRecord,
    ) -> Result<AuditEntry> {
        let mut client = self.client().await?;
        // Dropping `tx` on any error rolls everything back.
        let tx = client.transaction().await?;
        let customers: std::collections::BTreeSet<&CustomerId> = decisions
            .iter()
            .map(|d| &d.customer_id)
            .chain(reviews.iter().map(|r| &r.customer_id))
            .collect();
        for id in customers {
            // FOR SHARE: a concurrent erasure of this customer waits for (or precedes) us.
            let sql = format!("{} FOR SHARE", nba::CUSTOMER_EXISTS);
            if tx.query_opt(&sql, &[&id.as_str()]).await?.is_none() {
                return Err(StoreError::UnknownCustomer(id.clone()));
            }
        }
        let stmt = tx.prepare_cached(nba::INSERT_DECISION).await?;
        for d in decisions {
            tx.execute(
                &stmt,
                &[
                    &d.id.as_str(),
                    &d.customer_id.as_str(),
                    &d.at.timestamp_micros(),
                    &d.kind,
                    &d.versions.to_string(),
                    &d.payload.to_string(),
                    &d.status,
                ],
            )
            .await?;
        }
        let stmt = tx.prepare_cached(nba::INSERT_REVIEW).await?;
        for r in reviews {
            tx.execute(
                &stmt,
                &[
                    &r.id,
                    &r.decision_id.as_str(),
                    &r.customer_id.as_str(),
                    &r.created_at,
                    &r.reason.to_string(),
                    &r.status.as_str(),
                    &r.reviewer,
                    &r.note,
                    &r.resolved_at,
                    &r.modified_payload.as_ref().map(|p| p.to_string()),
                ],
            )
            .await?;
        }
        let entry = append_audit_on(&tx, audit).await?;
        tx.commit().await?;
        Ok(entry)
    }

    async fn list_reviews(
        &self,
        status: Option<crate::ReviewStatus>,
        after: Option<(i64, String)>,
        limit: u32,
    ) -> Result<Vec<crate::ReviewCase>> {
        let sql = format!(
            "SELECT {} FROM reviews WHERE ($1::text IS NULL OR status = $1) \
             AND ($2::bigint IS NULL OR (created_at, id) > ($2, $3::text)) ORDER BY created_at, id LIMIT $4",
            rows::REVIEW_COLS
        );
        let status = status.map(|s| s.as_str());
        let (at, id) = after.unzip();
        self.query(&sql, &[&status, &at, &id, &(limit as i64)], rows::review)
            .await
    }

    async fn customer_reviews(&self, customer: &CustomerId) -> Result<Vec<crate::ReviewCase>> {
        let sql = format!(
            "SELECT {} FROM reviews WHERE customer_id = $1 ORDER BY created_at, id",
            rows::REVIEW_COLS
        );
        self.query(&sql, &[&customer.as_str()], rows::review).await
    }

    async fn get_review(&self, id: &str) -> Result<Option<crate::ReviewCase>> {
        let sql = format!("SELECT {} FROM reviews WHERE id = $1", rows::REVIEW_COLS);
        Ok(self.query(&sql, &[&id], rows::review).await?.pop())
    }

    async fn resolve_review(
        &self,
        id: &str,
        o: &crate::ReviewOutcome,
        audit: AuditRecord,
    ) -> Result<Option<Result<AuditEntry, crate::ReviewStatus>>> {
        let decision_status = rows::resolved_decision_status(o.status)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT status, decision_id FROM reviews WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .await?
        else {
            return Ok(None);
        };
        let status: String = row.try_get(0)?;
        let decision_id: String = row.try_get(1)?;
        let status = crate::ReviewStatus::parse(&status)
            .ok_or_else(|| StoreError::corrupt("reviews", "status", &status))?;
        if status != crate::ReviewStatus::Pending {
            return Ok(Some(Err(status)));
        }
        let payload = o.modified_payload.as_ref().map(|p| p.to_string());
        tx.execute(
            nba::RESOLVE_REVIEW,
            &[
                &id,
                &o.status.as_str(),
                &o.reviewer,
                &o.note,
                &o.at,
                &payload,
            ],
        )
        .await?;
        tx.execute(
            nba::RESOLVE_DECISION,
            &[&decision_id, &decision_status, &payload],
        )
        .await?;
        let entry = append_audit_on(&tx, audit).await?;
        tx.commit().await?;
        Ok(Some(Ok(entry)))
    }

    async fn approved_undelivered(&self, customer: &CustomerId) -> Result<Vec<Decision>> {
        let sql = format!(
            "SELECT {} FROM decisions WHERE customer_id = $1 AND status = 'approved' ORDER BY at, id",
            rows::DECISION_COLS
        );
        self.query(&sql, &[&customer.as_str()], rows::decision)
            .await
    }

    async fn set_decision_status(&self, id: &DecisionId, status: &str) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(nba::SET_DECISION_STATUS, &[&id.as_str(), &status])
            .await?;
        Ok(n == 1)
    }

    async fn bandit_arms(&self, policy: &str) -> Result<Vec<crate::ArmRow>> {
        self.query(nba::ARMS, &[&policy], rows::arm).await
    }

    async fn bandit_put(
        &self,
        policy: &str,
        arm: &str,
        state: &str,
        expected: i64,
    ) -> Result<bool> {
        let client = self.client().await?;
        bandit_put_on(&**client, policy, arm, state, expected).await
    }

    async fn record_feedback(
        &self,
        e: &CustomerEvent,
        policy: &str,
        arm: &str,
        state: &str,
        expected: i64,
    ) -> Result<crate::FeedbackWrite> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        match insert_event_on(&tx, e).await? {
            crate::EventInsert::Inserted => {}
            crate::EventInsert::Duplicate => return Ok(crate::FeedbackWrite::Duplicate),
            crate::EventInsert::UnknownCustomer => {
                return Err(StoreError::UnknownCustomer(e.customer_id.clone()));
            }
        }
        if !bandit_put_on(&*tx, policy, arm, state, expected).await? {
            return Ok(crate::FeedbackWrite::Conflict);
        }
        tx.commit().await?;
        Ok(crate::FeedbackWrite::Written)
    }

    async fn put_recommender_model(&self, name: &str, body: &str) -> Result<()> {
        self.client()
            .await?
            .execute(nba::PUT_MODEL, &[&name, &now_micros(), &body])
            .await?;
        Ok(())
    }

    async fn get_recommender_model(&self, name: &str) -> Result<Option<String>> {
        let row = self
            .client()
            .await?
            .query_opt(nba::GET_MODEL, &[&name])
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn product_sets(
        &self,
        after: Option<&CustomerId>,
        limit: u32,
    ) -> Result<Vec<(CustomerId, Vec<ProductId>)>> {
        let after = after.map(|a| a.as_str());
        let pairs = self
            .query(
                nba::PRODUCT_SETS,
                &[&after, &(limit as i64)],
                rows::customer_product,
            )
            .await?;
        Ok(rows::group_products(pairs))
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let e = append_audit_on(&tx, record).await?;
        tx.commit().await?;
        Ok(e)
    }

    async fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        let sql = format!(
            "SELECT {} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
            rows::AUDIT_COLS
        );
        self.query(&sql, &[&after, &(limit as i64)], rows::audit)
            .await
    }
}

/// Append to the audit chain inside an open transaction: takes the audit advisory lock (held
/// until the caller commits or rolls back), so appends are serialised across connections.
async fn append_audit_on(
    tx: &tokio_postgres::Transaction<'_>,
    record: AuditRecord,
) -> Result<AuditEntry> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
        .await?;
    let last = tx
        .query_opt(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await?;
    let (seq, prev) = match last {
        Some(r) => (r.get::<_, i64>(0) + 1, r.get::<_, String>(1)),
        None => (1, audit::GENESIS.to_string()),
    };
    let at = chrono::DateTime::from_timestamp_micros(now_micros()).expect("now is in range");
    let e = audit::seal(seq, at, prev, record);
    tx.execute(
        "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &e.seq,
            &e.at.timestamp_micros(),
            &e.actor,
            &e.action,
            &e.subject,
            &e.details.to_string(),
            &e.prev_hash,
            &e.hash,
        ],
    )
    .await?;
    Ok(e)
}

/// Insert one event inside an open transaction (an unknown customer aborts it: roll back).
async fn insert_event_on(
    tx: &tokio_postgres::Transaction<'_>,
    e: &CustomerEvent,
) -> Result<crate::EventInsert> {
    let res = tx
        .execute(
            nba::INSERT_EVENT,
            &[
                &e.id.as_str(),
                &e.customer_id.as_str(),
                &e.timestamp.timestamp_micros(),
                &e.kind.as_str(),
                &e.product_id.as_ref().map(|p| p.as_str()),
                &e.decision_id.as_ref().map(|d| d.as_str()),
                &e.value.map(i64::from),
            ],
        )
        .await;
    match res {
        Ok(0) => Ok(crate::EventInsert::Duplicate),
        Ok(_) => Ok(crate::EventInsert::Inserted),
        Err(err) if err.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => {
            Ok(crate::EventInsert::UnknownCustomer)
        }
        Err(err) => Err(err.into()),
    }
}

async fn bandit_put_on(
    c: &impl GenericClient,
    policy: &str,
    arm: &str,
    state: &str,
    expected: i64,
) -> Result<bool> {
    let n = if expected == 0 {
        c.execute(nba::ARM_INSERT, &[&policy, &arm, &state, &now_micros()])
            .await?
    } else {
        c.execute(
            nba::ARM_UPDATE,
            &[&policy, &arm, &state, &now_micros(), &expected],
        )
        .await?
    };
    Ok(n == 1)
}

/// How one record kind is staged and merged.
struct Spec {
    table: &'static str,
    /// Columns of the real table written by an import (without `import_id`).
    columns: &'static str,
    /// `CREATE TEMP TABLE stage (...)` column definitions: `columns` plus any extras.
    stage_columns: &'static str,
    /// Columns of `stage` copied in, in order (`columns` + extras + `line`).
    copy_columns: &'static str,
    /// Id column name for duplicate messages, as the file names it.
    id_name: &'static str,
    /// Insert order: the main secondary index's order, so index pages fill sequentially.
    order: &'static str,
    /// A set-based reference check: `DELETE ... RETURNING line, reason` over `stage`.
    reference_check: Option<&'static str>,
}

fn spec(kind: RecordKind) -> Spec {
    match kind {
        RecordKind::Customers => Spec {
            table: "customers",
            columns: "id, name, age, income_minor, currency, spending_habit, risk_profile, transactions, \
                      sentiment_score, engagement_level, email, phone, occupation, joined_on, updated_at",
            stage_columns: "id TEXT, name TEXT, age BIGINT, income_minor BIGINT, currency TEXT, spending_habit TEXT, \
                      risk_profile TEXT, transactions BIGINT, sentiment_score DOUBLE PRECISION, engagement_level TEXT, \
                      email TEXT, phone TEXT, occupation TEXT, joined_on TEXT, updated_at BIGINT, \
                      gender TEXT, age_band TEXT, region TEXT, ethnicity TEXT",
            copy_columns: "id, name, age, income_minor, currency, spending_habit, risk_profile, transactions, \
                      sentiment_score, engagement_level, email, phone, occupation, joined_on, updated_at, \
                      gender, age_band, region, ethnicity, line",
            id_name: "Customer_ID",
            order: "id",
            reference_check: None,
        },
        RecordKind::Accounts => Spec {
            table: "accounts",
            columns: "id, customer_id, kind, product_id, currency, opened_on, closed_on, status, limit_minor, balance_minor",
            stage_columns: "id TEXT, customer_id TEXT, kind TEXT, product_id TEXT, currency TEXT, opened_on TEXT, \
                      closed_on TEXT, status TEXT, limit_minor BIGINT, balance_minor BIGINT",
            copy_columns: "id, customer_id, kind, product_id, currency, opened_on, closed_on, status, limit_minor, \
                      balance_minor, line",
            id_name: "account_id",
            order: "customer_id, id",
            reference_check: Some(
                "DELETE FROM stage s WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = s.customer_id) \
                 RETURNING line, 'customer_id', 'customer ''' || customer_id || ''' does not exist'",
            ),
        },
        RecordKind::Transactions => Spec {
            table: "transactions",
            columns: "id, customer_id, account_id, ts, amount_minor, currency, merchant, category, mcc, channel, \
                      country, balance_after_minor, status",
            stage_columns: "id TEXT, customer_id TEXT, account_id TEXT, ts BIGINT, amount_minor BIGINT, currency TEXT, \
                      merchant TEXT, category TEXT, mcc BIGINT, channel TEXT, country TEXT, \
                      balance_after_minor BIGINT, status TEXT",
            copy_columns: "id, customer_id, account_id, ts, amount_minor, currency, merchant, category, mcc, channel, \
                      country, balance_after_minor, status, line",
            id_name: "transaction_id",
            order: "customer_id, ts, id",
            reference_check: Some(
                "DELETE FROM stage s WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = s.account_id \
                 AND a.customer_id = s.customer_id) RETURNING line, 'account_id', \
                 'account ''' || account_id || ''' does not exist for customer ''' || customer_id || ''''",
            ),
        },
        RecordKind::Products => Spec {
            table: "products",
            columns: "id, name, family, risk_level, currency, min_income_minor, rate_bps, annual_fee_minor, description, active",
            stage_columns: "id TEXT, name TEXT, family TEXT, risk_level TEXT, currency TEXT, min_income_minor BIGINT, \
                      rate_bps BIGINT, annual_fee_minor BIGINT, description TEXT, active BIGINT",
            copy_columns: "id, name, family, risk_level, currency, min_income_minor, rate_bps, annual_fee_minor, \
                      description, active, line",
            id_name: "product_id",
            order: "id",
            reference_check: None,
        },
        RecordKind::Messages => Spec {
            table: "messages",
            columns: "id, customer_id, ts, channel, body, sentiment",
            stage_columns: "id TEXT, customer_id TEXT, ts BIGINT, channel TEXT, body TEXT, sentiment DOUBLE PRECISION",
            copy_columns: "id, customer_id, ts, channel, body, sentiment, line",
            id_name: "message_id",
            order: "customer_id, ts",
            reference_check: Some(
                "DELETE FROM stage s WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = s.customer_id) \
                 RETURNING line, 'customer_id', 'customer ''' || customer_id || ''' does not exist'",
            ),
        },
        RecordKind::Events => Spec {
            table: "events",
            columns: "id, customer_id, ts, kind, product_id, decision_id, value",
            stage_columns: "id TEXT, customer_id TEXT, ts BIGINT, kind TEXT, product_id TEXT, decision_id TEXT, value BIGINT",
            copy_columns: "id, customer_id, ts, kind, product_id, decision_id, value, line",
            id_name: "event_id",
            order: "customer_id, ts",
            reference_check: Some(
                "DELETE FROM stage s WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = s.customer_id) \
                 RETURNING line, 'customer_id', 'customer ''' || customer_id || ''' does not exist'",
            ),
        },
        RecordKind::Consents => Spec {
            table: "consents",
            columns: "id, customer_id, purpose, granted, at, source",
            stage_columns: "id TEXT, customer_id TEXT, purpose TEXT, granted BIGINT, at BIGINT, source TEXT",
            copy_columns: "id, customer_id, purpose, granted, at, source, line",
            id_name: "consent_id",
            order: "customer_id, at",
            reference_check: Some(
                "DELETE FROM stage s WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = s.customer_id) \
                 RETURNING line, 'customer_id', 'customer ''' || customer_id || ''' does not exist'",
            ),
        },
    }
}

/// Rows in PostgreSQL's binary COPY format (`COPY ... (FORMAT binary)`): a signature header,
/// then per row a field count and each field as a length-prefixed value in the column type's
/// binary form (`text` as UTF-8 bytes, `bigint` as 8 bytes big-endian, `double precision` as an
/// IEEE 754 double; length -1 for NULL), then a -1 trailer. The server stores the values as
/// sent instead of parsing text (measured: the staging `COPY` is the import's first cost).
/// The encoders' types must match the staging table's (`Spec::stage_columns`).
struct CopyRows {
    buf: BytesMut,
    /// Where the current row's field count goes, and the fields written so far.
    row: Option<(usize, i16)>,
}

impl CopyRows {
    fn new(capacity: usize) -> Self {
        let mut buf = BytesMut::with_capacity(capacity + 21);
        buf.put_slice(b"PGCOPY\n\xff\r\n\0");
        buf.put_i32(0); // flags: no OIDs
        buf.put_i32(0); // header extension length
        Self { buf, row: None }
    }
    fn field(&mut self) {
        match &mut self.row {
            Some((_, n)) => *n += 1,
            None => {
                self.row = Some((self.buf.len(), 1));
                self.buf.put_i16(0); // patched by `end`
            }
        }
    }
    fn text(&mut self, v: Option<&str>) -> &mut Self {
        self.field();
        match v {
            None => self.buf.put_i32(-1),
            Some(s) => {
                self.buf.put_i32(s.len() as i32);
                self.buf.put_slice(s.as_bytes());
            }
        }
        self
    }
    fn int(&mut self, v: Option<i64>) -> &mut Self {
        self.field();
        match v {
            None => self.buf.put_i32(-1),
            Some(n) => {
                self.buf.put_i32(8);
                self.buf.put_i64(n);
            }
        }
        self
    }
    fn real(&mut self, v: Option<f64>) -> &mut Self {
        self.field();
        match v {
            None => self.buf.put_i32(-1),
            Some(x) => {
                self.buf.put_i32(8);
                self.buf.put_f64(x);
            }
        }
        self
    }
    /// The last field of a staged row: the line number.
    fn end(&mut self, line: u64) {
        self.int(Some(line as i64));
        self.close();
    }
    /// Close the current row: patch its field count.
    fn close(&mut self) {
        if let Some((at, n)) = self.row.take() {
            self.buf[at..at + 2].copy_from_slice(&n.to_be_bytes());
        }
    }
    fn finish(mut self) -> BytesMut {
        self.buf.put_i16(-1);
        self.buf
    }
}

fn encode(batch: &Batch) -> BytesMut {
    let mut w = CopyRows::new(batch.len() * 160);
    let now = now_micros();
    match batch {
        Batch::Customers(rows) => {
            for (line, c, p) in rows {
                let joined = c.joined_on.map(|d| d.to_string());
                w.text(Some(c.id.as_str()))
                    .text(Some(&c.name))
                    .int(Some(c.age as i64))
                    .int(Some(c.income.minor))
                    .text(Some(c.income.currency.as_str()))
                    .text(Some(c.spending_habit.as_str()))
                    .text(Some(c.risk_profile.as_str()))
                    .int(Some(c.transactions as i64))
                    .real(Some(c.sentiment_score.value()))
                    .text(Some(c.engagement_level.as_str()))
                    .text(c.email.as_deref())
                    .text(c.phone.as_deref())
                    .text(c.occupation.as_deref())
                    .text(joined.as_deref())
                    .int(Some(now))
                    .text(p.gender.as_deref())
                    .text(p.age_band.as_deref())
                    .text(p.region.as_deref())
                    .text(p.ethnicity.as_deref())
                    .end(*line);
            }
        }
        Batch::Accounts(rows) => {
            for (line, a) in rows {
                let (opened, closed) =
                    (a.opened_on.to_string(), a.closed_on.map(|d| d.to_string()));
                w.text(Some(a.id.as_str()))
                    .text(Some(a.customer_id.as_str()))
                    .text(Some(a.kind.as_str()))
                    .text(a.product_id.as_ref().map(|p| p.as_str()))
                    .text(Some(a.currency.as_str()))
                    .text(Some(&opened))
                    .text(closed.as_deref())
                    .text(Some(a.status.as_str()))
                    .int(a.limit.map(|m| m.minor))
                    .int(Some(a.balance.minor))
                    .end(*line);
            }
        }
        Batch::Transactions(rows) => {
            for (line, t) in rows {
                transaction_fields(&mut w, t).end(*line);
            }
        }
        Batch::Products(rows) => {
            for (line, p) in rows {
                let currency = p
                    .min_income
                    .or(p.annual_fee)
                    .map(|m| m.currency)
                    .unwrap_or(sextant_core::Currency::EUR);
                w.text(Some(p.id.as_str()))
                    .text(Some(&p.name))
                    .text(Some(p.family.as_str()))
                    .text(Some(p.risk_level.as_str()))
                    .text(Some(currency.as_str()))
                    .int(p.min_income.map(|m| m.minor))
                    .int(p.rate_bps.map(i64::from))
                    .int(p.annual_fee.map(|m| m.minor))
                    .text(Some(&p.description))
                    .int(Some(p.active as i64))
                    .end(*line);
            }
        }
        Batch::Messages(rows) => {
            for (line, m) in rows {
                w.text(Some(m.id.as_str()))
                    .text(Some(m.customer_id.as_str()))
                    .int(Some(m.timestamp.timestamp_micros()))
                    .text(Some(&m.channel))
                    .text(Some(&m.body))
                    .real(m.sentiment)
                    .end(*line);
            }
        }
        Batch::Events(rows) => {
            for (line, e) in rows {
                w.text(Some(e.id.as_str()))
                    .text(Some(e.customer_id.as_str()))
                    .int(Some(e.timestamp.timestamp_micros()))
                    .text(Some(e.kind.as_str()))
                    .text(e.product_id.as_ref().map(|p| p.as_str()))
                    .text(e.decision_id.as_ref().map(|d| d.as_str()))
                    .int(e.value.map(i64::from))
                    .end(*line);
            }
        }
        Batch::Consents(rows) => {
            for (line, c) in rows {
                w.text(Some(&c.id))
                    .text(Some(c.record.customer_id.as_str()))
                    .text(Some(c.record.purpose.as_str()))
                    .int(Some(c.record.granted as i64))
                    .int(Some(c.record.at.timestamp_micros()))
                    .text(Some(&c.record.source))
                    .end(*line);
            }
        }
    }
    w.finish()
}

/// A transaction's columns in `Spec::columns` order (the staging table's and the real table's).
fn transaction_fields<'w>(w: &'w mut CopyRows, t: &Transaction) -> &'w mut CopyRows {
    w.text(Some(t.id.as_str()))
        .text(Some(t.customer_id.as_str()))
        .text(Some(t.account_id.as_str()))
        .int(Some(t.timestamp.timestamp_micros()))
        .int(Some(t.amount.minor))
        .text(Some(t.amount.currency.as_str()))
        .text(t.merchant.as_deref())
        .text(Some(t.category.as_str()))
        .int(t.mcc.map(|m| m.value() as i64))
        .text(Some(t.channel.as_str()))
        .text(Some(t.country.as_str()))
        .int(t.balance_after.map(|m| m.minor))
        .text(Some(t.status.as_str()))
}

/// `COPY ... FROM STDIN` of one encoded buffer.
async fn copy_in(client: &Object, sql: &str, data: bytes::Bytes) -> Result<()> {
    let sink = client.copy_in(sql).await?;
    futures_util::pin_mut!(sink);
    sink.send(data).await?;
    sink.finish().await?;
    Ok(())
}

/// A transactions import into a table that was empty when the import locked it (see
/// `direct_load`): rows are checked against every account's owner in memory and `COPY`ed
/// straight into `transactions`, skipping the staging table and the merge. Everything the
/// staging path guarantees still holds: the table and accounts are locked until COMMIT, so the
/// table holds only this import's rows and the owners cannot go stale; a reference error is
/// reported at `finish` with the same row, column and wording as the anti-join's; and a
/// duplicate id makes that batch's `COPY` fail on the primary key, after which the batch (rolled
/// back to its savepoint) and the rest of the file go through the staging table, where the
/// later occurrences are rejected exactly as before.
struct Direct {
    owners: AccountOwners,
    /// Reference errors found while writing, handed out by `finish` (as the staging path's
    /// anti-join does, so all-or-nothing imports still name every bad reference).
    rejects: Vec<RowReject>,
    /// Rows `COPY`ed into the table.
    loaded: u64,
    /// A `COPY` met a duplicate id: the rest of the import is staged.
    staging: bool,
    /// Secondary indexes dropped for the bulk load, rebuilt by `finish`.
    rebuild: Option<Vec<String>>,
}

/// Whether this transactions import may load straight into the table: the table is empty once
/// locked against other writers (`SHARE ROW EXCLUSIVE`, as `finish` takes it anyway; readers
/// are not blocked) and accounts are few enough to hold in memory. Locks `accounts` in `SHARE`
/// mode (as the staging path's reference check does) before reading their owners, so they stay
/// true until COMMIT. A table with rows keeps the staging path untouched: it is checked before
/// any lock is taken.
async fn direct_load(client: &Object) -> Result<Option<Direct>> {
    let has_rows = "SELECT EXISTS (SELECT 1 FROM transactions)";
    if client.query_one(has_rows, &[]).await?.get::<_, bool>(0) {
        return Ok(None);
    }
    client
        .batch_execute("LOCK TABLE transactions IN SHARE ROW EXCLUSIVE MODE")
        .await?;
    if client.query_one(has_rows, &[]).await?.get::<_, bool>(0) {
        return Ok(None);
    }
    client
        .batch_execute("LOCK TABLE accounts IN SHARE MODE")
        .await?;
    let accounts: i64 = client
        .query_one("SELECT count(*) FROM accounts", &[])
        .await?
        .get(0);
    if accounts as u64 > MAX_OWNERS_IN_MEMORY {
        return Ok(None);
    }
    let mut owners = AccountOwners::default();
    for r in client
        .query("SELECT id, customer_id FROM accounts", &[])
        .await?
    {
        owners.insert(r.get(0), r.get(1));
    }
    Ok(Some(Direct {
        owners,
        rejects: Vec::new(),
        loaded: 0,
        staging: false,
        rebuild: None,
    }))
}

/// An open PostgreSQL import: one pooled connection inside `BEGIN`, rows staged by `COPY`
/// (or, for transactions into an empty table, `COPY`ed straight in: `direct`).
struct PgImport {
    client: Option<Object>,
    kind: RecordKind,
    record: ImportRecord,
    /// Rows sent to the staging table so far.
    staged: u64,
    direct: Option<Direct>,
}

/// A bulk load drops the table's secondary indexes and rebuilds them after the merge only when
/// the table holds at most this many rows...
const BULK_EXISTING_MAX: i64 = 1_000;
/// ...and the import stages at least this many.
const BULK_MIN_ROWS: u64 = 10_000;

/// Drop `table`'s non-unique secondary indexes for a bulk load into an (almost) empty table,
/// returning their definitions to rebuild after the merge. Index builds from sorted input are
/// far cheaper than a million B-tree insertions. DROP INDEX takes an ACCESS EXCLUSIVE lock on
/// the table until COMMIT, blocking readers (a running server) for the rest of the import: that
/// is only acceptable because the table is empty or nearly so (`BULK_EXISTING_MAX`), so there
/// is next to nothing to read yet. Unique indexes and constraint indexes stay (they enforce
/// what the merge relies on). DDL is transactional: a rolled-back import keeps its indexes.
async fn drop_secondary_indexes(client: &Object, table: &str) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i \
             WHERE i.indrelid = $1::text::regclass AND NOT i.indisunique AND NOT i.indisprimary \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) \
             ORDER BY 1",
            &[&table],
        )
        .await?;
    let mut defs = Vec::with_capacity(rows.len());
    for r in rows {
        let (name, def): (String, String) = (r.get(0), r.get(1));
        client.batch_execute(&format!("DROP INDEX {name}")).await?;
        defs.push(def);
    }
    Ok(defs)
}

impl PgImport {
    fn client(&self) -> Result<&Object> {
        self.client
            .as_ref()
            .ok_or_else(|| StoreError::Task("import already finished".into()))
    }

    /// `write` for a direct load (see `Direct`).
    async fn write_direct(&mut self, batch: Batch, stage_sql: &str) -> Result<Vec<RowReject>> {
        let Batch::Transactions(rows) = &batch else {
            return Err(StoreError::Task(
                "direct load of a non-transactions batch".into(),
            ));
        };
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| StoreError::Task("import already finished".into()))?;
        let d = self.direct.as_mut().expect("direct load");
        let known: Vec<&(u64, Transaction)> = rows
            .iter()
            .filter(|(line, t)| {
                let ok = d.owners.knows(t);
                if !ok {
                    let (column, reason) = AccountOwners::reject(t);
                    d.rejects.push(RowReject {
                        line: *line,
                        column: Some(column),
                        reason,
                    });
                }
                ok
            })
            .collect();
        if !d.staging {
            // Past the bulk-load threshold: drop the secondary indexes (the table was empty,
            // and `finish` rebuilds them from sorted keys once).
            if d.rebuild.is_none() && d.loaded + known.len() as u64 >= BULK_MIN_ROWS {
                d.rebuild = Some(drop_secondary_indexes(client, "transactions").await?);
            }
            let import_id = self.record.id.as_str();
            let mut w = CopyRows::new(known.len() * 160);
            for (_, t) in &known {
                transaction_fields(&mut w, t).text(Some(import_id)).close();
            }
            let sql = format!(
                "COPY transactions ({}, import_id) FROM STDIN (FORMAT binary)",
                spec(RecordKind::Transactions).columns
            );
            client.batch_execute("SAVEPOINT direct").await?;
            match copy_in(client, &sql, w.finish().freeze()).await {
                Ok(()) => {
                    client.batch_execute("RELEASE SAVEPOINT direct").await?;
                    d.loaded += known.len() as u64;
                    return Ok(Vec::new());
                }
                Err(StoreError::Postgres(e))
                    if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) =>
                {
                    // A duplicate id within the file: this batch is undone, and it and the
                    // rest go to staging, whose duplicate check names the later occurrences.
                    client
                        .batch_execute("ROLLBACK TO SAVEPOINT direct; RELEASE SAVEPOINT direct")
                        .await?;
                    tracing::debug!(loaded = d.loaded, "import: duplicate id, staging the rest");
                    d.staging = true;
                }
                Err(e) => return Err(e),
            }
        }
        let mut w = CopyRows::new(known.len() * 160);
        for (line, t) in &known {
            transaction_fields(&mut w, t).end(*line);
        }
        self.staged += known.len() as u64;
        copy_in(client, stage_sql, w.finish().freeze()).await?;
        Ok(Vec::new())
    }

    /// `finish` for a direct load: the staged remainder, if any, minus its duplicates (of each
    /// other or of rows already loaded, all of which come earlier in the file), is inserted;
    /// then the secondary indexes are rebuilt.
    async fn finish_direct(&mut self) -> Result<Vec<RowReject>> {
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| StoreError::Task("import already finished".into()))?;
        let d = self.direct.as_mut().expect("direct load");
        let spec = spec(RecordKind::Transactions);
        let mut rejects = std::mem::take(&mut d.rejects);
        client
            .batch_execute("SET LOCAL work_mem = '256MB'; SET LOCAL maintenance_work_mem = '512MB'")
            .await?;
        let mut written = d.loaded;
        if d.staging {
            client.batch_execute("ANALYZE stage").await?;
            let dup_sql = format!(
                "DELETE FROM stage s USING (SELECT line FROM (SELECT line, id, row_number() OVER (PARTITION BY id ORDER BY line) AS n \
                 FROM stage) d WHERE d.n > 1 OR EXISTS (SELECT 1 FROM transactions t WHERE t.id = d.id)) d WHERE s.line = d.line \
                 RETURNING s.line, '', 'duplicate {} ''' || s.id || ''': it appears earlier in this import'",
                spec.id_name
            );
            rejects.extend(rejects_from(client.query(&dup_sql, &[]).await?));
            let sql = format!(
                "INSERT INTO transactions ({cols}, import_id) SELECT {cols}, $1 FROM stage ORDER BY {order}",
                cols = spec.columns,
                order = spec.order
            );
            written += client.execute(&sql, &[&self.record.id]).await?;
        }
        rebuild_indexes(client, &d.rebuild.take().unwrap_or_default()).await?;
        self.record.rows_written = written;
        self.record.rows_new = written;
        rejects.sort_by_key(|r| r.line);
        Ok(rejects)
    }
}

impl Drop for PgImport {
    fn drop(&mut self) {
        // Abandoned inside a transaction: detach the connection from the pool and close it, so
        // the server rolls the transaction back and no half-import is ever visible or reused.
        if let Some(obj) = self.client.take() {
            drop(Object::take(obj));
        }
    }
}

fn rejects_from(rows: Vec<tokio_postgres::Row>) -> Vec<RowReject> {
    let mut out: Vec<RowReject> = rows
        .iter()
        .map(|r| {
            let column: String = r.get(1);
            RowReject {
                line: r.get::<_, i64>(0) as u64,
                column: match column.as_str() {
                    "customer_id" => Some("customer_id"),
                    "account_id" => Some("account_id"),
                    _ => None,
                },
                reason: r.get(2),
            }
        })
        .collect();
    out.sort_by_key(|r| r.line);
    out
}

/// Move the staged rows into the table: a plain INSERT when no id exists yet (a first import;
/// much cheaper than speculative insertion), else an upsert. Returns (written, new).
async fn merge(client: &Object, spec: &Spec, import_id: &str) -> Result<(u64, u64)> {
    let t = std::time::Instant::now();
    let conflicts = client
        .query_opt(
            &format!(
                "SELECT 1 FROM stage s WHERE EXISTS (SELECT 1 FROM {} t WHERE t.id = s.id) LIMIT 1",
                spec.table
            ),
            &[],
        )
        .await?
        .is_some();
    let counts = if conflicts {
        let updates: Vec<String> = spec
            .columns
            .split(',')
            .map(str::trim)
            .filter(|c| *c != "id")
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let sql = format!(
            "WITH m AS (INSERT INTO {t} ({cols}, import_id) SELECT {cols}, $1 FROM stage ORDER BY {order} \
             ON CONFLICT (id) DO UPDATE SET {upd}, import_id = excluded.import_id RETURNING (xmax = 0) AS inserted) \
             SELECT count(*), count(*) FILTER (WHERE inserted) FROM m",
            t = spec.table,
            cols = spec.columns,
            order = spec.order,
            upd = updates.join(", ")
        );
        let row = client.query_one(&sql, &[&import_id]).await?;
        (row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64)
    } else {
        let sql = format!(
            "INSERT INTO {t} ({cols}, import_id) SELECT {cols}, $1 FROM stage ORDER BY {order}",
            t = spec.table,
            cols = spec.columns,
            order = spec.order
        );
        let n = client.execute(&sql, &[&import_id]).await?;
        (n, n)
    };
    tracing::debug!(
        ms = t.elapsed().as_millis() as u64,
        conflicts,
        "import: merge"
    );
    Ok(counts)
}

#[async_trait]
impl ImportSink for PgImport {
    async fn write(&mut self, batch: Batch) -> Result<Vec<RowReject>> {
        let spec = spec(self.kind);
        let stage_sql = format!(
            "COPY stage ({}) FROM STDIN (FORMAT binary)",
            spec.copy_columns
        );
        if self.direct.is_some() {
            return self.write_direct(batch, &stage_sql).await;
        }
        let data = encode(&batch).freeze();
        self.staged += batch.len() as u64;
        copy_in(self.client()?, &stage_sql, data).await?;
        Ok(Vec::new())
    }

    async fn finish(&mut self) -> Result<Vec<RowReject>> {
        if self.direct.is_some() {
            return self.finish_direct().await;
        }
        let spec = spec(self.kind);
        let kind = self.kind;
        let client = self.client()?;
        let t = std::time::Instant::now();
        // Sorts and hashes over the staged rows (reference check, merge, duplicate check) in
        // memory rather than in temporary files; index builds likewise. For this transaction only.
        client
            .batch_execute("SET LOCAL work_mem = '256MB'; SET LOCAL maintenance_work_mem = '512MB'")
            .await?;
        client.batch_execute("ANALYZE stage").await?;
        // One importer per table at a time (readers are not blocked), so what is checked here
        // stays true until commit.
        client
            .batch_execute(&format!(
                "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
                spec.table
            ))
            .await?;
        let mut rejects = Vec::new();
        if let Some(check) = spec.reference_check {
            if kind == RecordKind::Transactions {
                // Accounts cannot change between this check and the commit (there is no FK).
                client
                    .batch_execute("LOCK TABLE accounts IN SHARE MODE")
                    .await?;
            }
            rejects.extend(rejects_from(client.query(check, &[]).await?));
        }
        tracing::debug!(
            ms = t.elapsed().as_millis() as u64,
            "import: reference check"
        );
        let mut rebuild = Vec::new();
        if self.staged >= BULK_MIN_ROWS {
            let existing: i64 = client
                .query_one(
                    &format!(
                        "SELECT count(*) FROM (SELECT 1 FROM {} LIMIT {}) t",
                        spec.table,
                        BULK_EXISTING_MAX + 1
                    ),
                    &[],
                )
                .await?
                .get(0);
            if existing <= BULK_EXISTING_MAX {
                rebuild = drop_secondary_indexes(client, spec.table).await?;
            }
        }
        // Merge optimistically: duplicates within the import make the merge fail (a unique or
        // cardinality violation); only then is the savepoint rolled back, the later occurrences
        // rejected, and the merge run again. Clean files pay for one statement.
        client.batch_execute("SAVEPOINT merge").await?;
        let (written, new) = match merge(client, &spec, &self.record.id).await {
            Ok(counts) => counts,
            Err(StoreError::Postgres(e))
                if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
                    || e.code()
                        == Some(&tokio_postgres::error::SqlState::CARDINALITY_VIOLATION) =>
            {
                client.batch_execute("ROLLBACK TO SAVEPOINT merge").await?;
                let dup_sql = format!(
                    "DELETE FROM stage s USING (SELECT line FROM (SELECT line, row_number() OVER (PARTITION BY id ORDER BY line) AS n \
                     FROM stage) d WHERE d.n > 1) d WHERE s.line = d.line \
                     RETURNING s.line, '', 'duplicate {} ''' || s.id || ''': it appears earlier in this import'",
                    spec.id_name
                );
                rejects.extend(rejects_from(client.query(&dup_sql, &[]).await?));
                merge(client, &spec, &self.record.id).await?
            }
            Err(e) => return Err(e),
        };
        rebuild_indexes(client, &rebuild).await?;
        self.record.rows_written = written;
        self.record.rows_new = new;
        rejects.sort_by_key(|r| r.line);
        Ok(rejects)
    }

    async fn commit(mut self: Box<Self>, rejected: u64) -> Result<ImportRecord> {
        let mut rec = self.record.clone();
        let client = self.client()?;
        if self.kind == RecordKind::Customers {
            client
                .execute(
                    "INSERT INTO customer_protected (customer_id, gender, age_band, region, ethnicity, import_id) \
                     SELECT id, gender, age_band, region, ethnicity, $1 FROM stage \
                     WHERE gender IS NOT NULL OR age_band IS NOT NULL OR region IS NOT NULL OR ethnicity IS NOT NULL \
                     ON CONFLICT (customer_id) DO UPDATE SET gender = excluded.gender, age_band = excluded.age_band, \
                     region = excluded.region, ethnicity = excluded.ethnicity, import_id = excluded.import_id",
                    &[&rec.id],
                )
                .await?;
            client
                .execute(
                    "DELETE FROM customer_protected p USING stage s WHERE p.customer_id = s.id AND s.gender IS NULL \
                     AND s.age_band IS NULL AND s.region IS NULL AND s.ethnicity IS NULL",
                    &[],
                )
                .await?;
        }
        rec.rows_rejected = rejected;
        rec.finished_at = Some(now_micros());
        rec.status = "committed".into();
        client
            .execute(
                "INSERT INTO imports (id, kind, source, started_at, finished_at, status, rows_written, rows_new, rows_rejected) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &rec.id,
                    &rec.kind,
                    &rec.source,
                    &rec.started_at,
                    &rec.finished_at,
                    &rec.status,
                    &(rec.rows_written as i64),
                    &(rec.rows_new as i64),
                    &(rec.rows_rejected as i64),
                ],
            )
            .await?;
        let t = std::time::Instant::now();
        client.batch_execute("COMMIT").await?;
        tracing::debug!(ms = t.elapsed().as_millis() as u64, "import: commit");
        // Committed: the connection is clean and may go back to the pool.
        drop(self.client.take());
        Ok(rec)
    }

    async fn rollback(mut self: Box<Self>) -> Result<()> {
        let client = self.client()?;
        client.batch_execute("ROLLBACK").await?;
        let rec = &self.record;
        client
            .execute(
                "INSERT INTO imports (id, kind, source, started_at, finished_at, status) \
                 VALUES ($1, $2, $3, $4, $5, 'rolled_back')",
                &[
                    &rec.id,
                    &rec.kind,
                    &rec.source,
                    &rec.started_at,
                    &now_micros(),
                ],
            )
            .await?;
        drop(self.client.take());
        Ok(())
    }
}

/// Recreate the secondary indexes an import dropped (their `CREATE INDEX` statements).
async fn rebuild_indexes(client: &Object, defs: &[String]) -> Result<()> {
    let t = std::time::Instant::now();
    for def in defs {
        client.batch_execute(def).await?;
    }
    if !defs.is_empty() {
        tracing::debug!(
            ms = t.elapsed().as_millis() as u64,
            "import: secondary indexes rebuilt"
        );
    }
    Ok(())
}
