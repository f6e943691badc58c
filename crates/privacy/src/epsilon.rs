//! Parsed privacy parameters: [`Epsilon`] (the privacy-loss parameter of one release),
//! [`MicroEpsilon`] (exact integer accounting unit) and [`Clamp`] (the bounds every contributed
//! value is clamped into, which fix a sum's sensitivity).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Micro-ε per ε: ε is held with a resolution of 10⁻⁶.
pub(crate) const MICROS_PER_EPSILON: u64 = 1_000_000;

/// An amount of privacy loss in millionths of ε. Integer so that a ledger sums exactly (a
/// database stores it as `BIGINT`) and so that `0.1 + 0.2` is `0.3`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct MicroEpsilon(pub u64);

impl MicroEpsilon {
    /// The amount as ε (a float, for display and reports).
    pub fn as_epsilon(self) -> f64 {
        self.0 as f64 / MICROS_PER_EPSILON as f64
    }
}

impl fmt::Display for MicroEpsilon {
    /// Exact decimal ε without trailing zeros: `1`, `0.3`, `0.000001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / MICROS_PER_EPSILON;
        let frac = self.0 % MICROS_PER_EPSILON;
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{frac:06}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// Why a number is not a valid ε.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EpsilonError {
    #[error("epsilon is not a number: {0:?}")]
    NotANumber(String),
    #[error("epsilon must be finite, got {0}")]
    NotFinite(f64),
    #[error("epsilon must be greater than 0, got {0}")]
    NotPositive(f64),
    #[error("epsilon must be at least 0.000001, got {0}")]
    TooSmall(f64),
    #[error("epsilon must be at most 10, got {0}")]
    TooLarge(f64),
}

/// The privacy-loss parameter ε of one release: finite, at least 10⁻⁶ and at most 10, held as a
/// whole number of micro-ε (the input is rounded to the nearest 10⁻⁶, and that rounded value is
/// both what the mechanism uses and what the ledger charges).
///
/// The upper bound 10 is a sanity limit, not a recommendation: e^10 ≈ 22 000 is barely privacy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Epsilon {
    micros: u64,
}

impl Epsilon {
    /// Largest accepted ε.
    pub const MAX: f64 = 10.0;
    /// Smallest accepted ε (the resolution).
    pub const MIN: f64 = 1e-6;

    /// Parses ε: finite, > 0, ≥ [`Epsilon::MIN`] after rounding, ≤ [`Epsilon::MAX`].
    pub fn new(epsilon: f64) -> Result<Self, EpsilonError> {
        if !epsilon.is_finite() {
            return Err(EpsilonError::NotFinite(epsilon));
        }
        if epsilon <= 0.0 {
            return Err(EpsilonError::NotPositive(epsilon));
        }
        if epsilon > Self::MAX {
            return Err(EpsilonError::TooLarge(epsilon));
        }
        let micros = (epsilon * MICROS_PER_EPSILON as f64).round() as u64;
        if micros == 0 {
            return Err(EpsilonError::TooSmall(epsilon));
        }
        Ok(Self { micros })
    }

    /// ε as a float.
    pub fn get(self) -> f64 {
        self.micros().as_epsilon()
    }

    /// ε in exact micro-ε.
    pub fn micros(self) -> MicroEpsilon {
        MicroEpsilon(self.micros)
    }

    /// ε as the exact rational `micros / 10⁶`.
    pub(crate) fn rational(self) -> EpsRational {
        EpsRational {
            num: u128::from(self.micros),
            den: u128::from(MICROS_PER_EPSILON),
        }
    }
}

impl fmt::Display for Epsilon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.micros().fmt(f)
    }
}

impl TryFrom<f64> for Epsilon {
    type Error = EpsilonError;
    fn try_from(value: f64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Epsilon> for f64 {
    fn from(e: Epsilon) -> f64 {
        e.get()
    }
}

impl FromStr for Epsilon {
    type Err = EpsilonError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v: f64 = s
            .trim()
            .parse()
            .map_err(|_| EpsilonError::NotANumber(s.to_owned()))?;
        Self::new(v)
    }
}

/// An exact positive rational ε = `num / den`, used inside the crate to split a budget between
/// mechanisms without rounding (ε/2, ε/k are exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EpsRational {
    pub(crate) num: u128,
    pub(crate) den: u128,
}

impl EpsRational {
    /// ε / parts, exactly.
    pub(crate) fn split(self, parts: u32) -> Option<Self> {
        Some(Self {
            num: self.num,
            den: self.den.checked_mul(u128::from(parts.max(1)))?,
        })
    }

