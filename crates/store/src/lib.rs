//! Storage behind one trait, [`Store`], with two real backends: embedded SQLite (one file, WAL;
//! the default) and PostgreSQL (scale-out). Both run the same migrations' worth of schema and
//! pass the same integration suite (`tests/store.rs`).
//!
//! Architecture invariant: this crate knows SQL and nothing about HTTP or file formats. It takes
//! and returns `sextant_core` types, which are valid by construction; it re-parses only what it
//! reads back from the database (a failure there is [`StoreError::Corrupt`]).

pub mod assistant;
pub mod crypt;
pub mod dsr;
mod error;
mod migrate;
pub mod outcomes;
mod owners;
mod pg_assistant;
mod pg_outcomes;
mod pg_stream;
mod postgres;
pub mod reseal;
mod rows;
mod sqlite;
mod sqlite_assistant;
mod sqlite_outcomes;
mod sqlite_stream;
pub mod stream;
mod types;

pub use assistant::{AssistantStore, ConversationRow, GoalRow, KbDocumentRow, TurnRow};
pub use error::StoreError;
pub use outcomes::{
    ActivityRow, ExperimentRow, ExposureRow, KpiCustomer, OutcomeRow, OutcomeStore, RecentContact,
};
pub use postgres::PgStore;
pub use reseal::SealedColumn;
pub use sqlite::SqliteStore;
pub use stream::{
    AlertRow, AppendHook, Appended, DeadLetter, Delivery, FraudHold, LeaseSession, LogEvent,
    NewLogEvent, ProcessedBatch, SeqRange, StreamStore, StreamedBalance,
};
pub use types::*;

