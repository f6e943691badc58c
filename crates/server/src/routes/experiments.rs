//! Experiments and outcomes: create / list / stop experiments over recommendations and analyse
//! them, engagement KPIs, model and data drift, and the Prometheus scrape endpoint.

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use sextant_core::Role;
use sextant_intelligence::{experiments, kpis, monitor};
use std::collections::HashMap;

const ANALYSTS: &[Role] = &[Role::Admin, Role::Analyst];
const STAFF: &[Role] = &[Role::Admin, Role::Analyst, Role::Reviewer];

/// Create an experiment (admin, analyst); it runs at once. The body is the experiment spec:
/// `id`, `name`, `kind` (`strategy`, `message`, `channel`), `arms` (`name`, `weight`, `config`
/// — `{"strategy": "engine"|"popularity"|"none"}`, `{"channel": …}`, `{"message": "…{product}…"}`),
/// `holdout` (0–1), `allocation`, `alpha`, `guardrails` (`metric`, `max_increase`), `salt`.
/// Every invalid field is named in the 422.
#[utoipa::path(post, path = "/v1/experiments", tag = "experiments", request_body = Object,
    responses((status = 201, body = Object), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub(crate) async fn create(
    p: Principal,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(axum::http::StatusCode, Json<experiments::Experiment>), ApiError> {
    p.require(ANALYSTS, "create an experiment")?;
    let spec: sextant_experiment::ExperimentSpec = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not an experiment spec: {e}")))?;
    let e = experiments::create(state.store.as_ref(), spec, &p.actor(), chrono::Utc::now()).await?;
    state.recommender().await?.experiments.invalidate();
    Ok((axum::http::StatusCode::CREATED, Json(e)))
}

/// Every experiment, newest first, with exposures per arm (staff).
#[utoipa::path(get, path = "/v1/experiments", tag = "experiments",
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem)))]
pub(crate) async fn list(
    p: Principal,
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    p.require(STAFF, "list experiments")?;
    let items = experiments::list(state.store.as_ref()).await?;
    Ok(Json(serde_json::json!({ "items": items })))
}

/// One experiment (staff).
#[utoipa::path(get, path = "/v1/experiments/{id}", tag = "experiments",
    params(("id" = String, Path, description = "Experiment id")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<experiments::Experiment>, ApiError> {
    p.require(STAFF, "read an experiment")?;
    experiments::get(state.store.as_ref(), &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no experiment '{id}'")))
}

/// Stop an experiment (admin, analyst): its customers get the engine's offers again.
#[utoipa::path(post, path = "/v1/experiments/{id}/stop", tag = "experiments",
    params(("id" = String, Path, description = "Experiment id")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn stop(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<experiments::Experiment>, ApiError> {
    p.require(ANALYSTS, "stop an experiment")?;
    let store = state.store.as_ref();
    if !experiments::stop(store, &id, &p.actor(), chrono::Utc::now()).await? {
        return Err(ApiError::NotFound(format!("no experiment '{id}'")));
    }
    state.recommender().await?.experiments.invalidate();
    experiments::get(store, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no experiment '{id}'")))
}

/// The experiment's analysis now (staff): conversion (an accepted offer after first exposure)
/// and revenue per arm with intervals, two-proportion tests with Holm correction, the
/// always-valid (mSPRT) p-value that may be checked at any time, sample-ratio mismatch and
/// guardrails.
#[utoipa::path(get, path = "/v1/experiments/{id}/analysis", tag = "experiments",
    params(("id" = String, Path, description = "Experiment id")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn analysis(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<experiments::Report>, ApiError> {
    p.require(STAFF, "analyse an experiment")?;
    let rec = state.recommender().await?;
    experiments::analyze(state.store.as_ref(), rec.rules(), &id, chrono::Utc::now())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no experiment '{id}'")))
}

/// Engagement KPIs (staff): engagement score, active share, click-through, acceptance,
/// dismissals, NPS with its interval and lifetime value — `group_by` `overall` (default),
/// `segment` or `arm` (with `experiment`); plus weekly active share and cohort retention.
/// The response carries the formulas.
#[utoipa::path(get, path = "/v1/kpis", tag = "experiments",
    params(("group_by" = Option<String>, Query, description = "overall (default), segment, arm"),
           ("experiment" = Option<String>, Query, description = "Experiment id (required for group_by=arm; restricts to its customers)")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn kpis(
    p: Principal,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<kpis::KpiReport>, ApiError> {
    use sextant_outcomes::kpi::GroupBy;
    p.require(STAFF, "read KPIs")?;
    let group_by = match q.get("group_by").map(String::as_str) {
        None | Some("overall") => GroupBy::Overall,
        Some("segment") => GroupBy::Segment,
        Some("arm") => GroupBy::Arm,
        Some(other) => {
            return Err(ApiError::invalid_field(
                "group_by",
                format!(
                    "'{}' is not one of overall, segment, arm",
                    sextant_core::text::preview(other)
                ),
            ));
        }
    };
    let experiment = q.get("experiment").map(String::as_str);
    if group_by == GroupBy::Arm && experiment.is_none() {
        return Err(ApiError::invalid_field(
            "experiment",
            "required when group_by=arm",
        ));
    }
    if let Some(e) = experiment
        && state.store.outcomes().experiment(e).await?.is_none()
    {
        return Err(ApiError::NotFound(format!("no experiment '{e}'")));
    }
    Ok(Json(
        kpis::report(
            state.store.as_ref(),
            chrono::Utc::now(),
            group_by,
            experiment,
        )
        .await?,
    ))
}

/// Drift of every promoted model against its training distributions (staff): PSI per input
/// feature and for the score, AUC decay once labels have arrived, and alerts over the
/// thresholds (`moderate` 0.1, `major` 0.25, `auc_drop` 0.05).
#[utoipa::path(get, path = "/v1/monitor", tag = "experiments",
    params(("sample" = Option<u32>, Query, description = "Customers compared, 100-20000, default 2000")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem)))]
pub(crate) async fn monitor(
    p: Principal,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<monitor::MonitorReport>, ApiError> {
    p.require(STAFF, "read model monitoring")?;
    let sample = match q.get("sample") {
        None => 2000,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (100..=20_000).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid_field(
                    "sample",
                    "must be a number between 100 and 20000",
                ));
            }
        },
    };
    Ok(Json(
        monitor::report(
            state.store.as_ref(),
            &state.bank_models,
            &Default::default(),
            sample,
            chrono::Utc::now(),
        )
        .await?,
    ))
}

/// Prometheus metrics in OpenMetrics text (admin, analyst; scrape with a bearer key).
#[utoipa::path(get, path = "/metrics", tag = "experiments",
    responses((status = 200, content_type = "application/openmetrics-text", body = String), (status = 401, body = crate::error::Problem)))]
pub(crate) async fn metrics(
    p: Principal,
    State(state): State<AppState>,
) -> Result<impl IntoResponse, ApiError> {
    p.require(ANALYSTS, "scrape metrics")?;
    let body = crate::metrics::render(&state).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    ))
}
