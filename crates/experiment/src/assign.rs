//! Deterministic, sticky assignment of customers to arms.
//!
//! A customer's position on the unit interval is
//! `u = H / 2⁶⁴` where `H` is the first 8 bytes, big-endian, of SHA-256(`salt` ‖ `":"` ‖
//! `customer_id`) (only the top 53 bits are kept, so that `u` is exact in an `f64` and always
//! `< 1`). If `u < holdout` the customer is held out; otherwise `v = (u − holdout) / (1 − holdout)`
//! is uniform on [0, 1) and picks the first arm whose cumulative normalised weight exceeds it.
//!
//! Nothing is stored: the same spec and customer always give the same answer, whatever else in
//! the spec (name, α, guardrails, arm configs) changes. Changing the salt, the holdout, the order
//! of the arms or their weights moves customers, as it must.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::spec::ExperimentSpec;

/// Where a customer belongs in an experiment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Assignment {
    /// Kept out of every arm. JSON: `{"kind":"holdout"}`.
    Holdout,
    /// In arm `index` (0 is the control). JSON: `{"kind":"arm","index":1,"name":"b"}`.
    Arm {
        /// Position in `spec.arms`.
        index: usize,
        /// `spec.arms[index].name`.
        name: String,
    },
}

/// The customer's uniform position u ∈ [0, 1) for `salt` (see the module docs).
pub fn unit_position(salt: &str, customer_id: &str) -> f64 {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(b":");
    h.update(customer_id.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let x = u64::from_be_bytes(first);
    // Top 53 bits: exact in f64, and the largest value is 1 − 2⁻⁵³ < 1.
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The arm (or the holdout) of `customer_id` in `spec`.
///
/// The spec is expected to have passed [`ExperimentSpec::validate`]; on an invalid one the
/// function still answers without panicking (a holdout outside [0, 1) is clamped, arms with a
/// non-positive or non-finite weight get no traffic, and a spec without usable weights sends
/// everyone to arm 0 — or to the holdout when there are no arms at all).
pub fn assign(spec: &ExperimentSpec, customer_id: &str) -> Assignment {
    let u = unit_position(spec.effective_salt(), customer_id);
    let holdout = if spec.holdout.is_finite() {
        spec.holdout.clamp(0.0, 1.0)
    } else {
        0.0
    };
    if u < holdout || spec.arms.is_empty() {
        return Assignment::Holdout;
    }
    let v = (u - holdout) / (1.0 - holdout);
    let usable = |w: f64| if w.is_finite() && w > 0.0 { w } else { 0.0 };
    let total: f64 = spec.arms.iter().map(|a| usable(a.weight)).sum();
    let arm_at = |index: usize| Assignment::Arm {
        index,
        name: spec.arms[index].name.clone(),
    };
    if !(total > 0.0 && total.is_finite()) {
        return arm_at(0);
    }
    let mut cumulative = 0.0;
    let mut last_usable = 0;
    for (i, arm) in spec.arms.iter().enumerate() {
        let w = usable(arm.weight);
        if w == 0.0 {
            continue;
        }
        last_usable = i;
        cumulative += w / total;
        if v < cumulative {
            return arm_at(i);
        }
    }
    // Rounding can leave the cumulative sum a hair below 1.
    arm_at(last_usable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_matches_an_independent_hash() {
        // Python: hashlib.sha256(b"s:c").hexdigest()[:16] == "97a9a90478de136b".
        let expected = 0x97a9_a904_78de_136b_u64 >> 11;
        assert_eq!(
            unit_position("s", "c"),
            expected as f64 / (1u64 << 53) as f64
        );
    }
}
