//! [`Bus`]: the connection, the stream (created on first use), pipelined publishing and consumer setup.

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::jetstream::consumer::{self, AckPolicy, DeliverPolicy};
use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{
    self, DiscardPolicy, LastRawMessageErrorKind, RetentionPolicy, StorageType,
};
use async_nats::jetstream::{self as js, context::ConsumerInfoErrorKind};
use async_nats::{HeaderMap, Subject};
use bytes::Bytes;

use crate::config::{BusConfig, redact_url};
use crate::consumer::PartitionConsumer;
use crate::error::BusError;

/// Most publishes of one [`Bus::publish_batch`] call that are sent but not yet acknowledged.
pub const MAX_IN_FLIGHT: usize = 1024;

/// Time allowed for the TCP connection and NATS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for a JetStream API request, a publish acknowledgement or an ack confirmation.
const API_TIMEOUT: Duration = Duration::from_secs(10);
/// Capacity of the client's shared in-flight-ack permits. Each `publish_batch` bounds itself to
/// [`MAX_IN_FLIGHT`]; this only has to exceed that times the number of concurrent callers.
const CONTEXT_ACK_CAPACITY: usize = 1 << 20;
/// Unacknowledged messages a partition consumer may have outstanding before the server pauses it.
pub(crate) const MAX_ACK_PENDING: i64 = 65_536;
/// Time after which the server redelivers an unacknowledged message.
const ACK_WAIT: Duration = Duration::from_secs(30);
/// Longest dead-letter reason kept in the `Sextant-Reason` header.
const MAX_REASON_BYTES: usize = 1024;

/// One message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Partition `0..partitions`; the subject is `<prefix>.<partition>`.
    pub partition: u32,
    /// Deduplication id (`Nats-Msg-Id`), normally the event id; empty means no deduplication.
    pub msg_id: String,
    /// Opaque payload (the event's JSON).
    pub payload: Bytes,
}

/// The stream's acknowledgement of one published message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PubAck {
    /// Stream sequence of the stored message (for a duplicate: of the original).
    pub seq: u64,
    /// The message id was seen within the duplicate window; nothing new was stored.
    pub duplicate: bool,
}

/// Connects to the server and builds a JetStream context on that connection.
async fn open_context(cfg: &BusConfig, name: &str) -> Result<js::Context, BusError> {
    let client = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(CONNECT_TIMEOUT)
        .connect(cfg.url.as_str())
        .await
        .map_err(|e| BusError::Connect {
            url: redact_url(&cfg.url),
            cause: e.to_string(),
        })?;
    Ok(js::ContextBuilder::new()
        .timeout(API_TIMEOUT)
        .max_ack_inflight(CONTEXT_ACK_CAPACITY)
        .backpressure_on_inflight(true)
        .build(client))
}

/// A connection to NATS with the event stream opened. Cheap to clone (clones share the connection).
#[derive(Debug, Clone)]
pub struct Bus {
    cfg: BusConfig,
    js: js::Context,
    stream: stream::Stream,
    /// Pre-built `<prefix>.<N>` subjects, indexed by partition.
    subjects: Vec<Subject>,
}

impl Bus {
    /// Connects, then gets or creates the file-backed stream with subjects `<prefix>.*`.
    ///
    /// An existing stream is used as it is, but it must capture `<prefix>.*`; differing limits
    /// (`max_age`, `duplicate_window`) are logged, not changed.
    pub async fn connect(cfg: BusConfig) -> Result<Bus, BusError> {
        cfg.validate()?;
        let url = redact_url(&cfg.url);
        let js = open_context(&cfg, "sextant-bus").await?;

        let wanted = format!("{}.*", cfg.subject_prefix);
        let stream_err = |cause: String| BusError::Stream {
            stream: cfg.stream.clone(),
            cause,
        };
        let stream = js
            .get_or_create_stream(stream::Config {
                name: cfg.stream.clone(),
                subjects: vec![wanted.clone()],
                storage: StorageType::File,
                retention: RetentionPolicy::Limits,
                discard: DiscardPolicy::Old,
                max_age: cfg.max_age,
                duplicate_window: cfg.duplicate_window,
                num_replicas: 1,
                ..Default::default()
            })
            .await
            .map_err(|e| {
                stream_err(format!(
                    "cannot open or create it at {url} (is JetStream enabled, `nats-server -js`?): {e}"
                ))
            })?;
        let existing = &stream.cached_info().config;
        if !existing.subjects.contains(&wanted) {
            return Err(stream_err(format!(
                "exists with subjects {:?}, which do not include '{wanted}'",
                existing.subjects
            )));
        }
        if existing.max_age != cfg.max_age || existing.duplicate_window != cfg.duplicate_window {
            tracing::warn!(
                stream = %cfg.stream,
                max_age = ?existing.max_age,
                duplicate_window = ?existing.duplicate_window,
                "stream exists with other limits than configured; keeping the stream's"
            );
        }
        let subjects = (0..cfg.partitions)
            .map(|p| Subject::from(cfg.subject(p)))
            .collect();
        tracing::info!(stream = %cfg.stream, partitions = cfg.partitions, %url, "event bus connected");
        Ok(Bus {
            cfg,
            js,
            stream,
            subjects,
        })
    }

