//! Predictive models for any tabular data with a binary target: credit-default risk, churn and
//! product propensity in Sextant, or an analyst's own CSV.
//!
//! * [`Dataset::from_csv`] reads a CSV, detects numeric and categorical columns (one-hot, at most
//!   [`MAX_LEVELS`] levels), turns missing values into NaN and parses a binary target, with
//!   errors that name the line and column.
//! * [`Gbdt`] — gradient-boosted trees (the `perpetual` crate) with exact TreeSHAP
//!   ([`Gbdt::explain`]) and Platt calibration ([`Gbdt::calibrated_proba`]).
//! * [`Logistic`] — the L2-regularised logistic baseline with exact linear SHAP.
//! * [`metrics`](mod@metrics) — ROC-AUC, PR-AUC, log loss, Brier, precision/recall/F1, matching
//!   scikit-learn; [`evaluate`] — stratified k-fold CV of both models; [`render_table`].
//! * [`reason_codes`] — the top features behind a prediction, in plain words.
//! * [`anomaly`] — an isolation forest with exact per-feature path-length reasons, a robust
//!   (median / MAD) baseline, and the formula combining them into one anomaly score.
//! * [`counterfactuals`] — the smallest change to one or two actionable features that flips a
//!   [`Gbdt`] decision, found by scanning the model's own split thresholds.
//! * [`ModelCard`] — the record the model registry stores.
//!
//! Every explanation satisfies `base_value + Σ shap == raw_score` (log-odds).
//!
//! **Invariant:** pure computation; the only I/O is reading the CSV file in
//! [`Dataset::from_csv`]. No async, no network, no clock.

pub mod anomaly;
mod calibration;
mod card;
mod counterfactual;
mod dataset;
mod error;
mod evaluate;
mod explain;
mod gbdt;
mod logistic;
pub mod metrics;

pub use calibration::Platt;
pub use card::ModelCard;
pub use counterfactual::{Actionable, Change, Counterfactual, Direction, counterfactuals};
pub use dataset::{ColumnKind, ColumnSpec, Dataset, FeatureInfo, MAX_LEVELS, Schema};
pub use error::ModelError;
pub use evaluate::{
    Evaluation, ModelEvaluation, TrainParams, evaluate, render_table, stratified_folds,
};
pub use explain::{Contribution, Explanation, reason_codes, sigmoid};
pub use gbdt::{Gbdt, GbdtParams};
pub use logistic::{Logistic, LogisticParams};
pub use metrics::Metrics;

/// Per-feature training means, ignoring NaN (NaN for an all-missing feature).
pub(crate) fn column_means(data: &Dataset) -> Vec<f64> {
    let mut sum = vec![0.0; data.cols];
    let mut n = vec![0usize; data.cols];
    for i in 0..data.rows {
        for (j, v) in data.row(i).iter().enumerate() {
            if !v.is_nan() {
                sum[j] += v;
                n[j] += 1;
            }
        }
    }
    sum.iter()
        .zip(&n)
        .map(|(s, &c)| if c == 0 { f64::NAN } else { s / c as f64 })
        .collect()
}
