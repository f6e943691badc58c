//! The product reports end to end: small-count suppression, contribution bounding, the
//! peer comparison, serialised provenance, and budget refusal before a report is computed.

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sextant_privacy::{
    Budget, BudgetLedger, CellOutcome, Charge, Clamp, Epsilon, InMemoryLedger, NoiseSource,
    PrivacyError, SpendReportConfig, SpendRow, category_spend_report, charge_then, people_like_you,
};

fn seeded(seed: u64) -> NoiseSource<ChaCha20Rng> {
    NoiseSource::from_rng(ChaCha20Rng::seed_from_u64(seed))
}

fn config(k: u32, threshold: i64) -> SpendReportConfig {
    SpendReportConfig {
        groups: vec!["young".into(), "retired".into()],
        categories: vec!["groceries".into(), "travel".into()],
        clamp: Clamp::new(0, 50_000).unwrap(),
        max_categories_per_customer: k,
        min_noisy_count: threshold,
    }
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn small_cells_are_withheld_and_large_cells_released() {
    let young = ids("y", 500);
    let few = ids("f", 2);
    let retired = ids("r", 300);
    let mut rows = Vec::new();
    for c in &young {
        rows.push(SpendRow {
            customer: c,
            group: "young",
            category: "groceries",
            spend: 20_000,
        });
    }
    for c in &few {
        rows.push(SpendRow {
            customer: c,
            group: "young",
            category: "travel",
            spend: 40_000,
        });
    }
    for c in &retired {
        rows.push(SpendRow {
            customer: c,
            group: "retired",
            category: "travel",
            spend: 90_000,
        });
        // Not a public category: dropped.
        rows.push(SpendRow {
            customer: c,
            group: "retired",
            category: "casino",
            spend: 1,
        });
    }
    let report = category_spend_report(
        &rows,
        &config(2, 20),
        Epsilon::new(1.0).unwrap(),
        &mut seeded(21),
    )
    .unwrap();
    let cells: Vec<(&str, &str, &CellOutcome)> = report
        .cells
        .iter()
        .map(|c| (c.group.as_str(), c.category.as_str(), &c.outcome))
        .collect();
    assert_eq!(
        cells.len(),
        4,
        "the full public cross product, in config order"
    );
    assert_eq!((cells[0].0, cells[0].1), ("young", "groceries"));
    assert_eq!((cells[3].0, cells[3].1), ("retired", "travel"));
    match cells[0].2 {
        CellOutcome::Released {
            customers,
            mean_spend,
        } => {
            assert!((customers - 500).abs() < 40, "{customers}");
            assert!((mean_spend - 20_000.0).abs() < 2_000.0, "{mean_spend}");
        }
        other => panic!("young/groceries withheld: {other:?}"),
    }
    assert_eq!(*cells[1].2, CellOutcome::Withheld, "2 customers");
    assert_eq!(*cells[2].2, CellOutcome::Withheld, "no customers");
    match cells[3].2 {
        // Spend 90 000 is clamped to 50 000.
        CellOutcome::Released { mean_spend, .. } => {
            assert!(*mean_spend <= 50_000.0 && *mean_spend > 45_000.0)
        }
        other => panic!("retired/travel withheld: {other:?}"),
    }
    assert_eq!(report.epsilon_spent, 1.0);
    assert_eq!(report.epsilon_per_cell, 0.5);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["cells"][1]["status"], "withheld");
    assert!(json["cells"][1].get("customers").is_none());
    assert_eq!(json["cells"][0]["status"], "released");
    assert_eq!(json["mechanism"]["kind"], "discrete_laplace_mean");
    assert_eq!(json["mechanism"]["count_epsilon"], 0.25);
    assert_eq!(json["mechanism"]["count_scale"], 4.0);
    assert_eq!(json["clamp"], serde_json::json!({"lo": 0, "hi": 50_000}));
}

