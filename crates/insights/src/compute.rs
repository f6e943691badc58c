//! [`compute`]: one customer's transactions into [`Insights`].
//!
//! The transactions are filtered (the customer's own, up to `as_of`, in the insights'
//! currency) and sorted by
//! (timestamp, id, account) first, and every map is ordered, so the result does not depend on
//! the input's order. All amounts are integer minor units; thresholds given in major units
//! (€20, €50, €100) are scaled by the currency's exponent.

use crate::InsightInput;
use crate::model::*;
use crate::text::{category_words, format_money, messages};
use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, Utc};
use sextant_core::{
    Account, AccountKind, AccountStatus, Category, Channel, Currency, Transaction, TxStatus,
};
use std::collections::{BTreeMap, BTreeSet};

/// Trailing breakdown window.
const TRAILING_DAYS: i64 = 90;
/// Unusual spending is looked for in this many most recent days …
const UNUSUAL_RECENT_DAYS: i64 = 30;
/// … against a baseline of the category's spend in the year before them, of at least this many
/// transactions.
const UNUSUAL_MIN_BASELINE: usize = 5;
/// The forecast horizon.
const FORECAST_DAYS: i64 = 30;
/// Month-over-month changes are notable from this many percent …
const NOTABLE_PCT: i64 = 20;
/// … and this many major units.
const NOTABLE_MAJOR: i64 = 20;
/// Unusual spending is above this many major units.
const UNUSUAL_MIN_MAJOR: i64 = 50;
/// The low-balance warning threshold, in major units.
const LOW_BALANCE_MAJOR: i64 = 100;
/// Over-budget opportunities from this many major units a month.
const OVER_BUDGET_MIN_MAJOR: i64 = 20;
/// A salary credit this many days before a projected payday means it was already paid.
const PAID_ALREADY_DAYS: i64 = 20;
/// Categories whose whole spend is a fixed cost.
const FIXED_CATEGORIES: [Category; 3] =
    [Category::Housing, Category::Utilities, Category::Insurance];

/// Subscriptions of the same kind: two or more from one group are a duplicate.
const DUPLICATE_GROUPS: &[(&str, &[&str])] = &[
    (
        "video streaming",
        &[
            "netflix",
            "disney+",
            "amazon prime",
            "youtube premium",
            "dazn",
            "sky",
            "wow",
            "paramount+",
            "apple tv",
            "rtl+",
            "joyn",
            "max",
        ],
    ),
    (
        "music streaming",
        &["spotify", "apple music", "deezer", "tidal", "amazon music"],
    ),
    ("gym", &["mcfit", "urban sports club", "fitx", "clever fit"]),
];

/// Money out that counts as spending (as in `sextant-features`).
fn is_spend(c: Category) -> bool {
    !matches!(
        c,
        Category::Transfer
            | Category::Savings
            | Category::LoanRepayment
            | Category::Salary
            | Category::OtherIncome
    )
}

/// Channels a biller pulls payments through (as in `sextant-features`).
fn is_billed(ch: Channel) -> bool {
    matches!(
        ch,
        Channel::DirectDebit | Channel::StandingOrder | Channel::CardOnline
    )
}

/// Months since year 0: `year * 12 + month0`.
fn month_index(d: NaiveDate) -> i32 {
    d.year() * 12 + d.month0() as i32
}

fn month_start(idx: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(idx.div_euclid(12), idx.rem_euclid(12) as u32 + 1, 1)
        .unwrap_or(NaiveDate::MIN)
}

fn month_label(idx: i32) -> String {
    format!("{:04}-{:02}", idx.div_euclid(12), idx.rem_euclid(12) + 1)
}

fn days_in_month(d: NaiveDate) -> u32 {
    let idx = month_index(d);
    (month_start(idx + 1) - month_start(idx)).num_days() as u32
}

/// Median of a sorted slice; even counts average the middle two, rounding down.
fn median(sorted: &[i64]) -> i64 {
    let n = sorted.len();
    if n == 0 {
        0
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]).div_euclid(2)
    }
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v
}

/// `num / den` rounded to `1 / scale` (scale 1e4: four decimals), 0 when `den` is 0.
fn rounded_ratio(num: i64, den: i64, scale: f64) -> f64 {
    if den == 0 {
        0.0
    } else {
        ((num as f64 / den as f64) * scale).round() / scale
    }
}

