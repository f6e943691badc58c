//! Transaction anomaly scores end to end on both backends, over a generated bank: the forest
//! trains, registers and serves from the registry, profiling consent gates scoring, and the
//! scores rank the synthetic bank's injected frauds (`labels/fraud.csv`) well above chance —
//! forest alone, baseline alone and combined. On the same bank, credit-default counterfactuals
//! really flip the model's decision.

use std::collections::HashSet;

use sextant_core::{ConsentPurpose, ConsentRecord, CustomerId};
use sextant_intelligence::anomaly::{self, ForestCache};
use sextant_intelligence::{IntelError, Policy};
use sextant_models::anomaly::{ForestParams, IsolationForest};
use sextant_testkit::{TestDb, on_both_backends};

async fn bank(db: &TestDb, customers: u64) -> tempfile::TempDir {
    sextant_testkit::import_synthetic_bank(db.store.as_ref(), customers, 3, 7).await
}

fn frauds(dir: &std::path::Path) -> HashSet<String> {
    let mut r = csv::Reader::from_path(dir.join("labels/fraud.csv")).unwrap();
    r.records().map(|rec| rec.unwrap()[0].to_string()).collect()
}

async fn anomaly_scores_rank_the_injected_frauds(db: TestDb) {
    let dir = bank(&db, 1500).await;
    let labels = frauds(dir.path());
    assert!(labels.len() >= 20, "{} frauds", labels.len());
    let policy = Policy {
        consent_defaults: vec![ConsentPurpose::Profiling],
    };
    let t = anomaly::train(db.store.as_ref(), &policy, &ForestParams::default(), true)
        .await
        .unwrap();
    assert!(t.promoted && t.rows > 10_000, "{t:?}");
    let rec = db
        .store
        .get_model(anomaly::ANOMALY_MODEL, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.version, t.version);
    let forest = IsolationForest::from_json(&rec.model).unwrap();
    let e = anomaly::evaluate(db.store.as_ref(), &policy, &forest, &labels, &[10, 50])
        .await
        .unwrap();
    println!("{}", serde_json::to_string_pretty(&e).unwrap());
    assert_eq!(
        e.frauds,
        labels.len(),
        "every labelled fraud is a scored debit"
    );
    // Gates set a little under what was measured (see README "Fraud / anomaly").
    assert!(e.forest.roc_auc > GATE_FOREST_AUC, "{e:?}");
    assert!(e.baseline.roc_auc > GATE_BASELINE_AUC, "{e:?}");
    assert!(e.combined.roc_auc > GATE_COMBINED_AUC, "{e:?}");
    let p_at_frauds = e.combined.precision_at.last().unwrap().1;
    assert!(p_at_frauds > GATE_COMBINED_P_AT_FRAUDS, "{e:?}");

    // Scoring one customer: the most recent debits, newest first, with reasons.
    let fraudster = {
        let mut r = csv::Reader::from_path(dir.path().join("labels/fraud.csv")).unwrap();
        CustomerId::parse(&r.records().next().unwrap().unwrap()[1]).unwrap()
    };
    let cache = ForestCache::default();
    let scored = anomaly::score_customer(db.store.as_ref(), &cache, &fraudster, &policy, 500)
        .await
        .unwrap();
    assert_eq!(scored.version, t.version);
    assert!(
        scored
            .transactions
            .windows(2)
            .all(|w| w[0].timestamp >= w[1].timestamp)
    );
    let top = scored
        .transactions
        .iter()
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .unwrap();
    assert!(!top.reasons.is_empty(), "{top:?}");
    assert!((0.0..=1.0).contains(&top.score));

    // Without profiling consent (no defaults, none granted) nothing is scored.
    let strict = Policy::default();
    assert!(matches!(
        anomaly::score_customer(db.store.as_ref(), &cache, &fraudster, &strict, 10).await,
        Err(IntelError::Consent(_))
    ));
    let rec = ConsentRecord {
        customer_id: fraudster.clone(),
        purpose: ConsentPurpose::Profiling,
        granted: true,
        at: chrono::Utc::now(),
        source: "customer".into(),
    };
    db.store.append_consent(&rec).await.unwrap();
    assert!(
        anomaly::score_customer(db.store.as_ref(), &cache, &fraudster, &strict, 10)
            .await
            .is_ok()
    );

    check_credit_counterfactuals(&db, &policy, 1500).await;
}

