//! The crate's one error type.

/// Why a segmentation call failed. Every variant names the offending value so a caller can
/// report it without looking at the data again.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SegmentError {
    /// `rows * cols` does not match the length of the data buffer.
    #[error("matrix shape {rows}x{cols} needs {expected} values, got {got}")]
    Shape {
        rows: usize,
        cols: usize,
        expected: usize,
        got: usize,
    },
    /// A value is NaN or infinite where only finite values are allowed (k-means input, a
    /// centroid). [`crate::train`] imputes missing values itself; [`crate::kmeans`] does not.
    #[error("non-finite value at row {row}, column {col}")]
    NonFinite { row: usize, col: usize },
    /// There are fewer rows than clusters asked for.
    #[error("{rows} row(s) cannot form {k} cluster(s)")]
    TooFewRows { rows: usize, k: usize },
    /// A vector has the wrong number of features.
    #[error("expected {expected} feature(s), got {got}")]
    FeatureCount { expected: usize, got: usize },
    /// Every feature column was missing for more than half of the rows.
    #[error("no usable feature: every column is missing (NaN) for more than half of the rows")]
    NoUsableFeatures,
    /// A configuration value makes no sense (k = 0, an empty k range, …).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
}
