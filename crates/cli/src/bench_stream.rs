//! `sextant bench stream`: sustained events/s and event-to-alert latency of the event stream,
//! in-process (no HTTP), embedded (a fresh SQLite file) and/or NATS JetStream (a fresh
//! PostgreSQL schema and a fresh JetStream stream).
//!
//! Throughput: N transaction events over C customers are submitted by 4 concurrent submitters
//! through `Stream::submit` (validation, durable append or JetStream publish with acks) and the
//! clock stops when the processor has committed all N (alerts, ledger rows and offset durable).
//! Latency: at half the measured peak rate, every 500th event is a debit 40× the customer's
//! usual size, which the demo rule `large_vs_baseline` turns into an alert; latency is from
//! the moment its batch was handed to `submit` to the moment the committed alert reaches a live
//! subscriber (what SSE clients see; in NATS mode after its announcement over NATS).

use crate::config::Config;
use anyhow::{Context, bail};
use rand::{Rng, SeedableRng};
use sextant_bus::{Bus, BusConfig};
use sextant_pipeline::{PipelineError, Stream, StreamConfig};
use sextant_store::{Batch, PgStore, RecordKind, SqliteStore, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct StreamBenchArgs {
    /// Modes to run: embedded, nats.
    #[arg(long, value_delimiter = ',', default_value = "embedded,nats")]
    modes: Vec<String>,
    /// Events in the throughput run.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Distinct customers.
    #[arg(long, default_value_t = 10_000)]
    customers: usize,
    /// Seconds of the latency run (at half the measured peak rate).
    #[arg(long, default_value_t = 20)]
    latency_secs: u64,
    /// Events/s of the latency run (default: half the measured peak).
    #[arg(long)]
    latency_rate: Option<f64>,
    /// PostgreSQL for the nats run (a fresh schema is created and dropped).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pg_url: String,
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// JetStream partitions in the nats run.
    #[arg(long, default_value_t = 8)]
    partitions: u32,
    /// Event ids: `sequential` (`<run>-<n>`, as a producer's counter or a time-ordered id gives)
    /// or `random` (128 random bits in hex, like UUIDv4: every append lands at a random place of
    /// the log's event-id index).
    #[arg(long, default_value = "sequential", value_parser = ["sequential", "random"])]
    event_ids: String,
    /// Write the streamed transactions into the ledger (`stream.ledger`, on by default): the
    /// customers and their accounts are imported first so every transaction is written.
    /// `--ledger false` measures windows, rules and alerts alone.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    ledger: bool,
    /// Complex-event rules (default: the demo rules). Must keep a rule that fires on a debit
    /// 40× the customer's usual size.
    #[arg(long)]
    rules: Option<std::path::PathBuf>,
}

struct Gen {
    rng: rand::rngs::StdRng,
    customers: usize,
    typical: Vec<i64>,
    n: u64,
    t0: chrono::DateTime<chrono::Utc>,
    run: String,
    random_ids: bool,
}

impl Gen {
    fn new(customers: usize, run: &str, random_ids: bool) -> Self {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let typical = (0..customers)
            .map(|_| rng.random_range(1_000..10_000))
            .collect();
        Self {
            rng,
            customers,
            typical,
            n: 0,
            t0: chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .expect("literal")
                .with_timezone(&chrono::Utc),
            run: run.to_string(),
            random_ids,
        }
    }
    /// The next event; `planted` makes it a debit 40× the customer's usual size.
    fn next(&mut self, planted: bool) -> (String, serde_json::Value) {
        self.n += 1;
        let c = self.rng.random_range(0..self.customers);
        let usual = self.typical[c];
        let amount = if planted {
            usual * 40
        } else {
            self.rng.random_range(usual / 2..usual * 3 / 2)
        };
        let cats = ["groceries", "restaurants", "shopping", "transport", "fuel"];
        let id = if self.random_ids {
            format!("{:032x}", self.rng.random::<u128>())
        } else {
            format!("{}-{}", self.run, self.n)
        };
        // Event time advances 50 ms per event, so windows slide and evict as in production.
        let ts = self.t0 + chrono::Duration::milliseconds(50 * self.n as i64);
        let v = serde_json::json!({
            "event_id": id, "type": "transaction", "customer_id": format!("c{c}"),
            "timestamp": ts.to_rfc3339(), "transaction_id": format!("t{}", self.n),
            "account_id": format!("a{c}"), "amount_minor": -amount, "currency": "EUR",
            "merchant": "Shop", "category": cats[self.rng.random_range(0..cats.len())],
            "channel": "card_present", "country": "DE", "status": "approved",
        });
        (id, v)
    }
}

pub async fn run(_cfg: &Config, a: &StreamBenchArgs) -> anyhow::Result<()> {
    for m in &a.modes {
        if m != "embedded" && m != "nats" {
            bail!("--modes: unknown mode '{m}' (expected embedded, nats)");
        }
    }
    if a.events < 10_000 || a.customers == 0 {
        bail!("--events: at least 10000; --customers: at least 1");
    }
    println!(
        "| mode | events | seconds | events/s (committed) | latency run rate | alerts | p50 ms | p99 ms | max ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for m in &a.modes {
        let tmp = tempfile::tempdir()?;
        let (store, schema): (Arc<dyn Store>, Option<String>) = if m == "embedded" {
            (
                Arc::new(SqliteStore::open(&tmp.path().join("bench.db")).await?),
                None,
            )
        } else {
            let schema = format!("bench_stream_{}", std::process::id());
            (
                Arc::new(PgStore::connect(&a.pg_url, Some(schema.clone())).await?),
                Some(schema),
            )
        };
        let text = match &a.rules {
            Some(p) => {
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
            }
            None => sextant_stream::DEMO_RULES.to_string(),
        };
        let rules = Arc::new(sextant_stream::RuleSet::from_toml(&text).map_err(|e| {
            anyhow::anyhow!(
                "rules: {}",
                e.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?);
        let stream_name = format!("BENCH_{}", std::process::id());
        let prefix = format!("bench{}.events", std::process::id());
        let bus = if m == "nats" {
            Some(Arc::new(
                Bus::connect(BusConfig {
                    url: a.nats_url.clone(),
                    stream: stream_name.clone(),
                    subject_prefix: prefix.clone(),
                    partitions: a.partitions,
                    ..BusConfig::default()
                })
                .await
                .context("NATS")?,
            ))
        } else {
            None
        };
        let cfg = StreamConfig {
            partitions: a.partitions,
            // Checkpoints are part of the cost: keep the production default interval.
            ..StreamConfig::default()
        };
        if a.ledger {
            seed_owners(store.as_ref(), a.customers).await?;
        }
        let cfg = StreamConfig {
            ledger: a.ledger,
            ..cfg
        };
        let stream = Stream::new(store.clone(), rules, cfg, bus.clone());
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let _announcements = stream.spawn_announcements(stop_rx.clone());
        let task = if m == "nats" {
            stream.spawn_worker("bench".into(), stop_rx)
        } else {
            stream.spawn_processor(stop_rx)
        };
        let result = measure(&stream, store.as_ref(), a, m).await;
        let _ = stop_tx.send(true);
        let _ = task.await;
        if let Some(bus) = &bus {
            let _ = bus.delete_stream().await;
        }
        if let Some(schema) = schema {
            let (client, conn) = tokio_postgres::connect(&a.pg_url, tokio_postgres::NoTls).await?;
            tokio::spawn(conn);
            client
                .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                .await?;
        }
        let r = result?;
        println!(
            "| {m} | {} | {:.1} | {:.0} | {:.0}/s | {} | {:.1} | {:.1} | {:.1} |",
            a.events, r.secs, r.rate, r.latency_rate, r.alerts, r.p50, r.p99, r.max
        );
    }
    Ok(())
}

/// The bench's customers (`c<i>`) and one current account each (`a<i>`), imported through the
/// production import sink, so that streamed transactions reach the ledger as in production.
/// No consents: the bench's planted alerts are fraud alerts, which need none.
async fn seed_owners(store: &dyn Store, customers: usize) -> anyhow::Result<()> {
    use sextant_core::{Currency, Money};
    let eur = Currency::EUR;
    let rows = (0..customers)
        .map(|i| -> anyhow::Result<_> {
            let customer = sextant_core::Customer {
                id: sextant_core::CustomerId::parse(&format!("c{i}"))?,
                name: format!("Bench customer {i}"),
                age: 40,
                income: Money::new(4_000_000, eur),
                spending_habit: sextant_core::SpendingHabit::Moderate,
                risk_profile: sextant_core::RiskProfile::Medium,
                transactions: 0,
                sentiment_score: sextant_core::SentimentScore::new(0.0)?,
                engagement_level: sextant_core::EngagementLevel::Medium,
                email: None,
                phone: None,
                occupation: None,
                joined_on: None,
            };
            let account = sextant_core::Account {
                id: sextant_core::AccountId::parse(&format!("a{i}"))?,
                customer_id: customer.id.clone(),
                kind: sextant_core::AccountKind::Current,
                product_id: None,
                currency: eur,
                opened_on: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).context("date")?,
                closed_on: None,
                status: sextant_core::AccountStatus::Open,
                limit: None,
                balance: Money::new(0, eur),
            };
            Ok((
                (i as u64 + 1, customer, Default::default()),
                (i as u64 + 1, account),
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (people, accounts): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
    for (kind, batch) in [
        (RecordKind::Customers, Batch::Customers(people)),
        (RecordKind::Accounts, Batch::Accounts(accounts)),
    ] {
        let mut sink = store.begin_import(kind, "bench").await?;
        let mut rejects = sink.write(batch).await?;
        rejects.extend(sink.finish().await?);
        if let Some(r) = rejects.first() {
            bail!("seeding the bench's {kind:?}: {r:?}");
        }
        sink.commit(0).await?;
    }
    Ok(())
}

struct Measured {
    secs: f64,
    rate: f64,
    latency_rate: f64,
    alerts: usize,
    p50: f64,
    p99: f64,
    max: f64,
}

async fn submit_retrying(stream: &Stream, batch: &[serde_json::Value]) -> anyhow::Result<()> {
    loop {
        match stream.submit(batch, "bench").await {
            Ok(r) if r.rejected.is_empty() => return Ok(()),
            Ok(r) => bail!("bench events rejected: {:?}", r.rejected.first()),
            Err(PipelineError::Backpressure { .. }) => {
                tokio::time::sleep(Duration::from_millis(5)).await
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn wait_processed(stream: &Stream, n: u64, timeout: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    while stream.status().processed < n {
        if start.elapsed() > timeout {
            bail!(
                "the processor did not catch up: {} of {n} processed ({:?})",
                stream.status().processed,
                stream.status().last_error
            );
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

/// Embedded mode commits the offset of batches without alerts (with their ledger rows) up to
/// 100 ms after applying them: wait for that commit too, so the clock covers every write.
/// (A NATS worker commits each batch before it counts it.)
async fn wait_committed(
    store: &dyn Store,
    mode: &str,
    n: u64,
    timeout: Duration,
) -> anyhow::Result<()> {
    if mode != "embedded" {
        return Ok(());
    }
    let start = Instant::now();
    loop {
        let committed = store.stream().stream_offset("embedded").await?;
        if committed >= n as i64 {
            return Ok(());
        }
        if start.elapsed() > timeout {
            bail!("the processor did not commit: offset {committed} of {n}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn measure(
    stream: &Stream,
    store: &dyn Store,
    a: &StreamBenchArgs,
    mode: &str,
) -> anyhow::Result<Measured> {
    let mut g = Gen::new(
        a.customers,
        &format!("{mode}{}", std::process::id()),
        a.event_ids == "random",
    );
    // Warm up: every customer gets a history, so baselines exist for the latency run.
    let warm: Vec<serde_json::Value> = (0..a.customers * 12).map(|_| g.next(false).1).collect();
    for b in warm.chunks(1000) {
        submit_retrying(stream, b).await?;
    }
    let warm_n = warm.len() as u64;
    wait_processed(stream, warm_n, Duration::from_secs(600)).await?;

    // Throughput.
    let batches: Vec<Vec<serde_json::Value>> = (0..a.events)
        .map(|_| g.next(false).1)
        .collect::<Vec<_>>()
        .chunks(1000)
        .map(<[_]>::to_vec)
        .collect();
    let queue = Arc::new(Mutex::new(batches));
    let start = Instant::now();
    let mut submitters = Vec::new();
    for _ in 0..4 {
        let (q, s) = (queue.clone(), stream.clone());
        submitters.push(tokio::spawn(async move {
            loop {
                let Some(b) = q.lock().expect("poisoned").pop() else {
                    return Ok::<_, anyhow::Error>(());
                };
                submit_retrying(&s, &b).await?;
            }
        }));
    }
    for h in submitters {
        h.await??;
    }
    let total = warm_n + a.events as u64;
    wait_processed(stream, total, Duration::from_secs(1800)).await?;
    wait_committed(store, mode, total, Duration::from_secs(60)).await?;
    let secs = start.elapsed().as_secs_f64();
    let rate = a.events as f64 / secs;

    // Latency at half the peak rate, in batches every 10 ms.
    let latency_rate = a.latency_rate.unwrap_or(rate / 2.0);
    let per_tick = ((latency_rate / 100.0).round() as usize).max(1);
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut rx = stream.subscribe();
    let lat: Arc<Mutex<Vec<f64>>> = Arc::default();
    let (sa, l) = (sent_at.clone(), lat.clone());
    let listener = tokio::spawn(async move {
        while let Ok(alert) = rx.recv().await {
            let now = Instant::now();
            let map = sa.lock().expect("poisoned");
            if let Some(t) = alert.events.iter().find_map(|e| map.get(e)) {
                l.lock()
                    .expect("poisoned")
                    .push(now.duration_since(*t).as_secs_f64() * 1000.0);
            }
        }
    });
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let run_start = Instant::now();
    let mut k = 0u64;
    let mut sent = 0u64;
    while run_start.elapsed() < Duration::from_secs(a.latency_secs) {
        tick.tick().await;
        let mut batch = Vec::with_capacity(per_tick);
        let mut planted = Vec::new();
        for _ in 0..per_tick {
            k += 1;
            let (id, v) = g.next(k.is_multiple_of(500));
            if k.is_multiple_of(500) {
                planted.push(id);
            }
            batch.push(v);
        }
        let t = Instant::now();
        {
            let mut m = sent_at.lock().expect("poisoned");
            for id in planted {
                m.insert(id, t);
            }
        }
        submit_retrying(stream, &batch).await?;
        sent += batch.len() as u64;
    }
    wait_processed(stream, total + sent, Duration::from_secs(600)).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    listener.abort();
    let mut v = lat.lock().expect("poisoned").clone();
    if v.is_empty() {
        bail!("no planted anomaly produced an alert: check the demo rules");
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    Ok(Measured {
        secs,
        rate,
        latency_rate: sent as f64 / a.latency_secs as f64,
        alerts: v.len(),
        p50: q(0.5),
        p99: q(0.99),
        max: *v.last().expect("non-empty"),
    })
}
