//! Customers: list with a cursor, get one, their accounts; the bank's row counts.

use super::{decode_cursor, encode_cursor, parse_limit};
use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use sextant_core::{Account, Customer, CustomerId, Role};

/// Roles that may read any customer (customer keys read only their own).
pub(crate) const STAFF: &[Role] = &[Role::Admin, Role::Analyst, Role::Reviewer, Role::App];

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct PageQuery {
    /// Page size, 1–500 (default 50).
    limit: Option<String>,
    /// `next_cursor` from the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CustomerPage {
    items: Vec<Customer>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

pub(crate) fn parse_customer_id(raw: &str) -> Result<CustomerId, ApiError> {
    CustomerId::parse(raw).map_err(|e| ApiError::invalid_field("id", e.reason))
}

/// Customers in id order (staff roles).
#[utoipa::path(get, path = "/v1/customers", tag = "customers", params(PageQuery),
    responses((status = 200, body = CustomerPage), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn list(
    p: Principal,
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Json<CustomerPage>, ApiError> {
    p.require(STAFF, "list customers")?;
    let limit = parse_limit(q.limit.as_deref())?;
    let after =
        match q.cursor.as_deref() {
            Some(c) => Some(CustomerId::parse(&decode_cursor(c)?).map_err(|_| {
                ApiError::invalid_field("cursor", "not a cursor returned by this API")
            })?),
            None => None,
        };
    let items = state.store.list_customers(after.as_ref(), limit).await?;
    let next_cursor = if items.len() == limit as usize {
        items.last().map(|c| encode_cursor(c.id.as_str()))
    } else {
        None
    };
    Ok(Json(CustomerPage { items, next_cursor }))
}

/// One customer's profile (staff, or that customer's own key).
#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers", params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Customer), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Customer>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require_customer(&id)?;
    let c = state
        .store
        .get_customer(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no customer '{id}'")))?;
    Ok(Json(c))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AccountList {
    items: Vec<Account>,
}

/// Accounts, cards and loans a customer holds (staff, or that customer's own key).
#[utoipa::path(get, path = "/v1/customers/{id}/accounts", tag = "customers", params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = AccountList), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn accounts(
    p: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AccountList>, ApiError> {
    let id = parse_customer_id(&id)?;
    p.require_customer(&id)?;
    if state.store.get_customer(&id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no customer '{id}'")));
    }
    Ok(Json(AccountList {
        items: state.store.list_accounts(&id).await?,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Counts {
    customers: u64,
    accounts: u64,
    transactions: u64,
    products: u64,
    audit_entries: u64,
}

/// How much the bank holds: row counts for the console's overview (staff roles).
#[utoipa::path(get, path = "/v1/stats", tag = "customers",
    responses((status = 200, body = Counts), (status = 403, body = crate::error::Problem)))]
pub(crate) async fn stats(
    p: Principal,
    State(state): State<AppState>,
) -> Result<Json<Counts>, ApiError> {
    use sextant_store::Table;
    p.require(STAFF, "read the bank's counts")?;
    let s = state.store.as_ref();
    Ok(Json(Counts {
        customers: s.count(Table::Customers).await?,
        accounts: s.count(Table::Accounts).await?,
        transactions: s.count(Table::Transactions).await?,
        products: s.count(Table::Products).await?,
        audit_entries: s.count(Table::AuditLog).await?,
    }))
}
