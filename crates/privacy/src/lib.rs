//! Differentially private aggregate releases and per-analyst privacy budgets.
//!
//! Aggregates that leave the bank's analysts — segment sizes, average spend per segment and
//! category, the "people like you spend…" comparison shown to customers — are released with
//! ε-differential privacy (Dwork, McSherry, Nissim & Smith 2006), and every release is charged to
//! the analyst's privacy budget first.
//!
//! **Invariant:** no I/O, no async. The budget ledger is a small synchronous trait
//! ([`BudgetLedger`]) that the storage layer implements; randomness comes in through
//! [`NoiseSource`], which is the operating system's CSPRNG in production ([`NoiseSource::os`]).
//!
//! **Boundary:** [`Epsilon`], [`Clamp`] and [`Budget`] are parsed newtypes; releases come back as
//! [`Release`] / [`SpendReport`] (serde `Serialize`), each carrying the ε spent, the mechanism
//! and its noise scale, and the clamp bounds, so every published number says how it was made.
//!
//! # Why our own integer mechanism and not the `opendp` crate
//! The issue allowed either OpenDP or a reviewed implementation. We chose a small exact
//! implementation of the **discrete Laplace mechanism** (the two-sided geometric mechanism of
//! Ghosh, Roughgarden & Sundararajan 2009), sampled exactly as in Canonne, Kamath & Steinke,
//! *The Discrete Gaussian for Differential Privacy* (NeurIPS 2020, arXiv:2004.00010),
//! Algorithms 1 and 2 — see [`sampler`]. Reasons:
//!
//! * Sextant's data are integers: money is `i64` minor units and counts are counts, so an
//!   integer mechanism fits without any float-to-integer step. Using only integer and rational
//!   arithmetic avoids the floating-point attacks on textbook Laplace noise (Mironov, *On
//!   Significance of the Least Significant Bits for Differential Privacy*, CCS 2012), where the
//!   set of reachable doubles leaks the true value.
//! * `opendp` 0.16 samples from a process-global generator that cannot be injected, so tests
//!   could not be seeded; its secure generator needs the default `use-openssl` feature, which
//!   builds OpenSSL from source (+2.5 min on this machine) and pulls `rand` 0.7, `num` 0.3,
//!   `statrs`, `dashu` and proc-macro tooling, and its constructors sit behind the `contrib`
//!   ("not yet vetted") feature. Without `use-openssl` it falls back to a non-secure generator,
//!   which is not acceptable. OpenDP's own samplers implement the same Canonne–Kamath–Steinke
//!   algorithms, so we give up little.
//! * The code is small enough to review: about a hundred lines of sampler
//!   ([`sampler`]), tested statistically (mean, variance, symmetry, and the ε-DP likelihood
//!   ratio on a neighbouring pair) in `tests/`.
//!
//! Randomness is drawn through [`rand::TryCryptoRng`], so only cryptographically secure
//! generators type-check: [`rand::rngs::OsRng`] in production, a seeded ChaCha generator in
//! tests. An RNG failure is an error ([`PrivacyError::Randomness`]); nothing is ever released
//! without its noise.
//!
//! # Privacy unit and composition
//! Neighbouring data sets differ by adding or removing **one customer** (unbounded DP). Releases
//! compose sequentially: a query that runs mechanisms with ε₁ … ε_k is (Σ εᵢ)-DP, and the
//! ledger adds up what each analyst has spent (basic sequential composition; no advanced
//! composition is claimed). Mechanisms applied to disjoint sets of customers compose in
//! parallel (the maximum, not the sum) — used by [`category_spend_report`] across groups.
//! Post-processing (rounding, saturating to `i64`, clamping a mean into its bounds, small-count
//! suppression of a noisy count) costs no privacy.
//!
//! ε has a resolution of 10⁻⁶ (it is held as an integer number of micro-ε), so the ledger sums
//! exactly and the mechanisms use exactly the ε that was charged.
//!
//! # Example
//! ```
//! use sextant_privacy::{Budget, Charge, Clamp, Epsilon, InMemoryLedger, NoiseSource};
//! use sextant_privacy::{charge_then, noisy_mean};
//!
//! let ledger = InMemoryLedger::new(); // the store's ledger in production
//! let mut noise = NoiseSource::os();   // OS CSPRNG
//! let charge = Charge {
//!     analyst: "analyst-7",
//!     epsilon: Epsilon::new(0.5)?,
//!     budget: Budget::new(2.0)?,
//!     query: "mean grocery spend, segment young-urban, 2026-05",
//! };
//! let spend = [12_000, 15_500, 9_900]; // minor units, one per customer
//! let clamp = Clamp::new(0, 50_000)?;
//! let release = charge_then(&ledger, &charge, |eps| noisy_mean(&spend, clamp, eps, &mut noise))?;
//! assert_eq!(release.epsilon_spent, 0.5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Not covered: timing side channels of the sampler (its running time depends on the noise
//! drawn, not on the data beyond the scale), and the discrete Gaussian (zCDP) mechanism.

pub mod budget;
pub mod epsilon;
pub mod error;
pub mod mechanism;
pub mod report;
pub mod sampler;

pub use budget::{
    Budget, BudgetError, BudgetLedger, Charge, InMemoryLedger, LedgerEntry, charge_then,
};
pub use epsilon::{Clamp, ClampError, Epsilon, EpsilonError, MicroEpsilon};
pub use error::PrivacyError;
pub use mechanism::{Mechanism, Release, noisy_count, noisy_mean, noisy_sum};
pub use report::{
    CellOutcome, ReleasedCell, SpendReport, SpendReportConfig, SpendRow, category_spend_report,
    people_like_you,
};
pub use sampler::NoiseSource;
