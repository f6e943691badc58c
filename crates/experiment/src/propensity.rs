//! The propensity model of [`crate::uplift`]: L2-regularised logistic regression of the
//! treatment indicator on standardised covariates, fitted by Newton's method (IRLS).
//!
//! With the covariates standardised (zⱼ = (xⱼ − x̄ⱼ)/sⱼ, x̄ and s from the full data) and a
//! leading 1 for the intercept, the fit maximises the mean penalised log-likelihood
//!
//! `ℓ(β) = (1/n) Σᵢ [tᵢ ηᵢ − log(1 + e^ηᵢ)] − (λ/2) Σ_{j≥1} βⱼ²`,  ηᵢ = zᵢᵀβ, λ = 10⁻⁴
//!
//! (the intercept is not penalised). Each Newton step solves
//! `((1/n) Zᵀ W Z + λ Ĩ) Δ = (1/n) Zᵀ(t − μ) − λ β̃`, W = diag(μᵢ(1 − μᵢ)), by Cholesky
//! (with step halving if ℓ would fall), for at most [`MAX_ITERATIONS`] iterations; it has
//! converged when max |Δⱼ| < 10⁻⁸ or ℓ changes by less than 10⁻¹² relative. The small ridge
//! keeps the system positive definite and the coefficients finite under (quasi-)separation,
//! which then shows as a failure to converge and as poor overlap.

/// The ridge penalty λ.
pub const LAMBDA: f64 = 1e-4;
/// Newton iterations allowed.
pub const MAX_ITERATIONS: usize = 25;

/// Column means and standard deviations used to standardise the covariates.
#[derive(Debug, Clone)]
pub(crate) struct Standardiser {
    pub means: Vec<f64>,
    pub sds: Vec<f64>,
}

impl Standardiser {
    /// From the rows of `x` (all of the same width `p`); an sd of 0 is replaced by 1.
    pub fn fit(x: &[Vec<f64>], p: usize) -> Self {
        let n = x.len().max(1) as f64;
        let mut means = vec![0.0; p];
        for row in x {
            for (m, v) in means.iter_mut().zip(row) {
                *m += v;
            }
        }
        means.iter_mut().for_each(|m| *m /= n);
        let mut sds = vec![0.0; p];
        for row in x {
            for ((s, v), m) in sds.iter_mut().zip(row).zip(&means) {
                *s += (v - m).powi(2);
            }
        }
        let denom = (x.len().max(2) - 1) as f64;
        for s in &mut sds {
            *s = (*s / denom).sqrt();
            if !(*s > 0.0 && s.is_finite()) {
                *s = 1.0;
            }
        }
        Self { means, sds }
    }

    /// The design matrix, row-major with `p + 1` columns: 1, z₁, …, zₚ.
    pub fn design(&self, x: &[Vec<f64>]) -> Vec<f64> {
        let p = self.means.len();
        let mut out = Vec::with_capacity(x.len() * (p + 1));
        for row in x {
            out.push(1.0);
            for ((v, m), sd) in row.iter().zip(&self.means).zip(&self.sds) {
                out.push((v - m) / sd);
            }
        }
        out
    }
}

/// A fitted propensity model (coefficients on the standardised scale, intercept first).
#[derive(Debug, Clone)]
pub(crate) struct LogisticFit {
    pub beta: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
}

/// log(1 + eˣ) without overflow.
fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x
    } else if x < -30.0 {
        x.exp()
    } else {
        x.exp().ln_1p()
    }
}

/// The logistic function 1/(1 + e⁻ˣ).
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Solves A·x = b for a symmetric positive definite `a` (row-major k×k) by Cholesky; `None`
/// if `a` is not positive definite.
pub(crate) fn cholesky_solve(a: &[f64], b: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let mut s = a[i * k + j];
            for r in 0..j {
                s -= l[i * k + r] * l[j * k + r];
            }
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return None;
                }
                l[i * k + i] = s.sqrt();
            } else {
                l[i * k + j] = s / l[j * k + j];
            }
        }
    }
    // L y = b, then Lᵀ x = y.
    let mut y = vec![0.0; k];
    for i in 0..k {
        let s = b[i] - (0..i).map(|r| l[i * k + r] * y[r]).sum::<f64>();
        y[i] = s / l[i * k + i];
    }
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        let s = y[i] - (i + 1..k).map(|r| l[r * k + i] * x[r]).sum::<f64>();
        x[i] = s / l[i * k + i];
    }
    Some(x)
}

