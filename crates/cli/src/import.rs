//! `sextant import`: one file, or a whole generated bank directory in dependency order.

use crate::config::Config;
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use sextant_core::AuditRecord;
use sextant_ingest::{ImportOptions, ImportReport, IngestError, import_file};
use sextant_store::{RecordKind, Store};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Copy, ValueEnum)]
pub enum KindArg {
    Customers,
    Accounts,
    Transactions,
    Products,
    Messages,
    Events,
    Consents,
    /// A directory written by `sextant generate`.
    Bank,
}

#[derive(Args)]
pub struct ImportArgs {
    /// What the file holds.
    #[arg(value_enum)]
    kind: KindArg,
    /// CSV, or JSON Lines (`.jsonl`); a directory for `bank`.
    path: PathBuf,
    /// Import the valid rows and list the others in a rejects file, instead of importing nothing.
    #[arg(long)]
    skip_invalid: bool,
    /// Where to write rejected rows (default: FILE.rejects.csv).
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// Rows per database write.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    batch_size: u32,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

pub async fn run(cfg: &Config, args: &ImportArgs) -> anyhow::Result<()> {
    let store = crate::open(cfg).await?;
    let opts = ImportOptions {
        skip_invalid: args.skip_invalid,
        rejects_path: args.rejects.clone(),
        batch_size: args.batch_size as usize,
        ..Default::default()
    };
    let kind = match args.kind {
        KindArg::Customers => RecordKind::Customers,
        KindArg::Accounts => RecordKind::Accounts,
        KindArg::Transactions => RecordKind::Transactions,
        KindArg::Products => RecordKind::Products,
        KindArg::Messages => RecordKind::Messages,
        KindArg::Events => RecordKind::Events,
        KindArg::Consents => RecordKind::Consents,
        KindArg::Bank => return import_bank(store.as_ref(), &args.path, &opts, args.quiet).await,
    };
    import_one(store.as_ref(), kind, &args.path, &opts, args.quiet).await?;
    Ok(())
}

/// The files of a generated bank, in the order references require.
pub fn bank_files(dir: &Path) -> anyhow::Result<Vec<(RecordKind, PathBuf)>> {
    if !dir.is_dir() {
        bail!(
            "{} is not a directory written by `sextant generate`",
            dir.display()
        );
    }
    let customers = if dir.join("customers_full.csv").exists() {
        "customers_full.csv"
    } else {
        "customers.csv"
    };
    let plan = [
        (RecordKind::Products, "products.csv"),
        (RecordKind::Customers, customers),
        (RecordKind::Accounts, "accounts.csv"),
        (RecordKind::Transactions, "transactions.csv"),
        (RecordKind::Messages, "messages.csv"),
        (RecordKind::Events, "events.csv"),
        (RecordKind::Consents, "consents.csv"),
    ];
    let mut out = Vec::new();
    for (kind, name) in plan {
        let p = dir.join(name);
        if !p.exists() && kind == RecordKind::Consents {
            continue; // banks generated before consents were part of the synthetic bank
        }
        if !p.exists() {
            bail!("{} is missing {name}", dir.display());
        }
        out.push((kind, p));
    }
    Ok(out)
}

pub async fn import_bank(
    store: &dyn Store,
    dir: &Path,
    opts: &ImportOptions,
    quiet: bool,
) -> anyhow::Result<()> {
    for (kind, path) in bank_files(dir)? {
        import_one(store, kind, &path, opts, quiet).await?;
    }
    Ok(())
}

pub async fn import_one(
    store: &dyn Store,
    kind: RecordKind,
    path: &Path,
    opts: &ImportOptions,
    quiet: bool,
) -> anyhow::Result<ImportReport> {
    let total = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>14} [{bar:30}] {bytes}/{total_bytes} {per_sec} eta {eta}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_message(kind.as_str());
    let b = bar.clone();
    let started = Instant::now();
    let result = import_file(store, kind, path, opts, move |p| {
        b.set_position(p.bytes_read)
    })
    .await;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    match result {
        Ok(report) => {
            let rec = report
                .import
                .as_ref()
                .expect("a committed import has a record");
            println!(
                "{}: {} rows read, {} written ({} new), {} rejected in {:.1} s ({:.0} rows/s) [{}]",
                path.display(),
                report.rows_read,
                rec.rows_written,
                rec.rows_new,
                report.rows_rejected,
                secs,
                report.rows_read as f64 / secs.max(1e-9),
                rec.id
            );
            for e in &report.errors {
                println!("  rejected {e}");
            }
            if let Some(f) = &report.rejects_file {
                println!("  rejected rows listed in {}", f.display());
            }
            store
                .append_audit(AuditRecord {
                    actor: "cli".into(),
                    action: format!("import.{}", kind.as_str()),
                    subject: rec.id.clone(),
                    details: serde_json::json!({
                        "written": rec.rows_written, "new": rec.rows_new, "rejected": report.rows_rejected
                    }),
                })
                .await?;
            Ok(report)
        }
        Err(IngestError::Rejected(report)) => {
            Err(anyhow::Error::new(IngestError::Rejected(report)))
        }
        Err(e) => Err(e).with_context(|| format!("importing {}", path.display())),
    }
}
