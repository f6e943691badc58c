//! The bank's own predictive models, trained point in time from the feature definitions:
//! features as they were at a cutoff, outcomes after it, so nothing the model learns from comes
//! from the future. Scoring uses the promoted version and returns exact SHAP explanations.

use crate::{IntelError, Policy, Result, require_profiling};
use sextant_core::{AccountStatus, CustomerId, EventKind, ProductFamily};
use sextant_features::{CustomerData, FEATURES};
use sextant_models::{Dataset, Gbdt, GbdtParams, ModelCard, TrainParams, reason_codes};
use sextant_store::Store;

/// Profile columns the bank's file reports as of its export, not as of the cutoff: activity
/// snapshots that would leak the outcome into point-in-time training, so bank models leave them
/// out (measured: with them a churn model reached a cross-validated ROC-AUC of 0.995–1.0).
pub const NOT_POINT_IN_TIME: &[&str] = &[
    "transactions_reported",
    "engagement_score",
    "sentiment_score",
];

/// The features bank models use, as indices into `FEATURES`.
pub(crate) fn model_features() -> Vec<usize> {
    (0..FEATURES.len())
        .filter(|&i| !NOT_POINT_IN_TIME.contains(&FEATURES[i].name))
        .collect()
}

/// What a bank model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The customer closes every account after the cutoff.
    Churn,
    /// A credit account of the customer ends up defaulted.
    CreditDefault,
    /// The customer accepts an offer of a product of this family after the cutoff.
    Propensity(ProductFamily),
}

impl Target {
    /// The product-propensity models (what recommendations use as their prior).
    pub const PROPENSITY: [Target; 6] = [
        Target::Propensity(ProductFamily::CreditCard),
        Target::Propensity(ProductFamily::PersonalLoan),
        Target::Propensity(ProductFamily::Savings),
        Target::Propensity(ProductFamily::TermDeposit),
        Target::Propensity(ProductFamily::Investment),
        Target::Propensity(ProductFamily::Insurance),
    ];
    pub const ALL: [Target; 8] = [
        Target::Churn,
        Target::CreditDefault,
        Target::Propensity(ProductFamily::CreditCard),
        Target::Propensity(ProductFamily::PersonalLoan),
        Target::Propensity(ProductFamily::Savings),
        Target::Propensity(ProductFamily::TermDeposit),
        Target::Propensity(ProductFamily::Investment),
        Target::Propensity(ProductFamily::Insurance),
    ];
    /// The registry name.
    pub fn name(self) -> &'static str {
        match self {
            Target::Churn => "churn",
            Target::CreditDefault => "credit_default",
            Target::Propensity(f) => match f {
                ProductFamily::CreditCard => "propensity_credit_card",
                ProductFamily::PersonalLoan => "propensity_personal_loan",
                ProductFamily::Mortgage => "propensity_mortgage",
                ProductFamily::AutoLoan => "propensity_auto_loan",
                ProductFamily::Savings => "propensity_savings",
                ProductFamily::TermDeposit => "propensity_term_deposit",
                ProductFamily::Investment => "propensity_investment",
                ProductFamily::Insurance => "propensity_insurance",
                ProductFamily::Current => "propensity_current",
            },
        }
    }

    /// Parse `churn`, `credit-default` or `propensity:<family>` (e.g. `propensity:savings`).
    pub fn parse(s: &str) -> std::result::Result<Target, String> {
        match s {
            "churn" => Ok(Target::Churn),
            "credit-default" | "credit_default" => Ok(Target::CreditDefault),
            other => match other.strip_prefix("propensity:") {
                Some(f) => f
                    .parse::<ProductFamily>()
                    .map(Target::Propensity)
                    .map_err(|e| e.reason),
                None => Err(format!(
                    "'{other}' is not churn, credit-default or propensity:<product family>"
                )),
            },
        }
    }
}

/// What training produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Trained {
    pub name: &'static str,
    pub version: i64,
    pub rows: usize,
    pub positives: usize,
    pub trees: usize,
    pub data_hash: String,
    /// 3-fold cross-validated ROC-AUC of the GBDT and of the logistic baseline.
    pub cv_roc_auc: Option<(f64, f64)>,
    /// Fairness of the model's decisions (calibrated probability ≥ 0.5; for credit default the
    /// favourable outcome is a predicted non-default) on its training customers, by gender, age band and region (protected attributes are read here, for the
    /// audit only — never as features).
    #[serde(skip)]
    pub fairness: Vec<sextant_fairness::AttributeReport>,
}

