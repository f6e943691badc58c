//! The insight types [`crate::compute`] returns. Every amount is `i64` minor units of
//! [`Insights::currency`]; every insight carries the figures it was derived from.

use chrono::NaiveDate;
use serde::Serialize;
use sextant_core::Category;

/// Everything Sextant tells one customer about their spending, with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Insights {
    /// ISO 4217 code every amount is in (the current account's, else the profile income's).
    pub currency: String,
    /// Spend per category in the last full calendar month and the trailing 90 days, largest
    /// 90-day amount first.
    pub breakdown: Vec<CategorySpend>,
    /// Last full month against the month before, per category with spend in either.
    pub month_over_month: Vec<CategoryChange>,
    /// Recurring payments and subscriptions detected from the transactions.
    pub recurring: Vec<Recurring>,
    /// Spending in the last 30 days far above the customer's own baseline for its category.
    pub unusual: Vec<Unusual>,
    /// The current account's projected balance over the next 30 days.
    pub forecast: CashFlowForecast,
    /// A monthly budget adapted to income and fixed costs.
    pub budget: BudgetSuggestion,
    /// Concrete ways to save, each with its monthly and yearly amount.
    pub savings_opportunities: Vec<SavingsOpportunity>,
    /// Short customer-facing sentences, built only from the figures above.
    pub messages: Vec<String>,
}

/// One category's spend in the two breakdown windows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategorySpend {
    pub category: Category,
    /// The last full calendar month, `YYYY-MM`.
    pub month: String,
    /// Spend in `month`.
    pub month_amount: i64,
    /// `month_amount` over all spend in `month` (0–1, four decimals; 0 when nothing was spent).
    pub month_share: f64,
    /// Spend in the 90 days before `as_of`.
    pub trailing_90d_amount: i64,
    /// `trailing_90d_amount` over all spend in those 90 days (0–1, four decimals).
    pub trailing_90d_share: f64,
}

/// One category's spend in the last full month against the month before.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryChange {
    pub category: Category,
    /// The last full calendar month, `YYYY-MM`.
    pub month: String,
    /// The month before it, `YYYY-MM`.
    pub previous_month: String,
    pub amount: i64,
    pub previous_amount: i64,
    /// `amount - previous_amount`.
    pub change: i64,
    /// `change / previous_amount` in percent, one decimal; `None` when nothing was spent before.
    pub change_pct: Option<f64>,
    /// `|change| ≥ 20%` of the previous amount (or no previous spend) and `|change| ≥ 20` major
    /// units (€20).
    pub notable: bool,
}

/// How often a recurring payment is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    Weekly,
    Monthly,
    Yearly,
}

/// A payment the same merchant charges at a regular interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recurring {
    pub merchant: String,
    /// The category most of its charges carry (ties: the first in `Category::ALL`).
    pub category: Category,
    /// The current price if it rose, otherwise the median charge.
    pub typical_amount: i64,
    /// `typical_amount` over a year (weekly × 52, monthly × 12, yearly × 1).
    pub yearly_amount: i64,
    /// `yearly_amount / 12`, rounded down.
    pub monthly_amount: i64,
    pub cadence: Cadence,
    /// Median days between charges.
    pub median_interval_days: i64,
    /// Number of charges seen.
    pub charges: usize,
    pub last_charged_on: NaiveDate,
    /// The first date after `as_of`'s day one cadence step after the last charge lands on.
    pub next_expected_on: NaiveDate,
    /// Distinct calendar months with a charge.
    pub months_seen: usize,
    pub price_rise: Option<PriceRise>,
}

/// A recurring price that went up and stayed up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceRise {
    pub from: i64,
    pub to: i64,
    pub first_charged_at_new_price: NaiveDate,
}

/// A transaction far above the customer's usual spend in its category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unusual {
    pub transaction_id: String,
    pub date: NaiveDate,
    pub merchant: Option<String>,
    pub category: Category,
    /// The amount spent (positive).
    pub amount: i64,
    /// Median spend per transaction in this category before the last 30 days.
    pub baseline_median: i64,
    /// Median absolute deviation of those transactions.
    pub baseline_mad: i64,
    /// `1.4826 × baseline_mad`, rounded: the MAD as a normal standard deviation.
    pub baseline_sigma: i64,
    /// How many transactions the baseline is made of.
    pub baseline_transactions: usize,
    /// The amount had to exceed this: max(median + 3·sigma, 3·median, 50 major units).
    pub threshold: i64,
    /// `amount / baseline_median`, one decimal.
    pub times_median: f64,
}

