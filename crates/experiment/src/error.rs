//! Errors shared by the modules: a [`FieldProblem`] names one input field and what is wrong with
//! it; each module's error enum carries a list of them so a caller sees every problem at once.

use serde::{Deserialize, Serialize};

/// One problem with one input field, e.g. `arms[1].weight`: `must be > 0 and finite, got -1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    /// Path of the field in the input, in the JSON spelling (`arms[1].weight`, `holdout`).
    pub field: String,
    /// Why the value is refused, in words a console can show.
    pub reason: String,
}

impl FieldProblem {
    /// A problem with `field` for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Joins problems as `a: x; b: y` for an error message.
pub(crate) fn join(problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
