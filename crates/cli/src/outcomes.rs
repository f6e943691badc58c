//! `sextant experiment` (create, list, show, stop, analyze, replay), `sextant uplift`,
//! `sextant kpis` and `sextant monitor`.

use crate::config::Config;
use anyhow::Context;
use clap::{Args, Subcommand};
use sextant_core::CustomerId;
use sextant_intelligence::{experiments, kpis, monitor};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ExperimentCommand {
    /// Create an experiment from a JSON spec file (it runs at once).
    Create { file: PathBuf },
    /// Every experiment with its exposures per arm.
    List,
    /// Stop an experiment.
    Stop { id: String },
    /// Analyse an experiment now (the always-valid p-value may be checked at any time).
    Analyze {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Replay synthetic traffic: every customer asks for one offer and answers it the way the
    /// synthetic bank's response model says (the bank generated into --bank, whose seed is read
    /// from its manifest). Running experiments assign and expose them like live traffic.
    Replay {
        /// The generated bank directory (for its seed).
        #[arg(long)]
        bank: PathBuf,
        /// At most this many customers.
        #[arg(long, default_value_t = u64::MAX)]
        customers: u64,
        /// Seed of the customers' answers.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

#[derive(Args)]
pub struct UpliftArgs {
    /// CSV with one row per customer (e.g. a generated bank's campaign.csv).
    #[arg(long)]
    pub data: PathBuf,
    /// The 0/1 treatment column.
    #[arg(long, default_value = "treated")]
    pub treatment: String,
    /// The outcome column (0/1 or an amount).
    #[arg(long, default_value = "converted")]
    pub outcome: String,
    /// Covariate columns measured before treatment (default: every other column but --id).
    #[arg(long, value_delimiter = ',')]
    pub covariates: Vec<String>,
    /// The id column, never a covariate.
    #[arg(long, default_value = "customer_id")]
    pub id: String,
    /// Bootstrap replicates for the intervals.
    #[arg(long, default_value_t = 200)]
    pub bootstrap: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct KpiArgs {
    /// overall, segment or arm (with --experiment).
    #[arg(long, default_value = "overall")]
    pub group_by: String,
    #[arg(long)]
    pub experiment: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct MonitorArgs {
    /// Customers compared.
    #[arg(long, default_value_t = 2000)]
    pub sample: usize,
    #[arg(long)]
    pub json: bool,
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.2}%", 100.0 * v))
}

pub async fn experiment(cfg: &Config, cmd: ExperimentCommand) -> anyhow::Result<()> {
    let store = crate::open(cfg).await?;
    let now = chrono::Utc::now();
    match cmd {
        ExperimentCommand::Create { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let spec: sextant_experiment::ExperimentSpec = serde_json::from_str(&text)
                .with_context(|| format!("{} is not an experiment spec", file.display()))?;
            let e = experiments::create(store.as_ref(), spec, "cli", now).await?;
            println!("experiment '{}' ({}) is running", e.id, e.kind);
            Ok(())
        }
        ExperimentCommand::List => {
            for e in experiments::list(store.as_ref()).await? {
                let exposures: Vec<String> = e
                    .exposures
                    .iter()
                    .map(|(a, n)| format!("{a}={n}"))
                    .collect();
                println!(
                    "{:<24} {:<9} {:<8} {}  exposures: {}",
                    e.id,
                    e.kind,
                    e.status,
                    e.name,
                    if exposures.is_empty() {
                        "none".into()
                    } else {
                        exposures.join(" ")
                    }
                );
            }
            Ok(())
        }
        ExperimentCommand::Stop { id } => {
            if !experiments::stop(store.as_ref(), &id, "cli", now).await? {
                anyhow::bail!("no experiment '{id}'");
            }
            println!("experiment '{id}' stopped");
            Ok(())
        }
        ExperimentCommand::Analyze { id, json } => {
            let rec = sextant_intelligence::recommend::Recommender::load(
                store.as_ref(),
                &crate::recommend::rules_text(cfg, None)?,
            )
            .await?;
            let r = experiments::analyze(store.as_ref(), rec.rules(), &id, now)
                .await?
                .with_context(|| format!("no experiment '{id}'"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(());
            }
            print_analysis(&r);
            Ok(())
        }
        ExperimentCommand::Replay {
            bank,
            customers,
            seed,
        } => {
            let manifest = bank.join("manifest.json");
            let m: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(&manifest)
                    .with_context(|| format!("reading {}", manifest.display()))?,
            )
            .with_context(|| format!("{} is not JSON", manifest.display()))?;
            let bank_seed = m["seed"]
                .as_u64()
                .with_context(|| format!("{} has no seed", manifest.display()))?;
            let rec = sextant_intelligence::recommend::Recommender::load(
                store.as_ref(),
                &crate::recommend::rules_text(cfg, None)?,
            )
            .await?;
            let master = crate::secrets::load(cfg)?;
            let pseudonyms = master.pseudonymizer();
            let subject = |id: &CustomerId| pseudonyms.customer(id);
            let respond = |id: &CustomerId, p: &sextant_core::ProductId| {
                id.as_str().parse::<u64>().ok().and_then(|n| {
                    sextant_synth::campaign::offer_acceptance(bank_seed, n, p.as_str())
                })
            };
            let total = store
                .count(sextant_store::Table::Customers)
                .await?
                .min(customers);
            let bar = indicatif::ProgressBar::new(total);
            let cx = experiments::ReplayContext {
                store: store.as_ref(),
                rec: &rec,
                segments: &sextant_intelligence::ModelCache::default(),
                bank: &Default::default(),
                policy: &sextant_intelligence::Policy {
                    consent_defaults: cfg.server.consent_defaults.clone(),
                },
                subject: &subject,
            };
            let started = std::time::Instant::now();
            let r = experiments::replay(&cx, &respond, seed, customers, now, &|n| {
                bar.set_position(n)
            })
            .await?;
            bar.finish_and_clear();
            println!(
                "replayed {} customers in {:.1} s: {} offers, {} accepted, {} dismissed, {} shown nothing (holdout, no-offer arm or guardrails)",
                r.customers,
                started.elapsed().as_secs_f64(),
                r.offers,
                r.accepted,
                r.dismissed,
                r.shown_nothing
            );
            Ok(())
        }
    }
}

fn print_analysis(r: &experiments::Report) {
    let a = &r.analysis;
    println!(
        "experiment '{}' ({}, {}), alpha {}",
        r.experiment.id, r.experiment.kind, r.experiment.status, a.alpha
    );
    println!(
        "{:<14} {:>9} {:>11} {:>10} {:>21} {:>14}",
        "arm", "exposed", "converted", "rate", "interval", "revenue/exp"
    );
    for s in a.arms.iter().chain(a.holdout.iter()) {
        println!(
            "{:<14} {:>9} {:>11} {:>10} {:>21} {:>14}",
            s.name,
            s.exposures,
            s.conversions,
            pct(s.conversion_rate),
            s.conversion_ci.as_ref().map_or("-".into(), |i| format!(
                "[{:.2}%, {:.2}%]",
                100.0 * i.lower,
                100.0 * i.upper
            )),
            s.revenue_per_exposure
                .as_ref()
                .map_or("-".into(), |m| format!("{:.2}", m.mean)),
        );
    }
    for c in &a.comparisons {
        println!(
            "{} vs {}: difference {} {} (lift {}), p = {}, Holm-adjusted p = {}, always-valid p = {:.4} → {}",
            c.treatment,
            c.control,
            c.difference
                .map_or("-".into(), |d| format!("{:+.2} pp", 100.0 * d)),
            c.difference_ci.as_ref().map_or("".into(), |i| format!(
                "[{:+.2}, {:+.2}]",
                100.0 * i.lower,
                100.0 * i.upper
            )),
            pct(c.relative_lift),
            c.p_value.map_or("-".into(), |p| format!("{p:.4}")),
            c.p_value_adjusted.map_or("-".into(), |p| format!("{p:.4}")),
            c.sequential.p_value_always_valid,
            if c.significant {
                "significant"
            } else {
                "not significant"
            }
        );
    }
    println!(
        "sample ratio: χ² p = {} ({})",
        a.srm.p_value.map_or("-".into(), |p| format!("{p:.4}")),
        if a.srm_detected {
            "MISMATCH"
        } else {
            "as designed"
        }
    );
    for w in &a.warnings {
        println!("warning: {w}");
    }
}

/// Read an uplift CSV: every named column must be a finite number on every row.
fn read_uplift(args: &UpliftArgs) -> anyhow::Result<sextant_experiment::UpliftData> {
    let mut rdr = csv::Reader::from_path(&args.data)
        .with_context(|| format!("reading {}", args.data.display()))?;
    let headers: Vec<String> = rdr.headers()?.iter().map(String::from).collect();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).with_context(|| {
            format!(
                "{}: no column '{name}' (columns: {})",
                args.data.display(),
                headers.join(", ")
            )
        })
    };
    let t = col(&args.treatment)?;
    let y = col(&args.outcome)?;
    let covariates: Vec<String> = if args.covariates.is_empty() {
        headers
            .iter()
            .filter(|h| ![&args.treatment, &args.outcome, &args.id].contains(h))
            .cloned()
            .collect()
    } else {
        args.covariates.clone()
    };
    let xs: Vec<usize> = covariates
        .iter()
        .map(|c| col(c))
        .collect::<anyhow::Result<_>>()?;
    let mut data = sextant_experiment::UpliftData {
        covariate_names: covariates.clone(),
        x: Vec::new(),
        treated: Vec::new(),
        outcome: Vec::new(),
    };
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.with_context(|| format!("line {line}"))?;
        let num = |j: usize| -> anyhow::Result<f64> {
            let raw = rec.get(j).unwrap_or("");
            raw.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .with_context(|| {
                    format!(
                        "line {line}, column '{}': '{raw}' is not a number",
                        headers[j]
                    )
                })
        };
        let treated = match rec.get(t).map(str::trim) {
            Some("1") | Some("true") => true,
            Some("0") | Some("false") => false,
            other => anyhow::bail!(
                "line {line}, column '{}': '{}' is not 0 or 1",
                args.treatment,
                other.unwrap_or("")
            ),
        };
        data.treated.push(treated);
        data.outcome.push(num(y)?);
        data.x
            .push(xs.iter().map(|&j| num(j)).collect::<anyhow::Result<_>>()?);
    }
    Ok(data)
}

pub fn uplift(args: &UpliftArgs) -> anyhow::Result<()> {
    let data = read_uplift(args)?;
    let opts = sextant_experiment::UpliftOptions {
        bootstrap: args.bootstrap,
        seed: args.seed,
        ..Default::default()
    };
    let r = sextant_experiment::estimate(&data, &opts)?;
    // The planted truth, when the data is a generated bank's campaign.
    let truth = args
        .data
        .parent()
        .map(|d| d.join("labels").join("campaign_truth.json"))
        .filter(|p| p.exists())
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "report": r, "truth": truth }))?
        );
        return Ok(());
    }
    let ci = |e: &sextant_experiment::uplift::Estimate| {
        e.ci.as_ref().map_or("(no interval)".into(), |i| {
            format!("[{:+.4}, {:+.4}]", i.lower, i.upper)
        })
    };
    println!(
        "{} customers: {} treated, {} not",
        r.n, r.n_treated, r.n_control
    );
    println!(
        "naive difference   {:+.4} {}",
        r.naive.estimate,
        ci(&r.naive)
    );
    if let Some(ipw) = &r.ipw {
        println!(
            "IPW ATE            {:+.4} {}",
            ipw.ate.estimate,
            ci(&ipw.ate)
        );
        println!(
            "IPW ATT            {:+.4} {}",
            ipw.att.estimate,
            ci(&ipw.att)
        );
    }
    if let Some(m) = &r.matching
        && let Some(att) = &m.att
    {
        println!(
            "matching ATT       {:+.4} {} ({} treated matched, {} not)",
            att.estimate,
            ci(att),
            m.matched_treated,
            m.unmatched_treated
        );
    }
    println!("balance (standardized mean difference): before → weighted");
    for b in &r.balance {
        println!(
            "  {:<16} {:+.3} → {:+.3}",
            b.covariate, b.smd_before, b.smd_weighted
        );
    }
    println!(
        "overlap: {:.1}% of propensities outside [0.05, 0.95]; effective sample size treated {:.0}, control {:.0}",
        100.0 * r.overlap.share_outside,
        r.overlap.treated.ess,
        r.overlap.control.ess
    );
    if let Some(t) = &truth {
        println!(
            "planted truth: ATE {} ATT {} (labels/campaign_truth.json)",
            t["ate"], t["att"]
        );
    }
    for w in &r.warnings {
        println!("warning: {w}");
    }
    Ok(())
}

