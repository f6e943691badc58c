//! `sextant bench import`: import N synthetic transactions into a fresh SQLite file and/or a
//! fresh PostgreSQL schema, and report rows/s and the process's peak resident memory during the
//! import (Linux `VmHWM`, reset before the timed run through `/proc/self/clear_refs`).

use crate::config::Config;
use anyhow::{Context, bail};
use clap::Subcommand;
use sextant_ingest::ImportOptions;
use sextant_store::{PgStore, RecordKind, SqliteStore, Store};
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Event stream: sustained events/s and p99 event-to-alert latency, embedded and NATS.
    Stream(crate::bench_stream::StreamBenchArgs),
    /// Online scoring latency per customer: consent from the store, the feature vector from the
    /// in-memory feature table (loaded once, as a server does), every promoted bank model, exact
    /// SHAP — over customers with profiling consent in the configured database.
    Score {
        /// Customers to score (the first N with profiling consent).
        #[arg(long, default_value_t = 500)]
        customers: usize,
    },
    /// Assistant latency per message type (house plan, product question, spending question,
    /// greeting), end to end through `Assistant::message` on the configured database, and
    /// embedding throughput (one sentence vs batches of 32).
    Assistant {
        /// Conversations to hold (each sends the four messages once).
        #[arg(long, default_value_t = 50)]
        conversations: usize,
    },
    /// Import throughput and peak memory for N transactions.
    Import {
        /// Transaction counts to run, comma-separated (run two sizes to see memory stay flat).
        #[arg(long, value_delimiter = ',', default_value = "1000000")]
        rows: Vec<u64>,
        /// Backends to run: sqlite, postgres.
        #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
        backends: Vec<String>,
        /// PostgreSQL server for the postgres run (a fresh schema is created and dropped).
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        pg_url: String,
        /// Where to keep the generated input (default: a temporary directory).
        #[arg(long)]
        work_dir: Option<std::path::PathBuf>,
    },
}

pub async fn run(cfg: &Config, cmd: BenchCommand) -> anyhow::Result<()> {
    if let BenchCommand::Stream(a) = &cmd {
        return crate::bench_stream::run(cfg, a).await;
    }
    if let BenchCommand::Assistant { conversations } = cmd {
        return crate::assistant::bench(cfg, conversations).await;
    }
    if let BenchCommand::Score { customers } = cmd {
        return score(cfg, customers).await;
    }
    let BenchCommand::Import {
        rows,
        backends,
        pg_url,
        work_dir,
    } = cmd
    else {
        unreachable!("handled above")
    };
    for b in &backends {
        if b != "sqlite" && b != "postgres" {
            bail!("--backends: unknown backend '{b}' (expected sqlite, postgres)");
        }
    }
    let tmp = tempfile::tempdir()?;
    let dir = work_dir.unwrap_or_else(|| tmp.path().to_path_buf());
    let max = rows.iter().copied().max().unwrap_or(0);
    if max == 0 {
        bail!("--rows: give at least one positive count");
    }
    // Generate a bank big enough, then cut the transaction file to each size.
    let bank = dir.join("bank");
    let mut customers = max / 250 + 10;
    loop {
        let s = crate::demo::generate_into(&bank, customers, 12, 7, true)?;
        if s.transactions >= max {
            break;
        }
        customers = customers * max / s.transactions.max(1) + 10;
    }
    println!("| backend | rows | seconds | rows/s | peak RSS during import |");
    println!("|---|---:|---:|---:|---:|");
    for &n in &rows {
        let input = dir.join(format!("transactions_{n}.csv"));
        head(&bank.join("transactions.csv"), &input, n)?;
        for b in &backends {
            let (store, cleanup): (Arc<dyn Store>, Option<String>) = if b == "sqlite" {
                let path = dir.join(format!("bench_{n}.db"));
                let _ = std::fs::remove_file(&path);
                (Arc::new(SqliteStore::open(&path).await?), None)
            } else {
                let schema = format!("bench_{}", uuid_like());
                (
                    Arc::new(PgStore::connect(&pg_url, Some(schema.clone())).await?),
                    Some(schema),
                )
            };
            let opts = ImportOptions::default();
            for (kind, file) in [
                (RecordKind::Customers, "customers_full.csv"),
                (RecordKind::Accounts, "accounts.csv"),
            ] {
                sextant_ingest::import_file(store.as_ref(), kind, &bank.join(file), &opts, |_| {})
                    .await?;
            }
            reset_peak_rss();
            let start = Instant::now();
            let report = sextant_ingest::import_file(
                store.as_ref(),
                RecordKind::Transactions,
                &input,
                &opts,
                |_| {},
            )
            .await
            .context("benchmark import")?;
            let secs = start.elapsed().as_secs_f64();
            let peak = peak_rss_mib();
            println!(
                "| {b} | {} | {secs:.2} | {:.0} | {} |",
                report.rows_read,
                report.rows_read as f64 / secs,
                peak.map(|m| format!("{m:.0} MiB"))
                    .unwrap_or_else(|| "n/a".into())
            );
            drop(store);
            if let Some(schema) = cleanup {
                let (client, conn) = tokio_postgres_connect(&pg_url).await?;
                tokio::spawn(conn);
                client
                    .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                    .await?;
            }
        }
    }
    Ok(())
}

