//! Erasure with exact unlearning: a customer's rows go, and so does what the bandits learned
//! from them.
//!
//! LinUCB keeps sums (`A = I + Σ xxᵀ`, `b = Σ (r − prior)·x`), so one customer's contribution can
//! be subtracted exactly (Sherman–Morrison downdate, [`sextant_recommend::Bandit::unupdate`])
//! rather than retraining. Everything needed is in the rows about to be erased: each
//! recommendation decision stores its context `x` and prior, and the customer's feedback events
//! (with a reviewer's rejection, stored as a `dismiss`) give its final reward. The arms are
//! rewritten with compare-and-swap in the same transaction as the erase, so either both happen or
//! neither does; a concurrent feedback write makes the store report a conflict and the plan is
//! computed again.
//!
//! Bandit-allocated experiments learned a pull at assignment (its context is stored with the
//! exposure) and reward changes while the experiment ran (feedback stamped after the experiment
//! stopped was not learned, and is not subtracted). An exposure written before schema 11 has no
//! context: the earliest decision under the arm supplies it, and without one the pull is counted
//! in [`Erased::not_unlearned`] and left in the arm.
//! Unlearning is exact when feedback arrived in timestamp order (the order the store replays).

use crate::experiments::{BANDIT_PRIOR, HOLDOUT, parse_spec, policy_of};
use crate::recommend::{KIND, POLICY, bandit_from_rows, recommendation_of};
use crate::{IntelError, Result};
use sextant_core::{CustomerId, EventKind};
use sextant_recommend::{BanditConfig, Recommendation, bandit::decision_reward};
use sextant_store::{ArmWrite, Store, StoreError};
use std::collections::{BTreeMap, BTreeSet};

/// What an erasure removed.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Erased {
    /// Rows deleted per table.
    pub deleted: BTreeMap<String, u64>,
    /// Recommendation decisions with feedback whose contribution was subtracted from the bandit.
    pub unlearned_decisions: u64,
    /// Bandit-experiment assignments whose contribution was subtracted.
    pub unlearned_assignments: u64,
    /// Contributions that could not be subtracted (see the module docs).
    pub not_unlearned: u64,
}

/// One recommendation decision of the customer, with its feedback (oldest first).
struct Taught {
    rec: Recommendation,
    experiments: Vec<(String, String)>,
    signals: Vec<(EventKind, i64)>,
}

/// Erase the customer and their contribution to every bandit, atomically; `None` if the
/// customer is unknown.
pub async fn erase_customer(store: &dyn Store, id: &CustomerId) -> Result<Option<Erased>> {
    for _ in 0..16 {
        let (writes, mut erased) = plan(store, id).await?;
        match store.erase_customer(id, &writes).await {
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
            Ok(None) => return Ok(None),
            Ok(Some(counts)) => {
                erased.deleted = counts.into_iter().collect();
                return Ok(Some(erased));
            }
        }
    }
    Err(IntelError::Busy(
        "the bandit kept learning during the erasure; try again",
    ))
}

