//! Customer messages: free text the customer wrote to the bank (chat, e-mail, complaint).

use crate::ids::{CustomerId, MessageId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomerMessage {
    pub id: MessageId,
    pub customer_id: CustomerId,
    pub timestamp: DateTime<Utc>,
    /// `chat`, `email`, `app`, `phone`, `branch`.
    pub channel: String,
    pub body: String,
    /// Sentiment in [-1, 1] once scored.
    pub sentiment: Option<f64>,
}
