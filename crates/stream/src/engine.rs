//! The engine: per-customer state (sliding windows, lifetime baselines, rule state), updated
//! incrementally by each event, and the rules evaluated against it.
//!
//! For each event, in this order: event time advances the customer's windows; a transaction is
//! added to the windows; the facts rules compare against (is the country new, the mean spend
//! debit, the merchant's previous charge) are read *before* the event updates the baselines;
//! the baselines are updated; then every rule is evaluated, in file order. Everything depends
//! only on the events and their order, never on a clock, so a replay gives the same alerts.

use crate::alert::{Alert, AlertAction, alert_id, format_minor, round1};
use crate::event::{EventBody, StreamEvent};
use crate::rules::{Predicate, Rule, RuleSet, RuleSpec, Step};
use crate::snapshot::{MAGIC, Reader, WHOLE_SECONDS, Writer};
use crate::window::{
    APPROVED, DAY, DEBIT, Record, SECOND, SPEND, WINDOWS, WindowView, Windows, category_of,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sextant_core::{
    AccountId, Category, Channel, CountryCode, Currency, CustomerId, Money, Transaction, TxStatus,
};
use std::collections::HashMap;
use std::sync::Arc;

/// Salary credits this close to a payday belong to it (a salary paid in two parts).
const PAYDAY_MERGE: i64 = 5 * DAY;
/// Paydays remembered for the cadence estimate.
const MAX_PAYDAYS: usize = 7;
/// Recurring merchants remembered per customer (the least recently charged is forgotten).
const MAX_RECURRING: usize = 64;

/// The snapshot format version [`Engine::snapshot`] writes and [`Engine::restore`] reads
/// (1 was JSON; 2 is the binary format described in `snapshot.rs`).
pub const SNAPSHOT_VERSION: u32 = 2;

/// Why a snapshot could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("not a stream snapshot: {0}")]
    Malformed(String),
    #[error(
        "stream snapshot version {found} is not supported (this build reads version {supported})"
    )]
    Version { found: u32, supported: u32 },
    #[error("a customer's state in the snapshot is inconsistent: {0}")]
    Inconsistent(String),
}

/// One payday: the first salary credit's time and the total credited around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Payday {
    ts: i64,
    amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AccountBalance {
    account: AccountId,
    balance: Money,
    ts: i64,
}

/// A merchant billing the customer regularly, and its last charge.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recurring {
    merchant: Box<str>,
    /// Absolute amount, minor units.
    amount: i64,
    ts: i64,
}

/// Lifetime baselines of one customer (every event counts, however old).
#[derive(Debug, Clone, Default, PartialEq)]
struct Baseline {
    /// Earliest event time seen.
    first_ts: i64,
    transactions: u64,
    approved: u64,
    /// Spend debits: count, mean and sum of squared deviations of the absolute amount (Welford).
    spend_n: u64,
    spend_mean: f64,
    spend_m2: f64,
    /// Countries of approved transactions, in the order first seen.
    countries: Vec<[u8; 2]>,
    /// Bit `Category as u8` set once the customer had a spend debit in it.
    categories: u32,
    /// MCCs of spend debits, sorted.
    mccs: Vec<u16>,
    /// Paydays, oldest first.
    paydays: Vec<Payday>,
    balances: Vec<AccountBalance>,
    recurring: Vec<Recurring>,
}

/// What the rules compare an event against, read before the event updated the baselines.
#[derive(Debug, Default)]
struct Facts {
    /// A transaction's or login's country is not among the countries seen (`None`: no country).
    new_country: Option<bool>,
    approved_before: u64,
    spend: bool,
    new_category: bool,
    spend_n_before: u64,
    mean_before: f64,
    /// A recurring-type charge (direct debit, standing order, subscriptions) with a merchant …
    recurring: bool,
    /// … and that merchant's previous charge (absolute amount, time).
    prev_charge: Option<(i64, i64)>,
    /// An approved salary credit.
    salary: bool,
    /// The touched account's balance, when this event changed it.
    balance: Option<Money>,
}

fn is_recurring_charge(t: &Transaction) -> bool {
    matches!(t.channel, Channel::DirectDebit | Channel::StandingOrder)
        || t.category == Category::Subscriptions
}

fn country_bytes(c: CountryCode) -> [u8; 2] {
    let b = c.as_str().as_bytes();
    [b[0], b[1]]
}

impl Baseline {
    fn has_country(&self, c: CountryCode) -> bool {
        self.countries.contains(&country_bytes(c))
    }

    fn spend_std(&self) -> f64 {
        if self.spend_n == 0 {
            0.0
        } else {
            (self.spend_m2 / self.spend_n as f64).sqrt()
        }
    }

