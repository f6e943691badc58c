//! Analysis of an A/B/n experiment from per-arm totals: rates with Wilson intervals, revenue
//! per exposure, every treatment against the control with a fixed-horizon test (Holm-adjusted)
//! and a sequential one (mSPRT), the sample-ratio-mismatch check and the guardrails.
//!
//! **Per arm.** Conversion rate x/n with a Wilson interval at 1 − α; revenue per exposed
//! customer x̄ = S/n with the normal interval x̄ ± z·s/√n, s² = (Σx² − S²/n)/(n − 1).
//!
//! **Each treatment i = 1..m against the control (arm 0), m = arms − 1.**
//! * difference d = p̂ᵢ − p̂₀ with the unpooled Wald interval at level 1 − α/m (Bonferroni, so
//!   the m intervals hold simultaneously with probability ≥ 1 − α);
//! * relative lift d / p̂₀ (`None` when p̂₀ = 0);
//! * two-sided pooled two-proportion z test, p-values adjusted across the m comparisons with
//!   Holm's step-down method (Holm 1979); `significant` = adjusted p < α;
//! * revenue per exposure difference with a Welch normal interval at 1 − α/m;
//! * sequential: the mSPRT always-valid p-value (Johari, Pekelis & Walsh 2017; see
//!   [`crate::sequential`]), significant when below α/m.
//!
//! **Sample ratio mismatch** (Fabijan et al. 2019): Pearson's chi-square goodness of fit of the
//! exposures (arms, plus the holdout when its data is given) against the planned shares
//! wᵢ/Σw·(1 − h) and h. `srm_detected` when p < [`SRM_P_THRESHOLD`] = 0.001: the check runs on
//! every experiment at every look, so a strict threshold keeps false alarms rare, and a real
//! mismatch (broken assignment or logging) soon goes far below it. Between 0.001 and
//! [`SRM_SUSPECT_THRESHOLD`] = 0.01 a "possible SRM" warning is given.
//! With a bandit allocation the split moves on purpose, so the p-value is reported but
//! nothing is flagged.
//!
//! **Guardrails.** For each treatment and guarded metric, the rate of customers with the event,
//! d = rateᵢ − rate₀, and the one-sided pooled z test of H₁: rateᵢ > rate₀;
//! `breached` = d > max_increase **and** one-sided p < α.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{FieldProblem, join};
use crate::inference::{
    Interval, MeanEstimate, chi_square_gof, holm_adjust, mean_difference_interval, mean_from_sums,
    one_sided_increase_test, two_proportion_z_test, wald_difference_interval, wilson_interval,
};
use crate::sequential::{SequentialMonitor, msprt_statistic};
use crate::spec::{Allocation, ExperimentSpec, GuardrailMetric, SpecError};

/// SRM is declared when the chi-square p-value is below this (0.001).
pub const SRM_P_THRESHOLD: f64 = 0.001;
/// A "possible SRM" warning is given when the p-value is below this (0.01) but not below
/// [`SRM_P_THRESHOLD`].
pub const SRM_SUSPECT_THRESHOLD: f64 = 0.01;
/// Arms with fewer exposures than this get a warning: the normal approximations behind the
/// intervals and tests are unreliable.
pub const MIN_EXPOSURES_PER_ARM: u64 = 100;

/// Totals of one arm (or of the holdout) at the time of the analysis.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmData {
    /// The arm's name, as in the spec.
    pub name: String,
    /// Customers exposed (assigned and reached).
    pub exposures: u64,
    /// Exposed customers who converted (at most `exposures`).
    pub conversions: u64,
    /// Σ revenue over exposed customers (0 for those without revenue).
    #[serde(default)]
    pub revenue_sum: f64,
    /// Σ revenue² over exposed customers.
    #[serde(default)]
    pub revenue_sum_sq: f64,
    /// Guardrail metric name (`dismiss_rate`, `complaint_rate`, `unsubscribe_rate`) → number of
    /// exposed customers with at least one such event. A missing metric counts as 0.
    #[serde(default)]
    pub guardrail_events: BTreeMap<String, u64>,
}

impl ArmData {
    /// Totals without revenue or guardrail events.
    pub fn new(name: impl Into<String>, exposures: u64, conversions: u64) -> Self {
        Self {
            name: name.into(),
            exposures,
            conversions,
            ..Self::default()
        }
    }

    fn events(&self, metric: GuardrailMetric) -> u64 {
        self.guardrail_events
            .get(metric.as_str())
            .copied()
            .unwrap_or(0)
    }
}

