//! Seeded test data: Gaussian blobs and a seed-002-like profile table.

#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sextant_segment::Matrix;

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Standard normal draw (Box–Muller).
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// `per` rows around each centre with standard deviation `sd`; returns data and true labels.
pub fn blobs(centres: &[Vec<f64>], per: usize, sd: f64, seed: u64) -> (Matrix, Vec<usize>) {
    let mut r = rng(seed);
    let d = centres[0].len();
    let mut data = Vec::new();
    let mut labels = Vec::new();
    for i in 0..per * centres.len() {
        let c = i % centres.len();
        for &m in &centres[c] {
            data.push(m + sd * normal(&mut r));
        }
        labels.push(c);
    }
    (Matrix::new(labels.len(), d, data).unwrap(), labels)
}

pub fn three_blobs(seed: u64) -> (Matrix, Vec<usize>) {
    blobs(
        &[
            vec![0.0, 0.0, 0.0],
            vec![10.0, 10.0, 0.0],
            vec![-10.0, 10.0, 5.0],
        ],
        200,
        1.0,
        seed,
    )
}

/// Column names of the profile-only table (seed 002's columns, in the lead's feature names).
pub fn profile_names() -> Vec<String> {
    [
        "age",
        "income_annual",
        "spending_habit_score",
        "risk_profile_score",
        "transactions_reported",
        "sentiment_score",
        "engagement_score",
        "tenure_years",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A seed-002-like customer table: no transactions, `tenure_years` entirely missing, a few
/// scattered gaps elsewhere. Four latent customer types make the data clusterable.
pub fn profile_table(n: usize, seed: u64) -> Matrix {
    let mut r = rng(seed);
    let mut data = Vec::with_capacity(n * 8);
    for _ in 0..n {
        let kind = r.random_range(0..4);
        // (age, income, spending, risk, engagement) centres per type.
        let (age, inc, sp, risk, eng) = match kind {
            0 => (24.0, 32_000.0, 2.0, 2.0, 2.0),
            1 => (38.0, 65_000.0, 1.0, 1.0, 1.0),
            2 => (55.0, 90_000.0, 0.0, 0.0, 1.0),
            _ => (71.0, 40_000.0, 0.0, 0.0, 0.0),
        };
        let cat = |r: &mut ChaCha8Rng, centre: f64| -> f64 {
            // Mostly the type's level, sometimes a neighbour.
            let x: f64 = r.random();
            let v = if x < 0.7 {
                centre
            } else if x < 0.85 {
                centre - 1.0
            } else {
                centre + 1.0
            };
            v.clamp(0.0, 2.0)
        };
        let mut row = vec![
            (age + 5.0 * normal(&mut r)).clamp(18.0, 90.0),
            (inc * (1.0 + 0.2 * normal(&mut r))).max(5_000.0),
            cat(&mut r, sp),
            cat(&mut r, risk),
            r.random_range(0..50) as f64,
            (0.3 * normal(&mut r)).clamp(-1.0, 1.0),
            cat(&mut r, eng),
            f64::NAN,
        ];
        if r.random::<f64>() < 0.05 {
            row[1] = f64::NAN;
        }
        if r.random::<f64>() < 0.03 {
            row[5] = f64::NAN;
        }
        data.extend(row);
    }
    Matrix::new(n, 8, data).unwrap()
}

/// Do two labelings agree up to a renaming of the clusters?
pub fn same_partition(a: &[usize], b: &[usize]) -> bool {
    use std::collections::HashMap;
    let mut ab = HashMap::new();
    let mut ba = HashMap::new();
    a.iter()
        .zip(b)
        .all(|(&x, &y)| *ab.entry(x).or_insert(y) == y && *ba.entry(y).or_insert(x) == x)
}
