//! Prometheus metrics (`GET /metrics`, OpenMetrics text, behind a key like every route but the
//! health checks): request latency histograms by method, route template and status class
//! (recorded by [`track`]), and gauges read at scrape time — event-stream lag and counters,
//! promoted model versions, running experiments, customers. Labels never carry ids or query
//! strings.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabels {
    counter: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The registry and the metrics this process keeps.
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteLabels, Histogram, fn() -> Histogram>,
    stream_lag: Gauge,
    stream_counters: Family<StreamLabels, Gauge>,
    customers_in_memory: Gauge,
    model_version: Family<ModelLabels, Gauge>,
    experiments_running: Gauge,
    customers: Gauge,
    scrapes: Counter<u64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sextant");
        let requests: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method, route template and status class",
            requests.clone(),
        );
        let stream_lag = Gauge::default();
        registry.register(
            "stream_lag_events",
            "Events accepted but not yet processed (embedded stream)",
            stream_lag.clone(),
        );
        let stream_counters = Family::<StreamLabels, Gauge>::default();
        registry.register(
            "stream_events",
            "Event-stream counters of this process since start: accepted, duplicates, rejected, processed, alerts, suppressed_by_consent",
            stream_counters.clone(),
        );
        let customers_in_memory = Gauge::default();
        registry.register(
            "stream_customers_in_memory",
            "Customers whose streaming state this process holds (queue of per-customer state)",
            customers_in_memory.clone(),
        );
        let model_version = Family::<ModelLabels, Gauge>::default();
        registry.register(
            "model_promoted_version",
            "Promoted version of each model (0 when none)",
            model_version.clone(),
        );
        let experiments_running = Gauge::default();
        registry.register(
            "experiments_running",
            "Experiments currently running",
            experiments_running.clone(),
        );
        let customers = Gauge::default();
        registry.register("customers", "Customers in the store", customers.clone());
        let scrapes = Counter::default();
        registry.register(
            "metrics_scrapes",
            "Scrapes of this endpoint",
            scrapes.clone(),
        );
        Self {
            registry,
            requests,
            stream_lag,
            stream_counters,
            customers_in_memory,
            model_version,
            experiments_running,
            customers,
            scrapes,
        }
    }
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.to_string(),
                status: format!("{}xx", status / 100),
            })
            .observe(seconds);
    }
}

/// Middleware: time each routed request under its route template.
pub(crate) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let start = std::time::Instant::now();
    let resp = next.run(req).await;
    state.metrics.observe(
        &method,
        &route,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

/// Read the gauges and encode everything (OpenMetrics text).
pub(crate) async fn render(state: &AppState) -> Result<String, crate::error::ApiError> {
    let m = &state.metrics;
    m.scrapes.inc();
    if let Some(s) = &state.stream {
        let v = s.status();
        m.stream_lag.set(v.lag.unwrap_or(0));
        for (name, n) in [
            ("accepted", v.accepted),
            ("duplicates", v.duplicates),
            ("rejected", v.rejected),
            ("processed", v.processed),
            ("alerts", v.alerts),
            ("suppressed_by_consent", v.suppressed_by_consent),
        ] {
            m.stream_counters
                .get_or_create(&StreamLabels {
                    counter: name.into(),
                })
                .set(n as i64);
        }
        m.customers_in_memory.set(v.customers_in_memory as i64);
    }
    // One cheap lookup per model the server serves (never the registry's model bodies).
    let names = sextant_intelligence::bank_models::Target::ALL
        .iter()
        .map(|t| t.name())
        .chain([sextant_intelligence::anomaly::ANOMALY_MODEL]);
    for name in names {
        let version = state.store.promoted_model_version(name).await?.unwrap_or(0);
        m.model_version
            .get_or_create(&ModelLabels {
                model: name.to_string(),
            })
            .set(version);
    }
    let running = state
        .store
        .outcomes()
        .experiments()
        .await?
        .iter()
        .filter(|e| e.status == "running")
        .count();
    m.experiments_running.set(running as i64);
    m.customers
        .set(state.store.count(sextant_store::Table::Customers).await? as i64);
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &m.registry)
        .map_err(|e| crate::error::ApiError::Internal(e.to_string()))?;
    Ok(out)
}
