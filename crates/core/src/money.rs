//! Money: integer minor units plus an ISO 4217 currency. Never a float for a stored amount.

use crate::error::FieldError;
use serde::{Deserialize, Serialize};

/// ISO 4217 currencies Sextant knows, with their minor-unit exponent.
const CURRENCIES: &[(&str, u8)] = &[
    ("AUD", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("INR", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("MXN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PLN", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("USD", 2),
    ("ZAR", 2),
    ("BHD", 3),
    ("KWD", 3),
];

/// An ISO 4217 currency code from the supported list.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "EUR")]
pub struct Currency([u8; 3]);

impl Currency {
    pub const EUR: Currency = Currency(*b"EUR");
    pub const USD: Currency = Currency(*b"USD");

    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        let upper = s.to_ascii_uppercase();
        match CURRENCIES.iter().find(|(c, _)| *c == upper) {
            Some((c, _)) => {
                let b = c.as_bytes();
                Ok(Currency([b[0], b[1], b[2]]))
            }
            None => Err(FieldError::new(format!(
                "unknown currency '{}': expected an ISO 4217 code such as EUR, USD, GBP",
                crate::text::preview(s)
            ))),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ever built from the ASCII table above.
        std::str::from_utf8(&self.0).expect("currency codes are ASCII")
    }

    /// Digits after the decimal point (2 for EUR, 0 for JPY).
    pub fn exponent(&self) -> u8 {
        CURRENCIES
            .iter()
            .find(|(c, _)| c.as_bytes() == self.0)
            .map(|(_, e)| *e)
            .unwrap_or(2)
    }
}

impl TryFrom<String> for Currency {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}
impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_string()
    }
}
impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signed amount in minor units of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Money {
    /// Signed amount in minor units (cents for EUR): debits are negative.
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Parse a decimal string in major units ("68948", "-12.5", "1234.56") exactly, without
    /// floats, for the given currency. More fraction digits than the currency has is an error.
    pub fn parse_major(s: &str, currency: Currency) -> Result<Self, FieldError> {
        let minor = parse_decimal_minor(s, currency.exponent())?;
        Ok(Self { minor, currency })
    }

    /// Parse an integer amount already in minor units.
    pub fn parse_minor(s: &str, currency: Currency) -> Result<Self, FieldError> {
        Ok(Self {
            minor: parse_i64(s)?,
            currency,
        })
    }

    /// Format in major units with the currency's exponent: `-12.50 EUR`.
    pub fn to_major_string(&self) -> String {
        let e = self.currency.exponent() as u32;
        if e == 0 {
            return self.minor.to_string();
        }
        let scale = 10i64.pow(e) as u64;
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = e as usize
        )
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        Some(Money {
            minor: self.minor.checked_add(other.minor)?,
            currency: self.currency,
        })
    }
}

/// Parse a signed 64-bit integer with a clear overflow message.
pub fn parse_i64(s: &str) -> Result<i64, FieldError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(FieldError::new("must not be empty"));
    }
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(format!(
            "'{}' is not an integer",
            crate::text::preview(t)
        )));
    }
    t.parse::<i64>().map_err(|_| {
        FieldError::new(format!(
            "'{}' overflows a 64-bit amount (limit ±9223372036854775807 minor units)",
            crate::text::preview(t)
        ))
    })
}

fn parse_decimal_minor(s: &str, exponent: u8) -> Result<i64, FieldError> {
    let t = s.trim();
    let (int_part, frac_part) = match t.split_once('.') {
        Some((i, f)) => (i, f),
        None => (t, ""),
    };
    let unsigned = int_part.strip_prefix(['-', '+']).unwrap_or(int_part);
    let ok_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if t.is_empty()
        || (unsigned.is_empty() && frac_part.is_empty())
        || !ok_digits(unsigned)
        || !ok_digits(frac_part)
    {
        return Err(FieldError::new(format!(
            "'{}' is not a decimal amount",
            crate::text::preview(t)
        )));
    }
    if frac_part.len() > exponent as usize {
        return Err(FieldError::new(format!(
            "'{}' has {} decimal places; the currency allows {exponent}",
            crate::text::preview(t),
            frac_part.len()
        )));
    }
    let mut digits = String::with_capacity(unsigned.len() + exponent as usize + 1);
    if int_part.starts_with('-') {
        digits.push('-');
    }
    digits.push_str(if unsigned.is_empty() { "0" } else { unsigned });
    digits.push_str(frac_part);
    for _ in frac_part.len()..exponent as usize {
        digits.push('0');
    }
    digits.parse::<i64>().map_err(|_| {
        FieldError::new(format!(
            "'{}' overflows a 64-bit amount in minor units",
            crate::text::preview(t)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_major_exactly() {
        let eur = Currency::parse("eur").unwrap();
        assert_eq!(Money::parse_major("68948", eur).unwrap().minor, 6_894_800);
        assert_eq!(Money::parse_major("-12.5", eur).unwrap().minor, -1250);
        assert_eq!(Money::parse_major(".5", eur).unwrap().minor, 50);
        assert_eq!(
            Money::parse_major("100", Currency::parse("JPY").unwrap())
                .unwrap()
                .minor,
            100
        );
        assert!(
            Money::parse_major("1.234", eur)
                .unwrap_err()
                .reason
                .contains("3 decimal places")
        );
        assert!(
            Money::parse_major("1e5", eur)
                .unwrap_err()
                .reason
                .contains("not a decimal")
        );
        assert!(
            Money::parse_major("99999999999999999999", eur)
                .unwrap_err()
                .reason
                .contains("overflows")
        );
        assert_eq!(Money::new(-1250, eur).to_major_string(), "-12.50");
    }

    #[test]
    fn integers_and_currencies() {
        assert_eq!(parse_i64("-42").unwrap(), -42);
        assert!(
            parse_i64("9223372036854775808")
                .unwrap_err()
                .reason
                .contains("overflows")
        );
        assert!(
            parse_i64("12a")
                .unwrap_err()
                .reason
                .contains("not an integer")
        );
        assert!(
            Currency::parse("XXX")
                .unwrap_err()
                .reason
                .contains("unknown currency")
        );
        assert_eq!(Currency::parse("JPY").unwrap().exponent(), 0);
    }
}
