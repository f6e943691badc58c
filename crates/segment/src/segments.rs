//! The two-level segment hierarchy: training ([`train`]) and online assignment
//! ([`SegmentModel::assign`]).
//!
//! Training, step by step:
//!
//! 1. **Missing values.** Non-finite values (NaN, ±∞) count as missing. A feature missing for
//!    more than half of the rows is dropped; the remaining gaps are filled with the feature's
//!    mean over the rows that have it. The features kept, their positions in the input and the
//!    imputation means are stored in the model, so [`SegmentModel::assign`] prepares a new row
//!    exactly as training did. With only the seed-002 profile columns (no transactions) the
//!    transaction features are all missing, get dropped, and segmentation runs on the profile
//!    columns alone.
//! 2. **Standardize** every kept feature to z-scores ([`Standardizer`]), so no feature
//!    dominates by its unit (income in euros vs scores 0–2).
//! 3. **Macro segments**: k-means with the given `macro_k`, or k in 2..=5 chosen by the
//!    silhouette ([`crate::choose_k`]).
//! 4. **Micro segments**: within each macro segment, k-means with the given `micro_k`, or k in
//!    1..=4 chosen by the silhouette, where 1 (no split) wins when no split reaches
//!    [`crate::MIN_SPLIT_SILHOUETTE`] or the macro segment has fewer than [`MIN_SPLIT_ROWS`]
//!    rows. A given `micro_k` is lowered for small macro segments so that each leaf can have
//!    [`MIN_LEAF_ROWS`] rows. If the leaves add up to more than `max_leaves`, the macro segment
//!    with the most micro segments (ties: the one whose split has the lowest silhouette) loses
//!    one, until they fit.
//! 5. **Personas** for every leaf ([`crate::persona`]).
//!
//! Choosing k fits several models; on more than [`SELECTION_ROWS`] rows that choice is made on
//! a seeded uniform sample of that many rows, and the chosen k is then fitted on all rows.
//! Segments are numbered by size, largest first: `S1.1` is the largest micro segment of the
//! largest macro segment. Everything is deterministic for a seed.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::persona::{self, Leaf, Persona};
use crate::quality::{self, SILHOUETTE_SAMPLE};
use crate::{KMeansConfig, KMeansModel, Matrix, SegmentError, Standardizer, kmeans};

/// Macro segments smaller than this are never split.
pub const MIN_SPLIT_ROWS: usize = 40;
/// A given `micro_k` is lowered so that every leaf can have at least this many rows.
pub const MIN_LEAF_ROWS: usize = 10;
/// Above this many rows, k is chosen on a sample of this size.
pub const SELECTION_ROWS: usize = 20_000;

/// How to build the hierarchy.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentConfig {
    /// Number of macro segments; `None`: chosen by silhouette in 2..=5.
    pub macro_k: Option<usize>,
    /// Micro segments per macro segment; `None`: chosen per macro segment in 1..=4.
    pub micro_k: Option<usize>,
    /// Upper bound on the number of leaves. Default 15.
    pub max_leaves: usize,
    pub seed: u64,
    /// k-means restarts per fit. Default 5.
    pub restarts: usize,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        Self {
            macro_k: None,
            micro_k: None,
            max_leaves: 15,
            seed: 0,
            restarts: 5,
        }
    }
}

/// A trained segmentation, ready to assign customers and to be persisted (serde).
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct SegmentModel {
    /// The features actually used, in the order [`SegmentModel::assign`] expects.
    pub feature_names: Vec<String>,
    pub standardizer: Standardizer,
    /// Macro centroids, in standardized units.
    pub macro_model: KMeansModel,
    /// One model per macro segment (in standardized units); a macro segment that is not split
    /// has a one-centroid model.
    pub micro_models: Vec<KMeansModel>,
    /// One persona per leaf, in leaf order (macro segment, then micro segment).
    pub personas: Vec<Persona>,
    /// Sampled silhouette of the macro segmentation.
    pub silhouette: f64,
    /// Number of training rows.
    pub trained_on: usize,
    /// All feature names given to [`train`], in input order.
    pub input_features: Vec<String>,
    /// For each used feature, its position among `input_features`.
    pub used_columns: Vec<usize>,
    /// Per used feature, the value that replaces a missing one (the training mean).
    pub impute_means: Vec<f64>,
    /// Input features dropped for being missing in more than half of the rows.
    pub dropped_features: Vec<String>,
    /// Sampled silhouette of the leaf segmentation.
    pub leaf_silhouette: f64,
}

