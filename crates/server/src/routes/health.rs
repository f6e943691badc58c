//! Liveness and readiness: the only routes without a key.

use crate::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()), responses((status = 200, description = "Alive")))]
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: its database answers.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses((status = 200, description = "Ready"), (status = 503, description = "Database unavailable", body = crate::error::Problem)))]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state
        .store
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(Json(
        json!({ "status": "ready", "backend": state.store.backend().as_str() }),
    ))
}
