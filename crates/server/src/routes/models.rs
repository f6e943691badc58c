//! The model registry as the console shows it: every registered bank model with its card's
//! metrics and the fairness audit stored at training time, and every segment model.

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use sextant_core::Role;

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ModelView {
    name: String,
    version: i64,
    /// When it was registered (RFC 3339).
    created_at: Option<String>,
    promoted: bool,
    rows: Option<u64>,
    positives: Option<u64>,
    features: Vec<String>,
    data_hash: Option<String>,
    /// Cross-validated metrics from the model card, when evaluated.
    #[schema(value_type = Option<Object>)]
    metrics: Option<serde_json::Value>,
    /// The fairness audit run at training time (per protected attribute), when stored.
    #[schema(value_type = Option<Vec<Object>>)]
    fairness: Option<serde_json::Value>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SegmentModelView {
    version: i64,
    created_at: Option<String>,
    promoted: bool,
    trained_on: i64,
    feature_version: i64,
    /// Leaf segments (personas).
    leaves: Option<u64>,
    /// Sampled silhouette of the macro and leaf segmentations.
    silhouette: Option<f64>,
    leaf_silhouette: Option<f64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Registry {
    models: Vec<ModelView>,
    segment_models: Vec<SegmentModelView>,
}

fn time(micros: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_micros(micros).map(|t| t.to_rfc3339())
}

/// The model registry (admin, analyst): bank models with metrics and fairness audit, newest
/// version first per name, and segment models.
#[utoipa::path(get, path = "/v1/models", tag = "models",
    responses((status = 200, body = Registry), (status = 403, body = crate::error::Problem)))]
pub(crate) async fn list(
    p: Principal,
    State(state): State<AppState>,
) -> Result<Json<Registry>, ApiError> {
    p.require(&[Role::Admin, Role::Analyst], "read the model registry")?;
    let mut models: Vec<ModelView> = state
        .store
        .list_models()
        .await?
        .into_iter()
        .map(|m| {
            let card: serde_json::Value = serde_json::from_str(&m.card).unwrap_or_default();
            ModelView {
                name: m.name,
                version: m.version,
                created_at: time(m.created_at),
                promoted: m.promoted,
                rows: card["rows"].as_u64(),
                positives: card["positives"].as_u64(),
                features: card["feature_names"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|f| f.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
                data_hash: card["data_hash"].as_str().map(String::from),
                metrics: card.get("metrics").filter(|v| !v.is_null()).cloned(),
                fairness: card.get("fairness").filter(|v| !v.is_null()).cloned(),
            }
        })
        .collect();
    models.sort_by(|a, b| a.name.cmp(&b.name).then(b.version.cmp(&a.version)));
    let mut segment_models: Vec<SegmentModelView> = state
        .store
        .list_segment_models()
        .await?
        .into_iter()
        .map(|s| {
            let m: serde_json::Value = serde_json::from_str(&s.model).unwrap_or_default();
            SegmentModelView {
                version: s.version,
                created_at: time(s.created_at),
                promoted: s.promoted,
                trained_on: s.trained_on,
                feature_version: s.feature_version,
                leaves: m["personas"].as_array().map(|a| a.len() as u64),
                silhouette: m["silhouette"].as_f64(),
                leaf_silhouette: m["leaf_silhouette"].as_f64(),
            }
        })
        .collect();
    segment_models.sort_by_key(|s| std::cmp::Reverse(s.version));
    Ok(Json(Registry {
        models,
        segment_models,
    }))
}
