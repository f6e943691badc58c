//! Boosted trees and the logistic baseline on a synthetic credit-default dataset: SHAP
//! additivity, cross-validated quality, determinism, serde round trips, calibration, reason codes
//! and the model card.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sextant_models::{
    Dataset, Gbdt, GbdtParams, Logistic, LogisticParams, ModelCard, TrainParams, evaluate,
    reason_codes, render_table,
};

/// Default probability rises with utilisation (sharply above 0.8) and falls with income; a few
/// noise features; 5 % of incomes missing.
fn credit(n: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let names = [
        "credit_utilization",
        "income",
        "age",
        "late_payments",
        "noise1",
        "noise2",
    ];
    let mut x = Vec::with_capacity(n * names.len());
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let util: f64 = rng.random::<f64>();
        let income = (10.5 + 0.5 * normal(&mut rng)).exp();
        let age = 20.0 + 50.0 * rng.random::<f64>();
        let late = (rng.random::<f64>() * 4.0).floor();
        let logit = -2.0 + 2.0 * util + if util > 0.75 { 2.0 } else { 0.0 }
            - 1.2 * (income / 36_000.0).ln()
            + 0.5 * late
            - 0.01 * (age - 45.0);
        y.push(if rng.random::<f64>() < 1.0 / (1.0 + (-logit).exp()) {
            1.0
        } else {
            0.0
        });
        let income = if rng.random::<f64>() < 0.05 {
            f64::NAN
        } else {
            income
        };
        x.extend([
            util,
            income,
            age,
            late,
            normal(&mut rng),
            rng.random::<f64>(),
        ]);
    }
    Dataset::from_parts(names.iter().map(|s| s.to_string()).collect(), x, y).unwrap()
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn fast() -> GbdtParams {
    GbdtParams {
        calibration_folds: 0,
        ..GbdtParams::default()
    }
}

#[test]
fn gbdt_shap_values_sum_to_the_raw_score_on_every_row() {
    let d = credit(1500, 1);
    let g = Gbdt::fit(&d, &fast()).unwrap();
    assert!(g.trees() > 1);
    for i in 0..d.rows {
        let e = g.explain(d.row(i)).unwrap();
        assert!(
            (e.shap_total() - e.raw_score).abs() < 1e-9,
            "row {i}: {} vs {}",
            e.shap_total(),
            e.raw_score
        );
        assert_eq!(e.probability, g.predict_proba(d.row(i)).unwrap());
        assert_eq!(e.contributions.len(), d.cols);
    }
    // Missing value on a row still adds up, and its SHAP value is reported.
    let mut row = d.row(0).to_vec();
    row[1] = f64::NAN;
    let e = g.explain(&row).unwrap();
    assert!((e.shap_total() - e.raw_score).abs() < 1e-9);
    // Utilisation is the strongest driver on average.
    let mut mean_abs = vec![0.0; d.cols];
    for i in 0..200 {
        for (j, c) in g
            .explain(d.row(i))
            .unwrap()
            .contributions
            .iter()
            .enumerate()
        {
            mean_abs[j] += c.shap.abs();
        }
    }
    assert!(
        mean_abs[0] > mean_abs[4] && mean_abs[0] > mean_abs[5],
        "{mean_abs:?}"
    );
}

#[test]
fn logistic_shap_values_sum_to_the_logit_on_every_row() {
    let d = credit(1500, 2);
    let l = Logistic::fit(&d, &LogisticParams::default()).unwrap();
    for i in 0..d.rows {
        let e = l.explain(d.row(i)).unwrap();
        assert!((e.shap_total() - e.raw_score).abs() < 1e-9);
        assert!((e.raw_score - l.raw_score(d.row(i)).unwrap()).abs() < 1e-12);
    }
    let coef = l.coefficients();
    assert!(coef[0].1 > 0.0, "utilisation raises risk: {coef:?}");
    assert!(coef[1].1 < 0.0, "income lowers risk: {coef:?}");
    // Mean SHAP over the training rows is zero, so the base value is the mean logit.
    let mean_logit: f64 = (0..d.rows)
        .map(|i| l.raw_score(d.row(i)).unwrap())
        .sum::<f64>()
        / d.rows as f64;
    assert!((mean_logit - l.intercept()).abs() < 1e-9);
}

