//! Customers: every field of the seed-002 profile CSV, optional contact fields, and protected
//! attributes kept in a separate type so they never travel with model features by accident.

use crate::error::{FieldError, closed_enum};
use crate::ids::CustomerId;
use crate::money::Money;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

closed_enum!(
    /// Seed-002 `Spending_Habit`.
    SpendingHabit, "spending habit" { Budget => "Budget", Moderate => "Moderate", Lavish => "Lavish" }
);
closed_enum!(
    /// Seed-002 `Risk_Profile`: the customer's stated appetite for investment risk.
    RiskProfile, "risk profile" { Low => "Low", Medium => "Medium", High => "High" }
);
closed_enum!(
    /// Seed-002 `Engagement_Level`.
    EngagementLevel, "engagement level" { Low => "Low", Medium => "Medium", High => "High" }
);

/// A sentiment score in [-1, 1].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "f64", into = "f64")]
#[schema(value_type = f64, minimum = -1.0, maximum = 1.0)]
pub struct SentimentScore(f64);

impl SentimentScore {
    pub fn new(v: f64) -> Result<Self, FieldError> {
        if v.is_finite() && (-1.0..=1.0).contains(&v) {
            Ok(Self(v))
        } else {
            Err(FieldError::new(format!("{v} is outside [-1, 1]")))
        }
    }
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let t = s.trim();
        let v: f64 = t.parse().map_err(|_| {
            FieldError::new(format!("'{}' is not a number", crate::text::preview(t)))
        })?;
        Self::new(v)
    }
    pub fn value(self) -> f64 {
        self.0
    }
}
impl TryFrom<f64> for SentimentScore {
    type Error = FieldError;
    fn try_from(v: f64) -> Result<Self, FieldError> {
        Self::new(v)
    }
}
impl From<SentimentScore> for f64 {
    fn from(s: SentimentScore) -> f64 {
        s.0
    }
}

/// A customer profile. Field names follow the seed-002 CSV; `income` is annual.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Customer {
    pub id: CustomerId,
    pub name: String,
    pub age: u8,
    /// Annual income.
    pub income: Money,
    pub spending_habit: SpendingHabit,
    pub risk_profile: RiskProfile,
    /// Seed-002 `Transactions`: the number of transactions the source system reported.
    pub transactions: u32,
    pub sentiment_score: SentimentScore,
    pub engagement_level: EngagementLevel,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub occupation: Option<String>,
    pub joined_on: Option<NaiveDate>,
}

/// Attributes used only for fairness audits, stored apart from the profile and never fed to a
/// model unless an operator explicitly allows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProtectedAttributes {
    pub gender: Option<String>,
    pub age_band: Option<String>,
    pub region: Option<String>,
    pub ethnicity: Option<String>,
}

impl ProtectedAttributes {
    pub fn is_empty(&self) -> bool {
        self.gender.is_none()
            && self.age_band.is_none()
            && self.region.is_none()
            && self.ethnicity.is_none()
    }
}

/// Parse an age in whole years, 0–120.
pub fn parse_age(s: &str) -> Result<u8, FieldError> {
    let t = s.trim();
    let v: i64 = t.parse().map_err(|_| {
        FieldError::new(format!(
            "'{}' is not a whole number of years",
            crate::text::preview(t)
        ))
    })?;
    if !(0..=120).contains(&v) {
        return Err(FieldError::new(format!("{v} is outside 0–120")));
    }
    Ok(v as u8)
}

/// Parse a non-negative count that fits 32 bits.
pub fn parse_count(s: &str) -> Result<u32, FieldError> {
    let t = s.trim();
    t.parse::<u32>().map_err(|_| {
        FieldError::new(format!(
            "'{}' is not a count (0–4294967295)",
            crate::text::preview(t)
        ))
    })
}

/// Parse an e-mail address loosely but safely: one `@`, a dot in the domain, no spaces.
pub fn parse_email(s: &str) -> Result<String, FieldError> {
    let t = crate::text::required(s, 254)?;
    let ok = match t.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !t.contains(char::is_whitespace)
        }
        None => false,
    };
    if ok {
        Ok(t.to_string())
    } else {
        Err(FieldError::new("not an e-mail address"))
    }
}

/// Parse a phone number: digits, spaces and `+-()`, 6–20 digits.
pub fn parse_phone(s: &str) -> Result<String, FieldError> {
    let t = crate::text::required(s, 32)?;
    let digits = t.chars().filter(char::is_ascii_digit).count();
    if !t.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c)) || !(6..=20).contains(&digits)
    {
        return Err(FieldError::new("not a phone number"));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_are_case_insensitive_and_name_choices() {
        assert_eq!(
            "budget".parse::<SpendingHabit>().unwrap(),
            SpendingHabit::Budget
        );
        let e = "Huge".parse::<RiskProfile>().unwrap_err();
        assert_eq!(
            e.reason,
            "unknown risk profile 'Huge': expected one of Low, Medium, High"
        );
    }

    #[test]
    fn scalars() {
        assert!(
            SentimentScore::parse("1.5")
                .unwrap_err()
                .reason
                .contains("outside")
        );
        assert!(SentimentScore::parse("NaN").is_err());
        assert_eq!(parse_age("28").unwrap(), 28);
        assert!(parse_age("200").is_err());
        assert!(parse_count("-1").is_err());
        assert!(parse_email("a@b.co").is_ok());
        assert!(parse_email("a@b").is_err());
        assert!(parse_phone("+44 20 7946 0958").is_ok());
    }
}
