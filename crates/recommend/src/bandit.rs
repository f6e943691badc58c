//! LinUCB with disjoint arms (one arm per product) learning the RESIDUAL of a prior.
//!
//! Each arm keeps `A⁻¹` (d×d, `A = I + Σ xxᵀ`) and `b = Σ (r − prior)·x`, so with no data
//! `θ = A⁻¹b = 0` and the estimate equals the engine's prior propensity:
//!
//! - `estimate = clamp(prior + θᵀx, 0, 1)`, `width = sqrt(xᵀA⁻¹x)`,
//! - `bonus = min(alpha·width, max_exploration_share·max(estimate, 0.01))` — exploration may add at
//!   most a bounded share of the product's score,
//! - `ucb = estimate + bonus`.
//!
//! `A⁻¹` is updated in place with Sherman–Morrison, so no matrix is ever inverted.
//!
//! Rewards per signal: impression 0, click 0.3, accept 1.0, dismiss 0 (survey 0). The reward of
//! one decision is the reward of its LATEST signal, except that impressions and surveys never
//! change it (they carry no verdict on the offer): click then accept is 1.0, accept then dismiss
//! is 0, click then impression stays 0.3. The first signal of a decision is a new pull (updates
//! `A⁻¹`); later signals only move `b` by the change in the decision's reward.

use crate::rules::Rules;
use serde::{Deserialize, Serialize};
use sextant_core::{Customer, EngagementLevel, EventKind, RiskProfile};
use sextant_features::FeatureVector;
use std::collections::BTreeMap;

/// Dimension of the bandit context.
pub const D: usize = 8;

/// The bandit context `x` of one customer:
/// `[1, age/100, ln(1+income_annual)/12, savings_rate, credit_utilization, engagement/2,
/// risk_profile/2, has_credit_card]`, every value finite (NaN or missing → 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Context(pub [f64; D]);

impl Context {
    /// Build from features when available; age, income, engagement and risk profile fall back to
    /// the customer profile when a feature is missing (they are profile fields anyway).
    pub fn from_features(f: Option<&FeatureVector>, c: &Customer) -> Context {
        let get = |name: &str| f.and_then(|f| f.get(name)).filter(|v| v.is_finite());
        let age = get("age").unwrap_or(f64::from(c.age));
        let income = get("income_annual")
            .unwrap_or_else(|| major(c.income))
            .max(0.0);
        let engagement = get("engagement_score").unwrap_or(match c.engagement_level {
            EngagementLevel::Low => 0.0,
            EngagementLevel::Medium => 1.0,
            EngagementLevel::High => 2.0,
        });
        let risk = get("risk_profile_score").unwrap_or(match c.risk_profile {
            RiskProfile::Low => 0.0,
            RiskProfile::Medium => 1.0,
            RiskProfile::High => 2.0,
        });
        let x = [
            1.0,
            age / 100.0,
            income.ln_1p() / 12.0,
            get("savings_rate").unwrap_or(0.0),
            get("credit_utilization").unwrap_or(0.0),
            engagement / 2.0,
            risk / 2.0,
            get("has_credit_card").unwrap_or(0.0),
        ];
        Context(x.map(|v| if v.is_finite() { v } else { 0.0 }))
    }

    /// The context as a slice (what a recommendation stores for feedback).
    pub fn as_slice(&self) -> &[f64] {
        &self.0
    }
}

/// An amount in major units.
pub(crate) fn major(m: sextant_core::Money) -> f64 {
    m.minor as f64 / 10f64.powi(i32::from(m.currency.exponent()))
}

/// Exploration settings (`[bandit]` in the rules file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BanditConfig {
    /// UCB width multiplier, 0..=2.
    pub alpha: f64,
    /// The bonus adds at most this share of the estimate, 0..=0.5.
    pub max_exploration_share: f64,
}

impl Default for BanditConfig {
    /// The demo rules' settings: `alpha = 0.5`, `max_exploration_share = 0.2`.
    fn default() -> Self {
        BanditConfig {
            alpha: 0.5,
            max_exploration_share: 0.2,
        }
    }
}

impl From<&Rules> for BanditConfig {
    fn from(r: &Rules) -> Self {
        r.bandit_config()
    }
}

/// One arm's learned state (persisted as JSON; f64 round-trips exactly).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmState {
    /// `A⁻¹`, d×d row-major.
    pub a_inv: Vec<f64>,
    /// `Σ (r − prior)·x`.
    pub b: Vec<f64>,
    /// Decisions with at least one signal.
    pub pulls: u64,
    /// Sum of the decisions' current rewards.
    pub reward_sum: f64,
    pub accepts: u64,
    pub clicks: u64,
    pub dismisses: u64,
}

