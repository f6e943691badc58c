//! Segments and features through the API on both backends, over a generated bank with its own
//! consents: personas for staff, a customer's segment only with profiling consent, and
//! withdrawal removing what was derived.

mod common;

use common::spawn;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sextant_core::{ConsentPurpose, CustomerId, Role};
use sextant_ingest::{ImportOptions, import_file};
use sextant_intelligence::Policy;
use sextant_store::RecordKind;
use sextant_testkit::{TestDb, on_both_backends};

async fn segments_and_features_follow_profiling_consent(db: TestDb) {
    let app = spawn(db).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = sextant_synth::Config {
        customers: 80,
        months: 2,
        seed: 3,
        ..Default::default()
    };
    sextant_synth::generate(&cfg, dir.path(), &|_| {}).unwrap();
    // The generated bank's customer ids start at 1, like the fixture's; move them out of the way.
    for (kind, f) in [
        (RecordKind::Customers, "customers_full.csv"),
        (RecordKind::Accounts, "accounts.csv"),
        (RecordKind::Transactions, "transactions.csv"),
        (RecordKind::Consents, "consents.csv"),
    ] {
        let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
        let mut lines = text.lines();
        let mut out = format!("{}\n", lines.next().unwrap());
        for l in lines {
            // Prefix every customer id (the first column for customers, the second otherwise).
            let mut cols: Vec<String> = l.split(',').map(str::to_string).collect();
            let i = if kind == RecordKind::Customers { 0 } else { 1 };
            cols[i] = format!("g{}", cols[i]);
            if kind == RecordKind::Transactions {
                cols[2] = format!("g{}", cols[2]);
            }
            if kind == RecordKind::Accounts {
                cols[0] = format!("g{}", cols[0]);
            }
            out.push_str(&cols.join(","));
            out.push('\n');
        }
        let path = dir.path().join(format!("g_{f}"));
        std::fs::write(&path, out).unwrap();
        import_file(
            app.db.store.as_ref(),
            kind,
            &path,
            &ImportOptions::default(),
            |_| {},
        )
        .await
        .unwrap();
    }
    let policy = Policy::default();
    let summary = sextant_intelligence::refresh_features(
        app.db.store.as_ref(),
        &policy,
        chrono::Utc::now(),
        &|_, _| {},
    )
    .await
    .unwrap();
    assert!(
        summary.computed > 20 && summary.without_consent > 0,
        "{summary:?}"
    );
    let seg = sextant_segment::SegmentConfig {
        macro_k: Some(2),
        micro_k: Some(2),
        seed: 1,
        ..Default::default()
    };
    sextant_intelligence::train_segments(app.db.store.as_ref(), &seg, true)
        .await
        .unwrap();

    let analyst = app.key(Role::Analyst, None).await;
    let (s, v) = app.get("/v1/segments", Some(&analyst)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let personas = v["personas"].as_array().unwrap();
    assert!(personas.len() >= 2);
    let total: u64 = v["sizes"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(total, summary.computed);

    // One customer with profiling consent, one without.
    let mut with = None;
    let mut without = None;
    for i in 1..=80 {
        let id = CustomerId::parse(&format!("g{i}")).unwrap();
        let state = app.db.store.consent_state(&id, &[]).await.unwrap().unwrap();
        if state.allows(ConsentPurpose::Profiling) {
            with.get_or_insert(id)
        } else {
            without.get_or_insert(id)
        };
    }
    let (with, without) = (with.unwrap(), without.unwrap());
    let own = app.key(Role::Customer, Some(with.as_str())).await;
    let (s, v) = app
        .get(&format!("/v1/customers/{with}/segment"), Some(&own))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["persona"]["segment_id"], v["assignment"]["segment_id"]);
    assert!(!v["persona"]["name"].as_str().unwrap().is_empty());
    let (s, v) = app
        .get(&format!("/v1/customers/{with}/features"), Some(&analyst))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["features"]["monthly_spend"].is_number());
    assert!(v["features"].get("gender").is_none());
    assert_eq!(
        app.get(&format!("/v1/customers/{with}/features"), Some(&own))
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    let (s, v) = app
        .get(&format!("/v1/customers/{without}/segment"), Some(&analyst))
        .await;
    assert_eq!(
        (s, v["type"].clone()),
        (
            StatusCode::FORBIDDEN,
            json!("https://sextant.dev/problems/consent-required")
        )
    );
    assert_eq!(
        app.get(&format!("/v1/customers/{without}/features"), Some(&analyst))
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // Scores from a promoted bank model are recorded as a decision with the versions used.
    // (The small bank has no defaults to learn from, so register a model with the bank models'
    // feature list trained on a synthetic pattern.)
    let names: Vec<String> = sextant_features::FEATURES
        .iter()
        .map(|f| f.name)
        .filter(|n| !sextant_intelligence::bank_models::NOT_POINT_IN_TIME.contains(n))
        .map(str::to_string)
        .collect();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..200 {
        x.extend((0..names.len()).map(|j| ((i * 31 + j * 7) % 100) as f64));
        y.push(if (i * 31) % 100 > 50 { 1.0 } else { 0.0 });
    }
    let data = sextant_models::Dataset::from_parts(names, x, y).unwrap();
    let params = sextant_models::TrainParams::default();
    let gbdt = sextant_models::Gbdt::fit(&data, &params.gbdt).unwrap();
    let card = sextant_models::ModelCard::new(
        "credit_default",
        "2026-11-01T00:00:00Z",
        &data,
        &params,
        None,
    );
    let version = app
        .db
        .store
        .save_model(
            "credit_default",
            1,
            &serde_json::to_string(&card).unwrap(),
            &gbdt.to_json().unwrap(),
        )
        .await
        .unwrap();
    struct T {
        name: &'static str,
        version: i64,
    }
    let t = T {
        name: "credit_default",
        version,
    };
    app.db.store.promote_model(t.name, t.version).await.unwrap();
    let (s, v) = app
        .get(&format!("/v1/customers/{with}/scores"), Some(&analyst))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let decision_id = v["decision_id"].as_str().unwrap().to_string();
    assert_eq!(v["scores"][0]["model"], "credit_default");
    let decisions = app.db.store.list_decisions(&with).await.unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].id.as_str(), decision_id);
    assert_eq!(decisions[0].versions["models"]["credit_default"], t.version);
    let audit = app.db.store.audit_entries(0, 1000).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "decision.score"
                && e.details["decision_id"] == decision_id.as_str())
    );
    assert_eq!(
        app.get(&format!("/v1/customers/{without}/scores"), Some(&analyst))
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // The credit score carries its decision (and counterfactuals, empty when approved).
    let credit = &v["scores"][0];
    assert!(
        credit["decision"] == "approve" || credit["decision"] == "decline",
        "{credit}"
    );
    assert!(credit["counterfactuals"].is_array(), "{credit}");

    // Transaction anomaly scores: 409 until a model is promoted, then the customer's own key
    // sees its most recent debits scored with reasons; profiling consent gates it.
    let path = format!("/v1/customers/{with}/transactions/anomalies?limit=5");
    assert_eq!(app.get(&path, Some(&own)).await.0, StatusCode::CONFLICT);
    let trained = sextant_intelligence::anomaly::train(
        app.db.store.as_ref(),
        &Policy::default(),
        &sextant_models::anomaly::ForestParams::default(),
        true,
    )
    .await
    .unwrap();
    // A promotion reaches scoring within PROMOTION_CHECK (the 409 above was cached).
    tokio::time::sleep(sextant_intelligence::bank_models::PROMOTION_CHECK).await;
    let (s, v) = app.get(&path, Some(&own)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["model"], "transaction_anomaly");
    assert_eq!(v["version"], trained.version);
    let txs = v["transactions"].as_array().unwrap();
    assert!(!txs.is_empty() && txs.len() <= 5, "{v}");
    for t in txs {
        let score = t["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "{t}");
        assert!(
            t["reasons"].is_array() && t["contributions"].is_array(),
            "{t}"
        );
    }
    assert_eq!(
        app.get(
            &format!("/v1/customers/{with}/transactions/anomalies?limit=0"),
            Some(&own)
        )
        .await
        .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get(
            &format!("/v1/customers/{without}/transactions/anomalies"),
            Some(&analyst)
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    // Insights need personalization consent.
    let grant = json!({"consents": {"personalization": true}});
    app.send(
        Method::PUT,
        &format!("/v1/customers/{with}/consents"),
        &own,
        Some(&grant),
    )
    .await;
    let (s, v) = app
        .get(&format!("/v1/customers/{with}/insights"), Some(&own))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for section in [
        "breakdown",
        "month_over_month",
        "recurring",
        "unusual",
        "forecast",
        "budget",
        "savings_opportunities",
        "messages",
    ] {
        assert!(v.get(section).is_some(), "insights lack {section}");
    }
    let deny = json!({"consents": {"personalization": false}});
    app.send(
        Method::PUT,
        &format!("/v1/customers/{with}/consents"),
        &own,
        Some(&deny),
    )
    .await;
    let (s, v) = app
        .get(&format!("/v1/customers/{with}/insights"), Some(&own))
        .await;
    assert_eq!(
        (s, v["detail"].clone()),
        (
            StatusCode::FORBIDDEN,
            json!("the customer has not consented to personalization")
        )
    );

    // Withdrawal takes effect at once and removes the derived data.
    let withdraw = json!({"consents": {"profiling": false}});
    assert_eq!(
        app.send(
            Method::PUT,
            &format!("/v1/customers/{with}/consents"),
            &own,
            Some(&withdraw)
        )
        .await
        .0,
        StatusCode::OK
    );
    assert!(app.db.store.get_features(&with).await.unwrap().is_none());
    assert!(app.db.store.get_segment(&with).await.unwrap().is_none());
    assert_eq!(
        app.get(&format!("/v1/customers/{with}/segment"), Some(&own))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

on_both_backends!(segments_and_features_follow_profiling_consent);
