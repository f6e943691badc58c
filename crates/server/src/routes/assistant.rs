//! The assistant: customer messages in, grounded answers out; conversations, tracked goals with
//! their roadmap charts, and the knowledge base (read by anyone with a key, edited by admins).

use super::customers::parse_customer_id;
use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sextant_conversation::{Assistant, ConversationError, Reply};
use sextant_core::{AuditRecord, Role};
use std::collections::HashMap;
use std::sync::Arc;

const WRITERS: &[Role] = &[Role::Admin, Role::App];
const READERS: &[Role] = &[Role::Admin, Role::App, Role::Analyst, Role::Reviewer];
/// Who may read a conversation's text (besides its customer): reviewers take hand-offs.
const CONVERSATION_READERS: &[Role] = &[Role::Admin, Role::App, Role::Reviewer];
const ANY: &[Role] = &[
    Role::Admin,
    Role::App,
    Role::Analyst,
    Role::Reviewer,
    Role::Customer,
];

fn assistant(state: &AppState) -> Result<&Arc<Assistant>, ApiError> {
    state.assistant.as_ref().ok_or_else(|| {
        ApiError::Unavailable("the assistant is not enabled in this process ([assistant] enabled = false or no model)".into())
    })
}

impl From<ConversationError> for ApiError {
    fn from(e: ConversationError) -> Self {
        use ConversationError as E;
        match e {
            E::Invalid { field, reason } => ApiError::invalid_field(field, reason),
            E::UnknownCustomer(_)
            | E::UnknownConversation(_)
            | E::UnknownGoal(_)
            | E::UnknownDocument(_) => ApiError::NotFound(e.to_string()),
            // Someone else's conversation is reported exactly like a missing one.
            E::NotYours(id) => ApiError::NotFound(format!("no conversation '{id}'")),
            E::Conflict(_) => ApiError::Conflict(e.to_string()),
            E::Store(s) => s.into(),
            E::Kb(k) => ApiError::BadRequest(k.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MessageBody {
    /// Continue a conversation; omit to start one.
    conversation_id: Option<String>,
    customer_id: String,
    /// app (default), web, chat, email, sms, phone, branch, advisor.
    channel: Option<String>,
    text: String,
}

/// Send a customer's message to the assistant and get its reply (admin, app, or the customer's
/// own key). The reply names its intent, cites knowledge-base passages, lists the facts its text
/// was built from, and reports a hand-off to a human when one was opened.
#[utoipa::path(post, path = "/v1/assistant/messages", tag = "assistant", request_body = MessageBody,
    responses((status = 200, body = Reply), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn message(
    p: Principal,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Reply>, ApiError> {
    let b: MessageBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not a message: {e}")))?;
    let id = parse_customer_id(&b.customer_id)?;
    p.require_self_or(&id, WRITERS, "talk to the assistant for a customer")?;
    let a = assistant(&state)?;
    let reply = a
        .message(sextant_conversation::Incoming {
            conversation_id: b.conversation_id,
            customer_id: id,
            channel: b.channel.unwrap_or_else(|| "app".into()),
            text: b.text,
            actor: p.actor(),
            now: chrono::Utc::now(),
        })
        .await?;
    Ok(Json(reply))
}

/// A conversation's turns, oldest first (its customer, admin, app, reviewer).
#[utoipa::path(get, path = "/v1/assistant/conversations/{id}", tag = "assistant",
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn conversation(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let a = assistant(&state)?;
    let scope = if p.role == Role::Customer {
        Some(
            p.customer
                .clone()
                .ok_or_else(|| ApiError::Forbidden("a customer key without a customer".into()))?,
        )
    } else {
        p.require(CONVERSATION_READERS, "read conversations")?;
        None
    };
    let (c, turns) = a.conversation(&id, scope.as_ref()).await?;
    Ok(Json(serde_json::json!({
        "id": c.id, "customer_id": c.customer_id, "channel": c.channel,
        "handed_off": c.handed_off, "turns": turns,
    })))
}

/// The customer's tracked goals, with progress measured from their transactions.
#[utoipa::path(get, path = "/v1/customers/{id}/goals", tag = "assistant",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn goals(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require_self_or(&id, READERS, "read a customer's goals")?;
    let goals = assistant(&state)?
        .goals(&id, chrono::Utc::now().date_naive())
        .await?;
    Ok(Json(
        serde_json::json!({ "customer_id": id, "goals": goals }),
    ))
}

/// A goal's roadmap chart (SVG): projected savings with a 10–90 % band, the target and milestones.
#[utoipa::path(get, path = "/v1/customers/{id}/goals/{goal_id}/roadmap.svg", tag = "assistant",
    params(("id" = String, Path, description = "Customer id"), ("goal_id" = String, Path, description = "Goal id")),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn roadmap(
    p: Principal,
    State(state): State<AppState>,
    Path((id, goal_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require_self_or(&id, READERS, "read a customer's goals")?;
    let svg = assistant(&state)?.roadmap(&id, &goal_id).await?;
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
        svg,
    )
        .into_response())
}

/// Knowledge-base documents: id, title and passage count.
#[utoipa::path(get, path = "/v1/kb/documents", tag = "assistant",
    responses((status = 200, body = Object)))]
pub(crate) async fn kb_list(
    p: Principal,
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    p.require(ANY, "read the knowledge base")?;
    let docs: Vec<serde_json::Value> = assistant(&state)?
        .kb()
        .documents()
        .into_iter()
        .map(|(id, title, passages)| serde_json::json!({ "id": id, "title": title, "passages": passages }))
        .collect();
    Ok(Json(serde_json::json!({ "documents": docs })))
}

/// One document as Markdown with front matter (`Accept: text/markdown`) or JSON.
#[utoipa::path(get, path = "/v1/kb/documents/{id}", tag = "assistant",
    params(("id" = String, Path, description = "Document id")),
    responses((status = 200, body = Object), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn kb_get(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    p.require(ANY, "read the knowledge base")?;
    let doc = assistant(&state)?
        .kb()
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no knowledge-base document '{id}'")))?;
    let wants_md = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/markdown"));
    if wants_md {
        return Ok((
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            sextant_kb::to_markdown(&doc),
        )
            .into_response());
    }
    Ok(Json(
        serde_json::json!({ "id": doc.id, "title": doc.title, "tags": doc.tags, "body": doc.body }),
    )
    .into_response())
}

/// Add or replace a document (admin). Body: Markdown with front matter (`Content-Type:
/// text/markdown`), or JSON `{"title", "tags", "body"}`. The index follows at once.
#[utoipa::path(put, path = "/v1/kb/documents/{id}", tag = "assistant",
    params(("id" = String, Path, description = "Document id ([a-z0-9-])")),
    request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn kb_put(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    p.require(&[Role::Admin], "edit the knowledge base")?;
    let a = assistant(&state)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("the body is not UTF-8".into()))?;
    let is_md = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/markdown"));
    let doc = if is_md {
        let d = sextant_kb::parse_markdown(text)
            .map_err(|e| ApiError::invalid_field("body", e.to_string()))?;
        if d.id != id {
            return Err(ApiError::invalid_field(
                "id",
                format!("the front matter says '{}' but the URL says '{id}'", d.id),
            ));
        }
        d
    } else {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct J {
            title: String,
            #[serde(default)]
            tags: Vec<String>,
            body: String,
        }
        let j: J = serde_json::from_str(text)
            .map_err(|e| ApiError::BadRequest(format!("the body is not a document: {e}")))?;
        // Round-trip through the Markdown parser so both forms get the same validation.
        let d = sextant_kb::Document {
            id: id.clone(),
            title: j.title,
            tags: j.tags,
            body: j.body,
        };
        sextant_kb::parse_markdown(&sextant_kb::to_markdown(&d))
            .map_err(|e| ApiError::invalid_field("body", e.to_string()))?
    };
    let version = a.kb_put(doc, &p.actor()).await?;
    state
        .store
        .append_audit(AuditRecord {
            actor: p.actor(),
            action: "kb.put".into(),
            subject: id.clone(),
            details: serde_json::json!({ "version": version }),
        })
        .await?;
    Ok(Json(serde_json::json!({ "id": id, "version": version })))
}

/// Delete a document (admin).
#[utoipa::path(delete, path = "/v1/kb/documents/{id}", tag = "assistant",
    params(("id" = String, Path, description = "Document id")),
    responses((status = 204), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn kb_delete(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require(&[Role::Admin], "edit the knowledge base")?;
    if !assistant(&state)?.kb_delete(&id).await? {
        return Err(ApiError::NotFound(format!(
            "no knowledge-base document '{id}'"
        )));
    }
    state
        .store
        .append_audit(AuditRecord {
            actor: p.actor(),
            action: "kb.delete".into(),
            subject: id,
            details: serde_json::json!({}),
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Search the knowledge base (BM25 and embeddings, fused): `?q=…&k=1..10`.
#[utoipa::path(get, path = "/v1/kb/search", tag = "assistant",
    params(("q" = String, Query, description = "The question"), ("k" = Option<usize>, Query, description = "1-10, default 3")),
    responses((status = 200, body = Object), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn kb_search(
    p: Principal,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    p.require(ANY, "search the knowledge base")?;
    let query = q.get("q").map(|s| s.trim()).unwrap_or("");
    if query.is_empty() || query.chars().count() > 500 {
        return Err(ApiError::invalid_field("q", "must be 1 to 500 characters"));
    }
    let k = match q.get("k") {
        None => 3,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|k| (1..=10).contains(k))
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "k",
                    format!(
                        "'{}' is not a number between 1 and 10",
                        sextant_core::text::preview(s)
                    ),
                )
            })?,
    };
    let hits = assistant(&state)?
        .kb()
        .search(query, k)
        .map_err(ConversationError::from)?;
    let hits: Vec<serde_json::Value> = hits
        .into_iter()
        .map(|h| serde_json::json!({
            "doc_id": h.passage.doc_id, "title": h.passage.title, "section": h.passage.section,
            "text": h.passage.text, "score": h.score, "bm25_rank": h.bm25_rank, "vector_rank": h.vector_rank,
        }))
        .collect();
    Ok(Json(serde_json::json!({ "query": query, "hits": hits })))
}
