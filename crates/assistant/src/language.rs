//! Customer-facing language: a small template generator over typed [`Facts`], tone selection
//! from sentiment, money/percent/date formatting, a Flesch reading-ease check and the fact guard
//! ([`guard`]) that rejects any sentence containing a number, date or product the facts do not
//! back.
//!
//! Templates (see `language/templates.rs`) have 3 variants each; `variant` picks one (modulo),
//! and also the tone's opening and closing, so a conversation can vary its wording
//! deterministically. Placeholders are `{key}`; `[?key|text]` is rendered only when fact `key`
//! is present. A missing required fact is an error naming it, never an empty hole.
//!
//! Formatting: money is "€1,234" for whole amounts and "€1,234.56" otherwise (cents only when
//! non-zero; a minus sign before the symbol); EUR → €, GBP → £, USD → $, other currencies
//! "CHF 1,234". Percentages use the fact's decimals ("3.5%"); dates are "14 March 2027"; counts
//! have thousands separators; months render as "18 months", or "3 years" / "1 year" when a whole
//! number of years.

mod guard;
mod readability;
mod templates;

pub use guard::{Violation, ViolationKind, guard};
pub use readability::{flesch_reading_ease, syllables};
pub use templates::{TemplateId, variant_count};

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// How the reply opens and closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Warm,
    Neutral,
    Reassuring,
}

impl Tone {
    pub const ALL: [Tone; 3] = [Tone::Warm, Tone::Neutral, Tone::Reassuring];
}

/// Reassuring when the (rolling) sentiment is ≤ −0.3, warm when ≥ 0.3, else neutral.
pub fn tone_for(sentiment: Option<f64>) -> Tone {
    match sentiment {
        Some(s) if s <= -0.3 => Tone::Reassuring,
        Some(s) if s >= 0.3 => Tone::Warm,
        _ => Tone::Neutral,
    }
}

/// One value a message may state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Fact {
    Money {
        key: String,
        minor: i64,
        currency: String,
    },
    Percent {
        key: String,
        value: f64,
        decimals: u8,
    },
    Date {
        key: String,
        date: NaiveDate,
    },
    Count {
        key: String,
        n: i64,
    },
    Months {
        key: String,
        n: u32,
    },
    Product {
        key: String,
        id: String,
        name: String,
    },
    /// Trusted text (a label, a knowledge-base passage): the guard does not check inside it.
    Text {
        key: String,
        value: String,
    },
}

impl Fact {
    pub fn key(&self) -> &str {
        match self {
            Fact::Money { key, .. }
            | Fact::Percent { key, .. }
            | Fact::Date { key, .. }
            | Fact::Count { key, .. }
            | Fact::Months { key, .. }
            | Fact::Product { key, .. }
            | Fact::Text { key, .. } => key,
        }
    }

    /// The fact as it appears in a message.
    pub fn render(&self) -> String {
        match self {
            Fact::Money {
                minor, currency, ..
            } => format_money(*minor, currency),
            Fact::Percent {
                value, decimals, ..
            } => format_percent(*value, *decimals),
            Fact::Date { date, .. } => format_date(*date),
            Fact::Count { n, .. } => format_count(*n),
            Fact::Months { n, .. } => format_months(*n),
            Fact::Product { name, .. } => name.clone(),
            Fact::Text { value, .. } => value.clone(),
        }
    }
}

/// The facts a message may use, looked up by key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts(pub Vec<Fact>);

impl Facts {
    pub fn new() -> Self {
        Facts(Vec::new())
    }

    pub fn get(&self, key: &str) -> Option<&Fact> {
        self.0.iter().find(|f| f.key() == key)
    }

    /// Add a fact, replacing one with the same key.
    pub fn push(&mut self, fact: Fact) {
        match self.0.iter_mut().find(|f| f.key() == fact.key()) {
            Some(slot) => *slot = fact,
            None => self.0.push(fact),
        }
    }

    /// Builder form of [`Facts::push`].
    pub fn with(mut self, fact: Fact) -> Self {
        self.push(fact);
        self
    }

    pub fn money(self, key: &str, minor: i64, currency: &str) -> Self {
        self.with(Fact::Money {
            key: key.into(),
            minor,
            currency: currency.into(),
        })
    }

    pub fn percent(self, key: &str, value: f64, decimals: u8) -> Self {
        self.with(Fact::Percent {
            key: key.into(),
            value,
            decimals,
        })
    }

    pub fn date(self, key: &str, date: NaiveDate) -> Self {
        self.with(Fact::Date {
            key: key.into(),
            date,
        })
    }

    pub fn count(self, key: &str, n: i64) -> Self {
        self.with(Fact::Count { key: key.into(), n })
    }

    pub fn months(self, key: &str, n: u32) -> Self {
        self.with(Fact::Months { key: key.into(), n })
    }

