//! The release mechanisms: noisy count, noisy clamped sum and noisy clamped mean, each returning
//! a [`Release`] that records how the number was made.
//!
//! All three add discrete Laplace noise ([`crate::sampler`]) with scale `Δ / ε`:
//!
//! * **count** — Δ = 1 (adding or removing one customer changes a count by one).
//! * **sum** — each value is clamped into `[lo, hi]`; Δ = `max(|lo|, |hi|)`, since the added or
//!   removed customer's clamped value can be anything in `[lo, hi]`.
//! * **mean** — ε is split in half (sequential composition, ε/2 + ε/2 = ε): a noisy count with
//!   ε/2, and with ε/2 a noisy sum of `value − c` where `c` is the integer centre of the clamp
//!   bounds, so Δ = `max(c − lo, hi − c)` ≈ `(hi − lo)/2` instead of `max(|lo|, |hi|)`. The
//!   mean is `c + noisy_centred_sum / noisy_count`, clamped into `[lo, hi]`; when the noisy
//!   count is below 1 the mean is withheld (`None`) — still charged, since both noisy values
//!   were drawn. Dividing and clamping are post-processing and cost nothing.
//!
//! Results are saturated into `i64` (post-processing).

use rand::TryCryptoRng;
use serde::Serialize;

use crate::epsilon::{Clamp, EpsRational, Epsilon};
use crate::error::PrivacyError;
use crate::sampler::{NoiseSource, Scale, add_noise};

/// How a released number was made.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mechanism {
    /// Discrete Laplace noise with scale `sensitivity / ε` added to an integer query. `scale`
    /// is 0 when the sensitivity is 0 (the released value is then a constant).
    DiscreteLaplace { sensitivity: u64, scale: f64 },
    /// A mean as the ratio of a noisy centred sum and a noisy count, each with its own share
    /// of ε.
    DiscreteLaplaceMean {
        centre: i64,
        sum_epsilon: f64,
        sum_sensitivity: u64,
        sum_scale: f64,
        count_epsilon: f64,
        count_scale: f64,
    },
}

/// A differentially private number and its provenance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Release<T> {
    /// The released value (for a mean, `None` when withheld).
    pub value: T,
    /// The ε this release consumed (what must be charged to the analyst).
    pub epsilon_spent: f64,
    /// The mechanism and its noise scale.
    pub mechanism: Mechanism,
    /// Bounds the inputs were clamped into, if any.
    pub clamp: Option<Clamp>,
}

