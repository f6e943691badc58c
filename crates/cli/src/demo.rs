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
    /// Once serving, hold a short conversation with the assistant as a customer (a house-saving
    /// plan with its roadmap chart, a product question, a spending question, a complaint).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    converse: bool,
    /// Train and promote the churn and credit-default models (scores with SHAP explanations,
    /// and their fairness audits) when none is registered yet.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    train_models: bool,
    /// Also write the admin key to this file (mode 0600), for scripts such as the browser tests.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Run the experiment `config/experiments/offer-strategy.json` on replayed synthetic traffic
    /// (every customer asks for an offer and answers as the generator's response model says),
    /// print its analysis and stop it, when no experiment exists yet.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    experiment: bool,
}

/// The demo's experiment: engine vs popularity vs no offer.
const DEMO_EXPERIMENT: &str = include_str!("../../../config/experiments/offer-strategy.json");

/// Create the demo experiment, replay the bank's customers through it, show the analysis, stop it
/// (so every customer gets the engine's offers afterwards; the analysis stays in the console).
async fn run_experiment(
    cfg: &Config,
    store: &dyn sextant_store::Store,
    bank_seed: u64,
) -> anyhow::Result<()> {
    use sextant_intelligence::experiments;
    let spec: sextant_experiment::ExperimentSpec = serde_json::from_str(DEMO_EXPERIMENT)?;
    let id = spec.id.clone();
    let now = chrono::Utc::now();
    experiments::create(store, spec, "demo", now).await?;
    let rec = sextant_intelligence::recommend::Recommender::load(
        store,
        &crate::recommend::rules_text(cfg, None)?,
    )
    .await?;
    let master = crate::secrets::load(cfg)?;
    let pseudonyms = master.pseudonymizer();
    let subject = |c: &sextant_core::CustomerId| pseudonyms.customer(c);
    let respond = |c: &sextant_core::CustomerId, p: &sextant_core::ProductId| {
        c.as_str()
            .parse::<u64>()
            .ok()
            .and_then(|n| sextant_synth::campaign::offer_acceptance(bank_seed, n, p.as_str()))
    };
    let bank = Default::default();
    let cx = experiments::ReplayContext {
        store,
        rec: &rec,
        segments: &sextant_intelligence::ModelCache::default(),
        bank: &bank,
        policy: &sextant_intelligence::Policy {
            consent_defaults: cfg.server.consent_defaults.clone(),
        },
        subject: &subject,
    };
    let started = Instant::now();
    let r = experiments::replay(&cx, &respond, bank_seed, u64::MAX, now, &|_| {}).await?;
    let report = experiments::analyze(store, rec.rules(), &id, now)
        .await?
        .context("the demo experiment disappeared")?;
    println!(
        "Experiment '{id}' on replayed traffic ({} customers, {} offers, {} accepted, {:.1} s):",
        r.customers,
        r.offers,
        r.accepted,
        started.elapsed().as_secs_f64()
    );
    for s in report
        .analysis
        .arms
        .iter()
        .chain(report.analysis.holdout.iter())
    {
        println!(
            "  {:<11} {:>5} exposed, {:>4} converted ({:.1}%)",
            s.name,
            s.exposures,
            s.conversions,
            100.0 * s.conversion_rate.unwrap_or(0.0)
        );
    }
    for c in &report.analysis.comparisons {
        println!(
            "  {} vs {}: {:+.1} pp, Holm-adjusted p = {:.4}{}",
            c.treatment,
            c.control,
            100.0 * c.difference.unwrap_or(0.0),
            c.p_value_adjusted.unwrap_or(1.0),
            if c.significant { " (significant)" } else { "" }
        );
    }
    experiments::stop(store, &id, "demo", chrono::Utc::now()).await?;
    println!("  (stopped; the analysis stays at /v1/experiments/{id}/analysis and in the console)");
    Ok(())
}

