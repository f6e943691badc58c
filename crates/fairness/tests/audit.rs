//! Behaviour of the public API: hand-computed metrics, the four-fifths flag, undefined metrics,
//! the bootstrap, CSV input and its error messages, thresholds, the table and the JSON shape.

use std::io::Write;

use sextant_fairness::{
    AuditOptions, FairnessError, MetricKind, Record, Thresholds, audit, check, from_csv,
    render_table,
};

/// `tp` approved positives, `fn_` rejected positives, `fp` approved negatives, `tn` rejected
/// negatives.
fn group(name: &str, tp: usize, fn_: usize, fp: usize, tn: usize) -> Vec<Record> {
    let mut v = Vec::new();
    v.extend((0..tp).map(|_| Record::new(name, true, true)));
    v.extend((0..fn_).map(|_| Record::new(name, false, true)));
    v.extend((0..fp).map(|_| Record::new(name, true, false)));
    v.extend((0..tn).map(|_| Record::new(name, false, false)));
    v
}

fn no_bootstrap() -> AuditOptions {
    AuditOptions {
        bootstrap: 0,
        min_group_size: 5,
        ..AuditOptions::default()
    }
}

/// A: n 10, 6 selected, TPR 4/5, FPR 2/5. B: n 8, 2 selected, TPR 2/4, FPR 0/4.
fn two_groups() -> Vec<Record> {
    let mut r = group("B", 2, 2, 0, 4);
    r.extend(group("A", 4, 1, 2, 3));
    r
}

