//! The product catalog and import history.

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use sextant_core::{Product, Role};

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ProductList {
    items: Vec<Product>,
}

/// The bank's product catalog (every role, including customer keys).
#[utoipa::path(get, path = "/v1/products", tag = "products",
    responses((status = 200, body = ProductList), (status = 401, body = crate::error::Problem)))]
pub(crate) async fn list(
    _p: Principal,
    State(state): State<AppState>,
) -> Result<Json<ProductList>, ApiError> {
    Ok(Json(ProductList {
        items: state.store.list_products().await?,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ImportSummary {
    id: String,
    kind: String,
    /// Source file name or `api:<key id>`.
    source: String,
    status: String,
    rows_written: u64,
    rows_new: u64,
    rows_rejected: u64,
    started_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ImportList {
    items: Vec<ImportSummary>,
}

/// The 100 most recent imports (admin, analyst).
#[utoipa::path(get, path = "/v1/imports", tag = "imports",
    responses((status = 200, body = ImportList), (status = 403, body = crate::error::Problem)))]
pub(crate) async fn imports(
    p: Principal,
    State(state): State<AppState>,
) -> Result<Json<ImportList>, ApiError> {
    p.require(&[Role::Admin, Role::Analyst], "read the import history")?;
    let items = state
        .store
        .list_imports(100)
        .await?
        .into_iter()
        .map(|r| ImportSummary {
            started_at: chrono::DateTime::from_timestamp_micros(r.started_at).unwrap_or_default(),
            id: r.id,
            kind: r.kind,
            source: r.source,
            status: r.status,
            rows_written: r.rows_written,
            rows_new: r.rows_new,
            rows_rejected: r.rows_rejected,
        })
        .collect();
    Ok(Json(ImportList { items }))
}
