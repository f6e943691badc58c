//! The event stream's storage contract on both backends: the embedded log (dedupe, order, group
//! commit), offsets moved by compare-and-swap with alerts and their outbox in the same
//! transaction, checkpoints, dead letters, webhook delivery retries, worker heartbeats, partition
//! leases, and erasure of a customer's stream rows.

use sextant_core::CustomerId;
use sextant_store::{
    AlertRow, Appended, Batch, DeadLetter, NewLogEvent, ProcessedBatch, RecordKind, Store,
    StoreError,
};
use sextant_testkit::{TestDb, ledger, on_both_backends};
use std::collections::HashSet;

fn ev(id: &str, customer: &str, body: &str) -> NewLogEvent {
    NewLogEvent {
        event_id: id.into(),
        customer_id: customer.into(),
        ts_micros: 1_000,
        kind: "transaction".into(),
        body: body.into(),
    }
}

fn alert(id: &str, customer: &str, kind: &str, at: i64) -> AlertRow {
    AlertRow {
        id: id.into(),
        customer_id: customer.into(),
        rule: "velocity".into(),
        kind: kind.into(),
        severity: "high".into(),
        at_micros: at,
        created_micros: 5,
        source: "embedded".into(),
        body: format!("{{\"id\":\"{id}\"}}"),
    }
}

fn batch(expected: i64, new: i64, alerts: Vec<AlertRow>, webhooks: &[&str]) -> ProcessedBatch {
    ProcessedBatch {
        source: "embedded".into(),
        expected_offset: expected,
        new_offset: new,
        alerts,
        webhooks: webhooks.iter().map(|w| w.to_string()).collect(),
        applied: Vec::new(),
        holds: Vec::new(),
        transactions: Vec::new(),
        balances: Vec::new(),
    }
}

fn dead(customer: Option<&str>, payload: &str) -> DeadLetter {
    DeadLetter {
        source: "embedded".into(),
        position: customer.map(|_| 7),
        customer_id: customer.map(str::to_string),
        received_micros: 42,
        payload: payload.into(),
        reason: "field 'amount_minor': not an integer".into(),
    }
}

const FAR: i64 = i64::MAX / 2;

async fn log_appends_dedupe_and_keep_order(db: TestDb) {
    let s = db.store.stream();
    assert_eq!(s.log_head().await.unwrap(), 0);
    assert!(s.append_events(&[]).await.unwrap().is_empty());
    let r = s
        .append_events(&[ev("a", "1", "A"), ev("b", "2", "B"), ev("a", "1", "A2")])
        .await
        .unwrap();
    let (sa, sb) = (r[0].seq(), r[1].seq());
    assert!(sa < sb);
    assert_eq!(
        r,
        vec![
            Appended::New(sa),
            Appended::New(sb),
            Appended::Duplicate(sa)
        ]
    );
    let r = s
        .append_events(&[ev("c", "1", "C"), ev("b", "2", "B2")])
        .await
        .unwrap();
    // Seqs increase; a rejected duplicate may consume a number (gaps are allowed).
    let sc = r[0].seq();
    assert!(sc > sb);
    assert_eq!(r, vec![Appended::New(sc), Appended::Duplicate(sb)]);
    let log = s.read_log(0, 10).await.unwrap();
    let got: Vec<_> = log
        .iter()
        .map(|e| {
            (
                e.seq,
                e.event_id.as_str(),
                e.customer_id.as_str(),
                e.body.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (sa, "a", "1", "A"),
            (sb, "b", "2", "B"),
            (sc, "c", "1", "C")
        ],
        "the first event with an id wins"
    );
    assert_eq!(s.read_log(sa, 1).await.unwrap()[0].event_id, "b");
    assert!(s.read_log(sc, 10).await.unwrap().is_empty());
    assert_eq!(s.log_head().await.unwrap(), sc);

    // A large batch keeps input order.
    let big: Vec<_> = (0..5000)
        .map(|i| ev(&format!("big-{i}"), "3", "{}"))
        .collect();
    let r = s.append_events(&big).await.unwrap();
    let seqs: Vec<i64> = r
        .iter()
        .map(|a| match a {
            Appended::New(s) => *s,
            Appended::Duplicate(_) => panic!("{a:?}"),
        })
        .collect();
    assert!(seqs[0] > sc && seqs.windows(2).all(|w| w[0] < w[1]));
    let head = *seqs.last().unwrap();
    assert_eq!(s.log_head().await.unwrap(), head);
    let page = s.read_log(seqs[3995], 3).await.unwrap();
    assert_eq!(page[0].event_id, "big-3996");

    // Concurrent callers (group-committed on SQLite), with overlapping ids: every id ends up
    // exactly once, and every caller learns its seq.
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            let events: Vec<_> = (0..50)
                .map(|i| ev(&format!("c-{}", (t * 25) + i), "4", "{}"))
                .collect();
            let r = store.stream().append_events(&events).await.unwrap();
            events
                .into_iter()
                .zip(r)
                .map(|(e, a)| (e.event_id, a))
                .collect::<Vec<_>>()
        }));
    }
    let mut by_id = std::collections::HashMap::new();
    let mut new = 0;
    for t in tasks {
        for (id, a) in t.await.unwrap() {
            new += matches!(a, Appended::New(_)) as usize;
            let prev = by_id.insert(id.clone(), a.seq());
            assert!(prev.is_none() || prev == Some(a.seq()), "{id}: {a:?}");
        }
    }
    let distinct = 7 * 25 + 50;
    assert_eq!((by_id.len(), new), (distinct, distinct));
    let seqs: HashSet<i64> = by_id.values().copied().collect();
    assert_eq!(seqs.len(), distinct);
    assert!(seqs.iter().all(|s| *s > head));
    let tail = s.read_log(head, 1000).await.unwrap();
    assert_eq!(tail.len(), distinct);
    assert_eq!(s.log_head().await.unwrap(), tail.last().unwrap().seq);
}

