//! Features and segments end to end on both backends, over a generated bank: profiling consent
//! gates every path, online and batch features agree, models train, promote and assign, and the
//! seed-002 profile CSV alone is enough to segment.

use sextant_core::{ConsentPurpose, ConsentRecord, CustomerId};
use sextant_ingest::{ImportOptions, import_file};
use sextant_intelligence::{
    IntelError, ModelCache, Policy, assign_online, compute_features, refresh_features,
    train_segments,
};
use sextant_store::{RecordKind, Table};
use sextant_testkit::{TestDb, on_both_backends};

async fn bank(db: &TestDb, customers: u64, profile_only: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sextant_synth::Config {
        customers,
        months: 3,
        seed: 11,
        ..Default::default()
    };
    sextant_synth::generate(&cfg, dir.path(), &|_| {}).unwrap();
    let files: &[(RecordKind, &str)] = if profile_only {
        &[(RecordKind::Customers, "customers.csv")]
    } else {
        &[
            (RecordKind::Products, "products.csv"),
            (RecordKind::Customers, "customers_full.csv"),
            (RecordKind::Accounts, "accounts.csv"),
            (RecordKind::Transactions, "transactions.csv"),
        ]
    };
    for (kind, f) in files {
        import_file(
            db.store.as_ref(),
            *kind,
            &dir.path().join(f),
            &ImportOptions::default(),
            |_| {},
        )
        .await
        .unwrap();
    }
    dir
}

async fn grant(db: &TestDb, id: &str, granted: bool) {
    let rec = ConsentRecord {
        customer_id: CustomerId::parse(id).unwrap(),
        purpose: ConsentPurpose::Profiling,
        granted,
        at: chrono::Utc::now(),
        source: "customer".into(),
    };
    assert!(db.store.append_consent(&rec).await.unwrap());
}

fn small_segments() -> sextant_segment::SegmentConfig {
    sextant_segment::SegmentConfig {
        macro_k: Some(3),
        micro_k: Some(2),
        seed: 7,
        ..Default::default()
    }
}

