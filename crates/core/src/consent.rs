//! Consent purposes: what a customer has agreed Sextant may use their data for.

use crate::error::closed_enum;
use crate::ids::CustomerId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

closed_enum!(
    /// The purposes a customer can opt in to or out of, one by one.
    ConsentPurpose, "consent purpose" {
        Personalization => "personalization", Marketing => "marketing", Profiling => "profiling",
        AutomatedDecisions => "automated_decisions", DataSharing => "data_sharing",
    }
);

/// One consent change; the store keeps every one (full history), latest wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsentRecord {
    pub customer_id: CustomerId,
    pub purpose: ConsentPurpose,
    pub granted: bool,
    pub at: DateTime<Utc>,
    /// Who or what recorded it: `customer`, `import`, an admin key id.
    pub source: String,
}
