//! The outcome store's contract on both backends: experiments (unique ids, status, sequential
//! state), sticky first exposures, outcomes after exposure (feedback, marketing opt-outs,
//! complaints), KPI activity and customers, drift references, and erasure of exposures.

use chrono::{TimeZone, Utc};
use sextant_core::{
    ConsentPurpose, ConsentRecord, CustomerEvent, CustomerId, CustomerMessage, EventId, EventKind,
    MessageId, ProductId,
};
use sextant_store::{ExperimentRow, ExposureRow};
use sextant_testkit::{TestDb, on_both_backends};

fn exp(id: &str, at: i64) -> ExperimentRow {
    ExperimentRow {
        id: id.into(),
        name: format!("experiment {id}"),
        kind: "strategy".into(),
        spec: "{\"id\":\"x\"}".into(),
        status: "running".into(),
        created_at: at,
        updated_at: at,
        created_by: "key_1".into(),
        monitor: None,
    }
}

fn exposure(e: &str, c: &str, arm: &str, at: i64) -> ExposureRow {
    ExposureRow {
        experiment_id: e.into(),
        customer_id: c.into(),
        arm: arm.into(),
        first_at: at,
        decision_id: None,
        context: (arm != "holdout").then(|| "[1.0,0.5]".to_string()),
    }
}

fn cid(id: &str) -> CustomerId {
    CustomerId::parse(id).unwrap()
}

fn ts(micros: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_micros(micros).unwrap()
}

fn event(id: &str, c: &str, at: i64, kind: EventKind, value: Option<i32>) -> CustomerEvent {
    CustomerEvent {
        id: EventId::parse(id).unwrap(),
        customer_id: cid(c),
        timestamp: ts(at),
        kind,
        product_id: Some(ProductId::parse("P-SAV-EASY").unwrap()),
        decision_id: None,
        value,
    }
}

async fn experiments_are_unique_and_move(db: TestDb) {
    let o = db.store.outcomes();
    assert!(o.experiment_insert(&exp("a", 10)).await.unwrap());
    assert!(o.experiment_insert(&exp("b", 20)).await.unwrap());
    assert!(
        !o.experiment_insert(&exp("a", 30)).await.unwrap(),
        "a taken id writes nothing"
    );
    let ids: Vec<_> = o
        .experiments()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, ["b", "a"], "newest first");
    assert_eq!(o.experiment("a").await.unwrap().unwrap().created_at, 10);
    assert!(o.experiment_status("a", "stopped", 40).await.unwrap());
    assert!(!o.experiment_status("zz", "stopped", 40).await.unwrap());
    assert!(o.experiment_status("a", "paused", 40).await.is_err());
    assert!(o.experiment_monitor("a", "{\"m\":1}", 50).await.unwrap());
    let a = o.experiment("a").await.unwrap().unwrap();
    assert_eq!(
        (a.status.as_str(), a.monitor.as_deref(), a.updated_at),
        ("stopped", Some("{\"m\":1}"), 50)
    );
    let mut bad = exp("c", 1);
    bad.spec = "not json".into();
    assert!(o.experiment_insert(&bad).await.is_err());
    assert!(o.experiment("c").await.unwrap().is_none());
}

async fn exposures_are_sticky_and_outcomes_follow_them(db: TestDb) {
    sextant_testkit::import_customers(db.store.as_ref(), &["1", "2", "3"]).await;
    let o = db.store.outcomes();
    o.experiment_insert(&exp("e", 1)).await.unwrap();
    let n = o
        .expose(&[
            exposure("e", "1", "control", 1_000),
            exposure("e", "2", "treatment", 1_000),
            exposure("e", "3", "holdout", 1_000),
        ])
        .await
        .unwrap();
    assert_eq!(n, 3);
    // A second exposure keeps the first row (its arm and time).
    assert_eq!(
        o.expose(&[exposure("e", "1", "treatment", 9_000)])
            .await
            .unwrap(),
        0
    );
    let x = o.exposure("e", "1").await.unwrap().unwrap();
    assert_eq!((x.arm.as_str(), x.first_at), ("control", 1_000));
    assert_eq!(
        x.context.as_deref(),
        Some("[1.0,0.5]"),
        "the context round-trips"
    );
    let h = o.exposure("e", "3").await.unwrap().unwrap();
    assert_eq!(h.context, None);
    assert_eq!(
        o.exposure_counts("e").await.unwrap(),
        [
            ("control".to_string(), 1),
            ("holdout".to_string(), 1),
            ("treatment".to_string(), 1)
        ]
    );
    assert!(o.expose(&[exposure("e", "", "a", 1)]).await.is_err());

    // Before the exposure: ignored. After: counted.
    db.store
        .insert_event(&event("ev1", "2", 500, EventKind::Accept, None))
        .await
        .unwrap();
    db.store
        .insert_event(&event("ev2", "2", 2_000, EventKind::Accept, None))
        .await
        .unwrap();
    db.store
        .insert_event(&event("ev3", "2", 2_100, EventKind::Impression, None))
        .await
        .unwrap();
    db.store
        .append_consent(&ConsentRecord {
            customer_id: cid("3"),
            purpose: ConsentPurpose::Marketing,
            granted: false,
            at: ts(3_000),
            source: "customer".into(),
        })
        .await
        .unwrap();
    db.store
        .assistant()
        .insert_message(&CustomerMessage {
            id: MessageId::parse("m1").unwrap(),
            customer_id: cid("1"),
            timestamp: ts(4_000),
            channel: "chat".into(),
            body: "this is terrible".into(),
            sentiment: Some(-0.8),
        })
        .await
        .unwrap();
    let mut got: Vec<_> = o
        .experiment_outcomes("e")
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.customer_id, r.arm, r.kind, r.product_id))
        .collect();
    got.sort();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        got,
        [
            ("1".into(), "control".into(), None, None),
            ("1".into(), "control".into(), s("complaint"), None),
            ("2".into(), "treatment".into(), s("accept"), s("P-SAV-EASY")),
            ("3".into(), "holdout".into(), None, None),
            ("3".into(), "holdout".into(), s("unsubscribe"), None),
        ]
    );
    let arms = o.experiment_arms("e").await.unwrap();
    assert_eq!(arms.len(), 3);

    // Activity from `since` on.
    db.store
        .insert_event(&event("ev4", "1", 5_000, EventKind::Survey, Some(9)))
        .await
        .unwrap();
    let mut act: Vec<_> = o
        .activity(1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.customer_id, a.source, a.at, a.value))
        .collect();
    act.sort();
    assert_eq!(
        act,
        [
            ("1".into(), "event:survey".into(), 5_000, Some(9)),
            ("1".into(), "message".into(), 4_000, None),
            ("2".into(), "event:accept".into(), 2_000, None),
            ("2".into(), "event:impression".into(), 2_100, None),
        ]
    );
    let customers = o.kpi_customers().await.unwrap();
    assert_eq!(customers.len(), 3);
    assert_eq!(customers[1].customer_id, "2");
    assert!(customers[1].first_seen.is_some());
    assert_eq!(customers[0].income_minor, Some(5_000_000));

    // Contact preferences replace; export carries them and the exposures; erasure removes both.
    o.set_contact_preferences("2", "{\"preferred\":[\"sms\"]}", 1)
        .await
        .unwrap();
    o.set_contact_preferences("2", "{\"preferred\":[\"email\"]}", 2)
        .await
        .unwrap();
    assert_eq!(
        o.contact_preferences("2").await.unwrap().as_deref(),
        Some("{\"preferred\":[\"email\"]}")
    );
    let export = sextant_store::dsr::export_customer(db.store.as_ref(), &cid("2"), &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(export.experiment_exposures.len(), 1);
    assert_eq!(export.contact_preferences.unwrap()["preferred"][0], "email");
    db.store
        .erase_customer(&cid("2"), &[])
        .await
        .unwrap()
        .unwrap();
    assert!(o.exposure("e", "2").await.unwrap().is_none());
    assert!(o.contact_preferences("2").await.unwrap().is_none());
    assert!(o.exposure("e", "1").await.unwrap().is_some());
}

