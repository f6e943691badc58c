//! The model record the registry stores next to a trained model: what was trained, on which data
//! (by hash), with which parameters, and how well it did in cross-validation.

use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, Schema};
use crate::evaluate::{Evaluation, TrainParams};

/// A trained model's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Version assigned by the registry (e.g. `"churn-3"`).
    pub version: String,
    /// When training finished, RFC 3339 UTC, supplied by the caller (this crate reads no clock).
    pub trained_at: String,
    /// SHA-256 of the training data ([`Dataset::content_hash`]).
    pub data_hash: String,
    /// Rows trained on.
    pub rows: usize,
    /// Positive rows.
    pub positives: usize,
    /// Feature names, in model input order.
    pub feature_names: Vec<String>,
    /// How raw rows become features (column types, levels, target labels).
    pub schema: Schema,
    /// Training parameters.
    pub params: TrainParams,
    /// Cross-validated metrics, when an evaluation was run.
    pub metrics: Option<Evaluation>,
    /// This crate's version.
    pub library_version: String,
}

impl ModelCard {
    /// A record for a model trained on `data` with `params`.
    pub fn new(
        version: impl Into<String>,
        trained_at: impl Into<String>,
        data: &Dataset,
        params: &TrainParams,
        metrics: Option<Evaluation>,
    ) -> ModelCard {
        ModelCard {
            version: version.into(),
            trained_at: trained_at.into(),
            data_hash: data.content_hash(),
            rows: data.rows,
            positives: data.positives(),
            feature_names: data.feature_names.clone(),
            schema: data.schema.clone(),
            params: params.clone(),
            metrics,
            library_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}
