//! `sextant model`: gradient-boosted trees with exact SHAP explanations (and a logistic
//! baseline) on any CSV with a binary target — evaluate, train into the registry, explain a row,
//! list, and promote behind an optional fairness gate.
//!
//! Protected attributes are never features by accident: a column named like one (gender, sex,
//! age_band, ethnicity, race, religion, region, nationality, marital_status, disability) stops
//! training unless it is excluded or explicitly allowed with `--allow-protected`.

use crate::config::Config;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use sextant_core::AuditRecord;
use sextant_models::{
    Dataset, Gbdt, GbdtParams, ModelCard, TrainParams, evaluate, reason_codes, render_table,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const PROTECTED: &[&str] = &[
    "gender",
    "sex",
    "age_band",
    "ethnicity",
    "race",
    "religion",
    "region",
    "nationality",
    "marital_status",
    "disability",
];

#[derive(Args)]
pub struct DataArgs {
    /// A CSV with a header row.
    #[arg(long)]
    data: PathBuf,
    /// The binary target column.
    #[arg(long)]
    target: String,
    /// A row-id column (not a feature).
    #[arg(long)]
    id: Option<String>,
    /// Columns to leave out, comma-separated.
    #[arg(long, value_delimiter = ',')]
    exclude: Vec<String>,
    /// Protected-attribute columns to use as features anyway (an explicit operator decision).
    #[arg(long, value_delimiter = ',')]
    allow_protected: Vec<String>,
    /// perpetual's complexity budget (higher: more trees, slower).
    #[arg(long, default_value_t = 0.5)]
    budget: f32,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Folds for Platt calibration (each one an extra fit); 0 = no calibration.
    #[arg(long, default_value_t = 3)]
    calibration_folds: usize,
}

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Cross-validated ROC-AUC, PR-AUC, log loss, Brier and precision/recall for the GBDT and the
    /// logistic baseline.
    Evaluate {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, default_value_t = 5)]
        folds: usize,
        /// Decision threshold for precision/recall.
        #[arg(long, default_value_t = 0.5)]
        threshold: f64,
        #[arg(long)]
        json: bool,
    },
    /// Train a calibrated GBDT and register it as NAME (a new version).
    Train {
        #[command(flatten)]
        data: DataArgs,
        /// Registry name, e.g. credit_default.
        #[arg(long)]
        name: String,
    },
    /// SHAP values and reason codes for one row of a CSV under a registered model.
    Explain {
        /// NAME (the promoted version) or NAME:VERSION.
        #[arg(long)]
        model: String,
        #[arg(long)]
        data: PathBuf,
        /// 1-based data row (line 2 of the file is row 1).
        #[arg(long, default_value_t = 1)]
        row: usize,
    },
    /// Train one of the bank's own models from the feature definitions, point in time: features
    /// as of the cutoff, outcomes after it (customers with profiling consent only).
    TrainBank {
        /// churn, credit-default, or propensity:<product family> (e.g. propensity:savings).
        #[arg(long, value_parser = sextant_intelligence::bank_models::Target::parse)]
        target: sextant_intelligence::bank_models::Target,
        /// The cutoff (RFC 3339); default: 90 days before now.
        #[arg(long)]
        cutoff: Option<String>,
        #[arg(long, default_value_t = 0.5)]
        budget: f32,
        /// Serve the new version (after the fairness gate, if --thresholds is given).
        #[arg(long)]
        promote: bool,
        /// TOML fairness thresholds; a violation by gender, age band or region blocks --promote.
        #[arg(long)]
        thresholds: Option<PathBuf>,
    },
    /// Transaction fraud / anomaly scores: train the isolation forest on every consenting
    /// customer's debits, score one customer's recent debits, or evaluate against labels.
    Anomalies {
        /// Train a new version on the bank's transactions (and promote it unless --no-promote).
        #[arg(long)]
        train: bool,
        #[arg(long, requires = "train")]
        no_promote: bool,
        /// Trees in the forest.
        #[arg(long, default_value_t = 150)]
        trees: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Score this customer's most recent debits with the promoted model.
        #[arg(long)]
        customer: Option<String>,
        /// How many of the customer's debits.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Evaluate the promoted model against a CSV whose first column is a fraud
        /// transaction id (e.g. the synthetic bank's labels/fraud.csv).
        #[arg(long)]
        labels: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Write the point-in-time table a bank model learns from as CSV: `customer_id`, the model
    /// features (empty when missing) and `label` — e.g. for `model evaluate` or another library.
    ExportBank {
        /// churn, credit-default, or propensity:<product family>.
        #[arg(long, value_parser = sextant_intelligence::bank_models::Target::parse)]
        target: sextant_intelligence::bank_models::Target,
        /// The cutoff (RFC 3339); default: 90 days before now.
        #[arg(long)]
        cutoff: Option<String>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Registered models with their data hashes and metrics.
    List,
    /// Serve NAME:VERSION from now on; with --thresholds, only if it passes the fairness gate on
    /// --fairness-data.
    Promote {
        /// NAME:VERSION.
        model: String,
        /// TOML fairness thresholds (e.g. `min_disparate_impact_ratio = 0.8`).
        #[arg(long, requires = "fairness_data")]
        thresholds: Option<PathBuf>,
        /// Validation CSV with the model's columns plus protected-attribute columns.
        #[arg(long, requires = "thresholds")]
        fairness_data: Option<PathBuf>,
        /// Protected-attribute columns in --fairness-data.
        #[arg(long, value_delimiter = ',', default_value = "gender,age_band,region")]
        protected: Vec<String>,
        /// Outcome column in --fairness-data, for equal opportunity and equalized odds.
        #[arg(long)]
        label: Option<String>,
    },
}

fn header(path: &Path) -> anyhow::Result<Vec<String>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(r.headers()
        .with_context(|| format!("reading the header of {}", path.display()))?
        .iter()
        .map(str::to_string)
        .collect())
}