async fn wait_healthy(url: &str) {
    let http = reqwest::Client::new();
    for _ in 0..600 {
        if http.get(format!("{url}/healthz")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The assistant demo: four messages through the API, replies printed, the roadmap saved.
async fn converse(
    url: &str,
    key: &str,
    customer: &sextant_core::CustomerId,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    println!();
    println!("The assistant, talking as customer {customer}:");
    let mut conversation: Option<String> = None;
    for text in [
        "I want to save for a house in 3 years",
        "What interest does the Easy Access Savings account pay?",
        "How much did I spend on restaurants last month?",
        "I was charged twice for the same payment and nobody has fixed it. This is unacceptable, I want to make a complaint.",
    ] {
        println!();
        println!("  customer> {text}");
        let resp = http
            .post(format!("{url}/v1/assistant/messages"))
            .bearer_auth(key)
            .json(&serde_json::json!({
                "customer_id": customer, "conversation_id": conversation, "channel": "app", "text": text,
            }))
            .send()
            .await?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await?;
        if !status.is_success() {
            anyhow::bail!("assistant answered {status}: {body}");
        }
        conversation = body["conversation_id"].as_str().map(String::from);
        println!("  sextant>  {}", body["text"].as_str().unwrap_or(""));
        println!(
            "            intent {} (confidence {:.2}), sentiment {:+.2}, text by {}",
            body["intent"].as_str().unwrap_or("?"),
            body["confidence"].as_f64().unwrap_or(0.0),
            body["sentiment"].as_f64().unwrap_or(0.0),
            body["language"]["backend"].as_str().unwrap_or("?")
        );
        for c in body["citations"].as_array().into_iter().flatten() {
            println!(
                "            cites {} › {}",
                c["title"].as_str().unwrap_or(""),
                c["section"].as_str().unwrap_or("")
            );
        }
        if let Some(path) = body["goal"]["roadmap_url"].as_str() {
            let svg = http
                .get(format!("{url}{path}"))
                .bearer_auth(key)
                .send()
                .await?
                .text()
                .await?;
            let file = dir.join("roadmap.svg");
            std::fs::write(&file, svg)?;
            println!(
                "            roadmap chart: {} (also GET {path})",
                file.display()
            );
        }
        if let Some(r) = body["handoff"]["review_id"].as_str() {
            println!("            handed to a person: review case {r} (GET /v1/reviews/{r})");
        }
    }
    println!();
    Ok(())
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
        let scored = sextant_conversation::score_unscored(store.as_ref()).await?;
        println!("Scored the sentiment of {scored} customer messages");
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
    if args.train_models && store.list_models().await?.is_empty() {
        println!("Training the churn and credit-default models …");
        let policy = sextant_intelligence::Policy {
            consent_defaults: cfg.server.consent_defaults.clone(),
        };
        let cutoff = chrono::Utc::now() - chrono::Duration::days(90);
        for target in [
            sextant_intelligence::bank_models::Target::Churn,
            sextant_intelligence::bank_models::Target::CreditDefault,
        ] {
            match sextant_intelligence::bank_models::train(
                store.as_ref(),
                &policy,
                target,
                cutoff,
                0.5,
            )
            .await
            {
                Ok(t) => {
                    store.promote_model(t.name, t.version).await?;
                    store
                        .append_audit(sextant_core::AuditRecord {
                            actor: "cli".into(),
                            action: "model.train".into(),
                            subject: format!("{}:{}", t.name, t.version),
                            details: serde_json::json!({ "rows": t.rows, "positives": t.positives,
                                "data_hash": t.data_hash, "cutoff": cutoff.to_rfc3339(), "promoted": true }),
                        })
                        .await?;
                    println!(
                        "  {}:{} over {} customers ({} positive), promoted",
                        t.name, t.version, t.rows, t.positives
                    );
                }
                // A small bank may have no positive outcome for a target: say so and go on.
                Err(e) => println!("  {} not trained: {e}", target.name()),
            }
        }
    }
    if args.experiment && store.outcomes().experiments().await?.is_empty() {
        run_experiment(&cfg, store.as_ref(), args.seed).await?;
    }
    let key = crate::keys::create(store.as_ref(), Role::Admin, None, "demo").await?;
    if let Some(path) = &args.key_file {
        write_secret(path, &key).with_context(|| format!("writing {}", path.display()))?;
    }
    let first = store.list_customers(None, 1).await?;
    // The assistant demo talks as a customer who allows profiling (so plans use their figures),
    // preferably one earning at least 40 000 a year.
    let mut talker = None;
    for c in store.list_customers(None, 200).await? {
        let consents = store
            .consent_state(&c.id, &cfg.server.consent_defaults)
            .await?;
        if consents.is_some_and(|s| s.allows(sextant_core::ConsentPurpose::Profiling)) {
            let well_paid = c.income.minor >= 4_000_000;
            if talker.is_none() || well_paid {
                talker = Some(c.id.clone());
            }
            if well_paid {
                break;
            }
        }
    }
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
    let conversation = (cfg.assistant.enabled && args.converse)
        .then_some(talker)
        .flatten()
        .map(|c| (c, url.clone(), key.clone(), args.dir.clone()));
    let replay_speed = args.replay_speed;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        if let Some((customer, url, key, dir)) = conversation {
            wait_healthy(&url).await;
            if let Err(e) = converse(&url, &key, &customer, &dir).await {
                eprintln!("assistant demo stopped: {e:#}");
            }
        }
        let _ = done_tx.send(());
    });
    if replay_speed > 0.0 {
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
            wait_healthy(&url).await;
            // After the assistant's conversation, so the two outputs do not interleave.
            let _ = done_rx.await;
            if let Err(e) = crate::stream::replay(&rcfg, &replay).await {
                eprintln!("replay stopped: {e:#}");
            }
        });
    }
    crate::serve(&cfg).await
}

/// Write a secret readable by its owner only.
fn write_secret(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(secret.as_bytes())?;
    f.write_all(b"\n")
}
