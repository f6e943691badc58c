//! Drift monitoring: has the population a model scores moved away from the one it was trained
//! on (population stability index), and has the model got worse (ROC-AUC decay)?
//!
//! At training time [`Reference::fit`] summarises each input (or the score itself) as quantile
//! bins; the reference is stored next to the model version (it is serde-serialisable and checked
//! again when read back). Later, [`psi`] compares current values with it, [`report`] does so for
//! every input and lists alerts, and [`decay`] compares the current AUC on labelled outcomes
//! with the AUC at training. Limits come from [`Thresholds`], which a config file can override.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Why a drift computation failed. Each variant names the field and the reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriftError {
    /// An argument that makes no sense (no name, zero bins, an AUC of 1.3, a bad threshold).
    #[error("{field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    /// No values where some are needed.
    #[error("{field}: no values (at least one is needed)")]
    Empty { field: String },
    /// `report` was given no current values for a reference.
    #[error("current data has no column {name} (the reference for {name} needs it)")]
    MissingColumn { name: String },
    /// Too few positives or negatives for a meaningful AUC.
    #[error(
        "labels: {reason} ({positives} positives, {negatives} negatives; at least {minimum} of each are needed)"
    )]
    NotEnoughLabels {
        positives: usize,
        negatives: usize,
        minimum: usize,
        reason: String,
    },
    /// A stored reference that is not internally consistent (read back from the database).
    #[error("reference {name}: {reason}")]
    InvalidReference { name: String, reason: String },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> DriftError {
    DriftError::InvalidArgument {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The number of bins [`Reference::fit`] is usually called with.
pub const DEFAULT_BINS: usize = 10;
/// The most bins a reference may have.
pub const MAX_BINS: usize = 1000;
/// Shares below this are raised to it before taking logarithms in [`psi`].
pub const SHARE_FLOOR: f64 = 1e-4;

/// The distribution of one variable at training time: quantile bins of its finite values plus
/// the share of missing (NaN) values.
///
/// Bins are right-closed: with interior edges e₁ < … < e_k the bins are (−∞, e₁], (e₁, e₂], …,
/// (e_k, +∞). ±∞ values fall into the first or last bin; NaN counts as missing.
///
/// Serialises as `{name, edges, expected, missing, n}`; deserialising checks that the edges are
/// finite and increasing and the shares add up to 1, so a stored reference cannot be corrupt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ReferenceRepr")]
pub struct Reference {
    name: String,
    edges: Vec<f64>,
    expected: Vec<f64>,
    missing: f64,
    n: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferenceRepr {
    name: String,
    edges: Vec<f64>,
    expected: Vec<f64>,
    missing: f64,
    n: usize,
}

impl TryFrom<ReferenceRepr> for Reference {
    type Error = DriftError;

    fn try_from(r: ReferenceRepr) -> Result<Self, DriftError> {
        let bad = |reason: String| DriftError::InvalidReference {
            name: r.name.clone(),
            reason,
        };
        if r.name.is_empty() {
            return Err(bad("the name is empty".into()));
        }
        if r.n == 0 {
            return Err(bad(
                "n is 0 (a reference is fitted on at least one value)".into()
            ));
        }
        if let Some(e) = r.edges.iter().find(|e| !e.is_finite()) {
            return Err(bad(format!("edge {e} is not finite")));
        }
        if r.edges.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad("edges are not strictly increasing".into()));
        }
        if r.expected.len() != r.edges.len() + 1 {
            return Err(bad(format!(
                "{} expected shares for {} edges (need one more share than edges)",
                r.expected.len(),
                r.edges.len()
            )));
        }
        let shares = r.expected.iter().chain(std::iter::once(&r.missing));
        if let Some(s) = shares.clone().find(|s| !(0.0..=1.0).contains(*s)) {
            return Err(bad(format!("share {s} is not in [0, 1]")));
        }
        let total: f64 = shares.sum();
        if (total - 1.0).abs() > 1e-6 {
            return Err(bad(format!("shares add up to {total}, not 1")));
        }
        Ok(Reference {
            name: r.name,
            edges: r.edges,
            expected: r.expected,
            missing: r.missing,
            n: r.n,
        })
    }
}

/// Index of the right-closed bin holding a non-NaN `x`: the number of edges below it.
fn bin_of(edges: &[f64], x: f64) -> usize {
    edges.partition_point(|e| *e < x)
}

/// Shares per bin and the missing share of `values` (not empty).
fn shares(edges: &[f64], values: &[f64]) -> (Vec<f64>, f64) {
    let mut counts = vec![0usize; edges.len() + 1];
    let mut missing = 0usize;
    for &x in values {
        if x.is_nan() {
            missing += 1;
        } else {
            counts[bin_of(edges, x)] += 1;
        }
    }
    let n = values.len() as f64;
    (
        counts.into_iter().map(|c| c as f64 / n).collect(),
        missing as f64 / n,
    )
}

impl Reference {
    /// Fits a reference on training-time `values` with (at most) `bins` bins ([`DEFAULT_BINS`]
    /// is 10).
    ///
    /// Edges: with x₍₀₎ ≤ … ≤ x₍ₘ₋₁₎ the sorted finite values, the candidate edges are the
    /// lower empirical quantiles x₍⌊q·(m−1)⌋₎ for q = 1/bins, 2/bins, …, (bins−1)/bins. Repeated
    /// candidates (ties) are kept once and a candidate equal to the maximum is dropped, so every
    /// bin of the reference holds at least one value and a variable with few distinct values
    /// gets fewer bins. Expected share of a bin = values in it / all values (NaN included in the
    /// denominator); the missing share = NaN values / all values.
    ///
    /// Errors: empty name, `bins` not in 1..=1000, no values. All-NaN values are fine (one
    /// empty bin, missing share 1).
    pub fn fit(name: &str, values: &[f64], bins: usize) -> Result<Reference, DriftError> {
        if name.trim().is_empty() {
            return Err(invalid("name", "must not be empty"));
        }
        if bins == 0 || bins > MAX_BINS {
            return Err(invalid(
                "bins",
                format!("{bins} is not in 1..={MAX_BINS} (10 is usual)"),
            ));
        }
        if values.is_empty() {
            return Err(DriftError::Empty {
                field: format!("values of {name}"),
            });
        }
        let mut finite: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        finite.sort_by(f64::total_cmp);
        let mut edges: Vec<f64> = Vec::new();
        if let Some(&max) = finite.last() {
            let m = finite.len();
            for i in 1..bins {
                let idx = (i * (m - 1)) / bins; // ⌊(i/bins)·(m−1)⌋ in exact integer arithmetic
                let e = finite[idx];
                if e < max && edges.last().is_none_or(|last| *last < e) {
                    edges.push(e);
                }
            }
        }
        let (expected, missing) = shares(&edges, values);
        Ok(Reference {
            name: name.to_string(),
            edges,
            expected,
            missing,
            n: values.len(),
        })
    }

    /// The variable's name (the column in [`report`]'s current data).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Interior bin edges, strictly increasing.
    pub fn edges(&self) -> &[f64] {
        &self.edges
    }

    /// Share of the training values in each bin (one more than there are edges).
    pub fn expected(&self) -> &[f64] {
        &self.expected
    }

    /// Share of NaN among the training values.
    pub fn missing(&self) -> f64 {
        self.missing
    }

    /// Number of training values.
    pub fn n(&self) -> usize {
        self.n
    }
}

/// How far a distribution has moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftLevel {
    /// PSI < moderate (0.1).
    Stable,
    /// moderate (0.1) ≤ PSI < major (0.25).
    Moderate,
    /// PSI ≥ major (0.25).
    Major,
}

