//! Records the store reads and writes that are storage concerns rather than bank domain types.

use sextant_core::{
    Account, ConsentRecord, Customer, CustomerEvent, CustomerMessage, Product, ProtectedAttributes,
    Role, Transaction,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Tables that can be counted (for summaries and benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Customers,
    Accounts,
    Transactions,
    Products,
    Messages,
    Events,
    Consents,
    AuditLog,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::Customers => "customers",
            Table::Accounts => "accounts",
            Table::Transactions => "transactions",
            Table::Products => "products",
            Table::Messages => "messages",
            Table::Events => "events",
            Table::Consents => "consents",
            Table::AuditLog => "audit_log",
        }
    }
}

/// Kinds of record the importer handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Customers,
    Accounts,
    Transactions,
    Products,
    Messages,
    Events,
    Consents,
}

impl RecordKind {
    pub const ALL: [RecordKind; 7] = [
        RecordKind::Customers,
        RecordKind::Accounts,
        RecordKind::Transactions,
        RecordKind::Products,
        RecordKind::Messages,
        RecordKind::Events,
        RecordKind::Consents,
    ];
    pub fn as_str(self) -> &'static str {
        self.table().name()
    }
    pub fn table(self) -> Table {
        match self {
            RecordKind::Customers => Table::Customers,
            RecordKind::Accounts => Table::Accounts,
            RecordKind::Transactions => Table::Transactions,
            RecordKind::Products => Table::Products,
            RecordKind::Messages => Table::Messages,
            RecordKind::Events => Table::Events,
            RecordKind::Consents => Table::Consents,
        }
    }
}

/// A batch of parsed rows, each with the 1-based line (or record) number it came from.
#[derive(Debug, Clone)]
pub enum Batch {
    Customers(Vec<(u64, Customer, ProtectedAttributes)>),
    Accounts(Vec<(u64, Account)>),
    Transactions(Vec<(u64, Transaction)>),
    Products(Vec<(u64, Product)>),
    Messages(Vec<(u64, CustomerMessage)>),
    Events(Vec<(u64, CustomerEvent)>),
    Consents(Vec<(u64, ConsentImport)>),
}

/// A consent record with the id the bank's system gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentImport {
    pub id: String,
    pub record: ConsentRecord,
}

impl Batch {
    pub fn len(&self) -> usize {
        match self {
            Batch::Customers(v) => v.len(),
            Batch::Accounts(v) => v.len(),
            Batch::Transactions(v) => v.len(),
            Batch::Products(v) => v.len(),
            Batch::Messages(v) => v.len(),
            Batch::Events(v) => v.len(),
            Batch::Consents(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A row the database refused, by line and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowReject {
    pub line: u64,
    pub column: Option<&'static str>,
    pub reason: String,
}

/// A finished (or failed) import, as recorded in the `imports` table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportRecord {
    pub id: String,
    pub kind: String,
    pub source: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub status: String,
    /// Rows written by this import (new or replaced).
    pub rows_written: u64,
    /// Of those, rows that did not exist before.
    pub rows_new: u64,
    pub rows_rejected: u64,
}

impl ImportRecord {
    /// A new, running import of `kind` from `source`.
    pub fn start(kind: RecordKind, source: &str) -> Self {
        Self {
            id: format!("imp_{}", uuid::Uuid::now_v7().simple()),
            kind: kind.as_str().to_string(),
            source: source.to_string(),
            started_at: crate::now_micros(),
            finished_at: None,
            status: "running".into(),
            rows_written: 0,
            rows_new: 0,
            rows_rejected: 0,
        }
    }
}

/// An API key as stored: only a hash of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: String,
    /// PHC-format password hash (argon2id) of the secret part.
    pub hash: String,
    pub role: Role,
    pub customer_id: Option<sextant_core::CustomerId>,
    pub label: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A stored response to a write made with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentResponse {
    pub request_hash: String,
    pub status: u16,
    pub body: String,
    pub created_at: i64,
}

/// Customer attributes a differentially private spend report may group by (never a protected
/// attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendGroup {
    SpendingHabit,
    EngagementLevel,
    RiskProfile,
}

impl SpendGroup {
    pub fn column(self) -> &'static str {
        match self {
            SpendGroup::SpendingHabit => "spending_habit",
            SpendGroup::EngagementLevel => "engagement_level",
            SpendGroup::RiskProfile => "risk_profile",
        }
    }
}

/// One customer's spend in one category: `(customer, group, category, spend in minor units)`.
pub type SpendRowOwned = (String, String, String, i64);

/// One customer's feature vector as stored (JSON from `sextant-features`).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureRow {
    pub customer_id: sextant_core::CustomerId,
    pub version: i64,
    pub computed_at: i64,
    pub vector: String,
}

