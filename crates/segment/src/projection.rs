//! A 2-D picture of customers: principal component analysis by power iteration.
//!
//! The console draws every customer as a point coloured by segment. The two axes are the first
//! two principal components of the customers' standardized features: the directions along which
//! they differ most. Computed here by power iteration on the covariance matrix with deflation —
//! small, exact enough for a picture, deterministic (fixed start vector, no randomness) and with
//! no linear-algebra dependency.
//!
//! Sign convention: each component is flipped so that its largest-magnitude loading is positive,
//! so the picture does not mirror between runs or backends.

use crate::{Matrix, SegmentError};
use serde::{Deserialize, Serialize};

/// Iterations of the power method per component (it usually converges far sooner).
const MAX_ITERATIONS: usize = 500;
/// Converged when the direction moves less than this (L2) between iterations.
const TOLERANCE: f64 = 1e-10;

/// The projection onto the first principal components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    /// Column means the data was centred with.
    pub mean: Vec<f64>,
    /// Unit-length components, largest variance first (one row per component).
    pub components: Vec<Vec<f64>>,
    /// Variance along each component.
    pub variance: Vec<f64>,
    /// Share of the total variance each component explains (0–1).
    pub explained: Vec<f64>,
}

impl Projection {
    /// Coordinates of one row (same columns as the fitted data).
    pub fn project(&self, row: &[f64]) -> Vec<f64> {
        self.components
            .iter()
            .map(|c| {
                c.iter()
                    .zip(row.iter().zip(&self.mean))
                    .map(|(w, (v, m))| w * (v - m))
                    .sum()
            })
            .collect()
    }
}