/// Why an analysis could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    /// The experiment spec itself is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The arm data is inconsistent with the spec or with itself; every problem is listed.
    #[error("invalid experiment data: {}", join(.0))]
    Invalid(Vec<FieldProblem>),
}

/// Summary of one arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmSummary {
    /// Arm name.
    pub name: String,
    /// Exposed customers.
    pub exposures: u64,
    /// Converted customers.
    pub conversions: u64,
    /// conversions / exposures; `None` without exposures.
    pub conversion_rate: Option<f64>,
    /// Wilson score interval at 1 − α.
    pub conversion_ci: Option<Interval>,
    /// Revenue per exposed customer with its normal interval at 1 − α.
    pub revenue_per_exposure: Option<MeanEstimate>,
}

/// The sequential (mSPRT) view of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SequentialResult {
    /// Mixture standard deviation τ used.
    pub tau: f64,
    /// Λ at this look.
    pub lambda: f64,
    /// min(1, 1/Λ) at this look alone.
    pub p_value_this_look: f64,
    /// Always-valid p-value: the minimum over this and all earlier looks passed in.
    pub p_value_always_valid: f64,
    /// α/m (Bonferroni across the comparisons).
    pub threshold: f64,
    /// `p_value_always_valid < threshold`: the experiment may stop for this arm.
    pub significant: bool,
}

/// One treatment arm against the control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Treatment arm name.
    pub treatment: String,
    /// Control arm name (`arms[0]`).
    pub control: String,
    /// p̂ₜ − p̂꜀ (absolute, on the rate scale).
    pub difference: Option<f64>,
    /// Unpooled Wald interval of the difference at 1 − α/m (Bonferroni).
    pub difference_ci: Option<Interval>,
    /// (p̂ₜ − p̂꜀) / p̂꜀; `None` when the control rate is 0 or unknown.
    pub relative_lift: Option<f64>,
    /// Pooled two-proportion z statistic.
    pub z: Option<f64>,
    /// Two-sided p-value of the pooled z test.
    pub p_value: Option<f64>,
    /// Holm-adjusted p-value across the m comparisons (a missing p-value counts as 1).
    pub p_value_adjusted: Option<f64>,
    /// `p_value_adjusted < α`.
    pub significant: bool,
    /// Difference in revenue per exposure (treatment − control).
    pub revenue_difference: Option<f64>,
    /// Welch normal interval of the revenue difference at 1 − α/m.
    pub revenue_difference_ci: Option<Interval>,
    /// The sequential test.
    pub sequential: SequentialResult,
}

/// One group in the SRM check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SrmGroup {
    /// Arm name, or `"holdout"`.
    pub name: String,
    /// Exposures observed.
    pub observed: u64,
    /// Planned share of the groups checked.
    pub expected_share: f64,
    /// Planned count, N × share.
    pub expected: f64,
}

/// Sample ratio mismatch check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SrmCheck {
    /// The groups compared (the holdout only when its data was given and h > 0).
    pub groups: Vec<SrmGroup>,
    /// Pearson's χ²; `None` without exposures.
    pub chi_square: Option<f64>,
    /// Degrees of freedom, groups − 1.
    pub df: usize,
    /// P(χ²_df > observed).
    pub p_value: Option<f64>,
    /// [`SRM_P_THRESHOLD`].
    pub threshold: f64,
    /// p < threshold (always false with a bandit allocation, whose split moves on purpose;
    /// the p-value is then only descriptive).
    pub srm_detected: bool,
    /// p < [`SRM_SUSPECT_THRESHOLD`] (includes detected; false with a bandit allocation).
    pub srm_suspected: bool,
}

/// One guardrail for one treatment arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardrailResult {
    /// Treatment arm name.
    pub treatment: String,
    /// The metric.
    pub metric: GuardrailMetric,
    /// Share of control customers with the event.
    pub control_rate: Option<f64>,
    /// Share of treatment customers with the event.
    pub treatment_rate: Option<f64>,
    /// treatment_rate − control_rate.
    pub difference: Option<f64>,
    /// The tolerated increase from the spec.
    pub max_increase: f64,
    /// Pooled z statistic.
    pub z: Option<f64>,
    /// One-sided p-value of H₁: treatment rate > control rate.
    pub p_value: Option<f64>,
    /// difference > max_increase and p_value < α.
    pub breached: bool,
}

