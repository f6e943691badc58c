//! Transactions: a customer's history (cursor-paginated, newest first) and JSON batch writes
//! with `Idempotency-Key`.

use super::customers::parse_customer_id;
use super::{decode_cursor, encode_cursor, parse_limit};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, FieldProblem};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sextant_core::{AuditRecord, Role, Transaction, TransactionId};
use sextant_ingest::{Row, known_columns, parse_json_record};
use sextant_store::{Batch, IdempotentResponse, RecordKind};
use sha2::{Digest, Sha256};

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct TxQuery {
    /// Page size, 1–500 (default 50).
    limit: Option<String>,
    /// `next_cursor` from the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TransactionPage {
    items: Vec<Transaction>,
    next_cursor: Option<String>,
}

/// A customer's transactions, newest first (staff, or that customer's own key).
#[utoipa::path(get, path = "/v1/customers/{id}/transactions", tag = "transactions",
    params(("id" = String, Path, description = "Customer id"), TxQuery),
    responses((status = 200, body = TransactionPage), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn list(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TxQuery>,
) -> Result<Json<TransactionPage>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require_customer(&id)?;
    let limit = parse_limit(q.limit.as_deref())?;
    let before = match q.cursor.as_deref() {
        Some(c) => {
            let raw = decode_cursor(c)?;
            let bad = || ApiError::invalid_field("cursor", "not a cursor returned by this API");
            let (ts, tx) = raw.split_once(':').ok_or_else(bad)?;
            Some((
                ts.parse::<i64>().map_err(|_| bad())?,
                TransactionId::parse(tx).map_err(|_| bad())?,
            ))
        }
        None => None,
    };
    if before.is_none() && state.store.get_customer(&id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no customer '{id}'")));
    }
    let items = state.store.list_transactions(&id, before, limit).await?;
    let next_cursor = if items.len() == limit as usize {
        items
            .last()
            .map(|t| encode_cursor(&format!("{}:{}", t.timestamp.timestamp_micros(), t.id)))
    } else {
        None
    };
    Ok(Json(TransactionPage { items, next_cursor }))
}

/// Body of `POST /v1/transactions`: rows in the JSON Lines import schema (`docs/data-formats.md`).
#[derive(Deserialize, utoipa::ToSchema)]
#[allow(dead_code)] // documents the wire shape; the handler parses the raw JSON to name bad fields
pub(crate) struct TransactionBatch {
    #[schema(value_type = Vec<Object>)]
    transactions: Vec<serde_json::Value>,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct BatchResult {
    import_id: String,
    /// Rows written (new or replaced with the same id).
    written: u64,
    /// Of those, rows that did not exist before.
    new: u64,
}

const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// Write a batch of transactions, all or nothing (admin, app). Re-sending rows with the same
/// `transaction_id` replaces them; with the same `Idempotency-Key` the first response is replayed.
#[utoipa::path(post, path = "/v1/transactions", tag = "transactions", request_body = TransactionBatch,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for a repeated request")),
    responses((status = 201, body = BatchResult), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn create(
    p: Principal,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    p.require(&[Role::Admin, Role::App], "write transactions")?;
    let idem_key = match headers.get(IDEMPOTENCY_HEADER) {
        Some(v) => {
            let k = v.to_str().ok().filter(|k| {
                (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic())
            });
            Some(
                k.ok_or_else(|| {
                    ApiError::invalid_field(
                        "Idempotency-Key",
                        "must be 1–255 visible ASCII characters",
                    )
                })?
                .to_string(),
            )
        }
        None => None,
    };
    let request_hash = hex::encode(Sha256::digest(&body));
    if let Some(k) = &idem_key
        && let Some(prev) = state.store.idempotency_get(&p.key_id, k).await?
    {
        if prev.request_hash != request_hash {
            return Err(ApiError::invalid_field(
                "Idempotency-Key",
                "already used for a different request body",
            ));
        }
        let mut resp = (
            StatusCode::from_u16(prev.status).unwrap_or(StatusCode::OK),
            prev.body,
        )
            .into_response();
        resp.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        return Ok(resp);
    }

    let result = write_batch(&state, &p, &body).await?;
    let json = serde_json::to_string(&result).map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(k) = &idem_key {
        let stored = IdempotentResponse {
            request_hash,
            status: StatusCode::CREATED.as_u16(),
            body: json.clone(),
            created_at: sextant_store::now_micros(),
        };
        state.store.idempotency_put(&p.key_id, k, &stored).await?;
    }
    let mut resp = (StatusCode::CREATED, json).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

async fn write_batch(
    state: &AppState,
    p: &Principal,
    body: &[u8],
) -> Result<BatchResult, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    let rows = match value {
        serde_json::Value::Object(mut m) => match m.remove("transactions") {
            Some(serde_json::Value::Array(rows)) if m.is_empty() => rows,
            _ => {
                return Err(ApiError::invalid_field(
                    "transactions",
                    "expected {\"transactions\": [ ... ]} and nothing else",
                ));
            }
        },
        _ => {
            return Err(ApiError::invalid_field(
                "transactions",
                "expected {\"transactions\": [ ... ]}",
            ));
        }
    };
    if rows.is_empty() || rows.len() > state.config.max_batch {
        return Err(ApiError::invalid_field(
            "transactions",
            format!(
                "{} rows; a batch has 1 to {} rows",
                rows.len(),
                state.config.max_batch
            ),
        ));
    }
    let known = known_columns(RecordKind::Transactions);
    let mut parsed = Vec::with_capacity(rows.len());
    let mut problems = Vec::new();
    for (i, row) in rows.into_iter().enumerate() {
        match parse_json_record(RecordKind::Transactions, row, i as u64, &known) {
            Ok(Row::Transaction(t)) => parsed.push((i as u64, t)),
            Ok(_) => unreachable!("transactions parse to transactions"),
            Err(e) => problems.push(problem(e.line, e.column.as_deref(), e.reason)),
        }
    }
    if !problems.is_empty() {
        return Err(invalid_rows(problems));
    }
    let mut sink = state
        .store
        .begin_import(RecordKind::Transactions, &format!("api:{}", p.key_id))
        .await?;
    let mut rejects = sink.write(Batch::Transactions(parsed)).await?;
    rejects.extend(sink.finish().await?);
    if !rejects.is_empty() {
        sink.rollback().await?;
        return Err(invalid_rows(
            rejects
                .into_iter()
                .map(|r| problem(r.line, r.column, r.reason))
                .collect(),
        ));
    }
    let rec = sink.commit(0).await?;
    state
        .store
        .append_audit(AuditRecord {
            actor: p.key_id.clone(),
            action: "transactions.write".into(),
            subject: rec.id.clone(),
            details: serde_json::json!({ "written": rec.rows_written, "new": rec.rows_new }),
        })
        .await?;
    Ok(BatchResult {
        import_id: rec.id,
        written: rec.rows_written,
        new: rec.rows_new,
    })
}

fn problem(index: u64, column: Option<&str>, reason: String) -> FieldProblem {
    let field = match column {
        Some(c) => format!("transactions[{index}].{c}"),
        None => format!("transactions[{index}]"),
    };
    FieldProblem { field, reason }
}

fn invalid_rows(mut errors: Vec<FieldProblem>) -> ApiError {
    errors.sort_by(|a, b| a.field.cmp(&b.field));
    ApiError::Invalid {
        detail: format!("{} invalid row(s); nothing was written", errors.len()),
        errors,
    }
}
