//! The fact guard: a message may state only what its facts say. Every number in the text —
//! digits with separators or decimals, money amounts, percentages, years, dates in common formats
//! ("14 March 2027", "March 14, 2027", "March 2027", "14/03/2027", "2027-03-14", "14.03.2027")
//! and number words ("twelve", "twenty thousand") — must equal a fact under normalisation, and
//! every catalog product name mentioned must be a `Product` fact.
//!
//! Normalisation: a written value matches when it equals the fact to the precision it is written
//! with (half a unit of its last digit, times any k/m multiplier), so "€1,234" = 1234 EUR =
//! "1,234.00 euros" and "3.5%" = "3.50%". Money must match a `Money` fact of the same currency;
//! percentages a `Percent` fact; a plain number may match a count, a months fact (n, or n/12
//! when whole years), a money fact's major units or a percent value; a year the year of a `Date`
//! fact (or a number fact); a date a `Date` fact on every part it states.
//!
//! Exempt: the text of `Text` facts and the names of `Product` facts (masked before scanning —
//! they are trusted content such as knowledge-base passages and case numbers), and the words
//! "one", "a" and "an" on their own, which are too common in plain English to be claims.

use super::{Fact, Facts};
use crate::text::{Dec, Kind, NumLit, Token, month_number, number_words, small_number, tokenize};
use chrono::Datelike;
use serde::{Deserialize, Serialize};

/// What kind of claim was not backed by a fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    Number,
    Percent,
    Money,
    Date,
    Product,
}

/// One unbacked claim and the words that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub kind: ViolationKind,
    pub text: String,
}

