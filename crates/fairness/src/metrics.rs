//! Group statistics, the between-group metrics, and their stratified bootstrap intervals.
//!
//! Everything is computed from per-group counts of six cells — (favourable or not) × (label
//! true, false or unknown) — so an audit of a million records costs one pass plus, per bootstrap
//! replicate, a handful of binomial draws per group. Resampling the `n` records of a group with
//! replacement is the same as drawing the six cell counts from a multinomial with the group's
//! observed cell proportions, which is what [`resample`] does (as a chain of binomials).

use std::collections::BTreeMap;
use std::fmt;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};
use serde::Serialize;

use crate::{FairnessError, Record};

/// How to run an audit.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditOptions {
    /// Bootstrap replicates for the intervals; 0 computes no intervals.
    pub bootstrap: usize,
    /// Coverage of the intervals, strictly between 0 and 1.
    pub confidence: f64,
    /// Seed of the bootstrap's random stream: the same records, options and seed always give the
    /// same intervals.
    pub seed: u64,
    /// Groups with fewer records are still reported and included in the metrics, but marked
    /// [`GroupStats::small`], because their rates are noisy.
    pub min_group_size: usize,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            bootstrap: 1000,
            confidence: 0.95,
            seed: 42,
            min_group_size: 30,
        }
    }
}

impl AuditOptions {
    fn validate(&self) -> Result<(), FairnessError> {
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(FairnessError::InvalidArgument(format!(
                "confidence must be strictly between 0 and 1, not {}",
                self.confidence
            )));
        }
        Ok(())
    }
}

/// One group of a protected attribute.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupStats {
    pub group: String,
    /// Records in the group.
    pub n: u64,
    /// Records with the favourable outcome.
    pub selected: u64,
    /// `selected / n`.
    pub selection_rate: f64,
    /// Records with a known label.
    pub labelled: u64,
    /// Labelled records whose label is true.
    pub positives: u64,
    /// Labelled records whose label is false.
    pub negatives: u64,
    /// True positive rate: favourable outcomes among `positives`; `None` when there are none.
    pub tpr: Option<f64>,
    /// False positive rate: favourable outcomes among `negatives`; `None` when there are none.
    pub fpr: Option<f64>,
    /// `n` is below [`AuditOptions::min_group_size`].
    pub small: bool,
}

/// The between-group metrics of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Largest minus smallest selection rate (0 is parity).
    DemographicParityDifference,
    /// Smallest divided by largest selection rate (1 is parity; below 0.8 fails the
    /// four-fifths rule).
    DisparateImpactRatio,
    /// Largest minus smallest true positive rate.
    EqualOpportunityDifference,
    /// The larger of the TPR difference and the FPR difference (Fairlearn's
    /// `equalized_odds_difference`, agg `"worst_case"`).
    EqualizedOddsDifference,
}

impl MetricKind {
    pub const ALL: [MetricKind; 4] = [
        MetricKind::DemographicParityDifference,
        MetricKind::DisparateImpactRatio,
        MetricKind::EqualOpportunityDifference,
        MetricKind::EqualizedOddsDifference,
    ];

    /// The snake_case name used in JSON and in configuration.
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::DemographicParityDifference => "demographic_parity_difference",
            MetricKind::DisparateImpactRatio => "disparate_impact_ratio",
            MetricKind::EqualOpportunityDifference => "equal_opportunity_difference",
            MetricKind::EqualizedOddsDifference => "equalized_odds_difference",
        }
    }

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            MetricKind::DemographicParityDifference => "demographic parity difference",
            MetricKind::DisparateImpactRatio => "disparate impact ratio",
            MetricKind::EqualOpportunityDifference => "equal opportunity difference",
            MetricKind::EqualizedOddsDifference => "equalized odds difference",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A closed interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        self.lower <= x && x <= self.upper
    }
}

/// A metric's point estimate and its bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricEstimate {
    /// The value on the audited records; `None` when the metric is undefined.
    pub value: Option<f64>,
    /// Why `value` is `None`.
    pub undefined_reason: Option<String>,
    /// Percentile bootstrap interval at [`AuditOptions::confidence`]; `None` when the value is
    /// undefined, bootstrapping is off, or every replicate was undefined.
    pub ci: Option<Interval>,
    /// Replicates in which the metric was undefined (e.g. a small group drew no positives);
    /// they are left out of the interval.
    pub undefined_replicates: usize,
}