/// A trained segment model as stored (JSON from `sextant-segment`).
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentModelRecord {
    pub version: i64,
    pub created_at: i64,
    pub feature_version: i64,
    pub trained_on: i64,
    /// SHA-256 of the training matrix, so a model can be tied to its data.
    pub data_hash: String,
    pub model: String,
    pub promoted: bool,
}

/// A customer's segment under one model version.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentRow {
    pub customer_id: sextant_core::CustomerId,
    pub model_version: i64,
    pub segment_id: String,
    pub distance: f64,
    pub assigned_at: i64,
}

/// A registered predictive model (card and model are JSON from `sextant-models`).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRecord {
    pub name: String,
    pub version: i64,
    pub created_at: i64,
    pub card: String,
    pub model: String,
    pub promoted: bool,
}

/// Where a review case stands: held for a human, or resolved one way or another.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    Pending,
    Approved,
    Modified,
    Rejected,
}

impl ReviewStatus {
    pub const ALL: [ReviewStatus; 4] = [
        ReviewStatus::Pending,
        ReviewStatus::Approved,
        ReviewStatus::Modified,
        ReviewStatus::Rejected,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::Approved => "approved",
            ReviewStatus::Modified => "modified",
            ReviewStatus::Rejected => "rejected",
        }
    }
    /// The status named `s` (as `as_str` spells it), if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl std::fmt::Display for ReviewStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decision held for a human reviewer, and (once resolved) the reviewer's outcome.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReviewCase {
    pub id: String,
    pub decision_id: sextant_core::DecisionId,
    pub customer_id: sextant_core::CustomerId,
    /// µs since the epoch.
    pub created_at: i64,
    /// Why the decision went to a human (JSON from the engine).
    #[schema(value_type = Object)]
    pub reason: serde_json::Value,
    pub status: ReviewStatus,
    pub reviewer: Option<String>,
    /// The reviewer's note (encrypted at rest by `crypt::EncryptedStore`).
    pub note: Option<String>,
    pub resolved_at: Option<i64>,
    /// For `Modified`: the decision payload as the reviewer changed it.
    #[schema(value_type = Option<Object>)]
    pub modified_payload: Option<serde_json::Value>,
}

/// A reviewer's outcome for a pending case (`status` is never `Pending`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewOutcome {
    pub status: ReviewStatus,
    pub reviewer: String,
    pub note: Option<String>,
    /// Replaces the decision's payload when given.
    pub modified_payload: Option<serde_json::Value>,
    /// µs since the epoch.
    pub at: i64,
}

/// A bandit arm to rewrite: its new state, if its version is still `expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmWrite {
    pub policy: String,
    pub arm: String,
    pub state: String,
    pub expected: i64,
}

/// One bandit arm as stored: its serialized state and compare-and-swap version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmRow {
    pub arm: String,
    pub state: String,
    pub version: i64,
}

/// What `insert_event` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventInsert {
    Inserted,
    /// An event with this id was already stored; nothing changed.
    Duplicate,
    /// The event's customer does not exist; nothing was stored.
    UnknownCustomer,
}

/// What `record_feedback` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackWrite {
    /// The event and the arm's new state were both written.
    Written,
    /// An event with this id was already stored; nothing changed.
    Duplicate,
    /// The arm's version was not the expected one; nothing changed (re-read and retry).
    Conflict,
}

/// Everything a recommendation reads about one customer (see `Store::customer_snapshot`).
#[derive(Debug, Clone)]
pub struct CustomerSnapshot {
    pub customer: Customer,
    pub consents: sextant_core::ConsentState,
    pub accounts: Vec<Account>,
    pub events: Vec<CustomerEvent>,
    pub features: Option<FeatureRow>,
    pub segment: Option<SegmentRow>,
    /// Decisions a reviewer approved that the customer has not been shown yet.
    pub approved: Vec<sextant_core::Decision>,
    /// Decisions still waiting for a reviewer (status `pending_review`).
    pub pending_review: Vec<sextant_core::Decision>,
}