async fn tokio_postgres_connect(
    url: &str,
) -> anyhow::Result<(
    tokio_postgres::Client,
    tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
)> {
    Ok(tokio_postgres::connect(url, tokio_postgres::NoTls).await?)
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    )
}

/// Copy the header and the first `n` rows.
fn head(src: &Path, dst: &Path, n: u64) -> anyhow::Result<()> {
    let r = std::io::BufReader::new(std::fs::File::open(src)?);
    let mut w = BufWriter::new(std::fs::File::create(dst)?);
    for line in r.lines().take(n as usize + 1) {
        writeln!(w, "{}", line?)?;
    }
    w.flush()?;
    Ok(())
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

async fn score(cfg: &Config, n: usize) -> anyhow::Result<()> {
    let store = crate::open(cfg).await?;
    let policy = sextant_intelligence::Policy {
        consent_defaults: cfg.server.consent_defaults.clone(),
    };
    let mut ids = Vec::new();
    let mut after = None;
    while ids.len() < n {
        let page = store.list_customers(after.as_ref(), 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for c in page {
            if ids.len() < n
                && sextant_intelligence::require_profiling(store.as_ref(), &c.id, &policy)
                    .await
                    .is_ok()
            {
                ids.push(c.id);
            }
        }
    }
    if ids.is_empty() {
        bail!(
            "no customers with profiling consent in {}",
            crate::redact(&cfg.database)
        );
    }
    let cache = sextant_intelligence::bank_models::BankModelCache::default();
    // What a server does once at start: load the feature table into memory.
    let load = Instant::now();
    cache.features.sync(store.as_ref()).await?;
    println!(
        "feature table loaded into memory: {} customers in {:.2} s",
        cache.features.len(),
        load.elapsed().as_secs_f64()
    );
    let mut micros = Vec::with_capacity(ids.len());
    let mut models = 0;
    let (mut declined, mut example) = (0, None);
    let mut declined_micros = Vec::new();
    for id in &ids {
        let start = Instant::now();
        let scores =
            sextant_intelligence::bank_models::score(store.as_ref(), &cache, id, &policy).await?;
        let us = start.elapsed().as_secs_f64() * 1e6;
        micros.push(us);
        models = scores.len();
        if scores.iter().any(|s| s.decision == Some("decline")) {
            declined_micros.push(us);
        }
        for s in &scores {
            if s.decision == Some("decline") {
                declined += 1;
                if example.is_none() {
                    example = s
                        .counterfactuals
                        .as_ref()
                        .and_then(|c| c.first())
                        .map(|c| c.text.clone());
                }
            }
        }
    }
    micros.sort_by(f64::total_cmp);
    let q = |p: f64| micros[((micros.len() - 1) as f64 * p).round() as usize];
    println!(
        "scored {} customers with {models} model(s) each (consent read from the store, feature vector from memory or computed if missing, models + SHAP): p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        micros.len(),
        q(0.5),
        q(0.99),
        micros[micros.len() - 1]
    );
    if declined > 0 {
        declined_micros.sort_by(f64::total_cmp);
        println!(
            "credit declined for {declined} (counterfactuals searched: median {:.0} µs per customer); e.g. {}",
            declined_micros[declined_micros.len() / 2],
            example
                .as_deref()
                .unwrap_or("no single or paired change flips it")
        );
    }
    Ok(())
}
