//! Causal effect of a campaign that was **not** randomised (customers were targeted), from
//! observational data: who was treated, their covariates, and the outcome.
//!
//! 1. **Propensity score** e(x) = P(T = 1 | x) (Rosenbaum & Rubin 1983) by L2-regularised
//!    logistic regression on standardised covariates ([`crate::propensity`]); e is clipped to
//!    [trim, 1 − trim] (default 0.01) wherever it is used as a weight.
//! 2. **Inverse probability weighting**, Hajek (normalised) estimators:
//!    `ATE = Σ TᵢYᵢ/eᵢ / Σ Tᵢ/eᵢ − Σ (1−Tᵢ)Yᵢ/(1−eᵢ) / Σ (1−Tᵢ)/(1−eᵢ)`,
//!    `ATT = mean(Y | T = 1) − Σ (1−Tᵢ)Yᵢ·eᵢ/(1−eᵢ) / Σ (1−Tᵢ)·eᵢ/(1−eᵢ)`.
//! 3. **Matching**: each treated unit is matched 1:1, with replacement, to the control with the
//!    nearest logit propensity ηᵢ = logit e(xᵢ), if it lies within the caliper
//!    c·√((s²_η,T + s²_η,C)/2) (c = 0.2 by default: Austin 2011); ATT = mean over matched treated
//!    of Yᵢ − Y_match(i). Treated units without a match are counted and left out, so the
//!    estimate is for the matched treated.
//! 4. **Intervals**: percentile bootstrap at 1 − α — rows are resampled with replacement and
//!    the propensity model is re-fitted in every replicate (seeded ChaCha8, so deterministic).
//!    Abadie–Imbens variance for matching is not implemented; the bootstrap is used for it too
//!    (it is known to be somewhat conservative or anti-conservative for matching with
//!    replacement; treat the matching interval as indicative). The naive difference of means
//!    has a Welch normal interval.
//! 5. **Balance**: standardised mean difference per covariate
//!    `SMD = (x̄_T − x̄_C) / √((s²_T + s²_C)/2)` before adjustment, after IPW (ATE weights) and
//!    after matching, always over the unweighted standard deviations of the raw groups so the
//!    three are comparable; balanced when every |SMD| < 0.1 (Austin 2011).
//! 6. **Overlap**: propensity range per group, the share of units with e outside
//!    [0.05, 0.95], and the effective sample size (Σw)²/Σw² of the ATE weights per group;
//!    `poor_overlap` when that share exceeds 0.1 or either group's ESS is below 10 % of its size.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{FieldProblem, join};
use crate::inference::{Interval, mean_difference_interval};
use crate::propensity::{self, LAMBDA, MAX_ITERATIONS, Standardiser, sigmoid};

/// Minimum number of treated and of control units.
pub const MIN_PER_GROUP: usize = 20;
/// |SMD| below this counts as balanced.
pub const SMD_BALANCED: f64 = 0.1;
/// Propensities outside [OVERLAP_LOW, 1 − OVERLAP_LOW] count as lacking overlap.
pub const OVERLAP_LOW: f64 = 0.05;
/// Share of units outside the overlap band above which overlap is poor.
pub const POOR_OVERLAP_SHARE: f64 = 0.1;
/// ESS below this fraction of a group's size means poor overlap.
pub const POOR_OVERLAP_ESS: f64 = 0.1;
/// Propensities used as weights never come closer than this to 0 or 1, whatever `trim` is.
pub const PROPENSITY_FLOOR: f64 = 1e-9;
/// Largest number of bootstrap replicates accepted.
pub const MAX_BOOTSTRAP: usize = 10_000;

/// Observational data: one row per customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpliftData {
    /// Names of the covariate columns (unique, non-empty), the width of every row of `x`.
    pub covariate_names: Vec<String>,
    /// Covariates measured **before** treatment, one row per customer, all finite.
    pub x: Vec<Vec<f64>>,
    /// Whether the customer was treated (targeted by the campaign).
    pub treated: Vec<bool>,
    /// The outcome (e.g. 1.0 converted / 0.0 not, or revenue); finite.
    pub outcome: Vec<f64>,
}