impl Default for ArmState {
    fn default() -> Self {
        let mut a_inv = vec![0.0; D * D];
        for i in 0..D {
            a_inv[i * D + i] = 1.0;
        }
        ArmState {
            a_inv,
            b: vec![0.0; D],
            pulls: 0,
            reward_sum: 0.0,
            accepts: 0,
            clicks: 0,
            dismisses: 0,
        }
    }
}

impl ArmState {
    /// `A⁻¹ v`.
    fn a_inv_times(&self, v: &[f64; D]) -> [f64; D] {
        let mut out = [0.0; D];
        for (i, o) in out.iter_mut().enumerate() {
            *o = (0..D).map(|j| self.a_inv[i * D + j] * v[j]).sum();
        }
        out
    }

    /// `θ = A⁻¹ b`.
    pub fn theta(&self) -> [f64; D] {
        self.a_inv_times(&fixed(&self.b))
    }

    /// Sherman–Morrison: `(A + xxᵀ)⁻¹ = A⁻¹ − (A⁻¹x)(A⁻¹x)ᵀ / (1 + xᵀA⁻¹x)` (A⁻¹ symmetric).
    fn add_outer(&mut self, x: &[f64; D]) {
        let u = self.a_inv_times(x);
        let denom = 1.0 + dot(x, &u);
        for i in 0..D {
            for j in 0..D {
                self.a_inv[i * D + j] -= u[i] * u[j] / denom;
            }
        }
    }

    /// The inverse of [`ArmState::add_outer`]: `(A − xxᵀ)⁻¹ = A⁻¹ + (A⁻¹x)(A⁻¹x)ᵀ / (1 − xᵀA⁻¹x)`.
    /// Only called for an `x` that was added before, so `A − xxᵀ ⪰ I` and the denominator is
    /// positive (`xᵀA⁻¹x < 1`); a non-positive one (state that never held `x`) is refused.
    fn remove_outer(&mut self, x: &[f64; D]) -> bool {
        let u = self.a_inv_times(x);
        let denom = 1.0 - dot(x, &u);
        if denom.is_nan() || denom <= 1e-12 {
            return false;
        }
        for i in 0..D {
            for j in 0..D {
                self.a_inv[i * D + j] += u[i] * u[j] / denom;
            }
        }
        true
    }
}

/// A slice as a D-vector: missing entries 0, extra ignored, non-finite → 0.
fn fixed(x: &[f64]) -> [f64; D] {
    let mut out = [0.0; D];
    for (o, v) in out.iter_mut().zip(x) {
        *o = if v.is_finite() { *v } else { 0.0 };
    }
    out
}

fn dot(a: &[f64; D], b: &[f64; D]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// What the bandit says about one arm for one context.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BanditScore {
    /// `clamp(prior + θᵀx, 0, 1)`.
    pub estimate: f64,
    /// `sqrt(xᵀA⁻¹x)`.
    pub width: f64,
    /// Bounded exploration bonus.
    pub bonus: f64,
    /// `estimate + bonus`.
    pub ucb: f64,
}

/// Per-arm statistics for monitoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmStats {
    pub arm: String,
    pub pulls: u64,
    pub accepts: u64,
    pub clicks: u64,
    pub dismisses: u64,
    /// `reward_sum / pulls` (0 without pulls).
    pub mean_reward: f64,
    /// `‖θ‖₂`: how far the arm has moved from its prior.
    pub theta_norm: f64,
}

/// The bandit: settings plus one arm per product id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bandit {
    pub config: BanditConfig,
    pub arms: BTreeMap<String, ArmState>,
}

/// The reward of one signal: impression 0, click 0.3, accept 1.0, dismiss 0, survey 0.
pub fn reward(kind: EventKind) -> f64 {
    match kind {
        EventKind::Click => 0.3,
        EventKind::Accept => 1.0,
        EventKind::Impression | EventKind::Dismiss | EventKind::Survey => 0.0,
    }
}

/// The reward of a decision given its signals in order (see the module docs).
pub fn decision_reward(signals: &[EventKind]) -> f64 {
    signals
        .iter()
        .rev()
        .find(|k| !matches!(k, EventKind::Impression | EventKind::Survey))
        .map_or(0.0, |k| reward(*k))
}

impl Bandit {
    /// A bandit with no data: every estimate equals its prior.
    pub fn new(config: BanditConfig) -> Self {
        Bandit {
            config,
            arms: BTreeMap::new(),
        }
    }

