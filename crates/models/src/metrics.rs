//! Classification metrics on probabilities, defined as scikit-learn defines them
//! (`roc_auc_score`, `average_precision_score`, `log_loss`, `brier_score_loss`,
//! `precision_score` / `recall_score` / `f1_score` with `zero_division=0`);
//! `tests/fixtures/metrics.sklearn.json` holds scikit-learn's values for a fixture with ties and
//! a test checks ours against them.

use serde::{Deserialize, Serialize};

/// The metrics `sextant model evaluate` prints, for one model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Area under the ROC curve (ties count one half). NaN when only one class is present.
    pub roc_auc: f64,
    /// Average precision (area under the precision–recall curve, step-wise). NaN with no positives.
    pub pr_auc: f64,
    /// Mean negative log-likelihood (probabilities clipped to `[ε, 1 − ε]`, ε = `f64::EPSILON`).
    pub log_loss: f64,
    /// Mean squared error of the probability.
    pub brier: f64,
    /// Rows with probability ≥ this are predicted positive.
    pub threshold: f64,
    /// Precision at the threshold (0 when nothing is predicted positive).
    pub precision: f64,
    /// Recall at the threshold (0 when there are no positives).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
}

/// All metrics at once. `y` holds 0/1, `p` probabilities.
pub fn metrics(y: &[f64], p: &[f64], threshold: f64) -> Metrics {
    let (precision, recall, f1) = precision_recall_f1(y, p, threshold);
    Metrics {
        roc_auc: roc_auc(y, p),
        pr_auc: average_precision(y, p),
        log_loss: log_loss(y, p),
        brier: brier(y, p),
        threshold,
        precision,
        recall,
        f1,
    }
}

/// ROC-AUC by the rank-sum (Mann–Whitney) formula with mid-ranks for ties.
pub fn roc_auc(y: &[f64], p: &[f64]) -> f64 {
    let n = y.len();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && p[idx[j + 1]] == p[idx[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their average.
        let mid = (i + j + 2) as f64 / 2.0;
        for &k in &idx[i..=j] {
            if y[k] == 1.0 {
                rank_sum_pos += mid;
            }
        }
        i = j + 1;
    }
    let n_pos = y.iter().filter(|v| **v == 1.0).count() as f64;
    let n_neg = n as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return f64::NAN;
    }
    (rank_sum_pos - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

/// Average precision: `Σₙ (Rₙ − Rₙ₋₁) Pₙ` over the distinct scores, highest first.
pub fn average_precision(y: &[f64], p: &[f64]) -> f64 {
    let n_pos = y.iter().filter(|v| **v == 1.0).count() as f64;
    if n_pos == 0.0 {
        return f64::NAN;
    }
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let (mut tp, mut fp, mut prev_recall, mut ap) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let s = p[idx[i]];
        while i < idx.len() && p[idx[i]] == s {
            if y[idx[i]] == 1.0 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        let recall = tp / n_pos;
        ap += (recall - prev_recall) * tp / (tp + fp);
        prev_recall = recall;
    }
    ap
}

/// Mean log loss.
pub fn log_loss(y: &[f64], p: &[f64]) -> f64 {
    let eps = f64::EPSILON;
    let s: f64 = y
        .iter()
        .zip(p)
        .map(|(y, p)| {
            let p = p.clamp(eps, 1.0 - eps);
            -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
        })
        .sum();
    s / y.len() as f64
}

/// Brier score.
pub fn brier(y: &[f64], p: &[f64]) -> f64 {
    y.iter().zip(p).map(|(y, p)| (p - y).powi(2)).sum::<f64>() / y.len() as f64
}

/// (precision, recall, F1) when `p ≥ threshold` is predicted positive.
pub fn precision_recall_f1(y: &[f64], p: &[f64], threshold: f64) -> (f64, f64, f64) {
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    for (y, p) in y.iter().zip(p) {
        match (*p >= threshold, *y == 1.0) {
            (true, true) => tp += 1.0,
            (true, false) => fp += 1.0,
            (false, true) => fn_ += 1.0,
            (false, false) => {}
        }
    }
    let div = |a: f64, b: f64| if b == 0.0 { 0.0 } else { a / b };
    let precision = div(tp, tp + fp);
    let recall = div(tp, tp + fn_);
    let f1 = div(2.0 * tp, 2.0 * tp + fp + fn_);
    (precision, recall, f1)
}
