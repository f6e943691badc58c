//! Data-subject requests over any [`Store`]: everything held about one customer, gathered for
//! an export (GDPR art. 15 / 20, CCPA right to know).

use crate::{ConversationRow, GoalRow, Result, ReviewCase, Store, TurnRow};
use serde::Serialize;
use sextant_core::{
    Account, ConsentRecord, ConsentState, Customer, CustomerEvent, CustomerId, CustomerMessage,
    Decision, ProtectedAttributes, Transaction,
};

/// Everything Sextant holds about a customer. Later capabilities (features, segments, scores,
/// embeddings) add their sections here, so an export is always complete.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerExport {
    pub exported_at: chrono::DateTime<chrono::Utc>,
    pub customer: Customer,
    /// Held for fairness audits only.
    pub protected_attributes: Option<ProtectedAttributes>,
    pub consents: ConsentState,
    pub consent_history: Vec<ConsentRecord>,
    pub accounts: Vec<Account>,
    pub transactions: Vec<Transaction>,
    pub messages: Vec<CustomerMessage>,
    pub events: Vec<CustomerEvent>,
    /// Decisions with their explanations and versions.
    pub decisions: Vec<Decision>,
    /// Decisions held for human review, with the reviewers' outcomes and notes.
    pub reviews: Vec<ReviewCase>,
    /// The customer's feature vector (profiling), as stored.
    #[schema(value_type = Option<Object>)]
    pub features: Option<serde_json::Value>,
    /// The customer's segment (profiling).
    pub segment: Option<ExportedSegment>,
    /// Conversations with the assistant, most recently updated first, each with every turn.
    pub conversations: Vec<ExportedConversation>,
    /// Savings goals, by creation time.
    pub goals: Vec<GoalRow>,
    /// How the customer wants to be contacted, as they set it.
    #[schema(value_type = Option<Object>)]
    pub contact_preferences: Option<serde_json::Value>,
    /// The experiments the customer was assigned to, with the arm and when.
    pub experiment_exposures: Vec<crate::ExposureRow>,
}

/// One conversation with the assistant and all its turns, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExportedConversation {
    pub conversation: ConversationRow,
    pub turns: Vec<TurnRow>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExportedSegment {
    pub model_version: i64,
    pub segment_id: String,
}

/// Gather the export; `None` if the customer is unknown.
pub async fn export_customer(
    store: &dyn Store,
    id: &CustomerId,
    consent_defaults: &[sextant_core::ConsentPurpose],
) -> Result<Option<CustomerExport>> {
    let Some(customer) = store.get_customer(id).await? else {
        return Ok(None);
    };
    let transactions = store.all_transactions(id).await?;
    let assistant = store.assistant();
    let mut conversations = Vec::new();
    for conversation in assistant
        .customer_conversations(id.as_str(), u32::MAX)
        .await?
    {
        let turns = assistant.recent_turns(&conversation.id, u32::MAX).await?;
        conversations.push(ExportedConversation {
            conversation,
            turns,
        });
    }
    Ok(Some(CustomerExport {
        exported_at: chrono::Utc::now(),
        protected_attributes: store.get_protected(id).await?,
        consents: store
            .consent_state(id, consent_defaults)
            .await?
            .unwrap_or_default(),
        consent_history: store.consent_history(id).await?,
        accounts: store.list_accounts(id).await?,
        transactions,
        messages: store.list_messages(id).await?,
        events: store.list_events(id).await?,
        decisions: store.list_decisions(id).await?,
        reviews: store.customer_reviews(id).await?,
        features: match store.get_features(id).await? {
            Some(f) => serde_json::from_str(&f.vector).ok(),
            None => None,
        },
        segment: store.get_segment(id).await?.map(|s| ExportedSegment {
            model_version: s.model_version,
            segment_id: s.segment_id,
        }),
        conversations,
        goals: assistant.goals(id.as_str()).await?,
        contact_preferences: store
            .outcomes()
            .contact_preferences(id.as_str())
            .await?
            .and_then(|b| serde_json::from_str(&b).ok()),
        experiment_exposures: store.outcomes().customer_exposures(id.as_str()).await?,
        customer,
    }))
}
