//! Segments, personas and features: the promoted model's personas with their sizes, a
//! customer's segment assigned online, and a customer's features computed online. Profiling
//! consent is required for anything about one customer (403 `consent-required`). Also the
//! segment map (customers projected to 2-D) and a customer's message sentiment over time.

use super::customers::parse_customer_id;
use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use sextant_core::Role;

const STAFF: &[Role] = &[Role::Admin, Role::Analyst, Role::Reviewer, Role::App];

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SegmentList {
    model_version: i64,
    /// Features the model uses (after dropping mostly-missing ones).
    features: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    personas: Vec<sextant_segment::Persona>,
    /// Customers currently assigned to each segment.
    #[schema(value_type = Object)]
    sizes: std::collections::BTreeMap<String, u64>,
}

/// The promoted segment model's personas (staff).
#[utoipa::path(get, path = "/v1/segments", tag = "segments",
    responses((status = 200, body = SegmentList), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn list(
    p: Principal,
    State(state): State<AppState>,
) -> Result<Json<SegmentList>, ApiError> {
    p.require(STAFF, "read segments")?;
    let (version, model) = state.models.promoted(state.store.as_ref()).await?;
    let sizes = state
        .store
        .segment_sizes(version)
        .await?
        .into_iter()
        .collect();
    Ok(Json(SegmentList {
        model_version: version,
        features: model.feature_names.clone(),
        personas: model.personas.clone(),
        sizes,
    }))
}

/// The customer's segment and persona, assigned now from fresh features (staff, or the
/// customer's own key; needs profiling consent).
#[utoipa::path(get, path = "/v1/customers/{id}/segment", tag = "segments", params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn customer(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<sextant_intelligence::CustomerSegment>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require_self_or(&id, STAFF, "read a customer's segment")?;
    Ok(Json(
        sextant_intelligence::assign_online(
            state.store.as_ref(),
            &state.models,
            &id,
            &state.policy(),
        )
        .await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct FeatureView {
    version: u32,
    /// Feature name → value (`null` when not available for this customer).
    #[schema(value_type = Object)]
    features: serde_json::Map<String, serde_json::Value>,
}

/// The customer's features, computed now with the same definition as the batch feature table
/// (analyst, admin; needs profiling consent).
#[utoipa::path(get, path = "/v1/customers/{id}/features", tag = "segments", params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = FeatureView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn features(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<FeatureView>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require(&[Role::Admin, Role::Analyst], "read features")?;
    let v = sextant_intelligence::compute_features(
        state.store.as_ref(),
        &id,
        &state.policy(),
        chrono::Utc::now(),
    )
    .await?;
    let features = v
        .named()
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                v.map(serde_json::Value::from)
                    .unwrap_or(serde_json::Value::Null),
            )
        })
        .collect();
    Ok(Json(FeatureView {
        version: v.version,
        features,
    }))
}