#[test]
fn gbdt_beats_the_threshold_and_keeps_up_with_logistic_in_cv() {
    let d = credit(4000, 3);
    let params = TrainParams {
        gbdt: fast(),
        ..TrainParams::default()
    };
    let e = evaluate(&d, 5, 42, &params).unwrap();
    let g = e.model("gbdt").unwrap().metrics;
    let l = e.model("logistic").unwrap().metrics;
    println!("{}", render_table(&e));
    assert!(g.roc_auc > 0.75, "gbdt AUC {}", g.roc_auc);
    assert!(
        g.roc_auc >= l.roc_auc - 0.02,
        "gbdt {} vs logistic {}",
        g.roc_auc,
        l.roc_auc
    );
    assert_eq!(e.model("gbdt").unwrap().fold_roc_auc.len(), 5);
    // Deterministic for a seed.
    let again = evaluate(&d, 5, 42, &params).unwrap();
    assert_eq!(e, again);
    let json = serde_json::to_string(&e).unwrap();
    assert!(json.contains("\"roc_auc\""));
}

#[test]
fn same_seed_same_model_and_serde_round_trip_predicts_identically() {
    let d = credit(1000, 4);
    let a = Gbdt::fit(&d, &fast()).unwrap();
    let b = Gbdt::fit(&d, &fast()).unwrap();
    // perpetual keeps tree nodes in a HashMap, so the JSON text's key order varies between
    // runs; the model does not.
    assert_eq!(a.raw_scores(&d).unwrap(), b.raw_scores(&d).unwrap());
    let ex = |g: &Gbdt| serde_json::to_string(&g.explain(d.row(3)).unwrap()).unwrap();
    assert_eq!(ex(&a), ex(&b));
    let json = a.to_json().unwrap();
    let back = Gbdt::from_json(&json).unwrap();
    let mut row = d.row(7).to_vec();
    row[1] = f64::NAN;
    for r in [d.row(0), d.row(1), &row[..]] {
        assert_eq!(a.raw_score(r).unwrap(), back.raw_score(r).unwrap());
        // Compared as JSON: NaN (a missing value) is never == itself.
        let json = |g: &Gbdt| serde_json::to_string(&g.explain(r).unwrap()).unwrap();
        assert_eq!(json(&a), json(&back));
    }
    assert_eq!(a.raw_scores(&d).unwrap(), back.raw_scores(&d).unwrap());

    let l = Logistic::fit(&d, &LogisticParams::default()).unwrap();
    let l2: Logistic = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
    assert_eq!(l, l2);
    assert_eq!(l.raw_score(&row).unwrap(), l2.raw_score(&row).unwrap());
}

#[test]
fn calibration_keeps_order_and_improves_or_keeps_log_loss() {
    let d = credit(2000, 5);
    let g = Gbdt::fit(&d, &GbdtParams::default()).unwrap();
    let c = g.calibrator().expect("default params calibrate");
    assert!(c.a > 0.0);
    let (lo, hi) = (d.row(0), d.row(1));
    let order = g.raw_score(lo).unwrap() < g.raw_score(hi).unwrap();
    assert_eq!(
        order,
        g.calibrated_proba(lo).unwrap() < g.calibrated_proba(hi).unwrap()
    );
    // On fresh data, the calibrated probabilities are no worse in log loss than the raw ones
    // (allowing a little slack).
    let test = credit(2000, 6);
    let raw = sextant_models::metrics::log_loss(&test.y, &g.predict_proba_all(&test).unwrap());
    let cal = sextant_models::metrics::log_loss(&test.y, &g.calibrated_proba_all(&test).unwrap());
    assert!(cal <= raw + 0.01, "calibrated {cal} vs raw {raw}");
}