/// Fits the first `k` principal components of `data` (rows are observations; every value must
/// be finite — standardize and impute first). `k` is capped at the number of columns.
pub fn pca(data: &Matrix, k: usize) -> Result<Projection, SegmentError> {
    let (n, d) = (data.rows, data.cols);
    if n == 0 || d == 0 {
        return Err(SegmentError::Shape {
            rows: n,
            cols: d,
            expected: 1,
            got: 0,
        });
    }
    if let Some(i) = data.data.iter().position(|v| !v.is_finite()) {
        return Err(SegmentError::NonFinite {
            row: i / d,
            col: i % d,
        });
    }
    let mut mean = vec![0.0; d];
    for row in data.iter_rows() {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    // Covariance (population), d × d, row-major.
    let mut cov = vec![0.0; d * d];
    let mut centred = vec![0.0; d];
    for row in data.iter_rows() {
        for ((c, v), m) in centred.iter_mut().zip(row).zip(&mean) {
            *c = v - m;
        }
        for i in 0..d {
            let ci = centred[i];
            if ci == 0.0 {
                continue;
            }
            for j in i..d {
                cov[i * d + j] += ci * centred[j];
            }
        }
    }
    for i in 0..d {
        for j in i..d {
            let v = cov[i * d + j] / n as f64;
            cov[i * d + j] = v;
            cov[j * d + i] = v;
        }
    }
    let total: f64 = (0..d).map(|i| cov[i * d + i]).sum();
    let mut components = Vec::new();
    let mut variance = Vec::new();
    for _ in 0..k.min(d) {
        let (vector, value) = leading_eigen(&cov, d);
        // Deflate: remove this component's variance so the next iteration finds the next one.
        for i in 0..d {
            for j in 0..d {
                cov[i * d + j] -= value * vector[i] * vector[j];
            }
        }
        components.push(vector);
        variance.push(value.max(0.0));
    }
    let explained = variance
        .iter()
        .map(|v| if total > 0.0 { v / total } else { 0.0 })
        .collect();
    Ok(Projection {
        mean,
        components,
        variance,
        explained,
    })
}

/// The leading eigenvector and eigenvalue of a symmetric d × d matrix, by power iteration from a
/// fixed, non-degenerate start.
fn leading_eigen(m: &[f64], d: usize) -> (Vec<f64>, f64) {
    // A start vector with distinct entries, so it is not orthogonal to the answer by accident.
    let mut v: Vec<f64> = (0..d).map(|i| 1.0 + i as f64 / d as f64).collect();
    normalize(&mut v);
    let mut next = vec![0.0; d];
    for _ in 0..MAX_ITERATIONS {
        for (i, out) in next.iter_mut().enumerate() {
            *out = (0..d).map(|j| m[i * d + j] * v[j]).sum();
        }
        if normalize(&mut next) == 0.0 {
            // No variance left in any direction: any unit vector will do.
            return (v, 0.0);
        }
        let moved: f64 = next
            .iter()
            .zip(&v)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        std::mem::swap(&mut v, &mut next);
        if moved < TOLERANCE {
            break;
        }
    }
    // Sign: the largest-magnitude loading is positive.
    let big = v
        .iter()
        .copied()
        .fold(0.0f64, |acc, x| if x.abs() > acc.abs() { x } else { acc });
    if big < 0.0 {
        v.iter_mut().for_each(|x| *x = -*x);
    }
    // Rayleigh quotient: the eigenvalue for this direction.
    let value = (0..d)
        .map(|i| v[i] * (0..d).map(|j| m[i * d + j] * v[j]).sum::<f64>())
        .sum();
    (v, value)
}

/// Scales `v` to unit length; returns its former length.
fn normalize(v: &mut [f64]) -> f64 {
    let len = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if len > 0.0 {
        v.iter_mut().for_each(|x| *x /= len);
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn finds_the_direction_of_greatest_spread() {
        // Points along y = 2x with a little orthogonal noise: PC1 ∝ (1, 2) / √5.
        // Each t twice, wobbling both ways, so the wobble is uncorrelated with t.
        let rows: Vec<Vec<f64>> = (0..200)
            .flat_map(|i| {
                let t = i as f64 / 10.0 - 10.0;
                [0.05, -0.05].map(|w: f64| vec![t - 2.0 * w, 2.0 * t + w])
            })
            .collect();
        let p = pca(&Matrix::from_rows(&rows).unwrap(), 2).unwrap();
        let s5 = 5f64.sqrt();
        assert!(close(p.components[0][0], 1.0 / s5, 1e-6), "{p:?}");
        assert!(close(p.components[0][1], 2.0 / s5, 1e-6), "{p:?}");
        // The second component is orthogonal to the first.
        let dot: f64 = p.components[0]
            .iter()
            .zip(&p.components[1])
            .map(|(a, b)| a * b)
            .sum();
        assert!(dot.abs() < 1e-8);
        assert!(p.explained[0] > 0.999 && p.explained[0] + p.explained[1] <= 1.0 + 1e-12);
        assert!(p.variance[0] >= p.variance[1]);
    }

    #[test]
    fn matches_the_closed_form_on_a_known_covariance() {
        // Covariance [[3, 1], [1, 3]] has eigenvalues 4 (along (1,1)) and 2 (along (1,-1)).
        // Four points whose population covariance is exactly that.
        let rows = vec![
            vec![2.0, 2.0],
            vec![-2.0, -2.0],
            vec![2f64.sqrt(), -(2f64.sqrt())],
            vec![-(2f64.sqrt()), 2f64.sqrt()],
        ];
        let p = pca(&Matrix::from_rows(&rows).unwrap(), 2).unwrap();
        assert!(close(p.variance[0], 4.0, 1e-9), "{:?}", p.variance);
        assert!(close(p.variance[1], 2.0, 1e-9), "{:?}", p.variance);
        let h = 1.0 / 2f64.sqrt();
        assert!(close(p.components[0][0], h, 1e-9) && close(p.components[0][1], h, 1e-9));
        // Projection of a point = its coordinates in the component basis.
        let xy = p.project(&[2.0, 2.0]);
        assert!(close(xy[0], 2.0 * 2f64.sqrt(), 1e-9) && close(xy[1], 0.0, 1e-9));
    }

    #[test]
    fn is_deterministic_and_handles_degenerate_input() {
        let rows: Vec<Vec<f64>> = (0..50)
            .map(|i| vec![(i % 7) as f64, (i % 5) as f64 * 0.5, 1.0])
            .collect();
        let m = Matrix::from_rows(&rows).unwrap();
        assert_eq!(pca(&m, 2).unwrap(), pca(&m, 2).unwrap());
        // A constant column has no variance and contributes nothing.
        let p = pca(&m, 3).unwrap();
        assert!(p.variance[2].abs() < 1e-9);
        // All rows equal: zero variance, no NaN.
        let flat = Matrix::from_rows(&vec![vec![1.0, 2.0]; 10]).unwrap();
        let p = pca(&flat, 2).unwrap();
        assert!(p.explained.iter().all(|e| *e == 0.0));
        assert!(p.project(&[1.0, 2.0]).iter().all(|v| v.is_finite()));
        // Non-finite input is refused; empty input is refused.
        let nan = Matrix::from_rows(&[vec![f64::NAN, 1.0]]).unwrap();
        assert!(pca(&nan, 2).is_err());
        assert!(pca(&Matrix::new(0, 2, vec![]).unwrap(), 2).is_err());
    }
}
