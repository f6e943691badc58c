//! Engagement KPIs from the store: each customer's activity (feedback events, surveys,
//! messages, assistant turns, goals) becomes a `sextant_outcomes::kpi::CustomerActivity`, then
//! the pure formulas summarise it overall, by segment or by an experiment's arm.
//!
//! Estimates, stated: the bank's monthly margin on a customer is 1% of annual income / 12
//! ([`MARGIN_SHARE`]); the annual churn probability is the bank's base rate
//! ([`BASE_CHURN`]) — a churn model's score per customer would refine both.

use crate::Result;
use chrono::{DateTime, Utc};
use sextant_outcomes::kpi::{self, CohortRow, CustomerActivity, Feature, GroupBy, KpiRow};
use sextant_store::Store;
use std::collections::HashMap;

/// Share of annual income the bank earns per year from a customer (margin estimate).
pub const MARGIN_SHARE: f64 = 0.01;
/// Annual churn probability assumed for lifetime value.
pub const BASE_CHURN: f64 = 0.10;

/// The KPI report `/v1/kpis` returns.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KpiReport {
    pub generated_at: DateTime<Utc>,
    pub group_by: String,
    pub rows: Vec<KpiRow>,
    /// Share of customers active per week, oldest first.
    pub weekly_active: Vec<(chrono::NaiveDate, f64)>,
    pub retention: Vec<CohortRow>,
    /// The formulas, for whoever reads the numbers.
    pub definitions: serde_json::Value,
}

/// Build every customer's activity over the last `days` days.
pub async fn activities(
    store: &dyn Store,
    now: DateTime<Utc>,
    days: i64,
    experiment: Option<&str>,
) -> Result<Vec<CustomerActivity>> {
    let since = (now - chrono::Duration::days(days)).timestamp_micros();
    let arms: HashMap<String, String> = match experiment {
        Some(e) => store
            .outcomes()
            .experiment_arms(e)
            .await?
            .into_iter()
            .collect(),
        None => HashMap::new(),
    };
    let mut by_id: HashMap<String, CustomerActivity> = HashMap::new();
    let mut order = Vec::new();
    for c in store.outcomes().kpi_customers().await? {
        if experiment.is_some() && !arms.contains_key(&c.customer_id) {
            continue;
        }
        let first = c
            .first_seen
            .and_then(DateTime::from_timestamp_micros)
            .unwrap_or(now);
        let mut a = CustomerActivity::new(c.customer_id.clone(), first);
        a.segment = c.segment;
        a.arm = arms.get(&c.customer_id).cloned();
        a.monthly_margin_minor =
            (c.income_minor.unwrap_or(0) as f64 * MARGIN_SHARE / 12.0).round() as i64;
        a.churn_probability = Some(BASE_CHURN);
        order.push(c.customer_id.clone());
        by_id.insert(c.customer_id, a);
    }
    for r in store.outcomes().activity(since).await? {
        let Some(a) = by_id.get_mut(&r.customer_id) else {
            continue;
        };
        let Some(at) = DateTime::from_timestamp_micros(r.at) else {
            continue;
        };
        let day = at.date_naive();
        let mut active = true;
        match r.source.as_str() {
            "event:impression" => {
                a.impressions += 1;
                active = false;
            }
            "event:click" => {
                a.clicks += 1;
                *a.feature_uses.entry(Feature::Recommendations).or_default() += 1;
            }
            "event:accept" => {
                a.accepts += 1;
                *a.feature_uses.entry(Feature::Recommendations).or_default() += 1;
            }
            "event:dismiss" => {
                a.dismisses += 1;
                *a.feature_uses.entry(Feature::Recommendations).or_default() += 1;
            }
            "event:survey" => {
                if let Some(v) = r
                    .value
                    .and_then(|v| u8::try_from(v).ok())
                    .filter(|v| *v <= 10)
                {
                    a.nps.push((at, v));
                }
            }
            "assistant" => *a.feature_uses.entry(Feature::Assistant).or_default() += 1,
            "goal" => *a.feature_uses.entry(Feature::Goals).or_default() += 1,
            _ => {}
        }
        if active && !a.active_days.contains(&day) {
            a.active_days.push(day);
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .collect())
}

/// KPIs grouped as asked, with the weekly active share and cohort retention.
pub async fn report(
    store: &dyn Store,
    now: DateTime<Utc>,
    group_by: GroupBy,
    experiment: Option<&str>,
) -> Result<KpiReport> {
    let acts = activities(store, now, 400, experiment).await?;
    let rows = kpi::summarize(&acts, now, group_by)
        .map_err(|e| crate::IntelError::Invalid(vec![("kpis".into(), e.to_string())]))?;
    Ok(KpiReport {
        generated_at: now,
        group_by: format!("{group_by:?}").to_lowercase(),
        rows,
        weekly_active: kpi::engagement_series(&acts, now, 12),
        retention: kpi::retention_by_cohort(&acts, now, 6),
        definitions: serde_json::json!({
            "engagement_score": "100 × (0.4·F + 0.3·R + 0.3·D); F = min(1, ln(1 + active days in the last 30) / ln 31); R = exp(−days since last active / 14); D = distinct personalised features used (recommendations, insights, assistant, goals, alerts) / 5",
            "active_day": "a day with a click, accept, dismiss or survey, a message, an assistant turn or a new goal",
            "ctr": "clicks / impressions",
            "acceptance_rate": "accepts / impressions",
            "nps": "% promoters (9–10) − % detractors (0–6), 95% interval",
            "ltv": format!("monthly margin × (1 + d) / (c + d); margin = {MARGIN_SHARE} × annual income / 12; c from an annual churn of {BASE_CHURN}; d from an 8% annual discount rate"),
            "retention": "share of a first-seen month's cohort active in each later month",
        }),
    })
}
