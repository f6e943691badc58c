//! The event stream in the binary: building it from `[stream]`, running it inside `serve` or as
//! a lone NATS `worker`, `sextant replay` (the synthetic bank as a live stream through the API),
//! and `sextant stream check-rules`.

use crate::config::Config;
use anyhow::{Context, bail};
use sextant_bus::{Bus, BusConfig};
use sextant_pipeline::{Stream, StreamConfig};
use sextant_store::Store;
use sextant_stream::RuleSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(clap::Subcommand)]
pub enum StreamCommand {
    /// Validate a complex-event rules file (default: the configured one, else the demo rules).
    CheckRules { file: Option<std::path::PathBuf> },
}

/// The complex-event rules: the configured file, else the demo rules built into the binary.
pub(crate) fn rules(cfg: &Config, file: Option<&std::path::Path>) -> anyhow::Result<Arc<RuleSet>> {
    let (name, text) = match file
        .map(|p| p.to_path_buf())
        .or_else(|| cfg.stream.rules_file.as_ref().map(std::path::PathBuf::from))
    {
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?,
        ),
        None => (
            "the demo rules".to_string(),
            sextant_stream::DEMO_RULES.to_string(),
        ),
    };
    match RuleSet::from_toml(&text) {
        Ok(r) => Ok(Arc::new(r)),
        Err(errors) => {
            let list: Vec<String> = errors.iter().map(|e| format!("  - {e}")).collect();
            bail!(
                "{name}: {} error(s) in the stream rules:\n{}",
                errors.len(),
                list.join("\n")
            )
        }
    }
}

pub(crate) fn stream_config(cfg: &Config) -> StreamConfig {
    let s = &cfg.stream;
    StreamConfig {
        batch: s.batch,
        checkpoint_every: Duration::from_secs(s.checkpoint_secs),
        max_lag: s.max_lag,
        max_batch: cfg.server.max_batch.max(1),
        webhooks: s.webhooks.clone(),
        consent_defaults: cfg.server.consent_defaults.clone(),
        partitions: s.partitions,
        ledger: s.ledger,
        rules_version: match &s.rules_file {
            Some(f) => format!("file:{f}"),
            None => "demo".into(),
        },
        ..StreamConfig::default()
    }
}

/// Build the stream of this process: embedded, or NATS when `stream.nats_url` is set.
pub(crate) async fn build(cfg: &Config, store: Arc<dyn Store>) -> anyhow::Result<Stream> {
    let rules = rules(cfg, None)?;
    let bus = match &cfg.stream.nats_url {
        None => None,
        Some(url) => Some(Arc::new(
            Bus::connect(BusConfig {
                url: url.clone(),
                stream: cfg.stream.nats_stream.clone(),
                subject_prefix: cfg.stream.nats_subject_prefix.clone(),
                partitions: cfg.stream.partitions,
                ..BusConfig::default()
            })
            .await
            .context("connecting to NATS JetStream")?,
        )),
    };
    Ok(Stream::new(store, rules, stream_config(cfg), bus))
}

/// The background tasks of a running stream.
pub(crate) struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Start processing (embedded processor, or a NATS worker when `worker` is true) and webhooks.
    pub(crate) fn start(stream: &Stream, worker: bool) -> Running {
        let (stop, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let run = match stream.mode() {
            "nats" if worker => Some(stream.spawn_worker(worker_id(), rx.clone())),
            "nats" => None,
            _ => Some(stream.spawn_processor(rx.clone())),
        };
        if let Some(h) = run {
            tasks.push(tokio::spawn(async move {
                match h.await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "event processing stopped"),
                    Err(e) => tracing::error!(error = %e, "event processing panicked"),
                }
            }));
        }
        tasks.push(stream.spawn_announcements(rx.clone()));
        tasks.push(stream.spawn_webhooks(rx));
        Running { stop, tasks }
    }

    /// Stop: the processors finish their batch and checkpoint.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// `SEXTANT_WORKER_NAME`, else `<hostname>-<pid>`.
fn worker_id() -> String {
    if let Ok(n) = std::env::var("SEXTANT_WORKER_NAME")
        && !n.trim().is_empty()
    {
        return n.trim().to_string();
    }
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    format!("{host}-{}", std::process::id())
}

