//! Entity extraction from one customer utterance: money amounts, a goal horizon, a spending
//! period, spending categories, products (catalog ids and generic families) and the kind of
//! savings goal. Pure and rule based; `today` is a parameter so results are reproducible.
//!
//! Conventions (documented because callers and the eval rely on them):
//! - Amounts: "€20,000", "20k", "20 000 EUR", "EUR 1.5m", "30k euros", "15 grand", "£300" (GBP),
//!   "twenty thousand". A bare number without a currency or multiplier counts only when it is at
//!   least 100 or follows a money verb ("save 50"), and never when it is a year, part of a date or
//!   time, a percentage, a duration or longer than eight digits (account numbers). Default
//!   currency is EUR. Minor units are the value × 100 rounded half away from zero.
//! - Horizons: "in 3 years" (36), "within 18 months", "over the next two years", "a year and a
//!   half" (18), "in a decade" (120), "next year" (12), "by 2030" = (2030 − this year) × 12
//!   months, "by June 2028" = whole months from this month to June 2028, "by March" = months
//!   to the next March. Durations under 15 days ("in one day") are not horizons.
//! - Periods (inclusive dates): "last month" = the previous calendar month; "this month" = the
//!   1st to today; "last 3 months" = a rolling window ending today (today − 3 months + 1 day to
//!   today); "last week" = the previous Monday–Sunday; "this week" = Monday to today; "this year"
//!   = 1 January to today; "last year" = the previous calendar year; "yesterday", "today";
//!   "in March" = the most recent March not in the future (to today if it is the current month);
//!   "March 2025" = that month; "since March" = its 1st to today; "in 2025" (a past year) = that
//!   year; "3 months ago" = that calendar month.
//! - Products: a catalog product is recognised when all the words of its name (lower-cased,
//!   "10y" read as "10 year", plurals folded, the filler "rate" optional) occur within a window
//!   one word longer than the name, in any order ("gold credit card" → Gold Card, "10-year fixed
//!   mortgage" → Fixed-Rate Mortgage 10y), or by its id. Generic words ("credit card",
//!   "savings account", "invest") only give a [`ProductFamily`] in `families`.

use crate::text::{
    Dec, Kind, Token, month_number, number_words, phrase_at, phrase_len, scale_word, small_number,
    tokenize,
};
use chrono::{Datelike, Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use sextant_core::{Category, ProductFamily};

/// Everything found in one utterance.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Entities {
    pub amounts: Vec<Amount>,
    pub horizon_months: Option<u32>,
    pub period: Option<Period>,
    pub categories: Vec<Category>,
    /// Catalog product ids, in order of mention.
    pub products: Vec<String>,
    /// Product families mentioned generically or through a named product.
    pub families: Vec<ProductFamily>,
    pub goal: Option<GoalKind>,
}

/// A money amount as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    pub minor: i64,
    /// ISO 4217 code; "EUR" when the text names none.
    pub currency: String,
    /// The words in the utterance, e.g. "€20,000".
    pub text: String,
}

/// A date range, both ends inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// How the customer said it, e.g. "last month".
    pub label: String,
}

/// The kind of savings goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalKind {
    House,
    Car,
    Wedding,
    Education,
    Travel,
    EmergencyFund,
    Retirement,
    Baby,
    Other,
}

impl GoalKind {
    pub const ALL: [GoalKind; 9] = [
        GoalKind::House,
        GoalKind::Car,
        GoalKind::Wedding,
        GoalKind::Education,
        GoalKind::Travel,
        GoalKind::EmergencyFund,
        GoalKind::Retirement,
        GoalKind::Baby,
        GoalKind::Other,
    ];

    /// The serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            GoalKind::House => "house",
            GoalKind::Car => "car",
            GoalKind::Wedding => "wedding",
            GoalKind::Education => "education",
            GoalKind::Travel => "travel",
            GoalKind::EmergencyFund => "emergency_fund",
            GoalKind::Retirement => "retirement",
            GoalKind::Baby => "baby",
            GoalKind::Other => "other",
        }
    }

    /// Plain words for messages and charts: "house deposit", "emergency fund", ...
    pub fn label(self) -> &'static str {
        match self {
            GoalKind::House => "house deposit",
            GoalKind::Car => "car",
            GoalKind::Wedding => "wedding",
            GoalKind::Education => "education",
            GoalKind::Travel => "travel",
            GoalKind::EmergencyFund => "emergency fund",
            GoalKind::Retirement => "retirement",
            GoalKind::Baby => "baby",
            GoalKind::Other => "savings",
        }
    }
}

/// A catalog product as the extractor needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRef {
    pub id: String,
    pub name: String,
    pub family: ProductFamily,
}

/// Extract all entities from `text`. Never fails: what is not understood is left out.
pub fn extract(text: &str, today: NaiveDate, catalog: &[ProductRef]) -> Entities {
    let toks = tokenize(text);
    let mut used = vec![false; toks.len()];
    let horizon_months = find_horizon(&toks, today, &mut used);
    let period = find_period(&toks, today, &mut used);
    let amounts = find_amounts(text, &toks, &mut used);
    let words: Vec<Token> = toks
        .iter()
        .filter(|t| !matches!(t.kind, Kind::Symbol(_)))
        .cloned()
        .collect();
    let categories = find_table(&words, CATEGORY_PHRASES);
    let goal = find_table(&words, GOAL_PHRASES)
        .first()
        .copied()
        .or_else(|| {
            GOAL_CUES
                .iter()
                .any(|c| has_phrase(&words, c))
                .then_some(GoalKind::Other)
        });
    let products = find_products(text, &words, catalog);
    let mut families = find_table(&words, FAMILY_PHRASES);
    for id in &products {
        if let Some(p) = catalog.iter().find(|p| &p.id == id)
            && !families.contains(&p.family)
        {
            families.push(p.family);
        }
    }
    Entities {
        amounts,
        horizon_months,
        period,
        categories,
        products,
        families,
        goal,
    }
}

fn has_phrase(words: &[Token], phrase: &str) -> bool {
    (0..words.len()).any(|i| phrase_at(words, i, phrase))
}

