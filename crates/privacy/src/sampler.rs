//! Exact sampling of the discrete Laplace distribution with integer arithmetic only.
//!
//! The discrete Laplace distribution with scale `b > 0` on ℤ has
//! `P[Y = y] ∝ exp(−|y| / b)`; adding it to an integer query of sensitivity Δ with
//! `b = Δ / ε` gives ε-differential privacy (Ghosh, Roughgarden & Sundararajan 2009; Canonne,
//! Kamath & Steinke 2020, Theorem 2/Fact 1). Its variance is `2·e^{−1/b} / (1 − e^{−1/b})²`.
//!
//! The sampler follows Canonne, Kamath & Steinke, *The Discrete Gaussian for Differential
//! Privacy* (arXiv:2004.00010), with `b = t / s` for positive integers `s`, `t`:
//!
//! * **Algorithm 1**, `Bernoulli(exp(−γ))` for rational `γ = n / d ≥ 0`: for `γ ≤ 1`, draw
//!   `A_k ~ Bernoulli(γ / k)` for `k = 1, 2, …` until the first `A_k = 0` and return 1 iff that
//!   `k` is odd; for `γ > 1`, draw `⌊γ⌋` copies of `Bernoulli(exp(−1))` (return 0 at the first
//!   0) and then `Bernoulli(exp(−(γ − ⌊γ⌋)))`. `Bernoulli(γ / k)` is drawn as the product of
//!   independent `Bernoulli(n / d)` and `Bernoulli(1 / k)`, so no product `d·k` can overflow.
//! * **Algorithm 2**, discrete Laplace with scale `t / s`: draw `U` uniform on `{0, …, t−1}`,
//!   accept with probability `exp(−U / t)`; draw `V ≥ 0` geometric with
//!   `P[V ≥ v] = e^{−v}` (count `Bernoulli(exp(−1))` successes); `X = U + t·V`, `Y = ⌊X / s⌋`;
//!   draw a sign `B ~ Bernoulli(1/2)`; reject `(B = 1, Y = 0)`; return `(1 − 2B)·Y`.
//!
//! Every draw is an exact integer comparison against a uniform integer obtained by rejection
//! sampling from the generator's bytes, so no floating-point value is ever involved — the
//! reason this avoids Mironov's (CCS 2012) attack on floating-point Laplace noise. The running
//! time is random (expected O(1) draws) and depends on the noise and the scale only.

use rand::TryCryptoRng;
use rand::rngs::OsRng;

use crate::error::PrivacyError;

/// The source of randomness for every release: a cryptographically secure generator.
///
/// Production uses [`NoiseSource::os`] (the operating system's CSPRNG, [`OsRng`]); tests use
/// [`NoiseSource::from_rng`] with a seeded ChaCha generator so statistical tests are
/// reproducible. The `TryCryptoRng` bound keeps non-cryptographic generators out.
#[derive(Debug)]
pub struct NoiseSource<R = OsRng> {
    rng: R,
}

impl NoiseSource<OsRng> {
    /// Noise from the operating system's CSPRNG (`getrandom`). Use this in production.
    pub fn os() -> Self {
        Self { rng: OsRng }
    }
}

impl<R: TryCryptoRng> NoiseSource<R> {
    /// Noise from the given cryptographically secure generator (a seeded `ChaCha20Rng` in
    /// tests).
    pub fn from_rng(rng: R) -> Self {
        Self { rng }
    }

    fn random_u128(&mut self) -> Result<u128, PrivacyError> {
        let mut bytes = [0u8; 16];
        self.rng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| PrivacyError::Randomness(e.to_string()))?;
        Ok(u128::from_le_bytes(bytes))
    }

    /// Uniform on `{0, …, n−1}` by masking to the bit length of `n − 1` and rejecting; `n > 0`.
    fn uniform_below(&mut self, n: u128) -> Result<u128, PrivacyError> {
        debug_assert!(n > 0);
        if n <= 1 {
            return Ok(0);
        }
        let bits = 128 - (n - 1).leading_zeros();
        let mask = if bits == 128 {
            u128::MAX
        } else {
            (1u128 << bits) - 1
        };
        loop {
            let x = self.random_u128()? & mask;
            if x < n {
                return Ok(x);
            }
        }
    }

    /// `Bernoulli(num / den)` for `0 ≤ num ≤ den`, `den > 0`.
    fn bernoulli(&mut self, num: u128, den: u128) -> Result<bool, PrivacyError> {
        Ok(self.uniform_below(den)? < num)
    }

    /// `Bernoulli(exp(−num/den))` for `0 ≤ num/den ≤ 1` (Algorithm 1, first case).
    fn bernoulli_exp_at_most_one(&mut self, num: u128, den: u128) -> Result<bool, PrivacyError> {
        let mut k: u128 = 1;
        loop {
            // A ~ Bernoulli(γ / k) = Bernoulli(γ) · Bernoulli(1 / k), independent.
            let a = self.bernoulli(num, den)? && self.bernoulli(1, k)?;
            if !a {
                return Ok(k % 2 == 1);
            }
            k += 1;
        }
    }

    /// `Bernoulli(exp(−num/den))` for any `num/den ≥ 0` (Algorithm 1).
    pub(crate) fn bernoulli_exp(&mut self, mut num: u128, den: u128) -> Result<bool, PrivacyError> {
        while num > den {
            if !self.bernoulli_exp_at_most_one(1, 1)? {
                return Ok(false);
            }
            num -= den;
        }
        self.bernoulli_exp_at_most_one(num, den)
    }

    /// One draw of the discrete Laplace distribution with scale `t / s` (Algorithm 2);
    /// `s, t > 0`.
    pub(crate) fn discrete_laplace(&mut self, s: u128, t: u128) -> Result<i128, PrivacyError> {
        debug_assert!(s > 0 && t > 0);
        loop {
            let u = self.uniform_below(t)?;
            if !self.bernoulli_exp(u, t)? {
                continue;
            }
            let mut v: u128 = 0;
            while self.bernoulli_exp_at_most_one(1, 1)? {
                v += 1;
            }
            // v is geometric with P[v ≥ n] = e^{-n}; t·v + u overflowing would need v ≳ 2^30.
            let Some(x) = t.checked_mul(v).and_then(|tv| tv.checked_add(u)) else {
                continue;
            };
            let y = x / s;
            let negative = self.bernoulli(1, 2)?;
            if negative && y == 0 {
                continue;
            }
            let y = i128::try_from(y).unwrap_or(i128::MAX);
            return Ok(if negative { -y } else { y });
        }
    }
}

