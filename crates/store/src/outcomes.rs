//! Storage of experiments and outcomes: experiment definitions with their sequential-test state,
//! each customer's first exposure to an experiment (sticky assignment), the customer activity
//! the engagement KPIs are computed from, and the training distributions drift is measured
//! against. Reached through [`crate::Store::outcomes`]; both backends implement it and pass the
//! same tests (`tests/outcomes.rs`).
//!
//! Exposures carry the customer's id, so erasure and export need no join
//! ([`crate::rows::CUSTOMER_TABLES`]).

use crate::rows::{Cells, req_int, req_text};
use crate::{Result, StoreError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// One recent decision as contact history: its id, when (µs), and the channel it went out on
/// (`payload.contact.channel`, when it has one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentContact {
    pub decision_id: String,
    pub at: i64,
    pub channel: Option<String>,
}

/// An experiment as stored. `spec` is the JSON of `sextant_experiment::ExperimentSpec`, opaque
/// to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExperimentRow {
    pub id: String,
    pub name: String,
    /// `strategy`, `message` or `channel`.
    pub kind: String,
    pub spec: String,
    /// `running` or `stopped`.
    pub status: String,
    /// µs since the epoch.
    pub created_at: i64,
    /// µs since the epoch.
    pub updated_at: i64,
    pub created_by: String,
    /// The sequential monitor's state (JSON), moved on every analysis.
    pub monitor: Option<String>,
}

/// A customer's first exposure to an experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExposureRow {
    pub experiment_id: String,
    pub customer_id: String,
    /// The arm's name, or `holdout`.
    pub arm: String,
    /// µs since the epoch.
    pub first_at: i64,
    pub decision_id: Option<String>,
    /// Bandit allocation: the context (JSON array) the assignment's pull was learned from.
    pub context: Option<String>,
}

/// Something an exposed customer did after the first exposure: `accept`, `click` or `dismiss`
/// (feedback events, with the product), `unsubscribe` (marketing consent withdrawn) or
/// `complaint` (a message scored below −0.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeRow {
    pub customer_id: String,
    pub arm: String,
    /// `None` for an exposed customer who has done nothing since.
    pub kind: Option<String>,
    pub product_id: Option<String>,
}

/// One kind of customer activity: `source` is `event:<kind>` (feedback and survey events,
/// impressions included so click-through can be computed; `value` the NPS score for surveys), `message`, `assistant` (a turn the customer wrote)
/// or `goal` (a goal created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRow {
    pub customer_id: String,
    pub source: String,
    /// µs since the epoch.
    pub at: i64,
    pub value: Option<i64>,
}

/// A customer with the fields KPIs group and weigh by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KpiCustomer {
    pub customer_id: String,
    /// µs since the epoch: the earliest activity, account opening or `joined_on`.
    pub first_seen: Option<i64>,
    /// The segment under the promoted segment model, if assigned.
    pub segment: Option<String>,
    /// Annual income in minor units (from the profile), the base of the margin estimate.
    pub income_minor: Option<i64>,
}