/// Check `text` against `facts`; `known_product_names` is the catalog's product names.
pub fn guard(
    text: &str,
    facts: &Facts,
    known_product_names: &[String],
) -> Result<(), Vec<Violation>> {
    let mut chars: Vec<char> = text.chars().collect();
    let lower: Vec<char> = chars
        .iter()
        .map(|c| c.to_lowercase().next().unwrap_or(*c))
        .collect();
    // Mask trusted spans.
    for f in &facts.0 {
        match f {
            Fact::Text { value, .. } => mask(&mut chars, &lower, value, false),
            Fact::Product { name, .. } => mask(&mut chars, &lower, name, true),
            _ => {}
        }
    }
    let mut violations = Vec::new();
    let masked_lower: Vec<char> = chars
        .iter()
        .map(|c| c.to_lowercase().next().unwrap_or(*c))
        .collect();
    for name in known_product_names {
        for (s, e) in occurrences(&masked_lower, name, true) {
            violations.push(Violation {
                kind: ViolationKind::Product,
                text: chars[s..e].iter().collect(),
            });
        }
    }
    let masked: String = chars.iter().collect();
    let toks = tokenize(&masked);
    let slice = |a: usize, b: usize| -> String {
        let (s, e) = (toks[a].start, toks[b.saturating_sub(1).max(a)].end);
        masked.get(s..e).unwrap_or_default().to_string()
    };
    let mut i = 0;
    while i < toks.len() {
        if let Some((date, end)) = date_at(&toks, i) {
            if !date_backed(&date, facts) {
                violations.push(Violation {
                    kind: ViolationKind::Date,
                    text: slice(i, end),
                });
            }
            i = end;
            continue;
        }
        if let Some(claim) = claim_at(&toks, i) {
            if let Some(kind) = unbacked(&claim, facts) {
                violations.push(Violation {
                    kind,
                    text: slice(claim.start, claim.end),
                });
            }
            i = claim.end;
            continue;
        }
        i += 1;
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

/// Case-insensitive occurrences of `needle` in `hay` (char indices), optionally on word
/// boundaries.
fn occurrences(hay: &[char], needle: &str, words: bool) -> Vec<(usize, usize)> {
    let needle: Vec<char> = needle
        .trim()
        .chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect();
    let mut out = Vec::new();
    if needle.is_empty() || needle.len() > hay.len() {
        return out;
    }
    let mut s = 0;
    while s + needle.len() <= hay.len() {
        let e = s + needle.len();
        let boundary = !words
            || ((s == 0 || !hay[s - 1].is_alphanumeric())
                && hay.get(e).is_none_or(|c| !c.is_alphanumeric()));
        if hay[s..e] == needle[..] && boundary {
            out.push((s, e));
            s = e;
        } else {
            s += 1;
        }
    }
    out
}

fn mask(chars: &mut [char], lower: &[char], needle: &str, words: bool) {
    for (s, e) in occurrences(lower, needle, words) {
        for c in &mut chars[s..e] {
            *c = ' ';
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dates

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DateMention {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    /// Numeric day/month order is ambiguous (14/03 vs 03/14): accept either.
    ambiguous: bool,
}

fn int_of(t: &Token) -> Option<i64> {
    let n = t.number()?;
    let ordinal = matches!(n.suffix.as_str(), "st" | "nd" | "rd" | "th");
    if !(n.suffix.is_empty() || ordinal) || n.grouped {
        return None;
    }
    n.value.as_integer().and_then(|v| i64::try_from(v).ok())
}

fn day_of(t: &Token) -> Option<u32> {
    int_of(t)
        .filter(|d| (1..=31).contains(d))
        .and_then(|d| u32::try_from(d).ok())
}

fn year_of(t: &Token) -> Option<i32> {
    let n = t.number()?;
    if n.plain_digits != 4 || !n.suffix.is_empty() {
        return None;
    }
    n.value
        .as_integer()
        .filter(|y| (1900..=2200).contains(y))
        .and_then(|y| i32::try_from(y).ok())
}

fn month_of(t: &Token) -> Option<u32> {
    t.word().and_then(month_number)
}

/// A date starting at token `i` and the index after it.
fn date_at(toks: &[Token], i: usize) -> Option<(DateMention, usize)> {
    let t = toks.get(i)?;
    let at = |k: usize| toks.get(k);
    let year_after = |k: usize| -> Option<(i32, usize)> {
        let k2 = if at(k).is_some_and(|t| t.is_symbol(',')) {
            k + 1
        } else {
            k
        };
        at(k2).and_then(year_of).map(|y| (y, k2 + 1))
    };
    // "14.03.2027" scanned as one number token.
    if let Some(n) = t.number()
        && let Some(d) = dotted_date(&t.norm, n)
    {
        return Some((d, i + 1));
    }
    // Numeric with / or -: d/m/y, m/d/y, y-m-d.
    if t.number().is_some()
        && let (Some(s1), Some(b), Some(s2), Some(c)) = (at(i + 1), at(i + 2), at(i + 3), at(i + 4))
        && (s1.is_symbol('/') && s2.is_symbol('/') || s1.is_symbol('-') && s2.is_symbol('-'))
        && let (Some(x), Some(y), Some(z)) = (int_of(t), int_of(b), int_of(c))
    {
        let m = |v: i64| u32::try_from(v).ok().filter(|v| (1..=12).contains(v));
        let d = |v: i64| u32::try_from(v).ok().filter(|v| (1..=31).contains(v));
        let yr = |v: i64| i32::try_from(if v < 100 { v + 2000 } else { v }).ok();
        if year_of(t).is_some() {
            return Some((
                DateMention {
                    year: yr(x),
                    month: m(y),
                    day: d(z),
                    ambiguous: false,
                },
                i + 5,
            ));
        }
        return Some((
            DateMention {
                year: yr(z),
                month: m(y).or(m(x)),
                day: d(x).or(d(y)),
                ambiguous: true,
            },
            i + 5,
        ));
    }
    // "14 March 2027", "14th of March".
    if let Some(day) = day_of(t) {
        let k = if at(i + 1).is_some_and(|t| t.is_word("of")) {
            i + 2
        } else {
            i + 1
        };
        if let Some(month) = at(k).and_then(month_of) {
            let (year, end) = match at(k + 1).and_then(year_of) {
                Some(y) => (Some(y), k + 2),
                None => (None, k + 1),
            };
            return Some((
                DateMention {
                    year,
                    month: Some(month),
                    day: Some(day),
                    ambiguous: false,
                },
                end,
            ));
        }
    }
    // "March 14, 2027", "March 2027", "March 14".
    if let Some(month) = month_of(t) {
        if let Some(y) = at(i + 1).and_then(year_of) {
            return Some((
                DateMention {
                    year: Some(y),
                    month: Some(month),
                    day: None,
                    ambiguous: false,
                },
                i + 2,
            ));
        }
        if let Some(day) = at(i + 1).and_then(day_of) {
            let (year, end) = match year_after(i + 2) {
                Some((y, e)) => (Some(y), e),
                None => (None, i + 2),
            };
            return Some((
                DateMention {
                    year,
                    month: Some(month),
                    day: Some(day),
                    ambiguous: false,
                },
                end,
            ));
        }
    }
    None
}

fn dotted_date(norm: &str, n: &NumLit) -> Option<DateMention> {
    if !n.suffix.is_empty() {
        return None;
    }
    let parts: Vec<&str> = norm.split('.').collect();
    if parts.len() != 3
        || parts[0].len() > 2
        || parts[1].len() > 2
        || !(parts[2].len() == 4 || parts[2].len() == 2)
    {
        return None;
    }
    let day = parts[0]
        .parse::<u32>()
        .ok()
        .filter(|d| (1..=31).contains(d))?;
    let month = parts[1]
        .parse::<u32>()
        .ok()
        .filter(|m| (1..=12).contains(m))?;
    let y = parts[2].parse::<i32>().ok()?;
    Some(DateMention {
        year: Some(if y < 100 { y + 2000 } else { y }),
        month: Some(month),
        day: Some(day),
        ambiguous: false,
    })
}

fn date_backed(d: &DateMention, facts: &Facts) -> bool {
    facts.0.iter().any(|f| match f {
        Fact::Date { date, .. } => {
            let ok = |day: Option<u32>, month: Option<u32>| {
                d.year.is_none_or(|y| y == date.year())
                    && month.is_none_or(|m| m == date.month())
                    && day.is_none_or(|x| x == date.day())
            };
            ok(d.day, d.month) || (d.ambiguous && ok(d.month, d.day))
        }
        _ => false,
    })
}

// ---------------------------------------------------------------------------------------------
// Numbers, money and percentages

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClaimKind {
    Money(&'static str),
    Percent,
    Year,
    Number,
}

#[derive(Debug, Clone, Copy)]
struct Claim {
    kind: ClaimKind,
    value: Dec,
    /// The written precision: one unit of the last digit, times any multiplier.
    unit: Dec,
    ordinal: bool,
    start: usize,
    end: usize,
}

fn currency_of(t: &Token) -> Option<&'static str> {
    if matches!(t.kind, Kind::Number(_)) {
        return None;
    }
    Some(match t.norm.as_str() {
        "€" | "eur" | "euro" | "euros" => "EUR",
        "£" | "gbp" | "pound" | "pounds" => "GBP",
        "$" | "usd" | "dollar" | "dollars" => "USD",
        "chf" => "CHF",
        _ => return None,
    })
}

fn multiplier(w: &str) -> Option<i128> {
    match w {
        "k" | "thousand" => Some(1_000),
        "m" | "mn" | "million" => Some(1_000_000),
        "bn" | "billion" => Some(1_000_000_000),
        _ => None,
    }
}

/// A numeric claim starting at token `i`.
fn claim_at(toks: &[Token], i: usize) -> Option<Claim> {
    let t = toks.get(i)?;
    let (mut value, mut unit, mut end, mut ordinal, mut cur, words) = match &t.kind {
        Kind::Number(n) => {
            let unit = Dec {
                mant: 1,
                scale: n.value.scale,
            };
            let mut v = n.value;
            let mut u = unit;
            let mut ordinal = false;
            let mut cur = None;
            match n.suffix.as_str() {
                "" => {}
                "st" | "nd" | "rd" | "th" => ordinal = true,
                s => {
                    if let Some(k) = multiplier(s) {
                        v = v.mul_int(k)?;
                        u = u.mul_int(k)?;
                    } else if let Some(c) = currency_of(&Token {
                        start: 0,
                        end: 0,
                        norm: s.to_string(),
                        kind: Kind::Word,
                    }) {
                        cur = Some(c);
                    }
                    // Other glued letters ("10y", "4g") leave a plain number.
                }
            }
            (v, u, i + 1, ordinal, cur, false)
        }
        Kind::Word => {
            let w = t.norm.as_str();
            let starts = small_number(w).is_some()
                || matches!(
                    w,
                    "a" | "an" | "hundred" | "thousand" | "million" | "billion"
                );
            if !starts {
                return None;
            }
            let (v, e) = number_words(toks, i)?;
            if e == i + 1 && w == "one" {
                return None;
            }
            (v, Dec::int(1), e, false, None, true)
        }
        Kind::Symbol(_) => return None,
    };
    // "1.5 million", "20 k".
    if !words
        && t.number().is_some_and(|n| n.suffix.is_empty())
        && let Some(k) = toks.get(end).and_then(Token::word).and_then(multiplier)
    {
        value = value.mul_int(k)?;
        unit = unit.mul_int(k)?;
        end += 1;
    }
    let mut start = i;
    if cur.is_none() {
        if let Some(c) = toks.get(end).and_then(currency_of) {
            cur = Some(c);
            end += 1;
        } else if let Some(c) = i
            .checked_sub(1)
            .and_then(|k| toks.get(k))
            .and_then(currency_of)
        {
            cur = Some(c);
            start = i - 1;
        }
    }
    // A minus sign glued to the front.
    if let Some(k) = start.checked_sub(1)
        && toks[k].is_symbol('-')
        && toks[k].end == toks[start].start
        && !k
            .checked_sub(1)
            .is_some_and(|p| toks[p].number().is_some() && toks[p].end == toks[k].start)
    {
        value = Dec {
            mant: -value.mant,
            scale: value.scale,
        };
        start = k;
    }
    let percent = toks.get(end).is_some_and(|t| t.is_symbol('%'))
        || toks.get(end).is_some_and(|t| t.is_word("percent"))
        || (toks.get(end).is_some_and(|t| t.is_word("per"))
            && toks.get(end + 1).is_some_and(|t| t.is_word("cent")));
    let kind = if let Some(c) = cur {
        ClaimKind::Money(c)
    } else if percent {
        end += if toks.get(end).is_some_and(|t| t.is_word("per")) {
            2
        } else {
            1
        };
        ClaimKind::Percent
    } else if !words && year_of(t).is_some() {
        ClaimKind::Year
    } else {
        ClaimKind::Number
    };
    if ordinal && kind != ClaimKind::Number {
        ordinal = false;
    }
    Some(Claim {
        kind,
        value,
        unit,
        ordinal,
        start,
        end,
    })
}

/// |a − b| ≤ unit / 2, exactly.
fn within(a: Dec, b: Dec, unit: Dec) -> bool {
    let diff = match a.add(Dec {
        mant: -b.mant,
        scale: b.scale,
    }) {
        Some(d) => Dec {
            mant: d.mant.abs(),
            scale: d.scale,
        },
        None => return false,
    };
    match diff.mul_int(2) {
        Some(twice) => twice.cmp_value(unit).is_le(),
        None => false,
    }
}

fn dec_of_f64(v: f64) -> Option<Dec> {
    if !v.is_finite() || v.abs() > 1e15 {
        return None;
    }
    // Percent values: 9 decimals is far below any written precision.
    let mant = (v * 1e9).round() as i128;
    Some(Dec { mant, scale: 9 })
}

/// None when backed; otherwise the violation kind.
fn unbacked(c: &Claim, facts: &Facts) -> Option<ViolationKind> {
    let money_major = |minor: i64| Dec {
        mant: i128::from(minor),
        scale: 2,
    };
    let number_ok = |v: Dec| {
        facts.0.iter().any(|f| match f {
            Fact::Count { n, .. } => within(Dec::int(i128::from(*n)), v, c.unit),
            Fact::Months { n, .. } => {
                within(Dec::int(i128::from(*n)), v, c.unit)
                    || (n % 12 == 0 && within(Dec::int(i128::from(n / 12)), v, c.unit))
            }
            Fact::Money { minor, .. } => within(money_major(*minor), v, c.unit),
            Fact::Percent { value, .. } => dec_of_f64(*value).is_some_and(|p| within(p, v, c.unit)),
            Fact::Date { date, .. } => {
                (c.ordinal && v.as_integer() == Some(i128::from(date.day())))
                    || v.as_integer() == Some(i128::from(date.year()))
            }
            _ => false,
        })
    };
    match c.kind {
        ClaimKind::Money(cur) => {
            let ok = facts.0.iter().any(|f| match f {
                Fact::Money {
                    minor, currency, ..
                } => currency == cur && within(money_major(*minor), c.value, c.unit),
                _ => false,
            });
            (!ok).then_some(ViolationKind::Money)
        }
        ClaimKind::Percent => {
            let ok = facts.0.iter().any(|f| match f {
                Fact::Percent { value, .. } => {
                    dec_of_f64(*value).is_some_and(|p| within(p, c.value, c.unit))
                }
                _ => false,
            });
            (!ok).then_some(ViolationKind::Percent)
        }
        ClaimKind::Year => {
            let ok = facts.0.iter().any(|f| match f {
                Fact::Date { date, .. } => c.value.as_integer() == Some(i128::from(date.year())),
                _ => false,
            }) || number_ok(c.value);
            (!ok).then_some(ViolationKind::Date)
        }
        ClaimKind::Number => (!number_ok(c.value)).then_some(ViolationKind::Number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn names() -> Vec<String> {
        [
            "Gold Card",
            "Goal Saver",
            "Platinum Travel Card",
            "Portfolio Balanced",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn facts() -> Facts {
        Facts::new()
            .money("target", 123_400, "EUR")
            .money("monthly", 41_250, "EUR")
            .percent("rate", 3.5, 1)
            .months("horizon", 36)
            .count("payments", 12)
            .date(
                "target_date",
                NaiveDate::from_ymd_opt(2030, 3, 14).expect("date"),
            )
            .product("product", "P-SAV-GOAL", "Goal Saver")
            .text("reference", "case C-20931")
    }

    fn kinds(text: &str) -> Vec<ViolationKind> {
        match guard(text, &facts(), &names()) {
            Ok(()) => vec![],
            Err(v) => v.into_iter().map(|v| v.kind).collect(),
        }
    }

    #[test]
    fn normalised_values_pass() {
        for ok in [
            "You need €1,234 by 14 March 2030.",
            "That is 1234 EUR, or 1,234.00 euros.",
            "Pay €412.50 a month into the Goal Saver.",
            "The rate is 3.50% and the rate is 3.5 percent.",
            "Over 36 months, that is 3 years.",
            "You made 12 payments, twelve in all.",
            "By March 2030, or 14/03/2030, or 2030-03-14, or 14.03.2030 or March 14, 2030.",
            "Your case C-20931 is open. One moment, a colleague will help.",
            "We aim for 2030.",
        ] {
            assert_eq!(kinds(ok), vec![], "{ok}");
        }
    }

    #[test]
    fn hallucinations_fail() {
        assert_eq!(
            kinds("You will earn 5% a year."),
            vec![ViolationKind::Percent]
        );
        assert_eq!(kinds("You need €1,300."), vec![ViolationKind::Money]);
        assert_eq!(kinds("You need £1,234."), vec![ViolationKind::Money]);
        assert_eq!(
            kinds("Try the Platinum Travel Card."),
            vec![ViolationKind::Product]
        );
        assert_eq!(kinds("by 15 March 2030"), vec![ViolationKind::Date]);
        assert_eq!(kinds("by 2031"), vec![ViolationKind::Date]);
        assert_eq!(kinds("in eighteen months"), vec![ViolationKind::Number]);
        assert_eq!(kinds("about 20k in total"), vec![ViolationKind::Number]);
        assert_eq!(kinds("You save -€412.50"), vec![ViolationKind::Money]);
        assert_eq!(kinds("on 2030-04-14"), vec![ViolationKind::Date]);
    }

    #[test]
    fn reports_the_words() {
        let err = guard("Earn 7.25% with the Gold Card.", &facts(), &names())
            .expect_err("two violations");
        let texts: Vec<&str> = err.iter().map(|v| v.text.as_str()).collect();
        assert!(texts.contains(&"7.25%"), "{texts:?}");
        assert!(texts.contains(&"Gold Card"), "{texts:?}");
    }
}
