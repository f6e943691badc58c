//! Experiments over next best actions: create (validated, audited), list, stop; sticky
//! assignment of a customer to each running experiment (cached, refreshed every second like the
//! bandit); exposure logging; and analysis from the store — conversion = an accepted offer after
//! the customer's first exposure, revenue = the accepted products' annual value from the rules,
//! guardrails from dismissals, marketing opt-outs and complaints after exposure.
//!
//! What an arm's `config` may say (anything else is refused at creation):
//! * `{"strategy": "engine" | "popularity" | "none"}` — rank with the engine, with the
//!   popularity baseline, or show nothing (a no-offer control);
//! * `{"channel": "app_push" | "in_app" | "email" | "sms" | "advisor_call"}` — deliver through
//!   that channel instead of the orchestrator's choice;
//! * `{"message": "…{product}…"}` — the customer-facing sentence, where `{product}` is the
//!   product's name and `{reason}` the engine's own sentence.
//!
//! The holdout sees no offers at all while the experiment runs.
//!
//! **Bandit allocation** (`"allocation": "bandit"`) reuses the next-best-action bandit (LinUCB
//! over the same customer context, [`sextant_recommend::bandit`]) with one arm per experiment
//! arm, stored under the policy `experiment:<id>` with compare-and-swap like the product arms:
//! a new customer (outside the hash holdout) gets the arm with the highest upper confidence
//! bound; the assignment is a pull with reward 0, and every later feedback signal on a decision
//! made under that arm adds its change of reward. The customer then stays in that arm
//! (the stored exposure is sticky).

use crate::{IntelError, Result};
use sextant_core::{AuditRecord, CustomerId};
use sextant_experiment::{Analysis, ArmData, Assignment, ExperimentSpec, SequentialMonitor};
use sextant_recommend::{Rules, Strategy};
use sextant_store::{ExperimentRow, ExposureRow, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The arm name recorded for holdout customers.
pub const HOLDOUT: &str = "holdout";
/// The prior every arm of a bandit-allocated experiment starts from.
pub const BANDIT_PRIOR: f64 = 0.1;

/// The bandit policy name of a bandit-allocated experiment.
pub fn policy_of(experiment: &str) -> String {
    format!("experiment:{experiment}")
}
const REFRESH: Duration = Duration::from_secs(1);

/// An experiment as the API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Experiment {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub status: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub created_by: String,
    pub spec: serde_json::Value,
    /// Exposed customers per arm (and `holdout`).
    pub exposures: BTreeMap<String, u64>,
}

/// What an arm asks of a recommendation request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArmEffect {
    pub experiment: String,
    /// The arm's name, or [`HOLDOUT`].
    pub arm: String,
    /// No offers at all (holdout, or `strategy: none`).
    pub suppress: bool,
    pub strategy: Option<Strategy>,
    pub channel: Option<String>,
    pub message: Option<String>,
}

fn spec_problems(e: sextant_experiment::SpecError) -> IntelError {
    match e {
        sextant_experiment::SpecError::Invalid(p) => IntelError::Invalid(
            p.into_iter()
                .map(|f| (f.field.to_string(), f.reason.to_string()))
                .collect(),
        ),
    }
}

const CHANNELS: [&str; 5] = ["app_push", "in_app", "email", "sms", "advisor_call"];

/// Check every arm's `config` (the part the experiment crate leaves to the caller).
fn check_configs(spec: &ExperimentSpec) -> Result<()> {
    let mut bad = Vec::new();
    for (i, arm) in spec.arms.iter().enumerate() {
        let field = |k: &str| format!("arms[{i}].config.{k}");
        match &arm.config {
            serde_json::Value::Null => {}
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let ok = match (k.as_str(), v.as_str()) {
                        ("strategy", Some(s)) => ["engine", "popularity", "none"].contains(&s),
                        ("channel", Some(s)) => CHANNELS.contains(&s),
                        ("message", Some(s)) => {
                            s.contains("{product}") && (1..=300).contains(&s.chars().count())
                        }
                        _ => false,
                    };
                    if !ok {
                        bad.push((
                            field(k),
                            match k.as_str() {
                                "strategy" => "must be one of engine, popularity, none".into(),
                                "channel" => format!("must be one of {}", CHANNELS.join(", ")),
                                "message" => {
                                    "must be a sentence of at most 300 characters containing {product}"
                                        .into()
                                }
                                _ => "unknown key (allowed: strategy, channel, message)".into(),
                            },
                        ));
                    }
                }
            }
            _ => bad.push((
                format!("arms[{i}].config"),
                "must be an object or absent".into(),
            )),
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(IntelError::Invalid(bad))
    }
}