/// Whether an account is held at `today`.
fn held(a: &Account, today: NaiveDate) -> bool {
    matches!(a.status, AccountStatus::Open | AccountStatus::Delinquent)
        && a.opened_on <= today
        && a.closed_on.is_none_or(|d| d > today)
}

/// One approved debit counted as spend.
#[derive(Clone, Copy)]
struct Spend<'a> {
    t: &'a Transaction,
    date: NaiveDate,
    month: i32,
    amount: i64,
}

/// Whether a spend is a payment to a detected recurring merchant.
fn from_recurring(s: &Spend, recurring_merchants: &BTreeSet<&str>) -> bool {
    s.t.merchant
        .as_deref()
        .is_some_and(|m| recurring_merchants.contains(m))
}

/// Compute every insight for one customer at `input.as_of`.
pub fn compute(input: &InsightInput) -> Insights {
    let as_of = input.as_of;
    let today = as_of.date_naive();
    let current = input
        .accounts
        .iter()
        .filter(|a| a.kind == AccountKind::Current && a.customer_id == input.customer.id)
        .min_by_key(|a| (!held(a, today), a.id.as_str()));
    let currency = current
        .map(|a| a.currency)
        .unwrap_or(input.customer.income.currency);
    let unit = 10i64.pow(u32::from(currency.exponent()));

    let mut txs: Vec<&Transaction> = input
        .transactions
        .iter()
        .filter(|t| {
            t.customer_id == input.customer.id
                && t.timestamp <= as_of
                && t.amount.currency == currency
        })
        .collect();
    txs.sort_by(|a, b| {
        (a.timestamp, a.id.as_str(), a.account_id.as_str()).cmp(&(
            b.timestamp,
            b.id.as_str(),
            b.account_id.as_str(),
        ))
    });
    let approved: Vec<&Transaction> = txs
        .iter()
        .copied()
        .filter(|t| t.status == TxStatus::Approved)
        .collect();
    let spend: Vec<Spend> = approved
        .iter()
        .filter(|t| t.amount.minor < 0 && is_spend(t.category))
        .map(|t| {
            let date = t.timestamp.date_naive();
            Spend {
                t,
                date,
                month: month_index(date),
                amount: -t.amount.minor,
            }
        })
        .collect();

    let this_month = month_index(today);
    let last_month = this_month - 1;
    let breakdown = breakdown(&spend, as_of, last_month);
    let month_over_month = month_over_month(&spend, last_month, unit);
    let recurring = recurring(&approved, today);
    let recurring_merchants: BTreeSet<&str> =
        recurring.iter().map(|r| r.merchant.as_str()).collect();
    let unusual = unusual(&spend, &recurring_merchants, as_of, unit);
    let first_day = approved.first().map(|t| t.timestamp.date_naive());
    let forecast = forecast(
        &txs,
        &approved,
        &spend,
        current,
        &recurring,
        &recurring_merchants,
        today,
        first_day,
        unit,
    );
    let budget = budget(
        input,
        &approved,
        &spend,
        &recurring,
        &recurring_merchants,
        last_month,
        first_day,
    );
    let savings_opportunities = opportunities(&recurring, &budget, currency, unit);

    let mut ins = Insights {
        currency: currency.as_str().to_string(),
        breakdown,
        month_over_month,
        recurring,
        unusual,
        forecast,
        budget,
        savings_opportunities,
        messages: Vec::new(),
    };
    ins.messages = messages(&ins, currency, month_start(last_month));
    ins
}

fn breakdown(spend: &[Spend], as_of: DateTime<Utc>, last_month: i32) -> Vec<CategorySpend> {
    let trailing_start = as_of - TimeDelta::days(TRAILING_DAYS);
    let mut by_cat: BTreeMap<Category, (i64, i64)> = BTreeMap::new();
    let (mut month_total, mut trailing_total) = (0, 0);
    for s in spend {
        if s.month == last_month {
            by_cat.entry(s.t.category).or_default().0 += s.amount;
            month_total += s.amount;
        }
        if s.t.timestamp > trailing_start {
            by_cat.entry(s.t.category).or_default().1 += s.amount;
            trailing_total += s.amount;
        }
    }
    let mut out: Vec<CategorySpend> = by_cat
        .into_iter()
        .map(|(category, (m, t))| CategorySpend {
            category,
            month: month_label(last_month),
            month_amount: m,
            month_share: rounded_ratio(m, month_total, 1e4),
            trailing_90d_amount: t,
            trailing_90d_share: rounded_ratio(t, trailing_total, 1e4),
        })
        .collect();
    out.sort_by(|a, b| {
        b.trailing_90d_amount
            .cmp(&a.trailing_90d_amount)
            .then(b.month_amount.cmp(&a.month_amount))
            .then(a.category.cmp(&b.category))
    });
    out
}

