//! Every account's owner in memory, for checking a transactions import's account references
//! without a per-row probe of the accounts index (both backends; each loads it inside the
//! import's transaction, with accounts protected from change until COMMIT).

use sextant_core::Transaction;
use std::collections::HashMap;

/// Largest accounts table whose ids are loaded into memory to check transactions' references
/// (about 80 bytes an account; beyond this each backend checks in the database). Memory
/// depends on the accounts table, never on the size of the imported file.
pub(crate) const MAX_OWNERS_IN_MEMORY: u64 = 1_000_000;

/// Account id → owning customer id.
#[derive(Default)]
pub(crate) struct AccountOwners(HashMap<Box<str>, Box<str>>);

impl AccountOwners {
    pub(crate) fn insert(&mut self, account: String, customer: String) {
        self.0
            .insert(account.into_boxed_str(), customer.into_boxed_str());
    }

    /// The account exists and belongs to the transaction's customer (what the foreign key
    /// `(account_id, customer_id) REFERENCES accounts (id, customer_id)` checks).
    pub(crate) fn knows(&self, t: &Transaction) -> bool {
        self.0
            .get(t.account_id.as_str())
            .is_some_and(|c| &**c == t.customer_id.as_str())
    }

    /// The reference error for a transaction `knows` refused: (column, reason), worded as the
    /// set-based check on PostgreSQL and the foreign key on SQLite word it.
    pub(crate) fn reject(t: &Transaction) -> (&'static str, String) {
        (
            "account_id",
            format!(
                "account '{}' does not exist for customer '{}'",
                t.account_id, t.customer_id
            ),
        )
    }
}
