//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Sextant API", description = "Personal, explainable, consented next best actions for retail banking."),
    paths(
        crate::routes::health::healthz,
        crate::routes::health::readyz,
        crate::routes::customers::list,
        crate::routes::customers::get,
        crate::routes::customers::accounts,
        crate::routes::customers::stats,
        crate::routes::transactions::list,
        crate::routes::transactions::create,
        crate::routes::products::list,
        crate::routes::products::imports,
        crate::routes::privacy::get_consents,
        crate::routes::privacy::put_consents,
        crate::routes::privacy::put_do_not_sell,
        crate::routes::privacy::export,
        crate::routes::privacy::rectify,
        crate::routes::privacy::erase,
        crate::routes::audit::list,
        crate::routes::audit::verify,
        crate::routes::console::me,
        crate::routes::models::list,
        crate::routes::segments::map,
        crate::routes::segments::sentiment,
        crate::routes::reports::spend,
        crate::routes::reports::peers,
        crate::routes::segments::list,
        crate::routes::segments::customer,
        crate::routes::segments::features,
        crate::routes::segments::insights,
        crate::routes::segments::scores,
        crate::routes::segments::anomalies,
        crate::routes::recommend::recommendations,
        crate::routes::recommend::feedback,
        crate::routes::privacy::get_contact_preferences,
        crate::routes::privacy::put_contact_preferences,
        crate::routes::experiments::create,
        crate::routes::experiments::list,
        crate::routes::experiments::get,
        crate::routes::experiments::stop,
        crate::routes::experiments::analysis,
        crate::routes::experiments::kpis,
        crate::routes::experiments::monitor,
        crate::routes::experiments::metrics,
        crate::routes::recommend::arms,
        crate::routes::recommend::list_reviews,
        crate::routes::recommend::get_review,
        crate::routes::recommend::resolve_review,
        crate::routes::stream::submit,
        crate::routes::stream::list_alerts,
        crate::routes::stream::get_alert,
        crate::routes::stream::alert_stream,
        crate::routes::stream::customer_windows,
        crate::routes::stream::status,
        crate::routes::stream::dead_letters,
        crate::routes::assistant::message,
        crate::routes::assistant::conversation,
        crate::routes::assistant::goals,
        crate::routes::assistant::roadmap,
        crate::routes::assistant::kb_list,
        crate::routes::assistant::kb_get,
        crate::routes::assistant::kb_put,
        crate::routes::assistant::kb_delete,
        crate::routes::assistant::kb_search,
    ),
    components(schemas(crate::error::Problem, crate::error::FieldProblem)),
    modifiers(&ApiKeyAuth),
    security(("api_key" = [])),
    tags((name = "customers"), (name = "transactions"), (name = "products"), (name = "imports"), (name = "privacy"), (name = "audit"), (name = "reports"), (name = "segments"), (name = "recommendations"), (name = "reviews"), (name = "stream"), (name = "assistant"), (name = "experiments"), (name = "models"), (name = "health"))
)]
pub struct ApiDoc;

struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sx_<id>_<secret>")
                    .build(),
            ),
        );
    }
}