async fn commit_processed_is_compare_and_swap(db: TestDb) {
    let s = db.store.stream();
    assert_eq!(s.stream_offset("embedded").await.unwrap(), 0);
    let mut b = batch(0, 10, vec![alert("a1", "1", "fraud", 100)], &["ops"]);
    b.applied = vec![("e1".into(), 1)];
    assert_eq!(s.commit_processed(&b).await.unwrap(), 1);
    assert_eq!(s.stream_offset("embedded").await.unwrap(), 10);

    // A processor that also started from 0 lost the race: nothing it did is written.
    for expected in [0, 5] {
        let mut stale = batch(expected, 12, vec![alert("a2", "1", "fraud", 101)], &["ops"]);
        stale.applied = vec![("e2".into(), 2)];
        let err = s.commit_processed(&stale).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        assert!(err.to_string().contains("is 10"), "{err}");
    }
    assert_eq!(s.stream_offset("embedded").await.unwrap(), 10);
    assert_eq!(s.count_alerts().await.unwrap(), 1);
    assert!(s.get_alert("a2").await.unwrap().is_none());
    assert_eq!(s.due_deliveries(FAR, 10).await.unwrap().len(), 1);
    let applied = s.applied_events(&["e1".into(), "e2".into()]).await.unwrap();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied["e1"], ("embedded".to_string(), 1));

    // The winner's successor continues; other sources are independent.
    assert_eq!(
        s.commit_processed(&batch(10, 20, vec![], &[]))
            .await
            .unwrap(),
        0
    );
    assert_eq!(s.stream_offset("embedded").await.unwrap(), 20);
    let mut p3 = batch(0, 7, vec![], &[]);
    p3.source = "nats.p3".into();
    s.commit_processed(&p3).await.unwrap();
    assert_eq!(s.stream_offset("nats.p3").await.unwrap(), 7);
    assert_eq!(s.stream_offset("embedded").await.unwrap(), 20);
    assert!(
        s.commit_processed(&p3).await.is_err(),
        "0 no longer matches"
    );
}

