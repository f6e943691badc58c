//! `sextant features` and `sextant segment`: the batch feature table and segment models
//! (train, list, promote, show personas, assign one customer).

use crate::config::Config;
use anyhow::bail;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use sextant_core::{AuditRecord, CustomerId};
use sextant_intelligence::{ModelCache, Policy};

#[derive(Subcommand)]
pub enum FeaturesCommand {
    /// Recompute the feature table for every customer with profiling consent (and remove it for
    /// customers without).
    Refresh {
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Subcommand)]
pub enum SegmentCommand {
    /// Train a segment model on the feature table (run `features refresh` first).
    Train {
        /// Macro segments.
        #[arg(long, default_value_t = 4, conflicts_with = "choose_k")]
        macro_k: usize,
        /// Micro segments per macro segment (at most 15 leaves in all).
        #[arg(long, default_value_t = 3, conflicts_with = "choose_k")]
        micro_k: usize,
        /// Choose both by silhouette instead (macro in 2..=5, micro in 1..=4 per segment; a
        /// segment is only split when the split is clearly better).
        #[arg(long)]
        choose_k: bool,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Serve this model from now on and assign every customer.
        #[arg(long)]
        promote: bool,
    },
    /// Models with their versions, sizes and training-data hashes.
    List,
    /// Serve model VERSION from now on (also the way to roll back).
    Promote { version: i64 },
    /// The personas of the promoted model (or --version).
    Show {
        #[arg(long)]
        version: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Assign one customer now (needs profiling consent).
    Assign { id: String },
}

fn policy(cfg: &Config) -> Policy {
    Policy {
        consent_defaults: cfg.server.consent_defaults.clone(),
    }
}

pub async fn features(cfg: &Config, cmd: FeaturesCommand) -> anyhow::Result<()> {
    let FeaturesCommand::Refresh { quiet } = cmd;
    let store = crate::open(cfg).await?;
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("features [{bar:30}] {pos}/{len} customers eta {eta}")?
            .progress_chars("=> "),
    );
    let b = bar.clone();
    let started = std::time::Instant::now();
    let summary = sextant_intelligence::refresh_features(
        store.as_ref(),
        &policy(cfg),
        chrono::Utc::now(),
        &move |done, total| {
            b.set_length(total);
            b.set_position(done);
        },
    )
    .await?;
    bar.finish_and_clear();
    println!(
        "features v{}: computed for {} customers, none for {} without profiling consent, in {:.1} s",
        sextant_features_version(),
        summary.computed,
        summary.without_consent,
        started.elapsed().as_secs_f64()
    );
    store
        .append_audit(AuditRecord {
            actor: "cli".into(),
            action: "features.refresh".into(),
            subject: format!("features-v{}", sextant_features_version()),
            details: serde_json::json!({ "computed": summary.computed, "without_consent": summary.without_consent }),
        })
        .await?;
    Ok(())
}

fn sextant_features_version() -> u32 {
    sextant_intelligence::feature_version()
}

pub async fn segment(cfg: &Config, cmd: SegmentCommand) -> anyhow::Result<()> {
    let store = crate::open(cfg).await?;
    match cmd {
        SegmentCommand::Train {
            macro_k,
            micro_k,
            choose_k,
            seed,
            promote,
        } => {
            if !choose_k && !(1..=15).contains(&(macro_k * micro_k)) {
                bail!(
                    "--macro-k × --micro-k must give 1 to 15 segments, not {}",
                    macro_k * micro_k
                );
            }
            let (macro_k, micro_k) = if choose_k {
                (None, None)
            } else {
                (Some(macro_k), Some(micro_k))
            };
            let seg_cfg = sextant_segment::SegmentConfig {
                macro_k,
                micro_k,
                seed,
                ..Default::default()
            };
            let started = std::time::Instant::now();
            let (version, model) =
                sextant_intelligence::train_segments(store.as_ref(), &seg_cfg, promote).await?;
            println!(
                "segment model v{version}: {} leaves over {} customers (silhouette {:.3}) in {:.1} s{}",
                model.leaf_count(),
                model.trained_on,
                model.silhouette,
                started.elapsed().as_secs_f64(),
                if promote { ", promoted" } else { "" }
            );
            print_personas(&model.personas);
            store
                .append_audit(AuditRecord {
                    actor: "cli".into(),
                    action: "segment.train".into(),
                    subject: format!("segment-model-v{version}"),
                    details: serde_json::json!({ "leaves": model.leaf_count(), "trained_on": model.trained_on, "promoted": promote }),
                })
                .await?;
        }
        SegmentCommand::List => {
            for m in store.list_segment_models().await? {
                let at = chrono::DateTime::from_timestamp_micros(m.created_at).unwrap_or_default();
                println!(
                    "v{}  {}  features v{}  {} customers  data {}{}",
                    m.version,
                    at.format("%Y-%m-%d %H:%M"),
                    m.feature_version,
                    m.trained_on,
                    &m.data_hash[..16],
                    if m.promoted { "  (promoted)" } else { "" }
                );
            }
        }
        SegmentCommand::Promote { version } => {
            if !store.promote_segment_model(version).await? {
                bail!("no segment model v{version}");
            }
            store
                .append_audit(AuditRecord {
                    actor: "cli".into(),
                    action: "segment.promote".into(),
                    subject: format!("segment-model-v{version}"),
                    details: serde_json::json!({}),
                })
                .await?;
            println!(
                "segment model v{version} is now served (customers are reassigned as they are scored)"
            );
        }
        SegmentCommand::Show { version, json } => {
            let Some(record) = store.segment_model(version).await? else {
                bail!(
                    "no segment model {}",
                    version
                        .map(|v| format!("v{v}"))
                        .unwrap_or_else(|| "promoted yet".into())
                );
            };
            let model: sextant_segment::SegmentModel = serde_json::from_str(&record.model)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&model.personas)?);
            } else {
                println!(
                    "segment model v{} ({} customers; features: {})",
                    record.version,
                    record.trained_on,
                    model.feature_names.join(", ")
                );
                print_personas(&model.personas);
            }
        }
        SegmentCommand::Assign { id } => {
            let id = CustomerId::parse(&id).map_err(|e| anyhow::anyhow!("customer id: {e}"))?;
            let cache = ModelCache::default();
            let s = sextant_intelligence::assign_online(store.as_ref(), &cache, &id, &policy(cfg))
                .await?;
            println!(
                "{}: {} — {} (model v{})",
                id, s.assignment.segment_id, s.persona.name, s.model_version
            );
            println!("  {}", s.persona.description);
        }
    }
    Ok(())
}

fn print_personas(personas: &[sextant_segment::Persona]) {
    for p in personas {
        println!(
            "  {:<6} {:>5.1}%  {}  [{} · {} · {} engagement · {}]",
            p.segment_id,
            p.share * 100.0,
            p.name,
            p.tags.risk_appetite,
            p.tags.spending_style,
            p.tags.engagement,
            p.tags.life_stage
        );
        println!("         {}", p.description);
    }
}