/// How the intervals of a report were made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BootstrapSettings {
    pub replicates: usize,
    pub confidence: f64,
    pub seed: u64,
    pub min_group_size: usize,
}

/// The audit of one protected attribute.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributeReport {
    /// The attribute (e.g. `"gender"`, or a CSV column name).
    pub attribute: String,
    /// Groups in ascending order of name.
    pub groups: Vec<GroupStats>,
    pub demographic_parity_difference: MetricEstimate,
    pub disparate_impact_ratio: MetricEstimate,
    /// The disparate impact ratio is below 0.8 (the four-fifths rule). False when the ratio is
    /// undefined.
    pub four_fifths_violation: bool,
    pub equal_opportunity_difference: MetricEstimate,
    pub equalized_odds_difference: MetricEstimate,
    pub bootstrap: BootstrapSettings,
}

impl AttributeReport {
    /// The estimate of one metric.
    pub fn metric(&self, kind: MetricKind) -> &MetricEstimate {
        match kind {
            MetricKind::DemographicParityDifference => &self.demographic_parity_difference,
            MetricKind::DisparateImpactRatio => &self.disparate_impact_ratio,
            MetricKind::EqualOpportunityDifference => &self.equal_opportunity_difference,
            MetricKind::EqualizedOddsDifference => &self.equalized_odds_difference,
        }
    }
}

/// The four-fifths rule: a selection-rate ratio below this is evidence of adverse impact.
pub(crate) const FOUR_FIFTHS: f64 = 0.8;

/// Audit one protected attribute.
///
/// Every group present in `records` is included, however small. A metric is `None`, with
/// [`MetricEstimate::undefined_reason`] saying why, when
/// * there is only one group (nothing to compare);
/// * disparate impact ratio: no group has a favourable outcome (max selection rate 0);
/// * equal opportunity difference: some group has no labelled positives (TPR undefined), or no
///   record has a label;
/// * equalized odds difference: as above, or some group has no labelled negatives (FPR
///   undefined).
///
/// Intervals: each replicate resamples every group's records with replacement, keeping the group
/// sizes (a stratified bootstrap), from one ChaCha8 stream seeded with
/// [`AuditOptions::seed`]; the interval is the percentile interval of the replicates in which
/// the metric is defined (quantiles by linear interpolation, NumPy's default).
///
/// A caveat of percentile intervals for max − min (and min / max) statistics: resampling adds
/// noise to every group's rate, which widens the spread, so near parity — and with small
/// groups — the replicates sit above the observed difference (below the observed ratio) and
/// the interval may not contain the point estimate. Read such an interval as "a disparity of
/// this size cannot be told from sampling noise", not as evidence of a larger one.
pub fn audit(
    attribute: &str,
    records: &[Record],
    opts: &AuditOptions,
) -> Result<AttributeReport, FairnessError> {
    opts.validate()?;
    if records.is_empty() {
        return Err(FairnessError::NoRecords {
            attribute: attribute.to_string(),
        });
    }
    let mut by_group: BTreeMap<&str, Counts> = BTreeMap::new();
    for r in records {
        by_group.entry(r.group.as_str()).or_default().add(r);
    }
    let names: Vec<&str> = by_group.keys().copied().collect();
    let counts: Vec<Counts> = by_group.values().copied().collect();

    let point = metrics(&counts);
    let reasons = reasons(&names, &counts);

    let mut samples: [Vec<f64>; 4] = Default::default();
    if opts.bootstrap > 0 && point.iter().any(Option::is_some) {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        let mut replicate = counts.clone();
        for s in &mut samples {
            s.reserve_exact(opts.bootstrap);
        }
        for _ in 0..opts.bootstrap {
            for (slot, c) in replicate.iter_mut().zip(&counts) {
                *slot = resample(c, &mut rng);
            }
            for (s, v) in samples.iter_mut().zip(metrics(&replicate)) {
                if let Some(v) = v {
                    s.push(v);
                }
            }
        }
    }

    let estimate = |kind: MetricKind| {
        let i = kind.index();
        let value = point[i];
        let ci = if value.is_some() {
            percentile_interval(&mut samples[i].clone(), opts.confidence)
        } else {
            None
        };
        MetricEstimate {
            value,
            undefined_reason: if value.is_none() {
                reasons[i].clone()
            } else {
                None
            },
            ci,
            undefined_replicates: if opts.bootstrap > 0 && value.is_some() {
                opts.bootstrap - samples[i].len()
            } else {
                0
            },
        }
    };

    let groups = names
        .iter()
        .zip(&counts)
        .map(|(name, c)| GroupStats {
            group: name.to_string(),
            n: c.n(),
            selected: c.selected(),
            selection_rate: c.selection_rate(),
            labelled: c.positives() + c.negatives(),
            positives: c.positives(),
            negatives: c.negatives(),
            tpr: c.tpr(),
            fpr: c.fpr(),
            small: c.n() < opts.min_group_size as u64,
        })
        .collect();

    let disparate_impact_ratio = estimate(MetricKind::DisparateImpactRatio);
    Ok(AttributeReport {
        attribute: attribute.to_string(),
        groups,
        demographic_parity_difference: estimate(MetricKind::DemographicParityDifference),
        four_fifths_violation: disparate_impact_ratio
            .value
            .is_some_and(|r| r < FOUR_FIFTHS),
        disparate_impact_ratio,
        equal_opportunity_difference: estimate(MetricKind::EqualOpportunityDifference),
        equalized_odds_difference: estimate(MetricKind::EqualizedOddsDifference),
        bootstrap: BootstrapSettings {
            replicates: opts.bootstrap,
            confidence: opts.confidence,
            seed: opts.seed,
            min_group_size: opts.min_group_size,
        },
    })
}