async fn alerts_are_idempotent_and_outbox_only_for_new(db: TestDb) {
    let s = db.store.stream();
    let first = batch(
        0,
        1,
        vec![
            alert("a1", "1", "fraud", 100),
            alert("a2", "2", "distress", 100),
        ],
        &["ops", "crm"],
    );
    assert_eq!(s.commit_processed(&first).await.unwrap(), 2);
    assert_eq!(s.due_deliveries(FAR, 100).await.unwrap().len(), 4);
    // Returned rows are claimed: another dispatcher does not get them during the claim.
    assert!(s.due_deliveries(FAR, 100).await.unwrap().is_empty());
    let later = FAR + 2 * sextant_store::stream::CLAIM_MICROS;
    // Reprocessing raises a2 again (same id) and a new a3: one new alert, two new deliveries.
    let mut again = batch(
        1,
        2,
        vec![
            alert("a2", "2", "distress", 100),
            alert("a3", "1", "opportunity", 300),
        ],
        &["ops", "crm"],
    );
    again.alerts[0].body = "changed".into();
    assert_eq!(s.commit_processed(&again).await.unwrap(), 1);
    assert_eq!(s.count_alerts().await.unwrap(), 3);
    assert_eq!(
        s.get_alert("a2").await.unwrap().unwrap().body,
        "{\"id\":\"a2\"}"
    );
    let due = s.due_deliveries(later, 100).await.unwrap();
    assert_eq!(due.len(), 6);
    let pairs: HashSet<_> = due
        .iter()
        .map(|d| (d.alert_id.as_str(), d.webhook.as_str()))
        .collect();
    assert_eq!(pairs.len(), 6);
    assert!(pairs.contains(&("a3", "crm")));
    assert_eq!(
        s.due_deliveries(later + 2 * sextant_store::stream::CLAIM_MICROS, 2)
            .await
            .unwrap()
            .len(),
        2
    );

    // Listing: newest first, filters, keyset paging (ties on `at` ordered by id).
    s.commit_processed(&batch(
        2,
        3,
        vec![
            alert("a4", "1", "fraud", 300),
            alert("a5", "2", "fraud", 50),
        ],
        &[],
    ))
    .await
    .unwrap();
    let ids = |v: Vec<AlertRow>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_alerts(None, None, None, 10).await.unwrap()),
        ["a4", "a3", "a2", "a1", "a5"]
    );
    assert_eq!(
        ids(s.list_alerts(Some("1"), None, None, 10).await.unwrap()),
        ["a4", "a3", "a1"]
    );
    assert_eq!(
        ids(s.list_alerts(None, Some("fraud"), None, 10).await.unwrap()),
        ["a4", "a1", "a5"]
    );
    assert_eq!(
        ids(s
            .list_alerts(Some("2"), Some("fraud"), None, 10)
            .await
            .unwrap()),
        ["a5"]
    );
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.list_alerts(None, None, cursor.clone(), 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        cursor = page.last().map(|a| (a.at_micros, a.id.clone()));
        seen.extend(ids(page));
    }
    assert_eq!(seen, ["a4", "a3", "a2", "a1", "a5"]);
    assert_eq!(
        ids(s
            .list_alerts(Some("1"), None, Some((300, "a4".into())), 10)
            .await
            .unwrap()),
        ["a3", "a1"]
    );
    let a4 = s.get_alert("a4").await.unwrap().unwrap();
    assert_eq!(a4, alert("a4", "1", "fraud", 300));
}

async fn checkpoints_round_trip(db: TestDb) {
    let s = db.store.stream();
    assert!(s.load_checkpoint("embedded").await.unwrap().is_none());
    let snap: Vec<u8> = (0..=255u8).chain([0, 0, 255]).collect();
    s.save_checkpoint("embedded", 5, &snap).await.unwrap();
    assert_eq!(
        s.load_checkpoint("embedded").await.unwrap(),
        Some((5, snap.clone()))
    );
    s.save_checkpoint("embedded", 9, b"v2").await.unwrap();
    assert_eq!(
        s.load_checkpoint("embedded").await.unwrap(),
        Some((9, b"v2".to_vec()))
    );
    assert!(s.load_checkpoint("nats.p0").await.unwrap().is_none());
}

async fn dead_letters_are_kept_and_truncated(db: TestDb) {
    let s = db.store.stream();
    s.dead_letter(&[]).await.unwrap();
    let long = format!("x{}", "é".repeat(10_000)); // 20 001 bytes
    s.dead_letter(&[dead(Some("1"), "not json"), dead(None, &long)])
        .await
        .unwrap();
    let all = s.list_dead_letters(0, 10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].0 < all[1].0);
    assert_eq!(all[0].1, dead(Some("1"), "not json"));
    let cut = &all[1].1.payload;
    assert_eq!(
        cut.len(),
        sextant_store::stream::DEAD_LETTER_MAX_PAYLOAD - 1
    );
    assert!(long.starts_with(cut.as_str()));
    assert_eq!((all[1].1.position, &all[1].1.customer_id), (None, &None));
    let rest = s.list_dead_letters(all[0].0, 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].0, all[1].0);
    assert_eq!(s.list_dead_letters(0, 1).await.unwrap().len(), 1);
}

