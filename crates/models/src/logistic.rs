//! The logistic-regression baseline: L2-regularised, fitted by Newton's method (IRLS) on
//! standardised features, with exact linear SHAP values.
//!
//! Our own ~150 lines rather than linfa-logistic because linfa is tied to ndarray 0.16 and
//! rand 0.8, and because the baseline must treat missing values and standardisation exactly as
//! documented here so its SHAP values are exact: each feature is centred on its training mean
//! (a missing value is imputed with that mean) and divided by its training standard deviation
//! (constant features get scale 1 and, being all zero after centring, weight 0). The model is
//! `logit = b + Σ wⱼ zⱼ`, minimising `Σ logloss + λ/2 ‖w‖²` (intercept not penalised). Because
//! every zⱼ has mean zero over the training rows, `b` is the expected logit and
//! `shapⱼ = wⱼ zⱼ = coefⱼ · (xⱼ − meanⱼ)` — the exact SHAP value of a linear model with
//! independent features — and `b + Σ shapⱼ` is the logit.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, FeatureInfo};
use crate::explain::{Explanation, sigmoid};
use crate::{ModelError, column_means};

/// Training parameters for [`Logistic`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogisticParams {
    /// L2 penalty λ on the standardised weights.
    pub l2: f64,
    /// Newton iterations at most.
    pub max_iter: usize,
    /// Stop when the largest Newton step is below this.
    pub tol: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams {
            l2: 1.0,
            max_iter: 50,
            tol: 1e-8,
        }
    }
}

/// A trained logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    features: Vec<FeatureInfo>,
    means: Vec<f64>,
    scales: Vec<f64>,
    /// Weights on standardised features.
    weights: Vec<f64>,
    intercept: f64,
    /// Newton iterations used.
    pub iterations: usize,
}