fn approx(a: Option<f64>, b: f64) {
    let a = a.expect("defined");
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

#[test]
fn hand_computed_metrics() {
    let r = audit("gender", &two_groups(), &no_bootstrap()).unwrap();
    assert_eq!(r.attribute, "gender");
    let names: Vec<_> = r.groups.iter().map(|g| g.group.as_str()).collect();
    assert_eq!(names, ["A", "B"], "groups are sorted by name");
    let a = &r.groups[0];
    assert_eq!(
        (a.n, a.selected, a.labelled, a.positives, a.negatives),
        (10, 6, 10, 5, 5)
    );
    assert_eq!(a.selection_rate, 0.6);
    assert_eq!(a.tpr, Some(0.8));
    assert_eq!(a.fpr, Some(0.4));
    let b = &r.groups[1];
    assert_eq!((b.n, b.selected), (8, 2));
    assert_eq!(
        (b.selection_rate, b.tpr, b.fpr),
        (0.25, Some(0.5), Some(0.0))
    );

    approx(r.demographic_parity_difference.value, 0.35);
    approx(r.disparate_impact_ratio.value, 0.25 / 0.6);
    approx(r.equal_opportunity_difference.value, 0.3);
    approx(r.equalized_odds_difference.value, 0.4); // the FPR gap is the larger
    assert!(r.four_fifths_violation);
    for kind in MetricKind::ALL {
        let m = r.metric(kind);
        assert_eq!(m.undefined_reason, None);
        assert_eq!(m.ci, None, "no intervals without bootstrap");
        assert_eq!(m.undefined_replicates, 0);
    }
}

#[test]
fn unlabelled_records_count_only_towards_selection() {
    let mut records = two_groups();
    records.push(Record::unlabelled("B", true));
    records.push(Record::unlabelled("B", true));
    let r = audit("gender", &records, &no_bootstrap()).unwrap();
    let b = &r.groups[1];
    assert_eq!((b.n, b.selected, b.labelled), (10, 4, 8));
    assert_eq!(
        (b.selection_rate, b.tpr, b.fpr),
        (0.4, Some(0.5), Some(0.0))
    );
    approx(r.demographic_parity_difference.value, 0.2);
}

#[test]
fn four_fifths_flag_is_strictly_below_point_eight() {
    // 8/10 vs 10/10: ratio exactly 0.8 passes.
    let mut at = group("A", 8, 2, 0, 0);
    at.extend(group("B", 10, 0, 0, 0));
    let r = audit("x", &at, &no_bootstrap()).unwrap();
    approx(r.disparate_impact_ratio.value, 0.8);
    assert!(!r.four_fifths_violation);

    // 7/10 vs 10/10: 0.7 fails.
    let mut below = group("A", 7, 3, 0, 0);
    below.extend(group("B", 10, 0, 0, 0));
    let r = audit("x", &below, &no_bootstrap()).unwrap();
    approx(r.disparate_impact_ratio.value, 0.7);
    assert!(r.four_fifths_violation);
}

#[test]
fn small_groups_are_reported_and_flagged() {
    let mut records = group("big", 3, 3, 3, 3);
    records.extend(group("tiny", 1, 1, 1, 1));
    let r = audit("x", &records, &no_bootstrap()).unwrap();
    assert!(!r.groups[0].small);
    assert!(r.groups[1].small, "4 < min_group_size 5");
    assert!(render_table(&[r]).contains("small (n < 5)"));
}

#[test]
fn one_group_has_nothing_to_compare() {
    let r = audit("x", &group("A", 1, 1, 1, 1), &AuditOptions::default()).unwrap();
    for kind in MetricKind::ALL {
        let m = r.metric(kind);
        assert_eq!(m.value, None);
        assert_eq!(m.ci, None);
        assert_eq!(
            m.undefined_reason.as_deref(),
            Some("only one group (A); nothing to compare")
        );
    }
    assert!(!r.four_fifths_violation);
}

#[test]
fn no_favourable_outcome_leaves_the_ratio_undefined() {
    let mut records = group("A", 0, 3, 0, 3);
    records.extend(group("B", 0, 2, 0, 2));
    let r = audit("x", &records, &AuditOptions::default()).unwrap();
    assert_eq!(r.demographic_parity_difference.value, Some(0.0));
    assert_eq!(r.disparate_impact_ratio.value, None);
    assert_eq!(
        r.disparate_impact_ratio.undefined_reason.as_deref(),
        Some("no group has a favourable outcome (every selection rate is 0)")
    );
    assert!(!r.four_fifths_violation);
}

#[test]
fn a_group_without_positives_leaves_tpr_metrics_undefined() {
    let mut records = group("A", 2, 2, 1, 3);
    records.extend(group("B", 0, 0, 1, 3));
    records.extend(group("C", 0, 0, 2, 2));
    let r = audit("x", &records, &AuditOptions::default()).unwrap();
    assert_eq!(r.groups[1].tpr, None);
    assert_eq!(r.groups[1].fpr, Some(0.25));
    assert!(r.demographic_parity_difference.value.is_some());
    let reason = Some("TPR undefined: no labelled positives in group(s) B, C");
    assert_eq!(r.equal_opportunity_difference.value, None);
    assert_eq!(
        r.equal_opportunity_difference.undefined_reason.as_deref(),
        reason
    );
    assert_eq!(r.equalized_odds_difference.value, None);
    assert_eq!(
        r.equalized_odds_difference.undefined_reason.as_deref(),
        reason
    );
}

#[test]
fn a_group_without_negatives_leaves_equalized_odds_undefined() {
    let mut records = group("A", 2, 2, 1, 3);
    records.extend(group("B", 3, 1, 0, 0));
    let r = audit("x", &records, &no_bootstrap()).unwrap();
    approx(r.equal_opportunity_difference.value, 0.25);
    assert_eq!(r.equalized_odds_difference.value, None);
    assert_eq!(
        r.equalized_odds_difference.undefined_reason.as_deref(),
        Some("FPR undefined: no labelled negatives in group(s) B")
    );
}

#[test]
fn without_labels_only_selection_metrics_exist() {
    let records: Vec<Record> = [("A", true), ("A", false), ("B", true), ("B", true)]
        .into_iter()
        .map(|(g, p)| Record::unlabelled(g, p))
        .collect();
    let r = audit("x", &records, &no_bootstrap()).unwrap();
    approx(r.demographic_parity_difference.value, 0.5);
    approx(r.disparate_impact_ratio.value, 0.5);
    assert_eq!(
        (r.groups[0].tpr, r.groups[0].fpr, r.groups[0].labelled),
        (None, None, 0)
    );
    for m in [
        &r.equal_opportunity_difference,
        &r.equalized_odds_difference,
    ] {
        assert_eq!(m.value, None);
        assert_eq!(m.undefined_reason.as_deref(), Some("no record has a label"));
    }
}

#[test]
fn bad_input_is_an_error() {
    let err = audit("region", &[], &AuditOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "no records to audit for attribute region");
    for confidence in [0.0, 1.0, 1.5, f64::NAN] {
        let opts = AuditOptions {
            confidence,
            ..AuditOptions::default()
        };
        let err = audit("x", &two_groups(), &opts).unwrap_err();
        assert!(matches!(err, FairnessError::InvalidArgument(_)), "{err}");
    }
}

/// ~900 records with clearly different rates.
fn larger_dataset() -> Vec<Record> {
    let mut r = group("A", 240, 60, 40, 160); // sel 0.56, TPR 0.8, FPR 0.2
    r.extend(group("B", 100, 100, 20, 180)); // sel 0.3, TPR 0.5, FPR 0.1
    r
}

#[test]
fn bootstrap_is_deterministic_for_a_seed() {
    let opts = AuditOptions {
        bootstrap: 300,
        seed: 7,
        ..AuditOptions::default()
    };
    let data = larger_dataset();
    let one = audit("x", &data, &opts).unwrap();
    let two = audit("x", &data, &opts).unwrap();
    assert_eq!(one, two);
    let other = audit(
        "x",
        &data,
        &AuditOptions {
            seed: 8,
            ..opts.clone()
        },
    )
    .unwrap();
    assert_ne!(
        one.demographic_parity_difference.ci,
        other.demographic_parity_difference.ci
    );
    // The records' order does not matter, only their groups' counts.
    let mut reversed = data.clone();
    reversed.reverse();
    assert_eq!(audit("x", &reversed, &opts).unwrap(), one);
}

#[test]
fn intervals_contain_the_estimate_and_narrow_with_confidence() {
    let data = larger_dataset();
    let wide = audit("x", &data, &AuditOptions::default()).unwrap();
    let narrow = audit(
        "x",
        &data,
        &AuditOptions {
            confidence: 0.5,
            ..AuditOptions::default()
        },
    )
    .unwrap();
    for kind in MetricKind::ALL {
        let (w, n) = (wide.metric(kind), narrow.metric(kind));
        let value = w.value.unwrap();
        let ci = w.ci.unwrap();
        assert!(ci.contains(value), "{kind}: {value} not in {ci:?}");
        assert!(ci.lower < ci.upper, "{kind}: {ci:?}");
        let nci = n.ci.unwrap();
        assert!(ci.lower <= nci.lower && nci.upper <= ci.upper, "{kind}");
        assert_eq!(w.undefined_replicates, 0);
    }
    // The DPD is 0.26 with about 0.03 standard error: the interval is a few points wide.
    let ci = wide.demographic_parity_difference.ci.unwrap();
    assert!(ci.lower > 0.18 && ci.upper < 0.34, "{ci:?}");
}

#[test]
fn replicates_where_a_metric_is_undefined_are_counted() {
    // B has one labelled positive in 40: about a third of resamples draw none.
    let mut records = group("A", 20, 20, 20, 20);
    records.extend(group("B", 1, 0, 10, 29));
    let r = audit("x", &records, &AuditOptions::default()).unwrap();
    let m = &r.equal_opportunity_difference;
    assert!(m.value.is_some() && m.ci.is_some());
    assert!(
        (200..500).contains(&m.undefined_replicates),
        "{}",
        m.undefined_replicates
    );
    assert_eq!(r.demographic_parity_difference.undefined_replicates, 0);
    assert!(render_table(&[r]).contains("replicates undefined)"));
}

fn csv_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f.flush().unwrap();
    f
}

