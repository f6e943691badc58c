//! Consent and data-subject rights: read and change consents (with full history), the
//! do-not-sell flag, export everything held, rectify, erase. Every change is audited under the
//! customer's pseudonym, never their id or name.

use super::customers::parse_customer_id;
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, FieldProblem};
use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use sextant_core::customer::{parse_age, parse_email, parse_phone};
use sextant_core::{AuditRecord, ConsentPurpose, ConsentRecord, ConsentState, CustomerId, Role};
use sextant_store::dsr::{CustomerExport, export_customer};

/// Staff roles that act for a customer (the bank's apps and admins).
const ACT_FOR: &[Role] = &[Role::Admin, Role::App];
const READ: &[Role] = &[Role::Admin, Role::Analyst, Role::Reviewer, Role::App];

async fn audit(
    state: &AppState,
    p: &Principal,
    action: &str,
    id: &CustomerId,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    state
        .store
        .append_audit(AuditRecord {
            actor: p.key_id.clone(),
            action: action.into(),
            subject: state.pseudonyms.customer(id),
            details,
        })
        .await?;
    Ok(())
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ConsentView {
    current: ConsentState,
    history: Vec<ConsentRecord>,
    /// Purposes the bank treats as granted until the customer objects (`server.consent_defaults`).
    declared_defaults: Vec<ConsentPurpose>,
}

async fn view(state: &AppState, id: &CustomerId) -> Result<ConsentView, ApiError> {
    let current = state
        .store
        .consent_state(id, &state.config.consent_defaults)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no customer '{id}'")))?;
    Ok(ConsentView {
        current,
        history: state.store.consent_history(id).await?,
        declared_defaults: state.config.consent_defaults.clone(),
    })
}

/// A customer's consents now and every change before (staff, or the customer's own key).
#[utoipa::path(get, path = "/v1/customers/{id}/consents", tag = "privacy", params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = ConsentView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get_consents(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ConsentView>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require_self_or(&id, READ, "read consents")?;
    Ok(Json(view(&state, &id).await?))
}

/// Body of `PUT /v1/customers/{id}/consents`: purposes to grant (`true`) or withdraw (`false`).
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ConsentChange {
    /// e.g. `{"marketing": false, "profiling": true}`; purposes: personalization, marketing,
    /// profiling, automated_decisions, data_sharing.
    #[schema(value_type = Object)]
    consents: serde_json::Map<String, serde_json::Value>,
}

