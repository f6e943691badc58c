//! The audit log for a regulator: entries by time range (optionally only those about one
//! customer, of one action or by one actor), and a check of the whole hash chain.

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
    /// Only entries about this customer (matched by the customer's pseudonym, which is what the
    /// log records).
    customer_id: Option<String>,
    /// Only actions starting with this (e.g. `decision.` or `review.resolve`).
    action: Option<String>,
    /// Only entries by this actor (a key id — also matching `role:key_id` — `cli`, …).
    actor: Option<String>,
}

/// With a filter, at most this many entries are read for one page; `next_after` continues.
const SCAN_LIMIT: usize = 50_000;

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

/// Audit entries in a time range, in chain order (admin). With `customer_id`, `action` or
/// `actor`, only the matching entries (a page reads at most 50 000 entries; continue with
/// `next_after`).
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
    let subject = match q.customer_id.as_deref() {
        Some(c) => Some(
            state
                .pseudonyms
                .customer(&super::customers::parse_customer_id(c)?),
        ),
        None => None,
    };
    let filtered = subject.is_some() || q.action.is_some() || q.actor.is_some();
    let keep = |e: &AuditEntry| {
        subject.as_ref().is_none_or(|s| &e.subject == s)
            && q.action
                .as_ref()
                .is_none_or(|a| e.action.starts_with(a.as_str()))
            && q.actor.as_ref().is_none_or(|a| {
                // A key id matches whether the entry names it bare or as `role:key_id`.
                e.actor == *a || e.actor.rsplit_once(':').is_some_and(|(_, id)| id == a)
            })
    };
    let page_size = if filtered { limit.max(1000) } else { limit };
    let mut after = q.after.unwrap_or(0);
    let mut items = Vec::new();
    let mut scanned = 0usize;
    let next_after = loop {
        let page = state.store.audit_range(from, to, after, page_size).await?;
        let full = page.len() == page_size as usize;
        scanned += page.len();
        for e in page {
            after = e.seq;
            if keep(&e) {
                items.push(e);
                if items.len() == limit as usize {
                    break;
                }
            }
        }
        if items.len() == limit as usize {
            break Some(after);
        }
        if !full {
            break None;
        }
        if !filtered || scanned >= SCAN_LIMIT {
            break Some(after);
        }
    };
    Ok(Json(AuditPage { items, next_after }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Verification {
    /// True when every entry's hash follows from the previous one and there are no gaps.
    intact: bool,
    /// Entries checked.
    entries: u64,
    /// The first entry that does not verify.
    broken_at: Option<i64>,
    /// Why it does not verify.
    reason: Option<String>,
}

/// Verify the whole audit log's hash chain, as `sextant audit verify` does (admin, analyst).
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses((status = 200, body = Verification), (status = 403, body = crate::error::Problem)))]
pub(crate) async fn verify(
    p: Principal,
    State(state): State<AppState>,
) -> Result<Json<Verification>, ApiError> {
    p.require(&[Role::Admin, Role::Analyst], "verify the audit log")?;
    let check = sextant_store::verify_audit_log(state.store.as_ref()).await?;
    let (broken_at, reason) = match check.broken {
        Some((seq, why)) => (Some(seq), Some(why)),
        None => (None, None),
    };
    Ok(Json(Verification {
        intact: broken_at.is_none(),
        entries: check.entries,
        broken_at,
        reason,
    }))
}