/// Which adjusted estimators to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpliftMethod {
    /// Inverse probability weighting only.
    Ipw,
    /// Propensity-score matching only.
    Matching,
    /// Both (the default).
    #[default]
    Both,
}

impl UpliftMethod {
    fn ipw(self) -> bool {
        matches!(self, UpliftMethod::Ipw | UpliftMethod::Both)
    }
    fn matching(self) -> bool {
        matches!(self, UpliftMethod::Matching | UpliftMethod::Both)
    }
}

/// Options of [`estimate`]; every field has a default, so `{}` is a valid JSON value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpliftOptions {
    /// Estimators (default both).
    pub method: UpliftMethod,
    /// Bootstrap replicates for the intervals: 0 (no intervals) or 20..=10 000 (default 200).
    pub bootstrap: usize,
    /// Intervals at 1 − α, 0 < α < 0.5 (default 0.05).
    pub alpha: f64,
    /// Seed of the bootstrap resampling (default 0).
    pub seed: u64,
    /// Propensities are clipped to [trim, 1 − trim] for weighting, 0 ≤ trim < 0.5
    /// (default 0.01; with 0 they are still kept within [1e-9, 1 − 1e-9] so weights stay
    /// finite).
    pub trim: f64,
    /// Matching caliper in standard deviations of the logit propensity, > 0 (default 0.2).
    pub caliper: f64,
}

impl Default for UpliftOptions {
    fn default() -> Self {
        Self {
            method: UpliftMethod::Both,
            bootstrap: 200,
            alpha: 0.05,
            seed: 0,
            trim: 0.01,
            caliper: 0.2,
        }
    }
}

/// The input or the options are invalid; every problem found is listed, naming the field, row
/// and column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UpliftError {
    /// One or more fields are invalid.
    #[error("invalid uplift input: {}", join(.0))]
    Invalid(Vec<FieldProblem>),
}

impl UpliftError {
    /// The problems found.
    pub fn problems(&self) -> &[FieldProblem] {
        match self {
            UpliftError::Invalid(p) => p,
        }
    }
}

/// A point estimate with its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The estimate on the full data.
    pub estimate: f64,
    /// Interval at 1 − α (bootstrap percentile, or Welch normal for the naive difference);
    /// `None` without bootstrap or when too few replicates succeeded.
    pub ci: Option<Interval>,
    /// Standard error (bootstrap standard deviation, or the Welch standard error).
    pub se: Option<f64>,
}

/// The IPW estimates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IpwEstimates {
    /// Average treatment effect E\[Y₁\] − E\[Y₀\].
    pub ate: Estimate,
    /// Average treatment effect on the treated E\[Y₁ − Y₀ | T = 1\].
    pub att: Estimate,
}

/// The matching estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MatchingEstimate {
    /// ATT over the matched treated; `None` if no treated unit found a match.
    pub att: Option<Estimate>,
    /// Treated units with a control within the caliper.
    pub matched_treated: usize,
    /// Treated units without one (left out).
    pub unmatched_treated: usize,
    /// Different controls used (matching is with replacement).
    pub distinct_controls: usize,
    /// The caliper on the logit scale: caliper × pooled sd of the logit propensity.
    pub caliper_width: f64,
}

/// One fitted coefficient of the propensity model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coefficient {
    /// `intercept` or the covariate name.
    pub name: String,
    /// Log-odds per standard deviation of the covariate.
    pub value: f64,
}

/// The fitted propensity model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropensitySummary {
    /// Intercept then one coefficient per covariate, on the standardised scale.
    pub coefficients: Vec<Coefficient>,
    /// The ridge penalty λ.
    pub lambda: f64,
    /// Newton iterations used.
    pub iterations: usize,
    /// Whether Newton's method converged within the allowed iterations.
    pub converged: bool,
    /// Units whose propensity was clipped to [trim, 1 − trim].
    pub clipped: usize,
}