/// Refuse protected attributes as features unless excluded or explicitly allowed.
fn check_protected(cols: &[String], a: &DataArgs) -> anyhow::Result<()> {
    for c in cols {
        let lower = c.to_ascii_lowercase();
        let used = c != &a.target && Some(c) != a.id.as_ref() && !a.exclude.contains(c);
        if used && PROTECTED.contains(&lower.as_str()) && !a.allow_protected.contains(c) {
            bail!(
                "column '{c}' is a protected attribute and would become a model feature: leave it out with --exclude {c} \
                 (or use it knowingly with --allow-protected {c})"
            );
        }
    }
    Ok(())
}

fn load(a: &DataArgs) -> anyhow::Result<Dataset> {
    check_protected(&header(&a.data)?, a)?;
    let exclude: Vec<&str> = a.exclude.iter().map(String::as_str).collect();
    let data = Dataset::from_csv(&a.data, &a.target, a.id.as_deref(), &exclude)?;
    for w in &data.warnings {
        eprintln!("warning: {w}");
    }
    Ok(data)
}

fn params(a: &DataArgs) -> TrainParams {
    TrainParams {
        gbdt: GbdtParams {
            budget: a.budget,
            seed: a.seed,
            calibration_folds: a.calibration_folds,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn split(spec: &str) -> anyhow::Result<(String, Option<i64>)> {
    match spec.split_once(':') {
        Some((n, v)) => Ok((
            n.to_string(),
            Some(
                v.parse()
                    .with_context(|| format!("'{v}' is not a version number"))?,
            ),
        )),
        None => Ok((spec.to_string(), None)),
    }
}

/// One CSV row (1-based data row) as a column → value map.
fn csv_row(path: &Path, row: usize) -> anyhow::Result<HashMap<String, String>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = r.headers()?.clone();
    let rec = r
        .records()
        .nth(row.checked_sub(1).context("--row counts from 1")?)
        .with_context(|| format!("{} has no data row {row}", path.display()))??;
    Ok(headers
        .iter()
        .zip(rec.iter())
        .map(|(h, v)| (h.to_string(), v.to_string()))
        .collect())
}

pub async fn run(cfg: &Config, cmd: ModelCommand) -> anyhow::Result<()> {
    match cmd {
        ModelCommand::Evaluate {
            data,
            folds,
            threshold,
            json,
        } => {
            let ds = load(&data)?;
            let mut p = params(&data);
            p.threshold = threshold;
            let e =
                tokio::task::spawn_blocking(move || evaluate(&ds, folds, data.seed, &p)).await??;
            if json {
                println!("{}", serde_json::to_string_pretty(&e)?);
            } else {
                print!("{}", render_table(&e));
            }
        }
        ModelCommand::Train { data, name } => {
            let ds = load(&data)?;
            let p = params(&data);
            let started = std::time::Instant::now();
            let gbdt_params = p.gbdt.clone();
            let (ds, model) = tokio::task::spawn_blocking(move || {
                let m = Gbdt::fit(&ds, &gbdt_params);
                (ds, m)
            })
            .await?;
            let model = model?;
            let store = crate::open(cfg).await?;
            let now = chrono::Utc::now();
            let card = ModelCard::new("pending", now.to_rfc3339(), &ds, &p, None);
            let version = store
                .save_model(
                    &name,
                    now.timestamp_micros(),
                    &serde_json::to_string(&card)?,
                    &model.to_json()?,
                )
                .await?;
            store
                .append_audit(AuditRecord {
                    actor: "cli".into(),
                    action: "model.train".into(),
                    subject: format!("{name}:{version}"),
                    details: serde_json::json!({ "rows": ds.rows, "data_hash": card.data_hash, "features": ds.cols }),
                })
                .await?;
            println!(
                "registered {name}:{version}: {} trees over {} rows × {} features in {:.1} s (data {})",
                model.trees(),
                ds.rows,
                ds.cols,
                started.elapsed().as_secs_f64(),
                &card.data_hash[..16]
            );
        }
        ModelCommand::Explain { model, data, row } => {
            let (name, version) = split(&model)?;
            let store = crate::open(cfg).await?;
            let rec = store
                .get_model(&name, version)
                .await?
                .with_context(|| format!("no model {model} (promote one, or give NAME:VERSION)"))?;
            let card: ModelCard = serde_json::from_str(&rec.card)?;
            let gbdt = Gbdt::from_json(&rec.model)?;
            let values = csv_row(&data, row)?;
            let x = card.schema.encode(|c| values.get(c).map(String::as_str));
            let e = gbdt.explain(&x)?;
            println!(
                "{}:{} row {row}: probability {:.3} (calibrated {:.3}); log-odds {:.4} = base {:.4} + Σ SHAP {:.4}",
                rec.name,
                rec.version,
                e.probability,
                gbdt.calibrated_proba(&x)?,
                e.raw_score,
                e.base_value,
                e.shap_total()
            );
            for c in e.ranked().iter().take(10) {
                println!("  {:>+9.4}  {} = {}", c.shap, c.feature, c.value);
            }
            for r in reason_codes(&e, 3) {
                println!("  reason: {r}");
            }
        }
        ModelCommand::TrainBank {
            target,
            cutoff,
            budget,
            promote,
            thresholds,
        } => {
            use sextant_intelligence::bank_models::train;
            let cutoff = bank_cutoff(cutoff)?;
            let store = crate::open(cfg).await?;
            let policy = policy_of(cfg);
            let started = std::time::Instant::now();
            let t = train(store.as_ref(), &policy, target, cutoff, budget).await?;
            let violations = match &thresholds {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let th: sextant_fairness::Thresholds = {
                        use figment::providers::{Format, Toml};
                        figment::Figment::from(Toml::string(&text))
                            .extract()
                            .with_context(|| {
                                format!("{} is not a thresholds file", path.display())
                            })?
                    };
                    t.violations(&th)
                }
                None => Vec::new(),
            };
            print!("{}", sextant_fairness::render_table(&t.fairness));
            for v in &violations {
                eprintln!("violation: {v}");
            }
            let promote = promote && violations.is_empty();
            if promote {
                store.promote_model(t.name, t.version).await?;
            } else if !violations.is_empty() {
                store
                    .append_audit(AuditRecord {
                        actor: "cli".into(),
                        action: "model.promotion_blocked".into(),
                        subject: format!("{}:{}", t.name, t.version),
                        details: serde_json::json!({ "violations": violations.iter().map(|v| v.to_string()).collect::<Vec<_>>() }),
                    })
                    .await?;
            }
            store
                .append_audit(AuditRecord {
                    actor: "cli".into(),
                    action: "model.train".into(),
                    subject: format!("{}:{}", t.name, t.version),
                    details: serde_json::json!({ "rows": t.rows, "positives": t.positives, "data_hash": t.data_hash,
                        "cutoff": cutoff.to_rfc3339(), "promoted": promote }),
                })
                .await?;
            println!(
                "registered {}:{}: {} trees over {} customers ({} positive) as of {} in {:.1} s{}",
                t.name,
                t.version,
                t.trees,
                t.rows,
                t.positives,
                cutoff.format("%Y-%m-%d"),
                started.elapsed().as_secs_f64(),
                if promote { ", promoted" } else { "" }
            );
            if let Some((gbdt, logistic)) = t.cv_roc_auc {
                println!("  3-fold CV ROC-AUC: GBDT {gbdt:.3}, logistic baseline {logistic:.3}");
            }
            if !violations.is_empty() {
                bail!(
                    "{}:{} is registered but was not promoted: {} fairness threshold(s) violated",
                    t.name,
                    t.version,
                    violations.len()
                );
            }
        }
        ModelCommand::Anomalies {
            train,
            no_promote,
            trees,
            seed,
            customer,
            limit,
            labels,
            json,
        } => {
            anomalies(
                cfg,
                train,
                !no_promote,
                trees,
                seed,
                customer,
                limit,
                labels,
                json,
            )
            .await?
        }
        ModelCommand::ExportBank {
            target,
            cutoff,
            out,
        } => {
            let cutoff = bank_cutoff(cutoff)?;
            let store = crate::open(cfg).await?;
            let policy = policy_of(cfg);
            let t = sextant_intelligence::bank_models::training_set(
                store.as_ref(),
                &policy,
                target,
                cutoff,
            )
            .await?;
            let mut w = csv::Writer::from_path(&out)
                .with_context(|| format!("writing {}", out.display()))?;
            let mut header = vec!["customer_id".to_string()];
            header.extend(t.names.iter().cloned());
            header.push("label".into());
            w.write_record(&header)?;
            let d = t.names.len();
            for (i, id) in t.ids.iter().enumerate() {
                let mut rec = vec![id.to_string()];
                rec.extend(t.x[i * d..(i + 1) * d].iter().map(|v| {
                    if v.is_nan() {
                        String::new()
                    } else {
                        v.to_string()
                    }
                }));
                rec.push((t.y[i] as u8).to_string());
                w.write_record(&rec)?;
            }
            w.flush()?;
            println!(
                "wrote {}: {} rows ({} positive), {} features, as of {}",
                out.display(),
                t.ids.len(),
                t.y.iter().filter(|&&v| v == 1.0).count(),
                d,
                cutoff.format("%Y-%m-%d")
            );
        }
        ModelCommand::List => {
            let store = crate::open(cfg).await?;
            for m in store.list_models().await? {
                // Every card has these fields (GBDT model cards and the anomaly forest's).
                #[derive(serde::Deserialize)]
                struct Summary {
                    rows: usize,
                    feature_names: Vec<String>,
                    data_hash: String,
                }
                let card: Summary = serde_json::from_str(&m.card)?;
                let at = chrono::DateTime::from_timestamp_micros(m.created_at).unwrap_or_default();
                println!(
                    "{}:{}  {}  {} rows, {} features, data {}{}",
                    m.name,
                    m.version,
                    at.format("%Y-%m-%d %H:%M"),
                    card.rows,
                    card.feature_names.len(),
                    &card.data_hash[..16.min(card.data_hash.len())],
                    if m.promoted { "  (promoted)" } else { "" }
                );
            }
        }
        ModelCommand::Promote {
            model,
            thresholds,
            fairness_data,
            protected,
            label,
        } => {
            let (name, version) = split(&model)?;
            let version = version.context("give NAME:VERSION")?;
            let store = crate::open(cfg).await?;
            let rec = store
                .get_model(&name, Some(version))
                .await?
                .with_context(|| format!("no model {model}"))?;
            if let (Some(t), Some(path)) = (thresholds, fairness_data) {
                let violations = fairness_gate(&rec, &t, &path, &protected, label.as_deref())?;
                if !violations.is_empty() {
                    for v in &violations {
                        eprintln!("violation: {v}");
                    }
                    store
                        .append_audit(AuditRecord {
                            actor: "cli".into(),
                            action: "model.promotion_blocked".into(),
                            subject: model.clone(),
                            details: serde_json::json!({ "violations": violations.iter().map(|v| v.to_string()).collect::<Vec<_>>() }),
                        })
                        .await?;
                    bail!(
                        "{model} was not promoted: {} fairness threshold(s) violated",
                        violations.len()
                    );
                }
            }
            store.promote_model(&name, version).await?;
            store
                .append_audit(AuditRecord {
                    actor: "cli".into(),
                    action: "model.promote".into(),
                    subject: model.clone(),
                    details: serde_json::json!({}),
                })
                .await?;
            println!("{model} is now the promoted version of {name}");
        }
    }
    Ok(())
}

/// Score every row of `path` with the model and audit the decisions (score ≥ 0.5) by each
/// protected column; returns the threshold violations.
fn fairness_gate(
    rec: &sextant_store::ModelRecord,
    thresholds: &Path,
    path: &Path,
    protected: &[String],
    label: Option<&str>,
) -> anyhow::Result<Vec<sextant_fairness::Violation>> {
    let card: ModelCard = serde_json::from_str(&rec.card)?;
    let gbdt = Gbdt::from_json(&rec.model)?;
    let text = std::fs::read_to_string(thresholds)
        .with_context(|| format!("reading {}", thresholds.display()))?;
    let t: sextant_fairness::Thresholds = {
        use figment::providers::{Format, Toml};
        figment::Figment::from(Toml::string(&text))
            .extract()
            .with_context(|| format!("{} is not a thresholds file", thresholds.display()))?
    };
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = r.headers()?.clone();
    for p in protected.iter().map(String::as_str).chain(label) {
        if !headers.iter().any(|h| h == p) {
            bail!("{} has no column '{p}'", path.display());
        }
    }
    let mut groups: Vec<Vec<sextant_fairness::Record>> = vec![Vec::new(); protected.len()];
    for (i, rec) in r.records().enumerate() {
        let rec = rec.with_context(|| format!("{} line {}", path.display(), i + 2))?;
        let values: HashMap<&str, &str> = headers.iter().zip(rec.iter()).collect();
        let x = card.schema.encode(|c| values.get(c).copied());
        let pred = gbdt.calibrated_proba(&x)? >= 0.5;
        let truth = label.map(|l| {
            matches!(
                values[l].trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes"
            )
        });
        for (g, p) in groups.iter_mut().zip(protected) {
            let group = values[p.as_str()].to_string();
            g.push(match truth {
                Some(t) => sextant_fairness::Record::new(group, pred, t),
                None => sextant_fairness::Record::unlabelled(group, pred),
            });
        }
    }
    let opts = sextant_fairness::AuditOptions {
        bootstrap: 200,
        ..Default::default()
    };
    let mut violations = Vec::new();
    for (records, p) in groups.iter().zip(protected) {
        let report = sextant_fairness::audit(p, records, &opts)?;
        print!(
            "{}",
            sextant_fairness::render_table(std::slice::from_ref(&report))
        );
        violations.extend(sextant_fairness::check(&report, &t));
    }
    Ok(violations)
}

#[allow(clippy::too_many_arguments)]
async fn anomalies(
    cfg: &Config,
    train: bool,
    promote: bool,
    trees: usize,
    seed: u64,
    customer: Option<String>,
    limit: usize,
    labels: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<()> {
    use sextant_intelligence::anomaly;
    if !train && customer.is_none() && labels.is_none() {
        anyhow::bail!("give --train, --customer ID or --labels FILE");
    }
    let store = crate::open(cfg).await?;
    let policy = policy_of(cfg);
    if train {
        let params = sextant_models::anomaly::ForestParams {
            trees,
            seed,
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let t = anomaly::train(store.as_ref(), &policy, &params, promote).await?;
        println!(
            "{}:{}  {} debits of {} customers, data {}, {:.1} s{}",
            anomaly::ANOMALY_MODEL,
            t.version,
            t.rows,
            t.customers,
            &t.data_hash[..16],
            started.elapsed().as_secs_f64(),
            if t.promoted { ", promoted" } else { "" }
        );
    }
    if let Some(path) = labels {
        let rec = store
            .get_model(anomaly::ANOMALY_MODEL, None)
            .await?
            .context("no anomaly model is promoted: run `sextant model anomalies --train`")?;
        let forest = sextant_models::anomaly::IsolationForest::from_json(&rec.model)?;
        let mut r =
            csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
        let mut frauds = std::collections::HashSet::new();
        for rec in r.records() {
            let rec = rec.with_context(|| format!("reading {}", path.display()))?;
            frauds.insert(rec.get(0).unwrap_or_default().to_string());
        }
        let e =
            anomaly::evaluate(store.as_ref(), &policy, &forest, &frauds, &[10, 50, 100]).await?;
        if json {
            println!("{}", serde_json::to_string_pretty(&e)?);
        } else {
            println!(
                "{} debits scored, {} labelled fraud; model {}:{}",
                e.transactions,
                e.frauds,
                anomaly::ANOMALY_MODEL,
                rec.version
            );
            println!("{:<10} {:>8}  precision@k", "score", "ROC-AUC");
            for (name, q) in [
                ("forest", &e.forest),
                ("baseline", &e.baseline),
                ("combined", &e.combined),
            ] {
                let p: Vec<String> = q
                    .precision_at
                    .iter()
                    .map(|(k, p)| format!("@{k} {p:.3}"))
                    .collect();
                println!("{name:<10} {:>8.4}  {}", q.roc_auc, p.join("  "));
            }
        }
    }
    if let Some(id) = customer {
        let id =
            sextant_core::CustomerId::parse(&id).map_err(|e| anyhow::anyhow!("--customer: {e}"))?;
        let cache = anomaly::ForestCache::default();
        let a = anomaly::score_customer(store.as_ref(), &cache, &id, &policy, limit).await?;
        if json {
            println!("{}", serde_json::to_string_pretty(&a)?);
        } else {
            for t in &a.transactions {
                println!(
                    "{:.3}  {}  {:>10} {}  {}  {}",
                    t.score,
                    t.timestamp.format("%Y-%m-%d %H:%M"),
                    t.amount,
                    t.country,
                    t.merchant.as_deref().unwrap_or("-"),
                    t.status
                );
                for r in &t.reasons {
                    println!("       - {r}");
                }
            }
        }
    }
    Ok(())
}

/// `--cutoff` for the bank's models: the given time, or 90 days ago.
fn bank_cutoff(cutoff: Option<String>) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    Ok(match cutoff {
        Some(c) => sextant_core::transaction::parse_timestamp(&c)
            .map_err(|e| anyhow::anyhow!("--cutoff: {e}"))?,
        None => chrono::Utc::now() - chrono::Duration::days(90),
    })
}

/// What may be derived about customers, as configured.
fn policy_of(cfg: &Config) -> sextant_intelligence::Policy {
    sextant_intelligence::Policy {
        consent_defaults: cfg.server.consent_defaults.clone(),
    }
}