/// Where one customer falls.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Assignment {
    /// Macro segment index (0-based; `S{macro_segment + 1}`).
    pub macro_segment: usize,
    /// Leaf index into [`SegmentModel::personas`].
    pub leaf: usize,
    /// E.g. `"S2.1"`.
    pub segment_id: String,
    /// Euclidean distance to the leaf centroid, in standardized units.
    pub distance: f64,
}

impl SegmentModel {
    /// Number of leaf segments (= personas).
    pub fn leaf_count(&self) -> usize {
        self.personas.len()
    }

    /// Index of the first leaf of each macro segment.
    fn leaf_offsets(&self) -> Vec<usize> {
        let mut acc = 0;
        self.micro_models
            .iter()
            .map(|m| {
                let o = acc;
                acc += m.k();
                o
            })
            .collect()
    }

    /// Assigns one customer. `features` are raw (unstandardized) values either for the used
    /// features (`feature_names` order) or for all input features (`input_features` order; the
    /// dropped ones are ignored). Missing values (NaN) are imputed as in training.
    pub fn assign(&self, features: &[f64]) -> Result<Assignment, SegmentError> {
        let z = self.standardized(features)?;
        let (m, _) = self.macro_model.predict(&z);
        let (u, d2) = self.micro_models[m].predict(&z);
        let leaf = self.leaf_offsets()[m] + u;
        Ok(Assignment {
            macro_segment: m,
            leaf,
            segment_id: self.personas[leaf].segment_id.clone(),
            distance: d2.sqrt(),
        })
    }

    /// The vector [`SegmentModel::assign`] places: the used features, missing values imputed as
    /// in training, standardized (z-scores). Same inputs as `assign`.
    pub fn standardized(&self, features: &[f64]) -> Result<Vec<f64>, SegmentError> {
        let mut x: Vec<f64> = if features.len() == self.feature_names.len() {
            features.to_vec()
        } else if features.len() == self.input_features.len() {
            self.used_columns.iter().map(|&c| features[c]).collect()
        } else {
            return Err(SegmentError::FeatureCount {
                expected: self.feature_names.len(),
                got: features.len(),
            });
        };
        for (v, &m) in x.iter_mut().zip(&self.impute_means) {
            if !v.is_finite() {
                *v = m;
            }
        }
        Ok(self.standardizer.transform_row(&x))
    }

    /// Assigns one customer from named values; features the model uses but `names` lacks are
    /// treated as missing (imputed), extra names are ignored.
    pub fn assign_named(
        &self,
        names: &[String],
        values: &[f64],
    ) -> Result<Assignment, SegmentError> {
        if names.len() != values.len() {
            return Err(SegmentError::FeatureCount {
                expected: names.len(),
                got: values.len(),
            });
        }
        let x: Vec<f64> = self
            .feature_names
            .iter()
            .map(|f| {
                names
                    .iter()
                    .position(|n| n == f)
                    .map_or(f64::NAN, |i| values[i])
            })
            .collect();
        self.assign(&x)
    }

    /// The persona of a leaf.
    pub fn persona(&self, leaf: usize) -> Option<&Persona> {
        self.personas.get(leaf)
    }
}

/// Rows of `data` sampled for choosing k (all of them when there are few).
fn selection_sample(data: &Matrix, seed: u64) -> Matrix {
    if data.rows <= SELECTION_ROWS {
        return data.clone();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5e1e_c7ed);
    let mut idx = rand::seq::index::sample(&mut rng, data.rows, SELECTION_ROWS).into_vec();
    idx.sort_unstable();
    data.select_rows(&idx)
}

/// The model with centroids renumbered by cluster size on `data`, largest first (ties: the
/// original order).
fn sort_by_size(model: KMeansModel, data: &Matrix) -> Result<KMeansModel, SegmentError> {
    let sizes = model.sizes(data)?;
    let mut order: Vec<usize> = (0..model.k()).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    Ok(KMeansModel {
        centroids: order.iter().map(|&i| model.centroids[i].clone()).collect(),
        ..model
    })
}

/// A one-centroid model: the mean of `data`.
fn single(data: &Matrix) -> KMeansModel {
    let mut mean = vec![0.0; data.cols];
    for row in data.iter_rows() {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= data.rows.max(1) as f64);
    let inertia = data
        .iter_rows()
        .map(|r| {
            r.iter()
                .zip(&mean)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
        })
        .sum();
    KMeansModel {
        centroids: vec![mean],
        inertia,
        iterations: 0,
    }
}