    /// Number of partitions.
    pub fn partitions(&self) -> u32 {
        self.cfg.partitions
    }

    /// The configuration this bus was opened with.
    pub fn config(&self) -> &BusConfig {
        &self.cfg
    }

    fn check_partition(&self, partition: u32) -> Result<(), BusError> {
        if partition < self.cfg.partitions {
            Ok(())
        } else {
            Err(BusError::Partition {
                partition,
                partitions: self.cfg.partitions,
            })
        }
    }

    /// Publishes every message and returns their acknowledgements, in input order, once all are
    /// durable in the stream.
    ///
    /// Pipelined: up to [`MAX_IN_FLIGHT`] publishes are outstanding; the oldest acknowledgement is
    /// awaited before sending more. Messages of one partition are stored in input order. Input is
    /// checked (partitions, message ids) before anything is sent. On error some messages may already
    /// be stored: retry the whole batch within the duplicate window and those come back as duplicates.
    pub async fn publish_batch(&self, msgs: &[Outgoing]) -> Result<Vec<PubAck>, BusError> {
        for m in msgs {
            self.check_partition(m.partition)?;
            if m.msg_id.bytes().any(|b| b.is_ascii_control()) {
                return Err(BusError::MessageId {
                    msg_id: m.msg_id.clone(),
                });
            }
        }
        let mut acks = Vec::with_capacity(msgs.len());
        let mut pending: VecDeque<(u32, PublishAckFuture)> =
            VecDeque::with_capacity(MAX_IN_FLIGHT.min(msgs.len()));
        for m in msgs {
            if pending.len() >= MAX_IN_FLIGHT
                && let Some((partition, fut)) = pending.pop_front()
            {
                acks.push(self.await_ack(partition, fut).await?);
            }
            let mut publish = PublishMessage::build().payload(m.payload.clone());
            if !m.msg_id.is_empty() {
                publish = publish.message_id(&m.msg_id);
            }
            let subject = self.subjects[m.partition as usize].clone();
            let fut = self
                .js
                .send_publish(subject, publish)
                .await
                .map_err(|e| self.publish_error(m.partition, e.to_string()))?;
            pending.push_back((m.partition, fut));
        }
        for (partition, fut) in pending {
            acks.push(self.await_ack(partition, fut).await?);
        }
        Ok(acks)
    }

    async fn await_ack(&self, partition: u32, fut: PublishAckFuture) -> Result<PubAck, BusError> {
        match fut.await {
            Ok(ack) => Ok(PubAck {
                seq: ack.sequence,
                duplicate: ack.duplicate,
            }),
            Err(e) => {
                let cause = if e.kind() == PublishErrorKind::StreamNotFound {
                    format!("{e} (was the stream '{}' deleted?)", self.cfg.stream)
                } else {
                    e.to_string()
                };
                Err(self.publish_error(partition, cause))
            }
        }
    }

    fn publish_error(&self, partition: u32, cause: String) -> BusError {
        BusError::Publish {
            subject: self.cfg.subject(partition),
            cause,
        }
    }

