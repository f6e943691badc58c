//! The crate's one error type. Messages are written for the analyst running the CLI: they name
//! the file, line and column at fault and say what would have been accepted.

use std::path::PathBuf;

/// Everything that can go wrong while loading data, training, evaluating or explaining.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file has no header row, or a header but no data rows.
    #[error("{path} is empty: {what}")]
    EmptyFile {
        /// The file.
        path: PathBuf,
        /// `"no header row"` or `"no data rows"`.
        what: &'static str,
    },
    /// A line of the file is not valid UTF-8.
    #[error("line {line}: not valid UTF-8 (save the file as UTF-8)")]
    NotUtf8 {
        /// 1-based line number in the file.
        line: u64,
    },
    /// A data row has a different number of fields than the header.
    #[error("line {line}: {found} fields, but the header has {expected}")]
    RaggedRow {
        /// 1-based line number in the file.
        line: u64,
        /// Fields in the header.
        expected: usize,
        /// Fields on this line.
        found: usize,
    },
    /// The CSV reader failed for another reason (e.g. an unterminated quote).
    #[error("line {line}: malformed CSV: {reason}")]
    Csv {
        /// 1-based line number, 0 when unknown.
        line: u64,
        /// The reader's message.
        reason: String,
    },
    /// Two header fields have the same name.
    #[error("column `{name}` appears more than once in the header")]
    DuplicateColumn {
        /// The repeated name.
        name: String,
    },
    /// A column named on the command line is not in the header.
    #[error("{role} column `{name}` not found; the columns are: {available}")]
    MissingColumn {
        /// `"target"`, `"id"` or `"excluded"`.
        role: &'static str,
        /// The name asked for.
        name: String,
        /// The header, comma-separated.
        available: String,
    },
    /// A data row has no target value.
    #[error("line {line}: target column `{column}` is empty")]
    MissingTarget {
        /// 1-based line number.
        line: u64,
        /// The target column.
        column: String,
    },
    /// The target has a single distinct value.
    #[error("target column `{column}` has only one class (`{value}`); a binary target needs two")]
    TargetOneClass {
        /// The target column.
        column: String,
        /// Its only value.
        value: String,
    },
    /// The target has more than two distinct values.
    #[error(
        "target column `{column}` has {count} distinct values ({examples}); a binary target needs exactly two"
    )]
    TargetNotBinary {
        /// The target column.
        column: String,
        /// How many distinct values.
        count: usize,
        /// The first few, comma-separated.
        examples: String,
    },
    /// No column is left to learn from.
    #[error("no usable feature columns{detail}")]
    NoFeatures {
        /// Why, e.g. which columns were dropped.
        detail: String,
    },
    /// Inputs that do not fit together (row length, fold count, parameters).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The gradient-boosting library refused to train.
    #[error("gradient boosting failed: {0}")]
    Boosting(String),
    /// (De)serialising a model failed.
    #[error("model serialisation failed: {0}")]
    Serde(#[from] serde_json::Error),
}