#[async_trait]
pub trait OutcomeStore: Send + Sync {
    /// Insert a new experiment; false if the id is taken (nothing written).
    async fn experiment_insert(&self, e: &ExperimentRow) -> Result<bool>;
    async fn experiment(&self, id: &str) -> Result<Option<ExperimentRow>>;
    /// Every experiment, newest first.
    async fn experiments(&self) -> Result<Vec<ExperimentRow>>;
    /// Set the status (`running` / `stopped`); false if there is no such experiment.
    async fn experiment_status(&self, id: &str, status: &str, at: i64) -> Result<bool>;
    /// Store the sequential monitor's state; false if there is no such experiment.
    async fn experiment_monitor(&self, id: &str, monitor: &str, at: i64) -> Result<bool>;
    /// Record first exposures; a pair already exposed keeps its first row (sticky). Returns
    /// how many rows were new.
    async fn expose(&self, rows: &[ExposureRow]) -> Result<u64>;
    /// Every exposure of one customer, by experiment id.
    async fn customer_exposures(&self, customer_id: &str) -> Result<Vec<ExposureRow>>;
    /// The exposure of one customer, if any.
    async fn exposure(&self, experiment_id: &str, customer_id: &str)
    -> Result<Option<ExposureRow>>;
    /// Exposed customers per arm.
    async fn exposure_counts(&self, experiment_id: &str) -> Result<Vec<(String, u64)>>;
    /// Every exposed customer with what they did after their first exposure.
    async fn experiment_outcomes(&self, experiment_id: &str) -> Result<Vec<OutcomeRow>>;
    /// Activity since `since` (µs), every customer.
    async fn activity(&self, since: i64) -> Result<Vec<ActivityRow>>;
    /// Every customer with first-seen time, segment and income, in id order.
    async fn kpi_customers(&self) -> Result<Vec<KpiCustomer>>;
    /// Arm of every customer exposed to `experiment_id`.
    async fn experiment_arms(&self, experiment_id: &str) -> Result<Vec<(String, String)>>;
    /// Store the training distributions of a model version (replacing any stored before).
    async fn references_put(
        &self,
        model: &str,
        version: i64,
        refs: &[(String, String)],
    ) -> Result<()>;
    /// The training distributions of a model version: `(name, reference JSON)`.
    async fn references(&self, model: &str, version: i64) -> Result<Vec<(String, String)>>;
    /// A customer's decisions of `kind` made at or after `since` (µs), oldest first, as the
    /// channel orchestrator's contact history needs them (indexed by customer and time). Only
    /// the contact channel is read out of each payload, by the database: parsing whole payloads
    /// was a fifth of the recommendation endpoint's CPU (README, "Next best actions").
    async fn recent_contacts(
        &self,
        customer_id: &str,
        kind: &str,
        since: i64,
    ) -> Result<Vec<RecentContact>>;
    /// A customer's contact preferences (JSON), if they set any.
    async fn contact_preferences(&self, customer_id: &str) -> Result<Option<String>>;
    /// Replace a customer's contact preferences.
    async fn set_contact_preferences(&self, customer_id: &str, body: &str, at: i64) -> Result<()>;
}

/// A refused write, named as the assistant's store names it (see `assistant::invalid`).
fn invalid(what: String) -> StoreError {
    StoreError::Conflict(what)
}

pub(crate) fn validate_experiment(e: &ExperimentRow) -> Result<()> {
    if e.id.trim().is_empty() {
        return Err(invalid("experiment: field 'id' is empty".into()));
    }
    validate_status(&e.id, &e.status)?;
    if serde_json::from_str::<serde_json::Value>(&e.spec).is_err() {
        return Err(invalid(format!(
            "experiment '{}': field 'spec' is not JSON",
            e.id
        )));
    }
    Ok(())
}

pub(crate) fn validate_status(id: &str, status: &str) -> Result<()> {
    if matches!(status, "running" | "stopped") {
        Ok(())
    } else {
        Err(invalid(format!(
            "experiment '{id}': field 'status' is '{status}', not one of running, stopped"
        )))
    }
}

pub(crate) fn validate_exposure(x: &ExposureRow) -> Result<()> {
    for (field, v) in [
        ("experiment_id", &x.experiment_id),
        ("customer_id", &x.customer_id),
        ("arm", &x.arm),
    ] {
        if v.trim().is_empty() {
            return Err(invalid(format!("exposure: field '{field}' is empty")));
        }
    }
    Ok(())
}

