//! Savings-goal planning: a target (given, or estimated from the customer's income and spending),
//! an allocation to the bank's savings and investment products by horizon and risk profile, the
//! monthly contribution that reaches the target at the plan's expected return, a Monte Carlo
//! simulation of the outcome, milestones, progress tracking and an SVG roadmap
//! ([`roadmap_svg`]).
//!
//! ## Model
//! - Asset classes: cash (no volatility), bonds and equities, with the annual figures in
//!   [`Assumptions`]. `*_return` are *compound* (median) annual growth rates; the arithmetic mean
//!   of a class is `return + vol² / 2`. A product is a fixed mix of classes (savings and term
//!   deposits: cash; Portfolio Defensive 80% bonds / 20% equities; Balanced 50/50; Growth 10/90,
//!   as described in the catalog).
//! - The portfolio's arithmetic mean is the weighted mean of the classes', its volatility uses the
//!   bond/equity correlation, and its compound rate (`GoalPlan::expected_return`) is
//!   `mean − vol² / 2`.
//! - Contribution: the end-of-month annuity that grows the current savings plus the
//!   contributions to the target at the monthly compound rate `(1 + g)^(1/12) − 1`
//!   (`(target − savings) / months` when the rate is 0), **rounded up to whole euros** (so the
//!   plan never falls short by rounding), and 0 when the savings already suffice.
//! - Monte Carlo: `paths` paths of monthly log-normal returns with median equal to the compound
//!   rate (log mean `ln(1 + g) / 12`, log sd `vol / √12`), drawn from `ChaCha8Rng` seeded with
//!   `seed`: the same inputs give the same plan; `paths` is clamped to 1..=100,000.
//!   `probability` is the share of paths ending at or above the target; percentiles are
//!   nearest-rank. The chart path has one point per month up to 120 months, then one point
//!   every `ceil(months / 120)` months plus the last month.
//! - Money is `i64` minor units throughout; simulated balances are rounded to the nearest cent.
//!
//! ## Targets when the customer gives none (stated in `target_basis`)
//! House: a 15% deposit on 4.5 × yearly income; car: 35% of yearly income; emergency fund:
//! 6 × monthly essential spending; wedding €20,000; education €15,000; travel €4,000; baby
//! €8,000; retirement 10 × yearly income. Estimates are in today's prices grown by `inflation`
//! to the target date and rounded to the nearest €100 (the emergency fund is not grown: it is
//! held from now on). Other goals need an amount ([`PlanOutcome::NeedsTarget`]).
//!
//! ## Horizons
//! Without a horizon the outcome is [`PlanOutcome::NeedsHorizon`], except retirement when the
//! age is known (horizon = months to age 67). Horizons are capped at 50 years.
//!
//! ## Allocation (product ids as in `crates/synth/src/catalog.rs`)
//! Emergency fund: Easy Access Savings (instant access). Otherwise, horizon under 3 years or a
//! Low risk profile: Goal Saver, with 40% in the 12-month Term Deposit when the horizon is at
//! least 12 months and the target at least €5,000 (its minimum). 3–5 years: Medium → Goal Saver
//! 50% + Portfolio Defensive 50%; High → Goal Saver 30% + Defensive 40% + Balanced 30%. 5 years
//! or more: Medium → Defensive 40% + Balanced 60%; High → Balanced 40% + Growth 60%. No product
//! is ever above the customer's risk profile.

mod roadmap;

pub use roadmap::roadmap_svg;

use crate::entities::GoalKind;
use crate::language::Facts;
use chrono::{Datelike, Months, NaiveDate};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};
use sextant_core::RiskProfile;

/// What the customer asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoalRequest {
    pub kind: GoalKind,
    pub target_minor: Option<i64>,
    pub horizon_months: Option<u32>,
}

/// The customer's finances as the planner needs them (monthly figures, minor units).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoalProfile {
    pub monthly_income_minor: i64,
    pub monthly_essential_spend_minor: i64,
    pub monthly_free_cash_minor: i64,
    pub current_savings_minor: i64,
    pub risk: RiskProfile,
    pub age: Option<u32>,
}