fn month_over_month(spend: &[Spend], last_month: i32, unit: i64) -> Vec<CategoryChange> {
    let mut by_cat: BTreeMap<Category, (i64, i64)> = BTreeMap::new();
    for s in spend {
        if s.month == last_month {
            by_cat.entry(s.t.category).or_default().0 += s.amount;
        } else if s.month == last_month - 1 {
            by_cat.entry(s.t.category).or_default().1 += s.amount;
        }
    }
    by_cat
        .into_iter()
        .map(|(category, (amount, previous_amount))| {
            let change = amount - previous_amount;
            let big_enough = change.abs() >= NOTABLE_MAJOR * unit;
            let relative =
                previous_amount == 0 || change.abs() * 100 >= NOTABLE_PCT * previous_amount;
            CategoryChange {
                category,
                month: month_label(last_month),
                previous_month: month_label(last_month - 1),
                amount,
                previous_amount,
                change,
                change_pct: (previous_amount != 0)
                    .then(|| rounded_ratio(change * 100, previous_amount, 10.0)),
                notable: big_enough && relative,
            }
        })
        .collect()
}

impl Cadence {
    /// The cadence whose median interval this is, and the band a regular interval falls in.
    fn of_interval(days: i64) -> Option<(Cadence, std::ops::RangeInclusive<i64>)> {
        match days {
            5..=9 => Some((Cadence::Weekly, 4..=10)),
            25..=35 => Some((Cadence::Monthly, 20..=40)),
            330..=400 => Some((Cadence::Yearly, 320..=410)),
            _ => None,
        }
    }
    fn min_charges(self) -> usize {
        match self {
            Cadence::Weekly => 4,
            Cadence::Monthly => 3,
            Cadence::Yearly => 2,
        }
    }
    /// A payment not seen for longer than this has stopped.
    fn stale_after_days(self) -> i64 {
        match self {
            Cadence::Weekly => 15,
            Cadence::Monthly => 45,
            Cadence::Yearly => 400,
        }
    }
    fn per_year(self) -> i64 {
        match self {
            Cadence::Weekly => 52,
            Cadence::Monthly => 12,
            Cadence::Yearly => 1,
        }
    }
    /// `from` plus `k` steps (months are added from `from`, so the 31st stays the month's end).
    fn step(self, from: NaiveDate, k: u32) -> Option<NaiveDate> {
        match self {
            Cadence::Weekly => from.checked_add_signed(TimeDelta::days(7 * i64::from(k))),
            Cadence::Monthly => from.checked_add_months(Months::new(k)),
            Cadence::Yearly => from.checked_add_months(Months::new(12 * k)),
        }
    }
}

/// Recurring payments. Among approved debits a biller pulled (spend or loan repayment, with a
/// merchant), a merchant recurs when its charges (same-day charges summed) have a median
/// interval of 5–9 days (weekly), 25–35 (monthly) or 330–400 (yearly), at least 3/4 of the
/// intervals fall in the cadence's band, there are at least 4 (weekly), 3 in 3 distinct
/// months (monthly) or 2 (yearly) charges, the last one is recent (15, 45, 400 days), and the
/// amounts are steady: 3/4 within 25% of the median, or one price rise (a run of the new price
/// to the end after at least two charges at the old one).
fn recurring(approved: &[&Transaction], today: NaiveDate) -> Vec<Recurring> {
    let mut by_merchant: BTreeMap<&str, Vec<(NaiveDate, i64, Category)>> = BTreeMap::new();
    for t in approved {
        let Some(m) = t.merchant.as_deref() else {
            continue;
        };
        if t.amount.minor >= 0
            || !is_billed(t.channel)
            || !(is_spend(t.category) || t.category == Category::LoanRepayment)
        {
            continue;
        }
        let date = t.timestamp.date_naive();
        let charges = by_merchant.entry(m).or_default();
        match charges.last_mut() {
            Some(last) if last.0 == date => last.1 -= t.amount.minor,
            _ => charges.push((date, -t.amount.minor, t.category)),
        }
    }
    by_merchant
        .into_iter()
        .filter_map(|(m, charges)| detect(m, &charges, today))
        .collect()
}