fn to_api(row: ExperimentRow, exposures: BTreeMap<String, u64>) -> Result<Experiment> {
    Ok(Experiment {
        spec: serde_json::from_str(&row.spec).map_err(|e| IntelError::Corrupt {
            what: "experiment spec",
            reason: e.to_string(),
        })?,
        created_at: chrono::DateTime::from_timestamp_micros(row.created_at).unwrap_or_default(),
        id: row.id,
        name: row.name,
        kind: row.kind,
        status: row.status,
        created_by: row.created_by,
        exposures,
    })
}

pub(crate) fn parse_spec(row: &ExperimentRow) -> Result<ExperimentSpec> {
    serde_json::from_str(&row.spec).map_err(|e| IntelError::Corrupt {
        what: "experiment spec",
        reason: e.to_string(),
    })
}

/// Validate and store a new experiment (running at once), with an audit entry.
pub async fn create(
    store: &dyn Store,
    spec: ExperimentSpec,
    actor: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Experiment> {
    spec.validate().map_err(spec_problems)?;
    check_configs(&spec)?;
    let kind = serde_json::to_value(spec.kind)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    let row = ExperimentRow {
        id: spec.id.clone(),
        name: spec.name.clone(),
        kind,
        spec: serde_json::to_string(&spec).map_err(|e| IntelError::Segment(e.to_string()))?,
        status: "running".into(),
        created_at: now.timestamp_micros(),
        updated_at: now.timestamp_micros(),
        created_by: actor.to_string(),
        monitor: None,
    };
    if !store.outcomes().experiment_insert(&row).await? {
        return Err(IntelError::Conflict(format!(
            "an experiment with id '{}' already exists",
            spec.id
        )));
    }
    store
        .append_audit(AuditRecord {
            actor: actor.to_string(),
            action: "experiment.create".into(),
            subject: spec.id.clone(),
            details: serde_json::json!({ "spec": spec }),
        })
        .await?;
    to_api(row, BTreeMap::new())
}

/// Stop a running experiment (audited). False if there is no such experiment.
pub async fn stop(
    store: &dyn Store,
    id: &str,
    actor: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool> {
    if !store
        .outcomes()
        .experiment_status(id, "stopped", now.timestamp_micros())
        .await?
    {
        return Ok(false);
    }
    store
        .append_audit(AuditRecord {
            actor: actor.to_string(),
            action: "experiment.stop".into(),
            subject: id.to_string(),
            details: serde_json::json!({}),
        })
        .await?;
    Ok(true)
}

async fn exposures_of(store: &dyn Store, id: &str) -> Result<BTreeMap<String, u64>> {
    Ok(store
        .outcomes()
        .exposure_counts(id)
        .await?
        .into_iter()
        .collect())
}

pub async fn get(store: &dyn Store, id: &str) -> Result<Option<Experiment>> {
    match store.outcomes().experiment(id).await? {
        None => Ok(None),
        Some(row) => Ok(Some(to_api(row, exposures_of(store, id).await?)?)),
    }
}

pub async fn list(store: &dyn Store) -> Result<Vec<Experiment>> {
    let mut out = Vec::new();
    for row in store.outcomes().experiments().await? {
        let counts = exposures_of(store, &row.id).await?;
        out.push(to_api(row, counts)?);
    }
    Ok(out)
}

/// The running experiments, cached in memory for [`REFRESH`].
#[derive(Default)]
pub struct ExperimentCache {
    state: Mutex<(Option<Instant>, Arc<Vec<ExperimentSpec>>)>,
    /// (experiment, customer) pairs this process has stored an exposure for: a customer's later
    /// requests skip the write (the store keeps the first row anyway). Bounded: cleared past
    /// [`EXPOSED_MEMORY`] pairs.
    exposed: Mutex<std::collections::HashSet<(String, String)>>,
}

/// How many exposures a process remembers before starting over.
const EXPOSED_MEMORY: usize = 200_000;

impl ExperimentCache {
    pub async fn running(&self, store: &dyn Store) -> Result<Arc<Vec<ExperimentSpec>>> {
        {
            let s = self.state.lock().expect("experiment cache poisoned");
            if let Some(at) = s.0
                && at.elapsed() < REFRESH
            {
                return Ok(s.1.clone());
            }
        }
        let mut specs = Vec::new();
        for row in store.outcomes().experiments().await? {
            if row.status == "running" {
                specs.push(parse_spec(&row)?);
            }
        }
        let specs = Arc::new(specs);
        *self.state.lock().expect("experiment cache poisoned") =
            (Some(Instant::now()), specs.clone());
        Ok(specs)
    }

    /// Store the first exposure of `customer` to each experiment in `effects`, skipping pairs
    /// this process already stored.
    pub async fn expose_new(
        &self,
        store: &dyn Store,
        effects: &[ArmEffect],
        customer: &CustomerId,
        decision: Option<&str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let key = |e: &ArmEffect| (e.experiment.clone(), customer.as_str().to_string());
        let fresh: Vec<ArmEffect> = {
            let seen = self.exposed.lock().expect("exposure memory poisoned");
            effects
                .iter()
                .filter(|e| !seen.contains(&key(e)))
                .cloned()
                .collect()
        };
        if fresh.is_empty() {
            return Ok(());
        }
        expose(store, &fresh, customer, decision, now).await?;
        let mut seen = self.exposed.lock().expect("exposure memory poisoned");
        if seen.len() + fresh.len() > EXPOSED_MEMORY {
            seen.clear();
        }
        seen.extend(fresh.iter().map(key));
        Ok(())
    }

    /// Forget the cache (after a local create or stop).
    pub fn invalidate(&self) {
        self.state.lock().expect("experiment cache poisoned").0 = None;
    }

    /// What each running experiment asks of this customer's request (`x`: the customer's
    /// bandit context). A bandit-allocated experiment's new customer is assigned here, the pull
    /// recorded, and the exposure stored at once (so the arm sticks).
    pub async fn effects(
        &self,
        store: &dyn Store,
        id: &CustomerId,
        x: &[f64],
        config: &sextant_recommend::BanditConfig,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<ArmEffect>> {
        let specs = self.running(store).await?;
        let mut out = Vec::with_capacity(specs.len());
        for s in specs.iter() {
            if s.allocation != sextant_experiment::Allocation::Bandit {
                out.push(effect_of(s, id.as_str()));
                continue;
            }
            if let Assignment::Holdout = sextant_experiment::assign(s, id.as_str()) {
                out.push(effect_of(s, id.as_str()));
                continue;
            }
            if let Some(x) = store.outcomes().exposure(&s.id, id.as_str()).await? {
                out.push(effect_named(s, &x.arm));
                continue;
            }
            let rows = store.bandit_arms(&policy_of(&s.id)).await?;
            let bandit = crate::recommend::bandit_from_rows(config.clone(), &rows)?;
            // Highest upper confidence bound; ties (a fresh experiment) spread by the customer's
            // hash position, so the first customers do not all land in the first arm.
            let u = sextant_experiment::assign::unit_position(
                s.salt.as_deref().unwrap_or(&s.id),
                id.as_str(),
            );
            let n = s.arms.len() as f64;
            let best = s
                .arms
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let tie = ((i as f64 / n - u).rem_euclid(1.0)) * 1e-9;
                    (bandit.score(&a.name, x, BANDIT_PRIOR).ucb - tie, i)
                })
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map_or(0, |(_, i)| i);
            let arm = s.arms[best].name.clone();
            let new = store
                .outcomes()
                .expose(&[ExposureRow {
                    experiment_id: s.id.clone(),
                    customer_id: id.as_str().to_string(),
                    arm: arm.clone(),
                    first_at: now.timestamp_micros(),
                    decision_id: None,
                    context: Some(serde_json::to_string(x).map_err(|e| IntelError::Corrupt {
                        what: "bandit context",
                        reason: e.to_string(),
                    })?),
                }])
                .await?;
            if new == 1 {
                learn(store, config, &s.id, &arm, x, 0.0, true).await?;
                out.push(effect_named(s, &arm));
            } else if let Some(x) = store.outcomes().exposure(&s.id, id.as_str()).await? {
                // Another request assigned this customer first: theirs stands.
                out.push(effect_named(s, &x.arm));
            }
        }
        Ok(out)
    }
}

/// Move arm `arm` of a bandit-allocated experiment: a new pull (`new_pull`, reward `reward`) or
/// a change of reward, with compare-and-swap (retried).
pub async fn learn(
    store: &dyn Store,
    config: &sextant_recommend::BanditConfig,
    experiment: &str,
    arm: &str,
    x: &[f64],
    reward: f64,
    new_pull: bool,
) -> Result<()> {
    let policy = policy_of(experiment);
    for _ in 0..16 {
        let rows = store.bandit_arms(&policy).await?;
        let row = rows.iter().find(|r| r.arm == arm);
        let mut b = crate::recommend::bandit_from_rows(
            config.clone(),
            row.map(std::slice::from_ref).unwrap_or(&[]),
        )?;
        b.update(arm, x, BANDIT_PRIOR, reward, new_pull);
        let state = serde_json::to_string(&b.arms[arm]).map_err(|e| IntelError::Corrupt {
            what: "bandit arm",
            reason: e.to_string(),
        })?;
        if store
            .bandit_put(&policy, arm, &state, row.map_or(0, |r| r.version))
            .await?
        {
            return Ok(());
        }
    }
    Err(IntelError::Busy(
        "the experiment's bandit arm kept changing; try again",
    ))
}

/// Per-arm bandit statistics of a bandit-allocated experiment.
pub async fn bandit_stats(
    store: &dyn Store,
    config: &sextant_recommend::BanditConfig,
    experiment: &str,
) -> Result<Vec<sextant_recommend::ArmStats>> {
    let rows = store.bandit_arms(&policy_of(experiment)).await?;
    Ok(crate::recommend::bandit_from_rows(config.clone(), &rows)?.stats())
}

/// The arm a customer is in by the hash (fixed allocation) and what it asks for.
pub fn effect_of(spec: &ExperimentSpec, customer: &str) -> ArmEffect {
    match sextant_experiment::assign(spec, customer) {
        Assignment::Holdout => effect_named(spec, HOLDOUT),
        Assignment::Arm { name, .. } => effect_named(spec, &name),
    }
}

/// What arm `name` (or the holdout) asks for.
pub fn effect_named(spec: &ExperimentSpec, name: &str) -> ArmEffect {
    match spec.arms.iter().position(|a| a.name == name) {
        None => ArmEffect {
            experiment: spec.id.clone(),
            arm: HOLDOUT.into(),
            suppress: true,
            ..Default::default()
        },
        Some(index) => {
            let name = name.to_string();
            let config = &spec.arms[index].config;
            let get = |k: &str| config.get(k).and_then(|v| v.as_str()).map(String::from);
            let strategy = get("strategy");
            ArmEffect {
                experiment: spec.id.clone(),
                arm: name,
                suppress: strategy.as_deref() == Some("none"),
                strategy: match strategy.as_deref() {
                    Some("popularity") => Some(Strategy::Popularity),
                    Some("engine") => Some(Strategy::Engine),
                    _ => None,
                },
                channel: get("channel"),
                message: get("message"),
            }
        }
    }
}

/// Record first exposures (a customer's later requests keep the first row).
pub async fn expose(
    store: &dyn Store,
    effects: &[ArmEffect],
    customer: &CustomerId,
    decision: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    if effects.is_empty() {
        return Ok(());
    }
    let rows: Vec<ExposureRow> = effects
        .iter()
        .map(|e| ExposureRow {
            experiment_id: e.experiment.clone(),
            customer_id: customer.as_str().to_string(),
            arm: e.arm.clone(),
            first_at: now.timestamp_micros(),
            decision_id: decision.map(String::from),
            context: None,
        })
        .collect();
    store.outcomes().expose(&rows).await?;
    Ok(())
}

/// An experiment with its analysis.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub experiment: Experiment,
    /// The per-arm totals the analysis was computed from.
    pub data: Vec<ArmData>,
    pub holdout: Option<ArmData>,
    pub analysis: Analysis,
    /// A bandit-allocated experiment's arms as the bandit sees them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandit: Option<Vec<sextant_recommend::ArmStats>>,
}