/// Market and simulation assumptions. All rates are annual fractions (0.02 = 2%).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assumptions {
    /// Monte Carlo paths (default 10,000).
    pub paths: u32,
    pub seed: u64,
    /// Savings accounts and term deposits: 2.0% (below the catalog's 2.25% Goal Saver rate).
    pub cash_return: f64,
    /// Bonds: 3.0% compound, 5% volatility.
    pub bond_return: f64,
    pub bond_vol: f64,
    /// Equities: 5.0% compound, 16% volatility (a conservative long-run figure).
    pub equity_return: f64,
    pub equity_vol: f64,
    /// Consumer prices: 2.0% a year (the ECB target).
    pub inflation: f64,
    /// Correlation of bond and equity returns: 0.2.
    pub bond_equity_correlation: f64,
}

impl Default for Assumptions {
    fn default() -> Self {
        Assumptions {
            paths: 10_000,
            seed: 0x5e_c7a7,
            cash_return: 0.02,
            bond_return: 0.03,
            bond_vol: 0.05,
            equity_return: 0.05,
            equity_vol: 0.16,
            inflation: 0.02,
            bond_equity_correlation: 0.2,
        }
    }
}

/// The planner's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // built once per request and moved, never stored in bulk
pub enum PlanOutcome {
    Plan(GoalPlan),
    /// Ask the customer when they want to reach the goal.
    NeedsHorizon {
        kind: GoalKind,
        target_minor: Option<i64>,
    },
    /// Ask the customer how much they need (goals the planner cannot estimate).
    NeedsTarget {
        kind: GoalKind,
        horizon_months: Option<u32>,
    },
}

/// A complete plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalPlan {
    pub kind: GoalKind,
    pub target_minor: i64,
    pub target_estimated: bool,
    /// How an estimated target was derived, in words.
    pub target_basis: Option<String>,
    pub horizon_months: u32,
    pub start: NaiveDate,
    pub target_date: NaiveDate,
    /// Savings the plan starts from.
    pub start_minor: i64,
    pub monthly_contribution_minor: i64,
    /// The contribution fits in the monthly free cash.
    pub affordable: bool,
    /// Contribution ÷ free cash (capped at 100; 100 also when there is no free cash).
    pub share_of_free_cash: f64,
    pub allocation: Vec<Allocation>,
    /// Annual compound (median) growth rate of the allocation.
    pub expected_return: f64,
    /// Annual volatility of the allocation.
    pub volatility: f64,
    /// Monte Carlo probability that the final balance reaches the target.
    pub probability: f64,
    pub p10_minor: i64,
    pub p50_minor: i64,
    pub p90_minor: i64,
    pub milestones: Vec<Milestone>,
    /// Monthly (or sampled, see the module docs) percentiles for the chart, from month 0.
    pub path: Vec<PathPoint>,
    pub assumptions: Assumptions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Allocation {
    pub product_id: String,
    pub product_name: String,
    pub share: f64,
}

/// A point on the expected path: 25%, 50%, 75% and 100% of the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Milestone {
    pub month: u32,
    pub date: NaiveDate,
    pub amount_minor: i64,
    pub label: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathPoint {
    pub month: u32,
    pub p10_minor: i64,
    pub p50_minor: i64,
    pub p90_minor: i64,
}

/// Where a customer stands against their plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalProgress {
    pub saved_minor: i64,
    /// What the plan's expected path has by now.
    pub expected_by_now_minor: i64,
    pub months_elapsed: u32,
    /// Saved at least the expected amount.
    pub on_track: bool,
    /// Saved as a percentage of the target.
    pub percent: f64,
}

const MAX_HORIZON_MONTHS: u32 = 600;
const RETIREMENT_AGE: u32 = 67;
const TERM_DEPOSIT_MIN_MINOR: i64 = 500_000;
const MAX_CHART_POINTS: u32 = 120;
/// Upper bound on simulated paths (memory: paths × chart points × 4 bytes).
const MAX_PATHS: u32 = 100_000;

