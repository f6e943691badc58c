//! Model and data monitoring. At training, each bank model's input distributions and score
//! distribution are stored as quantile references next to the model version
//! ([`store_references`]); [`report`] compares the promoted versions against today's feature
//! store (population stability index per feature and for the score) and, once labels have
//! arrived, measures performance decay: for a propensity model, the AUC of its current scores
//! against "accepted an offer of this family after the model was trained".

use crate::bank_models::{BankModelCache, Target, model_features};
use crate::{IntelError, Result};
use sextant_core::{CustomerId, EventKind, ProductFamily};
use sextant_features::FEATURES;
use sextant_outcomes::drift::{self, Decay, Psi, Reference, Thresholds};
use sextant_store::Store;
use std::collections::{BTreeMap, HashMap};

const SCORE: &str = "score";

fn feature_ref(name: &str) -> String {
    format!("feature:{name}")
}

/// Store the training distributions of a model version: each input column of `x` (row-major,
/// `names.len()` columns) and the scores.
pub async fn store_references(
    store: &dyn Store,
    model: &str,
    version: i64,
    names: &[String],
    x: &[f64],
    scores: &[f64],
) -> Result<()> {
    let cols = names.len().max(1);
    let mut refs = Vec::with_capacity(names.len() + 1);
    let fit = |name: &str, values: &[f64]| -> Result<(String, String)> {
        let r = Reference::fit(name, values, drift::DEFAULT_BINS)
            .map_err(|e| IntelError::Segment(e.to_string()))?;
        Ok((
            name.to_string(),
            serde_json::to_string(&r).map_err(|e| IntelError::Segment(e.to_string()))?,
        ))
    };
    for (j, name) in names.iter().enumerate() {
        let col: Vec<f64> = x.iter().skip(j).step_by(cols).copied().collect();
        refs.push(fit(&feature_ref(name), &col)?);
    }
    refs.push(fit(SCORE, scores)?);
    store
        .outcomes()
        .references_put(model, version, &refs)
        .await?;
    Ok(())
}

/// One promoted model's drift.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelDrift {
    pub model: String,
    pub version: i64,
    /// Inputs, largest PSI first.
    pub features: Vec<Psi>,
    pub score: Option<Psi>,
    pub decay: Option<Decay>,
    /// Why there is no decay figure (no labels yet, too few).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decay_note: Option<String>,
    pub alerts: Vec<String>,
}

/// Drift of every promoted bank model against its training distributions.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MonitorReport {
    pub generated_at: chrono::DateTime<chrono::Utc>,
    /// Customers whose current features were compared (a sample of at most `sample`).
    pub customers: usize,
    pub thresholds: Thresholds,
    pub models: Vec<ModelDrift>,
    /// Models promoted before monitoring existed have no references to compare with.
    pub unmonitored: Vec<String>,
    pub alerts: Vec<String>,
}

