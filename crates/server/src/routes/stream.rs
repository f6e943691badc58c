//! The event stream: submit events, read alerts (stored, and live over Server-Sent Events), a
//! customer's live windows, dead letters and the processor's status.

use super::customers::parse_customer_id;
use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Serialize;
use sextant_core::Role;
use sextant_pipeline::{PipelineError, Stream, SubmitReport};
use std::collections::HashMap;
use std::convert::Infallible;

const WRITERS: &[Role] = &[Role::Admin, Role::App];
const STAFF: &[Role] = &[Role::Admin, Role::App, Role::Analyst, Role::Reviewer];
const KINDS: &[&str] = &["fraud", "distress", "opportunity", "info"];

fn stream(state: &AppState) -> Result<&Stream, ApiError> {
    state.stream.as_ref().ok_or_else(|| {
        ApiError::Unavailable("the event stream is not running in this process".into())
    })
}

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Store(s) => s.into(),
            PipelineError::Backpressure { .. } => ApiError::Unavailable(e.to_string()),
            PipelineError::TooMany(m) => ApiError::invalid_field("events", m),
            PipelineError::Bus(b) => ApiError::Unavailable(b.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// Submit events (admin, app): `{"events": [ ... ]}` (or a bare array), each an envelope
/// `{"event_id", "type", "customer_id", "timestamp", ...}` as in docs/events.md. Answers 202 once
/// every accepted event is durable; duplicates (an event id seen before) are counted, not
/// re-applied; malformed events are listed with the field and reason and kept in the dead-letter
/// table. 503 with Retry-After when the processor is too far behind (back-pressure).
#[utoipa::path(post, path = "/v1/events", tag = "stream", request_body = Object,
    responses((status = 202, body = SubmitReport), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 503, body = crate::error::Problem)))]
pub(crate) async fn submit(
    p: Principal,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    p.require(WRITERS, "submit events")?;
    let s = stream(&state)?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    let events = match value {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(mut m) => match m.remove("events") {
            Some(serde_json::Value::Array(a)) if m.is_empty() => a,
            _ => {
                return Err(ApiError::invalid_field(
                    "events",
                    "expected {\"events\": [ ... ]} and nothing else",
                ));
            }
        },
        _ => {
            return Err(ApiError::invalid_field(
                "events",
                "expected {\"events\": [ ... ]} or an array",
            ));
        }
    };
    if events.is_empty() {
        return Err(ApiError::invalid_field("events", "the batch is empty"));
    }
    let report = s.submit(&events, "api").await?;
    Ok((StatusCode::ACCEPTED, Json(report)).into_response())
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AlertPage {
    #[schema(value_type = Vec<Object>)]
    alerts: Vec<serde_json::Value>,
    /// Pass as `cursor` for the next (older) page.
    next_cursor: Option<String>,
}

/// Stored alerts, newest first (staff; a customer key sees its own). Filters: `customer_id`,
/// `kind` (fraud, distress, opportunity, info); keyset pagination with `cursor`.
#[utoipa::path(get, path = "/v1/alerts", tag = "stream",
    params(("customer_id" = Option<String>, Query, description = "Only this customer's alerts"),
           ("kind" = Option<String>, Query, description = "fraud, distress, opportunity or info"),
           ("cursor" = Option<String>, Query, description = "From the previous page"),
           ("limit" = Option<u32>, Query, description = "1-500, default 50")),
    responses((status = 200, body = AlertPage), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn list_alerts(
    p: Principal,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<AlertPage>, ApiError> {
    let customer = scope(&p, q.get("customer_id"))?;
    let kind = match q.get("kind") {
        None => None,
        Some(k) if KINDS.contains(&k.as_str()) => Some(k.as_str()),
        Some(k) => {
            return Err(ApiError::invalid_field(
                "kind",
                format!(
                    "'{}' is not one of {}",
                    sextant_core::text::preview(k),
                    KINDS.join(", ")
                ),
            ));
        }
    };
    let limit = super::parse_limit(q.get("limit").map(String::as_str))?;
    let before = match q.get("cursor") {
        None => None,
        Some(c) => Some(parse_cursor(c)?),
    };
    let rows = state
        .store
        .stream()
        .list_alerts(customer.as_deref(), kind, before, limit)
        .await?;
    let next_cursor = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|r| format!("{}.{}", r.at_micros, r.id)))
        .flatten();
    let alerts = rows.iter().map(|r| alert_json(&p, &r.body)).collect();
    Ok(Json(AlertPage {
        alerts,
        next_cursor,
    }))
}

/// One stored alert (staff, or the customer's own key).
#[utoipa::path(get, path = "/v1/alerts/{id}", tag = "stream",
    params(("id" = String, Path, description = "Alert id")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get_alert(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let row = state
        .store
        .stream()
        .get_alert(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such alert".into()))?;
    let cid = parse_customer_id(&row.customer_id)?;
    p.require_self_or(&cid, STAFF, "read alerts")?;
    Ok(Json(alert_json(&p, &row.body)))
}

/// Live alerts as Server-Sent Events (`event: alert`, `id:` the alert id), as soon as each is
/// committed (staff; a customer key gets only its own). `customer_id` and `kind` filter.
#[utoipa::path(get, path = "/v1/alerts/stream", tag = "stream",
    params(("customer_id" = Option<String>, Query, description = "Only this customer's alerts"),
           ("kind" = Option<String>, Query, description = "fraud, distress, opportunity or info")),
    responses((status = 200, description = "text/event-stream of alerts"), (status = 403, body = crate::error::Problem)))]
pub(crate) async fn alert_stream(
    p: Principal,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let customer = scope(&p, q.get("customer_id"))?;
    let kind = q.get("kind").cloned();
    let rx = stream(&state)?.subscribe();
    let strip = p.role == Role::Customer;
    let events = futures_util::stream::unfold(rx, move |mut rx| {
        let customer = customer.clone();
        let kind = kind.clone();
        async move {
            loop {
                match rx.recv().await {
                    Ok(a) => {
                        if customer
                            .as_deref()
                            .is_some_and(|c| c != a.customer_id.as_str())
                        {
                            continue;
                        }
                        let mut v = serde_json::to_value(&*a).unwrap_or_default();
                        if kind.as_deref().is_some_and(|k| v["kind"] != k) {
                            continue;
                        }
                        if strip {
                            strip_internal(&mut v);
                        }
                        let ev = Event::default()
                            .event("alert")
                            .id(a.id.clone())
                            .data(v.to_string());
                        return Some((Ok::<_, Infallible>(ev), rx));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        let ev = Event::default()
                            .event("lagged")
                            .data(format!("{{\"missed\":{n}}}"));
                        return Some((Ok(ev), rx));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    })
    // The server is shutting down: end the stream (the client reconnects).
    .take_until(state.closed());
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The customer's live streaming windows (1 h, 24 h, 7 d, 30 d) and baselines, as this process
/// holds them (staff, or the customer's own key). They are a profile of the customer: shown only
/// with profiling consent (the engine still uses them to protect the account from fraud).
#[utoipa::path(get, path = "/v1/customers/{id}/stream", tag = "stream",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem, description = "Not this key's customer, or no profiling consent"), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn customer_windows(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require_self_or(&id, STAFF, "read streaming windows")?;
    let consents = state
        .store
        .consent_state(&id, &state.config.consent_defaults)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such customer".into()))?;
    consents.require(sextant_core::ConsentPurpose::Profiling)?;
    let view = stream(&state)?
        .customer_view(&id)
        .ok_or_else(|| ApiError::NotFound("no streaming state for this customer here".into()))?;
    Ok(Json(
        serde_json::to_value(view).map_err(|e| ApiError::Internal(e.to_string()))?,
    ))
}

/// The processor's counters, offsets and lag (staff).
#[utoipa::path(get, path = "/v1/stream/status", tag = "stream",
    responses((status = 200, body = sextant_pipeline::StatusView), (status = 403, body = crate::error::Problem)))]
pub(crate) async fn status(
    p: Principal,
    State(state): State<AppState>,
) -> Result<Json<sextant_pipeline::StatusView>, ApiError> {
    p.require(STAFF, "read the stream status")?;
    Ok(Json(stream(&state)?.status()))
}

/// Malformed events with the reason they were refused (admin), oldest first after `after`.
#[utoipa::path(get, path = "/v1/dead-letters", tag = "stream",
    params(("after" = Option<i64>, Query, description = "Last id of the previous page"),
           ("limit" = Option<u32>, Query, description = "1-500, default 50")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem)))]