#[test]
fn reason_codes_in_plain_words() {
    use sextant_models::{Contribution, Explanation};
    let c = |feature: &str, level: Option<&str>, value: f64, shap: f64, mean: f64| Contribution {
        feature: match level {
            Some(l) => format!("{feature}={l}"),
            None => feature.into(),
        },
        column: feature.into(),
        level: level.map(str::to_string),
        value,
        shap,
        mean,
    };
    let e = Explanation {
        base_value: -1.0,
        contributions: vec![
            c("credit_utilization", None, 0.9234, 0.8, 0.4),
            c("income", None, 21000.0, 0.5, 40000.0),
            c("employment", Some("unemployed"), 1.0, 0.3, 0.1),
            c("region", Some("north"), 0.0, 0.2, 0.5),
            c("age", None, f64::NAN, 0.1, 40.0),
            c("tenure", None, 10.0, -0.4, 5.0),
            c("recurring_payments", None, 10.0, 0.0008, 7.0),
        ],
        raw_score: 0.5,
        probability: 0.62,
    };
    assert_eq!(
        reason_codes(&e, 10),
        [
            "credit_utilization is high (0.92)",
            "income is low (21000)",
            "employment is unemployed",
            "region is not north",
            "age is missing",
        ]
    );
    assert_eq!(reason_codes(&e, 1), ["credit_utilization is high (0.92)"]);
    // recurring_payments raised the log-odds by 0.0008: not a reason.

    // And on a real model: the codes name features with positive SHAP values.
    let d = credit(800, 7);
    let g = Gbdt::fit(&d, &fast()).unwrap();
    let risky = (0..d.rows)
        .max_by(|&a, &b| {
            let pa = g.raw_score(d.row(a)).unwrap();
            pa.total_cmp(&g.raw_score(d.row(b)).unwrap())
        })
        .unwrap();
    let codes = reason_codes(&g.explain(d.row(risky)).unwrap(), 3);
    assert!(!codes.is_empty());
    assert!(codes.iter().all(|c| c.contains(" is ")), "{codes:?}");
}

#[test]
fn categorical_csv_end_to_end_and_model_card() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut s = String::from("customer,segment,balance,churned\n");
    for i in 0..600 {
        let seg = ["retail", "premium", "student"][i % 3];
        let bal: f64 = rng.random::<f64>() * 1000.0;
        let p = if seg == "student" { 0.6 } else { 0.15 } + bal / 5000.0;
        let churn = if rng.random::<f64>() < p { "yes" } else { "no" };
        let bal = if i % 17 == 0 {
            String::new()
        } else {
            format!("{bal:.2}")
        };
        s += &format!("c{i},{seg},{bal},{churn}\n");
    }
    let mut f = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut f, s.as_bytes()).unwrap();
    let d = Dataset::from_csv(f.path(), "churned", Some("customer"), &[]).unwrap();
    assert_eq!(
        d.feature_names,
        [
            "segment=premium",
            "segment=retail",
            "segment=student",
            "balance"
        ]
    );
    let params = TrainParams::default();
    let g = Gbdt::fit(&d, &params.gbdt).unwrap();
    let student = d.schema.encode(|c| match c {
        "segment" => Some("student"),
        "balance" => Some("500"),
        _ => None,
    });
    let e = g.explain(&student).unwrap();
    assert!((e.shap_total() - e.raw_score).abs() < 1e-9);
    let l = Logistic::fit(&d, &params.logistic).unwrap();
    let el = l.explain(&student).unwrap();
    assert!((el.shap_total() - el.raw_score).abs() < 1e-9);
    assert!(reason_codes(&el, 3).contains(&"segment is student".to_string()));

    let card = ModelCard::new("churn-1", "2026-01-01T00:00:00Z", &d, &params, None);
    assert_eq!(card.data_hash, d.content_hash());
    assert_eq!(card.feature_names, d.feature_names);
    let back: ModelCard = serde_json::from_str(&serde_json::to_string(&card).unwrap()).unwrap();
    assert_eq!(card, back);
}
