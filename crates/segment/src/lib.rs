//! Customer segmentation: k-means++ with restarts, a two-level segment hierarchy, and personas
//! derived from centroids.
//!
//! Seed 002's design clusters customer profiles with k-means into personas and tags each
//! cluster with its risk appetite, spending style and engagement. This crate does that for
//! Sextant:
//!
//! * [`kmeans`] — greedy k-means++ seeding, Lloyd iterations parallel over rows (rayon), best
//!   of several restarts by inertia, deterministic for a seed; [`lloyd`] runs the iterations
//!   from given centroids. [`silhouette`] (sampled) and [`choose_k`] pick k.
//! * [`train`] — standardize, drop mostly-missing features and impute the rest, macro segments
//!   (2–5), micro segments inside each (1–4, at most `max_leaves` leaves), and a [`Persona`]
//!   per leaf: tags, a unique human name and a description with numbers from the centroid.
//! * [`SegmentModel::assign`] — online assignment of a new or changed customer to its leaf;
//!   [`SegmentModel::standardized`] — the imputed, standardized vector it assigns.
//! * [`pca`] — principal components by power iteration, for the console's 2-D segment map.
//!
//! **Invariant:** pure — no I/O, no async, no global state; randomness only from the seeds in
//! the configs. Models ([`SegmentModel`], [`KMeansModel`], [`Standardizer`], [`Persona`]) are
//! serde-serialisable so the storage layer can persist them and assign with them later.
//!
//! **Boundary:** a [`Matrix`] of raw features and their names in; a [`SegmentModel`],
//! [`Assignment`]s and [`SegmentError`] out.
//!
//! # Why our own k-means and not `linfa-clustering`
//! linfa 0.8 would bring ndarray 0.16 and a second `rand` (0.8; the workspace is on 0.9), and
//! its k-means is not designed for what the issue benchmarks. k-means itself is small; the
//! parts that matter are the ones written here with care:
//!
//! * the assignment kernel (`src/kernel.rs`, module docs there): centroids packed
//!   eight to a block, an AVX2 + FMA path with run-time detection (portable fallback
//!   elsewhere), four rows per step, squared distances without `sqrt`, and exact distances
//!   for the inertia;
//! * rayon over fixed chunks of 2048 rows with per-chunk partial sums added in chunk order,
//!   so results do not depend on the thread count;
//! * seeding and restarts that match scikit-learn's semantics (greedy k-means++, `tol`
//!   relative to the data variance, strict convergence, empty clusters moved to far rows).
//!
//! Measured with `bench/kmeans_vs_sklearn.py` on the 2-core development machine (1M
//! customers × 8 features, k = 8, 20 Lloyd iterations with `tol = 0` from the same k-means++
//! centroids passed to both, best of 5 alternating runs; details in `bench/README.md`):
//!
//! | implementation | seconds | inertia | relative difference |
//! |---|---:|---:|---:|
//! | scikit-learn 1.9.1 `KMeans(algorithm="lloyd")` | 0.369 | 2.560308e7 | – |
//! | `sextant_segment::lloyd` | 0.132 | 2.560308e7 | 5.1e-15 |
//!
//! i.e. 0.36–0.41× scikit-learn's time over three runs of the script. Part of scikit-learn's
//! time is fixed per `fit` (input validation, a copy and centring of X, about 0.12 s); per
//! Lloyd iteration alone the ratio is about 0.6× (7 ms vs 12 ms per iteration on 1M rows).
//! Where AVX2/FMA is missing the portable kernel runs instead, which is slower.

mod error;
mod kernel;
mod kmeans;
mod matrix;
pub mod persona;
mod projection;
mod quality;
mod segments;

pub use error::SegmentError;
pub use kmeans::{KMeansConfig, KMeansModel, kmeans, lloyd};
pub use matrix::{Matrix, Standardizer};
pub use persona::{Distinguishing, Persona, PersonaTags};
pub use projection::{Projection, pca};
pub use quality::{KScore, MIN_SPLIT_SILHOUETTE, SILHOUETTE_SAMPLE, choose_k, silhouette};
pub use segments::{
    Assignment, MIN_LEAF_ROWS, MIN_SPLIT_ROWS, SELECTION_ROWS, SegmentConfig, SegmentModel, train,
    train_labeled,
};