async fn profiling_consent_gates_features_and_segments(db: TestDb) {
    let _dir = bank(&db, 120, false).await;
    let policy = Policy::default();
    let as_of = chrono::Utc::now();
    let none = refresh_features(db.store.as_ref(), &policy, as_of, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(
        (none.computed, none.without_consent),
        (0, 120),
        "opt-in: nothing is derived without consent"
    );
    for i in 1..=80 {
        grant(&db, &i.to_string(), true).await;
    }
    let some = refresh_features(db.store.as_ref(), &policy, as_of, &|_, _| {})
        .await
        .unwrap();
    assert_eq!((some.computed, some.without_consent), (80, 40));

    // Online and batch agree: the same definition over the same data.
    let id = CustomerId::parse("5").unwrap();
    let online = compute_features(db.store.as_ref(), &id, &policy, as_of)
        .await
        .unwrap();
    let stored: sextant_features::FeatureVector =
        serde_json::from_str(&db.store.get_features(&id).await.unwrap().unwrap().vector).unwrap();
    assert_eq!(online.values.len(), stored.values.len());
    for (a, b) in online.values.iter().zip(&stored.values) {
        assert!(
            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            "{a} vs {b}"
        );
    }
    let outsider = CustomerId::parse("100").unwrap();
    assert!(matches!(
        compute_features(db.store.as_ref(), &outsider, &policy, as_of).await,
        Err(IntelError::Consent(_))
    ));

    let (version, model) = train_segments(db.store.as_ref(), &small_segments(), true)
        .await
        .unwrap();
    assert_eq!(model.trained_on, 80, "trained only on consenting customers");
    assert!(model.leaf_count() >= 2 && model.leaf_count() <= 15);
    let sizes: u64 = db
        .store
        .segment_sizes(version)
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(sizes, 80);
    let cache = ModelCache::default();
    let seg = assign_online(db.store.as_ref(), &cache, &id, &policy)
        .await
        .unwrap();
    assert_eq!(seg.model_version, version);
    assert_eq!(seg.persona.segment_id, seg.assignment.segment_id);
    assert!(matches!(
        assign_online(db.store.as_ref(), &cache, &outsider, &policy).await,
        Err(IntelError::Consent(_))
    ));

    // Withdrawal: the next refresh removes what was derived.
    grant(&db, "5", false).await;
    refresh_features(db.store.as_ref(), &policy, as_of, &|_, _| {})
        .await
        .unwrap();
    assert!(db.store.get_features(&id).await.unwrap().is_none());
    assert!(db.store.get_segment(&id).await.unwrap().is_none());
    assert_eq!(db.store.count(Table::Customers).await.unwrap(), 120);
}

async fn seed_002_profiles_alone_segment(db: TestDb) {
    let _dir = bank(&db, 150, true).await;
    // The bank declares a legal basis for profiling its existing customers.
    let policy = Policy {
        consent_defaults: vec![ConsentPurpose::Profiling],
    };
    let s = refresh_features(db.store.as_ref(), &policy, chrono::Utc::now(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(s.computed, 150);
    let (_, model) = train_segments(
        db.store.as_ref(),
        &sextant_segment::SegmentConfig::default(),
        true,
    )
    .await
    .unwrap();
    assert!(model.feature_names.iter().all(|f| {
        sextant_features::profile_feature_indices()
            .iter()
            .any(|&i| sextant_features::FEATURES[i].name == f.as_str())
    }));
    let names: std::collections::HashSet<_> =
        model.personas.iter().map(|p| p.name.clone()).collect();
    assert_eq!(
        names.len(),
        model.personas.len(),
        "persona names are unique"
    );
    assert!(model.personas.iter().all(|p| !p.description.is_empty()));
}

async fn bank_models_train_point_in_time_and_explain(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sextant_synth::Config {
        customers: 400,
        months: 6,
        seed: 5,
        ..Default::default()
    };
    sextant_synth::generate(&cfg, dir.path(), &|_| {}).unwrap();
    for (kind, f) in [
        (RecordKind::Customers, "customers_full.csv"),
        (RecordKind::Accounts, "accounts.csv"),
        (RecordKind::Transactions, "transactions.csv"),
    ] {
        import_file(
            db.store.as_ref(),
            kind,
            &dir.path().join(f),
            &ImportOptions::default(),
            |_| {},
        )
        .await
        .unwrap();
    }
    let policy = Policy {
        consent_defaults: vec![ConsentPurpose::Profiling],
    };
    let cutoff = chrono::DateTime::parse_from_rfc3339("2026-08-31T23:59:59Z")
        .unwrap()
        .to_utc();
    use sextant_intelligence::bank_models::{BankModelCache, Target, score, train};
    let cache = BankModelCache::default();
    let t = train(db.store.as_ref(), &policy, Target::Churn, cutoff, 0.3)
        .await
        .unwrap();
    assert!(t.rows > 300 && t.positives > 0, "{t:?}");
    // The fairness audit covers gender, age band and region; an impossible threshold is violated.
    assert_eq!(
        t.fairness
            .iter()
            .map(|r| r.attribute.as_str())
            .collect::<Vec<_>>(),
        ["gender", "age_band", "region"]
    );
    let impossible = sextant_fairness::Thresholds {
        min_disparate_impact_ratio: Some(1.01),
        ..Default::default()
    };
    assert_eq!(t.violations(&impossible).len(), 3);
    assert!(
        t.violations(&sextant_fairness::Thresholds::default())
            .is_empty()
    );
    assert!(db.store.promote_model(t.name, t.version).await.unwrap());
    let id = CustomerId::parse("3").unwrap();
    let scores = score(db.store.as_ref(), &cache, &id, &policy)
        .await
        .unwrap();
    assert_eq!(scores.len(), 1);
    let s = &scores[0];
    assert!((0.0..=1.0).contains(&s.probability));
    assert!(s.reasons.len() <= 3 && !s.shap.is_empty(), "{s:?}");
    // Exact explanations: base + every contribution = the log-odds.
    let rec = db.store.get_model("churn", None).await.unwrap().unwrap();
    let model = sextant_models::Gbdt::from_json(&rec.model).unwrap();
    let f = compute_features(db.store.as_ref(), &id, &policy, chrono::Utc::now())
        .await
        .unwrap();
    let used: Vec<f64> = sextant_features::FEATURES
        .iter()
        .zip(&f.values)
        .filter(|(d, _)| !sextant_intelligence::bank_models::NOT_POINT_IN_TIME.contains(&d.name))
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(model.feature_names().len(), used.len());
    let e = model.explain(&used).unwrap();
    assert!((e.shap_total() - e.raw_score).abs() < 1e-9);
    assert!((model.raw_score(&used).unwrap() - e.raw_score).abs() < 1e-9);
    assert!(matches!(
        score(db.store.as_ref(), &cache, &id, &Policy::default()).await,
        Err(IntelError::Consent(_))
    ));
}

/// The feature table served from memory: loaded whole, then kept current from what was written
/// since — a refresh stamped with an older `as_of` included — agreeing bit for bit with the store
/// and with the online computation; another version's row leaves it.
async fn features_are_served_from_memory_and_follow_writes(db: TestDb) {
    let _dir = bank(&db, 60, false).await;
    let store = db.store.as_ref();
    let policy = Policy::default();
    for i in 1..=40 {
        grant(&db, &i.to_string(), true).await;
    }
    let as_of = chrono::Utc::now();
    refresh_features(store, &policy, as_of, &|_, _| {})
        .await
        .unwrap();
    let cache = sextant_intelligence::serving::FeatureCache::default();
    assert!(cache.is_empty());
    cache.sync(store).await.unwrap();
    assert_eq!(cache.len(), 40);
    let id = CustomerId::parse("7").unwrap();
    let same = |a: &sextant_features::FeatureVector, b: &sextant_features::FeatureVector| {
        a.values.len() == b.values.len()
            && a.values
                .iter()
                .zip(&b.values)
                .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    };
    let served = cache.get(store, &id).await.unwrap().unwrap();
    let online = compute_features(store, &id, &policy, as_of).await.unwrap();
    assert!(same(&served, &online), "memory, store and online agree");

    // A refresh as of an earlier date (an older computed_at) still reaches memory: the cache
    // follows write time, not the features' as-of date.
    let earlier = as_of - chrono::Duration::days(40);
    refresh_features(store, &policy, earlier, &|_, _| {})
        .await
        .unwrap();
    let recomputed = compute_features(store, &id, &policy, earlier)
        .await
        .unwrap();
    assert!(!same(&recomputed, &online), "the two dates differ");
    assert!(
        same(&cache.get(store, &id).await.unwrap().unwrap(), &online),
        "polled at most once a second"
    );
    cache.sync_now(store).await.unwrap();
    assert!(same(
        &cache.get(store, &id).await.unwrap().unwrap(),
        &recomputed
    ));

    // A row of another feature version is not served; eviction is immediate.
    let mut row = store.get_features(&id).await.unwrap().unwrap();
    row.version += 1;
    store.put_features(&[row]).await.unwrap();
    cache.sync_now(store).await.unwrap();
    assert!(cache.peek(&id).is_none());
    assert_eq!(cache.len(), 39);
    let other = CustomerId::parse("8").unwrap();
    assert!(cache.peek(&other).is_some());
    cache.evict(&other);
    assert!(cache.peek(&other).is_none());
}

on_both_backends!(
    features_are_served_from_memory_and_follow_writes,
    profiling_consent_gates_features_and_segments,
    seed_002_profiles_alone_segment,
    bank_models_train_point_in_time_and_explain
);
