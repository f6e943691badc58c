//! Customer intelligence as services over any [`Store`]: the feature store (batch refresh and
//! online computation from the one definition in `sextant-features`), segment models (train,
//! promote, assign) and personas from `sextant-segment`, and spending insights from
//! `sextant-insights`.
//!
//! Architecture invariant: profiling consent is checked here, on every path that derives
//! anything about a customer — batch or online, features or segments. A customer without it
//! gets nothing computed, and withdrawing it removes what was derived (`refresh_features`).

pub mod anomaly;
pub mod bank_models;
pub mod experiments;
pub mod kpis;
pub mod monitor;
pub mod recommend;
pub mod segment_map;
pub mod serving;
pub mod unlearn;

use sextant_core::{ConsentPurpose, ConsentRefused, CustomerId};
use sextant_features::{CustomerData, FEATURE_VERSION, FeatureVector};
use sextant_segment::{Assignment, Persona, SegmentConfig, SegmentModel};
use sextant_store::{FeatureRow, SegmentModelRecord, SegmentRow, Store, StoreError};
use sha2::{Digest, Sha256};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Consent(#[from] ConsentRefused),
    #[error("no customer '{0}'")]
    UnknownCustomer(CustomerId),
    #[error("no segment model has been promoted yet: run `sextant segment train --promote`")]
    NoModel,
    #[error(
        "no feature vectors to train on: run `sextant features refresh` (customers need profiling consent)"
    )]
    NoData,
    #[error("segmentation failed: {0}")]
    Segment(String),
    #[error("the product catalog is empty: import products first (`sextant import products FILE`)")]
    NoCatalog,
    #[error("{0}")]
    Rules(String),
    #[error("no review case '{0}'")]
    UnknownReview(String),
    #[error("{0}")]
    Busy(&'static str),
    #[error("stored {what} is unreadable: {reason}")]
    Corrupt { what: &'static str, reason: String },
    /// Input refused: every `(field, reason)`.
    #[error("invalid input: {}", .0.iter().map(|(f, r)| format!("{f}: {r}")).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(String, String)>),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
}

pub type Result<T, E = IntelError> = std::result::Result<T, E>;

/// The version of the feature definitions in this build.
pub fn feature_version() -> u32 {
    FEATURE_VERSION
}

/// Everything that shapes what may be derived: the operator's declared consent defaults.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub consent_defaults: Vec<ConsentPurpose>,
}

/// 403-worthy unless the customer allows profiling; `UnknownCustomer` if there is none.
pub async fn require_profiling(store: &dyn Store, id: &CustomerId, policy: &Policy) -> Result<()> {
    let state = store
        .consent_state(id, &policy.consent_defaults)
        .await?
        .ok_or_else(|| IntelError::UnknownCustomer(id.clone()))?;
    Ok(state.require(ConsentPurpose::Profiling)?)
}

/// Compute one customer's features now, from the store (the online path). Same function as
/// the batch refresh, so the two agree by construction (and a test checks it).
pub async fn compute_features(
    store: &dyn Store,
    id: &CustomerId,
    policy: &Policy,
    as_of: chrono::DateTime<chrono::Utc>,
) -> Result<FeatureVector> {
    require_profiling(store, id, policy).await?;
    load_and_compute(store, id, as_of).await
}

async fn load_and_compute(
    store: &dyn Store,
    id: &CustomerId,
    as_of: chrono::DateTime<chrono::Utc>,
) -> Result<FeatureVector> {
    let customer = store
        .get_customer(id)
        .await?
        .ok_or_else(|| IntelError::UnknownCustomer(id.clone()))?;
    let accounts = store.list_accounts(id).await?;
    let transactions = store.all_transactions(id).await?;
    Ok(sextant_features::compute(&CustomerData {
        customer: &customer,
        accounts: &accounts,
        transactions: &transactions,
        as_of,
    }))
}

fn encode(v: &FeatureVector) -> Result<String> {
    serde_json::to_string(v).map_err(|e| IntelError::Corrupt {
        what: "feature vector",
        reason: e.to_string(),
    })
}

