//! Probability calibration by Platt scaling: `p = sigmoid(a·score + b)`, fitted by Newton's
//! method on scores the model did not train on (out-of-fold raw scores), with Platt's smoothed
//! targets `(N₊+1)/(N₊+2)` and `1/(N₋+2)` so a perfectly separated fold cannot drive `a` to
//! infinity. Platt rather than isotonic: two parameters are stable on small data and keep the
//! score order (so ROC-AUC is unchanged), which a monotone step function does not guarantee.

use serde::{Deserialize, Serialize};

use crate::explain::sigmoid;

/// A fitted Platt scaler.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    /// Slope on the raw score.
    pub a: f64,
    /// Intercept.
    pub b: f64,
}

impl Platt {
    /// Fit on raw scores (log-odds) and 0/1 labels.
    pub fn fit(scores: &[f64], y: &[f64]) -> Platt {
        let n_pos = y.iter().filter(|v| **v == 1.0).count() as f64;
        let n_neg = y.len() as f64 - n_pos;
        let hi = (n_pos + 1.0) / (n_pos + 2.0);
        let lo = 1.0 / (n_neg + 2.0);
        let t: Vec<f64> = y.iter().map(|v| if *v == 1.0 { hi } else { lo }).collect();
        let loss = |a: f64, b: f64| -> f64 {
            scores
                .iter()
                .zip(&t)
                .map(|(s, t)| {
                    let z = a * s + b;
                    // log(1 + e^z) − t·z, computed stably.
                    z.max(0.0) + (-z.abs()).exp().ln_1p() - t * z
                })
                .sum()
        };
        let (mut a, mut b) = (1.0, 0.0);
        let mut f = loss(a, b);
        for _ in 0..100 {
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-12, 0.0, 1e-12);
            for (s, t) in scores.iter().zip(&t) {
                let p = sigmoid(a * s + b);
                let d = p - t;
                let w = p * (1.0 - p);
                ga += d * s;
                gb += d;
                haa += w * s * s;
                hab += w * s;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-300 {
                break;
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            let mut step = 1.0;
            let mut improved = false;
            while step > 1e-10 {
                let (na, nb) = (a - step * da, b - step * db);
                let nf = loss(na, nb);
                if nf <= f {
                    (a, b, f) = (na, nb, nf);
                    improved = true;
                    break;
                }
                step /= 2.0;
            }
            if !improved || (da.abs() + db.abs()) * step < 1e-10 {
                break;
            }
        }
        Platt { a, b }
    }

    /// The calibrated probability for a raw score.
    pub fn apply(&self, score: f64) -> f64 {
        sigmoid(self.a * score + self.b)
    }
}