/// Compare each promoted model with its training distributions, over the first `sample`
/// customers of the feature store.
pub async fn report(
    store: &dyn Store,
    cache: &BankModelCache,
    th: &Thresholds,
    sample: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<MonitorReport> {
    let version = sextant_features::FEATURE_VERSION as i64;
    let mut vectors: Vec<(CustomerId, Vec<f64>)> = Vec::new();
    let mut after: Option<CustomerId> = None;
    while vectors.len() < sample {
        let page = store
            .scan_features(version, after.as_ref(), 500.min(sample as u32).max(1))
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.customer_id.clone());
        for row in page {
            if let Ok(v) = serde_json::from_str::<sextant_features::FeatureVector>(&row.vector) {
                vectors.push((row.customer_id, v.values));
            }
        }
    }
    vectors.truncate(sample);
    let cols = model_features();
    let rows: Vec<Vec<f64>> = vectors
        .iter()
        .map(|(_, v)| cols.iter().map(|&i| v[i]).collect())
        .collect();
    let mut current: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (j, &i) in cols.iter().enumerate() {
        current.insert(
            feature_ref(FEATURES[i].name),
            rows.iter().map(|r| r[j]).collect(),
        );
    }
    let families: HashMap<_, _> = store
        .list_products()
        .await?
        .into_iter()
        .map(|p| (p.id, p.family))
        .collect();
    let mut models = Vec::new();
    let mut unmonitored = Vec::new();
    let mut alerts = Vec::new();
    for target in Target::ALL {
        let Some((version, model)) = cache.get(store, target).await? else {
            continue;
        };
        let stored = store.outcomes().references(target.name(), version).await?;
        if stored.is_empty() {
            unmonitored.push(format!("{} v{version}", target.name()));
            continue;
        }
        let mut features = Vec::new();
        let mut score = None;
        let mut scores = Vec::with_capacity(rows.len());
        for r in &rows {
            scores.push(
                model
                    .calibrated_proba(r)
                    .map_err(|e| IntelError::Segment(e.to_string()))?,
            );
        }
        for (name, body) in stored {
            let reference: Reference =
                serde_json::from_str(&body).map_err(|e| IntelError::Corrupt {
                    what: "drift reference",
                    reason: e.to_string(),
                })?;
            let values = if name == SCORE {
                &scores
            } else {
                match current.get(&name) {
                    Some(v) => v,
                    None => continue, // a feature this build no longer computes
                }
            };
            if values.is_empty() {
                continue;
            }
            let p = drift::psi_with(&reference, values, th)
                .map_err(|e| IntelError::Segment(e.to_string()))?;
            if name == SCORE {
                score = Some(p);
            } else {
                features.push(p);
            }
        }
        features.sort_by(|a, b| b.value.total_cmp(&a.value));
        let (decay, decay_note) = match target {
            Target::Propensity(family) => {
                decay_of(store, &model_created(store, target, version).await?, family, &families, &vectors, &scores, th).await?
            }
            _ => (None, Some("labels for this target arrive only with account closures or defaults after training; not measured yet".to_string())),
        };
        let mut model_alerts = Vec::new();
        for p in features.iter().chain(score.iter()) {
            if p.level != drift::DriftLevel::Stable {
                model_alerts.push(format!(
                    "{} v{version}: {} PSI {:.3} ({:?})",
                    target.name(),
                    p.name,
                    p.value,
                    p.level
                ));
            }
        }
        if let Some(d) = &decay
            && d.decayed
        {
            model_alerts.push(format!(
                "{} v{version}: AUC fell from {:.3} to {:.3}",
                target.name(),
                d.reference_auc,
                d.current_auc
            ));
        }
        alerts.extend(model_alerts.iter().cloned());
        models.push(ModelDrift {
            model: target.name().to_string(),
            version,
            features,
            score,
            decay,
            decay_note,
            alerts: model_alerts,
        });
    }
    Ok(MonitorReport {
        generated_at: now,
        customers: vectors.len(),
        thresholds: *th,
        models,
        unmonitored,
        alerts,
    })
}

/// The model version's creation time and its cross-validated AUC (from the card).
async fn model_created(
    store: &dyn Store,
    target: Target,
    version: i64,
) -> Result<(i64, Option<f64>)> {
    let rec = store
        .get_model(target.name(), Some(version))
        .await?
        .ok_or_else(|| IntelError::NotFound(format!("model {} v{version}", target.name())))?;
    let card: serde_json::Value = serde_json::from_str(&rec.card).unwrap_or_default();
    let auc = card["metrics"]["models"]
        .as_array()
        .and_then(|ms| {
            ms.iter()
                .find(|m| m["model"] == "gbdt_calibrated" || m["model"] == "gbdt")
        })
        .and_then(|m| m["metrics"]["roc_auc"].as_f64());
    Ok((rec.created_at, auc))
}

async fn decay_of(
    store: &dyn Store,
    created: &(i64, Option<f64>),
    family: ProductFamily,
    families: &HashMap<sextant_core::ProductId, ProductFamily>,
    vectors: &[(CustomerId, Vec<f64>)],
    scores: &[f64],
    th: &Thresholds,
) -> Result<(Option<Decay>, Option<String>)> {
    let (created_at, reference_auc) = *created;
    let Some(reference_auc) = reference_auc else {
        return Ok((
            None,
            Some("the model card has no cross-validated AUC".into()),
        ));
    };
    let mut labels = Vec::with_capacity(vectors.len());
    for (id, _) in vectors {
        let accepted = store.list_events(id).await?.iter().any(|e| {
            e.kind == EventKind::Accept
                && e.timestamp.timestamp_micros() > created_at
                && e.product_id.as_ref().and_then(|p| families.get(p)) == Some(&family)
        });
        labels.push(accepted);
    }
    match drift::decay(reference_auc, scores, &labels, th) {
        Ok(d) => Ok((Some(d), None)),
        Err(e) => Ok((None, Some(format!("waiting for labels: {e}")))),
    }
}
