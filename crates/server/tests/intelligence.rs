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
