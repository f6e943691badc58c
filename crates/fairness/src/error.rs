//! The crate's one error type.

use std::path::PathBuf;

/// Why an audit or a CSV read failed. Row errors carry the file line (the header is line 1) and
/// the column name; the caller adds the file name.
#[derive(Debug, thiserror::Error)]
pub enum FairnessError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not well-formed CSV (e.g. a row with the wrong number of fields).
    #[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Csv { line: Option<u64>, message: String },
    /// Requested columns are not in the header.
    #[error("missing column(s): {} (the header has: {})", missing.join(", "), header.join(", "))]
    MissingColumns {
        missing: Vec<String>,
        header: Vec<String>,
    },
    /// A requested column appears more than once in the header, so it is ambiguous.
    #[error("column {0} appears more than once in the header")]
    DuplicateColumn(String),
    /// A cell could not be read.
    #[error("line {line}, column {column}: {reason}")]
    BadValue {
        line: u64,
        column: String,
        reason: String,
    },
    /// There is nothing to audit.
    #[error("no records to audit for attribute {attribute}")]
    NoRecords { attribute: String },
    /// The audit options or arguments make no sense (e.g. a confidence of 1.5).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}
