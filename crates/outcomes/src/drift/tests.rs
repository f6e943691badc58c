//! Tests of PSI, references and AUC decay: hand-computed small cases and seeded simulations.

use super::*;

/// A tiny deterministic generator (SplitMix64) so the tests need no RNG crate.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    fn normals(&mut self, n: usize, mean: f64) -> Vec<f64> {
        (0..n).map(|_| mean + self.normal()).collect()
    }
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn fit_uses_quantile_edges() {
    let values: Vec<f64> = (1..=10).map(f64::from).collect();
    let r = Reference::fit("x", &values, DEFAULT_BINS).unwrap();
    // ⌊i·9/10⌋ = 0, 1, …, 8 → edges 1..=9; one value per bin
    assert_eq!(r.edges(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    for e in r.expected() {
        close(*e, 0.1);
    }
    assert_eq!((r.missing(), r.n(), r.name()), (0.0, 10, "x"));
}

#[test]
fn fit_deduplicates_tied_edges() {
    let mut values = vec![0.0; 95];
    values.extend([1.0; 5]);
    let r = Reference::fit("has_overdraft", &values, 10).unwrap();
    // every decile is 0, and the maximum (1) is never an edge
    assert_eq!(r.edges(), &[0.0]);
    assert_eq!(r.expected(), &[0.95, 0.05]);

    let constant = Reference::fit("c", &[3.0; 7], 10).unwrap();
    assert!(constant.edges().is_empty());
    assert_eq!(constant.expected(), &[1.0]);
}

#[test]
fn psi_two_bin_example_by_hand() {
    let r = Reference::fit("x", &[1.0, 2.0, 3.0, 4.0], 2).unwrap();
    assert_eq!(r.edges(), &[2.0]); // ⌊1·3/2⌋ = 1 → x₍₁₎ = 2
    let p = psi(&r, &[1.0, 1.0, 1.0, 4.0]).unwrap();
    // bins (−∞, 2] and (2, ∞): expected 0.5 / 0.5, actual 0.75 / 0.25, missing 0 / 0
    // (0.75 − 0.5)·ln(0.75/0.5) + (0.25 − 0.5)·ln(0.25/0.5) = 0.1013663 + 0.1732868
    close(p.value, 0.274_653_072_167_027_4);
    assert_eq!(p.level, DriftLevel::Major);
    assert_eq!(p.n, 4);
    assert_eq!(
        p.bins,
        vec![
            BinShare {
                lower: None,
                upper: Some(2.0),
                missing: false,
                expected: 0.5,
                actual: 0.75
            },
            BinShare {
                lower: Some(2.0),
                upper: None,
                missing: false,
                expected: 0.5,
                actual: 0.25
            },
            BinShare {
                lower: None,
                upper: None,
                missing: true,
                expected: 0.0,
                actual: 0.0
            },
        ]
    );
    // bins are right-closed: 2 belongs to the first one
    let p = psi(&r, &[2.0, 2.0, 3.0, 3.0]).unwrap();
    close(p.value, 0.0);
    assert_eq!(p.level, DriftLevel::Stable);
}

#[test]
fn missing_values_have_their_own_bin() {
    let r = Reference::fit("x", &[1.0, 2.0, 3.0, 4.0, f64::NAN], 2).unwrap();
    assert_eq!(r.edges(), &[2.0]);
    assert_eq!(r.expected(), &[0.4, 0.4]);
    close(r.missing(), 0.2);
    let p = psi(&r, &[1.0, 3.0, f64::NAN, f64::NAN]).unwrap();
    // 2 × (0.25 − 0.4)·ln(0.25/0.4) + (0.5 − 0.2)·ln(0.5/0.2)
    close(p.value, 0.415_888_308_335_967_24);
    let last = p.bins.last().unwrap();
    assert!(last.missing);
    assert_eq!((last.expected, last.actual), (0.2, 0.5));

    // all-NaN current: everything in the missing bin, shares floored at 1e-4
    let p = psi(&r, &[f64::NAN; 3]).unwrap();
    let floor = SHARE_FLOOR;
    let want = 2.0 * (floor - 0.4) * (floor / 0.4).ln() + (1.0 - 0.2) * (1.0_f64 / 0.2).ln();
    close(p.value, want);
    assert_eq!(p.level, DriftLevel::Major);

    // all-NaN reference
    let r = Reference::fit("y", &[f64::NAN, f64::NAN], 10).unwrap();
    assert!(r.edges().is_empty());
    assert_eq!((r.expected(), r.missing()), (&[0.0][..], 1.0));
    close(psi(&r, &[f64::NAN]).unwrap().value, 0.0);
}

#[test]
fn infinities_fall_into_the_end_bins() {
    let r = Reference::fit(
        "x",
        &[1.0, 2.0, 3.0, 4.0, f64::INFINITY, f64::NEG_INFINITY],
        2,
    )
    .unwrap();
    assert_eq!(r.edges(), &[2.0]);
    assert_eq!(r.expected(), &[0.5, 0.5]);
}

#[test]
fn identical_distributions_are_stable() {
    let mut rng = Rng(7);
    let r = Reference::fit("score", &rng.normals(10_000, 0.0), DEFAULT_BINS).unwrap();
    assert_eq!(r.edges().len(), 9);
    let p = psi(&r, &rng.normals(10_000, 0.0)).unwrap();
    assert!(p.value < 0.01, "PSI {}", p.value);
    assert_eq!(p.level, DriftLevel::Stable);
}

#[test]
fn a_half_sd_mean_shift_is_at_least_moderate() {
    let mut rng = Rng(11);
    let r = Reference::fit("income", &rng.normals(10_000, 0.0), DEFAULT_BINS).unwrap();
    let p = psi(&r, &rng.normals(10_000, 0.5)).unwrap();
    assert!(p.level >= DriftLevel::Moderate, "PSI {}", p.value);
}

#[test]
fn fit_and_psi_errors_name_the_field() {
    assert_eq!(
        Reference::fit("x", &[], 10).unwrap_err().to_string(),
        "values of x: no values (at least one is needed)"
    );
    assert_eq!(
        Reference::fit("x", &[1.0], 0).unwrap_err().to_string(),
        "bins: 0 is not in 1..=1000 (10 is usual)"
    );
    assert!(matches!(
        Reference::fit(" ", &[1.0], 10),
        Err(DriftError::InvalidArgument { field, .. }) if field == "name"
    ));
    let r = Reference::fit("x", &[1.0, 2.0], 10).unwrap();
    assert_eq!(
        psi(&r, &[]).unwrap_err().to_string(),
        "current values of x: no values (at least one is needed)"
    );
}

#[test]
fn levels_follow_the_thresholds() {
    let th = Thresholds::default();
    assert_eq!(DriftLevel::of(0.0999, &th), DriftLevel::Stable);
    assert_eq!(DriftLevel::of(0.1, &th), DriftLevel::Moderate);
    assert_eq!(DriftLevel::of(0.2499, &th), DriftLevel::Moderate);
    assert_eq!(DriftLevel::of(0.25, &th), DriftLevel::Major);
    let strict = Thresholds {
        moderate: 0.05,
        major: 0.1,
        auc_drop: 0.05,
    };
    assert_eq!(DriftLevel::of(0.2, &strict), DriftLevel::Major);
}

#[test]
fn thresholds_load_from_config_with_defaults() {
    let t: Thresholds = serde_json::from_str(r#"{"major": 0.2}"#).unwrap();
    assert_eq!(
        t,
        Thresholds {
            moderate: 0.1,
            major: 0.2,
            auc_drop: 0.05
        }
    );
    assert!(t.validate().is_ok());
    assert!(serde_json::from_str::<Thresholds>(r#"{"majr": 0.2}"#).is_err());
    let bad = Thresholds {
        moderate: 0.3,
        ..Thresholds::default()
    };
    assert_eq!(
        bad.validate().unwrap_err().to_string(),
        "thresholds.major: 0.25 is not above moderate (0.3)"
    );
    let bad = Thresholds {
        auc_drop: -0.1,
        ..Thresholds::default()
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .starts_with("thresholds.auc_drop")
    );
}

#[test]
fn reference_round_trips_and_rejects_corrupt_rows() {
    let r = Reference::fit("x", &[1.0, 2.0, 3.0, f64::NAN], 3).unwrap();
    let json = serde_json::to_string(&r).unwrap();
    let back: Reference = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);

    let corrupt = r#"{"name":"x","edges":[2.0,1.0],"expected":[0.3,0.3,0.4],"missing":0.0,"n":5}"#;
    let err = serde_json::from_str::<Reference>(corrupt).unwrap_err();
    assert!(
        err.to_string()
            .contains("reference x: edges are not strictly increasing"),
        "{err}"
    );
    let corrupt = r#"{"name":"x","edges":[1.0],"expected":[0.3,0.3],"missing":0.0,"n":5}"#;
    let err = serde_json::from_str::<Reference>(corrupt).unwrap_err();
    assert!(
        err.to_string().contains("shares add up to 0.6, not 1"),
        "{err}"
    );
    let corrupt = r#"{"name":"x","edges":[1.0],"expected":[1.0],"missing":0.0,"n":5}"#;
    assert!(serde_json::from_str::<Reference>(corrupt).is_err());
}

#[test]
fn report_lists_alerts_and_names_missing_columns() {
    let mut rng = Rng(3);
    let age = Reference::fit("age", &rng.normals(5_000, 0.0), 10).unwrap();
    let income = Reference::fit("income", &rng.normals(5_000, 0.0), 10).unwrap();
    let current = BTreeMap::from([
        ("age".to_string(), rng.normals(5_000, 0.0)),
        ("income".to_string(), rng.normals(5_000, 1.0)),
        ("unused".to_string(), vec![1.0]),
    ]);
    let th = Thresholds::default();
    let rep = report(&[age.clone(), income.clone()], &current, &th).unwrap();
    let names: Vec<&str> = rep.items.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["age", "income"]);
    assert_eq!(rep.items[0].level, DriftLevel::Stable);
    assert_eq!(rep.items[1].level, DriftLevel::Major);
    assert_eq!(rep.alerts.len(), 1);
    assert!(
        rep.alerts[0].starts_with("income: major drift (PSI ")
            && rep.alerts[0].ends_with(" ≥ 0.25)"),
        "{}",
        rep.alerts[0]
    );

    let only_age = BTreeMap::from([("age".to_string(), vec![0.0])]);
    assert_eq!(
        report(&[age, income], &only_age, &th).unwrap_err(),
        DriftError::MissingColumn {
            name: "income".into()
        }
    );
    let json = serde_json::to_value(&rep).unwrap();
    assert_eq!(json["items"][1]["level"], "major");
    assert_eq!(
        json["items"][0]["bins"][0]["lower"],
        serde_json::Value::Null
    );
}

#[test]
fn hanley_mcneil_standard_error_by_hand() {
    // A = 0.8, 50 positives, 50 negatives: Q₁ = 0.8/1.2, Q₂ = 1.28/1.8
    // SE = √((0.16 + 49·(0.666667 − 0.64) + 49·(0.711111 − 0.64))/2500) = 0.0445022
    close(hanley_mcneil_se(0.8, 50.0, 50.0), 0.044_502_184_715_409_69);
}

/// Scores of a model that separates the classes (`signal` > 0) or does not (`signal` = 0).
fn scored(rng: &mut Rng, n: usize, signal: f64) -> (Vec<f64>, Vec<bool>) {
    let labels: Vec<bool> = (0..n).map(|_| rng.uniform() < 0.3).collect();
    let scores = labels
        .iter()
        .map(|l| rng.normal() + if *l { signal } else { 0.0 })
        .collect();
    (scores, labels)
}

#[test]
fn decay_flags_a_model_whose_scores_became_random() {
    let mut rng = Rng(5);
    let th = Thresholds::default();
    // Training: a model with AUC ≈ Φ(1.5/√2) ≈ 0.86.
    let (s, l) = scored(&mut rng, 2_000, 1.5);
    let at_training = decay(0.5, &s, &l, &th).unwrap().current_auc;
    assert!((0.82..0.9).contains(&at_training), "{at_training}");

    let (s, l) = scored(&mut rng, 2_000, 1.5);
    let fine = decay(at_training, &s, &l, &th).unwrap();
    assert!(!fine.decayed, "{fine:?}");
    assert!(fine.ci95.0 < fine.current_auc && fine.current_auc < fine.ci95.1);

    let (s, l) = scored(&mut rng, 2_000, 0.0);
    let random = decay(at_training, &s, &l, &th).unwrap();
    assert!(random.decayed, "{random:?}");
    assert!((random.current_auc - 0.5).abs() < 0.05, "{random:?}");
    assert!(random.drop > 0.3);
    assert_eq!(random.n, 2_000);
    assert_eq!(random.positives + random.negatives, 2_000);
    assert!(random.ci95.0 <= 0.5 && 0.5 <= random.ci95.1, "{random:?}");
}

#[test]
fn decay_needs_ten_of_each_class() {
    let th = Thresholds::default();
    let scores: Vec<f64> = (0..30).map(f64::from).collect();
    let mut labels = vec![false; 30];
    labels[..9].fill(true);
    let err = decay(0.8, &scores, &labels, &th).unwrap_err();
    assert_eq!(
        err.to_string(),
        "labels: too few positives to measure AUC (9 positives, 21 negatives; at least 10 of each are needed)"
    );
    labels.fill(true);
    assert!(err_reason(decay(0.8, &scores, &labels, &th)).contains("too few negatives"));
    assert!(
        decay(0.8, &scores, &labels[..3], &th)
            .unwrap_err()
            .to_string()
            .starts_with("scores: 30 scores but 3 labels")
    );
    let mut nan = scores.clone();
    nan[4] = f64::NAN;
    labels[..15].fill(false);
    assert_eq!(
        decay(0.8, &nan, &labels, &th).unwrap_err().to_string(),
        "scores[4]: NaN is not a finite number"
    );
    assert!(decay(1.2, &scores, &labels, &th).is_err());
    // exactly ten of each is enough; a perfect ranking has AUC 1 and SE 0
    let scores: Vec<f64> = (0..20).map(f64::from).collect();
    let labels: Vec<bool> = (0..20).map(|i| i >= 10).collect();
    let d = decay(0.9, &scores, &labels, &th).unwrap();
    assert_eq!((d.current_auc, d.std_error, d.ci95), (1.0, 0.0, (1.0, 1.0)));
    assert!(!d.decayed);
}

fn err_reason(r: Result<Decay, DriftError>) -> String {
    r.unwrap_err().to_string()
}