#[test]
fn csv_values_and_groups() {
    let f = csv_file(
        "id, approved ,label,gender,region\n\
         1,1,yes,F,north\n\
         2,TRUE,No,M,\n\
         3, no ,,F,south\n\
         4,Yes,0,M,  \n\
         5,false,true,F,north\n",
    );
    let data = from_csv(f.path(), "approved", Some("label"), &["region", "gender"]).unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0].0, "region");
    assert_eq!(data[1].0, "gender");
    let got: Vec<(&str, bool, Option<bool>)> = data[0]
        .1
        .iter()
        .map(|r| (r.group.as_str(), r.pred, r.label))
        .collect();
    assert_eq!(
        got,
        [
            ("north", true, Some(true)),
            ("(missing)", true, Some(false)),
            ("south", false, None),
            ("(missing)", true, Some(false)),
            ("north", false, Some(true)),
        ]
    );
    let genders: Vec<&str> = data[1].1.iter().map(|r| r.group.as_str()).collect();
    assert_eq!(genders, ["F", "M", "F", "M", "F"]);

    // Without a label column every label is unknown.
    let data = from_csv(f.path(), "approved", None, &["gender"]).unwrap();
    assert!(data[0].1.iter().all(|r| r.label.is_none()));
}

fn csv_err(text: &str, label: Option<&str>, protected: &[&str]) -> String {
    let f = csv_file(text);
    from_csv(f.path(), "approved", label, protected)
        .unwrap_err()
        .to_string()
}

