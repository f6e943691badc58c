//! Engagement KPIs from customer activity.
//!
//! The caller gathers one [`CustomerActivity`] per customer (active days, feature use, the
//! responses to what Sextant showed them, NPS answers, an estimated monthly margin and churn
//! probability) and passes `now`; everything here is arithmetic on that input:
//!
//! * [`engagement_score`] — a 0–100 score from frequency, recency and depth of use;
//! * [`retention_by_cohort`] — share of each monthly cohort active k months after joining;
//! * [`nps`] — Net Promoter Score with a 95% confidence interval;
//! * [`lifetime_value`] — discounted customer lifetime value from margin and churn;
//! * [`summarize`] — the KPI table overall, by segment or by experiment arm;
//! * [`engagement_series`] — weekly share of active customers ("KPIs over time").
//!
//! Dates: `now` is UTC and "today" is `now.date_naive()`; active days are calendar dates as the
//! caller recorded them. Active days after today are ignored everywhere (they have not happened).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sextant_core::{CustomerEvent, EventKind};

/// Why a KPI could not be computed. Each variant names the offending field and the reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KpiError {
    /// An NPS answer outside 0–10.
    #[error("nps[{index}]: score {score} is out of range (NPS answers are 0 to 10)")]
    NpsOutOfRange { index: usize, score: u8 },
    /// NPS asked of an empty list of answers.
    #[error("nps: no responses (a score needs at least one answer)")]
    NoResponses,
    /// An argument that makes no sense (a NaN probability, a negative discount rate).
    #[error("{field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    /// An event that cannot be recorded for this customer.
    #[error("event {event_id}: {reason}")]
    BadEvent { event_id: String, reason: String },
}

/// The Sextant features whose use counts towards depth of engagement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    Recommendations,
    Insights,
    Assistant,
    Goals,
    Alerts,
}

impl Feature {
    /// Every feature, in declaration order.
    pub const ALL: [Feature; 5] = [
        Feature::Recommendations,
        Feature::Insights,
        Feature::Assistant,
        Feature::Goals,
        Feature::Alerts,
    ];

    /// The wire name (`snake_case`, as serde writes it).
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Recommendations => "recommendations",
            Feature::Insights => "insights",
            Feature::Assistant => "assistant",
            Feature::Goals => "goals",
            Feature::Alerts => "alerts",
        }
    }
}

/// Everything the KPIs need about one customer, gathered by the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerActivity {
    pub customer_id: String,
    /// Segment (e.g. the persona's leaf id), for [`GroupBy::Segment`].
    pub segment: Option<String>,
    /// Experiment arm, for [`GroupBy::Arm`].
    pub arm: Option<String>,
    /// When the customer first appeared (joined, or first seen by Sextant); defines the cohort.
    pub first_seen: DateTime<Utc>,
    /// Days with any activity: app logins, events, messages, transactions initiated by the
    /// customer. Order and duplicates do not matter.
    pub active_days: Vec<NaiveDate>,
    /// Uses per feature (over the last 90 days, as the caller counts them).
    pub feature_uses: BTreeMap<Feature, u32>,
    /// Next best actions shown.
    pub impressions: u32,
    pub clicks: u32,
    pub accepts: u32,
    pub dismisses: u32,
    /// NPS survey answers (when, score 0–10).
    pub nps: Vec<(DateTime<Utc>, u8)>,
    /// Revenue the bank earns per month from this customer, in minor units, estimated by the
    /// caller.
    pub monthly_margin_minor: i64,
    /// Probability that the customer leaves within the next year, if a churn model scored them.
    pub churn_probability: Option<f64>,
}

impl CustomerActivity {
    /// A customer with no activity yet.
    pub fn new(customer_id: impl Into<String>, first_seen: DateTime<Utc>) -> Self {
        Self {
            customer_id: customer_id.into(),
            segment: None,
            arm: None,
            first_seen,
            active_days: Vec::new(),
            feature_uses: BTreeMap::new(),
            impressions: 0,
            clicks: 0,
            accepts: 0,
            dismisses: 0,
            nps: Vec::new(),
            monthly_margin_minor: 0,
            churn_probability: None,
        }
    }