/// Products the planner allocates to: id, name, (cash, bonds, equities) shares.
const PLAN_PRODUCTS: &[(&str, &str, [f64; 3])] = &[
    ("P-SAV-EASY", "Easy Access Savings", [1.0, 0.0, 0.0]),
    ("P-SAV-GOAL", "Goal Saver", [1.0, 0.0, 0.0]),
    ("P-TD-12", "Term Deposit 12 months", [1.0, 0.0, 0.0]),
    ("P-INV-LOW", "Portfolio Defensive", [0.0, 0.8, 0.2]),
    ("P-INV-MED", "Portfolio Balanced", [0.0, 0.5, 0.5]),
    ("P-INV-HIGH", "Portfolio Growth", [0.0, 0.1, 0.9]),
];

fn product(id: &str) -> (&'static str, [f64; 3]) {
    PLAN_PRODUCTS
        .iter()
        .find(|(pid, _, _)| *pid == id)
        .map_or(("", [1.0, 0.0, 0.0]), |(_, name, mix)| (*name, *mix))
}

/// Build a plan, or say what is missing.
pub fn plan(
    req: &GoalRequest,
    profile: &GoalProfile,
    today: NaiveDate,
    a: &Assumptions,
) -> PlanOutcome {
    let horizon = match req.horizon_months.filter(|&h| h > 0) {
        Some(h) => h.min(MAX_HORIZON_MONTHS),
        None => match (req.kind, profile.age) {
            (GoalKind::Retirement, Some(age)) if age < RETIREMENT_AGE => {
                (RETIREMENT_AGE - age) * 12
            }
            _ => {
                return PlanOutcome::NeedsHorizon {
                    kind: req.kind,
                    target_minor: req.target_minor.filter(|&t| t > 0),
                };
            }
        },
    };
    let (target, estimated, basis) = match req.target_minor.filter(|&t| t > 0) {
        Some(t) => (t, false, None),
        None => match estimate_target(req.kind, profile, horizon, a) {
            Some((t, basis)) => (t, true, Some(basis)),
            None => {
                return PlanOutcome::NeedsTarget {
                    kind: req.kind,
                    horizon_months: Some(horizon),
                };
            }
        },
    };
    PlanOutcome::Plan(build(
        req.kind, target, estimated, basis, horizon, profile, today, a,
    ))
}

#[allow(clippy::too_many_arguments)] // internal: the validated pieces of a request
fn build(
    kind: GoalKind,
    target: i64,
    estimated: bool,
    basis: Option<String>,
    horizon: u32,
    profile: &GoalProfile,
    today: NaiveDate,
    a: &Assumptions,
) -> GoalPlan {
    let start_minor = profile.current_savings_minor.max(0);
    let shares = allocation(kind, horizon, profile.risk, target);
    let allocation: Vec<Allocation> = shares
        .iter()
        .map(|&(id, share)| Allocation {
            product_id: id.to_string(),
            product_name: product(id).0.to_string(),
            share,
        })
        .collect();
    let (expected_return, volatility) = portfolio(&shares, a);
    let monthly_rate = monthly_rate(expected_return);
    let contribution = contribution(target, start_minor, horizon, monthly_rate);
    let free = profile.monthly_free_cash_minor;
    let share_of_free_cash = if free > 0 {
        (contribution as f64 / free as f64).min(100.0)
    } else if contribution == 0 {
        0.0
    } else {
        100.0
    };
    let sim = simulate(
        start_minor,
        contribution,
        horizon,
        expected_return,
        volatility,
        target,
        a,
    );
    let target_date = add_months(today, horizon);
    let milestones = [
        (0.25, "Quarter of the way"),
        (0.5, "Halfway"),
        (0.75, "Three quarters"),
        (1.0, "Goal reached"),
    ]
    .iter()
    .map(|&(f, label)| {
        let amount = (target as f64 * f).round();
        let month = (0..=horizon)
            .find(|&k| expected_balance(start_minor, contribution, monthly_rate, k) + 0.5 >= amount)
            .unwrap_or(horizon);
        Milestone {
            month,
            date: add_months(today, month),
            amount_minor: amount as i64,
            label: label.to_string(),
        }
    })
    .collect();
    GoalPlan {
        kind,
        target_minor: target,
        target_estimated: estimated,
        target_basis: basis,
        horizon_months: horizon,
        start: today,
        target_date,
        start_minor,
        monthly_contribution_minor: contribution,
        affordable: contribution <= free.max(0),
        share_of_free_cash,
        allocation,
        expected_return,
        volatility,
        probability: sim.probability,
        p10_minor: sim.p10,
        p50_minor: sim.p50,
        p90_minor: sim.p90,
        milestones,
        path: sim.path,
        assumptions: a.clone(),
    }
}

