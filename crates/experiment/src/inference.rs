//! The textbook building blocks of the analysis, each a pure function on counts or sums:
//! Wilson score intervals, the unpooled Wald interval and the pooled z test for two proportions,
//! the normal interval of a mean and of a difference of means (Welch), Holm's step-down
//! adjustment and the chi-square goodness-of-fit test. Undefined quantities (an empty arm) come
//! back as `None`, never as `NaN`.

use serde::{Deserialize, Serialize};

use crate::dist::{chi2_sf, normal_sf, two_sided_p, z_two_sided};

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Nominal coverage, e.g. 0.95.
    pub level: f64,
}

impl Interval {
    /// Whether `x` lies in [lower, upper].
    pub fn contains(&self, x: f64) -> bool {
        self.lower <= x && x <= self.upper
    }
}

/// Wilson score interval (Wilson 1927) for a proportion with `successes` out of `n` at level
/// 1 − α:
///
/// `(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)`, z = Φ⁻¹(1 − α/2).
///
/// Unlike the Wald interval it stays inside [0, 1] and keeps its coverage near 0 and 1.
/// `None` when n = 0 or successes > n.
pub fn wilson_interval(successes: u64, n: u64, alpha: f64) -> Option<Interval> {
    if n == 0 || successes > n {
        return None;
    }
    let nf = n as f64;
    let p = successes as f64 / nf;
    let z = z_two_sided(alpha);
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = z / denom * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    // At 0 or n successes the bound is exactly 0 or 1; say so rather than leave rounding dust.
    Some(Interval {
        lower: if successes == 0 {
            0.0
        } else {
            (centre - half).max(0.0)
        },
        upper: if successes == n {
            1.0
        } else {
            (centre + half).min(1.0)
        },
        level: 1.0 - alpha,
    })
}

/// Unpooled Wald interval for p₁ − p₀ at level 1 − α:
/// `(p̂₁ − p̂₀) ± z·√(p̂₁(1−p̂₁)/n₁ + p̂₀(1−p̂₀)/n₀)`, z = Φ⁻¹(1 − α/2).
/// `None` when either arm is empty.
pub fn wald_difference_interval(
    x0: u64,
    n0: u64,
    x1: u64,
    n1: u64,
    alpha: f64,
) -> Option<Interval> {
    if n0 == 0 || n1 == 0 || x0 > n0 || x1 > n1 {
        return None;
    }
    let (p0, p1) = (x0 as f64 / n0 as f64, x1 as f64 / n1 as f64);
    let se = (p0 * (1.0 - p0) / n0 as f64 + p1 * (1.0 - p1) / n1 as f64).sqrt();
    let z = z_two_sided(alpha);
    let d = p1 - p0;
    Some(Interval {
        lower: d - z * se,
        upper: d + z * se,
        level: 1.0 - alpha,
    })
}

/// Result of a z test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ZTest {
    /// The statistic.
    pub z: f64,
    /// Its p-value (two- or one-sided, as the function says).
    pub p_value: f64,
}

/// Pooled two-proportion z statistic for H₀: p₁ = p₀:
/// `z = (p̂₁ − p̂₀) / √(p̄(1−p̄)(1/n₀ + 1/n₁))`, p̄ = (x₀ + x₁)/(n₀ + n₁).
/// When p̄ is 0 or 1 both rates are equal and z = 0 by convention. `None` if an arm is empty.
pub fn pooled_z(x0: u64, n0: u64, x1: u64, n1: u64) -> Option<f64> {
    if n0 == 0 || n1 == 0 || x0 > n0 || x1 > n1 {
        return None;
    }
    let (n0f, n1f) = (n0 as f64, n1 as f64);
    let pooled = (x0 + x1) as f64 / (n0f + n1f);
    let se = (pooled * (1.0 - pooled) * (1.0 / n0f + 1.0 / n1f)).sqrt();
    let d = x1 as f64 / n1f - x0 as f64 / n0f;
    Some(if se > 0.0 { d / se } else { 0.0 })
}

