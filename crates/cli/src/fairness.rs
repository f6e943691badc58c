//! `sextant audit fairness`: group fairness metrics over any CSV (`--data`) or over the offers
//! recorded in the database (`--source offers`), as a table or JSON, optionally gated by
//! thresholds (a non-zero exit when one is violated).

use crate::config::Config;
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use sextant_fairness::{AuditOptions, Record, Thresholds, audit, check, from_csv, render_table};

#[derive(Clone, Copy, ValueEnum)]
pub enum Source {
    /// Offers shown to customers (impression events) and whether they were accepted.
    Offers,
}

#[derive(Args)]
pub struct FairnessArgs {
    /// A CSV file with one decision per row (instead of --source).
    #[arg(long, conflicts_with = "source")]
    data: Option<std::path::PathBuf>,
    /// Decisions recorded in the database.
    #[arg(long, value_enum)]
    source: Option<Source>,
    /// Column holding the decision (1/0, true/false, yes/no). With --data.
    #[arg(long, requires = "data")]
    pred: Option<String>,
    /// Column holding the true outcome, for equal opportunity and equalized odds. With --data.
    #[arg(long, requires = "data")]
    label: Option<String>,
    /// Protected attribute columns, comma-separated (for --source offers: gender, age_band, region).
    #[arg(long, value_delimiter = ',', default_value = "gender,age_band,region")]
    protected: Vec<String>,
    /// Bootstrap replicates for the confidence intervals.
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// TOML thresholds (e.g. `min_disparate_impact_ratio = 0.8`); any violation exits non-zero.
    #[arg(long)]
    thresholds: Option<std::path::PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(cfg: &Config, args: &FairnessArgs) -> anyhow::Result<()> {
    let groups: Vec<(String, Vec<Record>)> = match (&args.data, args.source) {
        (Some(path), _) => {
            let pred = args
                .pred
                .as_deref()
                .context("--pred COLUMN is required with --data")?;
            let protected: Vec<&str> = args.protected.iter().map(String::as_str).collect();
            from_csv(path, pred, args.label.as_deref(), &protected)?
        }
        (None, Some(Source::Offers)) => {
            let store = crate::open(cfg).await?;
            let rows = store.offer_outcomes().await?;
            if rows.is_empty() {
                bail!(
                    "no offers with protected attributes in {}",
                    crate::redact(&cfg.database)
                );
            }
            let mut out = Vec::new();
            for attr in &args.protected {
                let records = rows
                    .iter()
                    .map(|(p, accepted)| {
                        let g = match attr.as_str() {
                            "gender" => p.gender.clone(),
                            "age_band" => p.age_band.clone(),
                            "region" => p.region.clone(),
                            "ethnicity" => p.ethnicity.clone(),
                            other => bail!("--protected: unknown attribute '{other}' (gender, age_band, region, ethnicity)"),
                        };
                        Ok(Record::unlabelled(g.unwrap_or_else(|| sextant_fairness::MISSING_GROUP.into()), *accepted))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                out.push((attr.clone(), records));
            }
            out
        }
        (None, None) => bail!("give --data FILE --pred COLUMN, or --source offers"),
    };
    let opts = AuditOptions {
        bootstrap: args.bootstrap,
        seed: args.seed,
        ..Default::default()
    };
    let reports = groups
        .iter()
        .map(|(attr, records)| audit(attr, records, &opts))
        .collect::<Result<Vec<_>, _>>()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        print!("{}", render_table(&reports));
    }
    if let Some(path) = &args.thresholds {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let t: Thresholds = toml_thresholds(&text)
            .with_context(|| format!("{} is not a thresholds file", path.display()))?;
        let violations: Vec<_> = reports.iter().flat_map(|r| check(r, &t)).collect();
        if !violations.is_empty() {
            for v in &violations {
                eprintln!("violation: {v}");
            }
            bail!("{} fairness threshold(s) violated", violations.len());
        }
    }
    Ok(())
}

fn toml_thresholds(text: &str) -> anyhow::Result<Thresholds> {
    use figment::providers::{Format, Toml};
    Ok(figment::Figment::from(Toml::string(text)).extract()?)
}
