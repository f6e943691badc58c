//! Sequential monitoring with the mixture sequential probability ratio test (mSPRT) of
//! Johari, Pekelis & Walsh (2017, "Peeking at A/B tests"), so an experiment can be looked at
//! after every batch of data without inflating the false-positive rate.
//!
//! At a look, the estimated difference of conversion rates θ̂ = p̂₁ − p̂₀ is approximately
//! N(θ, V) with V = p̂₁(1−p̂₁)/n₁ + p̂₀(1−p̂₀)/n₀ (the variance estimate of the difference).
//! Mixing the alternative over θ ~ N(0, τ²) gives the likelihood ratio against H₀: θ = 0
//!
//! `Λ = √(V / (V + τ²)) · exp(τ²·θ̂² / (2V(V + τ²)))`.
//!
//! Under H₀, Λ is a nonnegative martingale with mean 1 over the looks, so by Ville's inequality
//! P(supₙ Λₙ ≥ 1/α) ≤ α: the **always-valid p-value** `pₙ = min(1, min_{k ≤ n} 1/Λₖ)` can be
//! checked at every look and the experiment stopped the first time pₙ < α. The running minimum
//! needs memory across looks: [`SequentialMonitor`] keeps it (serialisable, so the caller stores
//! it between looks) and [`crate::analysis::analyze_with`] reports it. With m treatment arms the
//! decision uses Bonferroni, pₙ < α/m.
//!
//! τ (default 0.05, on the difference-of-rates scale) is the size of effect the test is tuned
//! to find fastest; any τ > 0 keeps the error guarantee. When V = 0 (both arms at rate 0 or 1)
//! the look carries no evidence: Λ = 1 is used, so p does not move.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analysis::ArmData;

fn default_tau() -> f64 {
    0.05
}

/// Tuning of the mixture.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequentialConfig {
    /// Standard deviation τ of the normal mixing distribution over the difference of rates
    /// (default 0.05). Values that are not finite and > 0 are replaced by the default.
    #[serde(default = "default_tau")]
    pub tau: f64,
}

impl Default for SequentialConfig {
    fn default() -> Self {
        Self { tau: default_tau() }
    }
}

impl SequentialConfig {
    fn tau(&self) -> f64 {
        if self.tau.is_finite() && self.tau > 0.0 {
            self.tau
        } else {
            default_tau()
        }
    }
}

/// The mSPRT at one look for one treatment against the control.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Msprt {
    /// θ̂ = p̂₁ − p̂₀; `None` when an arm has no exposures.
    pub difference: Option<f64>,
    /// V, the estimated variance of θ̂; `None` when an arm has no exposures.
    pub variance: Option<f64>,
    /// The mixture likelihood ratio Λ (1 when there is no evidence to weigh).
    pub lambda: f64,
    /// min(1, 1/Λ): the p-value of this look alone (always-valid only as a running minimum).
    pub p_value: f64,
}

/// The mSPRT statistic of `treatment` against `control` at the current totals (see the module
/// docs for the formula). Inconsistent data (conversions > exposures) counts as no evidence.
pub fn msprt_statistic(control: &ArmData, treatment: &ArmData, config: &SequentialConfig) -> Msprt {
    let none = Msprt {
        difference: None,
        variance: None,
        lambda: 1.0,
        p_value: 1.0,
    };
    let (n0, n1) = (control.exposures, treatment.exposures);
    if n0 == 0 || n1 == 0 || control.conversions > n0 || treatment.conversions > n1 {
        return none;
    }
    let p0 = control.conversions as f64 / n0 as f64;
    let p1 = treatment.conversions as f64 / n1 as f64;
    let d = p1 - p0;
    let v = p0 * (1.0 - p0) / n0 as f64 + p1 * (1.0 - p1) / n1 as f64;
    let tau2 = config.tau().powi(2);
    let lambda = if v > 0.0 {
        let log_lambda = 0.5 * (v / (v + tau2)).ln() + tau2 * d * d / (2.0 * v * (v + tau2));
        // Capped so Λ stays finite (and serialisable); p is then ~1e-304 anyway.
        log_lambda.min(700.0).exp()
    } else {
        1.0
    };
    let p_value = if lambda > 1.0 { 1.0 / lambda } else { 1.0 };
    Msprt {
        difference: Some(d),
        variance: Some(v),
        lambda,
        p_value,
    }
}