    /// ε as a float, for reports.
    pub(crate) fn as_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

/// Why clamp bounds are invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClampError {
    #[error("clamp lower bound {lo} is greater than upper bound {hi}")]
    Inverted { lo: i64, hi: i64 },
}

/// Bounds `[lo, hi]` every contributed value is clamped into before a sum or mean. They must be
/// chosen without looking at the data (e.g. from policy: "spend per customer per category per
/// month, 0 to 5 000.00"), otherwise the bounds themselves leak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Clamp {
    lo: i64,
    hi: i64,
}

impl Clamp {
    /// Parses bounds with `lo <= hi`.
    pub fn new(lo: i64, hi: i64) -> Result<Self, ClampError> {
        if lo > hi {
            return Err(ClampError::Inverted { lo, hi });
        }
        Ok(Self { lo, hi })
    }

    /// Lower bound.
    pub fn lo(self) -> i64 {
        self.lo
    }

    /// Upper bound.
    pub fn hi(self) -> i64 {
        self.hi
    }

    /// `value` clamped into `[lo, hi]`.
    pub fn apply(self, value: i64) -> i64 {
        value.clamp(self.lo, self.hi)
    }

    /// Sensitivity of a clamped sum under add/remove-one neighbours: `max(|lo|, |hi|)`.
    pub fn sum_sensitivity(self) -> u128 {
        u128::from(self.lo.unsigned_abs().max(self.hi.unsigned_abs()))
    }

    /// The integer centre `lo + ⌊(hi − lo) / 2⌋` and the sensitivity of a sum of
    /// `value − centre`, which is `max(centre − lo, hi − centre)` ≈ (hi − lo) / 2 — at most
    /// [`Clamp::sum_sensitivity`] and usually half of it for spend (lo = 0).
    pub(crate) fn centred(self) -> (i128, u128) {
        let (lo, hi) = (i128::from(self.lo), i128::from(self.hi));
        let centre = lo + (hi - lo) / 2;
        let sens = (centre - lo).max(hi - centre) as u128;
        (centre, sens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsilon_parsing_errors_name_the_reason() {
        let err = |v: f64| Epsilon::new(v).unwrap_err().to_string();
        assert_eq!(err(f64::NAN), "epsilon must be finite, got NaN");
        assert_eq!(err(f64::INFINITY), "epsilon must be finite, got inf");
        assert_eq!(err(0.0), "epsilon must be greater than 0, got 0");
        assert_eq!(err(-1.5), "epsilon must be greater than 0, got -1.5");
        assert_eq!(err(10.5), "epsilon must be at most 10, got 10.5");
        assert_eq!(
            err(1e-7),
            "epsilon must be at least 0.000001, got 0.0000001"
        );
        assert_eq!(
            "abc".parse::<Epsilon>().unwrap_err().to_string(),
            "epsilon is not a number: \"abc\""
        );
    }

    #[test]
    fn epsilon_is_exact_in_micros() {
        assert_eq!(Epsilon::new(0.1).unwrap().micros(), MicroEpsilon(100_000));
        assert_eq!(Epsilon::new(10.0).unwrap().get(), 10.0);
        assert_eq!(" 0.25 ".parse::<Epsilon>().unwrap().to_string(), "0.25");
        assert_eq!(MicroEpsilon(1).to_string(), "0.000001");
        assert_eq!(MicroEpsilon(3_000_000).to_string(), "3");
        let e: Epsilon = serde_json::from_str("0.5").unwrap();
        assert_eq!(serde_json::to_string(&e).unwrap(), "0.5");
        assert!(serde_json::from_str::<Epsilon>("11").is_err());
    }

    #[test]
    fn clamp_bounds_and_sensitivity() {
        assert_eq!(
            Clamp::new(5, 1).unwrap_err().to_string(),
            "clamp lower bound 5 is greater than upper bound 1"
        );
        let c = Clamp::new(-300, 100).unwrap();
        assert_eq!(
            (c.apply(-1000), c.apply(50), c.apply(1000)),
            (-300, 50, 100)
        );
        assert_eq!(c.sum_sensitivity(), 300);
        assert_eq!(c.centred(), (-100, 200));
        let spend = Clamp::new(0, 10_001).unwrap();
        assert_eq!(spend.centred(), (5000, 5001));
        let full = Clamp::new(i64::MIN, i64::MAX).unwrap();
        assert_eq!(full.sum_sensitivity(), 1u128 << 63);
        assert_eq!(full.centred().1, 1u128 << 63);
    }
}