fn saturate(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn scale_f64(scale: Option<Scale>) -> f64 {
    scale.map_or(0.0, Scale::as_f64)
}

/// Noisy count with an exact rational ε: the value and its scale.
pub(crate) fn count_with<R: TryCryptoRng>(
    true_count: u64,
    eps: EpsRational,
    noise: &mut NoiseSource<R>,
) -> Result<(i64, Option<Scale>), PrivacyError> {
    let scale = Scale::for_sensitivity(1, eps)?;
    let v = add_noise(i128::from(true_count), scale, noise)?;
    Ok((saturate(v), scale))
}

/// Noisy sum of `Σ (clamp(v) − centre)` with an exact rational ε.
fn centred_sum_with<R: TryCryptoRng>(
    values: &[i64],
    clamp: Clamp,
    centre: i128,
    sensitivity: u128,
    eps: EpsRational,
    noise: &mut NoiseSource<R>,
) -> Result<(i128, Option<Scale>), PrivacyError> {
    let sum: i128 = values
        .iter()
        .map(|v| i128::from(clamp.apply(*v)) - centre)
        .sum();
    let scale = Scale::for_sensitivity(sensitivity, eps)?;
    Ok((add_noise(sum, scale, noise)?, scale))
}

/// Noisy mean with an exact rational ε (split in half), the mean withheld if the noisy count
/// is below `min_count` (at least 1).
pub(crate) fn mean_with<R: TryCryptoRng>(
    values: &[i64],
    clamp: Clamp,
    eps: EpsRational,
    min_count: i64,
    noise: &mut NoiseSource<R>,
) -> Result<(Option<f64>, i64, Mechanism), PrivacyError> {
    let half = eps
        .split(2)
        .ok_or(PrivacyError::Config("epsilon split overflows"))?;
    let (centre, sensitivity) = clamp.centred();
    let (count, count_scale) = count_with(values.len() as u64, half, noise)?;
    let (sum, sum_scale) = centred_sum_with(values, clamp, centre, sensitivity, half, noise)?;
    let mean = (count >= min_count.max(1)).then(|| {
        let m = centre as f64 + sum as f64 / count as f64;
        m.clamp(clamp.lo() as f64, clamp.hi() as f64)
    });
    let mechanism = Mechanism::DiscreteLaplaceMean {
        centre: centre as i64,
        sum_epsilon: half.as_f64(),
        sum_sensitivity: sensitivity as u64,
        sum_scale: scale_f64(sum_scale),
        count_epsilon: half.as_f64(),
        count_scale: scale_f64(count_scale),
    };
    Ok((mean, count, mechanism))
}

/// ε-DP count of customers: `true_count` plus discrete Laplace noise with scale `1/ε`. The
/// result can be negative; clamp at 0 for display if wanted (post-processing).
pub fn noisy_count<R: TryCryptoRng>(
    true_count: u64,
    eps: Epsilon,
    noise: &mut NoiseSource<R>,
) -> Result<Release<i64>, PrivacyError> {
    let (value, scale) = count_with(true_count, eps.rational(), noise)?;
    Ok(Release {
        value,
        epsilon_spent: eps.get(),
        mechanism: Mechanism::DiscreteLaplace {
            sensitivity: 1,
            scale: scale_f64(scale),
        },
        clamp: None,
    })
}

/// ε-DP sum of one value per customer (e.g. spend in minor units): each value clamped into
/// `clamp`, plus discrete Laplace noise with scale `max(|lo|, |hi|) / ε`.
pub fn noisy_sum<R: TryCryptoRng>(
    values: &[i64],
    clamp: Clamp,
    eps: Epsilon,
    noise: &mut NoiseSource<R>,
) -> Result<Release<i64>, PrivacyError> {
    let sensitivity = clamp.sum_sensitivity();
    let (sum, scale) = centred_sum_with(values, clamp, 0, sensitivity, eps.rational(), noise)?;
    Ok(Release {
        value: saturate(sum),
        epsilon_spent: eps.get(),
        mechanism: Mechanism::DiscreteLaplace {
            sensitivity: sensitivity as u64,
            scale: scale_f64(scale),
        },
        clamp: Some(clamp),
    })
}

/// ε-DP mean of one value per customer: ε/2 for a noisy count, ε/2 for a noisy centred sum
/// (see the module docs). `None` when the noisy count is below 1.
pub fn noisy_mean<R: TryCryptoRng>(
    values: &[i64],
    clamp: Clamp,
    eps: Epsilon,
    noise: &mut NoiseSource<R>,
) -> Result<Release<Option<f64>>, PrivacyError> {
    let (value, _count, mechanism) = mean_with(values, clamp, eps.rational(), 1, noise)?;
    Ok(Release {
        value,
        epsilon_spent: eps.get(),
        mechanism,
        clamp: Some(clamp),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn seeded(seed: u64) -> NoiseSource<ChaCha20Rng> {
        NoiseSource::from_rng(ChaCha20Rng::seed_from_u64(seed))
    }

    #[test]
    fn count_release_records_its_provenance() {
        let r = noisy_count(1000, Epsilon::new(0.5).unwrap(), &mut seeded(3)).unwrap();
        assert!((r.value - 1000).abs() < 60, "{}", r.value);
        assert_eq!(r.epsilon_spent, 0.5);
        assert_eq!(
            r.mechanism,
            Mechanism::DiscreteLaplace {
                sensitivity: 1,
                scale: 2.0
            }
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["mechanism"]["kind"], "discrete_laplace");
        assert_eq!(json["clamp"], serde_json::Value::Null);
    }

    #[test]
    fn sum_clamps_each_value_before_adding() {
        let clamp = Clamp::new(0, 100).unwrap();
        // With ε = 10 the scale is 10; clamped sum is 0 + 50 + 100 = 150, unclamped 1_000_049.
        let values = [-500, 50, 1_000_000];
        let mut noise = seeded(4);
        let draws: Vec<i64> = (0..200)
            .map(|_| {
                noisy_sum(&values, clamp, Epsilon::new(10.0).unwrap(), &mut noise)
                    .unwrap()
                    .value
            })
            .collect();
        let mean = draws.iter().sum::<i64>() as f64 / draws.len() as f64;
        assert!((mean - 150.0).abs() < 5.0, "{mean}");
        let r = noisy_sum(&values, clamp, Epsilon::new(1.0).unwrap(), &mut noise).unwrap();
        assert_eq!(
            r.mechanism,
            Mechanism::DiscreteLaplace {
                sensitivity: 100,
                scale: 100.0
            }
        );
        assert_eq!(r.clamp, Some(clamp));
    }

    #[test]
    fn zero_sensitivity_sum_is_exact() {
        let r = noisy_sum(
            &[5, 6],
            Clamp::new(0, 0).unwrap(),
            Epsilon::new(1.0).unwrap(),
            &mut seeded(5),
        )
        .unwrap();
        assert_eq!(r.value, 0);
    }

    #[test]
    fn mean_splits_epsilon_and_stays_in_bounds() {
        let clamp = Clamp::new(0, 10_000).unwrap();
        let values: Vec<i64> = (0..5000).map(|i| 2000 + (i % 3) * 1000).collect(); // mean 3000
        let r = noisy_mean(&values, clamp, Epsilon::new(1.0).unwrap(), &mut seeded(6)).unwrap();
        let m = r.value.unwrap();
        assert!((m - 3000.0).abs() < 30.0, "{m}");
        assert_eq!(
            r.mechanism,
            Mechanism::DiscreteLaplaceMean {
                centre: 5000,
                sum_epsilon: 0.5,
                sum_sensitivity: 5000,
                sum_scale: 10_000.0,
                count_epsilon: 0.5,
                count_scale: 2.0,
            }
        );
        assert_eq!(r.epsilon_spent, 1.0);
        // Tiny inputs: the mean, when released, is always inside the clamp bounds.
        let mut noise = seeded(7);
        for _ in 0..500 {
            let r = noisy_mean(&[10_000], clamp, Epsilon::new(0.1).unwrap(), &mut noise).unwrap();
            if let Some(m) = r.value {
                assert!((0.0..=10_000.0).contains(&m));
            }
        }
        let empty = noisy_mean(&[], clamp, Epsilon::new(10.0).unwrap(), &mut seeded(8)).unwrap();
        assert!(
            empty.value.is_none() || empty.value.is_some_and(|m| (0.0..=10_000.0).contains(&m))
        );
    }
}