async fn deliveries_retry_then_give_up(db: TestDb) {
    let s = db.store.stream();
    let now = sextant_store::now_micros() + 1_000_000;
    s.commit_processed(&batch(
        0,
        1,
        vec![alert("a1", "1", "fraud", 1), alert("a2", "1", "fraud", 2)],
        &["ops"],
    ))
    .await
    .unwrap();
    let due = s.due_deliveries(now, 10).await.unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(
        (
            due[0].alert_id.as_str(),
            due[0].attempts,
            due[0].body.as_str()
        ),
        ("a1", 0, "{\"id\":\"a1\"}")
    );
    let (d1, d2) = (due[0].id, due[1].id);
    // a1 fails and is retried later; a2 is delivered.
    s.delivery_done(d1, false, Some(now + 5_000), Some("HTTP 503"))
        .await
        .unwrap();
    s.delivery_done(d2, true, None, None).await.unwrap();
    assert!(s.due_deliveries(now, 10).await.unwrap().is_empty());
    let retry = s.due_deliveries(now + 5_000, 10).await.unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!((retry[0].id, retry[0].attempts), (d1, 1));
    s.delivery_done(d1, false, Some(now + 9_000), Some("timeout"))
        .await
        .unwrap();
    assert_eq!(s.due_deliveries(FAR, 10).await.unwrap()[0].attempts, 2);
    // Giving up: never due again (and a late report about it changes nothing).
    s.delivery_done(d1, false, None, Some("HTTP 410"))
        .await
        .unwrap();
    s.delivery_done(d1, false, Some(now), None).await.unwrap();
    assert!(s.due_deliveries(FAR, 10).await.unwrap().is_empty());
}

async fn heartbeats_count_live_workers(db: TestDb) {
    let s = db.store.stream();
    assert_eq!(s.heartbeat("w1", 1_000, 100).await.unwrap(), 1);
    assert_eq!(s.heartbeat("w2", 1_050, 100).await.unwrap(), 2);
    assert_eq!(s.heartbeat("w1", 1_120, 100).await.unwrap(), 2);
    // w2 last seen at 1 050: gone by 1 150.
    assert_eq!(s.heartbeat("w1", 1_200, 100).await.unwrap(), 1);
    assert_eq!(s.heartbeat("w2", 1_210, 100).await.unwrap(), 2);
}