/// Two-sided pooled two-proportion z test (see [`pooled_z`]): p = 2(1 − Φ(|z|)).
pub fn two_proportion_z_test(x0: u64, n0: u64, x1: u64, n1: u64) -> Option<ZTest> {
    pooled_z(x0, n0, x1, n1).map(|z| ZTest {
        z,
        p_value: two_sided_p(z),
    })
}

/// One-sided pooled z test of H₁: p₁ > p₀ (see [`pooled_z`]): p = 1 − Φ(z).
pub fn one_sided_increase_test(x0: u64, n0: u64, x1: u64, n1: u64) -> Option<ZTest> {
    pooled_z(x0, n0, x1, n1).map(|z| ZTest {
        z,
        p_value: normal_sf(z),
    })
}

/// Holm's step-down adjustment (Holm 1979) controlling the family-wise error rate: with the
/// p-values sorted p₍₁₎ ≤ … ≤ p₍ₘ₎,
/// `p̃₍ᵢ₎ = max_{j ≤ i} min(1, (m − j + 1)·p₍ⱼ₎)`, returned in the input order.
/// Rejecting every hypothesis with p̃ < α is Holm's procedure at level α.
pub fn holm_adjust(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![1.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        let p = if p_values[i].is_nan() {
            1.0
        } else {
            p_values[i]
        };
        running = running.max(((m - rank) as f64 * p).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// Mean, sample standard deviation and normal interval of a per-customer value from its sums.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanEstimate {
    /// x̄ = S / n.
    pub mean: f64,
    /// s = √((Σx² − n·x̄²)/(n − 1)); `None` for n < 2.
    pub sd: Option<f64>,
    /// x̄ ± z·s/√n; `None` for n < 2.
    pub ci: Option<Interval>,
}

/// Sample variance from sums: (Σx² − (Σx)²/n)/(n − 1), clamped at 0 against rounding.
pub(crate) fn variance_from_sums(n: u64, sum: f64, sum_sq: f64) -> Option<f64> {
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    Some(((sum_sq - sum * sum / nf) / (nf - 1.0)).max(0.0))
}

/// Estimate of a mean from n, Σx and Σx² with a normal interval at 1 − α; `None` for n = 0.
pub fn mean_from_sums(n: u64, sum: f64, sum_sq: f64, alpha: f64) -> Option<MeanEstimate> {
    if n == 0 {
        return None;
    }
    let mean = sum / n as f64;
    let var = variance_from_sums(n, sum, sum_sq);
    let z = z_two_sided(alpha);
    Some(MeanEstimate {
        mean,
        sd: var.map(f64::sqrt),
        ci: var.map(|v| {
            let half = z * (v / n as f64).sqrt();
            Interval {
                lower: mean - half,
                upper: mean + half,
                level: 1.0 - alpha,
            }
        }),
    })
}

/// Welch-type normal interval for μ₁ − μ₀ from sums:
/// `(x̄₁ − x̄₀) ± z·√(s₁²/n₁ + s₀²/n₀)`; `None` if either arm has fewer than 2 customers.
pub fn mean_difference_interval(
    (n0, s0, ss0): (u64, f64, f64),
    (n1, s1, ss1): (u64, f64, f64),
    alpha: f64,
) -> Option<(f64, Interval)> {
    let v0 = variance_from_sums(n0, s0, ss0)?;
    let v1 = variance_from_sums(n1, s1, ss1)?;
    let d = s1 / n1 as f64 - s0 / n0 as f64;
    let half = z_two_sided(alpha) * (v0 / n0 as f64 + v1 / n1 as f64).sqrt();
    Some((
        d,
        Interval {
            lower: d - half,
            upper: d + half,
            level: 1.0 - alpha,
        },
    ))
}

/// Pearson's chi-square goodness-of-fit test of observed counts against expected shares:
/// `χ² = Σ (Oᵢ − Eᵢ)² / Eᵢ`, Eᵢ = N·πᵢ, with k − 1 degrees of freedom; returns (χ², p).
/// Groups with πᵢ = 0 must have Oᵢ = 0 and are left out. `None` if N = 0, fewer than two
/// groups have a positive share, or a zero-share group has observations.
pub fn chi_square_gof(observed: &[u64], shares: &[f64]) -> Option<(f64, usize, f64)> {
    if observed.len() != shares.len() {
        return None;
    }
    let total: u64 = observed.iter().sum();
    let share_sum: f64 = shares.iter().filter(|s| **s > 0.0).sum();
    if total == 0 || share_sum <= 0.0 {
        return None;
    }
    let mut chi2 = 0.0;
    let mut k = 0usize;
    for (&o, &s) in observed.iter().zip(shares) {
        if s > 0.0 {
            let e = total as f64 * s / share_sum;
            chi2 += (o as f64 - e).powi(2) / e;
            k += 1;
        } else if o > 0 {
            return None;
        }
    }
    if k < 2 {
        return None;
    }
    let df = k - 1;
    Some((chi2, df, chi2_sf(chi2, df as f64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_matches_hand_computation() {
        // Sorted 0.01, 0.02, 0.04 (m = 3): 0.03, max(0.03, 0.04), max(0.04, 0.04).
        let adj = holm_adjust(&[0.04, 0.01, 0.02]);
        let want = [0.04, 0.03, 0.04];
        for (a, w) in adj.iter().zip(want) {
            assert!((a - w).abs() < 1e-12, "{adj:?}");
        }
        assert_eq!(holm_adjust(&[0.6, 0.9]), vec![1.0, 1.0]);
        assert!(holm_adjust(&[]).is_empty());
    }

    #[test]
    fn mean_from_sums_matches_direct_computation() {
        let xs = [1.0, 2.0, 4.0, 7.0];
        let s: f64 = xs.iter().sum();
        let ss: f64 = xs.iter().map(|x| x * x).sum();
        let m = mean_from_sums(4, s, ss, 0.05).unwrap();
        assert!((m.mean - 3.5).abs() < 1e-12);
        // Sample variance: Σ(x − 3.5)² / 3 = (6.25 + 2.25 + 0.25 + 12.25)/3 = 7.
        assert!((m.sd.unwrap() - 7f64.sqrt()).abs() < 1e-12);
        assert!(mean_from_sums(0, 0.0, 0.0, 0.05).is_none());
        assert!(mean_from_sums(1, 5.0, 25.0, 0.05).unwrap().ci.is_none());
    }

    #[test]
    fn chi_square_gof_by_hand() {
        // 60/40 against 50/50: χ² = (10² + 10²)/50 = 4, df 1.
        let (chi2, df, p) = chi_square_gof(&[60, 40], &[0.5, 0.5]).unwrap();
        assert!((chi2 - 4.0).abs() < 1e-12 && df == 1);
        assert!((p - 0.045_500_263_9).abs() < 1e-8, "{p}");
        assert!(chi_square_gof(&[0, 0], &[0.5, 0.5]).is_none());
        assert!(chi_square_gof(&[5, 1], &[1.0, 0.0]).is_none());
    }

    #[test]
    fn degenerate_rates_give_z_zero() {
        assert_eq!(pooled_z(0, 10, 0, 10), Some(0.0));
        assert_eq!(pooled_z(10, 10, 10, 10), Some(0.0));
        assert_eq!(pooled_z(0, 0, 1, 10), None);
        assert!(wilson_interval(0, 0, 0.05).is_none());
        let w = wilson_interval(0, 10, 0.05).unwrap();
        assert_eq!(w.lower, 0.0);
        assert!(w.upper > 0.2 && w.upper < 0.35);
    }
}