pub async fn kpis(cfg: &Config, args: &KpiArgs) -> anyhow::Result<()> {
    use sextant_outcomes::kpi::GroupBy;
    let group_by = match args.group_by.as_str() {
        "overall" => GroupBy::Overall,
        "segment" => GroupBy::Segment,
        "arm" => GroupBy::Arm,
        other => anyhow::bail!("--group-by: '{other}' is not one of overall, segment, arm"),
    };
    if group_by == GroupBy::Arm && args.experiment.is_none() {
        anyhow::bail!("--group-by arm needs --experiment");
    }
    let store = crate::open(cfg).await?;
    let r = kpis::report(
        store.as_ref(),
        chrono::Utc::now(),
        group_by,
        args.experiment.as_deref(),
    )
    .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!(
        "{:<20} {:>9} {:>11} {:>10} {:>8} {:>10} {:>9} {:>8} {:>12}",
        "group", "customers", "engagement", "active30d", "ctr", "accepted", "dismiss", "nps", "ltv"
    );
    for row in &r.rows {
        println!(
            "{:<20} {:>9} {:>11.1} {:>10} {:>8} {:>10} {:>9} {:>8} {:>12}",
            row.group,
            row.customers,
            row.engagement_mean,
            pct(Some(row.active_30d_share)),
            pct(row.ctr),
            pct(row.acceptance_rate),
            pct(row.dismiss_rate),
            row.nps
                .as_ref()
                .map_or("-".into(), |n| format!("{:.0}", n.score)),
            row.ltv_mean_minor
                .map_or("-".into(), |v| format!("{:.2}", v as f64 / 100.0)),
        );
    }
    Ok(())
}