    /// Opens the durable pull consumer `sextant-p<N>` of one partition, delivering from stream
    /// sequence `start_seq` on (0 means from the start of the stream).
    ///
    /// The caller's `start_seq` (the database's offset + 1) is the authority: an existing consumer is
    /// reused only if it has the same filter, `AckPolicy::All`, the same start and has delivered
    /// nothing yet; otherwise it is deleted and recreated. Only one process may consume a partition
    /// at a time (the store's partition leases ensure that).
    pub async fn consumer(
        &self,
        partition: u32,
        start_seq: u64,
    ) -> Result<PartitionConsumer, BusError> {
        self.check_partition(partition)?;
        let name = format!("sextant-p{partition}");
        let filter = self.cfg.subject(partition);
        let start = start_seq.max(1);
        let consumer_err = |cause: String| BusError::Consumer {
            stream: self.cfg.stream.clone(),
            consumer: name.clone(),
            cause,
        };
        let config = consumer::pull::Config {
            durable_name: Some(name.clone()),
            filter_subject: filter.clone(),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            ack_policy: AckPolicy::All,
            ack_wait: ACK_WAIT,
            max_ack_pending: MAX_ACK_PENDING,
            ..Default::default()
        };

        match self.stream.consumer_info(&name).await {
            Ok(info) => {
                let c = &info.config;
                let reusable = c.filter_subject == filter
                    && c.ack_policy == AckPolicy::All
                    && c.deliver_policy == config.deliver_policy
                    && c.max_ack_pending == MAX_ACK_PENDING
                    && info.delivered.stream_sequence < start
                    && info.num_ack_pending == 0;
                if reusable {
                    tracing::debug!(consumer = %name, start, "reusing partition consumer");
                    return self.open_partition_consumer(name, start).await;
                }
                tracing::info!(
                    consumer = %name,
                    start,
                    delivered = info.delivered.stream_sequence,
                    "recreating partition consumer at the requested start"
                );
                self.stream
                    .delete_consumer(&name)
                    .await
                    .map_err(|e| consumer_err(format!("cannot delete for recreation: {e}")))?;
            }
            Err(e) if e.kind() == ConsumerInfoErrorKind::NotFound => {}
            Err(e) => return Err(consumer_err(e.to_string())),
        }
        self.stream
            .create_consumer(config)
            .await
            .map_err(|e| consumer_err(format!("cannot create: {e}")))?;
        self.open_partition_consumer(name, start).await
    }

    /// Binds the (just checked or created) durable consumer to this bus's connection.
    async fn open_partition_consumer(
        &self,
        name: String,
        start: u64,
    ) -> Result<PartitionConsumer, BusError> {
        let consumer: consumer::PullConsumer =
            self.stream
                .get_consumer(&name)
                .await
                .map_err(|e| BusError::Consumer {
                    stream: self.cfg.stream.clone(),
                    consumer: name.clone(),
                    cause: e.to_string(),
                })?;
        Ok(PartitionConsumer::new(
            name,
            consumer,
            self.js.clone(),
            start,
        ))
    }

    /// The core-NATS subject (outside the stream) on which committed alerts are announced to
    /// every process: `<prefix>-alerts`.
    pub fn alert_subject(&self) -> String {
        format!("{}-alerts", self.cfg.subject_prefix)
    }

    /// Announce committed alerts to every subscribed process, in order (core NATS: at most once;
    /// a process that misses one reads it from the store). Not stored in the stream.
    pub async fn announce(&self, payloads: Vec<Bytes>) -> Result<(), BusError> {
        let subject = self.alert_subject();
        let client = self.js.client();
        for p in payloads {
            client
                .publish(subject.clone(), p)
                .await
                .map_err(|e| BusError::Publish {
                    subject: subject.clone(),
                    cause: e.to_string(),
                })?;
        }
        client.flush().await.map_err(|e| BusError::Publish {
            subject,
            cause: e.to_string(),
        })
    }

    /// The core-NATS subject on which erasures are announced: `<prefix>-erasures`.
    pub fn erasure_subject(&self) -> String {
        format!("{}-erasures", self.cfg.subject_prefix)
    }

    /// Tell every process to drop a customer's in-memory state (a data-subject erasure).
    pub async fn announce_erasure(&self, customer_id: &str) -> Result<(), BusError> {
        let subject = self.erasure_subject();
        let client = self.js.client();
        let err = |e: String| BusError::Publish {
            subject: subject.clone(),
            cause: e,
        };
        client
            .publish(
                subject.clone(),
                Bytes::copy_from_slice(customer_id.as_bytes()),
            )
            .await
            .map_err(|e| err(e.to_string()))?;
        client.flush().await.map_err(|e| err(e.to_string()))
    }

    /// Subscribe to the announcements of [`Bus::announce_erasure`].
    pub async fn erasures(&self) -> Result<Announcements, BusError> {
        self.subscribe(self.erasure_subject()).await
    }

    /// Subscribe to the announcements of [`Bus::announce`].
    pub async fn announcements(&self) -> Result<Announcements, BusError> {
        self.subscribe(self.alert_subject()).await
    }

    async fn subscribe(&self, subject: String) -> Result<Announcements, BusError> {
        self.js
            .client()
            .subscribe(subject.clone())
            .await
            .map(Announcements)
            .map_err(|e| BusError::Publish {
                subject,
                cause: format!("cannot subscribe: {e}"),
            })
    }