#[test]
fn csv_bad_values_name_line_and_column() {
    let rows = "id,approved,repaid,gender\n1,1,1,F\n2,0,1,M\n3,1,0,F\n4,0,0,M\n5,1,1,F\n";
    assert_eq!(
        csv_err(&format!("{rows}6,maybe,1,M\n"), Some("repaid"), &["gender"]),
        "line 7, column approved: 'maybe' is not 0/1/true/false/yes/no"
    );
    assert_eq!(
        csv_err(&format!("{rows}6,1,2,M\n"), Some("repaid"), &["gender"]),
        "line 7, column repaid: '2' is not 0/1/true/false/yes/no"
    );
    assert_eq!(
        csv_err(&format!("{rows}6,,1,M\n"), Some("repaid"), &["gender"]),
        "line 7, column approved: is empty (expected 0/1/true/false/yes/no)"
    );
    assert_eq!(
        csv_err(&format!("{rows}6,1,1\n"), Some("repaid"), &["gender"]),
        "line 7: 3 fields, but the header has 4"
    );
    // A quoted multi-line field: the error names the line where the bad record starts.
    assert_eq!(
        csv_err(
            "id,approved,gender\n\"a\nb\",1,F\n2,nope,M\n",
            None,
            &["gender"]
        ),
        "line 4, column approved: 'nope' is not 0/1/true/false/yes/no"
    );
    let f = csv_file("");
    let mut bytes = b"id,approved,gender\n1,1,F\n2,1,".to_vec();
    bytes.extend([0xff, 0xfe, b'\n']);
    std::fs::write(f.path(), bytes).unwrap();
    assert_eq!(
        from_csv(f.path(), "approved", None, &["gender"])
            .unwrap_err()
            .to_string(),
        "line 3, column gender: not valid UTF-8"
    );
}

#[test]
fn csv_missing_and_duplicate_columns() {
    assert_eq!(
        csv_err(
            "id,approved,gender\n1,1,F\n",
            Some("label"),
            &["gender", "region"]
        ),
        "missing column(s): label, region (the header has: id, approved, gender)"
    );
    assert_eq!(
        csv_err("", None, &["gender"]),
        "missing column(s): approved, gender (the header has: )"
    );
    assert_eq!(
        csv_err("approved,gender,gender\n1,F,M\n", None, &["gender"]),
        "column gender appears more than once in the header"
    );
    assert_eq!(
        csv_err("approved,gender\n1,F\n", None, &[]),
        "invalid argument: name at least one protected column"
    );
    let err = from_csv("/nonexistent/fairness.csv", "approved", None, &["g"]).unwrap_err();
    assert!(matches!(err, FairnessError::Io { .. }));
    assert!(
        err.to_string()
            .starts_with("cannot read /nonexistent/fairness.csv: "),
        "{err}"
    );
}