/// Longest-first, non-overlapping phrase lookup; values deduplicated in order of mention.
fn find_table<T: Copy + PartialEq>(words: &[Token], table: &[(&str, T)]) -> Vec<T> {
    let mut sorted: Vec<&(&str, T)> = table.iter().collect();
    sorted.sort_by_key(|(p, _)| std::cmp::Reverse(phrase_len(p)));
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        match sorted.iter().find(|(p, _)| phrase_at(words, i, p)) {
            Some((p, v)) => {
                if !out.contains(v) {
                    out.push(*v);
                }
                i += phrase_len(p);
            }
            None => i += 1,
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Durations, horizons and periods

#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    Day,
    Week,
    Month,
    Quarter,
    Year,
    Decade,
}

impl Unit {
    fn months(self) -> f64 {
        match self {
            Unit::Day => 12.0 / 365.25,
            Unit::Week => 12.0 / 52.0,
            Unit::Month => 1.0,
            Unit::Quarter => 3.0,
            Unit::Year => 12.0,
            Unit::Decade => 120.0,
        }
    }
}

fn unit_word(w: &str) -> Option<Unit> {
    let w = w.strip_suffix("'s").unwrap_or(w);
    Some(match w {
        "day" | "days" => Unit::Day,
        "week" | "weeks" | "wk" | "wks" | "w" => Unit::Week,
        "month" | "months" | "mo" | "mos" | "mth" | "mths" | "mon" => Unit::Month,
        "quarter" | "quarters" => Unit::Quarter,
        "year" | "years" | "yr" | "yrs" | "y" | "yrs." => Unit::Year,
        "decade" | "decades" => Unit::Decade,
        _ => return None,
    })
}

/// A quantity of time units starting at token `i`: "3 years", "eighteen months", "a year and a
/// half", "18-month", "3yrs", "a couple of years". Returns (quantity, unit, index after).
fn duration_at(toks: &[Token], i: usize) -> Option<(f64, Unit, usize)> {
    let t = toks.get(i)?;
    let (mut qty, mut j) = match &t.kind {
        Kind::Number(n) => {
            let q = n.value.as_f64();
            if !n.suffix.is_empty() {
                let unit = unit_word(&n.suffix)?;
                return Some(with_half(toks, i + 1, q, unit));
            }
            (q, i + 1)
        }
        Kind::Word => {
            if phrase_at(toks, i, "a couple of") {
                (2.0, i + 3)
            } else if phrase_at(toks, i, "couple of") || phrase_at(toks, i, "a couple") {
                (2.0, i + 2)
            } else if phrase_at(toks, i, "a few") {
                (3.0, i + 2)
            } else if t.norm == "few" || t.norm == "several" {
                (3.0, i + 1)
            } else if phrase_at(toks, i, "half a") || phrase_at(toks, i, "half an") {
                (0.5, i + 2)
            } else if t.norm == "a" || t.norm == "an" || t.norm == "one" {
                (1.0, i + 1)
            } else if small_number(&t.norm).is_some() {
                let (v, end) = number_words(toks, i)?;
                (v.as_f64(), end)
            } else {
                return None;
            }
        }
        Kind::Symbol(_) => return None,
    };
    if phrase_at(toks, j, "and a half") {
        qty += 0.5;
        j += 3;
    }
    if toks.get(j).is_some_and(|t| t.is_symbol('-')) {
        j += 1;
    }
    let unit = unit_word(toks.get(j)?.word()?)?;
    Some(with_half(toks, j + 1, qty, unit))
}

fn with_half(toks: &[Token], j: usize, qty: f64, unit: Unit) -> (f64, Unit, usize) {
    if phrase_at(toks, j, "and a half") {
        (qty + 0.5, unit, j + 3)
    } else {
        (qty, unit, j)
    }
}

fn months_of(qty: f64, unit: Unit) -> Option<u32> {
    let m = (qty * unit.months()).round();
    if !(m.is_finite() && (0.0..=12_000.0).contains(&m)) {
        return None;
    }
    // A positive duration shorter than half a month still counts as one month.
    let m = if m == 0.0 && qty > 0.0 { 1.0 } else { m };
    u32::try_from(m as i64).ok()
}

/// A plain four-digit year in 1900..=2200.
fn year_at(toks: &[Token], i: usize) -> Option<i32> {
    let n = toks.get(i)?.number()?;
    if n.plain_digits != 4 || !(n.suffix.is_empty() || n.suffix == "s") {
        return None;
    }
    let y = n.value.as_integer()?;
    (1900..=2200).contains(&y).then(|| i32::try_from(y).ok())?
}

fn mark(used: &mut [bool], from: usize, to: usize) {
    for u in used.iter_mut().take(to).skip(from) {
        *u = true;
    }
}

const HORIZON_PREPS: &[&str] = &[
    "in", "within", "over", "inside", "next", "for", "after", "than", "under", "about",
];
const FILLERS: &[&str] = &[
    "the",
    "about",
    "around",
    "roughly",
    "approximately",
    "approx",
    "maybe",
    "like",
    "just",
    "only",
    "another",
    "less",
    "more",
    "max",
    "maximum",
    "at",
    "most",
    "some",
    "of",
];
const PERIOD_PREPS: &[&str] = &["last", "past", "previous", "prior"];
const YEAR_PREPS: &[&str] = &[
    "by", "before", "until", "till", "til", "in", "around", "for",
];
const YEAR_FILLERS: &[&str] = &[
    "the",
    "end",
    "of",
    "start",
    "beginning",
    "early",
    "late",
    "mid",
    "summer",
    "winter",
    "spring",
    "autumn",
    "fall",
    "christmas",
    "-",
    "middle",
    "latest",
];

fn find_horizon(toks: &[Token], today: NaiveDate, used: &mut [bool]) -> Option<u32> {
    for i in 0..toks.len() {
        if used[i] {
            continue;
        }
        // "next year" / "next month" (but not "last ... next"), "this time next year".
        if phrase_at(toks, i, "next year") {
            mark(used, i, i + 2);
            return Some(12);
        }
        if phrase_at(toks, i, "next month") {
            mark(used, i, i + 2);
            return Some(1);
        }
        if let Some((qty, unit, end)) = duration_at(toks, i) {
            // Look back over fillers for a preposition.
            let mut k = i;
            let mut prep: Option<&str> = None;
            while k > 0 {
                k -= 1;
                let w = toks[k].norm.as_str();
                if HORIZON_PREPS.contains(&w) || PERIOD_PREPS.contains(&w) {
                    prep = Some(w);
                    break;
                }
                if !FILLERS.contains(&w) && w != "~" {
                    break;
                }
            }
            let period_like = prep.is_some_and(|p| PERIOD_PREPS.contains(&p))
                || toks.get(end).is_some_and(|t| t.is_word("ago"))
                || toks.get(end).is_some_and(|t| t.is_word("old"))
                || (toks.get(end).is_some_and(|t| t.is_word("of"))
                    && toks.get(end + 1).is_some_and(|t| t.is_word("age")));
            let after = |p: &str| phrase_at(toks, end, p);
            let trailing = after("from now")
                || after("time")
                || after("away")
                || after("to save")
                || after("to go")
                || after("left")
                || after("plan")
                || after("goal")
                || after("horizon")
                || after("timeline")
                || after("timeframe")
                || after("target")
                || after("or so");
            // A few days is a delivery time, not a savings horizon.
            let too_short = unit == Unit::Day && qty < 15.0;
            if !period_like
                && !too_short
                && (prep.is_some() || trailing)
                && let Some(m) = months_of(qty, unit)
                && m > 0
            {
                mark(used, i, end);
                return Some(m);
            }
        }
        // "by 2030", "by the end of 2030", "in 2031", "by June 2028", "by March".
        if let Some(w) = toks[i].word()
            && YEAR_PREPS.contains(&w)
        {
            let mut j = i + 1;
            let mut month: Option<u32> = None;
            while let Some(t) = toks.get(j) {
                if let Some(m) = t.word().and_then(month_number) {
                    month = Some(m);
                } else if !YEAR_FILLERS.contains(&t.norm.as_str()) {
                    break;
                }
                j += 1;
                if j > i + 6 {
                    break;
                }
            }
            let this_year = today.year();
            if let Some(y) = year_at(toks, j) {
                let future =
                    y > this_year || (y == this_year && month.is_some_and(|m| m > today.month()));
                if !future || (w == "in" && y <= this_year) {
                    continue;
                }
                let months = match month {
                    Some(m) => {
                        (y - this_year) * 12 + i32::try_from(m).unwrap_or(1)
                            - i32::try_from(today.month()).unwrap_or(1)
                    }
                    None => (y - this_year) * 12,
                };
                if months > 0 {
                    mark(used, i, j + 1);
                    return u32::try_from(months).ok();
                }
            } else if let Some(m) = month
                && matches!(w, "by" | "before" | "until" | "till" | "til")
                && j > i + 1
            {
                let diff = (i32::try_from(m).unwrap_or(1)
                    - i32::try_from(today.month()).unwrap_or(1))
                .rem_euclid(12);
                mark(used, i, j);
                return u32::try_from(if diff == 0 { 12 } else { diff }).ok();
            }
        }
    }
    None
}

fn month_start(y: i32, m: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, 1)
}

