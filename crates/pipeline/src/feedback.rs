//! Streamed `feedback` events about a recommendation, handed to the recommender.
//!
//! The stream's engine only counts feedback in the customer's windows; what a `feedback` event
//! means for the next-best-action bandit is the recommender's business, which this crate does not
//! know. A process that runs the recommender (the server, a NATS worker) registers a
//! [`FeedbackSink`] with [`crate::Stream::set_feedback_sink`]; every newly applied feedback event
//! that names a decision (and is not a survey) is handed to it before the batch commits, so a
//! crash before the commit hands it over again on replay — the sink must be idempotent by event
//! id, as `POST /v1/feedback` is.

use sextant_core::{CustomerId, DecisionId, EventKind};
use sextant_stream::{EventBody, StreamEvent};

/// One streamed feedback event about a recommendation.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamedFeedback {
    pub event_id: String,
    pub customer_id: CustomerId,
    pub decision_id: DecisionId,
    pub kind: EventKind,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Where streamed feedback goes. `Err` means "try again" (the store is unavailable): the stream
/// retries with back-off and does not move past the event. Feedback that can never apply (an
/// unknown decision, another customer's decision) is the sink's to log and drop with `Ok`.
#[async_trait::async_trait]
pub trait FeedbackSink: Send + Sync {
    async fn apply(&self, fb: &StreamedFeedback) -> Result<(), String>;
}

/// The feedback a sink should see: a `feedback` event naming a decision, not a survey.
pub(crate) fn as_feedback(ev: &StreamEvent) -> Option<StreamedFeedback> {
    let EventBody::Feedback {
        kind,
        decision_id: Some(decision_id),
        ..
    } = &ev.body
    else {
        return None;
    };
    (*kind != EventKind::Survey).then(|| StreamedFeedback {
        event_id: ev.event_id.clone(),
        customer_id: ev.customer_id.clone(),
        decision_id: decision_id.clone(),
        kind: *kind,
        at: ev.timestamp,
    })
}
