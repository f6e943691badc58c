//! Transactions: one posted (or declined) movement of money on an account.

use crate::error::{FieldError, closed_enum};
use crate::ids::{AccountId, CustomerId, TransactionId};
use crate::money::Money;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

closed_enum!(
    /// Spending and income categories. `housing` covers rent and mortgage payments.
    Category, "category" {
        Salary => "salary", OtherIncome => "other_income", Housing => "housing",
        Groceries => "groceries", Restaurants => "restaurants", Utilities => "utilities",
        Subscriptions => "subscriptions", Travel => "travel", Transport => "transport",
        Fuel => "fuel", Shopping => "shopping", Entertainment => "entertainment",
        Health => "health", Education => "education", Childcare => "childcare",
        Insurance => "insurance", Cash => "cash", LoanRepayment => "loan_repayment",
        Savings => "savings", Transfer => "transfer", Fees => "fees", Other => "other",
    }
);
closed_enum!(
    /// How the transaction was made.
    Channel, "channel" {
        CardPresent => "card_present", CardOnline => "card_online", Atm => "atm",
        Transfer => "transfer", DirectDebit => "direct_debit", StandingOrder => "standing_order",
        MobileWallet => "mobile_wallet", Branch => "branch",
    }
);
closed_enum!(
    /// Whether the transaction went through.
    TxStatus, "transaction status" { Approved => "approved", Declined => "declined" }
);

/// ISO 3166-1 alpha-2 country code (two upper-case letters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "DE")]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let t = s.trim().to_ascii_uppercase();
        let b = t.as_bytes();
        if b.len() == 2 && b.iter().all(u8::is_ascii_uppercase) {
            Ok(Self([b[0], b[1]]))
        } else {
            Err(FieldError::new(format!(
                "'{}' is not an ISO 3166 alpha-2 country code",
                crate::text::preview(s.trim())
            )))
        }
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII")
    }
}
impl TryFrom<String> for CountryCode {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}
impl From<CountryCode> for String {
    fn from(c: CountryCode) -> String {
        c.as_str().to_string()
    }
}

/// ISO 18245 merchant category code: four digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "u16", into = "u16")]
#[schema(value_type = u16, example = 5411)]
pub struct Mcc(u16);

impl Mcc {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let t = s.trim();
        if t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(t.parse().expect("four digits")))
        } else {
            Err(FieldError::new(format!(
                "'{}' is not a four-digit MCC",
                crate::text::preview(t)
            )))
        }
    }
    pub fn value(self) -> u16 {
        self.0
    }
}
impl TryFrom<u16> for Mcc {
    type Error = FieldError;
    fn try_from(v: u16) -> Result<Self, FieldError> {
        if v <= 9999 {
            Ok(Self(v))
        } else {
            Err(FieldError::new(format!("{v} is not a four-digit MCC")))
        }
    }
}
impl From<Mcc> for u16 {
    fn from(m: Mcc) -> u16 {
        m.0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Transaction {
    pub id: TransactionId,
    pub customer_id: CustomerId,
    pub account_id: AccountId,
    pub timestamp: DateTime<Utc>,
    /// Signed: credits positive, debits negative.
    pub amount: Money,
    pub merchant: Option<String>,
    pub category: Category,
    pub mcc: Option<Mcc>,
    pub channel: Channel,
    pub country: CountryCode,
    pub balance_after: Option<Money>,
    pub status: TxStatus,
}

/// Parse an RFC 3339 timestamp into UTC.
pub fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, FieldError> {
    let t = s.trim();
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| {
            FieldError::new(format!(
                "'{}' is not an RFC 3339 timestamp ({e})",
                crate::text::preview(t)
            ))
        })
}

/// Parse a calendar date `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<chrono::NaiveDate, FieldError> {
    let t = s.trim();
    chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| {
        FieldError::new(format!(
            "'{}' is not a date (YYYY-MM-DD)",
            crate::text::preview(t)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields() {
        assert_eq!(CountryCode::parse("de").unwrap().as_str(), "DE");
        assert!(CountryCode::parse("DEU").is_err());
        assert_eq!(Mcc::parse("5411").unwrap().value(), 5411);
        assert!(Mcc::parse("541").is_err());
        assert!(
            parse_timestamp("2026-01-02T03:04:05+02:00")
                .unwrap()
                .to_rfc3339()
                .starts_with("2026-01-02T01:04:05")
        );
        assert!(
            parse_timestamp("2026-01-02")
                .unwrap_err()
                .reason
                .contains("RFC 3339")
        );
        assert!("groceries".parse::<Category>().is_ok());
        assert!(
            "ufo"
                .parse::<Channel>()
                .unwrap_err()
                .reason
                .starts_with("unknown channel 'ufo'")
        );
    }
}