/// `sextant worker`: a NATS JetStream worker without the HTTP API, until SIGINT/SIGTERM.
pub(crate) async fn worker(cfg: &Config) -> anyhow::Result<()> {
    if cfg.stream.nats_url.is_none() {
        bail!(
            "sextant worker needs stream.nats_url (NATS mode); the embedded stream runs inside `sextant serve`"
        );
    }
    let store = crate::open(cfg).await?;
    let rules = crate::recommend::rules_text(cfg, None)?;
    let stream = build(cfg, store.clone()).await?;
    stream.set_feedback_sink(Arc::new(sextant_server::RecommenderFeedback::new(
        store, rules,
    )));
    let running = Running::start(&stream, true);
    println!("stream worker running (NATS mode); stop with Ctrl-C");
    crate::shutdown_signal().await;
    running.stop().await;
    Ok(())
}

pub(crate) async fn run(cfg: &Config, cmd: StreamCommand) -> anyhow::Result<()> {
    match cmd {
        StreamCommand::CheckRules { file } => {
            let r = rules(cfg, file.as_deref())?;
            println!("stream rules OK: {} rules", r.len());
            Ok(())
        }
    }
}

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// The Sextant server to send the events to.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub(crate) url: String,
    /// An admin or app API key (or SEXTANT_API_KEY).
    #[arg(long, env = "SEXTANT_API_KEY", hide_env_values = true)]
    pub(crate) key: String,
    /// Event-time speed-up: 86400 plays a day of history per second; 0 sends as fast as the
    /// server accepts.
    #[arg(long, default_value_t = 86400.0)]
    pub(crate) speed: f64,
    /// Replay transactions at or after this instant (RFC 3339). Default: 90 days before the last.
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Only the first N customers (by id).
    #[arg(long)]
    pub(crate) customers: Option<usize>,
    /// Events per request.
    #[arg(long, default_value_t = 1000)]
    pub(crate) batch: usize,
    /// Do not print alerts as they are raised.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Print only alerts of these kinds (fraud, distress, opportunity, info); default all.
    #[arg(long, value_delimiter = ',')]
    pub(crate) kinds: Vec<String>,
}

