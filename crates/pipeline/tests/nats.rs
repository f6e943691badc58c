//! NATS mode across processes (two `Stream`s sharing PostgreSQL and one JetStream stream): an
//! event submitted on one is processed by the worker of the other, and the committed alert
//! reaches the live subscribers of both; an erasure on one drops the customer's live state on
//! the other and deletes the customer's events from the JetStream stream, leaving others'.

use serde_json::{Value, json};
use sextant_bus::{Bus, BusConfig};
use sextant_pipeline::{Stream, StreamConfig};
use sextant_stream::{DEMO_RULES, RuleSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

fn debit(id: &str, minute: i64, amount: i64) -> Value {
    let ts = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z").unwrap()
        + chrono::Duration::minutes(minute * 20);
    json!({
        "event_id": id, "type": "transaction", "customer_id": "n1", "timestamp": ts.to_rfc3339(),
        "transaction_id": format!("t-{id}"), "account_id": "a1", "amount_minor": -amount,
        "currency": "EUR", "merchant": "Rewe", "category": "groceries", "channel": "card_present",
        "country": "DE", "status": "approved",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_from_one_process_reach_subscribers_of_another() {
    let db = sextant_testkit::fresh(sextant_testkit::Kind::Postgres).await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let cfg = BusConfig {
        stream: format!("PIPE_{run}"),
        subject_prefix: format!("pipe{run}.events"),
        partitions: 4,
        ..BusConfig::default()
    };
    let rules = Arc::new(RuleSet::from_toml(DEMO_RULES).unwrap());
    let stream_cfg = StreamConfig {
        partitions: 4,
        ..StreamConfig::default()
    };
    let bus_a = Arc::new(Bus::connect(cfg.clone()).await.unwrap());
    let bus_b = Arc::new(Bus::connect(cfg).await.unwrap());
    let a = Stream::new(
        db.store.clone(),
        rules.clone(),
        stream_cfg.clone(),
        Some(bus_a.clone()),
    );
    let b = Stream::new(db.store.clone(), rules, stream_cfg, Some(bus_b));
    let (stop, rx) = watch::channel(false);
    let worker = a.spawn_worker("a".into(), rx.clone());
    let _ann_a = a.spawn_announcements(rx.clone());
    let _ann_b = b.spawn_announcements(rx);
    let mut live_a = a.subscribe();
    let mut live_b = b.subscribe();
    tokio::time::sleep(Duration::from_millis(300)).await; // subscriptions in place

    let mut events: Vec<Value> = (0..12)
        .map(|i| debit(&format!("n{i}"), i, 2_000 + i))
        .collect();
    events.push(debit("nbig", 12, 90_000));
    let r = b.submit(&events, "test").await.unwrap();
    assert_eq!(r.accepted, 13);
    for live in [&mut live_b, &mut live_a] {
        let alert = tokio::time::timeout(Duration::from_secs(10), live.recv())
            .await
            .expect("the alert is announced to every process")
            .unwrap();
        assert_eq!(alert.rule, "large_vs_baseline");
        assert_eq!(alert.events.last().map(String::as_str), Some("nbig"));
    }
    assert_eq!(db.store.stream().count_alerts().await.unwrap(), 1);

    // Erased through process b: process a, which holds the customer's windows, drops them.
    let id = sextant_core::CustomerId::parse("n1").unwrap();
    assert!(a.customer_view(&id).is_some());
    // Another customer's event, which the erasure must leave on the stream.
    let mut other = debit("m1", 13, 1_500);
    other["customer_id"] = json!("n2");
    other["transaction_id"] = json!("t-m1");
    assert_eq!(b.submit(&[other], "test").await.unwrap().accepted, 1);
    let n2_partition = sextant_stream::partition_of("n2", 4);
    let n2_seq = bus_a.last_seq(n2_partition).await.unwrap();
    assert!(n2_seq > 0);
    // The erasure also deletes the customer's raw events retained by JetStream.
    assert_eq!(
        b.erase(&id).await.unwrap(),
        Some(13),
        "all 13 of n1's events"
    );
    let n1_partition = sextant_stream::partition_of("n1", 4);
    let is_n1 = |p: &[u8]| serde_json::from_slice::<Value>(p).unwrap()["customer_id"] == "n1";
    assert_eq!(
        bus_a.erase_messages(n1_partition, is_n1).await.unwrap(),
        0,
        "none left"
    );
    assert_eq!(
        bus_a.last_seq(n2_partition).await.unwrap(),
        n2_seq,
        "n2's event stays"
    );
    for _ in 0..200 {
        if a.customer_view(&id).is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        a.customer_view(&id).is_none(),
        "the erasure reached the other process"
    );
    stop.send(true).unwrap();
    worker.await.unwrap().unwrap();
    bus_a.delete_stream().await.unwrap();
}

/// NATS mode has back-pressure too: with the partition consumers stopped and more than
/// `max_lag` events waiting on them, ingestion refuses; once a worker drains them it accepts
/// again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingestion_pushes_back_when_the_consumers_fall_behind() {
    let db = sextant_testkit::fresh(sextant_testkit::Kind::Postgres).await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let cfg = BusConfig {
        stream: format!("LAG_{run}"),
        subject_prefix: format!("lag{run}.events"),
        partitions: 2,
        ..BusConfig::default()
    };
    let rules = Arc::new(RuleSet::from_toml(DEMO_RULES).unwrap());
    let stream_cfg = StreamConfig {
        partitions: 2,
        max_lag: 20,
        ..StreamConfig::default()
    };
    let bus = Arc::new(Bus::connect(cfg).await.unwrap());
    let s = Stream::new(db.store.clone(), rules, stream_cfg, Some(bus.clone()));
    let events = |from: i64, n: i64| -> Vec<Value> {
        (from..from + n)
            .map(|i| debit(&format!("l{i}"), i, 1_000 + i))
            .collect()
    };
    // A worker opens the durable consumers, applies a first batch, and stops.
    let (stop, rx) = watch::channel(false);
    let worker = s.spawn_worker("w1".into(), rx);
    assert_eq!(s.submit(&events(0, 5), "test").await.unwrap().accepted, 5);
    for _ in 0..400 {
        if s.status().processed == 5 && bus.backlog().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        s.status().processed,
        5,
        "the worker applied the first batch"
    );
    assert_eq!(bus.backlog().await.unwrap(), 0, "and acknowledged it");
    stop.send(true).unwrap();
    worker.await.unwrap().unwrap();

    // Nobody consumes now: 30 waiting events are more than max_lag = 20.
    tokio::time::sleep(sextant_pipeline::BACKLOG_EVERY).await;
    assert_eq!(s.submit(&events(5, 30), "test").await.unwrap().accepted, 30);
    tokio::time::sleep(sextant_pipeline::BACKLOG_EVERY).await;
    match s.submit(&events(35, 1), "test").await {
        Err(sextant_pipeline::PipelineError::Backpressure { lag, .. }) => assert_eq!(lag, 30),
        other => panic!("expected back-pressure, got {other:?}"),
    }

    // A worker drains the backlog; ingestion accepts again.
    let (stop, rx) = watch::channel(false);
    let worker = s.spawn_worker("w2".into(), rx);
    for _ in 0..400 {
        if s.status().processed == 35 && bus.backlog().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(s.status().processed, 35, "the backlog was applied");
    tokio::time::sleep(sextant_pipeline::BACKLOG_EVERY).await;
    assert_eq!(s.submit(&events(35, 1), "test").await.unwrap().accepted, 1);
    stop.send(true).unwrap();
    worker.await.unwrap().unwrap();
    bus.delete_stream().await.unwrap();
}
