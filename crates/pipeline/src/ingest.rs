//! Ingestion: validate every event, dead-letter the malformed ones with their reason, and make
//! the rest durable (the embedded log or JetStream) before answering.

use crate::processor::Stream;
use crate::{PipelineError, Result};
use serde::Serialize;
use sextant_bus::Outgoing;
use sextant_store::{Appended, DeadLetter, NewLogEvent};
use sextant_stream::{parse_event, partition_of};
use std::sync::atomic::Ordering;

/// NATS mode: how long a read of the consumers' backlog is trusted before it is read again.
pub const BACKLOG_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// One event that was not accepted.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reject {
    /// Position in the submitted batch (0-based).
    pub index: usize,
    pub event_id: Option<String>,
    /// The field at fault, when one is.
    pub field: Option<String>,
    pub reason: String,
}

/// What a submission did. Accepted events are durable; duplicates (an event id seen before)
/// change nothing; rejects were written to the dead-letter table.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SubmitReport {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: Vec<Reject>,
}

impl Stream {
    /// Validate and durably enqueue a batch of events. `source` names the entry point for the
    /// dead-letter table (`api`, `replay`, ...). Answers only once every accepted event is durable.
    pub async fn submit(&self, values: &[serde_json::Value], source: &str) -> Result<SubmitReport> {
        let inner = &self.inner;
        if values.len() > inner.cfg.max_batch {
            return Err(PipelineError::TooMany(format!(
                "{} events in one batch; at most {} are accepted",
                values.len(),
                inner.cfg.max_batch
            )));
        }
        let lag = match &inner.bus {
            None => {
                let head = inner.counters.head.load(Ordering::Relaxed);
                let offset = inner.counters.offset.load(Ordering::Relaxed);
                head - offset
            }
            Some(bus) => {
                let mut last = inner.backlog.lock().await;
                match *last {
                    Some((at, n)) if at.elapsed() < BACKLOG_EVERY => n as i64,
                    _ => {
                        let n = bus.backlog().await?;
                        *last = Some((std::time::Instant::now(), n));
                        n as i64
                    }
                }
            }
        };
        if lag > inner.cfg.max_lag {
            return Err(PipelineError::Backpressure {
                lag,
                retry_after_secs: 1,
            });
        }
        let mut report = SubmitReport::default();
        let mut dead = Vec::new();
        let mut good = Vec::with_capacity(values.len());
        for (index, v) in values.iter().enumerate() {
            match parse_event(v) {
                Ok(ev) => good.push(ev),
                Err(e) => {
                    let event_id = v
                        .get("event_id")
                        .and_then(|x| x.as_str())
                        .map(sextant_core::text::preview);
                    dead.push(DeadLetter {
                        source: source.to_string(),
                        position: Some(index as i64),
                        customer_id: v
                            .get("customer_id")
                            .and_then(|x| x.as_str())
                            .map(str::to_string),
                        received_micros: sextant_store::now_micros(),
                        payload: v.to_string(),
                        reason: e.to_string(),
                    });
                    report.rejected.push(Reject {
                        index,
                        event_id,
                        field: e.field.clone(),
                        reason: e.reason.clone(),
                    });
                }
            }
        }
        if !dead.is_empty() {
            inner.store.stream().dead_letter(&dead).await?;
            inner
                .counters
                .rejected
                .fetch_add(dead.len() as u64, Ordering::Relaxed);
        }
        if good.is_empty() {
            return Ok(report);
        }
        match &inner.bus {
            None => {
                let rows: Vec<NewLogEvent> = good
                    .iter()
                    .map(|ev| NewLogEvent {
                        event_id: ev.event_id.clone(),
                        customer_id: ev.customer_id.as_str().to_string(),
                        ts_micros: ev.timestamp.timestamp_micros(),
                        kind: ev.kind().to_string(),
                        body: ev.to_json_string(),
                    })
                    .collect();
                // Once durable (on the appender, in commit order), the parsed events go to the
                // processor's in-memory tail, so it need not read them back from the log.
                let tail_of = self.inner.clone();
                let parsed: Vec<std::sync::Arc<sextant_stream::StreamEvent>> =
                    good.into_iter().map(std::sync::Arc::new).collect();
                let then: sextant_store::AppendHook = Box::new(move |range, results| {
                    if let Some(range) = range {
                        tail_of
                            .tail
                            .lock()
                            .expect("poisoned")
                            .push(range, results, parsed);
                    }
                });
                let outcome = inner.store.stream().append_events_then(&rows, then).await?;
                let mut max_seq = 0;
                for o in outcome {
                    match o {
                        Appended::New(seq) => {
                            report.accepted += 1;
                            max_seq = max_seq.max(seq);
                        }
                        Appended::Duplicate(_) => report.duplicates += 1,
                    }
                }
                inner.counters.head.fetch_max(max_seq, Ordering::Relaxed);
                inner.wake.notify_one();
            }
            Some(bus) => {
                let n = bus.partitions();
                let msgs: Vec<Outgoing> = good
                    .iter()
                    .map(|ev| Outgoing {
                        partition: partition_of(ev.customer_id.as_str(), n),
                        msg_id: ev.event_id.clone(),
                        payload: ev.to_json_string().into_bytes().into(),
                    })
                    .collect();
                for ack in bus.publish_batch(&msgs).await? {
                    if ack.duplicate {
                        report.duplicates += 1;
                    } else {
                        report.accepted += 1;
                    }
                }
            }
        }
        inner
            .counters
            .accepted
            .fetch_add(report.accepted as u64, Ordering::Relaxed);
        inner
            .counters
            .duplicates
            .fetch_add(report.duplicates as u64, Ordering::Relaxed);
        Ok(report)
    }
}
