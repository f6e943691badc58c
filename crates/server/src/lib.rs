//! Sextant's HTTP API: thin axum handlers over the store, API keys with roles, RFC 9457 problem
//! details, an OpenAPI document generated from the code, and a vendored Swagger UI.
//!
//! Architecture invariant: handlers only extract, authorise, call one store or service method
//! and shape the response; every error becomes a problem document in exactly one place
//! ([`error::ApiError`]). Every route except `/healthz`, `/readyz` and the login form needs a key.

pub mod auth;
pub mod config;
pub mod error;
pub mod metrics;
mod openapi;
mod routes;
mod stream_feedback;

pub use stream_feedback::RecommenderFeedback;

pub use auth::{NewKey, Principal, generate_key};
pub use config::ServerConfig;
pub use openapi::ApiDoc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use sextant_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<ServerConfig>,
    pub keys: Arc<auth::KeyCache>,
    /// Turns customer ids into the pseudonyms the audit log records.
    pub pseudonyms: Arc<sextant_core::secrets::Pseudonymizer>,
    /// The promoted segment model, kept in memory.
    pub models: Arc<sextant_intelligence::ModelCache>,
    /// The promoted bank models, kept in memory.
    pub bank_models: Arc<sextant_intelligence::bank_models::BankModelCache>,
    /// The next-best-action rules (TOML text; the demo rules unless configured).
    pub rules: Arc<String>,
    /// The recommender, built on first use from `rules` and the store's catalog.
    recommender: stream_feedback::RecommenderSlot,
    /// The event stream of this process, when it runs one.
    pub stream: Option<sextant_pipeline::Stream>,
    /// The assistant, when enabled (it needs the embedding model).
    pub assistant: Option<Arc<sextant_conversation::Assistant>>,
    /// Prometheus metrics of this process.
    pub metrics: Arc<metrics::Metrics>,
    /// Turns true when the server begins to shut down: endless responses (Server-Sent Events)
    /// end then, so the graceful shutdown does not wait for their clients forever.
    pub(crate) closing: tokio::sync::watch::Receiver<bool>,
}

impl AppState {
    /// What may be derived about customers (the declared consent defaults).
    pub fn policy(&self) -> sextant_intelligence::Policy {
        sextant_intelligence::Policy {
            consent_defaults: self.config.consent_defaults.clone(),
        }
    }
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        config: ServerConfig,
        master: &sextant_core::secrets::MasterKey,
    ) -> Self {
        let keys = Arc::new(auth::KeyCache::new(Duration::from_secs(
            config.key_cache_ttl_secs,
        )));
        Self {
            pseudonyms: Arc::new(master.pseudonymizer()),
            models: Arc::new(sextant_intelligence::ModelCache::default()),
            bank_models: Arc::new(Default::default()),
            rules: Arc::new(sextant_recommend::rules::DEMO_RULES.to_string()),
            recommender: Arc::default(),
            stream: None,
            assistant: None,
            metrics: Arc::default(),
            closing: tokio::sync::watch::channel(false).1,
            store,
            config: Arc::new(config),
            keys,
        }
    }
}