fn month_end(y: i32, m: u32) -> Option<NaiveDate> {
    month_start(y, m)?
        .checked_add_months(Months::new(1))?
        .checked_sub_days(Days::new(1))
}

fn monday_of(d: NaiveDate) -> Option<NaiveDate> {
    d.checked_sub_days(Days::new(u64::from(d.weekday().num_days_from_monday())))
}

fn period(from: Option<NaiveDate>, to: Option<NaiveDate>, label: String) -> Option<Period> {
    let (from, to) = (from?, to?);
    (from <= to).then_some(Period { from, to, label })
}

fn label_of(toks: &[Token], from: usize, to: usize) -> String {
    let to = to.min(toks.len());
    toks[from.min(to)..to]
        .iter()
        .map(|t| t.norm.as_str())
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" - ", "-")
}

/// A rolling window of `n` units ending today.
fn rolling(today: NaiveDate, qty: f64, unit: Unit) -> Option<NaiveDate> {
    let n = qty.round();
    if !(1.0..=1200.0).contains(&n) {
        return None;
    }
    let n = n as u32;
    let start = match unit {
        Unit::Day => today.checked_sub_days(Days::new(u64::from(n)))?,
        Unit::Week => today.checked_sub_days(Days::new(7 * u64::from(n)))?,
        Unit::Month => today.checked_sub_months(Months::new(n))?,
        Unit::Quarter => today.checked_sub_months(Months::new(3 * n))?,
        Unit::Year => today.checked_sub_months(Months::new(12 * n))?,
        Unit::Decade => today.checked_sub_months(Months::new(120 * n))?,
    };
    start.checked_add_days(Days::new(1))
}

