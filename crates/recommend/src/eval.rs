//! Offline evaluation: ranking metrics against held-out truth, and a bandit simulation with a
//! known environment to measure regret. Pure and deterministic (own splitmix64 RNG).

use crate::bandit::{Bandit, BanditConfig, D};
use sextant_core::ProductId;

/// Share of customers whose top `k` contains at least one product of their truth.
/// Customers with empty truth are skipped (nothing to hit); 0 when none remain.
pub fn hit_rate_at_k(ranked: &[Vec<ProductId>], truth: &[Vec<ProductId>], k: usize) -> f64 {
    mean_over_truth(ranked, truth, |r, t| {
        f64::from(u8::from(r.iter().take(k).any(|p| t.contains(p))))
    })
}

/// Mean NDCG@k with binary relevance: `DCG = Σ_{i<k} rel_i / log2(i + 2)`, divided by the ideal
/// DCG of `min(|truth|, k)` relevant items at the top. Customers with empty truth are skipped.
pub fn ndcg_at_k(ranked: &[Vec<ProductId>], truth: &[Vec<ProductId>], k: usize) -> f64 {
    mean_over_truth(ranked, truth, |r, t| {
        let discount = |i: usize| 1.0 / ((i + 2) as f64).log2();
        let dcg: f64 = r
            .iter()
            .take(k)
            .enumerate()
            .filter(|(_, p)| t.contains(p))
            .map(|(i, _)| discount(i))
            .sum();
        let ideal: f64 = (0..t.len().min(k)).map(discount).sum();
        if ideal == 0.0 { 0.0 } else { dcg / ideal }
    })
}

fn mean_over_truth(
    ranked: &[Vec<ProductId>],
    truth: &[Vec<ProductId>],
    f: impl Fn(&[ProductId], &[ProductId]) -> f64,
) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for (r, t) in ranked.iter().zip(truth).filter(|(_, t)| !t.is_empty()) {
        sum += f(r, t);
        n += 1;
    }
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// splitmix64: a tiny, well-mixed deterministic generator.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The splitmix64 finaliser (also used to hash salts deterministically).
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Arms in [`simulate_bandit`].
pub const SIM_ARMS: usize = 6;

/// Simulate LinUCB for `rounds` rounds in a synthetic environment: [`SIM_ARMS`] arms with a
/// known linear acceptance probability `p_a(x) = clamp(w_a·x, 0, 1)` over an 8-d context
/// (bias 1, the rest uniform in [0, 1)), Bernoulli rewards, customers drawn from `seed`. The
/// bandit's prior is a constant 0.5 for every arm (optimistic, so every arm gets tried).
/// Returns `(round, cumulative regret)` after every round, where regret = best expected reward
/// − chosen arm's expected reward.
pub fn simulate_bandit(config: &BanditConfig, rounds: u64, seed: u64) -> Vec<(u64, f64)> {
    let mut rng = SplitMix64(seed);
    let weights: Vec<[f64; D]> = (0..SIM_ARMS)
        .map(|_| {
            let mut w = [0.0; D];
            w[0] = 0.05 + 0.1 * rng.next_f64();
            for v in w.iter_mut().skip(1) {
                *v = 0.12 * rng.next_f64() - 0.02;
            }
            w
        })
        .collect();
    let p = |a: usize, x: &[f64; D]| -> f64 {
        weights[a]
            .iter()
            .zip(x)
            .map(|(w, x)| w * x)
            .sum::<f64>()
            .clamp(0.0, 1.0)
    };
    let names: Vec<String> = (0..SIM_ARMS).map(|a| format!("arm{a}")).collect();
    let mut bandit = Bandit::new(config.clone());
    let mut regret = 0.0;
    let mut out = Vec::with_capacity(rounds as usize);
    for round in 1..=rounds {
        let mut x = [1.0; D];
        for v in x.iter_mut().skip(1) {
            *v = rng.next_f64();
        }
        let chosen = (0..SIM_ARMS)
            .max_by(|&a, &b| {
                let sa = bandit.score(&names[a], &x, 0.5).ucb;
                let sb = bandit.score(&names[b], &x, 0.5).ucb;
                sa.total_cmp(&sb).then(b.cmp(&a))
            })
            .unwrap_or(0);
        let best = (0..SIM_ARMS).map(|a| p(a, &x)).fold(0.0, f64::max);
        regret += best - p(chosen, &x);
        let r = if rng.next_f64() < p(chosen, &x) {
            1.0
        } else {
            0.0
        };
        bandit.update(&names[chosen], &x, 0.5, r, true);
        out.push((round, regret));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<ProductId> {
        v.iter().map(|s| ProductId::parse(s).unwrap()).collect()
    }

    #[test]
    fn hit_rate_and_ndcg() {
        let ranked = vec![ids(&["A", "B", "C"]), ids(&["C", "D"]), ids(&["A"])];
        let truth = vec![ids(&["B"]), ids(&["X"]), vec![]];
        assert_eq!(hit_rate_at_k(&ranked, &truth, 2), 0.5);
        assert_eq!(hit_rate_at_k(&ranked, &truth, 1), 0.0);
        let n = ndcg_at_k(&ranked, &truth, 3);
        assert!((n - 0.5 / 3f64.log2()).abs() < 1e-12, "{n}");
        let perfect = ndcg_at_k(&[ids(&["A", "B"])], &[ids(&["B", "A", "Z"])], 2);
        assert!((perfect - 1.0).abs() < 1e-12);
        assert_eq!(ndcg_at_k(&[], &[], 3), 0.0);
    }

    #[test]
    fn regret_per_round_falls() {
        let config = BanditConfig {
            alpha: 0.5,
            max_exploration_share: 0.2,
        };
        let n = 4000;
        let curve = simulate_bandit(&config, n, 7);
        assert_eq!(curve.len(), n as usize);
        let q = (n / 4) as usize;
        let first = curve[q - 1].1 / q as f64;
        let last = (curve[n as usize - 1].1 - curve[n as usize - 1 - q].1) / q as f64;
        assert!(last < 0.6 * first, "first {first}, last {last}");
        assert_eq!(
            simulate_bandit(&config, 50, 7),
            simulate_bandit(&config, 50, 7)
        );
    }
}
