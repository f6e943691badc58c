//! Accounts: current and savings accounts, cards and loans a customer holds.

use crate::error::closed_enum;
use crate::ids::{AccountId, CustomerId, ProductId};
use crate::money::{Currency, Money};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

closed_enum!(
    /// What kind of holding an account is.
    AccountKind, "account kind" {
        Current => "current", Savings => "savings", CreditCard => "credit_card",
        PersonalLoan => "personal_loan", Mortgage => "mortgage", AutoLoan => "auto_loan",
        TermDeposit => "term_deposit", Investment => "investment",
    }
);
closed_enum!(
    /// Lifecycle state of an account. `defaulted` and `closed` are the outcomes models learn from.
    AccountStatus, "account status" {
        Open => "open", Delinquent => "delinquent", Defaulted => "defaulted", Closed => "closed",
    }
);

impl AccountKind {
    /// Whether the account is a credit line or loan (balance is owed to the bank).
    pub fn is_credit(self) -> bool {
        matches!(
            self,
            Self::CreditCard | Self::PersonalLoan | Self::Mortgage | Self::AutoLoan
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Account {
    pub id: AccountId,
    pub customer_id: CustomerId,
    pub kind: AccountKind,
    pub product_id: Option<ProductId>,
    pub currency: Currency,
    pub opened_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    pub status: AccountStatus,
    /// Credit limit for cards, original principal for loans.
    pub limit: Option<Money>,
    /// Balance at the end of the data; negative for money owed.
    pub balance: Money,
}
