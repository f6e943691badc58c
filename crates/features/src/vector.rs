//! A customer's computed features: one `f64` per entry of [`FEATURES`], `NaN` for "not
//! available", serialised with `NaN` as JSON `null` so stored and served vectors round-trip.

use crate::defs::{FEATURES, index_of};
use serde::{Deserialize, Serialize};

/// The features of one customer, aligned with [`FEATURES`] of `version`.
///
/// Equality treats two `NaN`s in the same slot as equal ("both unavailable"), so a vector equals
/// its own JSON round trip; otherwise values compare with `==`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeatureVector {
    pub version: u32,
    #[serde(with = "nan_as_null")]
    pub values: Vec<f64>,
}

impl PartialEq for FeatureVector {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version
            && self.values.len() == other.values.len()
            && self
                .values
                .iter()
                .zip(&other.values)
                .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()))
    }
}

impl FeatureVector {
    /// The value of feature `name`; `None` if the name is unknown or the value is not available.
    pub fn get(&self, name: &str) -> Option<f64> {
        let v = *self.values.get(index_of(name)?)?;
        (!v.is_nan()).then_some(v)
    }

    /// Every feature with its name, `None` where not available.
    pub fn named(&self) -> Vec<(&'static str, Option<f64>)> {
        FEATURES
            .iter()
            .zip(&self.values)
            .map(|(f, &v)| (f.name, (!v.is_nan()).then_some(v)))
            .collect()
    }
}

/// serde for `Vec<f64>` with `NaN` written as `null` and `null` read back as `NaN`.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(values.iter().map(|v| (!v.is_nan()).then_some(*v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let raw = Vec::<Option<f64>>::deserialize(d)?;
        Ok(raw.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
    }
}
