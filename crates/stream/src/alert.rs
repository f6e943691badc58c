//! Alerts: what a rule raises, with a stable id, a reason sentence whose numbers all come from
//! its `figures`, and the ids of the events that triggered it.
//!
//! The id is the hex SHA-256 of `sextant-alert-v1`, the rule id, the customer id and the
//! triggering event ids, each followed by a NUL byte (ids never contain NUL, so the encoding is
//! unambiguous). The same rule on the same events of the same customer always gives the same
//! id, so re-processing a stream (replay, redelivery) inserts nothing new.

use crate::event::wire_enum;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sextant_core::{CustomerId, FieldError};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

wire_enum!(
    /// What an alert is about.
    AlertKind, "alert kind" {
        Fraud => "fraud", Distress => "distress", Opportunity => "opportunity", Info => "info",
    }
);
wire_enum!(
    /// How urgent an alert is.
    Severity, "severity" { Low => "low", Medium => "medium", High => "high" }
);

/// What should happen with an alert: a case for the bank's analysts (`alert`), a product nudge
/// to the customer (`nudge`), or a warning to the customer (`warning`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AlertAction {
    Alert,
    Nudge { product_family: Option<String> },
    Warning,
}

/// One alert raised by one rule for one customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alert {
    /// Hex SHA-256 of the rule id, the customer id and the triggering event ids (see [`alert_id`]).
    pub id: String,
    /// The rule's id in the rules file.
    pub rule: String,
    pub kind: AlertKind,
    pub severity: Severity,
    pub action: AlertAction,
    /// Hold related automated decisions for a human (set per rule).
    pub hold_for_review: bool,
    pub customer_id: CustomerId,
    /// Event time of the last triggering event.
    pub at: DateTime<Utc>,
    /// One sentence; every number in it is in `figures`.
    pub reason: String,
    #[schema(value_type = Object)]
    pub figures: BTreeMap<String, serde_json::Value>,
    /// Triggering event ids, in order.
    pub events: Vec<String>,
}

/// The alert id rule: hex SHA-256 over `sextant-alert-v1\0`, `rule\0`, `customer\0` and each
/// `event_id\0`.
pub fn alert_id(rule: &str, customer: &CustomerId, events: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(b"sextant-alert-v1\0");
    h.update(rule.as_bytes());
    h.update([0]);
    h.update(customer.as_str().as_bytes());
    h.update([0]);
    for e in events {
        h.update(e.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// An amount in minor units as the customer reads it: `1,250.00` (exponent 2), `-3` (exponent 0).
pub fn format_minor(minor: i64, exponent: u8) -> String {
    let scale = 10u64.pow(u32::from(exponent));
    let abs = minor.unsigned_abs();
    let int = group_thousands(abs / scale);
    let sign = if minor < 0 { "-" } else { "" };
    if exponent == 0 {
        format!("{sign}{int}")
    } else {
        format!(
            "{sign}{int}.{:0width$}",
            abs % scale,
            width = exponent as usize
        )
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Round to one decimal place (for ratios and percentages shown in reasons).
pub(crate) fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Parse helper shared by the rules file: the closed enums above from their wire names.
pub(crate) fn parse_enum<T: std::str::FromStr<Err = FieldError>>(s: &str) -> Result<T, String> {
    s.parse::<T>().map_err(|e| e.reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_unambiguous() {
        let c = CustomerId::parse("42").unwrap();
        let a = alert_id("velocity", &c, &["e1".into(), "e2".into()]);
        assert_eq!(a.len(), 64);
        assert_eq!(a, alert_id("velocity", &c, &["e1".into(), "e2".into()]));
        assert_ne!(a, alert_id("velocity", &c, &["e1e2".into()]));
        assert_ne!(a, alert_id("velocity", &c, &["e2".into(), "e1".into()]));
        assert_ne!(
            a,
            alert_id(
                "velocit",
                &CustomerId::parse("y42").unwrap(),
                &["e1".into(), "e2".into()]
            )
        );
        // Pinned: changing the rule changes every stored alert id.
        assert_eq!(
            alert_id("r", &c, &["e".into()]),
            hex::encode(Sha256::digest(b"sextant-alert-v1\x00r\x0042\x00e\x00"))
        );
    }

    #[test]
    fn formats_amounts() {
        assert_eq!(format_minor(125_000, 2), "1,250.00");
        assert_eq!(format_minor(-5, 2), "-0.05");
        assert_eq!(format_minor(1_234_567_890, 0), "1,234,567,890");
        assert_eq!(format_minor(100, 3), "0.100");
        assert_eq!(format_minor(99_999, 2), "999.99");
        assert_eq!(round1(8.333), 8.3);
    }

    #[test]
    fn action_wire_form() {
        let a = AlertAction::Nudge {
            product_family: Some("savings".into()),
        };
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"type":"nudge","product_family":"savings"}"#
        );
        assert_eq!(
            serde_json::to_string(&AlertAction::Warning).unwrap(),
            r#"{"type":"warning"}"#
        );
        assert_eq!(serde_json::to_string(&Severity::High).unwrap(), r#""high""#);
    }
}