pub(crate) async fn dead_letters(
    p: Principal,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    p.require(&[Role::Admin], "read dead letters")?;
    let after = match q.get("after") {
        None => 0,
        Some(a) => a
            .parse::<i64>()
            .map_err(|_| ApiError::invalid_field("after", "not an integer"))?,
    };
    let limit = super::parse_limit(q.get("limit").map(String::as_str))?;
    let rows = state.store.stream().list_dead_letters(after, limit).await?;
    let items: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|(id, d)| {
            serde_json::json!({
                "id": id, "source": d.source, "position": d.position, "customer_id": d.customer_id,
                "received_at": chrono::DateTime::from_timestamp_micros(d.received_micros),
                "reason": d.reason, "payload": d.payload,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "dead_letters": items })))
}

/// The customer filter a key may use: a customer key is pinned to its own customer.
fn scope(p: &Principal, asked: Option<&String>) -> Result<Option<String>, ApiError> {
    if p.role == Role::Customer {
        let own = p
            .customer
            .as_ref()
            .ok_or_else(|| ApiError::Forbidden("this key has no customer".into()))?;
        if let Some(a) = asked
            && a != own.as_str()
        {
            return Err(ApiError::Forbidden(
                "this key may only read its own customer".into(),
            ));
        }
        return Ok(Some(own.as_str().to_string()));
    }
    p.require(STAFF, "read alerts")?;
    match asked {
        None => Ok(None),
        Some(a) => Ok(Some(parse_customer_id(a)?.as_str().to_string())),
    }
}

fn parse_cursor(c: &str) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::invalid_field("cursor", "not a cursor from a previous page");
    let (at, id) = c.split_once('.').ok_or_else(bad)?;
    Ok((at.parse().map_err(|_| bad())?, id.to_string()))
}

fn alert_json(p: &Principal, body: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    if p.role == Role::Customer {
        strip_internal(&mut v);
    }
    v
}

/// What a customer's own key does not see: the bank's internal figures and event ids.
fn strip_internal(v: &mut serde_json::Value) {
    if let Some(m) = v.as_object_mut() {
        m.remove("events");
        m.remove("hold_for_review");
    }
}