use async_trait::async_trait;
use sextant_core::{
    Account, AuditEntry, AuditRecord, ConsentPurpose, ConsentRecord, ConsentState, Customer,
    CustomerEvent, CustomerId, CustomerMessage, Decision, DecisionId, MessageId, Product,
    ProductId, ProtectedAttributes, Transaction, TransactionId,
};
use std::sync::Arc;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything Sextant persists. Implemented by [`SqliteStore`] and [`PgStore`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> Backend;
    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<()>;
    /// The real-time event stream's storage (event log, offsets, alerts, outbox, leases).
    fn stream(&self) -> &dyn StreamStore;
    /// The assistant's storage (knowledge base, conversations and turns, goals, message
    /// sentiment).
    fn assistant(&self) -> &dyn AssistantStore;
    /// Experiments, exposures, KPI activity and drift references.
    fn outcomes(&self) -> &dyn OutcomeStore;

    async fn get_customer(&self, id: &CustomerId) -> Result<Option<Customer>>;
    /// Customers ordered by id, strictly after `after`.
    async fn list_customers(&self, after: Option<&CustomerId>, limit: u32)
    -> Result<Vec<Customer>>;
    async fn count(&self, table: Table) -> Result<u64>;
    async fn list_accounts(&self, customer: &CustomerId) -> Result<Vec<Account>>;
    /// A customer's transactions, newest first, strictly before the cursor `(timestamp µs, id)`.
    async fn list_transactions(
        &self,
        customer: &CustomerId,
        before: Option<(i64, TransactionId)>,
        limit: u32,
    ) -> Result<Vec<Transaction>>;
    async fn list_products(&self) -> Result<Vec<Product>>;
    /// All of a customer's transactions, oldest first (pages through `list_transactions`).
    async fn all_transactions(&self, customer: &CustomerId) -> Result<Vec<Transaction>> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .list_transactions(customer, cursor.clone(), 1000)
                .await?;
            let done = page.len() < 1000;
            cursor = page
                .last()
                .map(|t| (t.timestamp.timestamp_micros(), t.id.clone()));
            out.extend(page);
            if done {
                break;
            }
        }
        out.reverse();
        Ok(out)
    }

    /// Start an all-or-nothing import of one kind of record; nothing is visible until `commit`.
    async fn begin_import(&self, kind: RecordKind, source: &str) -> Result<Box<dyn ImportSink>>;
    async fn list_imports(&self, limit: u32) -> Result<Vec<ImportRecord>>;

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<()>;
    async fn get_api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>>;
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>>;
    /// Returns false when no such live key exists.
    async fn revoke_api_key(&self, id: &str, at_micros: i64) -> Result<bool>;

    async fn idempotency_get(&self, scope: &str, key: &str) -> Result<Option<IdempotentResponse>>;
    /// Stores the response unless one is already stored for the key (first writer wins).
    async fn idempotency_put(
        &self,
        scope: &str,
        key: &str,
        resp: &IdempotentResponse,
    ) -> Result<()>;

    /// Record a consent change (history is never rewritten). False if the customer is unknown.
    async fn append_consent(&self, rec: &ConsentRecord) -> Result<bool>;
    async fn consent_history(&self, id: &CustomerId) -> Result<Vec<ConsentRecord>>;
    /// The do-not-sell flag; `None` if the customer is unknown.
    async fn do_not_sell(&self, id: &CustomerId) -> Result<Option<bool>>;
    /// False if the customer is unknown.
    async fn set_do_not_sell(&self, id: &CustomerId, value: bool) -> Result<bool>;
    /// Current consents, with the operator's declared `defaults`; `None` if the customer is unknown.
    async fn consent_state(
        &self,
        id: &CustomerId,
        defaults: &[ConsentPurpose],
    ) -> Result<Option<ConsentState>> {
        let Some(dns) = self.do_not_sell(id).await? else {
            return Ok(None);
        };
        Ok(Some(ConsentState::from_history(
            &self.consent_history(id).await?,
            dns,
            defaults,
        )))
    }
    /// What a recommendation reads about one customer, in one round trip where the backend can
    /// (SQLite: one blocking call on one connection): profile, consents (with the declared
    /// `defaults`), accounts, feedback events, the stored feature and segment rows, and
    /// reviewer-approved decisions not yet delivered and decisions still waiting for a reviewer.
    /// `None` if the customer is unknown.
    async fn customer_snapshot(
        &self,
        id: &CustomerId,
        defaults: &[ConsentPurpose],
    ) -> Result<Option<CustomerSnapshot>> {
        let Some(consents) = self.consent_state(id, defaults).await? else {
            return Ok(None);
        };
        let Some(customer) = self.get_customer(id).await? else {
            return Ok(None);
        };
        Ok(Some(CustomerSnapshot {
            customer,
            consents,
            accounts: self.list_accounts(id).await?,
            events: self.list_events(id).await?,
            features: self.get_features(id).await?,
            segment: self.get_segment(id).await?,
            approved: self.approved_undelivered(id).await?,
            pending_review: self
                .list_decisions(id)
                .await?
                .into_iter()
                .filter(|d| d.status == "pending_review")
                .collect(),
        }))
    }
    /// Rectify a profile in place. False if the customer is unknown.
    async fn update_customer(&self, c: &Customer) -> Result<bool>;
    async fn get_protected(&self, id: &CustomerId) -> Result<Option<ProtectedAttributes>>;
    async fn list_messages(&self, id: &CustomerId) -> Result<Vec<CustomerMessage>>;
    /// All messages in id order, strictly after `after` (for key rotation).
    async fn scan_messages(
        &self,
        after: Option<&MessageId>,
        limit: u32,
    ) -> Result<Vec<CustomerMessage>>;
    /// Replace a message's body (key rotation). False if unknown.
    async fn set_message_body(&self, id: &MessageId, body: &str) -> Result<bool>;
    /// Key rotation: a page of a sealed column's values after `after`, in key order, as
    /// `(text key, integer key, value)` (see [`reseal`]). Raw values: no decryption.
    async fn sealed_page(
        &self,
        column: SealedColumn,
        after: (&str, i64),
        limit: u32,
    ) -> Result<Vec<(String, i64, String)>>;
    /// Key rotation: replace one sealed value as stored (no encryption added). False if the row
    /// is gone.
    async fn reseal(&self, column: SealedColumn, key: (&str, i64), value: &str) -> Result<bool>;
    async fn list_events(&self, id: &CustomerId) -> Result<Vec<CustomerEvent>>;
    async fn list_decisions(&self, id: &CustomerId) -> Result<Vec<Decision>>;
    /// Record a decision shown or made (with the versions behind it). False if the customer is
    /// unknown.
    async fn insert_decision(&self, d: &Decision) -> Result<bool>;
    /// Delete every row held about the customer, in one transaction, including the event
    /// stream's (event log, applied-event records of those events, alerts and their webhook
    /// deliveries, dead letters) and the assistant's (conversations, turns, goals); rows deleted
    /// per table, or `None` if the customer is unknown (neither imported, nor seen on the
    /// stream, nor holding conversations or goals). SQLite also zeroes freed pages and truncates
    /// the WAL.
    ///
    /// `unlearn` are bandit arms rewritten without the customer's contribution (compare-and-swap
    /// on each arm's version, in the same transaction): if any arm changed since it was read,
    /// nothing is erased and the error is [`StoreError::Conflict`] (read again and retry).
    async fn erase_customer(
        &self,
        id: &CustomerId,
        unlearn: &[ArmWrite],
    ) -> Result<Option<Vec<(String, u64)>>>;

    /// Every offer shown (an `impression` event) with the customer's protected attributes and
    /// whether the customer accepted that product afterwards: input to fairness audits.
    async fn offer_outcomes(&self) -> Result<Vec<(ProtectedAttributes, bool)>>;

    /// Per-customer debit totals by category, for differentially private spend reports.
    async fn spend_rows(&self, group: SpendGroup) -> Result<Vec<SpendRowOwned>>;
    /// Atomically: if `analyst` has spent at most `budget - epsilon` (µε), record the charge and
    /// return `Ok(new total)`; otherwise record nothing and return `Err(spent so far)`.
    async fn privacy_charge(
        &self,
        analyst: &str,
        epsilon: u64,
        budget: u64,
        query: &str,
    ) -> Result<Result<u64, u64>>;

    /// One customer's debit totals by category (the same definition as `spend_rows`).
    async fn customer_spend(&self, id: &CustomerId) -> Result<Vec<(String, i64)>>;
    /// A stored differentially private release, by key.
    async fn dp_release_get(&self, key: &str) -> Result<Option<String>>;
    /// Store a release unless one exists for the key; returns the stored body (the first one wins).
    async fn dp_release_put(&self, key: &str, epsilon: u64, body: &str) -> Result<String>;

    /// Upsert feature vectors, all in one transaction.
    async fn put_features(&self, rows: &[FeatureRow]) -> Result<()>;
    async fn get_features(&self, id: &CustomerId) -> Result<Option<FeatureRow>>;
    /// Feature rows (any version) written after the cursor `(written_at µs, customer id)`, in
    /// write order, each with its `written_at`: what an in-memory copy of the table must apply.
    async fn features_written_since(
        &self,
        after: (i64, Option<&CustomerId>),
        limit: u32,
    ) -> Result<Vec<(i64, FeatureRow)>>;
    /// Feature rows of one version in customer-id order, strictly after `after`.
    async fn scan_features(
        &self,
        version: i64,
        after: Option<&CustomerId>,
        limit: u32,
    ) -> Result<Vec<FeatureRow>>;
    /// Remove a customer's profiling outputs (features, segment): profiling consent withdrawn.
    async fn delete_profiling(&self, id: &CustomerId) -> Result<()>;
    /// Store a new segment model (not promoted); returns its version.
    async fn save_segment_model(&self, m: &SegmentModelRecord) -> Result<i64>;
    /// A model by version, or the promoted one for `None`.
    async fn segment_model(&self, version: Option<i64>) -> Result<Option<SegmentModelRecord>>;
    async fn list_segment_models(&self) -> Result<Vec<SegmentModelRecord>>;
    /// Make `version` the one serving uses. False if there is no such model.
    async fn promote_segment_model(&self, version: i64) -> Result<bool>;
    async fn put_segments(&self, rows: &[SegmentRow]) -> Result<()>;
    async fn get_segment(&self, id: &CustomerId) -> Result<Option<SegmentRow>>;
    async fn segment_sizes(&self, model_version: i64) -> Result<Vec<(String, u64)>>;

    /// Register a trained model under `name`; returns its version (1, 2, …).
    async fn save_model(&self, name: &str, created_at: i64, card: &str, model: &str)
    -> Result<i64>;
    /// A model by version, or the promoted one for `None`.
    async fn get_model(&self, name: &str, version: Option<i64>) -> Result<Option<ModelRecord>>;
    /// The promoted version of `name`, without loading it (cheap; for caches).
    async fn promoted_model_version(&self, name: &str) -> Result<Option<i64>>;
    /// Every registered model (without the serialized model itself).
    async fn list_models(&self) -> Result<Vec<ModelRecord>>;
    /// Serve `version` of `name` from now on (also the way to roll back). False if unknown.
    async fn promote_model(&self, name: &str, version: i64) -> Result<bool>;

    /// Record one feedback event; idempotent by event id (a second insert with the same id is
    /// `Duplicate` and changes nothing).
    async fn insert_event(&self, e: &CustomerEvent) -> Result<EventInsert>;
    /// Events that refer to a decision, oldest first.
    async fn decision_events(&self, id: &DecisionId) -> Result<Vec<CustomerEvent>>;
    /// One decision by id.
    async fn get_decision(&self, id: &DecisionId) -> Result<Option<Decision>>;
    /// Decisions, each with its status, plus ONE audit entry covering them, plus review cases for
    /// those that go to a human — in ONE transaction (nothing is shown without its audit entry
    /// and nothing is audited that was not stored). Returns the audit entry. A decision or review
    /// for an unknown customer is [`StoreError::UnknownCustomer`] and writes nothing.
    async fn record_decisions(
        &self,
        decisions: &[Decision],
        reviews: &[ReviewCase],
        audit: AuditRecord,
    ) -> Result<AuditEntry>;
    /// Review cases by status (all for `None`), oldest first, strictly after the keyset cursor
    /// `(created_at, id)`.
    async fn list_reviews(
        &self,
        status: Option<ReviewStatus>,
        after: Option<(i64, String)>,
        limit: u32,
    ) -> Result<Vec<ReviewCase>>;
    /// Every review case about one customer, oldest first (data-subject exports).
    async fn customer_reviews(&self, customer: &CustomerId) -> Result<Vec<ReviewCase>>;
    /// One review case by id.
    async fn get_review(&self, id: &str) -> Result<Option<ReviewCase>>;
    /// Resolve a PENDING case: set its outcome, set the decision's status (`approved` for
    /// approved/modified, `rejected`), replace the decision payload with `modified_payload` when
    /// given, and append `audit` — all in one transaction. Returns `None` if there is no such
    /// case, `Some(Err(current status))` if it was not pending (no change), `Some(Ok(entry))` on
    /// success. An outcome with status `Pending` is [`StoreError::Conflict`].
    async fn resolve_review(
        &self,
        id: &str,
        outcome: &ReviewOutcome,
        audit: AuditRecord,
    ) -> Result<Option<Result<AuditEntry, ReviewStatus>>>;
    /// Decisions approved by a reviewer and not yet delivered (status `approved`), for a
    /// customer, oldest first.
    async fn approved_undelivered(&self, customer: &CustomerId) -> Result<Vec<Decision>>;
    /// Set a decision's status. False if there is no such decision.
    async fn set_decision_status(&self, id: &DecisionId, status: &str) -> Result<bool>;
    /// Every arm of a bandit policy, in arm order.
    async fn bandit_arms(&self, policy: &str) -> Result<Vec<ArmRow>>;
    /// Compare-and-swap one arm: writes `state` with version `expected + 1` only if the stored
    /// version is `expected` (0 = the arm does not exist yet). Returns whether it was written.
    async fn bandit_put(&self, policy: &str, arm: &str, state: &str, expected: i64)
    -> Result<bool>;
    /// `insert_event` and `bandit_put` in one transaction: both are written or neither is
    /// (`Duplicate` when the event id was seen before, `Conflict` when the arm's version is not
    /// `expected`). An unknown customer is [`StoreError::UnknownCustomer`].
    async fn record_feedback(
        &self,
        e: &CustomerEvent,
        policy: &str,
        arm: &str,
        state: &str,
        expected: i64,
    ) -> Result<FeedbackWrite>;
    /// Store (or replace) the serialized recommender model `name`.
    async fn put_recommender_model(&self, name: &str, body: &str) -> Result<()>;
    /// The serialized recommender model `name`, if stored.
    async fn get_recommender_model(&self, name: &str) -> Result<Option<String>>;
    /// For training collaborative filtering: every customer's product ids held (open accounts
    /// with a product id) or accepted (`accept` events with a product id), sorted and without
    /// duplicates, by customer id strictly after `after`, `limit` customers per page. Only
    /// customers with at least one product appear.
    async fn product_sets(
        &self,
        after: Option<&CustomerId>,
        limit: u32,
    ) -> Result<Vec<(CustomerId, Vec<ProductId>)>>;

    /// Append to the hash-chained audit log (serialised: one writer at a time).
    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry>;
    /// Entries with `seq > after`, in order.
    async fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>>;
    /// Entries with `from <= at < to` (µs) and `seq > after`, in order.
    async fn audit_range(
        &self,
        from: i64,
        to: i64,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;
}

