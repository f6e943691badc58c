//! Errors from loading the model or running it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A model file is missing; the message says how to fetch it.
    #[error(
        "model file {path} not found: run scripts/setup-models.sh (or set SEXTANT_MODEL_DIR / [assistant] model_dir)"
    )]
    Missing { path: PathBuf },
    /// A model file exists but cannot be read or parsed.
    #[error("model file {path}: {reason}")]
    BadFile { path: PathBuf, reason: String },
    /// Tokenisation or the forward pass failed.
    #[error("embedding inference failed: {0}")]
    Inference(String),
}
