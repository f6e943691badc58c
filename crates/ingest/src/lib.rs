//! File import: stream a CSV or JSON Lines file, parse every row into checked domain types, and
//! write it to a [`Store`] in batches inside one import transaction.
//!
//! Architecture invariant: constant memory in file size (one batch in flight on each side of a
//! bounded channel), and nothing becomes visible unless the whole import commits. Parsing runs
//! on a blocking thread while the store writes the previous batch, so the two cores overlap.
//!
//! Default policy is all-or-nothing: any bad row rolls the import back and every error is
//! reported with line, column and reason. With `skip_invalid`, valid rows are written and each
//! rejected row is listed in a rejects file.

mod raw;
mod schema;

pub use raw::{Fields, parse_json_record};
pub use schema::{Row, columns, parse_row};

/// Every column name of `kind`, required and optional.
pub fn known_columns(kind: RecordKind) -> Vec<&'static str> {
    let (req, opt) = columns(kind);
    req.iter().chain(opt).copied().collect()
}

use sextant_store::{Batch, ImportRecord, RecordKind, RowReject, Store, StoreError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One bad row: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    pub line: u64,
    pub column: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}, column {}: {}", self.line, c, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

impl From<RowReject> for RowError {
    fn from(r: RowReject) -> Self {
        Self {
            line: r.line,
            column: r.column.map(str::to_string),
            reason: r.reason,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    /// From the file extension: `.jsonl` / `.ndjson` are JSON Lines, anything else CSV.
    pub fn from_path(path: &Path) -> Self {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("jsonl" | "ndjson") => Format::Jsonl,
            _ => Format::Csv,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Write valid rows and report the others instead of rolling everything back.
    pub skip_invalid: bool,
    /// Where rejected rows are listed (`line,column,reason`) when `skip_invalid` is set.
    /// Default: `<file>.rejects.csv`.
    pub rejects_path: Option<PathBuf>,
    /// Rows per store write.
    pub batch_size: usize,
    /// Errors kept in the report (all are counted, and all go to the rejects file).
    pub max_reported_errors: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            skip_invalid: false,
            rejects_path: None,
            batch_size: 10_000,
            max_reported_errors: 100,
        }
    }
}

/// Progress of a running import.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub bytes_read: u64,
    pub bytes_total: u64,
    pub rows_read: u64,
}

