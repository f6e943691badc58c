//! NATS JetStream adapter for the real-time event stream (issue 6).
//!
//! The bus is one file-backed JetStream stream whose subjects are `<prefix>.<partition>`; a customer's
//! events always go to the same partition (the caller computes it with `sextant_stream::partition_of`),
//! so they are consumed in publish order. This crate knows nothing about events: payloads are opaque
//! bytes, and the message id (`Nats-Msg-Id`) is the event id, which JetStream deduplicates within
//! [`BusConfig::duplicate_window`].
//!
//! - [`Bus::publish_batch`] pipelines publishes (up to [`MAX_IN_FLIGHT`] unacknowledged) and returns
//!   only when every message is durable in the stream, with its stream sequence.
//! - [`Bus::consumer`] opens the durable pull consumer of one partition at a start sequence chosen by
//!   the caller (the database's offset is the authority, the consumer's own state is not trusted).
//! - [`PartitionConsumer::fetch`] pulls large batches; [`PartitionConsumer::ack_through`] acknowledges
//!   a whole prefix with one acknowledgement (`AckPolicy::All`), confirmed by the server.
//!
//! Invariant: no dependency on other Sextant crates; no payload content is ever logged.

mod bus;
mod config;
mod consumer;
mod error;

pub use bus::{Announcements, Bus, MAX_IN_FLIGHT, Outgoing, PubAck};
pub use config::BusConfig;
pub use consumer::{Delivered, MAX_FETCH, PartitionConsumer};
pub use error::BusError;