/// Totals per arm from the store: conversions (an accepted offer after the first exposure),
/// revenue (Σ annual value of the distinct products accepted, from the rules), guardrail events.
pub async fn arm_data(
    store: &dyn Store,
    rules: &Rules,
    spec: &ExperimentSpec,
) -> Result<(Vec<ArmData>, Option<ArmData>)> {
    #[derive(Default)]
    struct Cust {
        accepted: BTreeSet<String>,
        kinds: BTreeSet<String>,
    }
    let mut by_arm: BTreeMap<String, BTreeMap<String, Cust>> = BTreeMap::new();
    for r in store.outcomes().experiment_outcomes(&spec.id).await? {
        let c = by_arm
            .entry(r.arm)
            .or_default()
            .entry(r.customer_id)
            .or_default();
        if let Some(kind) = r.kind {
            if kind == "accept"
                && let Some(p) = r.product_id
            {
                c.accepted.insert(p);
            }
            c.kinds.insert(kind);
        }
    }
    let value = |p: &str| {
        sextant_core::ProductId::parse(p)
            .ok()
            .and_then(|id| rules.product(&id).map(|r| r.value))
            .unwrap_or(0.0)
    };
    let totals = |name: &str| {
        let mut d = ArmData::new(name, 0, 0);
        for g in sextant_experiment::GuardrailMetric::ALL {
            if spec.guardrails.iter().any(|x| x.metric == g) {
                d.guardrail_events.insert(g.as_str().to_string(), 0);
            }
        }
        for c in by_arm.get(name).into_iter().flat_map(|m| m.values()) {
            d.exposures += 1;
            if !c.accepted.is_empty() {
                d.conversions += 1;
            }
            let revenue: f64 = c.accepted.iter().map(|p| value(p)).sum();
            d.revenue_sum += revenue;
            d.revenue_sum_sq += revenue * revenue;
            for (metric, kind) in [
                ("dismiss_rate", "dismiss"),
                ("complaint_rate", "complaint"),
                ("unsubscribe_rate", "unsubscribe"),
            ] {
                if c.kinds.contains(kind)
                    && let Some(n) = d.guardrail_events.get_mut(metric)
                {
                    *n += 1;
                }
            }
        }
        d
    };
    let arms = spec.arms.iter().map(|a| totals(&a.name)).collect();
    let holdout = (spec.holdout > 0.0).then(|| totals(HOLDOUT));
    Ok((arms, holdout))
}

