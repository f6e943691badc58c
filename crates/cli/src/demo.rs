//! `sextant generate` and `sextant demo`.

use crate::config::Config;
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sextant_core::Role;
use sextant_ingest::ImportOptions;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args)]
pub struct GenerateArgs {
    /// Number of customers.
    #[arg(long, default_value_t = 1000)]
    pub customers: u64,
    /// Months of history, ending 2026-10-31.
    #[arg(long, default_value_t = 12)]
    pub months: u32,
    /// Random seed: the same seed writes byte-identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn generate(args: &GenerateArgs) -> anyhow::Result<()> {
    let s = generate_into(&args.out, args.customers, args.months, args.seed, false)?;
    println!(
        "wrote {}: {} customers, {} accounts, {} transactions, {} messages, {} events ({} fraud transactions, {} defaults, {} churned)",
        args.out.display(),
        s.customers,
        s.accounts,
        s.transactions,
        s.messages,
        s.events,
        s.fraud_transactions,
        s.defaults,
        s.churned
    );
    Ok(())
}

pub fn generate_into(
    out: &Path,
    customers: u64,
    months: u32,
    seed: u64,
    quiet: bool,
) -> anyhow::Result<sextant_synth::Summary> {
    let cfg = sextant_synth::Config {
        customers,
        months,
        seed,
        ..Default::default()
    };
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(customers)
    };
    bar.set_style(
        ProgressStyle::with_template("generating [{bar:30}] {pos}/{len} customers eta {eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    let b = bar.clone();
    let started = Instant::now();
    let summary = sextant_synth::generate(&cfg, out, &move |n| b.set_position(n))
        .with_context(|| format!("generating a synthetic bank in {}", out.display()))?;
    bar.finish_and_clear();
    tracing::info!(
        customers,
        months,
        seed,
        secs = started.elapsed().as_secs_f64(),
        "generated synthetic bank"
    );
    Ok(summary)
}

#[derive(Args)]
pub struct DemoArgs {
    /// Working directory for the generated bank and the database.
    #[arg(long, default_value = "demo")]
    dir: PathBuf,
    /// Customers in the synthetic bank.
    #[arg(long, default_value_t = 2000)]
    customers: u64,
    /// Months of history.
    #[arg(long, default_value_t = 12)]
    months: u32,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Address to serve on (overrides server.bind).
    #[arg(long)]
    bind: Option<String>,
    /// Once serving, replay the last 90 days of transactions as a live event stream at this
    /// speed-up (86400: a day per second), printing fraud and distress alerts as they are
    /// raised; 0 turns it off.
    #[arg(long, default_value_t = 86400.0)]
    replay_speed: f64,
}

pub async fn run(mut cfg: Config, args: &DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let bank = args.dir.join("bank");
    if !bank.join("manifest.json").exists() {
        println!(
            "Generating a synthetic bank of {} customers × {} months …",
            args.customers, args.months
        );
        generate_into(&bank, args.customers, args.months, args.seed, false)?;
    }
    cfg.database = args.dir.join("sextant.db").display().to_string();
    cfg.security.master_key_file = args.dir.join("sextant.key").display().to_string();
    cfg.security.encryption_key_file = args.dir.join("sextant.enc.key").display().to_string();
    if let Some(b) = &args.bind {
        cfg.server.bind = b.clone();
    }
    cfg.validate()?;
    let store = crate::open(&cfg).await?;
    if store.count(sextant_store::Table::Customers).await? == 0 {
        println!("Importing into {} …", cfg.database);
        crate::import::import_bank(store.as_ref(), &bank, &ImportOptions::default(), false).await?;
    } else {
        println!("Using the bank already imported in {}", cfg.database);
    }
    if store.segment_model(None).await?.is_none() {
        println!("Computing features and training segments …");
        let policy = sextant_intelligence::Policy {
            consent_defaults: cfg.server.consent_defaults.clone(),
        };
        let s = sextant_intelligence::refresh_features(
            store.as_ref(),
            &policy,
            chrono::Utc::now(),
            &|_, _| {},
        )
        .await?;
        let seg_cfg = sextant_segment::SegmentConfig {
            macro_k: Some(4),
            micro_k: Some(3),
            seed: args.seed,
            ..Default::default()
        };
        let (version, model) =
            sextant_intelligence::train_segments(store.as_ref(), &seg_cfg, true).await?;
        println!(
            "features for {} customers ({} without profiling consent); segment model v{version}: {} personas",
            s.computed,
            s.without_consent,
            model.leaf_count()
        );
    }
    if store
        .get_recommender_model(sextant_intelligence::recommend::CF_MODEL)
        .await?
        .is_none()
    {
        println!("Training collaborative filtering for recommendations …");
        crate::recommend::train(store.as_ref()).await?;
    }
    let key = crate::keys::create(store.as_ref(), Role::Admin, None, "demo").await?;
    let first = store.list_customers(None, 1).await?;
    drop(store);
    println!();
    println!("Admin API key (shown once): {key}");
    println!(
        "Try:  curl -H 'Authorization: Bearer {key}' http://{}/v1/customers?limit=3",
        cfg.server.bind
    );
    if let Some(c) = first.first() {
        println!(
            "      curl -H 'Authorization: Bearer {key}' http://{}/v1/customers/{}/transactions?limit=5",
            cfg.server.bind, c.id
        );
        println!(
            "      curl -H 'Authorization: Bearer {key}' 'http://{}/v1/customers/{}/recommendations?channel=app&limit=3'",
            cfg.server.bind, c.id
        );
    }
    println!(
        "API docs: http://{}/login (sign in with the key)",
        cfg.server.bind
    );
    let url = format!("http://{}", cfg.server.bind.replace("0.0.0.0", "127.0.0.1"));
    println!("Live alerts: curl -N -H 'Authorization: Bearer {key}' {url}/v1/alerts/stream");
    if args.replay_speed > 0.0 {
        println!(
            "Replaying the last 90 days as a live stream at {}× (fraud and distress alerts below; \
             `sextant replay` does this on its own) …",
            args.replay_speed
        );
        let replay = crate::stream::ReplayArgs {
            url: url.clone(),
            key: key.clone(),
            speed: args.replay_speed,
            since: None,
            customers: None,
            batch: 1000,
            quiet: false,
            kinds: vec!["fraud".into(), "distress".into()],
        };
        let rcfg = cfg.clone();
        tokio::spawn(async move {
            // Wait for the server to listen.
            let http = reqwest::Client::new();
            for _ in 0..600 {
                if http.get(format!("{url}/healthz")).send().await.is_ok() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            if let Err(e) = crate::stream::replay(&rcfg, &replay).await {
                eprintln!("replay stopped: {e:#}");
            }
        });
    }
    crate::serve(&cfg).await
}
