//! The one definition of every feature: [`compute`] turns a customer's profile, accounts and
//! transactions into a [`FeatureVector`], for batch training and online scoring alike.
//!
//! The transactions are read once, in any order. Every amount is accumulated exactly, as an
//! integer count of millionths of a major unit, and every tie is broken by value (earliest,
//! latest, smallest id or code), so the result does not depend on the order of the input: the
//! vector served online is bit-identical to the one computed for training.
//!
//! Amounts are not converted between currencies: a customer's data is assumed to be in the
//! bank's currency, and each amount is scaled by its own currency's minor-unit exponent.

use crate::defs::{F, FEATURES};
use crate::{CustomerData, FEATURE_VERSION, FeatureVector};
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use sextant_core::{
    Account, AccountId, AccountKind, AccountStatus, Category, Channel, CountryCode,
    EngagementLevel, Money, RiskProfile, SpendingHabit, Transaction, TxStatus,
};
use std::collections::HashMap;

/// The long window ("12m"): the 365 days before `as_of`.
const LONG_DAYS: i64 = 365;
/// The short window ("3m"): the 91 days before `as_of`.
const SHORT_DAYS: i64 = 91;
/// A month is a twelfth of the long window, so 365 days of data are exactly 12 months.
const MONTH_SECS: f64 = LONG_DAYS as f64 * 86_400.0 / 12.0;
/// Fewer end-of-day balances than this and volatility is not available.
const MIN_BALANCE_DAYS: usize = 5;
/// The trend needs as much history outside the short window as inside it.
const MIN_TREND_DAYS: i64 = 2 * SHORT_DAYS;
/// A merchant is recurring when charged in at least this many calendar months …
const RECURRING_MIN_MONTHS: usize = 3;
/// … with monthly totals within ±1/RECURRING_TOLERANCE_INV (20%) of their median.
const RECURRING_TOLERANCE_INV: i128 = 5;
/// Calendar days the short window touches (91 days plus the partial first day).
const SHORT_SLOTS: usize = SHORT_DAYS as usize + 1;
const N_CATEGORIES: usize = Category::ALL.len();

/// Compute every feature of [`FEATURES`] for one customer at `data.as_of`.
///
/// Only data up to and including `as_of` is used (transactions after it are ignored), so the same
/// call gives point-in-time training features for any past date.
pub fn compute(data: &CustomerData) -> FeatureVector {
    let mut out = Out(vec![f64::NAN; FEATURES.len()]);
    profile(data, &mut out);
    let current = holdings(data, &mut out);
    transactions(data, current, &mut out);
    FeatureVector {
        version: FEATURE_VERSION,
        values: out.0,
    }
}

struct Out(Vec<f64>);

impl Out {
    fn set(&mut self, f: F, value: f64) {
        self.0[f as usize] = value;
    }
}

/// An amount in millionths of a major unit: exact, so sums do not depend on order.
fn micro(m: Money) -> i128 {
    let exp = u32::from(m.currency.exponent());
    i128::from(m.minor) * 10i128.pow(6u32.saturating_sub(exp))
}

fn major(micro: i128) -> f64 {
    micro as f64 / 1e6
}

fn ratio(num: i128, den: i128) -> f64 {
    if den > 0 {
        num as f64 / den as f64
    } else {
        f64::NAN
    }
}

fn profile(data: &CustomerData, out: &mut Out) {
    let c = data.customer;
    out.set(F::Age, f64::from(c.age));
    out.set(F::IncomeAnnual, major(micro(c.income)));
    out.set(
        F::SpendingHabit,
        match c.spending_habit {
            SpendingHabit::Budget => 0.0,
            SpendingHabit::Moderate => 1.0,
            SpendingHabit::Lavish => 2.0,
        },
    );
    out.set(
        F::RiskProfile,
        match c.risk_profile {
            RiskProfile::Low => 0.0,
            RiskProfile::Medium => 1.0,
            RiskProfile::High => 2.0,
        },
    );
    out.set(F::TransactionsReported, f64::from(c.transactions));
    out.set(F::Sentiment, c.sentiment_score.value());
    out.set(
        F::Engagement,
        match c.engagement_level {
            EngagementLevel::Low => 0.0,
            EngagementLevel::Medium => 1.0,
            EngagementLevel::High => 2.0,
        },
    );
    if let Some(joined) = c.joined_on {
        let days = (data.as_of.date_naive() - joined).num_days().max(0);
        out.set(F::TenureYears, days as f64 / 365.25);
    }
}