/// Where the current account's balance is heading over the next 30 days: the current balance,
/// plus the detected salary on each projected payday, minus each recurring payment on its
/// expected dates and the average daily variable spend every day. Every recurring payment is
/// assumed to leave the current account (a card's charges do, when its bill is paid); moves
/// between one's own accounts (savings, transfers) and loan repayments not detected as
/// recurring are not projected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CashFlowForecast {
    /// The day the forecast starts from (`as_of`'s date); day one is the day after.
    pub from: NaiveDate,
    /// `balance_after` of the current account's latest transaction, else its balance, else 0.
    pub current_balance: i64,
    /// Where `current_balance` came from: `latest_transaction`, `account_balance` or `none`.
    pub balance_source: String,
    /// The detected payday, if salary arrived in at least two months.
    pub salary: Option<Payday>,
    /// Average variable spend per day (spend not from a recurring merchant, trailing 90 days).
    pub daily_variable_spend: i64,
    /// Every expected inflow and recurring outflow in the window, by date.
    pub expected: Vec<ExpectedFlow>,
    pub total_inflows: i64,
    /// Recurring outflows plus 30 days of variable spend.
    pub total_outflows: i64,
    /// One entry per day, 30 in all.
    pub days: Vec<ForecastDay>,
    pub lowest_balance: i64,
    /// The first day the lowest balance is reached (`from` when it is the current balance).
    pub lowest_on: NaiveDate,
    pub low_balance_warning: Option<LowBalanceWarning>,
}

/// The salary as detected from the transactions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Payday {
    /// Median day of the month salary arrived (paid on the month's last day in shorter months).
    pub day_of_month: u32,
    /// Median monthly salary over the last three months with salary.
    pub amount: i64,
    /// Months with a salary credit.
    pub months_seen: usize,
    pub last_paid_on: NaiveDate,
}

/// One expected movement in the forecast window: positive in, negative out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectedFlow {
    pub date: NaiveDate,
    /// `salary` or the merchant of a recurring payment.
    pub label: String,
    pub amount: i64,
}

/// The projected end-of-day balance of one day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForecastDay {
    pub date: NaiveDate,
    pub inflow: i64,
    /// Recurring outflows due plus the daily variable spend (positive).
    pub outflow: i64,
    pub balance: i64,
}

/// The projected balance falls below the threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LowBalanceWarning {
    /// The first day below the threshold.
    pub date: NaiveDate,
    pub projected_balance: i64,
    /// 100 major units (€100).
    pub threshold: i64,
    /// The next expected payday after `date`, if one falls in the window.
    pub next_payday: Option<NaiveDate>,
}

/// A monthly budget. The rule: fixed costs come first; savings are the smaller of 20% of
/// income and 40% of what is left after fixed costs (so at fixed costs of half the income it is
/// the classic 50/30/20 split, and it shrinks as fixed costs grow); the rest is the allowance
/// for variable spending, split over the customer's own variable categories in proportion to
/// their average spend, never above it; what the customer does not usually spend is added to
/// savings. Always `fixed_costs + variable_total + savings_per_month - shortfall =
/// monthly_income`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetSuggestion {
    /// The rule above, in one sentence.
    pub rule: String,
    pub monthly_income: i64,
    /// `transactions` (average income over the last full months with data) or `profile`
    /// (annual income / 12, when no income was seen).
    pub income_source: String,
    /// How many full months the averages are taken over (1–3; 0 without data).
    pub months_averaged: u32,
    pub fixed_costs: i64,
    pub fixed: Vec<FixedCost>,
    /// `monthly_income - fixed_costs`, at least 0.
    pub after_fixed: i64,
    /// What the rule sets aside: min(20% of income, 40% of `after_fixed`).
    pub savings_target: i64,
    /// `after_fixed - savings_target`.
    pub variable_allowance: i64,
    pub variable_limits: Vec<CategoryLimit>,
    /// Sum of `variable_limits`.
    pub variable_total: i64,
    /// `savings_target` plus the allowance not needed by the limits.
    pub savings_per_month: i64,
    /// How much fixed costs exceed income (0 normally).
    pub shortfall: i64,
}

/// One fixed cost per month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FixedCost {
    /// The category, or the merchant of a recurring payment.
    pub label: String,
    pub category: Category,
    pub monthly: i64,
}

/// A suggested monthly limit for one variable category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryLimit {
    pub category: Category,
    /// Average monthly variable spend in the category.
    pub average_monthly: i64,
    pub limit: i64,
}

/// What a savings opportunity is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpportunityKind {
    /// More than one subscription of the same kind (e.g. video streaming).
    DuplicateSubscriptions,
    /// A recurring price went up.
    PriceRise,
    /// A variable category's average is above its suggested limit.
    OverBudget,
}

/// A concrete way to save, with the amounts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SavingsOpportunity {
    pub kind: OpportunityKind,
    /// The merchants involved (empty for a category).
    pub merchants: Vec<String>,
    pub category: Category,
    /// `yearly / 12`, rounded down.
    pub monthly: i64,
    /// The amount over a year.
    pub yearly: i64,
    /// A plain sentence with the amounts.
    pub text: String,
}