    /// Adds the customer's feedback events (`sextant_core::CustomerEvent`) to the counters:
    /// `impression`, `click`, `accept` and `dismiss` each add one to their counter; `survey`
    /// adds its `value` as an NPS answer. Events the customer initiated (everything but
    /// `impression`, which Sextant did) also mark their UTC date as an active day (once).
    ///
    /// All or nothing: if any event belongs to another customer or is a survey without a score
    /// in 0–10, nothing is recorded and the error names that event.
    pub fn record_events(&mut self, events: &[CustomerEvent]) -> Result<(), KpiError> {
        let mut answers = Vec::new();
        for e in events {
            if e.customer_id.as_str() != self.customer_id {
                return Err(KpiError::BadEvent {
                    event_id: e.id.to_string(),
                    reason: format!(
                        "belongs to customer {}, not {}",
                        e.customer_id, self.customer_id
                    ),
                });
            }
            if e.kind == EventKind::Survey {
                let score = match e.value {
                    Some(v @ 0..=10) => v as u8,
                    Some(v) => {
                        return Err(KpiError::BadEvent {
                            event_id: e.id.to_string(),
                            reason: format!("survey value {v} is out of range (0 to 10)"),
                        });
                    }
                    None => {
                        return Err(KpiError::BadEvent {
                            event_id: e.id.to_string(),
                            reason: "survey event without a value".into(),
                        });
                    }
                };
                answers.push((e.timestamp, score));
            }
        }
        let mut answers = answers.into_iter();
        for e in events {
            match e.kind {
                EventKind::Impression => self.impressions = self.impressions.saturating_add(1),
                EventKind::Click => self.clicks = self.clicks.saturating_add(1),
                EventKind::Accept => self.accepts = self.accepts.saturating_add(1),
                EventKind::Dismiss => self.dismisses = self.dismisses.saturating_add(1),
                EventKind::Survey => self.nps.extend(answers.next()),
            }
            if e.kind != EventKind::Impression {
                let day = e.timestamp.date_naive();
                if !self.active_days.contains(&day) {
                    self.active_days.push(day);
                }
            }
        }
        Ok(())
    }

    /// Distinct active days up to and including `today`.
    fn days_until(&self, today: NaiveDate) -> BTreeSet<NaiveDate> {
        self.active_days
            .iter()
            .copied()
            .filter(|d| *d <= today)
            .collect()
    }

    /// Active on at least one day in `[from, to]`.
    fn active_between(&self, from: NaiveDate, to: NaiveDate) -> bool {
        self.active_days.iter().any(|d| *d >= from && *d <= to)
    }
}

/// Days in the frequency window of [`engagement_score`] (today and the 29 days before it).
pub const FREQUENCY_WINDOW_DAYS: i64 = 30;
/// Recency decay constant of [`engagement_score`], in days.
pub const RECENCY_DECAY_DAYS: f64 = 14.0;

/// A customer's engagement score and its three parts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EngagementScore {
    /// `100 × (0.4·F + 0.3·R + 0.3·D)`, in 0–100.
    pub score: f64,
    /// F, in 0–1.
    pub frequency: f64,
    /// R, in 0–1.
    pub recency: f64,
    /// D, in 0–1.
    pub depth: f64,
    /// Distinct active days in the last 30 days (today included).
    pub active_days_30d: u32,
    /// Days since the last active day (0 = active today); `None` when never active.
    pub days_since_active: Option<i64>,
}

