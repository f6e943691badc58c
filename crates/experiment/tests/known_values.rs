//! Numbers checked against independently computed values (scipy / statsmodels conventions,
//! closed forms evaluated in Python): Wilson interval, pooled z test, chi-square and normal tail
//! probabilities, Holm adjustment, and the JSON shape of an analysis.

mod common;

use sextant_experiment::dist::{chi2_sf, normal_cdf, normal_quantile};
use sextant_experiment::inference::{
    holm_adjust, two_proportion_z_test, wald_difference_interval, wilson_interval,
};
use sextant_experiment::{ArmData, analyze};

#[test]
fn wilson_10_of_100() {
    let w = wilson_interval(10, 100, 0.05).unwrap();
    // statsmodels proportion_confint(10, 100, method="wilson") = (0.05523, 0.17437).
    assert!(
        (w.lower - 0.0552).abs() <= 1e-3 && (w.upper - 0.1744).abs() <= 1e-3,
        "{w:?}"
    );
    assert!((w.lower - 0.055_229_137).abs() < 1e-8 && (w.upper - 0.174_365_662).abs() < 1e-8);
    assert_eq!(w.level, 0.95);
}

#[test]
fn pooled_z_test_200_of_1000_vs_250_of_1000() {
    let t = two_proportion_z_test(200, 1000, 250, 1000).unwrap();
    // The spec's ≈ 0.0078 ± 5e-4, and the exact value 0.0074196 (z = 2.6774).
    assert!((t.p_value - 0.0078).abs() <= 5e-4, "{t:?}");
    assert!((t.p_value - 0.007_419_649).abs() < 1e-8, "{t:?}");
    assert!((t.z - 2.677_397_763).abs() < 1e-8);
    // Symmetric: swapping the arms flips z and keeps p.
    let s = two_proportion_z_test(250, 1000, 200, 1000).unwrap();
    assert_eq!(s.p_value, t.p_value);
    assert_eq!(s.z, -t.z);
}

#[test]
fn chi_square_and_normal_tails() {
    assert!((chi2_sf(3.84146, 1.0) - 0.05).abs() < 1e-6);
    assert!((chi2_sf(5.99146, 2.0) - 0.05).abs() < 1e-6);
    assert!((chi2_sf(10.0, 3.0) - 0.018_566_135).abs() < 1e-8);
    assert!((chi2_sf(8.737_864_077_67, 1.0) - 0.003_116_694).abs() < 1e-8);
    assert!((normal_cdf(1.96) - 0.975_002_1).abs() < 1e-7);
    assert!((normal_quantile(0.995) - 2.575_829_304).abs() < 1e-8);
}

#[test]
fn wald_and_holm_by_hand() {
    // d = 0.05, se = √(0.16·0.8·... ) : √(0.2·0.8/1000 + 0.25·0.75/1000) = 0.018628.
    let w = wald_difference_interval(200, 1000, 250, 1000, 0.05).unwrap();
    let se = (0.2f64 * 0.8 / 1000.0 + 0.25 * 0.75 / 1000.0).sqrt();
    assert!(
        (w.lower - (0.05 - 1.959_963_985 * se)).abs() < 1e-9,
        "{w:?}"
    );
    assert!(
        (w.upper - (0.05 + 1.959_963_985 * se)).abs() < 1e-9,
        "{w:?}"
    );
    // R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.030 0.060 0.060 0.020.
    let adj = holm_adjust(&[0.01, 0.04, 0.03, 0.005]);
    for (a, w) in adj.iter().zip([0.03, 0.06, 0.06, 0.02]) {
        assert!((a - w).abs() < 1e-12, "{adj:?}");
    }
}

#[test]
fn analysis_reports_the_documented_quantities() {
    let mut spec = common::spec(&[1.0, 1.0, 1.0]);
    spec.alpha = 0.05;
    let mut control = ArmData::new("control", 1000, 200);
    control.revenue_sum = 5000.0;
    control.revenue_sum_sq = 5000.0 * 5.0 + 999.0 * 4.0; // mean 5, sample variance 4
    let mut t1 = ArmData::new("t1", 1000, 250);
    t1.revenue_sum = 6000.0;
    t1.revenue_sum_sq = 6000.0 * 6.0 + 999.0 * 9.0; // mean 6, sample variance 9
    let t2 = ArmData::new("t2", 1000, 205);
    let a = analyze(&spec, &[control, t1, t2], None).unwrap();
    assert_eq!(a.comparisons_count, 2);
    let c = &a.comparisons[0];
    assert!((c.difference.unwrap() - 0.05).abs() < 1e-12);
    assert!((c.relative_lift.unwrap() - 0.25).abs() < 1e-12);
    // Bonferroni interval at 1 − 0.05/2.
    assert!((c.difference_ci.unwrap().level - 0.975).abs() < 1e-12);
    // Holm with m = 2: the smaller p is doubled.
    let p_t2 = a.comparisons[1].p_value.unwrap();
    assert!(p_t2 > c.p_value.unwrap());
    assert!((c.p_value_adjusted.unwrap() - 2.0 * c.p_value.unwrap()).abs() < 1e-12);
    assert!((a.comparisons[1].p_value_adjusted.unwrap() - p_t2).abs() < 1e-12);
    assert!(c.significant && !a.comparisons[1].significant);
    // Revenue: means 5 and 6, sds 2 and 3.
    let r = a.arms[0].revenue_per_exposure.unwrap();
    assert!(
        (r.mean - 5.0).abs() < 1e-12 && (r.sd.unwrap() - 2.0).abs() < 1e-9,
        "{r:?}"
    );
    assert!((c.revenue_difference.unwrap() - 1.0).abs() < 1e-12);
    let half = (4.0f64 / 1000.0 + 9.0 / 1000.0).sqrt() * normal_quantile(1.0 - 0.025 / 2.0);
    let ci = c.revenue_difference_ci.unwrap();
    assert!((ci.upper - 1.0 - half).abs() < 1e-9, "{ci:?}");
    // Sequential: threshold α/m, one look.
    assert!((c.sequential.threshold - 0.025).abs() < 1e-15);
    assert_eq!(
        c.sequential.p_value_always_valid,
        c.sequential.p_value_this_look
    );
    assert_eq!(a.sequential_state.looks, 1);
}

#[test]
fn empty_arm_gives_none_not_nan() {
    let spec = common::spec(&[1.0, 1.0]);
    let a = analyze(
        &spec,
        &[ArmData::new("control", 0, 0), ArmData::new("t1", 0, 0)],
        None,
    )
    .unwrap();
    assert_eq!(a.arms[0].conversion_rate, None);
    assert_eq!(a.comparisons[0].p_value, None);
    assert!(!a.comparisons[0].significant);
    assert_eq!(a.srm.p_value, None);
    let json = serde_json::to_string(&a).unwrap();
    assert!(!json.contains("NaN") && !json.contains("inf"), "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["comparisons"][0]["treatment"], "t1");
    assert!(v["srm_detected"].is_boolean());
    assert!(v["sequential_state"]["running_min_p"].is_object());
}