// Cells of `Counts::cells`: favourable outcome × label.
const SEL_UNLABELLED: usize = 0;
const SEL_POS: usize = 1; // true positive
const SEL_NEG: usize = 2; // false positive
const REJ_UNLABELLED: usize = 3;
const REJ_POS: usize = 4; // false negative
const REJ_NEG: usize = 5; // true negative

/// A group's records reduced to six cell counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    cells: [u64; 6],
}

impl Counts {
    fn add(&mut self, r: &Record) {
        let cell = match (r.pred, r.label) {
            (true, None) => SEL_UNLABELLED,
            (true, Some(true)) => SEL_POS,
            (true, Some(false)) => SEL_NEG,
            (false, None) => REJ_UNLABELLED,
            (false, Some(true)) => REJ_POS,
            (false, Some(false)) => REJ_NEG,
        };
        self.cells[cell] += 1;
    }

    fn n(&self) -> u64 {
        self.cells.iter().sum()
    }

    fn selected(&self) -> u64 {
        self.cells[SEL_UNLABELLED] + self.cells[SEL_POS] + self.cells[SEL_NEG]
    }

    fn positives(&self) -> u64 {
        self.cells[SEL_POS] + self.cells[REJ_POS]
    }

    fn negatives(&self) -> u64 {
        self.cells[SEL_NEG] + self.cells[REJ_NEG]
    }

    /// Groups are never empty (they come from records, and resampling keeps `n`).
    fn selection_rate(&self) -> f64 {
        self.selected() as f64 / self.n() as f64
    }

    fn tpr(&self) -> Option<f64> {
        ratio(self.cells[SEL_POS], self.positives())
    }

    fn fpr(&self) -> Option<f64> {
        ratio(self.cells[SEL_NEG], self.negatives())
    }
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// Largest minus smallest, or `None` if any value is `None`.
fn spread(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values {
        let v = v?;
        lo = lo.min(v);
        hi = hi.max(v);
    }
    Some(hi - lo)
}

/// The four metrics, in [`MetricKind`] order.
fn metrics(groups: &[Counts]) -> [Option<f64>; 4] {
    if groups.len() < 2 {
        return [None; 4];
    }
    let rates = || groups.iter().map(|c| Some(c.selection_rate()));
    let dpd = spread(rates());
    let (lo, hi) = rates()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
            (lo.min(r), hi.max(r))
        });
    let dir = (hi > 0.0).then(|| lo / hi);
    let tpr_diff = spread(groups.iter().map(Counts::tpr));
    let fpr_diff = spread(groups.iter().map(Counts::fpr));
    let eq_odds = tpr_diff.zip(fpr_diff).map(|(t, f)| t.max(f));
    [dpd, dir, tpr_diff, eq_odds]
}