impl DriftLevel {
    /// The level of a PSI value under `th`: Stable < `moderate` ≤ Moderate < `major` ≤ Major.
    pub fn of(psi: f64, th: &Thresholds) -> DriftLevel {
        if psi >= th.major {
            DriftLevel::Major
        } else if psi >= th.moderate {
            DriftLevel::Moderate
        } else {
            DriftLevel::Stable
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DriftLevel::Stable => "stable",
            DriftLevel::Moderate => "moderate",
            DriftLevel::Major => "major",
        }
    }
}

/// Drift limits. Defaults: PSI 0.1 is moderate, 0.25 major; an AUC drop above 0.05 is decay.
///
/// Loaded from configuration, e.g. in TOML (missing fields keep their defaults):
/// ```toml
/// [drift]
/// moderate = 0.1
/// major = 0.2
/// auc_drop = 0.03
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// PSI from which drift is moderate.
    pub moderate: f64,
    /// PSI from which drift is major.
    pub major: f64,
    /// A model has decayed when its AUC fell by more than this.
    pub auc_drop: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            moderate: 0.1,
            major: 0.25,
            auc_drop: 0.05,
        }
    }
}

impl Thresholds {
    /// Checks 0 < moderate < major (finite) and 0 ≤ auc_drop ≤ 1.
    pub fn validate(&self) -> Result<(), DriftError> {
        if !(self.moderate.is_finite() && self.moderate > 0.0) {
            return Err(invalid(
                "thresholds.moderate",
                format!("{} is not a positive number", self.moderate),
            ));
        }
        if !(self.major.is_finite() && self.major > self.moderate) {
            return Err(invalid(
                "thresholds.major",
                format!("{} is not above moderate ({})", self.major, self.moderate),
            ));
        }
        if !(0.0..=1.0).contains(&self.auc_drop) {
            return Err(invalid(
                "thresholds.auc_drop",
                format!("{} is not in [0, 1]", self.auc_drop),
            ));
        }
        Ok(())
    }
}

