//! Experiment definitions: what is tested ([`ExperimentKind`]), the arms with their traffic
//! weights (arm 0 is the control), the holdout kept out of every arm, the significance level and
//! the guardrail metrics that must not get worse. [`ExperimentSpec`] deserialises straight from
//! the API's JSON (unknown fields are refused, optional fields take the defaults stated on each
//! field) and [`ExperimentSpec::validate`] reports every problem at once.

use serde::{Deserialize, Serialize};

use crate::error::{FieldProblem, join};

/// What the experiment varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentKind {
    /// A ranking or decision strategy (e.g. two recommender configurations).
    Strategy,
    /// The wording or content of a message.
    Message,
    /// The channel a message is sent through (push, e-mail, in-app).
    Channel,
}

/// How traffic is split between arms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Allocation {
    /// The weights of the spec, for the whole experiment (the default). Needed for the
    /// fixed-horizon and sequential tests of [`crate::analysis`] to be valid.
    #[default]
    Fixed,
    /// Weights moved by a bandit while the experiment runs. The tests of this crate assume
    /// fixed weights; with a bandit, treat the comparisons as descriptive and the SRM check as
    /// meaningless (the analysis adds a warning).
    Bandit,
}

/// One variant of the experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    /// Unique within the experiment, `[a-z0-9_-]{1,32}`.
    pub name: String,
    /// Relative share of the non-holdout traffic: arm i gets wᵢ / Σw. Finite and > 0.
    pub weight: f64,
    /// Free-form configuration the caller applies for this arm (default `null`).
    #[serde(default)]
    pub config: serde_json::Value,
}

/// A customer-level rate that a treatment must not raise by more than `max_increase`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guardrail {
    /// Which rate is watched.
    pub metric: GuardrailMetric,
    /// Largest tolerated increase of the rate, on the absolute scale (0.01 = one percentage
    /// point). Finite, 0 ≤ value ≤ 1.
    pub max_increase: f64,
}

/// Rates watched by guardrails: the share of exposed customers with at least one such event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailMetric {
    /// Customers who dismissed the offer or message.
    DismissRate,
    /// Customers who complained.
    ComplaintRate,
    /// Customers who unsubscribed from the channel.
    UnsubscribeRate,
}

impl GuardrailMetric {
    /// Every metric, in a fixed order.
    pub const ALL: [GuardrailMetric; 3] = [
        GuardrailMetric::DismissRate,
        GuardrailMetric::ComplaintRate,
        GuardrailMetric::UnsubscribeRate,
    ];

    /// The JSON name, also the key of [`crate::analysis::ArmData::guardrail_events`].
    pub fn as_str(self) -> &'static str {
        match self {
            GuardrailMetric::DismissRate => "dismiss_rate",
            GuardrailMetric::ComplaintRate => "complaint_rate",
            GuardrailMetric::UnsubscribeRate => "unsubscribe_rate",
        }
    }

    /// The metric with JSON name `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

fn default_alpha() -> f64 {
    0.05
}

/// An A/B/n experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Stable identifier, `[a-z0-9_-]{1,64}`; also the default assignment salt.
    pub id: String,
    /// Human-readable name, 1 to 200 characters.
    pub name: String,
    /// What is varied.
    pub kind: ExperimentKind,
    /// At least two arms with unique names; `arms[0]` is the control.
    pub arms: Vec<Arm>,
    /// Share of customers kept out of the experiment entirely (they see the business as usual
    /// and measure its overall effect), 0 ≤ h < 1. Default 0.
    #[serde(default)]
    pub holdout: f64,
    /// Fixed weights (default) or a bandit.
    #[serde(default)]
    pub allocation: Allocation,
    /// Family-wise significance level, 0 < α < 0.5. Default 0.05.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Metrics that must not get worse. Default none.
    #[serde(default)]
    pub guardrails: Vec<Guardrail>,
    /// Assignment salt; defaults to `id`. Changing it reshuffles every customer.
    #[serde(default)]
    pub salt: Option<String>,
}

/// The spec is not valid; every problem found is listed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// One or more fields are invalid.
    #[error("invalid experiment spec: {}", join(.0))]
    Invalid(Vec<FieldProblem>),
}

impl SpecError {
    /// The problems found.
    pub fn problems(&self) -> &[FieldProblem] {
        match self {
            SpecError::Invalid(p) => p,
        }
    }
}

