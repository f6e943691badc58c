//! Our metrics against scikit-learn's on a committed fixture with many tied scores
//! (`tests/fixtures/make_reference.py` wrote both files).

use sextant_models::metrics;

fn fixture() -> (Vec<f64>, Vec<f64>) {
    let text = include_str!("fixtures/metrics.csv");
    let (mut y, mut p) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1) {
        let (a, b) = line.split_once(',').unwrap();
        y.push(a.parse().unwrap());
        p.push(b.parse().unwrap());
    }
    (y, p)
}

#[test]
fn metrics_match_scikit_learn() {
    let (y, p) = fixture();
    let want: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/metrics.sklearn.json")).unwrap();
    let got = metrics::metrics(&y, &p, want["threshold"].as_f64().unwrap());
    let got = serde_json::to_value(got).unwrap();
    for k in [
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "precision",
        "recall",
        "f1",
    ] {
        let (g, w) = (got[k].as_f64().unwrap(), want[k].as_f64().unwrap());
        assert!((g - w).abs() < 1e-12, "{k}: ours {g}, scikit-learn {w}");
    }
}

#[test]
fn edge_cases() {
    assert!(metrics::roc_auc(&[1.0, 1.0], &[0.2, 0.3]).is_nan());
    assert_eq!(metrics::roc_auc(&[0.0, 1.0], &[0.5, 0.5]), 0.5);
    assert_eq!(metrics::roc_auc(&[0.0, 1.0], &[0.1, 0.9]), 1.0);
    assert_eq!(metrics::average_precision(&[0.0, 1.0], &[0.1, 0.9]), 1.0);
    assert_eq!(
        metrics::precision_recall_f1(&[1.0, 0.0], &[0.1, 0.2], 0.5),
        (0.0, 0.0, 0.0)
    );
    assert!(metrics::log_loss(&[1.0], &[0.0]).is_finite());
}
