//! The product catalog: what the bank can offer.

use crate::customer::RiskProfile;
use crate::error::closed_enum;
use crate::ids::ProductId;
use crate::money::Money;
use serde::{Deserialize, Serialize};

closed_enum!(
    /// Product families; diversity in recommendations is measured across these.
    ProductFamily, "product family" {
        CreditCard => "credit_card", PersonalLoan => "personal_loan", Mortgage => "mortgage",
        AutoLoan => "auto_loan", Savings => "savings", TermDeposit => "term_deposit",
        Investment => "investment", Insurance => "insurance", Current => "current",
    }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    pub family: ProductFamily,
    /// The product's own risk level; a customer's risk profile must be at least this.
    pub risk_level: RiskProfile,
    /// Minimum annual income to be eligible.
    pub min_income: Option<Money>,
    /// Interest rate in basis points (APR for credit, AER for savings).
    pub rate_bps: Option<i32>,
    pub annual_fee: Option<Money>,
    pub description: String,
    pub active: bool,
}