pub(crate) mod sql {
    pub const EXP_COLS: &str =
        "id, name, kind, spec, status, created_at, updated_at, created_by, monitor";
    pub const EXP_INSERT: &str = "INSERT INTO experiments (id, name, kind, spec, status, created_at, updated_at, created_by, monitor) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING";
    pub const EXP_STATUS: &str =
        "UPDATE experiments SET status = $2, updated_at = $3 WHERE id = $1";
    pub const EXP_MONITOR: &str =
        "UPDATE experiments SET monitor = $2, updated_at = $3 WHERE id = $1";
    pub const EXPOSE: &str = "INSERT INTO experiment_exposures (experiment_id, customer_id, arm, first_at, decision_id, context) \
        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (experiment_id, customer_id) DO NOTHING";
    pub const EXPOSURE: &str = "SELECT experiment_id, customer_id, arm, first_at, decision_id, context FROM experiment_exposures \
        WHERE experiment_id = $1 AND customer_id = $2";
    pub const CUSTOMER_EXPOSURES: &str = "SELECT experiment_id, customer_id, arm, first_at, decision_id, context FROM experiment_exposures \
        WHERE customer_id = $1 ORDER BY experiment_id";
    pub const EXPOSURE_COUNTS: &str = "SELECT arm, COUNT(*) FROM experiment_exposures WHERE experiment_id = $1 \
        GROUP BY arm ORDER BY arm";
    pub const ARMS: &str = "SELECT customer_id, arm FROM experiment_exposures WHERE experiment_id = $1 ORDER BY customer_id";
    /// Feedback after the first exposure, marketing opt-outs after it, and complaints after it;
    /// customers who did nothing appear once with NULLs (left join on feedback).
    pub const OUTCOMES: &str = "SELECT x.customer_id, x.arm, e.kind, e.product_id FROM experiment_exposures x \
        LEFT JOIN events e ON e.customer_id = x.customer_id AND e.ts >= x.first_at AND e.kind IN ('accept', 'click', 'dismiss') \
        WHERE x.experiment_id = $1 \
        UNION ALL SELECT x.customer_id, x.arm, 'unsubscribe', NULL FROM experiment_exposures x \
        JOIN consents c ON c.customer_id = x.customer_id AND c.purpose = 'marketing' AND c.granted = 0 AND c.at >= x.first_at \
        WHERE x.experiment_id = $1 \
        UNION ALL SELECT x.customer_id, x.arm, 'complaint', NULL FROM experiment_exposures x \
        JOIN messages m ON m.customer_id = x.customer_id AND m.ts >= x.first_at AND m.sentiment < -0.5 \
        WHERE x.experiment_id = $1";
    pub const ACTIVITY: &str = "SELECT customer_id, 'event:' || kind, ts, value FROM events \
        WHERE ts >= $1 \
        UNION ALL SELECT customer_id, 'message', ts, NULL FROM messages WHERE ts >= $1 \
        UNION ALL SELECT customer_id, 'assistant', at, NULL FROM conversation_turns WHERE at >= $1 AND role = 'customer' \
        UNION ALL SELECT customer_id, 'goal', created_at, NULL FROM goals WHERE created_at >= $1";
    pub const KPI_CUSTOMERS: &str = "SELECT c.id, \
        (SELECT MIN(e.ts) FROM events e WHERE e.customer_id = c.id AND e.kind <> 'impression'), \
        s.segment_id, c.income_minor, c.joined_on FROM customers c \
        LEFT JOIN customer_segments s ON s.customer_id = c.id ORDER BY c.id";
    pub const REFS_DELETE: &str = "DELETE FROM model_references WHERE model = $1 AND version = $2";
    pub const REFS_INSERT: &str =
        "INSERT INTO model_references (model, version, name, reference) VALUES ($1, $2, $3, $4)";
    /// `{channel}`: the backend's expression for `payload`'s `contact.channel` as text.
    pub fn recent_contacts(channel: &str) -> String {
        format!(
            "SELECT id, at, {channel} FROM decisions \
             WHERE customer_id = $1 AND at >= $3 AND kind = $2 ORDER BY at, id"
        )
    }
    pub const PREFS: &str = "SELECT body FROM contact_preferences WHERE customer_id = $1";
    pub const PREFS_PUT: &str = "INSERT INTO contact_preferences (customer_id, body, updated_at) VALUES ($1, $2, $3) \
        ON CONFLICT (customer_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at";
    pub const REFS: &str = "SELECT name, reference FROM model_references WHERE model = $1 AND version = $2 ORDER BY name";
}