fn decode(row: &FeatureRow) -> Result<FeatureVector> {
    serde_json::from_str(&row.vector).map_err(|e| IntelError::Corrupt {
        what: "feature vector",
        reason: e.to_string(),
    })
}

/// What a batch refresh did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RefreshSummary {
    pub computed: u64,
    /// Customers without profiling consent: nothing computed, anything derived before removed.
    pub without_consent: u64,
}

/// Recompute and persist every consenting customer's features (the batch path), reporting
/// progress as (customers done, customers total).
pub async fn refresh_features(
    store: &dyn Store,
    policy: &Policy,
    as_of: chrono::DateTime<chrono::Utc>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<RefreshSummary> {
    let total = store.count(sextant_store::Table::Customers).await?;
    let mut summary = RefreshSummary::default();
    let mut after: Option<CustomerId> = None;
    let mut done = 0u64;
    loop {
        let page = store.list_customers(after.as_ref(), 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        let mut rows = Vec::with_capacity(page.len());
        for c in &page {
            match require_profiling(store, &c.id, policy).await {
                Ok(()) => {
                    let v = load_and_compute(store, &c.id, as_of).await?;
                    rows.push(FeatureRow {
                        customer_id: c.id.clone(),
                        version: FEATURE_VERSION as i64,
                        computed_at: as_of.timestamp_micros(),
                        vector: encode(&v)?,
                    });
                    summary.computed += 1;
                }
                Err(IntelError::Consent(_)) => {
                    store.delete_profiling(&c.id).await?;
                    summary.without_consent += 1;
                }
                Err(e) => return Err(e),
            }
        }
        store.put_features(&rows).await?;
        done += page.len() as u64;
        progress(done, total);
    }
    Ok(summary)
}

/// Train a segment model on the stored feature table, store it (with the training data's
/// hash), optionally promote it, and assign every customer it was trained on.
pub async fn train_segments(
    store: &dyn Store,
    cfg: &SegmentConfig,
    promote: bool,
) -> Result<(i64, SegmentModel)> {
    let names: Vec<String> = sextant_features::FEATURES
        .iter()
        .map(|f| f.name.to_string())
        .collect();
    let mut ids = Vec::new();
    let mut data = Vec::new();
    let mut after: Option<CustomerId> = None;
    loop {
        let page = store
            .scan_features(FEATURE_VERSION as i64, after.as_ref(), 5000)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.customer_id.clone());
        for row in &page {
            data.extend(decode(row)?.values);
            ids.push(row.customer_id.clone());
        }
    }
    if ids.is_empty() {
        return Err(IntelError::NoData);
    }
    let mut hasher = Sha256::new();
    for (id, chunk) in ids.iter().zip(data.chunks(names.len())) {
        hasher.update(id.as_str().as_bytes());
        for v in chunk {
            hasher.update(v.to_bits().to_le_bytes());
        }
    }
    let data_hash = hex::encode(hasher.finalize());
    let matrix = sextant_segment::Matrix::new(ids.len(), names.len(), data)
        .map_err(|e| IntelError::Segment(e.to_string()))?;
    let cfg = cfg.clone();
    let (model, matrix) = tokio::task::spawn_blocking(move || {
        let m = sextant_segment::train(&matrix, &names, &cfg);
        (m, matrix)
    })
    .await
    .map_err(|e| IntelError::Segment(e.to_string()))?;
    let model = model.map_err(|e| IntelError::Segment(e.to_string()))?;
    let record = SegmentModelRecord {
        version: 0,
        created_at: sextant_store::now_micros(),
        feature_version: FEATURE_VERSION as i64,
        trained_on: ids.len() as i64,
        data_hash,
        model: serde_json::to_string(&model).map_err(|e| IntelError::Segment(e.to_string()))?,
        promoted: false,
    };
    let version = store.save_segment_model(&record).await?;
    if promote {
        store.promote_segment_model(version).await?;
        let now = sextant_store::now_micros();
        let mut rows = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            let row = &matrix.data[i * matrix.cols..(i + 1) * matrix.cols];
            let a = model
                .assign(row)
                .map_err(|e| IntelError::Segment(e.to_string()))?;
            rows.push(SegmentRow {
                customer_id: id.clone(),
                model_version: version,
                segment_id: a.segment_id,
                distance: a.distance,
                assigned_at: now,
            });
            if rows.len() == 5000 {
                store.put_segments(&rows).await?;
                rows.clear();
            }
        }
        store.put_segments(&rows).await?;
    }
    Ok((version, model))
}

