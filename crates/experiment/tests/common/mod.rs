//! Shared helpers of the integration tests (each test binary includes it with `mod common`).

#![allow(dead_code)]

use sextant_experiment::{Arm, ExperimentKind, ExperimentSpec};

/// A valid spec with arms named `control`, `t1`, `t2`, … and the given weights.
pub fn spec(weights: &[f64]) -> ExperimentSpec {
    ExperimentSpec {
        id: "exp-1".into(),
        name: "Test experiment".into(),
        kind: ExperimentKind::Strategy,
        arms: weights
            .iter()
            .enumerate()
            .map(|(i, &w)| Arm {
                name: if i == 0 {
                    "control".into()
                } else {
                    format!("t{i}")
                },
                weight: w,
                config: serde_json::Value::Null,
            })
            .collect(),
        holdout: 0.0,
        allocation: Default::default(),
        alpha: 0.05,
        guardrails: Vec::new(),
        salt: None,
    }
}