/// Analyse an experiment now; the sequential monitor's running minimum is stored, so every look
/// keeps the always-valid guarantee.
pub async fn analyze(
    store: &dyn Store,
    rules: &Rules,
    id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Report>> {
    let Some(row) = store.outcomes().experiment(id).await? else {
        return Ok(None);
    };
    let spec = parse_spec(&row)?;
    let prev: Option<SequentialMonitor> = row
        .monitor
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| IntelError::Corrupt {
            what: "experiment monitor",
            reason: e.to_string(),
        })?;
    let (data, holdout) = arm_data(store, rules, &spec).await?;
    let analysis = sextant_experiment::analyze_with(&spec, &data, holdout.as_ref(), prev.as_ref())
        .map_err(|e| IntelError::Segment(e.to_string()))?;
    let monitor = serde_json::to_string(&analysis.sequential_state)
        .map_err(|e| IntelError::Segment(e.to_string()))?;
    store
        .outcomes()
        .experiment_monitor(id, &monitor, now.timestamp_micros())
        .await?;
    let experiment = to_api(row, exposures_of(store, id).await?)?;
    let bandit = if spec.allocation == sextant_experiment::Allocation::Bandit {
        Some(bandit_stats(store, &rules.bandit_config(), id).await?)
    } else {
        None
    };
    Ok(Some(Report {
        experiment,
        data,
        holdout,
        analysis,
        bandit,
    }))
}