#[test]
fn thresholds_produce_violations() {
    let r = audit("gender", &two_groups(), &no_bootstrap()).unwrap();
    let t = Thresholds {
        max_demographic_parity_difference: Some(0.3), // 0.35: broken
        min_disparate_impact_ratio: Some(0.8),        // 0.4167: broken
        max_equal_opportunity_difference: Some(0.3),  // 0.3 (rounded): passes
        max_equalized_odds_difference: Some(0.5),     // 0.4: passes
    };
    let v = check(&r, &t);
    let text: Vec<String> = v.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "gender: demographic_parity_difference 0.3500 is above the maximum 0.3",
            "gender: disparate_impact_ratio 0.4167 is below the minimum 0.8",
        ]
    );
    assert_eq!(v[0].attribute, "gender");
    assert_eq!(v[0].metric, MetricKind::DemographicParityDifference);
    assert_eq!(v[0].threshold, 0.3);
    assert!(check(&r, &Thresholds::default()).is_empty());

    // An undefined metric cannot pass a configured threshold.
    let one = audit("region", &group("north", 1, 1, 1, 1), &no_bootstrap()).unwrap();
    let v = check(
        &one,
        &Thresholds {
            max_equalized_odds_difference: Some(0.1),
            ..Thresholds::default()
        },
    );
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].value, None);
    assert_eq!(
        v[0].to_string(),
        "region: equalized_odds_difference is undefined (only one group (north); nothing to \
         compare) but a maximum of 0.1 is configured"
    );
}

#[test]
fn thresholds_deserialize_from_config() {
    let t: Thresholds = serde_json::from_str(r#"{"min_disparate_impact_ratio": 0.8}"#).unwrap();
    assert_eq!(
        t,
        Thresholds {
            min_disparate_impact_ratio: Some(0.8),
            ..Thresholds::default()
        }
    );
    let err = serde_json::from_str::<Thresholds>(r#"{"min_disparate_impact": 0.8}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
}

#[test]
fn json_shape() {
    let r = audit("gender", &two_groups(), &AuditOptions::default()).unwrap();
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["attribute"], "gender");
    assert_eq!(j["groups"][1]["group"], "B");
    assert_eq!(j["groups"][1]["selection_rate"], 0.25);
    assert_eq!(j["four_fifths_violation"], true);
    assert!(j["disparate_impact_ratio"]["value"].is_f64());
    assert!(j["disparate_impact_ratio"]["ci"]["lower"].is_f64());
    assert!(j["disparate_impact_ratio"]["undefined_reason"].is_null());
    assert_eq!(j["bootstrap"]["replicates"], 1000);
    let v = check(
        &r,
        &Thresholds {
            min_disparate_impact_ratio: Some(0.8),
            ..Thresholds::default()
        },
    );
    let j = serde_json::to_value(&v).unwrap();
    assert_eq!(j[0]["metric"], "disparate_impact_ratio");
    assert_eq!(j[0]["bound"], "min");
}

#[test]
fn table_snapshot() {
    let mut records = two_groups();
    records.extend(group("(missing)", 0, 1, 0, 2));
    let r = audit("gender", &records, &no_bootstrap()).unwrap();
    let expected = "\
gender: 3 group(s), 21 record(s); no bootstrap intervals
  group             n  selected  sel. rate      TPR      FPR
  (missing)         3         0     0.0000   0.0000   0.0000  small (n < 5)
  A                10         6     0.6000   0.8000   0.4000
  B                 8         2     0.2500   0.5000   0.0000

  metric                           value
  demographic parity difference   0.6000
  disparate impact ratio          0.0000  FLAG four-fifths rule (< 0.8)
  equal opportunity difference    0.8000
  equalized odds difference       0.8000
";
    assert_eq!(render_table(&[r]), expected);
}

#[test]
fn table_with_intervals_and_undefined_metrics() {
    let a = audit("age_band", &larger_dataset(), &AuditOptions::default()).unwrap();
    let b = audit("region", &group("north", 1, 1, 1, 1), &no_bootstrap()).unwrap();
    let text = render_table(&[a, b]);
    assert!(text.starts_with(
        "age_band: 2 group(s), 900 record(s); 95% bootstrap intervals (1000 replicates, seed 42)\n"
    ));
    assert!(
        text.contains("  demographic parity difference   0.2600  ["),
        "{text}"
    );
    assert!(
        text.contains("\n\nregion: 1 group(s), 4 record(s)"),
        "{text}"
    );
    assert!(
        text.contains(
            "  equalized odds difference            -  only one group (north); nothing to compare"
        ),
        "{text}"
    );
}
