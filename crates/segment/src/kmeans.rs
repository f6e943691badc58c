//! k-means: greedy k-means++ seeding, Lloyd iterations, best of several restarts.
//!
//! * **Seeding** is greedy k-means++ (Arthur & Vassilvitskii 2007, with the local trials of
//!   scikit-learn's `_kmeans_plusplus`): the first centre is a uniformly random row; every next
//!   centre is the best (lowest potential) of `2 + ⌊ln k⌋` rows drawn with probability
//!   proportional to the squared distance to the nearest centre chosen so far.
//! * **Lloyd** alternates assignment and mean update ([`crate::kernel`] holds the parallel
//!   pass). It stops after `max_iter` iterations, or when the total squared centre shift is at
//!   most `tol × (mean per-feature variance)` — scikit-learn's definition, so `tol` is relative
//!   to the spread of the data; with `tol = 0` it stops early only when nothing moved at all
//!   (scikit-learn's "strict convergence"). A cluster that ends up empty is moved to the row
//!   farthest from its centre (the farthest row of one chunk per empty cluster, chunks ordered
//!   by that distance), as scikit-learn does.
//! * **Restarts** run the whole thing `restarts` times with independent random streams
//!   (ChaCha8 seeded with `seed`, stream = restart number) and keep the lowest inertia
//!   (ties: the earlier restart). Everything is deterministic for a seed.
//! * The reported inertia is recomputed for the final centroids, so `inertia` and the labels
//!   from [`KMeansModel::predict`] always belong together.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::kernel::{self, CHUNK_ROWS, Packed};
use crate::{Matrix, SegmentError};

/// How to run [`kmeans`].
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansConfig {
    /// Number of clusters (≥ 1, ≤ number of rows).
    pub k: usize,
    /// Independent k-means++ + Lloyd runs; the best by inertia wins. Default 5.
    pub restarts: usize,
    /// Maximum Lloyd iterations per run. Default 100.
    pub max_iter: usize,
    /// Convergence threshold on the total squared centre shift, relative to the mean feature
    /// variance (scikit-learn's `tol`). Default 1e-4.
    pub tol: f64,
    /// Seed for the k-means++ draws.
    pub seed: u64,
}

impl Default for KMeansConfig {
    fn default() -> Self {
        Self {
            k: 8,
            restarts: 5,
            max_iter: 100,
            tol: 1e-4,
            seed: 0,
        }
    }
}

impl KMeansConfig {
    /// The defaults with `k` clusters.
    pub fn with_k(k: usize) -> Self {
        Self {
            k,
            ..Self::default()
        }
    }
}

/// A fitted k-means model: the centroids (in the units of the data it was fitted on).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct KMeansModel {
    pub centroids: Vec<Vec<f64>>,
    /// Sum of squared distances of the training rows to their nearest centroid.
    pub inertia: f64,
    /// Lloyd iterations run by the winning restart.
    pub iterations: usize,
}

impl KMeansModel {
    /// Number of clusters.
    pub fn k(&self) -> usize {
        self.centroids.len()
    }

    /// Number of features.
    pub fn dim(&self) -> usize {
        self.centroids.first().map_or(0, Vec::len)
    }

    fn packed(&self) -> Packed {
        Packed::new(&self.centroids.concat(), self.k(), self.dim())
    }

    /// Nearest centroid of `row` and the squared Euclidean distance to it (ties: lower index).
    /// Uses the same arithmetic as training, so a training row gets the label it was counted
    /// under. Panics if `row.len()` differs from the centroids' dimension (a caller bug).
    pub fn predict(&self, row: &[f64]) -> (usize, f64) {
        assert_eq!(row.len(), self.dim(), "row length must match the centroids");
        kernel::nearest(row, &self.packed())
    }

    /// [`predict`](Self::predict) for every row of `data`, in parallel.
    pub fn predict_all(&self, data: &Matrix) -> Result<Vec<(usize, f64)>, SegmentError> {
        if data.cols != self.dim() {
            return Err(SegmentError::FeatureCount {
                expected: self.dim(),
                got: data.cols,
            });
        }
        Ok(kernel::assign_all(&data.data, &self.packed()))
    }

    /// Cluster sizes of `data` under this model.
    pub fn sizes(&self, data: &Matrix) -> Result<Vec<usize>, SegmentError> {
        let mut sizes = vec![0; self.k()];
        for (c, _) in self.predict_all(data)? {
            sizes[c] += 1;
        }
        Ok(sizes)
    }
}

fn validate(data: &Matrix, k: usize) -> Result<(), SegmentError> {
    if k == 0 {
        return Err(SegmentError::InvalidConfig("k must be at least 1".into()));
    }
    if data.cols == 0 {
        return Err(SegmentError::InvalidConfig("data has no columns".into()));
    }
    if data.rows < k {
        return Err(SegmentError::TooFewRows { rows: data.rows, k });
    }
    data.check_finite()
}

