//! Decisions: anything Sextant showed or did for a customer, with what it was based on.

use crate::ids::{CustomerId, DecisionId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    pub id: DecisionId,
    pub customer_id: CustomerId,
    pub at: DateTime<Utc>,
    /// `next_best_action`, `insight`, `answer`, `alert`, ...
    pub kind: String,
    /// Model and rule versions behind the decision.
    pub versions: serde_json::Value,
    /// The decision itself, its reasons and explanation.
    pub payload: serde_json::Value,
    /// `shown`, `pending_review`, `approved`, `rejected`.
    pub status: String,
}
