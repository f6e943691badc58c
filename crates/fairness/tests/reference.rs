//! The metrics agree with Fairlearn: `fixtures/credit.csv` is read with `from_csv`, audited, and
//! every group rate and between-group metric is compared with `fixtures/credit.fairlearn.json`
//! (made by `fixtures/make_reference.py`; Python is not needed to run this test).

use std::path::PathBuf;

use serde_json::Value;
use sextant_fairness::{AuditOptions, audit, from_csv};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn close(what: &str, ours: Option<f64>, theirs: &Value) {
    let theirs = theirs
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: no number in the fixture"));
    let ours = ours.unwrap_or_else(|| panic!("{what}: undefined, Fairlearn has {theirs}"));
    assert!(
        (ours - theirs).abs() <= 1e-9,
        "{what}: ours {ours}, Fairlearn {theirs}"
    );
}

#[test]
fn every_metric_matches_fairlearn() {
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("credit.fairlearn.json")).unwrap())
            .unwrap();
    assert!(reference["fairlearn_version"].is_string());
    let attributes = reference["attributes"].as_object().unwrap();
    let names: Vec<&str> = attributes.keys().map(String::as_str).collect();

    let data = from_csv(fixture("credit.csv"), "approved", Some("repaid"), &names).unwrap();
    assert_eq!(data.len(), attributes.len());

    let opts = AuditOptions {
        bootstrap: 200,
        ..AuditOptions::default()
    };
    let mut compared = 0;
    for (attribute, records) in &data {
        assert_eq!(records.len() as u64, reference["rows"].as_u64().unwrap());
        let want = &attributes[attribute.as_str()];
        let report = audit(attribute, records, &opts).unwrap();

        let groups = want["groups"].as_object().unwrap();
        assert_eq!(report.groups.len(), groups.len(), "{attribute}: groups");
        for g in &report.groups {
            let w = &groups[g.group.as_str()];
            let at = |m: &str| format!("{attribute}/{}: {m}", g.group);
            assert_eq!(Some(g.n), w["n"].as_u64(), "{}", at("n"));
            close(
                &at("selection rate"),
                Some(g.selection_rate),
                &w["selection_rate"],
            );
            close(&at("TPR"), g.tpr, &w["tpr"]);
            close(&at("FPR"), g.fpr, &w["fpr"]);
            compared += 3;
        }
        for (ours, key) in [
            (
                &report.demographic_parity_difference,
                "demographic_parity_difference",
            ),
            (&report.disparate_impact_ratio, "demographic_parity_ratio"),
            (
                &report.equal_opportunity_difference,
                "equal_opportunity_difference",
            ),
            (
                &report.equalized_odds_difference,
                "equalized_odds_difference",
            ),
        ] {
            close(&format!("{attribute}: {key}"), ours.value, &want[key]);
            compared += 1;
        }
        assert_eq!(
            report.four_fifths_violation,
            want["demographic_parity_ratio"].as_f64().unwrap() < 0.8
        );
    }
    // 3 attributes: 10 groups × 3 rates + 3 × 4 metrics.
    assert_eq!(compared, 42);
}

#[test]
fn the_fixture_is_non_trivial() {
    // Guards the fixture's purpose: gender fails the four-fifths rule and region passes it, and in
    // region the FPR gap (not the TPR gap) drives equalized odds.
    let data = from_csv(
        fixture("credit.csv"),
        "approved",
        Some("repaid"),
        &["gender", "region"],
    )
    .unwrap();
    let opts = AuditOptions {
        bootstrap: 0,
        ..AuditOptions::default()
    };
    let gender = audit(&data[0].0, &data[0].1, &opts).unwrap();
    let region = audit(&data[1].0, &data[1].1, &opts).unwrap();
    assert!(gender.four_fifths_violation);
    assert!(!region.four_fifths_violation);
    assert!(region.groups.iter().any(|g| g.group == "(missing)"));
    assert!(
        region.equalized_odds_difference.value.unwrap()
            > region.equal_opportunity_difference.value.unwrap()
    );
}