/// Engagement score of one customer at `now`.
///
/// The formula, verbatim from the specification:
///
/// > score = 100 × (0.4·F + 0.3·R + 0.3·D) with F = min(1, ln(1 + active days in last 30)/ln(31)),
/// > R = exp(−days since last active / 14) (0 when never active), D = (number of distinct
/// > `Feature`s used in the last 90 days… since input has counts only: distinct features with
/// > count > 0) / 5.
///
/// Precisely, with today = `now.date_naive()`:
/// * "active days in last 30" = distinct `active_days` d with today − 29 ≤ d ≤ today, so F = 1
///   for a customer active every day of the window, and F = ln 2 / ln 31 ≈ 0.20 for one day;
/// * "days since last active" = today − (latest active day ≤ today), so R = 1 when active today;
/// * D = |{f : `feature_uses[f]` > 0}| / 5 (the caller counts uses over the last 90 days).
///
/// Active days after today are ignored.
pub fn engagement_score(a: &CustomerActivity, now: DateTime<Utc>) -> EngagementScore {
    let today = now.date_naive();
    let days = a.days_until(today);
    let window_start = today - Duration::days(FREQUENCY_WINDOW_DAYS - 1);
    let active_30 = days.range(window_start..=today).count() as u32;
    let frequency = ((1.0 + active_30 as f64).ln() / 31f64.ln()).min(1.0);
    let days_since_active = days.last().map(|last| (today - *last).num_days());
    let recency = days_since_active.map_or(0.0, |d| (-(d as f64) / RECENCY_DECAY_DAYS).exp());
    let used = a.feature_uses.values().filter(|c| **c > 0).count();
    let depth = used as f64 / Feature::ALL.len() as f64;
    EngagementScore {
        score: 100.0 * (0.4 * frequency + 0.3 * recency + 0.3 * depth),
        frequency,
        recency,
        depth,
        active_days_30d: active_30,
        days_since_active,
    }
}

/// At most this many months per cohort row (20 years); larger requests are cut to it.
pub const MAX_RETENTION_MONTHS: u32 = 240;

/// One monthly cohort's retention curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohortRow {
    /// The month of `first_seen`, `YYYY-MM`.
    pub cohort: String,
    /// Customers in the cohort.
    pub size: usize,
    /// `retained[k]` = share of the cohort active (at least one active day) in calendar month
    /// cohort + k; `None` for months that have not started by `now`. The current month counts
    /// the days so far.
    pub retained: Vec<Option<f64>>,
}

/// Months since year 0, so consecutive calendar months are consecutive integers.
fn month_index(d: NaiveDate) -> i64 {
    d.year() as i64 * 12 + d.month0() as i64
}

fn month_label(index: i64) -> String {
    format!(
        "{:04}-{:02}",
        index.div_euclid(12),
        index.rem_euclid(12) + 1
    )
}

/// Retention by monthly cohort.
///
/// Cohort = calendar month of `first_seen` (UTC). For k = 0, 1, …, `months` − 1 (so each row has
/// `months` entries, at most [`MAX_RETENTION_MONTHS`]):
///
/// ```text
/// retained[k] = |{c in cohort : c has an active day in month (cohort + k), on or before today}| / |cohort|
/// ```
///
/// `None` when month cohort + k starts after `now` (the future). k = 0 is the joining month.
/// Rows are ordered by cohort, oldest first; no customers gives no rows.
pub fn retention_by_cohort(
    activities: &[CustomerActivity],
    now: DateTime<Utc>,
    months: u32,
) -> Vec<CohortRow> {
    let today = now.date_naive();
    let current = month_index(today);
    let months = months.min(MAX_RETENTION_MONTHS) as i64;
    let mut cohorts: BTreeMap<i64, Vec<BTreeSet<i64>>> = BTreeMap::new();
    for a in activities {
        let active_months = a
            .days_until(today)
            .iter()
            .map(|d| month_index(*d))
            .collect();
        cohorts
            .entry(month_index(a.first_seen.date_naive()))
            .or_default()
            .push(active_months);
    }
    cohorts
        .into_iter()
        .map(|(cohort, members)| {
            let size = members.len();
            let retained = (0..months)
                .map(|k| {
                    let month = cohort + k;
                    (month <= current).then(|| {
                        let active = members.iter().filter(|m| m.contains(&month)).count();
                        active as f64 / size as f64
                    })
                })
                .collect();
            CohortRow {
                cohort: month_label(cohort),
                size,
                retained,
            }
        })
        .collect()
}