/// Credit default: every score carries a decision; a declined one carries counterfactuals that
/// really flip the model's decision and change only actionable features.
async fn check_credit_counterfactuals(db: &TestDb, policy: &Policy, customers: u64) {
    use sextant_intelligence::bank_models::{BankModelCache, Target, score, train};
    let cache = BankModelCache::default();
    let cutoff = chrono::DateTime::parse_from_rfc3339("2026-09-30T23:59:59Z")
        .unwrap()
        .to_utc();
    use sextant_intelligence::bank_models::{
        CREDIT_DECISION_THRESHOLD, IMMUTABLE, credit_actionable,
    };
    let t = train(
        db.store.as_ref(),
        policy,
        Target::CreditDefault,
        cutoff,
        0.3,
    )
    .await
    .unwrap();
    assert!(t.positives > 0, "{t:?}");
    assert!(db.store.promote_model(t.name, t.version).await.unwrap());
    let rec = db
        .store
        .get_model("credit_default", None)
        .await
        .unwrap()
        .unwrap();
    let credit = sextant_models::Gbdt::from_json(&rec.model).unwrap();
    let names = credit.feature_names();
    let (mut declined, mut checked) = (0, 0);
    let mut riskiest: Option<(f64, Vec<f64>)> = None;
    for n in 1..=customers {
        let id = CustomerId::parse(&n.to_string()).unwrap();
        let Ok(scores) = score(db.store.as_ref(), &cache, &id, policy).await else {
            continue;
        };
        let s = scores.iter().find(|s| s.model == "credit_default").unwrap();
        let f = sextant_intelligence::compute_features(
            db.store.as_ref(),
            &id,
            policy,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        let used: Vec<f64> = sextant_features::FEATURES
            .iter()
            .zip(&f.values)
            .filter(|(d, _)| {
                !sextant_intelligence::bank_models::NOT_POINT_IN_TIME.contains(&d.name)
            })
            .map(|(_, v)| *v)
            .collect();
        if riskiest.as_ref().is_none_or(|r| r.0 < s.probability) {
            riskiest = Some((s.probability, used.clone()));
        }
        let cfs = s.counterfactuals.as_ref().unwrap();
        if s.probability >= CREDIT_DECISION_THRESHOLD {
            assert_eq!(s.decision, Some("decline"));
            declined += 1;
        } else {
            assert_eq!(s.decision, Some("approve"));
            assert!(cfs.is_empty());
        }
        for cf in cfs {
            let mut row = used.clone();
            for c in &cf.changes {
                assert!(!IMMUTABLE.contains(&c.feature.as_str()));
                row[names.iter().position(|n| *n == c.feature).unwrap()] = c.to;
            }
            assert!(credit.calibrated_proba(&row).unwrap() < CREDIT_DECISION_THRESHOLD);
            assert!(cf.text.starts_with("with "), "{}", cf.text);
            checked += 1;
        }
    }
    println!("credit: {declined} declined, {checked} counterfactuals checked");
    // Whatever the bank's default rate, the search works at a threshold the riskiest customer
    // is declined at.
    let (p, row) = riskiest.unwrap();
    let cfs =
        sextant_models::counterfactuals(&credit, &row, p - 1e-9, &credit_actionable(), 2).unwrap();
    println!("riskiest {p:.3}: {cfs:?}");
    for cf in &cfs {
        let mut r = row.clone();
        for c in &cf.changes {
            r[names.iter().position(|n| *n == c.feature).unwrap()] = c.to;
        }
        assert!(credit.calibrated_proba(&r).unwrap() < p - 1e-9);
    }
}

// Measured on this bank (1 500 customers, 3 months, seed 7; 127 396 debits, 156 frauds):
// ROC-AUC forest 0.9997, baseline 0.645, combined 0.9997; combined precision at 156 = 0.795.
// The gates sit a little under.
const GATE_FOREST_AUC: f64 = 0.99;
const GATE_BASELINE_AUC: f64 = 0.6;
const GATE_COMBINED_AUC: f64 = 0.99;
const GATE_COMBINED_P_AT_FRAUDS: f64 = 0.7;

on_both_backends!(anomaly_scores_rank_the_injected_frauds);