/// Balance of one covariate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BalanceRow {
    /// Covariate name.
    pub covariate: String,
    /// Mean among the treated (unweighted).
    pub mean_treated: f64,
    /// Mean among the controls (unweighted).
    pub mean_control: f64,
    /// SMD before any adjustment.
    pub smd_before: f64,
    /// SMD with the IPW ATE weights.
    pub smd_weighted: f64,
    /// SMD between the matched treated and their matches; `None` without matching.
    pub smd_matched: Option<f64>,
}

/// Propensity range of one group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroupOverlap {
    /// Units in the group.
    pub n: usize,
    /// Smallest (unclipped) propensity.
    pub min_propensity: f64,
    /// Largest (unclipped) propensity.
    pub max_propensity: f64,
    /// Effective sample size of the group's ATE weights, (Σw)²/Σw².
    pub ess: f64,
}

/// Overlap diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Overlap {
    /// The treated.
    pub treated: GroupOverlap,
    /// The controls.
    pub control: GroupOverlap,
    /// Share of all units with a propensity outside [0.05, 0.95].
    pub share_outside: f64,
    /// share_outside > 0.1 or an ESS below 10 % of its group.
    pub poor_overlap: bool,
}

/// How the bootstrap went.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapSummary {
    /// Replicates asked for.
    pub requested: usize,
    /// Replicates with at least two treated and two controls (the others are skipped).
    pub used: usize,
    /// The seed.
    pub seed: u64,
    /// Interval level 1 − α.
    pub level: f64,
}

/// Everything [`estimate`] finds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpliftReport {
    /// Units.
    pub n: usize,
    /// Treated units.
    pub n_treated: usize,
    /// Control units.
    pub n_control: usize,
    /// mean(Y | T = 1) − mean(Y | T = 0), with a Welch interval: biased by confounding.
    pub naive: Estimate,
    /// IPW estimates (when asked for).
    pub ipw: Option<IpwEstimates>,
    /// Matching estimate (when asked for).
    pub matching: Option<MatchingEstimate>,
    /// The propensity model.
    pub propensity: PropensitySummary,
    /// Balance per covariate.
    pub balance: Vec<BalanceRow>,
    /// Every |SMD| after weighting < 0.1.
    pub balanced_weighted: bool,
    /// Every |SMD| after matching < 0.1 (`None` without matching).
    pub balanced_matched: Option<bool>,
    /// Balance of the primary method: weighting, or matching when only matching was asked.
    pub balanced: bool,
    /// Overlap diagnostics.
    pub overlap: Overlap,
    /// Bootstrap details.
    pub bootstrap: BootstrapSummary,
    /// Plain-language warnings (poor overlap, imbalance, non-convergence, unmatched units).
    pub warnings: Vec<String>,
}

const MAX_LISTED: usize = 20;