pub async fn monitor(cfg: &Config, args: &MonitorArgs) -> anyhow::Result<()> {
    let store = crate::open(cfg).await?;
    let r = monitor::report(
        store.as_ref(),
        &Default::default(),
        &Default::default(),
        args.sample,
        chrono::Utc::now(),
    )
    .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!(
        "{} customers compared with each model's training data",
        r.customers
    );
    for m in &r.models {
        let top: Vec<String> = m
            .features
            .iter()
            .take(3)
            .map(|p| format!("{} {:.3}", p.name.trim_start_matches("feature:"), p.value))
            .collect();
        println!(
            "{} v{}: score PSI {} ; largest input PSI: {} ; decay: {}",
            m.model,
            m.version,
            m.score
                .as_ref()
                .map_or("-".into(), |p| format!("{:.3} ({:?})", p.value, p.level)),
            top.join(", "),
            match (&m.decay, &m.decay_note) {
                (Some(d), _) => format!(
                    "AUC {:.3} → {:.3}{}",
                    d.reference_auc,
                    d.current_auc,
                    if d.decayed { " DECAYED" } else { "" }
                ),
                (None, Some(n)) => n.clone(),
                _ => "-".into(),
            }
        );
    }
    for u in &r.unmonitored {
        println!("{u}: no training reference (trained before monitoring; retrain to monitor)");
    }
    for a in &r.alerts {
        println!("alert: {a}");
    }
    Ok(())
}