/// Whether an account is held at `today`: opened by then and not closed by then. Judged by the
/// dates, not the status: the status is the account's state at the end of the data, so using it
/// for an earlier `today` leaked the future into point-in-time features (a churn model trained
/// on them scored a cross-validated ROC-AUC of 1.000). A `closed` account without a closing date
/// counts as not held.
fn held(a: &Account, today: NaiveDate) -> bool {
    a.opened_on <= today
        && match a.closed_on {
            Some(d) => d > today,
            None => a.status != AccountStatus::Closed,
        }
}

/// Product holdings and credit utilisation; returns the current account whose balances feed
/// `balance_volatility` (a held one first, then the smallest id, so account order is irrelevant).
fn holdings<'a>(data: &CustomerData<'a>, out: &mut Out) -> Option<&'a AccountId> {
    let today = data.as_of.date_naive();
    let mut count = 0u32;
    let has = |k: AccountKind| data.accounts.iter().any(|a| a.kind == k && held(a, today));
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let cc = has(AccountKind::CreditCard);
    let pl = has(AccountKind::PersonalLoan);
    let mo = has(AccountKind::Mortgage);
    let sa = has(AccountKind::Savings);
    let iv = has(AccountKind::Investment);
    let (mut owed, mut limit) = (0i128, 0i128);
    for a in data.accounts.iter().filter(|a| held(a, today)) {
        count += 1;
        if a.kind == AccountKind::CreditCard {
            owed += (-micro(a.balance)).max(0);
            limit += a.limit.map(micro).unwrap_or(0).max(0);
        }
    }
    out.set(F::ProductsHeld, f64::from(count));
    out.set(F::HasCreditCard, flag(cc));
    out.set(F::HasPersonalLoan, flag(pl));
    out.set(F::HasMortgage, flag(mo));
    out.set(F::HasSavings, flag(sa));
    out.set(F::HasInvestment, flag(iv));
    if cc {
        out.set(F::CreditUtilization, ratio(owed, limit));
    }
    data.accounts
        .iter()
        .filter(|a| a.kind == AccountKind::Current)
        .min_by_key(|a| (!held(a, today), a.id.as_str()))
        .map(|a| &a.id)
}

/// Money out that counts as spending: every debit except moving money between one's own
/// accounts (transfer, savings), repaying loans, and reversed income.
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

/// Whether a transaction is a spend debit: approved, money out (`amount < 0`), and a spending
/// category ([`is_spend`]). The one definition, shared with the real-time windows of
/// `sextant-stream` so online and batch spend agree.
pub fn is_spend_debit(t: &Transaction) -> bool {
    t.status == TxStatus::Approved && t.amount.minor < 0 && is_spend(t.category)
}

/// Channels where a card (or its token) is presented, so a decline says something.
fn is_card(ch: Channel) -> bool {
    matches!(
        ch,
        Channel::CardPresent | Channel::CardOnline | Channel::MobileWallet | Channel::Atm
    )
}

/// Channels a biller pulls payments through (direct debit, standing order, card on file):
/// recurring payments come this way, while purchases at a till or an ATM do not.
fn is_billed(ch: Channel) -> bool {
    matches!(
        ch,
        Channel::DirectDebit | Channel::StandingOrder | Channel::CardOnline
    )
}

/// The last balance of a calendar day: latest timestamp, then largest transaction id.
type DayEnd<'a> = Option<(DateTime<Utc>, &'a str, i128)>;

/// Everything the single pass accumulates.
struct Pass<'a> {
    first: Option<DateTime<Utc>>,
    income: i128,
    spend: i128,
    spend_n: u64,
    by_category: [i128; N_CATEGORIES],
    last_spend: Option<DateTime<Utc>>,
    short_spend: i128,
    short_spend_n: u64,
    short_card_n: u64,
    short_declined_n: u64,
    /// Approved transactions per country in the long window (to find the home country).
    countries: HashMap<CountryCode, u64>,
    /// Short-window spend debits per country.
    short_countries: HashMap<CountryCode, u64>,
    /// Billed spend per merchant per calendar month (`year * 12 + month0`).
    merchants: HashMap<&'a str, Vec<(i32, i128)>>,
    day_ends: [DayEnd<'a>; SHORT_SLOTS],
}

