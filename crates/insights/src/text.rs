//! Customer-facing wording: money and category formatting and the sentences of
//! [`crate::Insights::messages`], each built only from figures already in the insights.

use crate::model::{CashFlowForecast, Insights};
use chrono::{Months, NaiveDate};
use sextant_core::{Category, Currency, Money};

/// Format minor units for a customer: `€12.34` / `-€12.34` for EUR, otherwise `12.34 USD`.
pub fn format_money(minor: i64, currency: Currency) -> String {
    let s = Money::new(minor.abs(), currency).to_major_string();
    let sign = if minor < 0 { "-" } else { "" };
    if currency == Currency::EUR {
        format!("{sign}€{s}")
    } else {
        format!("{sign}{s} {currency}")
    }
}

/// A category in words: `loan_repayment` → `loan repayment`.
pub(crate) fn category_words(c: Category) -> String {
    c.as_str().replace('_', " ")
}

/// The month of `first_day` in words: `October 2026`.
fn month_words(first_day: NaiveDate) -> String {
    first_day.format("%B %Y").to_string()
}

/// Percent with no decimals, from a 0–1 share.
fn pct(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// The messages, in a fixed order: breakdown, notable changes, price rises, unusual spending,
/// the low-balance warning, the budget, then savings opportunities.
pub(crate) fn messages(ins: &Insights, currency: Currency, month_start: NaiveDate) -> Vec<String> {
    let m = |x: i64| format_money(x, currency);
    let previous_start = month_start
        .checked_sub_months(Months::new(1))
        .unwrap_or(month_start);
    let mut out = Vec::new();

    let month_total: i64 = ins.breakdown.iter().map(|b| b.month_amount).sum();
    if let Some(top) = ins
        .breakdown
        .iter()
        .filter(|b| b.month_amount > 0)
        .max_by(|a, b| {
            a.month_amount
                .cmp(&b.month_amount)
                .then(b.category.cmp(&a.category))
        })
    {
        out.push(format!(
            "In {} you spent {} in total, the most on {}: {} ({}).",
            month_words(month_start),
            m(month_total),
            category_words(top.category),
            m(top.month_amount),
            pct(top.month_share)
        ));
    }

    let mut notable: Vec<_> = ins.month_over_month.iter().filter(|c| c.notable).collect();
    notable.sort_by(|a, b| {
        b.change
            .abs()
            .cmp(&a.change.abs())
            .then(a.category.cmp(&b.category))
    });
    for c in notable.into_iter().take(3) {
        let dir = if c.change > 0 { "more" } else { "less" };
        let pct = c
            .change_pct
            .map(|p| format!(" ({p:+.1}%)"))
            .unwrap_or_default();
        out.push(format!(
            "You spent {} on {} in {}, {} {} than in {}{}.",
            m(c.amount),
            category_words(c.category),
            month_words(month_start),
            m(c.change.abs()),
            dir,
            month_words(previous_start),
            pct
        ));
    }

    for r in &ins.recurring {
        if let Some(p) = &r.price_rise {
            out.push(format!(
                "{} went up from {} to {} on {}.",
                r.merchant,
                m(p.from),
                m(p.to),
                p.first_charged_at_new_price
            ));
        }
    }

    for u in &ins.unusual {
        let at = u
            .merchant
            .as_deref()
            .map(|x| format!(" at {x}"))
            .unwrap_or_default();
        out.push(format!(
            "{}{} on {} is {:.1} times your usual {} on {}.",
            m(u.amount),
            at,
            u.date,
            u.times_median,
            m(u.baseline_median),
            category_words(u.category)
        ));
    }

    if let Some(w) = warning(&ins.forecast, &m) {
        out.push(w);
    }

    let b = &ins.budget;
    if b.shortfall > 0 {
        out.push(format!(
            "Your fixed costs of {} a month are {} more than your income of {}.",
            m(b.fixed_costs),
            m(b.shortfall),
            m(b.monthly_income)
        ));
    } else if b.monthly_income > 0 && b.months_averaged > 0 {
        out.push(format!(
            "Suggested monthly budget from your income of {}: {} fixed costs, {} everyday \
             spending, {} savings.",
            m(b.monthly_income),
            m(b.fixed_costs),
            m(b.variable_total),
            m(b.savings_per_month)
        ));
    }

    out.extend(ins.savings_opportunities.iter().map(|o| o.text.clone()));
    out
}

fn warning(f: &CashFlowForecast, m: &dyn Fn(i64) -> String) -> Option<String> {
    let w = f.low_balance_warning.as_ref()?;
    let payday = w
        .next_payday
        .map(|d| format!(", before your next salary on {d}"))
        .unwrap_or_default();
    Some(format!(
        "Your balance is projected to fall to {} on {}, below {}{}.",
        m(w.projected_balance),
        w.date,
        m(w.threshold),
        payday
    ))
}
