//! Answers about the customer's own money: what they spent (or received) in a period, in total
//! or per category, computed from their transactions. Pure.

use chrono::NaiveDate;
use serde::Serialize;
use sextant_core::{Category, Transaction, TxStatus};
use sextant_features::is_spend_debit;

/// One category's total in the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryTotal {
    pub category: Category,
    /// Positive minor units (money out for spending, money in for income).
    pub minor: i64,
    pub transactions: u32,
}

/// The figures behind a spending answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendingFigures {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub currency: String,
    /// The categories asked about, with their totals (zero when nothing was spent).
    pub asked: Vec<CategoryTotal>,
    /// All spending in the period (approved spend debits).
    pub total_spend_minor: i64,
    /// The largest spending categories, at most three, biggest first.
    pub top: Vec<CategoryTotal>,
    /// Transactions of the customer in the period, of any kind.
    pub transactions: u32,
}

fn is_income(c: Category) -> bool {
    matches!(c, Category::Salary | Category::OtherIncome)
}

/// Sum `txs` between `from` and `to` (inclusive, by the transaction's UTC date). A spending
/// category counts approved debits; an income category counts approved credits; `savings`,
/// `loan_repayment` and `transfer` count approved debits (money put away or paid back).
pub fn figures(
    txs: &[Transaction],
    from: NaiveDate,
    to: NaiveDate,
    asked: &[Category],
) -> SpendingFigures {
    let in_period: Vec<&Transaction> = txs
        .iter()
        .filter(|t| {
            let d = t.timestamp.date_naive();
            d >= from && d <= to
        })
        .collect();
    let currency = in_period
        .first()
        .map(|t| t.amount.currency.to_string())
        .unwrap_or_else(|| "EUR".to_string());
    let mut per: std::collections::BTreeMap<Category, (i64, u32)> = Default::default();
    let mut total = 0i64;
    for t in &in_period {
        if is_spend_debit(t) {
            total += -t.amount.minor;
            let e = per.entry(t.category).or_default();
            e.0 += -t.amount.minor;
            e.1 += 1;
        }
    }
    let asked_totals = asked
        .iter()
        .map(|&c| {
            let (mut minor, mut n) = (0i64, 0u32);
            for t in &in_period {
                if t.category != c || t.status != TxStatus::Approved {
                    continue;
                }
                if is_income(c) && t.amount.minor > 0 {
                    minor += t.amount.minor;
                    n += 1;
                } else if !is_income(c) && t.amount.minor < 0 {
                    minor += -t.amount.minor;
                    n += 1;
                }
            }
            CategoryTotal {
                category: c,
                minor,
                transactions: n,
            }
        })
        .collect();
    let mut top: Vec<CategoryTotal> = per
        .into_iter()
        .map(|(category, (minor, transactions))| CategoryTotal {
            category,
            minor,
            transactions,
        })
        .collect();
    top.sort_by(|a, b| b.minor.cmp(&a.minor).then(a.category.cmp(&b.category)));
    top.truncate(3);
    SpendingFigures {
        from,
        to,
        currency,
        asked: asked_totals,
        total_spend_minor: total,
        top,
        transactions: in_period.len() as u32,
    }
}