/// The two-sided 95% normal quantile.
const Z95: f64 = 1.959_963_984_540_054;

/// Net Promoter Score of a set of answers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Nps {
    pub responses: usize,
    /// Answers of 9 or 10.
    pub promoters: usize,
    /// Answers of 7 or 8.
    pub passives: usize,
    /// Answers of 0 to 6.
    pub detractors: usize,
    /// `100 × (promoters − detractors) / responses`, in −100..100.
    pub score: f64,
    /// 95% confidence interval of `score` (normal approximation, clamped to −100..100).
    pub ci95: (f64, f64),
}

/// Net Promoter Score with a 95% confidence interval.
///
/// With n answers, p_P = promoters/n (answers 9–10) and p_D = detractors/n (answers 0–6):
///
/// ```text
/// NPS   = 100 × (p_P − p_D)
/// var   = (p_P + p_D − (p_P − p_D)²) / n      (multinomial variance of the mean of +1/0/−1)
/// ci95  = 100 × ((p_P − p_D) ± 1.96 × √var), clamped to [−100, 100]
/// ```
///
/// The timestamps are not used (the caller picks the window). Errors on an answer above 10
/// (naming its index) and on no answers.
pub fn nps(responses: &[(DateTime<Utc>, u8)]) -> Result<Nps, KpiError> {
    if let Some((index, (_, score))) = responses.iter().enumerate().find(|(_, (_, s))| *s > 10) {
        return Err(KpiError::NpsOutOfRange {
            index,
            score: *score,
        });
    }
    if responses.is_empty() {
        return Err(KpiError::NoResponses);
    }
    let n = responses.len();
    let promoters = responses.iter().filter(|(_, s)| *s >= 9).count();
    let detractors = responses.iter().filter(|(_, s)| *s <= 6).count();
    let (pp, pd) = (promoters as f64 / n as f64, detractors as f64 / n as f64);
    let diff = pp - pd;
    let var = ((pp + pd - diff * diff) / n as f64).max(0.0);
    let half = Z95 * var.sqrt();
    let clamp = |x: f64| (100.0 * x).clamp(-100.0, 100.0);
    Ok(Nps {
        responses: n,
        promoters,
        passives: n - promoters - detractors,
        detractors,
        score: 100.0 * diff,
        ci95: (clamp(diff - half), clamp(diff + half)),
    })
}

/// The annual discount rate [`summarize`] uses, and the usual argument to [`lifetime_value`].
pub const DEFAULT_ANNUAL_DISCOUNT_RATE: f64 = 0.08;
/// Annual churn probabilities are clamped to `[MIN_CHURN, MAX_CHURN]` before use.
pub const MIN_CHURN: f64 = 0.01;
/// See [`MIN_CHURN`].
pub const MAX_CHURN: f64 = 0.99;

/// A customer lifetime value and the rates behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ltv {
    /// m: margin per month, minor units.
    pub monthly_margin_minor: i64,
    /// p: the annual churn probability used (after clamping to [0.01, 0.99]).
    pub annual_churn: f64,
    /// c = 1 − (1 − p)^(1/12).
    pub monthly_churn: f64,
    /// r.
    pub annual_discount_rate: f64,
    /// d = (1 + r)^(1/12) − 1.
    pub monthly_discount: f64,
    /// (1 + d)/(c + d): the number of "present-value months" of margin.
    pub multiplier: f64,
    /// LTV = m × (1 + d)/(c + d), rounded to whole minor units.
    pub value_minor: i64,
}