/// `[a-z0-9_-]{1,max}`.
fn is_slug(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl ExperimentSpec {
    /// The salt used by [`crate::assign::assign`]: `salt` if given, else `id`.
    pub fn effective_salt(&self) -> &str {
        self.salt.as_deref().unwrap_or(&self.id)
    }

    /// Checks every field and returns all problems found, each naming its field
    /// (`id`, `arms[1].weight`, `guardrails[0].max_increase`, …).
    pub fn validate(&self) -> Result<(), SpecError> {
        let mut problems = Vec::new();
        let mut bad =
            |field: String, reason: String| problems.push(FieldProblem::new(field, reason));

        if !is_slug(&self.id, 64) {
            bad(
                "id".into(),
                format!("must match [a-z0-9_-]{{1,64}}, got {:?}", self.id),
            );
        }
        let name_len = self.name.chars().count();
        if name_len == 0 || name_len > 200 || self.name.trim().is_empty() {
            bad(
                "name".into(),
                format!("must be 1 to 200 characters and not blank, got {name_len} characters"),
            );
        }
        if self.arms.len() < 2 {
            bad(
                "arms".into(),
                format!(
                    "needs at least 2 arms (a control and a treatment), got {}",
                    self.arms.len()
                ),
            );
        }
        let mut seen = std::collections::BTreeMap::new();
        for (i, arm) in self.arms.iter().enumerate() {
            if !is_slug(&arm.name, 32) {
                bad(
                    format!("arms[{i}].name"),
                    format!("must match [a-z0-9_-]{{1,32}}, got {:?}", arm.name),
                );
            } else if let Some(first) = seen.insert(arm.name.as_str(), i) {
                bad(
                    format!("arms[{i}].name"),
                    format!("duplicate arm name {:?} (also arms[{first}])", arm.name),
                );
            }
            if !(arm.weight.is_finite() && arm.weight > 0.0) {
                bad(
                    format!("arms[{i}].weight"),
                    format!("must be finite and > 0, got {}", arm.weight),
                );
            }
        }
        if !(self.holdout.is_finite() && (0.0..1.0).contains(&self.holdout)) {
            bad(
                "holdout".into(),
                format!("must be in [0, 1), got {}", self.holdout),
            );
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0 && self.alpha < 0.5) {
            bad(
                "alpha".into(),
                format!("must be in (0, 0.5), got {}", self.alpha),
            );
        }
        let mut metrics = std::collections::BTreeMap::new();
        for (i, g) in self.guardrails.iter().enumerate() {
            if !(g.max_increase.is_finite() && (0.0..=1.0).contains(&g.max_increase)) {
                bad(
                    format!("guardrails[{i}].max_increase"),
                    format!(
                        "must be in [0, 1] (an absolute rate increase), got {}",
                        g.max_increase
                    ),
                );
            }
            if let Some(first) = metrics.insert(g.metric, i) {
                bad(
                    format!("guardrails[{i}].metric"),
                    format!(
                        "{} is already guarded by guardrails[{first}]",
                        g.metric.as_str()
                    ),
                );
            }
        }
        if let Some(salt) = &self.salt
            && (salt.is_empty() || salt.len() > 256)
        {
            bad(
                "salt".into(),
                format!("must be 1 to 256 bytes, got {}", salt.len()),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SpecError::Invalid(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "id": "welcome-push",
            "name": "Welcome push wording",
            "kind": "message",
            "arms": [{"name": "control", "weight": 1}, {"name": "friendly", "weight": 1}]
        })
    }

    #[test]
    fn defaults_apply() {
        let s: ExperimentSpec = serde_json::from_value(minimal()).unwrap();
        assert_eq!(s.holdout, 0.0);
        assert_eq!(s.alpha, 0.05);
        assert_eq!(s.allocation, Allocation::Fixed);
        assert!(s.guardrails.is_empty());
        assert_eq!(s.effective_salt(), "welcome-push");
        assert_eq!(s.arms[0].config, serde_json::Value::Null);
        s.validate().unwrap();
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut v = minimal();
        v["colour"] = serde_json::json!("red");
        let e = serde_json::from_value::<ExperimentSpec>(v).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        let mut v = minimal();
        v["arms"][0]["wieght"] = serde_json::json!(1);
        assert!(serde_json::from_value::<ExperimentSpec>(v).is_err());
    }

    #[test]
    fn enums_are_snake_case() {
        let g: Guardrail =
            serde_json::from_str(r#"{"metric":"unsubscribe_rate","max_increase":0.01}"#).unwrap();
        assert_eq!(g.metric, GuardrailMetric::UnsubscribeRate);
        assert_eq!(
            serde_json::to_string(&Allocation::Bandit).unwrap(),
            "\"bandit\""
        );
        for m in GuardrailMetric::ALL {
            assert_eq!(
                serde_json::to_string(&m).unwrap(),
                format!("\"{}\"", m.as_str())
            );
            assert_eq!(GuardrailMetric::parse(m.as_str()), Some(m));
        }
    }
}