fn detect(
    merchant: &str,
    charges: &[(NaiveDate, i64, Category)],
    today: NaiveDate,
) -> Option<Recurring> {
    let n = charges.len();
    if n < 2 {
        return None;
    }
    let gaps = sorted(
        charges
            .windows(2)
            .map(|w| (w[1].0 - w[0].0).num_days())
            .collect(),
    );
    let median_gap = median(&gaps);
    let (cadence, band) = Cadence::of_interval(median_gap)?;
    let regular = gaps.iter().filter(|g| band.contains(g)).count();
    let months: BTreeSet<i32> = charges.iter().map(|c| month_index(c.0)).collect();
    let last = charges[n - 1];
    if n < cadence.min_charges()
        || regular * 4 < gaps.len() * 3
        || (cadence == Cadence::Monthly && months.len() < 3)
        || (today - last.0).num_days() > cadence.stale_after_days()
    {
        return None;
    }

    let amounts: Vec<i64> = charges.iter().map(|c| c.1).collect();
    let price_rise = price_rise(charges);
    let med = median(&sorted(amounts.clone()));
    let steady = amounts
        .iter()
        .filter(|&&a| 4 * (a - med).abs() <= med)
        .count();
    if price_rise.is_none() && steady * 4 < n * 3 {
        return None;
    }
    let typical = price_rise.as_ref().map_or(med, |p| p.to);

    // The most frequent category; ties go to the first in `Category::ALL`.
    let mut cats: BTreeMap<Category, usize> = BTreeMap::new();
    for c in charges {
        *cats.entry(c.2).or_default() += 1;
    }
    let category = cats
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(c, _)| *c)
        .unwrap_or(Category::Other);

    let next_expected_on = (1..)
        .map_while(|k| cadence.step(last.0, k))
        .find(|d| *d > today)?;
    let yearly_amount = typical * cadence.per_year();
    Some(Recurring {
        merchant: merchant.to_string(),
        category,
        typical_amount: typical,
        yearly_amount,
        monthly_amount: yearly_amount.div_euclid(12),
        cadence,
        median_interval_days: median_gap,
        charges: n,
        last_charged_on: last.0,
        next_expected_on,
        months_seen: months.len(),
        price_rise,
    })
}

/// A price rise: the charges end with a run at one price that is higher than the two charges
/// before the run, which are equal.
fn price_rise(charges: &[(NaiveDate, i64, Category)]) -> Option<PriceRise> {
    let n = charges.len();
    let to = charges[n - 1].1;
    let start = charges.iter().rposition(|c| c.1 != to).map_or(0, |i| i + 1);
    if start < 2 {
        return None;
    }
    let from = charges[start - 1].1;
    (charges[start - 2].1 == from && to > from).then(|| PriceRise {
        from,
        to,
        first_charged_at_new_price: charges[start].0,
    })
}

