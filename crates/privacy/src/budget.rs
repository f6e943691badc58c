//! Per-analyst privacy budgets: every release is charged to the analyst before it is computed,
//! and a charge that would take the analyst past their budget is refused.
//!
//! Accounting is **basic sequential composition**: an analyst who has received releases that
//! were ε₁-, …, ε_k-DP has lost at most Σ εᵢ, so the ledger keeps the exact sum (in integer
//! [`MicroEpsilon`]) and refuses a charge when `spent + requested > budget`. Releases refused
//! are never computed, so they cost nothing. (Tighter accounting — advanced composition, zCDP —
//! is not attempted.)
//!
//! [`BudgetLedger`] is deliberately small, object-safe and synchronous so the storage layer can
//! implement it over SQLite or PostgreSQL: [`BudgetLedger::charge`] is the single
//! check-and-charge operation and must be atomic (one transaction: read the analyst's total,
//! compare, insert the entry — e.g. `SELECT … FOR UPDATE` on the analyst's row in PostgreSQL,
//! `BEGIN IMMEDIATE` in SQLite). [`InMemoryLedger`] is the reference implementation for tests.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use crate::epsilon::{Epsilon, MICROS_PER_EPSILON, MicroEpsilon};
use crate::error::PrivacyError;

/// Why a charge was refused or could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    /// The charge would take the analyst past their budget; nothing was charged.
    #[error(
        "privacy budget exhausted for analyst {analyst:?}: requested epsilon {requested}, already spent {spent} of {budget}"
    )]
    Exhausted {
        analyst: String,
        spent: MicroEpsilon,
        requested: MicroEpsilon,
        budget: MicroEpsilon,
    },
    /// A total budget that is not a finite number in `[0, 1 000 000]`.
    #[error("privacy budget must be a finite number from 0 to 1000000, got {0}")]
    InvalidBudget(f64),
    /// The ledger's storage failed; nothing may be released.
    #[error("privacy budget ledger failed")]
    Ledger(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// An analyst's total ε budget (for the period the ledger covers), in exact micro-ε.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Budget(MicroEpsilon);

impl Budget {
    /// Parses a total budget: finite, from 0 to 1 000 000 ε, rounded to the nearest 10⁻⁶.
    pub fn new(total_epsilon: f64) -> Result<Self, BudgetError> {
        if !total_epsilon.is_finite() || !(0.0..=1e6).contains(&total_epsilon) {
            return Err(BudgetError::InvalidBudget(total_epsilon));
        }
        Ok(Self(MicroEpsilon(
            (total_epsilon * MICROS_PER_EPSILON as f64).round() as u64,
        )))
    }

    /// The budget in micro-ε.
    pub fn micros(self) -> MicroEpsilon {
        self.0
    }
}

/// One check-and-charge request.
#[derive(Debug, Clone, Copy)]
pub struct Charge<'a> {
    /// Who receives the release (an analyst id, or e.g. `customer-facing:peer-comparison`).
    pub analyst: &'a str,
    /// The ε the release will consume.
    pub epsilon: Epsilon,
    /// The analyst's total budget.
    pub budget: Budget,
    /// A short description of the query, kept in the ledger for audit (no data values).
    pub query: &'a str,
}

/// One recorded charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    pub analyst: String,
    pub epsilon: MicroEpsilon,
    pub query: String,
}

/// Where per-analyst privacy spending is kept. Implemented by the storage layer; must be
/// atomic per [`BudgetLedger::charge`].
pub trait BudgetLedger {
    /// Total ε charged to `analyst` so far.
    fn spent(&self, analyst: &str) -> Result<MicroEpsilon, BudgetError>;