pub(crate) fn experiment_row(r: &dyn Cells) -> Result<ExperimentRow> {
    const T: &str = "experiments";
    Ok(ExperimentRow {
        id: req_text(r, 0, T, "id")?,
        name: req_text(r, 1, T, "name")?,
        kind: req_text(r, 2, T, "kind")?,
        spec: req_text(r, 3, T, "spec")?,
        status: req_text(r, 4, T, "status")?,
        created_at: req_int(r, 5, T, "created_at")?,
        updated_at: req_int(r, 6, T, "updated_at")?,
        created_by: req_text(r, 7, T, "created_by")?,
        monitor: r.text(8)?,
    })
}

pub(crate) fn exposure_row(r: &dyn Cells) -> Result<ExposureRow> {
    const T: &str = "experiment_exposures";
    Ok(ExposureRow {
        experiment_id: req_text(r, 0, T, "experiment_id")?,
        customer_id: req_text(r, 1, T, "customer_id")?,
        arm: req_text(r, 2, T, "arm")?,
        first_at: req_int(r, 3, T, "first_at")?,
        decision_id: r.text(4)?,
        context: r.text(5)?,
    })
}

pub(crate) fn count_row(r: &dyn Cells) -> Result<(String, u64)> {
    Ok((
        req_text(r, 0, "experiment_exposures", "arm")?,
        req_int(r, 1, "experiment_exposures", "count")? as u64,
    ))
}

pub(crate) fn pair_row(r: &dyn Cells) -> Result<(String, String)> {
    Ok((
        req_text(r, 0, "experiment_exposures", "customer_id")?,
        req_text(r, 1, "experiment_exposures", "arm")?,
    ))
}

pub(crate) fn outcome_row(r: &dyn Cells) -> Result<OutcomeRow> {
    Ok(OutcomeRow {
        customer_id: req_text(r, 0, "experiment_exposures", "customer_id")?,
        arm: req_text(r, 1, "experiment_exposures", "arm")?,
        kind: r.text(2)?,
        product_id: r.text(3)?,
    })
}

pub(crate) fn activity_row(r: &dyn Cells) -> Result<ActivityRow> {
    Ok(ActivityRow {
        customer_id: req_text(r, 0, "activity", "customer_id")?,
        source: req_text(r, 1, "activity", "source")?,
        at: req_int(r, 2, "activity", "at")?,
        value: r.int(3)?,
    })
}

pub(crate) fn kpi_customer(r: &dyn Cells) -> Result<KpiCustomer> {
    let joined = r
        .text(4)?
        .and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_micros());
    let first_event = r.int(1)?;
    Ok(KpiCustomer {
        customer_id: req_text(r, 0, "customers", "id")?,
        first_seen: match (joined, first_event) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
        segment: r.text(2)?,
        income_minor: r.int(3)?,
    })
}

pub(crate) fn contact_row(r: &dyn Cells) -> Result<RecentContact> {
    Ok(RecentContact {
        decision_id: req_text(r, 0, "decisions", "id")?,
        at: req_int(r, 1, "decisions", "at")?,
        channel: r.text(2)?,
    })
}

pub(crate) fn body_row(r: &dyn Cells) -> Result<String> {
    req_text(r, 0, "contact_preferences", "body")
}

pub(crate) fn reference_row(r: &dyn Cells) -> Result<(String, String)> {
    Ok((
        req_text(r, 0, "model_references", "name")?,
        req_text(r, 1, "model_references", "reference")?,
    ))
}