/// k-means with k-means++ seeding, best of `cfg.restarts` runs by inertia. Rows must be finite.
pub fn kmeans(data: &Matrix, cfg: &KMeansConfig) -> Result<KMeansModel, SegmentError> {
    validate(data, cfg.k)?;
    if cfg.tol.is_nan() || cfg.tol < 0.0 {
        return Err(SegmentError::InvalidConfig("tol must be ≥ 0".into()));
    }
    let tol_abs = absolute_tol(data, cfg.tol);
    let mut best: Option<KMeansModel> = None;
    for restart in 0..cfg.restarts.max(1) {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        rng.set_stream(restart as u64);
        let init = kmeans_plus_plus(data, cfg.k, &mut rng);
        let model = lloyd_flat(data, init, cfg.k, cfg.max_iter, tol_abs);
        if best.as_ref().is_none_or(|b| model.inertia < b.inertia) {
            best = Some(model);
        }
    }
    Ok(best.expect("at least one restart ran"))
}

/// Lloyd iterations from the given initial centroids (no seeding, no restarts): the step the
/// benchmark compares with scikit-learn's `KMeans(init=…, n_init=1, algorithm="lloyd")`.
/// `tol` has the meaning of [`KMeansConfig::tol`]; `tol = 0` runs exactly `max_iter`
/// iterations unless the assignment stops changing.
pub fn lloyd(
    data: &Matrix,
    init_centroids: &[Vec<f64>],
    max_iter: usize,
    tol: f64,
) -> Result<KMeansModel, SegmentError> {
    let k = init_centroids.len();
    validate(data, k)?;
    let mut flat = Vec::with_capacity(k * data.cols);
    for (row, c) in init_centroids.iter().enumerate() {
        if c.len() != data.cols {
            return Err(SegmentError::FeatureCount {
                expected: data.cols,
                got: c.len(),
            });
        }
        if let Some(col) = c.iter().position(|v| !v.is_finite()) {
            return Err(SegmentError::NonFinite { row, col });
        }
        flat.extend_from_slice(c);
    }
    if tol.is_nan() || tol < 0.0 {
        return Err(SegmentError::InvalidConfig("tol must be ≥ 0".into()));
    }
    Ok(lloyd_flat(data, flat, k, max_iter, absolute_tol(data, tol)))
}

