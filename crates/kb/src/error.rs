//! The knowledge base's one error type. Front-matter errors carry the 1-based line and the field
//! at fault; file errors wrap them with the path, so a message points at the exact spot to fix.

use std::path::PathBuf;

/// Everything that can go wrong reading, indexing, searching or evaluating the knowledge base.
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    /// The text does not start with a `---` front-matter line.
    #[error("line {line}: front matter: the document must start with a `---` line")]
    MissingFrontMatter { line: usize },
    /// The opening `---` has no closing `---`.
    #[error("line {line}: front matter: opened here but never closed with a `---` line")]
    UnterminatedFrontMatter { line: usize },
    /// A required field is absent; `line` is the closing `---` of the front matter.
    #[error("line {line}: field `{field}`: missing from the front matter")]
    MissingField { line: usize, field: String },
    /// A field is present but its value (or the line itself) is not acceptable.
    #[error("line {line}: field `{field}`: {reason}")]
    InvalidField {
        line: usize,
        field: String,
        reason: String,
    },
    /// Reading a file or folder failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A document in a file failed to parse; `source` names the line.
    #[error("{}: {source}", path.display())]
    File { path: PathBuf, source: Box<KbError> },
    /// A document's id differs from its file name.
    #[error("{}: id `{id}` must equal the file name `{stem}`", path.display())]
    IdMismatch {
        path: PathBuf,
        id: String,
        stem: String,
    },
    /// Two documents share an id.
    #[error("duplicate document id `{id}`: {first} and {second}")]
    DuplicateId {
        id: String,
        first: String,
        second: String,
    },
    /// A document handed to the index is not acceptable (bad id, duplicate in one batch).
    #[error("document `{id}`: {reason}")]
    InvalidDocument { id: String, reason: String },
    /// The full-text index failed.
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The embedding model failed.
    #[error("embedding: {0}")]
    Embed(#[from] sextant_embed::EmbedError),
    /// The embedding model broke its contract (count or dimension of vectors).
    #[error("embedding: {0}")]
    EmbedContract(String),
    /// A line of a questions file is not a valid question.
    #[error("line {line}: {reason}")]
    Question { line: usize, reason: String },
    /// An evaluation question refers to a document the knowledge base does not hold.
    #[error("question {question:?}: unknown document `{doc_id}`")]
    UnknownDocument { question: String, doc_id: String },
}

impl KbError {
    pub(crate) fn invalid(line: usize, field: &str, reason: impl Into<String>) -> Self {
        KbError::InvalidField {
            line,
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}