async fn references_replace_per_version(db: TestDb) {
    let o = db.store.outcomes();
    o.references_put(
        "churn",
        1,
        &[("a".into(), "{}".into()), ("b".into(), "[]".into())],
    )
    .await
    .unwrap();
    o.references_put("churn", 1, &[("c".into(), "{\"x\":1}".into())])
        .await
        .unwrap();
    o.references_put("churn", 2, &[("a".into(), "{}".into())])
        .await
        .unwrap();
    assert_eq!(
        o.references("churn", 1).await.unwrap(),
        [("c".to_string(), "{\"x\":1}".to_string())]
    );
    assert_eq!(o.references("churn", 2).await.unwrap().len(), 1);
    assert!(o.references("other", 1).await.unwrap().is_empty());
}

/// Contact history: a customer's decisions of one kind since a time, oldest first, with the
/// channel each went out on read out of its payload (none when it has no contact).
async fn recent_contacts_read_the_channel_out_of_each_decision(db: TestDb) {
    sextant_testkit::import_customers(db.store.as_ref(), &["1", "2"]).await;
    let decision = |id: &str, customer: &str, t: i64, kind: &str, channel: Option<&str>| {
        let mut payload = serde_json::json!({ "recommendation": { "product_id": "p1" } });
        if let Some(c) = channel {
            payload["contact"] = serde_json::json!({ "channel": c, "reason": "x" });
        }
        sextant_core::Decision {
            id: sextant_core::DecisionId::parse(id).unwrap(),
            customer_id: cid(customer),
            at: Utc.timestamp_micros(t).unwrap(),
            kind: kind.into(),
            versions: serde_json::json!({}),
            payload,
            status: "shown".into(),
        }
    };
    let ds = [
        decision("dec_c", "1", 3_000, "next_best_action", Some("email")),
        decision("dec_a", "1", 1_000, "next_best_action", Some("sms")),
        decision("dec_b", "1", 2_000, "next_best_action", None),
        decision("dec_old", "1", 500, "next_best_action", Some("sms")),
        decision("dec_other_kind", "1", 2_500, "credit", Some("sms")),
        decision(
            "dec_other_customer",
            "2",
            2_500,
            "next_best_action",
            Some("sms"),
        ),
    ];
    let audit = sextant_core::AuditRecord {
        actor: "test".into(),
        action: "decision.recommend".into(),
        subject: "1".into(),
        details: serde_json::json!({}),
    };
    db.store.record_decisions(&ds, &[], audit).await.unwrap();
    let got = db
        .store
        .outcomes()
        .recent_contacts("1", "next_best_action", 1_000)
        .await
        .unwrap();
    let got: Vec<(String, i64, Option<String>)> = got
        .into_iter()
        .map(|c| (c.decision_id, c.at, c.channel))
        .collect();
    assert_eq!(
        got,
        vec![
            ("dec_a".into(), 1_000, Some("sms".into())),
            ("dec_b".into(), 2_000, None),
            ("dec_c".into(), 3_000, Some("email".into())),
        ]
    );
}

on_both_backends!(
    recent_contacts_read_the_channel_out_of_each_decision,
    experiments_are_unique_and_move,
    exposures_are_sticky_and_outcomes_follow_them,
    references_replace_per_version,
);
