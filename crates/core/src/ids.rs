//! Identifiers. Bank ids are opaque strings: 1–64 characters of `[A-Za-z0-9_.:-]`.

use crate::error::FieldError;
use serde::{Deserialize, Serialize};

const MAX_ID: usize = 64;

fn check_id(s: &str) -> Result<(), FieldError> {
    if s.is_empty() {
        return Err(FieldError::new("must not be empty"));
    }
    if s.len() > MAX_ID {
        return Err(FieldError::new(format!(
            "too long: {} bytes, at most {MAX_ID} allowed",
            s.len()
        )));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
    {
        return Err(FieldError::new(format!(
            "invalid character {c:?}: ids use letters, digits and _ - . : only"
        )));
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(try_from = "String", into = "String")]
        #[schema(value_type = String)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, FieldError> {
                let s = s.trim();
                check_id(s)?;
                Ok(Self(s.to_string()))
            }
            pub fn as_str(&self) -> &str { &self.0 }
        }
        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(s: String) -> Result<Self, FieldError> { Self::parse(&s) }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String { v.0 }
        }
        impl std::str::FromStr for $name {
            type Err = FieldError;
            fn from_str(s: &str) -> Result<Self, FieldError> { Self::parse(s) }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(&self.0) }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str { &self.0 }
        }
    };
}

string_id!(/// A customer of the bank.
    CustomerId);
string_id!(/// An account, card or loan held by a customer.
    AccountId);
string_id!(/// A posted or declined transaction.
    TransactionId);
string_id!(/// A product in the bank's catalog.
    ProductId);
string_id!(/// A customer event (impression, click, accept, dismiss, survey).
    EventId);
string_id!(/// A customer message (chat, email, complaint).
    MessageId);
string_id!(/// A consent record, as the bank's consent system identifies it.
    ConsentId);
string_id!(/// A decision Sextant made and showed (a next best action, an insight, an answer).
    DecisionId);

impl DecisionId {
    /// A new, time-ordered decision id.
    pub fn generate() -> Self {
        Self(format!("dec_{}", uuid::Uuid::now_v7().simple()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!(CustomerId::parse(" 42 ").unwrap().as_str(), "42");
        assert!(CustomerId::parse("").unwrap_err().reason.contains("empty"));
        assert!(
            CustomerId::parse("a b")
                .unwrap_err()
                .reason
                .contains("invalid character ' '")
        );
        assert!(
            CustomerId::parse(&"9".repeat(65))
                .unwrap_err()
                .reason
                .contains("65 bytes")
        );
        let json = serde_json::to_string(&CustomerId::parse("c-1").unwrap()).unwrap();
        assert_eq!(json, "\"c-1\"");
        assert!(serde_json::from_str::<CustomerId>("\"a/b\"").is_err());
        assert!(DecisionId::generate().as_str().starts_with("dec_"));
    }
}
