//! Statistical tests of the released noise with a seeded ChaCha generator: the discrete Laplace
//! moments and probability mass function, symmetry, and the ε-DP likelihood-ratio bound checked
//! empirically on neighbouring inputs.

use std::collections::HashMap;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sextant_privacy::{Clamp, Epsilon, NoiseSource, noisy_count, noisy_sum};

fn seeded(seed: u64) -> NoiseSource<ChaCha20Rng> {
    NoiseSource::from_rng(ChaCha20Rng::seed_from_u64(seed))
}

/// Noise draws of a count query with scale 1/ε.
fn count_noise(eps: f64, n: usize, seed: u64) -> Vec<i64> {
    let eps = Epsilon::new(eps).unwrap();
    let mut noise = seeded(seed);
    (0..n)
        .map(|_| noisy_count(1_000_000, eps, &mut noise).unwrap().value - 1_000_000)
        .collect()
}

/// Variance of the discrete Laplace distribution with scale b.
fn theoretical_variance(b: f64) -> f64 {
    let p = (-1.0 / b).exp();
    2.0 * p / (1.0 - p).powi(2)
}

fn moments(xs: &[i64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().map(|x| *x as f64).sum::<f64>() / n;
    let var = xs.iter().map(|x| (*x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

#[test]
fn count_noise_has_mean_zero_and_the_discrete_laplace_variance() {
    for (eps, seed) in [(0.5, 11), (1.0, 12), (0.1, 13)] {
        let xs = count_noise(eps, 20_000, seed);
        let (mean, var) = moments(&xs);
        let expected = theoretical_variance(1.0 / eps);
        let se_mean = (expected / xs.len() as f64).sqrt();
        assert!(
            mean.abs() < 4.0 * se_mean,
            "ε={eps}: mean {mean}, se {se_mean}"
        );
        let rel = (var - expected).abs() / expected;
        assert!(
            rel < 0.05,
            "ε={eps}: variance {var} vs {expected} ({rel:.3})"
        );
    }
}

#[test]
fn large_scale_sum_noise_has_the_right_variance() {
    // Sensitivity 1000 at ε = 1: scale 1000, variance ≈ 2·10⁶.
    let clamp = Clamp::new(0, 1000).unwrap();
    let eps = Epsilon::new(1.0).unwrap();
    let mut noise = seeded(14);
    let xs: Vec<i64> = (0..20_000)
        .map(|_| noisy_sum(&[], clamp, eps, &mut noise).unwrap().value)
        .collect();
    let (mean, var) = moments(&xs);
    let expected = theoretical_variance(1000.0);
    assert!(mean.abs() < 4.0 * (expected / 20_000.0).sqrt(), "{mean}");
    assert!(
        (var - expected).abs() / expected < 0.05,
        "{var} vs {expected}"
    );
}

#[test]
fn count_noise_follows_the_probability_mass_function_and_is_symmetric() {
    let eps = 0.7;
    let xs = count_noise(eps, 40_000, 15);
    let n = xs.len() as f64;
    let p = (-eps).exp();
    let mut hist: HashMap<i64, usize> = HashMap::new();
    for x in &xs {
        *hist.entry(*x).or_default() += 1;
    }
    for y in -4i64..=4 {
        let pmf = (1.0 - p) / (1.0 + p) * p.powi(y.unsigned_abs() as i32);
        let got = *hist.get(&y).unwrap_or(&0) as f64 / n;
        let se = (pmf * (1.0 - pmf) / n).sqrt();
        assert!((got - pmf).abs() < 4.0 * se, "P[{y}] = {got} vs {pmf}");
    }
    let pos = xs.iter().filter(|x| **x > 0).count() as f64;
    let neg = xs.iter().filter(|x| **x < 0).count() as f64;
    assert!(
        (pos - neg).abs() < 4.0 * (pos + neg).sqrt(),
        "{pos} vs {neg}"
    );
}

/// Histograms of outputs on two neighbouring inputs; on every well-populated bin the ratio of
/// frequencies must lie within e^{±ε} up to sampling error, and the bound must be reached (the
/// noise is not larger than it needs to be).
fn check_ratio(a: &[i64], b: &[i64], eps: f64) {
    let hist = |xs: &[i64]| {
        let mut h: HashMap<i64, f64> = HashMap::new();
        for x in xs {
            *h.entry(*x).or_default() += 1.0;
        }
        h
    };
    let (ha, hb) = (hist(a), hist(b));
    let bound = eps.exp();
    let mut max_ratio: f64 = 0.0;
    let mut bins = 0;
    for (k, ca) in &ha {
        let Some(cb) = hb.get(k) else { continue };
        if *ca < 1000.0 || *cb < 1000.0 {
            continue;
        }
        bins += 1;
        let ratio = ca / cb;
        // Relative standard error of a ratio of two Poisson-ish counts.
        let tol = 4.0 * (1.0 / ca + 1.0 / cb).sqrt();
        assert!(
            ratio <= bound * (1.0 + tol),
            "bin {k}: {ratio} > e^ε = {bound}"
        );
        assert!(
            ratio >= (1.0 / bound) * (1.0 - tol),
            "bin {k}: {ratio} < e^-ε"
        );
        max_ratio = max_ratio.max(ratio).max(1.0 / ratio);
    }
    assert!(bins >= 4, "only {bins} well-populated bins");
    assert!(
        max_ratio > bound * 0.85,
        "max ratio {max_ratio} well below e^ε = {bound}"
    );
}

#[test]
fn neighbouring_counts_satisfy_the_epsilon_dp_ratio() {
    let eps = Epsilon::new(1.0).unwrap();
    let mut noise = seeded(16);
    let draws = |n: u64, noise: &mut NoiseSource<ChaCha20Rng>| -> Vec<i64> {
        (0..100_000)
            .map(|_| noisy_count(n, eps, noise).unwrap().value)
            .collect()
    };
    let a = draws(10, &mut noise);
    let b = draws(11, &mut noise);
    check_ratio(&a, &b, 1.0);
}

#[test]
fn neighbouring_sums_satisfy_the_epsilon_dp_ratio() {
    // Adding one customer whose clamped value is the bound 3 (the worst case) at ε = 1.
    let clamp = Clamp::new(-3, 2).unwrap();
    let eps = Epsilon::new(1.0).unwrap();
    let without = vec![1i64, -2, 2, 0];
    let mut with = without.clone();
    with.push(-50); // clamped to -3
    let mut noise = seeded(17);
    let mut draws = |values: &[i64]| -> Vec<i64> {
        (0..100_000)
            .map(|_| noisy_sum(values, clamp, eps, &mut noise).unwrap().value)
            .collect()
    };
    let a = draws(&without);
    let b = draws(&with);
    check_ratio(&a, &b, 1.0);
}
