//! Configured fairness limits and the check that blocks a model promotion.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{AttributeReport, MetricKind};

/// Limits on the metrics of every audited attribute; `None` leaves a metric unchecked.
///
/// Loaded from configuration, e.g. in TOML:
/// ```toml
/// [fairness.thresholds]
/// max_demographic_parity_difference = 0.1
/// min_disparate_impact_ratio = 0.8
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    pub max_demographic_parity_difference: Option<f64>,
    pub min_disparate_impact_ratio: Option<f64>,
    pub max_equal_opportunity_difference: Option<f64>,
    pub max_equalized_odds_difference: Option<f64>,
}

/// Whether a threshold is an upper or a lower limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    Max,
    Min,
}

/// One metric of one attribute outside its configured limit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    pub attribute: String,
    pub metric: MetricKind,
    /// The metric's point estimate; `None` when it is undefined (see `reason`).
    pub value: Option<f64>,
    pub threshold: f64,
    pub bound: Bound,
    /// Why the metric is undefined, when `value` is `None`.
    pub reason: Option<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (limit, side) = match self.bound {
            Bound::Max => ("maximum", "above"),
            Bound::Min => ("minimum", "below"),
        };
        match self.value {
            Some(v) => write!(
                f,
                "{}: {} {v:.4} is {side} the {limit} {}",
                self.attribute, self.metric, self.threshold
            ),
            None => write!(
                f,
                "{}: {} is undefined ({}) but a {limit} of {} is configured",
                self.attribute,
                self.metric,
                self.reason.as_deref().unwrap_or("no reason given"),
                self.threshold
            ),
        }
    }
}

/// Slack for floating-point rounding: a value within this of its threshold passes.
const TOLERANCE: f64 = 1e-12;

/// The metrics of `report` that break `t`, in [`MetricKind`] order.
///
/// The point estimate is compared (not the interval); a value equal to its threshold passes.
/// A metric that is undefined while a threshold is set for it is a violation with
/// `value: None`: a promotion gate cannot pass what it cannot measure.
pub fn check(report: &AttributeReport, t: &Thresholds) -> Vec<Violation> {
    let limits = [
        (
            MetricKind::DemographicParityDifference,
            t.max_demographic_parity_difference,
            Bound::Max,
        ),
        (
            MetricKind::DisparateImpactRatio,
            t.min_disparate_impact_ratio,
            Bound::Min,
        ),
        (
            MetricKind::EqualOpportunityDifference,
            t.max_equal_opportunity_difference,
            Bound::Max,
        ),
        (
            MetricKind::EqualizedOddsDifference,
            t.max_equalized_odds_difference,
            Bound::Max,
        ),
    ];
    limits
        .into_iter()
        .filter_map(|(metric, threshold, bound)| {
            let threshold = threshold?;
            let m = report.metric(metric);
            let broken = match (m.value, bound) {
                (None, _) => true,
                (Some(v), Bound::Max) => v > threshold + TOLERANCE,
                (Some(v), Bound::Min) => v < threshold - TOLERANCE,
            };
            broken.then(|| Violation {
                attribute: report.attribute.clone(),
                metric,
                value: m.value,
                threshold,
                bound,
                reason: m.undefined_reason.clone(),
            })
        })
        .collect()
}
