//! The feature catalogue: every feature's name, meaning and group, in the order of a
//! [`FeatureVector`](crate::FeatureVector)'s values. Adding, removing, reordering or redefining a
//! feature means bumping [`FEATURE_VERSION`](crate::FEATURE_VERSION).

use serde::Serialize;

/// Where a feature comes from, and so when it is available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureGroup {
    /// Always available: from the seed-002 profile columns, or from the account list (0 when the
    /// customer holds no accounts). Segmentation on the seed-002 CSV alone uses only these.
    Profile,
    /// Needs transaction history or data beyond the seed-002 columns; `NaN` when it is missing.
    Transactions,
}

/// One feature: its stable name, what it means, and its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FeatureDef {
    pub name: &'static str,
    pub description: &'static str,
    pub group: FeatureGroup,
}

/// Declares [`FEATURES`] and, in the same order, the crate-private index enum `F` that
/// `compute` writes through, so a name and its slot cannot drift apart.
macro_rules! features {
    ($($slot:ident => $name:literal, $group:ident, $desc:literal;)+) => {
        /// Every feature of version [`FEATURE_VERSION`](crate::FEATURE_VERSION), in vector order.
        pub static FEATURES: &[FeatureDef] = &[
            $(FeatureDef { name: $name, description: $desc, group: FeatureGroup::$group }),+
        ];

        /// Slots of [`FEATURES`], in the same order.
        #[derive(Debug, Clone, Copy)]
        pub(crate) enum F { $($slot),+ }
    };
}

features! {
    Age => "age", Profile, "Age in years (profile).";
    IncomeAnnual => "income_annual", Profile, "Annual income from the profile, major currency units.";
    SpendingHabit => "spending_habit_score", Profile, "Spending habit: Budget 0, Moderate 1, Lavish 2.";
    RiskProfile => "risk_profile_score", Profile, "Stated investment risk appetite: Low 0, Medium 1, High 2.";
    TransactionsReported => "transactions_reported", Profile, "Transaction count reported by the source system (seed-002 column).";
    Sentiment => "sentiment_score", Profile, "Profile sentiment score in [-1, 1].";
    Engagement => "engagement_score", Profile, "Engagement level: Low 0, Medium 1, High 2.";
    TenureYears => "tenure_years", Transactions, "Years since the customer joined (Joined_On) at as_of, at least 0; NaN when unknown (not a seed-002 column).";
    MonthlyIncome => "monthly_income", Transactions, "Approved salary and other_income credits in the last 365 days, per month covered.";
    MonthlySpend => "monthly_spend", Transactions, "Approved spend debits (all but transfer, savings, loan_repayment and income categories) in the last 365 days, per month covered.";
    ShareHousing => "spend_share_housing", Transactions, "Share of spend on housing.";
    ShareGroceries => "spend_share_groceries", Transactions, "Share of spend on groceries.";
    ShareDining => "spend_share_dining", Transactions, "Share of spend in restaurants.";
    ShareUtilities => "spend_share_utilities", Transactions, "Share of spend on utilities.";
    ShareSubscriptions => "spend_share_subscriptions", Transactions, "Share of spend on subscriptions.";
    ShareTravel => "spend_share_travel", Transactions, "Share of spend on travel.";
    ShareTransport => "spend_share_transport", Transactions, "Share of spend on transport and fuel.";
    ShareShopping => "spend_share_shopping", Transactions, "Share of spend on shopping.";
    ShareEntertainment => "spend_share_entertainment", Transactions, "Share of spend on entertainment.";
    ShareCash => "spend_share_cash", Transactions, "Share of spend withdrawn as cash.";
    Discretionary => "discretionary_share", Transactions, "Share of spend on dining, travel, shopping and entertainment.";
    SavingsRate => "savings_rate", Transactions, "(income - spend) / income over the last 365 days, clamped to [-1, 1]; NaN without income.";
    BalanceVolatility => "balance_volatility", Transactions, "Coefficient of variation of end-of-day balances of the current account over the last 91 days; NaN with fewer than 5 days.";
    RecurringPayments => "recurring_payments", Transactions, "Merchants billing by direct debit, standing order or card on file in at least 3 calendar months with monthly totals within 20% of their median.";
    RecurringShare => "recurring_share", Transactions, "Share of spend billed by recurring merchants.";
    CreditUtilization => "credit_utilization", Transactions, "Amount owed over credit limit across open credit cards; NaN without a card.";
    RecencyDays => "recency_days", Transactions, "Days since the last spend debit.";
    FrequencyPerMonth => "frequency_per_month", Transactions, "Spend debits per month covered.";
    MonetaryAvg => "monetary_avg", Transactions, "Mean spend debit, major currency units.";
    SpendTrend => "spend_trend_3m_vs_12m", Transactions, "Monthly spend over the last 91 days divided by monthly spend over 365 days; NaN with under 182 days of data.";
    DeclinedShare3m => "declined_share_3m", Transactions, "Declined share of card, wallet and ATM transactions in the last 91 days.";
    ForeignShare3m => "foreign_share_3m", Transactions, "Share of spend debits in the last 91 days made outside the customer's most frequent country.";
    ProductsHeld => "products_held", Profile, "Open accounts of any kind (0 without accounts).";
    HasCreditCard => "has_credit_card", Profile, "1 if an open credit card is held, else 0.";
    HasPersonalLoan => "has_personal_loan", Profile, "1 if an open personal loan is held, else 0.";
    HasMortgage => "has_mortgage", Profile, "1 if an open mortgage is held, else 0.";
    HasSavings => "has_savings", Profile, "1 if an open savings account is held, else 0.";
    HasInvestment => "has_investment", Profile, "1 if an open investment account is held, else 0.";
}

/// The position of a feature in [`FEATURES`] (and in every vector of this version).
pub fn index_of(name: &str) -> Option<usize> {
    FEATURES.iter().position(|f| f.name == name)
}

/// Features always available, from the seed-002 profile (and account list) alone.
pub fn profile_feature_indices() -> Vec<usize> {
    FEATURES
        .iter()
        .enumerate()
        .filter(|(_, f)| f.group == FeatureGroup::Profile)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_names() {
        assert_eq!(FEATURES[F::Age as usize].name, "age");
        assert_eq!(
            FEATURES[F::ForeignShare3m as usize].name,
            "foreign_share_3m"
        );
        assert_eq!(FEATURES[F::HasInvestment as usize].name, "has_investment");
        assert_eq!(F::HasInvestment as usize, FEATURES.len() - 1);
        for (i, f) in FEATURES.iter().enumerate() {
            assert_eq!(index_of(f.name), Some(i), "{} is unique", f.name);
        }
        assert_eq!(index_of("nope"), None);
    }
}
