//! Choosing k: the (sampled) silhouette coefficient and a scan over a range of k.
//!
//! The silhouette of a row is `(b − a) / max(a, b)`, where `a` is its mean Euclidean distance
//! to the other rows of its cluster and `b` the smallest mean distance to the rows of another
//! cluster (Rousseeuw 1987); a row alone in its cluster scores 0 (scikit-learn's convention).
//! The coefficient is the mean over rows. It is quadratic in the number of rows, so for large
//! data it is computed on a uniform sample of rows (without replacement, seeded), distances
//! taken within the sample — scikit-learn's `silhouette_score(sample_size=…)`.
//!
//! [`choose_k`] fits k-means for every k in a range and keeps the k with the highest
//! silhouette. k = 1 has no silhouette (reported as 0): it is chosen only when the range
//! contains 1 and no larger k reaches [`MIN_SPLIT_SILHOUETTE`] — "splitting does not help".
//! The inertia of every k is returned too, for an elbow plot.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::{KMeansConfig, Matrix, SegmentError, kmeans};

/// Rows sampled for the silhouette when there are more (about 0.1 s on 8 features).
pub const SILHOUETTE_SAMPLE: usize = 3000;

/// Below this silhouette a split is not worth having: Kaufman & Rousseeuw (1990) read an
/// average silhouette ≤ 0.25 as "no substantial structure".
pub const MIN_SPLIT_SILHOUETTE: f64 = 0.25;

/// Mean silhouette of `labels` (values `< k`) on the rows of `data`, over a seeded sample of
/// at most `sample` rows (all rows when `sample == 0` or `sample >= rows`). Returns 0 when
/// fewer than two clusters are present in the sample. Panics if `labels.len() != data.rows`
/// or a label is `>= k` (caller bugs).
pub fn silhouette(data: &Matrix, labels: &[usize], k: usize, sample: usize, seed: u64) -> f64 {
    assert_eq!(labels.len(), data.rows, "one label per row");
    assert!(labels.iter().all(|&l| l < k), "labels must be < k");
    let n = data.rows;
    let idx: Vec<usize> = if sample == 0 || sample >= n {
        (0..n).collect()
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut v = rand::seq::index::sample(&mut rng, n, sample).into_vec();
        v.sort_unstable();
        v
    };
    let m = idx.len();
    let d = data.cols;
    let rows: Vec<f64> = idx
        .iter()
        .flat_map(|&i| data.row(i).iter().copied())
        .collect();
    let lab: Vec<usize> = idx.iter().map(|&i| labels[i]).collect();
    let mut size = vec![0usize; k];
    for &l in &lab {
        size[l] += 1;
    }
    if size.iter().filter(|&&s| s > 0).count() < 2 {
        return 0.0;
    }
    let scores: Vec<f64> = (0..m)
        .into_par_iter()
        .map(|i| {
            let x = &rows[i * d..(i + 1) * d];
            let mut sum = vec![0.0f64; k];
            for (j, y) in rows.chunks_exact(d).enumerate() {
                if j != i {
                    let dist: f64 = x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum();
                    sum[lab[j]] += dist.sqrt();
                }
            }
            let own = lab[i];
            if size[own] <= 1 {
                return 0.0;
            }
            let a = sum[own] / (size[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && size[c] > 0)
                .map(|c| sum[c] / size[c] as f64)
                .fold(f64::INFINITY, f64::min);
            let denom = a.max(b);
            if denom > 0.0 { (b - a) / denom } else { 0.0 }
        })
        .collect();
    scores.iter().sum::<f64>() / m as f64
}

/// `(k, silhouette, inertia)` for one k tried by [`choose_k`].
pub type KScore = (usize, f64, f64);

/// One k-means fit per k, with its silhouette.
pub(crate) struct Scan {
    /// `(k, silhouette, inertia)` per k tried, in order.
    pub scores: Vec<KScore>,
    pub models: Vec<crate::KMeansModel>,
    pub chosen: usize,
}

impl Scan {
    /// The model fitted with `k` clusters, if `k` was tried.
    pub fn model(&self, k: usize) -> Option<&crate::KMeansModel> {
        self.scores
            .iter()
            .position(|s| s.0 == k)
            .map(|i| &self.models[i])
    }
}

pub(crate) fn scan_k(
    data: &Matrix,
    range: std::ops::RangeInclusive<usize>,
    cfg: &KMeansConfig,
) -> Result<Scan, SegmentError> {
    if range.is_empty() || *range.start() == 0 {
        return Err(SegmentError::InvalidConfig(format!(
            "k range {}..={} must be non-empty and start at 1 or more",
            range.start(),
            range.end()
        )));
    }
    if data.rows < *range.start() {
        return Err(SegmentError::TooFewRows {
            rows: data.rows,
            k: *range.start(),
        });
    }
    let mut scores = Vec::new();
    let mut models = Vec::new();
    for k in range.clone().filter(|&k| k <= data.rows) {
        let model = kmeans(data, &KMeansConfig { k, ..cfg.clone() })?;
        let sil = if k == 1 {
            0.0
        } else {
            let labels: Vec<usize> = model.predict_all(data)?.into_iter().map(|p| p.0).collect();
            silhouette(data, &labels, k, SILHOUETTE_SAMPLE, cfg.seed)
        };
        scores.push((k, sil, model.inertia));
        models.push(model);
    }
    let best = scores
        .iter()
        .filter(|s| s.0 >= 2)
        .fold(None::<(usize, f64)>, |acc, s| match acc {
            Some((_, b)) if b >= s.1 => acc,
            _ => Some((s.0, s.1)),
        });
    let chosen = match best {
        Some((k, sil)) if !range.contains(&1) || sil >= MIN_SPLIT_SILHOUETTE => k,
        _ => 1,
    };
    Ok(Scan {
        scores,
        models,
        chosen,
    })
}

/// Fits k-means (with `cfg`, its `k` ignored) for every k in `range` that does not exceed the
/// number of rows and returns the chosen k with `(k, silhouette, inertia)` for each k tried.
/// The chosen k has the highest silhouette (ties: the smaller k); k = 1 wins only when the
/// range contains it and no larger k reaches [`MIN_SPLIT_SILHOUETTE`].
pub fn choose_k(
    data: &Matrix,
    range: std::ops::RangeInclusive<usize>,
    cfg: &KMeansConfig,
) -> Result<(usize, Vec<KScore>), SegmentError> {
    let scan = scan_k(data, range, cfg)?;
    Ok((scan.chosen, scan.scores))
}