/// Spending insights with the numbers behind them: breakdown, month-over-month changes,
/// recurring payments and price rises, unusual spending, a 30-day cash-flow forecast, a budget and
/// savings opportunities (staff, or the customer's own key; needs personalization consent).
#[utoipa::path(get, path = "/v1/customers/{id}/insights", tag = "segments", params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn insights(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<sextant_insights::Insights>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require_self_or(&id, STAFF, "read a customer's insights")?;
    Ok(Json(
        sextant_intelligence::customer_insights(
            state.store.as_ref(),
            &id,
            &state.policy(),
            chrono::Utc::now(),
        )
        .await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ScoreDecision {
    /// Recorded in the customer's decisions with the model versions behind it, and audited.
    decision_id: String,
    #[schema(value_type = Vec<Object>)]
    scores: Vec<sextant_intelligence::bank_models::Score>,
}

/// The customer's scores from every promoted bank model (churn, credit default): calibrated
/// probability, reason codes and exact SHAP values, recorded as a decision with the model
/// versions used (staff; needs profiling consent).
#[utoipa::path(get, path = "/v1/customers/{id}/scores", tag = "segments", params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = ScoreDecision), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn scores(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ScoreDecision>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require(STAFF, "read a customer's scores")?;
    let scores = sextant_intelligence::bank_models::score(
        state.store.as_ref(),
        &state.bank_models,
        &id,
        &state.policy(),
    )
    .await?;
    let versions: serde_json::Map<String, serde_json::Value> = scores
        .iter()
        .map(|s| (s.model.clone(), serde_json::json!(s.version)))
        .collect();
    let decision = sextant_core::Decision {
        id: sextant_core::DecisionId::generate(),
        customer_id: id.clone(),
        at: chrono::Utc::now(),
        kind: "score".into(),
        versions: serde_json::json!({ "models": versions, "features": sextant_intelligence::feature_version() }),
        payload: serde_json::to_value(&scores).map_err(|e| ApiError::Internal(e.to_string()))?,
        status: "shown".into(),
    };
    // The decision and its audit entry are written together (one transaction), or not at all.
    let audit = sextant_core::AuditRecord {
        actor: p.key_id.clone(),
        action: "decision.score".into(),
        subject: state.pseudonyms.customer(&id),
        details: serde_json::json!({ "decision_id": decision.id.as_str(), "versions": decision.versions }),
    };
    state
        .store
        .record_decisions(std::slice::from_ref(&decision), &[], audit)
        .await?;
    Ok(Json(ScoreDecision {
        decision_id: decision.id.to_string(),
        scores,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct MapQuery {
    /// Customers to draw, 1–10000 (default 2000), in id order.
    limit: Option<String>,
}

/// The segment map (analyst, admin): customers' standardized feature vectors projected onto
/// their first two principal components, each with the segment the promoted model assigns, and
/// the features that weigh most in each axis. Only customers with profiling consent have
/// feature rows, so only they appear.
#[utoipa::path(get, path = "/v1/segments/map", tag = "segments", params(MapQuery),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn map(
    p: Principal,
    State(state): State<AppState>,
    Query(q): Query<MapQuery>,
) -> Result<Json<sextant_intelligence::segment_map::SegmentMap>, ApiError> {
    p.require(&[Role::Admin, Role::Analyst], "read the segment map")?;
    let limit = match q.limit.as_deref() {
        None => 2000,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "limit",
                    format!(
                        "'{}' is not a number between 1 and 10000",
                        sextant_core::text::preview(s)
                    ),
                )
            })?,
    };
    Ok(Json(
        sextant_intelligence::segment_map::segment_map(state.store.as_ref(), &state.models, limit)
            .await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SentimentPoint {
    /// When the message was received (RFC 3339).
    at: String,
    channel: String,
    /// −1 (negative) to 1 (positive).
    sentiment: f64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SentimentSeries {
    /// Scored messages, oldest first (the message text is not included).
    points: Vec<SentimentPoint>,
}

/// The sentiment of a customer's messages over time, without their text (analyst, admin,
/// reviewer; needs profiling consent).
#[utoipa::path(get, path = "/v1/customers/{id}/sentiment", tag = "segments", params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = SentimentSeries), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn sentiment(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SentimentSeries>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require(
        &[Role::Admin, Role::Analyst, Role::Reviewer],
        "read a customer's sentiment",
    )?;
    let consents = state
        .store
        .consent_state(&id, &state.config.consent_defaults)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no customer '{id}'")))?;
    consents.require(sextant_core::ConsentPurpose::Profiling)?;
    let mut points: Vec<SentimentPoint> = state
        .store
        .list_messages(&id)
        .await?
        .into_iter()
        .filter_map(|m| {
            Some(SentimentPoint {
                at: m.timestamp.to_rfc3339(),
                channel: m.channel,
                sentiment: m.sentiment?,
            })
        })
        .collect();
    points.sort_by(|a, b| a.at.cmp(&b.at));
    Ok(Json(SentimentSeries { points }))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
pub(crate) struct AnomalyQuery {
    /// How many of the most recent debits to score, 1–500 (default 50).
    limit: Option<String>,
}

/// Fraud / anomaly scores of the customer's most recent debits, newest first: a combined score
/// in [0, 1] (isolation forest plus the customer's own amount baseline), its two parts, and the
/// reasons in plain words (staff, or the customer's own key; needs profiling consent; 409 until
/// an anomaly model is promoted).
#[utoipa::path(get, path = "/v1/customers/{id}/transactions/anomalies", tag = "segments",
    params(("id" = String, Path, description = "Customer id"), AnomalyQuery),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn anomalies(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<AnomalyQuery>,
) -> Result<Json<sextant_intelligence::anomaly::CustomerAnomalies>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require_self_or(&id, STAFF, "read a customer's transaction anomaly scores")?;
    let limit = super::parse_limit(q.limit.as_deref())?;
    Ok(Json(
        sextant_intelligence::anomaly::score_customer(
            state.store.as_ref(),
            &state.bank_models.anomaly,
            &id,
            &state.policy(),
            limit as usize,
        )
        .await?,
    ))
}
