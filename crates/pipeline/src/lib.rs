//! The event stream runtime (issue 6): events in, alerts out, nothing lost.
//!
//! ```text
//!  POST /v1/events ─ validate ─┬─ embedded: append to the store's event log (one fsync) ── ack
//!  sextant replay              └─ nats: publish to JetStream `sextant.events.<partition>` ─ ack
//!                                         │
//!  processor (embedded: one; nats: one per partition this worker leases)
//!    read in order ─ Engine::apply (pure, in memory) ─ consent filter ─ fraud holds → review
//!    ─ commit alerts + new offset in ONE transaction (compare-and-swap on the old offset)
//!    ─ then ack (nats) ─ then broadcast (SSE) ─ webhook outbox rows were in that transaction
//!    every few seconds: checkpoint (engine snapshot, offset)
//! ```
//!
//! **Delivery:** at-least-once in, exactly-once applied. An event is acknowledged only once it is
//! durable (in the log's transaction, or in the JetStream stream). The processor's state is a
//! snapshot at a checkpoint offset plus the events after it: on restart it restores the snapshot,
//! re-applies the events up to the committed offset without emitting (their alerts were committed
//! with that offset), then continues. Alerts have deterministic ids, so even a replayed emission is
//! stored once. Duplicated events are dropped by event id: by the log's unique index (embedded),
//! or by JetStream's duplicate window plus the `stream_applied` table (nats).
//!
//! **Back-pressure:** ingestion refuses (`Backpressure`, HTTP 503 + Retry-After) when the
//! processor is more than `max_lag` events behind (NATS mode: the partition consumers' pending
//! plus unacknowledged messages, read at most every 250 ms), and a database failure is retried with back-off
//! without acknowledging anything, so a full disk or a lost database slows producers down and
//! never drops an acknowledged event.

mod config;
mod feedback;
mod hub;
mod ingest;
mod processor;
mod tail;
mod webhook;
mod worker;

pub use config::{StreamConfig, Webhook};
pub use feedback::{FeedbackSink, StreamedFeedback};
pub use hub::{AlertHub, StatusView};
pub use ingest::{BACKLOG_EVERY, Reject, SubmitReport};
pub use processor::Stream;
pub use webhook::{sign, verify_signature, webhook_client};

/// What can go wrong in the runtime.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] sextant_store::StoreError),
    #[error(transparent)]
    Bus(#[from] sextant_bus::BusError),
    #[error("cannot restore the stream checkpoint: {0}")]
    Snapshot(String),
    /// The processor is too far behind: the caller should retry later.
    #[error("the event processor is {lag} events behind; retry in {retry_after_secs} s")]
    Backpressure { lag: i64, retry_after_secs: u64 },
    /// More events in one request than allowed.
    #[error("{0}")]
    TooMany(String),
    /// Another worker owns the partition now (its offset moved): this worker stops processing it.
    #[error("lost ownership of {0}")]
    Fenced(String),
    /// The feedback sink could not apply streamed feedback now (retried).
    #[error("feedback: {0}")]
    Feedback(String),
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