/// Poll briefly: PostgreSQL releases a closed session's locks once it notices the disconnect.
async fn acquire_soon(s: &mut Box<dyn sextant_store::LeaseSession>, p: u32) -> bool {
    for _ in 0..100 {
        if s.try_acquire(p).await.unwrap() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

async fn leases_are_exclusive_and_released(db: TestDb) {
    let s = db.store.stream();
    let mut a = s.lease_session().await.unwrap();
    let mut b = s.lease_session().await.unwrap();
    assert!(a.try_acquire(3).await.unwrap());
    assert!(a.try_acquire(3).await.unwrap(), "held already");
    assert!(!b.try_acquire(3).await.unwrap());
    assert!(b.try_acquire(4).await.unwrap());
    assert!(!a.try_acquire(4).await.unwrap());
    a.check().await.unwrap();
    b.check().await.unwrap();

    // Released explicitly (once, even though acquired twice): the other session takes it.
    a.release(3).await.unwrap();
    assert!(b.try_acquire(3).await.unwrap());
    assert!(!a.try_acquire(3).await.unwrap());
    a.release(9).await.unwrap(); // not held: a no-op

    // A session from another store on the same database contends too.
    let other = match &db.schema {
        None => sextant_store::open(&db.url).await.unwrap(),
        Some(schema) => std::sync::Arc::new(
            sextant_store::PgStore::connect(&sextant_testkit::pg_url(), Some(schema.clone()))
                .await
                .unwrap(),
        ),
    };
    let mut c = other.stream().lease_session().await.unwrap();
    assert!(!c.try_acquire(4).await.unwrap());

    // Dropping a session releases everything it held.
    drop(b);
    assert!(acquire_soon(&mut a, 3).await);
    assert!(acquire_soon(&mut c, 4).await);
    assert!(!a.try_acquire(4).await.unwrap());
}

fn customer(
    id: &str,
) -> (
    u64,
    sextant_core::Customer,
    sextant_core::ProtectedAttributes,
) {
    let c = sextant_testkit::customer_fixture(id);
    (1, c, Default::default())
}

async fn import_customers(store: &dyn Store, ids: &[&str]) {
    let mut sink = store
        .begin_import(RecordKind::Customers, "c.csv")
        .await
        .unwrap();
    let rows = ids.iter().map(|id| customer(id)).collect();
    assert!(sink.write(Batch::Customers(rows)).await.unwrap().is_empty());
    assert!(sink.finish().await.unwrap().is_empty());
    sink.commit(0).await.unwrap();
}

async fn erasure_removes_stream_rows(db: TestDb) {
    use sextant_core::secrets::MasterKey;
    use sextant_store::crypt::EncryptedStore;
    let enc = EncryptedStore::new(db.store.clone(), MasterKey::from_bytes([3; 32]).cipher());
    import_customers(&enc, &["1", "2"]).await;
    let s = enc.stream(); // the decorator hands out the backend's stream store
    s.append_events(&[
        ev("e1", "1", "{}"),
        ev("e2", "2", "{}"),
        ev("e3", "77", "{}"),
        ev("e4", "1", "{}"),
    ])
    .await
    .unwrap();
    let mut b = batch(
        0,
        4,
        vec![alert("a1", "1", "fraud", 1), alert("a2", "2", "fraud", 2)],
        &["ops", "crm"],
    );
    b.applied = vec![("e1".into(), 1), ("e2".into(), 2), ("e4".into(), 4)];
    s.commit_processed(&b).await.unwrap();
    s.dead_letter(&[dead(Some("1"), "x"), dead(Some("2"), "y"), dead(None, "z")])
        .await
        .unwrap();
    s.save_checkpoint("embedded", 4, b"snapshot with customer 1")
        .await
        .unwrap();

    let counts = enc
        .erase_customer(&CustomerId::parse("1").unwrap(), &[])
        .await
        .unwrap()
        .unwrap();
    let n = |t: &str| counts.iter().find(|(name, _)| name == t).map(|(_, n)| *n);
    assert_eq!(
        [
            n("event_log"),
            n("stream_applied"),
            n("alerts"),
            n("webhook_deliveries"),
            n("dead_letters"),
            n("customers")
        ],
        [Some(2), Some(2), Some(1), Some(2), Some(1), Some(1)]
    );
    let log: Vec<_> = s
        .read_log(0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(log, ["e2", "e3"]);
    assert!(
        s.load_checkpoint("embedded").await.unwrap().is_none(),
        "the embedded snapshot may hold the customer's windows"
    );
    assert!(s.get_alert("a1").await.unwrap().is_none());
    assert!(s.get_alert("a2").await.unwrap().is_some());
    let due = s.due_deliveries(FAR, 10).await.unwrap();
    assert!(due.iter().all(|d| d.alert_id == "a2") && due.len() == 2);
    let letters: Vec<_> = s
        .list_dead_letters(0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, d)| d.customer_id)
        .collect();
    assert_eq!(letters, [Some("2".to_string()), None]);
    let applied = s
        .applied_events(&["e1".into(), "e2".into(), "e4".into()])
        .await
        .unwrap();
    assert_eq!(applied.keys().collect::<Vec<_>>(), ["e2"]);

    // A customer seen only on the stream can be erased too; an unknown one cannot.
    let counts = enc
        .erase_customer(&CustomerId::parse("77").unwrap(), &[])
        .await
        .unwrap()
        .unwrap();
    let n = |t: &str| counts.iter().find(|(name, _)| name == t).map(|(_, n)| *n);
    assert_eq!((n("event_log"), n("customers")), (Some(1), Some(0)));
    assert!(
        enc.erase_customer(&CustomerId::parse("88").unwrap(), &[])
            .await
            .unwrap()
            .is_none()
    );

    // Seqs are never reused, even after the newest events were erased.
    assert_eq!(s.log_head().await.unwrap(), 2);
    assert!(s.append_events(&[ev("e5", "2", "{}")]).await.unwrap()[0].seq() > 4);
}

/// On SQLite a processor's commit shares the appends' group commit: a commit that fails its
/// compare-and-swap fails alone, the appends written with it stay.
async fn a_failed_commit_leaves_appends_beside_it(db: TestDb) {
    let s = db.store.stream();
    s.commit_processed(&batch(0, 1, vec![], &[])).await.unwrap();
    for i in 0..20 {
        let stale = batch(0, 2, vec![alert("x", "1", "fraud", 1)], &[]);
        let event = [ev(&format!("j{i}"), "1", "{}")];
        let (appended, committed) =
            tokio::join!(s.append_events(&event), s.commit_processed(&stale));
        assert!(
            matches!(committed, Err(StoreError::Conflict(_))),
            "{committed:?}"
        );
        assert!(matches!(appended.unwrap()[..], [Appended::New(_)]));
    }
    assert_eq!(s.read_log(0, 100).await.unwrap().len(), 20);
    assert!(s.get_alert("x").await.unwrap().is_none());
    assert_eq!(s.stream_offset("embedded").await.unwrap(), 1);
}

fn hold(n: &str, customer: &str) -> sextant_store::FraudHold {
    let decision_id = sextant_core::DecisionId::parse(&format!("dec_alert_{n}")).unwrap();
    let customer_id = CustomerId::parse(customer).unwrap();
    sextant_store::FraudHold {
        decision: sextant_core::Decision {
            id: decision_id.clone(),
            customer_id: customer_id.clone(),
            at: chrono::Utc::now(),
            kind: "fraud_hold".into(),
            versions: serde_json::json!({}),
            payload: serde_json::json!({ "alert": n }),
            status: "pending_review".into(),
        },
        review: sextant_store::ReviewCase {
            id: format!("rev_alert_{n}"),
            decision_id,
            customer_id: customer_id.clone(),
            created_at: 7,
            reason: serde_json::json!({ "kind": "fraud_alert" }),
            status: sextant_store::ReviewStatus::Pending,
            reviewer: None,
            note: None,
            resolved_at: None,
            modified_payload: None,
        },
        audit: sextant_core::AuditRecord {
            actor: "system".into(),
            action: "decision.fraud_hold".into(),
            subject: customer.into(),
            details: serde_json::json!({ "alert_id": n }),
        },
    }
}

/// Fraud holds are written with the batch: once per decision id (a replayed batch opens no
/// second case), and a hold for a customer the store does not know is skipped, the batch kept.
async fn fraud_holds_commit_with_the_batch_once(db: TestDb) {
    import_customers(db.store.as_ref(), &["1"]).await;
    let s = db.store.stream();
    let mut b = batch(0, 5, vec![alert("a1", "1", "fraud", 1)], &[]);
    b.holds = vec![hold("a1", "1"), hold("a77", "77")];
    assert_eq!(s.commit_processed(&b).await.unwrap(), 1);
    let mut again = batch(5, 9, vec![alert("a1", "1", "fraud", 1)], &[]);
    again.holds = vec![hold("a1", "1")];
    assert_eq!(s.commit_processed(&again).await.unwrap(), 0);
    let reviews = db
        .store
        .customer_reviews(&CustomerId::parse("1").unwrap())
        .await
        .unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].id, "rev_alert_a1");
    let decision = sextant_core::DecisionId::parse("dec_alert_a1").unwrap();
    assert!(db.store.get_decision(&decision).await.unwrap().is_some());
    let unknown = sextant_core::DecisionId::parse("dec_alert_a77").unwrap();
    assert!(db.store.get_decision(&unknown).await.unwrap().is_none());
    assert_eq!(s.stream_offset("embedded").await.unwrap(), 9);
}

