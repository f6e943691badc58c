//! Invalid input is refused with errors that name the field, the row and the column, and every
//! problem is reported at once.

mod common;

use sextant_experiment::{
    AnalysisError, ArmData, ExperimentSpec, SpecError, UpliftData, UpliftError, UpliftOptions,
    analyze, estimate,
};

fn fields(problems: &[sextant_experiment::FieldProblem]) -> Vec<&str> {
    problems.iter().map(|p| p.field.as_str()).collect()
}

#[test]
fn spec_errors_name_every_field() {
    let spec: ExperimentSpec = serde_json::from_value(serde_json::json!({
        "id": "Bad Id!",
        "name": "",
        "kind": "channel",
        "arms": [
            {"name": "control", "weight": 1},
            {"name": "b", "weight": -1},
            {"name": "b", "weight": 1},
            {"name": "UPPER", "weight": 0}
        ],
        "holdout": 1.0,
        "alpha": 0.5,
        "guardrails": [
            {"metric": "complaint_rate", "max_increase": -0.1},
            {"metric": "complaint_rate", "max_increase": 0.1}
        ],
        "salt": ""
    }))
    .unwrap();
    let err = spec.validate().unwrap_err();
    let SpecError::Invalid(problems) = &err;
    let f = fields(problems);
    for want in [
        "id",
        "name",
        "arms[1].weight",
        "arms[2].name",
        "arms[3].name",
        "arms[3].weight",
        "holdout",
        "alpha",
        "guardrails[0].max_increase",
        "guardrails[1].metric",
        "salt",
    ] {
        assert!(f.contains(&want), "{want} missing from {f:?}");
    }
    let text = err.to_string();
    assert!(
        text.contains("arms[1].weight: must be finite and > 0, got -1"),
        "{text}"
    );
    assert!(
        text.contains("duplicate arm name \"b\" (also arms[1])"),
        "{text}"
    );

    let one_arm = common::spec(&[1.0]);
    assert_eq!(fields(one_arm.validate().unwrap_err().problems()), ["arms"]);
}

#[test]
fn analysis_errors_name_arm_fields() {
    let spec = common::spec(&[1.0, 1.0]);
    let mut t1 = ArmData::new("t1", 10, 11);
    t1.guardrail_events.insert("dismis_rate".into(), 1);
    t1.revenue_sum = 10.0;
    t1.revenue_sum_sq = 1.0; // (Σx)² = 100 > n·Σx² = 10
    let err = analyze(&spec, &[ArmData::new("wrong", 10, 1), t1], None).unwrap_err();
    let AnalysisError::Invalid(problems) = &err else {
        panic!("{err}")
    };
    assert_eq!(
        fields(problems),
        [
            "arms[0].name",
            "arms[1].conversions",
            "arms[1].revenue_sum_sq",
            "arms[1].guardrail_events.dismis_rate"
        ]
    );
    assert!(
        err.to_string().contains("11 exceeds exposures (10)"),
        "{err}"
    );

    let err = analyze(&spec, &[ArmData::new("control", 10, 1)], None).unwrap_err();
    assert!(err.to_string().contains("arms: expected 2 arms"), "{err}");

    let err = analyze(
        &spec,
        &[ArmData::new("control", 10, 1), ArmData::new("t1", 10, 1)],
        Some(&ArmData::new("holdout", 5, 1)),
    )
    .unwrap_err();
    assert!(err.to_string().contains("holdout: data given"), "{err}");

    let mut bad_spec = spec.clone();
    bad_spec.alpha = 0.0;
    let err = analyze(
        &bad_spec,
        &[ArmData::new("control", 10, 1), ArmData::new("t1", 10, 1)],
        None,
    )
    .unwrap_err();
    assert!(matches!(err, AnalysisError::Spec(_)), "{err}");
}

fn small_uplift() -> UpliftData {
    let n = 60;
    UpliftData {
        covariate_names: vec!["age".into(), "engagement".into(), "region".into()],
        x: (0..n)
            .map(|i| vec![20.0 + i as f64, (i % 7) as f64, 1.0])
            .collect(),
        treated: (0..n).map(|i| i % 2 == 0).collect(),
        outcome: (0..n).map(|i| (i % 3 == 0) as u8 as f64).collect(),
    }
}

#[test]
fn uplift_errors_name_row_and_column() {
    let mut d = small_uplift();
    d.x[17][1] = f64::NAN;
    d.outcome[5] = f64::INFINITY;
    let err = estimate(&d, &UpliftOptions::default()).unwrap_err();
    let UpliftError::Invalid(problems) = &err;
    let f = fields(problems);
    assert!(f.contains(&"x[17][1]"), "{f:?}");
    assert!(f.contains(&"outcome[5]"), "{f:?}");
    let text = err.to_string();
    assert!(
        text.contains("covariate \"engagement\" (row 17, column 1) must be finite, got NaN"),
        "{text}"
    );
    // The constant column is named (checked even alongside other problems).
    assert!(
        text.contains("covariate \"region\" (column 2) is constant"),
        "{text}"
    );
}

#[test]
fn uplift_structure_errors() {
    let mut d = small_uplift();
    d.treated.pop();
    d.x[3].push(1.0);
    let err = estimate(&d, &UpliftOptions::default()).unwrap_err();
    let f: Vec<String> = err.problems().iter().map(|p| p.field.clone()).collect();
    assert!(
        f.contains(&"treated".to_string()) && f.contains(&"x[3]".to_string()),
        "{f:?}"
    );

    let mut d = small_uplift();
    for (i, row) in d.x.iter_mut().enumerate() {
        row[2] = i as f64 * 0.5;
    }
    d.treated = (0..60).map(|i| i < 10).collect();
    let err = estimate(&d, &UpliftOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains(
            "treated: needs at least 20 treated and 20 control units, got 10 treated and 50 control"
        ),
        "{err}"
    );

    let d = {
        let mut d = small_uplift();
        d.x.iter_mut()
            .enumerate()
            .for_each(|(i, r)| r[2] = (i % 5) as f64);
        d
    };
    let opts = UpliftOptions {
        bootstrap: 5,
        alpha: 0.7,
        trim: 0.5,
        caliper: 0.0,
        ..UpliftOptions::default()
    };
    let err = estimate(&d, &opts).unwrap_err();
    let f: Vec<&str> = err.problems().iter().map(|p| p.field.as_str()).collect();
    assert_eq!(f, ["bootstrap", "alpha", "trim", "caliper"]);
    // The same data with valid options is accepted.
    estimate(
        &d,
        &UpliftOptions {
            bootstrap: 0,
            ..UpliftOptions::default()
        },
    )
    .unwrap();
}

#[test]
fn options_parse_from_json_with_defaults() {
    let o: UpliftOptions = serde_json::from_str(r#"{"method":"ipw","seed":9}"#).unwrap();
    assert_eq!(o.bootstrap, 200);
    assert_eq!(o.trim, 0.01);
    assert_eq!(o.caliper, 0.2);
    assert_eq!(o.seed, 9);
    assert!(serde_json::from_str::<UpliftOptions>(r#"{"bootstrapp":1}"#).is_err());
}
