//! Explanations of single predictions: exact SHAP values in log-odds and reason codes in plain
//! words.
//!
//! For both models `base_value + Σ shap == raw_score` (the logit) up to floating-point rounding;
//! `probability = sigmoid(raw_score)` (uncalibrated, so that the additivity holds on the scale the
//! explanation is given in).

use serde::Serialize;

/// One feature's part in one prediction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// Feature name (`column` or `column=level`).
    pub feature: String,
    /// Source column.
    pub column: String,
    /// The level of a one-hot indicator.
    pub level: Option<String>,
    /// The row's value (NaN = missing; serialised as `null`).
    pub value: f64,
    /// SHAP value in log-odds: positive pushes towards the positive class.
    pub shap: f64,
    /// Training mean of the feature (the reference for "high" / "low").
    pub mean: f64,
}

/// Why a model gave one row its score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// Expected raw score (log-odds) over the training data.
    pub base_value: f64,
    /// One entry per feature, in feature order.
    pub contributions: Vec<Contribution>,
    /// The model's raw score (log-odds) for the row.
    pub raw_score: f64,
    /// `sigmoid(raw_score)`.
    pub probability: f64,
}

impl Explanation {
    /// Build an explanation from per-feature SHAP values and the base value; the raw score is
    /// their sum by construction (shared by every model kind).
    pub(crate) fn assemble(
        features: &[crate::FeatureInfo],
        row: &[f64],
        shap: Vec<f64>,
        means: &[f64],
        base_value: f64,
    ) -> Explanation {
        let raw_score = base_value + shap.iter().sum::<f64>();
        let contributions = features
            .iter()
            .zip(row)
            .zip(shap)
            .zip(means)
            .map(|(((f, v), s), m)| Contribution {
                feature: f.name.clone(),
                column: f.column.clone(),
                level: f.level.clone(),
                value: *v,
                shap: s,
                mean: *m,
            })
            .collect();
        Explanation {
            base_value,
            contributions,
            raw_score,
            probability: sigmoid(raw_score),
        }
    }

    /// `base_value + Σ shap`; equals `raw_score` up to rounding.
    pub fn shap_total(&self) -> f64 {
        self.base_value + self.contributions.iter().map(|c| c.shap).sum::<f64>()
    }

    /// The contributions sorted by |shap|, largest first (ties by feature name).
    pub fn ranked(&self) -> Vec<&Contribution> {
        let mut v: Vec<&Contribution> = self.contributions.iter().collect();
        v.sort_by(|a, b| {
            b.shap
                .abs()
                .total_cmp(&a.shap.abs())
                .then_with(|| a.feature.cmp(&b.feature))
        });
        v
    }
}

/// The `n` features pushing the prediction most towards the positive class, in plain words:
/// `"credit_utilization is high (0.92)"`, `"employment is unemployed"`,
/// `"income is missing"`. Only features that raise the log-odds by at least
/// [`MIN_REASON_SHAP`] are listed, largest first: a feature that barely moved the score is not a
/// reason.
pub fn reason_codes(explanation: &Explanation, n: usize) -> Vec<String> {
    let mut pos: Vec<&Contribution> = explanation
        .contributions
        .iter()
        .filter(|c| c.shap >= MIN_REASON_SHAP)
        .collect();
    pos.sort_by(|a, b| {
        b.shap
            .total_cmp(&a.shap)
            .then_with(|| a.feature.cmp(&b.feature))
    });
    pos.into_iter().take(n).map(describe).collect()
}

/// The smallest contribution to the log-odds that counts as a reason (a 1% change in odds).
pub const MIN_REASON_SHAP: f64 = 0.01;

fn describe(c: &Contribution) -> String {
    if c.value.is_nan() {
        return format!("{} is missing", c.column);
    }
    if let Some(level) = &c.level {
        return if c.value >= 0.5 {
            format!("{} is {}", c.column, level)
        } else {
            format!("{} is not {}", c.column, level)
        };
    }
    let v = fmt_value(c.value);
    if c.value > c.mean {
        format!("{} is high ({v})", c.feature)
    } else if c.value < c.mean {
        format!("{} is low ({v})", c.feature)
    } else {
        format!("{} is {v}", c.feature)
    }
}

/// A number with at most two decimals and no trailing zeros.
pub(crate) fn fmt_value(v: f64) -> String {
    let r = (v * 100.0).round() / 100.0;
    if r == 0.0 { "0".into() } else { format!("{r}") }
}

/// The logistic function, written to stay accurate for large |z|.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}