/// The promoted model, parsed once per version and kept in memory for online assignment.
/// The promoted segment model, parsed once per version and kept in memory. The registry is
/// asked again at most every [`bank_models::PROMOTION_CHECK`], so a promotion or rollback
/// reaches serving within that time and a hot path costs no registry read in between.
#[derive(Default)]
pub struct ModelCache {
    current: tokio::sync::RwLock<Option<(std::time::Instant, i64, Arc<SegmentModel>)>>,
}

impl ModelCache {
    pub async fn promoted(&self, store: &dyn Store) -> Result<(i64, Arc<SegmentModel>)> {
        if let Some((at, v, m)) = self.current.read().await.as_ref()
            && at.elapsed() < bank_models::PROMOTION_CHECK
        {
            return Ok((*v, m.clone()));
        }
        let record = store
            .segment_model(None)
            .await?
            .ok_or(IntelError::NoModel)?;
        let mut slot = self.current.write().await;
        if let Some((at, v, m)) = slot.as_mut()
            && *v == record.version
        {
            *at = std::time::Instant::now();
            return Ok((*v, m.clone()));
        }
        let model: SegmentModel =
            serde_json::from_str(&record.model).map_err(|e| IntelError::Corrupt {
                what: "segment model",
                reason: e.to_string(),
            })?;
        let model = Arc::new(model);
        *slot = Some((std::time::Instant::now(), record.version, model.clone()));
        Ok((record.version, model))
    }
}

/// Spending insights for one customer, computed now (needs personalization consent: insights
/// are shown to the customer).
pub async fn customer_insights(
    store: &dyn Store,
    id: &CustomerId,
    policy: &Policy,
    as_of: chrono::DateTime<chrono::Utc>,
) -> Result<sextant_insights::Insights> {
    let state = store
        .consent_state(id, &policy.consent_defaults)
        .await?
        .ok_or_else(|| IntelError::UnknownCustomer(id.clone()))?;
    state.require(ConsentPurpose::Personalization)?;
    let customer = store
        .get_customer(id)
        .await?
        .ok_or_else(|| IntelError::UnknownCustomer(id.clone()))?;
    let accounts = store.list_accounts(id).await?;
    let transactions = store.all_transactions(id).await?;
    Ok(sextant_insights::compute(&sextant_insights::InsightInput {
        customer: &customer,
        accounts: &accounts,
        transactions: &transactions,
        as_of,
    }))
}

/// A customer's segment and persona under the promoted model, computed online from fresh
/// features and recorded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CustomerSegment {
    pub model_version: i64,
    pub assignment: Assignment,
    pub persona: Persona,
}

pub async fn assign_online(
    store: &dyn Store,
    cache: &ModelCache,
    id: &CustomerId,
    policy: &Policy,
) -> Result<CustomerSegment> {
    let features = compute_features(store, id, policy, chrono::Utc::now()).await?;
    let (version, model) = cache.promoted(store).await?;
    let assignment = model
        .assign(&features.values)
        .map_err(|e| IntelError::Segment(e.to_string()))?;
    let persona = model
        .personas
        .iter()
        .find(|p| p.segment_id == assignment.segment_id)
        .cloned()
        .ok_or_else(|| IntelError::Corrupt {
            what: "segment model",
            reason: format!("no persona for {}", assignment.segment_id),
        })?;
    let now = sextant_store::now_micros();
    store
        .put_features(&[FeatureRow {
            customer_id: id.clone(),
            version: FEATURE_VERSION as i64,
            computed_at: now,
            vector: encode(&features)?,
        }])
        .await?;
    store
        .put_segments(&[SegmentRow {
            customer_id: id.clone(),
            model_version: version,
            segment_id: assignment.segment_id.clone(),
            distance: assignment.distance,
            assigned_at: now,
        }])
        .await?;
    Ok(CustomerSegment {
        model_version: version,
        assignment,
        persona,
    })
}