    pub fn product(self, key: &str, id: &str, name: &str) -> Self {
        self.with(Fact::Product {
            key: key.into(),
            id: id.into(),
            name: name.into(),
        })
    }

    pub fn text(self, key: &str, value: &str) -> Self {
        self.with(Fact::Text {
            key: key.into(),
            value: value.into(),
        })
    }
}

/// Why a message could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LanguageError {
    #[error("template {template}: missing fact `{key}`")]
    MissingFact { template: &'static str, key: String },
    #[error("template {template}: malformed at byte {at}: {reason}")]
    Template {
        template: &'static str,
        at: usize,
        reason: &'static str,
    },
}

fn group_thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "€1,234" (whole amounts) or "€1,234.56"; "-€5.20" for negatives; "CHF 10" for codes
/// without a symbol.
pub fn format_money(minor: i64, currency: &str) -> String {
    let abs = minor.unsigned_abs();
    let (major, cents) = (abs / 100, abs % 100);
    let number = if cents == 0 {
        group_thousands(u128::from(major))
    } else {
        format!("{}.{cents:02}", group_thousands(u128::from(major)))
    };
    let sign = if minor < 0 { "-" } else { "" };
    match currency {
        "EUR" => format!("{sign}€{number}"),
        "GBP" => format!("{sign}£{number}"),
        "USD" => format!("{sign}${number}"),
        other => format!("{sign}{other} {number}"),
    }
}

/// "3.5%" with the given decimals.
pub fn format_percent(value: f64, decimals: u8) -> String {
    let v = if value.is_finite() { value } else { 0.0 };
    format!("{:.*}%", usize::from(decimals.min(6)), v)
}

/// "14 March 2027".
pub fn format_date(d: NaiveDate) -> String {
    format!(
        "{} {} {}",
        d.day(),
        crate::text::month_name(d.month()),
        d.year()
    )
}

/// "1,234".
pub fn format_count(n: i64) -> String {
    let s = group_thousands(u128::from(n.unsigned_abs()));
    if n < 0 { format!("-{s}") } else { s }
}

/// "18 months", "1 month", "3 years", "1 year".
pub fn format_months(n: u32) -> String {
    match (n.is_multiple_of(12) && n > 0, n) {
        (true, 12) => "1 year".to_string(),
        (true, _) => format!("{} years", n / 12),
        (false, 1) => "1 month".to_string(),
        (false, _) => format!("{n} months"),
    }
}

/// Render a template with facts in a tone; `variant` picks the wording (any value is valid).
pub fn render(
    template: TemplateId,
    facts: &Facts,
    tone: Tone,
    variant: u64,
) -> Result<String, LanguageError> {
    templates::render(template, facts, tone, variant)
}

/// Several rendered parts as one reply with ONE tone opening and closing: render each part with
/// [`Tone::Neutral`], join them, then wrap the whole. `variant` picks the tone's wording.
pub fn with_tone(body: &str, tone: Tone, variant: u64) -> String {
    templates::wrap(body, tone, variant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_formats() {
        assert_eq!(format_money(123_456, "EUR"), "€1,234.56");
        assert_eq!(format_money(123_400, "EUR"), "€1,234");
        assert_eq!(format_money(5, "EUR"), "€0.05");
        assert_eq!(format_money(-520, "GBP"), "-£5.20");
        assert_eq!(format_money(100_000_000, "CHF"), "CHF 1,000,000");
        assert_eq!(format_money(i64::MIN, "EUR"), "-€92,233,720,368,547,758.08");
    }

    #[test]
    fn other_formats() {
        assert_eq!(format_percent(3.5, 1), "3.5%");
        assert_eq!(format_percent(57.26, 0), "57%");
        assert_eq!(
            format_date(NaiveDate::from_ymd_opt(2027, 3, 14).expect("date")),
            "14 March 2027"
        );
        assert_eq!(format_count(1234567), "1,234,567");
        assert_eq!(format_months(18), "18 months");
        assert_eq!(format_months(36), "3 years");
        assert_eq!(format_months(12), "1 year");
        assert_eq!(format_months(1), "1 month");
    }

    #[test]
    fn tone_thresholds() {
        assert_eq!(tone_for(None), Tone::Neutral);
        assert_eq!(tone_for(Some(-0.3)), Tone::Reassuring);
        assert_eq!(tone_for(Some(0.29)), Tone::Neutral);
        assert_eq!(tone_for(Some(0.3)), Tone::Warm);
    }

    #[test]
    fn facts_replace_by_key() {
        let f = Facts::new().count("n", 1).count("n", 2);
        assert_eq!(f.0.len(), 1);
        assert_eq!(
            f.get("n"),
            Some(&Fact::Count {
                key: "n".into(),
                n: 2
            })
        );
    }
}
