//! The audit log for a regulator: entries by time range, with the hash chain to verify them.

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use sextant_core::{AuditEntry, Role};

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct Range {
    /// Start, inclusive (RFC 3339).
    from: Option<String>,
    /// End, exclusive (RFC 3339).
    to: Option<String>,
    /// Entries after this sequence number (for paging).
    after: Option<i64>,
    /// Page size, 1–10000 (default 1000).
    limit: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AuditPage {
    items: Vec<AuditEntry>,
    /// Pass as `after` for the next page.
    next_after: Option<i64>,
}

fn time(field: &str, v: Option<&str>, default: i64) -> Result<i64, ApiError> {
    match v {
        None => Ok(default),
        Some(s) => sextant_core::transaction::parse_timestamp(s)
            .map(|t| t.timestamp_micros())
            .map_err(|e| ApiError::invalid_field(field, e.reason)),
    }
}

/// Audit entries in a time range, in chain order (admin).
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(Range),
    responses((status = 200, body = AuditPage), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn list(
    p: Principal,
    State(state): State<AppState>,
    Query(q): Query<Range>,
) -> Result<Json<AuditPage>, ApiError> {
    p.require(&[Role::Admin], "read the audit log")?;
    let from = time("from", q.from.as_deref(), i64::MIN)?;
    let to = time("to", q.to.as_deref(), i64::MAX)?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "must be between 1 and 10000",
        ));
    }
    let items = state
        .store
        .audit_range(from, to, q.after.unwrap_or(0), limit)
        .await?;
    let next_after = if items.len() == limit as usize {
        items.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(Json(AuditPage { items, next_after }))
}
