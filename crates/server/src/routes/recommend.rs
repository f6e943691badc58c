//! Next best actions: a customer's recommendations (each a recorded, audited decision), feedback
//! that teaches the bandit, per-arm statistics, and the human review queue.

use super::customers::parse_customer_id;
use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use sextant_core::{DecisionId, EventId, EventKind, Role};
use sextant_intelligence::recommend as nba;
use sextant_store::ReviewStatus;
use std::collections::HashMap;

const READERS: &[Role] = &[Role::Admin, Role::App, Role::Analyst, Role::Reviewer];
const REVIEWERS: &[Role] = &[Role::Admin, Role::Reviewer];
const CHANNELS: &[&str] = &["app", "web", "email", "sms", "push", "branch", "advisor"];

/// The customer's next best actions now (staff, or the customer's own key). Needs marketing
/// consent for any offer; every recommendation is a decision with an audit entry. Offers that
/// need a human (high impact, low confidence, credit without automated-decision consent) are held
/// for review instead of shown.
#[utoipa::path(get, path = "/v1/customers/{id}/recommendations", tag = "recommendations",
    params(("id" = String, Path, description = "Customer id"),
           ("channel" = Option<String>, Query, description = "app (default), web, email, sms, push, branch, advisor"),
           ("limit" = Option<u32>, Query, description = "1-10, default 3")),
    responses((status = 200, body = Object), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn recommendations(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require_self_or(&id, READERS, "read a customer's recommendations")?;
    let channel = q.get("channel").map(String::as_str).unwrap_or("app");
    if !CHANNELS.contains(&channel) {
        return Err(ApiError::invalid_field(
            "channel",
            format!(
                "'{}' is not one of {}",
                sextant_core::text::preview(channel),
                CHANNELS.join(", ")
            ),
        ));
    }
    let limit = match q.get("limit") {
        None => 3,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=10).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid_field(
                    "limit",
                    format!(
                        "'{}' is not a number between 1 and 10",
                        sextant_core::text::preview(s)
                    ),
                ));
            }
        },
    };
    let rec = state.recommender().await?;
    let out = nba::recommend(
        state.store.as_ref(),
        &rec,
        &state.models,
        &state.bank_models,
        &id,
        &state.policy(),
        &nba::Ask {
            channel: channel.to_string(),
            limit,
            actor: p.actor(),
            subject: state.pseudonyms.customer(&id),
            now: chrono::Utc::now(),
        },
    )
    .await?;
    let mut v = serde_json::to_value(&out).map_err(|e| ApiError::Internal(e.to_string()))?;
    if p.role == Role::Customer {
        // The customer sees offers, reasons and the explanation; the regulator detail, the
        // guardrail report and the review queue are for staff.
        if let Some(o) = v.as_object_mut() {
            o.remove("blocked");
            o.remove("held_for_review");
            o.remove("audit_seq");
            if let Some(list) = o.get_mut("recommendations").and_then(|r| r.as_array_mut()) {
                for r in list {
                    if let Some(r) = r.as_object_mut() {
                        r.remove("detail");
                        r.remove("context");
                        r.remove("review");
                    }
                }
            }
        }
    }
    Ok(Json(v))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedbackIn {
    /// Your id for this event; repeating it is harmless (idempotent). Generated when absent.
    event_id: Option<String>,
    /// The decision id of the recommendation.
    decision_id: String,
    /// `impression`, `click`, `accept` or `dismiss`.
    kind: String,
    /// When it happened (RFC 3339); now when absent.
    timestamp: Option<String>,
}

