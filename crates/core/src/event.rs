//! Customer events: how customers responded to what Sextant showed them.

use crate::error::closed_enum;
use crate::ids::{CustomerId, DecisionId, EventId, ProductId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

closed_enum!(
    /// Feedback kinds. `survey` carries an NPS score 0–10 in `value`.
    EventKind, "event kind" {
        Impression => "impression", Click => "click", Accept => "accept",
        Dismiss => "dismiss", Survey => "survey",
    }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomerEvent {
    pub id: EventId,
    pub customer_id: CustomerId,
    pub timestamp: DateTime<Utc>,
    pub kind: EventKind,
    pub product_id: Option<ProductId>,
    pub decision_id: Option<DecisionId>,
    /// Survey score (NPS 0–10) for `survey` events.
    pub value: Option<i32>,
}