/// Why each metric of [`metrics`] is undefined (only read where it is).
fn reasons(names: &[&str], groups: &[Counts]) -> [Option<String>; 4] {
    if groups.len() < 2 {
        let r = Some(format!(
            "only one group ({}); nothing to compare",
            names.first().copied().unwrap_or_default()
        ));
        return [r.clone(), r.clone(), r.clone(), r];
    }
    let lacking = |f: fn(&Counts) -> u64| {
        names
            .iter()
            .zip(groups)
            .filter(|(_, c)| f(c) == 0)
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let labelled: u64 = groups.iter().map(|c| c.positives() + c.negatives()).sum();
    let tpr_reason = if labelled == 0 {
        "no record has a label".to_string()
    } else {
        format!(
            "TPR undefined: no labelled positives in group(s) {}",
            lacking(Counts::positives)
        )
    };
    let eq_odds_reason = if labelled == 0 || groups.iter().any(|c| c.positives() == 0) {
        tpr_reason.clone()
    } else {
        format!(
            "FPR undefined: no labelled negatives in group(s) {}",
            lacking(Counts::negatives)
        )
    };
    [
        None,
        Some("no group has a favourable outcome (every selection rate is 0)".to_string()),
        Some(tpr_reason),
        Some(eq_odds_reason),
    ]
}

/// One bootstrap draw of a group: its `n` records resampled with replacement, as a multinomial
/// over the six cells drawn by successive binomials.
fn resample(c: &Counts, rng: &mut ChaCha8Rng) -> Counts {
    let mut out = Counts::default();
    let mut left = c.n(); // draws still to place
    let mut mass = c.n(); // records in this and later cells
    for (i, &k) in c.cells.iter().enumerate() {
        if left == 0 {
            break;
        }
        if k == 0 {
            continue;
        }
        let x = if k == mass {
            left
        } else {
            // 0 < k < mass, so p is in (0, 1) and the binomial is well-defined.
            let p = k as f64 / mass as f64;
            Binomial::new(left, p).expect("p is in (0, 1)").sample(rng)
        };
        out.cells[i] = x;
        left -= x;
        mass -= k;
    }
    out
}

/// The percentile interval of `samples` (sorted in place), or `None` if there are none.
fn percentile_interval(samples: &mut [f64], confidence: f64) -> Option<Interval> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Some(Interval {
        lower: quantile(samples, tail),
        upper: quantile(samples, 1.0 - tail),
    })
}

/// Quantile `q` of sorted, non-empty `v` by linear interpolation (NumPy's default).
fn quantile(v: &[f64], q: f64) -> f64 {
    let h = (v.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert!((quantile(&v, 0.5) - 2.5).abs() < 1e-12);
        assert!((quantile(&v, 0.025) - 1.075).abs() < 1e-12);
        assert_eq!(quantile(&[7.0], 0.3), 7.0);
    }

    #[test]
    fn resample_keeps_group_size_and_empty_cells() {
        let c = Counts {
            cells: [5, 0, 3, 0, 9, 1],
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let r = resample(&c, &mut rng);
            assert_eq!(r.n(), c.n());
            assert_eq!(r.cells[1], 0);
            assert_eq!(r.cells[3], 0);
        }
        let one = Counts {
            cells: [0, 0, 0, 0, 4, 0],
        };
        assert_eq!(resample(&one, &mut rng), one);
    }

    #[test]
    fn resample_matches_cell_proportions_on_average() {
        let c = Counts {
            cells: [10, 20, 30, 40, 50, 50],
        };
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut sum = [0u64; 6];
        let reps = 4000;
        for _ in 0..reps {
            let r = resample(&c, &mut rng);
            for (s, x) in sum.iter_mut().zip(r.cells) {
                *s += x;
            }
        }
        for (s, k) in sum.iter().zip(c.cells) {
            let mean = *s as f64 / reps as f64;
            assert!((mean - k as f64).abs() < 0.5, "mean {mean} vs {k}");
        }
    }
}