/// The arms rewritten without the customer, with the versions they were read at.
async fn plan(store: &dyn Store, id: &CustomerId) -> Result<(Vec<ArmWrite>, Erased)> {
    let mut erased = Erased::default();
    let events = store.list_events(id).await?;
    let mut taught = Vec::new();
    for d in store.list_decisions(id).await? {
        if d.kind != KIND {
            continue;
        }
        let rec = recommendation_of(&d)?;
        let experiments = d.payload["experiments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| Some((e["experiment"].as_str()?.into(), e["arm"].as_str()?.into())))
            .collect();
        let signals = events
            .iter()
            .filter(|e| e.decision_id.as_ref() == Some(&d.id))
            .map(|e| (e.kind, e.timestamp.timestamp_micros()))
            .collect();
        taught.push(Taught {
            rec,
            experiments,
            signals,
        });
    }
    let mut writes = Vec::new();

    // The recommendation bandit: every decision with a signal was one pull.
    let rows = store.bandit_arms(POLICY).await?;
    let mut bandit = bandit_from_rows(BanditConfig::default(), &rows)?;
    let mut touched = BTreeSet::new();
    for t in &taught {
        if t.signals.is_empty() {
            continue;
        }
        let arm = t.rec.product_id.as_str();
        let kinds: Vec<EventKind> = t.signals.iter().map(|(k, _)| *k).collect();
        if bandit.forget_decision(arm, &t.rec.context, t.rec.prior, &kinds) {
            touched.insert(arm.to_string());
            erased.unlearned_decisions += 1;
        } else {
            erased.not_unlearned += 1;
        }
    }
    push_writes(&mut writes, POLICY, &bandit, &rows, &touched)?;

    // Bandit-allocated experiments: the assignment's pull and the reward changes learned while
    // the experiment ran.
    let experiments: BTreeMap<String, sextant_store::ExperimentRow> = store
        .outcomes()
        .experiments()
        .await?
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect();
    for x in store.outcomes().customer_exposures(id.as_str()).await? {
        let Some(row) = experiments.get(&x.experiment_id) else {
            continue;
        };
        let spec = parse_spec(row)?;
        if spec.allocation != sextant_experiment::Allocation::Bandit || x.arm == HOLDOUT {
            continue;
        }
        let under: Vec<&Taught> = taught
            .iter()
            .filter(|t| {
                t.experiments
                    .iter()
                    .any(|(e, a)| *e == x.experiment_id && *a == x.arm)
            })
            .collect();
        // The assignment's own context (stored with the exposure since schema 11); before that,
        // the context of the earliest decision made under the arm (the same request's).
        let context: Option<Vec<f64>> = match &x.context {
            Some(c) => Some(serde_json::from_str(c).map_err(|e| IntelError::Corrupt {
                what: "exposure context",
                reason: e.to_string(),
            })?),
            None => under.first().map(|t| t.rec.context.clone()),
        };
        let Some(context) = context else {
            erased.not_unlearned += 1;
            continue;
        };
        let policy = policy_of(&x.experiment_id);
        let rows = store.bandit_arms(&policy).await?;
        let mut b = bandit_from_rows(BanditConfig::default(), &rows)?;
        if !b.unupdate(&x.arm, &context, BANDIT_PRIOR, 0.0, true) {
            erased.not_unlearned += 1;
            continue;
        }
        // Feedback after the experiment stopped was not learned by it.
        let stopped_at = (row.status == "stopped").then_some(row.updated_at);
        for t in &under {
            let kinds: Vec<EventKind> = t
                .signals
                .iter()
                .filter(|(_, at)| stopped_at.is_none_or(|s| *at <= s))
                .map(|(k, _)| *k)
                .collect();
            let r = decision_reward(&kinds);
            if r != 0.0 {
                b.unupdate(&x.arm, &t.rec.context, BANDIT_PRIOR, r, false);
            }
        }
        erased.unlearned_assignments += 1;
        push_writes(
            &mut writes,
            &policy,
            &b,
            &rows,
            &BTreeSet::from([x.arm.clone()]),
        )?;
    }
    Ok((writes, erased))
}

fn push_writes(
    writes: &mut Vec<ArmWrite>,
    policy: &str,
    bandit: &sextant_recommend::Bandit,
    rows: &[sextant_store::ArmRow],
    arms: &BTreeSet<String>,
) -> Result<()> {
    for arm in arms {
        let Some(row) = rows.iter().find(|r| &r.arm == arm) else {
            continue;
        };
        let state = serde_json::to_string(&bandit.arms[arm]).map_err(|e| IntelError::Corrupt {
            what: "bandit arm",
            reason: e.to_string(),
        })?;
        writes.push(ArmWrite {
            policy: policy.to_string(),
            arm: arm.clone(),
            state,
            expected: row.version,
        });
    }
    Ok(())
}