fn validate(data: &UpliftData, opts: &UpliftOptions) -> Result<(), UpliftError> {
    let mut problems = Vec::new();
    let mut bad = |f: String, r: String| problems.push(FieldProblem::new(f, r));
    let p = data.covariate_names.len();
    let n = data.x.len();
    if p == 0 {
        bad(
            "covariate_names".into(),
            "at least one covariate is needed".into(),
        );
    }
    let mut seen = std::collections::BTreeMap::new();
    for (j, name) in data.covariate_names.iter().enumerate() {
        if name.trim().is_empty() {
            bad(format!("covariate_names[{j}]"), "must not be blank".into());
        } else if let Some(first) = seen.insert(name.as_str(), j) {
            bad(
                format!("covariate_names[{j}]"),
                format!("duplicate name {name:?} (also covariate_names[{first}])"),
            );
        }
    }
    if data.treated.len() != n {
        bad(
            "treated".into(),
            format!("has {} entries but x has {n} rows", data.treated.len()),
        );
    }
    if data.outcome.len() != n {
        bad(
            "outcome".into(),
            format!("has {} entries but x has {n} rows", data.outcome.len()),
        );
    }
    let mut listed = 0usize;
    let mut more = 0usize;
    for (i, row) in data.x.iter().enumerate() {
        if row.len() != p {
            if listed < MAX_LISTED {
                bad(
                    format!("x[{i}]"),
                    format!("has {} values but there are {p} covariate names", row.len()),
                );
                listed += 1;
            } else {
                more += 1;
            }
            continue;
        }
        for (j, v) in row.iter().enumerate() {
            if !v.is_finite() {
                if listed < MAX_LISTED {
                    bad(
                        format!("x[{i}][{j}]"),
                        format!(
                            "covariate {:?} (row {i}, column {j}) must be finite, got {v}",
                            data.covariate_names[j]
                        ),
                    );
                    listed += 1;
                } else {
                    more += 1;
                }
            }
        }
    }
    for (i, y) in data.outcome.iter().enumerate() {
        if !y.is_finite() {
            if listed < MAX_LISTED {
                bad(format!("outcome[{i}]"), format!("must be finite, got {y}"));
                listed += 1;
            } else {
                more += 1;
            }
        }
    }
    if more > 0 {
        bad(
            "x".into(),
            format!("and {more} more invalid values not listed"),
        );
    }
    // Constant columns (only meaningful when the rows are well-formed).
    if n > 0 && data.x.iter().all(|r| r.len() == p) {
        for (j, name) in data.covariate_names.iter().enumerate() {
            let first = data.x[0][j];
            if data.x.iter().all(|r| r[j] == first) {
                bad(
                    format!("x[*][{j}]"),
                    format!("covariate {name:?} (column {j}) is constant ({first} in every row)"),
                );
            }
        }
    }
    if data.treated.len() == n {
        let nt = data.treated.iter().filter(|t| **t).count();
        let nc = n - nt;
        if nt < MIN_PER_GROUP || nc < MIN_PER_GROUP {
            bad(
                "treated".into(),
                format!(
                    "needs at least {MIN_PER_GROUP} treated and {MIN_PER_GROUP} control units, \
                     got {nt} treated and {nc} control"
                ),
            );
        }
    }
    if opts.bootstrap != 0 && !(20..=MAX_BOOTSTRAP).contains(&opts.bootstrap) {
        bad(
            "bootstrap".into(),
            format!(
                "must be 0 (no intervals) or 20 to {MAX_BOOTSTRAP}, got {}",
                opts.bootstrap
            ),
        );
    }
    if !(opts.alpha.is_finite() && opts.alpha > 0.0 && opts.alpha < 0.5) {
        bad(
            "alpha".into(),
            format!("must be in (0, 0.5), got {}", opts.alpha),
        );
    }
    if !(opts.trim.is_finite() && (0.0..0.5).contains(&opts.trim)) {
        bad(
            "trim".into(),
            format!("must be in [0, 0.5), got {}", opts.trim),
        );
    }
    if !(opts.caliper.is_finite() && opts.caliper > 0.0) {
        bad(
            "caliper".into(),
            format!("must be finite and > 0, got {}", opts.caliper),
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(UpliftError::Invalid(problems))
    }
}

/// Hajek IPW (ATE, ATT) over `rows` with clipped propensities `e`; `None` if a group is
/// empty in `rows`.
fn ipw(e: &[f64], t: &[bool], y: &[f64], rows: &[usize]) -> Option<(f64, f64)> {
    let (mut s1, mut w1, mut s0, mut w0) = (0.0, 0.0, 0.0, 0.0);
    let (mut st, mut nt, mut sa, mut wa) = (0.0, 0.0, 0.0, 0.0);
    for &i in rows {
        if t[i] {
            s1 += y[i] / e[i];
            w1 += 1.0 / e[i];
            st += y[i];
            nt += 1.0;
        } else {
            s0 += y[i] / (1.0 - e[i]);
            w0 += 1.0 / (1.0 - e[i]);
            let odds = e[i] / (1.0 - e[i]);
            sa += y[i] * odds;
            wa += odds;
        }
    }
    if w1 <= 0.0 || w0 <= 0.0 || nt == 0.0 || wa <= 0.0 {
        return None;
    }
    Some((s1 / w1 - s0 / w0, st / nt - sa / wa))
}

struct MatchResult {
    att: Option<f64>,
    /// (treated row, control row) per matched treated unit.
    pairs: Vec<(usize, usize)>,
    unmatched: usize,
    width: f64,
}

fn sample_sd(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.collect();
    if v.len() < 2 {
        return 0.0;
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

/// 1:1 nearest-neighbour matching with replacement on `eta` within the caliper.
fn matching(eta: &[f64], t: &[bool], y: &[f64], rows: &[usize], caliper: f64) -> MatchResult {
    let sd_t = sample_sd(rows.iter().filter(|&&i| t[i]).map(|&i| eta[i]));
    let sd_c = sample_sd(rows.iter().filter(|&&i| !t[i]).map(|&i| eta[i]));
    let width = caliper * ((sd_t * sd_t + sd_c * sd_c) / 2.0).sqrt();
    let mut controls: Vec<(f64, usize)> = rows
        .iter()
        .filter(|&&i| !t[i])
        .map(|&i| (eta[i], i))
        .collect();
    controls.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut pairs = Vec::new();
    let mut unmatched = 0;
    let mut sum = 0.0;
    for &i in rows.iter().filter(|&&i| t[i]) {
        let pos = controls.partition_point(|c| c.0 < eta[i]);
        let mut best: Option<(f64, usize)> = None;
        for cand in [pos.checked_sub(1), Some(pos)].into_iter().flatten() {
            if let Some(&(e, j)) = controls.get(cand) {
                let d = (e - eta[i]).abs();
                if best.is_none_or(|b| d < b.0) {
                    best = Some((d, j));
                }
            }
        }
        match best {
            Some((d, j)) if d <= width => {
                pairs.push((i, j));
                sum += y[i] - y[j];
            }
            _ => unmatched += 1,
        }
    }
    MatchResult {
        att: (!pairs.is_empty()).then(|| sum / pairs.len() as f64),
        pairs,
        unmatched,
        width,
    }
}

/// Percentile interval (linear interpolation between order statistics) and sd of replicates.
fn percentile(mut v: Vec<f64>, alpha: f64) -> (Interval, f64) {
    v.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let h = p * (v.len() - 1) as f64;
        let lo = h.floor() as usize;
        let hi = (lo + 1).min(v.len() - 1);
        v[lo] + (h - lo as f64) * (v[hi] - v[lo])
    };
    let sd = sample_sd(v.iter().copied());
    (
        Interval {
            lower: q(alpha / 2.0),
            upper: q(1.0 - alpha / 2.0),
            level: 1.0 - alpha,
        },
        sd,
    )
}

fn weighted_mean(rows: impl Iterator<Item = (f64, f64)>) -> f64 {
    let (s, w) = rows.fold((0.0, 0.0), |(s, w), (x, wi)| (s + x * wi, w + wi));
    if w > 0.0 { s / w } else { f64::NAN }
}

/// Estimates the effect of the treatment (see the module docs for every method).
pub fn estimate(data: &UpliftData, opts: &UpliftOptions) -> Result<UpliftReport, UpliftError> {
    validate(data, opts)?;
    let n = data.x.len();
    let p = data.covariate_names.len();
    let k = p + 1;
    let t = &data.treated;
    let y = &data.outcome;
    let all: Vec<usize> = (0..n).collect();
    let n_treated = t.iter().filter(|v| **v).count();
    let n_control = n - n_treated;
    let mut warnings = Vec::new();

    // Naive difference with a Welch interval.
    let sums = |treated: bool| {
        let (mut c, mut s, mut ss) = (0u64, 0.0, 0.0);
        for i in (0..n).filter(|&i| t[i] == treated) {
            c += 1;
            s += y[i];
            ss += y[i] * y[i];
        }
        (c, s, ss)
    };
    let (g1, g0) = (sums(true), sums(false));
    let naive_point = g1.1 / g1.0 as f64 - g0.1 / g0.0 as f64;
    let naive_ci = mean_difference_interval(g0, g1, opts.alpha).map(|r| r.1);
    let naive = Estimate {
        estimate: naive_point,
        ci: naive_ci,
        se: naive_ci.map(|c| (c.upper - c.lower) / (2.0 * crate::dist::z_two_sided(opts.alpha))),
    };

    // Propensity model on the full data.
    let standardiser = Standardiser::fit(&data.x, p);
    let z = standardiser.design(&data.x);
    let fit = propensity::fit(&z, k, t, &all, None);
    let eta_of = |beta: &[f64]| -> Vec<f64> {
        (0..n)
            .map(|i| {
                z[i * k..(i + 1) * k]
                    .iter()
                    .zip(beta)
                    .map(|(a, b)| a * b)
                    .sum()
            })
            .collect()
    };
    // Even with trim = 0 the weights stay finite: e is kept within [1e-9, 1 − 1e-9].
    let bound = opts.trim.max(PROPENSITY_FLOOR);
    let clip = |eta: &[f64]| -> Vec<f64> {
        eta.iter()
            .map(|&h| sigmoid(h).clamp(bound, 1.0 - bound))
            .collect()
    };
    let eta = eta_of(&fit.beta);
    let raw: Vec<f64> = eta.iter().map(|&h| sigmoid(h)).collect();
    let e = clip(&eta);
    let clipped = raw
        .iter()
        .filter(|&&r| r < opts.trim || r > 1.0 - opts.trim)
        .count();
    if !fit.converged {
        warnings.push(format!(
            "the propensity model did not converge in {MAX_ITERATIONS} Newton iterations \
             (treatment is nearly determined by the covariates): estimates are unreliable"
        ));
    }
    if clipped > 0 {
        warnings.push(format!(
            "{clipped} units had their propensity clipped to [{}, {}]",
            opts.trim,
            1.0 - opts.trim
        ));
    }

    let full_ipw = ipw(&e, t, y, &all);
    let full_match = opts
        .method
        .matching()
        .then(|| matching(&eta, t, y, &all, opts.caliper));

    // Bootstrap.
    let mut boot_ate = Vec::new();
    let mut boot_att = Vec::new();
    let mut boot_match = Vec::new();
    let mut used = 0;
    if opts.bootstrap > 0 {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        let mut rows = vec![0usize; n];
        for _ in 0..opts.bootstrap {
            rows.iter_mut().for_each(|r| *r = rng.random_range(0..n));
            let nt = rows.iter().filter(|&&i| t[i]).count();
            if nt < 2 || n - nt < 2 {
                continue;
            }
            used += 1;
            let f = propensity::fit(&z, k, t, &rows, Some(&fit.beta));
            let eta_b = eta_of(&f.beta);
            if opts.method.ipw()
                && let Some((ate, att)) = ipw(&clip(&eta_b), t, y, &rows)
            {
                boot_ate.push(ate);
                boot_att.push(att);
            }
            if opts.method.matching()
                && let Some(att) = matching(&eta_b, t, y, &rows, opts.caliper).att
            {
                boot_match.push(att);
            }
        }
        if used < opts.bootstrap {
            warnings.push(format!(
                "{} of {} bootstrap replicates lacked two treated or two control units and \
                 were skipped",
                opts.bootstrap - used,
                opts.bootstrap
            ));
        }
    }
    let min_replicates = (opts.bootstrap / 2).max(20);
    let mut interval = |v: Vec<f64>, what: &str| -> (Option<Interval>, Option<f64>) {
        if opts.bootstrap == 0 {
            (None, None)
        } else if v.len() < min_replicates {
            warnings.push(format!(
                "only {} bootstrap replicates gave a {what} estimate: no interval",
                v.len()
            ));
            (None, None)
        } else {
            let (ci, sd) = percentile(v, opts.alpha);
            (Some(ci), Some(sd))
        }
    };

    let ipw_report = if opts.method.ipw() {
        full_ipw.map(|(ate, att)| {
            let (ate_ci, ate_se) = interval(boot_ate, "IPW ATE");
            let (att_ci, att_se) = interval(boot_att, "IPW ATT");
            IpwEstimates {
                ate: Estimate {
                    estimate: ate,
                    ci: ate_ci,
                    se: ate_se,
                },
                att: Estimate {
                    estimate: att,
                    ci: att_ci,
                    se: att_se,
                },
            }
        })
    } else {
        None
    };
    let matching_report = full_match.as_ref().map(|m| {
        let (ci, se) = interval(boot_match, "matching ATT");
        let mut controls: Vec<usize> = m.pairs.iter().map(|p| p.1).collect();
        controls.sort_unstable();
        controls.dedup();
        MatchingEstimate {
            att: m.att.map(|a| Estimate {
                estimate: a,
                ci,
                se,
            }),
            matched_treated: m.pairs.len(),
            unmatched_treated: m.unmatched,
            distinct_controls: controls.len(),
            caliper_width: m.width,
        }
    });
    if let Some(m) = &matching_report
        && m.unmatched_treated > 0
    {
        warnings.push(format!(
            "{} of {n_treated} treated units ({:.1} %) had no control within the caliper and \
             were left out of the matching ATT",
            m.unmatched_treated,
            100.0 * m.unmatched_treated as f64 / n_treated as f64
        ));
    }

    // Balance.
    let w_ate: Vec<f64> = (0..n)
        .map(|i| if t[i] { 1.0 / e[i] } else { 1.0 / (1.0 - e[i]) })
        .collect();
    let mut balance = Vec::with_capacity(p);
    for (j, name) in data.covariate_names.iter().enumerate() {
        let col = |i: usize| data.x[i][j];
        let mt = weighted_mean((0..n).filter(|&i| t[i]).map(|i| (col(i), 1.0)));
        let mc = weighted_mean((0..n).filter(|&i| !t[i]).map(|i| (col(i), 1.0)));
        let st = sample_sd((0..n).filter(|&i| t[i]).map(col));
        let sc = sample_sd((0..n).filter(|&i| !t[i]).map(col));
        let mut denom = ((st * st + sc * sc) / 2.0).sqrt();
        if denom <= 0.0 {
            // Constant within each group: fall back to the overall sd (non-zero, validated).
            denom = standardiser.sds[j];
        }
        let wt = weighted_mean((0..n).filter(|&i| t[i]).map(|i| (col(i), w_ate[i])));
        let wc = weighted_mean((0..n).filter(|&i| !t[i]).map(|i| (col(i), w_ate[i])));
        let smd_matched = full_match.as_ref().and_then(|m| {
            (!m.pairs.is_empty()).then(|| {
                let k = m.pairs.len() as f64;
                let a: f64 = m.pairs.iter().map(|&(i, _)| col(i)).sum::<f64>() / k;
                let b: f64 = m.pairs.iter().map(|&(_, c)| col(c)).sum::<f64>() / k;
                (a - b) / denom
            })
        });
        balance.push(BalanceRow {
            covariate: name.clone(),
            mean_treated: mt,
            mean_control: mc,
            smd_before: (mt - mc) / denom,
            smd_weighted: (wt - wc) / denom,
            smd_matched,
        });
    }
    let balanced_weighted = balance.iter().all(|b| b.smd_weighted.abs() < SMD_BALANCED);
    let balanced_matched = full_match.as_ref().map(|_| {
        balance
            .iter()
            .all(|b| b.smd_matched.is_some_and(|s| s.abs() < SMD_BALANCED))
    });
    let balanced = if opts.method == UpliftMethod::Matching {
        balanced_matched.unwrap_or(false)
    } else {
        balanced_weighted
    };
    let unbalanced = |pick: fn(&BalanceRow) -> Option<f64>| -> Vec<String> {
        balance
            .iter()
            .filter_map(|b| {
                pick(b)
                    .filter(|s| s.is_nan() || s.abs() >= SMD_BALANCED)
                    .map(|s| format!("{} (SMD {s:.3})", b.covariate))
            })
            .collect()
    };
    if opts.method.ipw() {
        let list = unbalanced(|b| Some(b.smd_weighted));
        if !list.is_empty() {
            warnings.push(format!(
                "covariates not balanced after weighting (|SMD| >= {SMD_BALANCED}): {}",
                list.join(", ")
            ));
        }
    }
    if opts.method.matching() {
        let list = unbalanced(|b| Some(b.smd_matched.unwrap_or(f64::NAN)));
        if !list.is_empty() {
            warnings.push(format!(
                "covariates not balanced after matching (|SMD| >= {SMD_BALANCED}): {}",
                list.join(", ")
            ));
        }
    }

    // Overlap.
    let group = |treated: bool| {
        let idx: Vec<usize> = (0..n).filter(|&i| t[i] == treated).collect();
        let sw: f64 = idx.iter().map(|&i| w_ate[i]).sum();
        let sw2: f64 = idx.iter().map(|&i| w_ate[i] * w_ate[i]).sum();
        GroupOverlap {
            n: idx.len(),
            min_propensity: idx.iter().map(|&i| raw[i]).fold(f64::INFINITY, f64::min),
            max_propensity: idx
                .iter()
                .map(|&i| raw[i])
                .fold(f64::NEG_INFINITY, f64::max),
            ess: sw * sw / sw2,
        }
    };
    let (ot, oc) = (group(true), group(false));
    let outside = raw
        .iter()
        .filter(|&&r| !(OVERLAP_LOW..=1.0 - OVERLAP_LOW).contains(&r))
        .count();
    let share_outside = outside as f64 / n as f64;
    let poor_overlap = share_outside > POOR_OVERLAP_SHARE
        || ot.ess < POOR_OVERLAP_ESS * ot.n as f64
        || oc.ess < POOR_OVERLAP_ESS * oc.n as f64;
    if poor_overlap {
        warnings.push(format!(
            "poor overlap: {:.1} % of units have a propensity outside [{OVERLAP_LOW}, {}] and the \
             weights' effective sample sizes are {:.0} of {} treated and {:.0} of {} controls; \
             treated and untreated customers are hardly comparable, so the adjusted estimates \
             rest on few units and on extrapolation",
            100.0 * share_outside,
            1.0 - OVERLAP_LOW,
            ot.ess,
            ot.n,
            oc.ess,
            oc.n
        ));
    }

    let mut coefficients = vec![Coefficient {
        name: "intercept".into(),
        value: fit.beta[0],
    }];
    coefficients.extend(
        data.covariate_names
            .iter()
            .zip(&fit.beta[1..])
            .map(|(name, &value)| Coefficient {
                name: name.clone(),
                value,
            }),
    );

    Ok(UpliftReport {
        n,
        n_treated,
        n_control,
        naive,
        ipw: ipw_report,
        matching: matching_report,
        propensity: PropensitySummary {
            coefficients,
            lambda: LAMBDA,
            iterations: fit.iterations,
            converged: fit.converged,
            clipped,
        },
        balance,
        balanced_weighted,
        balanced_matched,
        balanced,
        overlap: Overlap {
            treated: ot,
            control: oc,
            share_outside,
            poor_overlap,
        },
        bootstrap: BootstrapSummary {
            requested: opts.bootstrap,
            used,
            seed: opts.seed,
            level: 1.0 - opts.alpha,
        },
        warnings,
    })
}