/// A long log: the customer's events are found (and erased) in every block of seqs, including a
/// customer whose only event is far from the start, and appends report the seq range they
/// covered, counting numbers that duplicates consumed.
async fn erasure_finds_log_rows_across_a_long_log(db: TestDb) {
    import_customers(db.store.as_ref(), &["1", "2"]).await;
    let s = db.store.stream();
    let events: Vec<NewLogEvent> = (0..10_000)
        .map(|i| {
            let who = match i {
                9_000 => "77",
                i if i % 3_000 == 0 => "1",
                _ => "2",
            };
            ev(&format!("e{i}"), who, "{}")
        })
        .collect();
    for chunk in events.chunks(2_500) {
        s.append_events(chunk).await.unwrap();
    }
    let ranges = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = ranges.clone();
    let out = s
        .append_events_then(
            &[ev("e0", "1", "{}"), ev("late", "2", "{}")],
            Box::new(move |range, results| seen.lock().unwrap().push((range, results.to_vec()))),
        )
        .await
        .unwrap();
    assert!(matches!(
        out[..],
        [Appended::Duplicate(1), Appended::New(_)]
    ));
    let (range, results) = ranges.lock().unwrap().pop().unwrap();
    assert_eq!(results, out);
    if let Some(r) = range {
        // SQLite reports the range; the duplicate consumed a number.
        assert_eq!((r.after, r.upto), (10_000, 10_002));
        assert_eq!(out[1], Appended::New(10_002));
    }

    let n = |counts: &[(String, u64)], t: &str| {
        counts.iter().find(|(name, _)| name == t).map(|(_, n)| *n)
    };
    let counts = db
        .store
        .erase_customer(&CustomerId::parse("1").unwrap(), &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n(&counts, "event_log"), Some(3));
    let counts = db
        .store
        .erase_customer(&CustomerId::parse("77").unwrap(), &[])
        .await
        .unwrap()
        .expect("a customer known only from one late event is found");
    assert_eq!(n(&counts, "event_log"), Some(1));
    let left = s.read_log(0, 20_000).await.unwrap();
    assert_eq!(left.len(), 10_001 - 4);
    assert!(left.iter().all(|e| e.customer_id == "2"));
}