impl Trained {
    /// Threshold violations of the fairness audit: the gate a promotion must pass.
    pub fn violations(&self, t: &sextant_fairness::Thresholds) -> Vec<sextant_fairness::Violation> {
        self.fairness
            .iter()
            .flat_map(|r| sextant_fairness::check(r, t))
            .collect()
    }
}

/// A point-in-time training table: one row per customer with profiling consent who was a
/// customer at the cutoff, the model features (row-major) as of the cutoff, the label after it.
#[derive(Debug, Clone)]
pub struct TrainingSet {
    pub names: Vec<String>,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub ids: Vec<CustomerId>,
}

/// Build the table [`train`] learns from (also what `sextant model export-bank` writes).
pub async fn training_set(
    store: &dyn Store,
    policy: &Policy,
    target: Target,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> Result<TrainingSet> {
    let cols = model_features();
    let names: Vec<String> = cols.iter().map(|&i| FEATURES[i].name.to_string()).collect();
    let families: std::collections::HashMap<_, _> = store
        .list_products()
        .await?
        .into_iter()
        .map(|p| (p.id, p.family))
        .collect();
    let (mut x, mut y, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    let mut after: Option<CustomerId> = None;
    loop {
        let page = store.list_customers(after.as_ref(), 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for c in &page {
            if require_profiling(store, &c.id, policy).await.is_err() {
                continue;
            }
            let accounts = store.list_accounts(&c.id).await?;
            if accounts.iter().all(|a| a.opened_on > cutoff.date_naive()) {
                continue; // not a customer yet at the cutoff
            }
            let label = match target {
                Target::Churn => {
                    !accounts.is_empty()
                        && accounts
                            .iter()
                            .all(|a| a.closed_on.is_some_and(|d| d > cutoff.date_naive()))
                }
                Target::CreditDefault => accounts
                    .iter()
                    .any(|a| a.status == AccountStatus::Defaulted),
                Target::Propensity(family) => store.list_events(&c.id).await?.iter().any(|e| {
                    e.kind == EventKind::Accept
                        && e.timestamp > cutoff
                        && e.product_id.as_ref().and_then(|p| families.get(p)) == Some(&family)
                }),
            };
            if target == Target::Churn
                && accounts
                    .iter()
                    .all(|a| a.closed_on.is_some_and(|d| d <= cutoff.date_naive()))
            {
                continue; // already gone at the cutoff
            }
            let transactions = store.all_transactions(&c.id).await?;
            let v = sextant_features::compute(&CustomerData {
                customer: c,
                accounts: &accounts,
                transactions: &transactions,
                as_of: cutoff,
            });
            x.extend(cols.iter().map(|&i| v.values[i]));
            y.push(if label { 1.0 } else { 0.0 });
            ids.push(c.id.clone());
        }
    }
    Ok(TrainingSet { names, x, y, ids })
}

/// Train `target` on every customer with profiling consent: features as of `cutoff`, the
/// outcome from the accounts' state and closing dates after it. Registers a new version.
pub async fn train(
    store: &dyn Store,
    policy: &Policy,
    target: Target,
    cutoff: chrono::DateTime<chrono::Utc>,
    budget: f32,
) -> Result<Trained> {
    let TrainingSet { names, x, y, ids } = training_set(store, policy, target, cutoff).await?;
    if y.is_empty() {
        return Err(IntelError::NoData);
    }
    let reference_x = x.clone();
    let reference_names = names.clone();
    let data = Dataset::from_parts(names, x, y).map_err(|e| IntelError::Segment(e.to_string()))?;
    let params = TrainParams {
        gbdt: GbdtParams {
            budget,
            ..Default::default()
        },
        ..Default::default()
    };
    let fit_params = params.clone();
    let (data, model, evaluation) = tokio::task::spawn_blocking(move || {
        // Cross-validate first (honest metrics for the card), then fit on everything.
        let e = sextant_models::evaluate(&data, 3, fit_params.gbdt.seed, &fit_params).ok();
        let m = Gbdt::fit(&data, &fit_params.gbdt);
        (data, m, e)
    })
    .await
    .map_err(|e| IntelError::Segment(e.to_string()))?;
    let model = model.map_err(|e| IntelError::Segment(e.to_string()))?;
    let now = chrono::Utc::now();
    let fairness = fairness_audit(store, target, &ids, &data, &model).await?;
    let cv_roc_auc = evaluation.as_ref().and_then(|e| {
        Some((
            e.model("gbdt_calibrated")
                .or(e.model("gbdt"))?
                .metrics
                .roc_auc,
            e.model("logistic")?.metrics.roc_auc,
        ))
    });
    let card = ModelCard::new(target.name(), now.to_rfc3339(), &data, &params, evaluation);
    // The registry keeps the fairness audit beside the card (an extra `fairness` field, ignored
    // by `ModelCard` readers), so the console and `GET /v1/models` can show it later.
    let mut card_value =
        serde_json::to_value(&card).map_err(|e| IntelError::Segment(e.to_string()))?;
    card_value["fairness"] =
        serde_json::to_value(&fairness).map_err(|e| IntelError::Segment(e.to_string()))?;
    let card_json = card_value.to_string();
    let model_json = model
        .to_json()
        .map_err(|e| IntelError::Segment(e.to_string()))?;
    let version = store
        .save_model(
            target.name(),
            now.timestamp_micros(),
            &card_json,
            &model_json,
        )
        .await?;
    // The training distributions, for drift monitoring of this version.
    let scores = model
        .calibrated_proba_all(&data)
        .map_err(|e| IntelError::Segment(e.to_string()))?;
    crate::monitor::store_references(
        store,
        target.name(),
        version,
        &reference_names,
        &reference_x,
        &scores,
    )
    .await?;
    Ok(Trained {
        name: target.name(),
        version,
        rows: data.rows,
        positives: data.positives(),
        trees: model.trees(),
        data_hash: card.data_hash,
        cv_roc_auc,
        fairness,
    })
}

/// Audits the model's decisions on its training customers. The favourable outcome is what the
/// customer wants: for credit default, being predicted *not* to default (approved); for churn,
/// being flagged (and so offered retention help).
async fn fairness_audit(
    store: &dyn Store,
    target: Target,
    ids: &[CustomerId],
    data: &Dataset,
    model: &Gbdt,
) -> Result<Vec<sextant_fairness::AttributeReport>> {
    let probs = model
        .calibrated_proba_all(data)
        .map_err(|e| IntelError::Segment(e.to_string()))?;
    let mut by: [Vec<sextant_fairness::Record>; 3] = Default::default();
    for (i, id) in ids.iter().enumerate() {
        let p = store.get_protected(id).await?.unwrap_or_default();
        let (mut pred, mut label) = (probs[i] >= 0.5, data.y[i] == 1.0);
        if target == Target::CreditDefault {
            (pred, label) = (!pred, !label);
        }
        let missing = || sextant_fairness::MISSING_GROUP.to_string();
        by[0].push(sextant_fairness::Record::new(
            p.gender.unwrap_or_else(missing),
            pred,
            label,
        ));
        by[1].push(sextant_fairness::Record::new(
            p.age_band.unwrap_or_else(missing),
            pred,
            label,
        ));
        by[2].push(sextant_fairness::Record::new(
            p.region.unwrap_or_else(missing),
            pred,
            label,
        ));
    }
    let opts = sextant_fairness::AuditOptions {
        bootstrap: 200,
        ..Default::default()
    };
    ["gender", "age_band", "region"]
        .iter()
        .zip(by.iter())
        .map(|(a, r)| {
            sextant_fairness::audit(a, r, &opts).map_err(|e| IntelError::Segment(e.to_string()))
        })
        .collect()
}

/// One model's score for one customer, explained.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Score {
    pub model: String,
    pub version: i64,
    /// Calibrated probability.
    pub probability: f64,
    /// Log-odds = `base_value` + the sum of `shap`.
    pub raw_score: f64,
    pub base_value: f64,
    /// Plain-word reasons, strongest first.
    pub reasons: Vec<String>,
    /// The ten largest SHAP values: (feature, value, contribution to the log-odds).
    pub shap: Vec<(String, f64, f64)>,
    /// Credit default only: the decision at [`CREDIT_DECISION_THRESHOLD`], "approve" or
    /// "decline".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<&'static str>,
    /// Credit default only, when declined: the smallest changes to one (or two) actionable
    /// features that would make the decision approve, smallest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterfactuals: Option<Vec<CreditCounterfactual>>,
}

/// A change that would turn a declined credit decision into approve.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CreditCounterfactual {
    /// E.g. "with credit utilisation below 30% (now 62%) the decision would be approve
    /// (default probability 41% instead of 58%)".
    pub text: String,
    /// Calibrated default probability after the change.
    pub probability: f64,
    pub changes: Vec<sextant_models::Change>,
}

/// Credit is declined when the calibrated default probability is at least this (the same
/// threshold the fairness audit judges decisions at).
pub const CREDIT_DECISION_THRESHOLD: f64 = 0.5;

/// Features never proposed in a counterfactual: who the customer is (age, tenure), what the
/// source system reports, and what a customer cannot change by acting differently.
pub const IMMUTABLE: &[&str] = &["age", "tenure_years", "income_annual", "risk_profile_score"];

/// The features a credit counterfactual may change, with their allowed ranges and directions:
/// things a customer can act on (pay down cards, save more, spend less on discretionary items
/// and cash, avoid declined payments). Never age, protected or immutable attributes.
pub fn credit_actionable() -> Vec<sextant_models::Actionable> {
    use sextant_models::{Actionable, Direction};
    let a = |feature: &str, label: &str, min: f64, max: f64, direction| Actionable {
        feature: feature.into(),
        label: label.into(),
        min,
        max,
        direction,
        percent: true,
    };
    vec![
        a(
            "credit_utilization",
            "credit utilisation",
            0.0,
            1.0,
            Direction::Decrease,
        ),
        a(
            "savings_rate",
            "savings rate",
            -1.0,
            1.0,
            Direction::Increase,
        ),
        a(
            "discretionary_share",
            "discretionary spending share",
            0.0,
            1.0,
            Direction::Decrease,
        ),
        a(
            "spend_share_cash",
            "cash withdrawal share",
            0.0,
            1.0,
            Direction::Decrease,
        ),
        a(
            "declined_share_3m",
            "declined payments share (3 months)",
            0.0,
            1.0,
            Direction::Decrease,
        ),
    ]
}

fn credit_counterfactuals(
    model: &Gbdt,
    values: &[f64],
    probability: f64,
) -> Result<Vec<CreditCounterfactual>> {
    let names = model.feature_names();
    let candidates: Vec<_> = credit_actionable()
        .into_iter()
        .filter(|a| names.contains(&a.feature))
        .collect();
    let found =
        sextant_models::counterfactuals(model, values, CREDIT_DECISION_THRESHOLD, &candidates, 2)
            .map_err(|e| IntelError::Segment(e.to_string()))?;
    Ok(found
        .into_iter()
        .map(|c| CreditCounterfactual {
            text: format!(
                "with {} the decision would be approve (default probability {:.0}% instead of {:.0}%)",
                c.changes
                    .iter()
                    .map(|x| x.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" and "),
                c.probability * 100.0,
                probability * 100.0
            ),
            probability: c.probability,
            changes: c.changes,
        })
        .collect())
}

/// Promoted bank models, parsed once per version and kept in memory for scoring.
#[derive(Default)]
pub struct BankModelCache {
    /// Per model name: when the promoted version was last looked up, and that model (if any).
    models: std::sync::Mutex<std::collections::HashMap<&'static str, Cached>>,
    /// The promoted transaction anomaly forest.
    pub anomaly: crate::anomaly::ForestCache,
    /// The feature table, served from memory.
    pub features: crate::serving::FeatureCache,
}

type Cached = (std::time::Instant, Option<(i64, std::sync::Arc<Gbdt>)>);

/// How long a looked-up promoted version is trusted: a promotion or rollback reaches scoring
/// within this time, and a score costs no registry query in between.
pub const PROMOTION_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

impl BankModelCache {
    pub(crate) async fn get(
        &self,
        store: &dyn Store,
        target: Target,
    ) -> Result<Option<(i64, std::sync::Arc<Gbdt>)>> {
        let cached = self
            .models
            .lock()
            .expect("model cache poisoned")
            .get(target.name())
            .cloned();
        if let Some((at, m)) = &cached
            && at.elapsed() < PROMOTION_CHECK
        {
            return Ok(m.clone());
        }
        let found = match store.promoted_model_version(target.name()).await? {
            None => None,
            Some(version) => match cached.and_then(|(_, m)| m).filter(|(v, _)| *v == version) {
                Some(same) => Some(same),
                None => match store.get_model(target.name(), Some(version)).await? {
                    None => None,
                    Some(rec) => Some((
                        version,
                        std::sync::Arc::new(Gbdt::from_json(&rec.model).map_err(|e| {
                            IntelError::Corrupt {
                                what: "model",
                                reason: e.to_string(),
                            }
                        })?),
                    )),
                },
            },
        };
        self.models
            .lock()
            .expect("model cache poisoned")
            .insert(target.name(), (std::time::Instant::now(), found.clone()));
        Ok(found)
    }
}

/// Score the customer now with every promoted bank model (profiling consent required; credit
/// scores are not automated decisions here — they inform a human or a later decision step).
pub async fn score(
    store: &dyn Store,
    cache: &BankModelCache,
    id: &CustomerId,
    policy: &Policy,
) -> Result<Vec<Score>> {
    // The feature store's current row when there is one of this version (what the batch refresh
    // or the last online computation stored), served from memory; otherwise compute now, from
    // the same definition. Consent is read from the store first, every time.
    require_profiling(store, id, policy).await?;
    let all = match cache.features.get(store, id).await? {
        Some(v) => v,
        None => std::sync::Arc::new(
            crate::compute_features(store, id, policy, chrono::Utc::now()).await?,
        ),
    };
    let out = score_vector(store, cache, &all, &Target::ALL).await?;
    if out.is_empty() {
        return Err(IntelError::NoModel);
    }
    Ok(out)
}

/// Score a feature vector with the promoted models of `targets` (the caller has checked
/// profiling consent). Empty when none is promoted.
pub async fn score_vector(
    store: &dyn Store,
    cache: &BankModelCache,
    all: &sextant_features::FeatureVector,
    targets: &[Target],
) -> Result<Vec<Score>> {
    let values: Vec<f64> = model_features().iter().map(|&i| all.values[i]).collect();
    let mut out = Vec::new();
    for &target in targets {
        let Some((version, model)) = cache.get(store, target).await? else {
            continue;
        };
        let e = model
            .explain(&values)
            .map_err(|e| IntelError::Segment(e.to_string()))?;
        let probability = model
            .calibrated_proba(&values)
            .map_err(|e| IntelError::Segment(e.to_string()))?;
        let (decision, counterfactuals) = if target == Target::CreditDefault {
            if probability >= CREDIT_DECISION_THRESHOLD {
                (
                    Some("decline"),
                    Some(credit_counterfactuals(&model, &values, probability)?),
                )
            } else {
                (Some("approve"), Some(Vec::new()))
            }
        } else {
            (None, None)
        };
        out.push(Score {
            model: target.name().to_string(),
            version,
            probability,
            decision,
            counterfactuals,
            raw_score: e.raw_score,
            base_value: e.base_value,
            reasons: reason_codes(&e, 3),
            shap: e
                .ranked()
                .iter()
                .take(10)
                .map(|c| (c.feature.clone(), c.value, c.shap))
                .collect(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_name_the_registry_entry() {
        assert_eq!(Target::parse("churn").unwrap().name(), "churn");
        assert_eq!(
            Target::parse("credit-default").unwrap().name(),
            "credit_default"
        );
        assert_eq!(
            Target::parse("propensity:savings").unwrap(),
            Target::Propensity(ProductFamily::Savings)
        );
        assert_eq!(
            Target::parse("propensity:savings").unwrap().name(),
            "propensity_savings"
        );
        assert!(
            Target::parse("propensity:yachts")
                .unwrap_err()
                .starts_with("unknown product family 'yachts'")
        );
        assert!(Target::parse("happiness").is_err());
        let names: std::collections::HashSet<_> = Target::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(names.len(), Target::ALL.len());
    }

    #[test]
    fn credit_counterfactuals_change_only_actionable_model_features() {
        let model: Vec<&str> = model_features().iter().map(|&i| FEATURES[i].name).collect();
        for a in credit_actionable() {
            assert!(
                model.contains(&a.feature.as_str()),
                "{} is a model feature",
                a.feature
            );
            assert!(
                !IMMUTABLE.contains(&a.feature.as_str()),
                "{} is immutable",
                a.feature
            );
            assert!(!a.feature.contains("age") && !a.feature.starts_with("has_"));
        }
        for f in IMMUTABLE {
            assert!(sextant_features::index_of(f).is_some(), "{f} exists");
        }
    }
}