/// The micro plan for one macro segment.
struct MicroPlan {
    k: usize,
    /// Silhouette per k tried (k ≥ 2), for the leaf cap.
    silhouettes: Vec<(usize, f64)>,
    /// Models fitted on all of the segment's rows during the choice, by k.
    fitted: Vec<(usize, KMeansModel)>,
}

/// Trains the hierarchy on raw features (`data` columns in `feature_names` order; NaN allowed).
pub fn train(
    data: &Matrix,
    feature_names: &[String],
    cfg: &SegmentConfig,
) -> Result<SegmentModel, SegmentError> {
    train_labeled(data, feature_names, cfg).map(|(model, _)| model)
}

/// [`train`], also returning the leaf of every training row (what
/// [`SegmentModel::assign`] gives for that row), so a caller can store all customers'
/// segments without assigning them again.
pub fn train_labeled(
    data: &Matrix,
    feature_names: &[String],
    cfg: &SegmentConfig,
) -> Result<(SegmentModel, Vec<usize>), SegmentError> {
    if feature_names.len() != data.cols {
        return Err(SegmentError::FeatureCount {
            expected: data.cols,
            got: feature_names.len(),
        });
    }
    if data.rows < 2 {
        return Err(SegmentError::TooFewRows {
            rows: data.rows,
            k: 2,
        });
    }
    if cfg.max_leaves == 0 || cfg.macro_k == Some(0) || cfg.micro_k == Some(0) {
        return Err(SegmentError::InvalidConfig(
            "max_leaves, macro_k and micro_k must be at least 1".into(),
        ));
    }
    if let Some(k) = cfg.macro_k
        && k > cfg.max_leaves
    {
        return Err(SegmentError::InvalidConfig(format!(
            "macro_k {k} exceeds max_leaves {}",
            cfg.max_leaves
        )));
    }
    let n = data.rows;

    // 1. Missing values.
    let mut used_columns = Vec::new();
    let mut dropped_features = Vec::new();
    let mut impute_means = Vec::new();
    for c in 0..data.cols {
        let (mut present, mut sum) = (0usize, 0.0f64);
        for row in data.iter_rows() {
            if row[c].is_finite() {
                present += 1;
                sum += row[c];
            }
        }
        if (n - present) * 2 > n {
            dropped_features.push(feature_names[c].clone());
        } else {
            used_columns.push(c);
            impute_means.push(sum / present as f64);
        }
    }
    if used_columns.is_empty() {
        return Err(SegmentError::NoUsableFeatures);
    }
    let d = used_columns.len();
    let mut raw = Vec::with_capacity(n * d);
    for row in data.iter_rows() {
        for (j, &c) in used_columns.iter().enumerate() {
            let v = row[c];
            raw.push(if v.is_finite() { v } else { impute_means[j] });
        }
    }
    let raw = Matrix::new(n, d, raw)?;

    // 2. Standardize.
    let standardizer = Standardizer::fit(&raw);
    let z = standardizer.transform(&raw);
    drop(raw);

    let kcfg = KMeansConfig {
        k: 1,
        restarts: cfg.restarts.max(1),
        max_iter: 100,
        tol: 1e-4,
        seed: cfg.seed,
    };

    // 3. Macro segments.
    let macro_model = match cfg.macro_k {
        Some(k) => kmeans(
            &z,
            &KMeansConfig {
                k: k.min(n),
                ..kcfg.clone()
            },
        )?,
        None => {
            let hi = 5.min(cfg.max_leaves).min(n).max(2);
            let sample = selection_sample(&z, cfg.seed);
            let scan = quality::scan_k(&sample, 2..=hi, &kcfg)?;
            match (sample.rows == z.rows, scan.model(scan.chosen)) {
                (true, Some(m)) => m.clone(),
                _ => kmeans(
                    &z,
                    &KMeansConfig {
                        k: scan.chosen,
                        ..kcfg.clone()
                    },
                )?,
            }
        }
    };
    let macro_model = sort_by_size(macro_model, &z)?;
    let macro_labels: Vec<usize> = macro_model
        .predict_all(&z)?
        .into_iter()
        .map(|p| p.0)
        .collect();
    let macro_k = macro_model.k();

    // 4. Micro segments.
    let members: Vec<Vec<usize>> = (0..macro_k)
        .map(|m| (0..n).filter(|&r| macro_labels[r] == m).collect())
        .collect();
    let subsets: Vec<Matrix> = members.iter().map(|idx| z.select_rows(idx)).collect();
    let mut plans = Vec::with_capacity(macro_k);
    for (m, sub) in subsets.iter().enumerate() {
        let mcfg = KMeansConfig {
            seed: cfg.seed.wrapping_add(1 + m as u64),
            ..kcfg.clone()
        };
        let plan = match cfg.micro_k {
            Some(k) => MicroPlan {
                k: k.min(sub.rows / MIN_LEAF_ROWS).max(1),
                silhouettes: Vec::new(),
                fitted: Vec::new(),
            },
            None if sub.rows < MIN_SPLIT_ROWS => MicroPlan {
                k: 1,
                silhouettes: Vec::new(),
                fitted: Vec::new(),
            },
            None => {
                let sample = selection_sample(sub, mcfg.seed);
                let whole = sample.rows == sub.rows;
                let scan = quality::scan_k(&sample, 1..=4, &mcfg)?;
                MicroPlan {
                    k: scan.chosen,
                    silhouettes: scan.scores.iter().map(|s| (s.0, s.1)).collect(),
                    fitted: if whole {
                        scan.scores.iter().map(|s| s.0).zip(scan.models).collect()
                    } else {
                        Vec::new()
                    },
                }
            }
        };
        plans.push(plan);
    }
    // Cap the number of leaves.
    while plans.iter().map(|p| p.k).sum::<usize>() > cfg.max_leaves {
        let sil = |p: &MicroPlan| {
            p.silhouettes
                .iter()
                .find(|s| s.0 == p.k)
                .map_or(0.0, |s| s.1)
        };
        let victim = (0..macro_k)
            .filter(|&m| plans[m].k > 1)
            .max_by(|&a, &b| {
                plans[a]
                    .k
                    .cmp(&plans[b].k)
                    .then(sil(&plans[b]).total_cmp(&sil(&plans[a])))
                    .then(b.cmp(&a))
            })
            .expect("more leaves than macro segments means some macro segment is split");
        plans[victim].k -= 1;
    }
    let mut micro_models = Vec::with_capacity(macro_k);
    for (m, (plan, sub)) in plans.into_iter().zip(&subsets).enumerate() {
        let model = if plan.k == 1 {
            single(sub)
        } else if let Some((_, fitted)) = plan.fitted.into_iter().find(|f| f.0 == plan.k) {
            fitted
        } else {
            let mcfg = KMeansConfig {
                k: plan.k,
                seed: cfg.seed.wrapping_add(1 + m as u64),
                ..kcfg.clone()
            };
            kmeans(sub, &mcfg)?
        };
        micro_models.push(sort_by_size(model, sub)?);
    }

    // Leaves: labels, sizes, centroids.
    let mut offsets = Vec::with_capacity(macro_k);
    let mut total = 0;
    for mm in &micro_models {
        offsets.push(total);
        total += mm.k();
    }
    let mut leaf_labels = vec![0usize; n];
    let mut sizes = vec![0usize; total];
    for (m, (idx, sub)) in members.iter().zip(&subsets).enumerate() {
        for (&r, (u, _)) in idx.iter().zip(micro_models[m].predict_all(sub)?) {
            leaf_labels[r] = offsets[m] + u;
            sizes[offsets[m] + u] += 1;
        }
    }
    let silhouette = quality::silhouette(&z, &macro_labels, macro_k, SILHOUETTE_SAMPLE, cfg.seed);
    let leaf_silhouette = quality::silhouette(&z, &leaf_labels, total, SILHOUETTE_SAMPLE, cfg.seed);

    // 5. Personas.
    let feature_names_used: Vec<String> = used_columns
        .iter()
        .map(|&c| feature_names[c].clone())
        .collect();
    let leaves: Vec<Leaf> = micro_models
        .iter()
        .enumerate()
        .flat_map(|(m, mm)| {
            mm.centroids
                .iter()
                .enumerate()
                .map(move |(u, c)| (m, u, c.clone()))
        })
        .zip(&sizes)
        .map(|((m, u, c), &size)| Leaf {
            segment_id: format!("S{}.{}", m + 1, u + 1),
            z: c,
            size,
            share: size as f64 / n as f64,
        })
        .collect();
    let personas = persona::build(&feature_names_used, &standardizer, &leaves);

    let model = SegmentModel {
        feature_names: feature_names_used,
        standardizer,
        macro_model,
        micro_models,
        personas,
        silhouette,
        trained_on: n,
        input_features: feature_names.to_vec(),
        used_columns,
        impute_means,
        dropped_features,
        leaf_silhouette,
    };
    Ok((model, leaf_labels))
}