/// Customer lifetime value from a monthly margin and an annual churn probability.
///
/// ```text
/// p = clamp(churn_probability_per_year, 0.01, 0.99)
/// c = 1 − (1 − p)^(1/12)              monthly churn (same survival over 12 months)
/// d = (1 + r)^(1/12) − 1              monthly discount rate (same growth over 12 months)
/// LTV = Σ_{t≥0} m × (1 − c)^t / (1 + d)^t = m × (1 + d)/(c + d)
/// ```
///
/// The margin of month t is earned if the customer is still there (probability (1 − c)^t) and
/// is discounted t months; the current month (t = 0) counts in full. The geometric series
/// converges because c + d > 0. `r` is usually [`DEFAULT_ANNUAL_DISCOUNT_RATE`] (8%).
///
/// Errors when the churn probability is NaN or the rate is negative or not finite.
pub fn lifetime_value(
    monthly_margin_minor: i64,
    churn_probability_per_year: f64,
    annual_discount_rate: f64,
) -> Result<Ltv, KpiError> {
    if churn_probability_per_year.is_nan() {
        return Err(KpiError::InvalidArgument {
            field: "churn_probability_per_year",
            reason: "is NaN".into(),
        });
    }
    if !annual_discount_rate.is_finite() || annual_discount_rate < 0.0 {
        return Err(KpiError::InvalidArgument {
            field: "annual_discount_rate",
            reason: format!("{annual_discount_rate} is not a rate ≥ 0 (e.g. 0.08 for 8% a year)"),
        });
    }
    let p = churn_probability_per_year.clamp(MIN_CHURN, MAX_CHURN);
    let c = 1.0 - (1.0 - p).powf(1.0 / 12.0);
    let d = (1.0 + annual_discount_rate).powf(1.0 / 12.0) - 1.0;
    let multiplier = (1.0 + d) / (c + d);
    Ok(Ltv {
        monthly_margin_minor,
        annual_churn: p,
        monthly_churn: c,
        annual_discount_rate,
        monthly_discount: d,
        multiplier,
        value_minor: (monthly_margin_minor as f64 * multiplier).round() as i64,
    })
}

/// How [`summarize`] groups customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// One row for everyone, named [`OVERALL_GROUP`].
    Overall,
    /// One row per `segment`.
    Segment,
    /// One row per experiment `arm`.
    Arm,
}

/// The group name of the [`GroupBy::Overall`] row.
pub const OVERALL_GROUP: &str = "all";
/// The group name for customers without a segment (or arm) when grouping by it.
pub const NO_GROUP: &str = "(none)";

/// One row of the KPI table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiRow {
    /// [`OVERALL_GROUP`], the segment or arm, or [`NO_GROUP`].
    pub group: String,
    pub customers: usize,
    /// Mean [`engagement_score`] of the group's customers.
    pub engagement_mean: f64,
    /// Share of the group's customers with an active day in the last 30 days.
    pub active_30d_share: f64,
    /// Σ clicks / Σ impressions over the group; `None` without impressions.
    pub ctr: Option<f64>,
    /// Σ accepts / Σ impressions; `None` without impressions.
    pub acceptance_rate: Option<f64>,
    /// Σ dismisses / Σ impressions; `None` without impressions.
    pub dismiss_rate: Option<f64>,
    /// [`nps`] of all the group's answers pooled; `None` without answers.
    pub nps: Option<Nps>,
    /// Mean [`lifetime_value`] (r = 8%) over the group's customers that have a churn
    /// probability, rounded to minor units; `None` when none has.
    pub ltv_mean_minor: Option<i64>,
}

/// The KPI table: one row per group, ordered by group name.
///
/// Rates pool the group (Σ clicks / Σ impressions, not a mean of per-customer rates), so heavy
/// and light users weigh by how much they were shown. No customers gives no rows. Errors when an
/// NPS answer is above 10 or a churn probability is NaN.
pub fn summarize(
    activities: &[CustomerActivity],
    now: DateTime<Utc>,
    group_by: GroupBy,
) -> Result<Vec<KpiRow>, KpiError> {
    let mut groups: BTreeMap<&str, Vec<&CustomerActivity>> = BTreeMap::new();
    for a in activities {
        let key = match group_by {
            GroupBy::Overall => OVERALL_GROUP,
            GroupBy::Segment => a.segment.as_deref().unwrap_or(NO_GROUP),
            GroupBy::Arm => a.arm.as_deref().unwrap_or(NO_GROUP),
        };
        groups.entry(key).or_default().push(a);
    }
    groups
        .into_iter()
        .map(|(group, members)| kpi_row(group, &members, now))
        .collect()
}

