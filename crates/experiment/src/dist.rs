//! The few distribution functions the tests need, as thin wrappers over `statrs`
//! (built with `default-features = false`: no nalgebra, no rand).
//!
//! * standard normal CDF Φ(x), survival 1 − Φ(x) (computed directly, not by subtraction, so
//!   small tail probabilities keep their precision) and quantile Φ⁻¹(p);
//! * chi-square survival function P(χ²ₖ > x) = Q(k/2, x/2), the regularised upper incomplete
//!   gamma function.
//!
//! Every function is total: an argument outside the domain gives `NaN` only where noted, and the
//! callers in this crate never pass one.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

fn standard() -> Normal {
    Normal::standard()
}

/// Φ(x), the standard normal cumulative distribution function.
pub fn normal_cdf(x: f64) -> f64 {
    standard().cdf(x)
}

/// 1 − Φ(x), the standard normal upper tail, accurate far into the tail.
pub fn normal_sf(x: f64) -> f64 {
    standard().sf(x)
}

/// Two-sided p-value of a z statistic: 2 · (1 − Φ(|z|)), capped at 1.
pub fn two_sided_p(z: f64) -> f64 {
    (2.0 * normal_sf(z.abs())).min(1.0)
}

/// Φ⁻¹(p), the standard normal quantile; `NaN` outside 0 < p < 1 (±∞ at the ends).
pub fn normal_quantile(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    standard().inverse_cdf(p)
}

/// The two-sided critical value z₁₋α/₂ for a confidence level 1 − α (1.959964 for α = 0.05).
pub fn z_two_sided(alpha: f64) -> f64 {
    normal_quantile(1.0 - alpha / 2.0)
}

/// P(χ²ₖ > x), the chi-square survival function with `df` degrees of freedom; 1 for x ≤ 0,
/// `NaN` for df ≤ 0.
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    match ChiSquared::new(df) {
        Ok(d) => d.sf(x),
        Err(_) => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    //! Reference values: scipy.stats (norm.cdf, norm.ppf, chi2.sf) and closed forms
    //! (χ²₁: erfc(√(x/2)), χ²₂: e^(−x/2)).
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b} (tol {tol})");
    }

    #[test]
    fn normal_values() {
        close(normal_cdf(1.96), 0.975_002_1, 1e-7);
        close(normal_cdf(0.0), 0.5, 1e-12);
        close(normal_cdf(-1.0), 0.158_655_253_9, 1e-9);
        close(normal_sf(5.0), 2.866_515_718_8e-7, 1e-12);
        close(normal_quantile(0.975), 1.959_963_985, 1e-8);
        close(normal_quantile(0.5), 0.0, 1e-12);
        close(z_two_sided(0.05), 1.959_963_985, 1e-8);
        close(z_two_sided(0.01), 2.575_829_304, 1e-8);
        close(two_sided_p(1.959_963_985), 0.05, 1e-9);
        assert!(normal_quantile(1.5).is_nan());
    }

    #[test]
    fn chi_square_values() {
        close(chi2_sf(3.84146, 1.0), 0.05, 1e-6);
        close(chi2_sf(5.99146, 2.0), 0.05, 1e-6);
        close(chi2_sf(7.81473, 3.0), 0.05, 1e-6);
        close(chi2_sf(10.0, 3.0), 0.018_566_135, 1e-8);
        close(chi2_sf(2.0, 2.0), (-1.0f64).exp(), 1e-12);
        close(chi2_sf(10.827_566, 1.0), 0.001, 1e-7);
        close(chi2_sf(0.0, 4.0), 1.0, 0.0);
        assert!(chi2_sf(1.0, 0.0).is_nan());
    }
}