fn add_months(d: NaiveDate, n: u32) -> NaiveDate {
    d.checked_add_months(Months::new(n)).unwrap_or(d)
}

/// Target estimate in minor units and its basis, or None when it cannot be estimated.
fn estimate_target(
    kind: GoalKind,
    p: &GoalProfile,
    horizon: u32,
    a: &Assumptions,
) -> Option<(i64, String)> {
    let yearly_income = p.monthly_income_minor.max(0) as f64 * 12.0;
    let (today_value, basis, grow) = match kind {
        GoalKind::House => (
            0.15 * 4.5 * yearly_income,
            "a 15% deposit on a home worth 4.5 times your yearly income",
            true,
        ),
        GoalKind::Car => (0.35 * yearly_income, "35% of your yearly income", true),
        GoalKind::EmergencyFund => (
            6.0 * p.monthly_essential_spend_minor.max(0) as f64,
            "six months of your essential spending",
            false,
        ),
        GoalKind::Wedding => (2_000_000.0, "a typical wedding budget of €20,000", true),
        GoalKind::Education => (1_500_000.0, "a typical course budget of €15,000", true),
        GoalKind::Travel => (400_000.0, "a typical long trip budget of €4,000", true),
        GoalKind::Baby => (
            800_000.0,
            "a typical first-year budget of €8,000 for a baby",
            true,
        ),
        GoalKind::Retirement => (10.0 * yearly_income, "10 times your yearly income", true),
        GoalKind::Other => return None,
    };
    let years = f64::from(horizon) / 12.0;
    let factor = if grow {
        (1.0 + a.inflation).powf(years)
    } else {
        1.0
    };
    let value = today_value * factor;
    // Nearest €100.
    let rounded = (value / 10_000.0).round() * 10_000.0;
    if !(rounded.is_finite() && (10_000.0..1e17).contains(&rounded)) {
        return None;
    }
    let basis = if grow && a.inflation != 0.0 {
        format!(
            "Our estimate: {basis}, plus {:.1}% a year for rising prices",
            a.inflation * 100.0
        )
    } else {
        format!("Our estimate: {basis}")
    };
    Some((rounded as i64, basis))
}

/// Product ids and shares for a goal.
fn allocation(
    kind: GoalKind,
    horizon: u32,
    risk: RiskProfile,
    target: i64,
) -> Vec<(&'static str, f64)> {
    if kind == GoalKind::EmergencyFund {
        return vec![("P-SAV-EASY", 1.0)];
    }
    if horizon < 36 || risk == RiskProfile::Low {
        return if horizon >= 12 && target >= TERM_DEPOSIT_MIN_MINOR {
            vec![("P-SAV-GOAL", 0.6), ("P-TD-12", 0.4)]
        } else {
            vec![("P-SAV-GOAL", 1.0)]
        };
    }
    match (horizon < 60, risk) {
        (true, RiskProfile::High) => {
            vec![("P-SAV-GOAL", 0.3), ("P-INV-LOW", 0.4), ("P-INV-MED", 0.3)]
        }
        (true, _) => vec![("P-SAV-GOAL", 0.5), ("P-INV-LOW", 0.5)],
        (false, RiskProfile::High) => vec![("P-INV-MED", 0.4), ("P-INV-HIGH", 0.6)],
        (false, _) => vec![("P-INV-LOW", 0.4), ("P-INV-MED", 0.6)],
    }
}

