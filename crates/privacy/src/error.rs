//! The crate's one error type.

use crate::budget::BudgetError;

/// Why a release was not made. No variant ever carries data values.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// The random number generator failed; nothing was released.
    #[error("random number generator failed: {0}")]
    Randomness(String),
    /// The noise scale (sensitivity / ε) does not fit the sampler's 128-bit arithmetic.
    #[error("noise scale out of range: sensitivity {sensitivity} with epsilon {epsilon}")]
    ScaleOutOfRange { sensitivity: u128, epsilon: f64 },
    /// A report was asked for with an invalid configuration.
    #[error("invalid report configuration: {0}")]
    Config(&'static str),
    /// The analyst's budget refused the charge, or the ledger failed.
    #[error(transparent)]
    Budget(#[from] BudgetError),
}