/// The noise scale `b = Δ / ε` as the exact rational `t / s` that Algorithm 2 takes:
/// with `ε = num / den`, `b = Δ·den / num`, so `s = num`, `t = Δ·den`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scale {
    pub(crate) s: u128,
    pub(crate) t: u128,
}

impl Scale {
    /// `None` when Δ = 0 (no noise needed) — the caller releases the exact value, which is then
    /// a constant. Errors if `Δ·den` overflows.
    pub(crate) fn for_sensitivity(
        sensitivity: u128,
        epsilon: crate::epsilon::EpsRational,
    ) -> Result<Option<Self>, PrivacyError> {
        if sensitivity == 0 {
            return Ok(None);
        }
        let t = sensitivity
            .checked_mul(epsilon.den)
            .filter(|t| *t <= 1u128 << 120)
            .ok_or(PrivacyError::ScaleOutOfRange {
                sensitivity,
                epsilon: epsilon.as_f64(),
            })?;
        Ok(Some(Self { s: epsilon.num, t }))
    }

    /// `b = t / s` as a float, for reports.
    pub(crate) fn as_f64(self) -> f64 {
        self.t as f64 / self.s as f64
    }
}

/// Adds discrete Laplace noise of the given scale (none when `scale` is `None`).
pub(crate) fn add_noise<R: TryCryptoRng>(
    value: i128,
    scale: Option<Scale>,
    noise: &mut NoiseSource<R>,
) -> Result<i128, PrivacyError> {
    match scale {
        None => Ok(value),
        Some(sc) => Ok(value.saturating_add(noise.discrete_laplace(sc.s, sc.t)?)),
    }
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
    fn uniform_below_covers_the_range_evenly() {
        let mut n = seeded(1);
        let mut hist = [0u32; 6];
        for _ in 0..60_000 {
            hist[n.uniform_below(6).unwrap() as usize] += 1;
        }
        for h in hist {
            assert!((h as f64 - 10_000.0).abs() < 400.0, "{hist:?}");
        }
        assert_eq!(n.uniform_below(1).unwrap(), 0);
    }

    #[test]
    fn bernoulli_exp_matches_exp() {
        let mut n = seeded(2);
        for (num, den) in [(0u128, 1u128), (1, 2), (1, 1), (5, 2), (7, 3)] {
            let trials = 40_000;
            let hits = (0..trials)
                .filter(|_| n.bernoulli_exp(num, den).unwrap())
                .count();
            let p = (-(num as f64) / den as f64).exp();
            let sd = (p * (1.0 - p) / trials as f64).sqrt();
            let got = hits as f64 / trials as f64;
            assert!(
                (got - p).abs() <= 5.0 * sd + 1e-12,
                "γ={num}/{den}: {got} vs {p}"
            );
        }
    }

    #[test]
    fn a_failing_generator_is_an_error_not_a_release() {
        struct Broken;
        impl rand::TryRngCore for Broken {
            type Error = std::io::Error;
            fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
                Err(std::io::Error::other("entropy source unavailable"))
            }
            fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
                Err(std::io::Error::other("entropy source unavailable"))
            }
            fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Self::Error> {
                Err(std::io::Error::other("entropy source unavailable"))
            }
        }
        impl rand::TryCryptoRng for Broken {}
        let err = NoiseSource::from_rng(Broken)
            .discrete_laplace(1, 1)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "random number generator failed: entropy source unavailable"
        );
    }

    #[test]
    fn os_rng_draws() {
        let mut n = NoiseSource::os();
        let draws: Vec<i128> = (0..200)
            .map(|_| n.discrete_laplace(1, 10).unwrap())
            .collect();
        assert!(draws.iter().any(|d| *d != draws[0]));
    }
}