/// One bin of a PSI comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BinShare {
    /// Exclusive lower edge; `None` = −∞ (and for the missing bin).
    pub lower: Option<f64>,
    /// Inclusive upper edge; `None` = +∞ (and for the missing bin).
    pub upper: Option<f64>,
    /// The bin of NaN values (always the last bin).
    pub missing: bool,
    /// Share at training time (not floored).
    pub expected: f64,
    /// Share now (not floored).
    pub actual: f64,
}

/// Population stability of one variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Psi {
    pub name: String,
    /// The population stability index.
    pub value: f64,
    /// The reference's bins in order, then the missing bin.
    pub bins: Vec<BinShare>,
    pub level: DriftLevel,
    /// Number of current values.
    pub n: usize,
}

/// PSI of `current` against `reference`, with the default [`Thresholds`] for the level.
///
/// See [`psi_with`] for the formula.
pub fn psi(reference: &Reference, current: &[f64]) -> Result<Psi, DriftError> {
    psi_with(reference, current, &Thresholds::default())
}

/// Population stability index of `current` against `reference`, its level under `th`.
///
/// The current values are put in the reference's bins (NaN in the missing bin); with eᵢ the
/// expected (training) and aᵢ the actual (current) share of bin i, the missing bin included:
///
/// ```text
/// PSI = Σᵢ (a'ᵢ − e'ᵢ) × ln(a'ᵢ / e'ᵢ),   a'ᵢ = max(aᵢ, 10⁻⁴),  e'ᵢ = max(eᵢ, 10⁻⁴)
/// ```
///
/// The floor keeps the logarithm finite when a bin is empty on one side (an empty bin on both
/// sides adds 0). Every term is ≥ 0, and PSI is 0 exactly when the shares agree. Levels: Stable
/// below `th.moderate` (0.1), Moderate below `th.major` (0.25), Major from there.
///
/// Errors when `current` is empty. All-NaN `current` is fine (everything in the missing bin).
pub fn psi_with(
    reference: &Reference,
    current: &[f64],
    th: &Thresholds,
) -> Result<Psi, DriftError> {
    if current.is_empty() {
        return Err(DriftError::Empty {
            field: format!("current values of {}", reference.name),
        });
    }
    let (actual, actual_missing) = shares(&reference.edges, current);
    let k = reference.edges.len();
    let mut bins: Vec<BinShare> = (0..=k)
        .map(|i| BinShare {
            lower: i.checked_sub(1).map(|j| reference.edges[j]),
            upper: reference.edges.get(i).copied(),
            missing: false,
            expected: reference.expected[i],
            actual: actual[i],
        })
        .collect();
    bins.push(BinShare {
        lower: None,
        upper: None,
        missing: true,
        expected: reference.missing,
        actual: actual_missing,
    });
    let value = bins
        .iter()
        .map(|b| {
            let (a, e) = (b.actual.max(SHARE_FLOOR), b.expected.max(SHARE_FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum();
    Ok(Psi {
        name: reference.name.clone(),
        value,
        bins,
        level: DriftLevel::of(value, th),
        n: current.len(),
    })
}

/// Drift of every referenced variable, with an alert line for each that is not stable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// One per reference, in the order given.
    pub items: Vec<Psi>,
    /// E.g. `"income: major drift (PSI 0.312 ≥ 0.25)"`, in the order of `items`.
    pub alerts: Vec<String>,
}

/// PSI of each reference against the current column of the same name.
///
/// Columns of `current` without a reference are ignored. Errors on invalid thresholds, on a
/// reference whose column is missing (naming it) and on an empty column.
pub fn report(
    refs: &[Reference],
    current: &BTreeMap<String, Vec<f64>>,
    th: &Thresholds,
) -> Result<DriftReport, DriftError> {
    th.validate()?;
    let mut items = Vec::with_capacity(refs.len());
    let mut alerts = Vec::new();
    for r in refs {
        let values = current
            .get(&r.name)
            .ok_or_else(|| DriftError::MissingColumn {
                name: r.name.clone(),
            })?;
        let p = psi_with(r, values, th)?;
        match p.level {
            DriftLevel::Stable => {}
            DriftLevel::Moderate => alerts.push(format!(
                "{}: moderate drift (PSI {:.3} ≥ {})",
                p.name, p.value, th.moderate
            )),
            DriftLevel::Major => alerts.push(format!(
                "{}: major drift (PSI {:.3} ≥ {})",
                p.name, p.value, th.major
            )),
        }
        items.push(p);
    }
    Ok(DriftReport { items, alerts })
}

/// At least this many positives and this many negatives are needed for [`decay`].
pub const MIN_PER_CLASS: usize = 10;

/// A model's current discrimination against its AUC at training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decay {
    pub reference_auc: f64,
    /// ROC-AUC of the current scores on the current labels.
    pub current_auc: f64,
    /// Hanley–McNeil standard error of `current_auc`.
    pub std_error: f64,
    /// `current_auc ± 1.96 × std_error`, clamped to [0, 1].
    pub ci95: (f64, f64),
    pub n: usize,
    pub positives: usize,
    pub negatives: usize,
    /// `reference_auc − current_auc` (negative when the model improved).
    pub drop: f64,
    /// `drop > th.auc_drop`.
    pub decayed: bool,
}

/// Compares the model's ROC-AUC on recent labelled outcomes with `reference_auc`.
///
/// `current_auc` is `sextant_models::metrics::roc_auc` (rank-sum with mid-ranks for ties, as
/// scikit-learn). Its standard error is Hanley & McNeil's (1982), with A the AUC, n_P positives
/// and n_N negatives:
///
/// ```text
/// Q₁ = A / (2 − A),   Q₂ = 2A² / (1 + A)
/// SE = √( (A(1 − A) + (n_P − 1)(Q₁ − A²) + (n_N − 1)(Q₂ − A²)) / (n_P · n_N) )
/// ci95 = A ± 1.96 · SE, clamped to [0, 1]
/// drop = reference_auc − A;   decayed = drop > th.auc_drop (0.05)
/// ```
///
/// Errors: `scores` and `labels` of different lengths, a non-finite score, `reference_auc` not
/// in [0, 1], invalid thresholds, fewer than 10 positives or fewer than 10 negatives.
pub fn decay(
    reference_auc: f64,
    scores: &[f64],
    labels: &[bool],
    th: &Thresholds,
) -> Result<Decay, DriftError> {
    th.validate()?;
    if !(0.0..=1.0).contains(&reference_auc) {
        return Err(invalid(
            "reference_auc",
            format!("{reference_auc} is not in [0, 1]"),
        ));
    }
    if scores.len() != labels.len() {
        return Err(invalid(
            "scores",
            format!(
                "{} scores but {} labels (one label per score)",
                scores.len(),
                labels.len()
            ),
        ));
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(invalid(
            format!("scores[{i}]"),
            format!("{} is not a finite number", scores[i]),
        ));
    }
    let positives = labels.iter().filter(|l| **l).count();
    let negatives = labels.len() - positives;
    if positives < MIN_PER_CLASS || negatives < MIN_PER_CLASS {
        let reason = match (positives < MIN_PER_CLASS, negatives < MIN_PER_CLASS) {
            (true, true) => "too few positives and negatives to measure AUC",
            (true, false) => "too few positives to measure AUC",
            _ => "too few negatives to measure AUC",
        };
        return Err(DriftError::NotEnoughLabels {
            positives,
            negatives,
            minimum: MIN_PER_CLASS,
            reason: reason.into(),
        });
    }
    let y: Vec<f64> = labels.iter().map(|l| if *l { 1.0 } else { 0.0 }).collect();
    let a = sextant_models::metrics::roc_auc(&y, scores);
    let std_error = hanley_mcneil_se(a, positives as f64, negatives as f64);
    let half = 1.959_963_984_540_054 * std_error;
    let drop = reference_auc - a;
    Ok(Decay {
        reference_auc,
        current_auc: a,
        std_error,
        ci95: ((a - half).max(0.0), (a + half).min(1.0)),
        n: labels.len(),
        positives,
        negatives,
        drop,
        decayed: drop > th.auc_drop,
    })
}

/// Hanley & McNeil (1982) standard error of an AUC `a` from `np` positives, `nn` negatives.
fn hanley_mcneil_se(a: f64, np: f64, nn: f64) -> f64 {
    let q1 = a / (2.0 - a);
    let q2 = 2.0 * a * a / (1.0 + a);
    let var = (a * (1.0 - a) + (np - 1.0) * (q1 - a * a) + (nn - 1.0) * (q2 - a * a)) / (np * nn);
    var.max(0.0).sqrt()
}

#[cfg(test)]
mod tests;
