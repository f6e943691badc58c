//! Spending insights with the numbers behind them: a category breakdown, month-over-month
//! changes, recurring payments with price rises, unusual spending, a 30-day cash-flow forecast,
//! a budget suggestion and concrete savings opportunities, for one customer at a time.
//!
//! Architecture invariant: pure — no I/O, no async, no database. Every insight carries the
//! figures it was derived from, and the customer-facing [`Insights::messages`] are built only
//! from those figures, so nothing shown to a customer is a number this crate did not compute.
//! The result is deterministic: the same transactions in any order give the same insights.
//!
//! Boundary: [`InsightInput`] in, [`Insights`] (serde) out, via [`compute`]. The server serves
//! it at `/v1/customers/{id}/insights`.
//!
//! Conventions shared with `sextant-features`: "spend" is an approved debit in any category
//! but transfer, savings, loan repayment, salary and other income; recurring payments are
//! looked for only among payments a biller pulls (direct debit, standing order, card online).

mod compute;
mod model;
mod text;

pub use compute::compute;
pub use model::*;
pub use text::format_money;

use chrono::{DateTime, Utc};
use sextant_core::{Account, Customer, Transaction};

/// Everything known about one customer at a point in time: the input of [`compute`].
#[derive(Debug, Clone, Copy)]
pub struct InsightInput<'a> {
    pub customer: &'a Customer,
    /// The customer's accounts, in any order.
    pub accounts: &'a [Account],
    /// The customer's transactions, in any order; those after `as_of` are ignored, as are
    /// those in another currency than [`Insights::currency`].
    pub transactions: &'a [Transaction],
    /// The moment the insights describe.
    pub as_of: DateTime<Utc>,
}
