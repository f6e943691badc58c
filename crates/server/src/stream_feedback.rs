//! Streamed `feedback` events → the next-best-action bandit, exactly as `POST /v1/feedback`
//! applies them (idempotent by event id), so the stream closes the learning loop too.

use sextant_intelligence::IntelError;
use sextant_intelligence::recommend::{self as nba, Recommender};
use sextant_pipeline::{FeedbackSink, StreamedFeedback};
use sextant_store::Store;
use std::sync::Arc;
use tokio::sync::RwLock;

/// The recommender a process builds on first use (shared with [`crate::AppState`] in a server).
pub(crate) type RecommenderSlot = Arc<RwLock<Option<Arc<Recommender>>>>;

/// The recommender in `slot`, built from `rules` and the store's catalog if it is not yet.
pub(crate) async fn recommender_in(
    slot: &RecommenderSlot,
    store: &dyn Store,
    rules: &str,
) -> Result<Arc<Recommender>, IntelError> {
    if let Some(r) = slot.read().await.as_ref() {
        return Ok(r.clone());
    }
    let mut w = slot.write().await;
    if let Some(r) = w.as_ref() {
        return Ok(r.clone());
    }
    let r = Arc::new(Recommender::load(store, rules).await?);
    *w = Some(r.clone());
    Ok(r)
}

/// A [`FeedbackSink`] that updates the bandit. Feedback that cannot apply — an unknown decision,
/// a decision of another customer, one that was never shown, an event id the recommender cannot
/// take — is logged (ids only) and dropped; only a store failure is returned, for the stream to
/// retry.
pub struct RecommenderFeedback {
    store: Arc<dyn Store>,
    rules: Arc<String>,
    slot: RecommenderSlot,
}

impl RecommenderFeedback {
    /// For a process without an [`crate::AppState`] (a NATS worker).
    pub fn new(store: Arc<dyn Store>, rules: String) -> Self {
        Self {
            store,
            rules: Arc::new(rules),
            slot: RecommenderSlot::default(),
        }
    }

    pub(crate) fn sharing(
        store: Arc<dyn Store>,
        rules: Arc<String>,
        slot: RecommenderSlot,
    ) -> Self {
        Self { store, rules, slot }
    }
}

fn retry_or_drop(e: IntelError, fb: &StreamedFeedback) -> Result<(), String> {
    match e {
        IntelError::Store(_) | IntelError::Busy(_) => Err(e.to_string()),
        other => {
            tracing::warn!(event = %fb.event_id, decision = %fb.decision_id, error = %other,
                "streamed feedback not applied");
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl FeedbackSink for RecommenderFeedback {
    async fn apply(&self, fb: &StreamedFeedback) -> Result<(), String> {
        let store = self.store.as_ref();
        let skip = |why: &str| {
            tracing::warn!(event = %fb.event_id, decision = %fb.decision_id, "streamed feedback not applied: {why}");
            Ok(())
        };
        let decision = match nba::feedback_decision(store, &fb.decision_id).await {
            Ok(Some(d)) => d,
            Ok(None) => return skip("no such recommendation"),
            Err(e) => return retry_or_drop(e, fb),
        };
        if decision.customer_id != fb.customer_id {
            return skip("the recommendation belongs to another customer");
        }
        if decision.status != "shown" {
            return skip("the recommendation was not shown to the customer");
        }
        let Ok(event_id) = sextant_core::EventId::parse(&fb.event_id) else {
            return skip("the event id is not a valid feedback event id");
        };
        let rec = match recommender_in(&self.slot, store, &self.rules).await {
            Ok(r) => r,
            Err(e) => return retry_or_drop(e, fb),
        };
        let applied = nba::feedback(
            store,
            &rec,
            &decision,
            &nba::Feedback {
                event_id,
                decision_id: fb.decision_id.clone(),
                kind: fb.kind,
                at: fb.at,
            },
        )
        .await;
        match applied {
            Ok(_) => Ok(()),
            Err(e) => retry_or_drop(e, fb),
        }
    }
}