impl Logistic {
    /// Fit on a dataset.
    pub fn fit(data: &Dataset, params: &LogisticParams) -> Result<Logistic, ModelError> {
        if data.rows == 0 {
            return Err(ModelError::InvalidInput("no rows to train on".into()));
        }
        if params.l2.is_nan() || params.l2 < 0.0 {
            return Err(ModelError::InvalidInput(format!(
                "l2 must be ≥ 0, got {}",
                params.l2
            )));
        }
        let (n, p) = (data.rows, data.cols);
        // A feature missing in every training row gets mean 0 and so contributes nothing.
        let means: Vec<f64> = column_means(data)
            .into_iter()
            .map(|m| if m.is_nan() { 0.0 } else { m })
            .collect();
        let mut scales = vec![0.0; p];
        let mut counts = vec![0usize; p];
        for i in 0..n {
            for (j, v) in data.row(i).iter().enumerate() {
                if !v.is_nan() {
                    scales[j] += (v - means[j]).powi(2);
                    counts[j] += 1;
                }
            }
        }
        for j in 0..p {
            let sd = (scales[j] / n as f64).sqrt();
            scales[j] = if sd > 1e-12 && counts[j] > 0 { sd } else { 1.0 };
        }
        // Standardised design, row-major, with the intercept column last.
        let d = p + 1;
        let mut z = vec![0.0; n * d];
        for i in 0..n {
            let r = data.row(i);
            for j in 0..p {
                z[i * d + j] = if r[j].is_nan() {
                    0.0
                } else {
                    (r[j] - means[j]) / scales[j]
                };
            }
            z[i * d + p] = 1.0;
        }
        let y = &data.y;
        let lambda = params.l2;
        // Blocks of fixed size summed in order: parallel, yet bit-for-bit deterministic.
        const BLOCK: usize = 1024;
        let objective = |beta: &[f64]| -> f64 {
            let parts: Vec<f64> = z
                .par_chunks(d * BLOCK)
                .zip(y.par_chunks(BLOCK))
                .map(|(zb, yb)| {
                    zb.chunks(d)
                        .zip(yb)
                        .map(|(zi, yi)| {
                            let e: f64 = zi.iter().zip(beta).map(|(a, b)| a * b).sum();
                            e.max(0.0) + (-e.abs()).exp().ln_1p() - yi * e
                        })
                        .sum::<f64>()
                })
                .collect();
            parts.iter().sum::<f64>() + 0.5 * lambda * beta[..p].iter().map(|w| w * w).sum::<f64>()
        };
        let mut beta = vec![0.0; d];
        let mut f = objective(&beta);
        let mut iterations = 0;
        for _ in 0..params.max_iter {
            iterations += 1;
            let parts: Vec<(Vec<f64>, Vec<f64>)> = z
                .par_chunks(d * BLOCK)
                .zip(y.par_chunks(BLOCK))
                .map(|(zb, yb)| {
                    let (mut g, mut h) = (vec![0.0; d], vec![0.0; d * d]);
                    for (zi, yi) in zb.chunks(d).zip(yb) {
                        let e: f64 = zi.iter().zip(&beta).map(|(a, b)| a * b).sum();
                        let pr = sigmoid(e);
                        let w = pr * (1.0 - pr);
                        for a in 0..d {
                            g[a] += (pr - yi) * zi[a];
                            let wa = w * zi[a];
                            if wa != 0.0 {
                                for b in 0..=a {
                                    h[a * d + b] += wa * zi[b];
                                }
                            }
                        }
                    }
                    (g, h)
                })
                .collect();
            let (mut g, mut h) = (vec![0.0; d], vec![0.0; d * d]);
            for (g2, h2) in &parts {
                g.iter_mut().zip(g2).for_each(|(a, b)| *a += b);
                h.iter_mut().zip(h2).for_each(|(a, b)| *a += b);
            }
            for j in 0..p {
                g[j] += lambda * beta[j];
                h[j * d + j] += lambda;
            }
            for a in 0..d {
                h[a * d + a] += 1e-10;
                for b in 0..a {
                    h[b * d + a] = h[a * d + b];
                }
            }
            let step = solve_spd(&mut h, &g, d).ok_or_else(|| {
                ModelError::InvalidInput("logistic regression: singular Hessian".into())
            })?;
            // Backtracking line search on the penalised loss.
            let mut t = 1.0;
            let mut moved = false;
            while t > 1e-8 {
                let cand: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b - t * s).collect();
                let fc = objective(&cand);
                if fc <= f {
                    beta = cand;
                    f = fc;
                    moved = true;
                    break;
                }
                t /= 2.0;
            }
            let size = step.iter().fold(0.0f64, |m, s| m.max(s.abs())) * t;
            if !moved || size < params.tol {
                break;
            }
        }
        Ok(Logistic {
            features: data.features.clone(),
            means,
            scales,
            intercept: beta[p],
            weights: beta[..p].to_vec(),
            iterations,
        })
    }

    /// Coefficients on the original (unstandardised) scale: `wⱼ / scaleⱼ`.
    pub fn coefficients(&self) -> Vec<(String, f64)> {
        self.features
            .iter()
            .zip(self.weights.iter().zip(&self.scales))
            .map(|(f, (w, s))| (f.name.clone(), w / s))
            .collect()
    }

    /// The expected logit over the training data (the SHAP base value).
    pub fn intercept(&self) -> f64 {
        self.intercept
    }

    fn shap(&self, row: &[f64]) -> Result<Vec<f64>, ModelError> {
        if row.len() != self.weights.len() {
            return Err(ModelError::InvalidInput(format!(
                "row has {} values, the model has {} features",
                row.len(),
                self.weights.len()
            )));
        }
        Ok(row
            .iter()
            .zip(self.means.iter().zip(self.scales.iter().zip(&self.weights)))
            .map(|(x, (m, (s, w)))| if x.is_nan() { 0.0 } else { w * (x - m) / s })
            .collect())
    }

    /// Logit of one row.
    pub fn raw_score(&self, row: &[f64]) -> Result<f64, ModelError> {
        Ok(self.intercept + self.shap(row)?.iter().sum::<f64>())
    }

    /// Probability of the positive class.
    pub fn predict_proba(&self, row: &[f64]) -> Result<f64, ModelError> {
        Ok(sigmoid(self.raw_score(row)?))
    }

    /// Probabilities of every row of a dataset.
    pub fn predict_proba_all(&self, data: &Dataset) -> Result<Vec<f64>, ModelError> {
        (0..data.rows)
            .map(|i| self.predict_proba(data.row(i)))
            .collect()
    }

    /// Exact linear SHAP explanation of one row.
    pub fn explain(&self, row: &[f64]) -> Result<Explanation, ModelError> {
        let shap = self.shap(row)?;
        Ok(Explanation::assemble(
            &self.features,
            row,
            shap,
            &self.means,
            self.intercept,
        ))
    }
}

/// Solve `H x = g` for symmetric positive definite `H` (row-major `d × d`, overwritten by its
/// Cholesky factor). `None` if `H` is not positive definite.
fn solve_spd(h: &mut [f64], g: &[f64], d: usize) -> Option<Vec<f64>> {
    for j in 0..d {
        let mut s = h[j * d + j];
        for k in 0..j {
            s -= h[j * d + k] * h[j * d + k];
        }
        if s <= 0.0 || !s.is_finite() {
            return None;
        }
        let l = s.sqrt();
        h[j * d + j] = l;
        for i in j + 1..d {
            let mut s = h[i * d + j];
            for k in 0..j {
                s -= h[i * d + k] * h[j * d + k];
            }
            h[i * d + j] = s / l;
        }
    }
    let mut x = g.to_vec();
    for i in 0..d {
        for k in 0..i {
            x[i] -= h[i * d + k] * x[k];
        }
        x[i] /= h[i * d + i];
    }
    for i in (0..d).rev() {
        for k in i + 1..d {
            x[i] -= h[k * d + i] * x[k];
        }
        x[i] /= h[i * d + i];
    }
    Some(x)
}