/// Transactions in the last 30 days above max(median + 3σ, 3·median, €50), where median and
/// σ = 1.4826·MAD (the median absolute deviation scaled to a normal standard deviation) are
/// those of the category's spend in the year before. Payments to recurring merchants are left
/// out of both: a subscription is not unusual spending.
fn unusual(
    spend: &[Spend],
    recurring_merchants: &BTreeSet<&str>,
    as_of: DateTime<Utc>,
    unit: i64,
) -> Vec<Unusual> {
    let spend: Vec<&Spend> = spend
        .iter()
        .filter(|s| !from_recurring(s, recurring_merchants))
        .collect();
    let recent_start = as_of - TimeDelta::days(UNUSUAL_RECENT_DAYS);
    let baseline_start = recent_start - TimeDelta::days(365);
    let mut baseline: BTreeMap<Category, Vec<i64>> = BTreeMap::new();
    for s in &spend {
        if s.t.timestamp <= recent_start && s.t.timestamp > baseline_start {
            baseline.entry(s.t.category).or_default().push(s.amount);
        }
    }
    let stats: BTreeMap<Category, (i64, i64, usize)> = baseline
        .into_iter()
        .filter(|(_, v)| v.len() >= UNUSUAL_MIN_BASELINE)
        .map(|(c, v)| {
            let v = sorted(v);
            let med = median(&v);
            let mad = median(&sorted(v.iter().map(|a| (a - med).abs()).collect()));
            (c, (med, mad, v.len()))
        })
        .collect();
    spend
        .iter()
        .filter(|s| s.t.timestamp > recent_start)
        .filter_map(|s| {
            let &(med, mad, count) = stats.get(&s.t.category)?;
            let sigma = (mad * 14_826 + 5_000) / 10_000;
            let threshold = (med + 3 * sigma).max(3 * med).max(UNUSUAL_MIN_MAJOR * unit);
            (s.amount > threshold && med > 0).then(|| Unusual {
                transaction_id: s.t.id.to_string(),
                date: s.date,
                merchant: s.t.merchant.clone(),
                category: s.t.category,
                amount: s.amount,
                baseline_median: med,
                baseline_mad: mad,
                baseline_sigma: sigma,
                baseline_transactions: count,
                threshold,
                times_median: rounded_ratio(s.amount, med, 10.0),
            })
        })
        .collect()
}

/// The salary's payday: needs salary credits in at least two calendar months.
fn payday(approved: &[&Transaction]) -> Option<Payday> {
    // Per month: total, and the date of the largest credit (latest on ties).
    let mut months: BTreeMap<i32, (i64, i64, NaiveDate)> = BTreeMap::new();
    for t in approved {
        if t.category != Category::Salary || t.amount.minor <= 0 {
            continue;
        }
        let d = t.timestamp.date_naive();
        let e = months.entry(month_index(d)).or_insert((0, 0, d));
        e.0 += t.amount.minor;
        if t.amount.minor >= e.1 {
            e.1 = t.amount.minor;
            e.2 = d;
        }
    }
    if months.len() < 2 {
        return None;
    }
    let recent: Vec<&(i64, i64, NaiveDate)> = months.values().rev().take(6).collect();
    let day = median(&sorted(
        recent.iter().map(|m| i64::from(m.2.day())).collect(),
    ));
    let amount = median(&sorted(recent.iter().take(3).map(|m| m.0).collect()));
    let last_paid_on = approved
        .iter()
        .rev()
        .find(|t| t.category == Category::Salary && t.amount.minor > 0)
        .map(|t| t.timestamp.date_naive())?;
    Some(Payday {
        day_of_month: day.clamp(1, 31) as u32,
        amount,
        months_seen: months.len(),
        last_paid_on,
    })
}

