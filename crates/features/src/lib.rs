//! The feature store's definitions: one function, [`compute`], defines every customer feature,
//! and both batch training and online scoring call it, so the features a model was trained on are
//! the features it is served.
//!
//! Architecture invariant: pure — no I/O, no async, no database. The store persists the
//! [`FeatureVector`]s computed here as a table keyed by customer and [`FEATURE_VERSION`]; the
//! server keeps them in memory for online scoring and recomputes with the same function.
//!
//! Protected attributes (gender, age band, region, ethnicity) are never features: they are not
//! part of [`CustomerData`] at all (`sextant_core::ProtectedAttributes` is a separate type).
//!
//! Boundary: [`CustomerData`] in; [`FeatureVector`] (serde, `NaN` as JSON `null`) out;
//! [`FEATURES`] names each value.

mod compute;
mod defs;
mod vector;

pub use compute::{compute, is_spend_debit};
pub use defs::{FEATURES, FeatureDef, FeatureGroup, index_of, profile_feature_indices};
pub use vector::FeatureVector;

use chrono::{DateTime, Utc};
use sextant_core::{Account, Customer, Transaction};

/// Version of [`FEATURES`] and their definitions; stored with every vector. Bump it whenever a
/// feature is added, removed, reordered or computed differently.
pub const FEATURE_VERSION: u32 = 2; // v2: holdings judged by dates, not end-of-data status

/// Everything known about one customer at a point in time: the input of [`compute`].
#[derive(Debug, Clone, Copy)]
pub struct CustomerData<'a> {
    pub customer: &'a Customer,
    /// The customer's accounts, in any order.
    pub accounts: &'a [Account],
    /// The customer's transactions, in any order; those after `as_of` are ignored.
    pub transactions: &'a [Transaction],
    /// The moment the features describe: now online, the label date in training.
    pub as_of: DateTime<Utc>,
}