/// `tol × mean per-feature variance` (0 when `tol` is 0, without a pass over the data).
fn absolute_tol(data: &Matrix, tol: f64) -> f64 {
    if tol == 0.0 || data.rows == 0 {
        return 0.0;
    }
    let (n, d) = (data.rows as f64, data.cols);
    let mut mean = vec![0.0; d];
    for row in data.iter_rows() {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut ss = 0.0;
    for row in data.iter_rows() {
        ss += sq_dist(row, &mean);
    }
    tol * ss / n / d as f64
}

fn lloyd_flat(
    data: &Matrix,
    mut centres: Vec<f64>,
    k: usize,
    max_iter: usize,
    tol_abs: f64,
) -> KMeansModel {
    let d = data.cols;
    let mut iterations = 0;
    for it in 0..max_iter {
        let pass = kernel::lloyd_pass(&data.data, &Packed::new(&centres, k, d));
        let mut next = centres.clone();
        let mut empty = Vec::new();
        for c in 0..k {
            if pass.counts[c] == 0 {
                empty.push(c);
                continue;
            }
            let n = pass.counts[c] as f64;
            for j in 0..d {
                next[c * d + j] = pass.sums[c * d + j] / n;
            }
        }
        if !empty.is_empty() {
            // Rare: one extra pass with exact distances to find the farthest rows.
            let (_, mut far) = kernel::inertia_pass(&data.data, &Packed::new(&centres, k, d));
            far.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for (c, &(_, row)) in empty.iter().zip(&far) {
                next[c * d..(c + 1) * d].copy_from_slice(data.row(row));
            }
        }
        let shift: f64 = next
            .iter()
            .zip(&centres)
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        centres = next;
        iterations = it + 1;
        if shift <= tol_abs {
            break;
        }
    }
    let (inertia, _) = kernel::inertia_pass(&data.data, &Packed::new(&centres, k, d));
    KMeansModel {
        centroids: centres.chunks_exact(d).map(<[f64]>::to_vec).collect(),
        inertia,
        iterations,
    }
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Greedy k-means++; returns `k * d` row-major centroids.
fn kmeans_plus_plus(data: &Matrix, k: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let (n, d) = (data.rows, data.cols);
    let trials = 2 + (k as f64).ln().floor() as usize;
    let first = rng.random_range(0..n);
    let mut centres = data.row(first).to_vec();
    let mut closest: Vec<f64> = data
        .data
        .par_chunks(d)
        .map(|x| sq_dist(x, data.row(first)))
        .collect();
    for _ in 1..k {
        let chunk_sums: Vec<f64> = closest
            .par_chunks(CHUNK_ROWS)
            .map(|c| c.iter().sum())
            .collect();
        let pot: f64 = chunk_sums.iter().sum();
        let candidates: Vec<usize> = (0..trials)
            .map(|_| {
                if pot > 0.0 {
                    sample_index(&closest, &chunk_sums, rng.random::<f64>() * pot)
                } else {
                    rng.random_range(0..n)
                }
            })
            .collect();
        // Potential after adding each candidate, summed per chunk then in chunk order.
        let per_chunk: Vec<Vec<f64>> = data
            .data
            .par_chunks(CHUNK_ROWS * d)
            .zip(closest.par_chunks(CHUNK_ROWS))
            .map(|(rows, cl)| {
                candidates
                    .iter()
                    .map(|&cand| {
                        let c = data.row(cand);
                        rows.chunks_exact(d)
                            .zip(cl)
                            .map(|(x, &old)| sq_dist(x, c).min(old))
                            .sum()
                    })
                    .collect()
            })
            .collect();
        let mut pots = vec![0.0; trials];
        for part in &per_chunk {
            for (p, v) in pots.iter_mut().zip(part) {
                *p += v;
            }
        }
        let best = (0..trials)
            .min_by(|&a, &b| pots[a].total_cmp(&pots[b]).then(a.cmp(&b)))
            .expect("trials ≥ 2");
        let c = data.row(candidates[best]);
        closest
            .par_iter_mut()
            .zip(data.data.par_chunks(d))
            .for_each(|(old, x)| *old = sq_dist(x, c).min(*old));
        centres.extend_from_slice(c);
    }
    centres
}

/// Index `i` such that the prefix sum of `weights` first exceeds `u` (`0 ≤ u < Σ weights`),
/// using per-chunk sums to skip ahead. Rounding at the end falls back to the last positive
/// weight.
fn sample_index(weights: &[f64], chunk_sums: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    for (ci, &s) in chunk_sums.iter().enumerate() {
        if s > 0.0 && acc + s > u {
            let start = ci * CHUNK_ROWS;
            let end = (start + CHUNK_ROWS).min(weights.len());
            let mut a = acc;
            for (i, &w) in weights[start..end].iter().enumerate() {
                a += w;
                if w > 0.0 && a > u {
                    return start + i;
                }
            }
            return (start..end)
                .rev()
                .find(|&i| weights[i] > 0.0)
                .unwrap_or(start);
        }
        acc += s;
    }
    weights.iter().rposition(|&w| w > 0.0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_index_follows_weights() {
        let w = vec![0.0, 1.0, 0.0, 3.0];
        let sums = vec![4.0];
        assert_eq!(sample_index(&w, &sums, 0.0), 1);
        assert_eq!(sample_index(&w, &sums, 0.99), 1);
        assert_eq!(sample_index(&w, &sums, 1.0), 3);
        assert_eq!(sample_index(&w, &sums, 3.999), 3);
        assert_eq!(sample_index(&w, &sums, 4.5), 3, "rounding past the end");
    }

    #[test]
    fn empty_cluster_is_relocated() {
        // Two far-apart points; both initial centroids sit on the first one.
        let m = Matrix::from_rows(&[vec![0.0], vec![0.1], vec![10.0]]).unwrap();
        let model = lloyd(&m, &[vec![0.0], vec![0.0]], 10, 0.0).unwrap();
        let mut c: Vec<f64> = model.centroids.iter().map(|c| c[0]).collect();
        c.sort_by(f64::total_cmp);
        assert!(
            (c[0] - 0.05).abs() < 1e-12 && (c[1] - 10.0).abs() < 1e-12,
            "{c:?}"
        );
        assert!((model.inertia - 0.005).abs() < 1e-12);
    }

    #[test]
    fn rejects_bad_input() {
        let m = Matrix::from_rows(&[vec![0.0], vec![f64::NAN]]).unwrap();
        assert!(matches!(
            kmeans(&m, &KMeansConfig::with_k(1)),
            Err(SegmentError::NonFinite { row: 1, col: 0 })
        ));
        let m = Matrix::from_rows(&[vec![0.0]]).unwrap();
        assert!(matches!(
            kmeans(&m, &KMeansConfig::with_k(2)),
            Err(SegmentError::TooFewRows { rows: 1, k: 2 })
        ));
        assert!(kmeans(&m, &KMeansConfig::with_k(0)).is_err());
    }
}