/// Memory of the always-valid p-values across looks: the running minimum of min(1, 1/Λ) per
/// treatment arm (keyed by arm name; `arms[0]` must stay the control for the whole
/// experiment). Serialise it after each look and pass it back at the next one.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequentialMonitor {
    /// The mixture used at every look.
    #[serde(default)]
    pub config: SequentialConfig,
    /// How many looks have been observed.
    #[serde(default)]
    pub looks: u64,
    /// Treatment arm name → always-valid p-value so far (1 before any look).
    #[serde(default)]
    pub running_min_p: BTreeMap<String, f64>,
}

impl SequentialMonitor {
    /// A monitor before the first look.
    pub fn new(config: SequentialConfig) -> Self {
        Self {
            config,
            looks: 0,
            running_min_p: BTreeMap::new(),
        }
    }

    /// The always-valid p-value so far of treatment arm `name` (1 if never observed; a stored
    /// value outside [0, 1] is treated as 1).
    pub fn p_value(&self, name: &str) -> f64 {
        match self.running_min_p.get(name) {
            Some(&p) if (0.0..=1.0).contains(&p) => p,
            _ => 1.0,
        }
    }

    /// Takes one look at the current totals (`arms[0]` is the control), updates the running
    /// minima and returns the always-valid p-value of each treatment arm, in the order of
    /// `arms[1..]`. Fewer than two arms: nothing to compare, an empty vector.
    pub fn observe(&mut self, arms: &[ArmData]) -> Vec<f64> {
        let Some((control, treatments)) = arms.split_first() else {
            return Vec::new();
        };
        if treatments.is_empty() {
            return Vec::new();
        }
        self.looks += 1;
        treatments
            .iter()
            .map(|t| {
                let look = msprt_statistic(control, t, &self.config).p_value;
                let p = self.p_value(&t.name).min(look);
                self.running_min_p.insert(t.name.clone(), p);
                p
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(name: &str, n: u64, x: u64) -> ArmData {
        ArmData::new(name, n, x)
    }

    #[test]
    fn lambda_matches_the_closed_form() {
        // p0 = 0.1, p1 = 0.15, n = 1000 each: V = (0.09 + 0.1275)/1000 = 2.175e-4, τ² = 0.0025.
        let m = msprt_statistic(
            &arm("a", 1000, 100),
            &arm("b", 1000, 150),
            &SequentialConfig::default(),
        );
        let v: f64 = 2.175e-4;
        let t2: f64 = 0.0025;
        let want = (v / (v + t2)).sqrt() * (t2 * 0.0025 / (2.0 * v * (v + t2))).exp();
        assert!(
            (m.lambda - want).abs() / want < 1e-12,
            "{} vs {want}",
            m.lambda
        );
        assert!((m.p_value - 1.0 / want).abs() < 1e-12);
    }

    #[test]
    fn running_minimum_never_increases() {
        let mut mon = SequentialMonitor::default();
        let p1 = mon.observe(&[arm("a", 1000, 100), arm("b", 1000, 150)]);
        let p2 = mon.observe(&[arm("a", 2000, 200), arm("b", 2000, 200)]);
        assert!(p1[0] < 0.05, "{p1:?}");
        assert_eq!(p2[0], p1[0]);
        assert_eq!(mon.looks, 2);
        let json = serde_json::to_string(&mon).unwrap();
        let back: SequentialMonitor = serde_json::from_str(&json).unwrap();
        assert_eq!(back, mon);
    }

    #[test]
    fn no_data_is_no_evidence() {
        let m = msprt_statistic(
            &arm("a", 0, 0),
            &arm("b", 10, 1),
            &SequentialConfig::default(),
        );
        assert_eq!((m.lambda, m.p_value, m.difference), (1.0, 1.0, None));
        let m = msprt_statistic(
            &arm("a", 10, 0),
            &arm("b", 10, 0),
            &SequentialConfig::default(),
        );
        assert_eq!(m.p_value, 1.0);
        assert!(
            SequentialMonitor::default()
                .observe(&[arm("a", 1, 1)])
                .is_empty()
        );
    }
}