fn kpi_row(
    group: &str,
    members: &[&CustomerActivity],
    now: DateTime<Utc>,
) -> Result<KpiRow, KpiError> {
    let n = members.len();
    let scores: Vec<EngagementScore> = members.iter().map(|a| engagement_score(a, now)).collect();
    let engagement_mean = scores.iter().map(|s| s.score).sum::<f64>() / n as f64;
    let active = scores.iter().filter(|s| s.active_days_30d > 0).count();
    let sum = |f: fn(&CustomerActivity) -> u32| members.iter().map(|a| f(a) as u64).sum::<u64>();
    let impressions = sum(|a| a.impressions);
    let rate = |k: u64| (impressions > 0).then(|| k as f64 / impressions as f64);
    let answers: Vec<(DateTime<Utc>, u8)> =
        members.iter().flat_map(|a| a.nps.iter().copied()).collect();
    let nps = if answers.is_empty() {
        None
    } else {
        Some(nps(&answers)?)
    };
    let ltvs = members
        .iter()
        .filter_map(|a| {
            a.churn_probability.map(|p| {
                lifetime_value(a.monthly_margin_minor, p, DEFAULT_ANNUAL_DISCOUNT_RATE)
                    .map(|l| l.value_minor as f64)
            })
        })
        .collect::<Result<Vec<f64>, _>>()?;
    let ltv_mean_minor =
        (!ltvs.is_empty()).then(|| (ltvs.iter().sum::<f64>() / ltvs.len() as f64).round() as i64);
    Ok(KpiRow {
        group: group.to_string(),
        customers: n,
        engagement_mean,
        active_30d_share: active as f64 / n as f64,
        ctr: rate(sum(|a| a.clicks)),
        acceptance_rate: rate(sum(|a| a.accepts)),
        dismiss_rate: rate(sum(|a| a.dismisses)),
        nps,
        ltv_mean_minor,
    })
}

/// At most this many weeks in [`engagement_series`] (10 years); larger requests are cut to it.
pub const MAX_SERIES_WEEKS: u32 = 520;

/// Weekly share of active customers, oldest week first: the console's "KPIs over time".
///
/// Weeks start on Monday; the last one is the week containing today (counted to date), and
/// there are `weeks` of them (at most [`MAX_SERIES_WEEKS`]). For the week [start, end]:
///
/// ```text
/// existing = {c : first_seen(c) ≤ end}
/// share    = |{c in existing : c has an active day in [start, min(end, today)]}| / |existing|
/// ```
///
/// and 0 when nobody existed yet that week.
pub fn engagement_series(
    activities: &[CustomerActivity],
    now: DateTime<Utc>,
    weeks: u32,
) -> Vec<(NaiveDate, f64)> {
    let today = now.date_naive();
    let this_week = today - Duration::days(today.weekday().num_days_from_monday() as i64);
    let weeks = weeks.min(MAX_SERIES_WEEKS) as i64;
    (0..weeks)
        .map(|i| {
            let start = this_week - Duration::weeks(weeks - 1 - i);
            let end = start + Duration::days(6);
            let existing: Vec<&CustomerActivity> = activities
                .iter()
                .filter(|a| a.first_seen.date_naive() <= end)
                .collect();
            let active = existing
                .iter()
                .filter(|a| a.active_between(start, end.min(today)))
                .count();
            let share = if existing.is_empty() {
                0.0
            } else {
                active as f64 / existing.len() as f64
            };
            (start, share)
        })
        .collect()
}

#[cfg(test)]
mod tests;