#[test]
fn each_customer_counts_in_one_group_and_at_most_k_categories() {
    let people = ids("c", 200);
    let mut rows = Vec::new();
    for c in &people {
        rows.push(SpendRow {
            customer: c,
            group: "young",
            category: "groceries",
            spend: 100,
        });
        rows.push(SpendRow {
            customer: c,
            group: "young",
            category: "travel",
            spend: 300,
        });
        rows.push(SpendRow {
            customer: c,
            group: "young",
            category: "travel",
            spend: 200,
        });
        rows.push(SpendRow {
            customer: c,
            group: "retired",
            category: "groceries",
            spend: 700,
        });
    }
    // k = 1: only the largest category (travel, 300 + 200 = 500) of the first group counts.
    let report = category_spend_report(
        &rows,
        &config(1, 20),
        Epsilon::new(10.0).unwrap(),
        &mut seeded(22),
    )
    .unwrap();
    let outcome = |i: usize| report.cells[i].outcome.clone();
    assert_eq!(outcome(0), CellOutcome::Withheld);
    match outcome(1) {
        CellOutcome::Released {
            customers,
            mean_spend,
        } => {
            assert!((customers - 200).abs() <= 3, "{customers}");
            assert!((mean_spend - 500.0).abs() < 1_000.0, "{mean_spend}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(outcome(2), CellOutcome::Withheld, "second group dropped");
    assert_eq!(report.epsilon_per_cell, 10.0);
}

#[test]
fn report_configuration_is_checked() {
    let eps = Epsilon::new(1.0).unwrap();
    let mut bad = config(0, 5);
    let err = category_spend_report(&[], &bad, eps, &mut seeded(1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid report configuration: max_categories_per_customer must be at least 1"
    );
    bad = config(1, 0);
    assert!(category_spend_report(&[], &bad, eps, &mut seeded(1)).is_err());
    bad = config(1, 5);
    bad.groups.clear();
    assert!(category_spend_report(&[], &bad, eps, &mut seeded(1)).is_err());
}

#[test]
fn people_like_you_releases_a_peer_mean_or_withholds_it() {
    let clamp = Clamp::new(0, 100_000).unwrap();
    let eps = Epsilon::new(1.0).unwrap();
    let peers: Vec<i64> = (0..2000).map(|i| 30_000 + (i % 5) * 5_000).collect(); // mean 40 000
    let r = people_like_you(&peers, clamp, eps, 50, &mut seeded(23)).unwrap();
    let m = r.value.unwrap();
    assert!((m - 40_000.0).abs() < 1_000.0, "{m}");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["epsilon_spent"], 1.0);
    assert_eq!(json["mechanism"]["sum_scale"], 100_000.0);
    assert_eq!(json["clamp"]["hi"], 100_000);

    let few = people_like_you(&[35_000; 3], clamp, eps, 50, &mut seeded(24)).unwrap();
    assert_eq!(few.value, None);
    assert_eq!(
        few.epsilon_spent, 1.0,
        "a withheld release still spent its ε"
    );
}

#[test]
fn reports_are_charged_first_and_refused_past_the_budget() {
    let ledger = InMemoryLedger::new();
    let charge = Charge {
        analyst: "analyst-7",
        epsilon: Epsilon::new(0.4).unwrap(),
        budget: Budget::new(1.0).unwrap(),
        query: "category spend report 2026-05",
    };
    let mut noise = seeded(25);
    let rows: Vec<SpendRow<'_>> = Vec::new();
    let cfg = config(2, 20);
    for _ in 0..2 {
        charge_then(&ledger, &charge, |eps| {
            category_spend_report(&rows, &cfg, eps, &mut noise)
        })
        .unwrap();
    }
    let err = charge_then(&ledger, &charge, |eps| {
        category_spend_report(&rows, &cfg, eps, &mut noise)
    })
    .unwrap_err();
    assert!(matches!(err, PrivacyError::Budget(_)));
    assert_eq!(
        err.to_string(),
        "privacy budget exhausted for analyst \"analyst-7\": requested epsilon 0.4, already spent 0.8 of 1"
    );
    assert_eq!(ledger.spent("analyst-7").unwrap().to_string(), "0.8");
}
