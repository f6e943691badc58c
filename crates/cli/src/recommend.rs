//! `sextant recommend`: check the rules file against the catalog, train the collaborative-
//! filtering model, recommend for one customer (a real, recorded decision), show the bandit's
//! arms, evaluate offline by replay, and simulate the bandit's regret.

use crate::config::Config;
use anyhow::{Context, bail};
use clap::Subcommand;
use sextant_core::{AuditRecord, CustomerId};
use sextant_intelligence::recommend as nba;
use sextant_store::Store;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum RecommendCommand {
    /// Validate a rules file (default: the configured one) against the catalog in the database.
    CheckRules { file: Option<PathBuf> },
    /// Train collaborative filtering over every customer's holdings and accepted offers.
    Train,
    /// Recommend for one customer now (recorded and audited like an API call).
    Show {
        id: String,
        #[arg(long, default_value = "app")]
        channel: String,
        #[arg(long, default_value_t = 3)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// The bandit's per-arm statistics.
    Arms,
    /// Offline evaluation by replay: train on what was known at --cutoff, score the offers
    /// accepted after it (hit-rate@k and NDCG@k against popularity and rules-only baselines).
    Evaluate(crate::replay::EvaluateArgs),
    /// Write resolved review cases as a labelled CSV for retraining (1 = approved or modified,
    /// 0 = rejected), with the bandit context and scores of each decision:
    /// `sextant model train --data FILE --target label --id review_id --exclude ...` reads it.
    Labels {
        #[arg(long)]
        out: PathBuf,
    },
    /// Simulate the bandit against a known environment and print cumulative regret.
    Simulate {
        #[arg(long, default_value_t = 20_000)]
        rounds: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

/// The rules text: the configured file, or the demo rules built in.
pub fn rules_text(cfg: &Config, file: Option<&std::path::Path>) -> anyhow::Result<String> {
    let path = file
        .map(|p| p.display().to_string())
        .or_else(|| cfg.recommend.rules_file.clone());
    match path {
        None => Ok(sextant_recommend::rules::DEMO_RULES.to_string()),
        Some(p) => std::fs::read_to_string(&p).with_context(|| format!("reading rules file {p}")),
    }
}

pub async fn run(cfg: &Config, cmd: RecommendCommand) -> anyhow::Result<()> {
    let store = crate::open(cfg).await?;
    match cmd {
        RecommendCommand::CheckRules { file } => {
            let text = rules_text(cfg, file.as_deref())?;
            let rec = nba::Recommender::load(store.as_ref(), &text).await?;
            println!(
                "rules version {}: {} products with rules, all valid against the catalog",
                rec.rules().version(),
                rec.rules().products.len()
            );
            Ok(())
        }
        RecommendCommand::Train => train(store.as_ref()).await,
        RecommendCommand::Show {
            id,
            channel,
            limit,
            json,
        } => {
            let id = CustomerId::parse(&id).map_err(|e| anyhow::anyhow!("customer id: {e}"))?;
            let rec = nba::Recommender::load(store.as_ref(), &rules_text(cfg, None)?).await?;
            let master = crate::secrets::load(cfg)?;
            let out = nba::recommend(
                store.as_ref(),
                &rec,
                &sextant_intelligence::ModelCache::default(),
                &Default::default(),
                &id,
                &sextant_intelligence::Policy {
                    consent_defaults: cfg.server.consent_defaults.clone(),
                },
                &nba::Ask {
                    channel,
                    limit: limit.clamp(1, 10),
                    actor: "cli".into(),
                    subject: master.pseudonymizer().customer(&id),
                    now: chrono::Utc::now(),
                },
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print_recommended(&out);
            }
            Ok(())
        }
        RecommendCommand::Arms => {
            let rec = nba::Recommender::load(store.as_ref(), &rules_text(cfg, None)?).await?;
            let stats = rec.arm_stats(store.as_ref()).await?;
            if stats.is_empty() {
                println!("no feedback yet");
            }
            println!(
                "{:<14} {:>7} {:>7} {:>7} {:>8} {:>11}",
                "arm", "pulls", "clicks", "accepts", "dismiss", "mean reward"
            );
            for s in stats {
                println!(
                    "{:<14} {:>7} {:>7} {:>7} {:>8} {:>11.3}",
                    s.arm, s.pulls, s.clicks, s.accepts, s.dismisses, s.mean_reward
                );
            }
            Ok(())
        }
        RecommendCommand::Labels { out } => labels(store.as_ref(), &out).await,
        RecommendCommand::Evaluate(args) => crate::replay::run(store.as_ref(), cfg, &args).await,
        RecommendCommand::Simulate { rounds, seed } => {
            let rules = sextant_recommend::Rules::from_toml(
                sextant_recommend::rules::DEMO_RULES,
                &store.list_products().await?,
            );
            let config = match rules {
                Ok(r) => r.bandit_config(),
                Err(_) => sextant_recommend::BanditConfig::default(),
            };
            if rounds < 100 {
                bail!("--rounds: at least 100");
            }
            let curve = sextant_recommend::eval::simulate_bandit(&config, rounds, seed);
            println!(
                "{:>8} {:>16} {:>14}",
                "round", "cumulative regret", "regret/round"
            );
            let mut last = (0u64, 0.0f64);
            let step = (rounds / 20).max(1);
            for (round, regret) in curve
                .into_iter()
                .filter(|(r, _)| r % step == 0 || *r == rounds)
            {
                let per = (regret - last.1) / (round - last.0).max(1) as f64;
                println!("{round:>8} {regret:>16.2} {per:>14.4}");
                last = (round, regret);
            }
            Ok(())
        }
    }
}

fn print_recommended(out: &nba::Recommended) {
    if out.recommendations.is_empty() {
        println!("no recommendation for customer {}", out.customer_id);
    }
    for (i, s) in out.recommendations.iter().enumerate() {
        let r = &s.recommendation;
        println!(
            "{}. {} ({}) score {:.2}, confidence {:.2}  [{}]",
            i + 1,
            r.product_name,
            r.product_id,
            r.score,
            r.confidence,
            s.decision_id
        );
        println!("   {}", r.explanation);
        for reason in r.reasons.iter().take(3) {
            println!("   - {}", reason.text);
        }
    }
    for h in &out.held_for_review {
        println!(
            "held for review: {} ({}) — {}",
            h.product_id,
            h.review_id,
            serde_json::to_string(&h.reason).unwrap_or_default()
        );
    }
    for b in &out.blocked {
        println!(
            "blocked: {} by {}: {}",
            b.product_id,
            serde_json::to_value(b.guardrail)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            b.reason
        );
    }
    if out.cold_start {
        println!("(cold start: no history or features for this customer)");
    }
}

/// Train collaborative filtering from every customer's holdings and accepted offers and store
/// it; servers pick it up within a second.
pub async fn train(store: &dyn Store) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let mut after: Option<CustomerId> = None;
    loop {
        let page = store.product_sets(after.as_ref(), 5000).await?;
        let done = page.len() < 5000;
        after = page.last().map(|(c, _)| c.clone());
        for (c, products) in page {
            let segment = store.get_segment(&c).await?.map(|s| s.segment_id);
            rows.push((products, segment));
        }
        if done {
            break;
        }
    }
    if rows.is_empty() {
        bail!("no customer holds or has accepted any product: import accounts and events first");
    }
    let model = sextant_recommend::CfModel::train(&rows);
    let body = serde_json::to_string(&model)?;
    store.put_recommender_model(nba::CF_MODEL, &body).await?;
    store
        .append_audit(AuditRecord {
            actor: "cli".into(),
            action: "recommend.train".into(),
            subject: "cf".into(),
            details: serde_json::json!({ "customers": rows.len() }),
        })
        .await?;
    println!(
        "collaborative filtering trained on {} customers' holdings and acceptances",
        rows.len()
    );
    Ok(())
}

/// Resolved review cases as training labels (see `RecommendCommand::Labels`).
async fn labels(store: &dyn Store, out: &std::path::Path) -> anyhow::Result<()> {
    let rows = nba::review_labels(store).await?;
    let mut w =
        csv::Writer::from_path(out).with_context(|| format!("writing {}", out.display()))?;
    let mut header: Vec<String> = [
        "review_id",
        "decision_id",
        "product_id",
        "family",
        "reason",
        "prior",
        "propensity",
        "confidence",
        "value",
    ]
    .map(String::from)
    .to_vec();
    header.extend((0..sextant_recommend::bandit::D).map(|i| format!("context_{i}")));
    header.push("label".into());
    w.write_record(&header)?;
    for r in &rows {
        let mut row = vec![
            r.review_id.clone(),
            r.decision_id.clone(),
            r.product_id.clone(),
            r.family.clone(),
            r.reason.clone(),
            r.prior.to_string(),
            r.propensity.to_string(),
            r.confidence.to_string(),
            r.value.to_string(),
        ];
        row.extend(r.context.iter().map(f64::to_string));
        row.push(if r.label { "1" } else { "0" }.into());
        w.write_record(&row)?;
    }
    w.flush()?;
    println!(
        "{} resolved review cases written to {}",
        rows.len(),
        out.display()
    );
    Ok(())
}