    /// Update with a transaction; returns the facts as they were before it.
    fn observe(&mut self, t: &Transaction, ts: i64, spend: bool) -> Facts {
        let cc = country_bytes(t.country);
        let known = self.countries.contains(&cc);
        let mut f = Facts {
            new_country: Some(!known),
            approved_before: self.approved,
            spend,
            spend_n_before: self.spend_n,
            mean_before: self.spend_mean,
            ..Facts::default()
        };
        self.transactions += 1;
        let approved = t.status == TxStatus::Approved;
        if approved {
            self.approved += 1;
            if !known {
                self.countries.push(cc);
            }
        }
        if spend {
            let bit = 1u32 << (t.category as u32);
            f.new_category = self.categories & bit == 0;
            self.categories |= bit;
            let x = t.amount.minor.saturating_abs() as f64;
            self.spend_n += 1;
            let delta = x - self.spend_mean;
            self.spend_mean += delta / self.spend_n as f64;
            self.spend_m2 += delta * (x - self.spend_mean);
            if let Some(m) = t.mcc
                && let Err(i) = self.mccs.binary_search(&m.value())
            {
                self.mccs.insert(i, m.value());
            }
            if let Some(m) = t.merchant.as_deref()
                && is_recurring_charge(t)
            {
                f.recurring = true;
                f.prev_charge = self.charge(m, t.amount.minor.saturating_abs(), ts);
            }
        }
        if approved && t.amount.minor > 0 && t.category == Category::Salary {
            f.salary = true;
            self.payday(ts, t.amount.minor);
        }
        if let Some(b) = t.balance_after
            && self.set_balance(&t.account_id, b, ts)
        {
            f.balance = Some(b);
        }
        f
    }

    /// Record a recurring charge; returns the merchant's previous one.
    fn charge(&mut self, merchant: &str, amount: i64, ts: i64) -> Option<(i64, i64)> {
        if let Some(r) = self.recurring.iter_mut().find(|r| &*r.merchant == merchant) {
            let prev = (r.amount, r.ts);
            if ts >= r.ts {
                r.amount = amount;
                r.ts = ts;
                return Some(prev);
            }
            return None; // an older charge arriving late says nothing about a rise
        }
        if self.recurring.len() >= MAX_RECURRING
            && let Some(i) = (0..self.recurring.len()).min_by_key(|&i| self.recurring[i].ts)
        {
            self.recurring.swap_remove(i);
        }
        self.recurring.push(Recurring {
            merchant: merchant.into(),
            amount,
            ts,
        });
        None
    }

    fn payday(&mut self, ts: i64, amount: i64) {
        if let Some(p) = self
            .paydays
            .iter_mut()
            .find(|p| (p.ts - ts).abs() <= PAYDAY_MERGE)
        {
            p.amount = p.amount.saturating_add(amount);
            p.ts = p.ts.min(ts);
            return;
        }
        let i = self.paydays.partition_point(|p| p.ts < ts);
        self.paydays.insert(i, Payday { ts, amount });
        if self.paydays.len() > MAX_PAYDAYS {
            self.paydays.remove(0);
        }
    }

    /// Median interval between paydays, once two are known.
    fn cadence(&self) -> Option<i64> {
        let mut gaps: Vec<i64> = self.paydays.windows(2).map(|p| p[1].ts - p[0].ts).collect();
        if gaps.is_empty() {
            return None;
        }
        gaps.sort_unstable();
        let n = gaps.len();
        Some(if n % 2 == 1 {
            gaps[n / 2]
        } else {
            gaps[n / 2 - 1] / 2 + gaps[n / 2] / 2
        })
    }

    /// Set an account's balance unless a newer one is known; returns whether it changed.
    fn set_balance(&mut self, account: &AccountId, balance: Money, ts: i64) -> bool {
        match self.balances.iter_mut().find(|b| &b.account == account) {
            Some(b) if ts >= b.ts => {
                b.balance = balance;
                b.ts = ts;
                true
            }
            Some(_) => false,
            None => {
                self.balances.push(AccountBalance {
                    account: account.clone(),
                    balance,
                    ts,
                });
                true
            }
        }
    }
}

/// Per-customer state of one rule.
#[derive(Debug, Clone, Default, PartialEq)]
struct RuleState {
    /// Event time of the last alert (for cooldowns).
    last_fired: Option<i64>,
    /// The salary cycle (payday time) a low-balance warning was given for.
    cycle: Option<i64>,
    /// A sequence's partial matches: at most one per position (the latest-starting one).
    runs: Vec<Run>,
}

/// A partial match of a sequence: `pos` matches so far, the first at `start`.
#[derive(Debug, Clone, PartialEq)]
struct Run {
    pos: u32,
    start: i64,
    events: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct CustomerState {
    windows: Windows,
    base: Baseline,
    /// Rule index → state, only for rules that needed some (sparse: most customers need none).
    rules: Vec<(u16, RuleState)>,
}

impl CustomerState {
    fn rule(&self, i: u16) -> Option<&RuleState> {
        self.rules.iter().find(|(k, _)| *k == i).map(|(_, s)| s)
    }

    fn rule_mut(&mut self, i: u16) -> &mut RuleState {
        let pos = match self.rules.iter().position(|(k, _)| *k == i) {
            Some(p) => p,
            None => {
                self.rules.push((i, RuleState::default()));
                self.rules.len() - 1
            }
        };
        &mut self.rules[pos].1
    }
}

/// A customer's windows and baselines, as the API shows them.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CustomerView {
    pub customer_id: CustomerId,
    /// Newest event time seen for the customer; the windows end here.
    pub latest: DateTime<Utc>,
    /// `1h`, `24h`, `7d`, `30d`.
    pub windows: Vec<WindowView>,
    pub baseline: BaselineView,
}