    /// Delete the whole stream and everything in it (benchmarks and tests clean up with this).
    pub async fn delete_stream(&self) -> Result<(), BusError> {
        self.js
            .delete_stream(&self.cfg.stream)
            .await
            .map(|_| ())
            .map_err(|e| BusError::Stream {
                stream: self.cfg.stream.clone(),
                cause: format!("cannot delete: {e}"),
            })
    }

    /// Deletes every stored message on a partition's subject and on the dead-letter subject whose
    /// payload `matches` (a data-subject erasure), and returns how many. The server overwrites a
    /// deleted message's bytes (JetStream's default secure erase). Scans the messages one by one
    /// with the stream's message-get API: cost grows with what the stream retains (`max_age`).
    pub async fn erase_messages(
        &self,
        partition: u32,
        matches: impl Fn(&[u8]) -> bool,
    ) -> Result<u64, BusError> {
        self.check_partition(partition)?;
        let mut n = 0;
        for subject in [self.cfg.subject(partition), self.cfg.dead_letter_subject()] {
            let mut seq = 1;
            loop {
                let m = match self
                    .stream
                    .raw_message_builder()
                    .sequence(seq)
                    .next_by_subject(subject.clone())
                    .send()
                    .await
                {
                    Ok(m) => m,
                    Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => break,
                    Err(e) => {
                        return Err(BusError::Stream {
                            stream: self.cfg.stream.clone(),
                            cause: format!("cannot read '{subject}' from sequence {seq}: {e}"),
                        });
                    }
                };
                if matches(&m.payload) {
                    let gone = self.stream.delete_message(m.sequence).await.map_err(|e| {
                        BusError::Stream {
                            stream: self.cfg.stream.clone(),
                            cause: format!("cannot delete message {}: {e}", m.sequence),
                        }
                    })?;
                    n += u64::from(gone);
                }
                seq = m.sequence + 1;
            }
        }
        Ok(n)
    }

    /// Messages the partition consumers have not finished: per durable consumer, those not yet
    /// delivered plus those delivered but not acknowledged (acknowledgement follows the durable
    /// commit). A partition no worker has opened yet counts 0 (the stream's own limits bound it).
    pub async fn backlog(&self) -> Result<u64, BusError> {
        let mut total = 0u64;
        for p in 0..self.cfg.partitions {
            let name = format!("sextant-p{p}");
            match self.stream.consumer_info(&name).await {
                Ok(info) => total += info.num_pending + info.num_ack_pending as u64,
                Err(e) if e.kind() == ConsumerInfoErrorKind::NotFound => {}
                Err(e) => {
                    return Err(BusError::Consumer {
                        stream: self.cfg.stream.clone(),
                        consumer: name,
                        cause: e.to_string(),
                    });
                }
            }
        }
        Ok(total)
    }

    /// Stream sequence of the newest message on a partition's subject, 0 if it has none.
    pub async fn last_seq(&self, partition: u32) -> Result<u64, BusError> {
        self.check_partition(partition)?;
        let subject = self.cfg.subject(partition);
        match self.stream.get_last_raw_message_by_subject(&subject).await {
            Ok(m) => Ok(m.sequence),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(0),
            Err(e) => Err(BusError::Stream {
                stream: self.cfg.stream.clone(),
                cause: format!("cannot read the last message of '{subject}': {e}"),
            }),
        }
    }

    /// Stores a rejected payload on `<prefix>.dlq` with header `Sextant-Reason` (control characters
    /// replaced, at most 1 KiB) and waits until it is durable.
    pub async fn publish_dead_letter(&self, reason: &str, payload: Bytes) -> Result<(), BusError> {
        let subject = self.cfg.dead_letter_subject();
        let mut reason: String = reason
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if reason.len() > MAX_REASON_BYTES {
            let mut cut = MAX_REASON_BYTES;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
        }
        let mut headers = HeaderMap::new();
        headers.insert("Sextant-Reason", reason.as_str());
        let publish_err = |cause: String| BusError::Publish {
            subject: subject.clone(),
            cause,
        };
        self.js
            .publish_with_headers(subject.clone(), headers, payload)
            .await
            .map_err(|e| publish_err(e.to_string()))?
            .await
            .map_err(|e| publish_err(e.to_string()))?;
        Ok(())
    }
}

/// A subscription to alert announcements.
pub struct Announcements(async_nats::Subscriber);

impl Announcements {
    /// The next announcement's payload; `None` when the connection is closed for good.
    pub async fn next(&mut self) -> Option<Bytes> {
        futures_util::StreamExt::next(&mut self.0)
            .await
            .map(|m| m.payload)
    }
}