/// (compound annual return, annual volatility) of an allocation.
fn portfolio(shares: &[(&str, f64)], a: &Assumptions) -> (f64, f64) {
    let mut w = [0.0f64; 3];
    for &(id, share) in shares {
        let mix = product(id).1;
        for (wi, m) in w.iter_mut().zip(mix) {
            *wi += share * m;
        }
    }
    let mean = w[0] * a.cash_return
        + w[1] * (a.bond_return + a.bond_vol.powi(2) / 2.0)
        + w[2] * (a.equity_return + a.equity_vol.powi(2) / 2.0);
    let var = (w[1] * a.bond_vol).powi(2)
        + (w[2] * a.equity_vol).powi(2)
        + 2.0 * w[1] * w[2] * a.bond_equity_correlation * a.bond_vol * a.equity_vol;
    let vol = var.max(0.0).sqrt();
    (mean - var / 2.0, vol)
}

fn monthly_rate(annual: f64) -> f64 {
    (1.0 + annual).max(1e-9).powf(1.0 / 12.0) - 1.0
}

/// Deterministic balance after `k` months at the plan's compound rate (minor units, unrounded).
fn expected_balance(start: i64, contribution: i64, r: f64, k: u32) -> f64 {
    let k = f64::from(k);
    let (s, c) = (start as f64, contribution as f64);
    if r.abs() < 1e-12 {
        s + c * k
    } else {
        let g = (1.0 + r).powf(k);
        s * g + c * (g - 1.0) / r
    }
}

/// Monthly contribution in minor units, rounded up to whole euros.
fn contribution(target: i64, start: i64, months: u32, r: f64) -> i64 {
    let n = f64::from(months.max(1));
    let (t, s) = (target as f64, start as f64);
    let needed = if r.abs() < 1e-12 {
        (t - s) / n
    } else {
        let g = (1.0 + r).powf(n);
        (t - s * g) * r / (g - 1.0)
    };
    if !(needed.is_finite() && needed > 0.0) {
        return 0;
    }
    let euros = (needed / 100.0 - 1e-9).ceil();
    (euros * 100.0).min(i64::MAX as f64 / 2.0) as i64
}

struct Simulation {
    probability: f64,
    p10: i64,
    p50: i64,
    p90: i64,
    path: Vec<PathPoint>,
}

fn chart_months(horizon: u32) -> Vec<u32> {
    let step = horizon.div_ceil(MAX_CHART_POINTS).max(1);
    let mut months: Vec<u32> = (0..=horizon).step_by(step as usize).collect();
    if months.last() != Some(&horizon) {
        months.push(horizon);
    }
    months
}

/// Nearest-rank percentile of an unsorted slice (reorders it).
fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let idx = ((values.len() - 1) as f64 * p).round() as usize;
    let idx = idx.min(values.len() - 1);
    let (_, v, _) = values.select_nth_unstable_by(idx, f64::total_cmp);
    *v
}

fn to_minor(v: f64) -> i64 {
    if v.is_finite() { v.round() as i64 } else { 0 }
}