/// Lifetime baselines.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BaselineView {
    pub first_event: DateTime<Utc>,
    pub transactions: u64,
    pub approved: u64,
    /// Spend debits: count, mean and population standard deviation of the absolute amount.
    pub spend_count: u64,
    pub spend_mean_minor: f64,
    pub spend_std_minor: f64,
    /// Countries of approved transactions, sorted.
    pub countries: Vec<String>,
    /// Categories and MCCs of spend debits, sorted.
    pub categories: Vec<String>,
    pub mccs: Vec<u16>,
    pub last_salary: Option<SalaryView>,
    /// Median days between paydays, once two are known.
    pub salary_cadence_days: Option<f64>,
    pub next_salary_expected: Option<DateTime<Utc>>,
    pub balances: Vec<BalanceView>,
    /// Merchants billing by direct debit, standing order or as subscriptions, and their last charge.
    pub recurring: Vec<RecurringView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SalaryView {
    pub at: DateTime<Utc>,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BalanceView {
    pub account_id: AccountId,
    pub balance: Money,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RecurringView {
    pub merchant: String,
    pub last_amount_minor: i64,
    pub last_at: DateTime<Utc>,
}

fn time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn date(micros: i64) -> String {
    time(micros).format("%Y-%m-%d").to_string()
}

/// Per-customer streaming state and the rules, applied one event at a time.
#[derive(Debug, Clone)]
pub struct Engine {
    rules: Arc<RuleSet>,
    customers: HashMap<CustomerId, CustomerState>,
}

impl Predicate {
    /// Whether one event satisfies every condition set.
    fn matches(&self, ev: &StreamEvent, new_country: Option<bool>) -> bool {
        if self.event_type.is_some_and(|t| t != ev.kind()) {
            return false;
        }
        let tx_only = self.status.is_some()
            || self.category.is_some()
            || self.amount_above_minor.is_some()
            || self.amount_below_minor.is_some()
            || self.debit.is_some();
        if self
            .new_country
            .is_some_and(|want| new_country != Some(want))
        {
            return false;
        }
        match &ev.body {
            EventBody::Transaction(t) => {
                let abs = t.amount.minor.saturating_abs();
                self.status.is_none_or(|s| s == t.status)
                    && self.category.is_none_or(|c| c == t.category)
                    && self
                        .channel
                        .as_ref()
                        .is_none_or(|c| c.transaction == Some(t.channel))
                    && self.amount_above_minor.is_none_or(|a| abs > a)
                    && self.amount_below_minor.is_none_or(|b| abs < b)
                    && self.debit.is_none_or(|d| d == (t.amount.minor < 0))
                    && self.success.is_none()
                    && self.name.is_none()
            }
            EventBody::Login {
                channel, success, ..
            } => {
                !tx_only
                    && self
                        .channel
                        .as_ref()
                        .is_none_or(|c| c.login == Some(*channel))
                    && self.success.is_none_or(|s| s == *success)
                    && self.name.is_none()
            }
            EventBody::Message { channel, .. } => {
                !tx_only
                    && self
                        .channel
                        .as_ref()
                        .is_none_or(|c| c.message == Some(*channel))
                    && self.success.is_none()
                    && self.name.is_none()
            }
            EventBody::App { name } => {
                !tx_only
                    && self.channel.is_none()
                    && self.success.is_none()
                    && self.name.as_ref().is_none_or(|n| n == name)
            }
            EventBody::Balance { .. } | EventBody::Feedback { .. } => {
                !tx_only && self.channel.is_none() && self.success.is_none() && self.name.is_none()
            }
        }
    }
}

fn step_at(steps: &[Step], mut pos: u32) -> &Predicate {
    for s in steps {
        if pos < s.at_least {
            return &s.when;
        }
        pos -= s.at_least;
    }
    &steps[steps.len() - 1].when
}

fn total_matches(steps: &[Step]) -> u32 {
    steps.iter().map(|s| s.at_least).sum()
}

/// Everything one rule evaluation reads.
struct Ctx<'a> {
    ev: &'a StreamEvent,
    ts: i64,
    facts: &'a Facts,
}

/// What a firing rule reports, before the engine adds the id and the rule's settings.
struct Finding {
    events: Vec<String>,
    reason: String,
    figures: Vec<(&'static str, Value)>,
}

impl Finding {
    fn single(ctx: &Ctx, reason: String, figures: Vec<(&'static str, Value)>) -> Finding {
        Finding {
            events: vec![ctx.ev.event_id.clone()],
            reason,
            figures,
        }
    }
}

fn tx(ev: &StreamEvent) -> Option<&Transaction> {
    match &ev.body {
        EventBody::Transaction(t) => Some(t),
        _ => None,
    }
}

fn money_text(minor: i64, c: Currency) -> String {
    format!("{} {}", format_minor(minor, c.exponent()), c.as_str())
}

/// Evaluate one rule; `None` when it does not fire. Updates the rule's per-customer state.
fn evaluate(rule: &Rule, idx: u16, st: &mut CustomerState, ctx: &Ctx) -> Option<Finding> {
    let f = ctx.facts;
    let ts = ctx.ts;
    match &rule.spec {
        RuleSpec::AmountAboveBaseline {
            factor,
            min_history,
        } => {
            let t = tx(ctx.ev).filter(|_| f.spend)?;
            let amount = t.amount.minor.saturating_abs();
            if f.spend_n_before < u64::from(*min_history).max(1)
                || f.mean_before <= 0.0
                || amount as f64 <= factor * f.mean_before
            {
                return None;
            }
            let ratio = round1(amount as f64 / f.mean_before);
            let mean = f.mean_before.round() as i64;
            let c = t.amount.currency;
            Some(Finding::single(
                ctx,
                format!(
                    "Debit of {} is {ratio}× this customer's typical {} (mean of {} spend debits).",
                    money_text(amount, c),
                    money_text(mean, c),
                    f.spend_n_before
                ),
                vec![
                    ("amount_minor", amount.into()),
                    ("currency", c.as_str().into()),
                    ("mean_minor", mean.into()),
                    ("ratio", ratio.into()),
                    ("history", f.spend_n_before.into()),
                    ("factor", (*factor).into()),
                ],
            ))
        }
        RuleSpec::Velocity { window, max_count } => {
            let t = tx(ctx.ev)?;
            if t.amount.minor >= 0 {
                return None;
            }
            let range = st.windows.range(ts.saturating_sub(window.as_micros()), ts);
            let records = st.windows.records();
            let count = range.filter(|&i| records[i].is(DEBIT)).count();
            if count <= *max_count as usize {
                return None;
            }
            Some(Finding::single(
                ctx,
                format!("{count} debits within {window}, more than the limit of {max_count}."),
                vec![
                    ("count", count.into()),
                    ("window", window.to_string().into()),
                    ("max_count", (*max_count).into()),
                ],
            ))
        }
        RuleSpec::NewCountry { min_history } => {
            let t = tx(ctx.ev)?;
            if t.status != TxStatus::Approved
                || f.new_country != Some(true)
                || f.approved_before < u64::from(*min_history)
            {
                return None;
            }
            Some(Finding::single(
                ctx,
                format!(
                    "First transaction in {} after {} approved transactions elsewhere.",
                    t.country.as_str(),
                    f.approved_before
                ),
                vec![
                    ("country", t.country.as_str().into()),
                    ("history", f.approved_before.into()),
                ],
            ))
        }
        RuleSpec::NewCategory { min_history } => {
            let t = tx(ctx.ev)?;
            if !f.spend || !f.new_category || f.spend_n_before < u64::from(*min_history) {
                return None;
            }
            Some(Finding::single(
                ctx,
                format!(
                    "First spend on {} after {} spend debits in other categories.",
                    t.category.as_str(),
                    f.spend_n_before
                ),
                vec![
                    ("category", t.category.as_str().into()),
                    ("history", f.spend_n_before.into()),
                ],
            ))
        }
        RuleSpec::Sequence { within, steps } => sequence(rule, idx, st, ctx, *within, steps),
        RuleSpec::SalaryArrival { min_amount_minor } => {
            let t = tx(ctx.ev).filter(|_| f.salary)?;
            if t.amount.minor < *min_amount_minor {
                return None;
            }
            let mut figures = vec![
                ("amount_minor", t.amount.minor.into()),
                ("currency", t.amount.currency.as_str().into()),
            ];
            let reason = match &rule.action {
                AlertAction::Nudge {
                    product_family: Some(p),
                } => {
                    figures.push(("product_family", p.as_str().into()));
                    format!(
                        "Salary of {} arrived: a moment to suggest {}.",
                        money_text(t.amount.minor, t.amount.currency),
                        p.replace('_', " ")
                    )
                }
                _ => format!(
                    "Salary of {} arrived.",
                    money_text(t.amount.minor, t.amount.currency)
                ),
            };
            Some(Finding::single(ctx, reason, figures))
        }
        RuleSpec::LowBalanceForecast { threshold_minor } => {
            let balance = f.balance?;
            let cadence = st.base.cadence()?;
            let payday = *st.base.paydays.last()?;
            let next = payday.ts + cadence;
            if next <= ts || st.rule(idx).is_some_and(|s| s.cycle == Some(payday.ts)) {
                return None; // salary overdue (no forecast), or already warned this cycle
            }
            let latest = st.windows.latest().unwrap_or(ts);
            let covered = ((latest - st.base.first_ts) as f64 / DAY as f64).clamp(1.0, 30.0);
            let daily = st.windows.totals(WINDOWS.len() - 1).spend_minor as f64 / covered;
            let days = (next - ts) as f64 / DAY as f64;
            let forecast = balance.minor.saturating_sub((daily * days).round() as i64);
            if forecast >= *threshold_minor {
                return None;
            }
            st.rule_mut(idx).cycle = Some(payday.ts);
            let c = balance.currency;
            let days1 = round1(days);
            let daily_minor = daily.round() as i64;
            Some(Finding::single(
                ctx,
                format!(
                    "Balance {} less {} average daily spend for the {days1} days until the salary expected on {} leaves {}, below {}.",
                    money_text(balance.minor, c),
                    money_text(daily_minor, c),
                    date(next),
                    money_text(forecast, c),
                    money_text(*threshold_minor, c),
                ),
                vec![
                    ("balance_minor", balance.minor.into()),
                    ("currency", c.as_str().into()),
                    ("daily_spend_minor", daily_minor.into()),
                    ("days_to_salary", days1.into()),
                    ("next_salary", date(next).into()),
                    ("forecast_minor", forecast.into()),
                    ("threshold_minor", (*threshold_minor).into()),
                ],
            ))
        }
        RuleSpec::SubscriptionPriceRise {
            min_increase_pct,
            min_interval,
        } => {
            let t = tx(ctx.ev).filter(|_| f.recurring)?;
            let (prev, prev_ts) = f.prev_charge?;
            let amount = t.amount.minor.saturating_abs();
            if prev <= 0 || ts - prev_ts < min_interval.as_micros() {
                return None;
            }
            let pct = (amount - prev) as f64 * 100.0 / prev as f64;
            if pct < *min_increase_pct {
                return None;
            }
            let pct1 = round1(pct);
            let merchant = t.merchant.as_deref().unwrap_or_default();
            let c = t.amount.currency;
            Some(Finding::single(
                ctx,
                format!(
                    "{merchant} charged {}, {pct1}% more than the {} charged on {}.",
                    money_text(amount, c),
                    money_text(prev, c),
                    date(prev_ts)
                ),
                vec![
                    ("merchant", merchant.into()),
                    ("amount_minor", amount.into()),
                    ("previous_minor", prev.into()),
                    ("currency", c.as_str().into()),
                    ("increase_pct", pct1.into()),
                    ("previous_date", date(prev_ts).into()),
                ],
            ))
        }
    }
}

/// Advance a sequence's partial matches with one event (skip-till-any-match: an event may
/// extend a match or be skipped). Per position only the latest-starting match is kept: it
/// expires last and can be completed by exactly the same future events, so nothing is lost.
fn sequence(
    rule: &Rule,
    idx: u16,
    st: &mut CustomerState,
    ctx: &Ctx,
    within: crate::rules::Span,
    steps: &[Step],
) -> Option<Finding> {
    let total = total_matches(steps);
    let starts = step_at(steps, 0).matches(ctx.ev, ctx.facts.new_country);
    if !starts && st.rule(idx).is_none_or(|s| s.runs.is_empty()) {
        return None; // the common case: no allocation, no state
    }
    let ts = ctx.ts;
    let rs = st.rule_mut(idx);
    rs.runs.retain(|r| ts - r.start <= within.as_micros());
    let mut advanced = Vec::new();
    for r in &rs.runs {
        if step_at(steps, r.pos).matches(ctx.ev, ctx.facts.new_country) {
            let mut events = Vec::with_capacity(r.events.len() + 1);
            events.extend(r.events.iter().cloned());
            events.push(ctx.ev.event_id.clone());
            advanced.push(Run {
                pos: r.pos + 1,
                start: r.start,
                events,
            });
        }
    }
    if starts {
        advanced.push(Run {
            pos: 1,
            start: ts,
            events: vec![ctx.ev.event_id.clone()],
        });
    }
    let mut done: Option<Run> = None;
    for a in advanced {
        if a.pos >= total {
            if done.as_ref().is_none_or(|d| a.start > d.start) {
                done = Some(a);
            }
        } else {
            match rs.runs.iter_mut().find(|r| r.pos == a.pos) {
                Some(r) if a.start > r.start => *r = a,
                Some(_) => {}
                None => rs.runs.push(a),
            }
        }
    }
    let done = done?;
    rs.runs.clear(); // these events fire once; matching starts afresh
    let elapsed_min = round1((ts - done.start).max(0) as f64 / 60_000_000.0);
    let n = done.events.len();
    Some(Finding {
        reason: format!(
            "{n} events matched the {} steps of '{}' within {elapsed_min} minutes (limit {within}).",
            steps.len(),
            rule.id
        ),
        figures: vec![
            ("events", n.into()),
            ("steps", steps.len().into()),
            ("elapsed_minutes", elapsed_min.into()),
            ("within", within.to_string().into()),
        ],
        events: done.events,
    })
}

/// Apply one event to one customer's state.
fn apply_to(rules: &RuleSet, st: &mut CustomerState, ev: &StreamEvent) -> Vec<Alert> {
    let ts = ev.timestamp.timestamp_micros();
    st.base.first_ts = st.base.first_ts.min(ts);
    st.windows.advance(ts);
    let facts = match &ev.body {
        EventBody::Transaction(t) => {
            let spend = sextant_features::is_spend_debit(t);
            st.windows.insert(Record::of(t, ts, spend));
            st.base.observe(t, ts, spend)
        }
        EventBody::Balance {
            account_id,
            balance,
        } => Facts {
            balance: st
                .base
                .set_balance(account_id, *balance, ts)
                .then_some(*balance),
            ..Facts::default()
        },
        EventBody::Login { country, .. } => Facts {
            new_country: country.map(|c| !st.base.has_country(c)),
            ..Facts::default()
        },
        _ => Facts::default(),
    };
    let ctx = Ctx {
        ev,
        ts,
        facts: &facts,
    };
    let mut alerts = Vec::new();
    for (i, rule) in rules.rules().iter().enumerate() {
        let idx = i as u16;
        let Some(found) = evaluate(rule, idx, st, &ctx) else {
            continue;
        };
        let cooldown = match rule.spec {
            RuleSpec::Velocity { window, .. } => Some(rule.cooldown.unwrap_or(window)),
            _ => rule.cooldown,
        };
        let rs = st.rule_mut(idx);
        if let (Some(cd), Some(last)) = (cooldown, rs.last_fired)
            && ts < last.saturating_add(cd.as_micros())
        {
            continue;
        }
        rs.last_fired = Some(ts);
        alerts.push(Alert {
            id: alert_id(&rule.id, &ev.customer_id, &found.events),
            rule: rule.id.clone(),
            kind: rule.alert_kind,
            severity: rule.severity,
            action: rule.action.clone(),
            hold_for_review: rule.hold_for_review,
            customer_id: ev.customer_id.clone(),
            at: ev.timestamp,
            reason: found.reason,
            figures: found
                .figures
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            events: found.events,
        });
    }
    alerts
}

impl Engine {
    pub fn new(rules: Arc<RuleSet>) -> Engine {
        Engine {
            rules,
            customers: HashMap::new(),
        }
    }

    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    /// Apply one event: update the customer's state and return the alerts it raised, in rule
    /// order. Deterministic: the same events in the same order give the same alerts.
    pub fn apply(&mut self, ev: &StreamEvent) -> Vec<Alert> {
        // One hash lookup for a known customer; the id is cloned only for a new one.
        if let Some(st) = self.customers.get_mut(&ev.customer_id) {
            return apply_to(&self.rules, st, ev);
        }
        let st = self
            .customers
            .entry(ev.customer_id.clone())
            .or_insert_with(|| CustomerState {
                base: Baseline {
                    first_ts: ev.timestamp.timestamp_micros(),
                    ..Baseline::default()
                },
                ..CustomerState::default()
            });
        apply_to(&self.rules, st, ev)
    }

    /// The customer's windows and baselines, if any event of theirs was seen.
    pub fn customer(&self, id: &CustomerId) -> Option<CustomerView> {
        let st = self.customers.get(id)?;
        let b = &st.base;
        let mut countries: Vec<String> = b
            .countries
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        countries.sort();
        let mut categories: Vec<String> = (0..32u8)
            .filter(|i| b.categories & (1 << i) != 0)
            .map(|i| category_of(i).as_str().to_string())
            .collect();
        categories.sort();
        let cadence = b.cadence();
        let mut recurring: Vec<RecurringView> = b
            .recurring
            .iter()
            .map(|r| RecurringView {
                merchant: r.merchant.to_string(),
                last_amount_minor: r.amount,
                last_at: time(r.ts),
            })
            .collect();
        recurring.sort_by(|a, b| a.merchant.cmp(&b.merchant));
        let mut balances: Vec<BalanceView> = b
            .balances
            .iter()
            .map(|a| BalanceView {
                account_id: a.account.clone(),
                balance: a.balance,
                at: time(a.ts),
            })
            .collect();
        balances.sort_by(|a, b| a.account_id.cmp(&b.account_id));
        Some(CustomerView {
            customer_id: id.clone(),
            latest: time(st.windows.latest().unwrap_or(b.first_ts)),
            windows: (0..WINDOWS.len()).map(|w| st.windows.view(w)).collect(),
            baseline: BaselineView {
                first_event: time(b.first_ts),
                transactions: b.transactions,
                approved: b.approved,
                spend_count: b.spend_n,
                spend_mean_minor: b.spend_mean,
                spend_std_minor: b.spend_std(),
                countries,
                categories,
                mccs: b.mccs.clone(),
                last_salary: b.paydays.last().map(|p| SalaryView {
                    at: time(p.ts),
                    amount_minor: p.amount,
                }),
                salary_cadence_days: cadence.map(|c| c as f64 / DAY as f64),
                next_salary_expected: cadence.zip(b.paydays.last()).map(|(c, p)| time(p.ts + c)),
                balances,
                recurring,
            },
        })
    }

    /// Forget a customer (GDPR erasure); returns whether they were known.
    pub fn forget(&mut self, id: &CustomerId) -> bool {
        self.customers.remove(id).is_some()
    }

    /// Customers with state.
    pub fn customers(&self) -> usize {
        self.customers.len()
    }

    /// The whole state in the compact binary format described in `snapshot.rs` (version
    /// [`SNAPSHOT_VERSION`]), customers in id order and rule state in rule-id order, so the same
    /// state always gives the same bytes. Window totals are not stored: [`Engine::restore`]
    /// recomputes them from the records.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut ids: Vec<(&CustomerId, &CustomerState)> = self.customers.iter().collect();
        ids.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let records: usize = ids.iter().map(|(_, s)| s.windows.records().len()).sum();
        let mut w = Writer::with_capacity(16 + ids.len() * 96 + records * 12);
        w.bytes(MAGIC);
        w.u32_le(SNAPSHOT_VERSION);
        w.count(ids.len());
        for (id, st) in ids {
            self.write_customer(&mut w, id, st);
        }
        w.buf
    }

    fn write_customer(&self, w: &mut Writer, id: &CustomerId, st: &CustomerState) {
        let latest = st.windows.latest().unwrap_or(st.base.first_ts);
        w.str(id.as_str());
        w.sv(latest);
        w.base = latest;
        let records = st.windows.records();
        w.count(records.len());
        let mut prev = latest;
        for r in records {
            let dt = r.ts.wrapping_sub(prev);
            prev = r.ts;
            debug_assert_eq!(r.flags & !RECORD_FLAGS, 0);
            if dt % SECOND == 0 {
                w.u8(r.flags | WHOLE_SECONDS);
                w.sv(dt / SECOND);
            } else {
                w.u8(r.flags);
                w.sv(dt);
            }
            w.sv(r.amount);
            w.bytes(&[r.category, r.channel, r.country[0], r.country[1]]);
        }
        let b = &st.base;
        w.time(b.first_ts);
        w.uv(b.transactions);
        w.uv(b.approved);
        w.uv(b.spend_n);
        w.f64(b.spend_mean);
        w.f64(b.spend_m2);
        w.count(b.countries.len());
        for c in &b.countries {
            w.bytes(c);
        }
        w.uv(u64::from(b.categories));
        w.count(b.mccs.len());
        for m in &b.mccs {
            w.uv(u64::from(*m));
        }
        w.count(b.paydays.len());
        for p in &b.paydays {
            w.time(p.ts);
            w.sv(p.amount);
        }
        w.count(b.balances.len());
        for a in &b.balances {
            w.str(a.account.as_str());
            w.sv(a.balance.minor);
            w.str(a.balance.currency.as_str());
            w.time(a.ts);
        }
        w.count(b.recurring.len());
        for r in &b.recurring {
            w.str(&r.merchant);
            w.sv(r.amount);
            w.time(r.ts);
        }
        // Rule state by rule id, so it survives changes to the rules file.
        let mut rules: Vec<(&str, &RuleState)> = st
            .rules
            .iter()
            .filter(|(_, s)| *s != RuleState::default())
            .filter_map(|(i, s)| {
                self.rules
                    .rules()
                    .get(*i as usize)
                    .map(|r| (r.id.as_str(), s))
            })
            .collect();
        rules.sort_unstable_by(|a, b| a.0.cmp(b.0));
        w.count(rules.len());
        for (id, s) in rules {
            w.str(id);
            w.u8(u8::from(s.last_fired.is_some()) | u8::from(s.cycle.is_some()) << 1);
            if let Some(t) = s.last_fired {
                w.time(t);
            }
            if let Some(t) = s.cycle {
                w.time(t);
            }
            w.count(s.runs.len());
            for run in &s.runs {
                w.uv(u64::from(run.pos));
                w.time(run.start);
                w.count(run.events.len());
                for e in &run.events {
                    w.str(e);
                }
            }
        }
    }

    /// Rebuild an engine from [`Engine::snapshot`] bytes. Rule state is matched to `rules` by
    /// rule id; state of rules no longer present is dropped. Never panics: bytes that are not a
    /// version-[`SNAPSHOT_VERSION`] snapshot, truncated or followed by more bytes are refused.
    pub fn restore(rules: Arc<RuleSet>, bytes: &[u8]) -> Result<Engine, SnapshotError> {
        let mut r = Reader::new(bytes);
        if !bytes.starts_with(MAGIC) {
            return Err(legacy_version(bytes).unwrap_or_else(|| {
                SnapshotError::Malformed(format!(
                    "the data does not start with {:?}",
                    String::from_utf8_lossy(MAGIC)
                ))
            }));
        }
        r.take(MAGIC.len())?;
        let version = r.u32_le()?;
        if version != SNAPSHOT_VERSION {
            return Err(SnapshotError::Version {
                found: version,
                supported: SNAPSHOT_VERSION,
            });
        }
        // A customer takes at least 20 bytes (id, latest and empty sections).
        let n = r.count(20)?;
        let mut customers = HashMap::with_capacity(n);
        let mut prev: Option<CustomerId> = None;
        for _ in 0..n {
            let (id, st) = read_customer(&mut r, &rules)?;
            if prev.as_ref().is_some_and(|p| *p >= id) {
                return Err(SnapshotError::Inconsistent(format!(
                    "customer '{id}' is out of id order or repeated"
                )));
            }
            customers.insert(id.clone(), st);
            prev = Some(id);
        }
        r.finish()?;
        Ok(Engine { rules, customers })
    }
}

/// Record flags a snapshot may carry ([`crate::window`]'s `SPEND`, `APPROVED`, `DEBIT`).
const RECORD_FLAGS: u8 = SPEND | APPROVED | DEBIT;

/// A version-1 (JSON) snapshot: its version, to refuse it with [`SnapshotError::Version`].
fn legacy_version(bytes: &[u8]) -> Option<SnapshotError> {
    #[derive(serde::Deserialize)]
    struct Header {
        format: String,
        version: u32,
    }
    if bytes.first() != Some(&b'{') {
        return None;
    }
    let head: Header = serde_json::from_slice(bytes).ok()?;
    (head.format == "sextant-stream-snapshot").then_some(SnapshotError::Version {
        found: head.version,
        supported: SNAPSHOT_VERSION,
    })
}

fn inconsistent(id: &str, what: impl std::fmt::Display) -> SnapshotError {
    SnapshotError::Inconsistent(format!(
        "customer '{}': {what}",
        sextant_core::text::preview(id)
    ))
}

fn read_customer(
    r: &mut Reader,
    rules: &RuleSet,
) -> Result<(CustomerId, CustomerState), SnapshotError> {
    let raw = r.str()?;
    let id = CustomerId::parse(raw).map_err(|e| inconsistent(raw, e))?;
    let bad = |what: &str| inconsistent(raw, what);
    let latest = r.sv()?;
    r.base = latest;
    // A record takes at least 7 bytes (head, two varints, four codes).
    let n = r.count(7)?;
    let mut records = Vec::with_capacity(n);
    let mut prev = latest;
    for _ in 0..n {
        let head = r.u8()?;
        let dt = r.sv()?;
        let dt = if head & WHOLE_SECONDS != 0 {
            dt.wrapping_mul(SECOND)
        } else {
            dt
        };
        let flags = head & !WHOLE_SECONDS;
        if flags & !RECORD_FLAGS != 0 {
            return Err(bad("a record has unknown flags"));
        }
        let ts = prev.wrapping_add(dt);
        prev = ts;
        let amount = r.sv()?;
        let [category, channel, c0, c1] = r.array()?;
        records.push(Record {
            ts,
            amount,
            category,
            channel,
            country: [c0, c1],
            flags,
        });
    }
    let windows = Windows::rebuild(records, latest).map_err(|e| bad(&e))?;
    let mut b = Baseline {
        first_ts: r.time()?,
        transactions: r.uv()?,
        approved: r.uv()?,
        spend_n: r.uv()?,
        spend_mean: r.f64()?,
        spend_m2: r.f64()?,
        ..Baseline::default()
    };
    let n = r.count(2)?;
    b.countries = (0..n).map(|_| r.array()).collect::<Result<_, _>>()?;
    b.categories = r.uv_as()?;
    let n = r.count(1)?;
    b.mccs = (0..n).map(|_| r.uv_as()).collect::<Result<_, _>>()?;
    if b.mccs.windows(2).any(|m| m[0] >= m[1]) {
        return Err(bad("the MCCs are not sorted"));
    }
    let n = r.count(2)?;
    b.paydays = (0..n)
        .map(|_| {
            Ok(Payday {
                ts: r.time()?,
                amount: r.sv()?,
            })
        })
        .collect::<Result<_, SnapshotError>>()?;
    let n = r.count(4)?;
    b.balances = Vec::with_capacity(n);
    for _ in 0..n {
        let account = r.str()?;
        let account = AccountId::parse(account).map_err(|e| bad(&format!("account: {e}")))?;
        let minor = r.sv()?;
        let currency = r.str()?;
        let currency = Currency::parse(currency).map_err(|e| bad(&format!("currency: {e}")))?;
        b.balances.push(AccountBalance {
            account,
            balance: Money::new(minor, currency),
            ts: r.time()?,
        });
    }
    let n = r.count(3)?;
    b.recurring = Vec::with_capacity(n);
    for _ in 0..n {
        b.recurring.push(Recurring {
            merchant: r.str()?.into(),
            amount: r.sv()?,
            ts: r.time()?,
        });
    }
    let n = r.count(3)?;
    let mut states = Vec::new();
    let mut prev_rule: Option<&str> = None;
    for _ in 0..n {
        let rule_id = r.str()?;
        if prev_rule.is_some_and(|p| p >= rule_id) {
            return Err(bad("rule state is out of rule-id order or repeated"));
        }
        prev_rule = Some(rule_id);
        let has = r.u8()?;
        if has > 3 {
            return Err(r.malformed("unknown rule-state fields"));
        }
        let mut s = RuleState {
            last_fired: if has & 1 != 0 { Some(r.time()?) } else { None },
            cycle: if has & 2 != 0 { Some(r.time()?) } else { None },
            runs: Vec::new(),
        };
        let runs = r.count(3)?;
        s.runs = Vec::with_capacity(runs);
        for _ in 0..runs {
            let pos = r.uv_as()?;
            let start = r.time()?;
            let m = r.count(1)?;
            let events = (0..m)
                .map(|_| r.str().map(str::to_string))
                .collect::<Result<_, _>>()?;
            s.runs.push(Run { pos, start, events });
        }
        let Some(i) = rules.rules().iter().position(|x| x.id == rule_id) else {
            continue; // a rule no longer configured
        };
        match &rules.rules()[i].spec {
            RuleSpec::Sequence { steps, .. } => {
                let total = total_matches(steps);
                s.runs.retain(|x| x.pos >= 1 && x.pos < total);
            }
            _ => s.runs.clear(),
        }
        states.push((i as u16, s));
    }
    states.sort_by_key(|(i, _)| *i);
    Ok((
        id,
        CustomerState {
            windows,
            base: b,
            rules: states,
        },
    ))
}

/// Test-only access to the state, for the online-versus-batch checks.
#[cfg(test)]
impl Engine {
    pub(crate) fn windows_of(&self, id: &CustomerId) -> Option<&Windows> {
        self.customers.get(id).map(|s| &s.windows)
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