/// Everything [`analyze`] finds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The experiment's id.
    pub experiment_id: String,
    /// Family-wise α from the spec.
    pub alpha: f64,
    /// m, the number of treatment-vs-control comparisons.
    pub comparisons_count: usize,
    /// Per-arm summaries, in spec order.
    pub arms: Vec<ArmSummary>,
    /// The holdout's summary, when its data was given.
    pub holdout: Option<ArmSummary>,
    /// Each treatment against the control, in spec order.
    pub comparisons: Vec<Comparison>,
    /// The SRM check.
    pub srm: SrmCheck,
    /// Same as `srm.srm_detected`.
    pub srm_detected: bool,
    /// Guardrails, per treatment then per guardrail in spec order.
    pub guardrails: Vec<GuardrailResult>,
    /// Plain-language warnings for the console (SRM, small arms, guardrail breaches, bandit).
    pub warnings: Vec<String>,
    /// The sequential monitor after this look: store it and pass it to the next
    /// [`analyze_with`] call.
    pub sequential_state: SequentialMonitor,
}

fn check_data(prefix: &str, d: &ArmData, problems: &mut Vec<FieldProblem>) {
    let mut bad = |field: &str, reason: String| {
        problems.push(FieldProblem::new(format!("{prefix}.{field}"), reason));
    };
    if d.conversions > d.exposures {
        bad(
            "conversions",
            format!("{} exceeds exposures ({})", d.conversions, d.exposures),
        );
    }
    if !d.revenue_sum.is_finite() {
        bad(
            "revenue_sum",
            format!("must be finite, got {}", d.revenue_sum),
        );
    }
    if !(d.revenue_sum_sq.is_finite() && d.revenue_sum_sq >= 0.0) {
        bad(
            "revenue_sum_sq",
            format!("must be finite and >= 0, got {}", d.revenue_sum_sq),
        );
    } else if d.revenue_sum.is_finite() {
        // Cauchy–Schwarz: (Σx)² ≤ n·Σx²; with n = 0 both sums must be 0.
        let lhs = d.revenue_sum * d.revenue_sum;
        let rhs = d.exposures as f64 * d.revenue_sum_sq;
        if lhs > rhs * (1.0 + 1e-9) + 1e-9 {
            bad(
                "revenue_sum_sq",
                format!(
                    "inconsistent with revenue_sum and exposures: revenue_sum² ({lhs}) exceeds \
                     exposures × revenue_sum_sq ({rhs})"
                ),
            );
        }
    }
    for (metric, &count) in &d.guardrail_events {
        if GuardrailMetric::parse(metric).is_none() {
            bad(
                &format!("guardrail_events.{metric}"),
                "unknown metric; expected dismiss_rate, complaint_rate or unsubscribe_rate".into(),
            );
        } else if count > d.exposures {
            bad(
                &format!("guardrail_events.{metric}"),
                format!("{count} exceeds exposures ({})", d.exposures),
            );
        }
    }
}

