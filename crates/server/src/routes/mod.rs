//! Route table. Each handler: extract and authorise, one call into the store, one response.

pub(crate) mod assistant;
pub(crate) mod audit;
pub(crate) mod console;
pub(crate) mod customers;
pub(crate) mod experiments;
pub(crate) mod health;
pub(crate) mod models;
pub(crate) mod privacy;
pub(crate) mod products;
pub(crate) mod recommend;
pub(crate) mod reports;
pub(crate) mod segments;
pub(crate) mod stream;
pub(crate) mod transactions;
pub(crate) mod ui;

use crate::AppState;
use crate::error::ApiError;
use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};

pub(crate) fn router(state: AppState) -> Router {
    let docs = Router::<AppState>::from(utoipa_swagger_ui::SwaggerUi::new("/docs").url(
        "/openapi.json",
        <crate::ApiDoc as utoipa::OpenApi>::openapi(),
    ))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        console::require_session,
    ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/login", get(console::login_page).post(console::login))
        .route("/logout", post(console::logout))
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(ui::console_page))
        .route("/console/assets/{*path}", get(ui::asset))
        .route("/app", get(|| async { Redirect::permanent("/app/") }))
        .route("/app/", get(ui::app_page))
        .route("/v1/me", get(console::me))
        .route("/v1/stats", get(customers::stats))
        .route("/v1/models", get(models::list))
        .route("/v1/segments/map", get(segments::map))
        .route("/v1/customers/{id}/sentiment", get(segments::sentiment))
        .route("/v1/audit/verify", get(audit::verify))
        .route("/v1/customers", get(customers::list))
        .route(
            "/v1/customers/{id}",
            get(customers::get)
                .patch(privacy::rectify)
                .delete(privacy::erase),
        )
        .route(
            "/v1/customers/{id}/consents",
            get(privacy::get_consents).put(privacy::put_consents),
        )
        .route(
            "/v1/customers/{id}/contact-preferences",
            get(privacy::get_contact_preferences).put(privacy::put_contact_preferences),
        )
        .route(
            "/v1/customers/{id}/do-not-sell",
            axum::routing::put(privacy::put_do_not_sell),
        )
        .route("/v1/customers/{id}/export", get(privacy::export))
        .route("/v1/audit", get(audit::list))
        .route("/v1/reports/spend", get(reports::spend))
        .route("/v1/customers/{id}/peers", get(reports::peers))
        .route("/v1/segments", get(segments::list))
        .route("/v1/customers/{id}/segment", get(segments::customer))
        .route("/v1/customers/{id}/features", get(segments::features))
        .route("/v1/customers/{id}/insights", get(segments::insights))
        .route("/v1/customers/{id}/scores", get(segments::scores))
        .route(
            "/v1/customers/{id}/transactions/anomalies",
            get(segments::anomalies),
        )
        .route(
            "/v1/customers/{id}/recommendations",
            get(recommend::recommendations),
        )
        .route("/v1/feedback", post(recommend::feedback))
        .route("/v1/recommendations/arms", get(recommend::arms))
        .route("/v1/reviews", get(recommend::list_reviews))
        .route(
            "/v1/reviews/{id}",
            get(recommend::get_review).post(recommend::resolve_review),
        )
        .route("/v1/assistant/messages", post(assistant::message))
        .route(
            "/v1/assistant/conversations/{id}",
            get(assistant::conversation),
        )
        .route("/v1/customers/{id}/goals", get(assistant::goals))
        .route(
            "/v1/customers/{id}/goals/{goal_id}/roadmap.svg",
            get(assistant::roadmap),
        )
        .route("/v1/kb/documents", get(assistant::kb_list))
        .route(
            "/v1/kb/documents/{id}",
            get(assistant::kb_get)
                .put(assistant::kb_put)
                .delete(assistant::kb_delete),
        )
        .route("/v1/kb/search", get(assistant::kb_search))
        .route("/v1/events", post(stream::submit))
        .route("/v1/alerts", get(stream::list_alerts))
        .route("/v1/alerts/stream", get(stream::alert_stream))
        .route("/v1/alerts/{id}", get(stream::get_alert))
        .route("/v1/customers/{id}/stream", get(stream::customer_windows))
        .route("/v1/stream/status", get(stream::status))
        .route("/v1/dead-letters", get(stream::dead_letters))
        .route("/v1/customers/{id}/accounts", get(customers::accounts))
        .route("/v1/customers/{id}/transactions", get(transactions::list))
        .route("/v1/transactions", post(transactions::create))
        .route("/v1/products", get(products::list))
        .route(
            "/v1/experiments",
            get(experiments::list).post(experiments::create),
        )
        .route("/v1/experiments/{id}", get(experiments::get))
        .route("/v1/experiments/{id}/stop", post(experiments::stop))
        .route("/v1/experiments/{id}/analysis", get(experiments::analysis))
        .route("/v1/kpis", get(experiments::kpis))
        .route("/v1/monitor", get(experiments::monitor))
        .route("/metrics", get(experiments::metrics))
        .route("/v1/imports", get(products::imports))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .merge(docs)
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .with_state(state)
}

/// Page size: default 50, at most 500.
pub(crate) fn parse_limit(raw: Option<&str>) -> Result<u32, ApiError> {
    match raw {
        None => Ok(50),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=500).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid_field(
                "limit",
                format!(
                    "'{}' is not a page size between 1 and 500",
                    sextant_core::text::preview(s)
                ),
            )),
        },
    }
}

/// Cursors are opaque to clients: hex of the last item's sort key.
pub(crate) fn encode_cursor(s: &str) -> String {
    hex::encode(s.as_bytes())
}

pub(crate) fn decode_cursor(raw: &str) -> Result<String, ApiError> {
    hex::decode(raw)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::invalid_field("cursor", "not a cursor returned by this API"))
}
