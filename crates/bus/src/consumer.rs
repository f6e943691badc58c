//! [`PartitionConsumer`]: batched pulls from one partition's durable consumer and prefix acks.
//!
//! The consumer remembers the reply subject of every delivered, not yet acknowledged message, so
//! [`PartitionConsumer::ack_through`] can acknowledge any delivered prefix with one confirmed ack
//! (`AckPolicy::All` acknowledges everything up to that message).

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::Subject;
use async_nats::header::NATS_MESSAGE_ID;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::message::Acker;
use async_nats::jetstream::{self as js};
use bytes::Bytes;
use futures_util::StreamExt;

use crate::error::BusError;

/// Most messages one [`PartitionConsumer::fetch`] returns (bounded by the client's per-subscription buffer).
pub const MAX_FETCH: usize = 16_384;

/// Longest time a pull may take beyond its own wait before the consumer is considered broken.
const PULL_GUARD: Duration = Duration::from_secs(30);

/// One message delivered from a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Stream-global sequence: increasing within a partition, not contiguous.
    pub stream_seq: u64,
    /// The `Nats-Msg-Id` it was published with, if any.
    pub msg_id: Option<String>,
    /// The payload as published.
    pub payload: Bytes,
}

/// The durable pull consumer of one partition, opened by [`crate::Bus::consumer`].
pub struct PartitionConsumer {
    name: String,
    consumer: PullConsumer,
    js: js::Context,
    /// Highest stream sequence returned to the caller; older redeliveries are not returned again.
    delivered_through: u64,
    /// Delivered and not yet acknowledged: (stream seq, reply subject of its latest delivery), ascending.
    unacked: VecDeque<(u64, Subject)>,
    /// A pull ended abnormally: messages may have been delivered that were never returned.
    broken: bool,
}

impl std::fmt::Debug for PartitionConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionConsumer")
            .field("name", &self.name)
            .field("delivered_through", &self.delivered_through)
            .field("unacked", &self.unacked.len())
            .finish()
    }
}

impl PartitionConsumer {
    pub(crate) fn new(
        name: String,
        consumer: PullConsumer,
        js: js::Context,
        start: u64,
    ) -> PartitionConsumer {
        PartitionConsumer {
            name,
            consumer,
            js,
            delivered_through: start.saturating_sub(1),
            unacked: VecDeque::new(),
            broken: false,
        }
    }

    /// The durable consumer's name, `sextant-p<N>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Pulls up to `max` (1..=[`MAX_FETCH`]) messages in stream order. Returns as soon as the messages
    /// available now are delivered; if there are none, waits up to `wait` for the first (zero: no wait).
    ///
    /// Messages the server redelivers (not acknowledged within 30 s) that were already returned are
    /// not returned again: every sequence is returned once per consumer, in increasing order.
    /// Acknowledge with [`PartitionConsumer::ack_through`] within that time and before 65,536 are
    /// outstanding, or the server pauses delivery. After an error other than a timeout of the wait
    /// itself, reopen the consumer with [`crate::Bus::consumer`] at the committed offset.
    pub async fn fetch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivered>, BusError> {
        if self.broken {
            return Err(self.fetch_err(
                "an earlier pull did not complete; reopen the consumer at the committed offset"
                    .to_owned(),
            ));
        }
        let max = max.clamp(1, MAX_FETCH);
        let mut out = Vec::with_capacity(max.min(1024));
        // Why not one pull with `expires = wait`: nats-server 2.9 silently drops a pull request that
        // expires while its batch is still being delivered (no more messages, no end-of-batch status),
        // which stalls the client for `wait` + 5 s. A pull without expiry ends with "no messages" as
        // soon as what is available has been sent; only a single-message pull waits.
        self.pull(max, None, &mut out).await?;
        if out.is_empty() && !wait.is_zero() {
            self.pull(1, Some(wait), &mut out).await?;
            if !out.is_empty() && max > 1 {
                self.pull(max - 1, None, &mut out).await?;
            }
        }
        Ok(out)
    }

    fn fetch_err(&self, cause: String) -> BusError {
        BusError::Fetch {
            consumer: self.name.clone(),
            cause,
        }
    }

    /// One pull request: `wait = None` returns what is available now, `Some` waits up to that long.
    async fn pull(
        &mut self,
        max: usize,
        wait: Option<Duration>,
        out: &mut Vec<Delivered>,
    ) -> Result<(), BusError> {
        let batch = match wait {
            None => self.consumer.fetch().max_messages(max).messages().await,
            Some(w) => {
                self.consumer
                    .batch()
                    .max_messages(max)
                    .expires(w)
                    .messages()
                    .await
            }
        };
        let mut batch = batch.map_err(|e| self.fetch_err(e.to_string()))?;
        let guard = wait.unwrap_or_default() + PULL_GUARD;
        let drained = tokio::time::timeout(guard, async {
            while let Some(msg) = batch.next().await {
                let msg = msg.map_err(|e| e.to_string())?;
                let seq = msg
                    .info()
                    .map_err(|e| format!("not a JetStream delivery: {e}"))?
                    .stream_sequence;
                let js::Message { message, .. } = msg;
                let reply = message
                    .reply
                    .ok_or_else(|| "delivery without a reply subject".to_owned())?;
                if seq <= self.delivered_through {
                    // A redelivery of something already returned: keep its newest reply subject for acks.
                    if let Ok(i) = self.unacked.binary_search_by_key(&seq, |(s, _)| *s) {
                        self.unacked[i].1 = reply;
                    }
                    continue;
                }
                self.delivered_through = seq;
                self.unacked.push_back((seq, reply));
                let msg_id = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(NATS_MESSAGE_ID))
                    .map(|v| v.as_str().to_owned());
                out.push(Delivered {
                    stream_seq: seq,
                    msg_id,
                    payload: message.payload,
                });
            }
            Ok::<(), String>(())
        })
        .await;
        match drained {
            Ok(Ok(())) => Ok(()),
            Ok(Err(cause)) => {
                self.broken = true;
                Err(self.fetch_err(cause))
            }
            Err(_) => {
                // The request may still deliver into a dropped inbox; a later ack (AckPolicy::All)
                // would then acknowledge messages never returned, so this consumer is done.
                self.broken = true;
                Err(self.fetch_err(format!(
                    "no end of batch from the server within {guard:?}; reopen the consumer"
                )))
            }
        }
    }

    /// Acknowledges every delivered message with sequence ≤ `stream_seq` with one acknowledgement
    /// (of the newest such message) and waits for the server to confirm it. A no-op if there is
    /// none (already acknowledged, or nothing delivered at or below `stream_seq`).
    pub async fn ack_through(&mut self, stream_seq: u64) -> Result<(), BusError> {
        let n = self.unacked.partition_point(|(s, _)| *s <= stream_seq);
        if n == 0 {
            return Ok(());
        }
        let (seq, reply) = self.unacked[n - 1].clone();
        Acker::new(self.js.clone(), Some(reply))
            .double_ack()
            .await
            .map_err(|e| BusError::Ack {
                consumer: self.name.clone(),
                seq,
                cause: e.to_string(),
            })?;
        self.unacked.drain(..n);
        Ok(())
    }
}
