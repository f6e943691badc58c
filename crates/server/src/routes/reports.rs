//! Aggregate reports that leave the bank's analysts, released with ε-differential privacy and
//! charged to the analyst key's privacy budget before anything is computed.

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use sextant_core::{Category, EngagementLevel, RiskProfile, Role, SpendingHabit};
use sextant_privacy::{
    Budget, BudgetError, Clamp, Epsilon, MicroEpsilon, NoiseSource, SpendReport, SpendReportConfig,
    SpendRow, category_spend_report,
};
use sextant_store::SpendGroup;

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct SpendQuery {
    /// `spending_habit` (default), `engagement_level` or `risk_profile`.
    group_by: Option<String>,
    /// Privacy loss to spend on this report (default 1.0).
    epsilon: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SpendResponse {
    #[schema(value_type = Object)]
    report: SpendReport,
    /// ε this key has now spent, and its total budget.
    epsilon_spent_total: f64,
    epsilon_budget: f64,
}

/// Average spend per group and category, ε-differentially private (analyst, admin). Each call
/// is charged to the key's privacy budget; past the budget the request is refused (429).
#[utoipa::path(get, path = "/v1/reports/spend", tag = "reports", params(SpendQuery),
    responses((status = 200, body = SpendResponse), (status = 403, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub(crate) async fn spend(
    p: Principal,
    State(state): State<AppState>,
    Query(q): Query<SpendQuery>,
) -> Result<Json<SpendResponse>, ApiError> {
    p.require(&[Role::Analyst, Role::Admin], "run aggregate reports")?;
    let (group, groups): (SpendGroup, Vec<String>) =
        match q.group_by.as_deref().unwrap_or("spending_habit") {
            "spending_habit" => (
                SpendGroup::SpendingHabit,
                SpendingHabit::ALL.iter().map(|g| g.to_string()).collect(),
            ),
            "engagement_level" => (
                SpendGroup::EngagementLevel,
                EngagementLevel::ALL.iter().map(|g| g.to_string()).collect(),
            ),
            "risk_profile" => (
                SpendGroup::RiskProfile,
                RiskProfile::ALL.iter().map(|g| g.to_string()).collect(),
            ),
            other => {
                return Err(ApiError::invalid_field(
                    "group_by",
                    format!(
                        "'{}' is not one of spending_habit, engagement_level, risk_profile",
                        sextant_core::text::preview(other)
                    ),
                ));
            }
        };
    let eps: Epsilon = q.epsilon.as_deref().unwrap_or("1.0").parse().map_err(
        |e: sextant_privacy::EpsilonError| ApiError::invalid_field("epsilon", e.to_string()),
    )?;
    let budget = Budget::new(state.config.analyst_privacy_budget)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let query = format!("spend by {} and category", group.column());
    let charged = state
        .store
        .privacy_charge(&p.key_id, eps.micros().0, budget.micros().0, &query)
        .await?;
    let total = match charged {
        Ok(total) => total,
        Err(spent) => {
            let e = BudgetError::Exhausted {
                analyst: p.key_id.clone(),
                spent: MicroEpsilon(spent),
                requested: eps.micros(),
                budget: budget.micros(),
            };
            return Err(ApiError::TooMany(e.to_string()));
        }
    };
    let report = compute(&state, group, groups, eps).await?;
    state
        .store
        .append_audit(sextant_core::AuditRecord {
            actor: p.key_id.clone(),
            action: "privacy.release".into(),
            subject: query,
            details: serde_json::json!({ "epsilon": eps.get(), "spent_total": MicroEpsilon(total).to_string() }),
        })
        .await?;
    Ok(Json(SpendResponse {
        report,
        epsilon_spent_total: MicroEpsilon(total).as_epsilon(),
        epsilon_budget: state.config.analyst_privacy_budget,
    }))
}

/// The categories a spend report covers: spending, not income or transfers between own accounts.
fn spend_categories() -> Vec<String> {
    Category::ALL
        .iter()
        .filter(|c| {
            !matches!(
                c,
                Category::Transfer
                    | Category::Savings
                    | Category::LoanRepayment
                    | Category::Salary
                    | Category::OtherIncome
            )
        })
        .map(|c| c.to_string())
        .collect()
}

async fn compute(
    state: &AppState,
    group: SpendGroup,
    groups: Vec<String>,
    eps: Epsilon,
) -> Result<SpendReport, ApiError> {
    let rows = state.store.spend_rows(group).await?;
    let categories = spend_categories();
    let config = SpendReportConfig {
        max_categories_per_customer: categories.len() as u32,
        groups,
        categories,
        // Each customer's spend in a category counts up to EUR 20 000.
        clamp: Clamp::new(0, 2_000_000).map_err(|e| ApiError::Internal(e.to_string()))?,
        min_noisy_count: 10,
    };
    tokio::task::spawn_blocking(move || {
        let spend_rows: Vec<SpendRow<'_>> = rows
            .iter()
            .map(|(customer, group, category, spend)| SpendRow {
                customer,
                group,
                category,
                spend: *spend,
            })
            .collect();
        let mut noise = NoiseSource::os();
        category_spend_report(&spend_rows, &config, eps, &mut noise)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(e.to_string()))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PeerItem {
    category: String,
    /// The customer's own spend over the data held (minor units).
    your_spend_minor: i64,
    /// Mean spend of customers with the same spending habit, differentially private; absent
    /// when the peer group is too small to release.
    peers_mean_minor: Option<f64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PeerComparison {
    /// The peer group: customers with this spending habit.
    peer_group: String,
    /// Calendar month the peer figures were released for (computed once, then reused).
    period: String,
    epsilon: f64,
    items: Vec<PeerItem>,
}

/// Total ε spent on peer figures per calendar month (one release a month, shared by everyone).
const PEER_EPSILON: f64 = 1.0;

/// "People like you spend ...": the customer's spend per category beside a differentially private
/// peer mean. Needs the customer's personalization consent (403 `consent-required` without it).
#[utoipa::path(get, path = "/v1/customers/{id}/peers", tag = "reports", params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = PeerComparison), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn peers(
    p: Principal,
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<PeerComparison>, ApiError> {
    let id = super::customers::parse_customer_id(&id)?;
    p.require_self_or(
        &id,
        &[Role::Admin, Role::App],
        "compare a customer with peers",
    )?;
    let consents = state
        .store
        .consent_state(&id, &state.config.consent_defaults)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no customer '{id}'")))?;
    consents.require(sextant_core::ConsentPurpose::Personalization)?;
    let customer = state
        .store
        .get_customer(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no customer '{id}'")))?;
    let period = chrono::Utc::now().format("%Y-%m").to_string();
    let key = format!("peers:spending_habit:{period}");
    let body = match state.store.dp_release_get(&key).await? {
        Some(b) => b,
        None => {
            let eps = Epsilon::new(PEER_EPSILON).map_err(|e| ApiError::Internal(e.to_string()))?;
            let ledger = format!("customer-facing:peer-comparison:{period}");
            let charged = state
                .store
                .privacy_charge(&ledger, eps.micros().0, eps.micros().0, &key)
                .await?;
            match charged {
                Ok(_) => {
                    let groups = SpendingHabit::ALL.iter().map(|g| g.to_string()).collect();
                    let report = compute(&state, SpendGroup::SpendingHabit, groups, eps).await?;
                    let json = serde_json::to_string(&report)
                        .map_err(|e| ApiError::Internal(e.to_string()))?;
                    state
                        .store
                        .dp_release_put(&key, eps.micros().0, &json)
                        .await?
                }
                // Spent by a concurrent request that is storing the release now.
                Err(_) => state.store.dp_release_get(&key).await?.ok_or_else(|| {
                    ApiError::Unavailable("peer figures are being computed; retry".into())
                })?,
            }
        }
    };
    let report: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| ApiError::Internal(e.to_string()))?;
    let group = customer.spending_habit.to_string();
    let mean = |category: &str| -> Option<f64> {
        report["cells"]
            .as_array()?
            .iter()
            .find(|c| c["group"] == group.as_str() && c["category"] == category)?["mean_spend"]
            .as_f64()
    };
    let items = state
        .store
        .customer_spend(&id)
        .await?
        .into_iter()
        .map(|(category, spend)| PeerItem {
            peers_mean_minor: mean(&category),
            category,
            your_spend_minor: spend,
        })
        .collect();
    Ok(Json(PeerComparison {
        peer_group: group,
        period,
        epsilon: PEER_EPSILON,
        items,
    }))
}
