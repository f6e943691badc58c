//! Fairness audits: how a decision (an approval, a recommendation, a model's prediction) differs
//! between the groups of a protected attribute, with bootstrap confidence intervals.
//!
//! The input is a list of [`Record`]s — one decision each: the group it belongs to, whether the
//! outcome was favourable (`pred`), and the ground truth when known (`label`). They come from
//! Sextant's own decisions, or from any CSV file through [`from_csv`]. [`audit`] turns the records
//! of one attribute into an [`AttributeReport`]:
//!
//! * per group: size, selection rate, true positive rate and false positive rate;
//! * across groups, each with a percentile bootstrap interval:
//!   demographic parity difference (max − min selection rate),
//!   disparate impact ratio (min / max selection rate) with the four-fifths flag,
//!   equal opportunity difference (max − min TPR) and
//!   equalized odds difference (the larger of the TPR and FPR differences).
//!
//! The definitions match Fairlearn's `demographic_parity_difference`, `demographic_parity_ratio`,
//! `MetricFrame(true_positive_rate).difference()` and `equalized_odds_difference` (agg
//! `"worst_case"`); `tests/fixtures/credit.fairlearn.json` holds Fairlearn's values for
//! `tests/fixtures/credit.csv` and a test checks them to 1e-9.
//!
//! [`check`] compares a report with configured [`Thresholds`] (used to block a model promotion),
//! and [`render_table`] prints reports for a terminal; reports serialise to JSON with serde.
//!
//! **Invariant:** no network, no async; the only I/O is reading the CSV file in [`from_csv`].

mod error;
mod input;
mod metrics;
mod table;
mod thresholds;

pub use error::FairnessError;
pub use input::MISSING_GROUP;
pub use input::from_csv;
pub use metrics::{
    AttributeReport, AuditOptions, BootstrapSettings, GroupStats, Interval, MetricEstimate,
    MetricKind, audit,
};
pub use table::render_table;
pub use thresholds::{Bound, Thresholds, Violation, check};

/// One decision about one person, seen through one protected attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Record {
    /// The person's group for the attribute being audited (e.g. `"F"` for gender).
    pub group: String,
    /// The favourable outcome was given (approved, recommended, predicted positive).
    pub pred: bool,
    /// Ground truth, when known: the person deserved the favourable outcome (e.g. repaid).
    /// Needed for the true/false positive rates; records without a label count only towards
    /// selection rates.
    pub label: Option<bool>,
}

impl Record {
    /// A record with a known label.
    pub fn new(group: impl Into<String>, pred: bool, label: bool) -> Self {
        Self {
            group: group.into(),
            pred,
            label: Some(label),
        }
    }

    /// A record without ground truth (only its selection counts).
    pub fn unlabelled(group: impl Into<String>, pred: bool) -> Self {
        Self {
            group: group.into(),
            pred,
            label: None,
        }
    }
}
