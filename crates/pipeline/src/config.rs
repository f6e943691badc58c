//! Runtime settings of the event stream, validated by the binary's configuration loader.

use sextant_core::ConsentPurpose;
use std::time::Duration;

/// One webhook receiver: every stored alert is POSTed to `url`, signed with `secret`.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// A short stable name (the outbox refers to it).
    pub name: String,
    pub url: String,
    /// HMAC-SHA256 key for `X-Sextant-Signature`; never logged.
    #[serde(default, skip_serializing)]
    pub secret: String,
    /// For an `https://` receiver whose certificate a private CA signed: a PEM file of that CA's
    /// certificate(s), trusted besides the system's roots.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
}

/// How the stream runs.
#[derive(Clone, Debug)]
pub struct StreamConfig {
    /// Events read and committed per processing step.
    pub batch: u32,
    /// A batch without alerts only moves the offset; the offset is committed at least this
    /// often and every `commit_events` events (batches with alerts are committed at once).
    pub commit_every: Duration,
    pub commit_events: i64,
    /// Snapshot the engine at least this often (and after `checkpoint_events`).
    pub checkpoint_every: Duration,
    pub checkpoint_events: u64,
    /// Ingestion answers `Backpressure` when the processor is more than this many events behind.
    pub max_lag: i64,
    /// Most events accepted in one submission.
    pub max_batch: usize,
    pub webhooks: Vec<Webhook>,
    /// Webhook attempts before a delivery is given up (marked failed).
    pub webhook_max_attempts: i32,
    /// Consents the operator declares as granted by default (as for recommendations).
    pub consent_defaults: Vec<ConsentPurpose>,
    /// JetStream partitions (subjects `sextant.events.<n>`); ignored in embedded mode.
    pub partitions: u32,
    /// Identifies the rules in decision versions (e.g. a digest of the rules file).
    pub rules_version: String,
    /// A worker that has not sent a heartbeat for this long counts as gone.
    pub worker_ttl: Duration,
    /// Write streamed transactions into the `transactions` table (the ledger) and streamed
    /// balances into their accounts, with the batch that applied them; transactions idempotent
    /// by id. Off: they feed windows and rules only.
    pub ledger: bool,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            batch: 4096,
            commit_every: Duration::from_millis(100),
            commit_events: 50_000,
            checkpoint_every: Duration::from_secs(30),
            checkpoint_events: 2_000_000,
            max_lag: 500_000,
            max_batch: 10_000,
            webhooks: Vec::new(),
            webhook_max_attempts: 10,
            consent_defaults: Vec::new(),
            partitions: 16,
            rules_version: "demo".into(),
            worker_ttl: Duration::from_secs(5),
            ledger: true,
        }
    }
}
