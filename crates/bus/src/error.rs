//! [`BusError`]: every failure of the bus, with a message that says what was being done and where.
//!
//! The underlying client error is part of the message (`cause`), not a `source()`, so it is printed once.

/// Errors of the NATS JetStream adapter.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// A [`crate::BusConfig`] field is invalid.
    #[error("invalid bus configuration: field '{field}': {reason}")]
    Config { field: &'static str, reason: String },
    /// The server could not be reached (refused, timed out, bad URL, authentication).
    #[error("cannot reach NATS at {url}: {cause}")]
    Connect { url: String, cause: String },
    /// The stream could not be created or opened, or it exists with incompatible subjects.
    #[error("JetStream stream '{stream}': {cause}")]
    Stream { stream: String, cause: String },
    /// A partition number outside `0..partitions`.
    #[error("partition {partition} is out of range: the bus has {partitions} partitions")]
    Partition { partition: u32, partitions: u32 },
    /// A message id that cannot be a NATS header value (empty is allowed: no deduplication).
    #[error("message id {msg_id:?} is invalid: control characters are not allowed")]
    MessageId { msg_id: String },
    /// Publishing (or waiting for the stream's acknowledgement) failed; the batch may be partly stored,
    /// retrying it is safe within the duplicate window.
    #[error("publish to '{subject}' failed: {cause}")]
    Publish { subject: String, cause: String },
    /// Creating, inspecting or deleting a durable consumer failed.
    #[error("consumer '{consumer}' on stream '{stream}': {cause}")]
    Consumer {
        stream: String,
        consumer: String,
        cause: String,
    },
    /// A pull request failed.
    #[error("fetch from consumer '{consumer}' failed: {cause}")]
    Fetch { consumer: String, cause: String },
    /// The acknowledgement was not confirmed by the server.
    #[error("acknowledging stream sequence {seq} on consumer '{consumer}' failed: {cause}")]
    Ack {
        consumer: String,
        seq: u64,
        cause: String,
    },
}