/// One open import: batches go in, then `commit` makes them visible atomically, or `rollback`
/// (or dropping the sink) discards them.
#[async_trait]
pub trait ImportSink: Send {
    /// Write a batch. Rows the database refuses (a duplicate id within this import, a reference
    /// to a missing customer or account) come back as rejects; the others are written.
    async fn write(&mut self, batch: Batch) -> Result<Vec<RowReject>>;
    /// Run the checks a backend defers to the end (PostgreSQL checks duplicates and references
    /// over the whole staged import); rejected rows are dropped from the import and returned.
    async fn finish(&mut self) -> Result<Vec<RowReject>>;
    /// Finish the import: returns what was written. The caller has already decided, from the
    /// rejects, that committing is right.
    async fn commit(self: Box<Self>, rejected: u64) -> Result<ImportRecord>;
    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// Open a store from a URL: `postgres://…` / `postgresql://…` for PostgreSQL, otherwise a SQLite
/// path (optionally `sqlite://path`). Runs pending migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url, None).await?))
    } else {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        if path.is_empty() {
            return Err(StoreError::Url("empty database path".into()));
        }
        Ok(Arc::new(SqliteStore::open(path).await?))
    }
}

/// Current time in microseconds since the epoch, the stored time unit.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// The outcome of checking the whole audit log's hash chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditCheck {
    /// Entries read.
    pub entries: u64,
    /// `None` when the chain is intact; else the first bad entry's seq and why.
    pub broken: Option<(i64, String)>,
}

/// Read the whole audit log in order and verify its hash chain (`sextant audit verify` and
/// `GET /v1/audit/verify`).
pub async fn verify_audit_log(store: &dyn Store) -> Result<AuditCheck> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = store.audit_entries(after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        all.extend(page);
    }
    Ok(AuditCheck {
        entries: all.len() as u64,
        broken: sextant_core::audit::verify_chain(&all).err(),
    })
}
