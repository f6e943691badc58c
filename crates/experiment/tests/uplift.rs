//! Causal uplift on simulated, confounded campaigns: engaged customers are targeted more and
//! convert more, so the naive difference is biased; IPW and matching must recover the planted
//! effect, balance the covariates and flag poor overlap when treatment is nearly determined.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use sextant_experiment::{UpliftData, UpliftMethod, UpliftOptions, estimate};

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

struct Simulated {
    data: UpliftData,
    true_ate: f64,
    true_att: f64,
}

/// n customers with age, log income and engagement; treatment logistic in them (engagement
/// drives targeting), a Bernoulli outcome whose probability engagement also raises, and an
/// additive +0.05 effect of treatment on the probability.
fn simulate(n: usize, seed: u64) -> Simulated {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let age_d = Normal::new(45.0, 12.0).unwrap();
    let inc_d = Normal::new(10.3, 0.6).unwrap();
    let eng_d = Normal::new(0.0, 1.0).unwrap();
    let (mut x, mut treated, mut outcome) = (Vec::new(), Vec::new(), Vec::new());
    let (mut effect_sum, mut effect_treated, mut n_treated) = (0.0, 0.0, 0usize);
    for _ in 0..n {
        let age: f64 = age_d.sample(&mut rng);
        let log_income: f64 = inc_d.sample(&mut rng);
        let engagement: f64 = eng_d.sample(&mut rng);
        let (a, li) = ((age - 45.0) / 12.0, (log_income - 10.3) / 0.6);
        let pt = sigmoid(-0.3 + 1.0 * engagement + 0.4 * a - 0.3 * li);
        let p0 = sigmoid(-1.6 + 0.9 * engagement - 0.2 * a + 0.3 * li);
        let p1 = (p0 + 0.05).min(1.0);
        let t = rng.random::<f64>() < pt;
        let y = rng.random::<f64>() < if t { p1 } else { p0 };
        effect_sum += p1 - p0;
        if t {
            effect_treated += p1 - p0;
            n_treated += 1;
        }
        x.push(vec![age, log_income, engagement]);
        treated.push(t);
        outcome.push(f64::from(u8::from(y)));
    }
    Simulated {
        data: UpliftData {
            covariate_names: vec!["age".into(), "log_income".into(), "engagement".into()],
            x,
            treated,
            outcome,
        },
        true_ate: effect_sum / n as f64,
        true_att: effect_treated / n_treated as f64,
    }
}

#[test]
fn confounded_campaign_is_corrected() {
    let sim = simulate(5000, 11);
    let opts = UpliftOptions {
        seed: 5,
        ..UpliftOptions::default()
    };
    let r = estimate(&sim.data, &opts).unwrap();
    eprintln!(
        "naive {:.4}, IPW ATE {:?}, true ATE {:.4}, true ATT {:.4}, warnings {:?}",
        r.naive.estimate, r.ipw, sim.true_ate, sim.true_att, r.warnings
    );
    assert_eq!(r.n, 5000);
    assert!(r.propensity.converged);

    // The naive difference is badly biased.
    assert!(
        (r.naive.estimate - sim.true_ate).abs() > 0.03,
        "naive {} vs true {}",
        r.naive.estimate,
        sim.true_ate
    );
    assert!(!r.naive.ci.unwrap().contains(sim.true_ate));

    // IPW recovers it.
    let ipw = r.ipw.unwrap();
    let ci = ipw.ate.ci.unwrap();
    assert!(
        ci.contains(sim.true_ate),
        "IPW ATE {ipw:?}, true {}",
        sim.true_ate
    );
    assert!((ipw.ate.estimate - sim.true_ate).abs() < 0.03);
    assert!(ipw.att.ci.unwrap().contains(sim.true_att), "{ipw:?}");

    // Balance: confounded before, balanced after weighting and after matching.
    let eng = r
        .balance
        .iter()
        .find(|b| b.covariate == "engagement")
        .unwrap();
    assert!(eng.smd_before > 0.5, "{eng:?}");
    assert!(r.balanced_weighted && r.balanced, "{:?}", r.balance);
    assert!(r.balance.iter().all(|b| b.smd_weighted.abs() < 0.1));
    assert_eq!(r.balanced_matched, Some(true), "{:?}", r.balance);

    // Matching ATT is close to the true ATT (the naive bias is ~3× larger).
    let m = r.matching.unwrap();
    let att = m.att.unwrap();
    assert!(
        (att.estimate - sim.true_att).abs() < 0.035,
        "matching ATT {} vs true {}",
        att.estimate,
        sim.true_att
    );
    assert!(att.ci.unwrap().contains(sim.true_att), "{att:?}");
    assert!(m.matched_treated + m.unmatched_treated == r.n_treated);
    assert!(m.unmatched_treated < r.n_treated / 20, "{m:?}");

    // Good overlap here.
    assert!(!r.overlap.poor_overlap, "{:?}", r.overlap);
    assert!(!r.warnings.iter().any(|w| w.starts_with("poor overlap")));
    assert_eq!(r.bootstrap.used, 200);
}

#[test]
fn bootstrap_is_deterministic_for_a_seed() {
    let sim = simulate(800, 3);
    let opts = UpliftOptions {
        bootstrap: 40,
        seed: 42,
        ..UpliftOptions::default()
    };
    let a = estimate(&sim.data, &opts).unwrap();
    let b = estimate(&sim.data, &opts).unwrap();
    assert_eq!(a, b);
    let c = estimate(
        &sim.data,
        &UpliftOptions {
            seed: 43,
            ..opts.clone()
        },
    )
    .unwrap();
    assert_eq!(a.ipw.unwrap().ate.estimate, c.ipw.unwrap().ate.estimate);
    assert_ne!(a.ipw.unwrap().ate.ci, c.ipw.unwrap().ate.ci);
    let only_ipw = estimate(
        &sim.data,
        &UpliftOptions {
            method: UpliftMethod::Ipw,
            ..opts
        },
    )
    .unwrap();
    assert!(only_ipw.matching.is_none() && only_ipw.balanced_matched.is_none());
}

#[test]
fn poor_overlap_is_flagged() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let n = 2000;
    let mut x = Vec::new();
    let mut treated = Vec::new();
    let mut outcome = Vec::new();
    for _ in 0..n {
        let score: f64 = rng.random_range(-2.0..2.0);
        let noise: f64 = rng.random_range(0.0..1.0);
        // Treatment almost determined by the score.
        let t = rng.random::<f64>() < sigmoid(6.0 * score);
        x.push(vec![score, noise]);
        treated.push(t);
        outcome.push(f64::from(u8::from(
            rng.random::<f64>() < 0.2 + 0.1 * f64::from(u8::from(t)),
        )));
    }
    let data = UpliftData {
        covariate_names: vec!["score".into(), "noise".into()],
        x,
        treated,
        outcome,
    };
    let r = estimate(
        &data,
        &UpliftOptions {
            bootstrap: 0,
            ..UpliftOptions::default()
        },
    )
    .unwrap();
    assert!(r.overlap.poor_overlap, "{:?}", r.overlap);
    assert!(r.overlap.share_outside > 0.1, "{:?}", r.overlap);
    assert!(r.overlap.treated.min_propensity < 0.05 && r.overlap.control.max_propensity > 0.95);
    assert!(
        r.warnings.iter().any(|w| w.starts_with("poor overlap")),
        "{:?}",
        r.warnings
    );
    assert!(r.ipw.unwrap().ate.ci.is_none());
}