    /// Atomically: if `spent(analyst) + charge.epsilon <= charge.budget`, record the charge
    /// and return the new total; otherwise record nothing and return
    /// [`BudgetError::Exhausted`].
    fn charge(&self, charge: &Charge<'_>) -> Result<MicroEpsilon, BudgetError>;
}

/// The decision every ledger makes: the new total, or the refusal.
pub fn check(charge: &Charge<'_>, spent: MicroEpsilon) -> Result<MicroEpsilon, BudgetError> {
    let requested = charge.epsilon.micros();
    match spent.0.checked_add(requested.0) {
        Some(total) if total <= charge.budget.micros().0 => Ok(MicroEpsilon(total)),
        _ => Err(BudgetError::Exhausted {
            analyst: charge.analyst.to_owned(),
            spent,
            requested,
            budget: charge.budget.micros(),
        }),
    }
}

/// Charges the analyst first, then computes the release with exactly the charged ε. If the
/// charge is refused nothing is computed; if the release then fails the ε stays charged
/// (conservative: randomness may already have been drawn).
pub fn charge_then<T>(
    ledger: &dyn BudgetLedger,
    charge: &Charge<'_>,
    release: impl FnOnce(Epsilon) -> Result<T, PrivacyError>,
) -> Result<T, PrivacyError> {
    ledger.charge(charge)?;
    release(charge.epsilon)
}

/// An in-memory ledger (tests, single-process demos). `charge` holds one lock across check and
/// record, so it is atomic across threads.
#[derive(Debug, Default)]
pub struct InMemoryLedger {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    spent: HashMap<String, MicroEpsilon>,
    entries: Vec<LedgerEntry>,
}

impl InMemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every recorded charge, oldest first.
    pub fn entries(&self) -> Vec<LedgerEntry> {
        self.lock().entries.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // State is only mutated after the check succeeds, so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BudgetLedger for InMemoryLedger {
    fn spent(&self, analyst: &str) -> Result<MicroEpsilon, BudgetError> {
        Ok(self.lock().spent.get(analyst).copied().unwrap_or_default())
    }

    fn charge(&self, charge: &Charge<'_>) -> Result<MicroEpsilon, BudgetError> {
        let mut inner = self.lock();
        let spent = inner.spent.get(charge.analyst).copied().unwrap_or_default();
        let total = check(charge, spent)?;
        inner.spent.insert(charge.analyst.to_owned(), total);
        inner.entries.push(LedgerEntry {
            analyst: charge.analyst.to_owned(),
            epsilon: charge.epsilon.micros(),
            query: charge.query.to_owned(),
        });
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge<'a>(analyst: &'a str, eps: f64, budget: f64) -> Charge<'a> {
        Charge {
            analyst,
            epsilon: Epsilon::new(eps).unwrap(),
            budget: Budget::new(budget).unwrap(),
            query: "segment sizes",
        }
    }

    #[test]
    fn refuses_past_the_budget_with_exact_message() {
        let ledger = InMemoryLedger::new();
        for _ in 0..3 {
            ledger.charge(&charge("ana", 0.1, 0.3)).unwrap();
        }
        // 0.1 + 0.1 + 0.1 is exactly 0.3 in micro-ε: the budget is used up, not overdrawn.
        assert_eq!(ledger.spent("ana").unwrap(), MicroEpsilon(300_000));
        let err = ledger.charge(&charge("ana", 0.1, 0.3)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "privacy budget exhausted for analyst \"ana\": requested epsilon 0.1, already spent 0.3 of 0.3"
        );
        // A refused charge records nothing; other analysts are independent.
        assert_eq!(ledger.spent("ana").unwrap(), MicroEpsilon(300_000));
        assert_eq!(ledger.entries().len(), 3);
        assert_eq!(
            ledger.charge(&charge("bo", 1.0, 2.5)).unwrap(),
            MicroEpsilon(1_000_000)
        );
        let err = ledger.charge(&charge("bo", 2.0, 2.5)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "privacy budget exhausted for analyst \"bo\": requested epsilon 2, already spent 1 of 2.5"
        );
    }

    #[test]
    fn charge_then_computes_only_when_charged() {
        let ledger = InMemoryLedger::new();
        let c = charge("ana", 1.0, 1.5);
        let got = charge_then(&ledger, &c, |eps| Ok(eps.get())).unwrap();
        assert_eq!(got, 1.0);
        let mut ran = false;
        let err = charge_then(&ledger, &c, |_| {
            ran = true;
            Ok(())
        })
        .unwrap_err();
        assert!(!ran);
        assert!(matches!(
            err,
            PrivacyError::Budget(BudgetError::Exhausted { .. })
        ));
        assert_eq!(
            ledger.entries(),
            vec![LedgerEntry {
                analyst: "ana".into(),
                epsilon: MicroEpsilon(1_000_000),
                query: "segment sizes".into()
            }]
        );
    }

    #[test]
    fn budget_parsing() {
        assert_eq!(Budget::new(0.0).unwrap().micros(), MicroEpsilon(0));
        for bad in [f64::NAN, -0.5, 2e6] {
            assert!(matches!(
                Budget::new(bad),
                Err(BudgetError::InvalidBudget(_))
            ));
        }
        assert_eq!(
            Budget::new(-1.0).unwrap_err().to_string(),
            "privacy budget must be a finite number from 0 to 1000000, got -1"
        );
        // A zero budget refuses everything.
        let ledger = InMemoryLedger::new();
        assert!(ledger.charge(&charge("x", 0.000001, 0.0)).is_err());
    }

    #[test]
    fn ledger_is_object_safe_and_atomic_across_threads() {
        let ledger: std::sync::Arc<dyn BudgetLedger + Send + Sync> =
            std::sync::Arc::new(InMemoryLedger::new());
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let l = ledger.clone();
                std::thread::spawn(move || {
                    (0..100)
                        .filter(|_| l.charge(&charge("ana", 0.01, 5.0)).is_ok())
                        .count()
                })
            })
            .collect();
        let ok: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(ok, 500);
        assert_eq!(ledger.spent("ana").unwrap(), MicroEpsilon(5_000_000));
    }
}