#[allow(clippy::too_many_arguments)]
fn forecast(
    txs: &[&Transaction],
    approved: &[&Transaction],
    spend: &[Spend],
    current: Option<&Account>,
    recurring: &[Recurring],
    recurring_merchants: &BTreeSet<&str>,
    today: NaiveDate,
    first_day: Option<NaiveDate>,
    unit: i64,
) -> CashFlowForecast {
    let latest = current.and_then(|a| {
        txs.iter()
            .rev()
            .filter(|t| t.account_id == a.id && t.status == TxStatus::Approved)
            .find_map(|t| t.balance_after)
    });
    let (current_balance, balance_source) = match (latest, current) {
        (Some(b), _) => (b.minor, "latest_transaction"),
        (None, Some(a)) => (a.balance.minor, "account_balance"),
        (None, None) => (0, "none"),
    };

    let salary = payday(approved);
    let horizon_end = today + TimeDelta::days(FORECAST_DAYS);
    let mut expected = Vec::new();
    if let Some(p) = &salary {
        let mut last_paid = p.last_paid_on;
        for k in 1..=FORECAST_DAYS {
            let d = today + TimeDelta::days(k);
            if d.day() == p.day_of_month.min(days_in_month(d))
                && (d - last_paid).num_days() > PAID_ALREADY_DAYS
            {
                expected.push(ExpectedFlow {
                    date: d,
                    label: "salary".into(),
                    amount: p.amount,
                });
                last_paid = d;
            }
        }
    }
    for r in recurring {
        let dates = (1..)
            .map_while(|k| r.cadence.step(r.last_charged_on, k))
            .skip_while(|d| *d <= today)
            .take_while(|d| *d <= horizon_end);
        for date in dates {
            expected.push(ExpectedFlow {
                date,
                label: r.merchant.clone(),
                amount: -r.typical_amount,
            });
        }
    }
    expected.sort_by(|a, b| (a.date, &a.label, a.amount).cmp(&(b.date, &b.label, b.amount)));

    // Average daily spend not from a recurring merchant, over the trailing 90 days (or fewer
    // when the data is younger).
    let window_start = today - TimeDelta::days(TRAILING_DAYS - 1);
    let days = first_day.map_or(TRAILING_DAYS, |f| {
        (today - f.max(window_start)).num_days() + 1
    });
    let variable: i64 = spend
        .iter()
        .filter(|s| s.date >= window_start)
        .filter(|s| !from_recurring(s, recurring_merchants))
        .map(|s| s.amount)
        .sum();
    let days = days.max(1);
    let daily_variable_spend = (variable + days / 2) / days;

    let mut balance = current_balance;
    let (mut lowest_balance, mut lowest_on) = (balance, today);
    let threshold = LOW_BALANCE_MAJOR * unit;
    let mut warn_at: Option<(NaiveDate, i64)> = None;
    let mut out_days = Vec::new();
    let (mut total_in, mut total_out) = (0, 0);
    for k in 1..=FORECAST_DAYS {
        let date = today + TimeDelta::days(k);
        let flows = expected.iter().filter(|e| e.date == date);
        let inflow: i64 = flows
            .clone()
            .filter(|e| e.amount > 0)
            .map(|e| e.amount)
            .sum();
        let outflow: i64 = daily_variable_spend
            - flows
                .filter(|e| e.amount < 0)
                .map(|e| e.amount)
                .sum::<i64>();
        balance += inflow - outflow;
        total_in += inflow;
        total_out += outflow;
        if balance < lowest_balance {
            (lowest_balance, lowest_on) = (balance, date);
        }
        if balance < threshold && warn_at.is_none() {
            warn_at = Some((date, balance));
        }
        out_days.push(ForecastDay {
            date,
            inflow,
            outflow,
            balance,
        });
    }
    let low_balance_warning = warn_at.map(|(date, projected_balance)| LowBalanceWarning {
        date,
        projected_balance,
        threshold,
        next_payday: expected
            .iter()
            .find(|e| e.label == "salary" && e.amount > 0 && e.date > date)
            .map(|e| e.date),
    });
    CashFlowForecast {
        from: today,
        current_balance,
        balance_source: balance_source.into(),
        salary,
        daily_variable_spend,
        expected,
        total_inflows: total_in,
        total_outflows: total_out,
        days: out_days,
        lowest_balance,
        lowest_on,
        low_balance_warning,
    }
}