/// Opt in or out, purpose by purpose; effective immediately (admin, app, or the customer's own key).
#[utoipa::path(put, path = "/v1/customers/{id}/consents", tag = "privacy", request_body = ConsentChange,
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = ConsentView), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn put_consents(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<ConsentChange>,
) -> Result<Json<ConsentView>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require_self_or(&id, ACT_FOR, "change consents")?;
    let mut changes = Vec::new();
    let mut problems = Vec::new();
    for (k, v) in &body.consents {
        match (k.parse::<ConsentPurpose>(), v.as_bool()) {
            (Ok(purpose), Some(granted)) => changes.push((purpose, granted)),
            (Err(e), _) => problems.push(FieldProblem {
                field: format!("consents.{k}"),
                reason: e.reason,
            }),
            (_, None) => problems.push(FieldProblem {
                field: format!("consents.{k}"),
                reason: "must be true or false".into(),
            }),
        }
    }
    if changes.is_empty() && problems.is_empty() {
        problems.push(FieldProblem {
            field: "consents".into(),
            reason: "name at least one purpose".into(),
        });
    }
    if !problems.is_empty() {
        return Err(ApiError::Invalid {
            detail: format!("{} invalid consent change(s)", problems.len()),
            errors: problems,
        });
    }
    let now = chrono::Utc::now();
    for (purpose, granted) in changes {
        let rec = ConsentRecord {
            customer_id: id.clone(),
            purpose,
            granted,
            at: now,
            source: p.actor(),
        };
        if !state.store.append_consent(&rec).await? {
            return Err(ApiError::NotFound(format!("no customer '{id}'")));
        }
        if purpose == ConsentPurpose::Profiling && !granted {
            // Withdrawing profiling consent removes what was derived from it, at once.
            state.store.delete_profiling(&id).await?;
            state.bank_models.features.evict(&id);
        }
        audit(
            &state,
            &p,
            "consent.change",
            &id,
            serde_json::json!({ "purpose": purpose.as_str(), "granted": granted }),
        )
        .await?;
    }
    Ok(Json(view(&state, &id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct DoNotSell {
    do_not_sell: bool,
}

/// Set or clear the CCPA do-not-sell-or-share flag (admin, app, or the customer's own key).
#[utoipa::path(put, path = "/v1/customers/{id}/do-not-sell", tag = "privacy", request_body = DoNotSell,
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = ConsentView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn put_do_not_sell(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<DoNotSell>,
) -> Result<Json<ConsentView>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require_self_or(&id, ACT_FOR, "change the do-not-sell flag")?;
    if !state.store.set_do_not_sell(&id, body.do_not_sell).await? {
        return Err(ApiError::NotFound(format!("no customer '{id}'")));
    }
    audit(
        &state,
        &p,
        "consent.do_not_sell",
        &id,
        serde_json::json!({ "do_not_sell": body.do_not_sell }),
    )
    .await?;
    Ok(Json(view(&state, &id).await?))
}

/// Everything held about the customer, as JSON (admin, app, or the customer's own key).
#[utoipa::path(get, path = "/v1/customers/{id}/export", tag = "privacy", params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = CustomerExport), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn export(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CustomerExport>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require_self_or(&id, ACT_FOR, "export a customer's data")?;
    let data = export_customer(state.store.as_ref(), &id, &state.config.consent_defaults)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no customer '{id}'")))?;
    audit(
        &state,
        &p,
        "dsr.export",
        &id,
        serde_json::json!({ "transactions": data.transactions.len() }),
    )
    .await?;
    Ok(Json(data))
}

/// Rectify profile fields: any of `name`, `email`, `phone`, `occupation`, `age` (admin, app, or
/// the customer's own key). `null` clears an optional field.
#[utoipa::path(patch, path = "/v1/customers/{id}", tag = "privacy", params(("id" = String, Path, description = "Customer id")),
    request_body(content = Object, description = "Fields to change"),
    responses((status = 200, body = sextant_core::Customer), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn rectify(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<serde_json::Map<String, serde_json::Value>>,
) -> Result<Json<sextant_core::Customer>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require_self_or(&id, ACT_FOR, "rectify a profile")?;
    let mut c = state
        .store
        .get_customer(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no customer '{id}'")))?;
    let mut problems = Vec::new();
    let mut changed = Vec::new();
    for (k, v) in &body {
        let text = v.as_str();
        let res: Result<(), String> = match (k.as_str(), text, v.is_null()) {
            ("name", Some(s), _) => sextant_core::text::required(s, 200)
                .map(|s| c.name = s.into())
                .map_err(|e| e.reason),
            ("email", Some(s), _) => parse_email(s)
                .map(|s| c.email = Some(s))
                .map_err(|e| e.reason),
            ("email", None, true) => {
                c.email = None;
                Ok(())
            }
            ("phone", Some(s), _) => parse_phone(s)
                .map(|s| c.phone = Some(s))
                .map_err(|e| e.reason),
            ("phone", None, true) => {
                c.phone = None;
                Ok(())
            }
            ("occupation", Some(s), _) => sextant_core::text::required(s, 100)
                .map(|s| c.occupation = Some(s.into()))
                .map_err(|e| e.reason),
            ("occupation", None, true) => {
                c.occupation = None;
                Ok(())
            }
            ("age", _, _) => parse_age(&v.to_string())
                .map(|a| c.age = a)
                .map_err(|e| e.reason),
            ("name" | "email" | "phone" | "occupation", _, _) => Err("must be a string".into()),
            _ => Err("unknown or read-only field".into()),
        };
        match res {
            Ok(()) => changed.push(k.clone()),
            Err(reason) => problems.push(FieldProblem {
                field: k.clone(),
                reason,
            }),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Invalid {
            detail: format!("{} invalid field(s); nothing was changed", problems.len()),
            errors: problems,
        });
    }
    if !state.store.update_customer(&c).await? {
        return Err(ApiError::NotFound(format!("no customer '{id}'")));
    }
    audit(
        &state,
        &p,
        "dsr.rectify",
        &id,
        serde_json::json!({ "fields": changed }),
    )
    .await?;
    Ok(Json(c))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Erasure {
    /// Rows deleted per table.
    #[schema(value_type = Object)]
    deleted: std::collections::BTreeMap<String, u64>,
    /// Recommendation decisions whose feedback was subtracted from the bandit (exact unlearning).
    unlearned_decisions: u64,
    /// Bandit-allocated experiment assignments subtracted from their experiment's bandit.
    unlearned_assignments: u64,
    /// Contributions that could not be subtracted (an assignment that showed no offer).
    not_unlearned: u64,
    /// The pseudonym the audit log keeps for this customer.
    tombstone: String,
}

/// Erase the customer and everything derived from them (admin). The audit log keeps a
/// pseudonymous tombstone only.
#[utoipa::path(delete, path = "/v1/customers/{id}", tag = "privacy", params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Erasure), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn erase(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Erasure>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require(&[Role::Admin], "erase a customer")?;
    let erased = sextant_intelligence::unlearn::erase_customer(state.store.as_ref(), &id).await?;
    // NATS mode: the customer's raw events still retained by the JetStream stream go too. This
    // also runs when the store no longer knows the customer, so retrying an erasure whose stream
    // deletion failed finishes it.
    let (mut stream_deleted, mut stream_error) = (None, None);
    if let Some(stream) = &state.stream {
        match stream.erase(&id).await {
            Ok(n) => stream_deleted = n,
            Err(e) => stream_error = Some(e.to_string()),
        }
    }
    if erased.is_none() && stream_deleted.unwrap_or(0) == 0 && stream_error.is_none() {
        return Err(ApiError::NotFound(format!("no customer '{id}'")));
    }
    let erased = erased.unwrap_or_default();
    state.keys.evict_customer(&id);
    state.bank_models.features.evict(&id);
    if let Some(rec) = state.recommender.read().await.as_ref() {
        rec.invalidate();
    }
    let mut deleted = erased.deleted;
    if let Some(n) = stream_deleted {
        deleted.insert("stream_messages".into(), n);
    }
    audit(
        &state,
        &p,
        "dsr.erase",
        &id,
        serde_json::json!({
            "deleted": deleted,
            "unlearned_decisions": erased.unlearned_decisions,
            "unlearned_assignments": erased.unlearned_assignments,
            "not_unlearned": erased.not_unlearned,
            "stream_error": stream_error,
        }),
    )
    .await?;
    if let Some(e) = stream_error {
        return Err(ApiError::Internal(format!(
            "the customer's rows are erased but their events on the stream are not ({e}); retry the erasure"
        )));
    }
    Ok(Json(Erasure {
        deleted,
        unlearned_decisions: erased.unlearned_decisions,
        unlearned_assignments: erased.unlearned_assignments,
        not_unlearned: erased.not_unlearned,
        tombstone: state.pseudonyms.customer(&id),
    }))
}

/// How the customer wants to be contacted (staff, or the customer's own key); defaults when
/// never set.
#[utoipa::path(get, path = "/v1/customers/{id}/contact-preferences", tag = "privacy",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get_contact_preferences(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<sextant_outcomes::ContactPreferences>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require_self_or(&id, READ, "read contact preferences")?;
    if state.store.get_customer(&id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no customer '{id}'")));
    }
    let prefs = match state
        .store
        .outcomes()
        .contact_preferences(id.as_str())
        .await?
    {
        Some(b) => serde_json::from_str(&b).map_err(|e| ApiError::Internal(e.to_string()))?,
        None => Default::default(),
    };
    Ok(Json(prefs))
}

/// Set how the customer wants to be contacted: `preferred` channels in order, `opted_out`
/// channels, `utc_offset_minutes` (their quiet hours are local). Channels: app_push, in_app,
/// email, sms, advisor_call. Effective on the next recommendation (admin, app, or the
/// customer's own key); audited.
#[utoipa::path(put, path = "/v1/customers/{id}/contact-preferences", tag = "privacy", request_body = Object,
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Object), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn put_contact_preferences(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<sextant_outcomes::ContactPreferences>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require_self_or(&id, ACT_FOR, "change contact preferences")?;
    let prefs: sextant_outcomes::ContactPreferences = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not contact preferences: {e}")))?;
    let problems = prefs.validate();
    if !problems.is_empty() {
        return Err(ApiError::Invalid {
            detail: problems
                .iter()
                .map(|(f, r)| format!("{f}: {r}"))
                .collect::<Vec<_>>()
                .join("; "),
            errors: problems
                .into_iter()
                .map(|(field, reason)| FieldProblem { field, reason })
                .collect(),
        });
    }
    if state.store.get_customer(&id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no customer '{id}'")));
    }
    let text = serde_json::to_string(&prefs).map_err(|e| ApiError::Internal(e.to_string()))?;
    state
        .store
        .outcomes()
        .set_contact_preferences(id.as_str(), &text, chrono::Utc::now().timestamp_micros())
        .await?;
    audit(
        &state,
        &p,
        "customer.contact_preferences",
        &id,
        serde_json::to_value(&prefs).unwrap_or_default(),
    )
    .await?;
    Ok(Json(prefs))
}