/// What an import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    pub kind: &'static str,
    pub source: String,
    pub rows_read: u64,
    pub rows_rejected: u64,
    /// The first `max_reported_errors` errors, in line order.
    pub errors: Vec<RowError>,
    /// Set when the import committed.
    pub import: Option<ImportRecord>,
    pub rejects_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Header { path: PathBuf, reason: String },
    #[error("{}", rejected_message(.0))]
    Rejected(Box<ImportReport>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn rejected_message(r: &ImportReport) -> String {
    let mut s = format!(
        "{}: {} of {} rows are invalid; nothing was imported (use --skip-invalid to import the valid rows)",
        r.source, r.rows_rejected, r.rows_read
    );
    for e in &r.errors {
        s.push_str("\n  ");
        s.push_str(&e.to_string());
    }
    if r.rows_rejected as usize > r.errors.len() {
        s.push_str(&format!(
            "\n  … and {} more",
            r.rows_rejected as usize - r.errors.len()
        ));
    }
    s
}

enum Msg {
    Batch(Batch, Vec<RowError>),
    Fatal(IngestError),
}

/// Import one file of `kind` into `store`.
pub async fn import_file(
    store: &dyn Store,
    kind: RecordKind,
    path: &Path,
    opts: &ImportOptions,
    progress: impl Fn(Progress) + Send + Sync + 'static,
) -> Result<ImportReport, IngestError> {
    let file = std::fs::File::open(path).map_err(|e| IngestError::Read {
        path: path.into(),
        source: e,
    })?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let format = Format::from_path(path);
    // Header problems are fatal before anything is written.
    let reader = raw::Reader::new(file, format, kind, path)?;

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(2); // bounded: the parser waits for the store
    let batch_size = opts.batch_size.max(1);
    let parse_path = path.to_path_buf();
    let parser = tokio::task::spawn_blocking(move || {
        reader.run(&parse_path, kind, batch_size, total, &tx, &progress)
    });

    let source = path.display().to_string();
    let mut sink = store.begin_import(kind, &source).await?;
    let mut report = ImportReport {
        kind: kind.as_str(),
        source,
        rows_read: 0,
        rows_rejected: 0,
        errors: Vec::new(),
        import: None,
        rejects_file: None,
    };
    let mut rejects = if opts.skip_invalid {
        let p = opts.rejects_path.clone().unwrap_or_else(|| {
            let mut s = path.as_os_str().to_owned();
            s.push(".rejects.csv");
            PathBuf::from(s)
        });
        Some(RejectsFile::create(p)?)
    } else {
        None
    };
    let mut record = |report: &mut ImportReport, errs: Vec<RowError>| -> Result<(), IngestError> {
        for e in errs {
            report.rows_rejected += 1;
            if let Some(r) = rejects.as_mut() {
                r.write(&e)?;
            }
            if report.errors.len() < opts.max_reported_errors {
                report.errors.push(e);
            }
        }
        Ok(())
    };

    let mut fatal = None;
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Fatal(e) => {
                fatal = Some(e);
                break;
            }
            Msg::Batch(batch, errs) => {
                report.rows_read += (batch.len() + errs.len()) as u64;
                record(&mut report, errs)?;
                // All-or-nothing and already failed: keep parsing to report every error, but stop writing.
                if (opts.skip_invalid || report.rows_rejected == 0) && !batch.is_empty() {
                    match sink.write(batch).await {
                        Ok(store_rejects) => record(
                            &mut report,
                            store_rejects.into_iter().map(Into::into).collect(),
                        )?,
                        Err(e) => {
                            fatal = Some(e.into());
                            break;
                        }
                    }
                }
            }
        }
    }
    drop(rx);
    let parsed = parser.await;
    if let Some(e) = fatal {
        sink.rollback().await.ok();
        return Err(e);
    }
    if let Err(e) = parsed {
        sink.rollback().await.ok();
        return Err(IngestError::Store(StoreError::Task(e.to_string())));
    }
    if opts.skip_invalid || report.rows_rejected == 0 {
        let late = sink.finish().await?;
        record(&mut report, late.into_iter().map(Into::into).collect())?;
    }
    report.errors.sort_by_key(|e| e.line);
    if let Some(r) = rejects.take() {
        report.rejects_file = Some(r.finish()?);
    }
    if !opts.skip_invalid && report.rows_rejected > 0 {
        sink.rollback().await?;
        return Err(IngestError::Rejected(Box::new(report)));
    }
    let rec = sink.commit(report.rows_rejected).await?;
    tracing::debug!(import = %rec.id, kind = rec.kind, written = rec.rows_written, new = rec.rows_new,
        rejected = rec.rows_rejected, "import committed");
    report.import = Some(rec);
    Ok(report)
}

struct RejectsFile {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl RejectsFile {
    fn create(path: PathBuf) -> Result<Self, IngestError> {
        let f = std::fs::File::create(&path).map_err(|e| IngestError::Write {
            path: path.clone(),
            source: e,
        })?;
        let mut r = Self {
            path,
            out: std::io::BufWriter::new(f),
        };
        r.line(b"line,column,reason\n")?;
        Ok(r)
    }
    fn line(&mut self, b: &[u8]) -> Result<(), IngestError> {
        self.out.write_all(b).map_err(|e| IngestError::Write {
            path: self.path.clone(),
            source: e,
        })
    }
    fn write(&mut self, e: &RowError) -> Result<(), IngestError> {
        let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let row = format!(
            "{},{},{}\n",
            e.line,
            e.column.as_deref().map(quoted).unwrap_or_default(),
            quoted(&e.reason)
        );
        self.line(row.as_bytes())
    }
    fn finish(mut self) -> Result<PathBuf, IngestError> {
        self.out.flush().map_err(|e| IngestError::Write {
            path: self.path.clone(),
            source: e,
        })?;
        Ok(self.path)
    }
}
