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

/// A customer's current consents, derived from their history (the latest record per purpose
/// wins). Absent means not granted: Sextant is opt-in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsentState {
    pub personalization: bool,
    pub marketing: bool,
    pub profiling: bool,
    pub automated_decisions: bool,
    pub data_sharing: bool,
    /// CCPA "do not sell or share": when set, data sharing is refused whatever else says.
    pub do_not_sell: bool,
}

impl ConsentState {
    /// Fold a history (any order) into the current state.
    ///
    /// `defaults` are the purposes the bank has declared another legal basis for (e.g.
    /// legitimate interest): granted until the customer objects. With no defaults Sextant is
    /// purely opt-in.
    pub fn from_history(
        history: &[ConsentRecord],
        do_not_sell: bool,
        defaults: &[ConsentPurpose],
    ) -> Self {
        let mut sorted: Vec<&ConsentRecord> = history.iter().collect();
        sorted.sort_by_key(|r| r.at);
        let mut s = ConsentState {
            do_not_sell,
            ..Default::default()
        };
        for p in defaults {
            *s.slot(*p) = true;
        }
        for r in sorted {
            *s.slot(r.purpose) = r.granted;
        }
        s
    }

    fn slot(&mut self, p: ConsentPurpose) -> &mut bool {
        match p {
            ConsentPurpose::Personalization => &mut self.personalization,
            ConsentPurpose::Marketing => &mut self.marketing,
            ConsentPurpose::Profiling => &mut self.profiling,
            ConsentPurpose::AutomatedDecisions => &mut self.automated_decisions,
            ConsentPurpose::DataSharing => &mut self.data_sharing,
        }
    }

    /// Whether `purpose` may be used now.
    pub fn allows(&self, purpose: ConsentPurpose) -> bool {
        match purpose {
            ConsentPurpose::Personalization => self.personalization,
            ConsentPurpose::Marketing => self.marketing,
            ConsentPurpose::Profiling => self.profiling,
            ConsentPurpose::AutomatedDecisions => self.automated_decisions,
            ConsentPurpose::DataSharing => self.data_sharing && !self.do_not_sell,
        }
    }

    /// `Ok` if `purpose` is allowed, else why not (for problem details and audit).
    pub fn require(&self, purpose: ConsentPurpose) -> Result<(), ConsentRefused> {
        if self.allows(purpose) {
            Ok(())
        } else {
            Err(ConsentRefused { purpose })
        }
    }
}

/// Processing refused for lack of consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the customer has not consented to {purpose}")]
pub struct ConsentRefused {
    pub purpose: ConsentPurpose,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(purpose: ConsentPurpose, granted: bool, secs: i64) -> ConsentRecord {
        ConsentRecord {
            customer_id: CustomerId::parse("1").unwrap(),
            purpose,
            granted,
            at: DateTime::from_timestamp(secs, 0).unwrap(),
            source: "customer".into(),
        }
    }

    #[test]
    fn latest_record_wins_and_absent_means_no() {
        let h = [
            rec(ConsentPurpose::Marketing, true, 10),
            rec(ConsentPurpose::Marketing, false, 20),
            rec(ConsentPurpose::Profiling, true, 5),
        ];
        let s = ConsentState::from_history(&h, false, &[]);
        assert!(!s.allows(ConsentPurpose::Marketing));
        assert!(s.allows(ConsentPurpose::Profiling));
        assert!(
            !s.allows(ConsentPurpose::Personalization),
            "opt-in: nothing recorded means no"
        );
        assert_eq!(
            s.require(ConsentPurpose::Marketing)
                .unwrap_err()
                .to_string(),
            "the customer has not consented to marketing"
        );
    }

    #[test]
    fn declared_defaults_hold_until_the_customer_objects() {
        let d = [ConsentPurpose::Profiling];
        assert!(ConsentState::from_history(&[], false, &d).allows(ConsentPurpose::Profiling));
        let h = [rec(ConsentPurpose::Profiling, false, 1)];
        assert!(!ConsentState::from_history(&h, false, &d).allows(ConsentPurpose::Profiling));
    }

    #[test]
    fn do_not_sell_overrides_data_sharing() {
        let h = [rec(ConsentPurpose::DataSharing, true, 1)];
        assert!(ConsentState::from_history(&h, false, &[]).allows(ConsentPurpose::DataSharing));
        assert!(!ConsentState::from_history(&h, true, &[]).allows(ConsentPurpose::DataSharing));
    }
}