/// The penalised mean log-likelihood ℓ(β) over the rows `rows` of the design `z`.
fn objective(z: &[f64], k: usize, t: &[bool], rows: &[usize], beta: &[f64], lambda: f64) -> f64 {
    let n = rows.len() as f64;
    let ll: f64 = rows
        .iter()
        .map(|&i| {
            let eta = dot(&z[i * k..(i + 1) * k], beta);
            (if t[i] { eta } else { 0.0 }) - softplus(eta)
        })
        .sum();
    ll / n - 0.5 * lambda * beta[1..].iter().map(|b| b * b).sum::<f64>()
}

/// Fits the model on the rows `rows` (repeats allowed, as in a bootstrap sample) of the
/// design `z` (k columns) with treatment `t`, starting from `start` (or 0).
pub(crate) fn fit(
    z: &[f64],
    k: usize,
    t: &[bool],
    rows: &[usize],
    start: Option<&[f64]>,
) -> LogisticFit {
    let lambda = LAMBDA;
    let n = rows.len() as f64;
    let mut beta = start.map_or_else(|| vec![0.0; k], <[f64]>::to_vec);
    let mut current = objective(z, k, t, rows, &beta, lambda);
    let mut converged = false;
    let mut iterations = 0;
    while iterations < MAX_ITERATIONS {
        iterations += 1;
        let mut grad = vec![0.0; k];
        let mut hess = vec![0.0; k * k];
        for &i in rows {
            let zi = &z[i * k..(i + 1) * k];
            let mu = sigmoid(dot(zi, &beta));
            let r = if t[i] { 1.0 - mu } else { -mu };
            let w = mu * (1.0 - mu);
            for a in 0..k {
                grad[a] += zi[a] * r;
                let wa = w * zi[a];
                for b in 0..=a {
                    hess[a * k + b] += wa * zi[b];
                }
            }
        }
        for a in 0..k {
            grad[a] /= n;
            for b in 0..=a {
                hess[a * k + b] /= n;
                hess[b * k + a] = hess[a * k + b];
            }
            if a > 0 {
                grad[a] -= lambda * beta[a];
                hess[a * k + a] += lambda;
            }
        }
        // A tiny jitter rescues the unpenalised intercept when every μ is 0 or 1.
        let mut step = None;
        let mut jitter = 0.0;
        for _ in 0..8 {
            let mut h = hess.clone();
            (0..k).for_each(|a| h[a * k + a] += jitter);
            step = cholesky_solve(&h, &grad, k);
            if step.is_some() {
                break;
            }
            jitter = if jitter == 0.0 { 1e-10 } else { jitter * 100.0 };
        }
        let Some(delta) = step else { break };
        let mut scale = 1.0;
        let mut accepted = false;
        for _ in 0..30 {
            let candidate: Vec<f64> = beta
                .iter()
                .zip(&delta)
                .map(|(b, d)| b + scale * d)
                .collect();
            let value = objective(z, k, t, rows, &candidate, lambda);
            if value >= current - 1e-15 * current.abs() {
                let change = (value - current).abs();
                let max_step = delta.iter().fold(0.0f64, |m, d| m.max((scale * d).abs()));
                beta = candidate;
                current = value;
                accepted = true;
                if max_step < 1e-8 || change < 1e-12 * (1.0 + current.abs()) {
                    converged = true;
                }
                break;
            }
            scale *= 0.5;
        }
        if !accepted {
            // No ascent direction left at machine precision: a maximum.
            converged = true;
        }
        if converged {
            break;
        }
    }
    LogisticFit {
        beta,
        iterations,
        converged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_known_system() {
        // [[4, 2], [2, 3]] x = [2, 1] → x = [0.5, 0].
        let x = cholesky_solve(&[4.0, 2.0, 2.0, 3.0], &[2.0, 1.0], 2).unwrap();
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12, "{x:?}");
        assert!(cholesky_solve(&[1.0, 2.0, 2.0, 1.0], &[1.0, 1.0], 2).is_none());
    }

    #[test]
    fn recovers_known_coefficients() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n = 4000;
        let x: Vec<Vec<f64>> = (0..n).map(|_| vec![rng.random_range(-2.0..2.0)]).collect();
        let t: Vec<bool> = x
            .iter()
            .map(|r| rng.random::<f64>() < sigmoid(-0.5 + 1.5 * r[0]))
            .collect();
        let s = Standardiser::fit(&x, 1);
        let z = s.design(&x);
        let rows: Vec<usize> = (0..n).collect();
        let f = fit(&z, 2, &t, &rows, None);
        assert!(f.converged && f.iterations < 15, "{f:?}");
        // Back on the raw scale: slope = β₁/s, intercept = β₀ − β₁·mean/s.
        let slope = f.beta[1] / s.sds[0];
        let intercept = f.beta[0] - f.beta[1] * s.means[0] / s.sds[0];
        assert!((slope - 1.5).abs() < 0.2, "slope {slope}");
        assert!((intercept + 0.5).abs() < 0.15, "intercept {intercept}");
    }
}
