//! # sextant-experiment — statistics for A/B/n experiments and causal uplift
//!
//! Pure functions (no I/O, no async, no clock; every random step takes a seed and uses
//! ChaCha8) that the API calls to run experiments on strategies, messages and channels, and to
//! estimate what a targeted, non-randomised campaign really changed. Every output is
//! serde-serialisable and free of `NaN` (unknown values are `None`), so it can be returned as
//! JSON and shown in the console as it is.
//!
//! ## Modules and methods
//!
//! | module | what | method | reference |
//! |---|---|---|---|
//! | [`spec`] | experiment definition, validated with every problem named | — | — |
//! | [`assign`](mod@assign) | sticky assignment, no state | first 8 bytes of SHA-256(salt ‖ `:` ‖ customer) as u ∈ [0, 1); holdout first, then cumulative weights | — |
//! | [`analysis`] | per-arm rates | Wilson score interval | Wilson 1927 |
//! | | treatment vs control | pooled two-proportion z test; unpooled Wald interval of the difference at 1 − α/m (Bonferroni) | — |
//! | | multiple arms | Holm step-down adjusted p-values | Holm 1979 |
//! | | revenue per exposure | normal interval of the mean; Welch interval of the difference | — |
//! | | sample ratio mismatch | chi-square goodness of fit, SRM when p < 0.001 | Fabijan et al. 2019 |
//! | | guardrails | one-sided pooled z test; breached when the increase exceeds the limit and p < α | — |
//! | [`sequential`] | peeking-safe monitoring | mixture SPRT with a normal mixture N(0, τ²), always-valid p-value = running min of 1/Λ | Johari, Pekelis & Walsh 2017 |
//! | [`uplift`] | effect of a non-randomised campaign | propensity score by ridge logistic regression (Newton/IRLS) | Rosenbaum & Rubin 1983 |
//! | | | Hajek IPW estimators of ATE and ATT; 1:1 nearest-neighbour matching on the logit propensity within a 0.2-sd caliper; percentile bootstrap intervals | Austin 2011 |
//! | | | balance by standardised mean differences, balanced when every \|SMD\| < 0.1; overlap by propensity range, share outside [0.05, 0.95] and effective sample size | Austin 2011 |
//! | [`dist`] | normal and chi-square distribution functions | `statrs` (no default features) | — |
//!
//! ## References
//! * E. B. Wilson (1927). Probable inference, the law of succession, and statistical inference.
//!   *JASA* 22(158).
//! * S. Holm (1979). A simple sequentially rejective multiple test procedure. *Scand. J. Stat.* 6(2).
//! * R. Johari, L. Pekelis, D. Walsh (2017). Peeking at A/B tests: why it matters, and what to do
//!   about it. *KDD 2017* (always-valid p-values, mSPRT).
//! * A. Fabijan, J. Gupchup, S. Gupta, J. Omhover, W. Qin, L. Vermeer, P. Dmitriev (2019).
//!   Diagnosing sample ratio mismatch in online controlled experiments. *KDD 2019*.
//! * P. R. Rosenbaum, D. B. Rubin (1983). The central role of the propensity score in
//!   observational studies for causal effects. *Biometrika* 70(1).
//! * P. C. Austin (2011). An introduction to propensity score methods for reducing the effects of
//!   confounding in observational studies. *Multivariate Behav. Res.* 46(3) (caliper 0.2 sd of the
//!   logit; |SMD| < 0.1).
//!
//! ## Typical use
//! ```
//! use sextant_experiment::{analysis::{ArmData, analyze}, assign::{assign, Assignment}, spec::ExperimentSpec};
//!
//! let spec: ExperimentSpec = serde_json::from_str(r#"{
//!     "id": "push-copy", "name": "Push wording", "kind": "message",
//!     "arms": [{"name": "control", "weight": 1}, {"name": "short", "weight": 1}]
//! }"#).unwrap();
//! spec.validate().unwrap();
//! assert!(matches!(assign(&spec, "cust-42"), Assignment::Arm { .. }));
//! let a = analyze(&spec, &[ArmData::new("control", 1000, 200), ArmData::new("short", 1000, 250)], None).unwrap();
//! assert!(a.comparisons[0].significant);
//! ```
//!
//! **Invariant:** pure and deterministic; nothing here reads a clock, a file or the network.

pub mod analysis;
pub mod assign;
pub mod dist;
mod error;
pub mod inference;
pub mod propensity;
pub mod sequential;
pub mod spec;
pub mod uplift;

pub use analysis::{Analysis, AnalysisError, ArmData, analyze, analyze_with};
pub use assign::{Assignment, assign};
pub use error::FieldProblem;
pub use sequential::{Msprt, SequentialConfig, SequentialMonitor, msprt_statistic};
pub use spec::{
    Allocation, Arm, ExperimentKind, ExperimentSpec, Guardrail, GuardrailMetric, SpecError,
};
pub use uplift::{UpliftData, UpliftError, UpliftMethod, UpliftOptions, UpliftReport, estimate};