    /// Score `arm` for context `x` and the engine's `prior` propensity.
    pub fn score(&self, arm: &str, x: &[f64], prior: f64) -> BanditScore {
        let fresh;
        let state = match self.arms.get(arm) {
            Some(s) => s,
            None => {
                fresh = ArmState::default();
                &fresh
            }
        };
        let x = fixed(x);
        let estimate = (prior + dot(&state.theta(), &x)).clamp(0.0, 1.0);
        let width = dot(&x, &state.a_inv_times(&x)).max(0.0).sqrt();
        let bonus = (self.config.alpha * width)
            .min(self.config.max_exploration_share * estimate.max(0.01))
            .max(0.0);
        BanditScore {
            estimate,
            width,
            bonus,
            ucb: estimate + bonus,
        }
    }

    /// Learn from one decision. With `new_pull`, `reward_delta` is the decision's full reward
    /// `r`: `A ← A + xxᵀ`, `b += (r − prior)·x`, pulls + 1. Without, the decision's reward
    /// changed by `reward_delta`: `b += reward_delta·x`.
    pub fn update(&mut self, arm: &str, x: &[f64], prior: f64, reward_delta: f64, new_pull: bool) {
        let x = fixed(x);
        let state = self.arms.entry(arm.to_string()).or_default();
        let step = if new_pull {
            state.add_outer(&x);
            state.pulls += 1;
            reward_delta - prior
        } else {
            reward_delta
        };
        for (b, xi) in state.b.iter_mut().zip(&x) {
            *b += step * xi;
        }
        state.reward_sum += reward_delta;
    }

    /// Undo [`Bandit::update`] with the same arguments (exact up to rounding): `A ← A − xxᵀ`,
    /// `b −= (r − prior)·x`, pulls − 1 for a pull; `b −= reward_delta·x` otherwise. Used to
    /// unlearn an erased customer's contribution. False (nothing changed) when the arm does not
    /// exist or cannot have held this pull.
    pub fn unupdate(
        &mut self,
        arm: &str,
        x: &[f64],
        prior: f64,
        reward_delta: f64,
        new_pull: bool,
    ) -> bool {
        let x = fixed(x);
        let Some(state) = self.arms.get_mut(arm) else {
            return false;
        };
        let step = if new_pull {
            if state.pulls == 0 || !state.remove_outer(&x) {
                return false;
            }
            state.pulls -= 1;
            reward_delta - prior
        } else {
            reward_delta
        };
        for (b, xi) in state.b.iter_mut().zip(&x) {
            *b -= step * xi;
        }
        state.reward_sum -= reward_delta;
        true
    }

    /// Unlearn one decision entirely: the net effect of [`Bandit::apply_feedback`] over all of
    /// its signals (oldest first) is one pull with the decision's final reward plus the signal
    /// counters, so this removes exactly that. A decision without signals taught nothing.
    pub fn forget_decision(
        &mut self,
        arm: &str,
        x: &[f64],
        prior: f64,
        signals: &[EventKind],
    ) -> bool {
        if signals.is_empty() {
            return true;
        }
        if !self.unupdate(arm, x, prior, decision_reward(signals), true) {
            return false;
        }
        let state = self.arms.get_mut(arm).expect("unupdate found the arm");
        for k in signals {
            let n = match k {
                EventKind::Accept => &mut state.accepts,
                EventKind::Click => &mut state.clicks,
                EventKind::Dismiss => &mut state.dismisses,
                EventKind::Impression | EventKind::Survey => continue,
            };
            *n = n.saturating_sub(1);
        }
        true
    }

    /// Apply a new signal `new` of a decision whose earlier signals (oldest first) are
    /// `previous`: the first signal is a new pull with the decision's reward; a later one moves
    /// `b` by the change of the decision's reward. Accept/click/dismiss counters always count.
    pub fn apply_feedback(
        &mut self,
        arm: &str,
        x: &[f64],
        prior: f64,
        previous: &[EventKind],
        new: EventKind,
    ) {
        let mut all = previous.to_vec();
        all.push(new);
        let after = decision_reward(&all);
        if previous.is_empty() {
            self.update(arm, x, prior, after, true);
        } else {
            let delta = after - decision_reward(previous);
            if delta != 0.0 {
                self.update(arm, x, prior, delta, false);
            }
        }
        let state = self.arms.entry(arm.to_string()).or_default();
        match new {
            EventKind::Accept => state.accepts += 1,
            EventKind::Click => state.clicks += 1,
            EventKind::Dismiss => state.dismisses += 1,
            EventKind::Impression | EventKind::Survey => {}
        }
    }