/// Message events and dead letters hold the customer's own words: sealed at rest, readable
/// through the decorator.
async fn message_events_and_dead_letters_are_encrypted_at_rest(db: TestDb) {
    use sextant_core::secrets::MasterKey;
    use sextant_store::crypt::EncryptedStore;
    let enc = EncryptedStore::new(db.store.clone(), MasterKey::from_bytes([5; 32]).cipher());
    let words = "please close my account, I am moving to another bank";
    let mut m = ev("m1", "1", &format!("{{\"text\":\"{words}\"}}"));
    m.kind = "message".into();
    enc.stream()
        .append_events(&[m, ev("t1", "1", "{\"amount_minor\":-100}")])
        .await
        .unwrap();
    enc.stream()
        .dead_letter(&[dead(Some("1"), words)])
        .await
        .unwrap();
    let through = enc.stream().read_log(0, 10).await.unwrap();
    assert!(through[0].body.contains(words));
    assert_eq!(through[1].body, "{\"amount_minor\":-100}");
    let raw = db.store.stream().read_log(0, 10).await.unwrap();
    assert!(
        !raw[0].body.contains("close my account"),
        "sealed: {}",
        raw[0].body
    );
    assert_eq!(
        raw[1].body, "{\"amount_minor\":-100}",
        "transactions stay as they are"
    );
    assert_eq!(
        enc.stream().list_dead_letters(0, 10).await.unwrap()[0]
            .1
            .payload,
        words
    );
    let raw_dead = db.store.stream().list_dead_letters(0, 10).await.unwrap();
    assert!(!raw_dead[0].1.payload.contains("close my account"));
}

fn streamed(id: &str, customer: &str, account: &str, minor: i64) -> sextant_core::Transaction {
    let eur = sextant_core::Currency::EUR;
    sextant_core::Transaction {
        id: sextant_core::TransactionId::parse(id).unwrap(),
        customer_id: CustomerId::parse(customer).unwrap(),
        account_id: sextant_core::AccountId::parse(account).unwrap(),
        timestamp: chrono::DateTime::from_timestamp(1_767_225_600 + minor.abs(), 0).unwrap(),
        amount: sextant_core::Money::new(minor, eur),
        merchant: Some("Shop".into()),
        category: "groceries".parse().unwrap(),
        mcc: Some(sextant_core::Mcc::parse("5411").unwrap()),
        channel: "card_present".parse().unwrap(),
        country: sextant_core::CountryCode::parse("DE").unwrap(),
        balance_after: None,
        status: sextant_core::TxStatus::Approved,
    }
}