fn validate_inputs(
    spec: &ExperimentSpec,
    arms: &[ArmData],
    holdout: Option<&ArmData>,
) -> Result<(), AnalysisError> {
    spec.validate()?;
    let mut problems = Vec::new();
    if arms.len() != spec.arms.len() {
        problems.push(FieldProblem::new(
            "arms",
            format!(
                "expected {} arms (as in the spec), got {}",
                spec.arms.len(),
                arms.len()
            ),
        ));
    }
    for (i, (d, s)) in arms.iter().zip(&spec.arms).enumerate() {
        if d.name != s.name {
            problems.push(FieldProblem::new(
                format!("arms[{i}].name"),
                format!("expected {:?} (spec order), got {:?}", s.name, d.name),
            ));
        }
    }
    for (i, d) in arms.iter().enumerate() {
        check_data(&format!("arms[{i}]"), d, &mut problems);
    }
    if let Some(h) = holdout {
        check_data("holdout", h, &mut problems);
        if spec.holdout == 0.0 && h.exposures > 0 {
            problems.push(FieldProblem::new(
                "holdout",
                "data given with exposures, but the spec has no holdout (holdout = 0)",
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AnalysisError::Invalid(problems))
    }
}

fn summarise(d: &ArmData, alpha: f64) -> ArmSummary {
    ArmSummary {
        name: d.name.clone(),
        exposures: d.exposures,
        conversions: d.conversions,
        conversion_rate: (d.exposures > 0).then(|| d.conversions as f64 / d.exposures as f64),
        conversion_ci: wilson_interval(d.conversions, d.exposures, alpha),
        revenue_per_exposure: mean_from_sums(d.exposures, d.revenue_sum, d.revenue_sum_sq, alpha),
    }
}

fn srm_check(spec: &ExperimentSpec, arms: &[ArmData], holdout: Option<&ArmData>) -> SrmCheck {
    let total_weight: f64 = spec.arms.iter().map(|a| a.weight).sum();
    let with_holdout = holdout.is_some() && spec.holdout > 0.0;
    let arm_scale = if with_holdout {
        1.0 - spec.holdout
    } else {
        1.0
    };
    let mut names: Vec<String> = arms.iter().map(|a| a.name.clone()).collect();
    let mut observed: Vec<u64> = arms.iter().map(|a| a.exposures).collect();
    let mut shares: Vec<f64> = spec
        .arms
        .iter()
        .map(|a| a.weight / total_weight * arm_scale)
        .collect();
    if let (true, Some(h)) = (with_holdout, holdout) {
        names.push("holdout".into());
        observed.push(h.exposures);
        shares.push(spec.holdout);
    }
    let total: u64 = observed.iter().sum();
    let groups = names
        .into_iter()
        .zip(&observed)
        .zip(&shares)
        .map(|((name, &o), &s)| SrmGroup {
            name,
            observed: o,
            expected_share: s,
            expected: total as f64 * s,
        })
        .collect();
    let result = chi_square_gof(&observed, &shares);
    // A bandit moves the split on purpose: the check against the spec's weights does not apply.
    let fixed = spec.allocation == Allocation::Fixed;
    let p = result.map(|r| r.2);
    SrmCheck {
        groups,
        chi_square: result.map(|r| r.0),
        df: result.map_or(observed.len().saturating_sub(1), |r| r.1),
        p_value: p,
        threshold: SRM_P_THRESHOLD,
        srm_detected: fixed && p.is_some_and(|p| p < SRM_P_THRESHOLD),
        srm_suspected: fixed && p.is_some_and(|p| p < SRM_SUSPECT_THRESHOLD),
    }
}

/// [`analyze_with`] without earlier sequential looks (a fresh [`SequentialMonitor`] with the
/// default τ = 0.05).
pub fn analyze(
    spec: &ExperimentSpec,
    arms: &[ArmData],
    holdout: Option<&ArmData>,
) -> Result<Analysis, AnalysisError> {
    analyze_with(spec, arms, holdout, None)
}

/// Analyses the experiment at its current totals (see the module docs for every method).
///
/// `arms` must follow `spec.arms` (same length, same names, `arms[0]` the control); `holdout` is
/// the data of the held-out customers when they are tracked. `prev` is the sequential state
/// returned by the previous look (its τ is kept); the updated state is in
/// [`Analysis::sequential_state`] and `prev` is not changed, so repeating a call is harmless.
pub fn analyze_with(
    spec: &ExperimentSpec,
    arms: &[ArmData],
    holdout: Option<&ArmData>,
    prev: Option<&SequentialMonitor>,
) -> Result<Analysis, AnalysisError> {
    validate_inputs(spec, arms, holdout)?;
    let alpha = spec.alpha;
    let m = arms.len() - 1;
    let alpha_each = alpha / m as f64;
    let control = &arms[0];
    let treatments = &arms[1..];

    let mut monitor = prev.cloned().unwrap_or_default();
    let always_valid = monitor.observe(arms);

    let tests: Vec<_> = treatments
        .iter()
        .map(|t| {
            two_proportion_z_test(
                control.conversions,
                control.exposures,
                t.conversions,
                t.exposures,
            )
        })
        .collect();
    let adjusted = holm_adjust(
        &tests
            .iter()
            .map(|t| t.map_or(1.0, |t| t.p_value))
            .collect::<Vec<_>>(),
    );
    let control_rate =
        (control.exposures > 0).then(|| control.conversions as f64 / control.exposures as f64);

    let comparisons: Vec<Comparison> = treatments
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let rate = (t.exposures > 0).then(|| t.conversions as f64 / t.exposures as f64);
            let difference = rate.zip(control_rate).map(|(r, c)| r - c);
            let revenue = mean_difference_interval(
                (
                    control.exposures,
                    control.revenue_sum,
                    control.revenue_sum_sq,
                ),
                (t.exposures, t.revenue_sum, t.revenue_sum_sq),
                alpha_each,
            );
            let revenue_difference = revenue.map(|r| r.0).or_else(|| {
                (t.exposures > 0 && control.exposures > 0).then(|| {
                    t.revenue_sum / t.exposures as f64
                        - control.revenue_sum / control.exposures as f64
                })
            });
            let look = msprt_statistic(control, t, &monitor.config);
            let p_adj = tests[i].map(|_| adjusted[i]);
            Comparison {
                treatment: t.name.clone(),
                control: control.name.clone(),
                difference,
                difference_ci: wald_difference_interval(
                    control.conversions,
                    control.exposures,
                    t.conversions,
                    t.exposures,
                    alpha_each,
                ),
                relative_lift: difference
                    .zip(control_rate)
                    .and_then(|(d, c)| (c > 0.0).then(|| d / c)),
                z: tests[i].map(|t| t.z),
                p_value: tests[i].map(|t| t.p_value),
                p_value_adjusted: p_adj,
                significant: p_adj.is_some_and(|p| p < alpha),
                revenue_difference,
                revenue_difference_ci: revenue.map(|r| r.1),
                sequential: SequentialResult {
                    tau: monitor.config.tau,
                    lambda: look.lambda,
                    p_value_this_look: look.p_value,
                    p_value_always_valid: always_valid[i],
                    threshold: alpha_each,
                    significant: always_valid[i] < alpha_each,
                },
            }
        })
        .collect();

    let srm = srm_check(spec, arms, holdout);

    let mut guardrails = Vec::new();
    for t in treatments {
        for g in &spec.guardrails {
            let (x0, n0) = (control.events(g.metric), control.exposures);
            let (x1, n1) = (t.events(g.metric), t.exposures);
            let c_rate = (n0 > 0).then(|| x0 as f64 / n0 as f64);
            let t_rate = (n1 > 0).then(|| x1 as f64 / n1 as f64);
            let difference = t_rate.zip(c_rate).map(|(a, b)| a - b);
            let test = one_sided_increase_test(x0, n0, x1, n1);
            let breached = difference.is_some_and(|d| d > g.max_increase)
                && test.is_some_and(|t| t.p_value < alpha);
            guardrails.push(GuardrailResult {
                treatment: t.name.clone(),
                metric: g.metric,
                control_rate: c_rate,
                treatment_rate: t_rate,
                difference,
                max_increase: g.max_increase,
                z: test.map(|t| t.z),
                p_value: test.map(|t| t.p_value),
                breached,
            });
        }
    }

    let mut warnings = Vec::new();
    if let Some(p) = srm.p_value {
        if srm.srm_detected {
            warnings.push(format!(
                "sample ratio mismatch: exposures differ from the planned split (chi-square p = \
                 {p:.2e} < {SRM_P_THRESHOLD}); assignment or logging is broken, do not trust \
                 the comparisons until it is explained"
            ));
        } else if srm.srm_suspected {
            warnings.push(format!(
                "possible sample ratio mismatch (chi-square p = {p:.4} < \
                 {SRM_SUSPECT_THRESHOLD}); check assignment and logging"
            ));
        }
    }
    for a in arms {
        if a.exposures < MIN_EXPOSURES_PER_ARM {
            warnings.push(format!(
                "arm {} has only {} exposures (< {MIN_EXPOSURES_PER_ARM}): intervals and \
                 tests are unreliable",
                a.name, a.exposures
            ));
        }
    }
    for g in guardrails.iter().filter(|g| g.breached) {
        warnings.push(format!(
            "guardrail breached: {} raises {} by {:.4} (more than the allowed {}), one-sided p = \
             {:.2e}",
            g.treatment,
            g.metric.as_str(),
            g.difference.unwrap_or(f64::NAN),
            g.max_increase,
            g.p_value.unwrap_or(f64::NAN),
        ));
    }
    if spec.allocation == Allocation::Bandit {
        warnings.push(
            "allocation is bandit: the tests assume fixed weights, so treat p-values and the \
             SRM check as descriptive only"
                .into(),
        );
    }

    Ok(Analysis {
        experiment_id: spec.id.clone(),
        alpha,
        comparisons_count: m,
        arms: arms.iter().map(|a| summarise(a, alpha)).collect(),
        holdout: holdout.map(|h| summarise(h, alpha)),
        comparisons,
        srm_detected: srm.srm_detected,
        srm,
        guardrails,
        warnings,
        sequential_state: monitor,
    })
}
