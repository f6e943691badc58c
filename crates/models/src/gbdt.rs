//! Gradient-boosted trees for a binary target, over the `perpetual` crate (log loss), with exact
//! TreeSHAP explanations and optional Platt calibration.
//!
//! perpetual is used because it is maintained, pure Rust, handles NaN natively (a learned branch
//! for missing values), has one complexity knob (`budget`) instead of a tuning grid, serialises
//! with serde, and computes exact tree SHAP values (`ContributionsMethod::Shapley`). Version
//! 3.0.0-rc.2 is pinned because every stable 2.x release needs nightly Rust.
//!
//! The raw score of a row is the sum of its TreeSHAP values and the bias (log-odds) and the probability is its sigmoid. We do not
//! use perpetual's `predict_proba`, which averages the sigmoids of five internal fold models and
//! so is not the quantity the SHAP values add up to.

use perpetual::objective::Objective;
use perpetual::{ContributionsMethod, Matrix, PerpetualBooster};
use serde::{Deserialize, Serialize};

use crate::calibration::Platt;
use crate::dataset::{Dataset, FeatureInfo};
use crate::evaluate::stratified_folds;
use crate::explain::{Explanation, sigmoid};
use crate::{ModelError, column_means};

/// Training parameters for [`Gbdt`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GbdtParams {
    /// perpetual's complexity budget: higher fits more trees and deeper interactions.
    pub budget: f32,
    /// Histogram bins per feature.
    pub max_bin: u16,
    /// Random seed; the same data, parameters and seed give the same model.
    pub seed: u64,
    /// Threads for training (`None` = all cores). Results do not depend on it.
    pub num_threads: Option<usize>,
    /// Upper bound on boosting rounds (`None` = perpetual decides).
    pub iteration_limit: Option<usize>,
    /// Folds for out-of-fold Platt calibration; below 2 = no calibration (saves the extra fits).
    pub calibration_folds: usize,
}

impl Default for GbdtParams {
    fn default() -> Self {
        GbdtParams {
            budget: 1.0,
            max_bin: 255,
            seed: 42,
            num_threads: None,
            iteration_limit: None,
            calibration_folds: 3,
        }
    }
}

/// A trained gradient-boosted tree model.
#[derive(Clone, Serialize, Deserialize)]
pub struct Gbdt {
    booster: PerpetualBooster,
    features: Vec<FeatureInfo>,
    /// Training means per column (for explanations); NaN for an all-missing column, stored as
    /// JSON null (JSON has no NaN).
    #[serde(with = "nan_as_null")]
    means: Vec<f64>,
    calibrator: Option<Platt>,
    params: GbdtParams,
}

impl std::fmt::Debug for Gbdt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gbdt")
            .field("features", &self.features.len())
            .field("trees", &self.booster.get_prediction_trees().len())
            .field("calibrator", &self.calibrator)
            .field("params", &self.params)
            .finish()
    }
}

fn booster(data: &Dataset, params: &GbdtParams) -> Result<PerpetualBooster, ModelError> {
    if data.rows == 0 {
        return Err(ModelError::InvalidInput("no rows to train on".into()));
    }
    if data.positives() == 0 || data.positives() == data.rows {
        return Err(ModelError::InvalidInput(
            "training data must contain both classes".into(),
        ));
    }
    if params.budget.is_nan() || params.budget <= 0.0 {
        return Err(ModelError::InvalidInput(format!(
            "budget must be positive, got {}",
            params.budget
        )));
    }
    let mut b = PerpetualBooster::default()
        .set_objective(Objective::LogLoss)
        .set_budget(params.budget)
        .set_max_bin(params.max_bin)
        .set_seed(params.seed)
        .set_num_threads(params.num_threads)
        .set_iteration_limit(params.iteration_limit)
        .set_log_iterations(0);
    let cm = data.column_major();
    let m = Matrix::new(&cm, data.rows, data.cols);
    b.fit(&m, &data.y, None, None)
        .map_err(|e| ModelError::Boosting(e.to_string()))?;
    Ok(b)
}

fn raw_scores(b: &PerpetualBooster, data: &Dataset) -> Vec<f64> {
    let cm = data.column_major();
    b.predict(&Matrix::new(&cm, data.rows, data.cols), true)
}

impl Gbdt {
    /// Train on a dataset. With `calibration_folds ≥ 2`, also fits a Platt scaler on out-of-fold
    /// raw scores (costs that many extra fits).
    pub fn fit(data: &Dataset, params: &GbdtParams) -> Result<Gbdt, ModelError> {
        let b = booster(data, params)?;
        let calibrator = if params.calibration_folds >= 2 {
            let fold_of = stratified_folds(&data.y, params.calibration_folds, params.seed)?;
            let mut oof = vec![0.0; data.rows];
            for k in 0..params.calibration_folds {
                let (train, test): (Vec<usize>, Vec<usize>) =
                    (0..data.rows).partition(|&i| fold_of[i] != k);
                let inner = booster(&data.subset(&train), params)?;
                for (i, s) in test.iter().zip(raw_scores(&inner, &data.subset(&test))) {
                    oof[*i] = s;
                }
            }
            Some(Platt::fit(&oof, &data.y))
        } else {
            None
        };
        Ok(Gbdt {
            booster: b,
            features: data.features.clone(),
            means: column_means(data),
            calibrator,
            params: params.clone(),
        })
    }

    /// Feature names in input order.
    pub fn feature_names(&self) -> Vec<String> {
        self.features.iter().map(|f| f.name.clone()).collect()
    }