fn transactions(data: &CustomerData, current: Option<&AccountId>, out: &mut Out) {
    let as_of = data.as_of;
    let long_start = as_of - TimeDelta::days(LONG_DAYS);
    let short_start = as_of - TimeDelta::days(SHORT_DAYS);
    let short_first_day = short_start.date_naive();
    let mut p = Pass {
        first: None,
        income: 0,
        spend: 0,
        spend_n: 0,
        by_category: [0; N_CATEGORIES],
        last_spend: None,
        short_spend: 0,
        short_spend_n: 0,
        short_card_n: 0,
        short_declined_n: 0,
        countries: HashMap::new(),
        short_countries: HashMap::new(),
        merchants: HashMap::new(),
        day_ends: [None; SHORT_SLOTS],
    };

    for t in data.transactions {
        let ts = t.timestamp;
        if ts <= long_start || ts > as_of {
            continue;
        }
        let short = ts > short_start;
        if short && is_card(t.channel) {
            p.short_card_n += 1;
            if t.status == TxStatus::Declined {
                p.short_declined_n += 1;
            }
        }
        if t.status != TxStatus::Approved {
            continue;
        }
        p.first = Some(p.first.map_or(ts, |f| f.min(ts)));
        *p.countries.entry(t.country).or_default() += 1;
        let amount = micro(t.amount);
        if amount > 0 && matches!(t.category, Category::Salary | Category::OtherIncome) {
            p.income += amount;
        } else if is_spend_debit(t) {
            let a = -amount;
            p.spend += a;
            p.spend_n += 1;
            p.by_category[t.category as usize] += a;
            p.last_spend = Some(p.last_spend.map_or(ts, |l| l.max(ts)));
            if short {
                p.short_spend += a;
                p.short_spend_n += 1;
                *p.short_countries.entry(t.country).or_default() += 1;
            }
            if let Some(m) = t.merchant.as_deref().filter(|_| is_billed(t.channel)) {
                let month = ts.year() * 12 + ts.month0() as i32;
                let months = p.merchants.entry(m).or_default();
                match months.iter_mut().find(|(k, _)| *k == month) {
                    Some((_, total)) => *total += a,
                    None => months.push((month, a)),
                }
            }
        }
        if short
            && current == Some(&t.account_id)
            && let Some(balance) = t.balance_after
        {
            let slot = (ts.date_naive() - short_first_day).num_days() as usize;
            let end = &mut p.day_ends[slot];
            let candidate = (ts, t.id.as_str(), micro(balance));
            if end.is_none_or(|(ets, eid, _)| (ts, t.id.as_str()) > (ets, eid)) {
                *end = Some(candidate);
            }
        }
    }

    let Some(first) = p.first else {
        return; // no approved transactions in the long window: everything stays NaN
    };
    let span = as_of - first;
    let months = (span.num_milliseconds() as f64 / 1000.0 / MONTH_SECS).max(1.0);
    let short_months = SHORT_DAYS as f64 * 86_400.0 / MONTH_SECS;
    let cat = |c: Category| p.by_category[c as usize];
    let share = |x: i128| ratio(x, p.spend);

    out.set(F::MonthlyIncome, major(p.income) / months);
    out.set(F::MonthlySpend, major(p.spend) / months);
    out.set(F::ShareHousing, share(cat(Category::Housing)));
    out.set(F::ShareGroceries, share(cat(Category::Groceries)));
    out.set(F::ShareDining, share(cat(Category::Restaurants)));
    out.set(F::ShareUtilities, share(cat(Category::Utilities)));
    out.set(F::ShareSubscriptions, share(cat(Category::Subscriptions)));
    out.set(F::ShareTravel, share(cat(Category::Travel)));
    out.set(
        F::ShareTransport,
        share(cat(Category::Transport) + cat(Category::Fuel)),
    );
    out.set(F::ShareShopping, share(cat(Category::Shopping)));
    out.set(F::ShareEntertainment, share(cat(Category::Entertainment)));
    out.set(F::ShareCash, share(cat(Category::Cash)));
    out.set(
        F::Discretionary,
        share(
            cat(Category::Restaurants)
                + cat(Category::Travel)
                + cat(Category::Shopping)
                + cat(Category::Entertainment),
        ),
    );
    out.set(
        F::SavingsRate,
        ratio(p.income - p.spend, p.income).clamp(-1.0, 1.0),
    );
    out.set(F::BalanceVolatility, volatility(&p.day_ends));

    let (recurring, recurring_spend) = recurring(&p.merchants);
    out.set(F::RecurringPayments, recurring as f64);
    out.set(F::RecurringShare, share(recurring_spend));

    if let Some(last) = p.last_spend {
        out.set(
            F::RecencyDays,
            (as_of - last).num_milliseconds() as f64 / 86_400_000.0,
        );
    }
    out.set(F::FrequencyPerMonth, p.spend_n as f64 / months);
    if p.spend_n > 0 {
        out.set(F::MonetaryAvg, major(p.spend) / p.spend_n as f64);
    }
    if span >= TimeDelta::days(MIN_TREND_DAYS) && p.spend > 0 {
        out.set(
            F::SpendTrend,
            (major(p.short_spend) / short_months) / (major(p.spend) / months),
        );
    }
    if p.short_card_n > 0 {
        out.set(
            F::DeclinedShare3m,
            p.short_declined_n as f64 / p.short_card_n as f64,
        );
    }
    if p.short_spend_n > 0 {
        // Home: the most frequent country, ties to the smallest code.
        let home = p
            .countries
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.as_str().cmp(a.0.as_str())))
            .map(|(c, _)| *c);
        let at_home = home
            .and_then(|h| p.short_countries.get(&h))
            .copied()
            .unwrap_or(0);
        out.set(
            F::ForeignShare3m,
            (p.short_spend_n - at_home) as f64 / p.short_spend_n as f64,
        );
    }
}