    /// Statistics of every arm, by arm name.
    pub fn stats(&self) -> Vec<ArmStats> {
        self.arms
            .iter()
            .map(|(arm, s)| ArmStats {
                arm: arm.clone(),
                pulls: s.pulls,
                accepts: s.accepts,
                clicks: s.clicks,
                dismisses: s.dismisses,
                mean_reward: if s.pulls == 0 {
                    0.0
                } else {
                    s.reward_sum / s.pulls as f64
                },
                theta_norm: dot(&s.theta(), &s.theta()).sqrt(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BanditConfig {
        BanditConfig {
            alpha: 0.5,
            max_exploration_share: 0.2,
        }
    }

    /// Gauss–Jordan inverse, for checking.
    fn inverse(a: &[f64]) -> Vec<f64> {
        let mut m = a.to_vec();
        let mut inv = ArmState::default().a_inv;
        for c in 0..D {
            let p = (c..D)
                .max_by(|&i, &j| m[i * D + c].abs().total_cmp(&m[j * D + c].abs()))
                .unwrap();
            for k in 0..D {
                m.swap(c * D + k, p * D + k);
                inv.swap(c * D + k, p * D + k);
            }
            let d = m[c * D + c];
            for k in 0..D {
                m[c * D + k] /= d;
                inv[c * D + k] /= d;
            }
            for r in (0..D).filter(|&r| r != c) {
                let f = m[r * D + c];
                for k in 0..D {
                    m[r * D + k] -= f * m[c * D + k];
                    inv[r * D + k] -= f * inv[c * D + k];
                }
            }
        }
        inv
    }

    fn ctx(i: u64) -> [f64; D] {
        let f = |k: u64| ((i * 31 + k * 17) % 13) as f64 / 13.0;
        [
            1.0,
            f(1),
            f(2),
            f(3) - 0.5,
            f(4),
            f(5),
            f(6),
            (i % 2) as f64,
        ]
    }

    #[test]
    fn sherman_morrison_matches_a_direct_inverse() {
        let mut b = Bandit::new(config());
        let mut a = ArmState::default().a_inv; // A = I
        for i in 0..25 {
            let x = ctx(i);
            b.update("p", &x, 0.1, 1.0, true);
            for r in 0..D {
                for c in 0..D {
                    a[r * D + c] += x[r] * x[c];
                }
            }
        }
        let direct = inverse(&a);
        for (s, d) in b.arms["p"].a_inv.iter().zip(&direct) {
            assert!((s - d).abs() < 1e-9, "{s} vs {d}");
        }
    }

    /// One decision's feedback: (customer, arm, context, prior, signals).
    type Taught = (u64, &'static str, [f64; D], f64, Vec<EventKind>);

    /// Feedback of several customers' decisions.
    fn history() -> Vec<Taught> {
        use EventKind::*;
        let kinds = [
            vec![Impression, Click, Accept],
            vec![Dismiss],
            vec![Click],
            vec![Accept, Dismiss],
            vec![Impression],
            vec![Click, Impression],
        ];
        (0..60)
            .map(|i| {
                let arm = if i % 3 == 0 { "card" } else { "savings" };
                (
                    i % 7,
                    arm,
                    ctx(i),
                    0.05 + (i % 5) as f64 * 0.03,
                    kinds[(i % 6) as usize].clone(),
                )
            })
            .collect()
    }

    fn learn_all(h: &[Taught], skip: Option<u64>) -> Bandit {
        let mut b = Bandit::new(config());
        for (who, arm, x, prior, signals) in h {
            if Some(*who) == skip {
                continue;
            }
            for (n, k) in signals.iter().enumerate() {
                b.apply_feedback(arm, x, *prior, &signals[..n], *k);
            }
        }
        b
    }

    #[test]
    fn forgetting_a_customer_equals_never_having_learned_from_them() {
        let h = history();
        let mut forgot = learn_all(&h, None);
        for (who, arm, x, prior, signals) in &h {
            if *who == 3 {
                assert!(forgot.forget_decision(arm, x, *prior, signals));
            }
        }
        let never = learn_all(&h, Some(3));
        assert_eq!(
            forgot.arms.keys().collect::<Vec<_>>(),
            never.arms.keys().collect::<Vec<_>>()
        );
        for (arm, f) in &forgot.arms {
            let n = &never.arms[arm];
            assert_eq!(
                (f.pulls, f.accepts, f.clicks, f.dismisses),
                (n.pulls, n.accepts, n.clicks, n.dismisses),
                "{arm}"
            );
            for (a, b) in f.a_inv.iter().zip(&n.a_inv).chain(f.b.iter().zip(&n.b)) {
                assert!((a - b).abs() < 1e-9, "{arm}: {a} vs {b}");
            }
            assert!((f.reward_sum - n.reward_sum).abs() < 1e-9);
            let x = ctx(99);
            assert!((forgot.score(arm, &x, 0.1).ucb - never.score(arm, &x, 0.1).ucb).abs() < 1e-9);
        }
        // The customer's decisions had moved the arms: forgetting is not a no-op.
        let all = learn_all(&h, None);
        assert_ne!(all.arms["card"].pulls, forgot.arms["card"].pulls);
    }

    #[test]
    fn a_pull_the_arm_never_held_is_refused() {
        let mut b = Bandit::new(config());
        assert!(!b.unupdate("card", &ctx(1), 0.1, 1.0, true), "no such arm");
        b.update("card", &ctx(1), 0.1, 1.0, true);
        assert!(b.unupdate("card", &ctx(1), 0.1, 1.0, true));
        assert!(
            !b.unupdate("card", &ctx(1), 0.1, 1.0, true),
            "no pulls left"
        );
        let back = &b.arms["card"];
        let fresh = ArmState::default();
        assert_eq!(back.pulls, 0);
        for (a, f) in back
            .a_inv
            .iter()
            .zip(&fresh.a_inv)
            .chain(back.b.iter().zip(&fresh.b))
        {
            assert!((a - f).abs() < 1e-12, "{a} vs {f}");
        }
    }

    #[test]
    fn no_data_means_the_prior() {
        let b = Bandit::new(config());
        let s = b.score("p", &ctx(3), 0.12);
        assert_eq!(s.estimate, 0.12);
        assert!(s.bonus <= 0.2 * 0.12 + 1e-12);
    }

    #[test]
    fn accepts_raise_and_dismisses_lower_the_estimate_for_similar_contexts() {
        let x = ctx(1);
        let mut near = x;
        near[1] += 0.01;
        let mut up = Bandit::new(config());
        let mut down = Bandit::new(config());
        for _ in 0..10 {
            up.apply_feedback("p", &x, 0.1, &[], EventKind::Accept);
            down.apply_feedback("p", &x, 0.1, &[], EventKind::Dismiss);
        }
        assert!(up.score("p", &near, 0.1).estimate > 0.5);
        assert!(down.score("p", &near, 0.1).estimate < 0.05);
        assert_eq!(up.stats()[0].accepts, 10);
        assert_eq!(down.stats()[0].dismisses, 10);
    }

    #[test]
    fn bonus_never_exceeds_the_share_bound() {
        let b = Bandit::new(BanditConfig {
            alpha: 2.0,
            max_exploration_share: 0.3,
        });
        for i in 0..50 {
            let prior = (i as f64) / 50.0;
            let s = b.score("p", &ctx(i), prior);
            assert!(s.bonus <= 0.3 * s.estimate.max(0.01) + 1e-12);
            assert!((s.ucb - s.estimate - s.bonus).abs() < 1e-12);
        }
    }

    #[test]
    fn a_decisions_reward_is_its_latest_verdict() {
        use EventKind::*;
        assert_eq!(decision_reward(&[Impression, Click]), 0.3);
        assert_eq!(decision_reward(&[Click, Impression]), 0.3);
        assert_eq!(decision_reward(&[Click, Accept]), 1.0);
        assert_eq!(decision_reward(&[Accept, Dismiss]), 0.0);
        let mut b = Bandit::new(config());
        let x = ctx(2);
        b.apply_feedback("p", &x, 0.1, &[], Impression);
        b.apply_feedback("p", &x, 0.1, &[Impression], Click);
        b.apply_feedback("p", &x, 0.1, &[Impression, Click], Accept);
        let s = &b.stats()[0];
        assert_eq!((s.pulls, s.clicks, s.accepts), (1, 1, 1));
        assert!((s.mean_reward - 1.0).abs() < 1e-12);
        // Same as a single accept.
        let mut once = Bandit::new(config());
        once.apply_feedback("p", &x, 0.1, &[], Accept);
        for (a, o) in b.arms["p"].b.iter().zip(&once.arms["p"].b) {
            assert!((a - o).abs() < 1e-12);
        }
    }

    #[test]
    fn arm_state_round_trips_exactly() {
        let mut b = Bandit::new(config());
        for i in 0..7 {
            b.apply_feedback("p", &ctx(i), 0.137, &[], EventKind::Click);
        }
        let json = serde_json::to_string(&b.arms["p"]).unwrap();
        let back: ArmState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, b.arms["p"]);
    }
}
