//! The synthetic bank: deterministic, realistic customers, accounts, transactions, messages,
//! offer responses and outcomes, written in the file formats of `docs/data-formats.md`.
//!
//! [`generate`] is what `sextant generate` runs. Every customer gets its own random stream seeded
//! from (seed, customer index), customers are generated in parallel in chunks, and the chunks
//! are written in order, so the same [`Config`] always produces byte-identical files regardless
//! of the number of threads.
//!
//! Realism lives in [`profile`] (latent state: demographics, income, traits) and `sim` (holdings,
//! monthly flows, life events, fraud, and outcomes that follow from the customer's own data).

pub mod campaign;
mod catalog;
mod fmt;
mod merchants;
mod profile;
pub mod schema;
mod sim;
mod text;
mod window;

use rayon::prelude::*;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Number of customers, 1–10,000,000.
    pub customers: u64,
    /// Months of history, 1–120, ending with the month of `end_date`.
    pub months: u32,
    pub seed: u64,
    /// Last day of data.
    pub end_date: chrono::NaiveDate,
    /// ISO 4217 code written in every money column.
    pub currency: &'static str,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            customers: 1000,
            months: 12,
            seed: 42,
            end_date: chrono::NaiveDate::from_ymd_opt(2026, 10, 31).expect("valid date"),
            currency: "EUR",
        }
    }
}

/// Row counts of a run (also written to `manifest.json`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub customers: u64,
    pub accounts: u64,
    pub transactions: u64,
    pub messages: u64,
    pub events: u64,
    /// Transactions labelled in `labels/fraud.csv`.
    pub fraud_transactions: u64,
    /// Customers with at least one defaulted account.
    pub defaults: u64,
    pub churned: u64,
}

impl Summary {
    fn add(&mut self, o: &Summary) {
        self.customers += o.customers;
        self.accounts += o.accounts;
        self.transactions += o.transactions;
        self.messages += o.messages;
        self.events += o.events;
        self.fraud_transactions += o.fraud_transactions;
        self.defaults += o.defaults;
        self.churned += o.churned;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("invalid config: {0}")]
    Config(String),
    #[error("writing {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Check a config before any file is touched.
pub fn validate(cfg: &Config) -> Result<(), SynthError> {
    if !(1..=10_000_000).contains(&cfg.customers) {
        return Err(SynthError::Config(format!(
            "customers must be between 1 and 10000000, got {}",
            cfg.customers
        )));
    }
    if !(1..=120).contains(&cfg.months) {
        return Err(SynthError::Config(format!(
            "months must be between 1 and 120, got {}",
            cfg.months
        )));
    }
    if cfg.currency.len() != 3 || !cfg.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(SynthError::Config(format!(
            "currency must be a three-letter ISO 4217 code such as EUR, got '{}'",
            cfg.currency
        )));
    }
    use chrono::Datelike;
    if !(1990..=2200).contains(&cfg.end_date.year()) {
        return Err(SynthError::Config(format!(
            "end date must be between 1990 and 2200, got {}",
            cfg.end_date
        )));
    }
    Ok(())
}

/// Customers per parallel task.
const CHUNK: u64 = 256;
/// Tasks generated before their rows are handed to the writer.
const WAVE: u64 = 8;

/// Generate a synthetic bank into `out` (created if missing; existing files are overwritten).
/// `progress` is called with the number of customers completed so far.
pub fn generate(
    cfg: &Config,
    out: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Summary, SynthError> {
    validate(cfg)?;
    let win = window::Window::new(cfg.end_date, cfg.months);
    let labels = out.join("labels");
    std::fs::create_dir_all(&labels).map_err(io_err(&labels))?;

    let products = out.join("products.csv");
    let mut buf = Vec::new();
    catalog::write_products(&mut buf, cfg.currency);
    std::fs::write(&products, &buf).map_err(io_err(&products))?;

    let mut files: Vec<(PathBuf, BufWriter<File>)> = Vec::with_capacity(sim::N_FILES);
    for (name, header) in schema::ROW_FILES {
        let path = out.join(name);
        let f = File::create(&path).map_err(io_err(&path))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        w.write_all(header.as_bytes())
            .and_then(|_| w.write_all(b"\n"))
            .map_err(io_err(&path))?;
        files.push((path, w));
    }

    let ctx = sim::Ctx {
        seed: cfg.seed,
        currency: cfg.currency,
        win: &win,
    };
    let summary = std::thread::scope(|s| -> Result<Summary, SynthError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<sim::ChunkOut>>(1);
        let writer = s.spawn(move || -> Result<Summary, SynthError> {
            let mut total = Summary::default();
            for wave in rx {
                for chunk in wave {
                    for (i, (path, w)) in files.iter_mut().enumerate() {
                        w.write_all(&chunk.bufs[i]).map_err(io_err(path))?;
                    }
                    total.add(&chunk.counts);
                }
            }
            for (path, w) in files.iter_mut() {
                w.flush().map_err(io_err(path))?;
            }
            Ok(total)
        });
        let mut start = 0u64;
        while start < cfg.customers {
            let end = (start + CHUNK * WAVE).min(cfg.customers);
            let firsts: Vec<u64> = (start..end).step_by(CHUNK as usize).collect();
            let chunks: Vec<sim::ChunkOut> = firsts
                .into_par_iter()
                .map(|f| sim::gen_chunk(&ctx, f, (f + CHUNK).min(end)))
                .collect();
            if tx.send(chunks).is_err() {
                break; // the writer failed; its error is reported below
            }
            progress(end);
            start = end;
        }
        drop(tx);
        writer.join().expect("writer thread panicked")
    })?;

    campaign::write_campaign(cfg.seed, cfg.customers, out)
        .map_err(io_err(&out.join("campaign.csv")))?;
    let manifest = out.join("manifest.json");
    std::fs::write(&manifest, manifest_json(cfg, &win, &summary)).map_err(io_err(&manifest))?;
    Ok(summary)
}

fn manifest_json(cfg: &Config, win: &window::Window, s: &Summary) -> String {
    let (y, m, d) = win.start_date();
    let mut files: Vec<&str> = vec!["products.csv"];
    files.extend(schema::ROW_FILES.iter().map(|f| f.0));
    let files = files
        .iter()
        .map(|f| format!("\"{f}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"{{
  "generator": "sextant-synth",
  "version": "{version}",
  "seed": {seed},
  "parameters": {{
    "customers": {customers},
    "months": {months},
    "start_date": "{y:04}-{m:02}-{d:02}",
    "end_date": "{end}",
    "currency": "{currency}",
    "home_country": "DE"
  }},
  "counts": {{
    "customers": {c},
    "products": {products},
    "accounts": {accounts},
    "transactions": {transactions},
    "messages": {messages},
    "events": {events},
    "fraud_transactions": {fraud},
    "defaults": {defaults},
    "churned": {churned}
  }},
  "files": [{files}]
}}
"#,
        version = env!("CARGO_PKG_VERSION"),
        seed = cfg.seed,
        customers = cfg.customers,
        months = cfg.months,
        end = cfg.end_date.format("%Y-%m-%d"),
        currency = cfg.currency,
        c = s.customers,
        products = catalog::PRODUCTS.len(),
        accounts = s.accounts,
        transactions = s.transactions,
        messages = s.messages,
        events = s.events,
        fraud = s.fraud_transactions,
        defaults = s.defaults,
        churned = s.churned,
    )
}