#[allow(clippy::too_many_arguments)]
fn budget(
    input: &InsightInput,
    approved: &[&Transaction],
    spend: &[Spend],
    recurring: &[Recurring],
    recurring_merchants: &BTreeSet<&str>,
    last_month: i32,
    first_day: Option<NaiveDate>,
) -> BudgetSuggestion {
    // The last up to three full months with data.
    let first_month = first_day.map_or(last_month + 1, month_index);
    let months: Vec<i32> = (last_month - 2..=last_month)
        .filter(|m| *m >= first_month)
        .collect();
    let n = months.len() as i64;
    let in_window = |m: i32| months.contains(&m);
    let avg = |total: i64| if n == 0 { 0 } else { total / n };

    let income_total: i64 = approved
        .iter()
        .filter(|t| {
            t.amount.minor > 0
                && matches!(t.category, Category::Salary | Category::OtherIncome)
                && in_window(month_index(t.timestamp.date_naive()))
        })
        .map(|t| t.amount.minor)
        .sum();
    let (monthly_income, income_source) = if avg(income_total) > 0 {
        (avg(income_total), "transactions")
    } else {
        (input.customer.income.minor.max(0) / 12, "profile")
    };

    let mut fixed = Vec::new();
    for c in FIXED_CATEGORIES {
        let total: i64 = spend
            .iter()
            .filter(|s| s.t.category == c && in_window(s.month))
            .map(|s| s.amount)
            .sum();
        if avg(total) > 0 {
            fixed.push(FixedCost {
                label: category_words(c),
                category: c,
                monthly: avg(total),
            });
        }
    }
    for r in recurring {
        if !FIXED_CATEGORIES.contains(&r.category) {
            fixed.push(FixedCost {
                label: r.merchant.clone(),
                category: r.category,
                monthly: r.monthly_amount,
            });
        }
    }
    let fixed_costs: i64 = fixed.iter().map(|f| f.monthly).sum();

    let mut variable: BTreeMap<Category, i64> = BTreeMap::new();
    for s in spend {
        if in_window(s.month)
            && !FIXED_CATEGORIES.contains(&s.t.category)
            && !from_recurring(s, recurring_merchants)
        {
            *variable.entry(s.t.category).or_default() += s.amount;
        }
    }
    let averages: Vec<(Category, i64)> = variable
        .into_iter()
        .map(|(c, t)| (c, avg(t)))
        .filter(|(_, a)| *a > 0)
        .collect();

    let after_fixed = (monthly_income - fixed_costs).max(0);
    let shortfall = (fixed_costs - monthly_income).max(0);
    let savings_target = (monthly_income * 20 / 100).min(after_fixed * 40 / 100);
    let variable_allowance = after_fixed - savings_target;
    let limits = allocate(&averages, variable_allowance);
    let variable_limits: Vec<CategoryLimit> = averages
        .iter()
        .zip(limits)
        .map(|(&(category, average_monthly), limit)| CategoryLimit {
            category,
            average_monthly,
            limit,
        })
        .collect();
    let variable_total: i64 = variable_limits.iter().map(|l| l.limit).sum();
    BudgetSuggestion {
        rule: "Fixed costs first; savings are the smaller of 20% of income and 40% of what is \
               left after fixed costs; the rest is for variable spending, split over your \
               categories in proportion to your average spend and never above it; what you do \
               not usually spend is added to savings."
            .into(),
        monthly_income,
        income_source: income_source.into(),
        months_averaged: n as u32,
        fixed_costs,
        fixed,
        after_fixed,
        savings_target,
        variable_allowance,
        variable_limits,
        variable_total,
        savings_per_month: savings_target + variable_allowance - variable_total,
        shortfall,
    }
}

/// Limits for the averages within `allowance`: the averages themselves if they fit, else
/// proportional shares rounded down with the remainder given one unit at a time to the largest
/// fractional parts (ties to the earlier category).
fn allocate(averages: &[(Category, i64)], allowance: i64) -> Vec<i64> {
    let total: i64 = averages.iter().map(|a| a.1).sum();
    if total <= allowance {
        return averages.iter().map(|a| a.1).collect();
    }
    let (allowance, total) = (i128::from(allowance), i128::from(total));
    let mut limits: Vec<i64> = Vec::with_capacity(averages.len());
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(averages.len());
    for (i, a) in averages.iter().enumerate() {
        let exact = allowance * i128::from(a.1);
        limits.push((exact / total) as i64);
        remainders.push((exact % total, i));
    }
    let mut left = allowance as i64 - limits.iter().sum::<i64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders {
        if left == 0 {
            break;
        }
        limits[i] += 1;
        left -= 1;
    }
    limits
}

