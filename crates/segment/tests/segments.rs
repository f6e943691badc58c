//! The hierarchy, personas, missing values, online assignment and persistence.

mod common;

use std::collections::HashSet;

use common::{profile_names, profile_table, rng};
use rand::Rng;
use sextant_segment::persona::{ENGAGEMENT_LEVELS, LIFE_STAGES, RISK_APPETITES, SPENDING_STYLES};
use sextant_segment::{Matrix, SegmentConfig, SegmentError, SegmentModel, train, train_labeled};

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn cfg(seed: u64) -> SegmentConfig {
    SegmentConfig {
        seed,
        restarts: 3,
        ..SegmentConfig::default()
    }
}

#[test]
fn profile_only_dataset_trains_with_valid_unique_personas() {
    let data = profile_table(2000, 42);
    let (model, leaves) = train_labeled(&data, &profile_names(), &cfg(1)).unwrap();
    assert_eq!(model.dropped_features, names(&["tenure_years"]));
    assert_eq!(model.feature_names.len(), 7);
    assert!(!model.feature_names.contains(&"tenure_years".to_string()));
    let n_leaves = model.leaf_count();
    assert!((2..=15).contains(&n_leaves), "{n_leaves} leaves");
    assert_eq!(model.personas.len(), n_leaves);
    assert_eq!(model.trained_on, 2000);
    assert_eq!(leaves.len(), 2000);

    let unique: HashSet<&str> = model.personas.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(unique.len(), n_leaves, "names must be unique");
    let ids: HashSet<&str> = model
        .personas
        .iter()
        .map(|p| p.segment_id.as_str())
        .collect();
    assert_eq!(ids.len(), n_leaves);
    let mut total = 0;
    for p in &model.personas {
        assert!(RISK_APPETITES.contains(&p.tags.risk_appetite.as_str()));
        assert!(SPENDING_STYLES.contains(&p.tags.spending_style.as_str()));
        assert!(ENGAGEMENT_LEVELS.contains(&p.tags.engagement.as_str()));
        assert!(LIFE_STAGES.contains(&p.tags.life_stage.as_str()));
        assert!(
            !p.name.is_empty() && p.description.starts_with("Average age "),
            "{p:?}"
        );
        assert_eq!(p.distinguishing.len(), 3);
        assert!(p.size > 0);
        total += p.size;
    }
    assert_eq!(total, 2000);
    // The data has young adventurous spenders and retired cautious savers; some persona
    // should say so.
    assert!(
        model
            .personas
            .iter()
            .any(|p| p.tags.life_stage == "retired" && p.tags.risk_appetite == "cautious")
    );
    assert!(
        model
            .personas
            .iter()
            .any(|p| p.tags.life_stage == "starting out" && p.tags.spending_style == "spender")
    );
    assert!(model.silhouette > 0.2, "{}", model.silhouette);
}

#[test]
fn assigning_a_training_row_gives_its_training_leaf() {
    let data = profile_table(1500, 7);
    let (model, leaves) = train_labeled(&data, &profile_names(), &cfg(3)).unwrap();
    let mut same = 0;
    for (r, &leaf) in leaves.iter().enumerate() {
        let a = model.assign(data.row(r)).unwrap();
        assert_eq!(a.segment_id, model.personas[a.leaf].segment_id);
        assert!(
            a.segment_id
                .starts_with(&format!("S{}.", a.macro_segment + 1))
        );
        same += usize::from(a.leaf == leaf);
    }
    // Same preparation, same arithmetic: every row, not just most.
    assert_eq!(same, data.rows);
}

#[test]
fn missing_values_drop_columns_and_impute_in_assign() {
    let mut r = rng(5);
    let n = 400;
    let mut data = Vec::new();
    for i in 0..n {
        let g = (i % 2) as f64;
        let a = g * 8.0 + r.random::<f64>();
        let b = if i % 10 == 0 {
            f64::NAN
        } else {
            g * 5.0 + r.random::<f64>()
        };
        // Missing for 60% of rows: dropped.
        let c = if i % 5 < 3 {
            f64::NAN
        } else {
            r.random::<f64>()
        };
        data.extend([a, b, c]);
    }
    let data = Matrix::new(n, 3, data).unwrap();
    let input = names(&["monthly_spend", "income_annual", "recency_days"]);
    let model = train(
        &data,
        &input,
        &SegmentConfig {
            macro_k: Some(2),
            micro_k: Some(1),
            ..cfg(2)
        },
    )
    .unwrap();
    assert_eq!(
        model.feature_names,
        names(&["monthly_spend", "income_annual"])
    );
    assert_eq!(model.dropped_features, names(&["recency_days"]));
    assert_eq!(model.used_columns, vec![0, 1]);
    assert_eq!(model.leaf_count(), 2);
    // Imputation mean = mean of the present values.
    let present: Vec<f64> = (0..n)
        .map(|i| data.row(i)[1])
        .filter(|v| v.is_finite())
        .collect();
    let mean = present.iter().sum::<f64>() / present.len() as f64;
    assert!((model.impute_means[1] - mean).abs() < 1e-9);
    // assign: a missing value behaves exactly like the imputation mean …
    let with_nan = model.assign(&[3.0, f64::NAN]).unwrap();
    let with_mean = model.assign(&[3.0, model.impute_means[1]]).unwrap();
    assert_eq!(with_nan, with_mean);
    // … and a full input row (with the dropped column) is accepted too.
    assert_eq!(model.assign(&[3.0, f64::NAN, 0.5]).unwrap(), with_mean);
    assert_eq!(
        model
            .assign_named(&names(&["monthly_spend"]), &[3.0])
            .unwrap(),
        with_mean
    );
    assert!(matches!(
        model.assign(&[1.0]),
        Err(SegmentError::FeatureCount {
            expected: 2,
            got: 1
        })
    ));
}

#[test]
fn all_features_missing_is_an_error() {
    let data = Matrix::new(3, 1, vec![f64::NAN, f64::NAN, 1.0]).unwrap();
    assert!(matches!(
        train(&data, &names(&["age"]), &cfg(0)),
        Err(SegmentError::NoUsableFeatures)
    ));
}

#[test]
fn leaf_cap_is_respected() {
    let data = profile_table(1200, 9);
    let model = train(
        &data,
        &profile_names(),
        &SegmentConfig {
            macro_k: Some(5),
            micro_k: Some(4),
            max_leaves: 7,
            ..cfg(4)
        },
    )
    .unwrap();
    assert_eq!(model.macro_model.k(), 5);
    assert_eq!(model.leaf_count(), 7);
    let unique: HashSet<&str> = model.personas.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(unique.len(), 7);
}

#[test]
fn training_is_deterministic_and_serde_round_trip_assigns_identically() {
    let data = profile_table(800, 11);
    let a = train(&data, &profile_names(), &cfg(5)).unwrap();
    let b = train(&data, &profile_names(), &cfg(5)).unwrap();
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );

    let json = serde_json::to_string(&a).unwrap();
    let back: SegmentModel = serde_json::from_str(&json).unwrap();
    assert_eq!(back.personas, a.personas);
    for r in 0..data.rows {
        assert_eq!(
            back.assign(data.row(r)).unwrap(),
            a.assign(data.row(r)).unwrap()
        );
    }
    // A brand-new customer.
    let new = [33.0, 51_000.0, 1.0, 2.0, f64::NAN, 0.2, 2.0, f64::NAN];
    assert_eq!(back.assign(&new).unwrap(), a.assign(&new).unwrap());
}