impl AppState {
    /// Resolves when the server begins to shut down (never for a state that is not served).
    pub(crate) fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closing = self.closing.clone();
        async move {
            if closing.wait_for(|c| *c).await.is_err() {
                std::future::pending::<()>().await
            }
        }
    }

    /// Use these next-best-action rules (TOML) instead of the demo rules.
    pub fn with_rules(mut self, rules: String) -> Self {
        self.rules = Arc::new(rules);
        self.recommender = Arc::default();
        self
    }

    /// Start the assistant: embed its intent examples, load (or seed) the knowledge base and
    /// answer "what would you recommend?" through this state's recommendation engine.
    pub async fn with_assistant(
        mut self,
        embedder: Arc<dyn sextant_embed::Embed>,
        cfg: sextant_conversation::AssistantConfig,
    ) -> Result<Self, sextant_conversation::ConversationError> {
        let advisor: Arc<dyn sextant_conversation::Advisor> = Arc::new(ServerAdvisor {
            state: self.clone(),
        });
        let every = Duration::from_secs(cfg.kb_refresh_secs);
        let a = Arc::new(
            sextant_conversation::Assistant::open(
                self.store.clone(),
                embedder,
                cfg,
                self.config.consent_defaults.clone(),
                Some(advisor),
            )
            .await?,
        );
        // Edits made through another server (or `sextant kb`) reach this one's index.
        a.spawn_kb_refresh(every);
        self.assistant = Some(a);
        Ok(self)
    }

    /// Serve the event-stream routes from this stream, whose streamed feedback then updates this
    /// server's recommender (call after `with_rules`, before the stream starts processing).
    pub fn with_stream(mut self, stream: sextant_pipeline::Stream) -> Self {
        stream.set_feedback_sink(Arc::new(RecommenderFeedback::sharing(
            self.store.clone(),
            self.rules.clone(),
            self.recommender.clone(),
        )));
        self.stream = Some(stream);
        self
    }

    /// The recommender, built from the rules and the store's catalog on first use (a 409 with
    /// every rule error when the rules do not fit the catalog).
    pub async fn recommender(
        &self,
    ) -> Result<Arc<sextant_intelligence::recommend::Recommender>, error::ApiError> {
        Ok(
            stream_feedback::recommender_in(&self.recommender, self.store.as_ref(), &self.rules)
                .await?,
        )
    }
}

/// The whole application as one router.
pub fn router(state: AppState) -> Router {
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    let trace = TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
        // Method, route template and request id only: never query strings, bodies or headers.
        let route = req
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "unmatched".into());
        let id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        tracing::info_span!("http", method = %req.method(), route = %route, request_id = %id)
    });
    routes::router(state.clone())
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(state.config.request_timeout_secs),
        ))
        .layer(trace)
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Serve until `shutdown` resolves, then finish in-flight requests and return.
pub async fn serve(
    listener: tokio::net::TcpListener,
    mut state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (closing, rx) = tokio::sync::watch::channel(false);
    state.closing = rx;
    let shutdown = async move {
        shutdown.await;
        let _ = closing.send(true);
    };
    // Load the feature table into memory now rather than on the first score request.
    let warm = state.clone();
    tokio::spawn(async move {
        if let Err(e) = warm.bank_models.features.sync(warm.store.as_ref()).await {
            tracing::warn!(error = %e, "loading the feature table into memory failed; scores will retry");
        }
    });
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The assistant's recommendations come from the same engine, with the same consent checks,
/// guardrails, review hold and audit entry as `GET /v1/customers/{id}/recommendations`.
struct ServerAdvisor {
    /// A copy of the state taken before the assistant was attached (no reference cycle).
    state: AppState,
}

#[async_trait::async_trait]
impl sextant_conversation::Advisor for ServerAdvisor {
    async fn recommend(
        &self,
        customer: &sextant_core::CustomerId,
        channel: &str,
        actor: &str,
    ) -> Result<Vec<sextant_conversation::Offer>, String> {
        let s = &self.state;
        let rec = s.recommender().await.map_err(|e| e.to_string())?;
        // The engine knows the app channels; chat turns are shown in the app.
        let channel = match channel {
            "chat" | "phone" => "app",
            c => c,
        };
        let out = sextant_intelligence::recommend::recommend(
            s.store.as_ref(),
            &rec,
            &s.models,
            &s.bank_models,
            customer,
            &s.policy(),
            &sextant_intelligence::recommend::Ask {
                channel: channel.to_string(),
                limit: 2,
                actor: actor.to_string(),
                subject: s.pseudonyms.customer(customer),
                now: chrono::Utc::now(),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(out
            .recommendations
            .into_iter()
            .map(|r| sextant_conversation::Offer {
                decision_id: r.decision_id.to_string(),
                product_id: r.recommendation.product_id.to_string(),
                product_name: r.recommendation.product_name.clone(),
                explanation: r.recommendation.explanation.clone(),
            })
            .collect())
    }
}