/// Feedback on a recommendation (app, admin, or the customer's own key): updates the bandit
/// online, so the next ranking reflects it; a `dismiss` also hides the product for the configured
/// "not interested" period.
#[utoipa::path(post, path = "/v1/feedback", tag = "recommendations", request_body = FeedbackIn,
    responses((status = 200, body = Object), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn feedback(
    p: Principal,
    State(state): State<AppState>,
    body: Result<Json<FeedbackIn>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<nba::FeedbackApplied>, ApiError> {
    let Json(f) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let decision_id = DecisionId::parse(&f.decision_id)
        .map_err(|e| ApiError::invalid_field("decision_id", e.reason))?;
    let kind: EventKind = f
        .kind
        .parse()
        .map_err(|e: sextant_core::FieldError| ApiError::invalid_field("kind", e.reason))?;
    if kind == EventKind::Survey {
        return Err(ApiError::invalid_field(
            "kind",
            "survey is not feedback on a recommendation: use impression, click, accept or dismiss",
        ));
    }
    let event_id = match &f.event_id {
        Some(s) => EventId::parse(s).map_err(|e| ApiError::invalid_field("event_id", e.reason))?,
        None => EventId::parse(&format!("fb-{}", uuid::Uuid::now_v7()))
            .map_err(|e| ApiError::Internal(e.reason))?,
    };
    let at = match &f.timestamp {
        None => chrono::Utc::now(),
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map_err(|_| {
                ApiError::invalid_field(
                    "timestamp",
                    format!(
                        "'{}' is not an RFC 3339 time",
                        sextant_core::text::preview(s)
                    ),
                )
            })?
            .with_timezone(&chrono::Utc),
    };
    let Some(decision) = nba::feedback_decision(state.store.as_ref(), &decision_id).await? else {
        return Err(ApiError::NotFound(format!(
            "no recommendation with decision id '{decision_id}'"
        )));
    };
    p.require_self_or(
        &decision.customer_id,
        &[Role::Admin, Role::App],
        "send feedback",
    )?;
    if decision.status != "shown" {
        return Err(ApiError::Conflict(format!(
            "recommendation '{decision_id}' was not shown to the customer (it is {})",
            decision.status.replace('_', " ")
        )));
    }
    let rec = state.recommender().await?;
    Ok(Json(
        nba::feedback(
            state.store.as_ref(),
            &rec,
            &decision,
            &nba::Feedback {
                event_id,
                decision_id,
                kind,
                at,
            },
        )
        .await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Arms {
    policy: &'static str,
    #[schema(value_type = Vec<Object>)]
    arms: Vec<sextant_recommend::ArmStats>,
}

/// The bandit's per-arm statistics (analyst, admin).
#[utoipa::path(get, path = "/v1/recommendations/arms", tag = "recommendations",
    responses((status = 200, body = Arms), (status = 403, body = crate::error::Problem)))]
pub(crate) async fn arms(
    p: Principal,
    State(state): State<AppState>,
) -> Result<Json<Arms>, ApiError> {
    p.require(&[Role::Admin, Role::Analyst], "read bandit statistics")?;
    let rec = state.recommender().await?;
    Ok(Json(Arms {
        policy: nba::POLICY,
        arms: rec.arm_stats(state.store.as_ref()).await?,
    }))
}

/// Review cases, oldest first (reviewer, admin). `status`: pending (default), approved,
/// modified, rejected, or all.
#[utoipa::path(get, path = "/v1/reviews", tag = "reviews",
    params(("status" = Option<String>, Query, description = "pending (default), approved, modified, rejected, all"),
           ("limit" = Option<u32>, Query, description = "1-500, default 50"),
           ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, body = Object), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub(crate) async fn list_reviews(
    p: Principal,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    p.require(REVIEWERS, "read the review queue")?;
    let status = match q.get("status").map(String::as_str).unwrap_or("pending") {
        "all" => None,
        s => Some(ReviewStatus::parse(s).ok_or_else(|| {
            ApiError::invalid_field(
                "status",
                format!(
                    "'{}' is not one of pending, approved, modified, rejected, all",
                    sextant_core::text::preview(s)
                ),
            )
        })?),
    };
    let limit = super::parse_limit(q.get("limit").map(String::as_str))?;
    let after = match q.get("cursor") {
        None => None,
        Some(c) => {
            let raw = super::decode_cursor(c)?;
            let (at, id) = raw.split_once('|').ok_or_else(|| {
                ApiError::invalid_field("cursor", "not a cursor returned by this API")
            })?;
            Some((
                at.parse::<i64>().map_err(|_| {
                    ApiError::invalid_field("cursor", "not a cursor returned by this API")
                })?,
                id.to_string(),
            ))
        }
    };
    let cases = state.store.list_reviews(status, after, limit).await?;
    let next = (cases.len() == limit as usize)
        .then(|| cases.last())
        .flatten()
        .map(|c| super::encode_cursor(&format!("{}|{}", c.created_at, c.id)));
    Ok(Json(serde_json::json!({
        "reviews": cases.iter().map(case_json).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

fn case_json(c: &sextant_store::ReviewCase) -> serde_json::Value {
    serde_json::json!({
        "id": c.id,
        "decision_id": c.decision_id.as_str(),
        "customer_id": c.customer_id.as_str(),
        "created_at": chrono::DateTime::from_timestamp_micros(c.created_at).map(|t| t.to_rfc3339()),
        "reason": c.reason,
        "status": c.status.as_str(),
        "reviewer": c.reviewer,
        "note": c.note,
        "resolved_at": c.resolved_at.and_then(chrono::DateTime::from_timestamp_micros).map(|t| t.to_rfc3339()),
    })
}

/// One review case with the decision it is about: the recommendation, its reasons, the
/// regulator detail and the versions behind it (reviewer, admin).
#[utoipa::path(get, path = "/v1/reviews/{id}", tag = "reviews", params(("id" = String, Path, description = "Review id")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get_review(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    p.require(REVIEWERS, "read a review case")?;
    let case = state.store.get_review(&id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no review case '{}'",
            sextant_core::text::preview(&id)
        ))
    })?;
    let decision = state.store.get_decision(&case.decision_id).await?;
    let mut v = case_json(&case);
    v["decision"] =
        serde_json::to_value(&decision).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(v))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewIn {
    /// `approve`, `modify` or `reject`.
    outcome: String,
    /// The reviewer's note (stored encrypted; required to reject or modify).
    note: Option<String>,
    /// For `modify`: what the reviewer changed (e.g. `{"credit_amount": 15000}`).
    #[schema(value_type = Option<Object>)]
    changes: Option<serde_json::Value>,
}

/// Resolve a pending case (reviewer, admin): approve (shown on the customer's next request),
/// modify (shown with the reviewer's changes) or reject (never shown; the bandit learns from
/// it). Audited. 409 if the case is no longer pending.
#[utoipa::path(post, path = "/v1/reviews/{id}", tag = "reviews", params(("id" = String, Path, description = "Review id")), request_body = ReviewIn,
    responses((status = 200, body = Object), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn resolve_review(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<ReviewIn>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    p.require(REVIEWERS, "resolve a review case")?;
    let Json(r) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let status = match r.outcome.as_str() {
        "approve" => ReviewStatus::Approved,
        "modify" => ReviewStatus::Modified,
        "reject" => ReviewStatus::Rejected,
        other => {
            return Err(ApiError::invalid_field(
                "outcome",
                format!(
                    "'{}' is not one of approve, modify, reject",
                    sextant_core::text::preview(other)
                ),
            ));
        }
    };
    let note = r.note.filter(|n| !n.trim().is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return Err(ApiError::invalid_field(
            "note",
            "longer than 2000 characters",
        ));
    }
    if status != ReviewStatus::Approved && note.is_none() {
        return Err(ApiError::invalid_field(
            "note",
            "a note is required to modify or reject",
        ));
    }
    if status == ReviewStatus::Modified && !r.changes.as_ref().is_some_and(|c| c.is_object()) {
        return Err(ApiError::invalid_field(
            "changes",
            "modify needs the changes as a JSON object",
        ));
    }
    let case = state.store.get_review(&id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no review case '{}'",
            sextant_core::text::preview(&id)
        ))
    })?;
    let rec = state.recommender().await?;
    match nba::resolve(
        state.store.as_ref(),
        &rec,
        &id,
        &nba::Resolution {
            status,
            reviewer: p.actor(),
            note,
            modified: r.changes,
            subject: state.pseudonyms.customer(&case.customer_id),
        },
    )
    .await?
    {
        Ok((case, entry)) => {
            let mut v = case_json(&case);
            v["audit_seq"] = entry.seq.into();
            // The reviewer sees the entry their decision wrote (subject is the pseudonym).
            v["audit"] =
                serde_json::to_value(&entry).map_err(|e| ApiError::Internal(e.to_string()))?;
            Ok(Json(v))
        }
        Err(current) => Err(ApiError::Conflict(format!(
            "review case '{id}' is already {}",
            current.as_str()
        ))),
    }
}