    /// The parameters it was trained with.
    pub fn params(&self) -> &GbdtParams {
        &self.params
    }

    /// The Platt scaler, when the model was calibrated.
    pub fn calibrator(&self) -> Option<&Platt> {
        self.calibrator.as_ref()
    }

    /// Number of trees in the ensemble.
    pub fn trees(&self) -> usize {
        self.booster.get_prediction_trees().len()
    }

    fn check(&self, row: &[f64]) -> Result<(), ModelError> {
        if row.len() == self.features.len() {
            Ok(())
        } else {
            Err(ModelError::InvalidInput(format!(
                "row has {} values, the model has {} features",
                row.len(),
                self.features.len()
            )))
        }
    }

    /// Raw score (log-odds) of one row: the SHAP base value plus the row's SHAP values, so it
    /// is exactly the score [`Gbdt::explain`] explains.
    pub fn raw_score(&self, row: &[f64]) -> Result<f64, ModelError> {
        let (shap, bias) = self.shap(row)?;
        Ok(bias + shap.iter().sum::<f64>())
    }

    fn shap(&self, row: &[f64]) -> Result<(Vec<f64>, f64), ModelError> {
        self.check(row)?;
        let m = Matrix::new(row, 1, row.len());
        let mut c = self
            .booster
            .predict_contributions(&m, ContributionsMethod::Shapley, false);
        let bias = c.pop().unwrap_or(0.0);
        Ok((c, bias))
    }

    /// Probability of the positive class (uncalibrated: `sigmoid(raw_score)`).
    pub fn predict_proba(&self, row: &[f64]) -> Result<f64, ModelError> {
        Ok(sigmoid(self.raw_score(row)?))
    }

    /// Calibrated probability (Platt); equals [`Gbdt::predict_proba`] for an uncalibrated model.
    pub fn calibrated_proba(&self, row: &[f64]) -> Result<f64, ModelError> {
        let s = self.raw_score(row)?;
        Ok(self.calibrator.map_or_else(|| sigmoid(s), |c| c.apply(s)))
    }

    /// Raw scores of every row of a dataset (parallel). This is perpetual's tree-walk prediction,
    /// much cheaper than SHAP; it agrees with [`Gbdt::raw_score`] to about 1e-6 (the trees store
    /// leaf weights as `f32` and the two paths round their sums differently).
    pub fn raw_scores(&self, data: &Dataset) -> Result<Vec<f64>, ModelError> {
        if data.cols != self.features.len() {
            return Err(ModelError::InvalidInput(format!(
                "data has {} features, the model has {}",
                data.cols,
                self.features.len()
            )));
        }
        Ok(raw_scores(&self.booster, data))
    }

    /// Uncalibrated probabilities of every row of a dataset.
    pub fn predict_proba_all(&self, data: &Dataset) -> Result<Vec<f64>, ModelError> {
        Ok(self.raw_scores(data)?.into_iter().map(sigmoid).collect())
    }

    /// Calibrated probabilities of every row of a dataset.
    pub fn calibrated_proba_all(&self, data: &Dataset) -> Result<Vec<f64>, ModelError> {
        let c = self.calibrator;
        Ok(self
            .raw_scores(data)?
            .into_iter()
            .map(|s| c.map_or_else(|| sigmoid(s), |c| c.apply(s)))
            .collect())
    }

    /// Exact TreeSHAP explanation of one row: `base_value + Σ shap == raw_score`.
    pub fn explain(&self, row: &[f64]) -> Result<Explanation, ModelError> {
        let (shap, bias) = self.shap(row)?;
        Ok(Explanation::assemble(
            &self.features,
            row,
            shap,
            &self.means,
            bias,
        ))
    }

    /// Calibrated probability by perpetual's tree walk (no SHAP): what a search that evaluates
    /// the model many times uses. Agrees with [`Gbdt::calibrated_proba`] to about 1e-6.
    pub fn fast_calibrated_proba(&self, row: &[f64]) -> Result<f64, ModelError> {
        self.check(row)?;
        let s = self
            .booster
            .predict(&Matrix::new(row, 1, row.len()), false)
            .first()
            .copied()
            .unwrap_or(0.0);
        Ok(self.calibrator.map_or_else(|| sigmoid(s), |c| c.apply(s)))
    }

    /// Per feature (input order): the sorted, distinct thresholds the trees split it on. A row
    /// goes left when its value is below the threshold, so the model's output is constant
    /// between consecutive thresholds.
    pub fn split_thresholds(&self) -> Vec<Vec<f64>> {
        let mut out = vec![Vec::new(); self.features.len()];
        for tree in self.booster.get_prediction_trees() {
            for node in tree.nodes.values() {
                if !node.is_leaf && node.split_feature < out.len() && node.split_value.is_finite() {
                    out[node.split_feature].push(node.split_value);
                }
            }
        }
        for v in &mut out {
            v.sort_by(f64::total_cmp);
            v.dedup();
        }
        out
    }

    /// Serialise to JSON.
    pub fn to_json(&self) -> Result<String, ModelError> {
        Ok(serde_json::to_string(self)?)
    }

    /// Load from JSON written by [`Gbdt::to_json`].
    pub fn from_json(s: &str) -> Result<Gbdt, ModelError> {
        Ok(serde_json::from_str(s)?)
    }
}

/// Serialise `f64` vectors with NaN as `null`, and back.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        v.iter()
            .map(|x| if x.is_nan() { None } else { Some(*x) })
            .collect::<Vec<_>>()
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?
            .into_iter()
            .map(|x| x.unwrap_or(f64::NAN))
            .collect())
    }
}