/// What a replay did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Replay {
    pub customers: u64,
    pub offers: u64,
    pub accepted: u64,
    pub dismissed: u64,
    /// Customers in the holdout or a no-offer arm, or shown nothing by the guardrails.
    pub shown_nothing: u64,
}

/// Everything a replay needs from the running system.
pub struct ReplayContext<'a> {
    pub store: &'a dyn Store,
    pub rec: &'a crate::recommend::Recommender,
    pub segments: &'a crate::ModelCache,
    pub bank: &'a crate::bank_models::BankModelCache,
    pub policy: &'a crate::Policy,
    /// The customer's pseudonym for audit entries.
    pub subject: &'a (dyn Fn(&CustomerId) -> String + Sync),
}

/// Replay synthetic traffic: every customer (up to `limit`) asks for one offer at `now`, then
/// answers it — accept with probability `respond(customer, product)` (the synthetic bank's own
/// response model), else dismiss — through the same feedback path as the API. Deterministic for
/// `seed`. The experiments running at the time assign and expose the customers as live traffic
/// would.
pub async fn replay(
    cx: &ReplayContext<'_>,
    respond: &(dyn Fn(&CustomerId, &sextant_core::ProductId) -> Option<f64> + Sync),
    seed: u64,
    limit: u64,
    now: chrono::DateTime<chrono::Utc>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Replay> {
    use sha2::{Digest, Sha256};
    let mut out = Replay::default();
    let mut after: Option<CustomerId> = None;
    cx.rec.experiments.invalidate();
    'pages: loop {
        let page = cx.store.list_customers(after.as_ref(), 200).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for c in page {
            if out.customers >= limit {
                break 'pages;
            }
            out.customers += 1;
            let ask = crate::recommend::Ask {
                channel: "app".into(),
                limit: 1,
                actor: "replay".into(),
                subject: (cx.subject)(&c.id),
                now,
            };
            let got = crate::recommend::recommend(
                cx.store,
                cx.rec,
                cx.segments,
                cx.bank,
                &c.id,
                cx.policy,
                &ask,
            )
            .await?;
            if got.recommendations.is_empty() {
                out.shown_nothing += 1;
            }
            for s in &got.recommendations {
                out.offers += 1;
                let p = respond(&c.id, &s.recommendation.product_id).unwrap_or(0.0);
                let h = Sha256::digest(format!("{seed}|{}|{}", c.id, s.recommendation.product_id));
                let u = u64::from_le_bytes(h[..8].try_into().expect("8 bytes")) as f64
                    / (u64::MAX as f64 + 1.0);
                let answer = if u < p {
                    out.accepted += 1;
                    sextant_core::EventKind::Accept
                } else {
                    out.dismissed += 1;
                    sextant_core::EventKind::Dismiss
                };
                let Some(decision) =
                    crate::recommend::feedback_decision(cx.store, &s.decision_id).await?
                else {
                    continue;
                };
                for (i, kind) in [sextant_core::EventKind::Impression, answer]
                    .into_iter()
                    .enumerate()
                {
                    let event_id = sextant_core::EventId::parse(&format!(
                        "replay_{}_{i}",
                        s.decision_id.as_str()
                    ))
                    .map_err(|e| IntelError::Invalid(vec![("event_id".into(), e.to_string())]))?;
                    crate::recommend::feedback(
                        cx.store,
                        cx.rec,
                        &decision,
                        &crate::recommend::Feedback {
                            event_id,
                            decision_id: s.decision_id.clone(),
                            kind,
                            at: now + chrono::Duration::seconds(1 + i as i64),
                        },
                    )
                    .await?;
                }
            }
            progress(out.customers);
        }
    }
    Ok(out)
}