/// Streamed transactions reach the ledger with their batch: every field as streamed, once per id
/// (a replayed batch, or a row stored before, is left alone), only when the account is the
/// customer's (others are skipped, the batch kept), and not at all when the batch's
/// compare-and-swap fails. Erasure removes them with the customer.
async fn streamed_transactions_reach_the_ledger_once(db: TestDb) {
    let store = db.store.as_ref();
    import_customers(store, &["1", "2"]).await;
    sextant_testkit::import_accounts(store, &[("a1", "1"), ("a2", "2")]).await;
    let s = store.stream();
    let mut b = batch(0, 5, vec![], &[]);
    b.transactions = vec![
        streamed("t1", "1", "a1", -500),
        streamed("t2", "1", "a2", -100), // a2 is customer 2's
        streamed("t3", "9", "a9", -1),   // nobody the store knows
        streamed("t4", "2", "a2", -700),
        streamed("t1", "1", "a1", -501), // the same id twice in one batch: the first wins
    ];
    s.commit_processed(&b).await.unwrap();
    assert_eq!(ledger(store, "1").await, vec![("t1".into(), -500)]);
    assert_eq!(ledger(store, "2").await, vec![("t4".into(), -700)]);
    let got = store
        .list_transactions(&CustomerId::parse("1").unwrap(), None, 1)
        .await
        .unwrap();
    assert_eq!(got, vec![streamed("t1", "1", "a1", -500)]);

    let mut again = batch(5, 9, vec![], &[]);
    again.transactions = vec![
        streamed("t1", "1", "a1", -999),
        streamed("t5", "1", "a1", -200),
        // One id under two customers, both valid: the first to arrive wins (though the
        // ledger writes a batch grouped by customer).
        streamed("t7", "2", "a2", -70),
        streamed("t7", "1", "a1", -71),
    ];
    s.commit_processed(&again).await.unwrap();
    assert_eq!(
        ledger(store, "1").await,
        vec![("t1".into(), -500), ("t5".into(), -200)]
    );
    assert_eq!(
        ledger(store, "2").await,
        vec![("t4".into(), -700), ("t7".into(), -70)]
    );

    let mut fenced = batch(5, 12, vec![], &[]);
    fenced.transactions = vec![streamed("t6", "1", "a1", -6)];
    assert!(matches!(
        s.commit_processed(&fenced).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(ledger(store, "1").await.len(), 2);
    assert_eq!(s.stream_offset("embedded").await.unwrap(), 9);

    // Customers interleaved, no repeated id: every row written.
    let mut mixed = batch(9, 10, vec![], &[]);
    mixed.transactions = vec![
        streamed("t8", "2", "a2", -8),
        streamed("t9", "1", "a1", -9),
        streamed("t10", "2", "a2", -10),
    ];
    s.commit_processed(&mixed).await.unwrap();
    assert_eq!(
        ledger(store, "1").await,
        vec![("t1".into(), -500), ("t5".into(), -200), ("t9".into(), -9)]
    );
    assert_eq!(ledger(store, "2").await.len(), 4);

    store
        .erase_customer(&CustomerId::parse("1").unwrap(), &[])
        .await
        .unwrap();
    assert!(ledger(store, "1").await.is_empty());
    assert_eq!(ledger(store, "2").await.len(), 4);
}

async fn balance_of(store: &dyn Store, customer: &str) -> Vec<(String, i64)> {
    store
        .list_accounts(&CustomerId::parse(customer).unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.id.as_str().to_string(), a.balance.minor))
        .collect()
}

/// Streamed balances set the balance of the customer's own account in its currency, with the
/// batch; one naming another customer's account, an unknown account, or another currency is
/// skipped (the batch kept); a fenced batch sets nothing; an older balance than the stored one
/// is ignored.
async fn streamed_balances_update_the_customers_accounts(db: TestDb) {
    let store = db.store.as_ref();
    import_customers(store, &["1", "2"]).await;
    sextant_testkit::import_accounts(store, &[("a1", "1"), ("a2", "2"), ("a3", "2")]).await;
    let balance_at = |customer: &str, account: &str, minor: i64, currency: &str, at: i64| {
        sextant_store::StreamedBalance {
            customer_id: CustomerId::parse(customer).unwrap(),
            account_id: sextant_core::AccountId::parse(account).unwrap(),
            balance: sextant_core::Money::new(
                minor,
                sextant_core::Currency::parse(currency).unwrap(),
            ),
            at,
        }
    };
    let balance = |customer: &str, account: &str, minor: i64, currency: &str| {
        balance_at(customer, account, minor, currency, 1_000)
    };
    let s = store.stream();
    let mut b = batch(0, 5, vec![], &[]);
    b.balances = vec![
        balance("1", "a1", 12_345, "EUR"),
        balance("1", "a2", 999, "EUR"), // customer 2's account
        balance("2", "a3", 777, "USD"), // the account is in EUR
        balance("2", "a9", 1, "EUR"),   // no such account
    ];
    s.commit_processed(&b).await.unwrap();
    assert_eq!(balance_of(store, "1").await, vec![("a1".into(), 12_345)]);
    let mut two = balance_of(store, "2").await;
    two.sort();
    assert_eq!(two, vec![("a2".into(), 0), ("a3".into(), 0)]);

    let mut fenced = batch(0, 9, vec![], &[]);
    fenced.balances = vec![balance("1", "a1", 1, "EUR")];
    assert!(matches!(
        s.commit_processed(&fenced).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(balance_of(store, "1").await, vec![("a1".into(), 12_345)]);

    // A balance older than the stored one (a late event) changes nothing; one as old or newer
    // replaces it.
    let mut late = batch(5, 6, vec![], &[]);
    late.balances = vec![balance_at("1", "a1", 5, "EUR", 999)];
    s.commit_processed(&late).await.unwrap();
    assert_eq!(balance_of(store, "1").await, vec![("a1".into(), 12_345)]);
    let mut same = batch(6, 7, vec![], &[]);
    same.balances = vec![balance_at("1", "a1", 6, "EUR", 1_000)];
    s.commit_processed(&same).await.unwrap();
    assert_eq!(balance_of(store, "1").await, vec![("a1".into(), 6)]);
    let mut newer = batch(7, 8, vec![], &[]);
    newer.balances = vec![balance_at("1", "a1", 7, "EUR", 2_000)];
    s.commit_processed(&newer).await.unwrap();
    late.expected_offset = 8;
    late.new_offset = 9;
    s.commit_processed(&late).await.unwrap();
    assert_eq!(balance_of(store, "1").await, vec![("a1".into(), 7)]);
}

on_both_backends!(
    streamed_balances_update_the_customers_accounts,
    streamed_transactions_reach_the_ledger_once,
    message_events_and_dead_letters_are_encrypted_at_rest,
    log_appends_dedupe_and_keep_order,
    commit_processed_is_compare_and_swap,
    alerts_are_idempotent_and_outbox_only_for_new,
    checkpoints_round_trip,
    dead_letters_are_kept_and_truncated,
    deliveries_retry_then_give_up,
    heartbeats_count_live_workers,
    leases_are_exclusive_and_released,
    erasure_removes_stream_rows,
    erasure_finds_log_rows_across_a_long_log,
    a_failed_commit_leaves_appends_beside_it,
    fraud_holds_commit_with_the_batch_once,
);
