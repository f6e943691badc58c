//! Tracked goals: what the API shows, and progress measured from transactions.

use chrono::NaiveDate;
use serde::Serialize;
use sextant_core::{Account, AccountKind, Category, Transaction, TxStatus};
use sextant_store::GoalRow;

/// A goal as the API returns it: the stored plan plus progress.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GoalView {
    pub id: String,
    pub customer_id: String,
    pub kind: String,
    pub name: String,
    pub target_minor: i64,
    pub currency: String,
    pub start_date: String,
    pub target_date: String,
    pub monthly_contribution_minor: i64,
    /// Saved towards the goal: the savings held when it was planned plus what was moved into
    /// savings since (see [`goal_progress_from`]).
    pub saved_minor: i64,
    /// What the plan expected by today.
    pub expected_by_now_minor: i64,
    pub percent: f64,
    pub on_track: bool,
    pub status: String,
    /// `GET` this for the roadmap chart (SVG).
    pub roadmap_url: String,
    /// The full plan: allocation, Monte Carlo probability and percentiles, milestones, assumptions.
    #[schema(value_type = Object)]
    pub plan: serde_json::Value,
}

/// Money the customer moved into savings since `start`: approved `savings` debits from their
/// current accounts (standing orders and transfers into a savings pot), net of `savings` credits
/// back into those accounts. Counting only the current-account side avoids counting a transfer
/// twice when both legs are in the data.
pub fn goal_progress_from(accounts: &[Account], txs: &[Transaction], start: NaiveDate) -> i64 {
    let current: std::collections::HashSet<&str> = accounts
        .iter()
        .filter(|a| a.kind == AccountKind::Current)
        .map(|a| a.id.as_str())
        .collect();
    txs.iter()
        .filter(|t| {
            t.status == TxStatus::Approved
                && t.category == Category::Savings
                && t.timestamp.date_naive() >= start
                && current.contains(t.account_id.as_str())
        })
        .map(|t| -t.amount.minor)
        .sum::<i64>()
        .max(0)
}

pub(crate) fn view(g: &GoalRow, saved: i64, today: NaiveDate) -> GoalView {
    let plan: serde_json::Value = serde_json::from_str(&g.plan).unwrap_or(serde_json::Value::Null);
    let start = NaiveDate::parse_from_str(&g.start_date, "%Y-%m-%d").unwrap_or(today);
    let end = NaiveDate::parse_from_str(&g.target_date, "%Y-%m-%d").unwrap_or(today);
    let total_days = (end - start).num_days().max(1) as f64;
    let elapsed = ((today - start).num_days().max(0) as f64).min(total_days);
    // The plan's median path would be more exact; contributions accrue linearly to first order.
    let expected = (g.target_minor as f64 * elapsed / total_days).round() as i64;
    GoalView {
        id: g.id.clone(),
        customer_id: g.customer_id.clone(),
        kind: g.kind.clone(),
        name: g.name.clone(),
        target_minor: g.target_minor,
        currency: g.currency.clone(),
        start_date: g.start_date.clone(),
        target_date: g.target_date.clone(),
        monthly_contribution_minor: g.monthly_contribution_minor,
        saved_minor: saved,
        expected_by_now_minor: expected,
        percent: if g.target_minor > 0 {
            (saved as f64 / g.target_minor as f64 * 100.0).min(100.0)
        } else {
            0.0
        },
        on_track: saved >= expected,
        status: g.status.clone(),
        roadmap_url: format!("/v1/customers/{}/goals/{}/roadmap.svg", g.customer_id, g.id),
        plan,
    }
}