fn simulate(
    start: i64,
    contribution: i64,
    horizon: u32,
    annual_return: f64,
    annual_vol: f64,
    target: i64,
    a: &Assumptions,
) -> Simulation {
    let months = chart_months(horizon);
    let paths = a.paths.clamp(1, MAX_PATHS) as usize;
    let mu = (1.0 + annual_return).max(1e-9).ln() / 12.0;
    let sigma = annual_vol.max(0.0) / 12f64.sqrt();
    // One column per chart month, one row per path, f32 to keep 10k × 121 points small.
    let mut recorded: Vec<Vec<f32>> = vec![Vec::with_capacity(paths); months.len()];
    let mut finals = Vec::with_capacity(paths);
    let normal = Normal::new(mu, sigma).ok().filter(|_| sigma > 0.0);
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let growth = mu.exp();
    let (s, c) = (start as f64, contribution as f64);
    for _ in 0..paths {
        let mut balance = s;
        let mut next = 0usize;
        for m in 0..=horizon {
            if m > 0 {
                let g = match &normal {
                    Some(n) => n.sample(&mut rng).exp(),
                    None => growth,
                };
                balance = balance * g + c;
            }
            if months.get(next) == Some(&m) {
                recorded[next].push(balance as f32);
                next += 1;
            }
        }
        finals.push(balance);
    }
    let reached = finals.iter().filter(|&&v| v + 0.5 >= target as f64).count();
    let path = months
        .iter()
        .zip(recorded.iter_mut())
        .map(|(&month, col)| {
            let mut col: Vec<f64> = col.iter().map(|&v| f64::from(v)).collect();
            PathPoint {
                month,
                p10_minor: to_minor(percentile(&mut col, 0.1)),
                p50_minor: to_minor(percentile(&mut col, 0.5)),
                p90_minor: to_minor(percentile(&mut col, 0.9)),
            }
        })
        .collect();
    Simulation {
        probability: reached as f64 / paths as f64,
        p10: to_minor(percentile(&mut finals, 0.1)),
        p50: to_minor(percentile(&mut finals, 0.5)),
        p90: to_minor(percentile(&mut finals, 0.9)),
        path,
    }
}

impl GoalPlan {
    /// The facts a reply about this plan may state (template `GoalPlan`): goal (text), target,
    /// monthly (money, EUR), target_date, horizon (months), probability (percent, no decimals),
    /// product (the largest allocation) and, for estimated targets, basis (text).
    pub fn facts(&self) -> Facts {
        let mut f = Facts::new()
            .text("goal", self.kind.label())
            .money("target", self.target_minor, "EUR")
            .money("monthly", self.monthly_contribution_minor, "EUR")
            .date("target_date", self.target_date)
            .months("horizon", self.horizon_months)
            .percent("probability", (self.probability * 100.0).round(), 0);
        if let Some(top) = self
            .allocation
            .iter()
            .max_by(|a, b| a.share.total_cmp(&b.share))
        {
            f = f.product("product", &top.product_id, &top.product_name);
        }
        if let Some(basis) = &self.target_basis {
            f = f.text("basis", basis);
        }
        f
    }
}

/// Whole months from `from` to `to` (0 when `to` is earlier).
fn months_between(from: NaiveDate, to: NaiveDate) -> u32 {
    let m = (to.year() - from.year()) * 12 + to.month() as i32
        - from.month() as i32
        - i32::from(to.day() < from.day());
    u32::try_from(m.max(0)).unwrap_or(0)
}