fn find_period(toks: &[Token], today: NaiveDate, used: &mut [bool]) -> Option<Period> {
    let (y, m) = (today.year(), today.month());
    for i in 0..toks.len() {
        if used[i] {
            continue;
        }
        let w = toks[i].norm.as_str();
        let found: Option<(Period, usize)> = (|| {
            match w {
                "yesterday" => {
                    let d = today.checked_sub_days(Days::new(1));
                    return Some((period(d, d, "yesterday".into())?, i + 1));
                }
                "today" => return Some((period(Some(today), Some(today), "today".into())?, i + 1)),
                _ => {}
            }
            if PERIOD_PREPS.contains(&w) {
                let next = toks.get(i + 1).map(|t| t.norm.as_str());
                let lbl = |n: usize| label_of(toks, i, n);
                match next {
                    Some("month") => {
                        let prev = today.checked_sub_months(Months::new(1))?;
                        let p = period(
                            month_start(prev.year(), prev.month()),
                            month_end(prev.year(), prev.month()),
                            lbl(i + 2),
                        )?;
                        return Some((p, i + 2));
                    }
                    Some("week") => {
                        let this_monday = monday_of(today)?;
                        let from = this_monday.checked_sub_days(Days::new(7));
                        let to = this_monday.checked_sub_days(Days::new(1));
                        return Some((period(from, to, lbl(i + 2))?, i + 2));
                    }
                    Some("year") => {
                        let p = period(
                            NaiveDate::from_ymd_opt(y - 1, 1, 1),
                            NaiveDate::from_ymd_opt(y - 1, 12, 31),
                            lbl(i + 2),
                        )?;
                        return Some((p, i + 2));
                    }
                    Some("quarter") => {
                        let q_start = (m - 1) / 3 * 3 + 1;
                        let this_q = month_start(y, q_start)?;
                        let from = this_q.checked_sub_months(Months::new(3));
                        let to = this_q.checked_sub_days(Days::new(1));
                        return Some((period(from, to, lbl(i + 2))?, i + 2));
                    }
                    _ => {}
                }
                if let Some(mm) = next.and_then(month_number) {
                    // "last March": the most recent March strictly before this month.
                    let yy = if mm < m { y } else { y - 1 };
                    let p = period(month_start(yy, mm), month_end(yy, mm), lbl(i + 2))?;
                    return Some((p, i + 2));
                }
                // "last 3 months", "past two weeks", "the last 90 days".
                if let Some((qty, unit, end)) = duration_at(toks, i + 1) {
                    let from = rolling(today, qty, unit);
                    return Some((period(from, Some(today), lbl(end))?, end));
                }
            }
            match w {
                "this" | "current" => {
                    let next = toks.get(i + 1).map(|t| t.norm.as_str());
                    let lbl = label_of(toks, i, i + 2);
                    let from = match next {
                        Some("month") => month_start(y, m),
                        Some("week") => monday_of(today),
                        Some("year") => NaiveDate::from_ymd_opt(y, 1, 1),
                        Some("quarter") => month_start(y, (m - 1) / 3 * 3 + 1),
                        _ => None,
                    };
                    return Some((period(from, Some(today), lbl)?, i + 2));
                }
                "ytd" => {
                    let p = period(
                        NaiveDate::from_ymd_opt(y, 1, 1),
                        Some(today),
                        "this year".into(),
                    )?;
                    return Some((p, i + 1));
                }
                _ => {}
            }
            if phrase_at(toks, i, "year to date") {
                let p = period(
                    NaiveDate::from_ymd_opt(y, 1, 1),
                    Some(today),
                    "this year".into(),
                )?;
                return Some((p, i + 3));
            }
            if phrase_at(toks, i, "month to date") {
                let p = period(month_start(y, m), Some(today), "this month".into())?;
                return Some((p, i + 3));
            }
            // "3 months ago": that calendar month (or week / day / year).
            if let Some((qty, unit, end)) = duration_at(toks, i)
                && toks.get(end).is_some_and(|t| t.is_word("ago"))
            {
                let n = qty.round();
                if !(1.0..=1200.0).contains(&n) {
                    return None;
                }
                let n = n as u32;
                let lbl = label_of(toks, i, end + 1);
                let p = match unit {
                    Unit::Month => {
                        let d = today.checked_sub_months(Months::new(n))?;
                        period(
                            month_start(d.year(), d.month()),
                            month_end(d.year(), d.month()),
                            lbl,
                        )?
                    }
                    Unit::Week => {
                        let mon =
                            monday_of(today)?.checked_sub_days(Days::new(7 * u64::from(n)))?;
                        period(Some(mon), mon.checked_add_days(Days::new(6)), lbl)?
                    }
                    Unit::Day => {
                        let d = today.checked_sub_days(Days::new(u64::from(n)));
                        period(d, d, lbl)?
                    }
                    Unit::Year | Unit::Decade | Unit::Quarter => {
                        let yy = y - i32::try_from(n).ok()?;
                        period(
                            NaiveDate::from_ymd_opt(yy, 1, 1),
                            NaiveDate::from_ymd_opt(yy, 12, 31),
                            lbl,
                        )?
                    }
                };
                return Some((p, end + 1));
            }
            // Month names: "in March", "March 2025", "since February", "during may".
            if let Some(mm) = month_number(w) {
                let prev = i.checked_sub(1).map(|k| toks[k].norm.as_str());
                let prep = prev.filter(|p| {
                    matches!(
                        *p,
                        "in" | "during"
                            | "for"
                            | "since"
                            | "from"
                            | "over"
                            | "on"
                            | "of"
                            | "throughout"
                    )
                });
                let year = year_at(toks, i + 1);
                let short = w.len() <= 4 && w != "june" && w != "july";
                if prep.is_none() && year.is_none() && (w == "may" || short) {
                    return None;
                }
                let since = prep == Some("since") || prep == Some("from");
                let (yy, end) = match year {
                    Some(yy) => (yy, i + 2),
                    None => (if mm <= m { y } else { y - 1 }, i + 1),
                };
                if (yy, mm) > (y, m) {
                    return None;
                }
                let start = i.saturating_sub(usize::from(prep.is_some()));
                let lbl = label_of(toks, start, end);
                let to = if since {
                    Some(today)
                } else {
                    month_end(yy, mm).map(|e| e.min(today))
                };
                return Some((period(month_start(yy, mm), to, lbl)?, end));
            }
            // "in 2025" / "during 2024" / "since 2023" for a past or current year.
            if matches!(w, "in" | "during" | "for" | "since" | "throughout")
                && let Some(yy) = year_at(toks, i + 1)
                && yy <= y
            {
                let lbl = label_of(toks, i, i + 2);
                let from = NaiveDate::from_ymd_opt(yy, 1, 1);
                let to = if w == "since" || yy == y {
                    Some(today)
                } else {
                    NaiveDate::from_ymd_opt(yy, 12, 31)
                };
                return Some((period(from, to, lbl)?, i + 2));
            }
            None
        })();
        if let Some((p, end)) = found {
            mark(used, i, end);
            return Some(p);
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Amounts

fn currency_word(w: &str) -> Option<&'static str> {
    Some(match w {
        "€" | "eur" | "euro" | "euros" => "EUR",
        "£" | "gbp" | "pound" | "pounds" | "quid" | "sterling" => "GBP",
        "$" | "usd" | "dollar" | "dollars" | "bucks" => "USD",
        "chf" => "CHF",
        _ => return None,
    })
}

/// Multiplier words or glued suffixes: k / thousand / grand, m / million, bn / billion.
fn multiplier(w: &str) -> Option<i128> {
    Some(match w {
        "k" | "thousand" | "grand" | "thou" => 1_000,
        "m" | "mn" | "mil" | "mio" | "million" | "mln" => 1_000_000,
        "bn" | "b" | "billion" => 1_000_000_000,
        _ => return None,
    })
}

const MONEY_VERBS: &[&str] = &[
    "save",
    "saved",
    "saving",
    "spend",
    "spent",
    "spending",
    "budget",
    "cost",
    "costs",
    "need",
    "needs",
    "pay",
    "paid",
    "paying",
    "borrow",
    "borrowing",
    "afford",
    "put",
    "aside",
    "target",
    "invest",
    "deposit",
    "transfer",
    "withdraw",
    "earn",
    "earning",
    "charged",
    "lend",
    "owe",
    "get",
    "have",
    "about",
    "around",
    "roughly",
    "of",
    "over",
    "under",
    "than",
    "is",
    "was",
];

const NOT_MONEY_AFTER: &[&str] = &[
    "years",
    "year",
    "months",
    "month",
    "weeks",
    "week",
    "days",
    "day",
    "decades",
    "decade",
    "times",
    "x",
    "people",
    "kids",
    "children",
    "cards",
    "accounts",
    "transactions",
    "payments",
    "percent",
    "pct",
    "am",
    "pm",
    "o'clock",
    "hours",
    "minutes",
    "mins",
    "yrs",
    "yr",
    "year-old",
    "old",
    "items",
    "apps",
    "sqm",
    "m2",
    "km",
    "miles",
];

fn find_amounts(text: &str, toks: &[Token], used: &mut [bool]) -> Vec<Amount> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if used[i] {
            i += 1;
            continue;
        }
        if let Some((amount, start, end)) = amount_at(text, toks, i, used) {
            mark(used, start, end);
            out.push(amount);
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

fn amount_at(
    text: &str,
    toks: &[Token],
    i: usize,
    used: &[bool],
) -> Option<(Amount, usize, usize)> {
    let t = &toks[i];
    let is_currency_tok = |k: usize| {
        toks.get(k)
            .filter(|t| !matches!(t.kind, Kind::Number(_)))
            .and_then(|t| currency_word(&t.norm))
    };
    // Value, index after the number, whether written as words, whether a multiplier was seen.
    let (mut value, mut j, words, mut scaled, mut currency): (
        Dec,
        usize,
        bool,
        bool,
        Option<&str>,
    ) = match &t.kind {
        Kind::Number(n) => {
            let mut v = n.value;
            let mut scaled = false;
            let mut cur = None;
            if !n.suffix.is_empty() {
                if let Some(k) = multiplier(&n.suffix) {
                    v = v.mul_int(k)?;
                    scaled = true;
                } else if let Some(c) = currency_word(&n.suffix) {
                    cur = Some(c);
                } else if let Some((mult, cur_part)) = split_suffix(&n.suffix) {
                    v = v.mul_int(mult)?;
                    scaled = true;
                    cur = Some(cur_part);
                } else {
                    return None; // 5th, 10y, 4g, 3pm ...
                }
            }
            (v, i + 1, false, scaled, cur)
        }
        Kind::Word if phrase_at(toks, i, "half a million") || phrase_at(toks, i, "half a mil") => {
            (Dec::int(500_000), i + 3, true, true, None)
        }
        Kind::Word => {
            let (v, end) = number_words(toks, i)?;
            let scaled = toks[i..end]
                .iter()
                .any(|t| t.norm == "hundred" || scale_word(&t.norm).is_some());
            (v, end, true, scaled, None)
        }
        Kind::Symbol(_) => return None,
    };
    // "1.5 million", "20 k", "15 grand".
    if !scaled
        && let Some(k) = toks.get(j).and_then(|t| t.word()).and_then(multiplier)
        && !(words && scale_word(&toks[j].norm).is_some())
    {
        value = value.mul_int(k)?;
        scaled = true;
        j += 1;
    }
    // Percentages are not money.
    if toks.get(j).is_some_and(|t| t.is_symbol('%'))
        || phrase_at(toks, j, "per cent")
        || toks
            .get(j)
            .is_some_and(|t| t.is_word("percent") || t.is_word("pct"))
    {
        return None;
    }
    let mut start = i;
    let mut end = j;
    if currency.is_none() {
        if let Some(c) = is_currency_tok(j) {
            currency = Some(c);
            end = j + 1;
        } else if i > 0
            && !used[i - 1]
            && let Some(c) = is_currency_tok(i - 1)
        {
            currency = Some(c);
            start = i - 1;
        }
    }
    let next_word = toks.get(end).map(|t| t.norm.as_str());
    if currency.is_none() && !scaled {
        let plain = t.number();
        // Bare numbers: years, dates, times, durations, ids and small counts are not money.
        let is_year = plain.is_some_and(|n| {
            n.plain_digits == 4
                && n.value
                    .as_integer()
                    .is_some_and(|y| (1900..=2200).contains(&y))
        });
        let long_id = plain.is_some_and(|n| n.plain_digits >= 9);
        let near = |k: Option<usize>| {
            k.and_then(|k| toks.get(k)).is_some_and(|t| {
                t.is_symbol('/')
                    || t.is_symbol(':')
                    || t.is_symbol('#')
                    || t.word().and_then(month_number).is_some()
            })
        };
        let date_like = near(i.checked_sub(1)) || near(Some(j));
        let unit_after = next_word
            .is_some_and(|w| NOT_MONEY_AFTER.contains(&w) || unit_word(w).is_some())
            || toks.get(end).is_some_and(|t| t.is_symbol('-'))
                && toks
                    .get(end + 1)
                    .and_then(Token::word)
                    .is_some_and(|w| unit_word(w).is_some());
        if words || is_year || long_id || date_like || unit_after {
            return None;
        }
        let big = value.cmp_value(Dec::int(100)).is_ge();
        let verb_before = (1..=2).any(|d| {
            i.checked_sub(d)
                .and_then(|k| toks.get(k))
                .and_then(Token::word)
                .is_some_and(|w| MONEY_VERBS.contains(&w))
        });
        if !(big || verb_before) {
            return None;
        }
    } else if currency.is_none() && words {
        // "twenty thousand" is money; "two hundred years" is not.
        if next_word.is_some_and(|w| NOT_MONEY_AFTER.contains(&w) || unit_word(w).is_some()) {
            return None;
        }
    }
    let minor = value.to_minor()?;
    if minor <= 0 {
        return None;
    }
    let (s, e) = (toks[start].start, toks[end - 1].end);
    let amount = Amount {
        minor,
        currency: currency.unwrap_or("EUR").to_string(),
        text: text.get(s..e).unwrap_or_default().to_string(),
    };
    Some((amount, start, end))
}

/// "20keur" → (1000, EUR).
fn split_suffix(s: &str) -> Option<(i128, &'static str)> {
    ["k", "m", "mn", "bn"].iter().find_map(|m| {
        let rest = s.strip_prefix(m)?;
        Some((multiplier(m)?, currency_word(rest)?))
    })
}

// ---------------------------------------------------------------------------------------------
// Products

/// Normalise one word of a product name or utterance for matching.
fn fold(w: &str) -> String {
    let w = match w {
        "months" | "mos" | "mo" | "mths" | "mth" | "m" => "month",
        "years" | "yrs" | "yr" | "y" => "year",
        "cards" => "card",
        "loans" => "loan",
        "portfolios" => "portfolio",
        "deposits" => "deposit",
        "mortgages" => "mortgage",
        "accounts" => "account",
        "savers" => "saver",
        "twelve" => "12",
        "ten" => "10",
        "twenty" => "20",
        "thirty-six" => "36",
        other => other,
    };
    w.to_string()
}

/// Words of a name or text, folded: numbers with a glued unit become two words ("10y").
fn folded_words(toks: &[Token]) -> Vec<String> {
    let mut out = Vec::new();
    for t in toks {
        match &t.kind {
            Kind::Number(n) => {
                let digits = n
                    .value
                    .as_integer()
                    .map_or_else(|| t.norm.clone(), |v| v.to_string());
                out.push(digits);
                if !n.suffix.is_empty() {
                    out.push(fold(&n.suffix));
                }
            }
            Kind::Word => out.push(fold(&t.norm)),
            Kind::Symbol(_) => {}
        }
    }
    out
}

const OPTIONAL_NAME_WORDS: &[&str] = &["rate", "the", "account"];

fn find_products(text: &str, words: &[Token], catalog: &[ProductRef]) -> Vec<String> {
    let text_words = folded_words(words);
    let lower = text.to_lowercase();
    let mut hits: Vec<(usize, &str)> = Vec::new();
    for p in catalog {
        if !p.id.is_empty()
            && let Some(pos) = lower.find(&p.id.to_lowercase())
        {
            // Order id mentions among word positions.
            let idx = words.iter().take_while(|t| t.start < pos).count();
            hits.push((idx, &p.id));
            continue;
        }
        let required: Vec<String> = folded_words(&tokenize(&p.name))
            .into_iter()
            .filter(|w| !OPTIONAL_NAME_WORDS.contains(&w.as_str()))
            .collect();
        if required.is_empty() {
            continue;
        }
        let window = required.len() + 1;
        let found = (0..text_words.len()).find(|&s| {
            let end = (s + window).min(text_words.len());
            required.contains(&text_words[s])
                && required.iter().all(|r| text_words[s..end].contains(r))
        });
        if let Some(s) = found {
            hits.push((s, &p.id));
        }
    }
    hits.sort_by_key(|(pos, _)| *pos);
    let mut out: Vec<String> = Vec::new();
    for (_, id) in hits {
        if !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Phrase tables

use Category as C;

const CATEGORY_PHRASES: &[(&str, Category)] = &[
    ("restaurant", C::Restaurants),
    ("restaurants", C::Restaurants),
    ("eating out", C::Restaurants),
    ("eat out", C::Restaurants),
    ("ate out", C::Restaurants),
    ("dining", C::Restaurants),
    ("dining out", C::Restaurants),
    ("dine out", C::Restaurants),
    ("takeaway", C::Restaurants),
    ("takeaways", C::Restaurants),
    ("take away", C::Restaurants),
    ("takeout", C::Restaurants),
    ("takeouts", C::Restaurants),
    ("food delivery", C::Restaurants),
    ("food deliveries", C::Restaurants),
    ("deliveroo", C::Restaurants),
    ("uber eats", C::Restaurants),
    ("just eat", C::Restaurants),
    ("glovo", C::Restaurants),
    ("cafe", C::Restaurants),
    ("cafes", C::Restaurants),
    ("café", C::Restaurants),
    ("cafés", C::Restaurants),
    ("coffee", C::Restaurants),
    ("coffees", C::Restaurants),
    ("coffee shops", C::Restaurants),
    ("lunches", C::Restaurants),
    ("brunch", C::Restaurants),
    ("fast food", C::Restaurants),
    ("pizza", C::Restaurants),
    ("meals out", C::Restaurants),
    ("grocery", C::Groceries),
    ("groceries", C::Groceries),
    ("grocery shopping", C::Groceries),
    ("supermarket", C::Groceries),
    ("supermarkets", C::Groceries),
    ("food shopping", C::Groceries),
    ("food shop", C::Groceries),
    ("weekly shop", C::Groceries),
    ("lidl", C::Groceries),
    ("aldi", C::Groceries),
    ("tesco", C::Groceries),
    ("carrefour", C::Groceries),
    ("rewe", C::Groceries),
    ("edeka", C::Groceries),
    ("mercadona", C::Groceries),
    ("continente", C::Groceries),
    ("pingo doce", C::Groceries),
    ("rent", C::Housing),
    ("housing", C::Housing),
    ("mortgage payment", C::Housing),
    ("mortgage payments", C::Housing),
    ("mortgage repayments", C::Housing),
    ("landlord", C::Housing),
    ("utilities", C::Utilities),
    ("utility", C::Utilities),
    ("utility bills", C::Utilities),
    ("electricity", C::Utilities),
    ("electric bill", C::Utilities),
    ("gas bill", C::Utilities),
    ("gas bills", C::Utilities),
    ("water bill", C::Utilities),
    ("energy", C::Utilities),
    ("energy bill", C::Utilities),
    ("energy bills", C::Utilities),
    ("heating", C::Utilities),
    ("internet", C::Utilities),
    ("broadband", C::Utilities),
    ("phone bill", C::Utilities),
    ("phone bills", C::Utilities),
    ("mobile bill", C::Utilities),
    ("power bill", C::Utilities),
    ("bills", C::Utilities),
    ("subscription", C::Subscriptions),
    ("subscriptions", C::Subscriptions),
    ("netflix", C::Subscriptions),
    ("spotify", C::Subscriptions),
    ("streaming", C::Subscriptions),
    ("streaming services", C::Subscriptions),
    ("disney plus", C::Subscriptions),
    ("disney", C::Subscriptions),
    ("hbo", C::Subscriptions),
    ("apple music", C::Subscriptions),
    ("amazon prime", C::Subscriptions),
    ("prime video", C::Subscriptions),
    ("youtube premium", C::Subscriptions),
    ("memberships", C::Subscriptions),
    ("travel", C::Travel),
    ("travelling", C::Travel),
    ("traveling", C::Travel),
    ("flights", C::Travel),
    ("flight", C::Travel),
    ("hotel", C::Travel),
    ("hotels", C::Travel),
    ("airbnb", C::Travel),
    ("holiday", C::Travel),
    ("holidays", C::Travel),
    ("vacation", C::Travel),
    ("vacations", C::Travel),
    ("trips", C::Travel),
    ("trip", C::Travel),
    ("airline", C::Travel),
    ("airlines", C::Travel),
    ("transport", C::Transport),
    ("transportation", C::Transport),
    ("public transport", C::Transport),
    ("bus", C::Transport),
    ("buses", C::Transport),
    ("train", C::Transport),
    ("trains", C::Transport),
    ("train tickets", C::Transport),
    ("taxi", C::Transport),
    ("taxis", C::Transport),
    ("uber", C::Transport),
    ("ubers", C::Transport),
    ("bolt", C::Transport),
    ("metro", C::Transport),
    ("commute", C::Transport),
    ("commuting", C::Transport),
    ("parking", C::Transport),
    ("tolls", C::Transport),
    ("tram", C::Transport),
    ("fuel", C::Fuel),
    ("petrol", C::Fuel),
    ("diesel", C::Fuel),
    ("gas station", C::Fuel),
    ("gas stations", C::Fuel),
    ("petrol station", C::Fuel),
    ("filling station", C::Fuel),
    ("shopping", C::Shopping),
    ("clothes", C::Shopping),
    ("clothing", C::Shopping),
    ("amazon", C::Shopping),
    ("online shopping", C::Shopping),
    ("shoes", C::Shopping),
    ("electronics", C::Shopping),
    ("furniture", C::Shopping),
    ("entertainment", C::Entertainment),
    ("cinema", C::Entertainment),
    ("movies", C::Entertainment),
    ("concert", C::Entertainment),
    ("concerts", C::Entertainment),
    ("gaming", C::Entertainment),
    ("games", C::Entertainment),
    ("nights out", C::Entertainment),
    ("night out", C::Entertainment),
    ("going out", C::Entertainment),
    ("bars", C::Entertainment),
    ("pubs", C::Entertainment),
    ("pub", C::Entertainment),
    ("theatre", C::Entertainment),
    ("festivals", C::Entertainment),
    ("health", C::Health),
    ("healthcare", C::Health),
    ("pharmacy", C::Health),
    ("doctor", C::Health),
    ("doctors", C::Health),
    ("dentist", C::Health),
    ("medical", C::Health),
    ("medicine", C::Health),
    ("gym", C::Health),
    ("fitness", C::Health),
    ("prescriptions", C::Health),
    ("education", C::Education),
    ("tuition", C::Education),
    ("school fees", C::Education),
    ("courses", C::Education),
    ("school books", C::Education),
    ("school trip", C::Education),
    ("class trip", C::Education),
    ("school uniform", C::Education),
    ("school supplies", C::Education),
    ("university fees", C::Education),
    ("childcare", C::Childcare),
    ("child care", C::Childcare),
    ("daycare", C::Childcare),
    ("day care", C::Childcare),
    ("nursery", C::Childcare),
    ("babysitter", C::Childcare),
    ("babysitting", C::Childcare),
    ("kindergarten", C::Childcare),
    ("creche", C::Childcare),
    ("insurance", C::Insurance),
    ("insurance premiums", C::Insurance),
    ("premiums", C::Insurance),
    ("cash withdrawals", C::Cash),
    ("atm", C::Cash),
    ("atms", C::Cash),
    ("cash machine", C::Cash),
    ("withdrawals", C::Cash),
    ("cash", C::Cash),
    ("loan repayments", C::LoanRepayment),
    ("loan repayment", C::LoanRepayment),
    ("loan payments", C::LoanRepayment),
    ("repayments", C::LoanRepayment),
    ("transfers to savings", C::Savings),
    ("into savings", C::Savings),
    ("into my savings", C::Savings),
    ("transfers", C::Transfer),
    ("bank transfers", C::Transfer),
    ("fees", C::Fees),
    ("bank fees", C::Fees),
    ("charges", C::Fees),
    ("bank charges", C::Fees),
    ("overdraft fees", C::Fees),
    ("interest charges", C::Fees),
    ("late fees", C::Fees),
    ("salary", C::Salary),
    ("salaries", C::Salary),
    ("wages", C::Salary),
    ("wage", C::Salary),
    ("paycheck", C::Salary),
    ("paychecks", C::Salary),
    ("pay cheque", C::Salary),
    ("income", C::Salary),
    ("earnings", C::Salary),
    ("payslip", C::Salary),
    ("refunds", C::OtherIncome),
    ("dividends", C::OtherIncome),
    ("rental income", C::OtherIncome),
    ("side income", C::OtherIncome),
    ("freelance", C::OtherIncome),
    ("freelance payment", C::OtherIncome),
    ("side gig", C::OtherIncome),
    ("cashback", C::OtherIncome),
];

use GoalKind as G;

const GOAL_PHRASES: &[(&str, GoalKind)] = &[
    ("house", G::House),
    ("home", G::House),
    ("flat", G::House),
    ("apartment", G::House),
    ("property", G::House),
    ("condo", G::House),
    ("down payment", G::House),
    ("downpayment", G::House),
    ("house deposit", G::House),
    ("home deposit", G::House),
    ("deposit on a", G::House),
    ("deposit for a", G::House),
    ("deposit for my", G::House),
    ("buy a place", G::House),
    ("place of my own", G::House),
    ("home insurance", G::Other),
    ("car", G::Car),
    ("cars", G::Car),
    ("new car", G::Car),
    ("vehicle", G::Car),
    ("motorbike", G::Car),
    ("motorcycle", G::Car),
    ("van", G::Car),
    ("wedding", G::Wedding),
    ("get married", G::Wedding),
    ("getting married", G::Wedding),
    ("marry", G::Wedding),
    ("engagement ring", G::Wedding),
    ("honeymoon", G::Wedding),
    ("education", G::Education),
    ("university", G::Education),
    ("uni", G::Education),
    ("college", G::Education),
    ("tuition", G::Education),
    ("degree", G::Education),
    ("masters", G::Education),
    ("master's", G::Education),
    ("mba", G::Education),
    ("school fees", G::Education),
    ("studies", G::Education),
    ("travel", G::Travel),
    ("trip", G::Travel),
    ("holiday", G::Travel),
    ("vacation", G::Travel),
    ("world tour", G::Travel),
    ("backpacking", G::Travel),
    ("round the world", G::Travel),
    ("sabbatical", G::Travel),
    ("emergency fund", G::EmergencyFund),
    ("emergency savings", G::EmergencyFund),
    ("emergency pot", G::EmergencyFund),
    ("rainy day", G::EmergencyFund),
    ("safety net", G::EmergencyFund),
    ("cushion", G::EmergencyFund),
    ("buffer", G::EmergencyFund),
    ("emergencies", G::EmergencyFund),
    ("retire", G::Retirement),
    ("retirement", G::Retirement),
    ("retiring", G::Retirement),
    ("pension", G::Retirement),
    ("baby", G::Baby),
    ("newborn", G::Baby),
    ("pregnant", G::Baby),
    ("expecting", G::Baby),
    ("maternity", G::Baby),
    ("paternity", G::Baby),
    ("parental leave", G::Baby),
];

const GOAL_CUES: &[&str] = &[
    "save for",
    "saving for",
    "save up",
    "saving up",
    "savings goal",
    "goal",
    "put aside",
    "set aside",
    "saving towards",
    "save towards",
];

use ProductFamily as F;

const FAMILY_PHRASES: &[(&str, ProductFamily)] = &[
    ("credit card", F::CreditCard),
    ("credit cards", F::CreditCard),
    ("creditcard", F::CreditCard),
    ("current account", F::Current),
    ("current accounts", F::Current),
    ("checking account", F::Current),
    ("debit card", F::Current),
    ("giro", F::Current),
    ("bank account", F::Current),
    ("overdraft", F::Current),
    ("personal loan", F::PersonalLoan),
    ("personal loans", F::PersonalLoan),
    ("loan", F::PersonalLoan),
    ("loans", F::PersonalLoan),
    ("borrow", F::PersonalLoan),
    ("consolidate", F::PersonalLoan),
    ("car loan", F::AutoLoan),
    ("auto loan", F::AutoLoan),
    ("car finance", F::AutoLoan),
    ("car financing", F::AutoLoan),
    ("mortgage", F::Mortgage),
    ("mortgages", F::Mortgage),
    ("home loan", F::Mortgage),
    ("remortgage", F::Mortgage),
    ("savings account", F::Savings),
    ("savings accounts", F::Savings),
    ("savings", F::Savings),
    ("saver", F::Savings),
    ("savings pot", F::Savings),
    ("term deposit", F::TermDeposit),
    ("term deposits", F::TermDeposit),
    ("fixed deposit", F::TermDeposit),
    ("fixed term", F::TermDeposit),
    ("time deposit", F::TermDeposit),
    ("invest", F::Investment),
    ("investing", F::Investment),
    ("investment", F::Investment),
    ("investments", F::Investment),
    ("portfolio", F::Investment),
    ("fund", F::Investment),
    ("funds", F::Investment),
    ("stocks", F::Investment),
    ("shares", F::Investment),
    ("etf", F::Investment),
    ("etfs", F::Investment),
    ("insurance", F::Insurance),
    ("life insurance", F::Insurance),
    ("home insurance", F::Insurance),
    ("contents insurance", F::Insurance),
    ("life cover", F::Insurance),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).expect("valid date")
    }

    fn catalog() -> Vec<ProductRef> {
        let p = |id: &str, name: &str, family| ProductRef {
            id: id.into(),
            name: name.into(),
            family,
        };
        vec![
            p("P-CC-GOLD", "Gold Card", F::CreditCard),
            p("P-CC-CLASSIC", "Classic Card", F::CreditCard),
            p("P-SAV-GOAL", "Goal Saver", F::Savings),
            p("P-MTG-FIX10", "Fixed-Rate Mortgage 10y", F::Mortgage),
            p("P-MTG-FIX20", "Fixed-Rate Mortgage 20y", F::Mortgage),
            p("P-TD-12", "Term Deposit 12 months", F::TermDeposit),
        ]
    }

    fn ex(text: &str) -> Entities {
        extract(text, today(), &catalog())
    }

    fn amount(text: &str) -> Option<(i64, String)> {
        ex(text)
            .amounts
            .first()
            .map(|a| (a.minor, a.currency.clone()))
    }

    #[test]
    fn amounts_in_many_forms() {
        let eur = |m: i64| Some((m, "EUR".to_string()));
        assert_eq!(amount("I need €20,000 for a deposit"), eur(2_000_000));
        assert_eq!(amount("about 20k"), eur(2_000_000));
        assert_eq!(amount("20 000 EUR please"), eur(2_000_000));
        assert_eq!(amount("EUR 1.5m for a flat"), eur(150_000_000));
        assert_eq!(amount("I'd like 30k euros"), eur(3_000_000));
        assert_eq!(amount("it costs £300"), Some((30_000, "GBP".to_string())));
        assert_eq!(amount("twenty thousand for the wedding"), eur(2_000_000));
        assert_eq!(amount("save 15 grand"), eur(1_500_000));
        assert_eq!(amount("€1,234.56"), eur(123_456));
        assert_eq!(amount("put aside 250 a month"), eur(25_000));
        assert_eq!(amount("1.5 million"), eur(150_000_000));
    }

    #[test]
    fn not_amounts() {
        assert!(ex("in 3 years").amounts.is_empty());
        assert!(ex("by 2030").amounts.is_empty());
        assert!(ex("rate of 3.5%").amounts.is_empty());
        assert!(ex("I'm 35 years old").amounts.is_empty());
        assert!(ex("on 12/03/2026 at 10:30").amounts.is_empty());
        assert!(ex("my 2 cards").amounts.is_empty());
        assert!(ex("account 123456789").amounts.is_empty());
    }

    #[test]
    fn horizons() {
        let h = |t: &str| ex(t).horizon_months;
        assert_eq!(h("save for a house in 3 years"), Some(36));
        assert_eq!(h("within 18 months"), Some(18));
        assert_eq!(h("by 2030"), Some(48));
        assert_eq!(h("by the end of 2028"), Some(24));
        assert_eq!(h("next year"), Some(12));
        assert_eq!(h("in a decade"), Some(120));
        assert_eq!(h("in a year and a half"), Some(18));
        assert_eq!(h("over the next two years"), Some(24));
        assert_eq!(h("in 3 years' time"), Some(36));
        assert_eq!(h("by June 2028"), Some(19));
        assert_eq!(h("how much did I spend in the last 3 months"), None);
        assert_eq!(h("I'm 35 years old"), None);
        assert_eq!(h("can I send it in one day"), None);
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    #[test]
    fn periods() {
        let p = |t: &str| ex(t).period.map(|p| (p.from, p.to));
        assert_eq!(p("last month"), Some((d(2026, 10, 1), d(2026, 10, 31))));
        assert_eq!(p("this month"), Some((d(2026, 11, 1), d(2026, 11, 29))));
        assert_eq!(p("spent in March"), Some((d(2026, 3, 1), d(2026, 3, 31))));
        assert_eq!(p("in December"), Some((d(2025, 12, 1), d(2025, 12, 31))));
        assert_eq!(
            p("over the last 3 months"),
            Some((d(2026, 8, 30), d(2026, 11, 29)))
        );
        assert_eq!(p("this year"), Some((d(2026, 1, 1), d(2026, 11, 29))));
        assert_eq!(p("last year"), Some((d(2025, 1, 1), d(2025, 12, 31))));
        // 2026-11-29 is a Sunday: last week is 16–22 November.
        assert_eq!(p("last week"), Some((d(2026, 11, 16), d(2026, 11, 22))));
        assert_eq!(p("yesterday"), Some((d(2026, 11, 28), d(2026, 11, 28))));
        assert_eq!(p("in may 2025"), Some((d(2025, 5, 1), d(2025, 5, 31))));
        assert_eq!(p("you may help"), None);
        assert_eq!(
            ex("last month").period.map(|p| p.label),
            Some("last month".into())
        );
    }

    #[test]
    fn categories_and_goals() {
        let e = ex("how much did I spend eating out and on takeaway, and on petrol?");
        assert_eq!(e.categories, vec![C::Restaurants, C::Fuel]);
        assert_eq!(ex("food shopping").categories, vec![C::Groceries]);
        assert_eq!(
            ex("my Netflix and Spotify").categories,
            vec![C::Subscriptions]
        );
        assert_eq!(
            ex("rent and mortgage payments").categories,
            vec![C::Housing]
        );
        assert_eq!(ex("flights and hotels").categories, vec![C::Travel]);
        assert_eq!(ex("save for a house").goal, Some(G::House));
        assert_eq!(ex("build an emergency fund").goal, Some(G::EmergencyFund));
        assert_eq!(ex("saving up for something").goal, Some(G::Other));
        assert_eq!(ex("what is the rate").goal, None);
    }

    #[test]
    fn products() {
        assert_eq!(
            ex("what's the fee on the gold credit card?").products,
            vec!["P-CC-GOLD"]
        );
        assert_eq!(
            ex("tell me about the 10-year fixed mortgage").products,
            vec!["P-MTG-FIX10"]
        );
        assert_eq!(ex("12-month term deposit rate").products, vec!["P-TD-12"]);
        let e = ex("which credit card is best");
        assert!(e.products.is_empty());
        assert_eq!(e.families, vec![F::CreditCard]);
        assert_eq!(
            ex("compare Goal Saver and P-CC-CLASSIC").products,
            vec!["P-SAV-GOAL", "P-CC-CLASSIC"]
        );
        assert!(ex("fixed rate mortgage").products.is_empty());
    }

    #[test]
    fn never_panics_on_odd_input() {
        for t in [
            "",
            "€",
            "k",
            "999999999999999999999999999999999999 euros",
            "by",
            "last",
            "in the",
            "1.2.3.4",
            "€€€ 5,,,,",
            "ünï 12,5 £",
            "-5 euros",
            "a a a thousand",
            "since",
            "this",
            "current",
            "last 3",
            "in march",
            "by june",
            "3 months",
            "ago",
            "next",
            "half a",
        ] {
            let _ = ex(t);
        }
    }

    #[test]
    fn never_panics_on_any_suffix_or_prefix_of_real_sentences() {
        // Every prefix and suffix (by word) of sentences that exercise each rule.
        let sentences = [
            "how much did I spend this month on eating out in March 2025 or the last 3 months ago",
            "save €20,000 for a house by the end of June 2030 or in a year and a half from now",
            "this time next year I want 15 grand, since May, during 2024, 2 weeks ago, yesterday",
            "the 10-year fixed-rate mortgage and the gold credit card, 30k euros, £300, EUR 1.5m",
        ];
        for s in sentences {
            let words: Vec<&str> = s.split(' ').collect();
            for k in 0..=words.len() {
                let _ = ex(&words[..k].join(" "));
                let _ = ex(&words[k..].join(" "));
            }
        }
    }
}