/// `sextant replay`: the transactions of the configured database, in event-time order, sent to
/// a running server's `POST /v1/events` at `speed` × real time, printing alerts as they come
/// back over `/v1/alerts/stream`. Events are ids `tx-<transaction id>`, so replaying twice only
/// counts duplicates.
pub(crate) async fn replay(cfg: &Config, a: &ReplayArgs) -> anyhow::Result<()> {
    for k in &a.kinds {
        if !["fraud", "distress", "opportunity", "info"].contains(&k.as_str()) {
            bail!("--kinds: '{k}' is not one of fraud, distress, opportunity, info");
        }
    }
    if a.speed < 0.0 || !a.speed.is_finite() {
        bail!("--speed: must be 0 (as fast as possible) or a positive number");
    }
    if !(1..=10_000).contains(&a.batch) {
        bail!("--batch: must be between 1 and 10000");
    }
    let store = crate::open(cfg).await?;
    // Every customer's transactions, in time order.
    let mut txs = Vec::new();
    let mut after = None;
    let mut seen = 0usize;
    'outer: loop {
        let page = store.list_customers(after.as_ref(), 1000).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for c in &page {
            if a.customers.is_some_and(|n| seen >= n) {
                break 'outer;
            }
            seen += 1;
            txs.extend(store.all_transactions(&c.id).await?);
        }
    }
    if txs.is_empty() {
        bail!("no transactions in the database to replay (import a bank first)");
    }
    txs.sort_by(|x, y| (x.timestamp, x.id.as_str()).cmp(&(y.timestamp, y.id.as_str())));
    let last = txs.last().expect("non-empty").timestamp;
    let since = match &a.since {
        Some(s) => sextant_core::transaction::parse_timestamp(s)
            .map_err(|e| anyhow::anyhow!("--since: {e}"))?,
        None => last - chrono::Duration::days(90),
    };
    txs.retain(|t| t.timestamp >= since);
    let total = txs.len();
    println!(
        "replaying {total} transactions of {seen} customers from {} at {}× to {}",
        since.to_rfc3339(),
        a.speed,
        a.url
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let alerts = if a.quiet {
        None
    } else {
        Some(tokio::spawn(follow_alerts(
            client.clone(),
            a.url.clone(),
            a.key.clone(),
            a.kinds.clone(),
        )))
    };
    let t0 = txs[0].timestamp;
    let start = Instant::now();
    let mut sent = 0usize;
    let mut accepted = 0u64;
    let mut duplicates = 0u64;
    let mut rejected = 0u64;
    let mut last_report = Instant::now();
    let mut i = 0;
    while i < txs.len() {
        // Everything due by now (at `speed`), at most `batch`.
        if a.speed > 0.0 {
            let due = (txs[i].timestamp - t0).num_milliseconds() as f64 / a.speed;
            let wait = due - start.elapsed().as_millis() as f64;
            if wait > 0.0 {
                tokio::time::sleep(Duration::from_millis(wait.min(1000.0) as u64)).await;
                continue;
            }
        }
        let mut j = i;
        let now_ms = start.elapsed().as_millis() as f64;
        while j < txs.len()
            && j - i < a.batch
            && (a.speed == 0.0
                || (txs[j].timestamp - t0).num_milliseconds() as f64 / a.speed <= now_ms)
        {
            j += 1;
        }
        let events: Vec<serde_json::Value> = txs[i..j].iter().map(tx_event).collect();
        let body = serde_json::json!({ "events": events });
        loop {
            let resp = client
                .post(format!("{}/v1/events", a.url))
                .bearer_auth(&a.key)
                .json(&body)
                .send()
                .await
                .with_context(|| format!("sending events to {}", a.url))?;
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            if status.as_u16() == 503 {
                // Back-pressure: the processor is behind. Wait and send the same batch again.
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            if !status.is_success() {
                bail!("the server refused the events ({status}): {text}");
            }
            let r: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            accepted += r["accepted"].as_u64().unwrap_or(0);
            duplicates += r["duplicates"].as_u64().unwrap_or(0);
            let rej = r["rejected"].as_array().map(Vec::len).unwrap_or(0);
            rejected += rej as u64;
            if rej > 0 {
                eprintln!("rejected: {}", r["rejected"]);
            }
            break;
        }
        sent += j - i;
        i = j;
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            println!(
                "… {sent}/{total} events sent, event time {}, {:.0} events/s",
                txs[i - 1].timestamp.format("%Y-%m-%d %H:%M"),
                sent as f64 / start.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "done: {sent} events in {:.1} s ({accepted} accepted, {duplicates} duplicates, {rejected} rejected)",
        start.elapsed().as_secs_f64()
    );
    if let Some(h) = alerts {
        // Give the last alerts a moment to arrive.
        tokio::time::sleep(Duration::from_secs(2)).await;
        h.abort();
    }
    Ok(())
}

fn tx_event(t: &sextant_core::Transaction) -> serde_json::Value {
    serde_json::json!({
        "event_id": format!("tx-{}", t.id),
        "type": "transaction",
        "customer_id": t.customer_id,
        "timestamp": t.timestamp.to_rfc3339(),
        "transaction_id": t.id,
        "account_id": t.account_id,
        "amount_minor": t.amount.minor,
        "currency": t.amount.currency.as_str(),
        "merchant": t.merchant,
        "category": t.category.as_str(),
        "mcc": t.mcc.map(|m| format!("{:04}", m.value())),
        "channel": t.channel.as_str(),
        "country": t.country.as_str(),
        "balance_after_minor": t.balance_after.map(|b| b.minor),
        "status": t.status.as_str(),
    })
}

/// Print alerts from `/v1/alerts/stream` as they arrive.
async fn follow_alerts(client: reqwest::Client, url: String, key: String, kinds: Vec<String>) {
    let resp = match client
        .get(format!("{url}/v1/alerts/stream"))
        .bearer_auth(&key)
        .timeout(Duration::from_secs(24 * 3600))
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => {
            eprintln!("cannot follow alerts: HTTP {}", r.status());
            return;
        }
        Err(e) => {
            eprintln!("cannot follow alerts: {e}");
            return;
        }
    };
    let mut resp = resp;
    let mut buf = String::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            for line in frame.lines() {
                if let Some(data) = line.strip_prefix("data:") {
                    let v: serde_json::Value =
                        serde_json::from_str(data.trim()).unwrap_or_default();
                    let kind = v["kind"].as_str().unwrap_or("");
                    if v.get("rule").is_some()
                        && (kinds.is_empty() || kinds.iter().any(|k| k == kind))
                    {
                        println!(
                            "ALERT {} {:<11} {:<6} customer {:<8} {}: {}",
                            v["at"].as_str().unwrap_or("").get(..16).unwrap_or(""),
                            v["kind"].as_str().unwrap_or(""),
                            v["severity"].as_str().unwrap_or(""),
                            v["customer_id"].as_str().unwrap_or(""),
                            v["rule"].as_str().unwrap_or(""),
                            v["reason"].as_str().unwrap_or("")
                        );
                    }
                }
            }
        }
    }
}