/// Coefficient of variation (population standard deviation over |mean|) of the end-of-day
/// balances, in day order.
fn volatility(day_ends: &[DayEnd]) -> f64 {
    let balances: Vec<f64> = day_ends.iter().flatten().map(|e| major(e.2)).collect();
    if balances.len() < MIN_BALANCE_DAYS {
        return f64::NAN;
    }
    let n = balances.len() as f64;
    let mean = balances.iter().sum::<f64>() / n;
    if mean == 0.0 {
        return f64::NAN;
    }
    let var = balances.iter().map(|b| (b - mean).powi(2)).sum::<f64>() / n;
    var.sqrt() / mean.abs()
}

/// Recurring merchants and their total spend. A merchant recurs when, counting only payments it
/// billed ([`is_billed`]), in at least [`RECURRING_MIN_MONTHS`] calendar months its monthly total
/// is within 20% of the median monthly total; all its billed spend in the window then counts as
/// recurring spend. (Without the channel rule a regular supermarket or ATM would count: on a
/// synthetic bank it removed nine in ten false positives and no bill.)
fn recurring(merchants: &HashMap<&str, Vec<(i32, i128)>>) -> (u32, i128) {
    let mut count = 0;
    let mut spend = 0;
    let mut totals = Vec::new();
    for months in merchants.values() {
        if months.len() < RECURRING_MIN_MONTHS {
            continue;
        }
        totals.clear();
        totals.extend(months.iter().map(|(_, t)| *t));
        totals.sort_unstable();
        let n = totals.len();
        // Twice the median, so an even count's median stays an integer.
        let median2 = if n % 2 == 1 {
            2 * totals[n / 2]
        } else {
            totals[n / 2 - 1] + totals[n / 2]
        };
        let close = totals
            .iter()
            .filter(|&&t| RECURRING_TOLERANCE_INV * (2 * t - median2).abs() <= median2)
            .count();
        if close >= RECURRING_MIN_MONTHS {
            count += 1;
            spend += totals.iter().sum::<i128>();
        }
    }
    (count, spend)
}
