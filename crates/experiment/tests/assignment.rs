//! Sticky assignment: deterministic, proportional to the weights, holdout first, reshuffled by
//! a new salt and unmoved by changes that do not touch the split.

mod common;

use sextant_experiment::{Assignment, assign};

fn counts(spec: &sextant_experiment::ExperimentSpec, n: usize) -> (Vec<usize>, usize) {
    let mut arms = vec![0; spec.arms.len()];
    let mut holdout = 0;
    for i in 0..n {
        match assign(spec, &format!("cust-{i}")) {
            Assignment::Holdout => holdout += 1,
            Assignment::Arm { index, name } => {
                assert_eq!(name, spec.arms[index].name);
                arms[index] += 1;
            }
        }
    }
    (arms, holdout)
}

#[test]
fn deterministic() {
    let s = common::spec(&[1.0, 1.0, 1.0]);
    for i in 0..1000 {
        let id = format!("c{i}");
        assert_eq!(assign(&s, &id), assign(&s, &id));
    }
    let json = serde_json::to_string(&assign(&s, "c1")).unwrap();
    assert!(json.starts_with(r#"{"kind":"#), "{json}");
}

#[test]
fn proportions_follow_weights_within_one_percent() {
    let s = common::spec(&[1.0, 2.0, 1.0]);
    let n = 100_000;
    let (arms, holdout) = counts(&s, n);
    assert_eq!(holdout, 0);
    for (got, want) in arms.iter().zip([0.25, 0.5, 0.25]) {
        let share = *got as f64 / n as f64;
        assert!((share - want).abs() < 0.01, "{arms:?}");
    }
}

#[test]
fn holdout_share_and_arm_split() {
    let mut s = common::spec(&[3.0, 1.0]);
    s.holdout = 0.2;
    let n = 100_000;
    let (arms, holdout) = counts(&s, n);
    assert!((holdout as f64 / n as f64 - 0.2).abs() < 0.01, "{holdout}");
    assert!((arms[0] as f64 / n as f64 - 0.6).abs() < 0.01, "{arms:?}");
    assert!((arms[1] as f64 / n as f64 - 0.2).abs() < 0.01, "{arms:?}");
}

#[test]
fn new_salt_reshuffles() {
    let a = common::spec(&[1.0, 1.0]);
    let mut b = a.clone();
    b.salt = Some("another-salt".into());
    let n = 10_000;
    let moved = (0..n)
        .filter(|i| {
            let id = format!("cust-{i}");
            assign(&a, &id) != assign(&b, &id)
        })
        .count();
    // Independent 50/50 splits disagree for about half of the customers.
    let share = moved as f64 / n as f64;
    assert!((0.45..0.55).contains(&share), "{share}");
}

#[test]
fn unrelated_changes_move_nobody() {
    let a = common::spec(&[1.0, 1.0, 2.0]);
    let mut b = a.clone();
    b.name = "Renamed".into();
    b.alpha = 0.01;
    b.arms[1].config = serde_json::json!({"template": "short"});
    b.guardrails.push(sextant_experiment::Guardrail {
        metric: sextant_experiment::GuardrailMetric::ComplaintRate,
        max_increase: 0.01,
    });
    // The salt defaults to the id: spelling it out changes nothing either.
    b.salt = Some(a.id.clone());
    let round_trip: sextant_experiment::ExperimentSpec =
        serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    for i in 0..5000 {
        let id = format!("cust-{i}");
        let want = assign(&a, &id);
        assert_eq!(assign(&b, &id), want);
        assert_eq!(assign(&round_trip, &id), want);
    }
}
