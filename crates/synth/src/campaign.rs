//! Ground truth for measuring outcomes on the synthetic bank.
//!
//! * [`offer_acceptance`] is the probability that a customer accepts an offer — the same function
//!   that generated the bank's past offer responses — so an experiment can be run on replayed
//!   synthetic traffic and answered the way these customers would answer.
//! * [`write_campaign`] plants a campaign that was **not** randomised: the bank targeted
//!   engaged, better-off customers (who also convert more on their own), and the campaign adds
//!   a known amount to each customer's probability of opening a savings account. A causal
//!   estimator must recover that amount from `campaign.csv`; the naive comparison of treated
//!   and untreated customers overstates it. The truth (the sample's exact average effect, from
//!   the probabilities, not the draws) is in `labels/campaign_truth.json`.
//!
//! Both re-draw a customer's latent profile from the seed (the first draw of the customer's
//! RNG), and the campaign draws its own coins from a separate RNG, so nothing else the generator
//! writes changes.

use crate::profile::{self, logistic};
use crate::sim::{accept_probability, splitmix64};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::path::Path;

/// The effect the campaign adds to each customer's probability of converting.
pub const PLANTED_EFFECT: f64 = 0.05;

fn profile_of(seed: u64, idx: u64) -> profile::Profile {
    let mut rng = ChaCha8Rng::seed_from_u64(splitmix64(seed ^ splitmix64(idx)));
    profile::draw(&mut rng)
}

/// Probability that customer `customer_id` (the generator's 1-based numbering) of the bank
/// generated with `seed` accepts an offer of `product_id`. `None` for id 0 or an unknown product.
pub fn offer_acceptance(seed: u64, customer_id: u64, product_id: &str) -> Option<f64> {
    let idx = customer_id.checked_sub(1)?;
    let prod = crate::catalog::PRODUCTS
        .iter()
        .find(|p| p.id == product_id)?;
    Some(accept_probability(&profile_of(seed, idx), prod))
}

/// The campaign's truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CampaignTruth {
    pub customers: u64,
    pub treated: u64,
    /// Mean of p1 − p0 over all customers.
    pub ate: f64,
    /// Mean of p1 − p0 over the treated.
    pub att: f64,
}

/// Write `campaign.csv` (`customer_id,age,log_income,engagement,treated,converted`) and
/// `labels/campaign_truth.json` for customers `1..=customers`.
pub fn write_campaign(seed: u64, customers: u64, out: &Path) -> std::io::Result<CampaignTruth> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(out.join("campaign.csv"))?);
    writeln!(w, "customer_id,age,log_income,engagement,treated,converted")?;
    let (mut ate, mut att, mut treated_n) = (0.0, 0.0, 0u64);
    for idx in 0..customers {
        let p = profile_of(seed, idx);
        let mut rng = ChaCha8Rng::seed_from_u64(splitmix64(seed ^ 0xCA4D_5EED ^ splitmix64(idx)));
        let inc = (p.gross / 45_000.0).ln();
        let a = f64::from(p.age) - 40.0;
        // Who the bank targeted: engaged, better-off, somewhat older customers.
        let pt = logistic(-1.0 + 3.0 * (p.engagement - 0.5) + 0.8 * inc + 0.02 * a);
        // Who would open a savings account anyway: the same kind of customer.
        let p0 = logistic(-2.0 + 2.0 * (p.engagement - 0.5) + 0.6 * inc - 0.01 * a);
        let p1 = (p0 + PLANTED_EFFECT).min(1.0);
        let treated = rng.random::<f64>() < pt;
        let converted = rng.random::<f64>() < if treated { p1 } else { p0 };
        ate += p1 - p0;
        if treated {
            att += p1 - p0;
            treated_n += 1;
        }
        writeln!(
            w,
            "{},{},{:.4},{:.4},{},{}",
            idx + 1,
            p.age,
            (p.gross.max(1.0)).ln(),
            p.engagement,
            u8::from(treated),
            u8::from(converted)
        )?;
    }
    w.flush()?;
    let truth = CampaignTruth {
        customers,
        treated: treated_n,
        ate: ate / customers.max(1) as f64,
        att: att / treated_n.max(1) as f64,
    };
    std::fs::write(
        out.join("labels").join("campaign_truth.json"),
        format!(
            "{{\n  \"planted_effect\": {PLANTED_EFFECT},\n  \"customers\": {},\n  \"treated\": {},\n  \"ate\": {:.6},\n  \"att\": {:.6}\n}}\n",
            truth.customers, truth.treated, truth.ate, truth.att
        ),
    )?;
    Ok(truth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acceptance_is_the_generators_and_unknowns_are_none() {
        assert!(offer_acceptance(42, 0, "P-SAV-EASY").is_none());
        assert!(offer_acceptance(42, 1, "NO-SUCH").is_none());
        let p = offer_acceptance(42, 7, "P-SAV-EASY").unwrap();
        assert!((0.0..=1.0).contains(&p));
        assert_eq!(
            offer_acceptance(42, 7, "P-SAV-EASY"),
            Some(p),
            "deterministic"
        );
    }

    #[test]
    fn the_campaign_is_confounded_and_its_truth_is_planted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("labels")).unwrap();
        let t = write_campaign(7, 4000, dir.path()).unwrap();
        assert!((t.ate - PLANTED_EFFECT).abs() < 1e-3, "{t:?}");
        assert!(t.treated > 400 && t.treated < 3600, "{t:?}");
        // The naive comparison overstates the effect (targeting picked likely converters).
        let body = std::fs::read_to_string(dir.path().join("campaign.csv")).unwrap();
        let (mut ct, mut nt, mut cc, mut nc) = (0.0, 0.0, 0.0, 0.0);
        for line in body.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let (tr, cv) = (f[4] == "1", f[5] == "1");
            if tr {
                nt += 1.0;
                ct += f64::from(u8::from(cv));
            } else {
                nc += 1.0;
                cc += f64::from(u8::from(cv));
            }
        }
        assert!(
            ct / nt - cc / nc > PLANTED_EFFECT + 0.02,
            "naive must be biased upwards"
        );
    }
}