fn opportunities(
    recurring: &[Recurring],
    budget: &BudgetSuggestion,
    currency: Currency,
    unit: i64,
) -> Vec<SavingsOpportunity> {
    let m = |x: i64| format_money(x, currency);
    let mut out = Vec::new();

    for (group, names) in DUPLICATE_GROUPS {
        let mut members: Vec<&Recurring> = recurring
            .iter()
            .filter(|r| {
                let lower = r.merchant.to_lowercase();
                names
                    .iter()
                    .any(|n| lower == *n || lower.starts_with(&format!("{n} ")))
            })
            .collect();
        if members.len() < 2 {
            continue;
        }
        members.sort_by(|a, b| {
            b.yearly_amount
                .cmp(&a.yearly_amount)
                .then(a.merchant.cmp(&b.merchant))
        });
        let keep = members[0];
        let others = &members[1..];
        let yearly: i64 = others.iter().map(|r| r.yearly_amount).sum();
        let monthly_all: i64 = members.iter().map(|r| r.monthly_amount).sum();
        let names_others: Vec<&str> = others.iter().map(|r| r.merchant.as_str()).collect();
        out.push(SavingsOpportunity {
            kind: OpportunityKind::DuplicateSubscriptions,
            merchants: members.iter().map(|r| r.merchant.clone()).collect(),
            category: keep.category,
            monthly: yearly / 12,
            yearly,
            text: format!(
                "You pay for {} {group} services ({} a month). Keeping only {} and cancelling {} \
                 would save {} a month, {} a year.",
                members.len(),
                m(monthly_all),
                keep.merchant,
                names_others.join(" and "),
                m(yearly / 12),
                m(yearly)
            ),
        });
    }

    for r in recurring {
        let Some(p) = &r.price_rise else { continue };
        let yearly = (p.to - p.from) * r.cadence.per_year();
        out.push(SavingsOpportunity {
            kind: OpportunityKind::PriceRise,
            merchants: vec![r.merchant.clone()],
            category: r.category,
            monthly: yearly / 12,
            yearly,
            text: format!(
                "{} now costs {} instead of {} (since {}): {} more a year. Check whether it is \
                 still worth it or switch to a cheaper plan.",
                r.merchant,
                m(p.to),
                m(p.from),
                p.first_charged_at_new_price,
                m(yearly)
            ),
        });
    }

    let mut over: Vec<&CategoryLimit> = budget
        .variable_limits
        .iter()
        .filter(|l| l.average_monthly - l.limit >= OVER_BUDGET_MIN_MAJOR * unit)
        .collect();
    over.sort_by(|a, b| {
        (b.average_monthly - b.limit)
            .cmp(&(a.average_monthly - a.limit))
            .then(a.category.cmp(&b.category))
    });
    for l in over.into_iter().take(3) {
        let monthly = l.average_monthly - l.limit;
        out.push(SavingsOpportunity {
            kind: OpportunityKind::OverBudget,
            merchants: Vec::new(),
            category: l.category,
            monthly,
            yearly: monthly * 12,
            text: format!(
                "You spend on average {} a month on {}; keeping to the suggested {} would save {} \
                 a month, {} a year.",
                m(l.average_monthly),
                category_words(l.category),
                m(l.limit),
                m(monthly),
                m(monthly * 12)
            ),
        });
    }
    out.sort_by(|a, b| b.yearly.cmp(&a.yearly).then(a.text.cmp(&b.text)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_round_down_between_the_middle_two() {
        assert_eq!(median(&[]), 0);
        assert_eq!(median(&[5]), 5);
        assert_eq!(median(&[1, 2]), 1);
        assert_eq!(median(&[1, 3, 9]), 3);
        assert_eq!(median(&[-3, -2]), -3);
    }

    #[test]
    fn allocation_keeps_averages_that_fit_and_splits_exactly_otherwise() {
        let avgs = [
            (Category::Groceries, 40_000),
            (Category::Restaurants, 30_000),
        ];
        assert_eq!(allocate(&avgs, 80_000), [40_000, 30_000]);
        assert_eq!(allocate(&avgs, 48_000), [27_429, 20_571]);
        let three = [
            (Category::Groceries, 100),
            (Category::Restaurants, 100),
            (Category::Travel, 100),
        ];
        // 100 / 3: the remainder unit goes to the first category.
        assert_eq!(allocate(&three, 100), [34, 33, 33]);
        assert_eq!(allocate(&three, 0), [0, 0, 0]);
        assert!(allocate(&[], 500).is_empty());
    }

    #[test]
    fn months_and_cadences() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        assert_eq!(month_label(month_index(d) - 1), "2025-12");
        assert_eq!(
            days_in_month(NaiveDate::from_ymd_opt(2028, 2, 3).unwrap()),
            29
        );
        assert_eq!(
            Cadence::Monthly.step(d, 1),
            NaiveDate::from_ymd_opt(2026, 2, 28)
        );
        assert_eq!(
            Cadence::Monthly.step(d, 2),
            NaiveDate::from_ymd_opt(2026, 3, 31)
        );
        assert_eq!(Cadence::of_interval(7).map(|c| c.0), Some(Cadence::Weekly));
        assert_eq!(
            Cadence::of_interval(365).map(|c| c.0),
            Some(Cadence::Yearly)
        );
        assert!(Cadence::of_interval(14).is_none());
    }
}