/// Compare what the customer has saved with the plan's expected path.
pub fn progress(plan: &GoalPlan, saved_minor: i64, today: NaiveDate) -> GoalProgress {
    let elapsed = months_between(plan.start, today).min(plan.horizon_months);
    let r = monthly_rate(plan.expected_return);
    let expected = expected_balance(
        plan.start_minor,
        plan.monthly_contribution_minor,
        r,
        elapsed,
    )
    .min(plan.target_minor as f64 * 10.0);
    let expected = to_minor(expected);
    GoalProgress {
        saved_minor,
        expected_by_now_minor: expected,
        months_elapsed: elapsed,
        on_track: saved_minor >= expected,
        percent: if plan.target_minor > 0 {
            saved_minor as f64 / plan.target_minor as f64 * 100.0
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).expect("valid date")
    }

    fn profile(risk: RiskProfile) -> GoalProfile {
        GoalProfile {
            monthly_income_minor: 400_000,
            monthly_essential_spend_minor: 200_000,
            monthly_free_cash_minor: 80_000,
            current_savings_minor: 0,
            risk,
            age: Some(35),
        }
    }

    fn get(o: PlanOutcome) -> GoalPlan {
        match o {
            PlanOutcome::Plan(p) => p,
            other => panic!("expected a plan, got {other:?}"),
        }
    }

    fn req(kind: GoalKind, target: Option<i64>, horizon: Option<u32>) -> GoalRequest {
        GoalRequest {
            kind,
            target_minor: target,
            horizon_months: horizon,
        }
    }

    #[test]
    fn zero_return_contribution_times_months_is_target() {
        let a = Assumptions {
            cash_return: 0.0,
            ..Assumptions::default()
        };
        let p = get(plan(
            &req(GoalKind::Car, Some(1_200_000), Some(24)),
            &profile(RiskProfile::Low),
            today(),
            &a,
        ));
        assert_eq!(p.expected_return, 0.0);
        let total = p.monthly_contribution_minor * 24;
        assert!(
            total >= 1_200_000 && total - 1_200_000 < 24 * 100,
            "total {total}"
        );
        assert_eq!(p.probability, 1.0);
    }

    #[test]
    fn probability_for_the_expected_return_contribution_is_a_little_over_half() {
        // The contribution assumes the median (compound) return, and a sum of right-skewed
        // outcomes has its median a little above the sum of medians: 50–65%.
        let a = Assumptions::default();
        for (risk, months) in [
            (RiskProfile::High, 120),
            (RiskProfile::Medium, 48),
            (RiskProfile::High, 300),
        ] {
            let p = get(plan(
                &req(GoalKind::House, Some(5_000_000), Some(months)),
                &profile(risk),
                today(),
                &a,
            ));
            assert!(
                p.volatility > 0.02,
                "risky allocation expected: {:?}",
                p.allocation
            );
            assert!(
                (0.5..=0.65).contains(&p.probability),
                "{risk:?} {months}: probability {}",
                p.probability
            );
            assert!(p.p10_minor < p.p50_minor && p.p50_minor < p.p90_minor);
        }
        // Savings already made lower the contribution.
        let richer = GoalProfile {
            current_savings_minor: 1_000_000,
            ..profile(RiskProfile::High)
        };
        let base = get(plan(
            &req(GoalKind::House, Some(5_000_000), Some(120)),
            &profile(RiskProfile::High),
            today(),
            &a,
        ));
        let q = get(plan(
            &req(GoalKind::House, Some(5_000_000), Some(120)),
            &richer,
            today(),
            &a,
        ));
        assert!(q.monthly_contribution_minor < base.monthly_contribution_minor);
    }

    #[test]
    fn larger_contribution_raises_probability() {
        let a = Assumptions::default();
        let base = simulate(0, 30_000, 120, 0.045, 0.12, 4_500_000, &a);
        let more = simulate(0, 36_000, 120, 0.045, 0.12, 4_500_000, &a);
        assert!(
            more.probability > base.probability + 0.1,
            "{} vs {}",
            more.probability,
            base.probability
        );
    }

    #[test]
    fn deterministic_for_a_seed_and_sensitive_to_it() {
        let a = Assumptions::default();
        let r = req(GoalKind::Retirement, None, None);
        let p1 = get(plan(&r, &profile(RiskProfile::Medium), today(), &a));
        let p2 = get(plan(&r, &profile(RiskProfile::Medium), today(), &a));
        assert_eq!(p1, p2);
        assert_eq!(p1.horizon_months, (67 - 35) * 12);
        let b = Assumptions { seed: 99, ..a };
        let p3 = get(plan(&r, &profile(RiskProfile::Medium), today(), &b));
        assert_ne!(p1.probability, p3.probability);
    }

    #[test]
    fn needs_horizon_and_target() {
        let a = Assumptions::default();
        let out = plan(
            &req(GoalKind::House, Some(100), None),
            &profile(RiskProfile::Low),
            today(),
            &a,
        );
        assert_eq!(
            out,
            PlanOutcome::NeedsHorizon {
                kind: GoalKind::House,
                target_minor: Some(100)
            }
        );
        let out = plan(
            &req(GoalKind::Other, None, Some(12)),
            &profile(RiskProfile::Low),
            today(),
            &a,
        );
        assert!(matches!(out, PlanOutcome::NeedsTarget { .. }));
    }

    #[test]
    fn estimated_targets_follow_the_rules() {
        let a = Assumptions {
            inflation: 0.0,
            ..Assumptions::default()
        };
        let prof = profile(RiskProfile::Low);
        let est = |k| get(plan(&req(k, None, Some(24)), &prof, today(), &a));
        // 4,000/month → 48,000/year → 15% × 4.5 × 48,000 = 32,400.
        assert_eq!(est(GoalKind::House).target_minor, 3_240_000);
        assert_eq!(est(GoalKind::Car).target_minor, 1_680_000);
        assert_eq!(est(GoalKind::EmergencyFund).target_minor, 1_200_000);
        assert_eq!(est(GoalKind::Wedding).target_minor, 2_000_000);
        let h = est(GoalKind::House);
        assert!(h.target_estimated && h.target_basis.is_some());
        // Inflation raises an estimate.
        let infl = get(plan(
            &req(GoalKind::Wedding, None, Some(24)),
            &prof,
            today(),
            &Assumptions::default(),
        ));
        // 20,000 × 1.02² = 20,808 → nearest €100.
        assert_eq!(infl.target_minor, 2_080_000);
    }

    #[test]
    fn allocation_respects_risk_and_horizon() {
        let a = Assumptions::default();
        let ids = |risk, h| {
            get(plan(
                &req(GoalKind::Car, Some(2_000_000), Some(h)),
                &profile(risk),
                today(),
                &a,
            ))
            .allocation
            .into_iter()
            .map(|x| x.product_id)
            .collect::<Vec<_>>()
        };
        assert_eq!(ids(RiskProfile::High, 6), vec!["P-SAV-GOAL"]);
        assert_eq!(ids(RiskProfile::High, 24), vec!["P-SAV-GOAL", "P-TD-12"]);
        assert_eq!(ids(RiskProfile::Low, 240), vec!["P-SAV-GOAL", "P-TD-12"]);
        assert!(ids(RiskProfile::Medium, 48).contains(&"P-INV-LOW".to_string()));
        assert!(!ids(RiskProfile::Medium, 120).contains(&"P-INV-HIGH".to_string()));
        assert!(ids(RiskProfile::High, 120).contains(&"P-INV-HIGH".to_string()));
        let total: f64 = get(plan(
            &req(GoalKind::Car, Some(2_000_000), Some(48)),
            &profile(RiskProfile::High),
            today(),
            &a,
        ))
        .allocation
        .iter()
        .map(|x| x.share)
        .sum();
        assert!((total - 1.0).abs() < 1e-9);
    }

    #[test]
    fn milestones_and_progress() {
        let a = Assumptions::default();
        let p = get(plan(
            &req(GoalKind::Travel, Some(400_000), Some(20)),
            &profile(RiskProfile::Low),
            today(),
            &a,
        ));
        assert_eq!(p.milestones.len(), 4);
        assert!(p.milestones.windows(2).all(|w| w[0].month <= w[1].month));
        assert_eq!(p.milestones[3].amount_minor, 400_000);
        assert!(p.milestones[3].month <= 20);
        assert_eq!(p.path.len(), 21);
        let later = NaiveDate::from_ymd_opt(2027, 5, 29).expect("valid date");
        let on = progress(&p, p.monthly_contribution_minor * 7, later);
        assert_eq!(on.months_elapsed, 6);
        assert!(on.on_track);
        let behind = progress(&p, p.monthly_contribution_minor * 3, later);
        assert!(!behind.on_track);
        assert!(behind.percent > 0.0 && behind.percent < 100.0);
    }

    #[test]
    fn long_horizons_are_sampled_for_the_chart() {
        assert_eq!(chart_months(120).len(), 121);
        let m = chart_months(600);
        assert!(m.len() <= 122 && m.last() == Some(&600) && m[0] == 0);
    }
}
