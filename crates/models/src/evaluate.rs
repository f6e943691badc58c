//! Honest evaluation: stratified k-fold cross-validation of the boosted trees and the logistic
//! baseline on the same folds, every metric computed on predictions for rows the model did not
//! see (pooled over folds), plus each fold's ROC-AUC to show the spread.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::ModelError;
use crate::dataset::Dataset;
use crate::explain::sigmoid;
use crate::gbdt::{Gbdt, GbdtParams};
use crate::logistic::{Logistic, LogisticParams};
use crate::metrics::{Metrics, metrics, roc_auc};

/// Everything needed to train and evaluate both models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainParams {
    /// Boosted trees.
    pub gbdt: GbdtParams,
    /// Logistic baseline.
    pub logistic: LogisticParams,
    /// Decision threshold for precision / recall / F1.
    pub threshold: f64,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            gbdt: GbdtParams::default(),
            logistic: LogisticParams::default(),
            threshold: 0.5,
        }
    }
}

/// One model's cross-validated results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEvaluation {
    /// `"gbdt"`, `"gbdt_calibrated"` or `"logistic"`.
    pub model: String,
    /// Metrics on the pooled out-of-fold predictions.
    pub metrics: Metrics,
    /// ROC-AUC of each fold.
    pub fold_roc_auc: Vec<f64>,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Rows evaluated.
    pub rows: usize,
    /// Features per row.
    pub features: usize,
    /// Positive rows.
    pub positives: usize,
    /// The raw target value counted as positive.
    pub positive_label: String,
    /// Number of folds.
    pub folds: usize,
    /// Seed for the fold split and the boosted trees.
    pub seed: u64,
    /// One entry per model.
    pub models: Vec<ModelEvaluation>,
    /// Warnings from loading the data.
    pub warnings: Vec<String>,
}

impl Evaluation {
    /// The entry for a model name.
    pub fn model(&self, name: &str) -> Option<&ModelEvaluation> {
        self.models.iter().find(|m| m.model == name)
    }
}

/// Assign each row to one of `k` folds so that every fold has (within one) the same number of
/// positives and of negatives. Deterministic for a seed.
pub fn stratified_folds(y: &[f64], k: usize, seed: u64) -> Result<Vec<usize>, ModelError> {
    if k < 2 {
        return Err(ModelError::InvalidInput(format!(
            "folds must be at least 2, got {k}"
        )));
    }
    let mut pos: Vec<usize> = (0..y.len()).filter(|&i| y[i] == 1.0).collect();
    let mut neg: Vec<usize> = (0..y.len()).filter(|&i| y[i] != 1.0).collect();
    let smaller = pos.len().min(neg.len());
    if smaller < k {
        return Err(ModelError::InvalidInput(format!(
            "{k} folds need at least {k} rows of each class; the smaller class has {smaller}"
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    pos.shuffle(&mut rng);
    neg.shuffle(&mut rng);
    let mut fold = vec![0; y.len()];
    for (j, &i) in pos.iter().chain(&neg).enumerate() {
        fold[i] = j % k;
    }
    Ok(fold)
}

/// Cross-validate both models on `folds` stratified folds. The seed fixes the split and the
/// boosted trees' seed, so the result is reproducible. When `params.gbdt.calibration_folds ≥ 2`
/// a Platt-calibrated GBDT is reported too (its scaler fitted on out-of-fold scores of each
/// training part only).
pub fn evaluate(
    data: &Dataset,
    folds: usize,
    seed: u64,
    params: &TrainParams,
) -> Result<Evaluation, ModelError> {
    let fold_of = stratified_folds(&data.y, folds, seed)?;
    let gbdt_params = GbdtParams {
        seed,
        ..params.gbdt.clone()
    };
    let calibrate = gbdt_params.calibration_folds >= 2;
    let mut p_gbdt = vec![0.0; data.rows];
    let mut p_cal = vec![0.0; data.rows];
    let mut p_log = vec![0.0; data.rows];
    let mut aucs = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..folds {
        let (train_idx, test_idx): (Vec<usize>, Vec<usize>) =
            (0..data.rows).partition(|&i| fold_of[i] != k);
        let train = data.subset(&train_idx);
        let test = data.subset(&test_idx);
        let g = Gbdt::fit(&train, &gbdt_params)?;
        let scores = g.raw_scores(&test)?;
        let pg: Vec<f64> = scores.iter().map(|s| sigmoid(*s)).collect();
        let pc: Vec<f64> = match g.calibrator() {
            Some(c) => scores.iter().map(|s| c.apply(*s)).collect(),
            None => pg.clone(),
        };
        let l = Logistic::fit(&train, &params.logistic)?;
        let pl = l.predict_proba_all(&test)?;
        aucs.0.push(roc_auc(&test.y, &pg));
        aucs.1.push(roc_auc(&test.y, &pc));
        aucs.2.push(roc_auc(&test.y, &pl));
        for (j, &i) in test_idx.iter().enumerate() {
            p_gbdt[i] = pg[j];
            p_cal[i] = pc[j];
            p_log[i] = pl[j];
        }
    }
    let t = params.threshold;
    let mut models = vec![ModelEvaluation {
        model: "gbdt".into(),
        metrics: metrics(&data.y, &p_gbdt, t),
        fold_roc_auc: aucs.0,
    }];
    if calibrate {
        models.push(ModelEvaluation {
            model: "gbdt_calibrated".into(),
            metrics: metrics(&data.y, &p_cal, t),
            fold_roc_auc: aucs.1,
        });
    }
    models.push(ModelEvaluation {
        model: "logistic".into(),
        metrics: metrics(&data.y, &p_log, t),
        fold_roc_auc: aucs.2,
    });
    Ok(Evaluation {
        rows: data.rows,
        features: data.cols,
        positives: data.positives(),
        positive_label: data.schema.positive_label.clone(),
        folds,
        seed,
        models,
        warnings: data.warnings.clone(),
    })
}

/// A plain-text table of an evaluation for a terminal.
pub fn render_table(e: &Evaluation) -> String {
    let mut s = format!(
        "{} rows, {} features, {} positive (target = {}), {}-fold stratified CV, seed {}\n",
        e.rows, e.features, e.positives, e.positive_label, e.folds, e.seed
    );
    let thr = e.models.first().map_or(0.5, |m| m.metrics.threshold);
    s += &format!(
        "{:<16} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8} {:>15}\n",
        "model",
        "ROC-AUC",
        "PR-AUC",
        "logloss",
        "Brier",
        format!("P@{}", crate::explain::fmt_value(thr)),
        format!("R@{}", crate::explain::fmt_value(thr)),
        "F1",
        "fold AUC sd"
    );
    for m in &e.models {
        let x = &m.metrics;
        let n = m.fold_roc_auc.len() as f64;
        let mean = m.fold_roc_auc.iter().sum::<f64>() / n;
        let sd = (m
            .fold_roc_auc
            .iter()
            .map(|a| (a - mean).powi(2))
            .sum::<f64>()
            / (n - 1.0).max(1.0))
        .sqrt();
        s += &format!(
            "{:<16} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>9.4} {:>9.4} {:>8.4} {:>15.4}\n",
            m.model, x.roc_auc, x.pr_auc, x.log_loss, x.brier, x.precision, x.recall, x.f1, sd
        );
    }
    for w in &e.warnings {
        s += &format!("warning: {w}\n");
    }
    s
}
