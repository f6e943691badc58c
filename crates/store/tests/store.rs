//! The store contract on both backends: keys, idempotency, the audit chain (and tampering with it
//! directly in the database), migrations, imports that roll back or are abandoned, and the
//! next-best-action records (feedback events, decisions with review cases, bandit arms,
//! product sets).

use sextant_core::audit::verify_chain;
use sextant_core::{
    Account, AccountKind, AccountStatus, AuditRecord, CustomerEvent, CustomerId, Decision,
    DecisionId, EventId, EventKind, ProductId, Role,
};
use sextant_store::{
    ApiKeyRecord, ArmRow, Batch, EventInsert, FeedbackWrite, IdempotentResponse, RecordKind,
    ReviewCase, ReviewOutcome, ReviewStatus, Store, StoreError, Table,
};
use sextant_testkit::{Kind, TestDb, fresh, on_both_backends};

fn record(i: usize) -> AuditRecord {
    AuditRecord {
        actor: "cli".into(),
        action: "test.event".into(),
        subject: format!("s{i}"),
        details: serde_json::json!({ "n": i }),
    }
}

/// Run raw SQL against the test database, bypassing the store (as an attacker with file or
/// database access would).
async fn raw_sql(db: &TestDb, sql: &str) {
    match &db.schema {
        None => {
            let conn = rusqlite::Connection::open(&db.url).unwrap();
            conn.execute_batch(sql).unwrap();
        }
        Some(schema) => {
            let client = sextant_testkit::pg_client().await;
            client
                .batch_execute(&format!("SET search_path = {schema}; {sql}"))
                .await
                .unwrap();
        }
    }
}

async fn audit_chain_detects_tampering(db: TestDb) {
    for i in 0..5 {
        let e = db.store.append_audit(record(i)).await.unwrap();
        assert_eq!(e.seq, i as i64 + 1);
    }
    let entries = db.store.audit_entries(0, 100).await.unwrap();
    assert_eq!(entries.len(), 5);
    verify_chain(&entries).unwrap();
    assert_eq!(entries[1].prev_hash, entries[0].hash);

    raw_sql(&db, "UPDATE audit_log SET subject = 'forged' WHERE seq = 3").await;
    let err = verify_chain(&db.store.audit_entries(0, 100).await.unwrap()).unwrap_err();
    assert_eq!(err, (3, "hash mismatch (entry altered)".to_string()));
    raw_sql(&db, "UPDATE audit_log SET subject = 's2' WHERE seq = 3").await;
    verify_chain(&db.store.audit_entries(0, 100).await.unwrap()).unwrap();

    raw_sql(&db, "DELETE FROM audit_log WHERE seq = 2").await;
    let err = verify_chain(&db.store.audit_entries(0, 100).await.unwrap()).unwrap_err();
    assert_eq!(err.0, 3);
    assert!(err.1.starts_with("sequence gap"), "{}", err.1);

    // Reordering: swap the contents of two entries but keep sequence numbers.
    raw_sql(
        &db,
        "UPDATE audit_log SET seq = 100 WHERE seq = 4; UPDATE audit_log SET seq = 4 WHERE seq = 5; \
         UPDATE audit_log SET seq = 5 WHERE seq = 100; DELETE FROM audit_log WHERE seq = 1; \
         DELETE FROM audit_log WHERE seq = 3",
    )
    .await;
    let err = verify_chain(&db.store.audit_entries(0, 100).await.unwrap()).unwrap_err();
    assert_eq!(err.0, 4);
}

async fn api_keys_round_trip(db: TestDb) {
    let key = ApiKeyRecord {
        id: "0123456789abcdef".into(),
        hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role: Role::Customer,
        customer_id: Some(CustomerId::parse("42").unwrap()),
        label: "app".into(),
        created_at: 1,
        revoked_at: None,
    };
    db.store.insert_api_key(&key).await.unwrap();
    assert_eq!(
        db.store.get_api_key(&key.id).await.unwrap(),
        Some(key.clone())
    );
    assert!(db.store.get_api_key("nope").await.unwrap().is_none());
    assert!(db.store.revoke_api_key(&key.id, 7).await.unwrap());
    assert!(
        !db.store.revoke_api_key(&key.id, 8).await.unwrap(),
        "already revoked"
    );
    assert_eq!(
        db.store
            .get_api_key(&key.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(7)
    );
    assert_eq!(db.store.list_api_keys().await.unwrap().len(), 1);
    assert!(
        db.store.insert_api_key(&key).await.is_err(),
        "ids are unique"
    );
}

async fn idempotency_first_writer_wins(db: TestDb) {
    let a = IdempotentResponse {
        request_hash: "h1".into(),
        status: 201,
        body: "{\"a\":1}".into(),
        created_at: 1,
    };
    let b = IdempotentResponse {
        request_hash: "h2".into(),
        status: 201,
        body: "{\"b\":2}".into(),
        created_at: 2,
    };
    assert!(db.store.idempotency_get("k1", "x").await.unwrap().is_none());
    db.store.idempotency_put("k1", "x", &a).await.unwrap();
    db.store.idempotency_put("k1", "x", &b).await.unwrap();
    assert_eq!(db.store.idempotency_get("k1", "x").await.unwrap(), Some(a));
    assert!(
        db.store.idempotency_get("k2", "x").await.unwrap().is_none(),
        "scoped per key"
    );
}

fn customer(
    id: &str,
) -> (
    u64,
    sextant_core::Customer,
    sextant_core::ProtectedAttributes,
) {
    let c = sextant_testkit::customer_fixture(id);
    let p = sextant_core::ProtectedAttributes {
        gender: Some("F".into()),
        ..Default::default()
    };
    (1, c, p)
}

async fn rolled_back_and_abandoned_imports_leave_nothing(db: TestDb) {
    let mut sink = db
        .store
        .begin_import(RecordKind::Customers, "a.csv")
        .await
        .unwrap();
    sink.write(Batch::Customers(vec![customer("1")]))
        .await
        .unwrap();
    sink.rollback().await.unwrap();
    assert_eq!(db.store.count(Table::Customers).await.unwrap(), 0);
    let imports = db.store.list_imports(10).await.unwrap();
    assert_eq!(imports[0].status, "rolled_back");

    {
        let mut sink = db
            .store
            .begin_import(RecordKind::Customers, "b.csv")
            .await
            .unwrap();
        sink.write(Batch::Customers(vec![customer("2")]))
            .await
            .unwrap();
        // Dropped without commit: as if the process crashed mid-import.
    }
    assert_eq!(db.store.count(Table::Customers).await.unwrap(), 0);

    // The store is still usable and a real import commits.
    let mut sink = db
        .store
        .begin_import(RecordKind::Customers, "c.csv")
        .await
        .unwrap();
    assert!(
        sink.write(Batch::Customers(vec![customer("3")]))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(sink.finish().await.unwrap().is_empty());
    let rec = sink.commit(0).await.unwrap();
    assert_eq!(
        (rec.rows_written, rec.rows_new, rec.status.as_str()),
        (1, 1, "committed")
    );
    assert_eq!(db.store.count(Table::Customers).await.unwrap(), 1);
    // Protected attributes are stored apart and never part of the profile.
    let c = db
        .store
        .get_customer(&CustomerId::parse("3").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.name, "Customer_3");
}

async fn migrations_are_idempotent(db: TestDb) {
    // Opening again applies nothing new and keeps the data.
    db.store.append_audit(record(0)).await.unwrap();
    let again = match &db.schema {
        None => sextant_store::open(&db.url).await.unwrap(),
        Some(s) => std::sync::Arc::new(
            sextant_store::PgStore::connect(&sextant_testkit::pg_url(), Some(s.clone()))
                .await
                .unwrap(),
        ),
    };
    assert_eq!(again.count(Table::AuditLog).await.unwrap(), 1);
    again.ping().await.unwrap();
}

async fn pii_is_encrypted_at_rest_and_rotates(db: TestDb) {
    use sextant_core::secrets::MasterKey;
    use sextant_store::crypt::{EncryptedStore, rotate};
    let (k1, k2) = (
        MasterKey::from_bytes([1; 32]),
        MasterKey::from_bytes([2; 32]),
    );
    let enc = EncryptedStore::new(db.store.clone(), k1.cipher());
    let (line, mut c, p) = customer("7");
    c.name = "Ottilie Fairweather".into();
    c.email = Some("ottilie@example.org".into());
    let mut sink = enc
        .begin_import(RecordKind::Customers, "c.csv")
        .await
        .unwrap();
    sink.write(Batch::Customers(vec![(line, c.clone(), p)]))
        .await
        .unwrap();
    sink.finish().await.unwrap();
    sink.commit(0).await.unwrap();
    let id = CustomerId::parse("7").unwrap();
    let message = sextant_core::CustomerMessage {
        id: sextant_core::MessageId::parse("m7").unwrap(),
        customer_id: id.clone(),
        timestamp: chrono::Utc::now(),
        channel: "chat".into(),
        body: "please close my account".into(),
        sentiment: None,
    };
    let mut sink = enc
        .begin_import(RecordKind::Messages, "m.csv")
        .await
        .unwrap();
    sink.write(Batch::Messages(vec![(1, message)]))
        .await
        .unwrap();
    sink.finish().await.unwrap();
    sink.commit(0).await.unwrap();

    // Through the decorator: plaintext. Underneath: ciphertext only.
    assert_eq!(
        enc.get_customer(&id).await.unwrap().unwrap().name,
        "Ottilie Fairweather"
    );
    let raw = db.store.get_customer(&id).await.unwrap().unwrap();
    assert!(
        raw.name.starts_with("enc:v1:") && raw.email.as_deref().unwrap().starts_with("enc:v1:"),
        "{raw:?}"
    );
    assert!(
        db.store.list_messages(&id).await.unwrap()[0]
            .body
            .starts_with("enc:v1:")
    );
    assert_eq!(
        enc.list_messages(&id).await.unwrap()[0].body,
        "please close my account"
    );
    let mut patched = enc.get_customer(&id).await.unwrap().unwrap();
    patched.phone = Some("+44 20 7946 0000".into());
    enc.update_customer(&patched).await.unwrap();
    assert!(
        db.store
            .get_customer(&id)
            .await
            .unwrap()
            .unwrap()
            .phone
            .unwrap()
            .starts_with("enc:v1:")
    );

    // Other sealed columns: a conversation (turn text, state), a streamed message, a dead letter.
    let conv = sextant_store::ConversationRow {
        id: "conv_1".into(),
        customer_id: id.as_str().into(),
        channel: "app".into(),
        created_at: 1,
        updated_at: 1,
        state: "{\"pending\":\"house\"}".into(),
        handed_off: false,
        version: 0,
    };
    let turn = |seq: i64, text: &str| sextant_store::TurnRow {
        conversation_id: "conv_1".into(),
        seq,
        customer_id: id.as_str().into(),
        at: 1,
        role: "customer".into(),
        channel: "app".into(),
        text: text.into(),
        intent: None,
        sentiment: None,
        payload: "{}".into(),
    };
    enc.assistant()
        .save_turns(
            &conv,
            0,
            &[turn(1, "my card was stolen"), turn(2, "we blocked it")],
        )
        .await
        .unwrap();
    enc.stream()
        .append_events(&[sextant_store::NewLogEvent {
            event_id: "e1".into(),
            customer_id: id.as_str().into(),
            ts_micros: 1,
            kind: "message".into(),
            body: "{\"text\":\"call me back\"}".into(),
        }])
        .await
        .unwrap();
    enc.stream()
        .dead_letter(&[sextant_store::DeadLetter {
            source: "embedded".into(),
            position: None,
            customer_id: Some(id.as_str().into()),
            received_micros: 1,
            payload: "{\"text\":\"secret\"}".into(),
            reason: "bad".into(),
        }])
        .await
        .unwrap();

    // Rotation: afterwards the new key alone reads everything and the old key reads nothing.
    let (customers, messages) = rotate(
        db.store.as_ref(),
        &k1.cipher().with_previous(&k2),
        &k2.cipher(),
    )
    .await
    .unwrap();
    // 1 message + 2 turns + 1 state + 1 streamed message + 1 dead letter.
    assert_eq!((customers, messages), (1, 6));
    let after = EncryptedStore::new(db.store.clone(), k2.cipher());
    let turns = after.assistant().recent_turns("conv_1", 10).await.unwrap();
    assert_eq!(turns[0].text, "my card was stolen");
    assert_eq!(
        after
            .assistant()
            .conversation("conv_1")
            .await
            .unwrap()
            .unwrap()
            .state,
        "{\"pending\":\"house\"}"
    );
    assert_eq!(
        after.stream().read_log(0, 10).await.unwrap()[0].body,
        "{\"text\":\"call me back\"}"
    );
    assert_eq!(
        after.stream().list_dead_letters(0, 10).await.unwrap()[0]
            .1
            .payload,
        "{\"text\":\"secret\"}"
    );
    assert!(enc.assistant().recent_turns("conv_1", 10).await.is_err());
    let c2 = after.get_customer(&id).await.unwrap().unwrap();
    assert_eq!(
        (c2.name.as_str(), c2.phone.as_deref()),
        ("Ottilie Fairweather", Some("+44 20 7946 0000"))
    );
    assert_eq!(
        after.list_messages(&id).await.unwrap()[0].body,
        "please close my account"
    );
    assert!(
        enc.get_customer(&id).await.is_err(),
        "the retired key no longer decrypts"
    );
    // Rotation is resumable: running it again changes nothing readable.
    rotate(db.store.as_ref(), &k2.cipher(), &k2.cipher())
        .await
        .unwrap();
    assert_eq!(
        after.get_customer(&id).await.unwrap().unwrap().name,
        "Ottilie Fairweather"
    );
}

// ---- next-best-action records ----

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

fn cid(id: &str) -> CustomerId {
    CustomerId::parse(id).unwrap()
}

fn at(micros: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(micros).unwrap()
}

fn decision(id: &str, customer: &str, t: i64, status: &str) -> Decision {
    Decision {
        id: DecisionId::parse(id).unwrap(),
        customer_id: cid(customer),
        at: at(t),
        kind: "next_best_action".into(),
        versions: serde_json::json!({ "rules": 1 }),
        payload: serde_json::json!({ "recommendation": { "product_id": "p1", "amount": 100 } }),
        status: status.into(),
    }
}

fn review(id: &str, d: &Decision, t: i64) -> ReviewCase {
    ReviewCase {
        id: id.into(),
        decision_id: d.id.clone(),
        customer_id: d.customer_id.clone(),
        created_at: t,
        reason: serde_json::json!({ "kind": "high_risk" }),
        status: ReviewStatus::Pending,
        reviewer: None,
        note: None,
        resolved_at: None,
        modified_payload: None,
    }
}

fn event(
    id: &str,
    customer: &str,
    t: i64,
    kind: EventKind,
    decision: Option<&str>,
) -> CustomerEvent {
    CustomerEvent {
        id: EventId::parse(id).unwrap(),
        customer_id: cid(customer),
        timestamp: at(t),
        kind,
        product_id: Some(ProductId::parse("p1").unwrap()),
        decision_id: decision.map(|d| DecisionId::parse(d).unwrap()),
        value: None,
    }
}

async fn verify_audit(store: &dyn Store) -> usize {
    let entries = store.audit_entries(0, 1000).await.unwrap();
    verify_chain(&entries).unwrap();
    entries.len()
}

async fn feedback_events_are_idempotent(db: TestDb) {
    let s = db.store.as_ref();
    import_customers(s, &["1"]).await;
    let d = decision("dec_1", "1", 10, "shown");
    s.record_decisions(std::slice::from_ref(&d), &[], record(0))
        .await
        .unwrap();
    let e = event("e1", "1", 20, EventKind::Click, Some("dec_1"));
    assert_eq!(s.insert_event(&e).await.unwrap(), EventInsert::Inserted);
    let mut again = e.clone();
    again.kind = EventKind::Accept; // same id, different content: still nothing changes
    assert_eq!(
        s.insert_event(&again).await.unwrap(),
        EventInsert::Duplicate
    );
    assert_eq!(s.count(Table::Events).await.unwrap(), 1);
    assert_eq!(s.list_events(&cid("1")).await.unwrap(), vec![e.clone()]);
    assert_eq!(
        s.insert_event(&event("e2", "404", 30, EventKind::Click, None))
            .await
            .unwrap(),
        EventInsert::UnknownCustomer
    );
    assert_eq!(s.count(Table::Events).await.unwrap(), 1);

    // Events about a decision, oldest first; others are not included.
    let e3 = event("e0", "1", 15, EventKind::Impression, Some("dec_1"));
    s.insert_event(&e3).await.unwrap();
    s.insert_event(&event("e4", "1", 16, EventKind::Impression, None))
        .await
        .unwrap();
    assert_eq!(s.decision_events(&d.id).await.unwrap(), vec![e3, e.clone()]);
    assert_eq!(s.get_decision(&d.id).await.unwrap(), Some(d.clone()));
    assert!(
        s.get_decision(&DecisionId::parse("dec_none").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // Feedback plus a bandit update: both or neither.
    let fb = event("e5", "1", 40, EventKind::Accept, Some("dec_1"));
    assert_eq!(
        s.record_feedback(&fb, "nba", "p1", "{\"n\":1}", 0)
            .await
            .unwrap(),
        FeedbackWrite::Written
    );
    assert_eq!(
        s.record_feedback(&fb, "nba", "p1", "{\"n\":2}", 1)
            .await
            .unwrap(),
        FeedbackWrite::Duplicate
    );
    let stale = event("e6", "1", 41, EventKind::Click, Some("dec_1"));
    assert_eq!(
        s.record_feedback(&stale, "nba", "p1", "{\"n\":2}", 0)
            .await
            .unwrap(),
        FeedbackWrite::Conflict
    );
    assert_eq!(
        s.decision_events(&d.id).await.unwrap().len(),
        3,
        "e6 not stored"
    );
    let arms = s.bandit_arms("nba").await.unwrap();
    assert_eq!((arms[0].state.as_str(), arms[0].version), ("{\"n\":1}", 1));
    assert!(matches!(
        s.record_feedback(
            &event("e7", "404", 1, EventKind::Click, None),
            "nba",
            "p1",
            "{}",
            1
        )
        .await,
        Err(StoreError::UnknownCustomer(_))
    ));
    assert_eq!(s.bandit_arms("nba").await.unwrap()[0].version, 1);
}

async fn record_decisions_is_atomic(db: TestDb) {
    let s = db.store.as_ref();
    import_customers(s, &["1", "2"]).await;
    let d1 = decision("dec_a", "1", 100, "shown");
    let d2 = decision("dec_b", "1", 101, "pending_review");
    let r2 = review("rev_b", &d2, 101);
    let entry = s
        .record_decisions(
            &[d1.clone(), d2.clone()],
            std::slice::from_ref(&r2),
            record(1),
        )
        .await
        .unwrap();
    assert_eq!(entry.seq, 1);
    assert_eq!(entry.action, "test.event");
    assert_eq!(s.list_decisions(&cid("1")).await.unwrap(), vec![d1, d2]);
    assert_eq!(s.get_review("rev_b").await.unwrap(), Some(r2.clone()));

    // One decision for an unknown customer: nothing of the batch is written.
    let ok = decision("dec_c", "2", 200, "pending_review");
    let bad = decision("dec_d", "404", 201, "shown");
    let err = s
        .record_decisions(&[ok.clone(), bad], &[review("rev_c", &ok, 200)], record(2))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownCustomer(id) if id.as_str() == "404"),
        "{err}"
    );
    assert!(s.get_decision(&ok.id).await.unwrap().is_none());
    assert!(s.get_review("rev_c").await.unwrap().is_none());
    assert_eq!(s.count(Table::AuditLog).await.unwrap(), 1);
    assert_eq!(verify_audit(s).await, 1);

    // The next batch continues the chain.
    let e = s
        .record_decisions(
            std::slice::from_ref(&ok),
            &[review("rev_c", &ok, 200)],
            record(3),
        )
        .await
        .unwrap();
    assert_eq!(e.seq, 2);
    s.append_audit(record(4)).await.unwrap();
    assert_eq!(verify_audit(s).await, 3);

    // Many callers at once (SQLite commits them as a group): each caller's part is still
    // all-or-nothing — the callers with an unknown customer fail alone — and the chain holds.
    let store = db.store.clone();
    let calls = (0..40).map(|i| {
        let store = store.clone();
        async move {
            let who = if i % 10 == 7 { "404" } else { "2" };
            let d = decision(&format!("dec_g{i}"), who, 300 + i, "shown");
            store
                .record_decisions(&[d], &[], record(10 + i as usize))
                .await
        }
    });
    let results = futures_util::future::join_all(calls).await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(
        failed, 4,
        "exactly the four callers with an unknown customer fail"
    );
    for (i, r) in results.iter().enumerate() {
        let written = s
            .get_decision(&sextant_core::DecisionId::parse(&format!("dec_g{i}")).unwrap())
            .await
            .unwrap()
            .is_some();
        assert_eq!(written, r.is_ok(), "caller {i}");
    }
    assert_eq!(verify_audit(s).await, 3 + 36);
}

async fn reviews_page_and_resolve(db: TestDb) {
    let s = db.store.as_ref();
    import_customers(s, &["1", "2"]).await;
    let ds: Vec<Decision> = (0..5)
        .map(|i| {
            decision(
                &format!("dec_{i}"),
                if i % 2 == 0 { "1" } else { "2" },
                1000 + i,
                "pending_review",
            )
        })
        .collect();
    // Two cases share a created_at: the keyset breaks the tie by id.
    let rs: Vec<ReviewCase> = ds
        .iter()
        .enumerate()
        .map(|(i, d)| review(&format!("rev_{i}"), d, 1000 + (i as i64).min(3)))
        .collect();
    s.record_decisions(&ds, &rs, record(0)).await.unwrap();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .list_reviews(Some(ReviewStatus::Pending), after.clone(), 2)
            .await
            .unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some((last.created_at, last.id.clone()));
        seen.extend(page.into_iter().map(|r| r.id));
    }
    assert_eq!(seen, ["rev_0", "rev_1", "rev_2", "rev_3", "rev_4"]);

    // Approve: the case and its decision change, and the audit entry is appended.
    let approve = ReviewOutcome {
        status: ReviewStatus::Approved,
        reviewer: "alice".into(),
        note: Some("fine".into()),
        modified_payload: None,
        at: 5000,
    };
    let entry = s
        .resolve_review("rev_0", &approve, record(1))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(entry.seq, 2);
    let case = s.get_review("rev_0").await.unwrap().unwrap();
    assert_eq!(
        (
            case.status,
            case.reviewer.as_deref(),
            case.note.as_deref(),
            case.resolved_at
        ),
        (
            ReviewStatus::Approved,
            Some("alice"),
            Some("fine"),
            Some(5000)
        )
    );
    let d0 = s.get_decision(&ds[0].id).await.unwrap().unwrap();
    assert_eq!(
        (d0.status.as_str(), &d0.payload),
        ("approved", &ds[0].payload)
    );
    // Twice: refused with the current status, nothing changes.
    assert_eq!(
        s.resolve_review("rev_0", &approve, record(2))
            .await
            .unwrap(),
        Some(Err(ReviewStatus::Approved))
    );
    assert!(
        s.resolve_review("rev_none", &approve, record(2))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(s.count(Table::AuditLog).await.unwrap(), 2);

    // Modify: the decision's payload is replaced.
    let changed = serde_json::json!({ "recommendation": { "product_id": "p1", "amount": 50 } });
    let modify = ReviewOutcome {
        status: ReviewStatus::Modified,
        modified_payload: Some(changed.clone()),
        ..approve.clone()
    };
    s.resolve_review("rev_2", &modify, record(3))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let d2 = s.get_decision(&ds[2].id).await.unwrap().unwrap();
    assert_eq!((d2.status.as_str(), &d2.payload), ("approved", &changed));
    assert_eq!(
        s.get_review("rev_2")
            .await
            .unwrap()
            .unwrap()
            .modified_payload,
        Some(changed)
    );

    // Reject.
    let reject = ReviewOutcome {
        status: ReviewStatus::Rejected,
        ..approve.clone()
    };
    s.resolve_review("rev_1", &reject, record(4))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        s.get_decision(&ds[1].id).await.unwrap().unwrap().status,
        "rejected"
    );
    // Pending is not an outcome.
    let pending = ReviewOutcome {
        status: ReviewStatus::Pending,
        ..approve.clone()
    };
    assert!(
        s.resolve_review("rev_3", &pending, record(5))
            .await
            .is_err()
    );

    // Filters.
    let ids = |v: Vec<ReviewCase>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s
            .list_reviews(Some(ReviewStatus::Pending), None, 10)
            .await
            .unwrap()),
        ["rev_3", "rev_4"]
    );
    assert_eq!(
        ids(s
            .list_reviews(Some(ReviewStatus::Approved), None, 10)
            .await
            .unwrap()),
        ["rev_0"]
    );
    assert_eq!(
        ids(s
            .list_reviews(Some(ReviewStatus::Modified), None, 10)
            .await
            .unwrap()),
        ["rev_2"]
    );
    assert_eq!(
        ids(s
            .list_reviews(Some(ReviewStatus::Rejected), None, 10)
            .await
            .unwrap()),
        ["rev_1"]
    );
    assert_eq!(s.list_reviews(None, None, 10).await.unwrap().len(), 5);
    assert_eq!(
        ids(s
            .list_reviews(None, Some((1003, "rev_3".into())), 10)
            .await
            .unwrap()),
        ["rev_4"]
    );
    assert_eq!(
        ids(s.customer_reviews(&cid("2")).await.unwrap()),
        ["rev_1", "rev_3"]
    );

    // Approved and not yet delivered, then delivered.
    let ready = s.approved_undelivered(&cid("1")).await.unwrap();
    assert_eq!(
        ready.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["dec_0", "dec_2"]
    );
    assert!(s.approved_undelivered(&cid("2")).await.unwrap().is_empty());
    assert!(s.set_decision_status(&ds[0].id, "shown").await.unwrap());
    assert!(
        !s.set_decision_status(&DecisionId::parse("dec_none").unwrap(), "shown")
            .await
            .unwrap()
    );
    assert_eq!(s.approved_undelivered(&cid("1")).await.unwrap().len(), 1);
    assert_eq!(verify_audit(s).await, 4);
}

async fn bandit_arms_compare_and_swap(db: TestDb) {
    let s = db.store.as_ref();
    assert!(s.bandit_arms("nba").await.unwrap().is_empty());
    assert!(s.bandit_put("nba", "p2", "{\"a\":1}", 0).await.unwrap());
    assert!(
        !s.bandit_put("nba", "p2", "{\"a\":9}", 0).await.unwrap(),
        "exists already"
    );
    assert!(s.bandit_put("nba", "p2", "{\"a\":2}", 1).await.unwrap());
    assert!(
        !s.bandit_put("nba", "p2", "{\"a\":9}", 1).await.unwrap(),
        "stale"
    );
    assert!(
        !s.bandit_put("nba", "p2", "{\"a\":9}", 5).await.unwrap(),
        "from the future"
    );
    assert!(s.bandit_put("nba", "p2", "{\"a\":3}", 2).await.unwrap());
    assert!(s.bandit_put("nba", "p1", "{\"b\":1}", 0).await.unwrap());
    assert!(s.bandit_put("other", "p1", "{\"c\":1}", 0).await.unwrap());
    assert_eq!(
        s.bandit_arms("nba").await.unwrap(),
        vec![
            ArmRow {
                arm: "p1".into(),
                state: "{\"b\":1}".into(),
                version: 1
            },
            ArmRow {
                arm: "p2".into(),
                state: "{\"a\":3}".into(),
                version: 3
            },
        ]
    );
    // Concurrent writers with the same expected version: exactly one wins.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = db.store.clone();
            tokio::spawn(async move {
                store
                    .bandit_put("nba", "p1", &format!("{{\"w\":{i}}}"), 1)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        wins += t.await.unwrap() as u32;
    }
    assert_eq!(wins, 1);
    assert_eq!(s.bandit_arms("nba").await.unwrap()[0].version, 2);

    // The recommender model: absent, stored, replaced.
    assert!(s.get_recommender_model("cf").await.unwrap().is_none());
    s.put_recommender_model("cf", "{\"v\":1}").await.unwrap();
    s.put_recommender_model("cf", "{\"v\":2}").await.unwrap();
    assert_eq!(
        s.get_recommender_model("cf").await.unwrap().as_deref(),
        Some("{\"v\":2}")
    );
}

async fn product_sets_page_by_customer(db: TestDb) {
    let s = db.store.as_ref();
    import_customers(s, &["1", "2", "3", "4"]).await;
    let account =
        |id: &str, customer: &str, product: Option<&str>, status: AccountStatus| Account {
            id: sextant_core::AccountId::parse(id).unwrap(),
            customer_id: cid(customer),
            kind: AccountKind::Current,
            product_id: product.map(|p| ProductId::parse(p).unwrap()),
            currency: sextant_core::Currency::EUR,
            opened_on: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            closed_on: None,
            status,
            limit: None,
            balance: sextant_core::Money::new(0, sextant_core::Currency::EUR),
        };
    let mut sink = s.begin_import(RecordKind::Accounts, "a.csv").await.unwrap();
    let rows = vec![
        (1, account("a1", "1", Some("p_b"), AccountStatus::Open)),
        (2, account("a2", "1", Some("p_a"), AccountStatus::Open)),
        (3, account("a3", "1", Some("p_b"), AccountStatus::Open)),
        (4, account("a4", "2", Some("p_c"), AccountStatus::Closed)),
        (5, account("a5", "2", None, AccountStatus::Open)),
        (6, account("a6", "3", Some("p_a"), AccountStatus::Open)),
    ];
    assert!(sink.write(Batch::Accounts(rows)).await.unwrap().is_empty());
    sink.finish().await.unwrap();
    sink.commit(0).await.unwrap();
    let accept = |id: &str, customer: &str, product: &str, kind: EventKind| CustomerEvent {
        product_id: Some(ProductId::parse(product).unwrap()),
        ..event(id, customer, 1, kind, None)
    };
    s.insert_event(&accept("x1", "3", "p_d", EventKind::Accept))
        .await
        .unwrap();
    s.insert_event(&accept("x2", "3", "p_a", EventKind::Accept))
        .await
        .unwrap();
    s.insert_event(&accept("x3", "4", "p_e", EventKind::Click))
        .await
        .unwrap();
    s.insert_event(&accept("x4", "2", "p_f", EventKind::Accept))
        .await
        .unwrap();

    let names = |v: &[ProductId]| v.iter().map(|p| p.as_str().to_string()).collect::<Vec<_>>();
    let all = s.product_sets(None, 100).await.unwrap();
    let flat: Vec<(String, Vec<String>)> = all
        .iter()
        .map(|(c, ps)| (c.as_str().to_string(), names(ps)))
        .collect();
    assert_eq!(
        flat,
        vec![
            ("1".to_string(), vec!["p_a".to_string(), "p_b".to_string()]),
            ("2".to_string(), vec!["p_f".to_string()]),
            ("3".to_string(), vec!["p_a".to_string(), "p_d".to_string()]),
        ],
        "closed accounts, accounts without a product and non-accept events do not count; \
         customer 4 has nothing"
    );
    let page1 = s.product_sets(None, 2).await.unwrap();
    assert_eq!(page1, all[..2].to_vec());
    let page2 = s.product_sets(Some(&page1[1].0), 2).await.unwrap();
    assert_eq!(page2, all[2..].to_vec());
    assert!(s.product_sets(Some(&cid("3")), 2).await.unwrap().is_empty());
}

async fn erasure_removes_reviews_and_notes_are_encrypted(db: TestDb) {
    use sextant_core::secrets::MasterKey;
    use sextant_store::crypt::EncryptedStore;
    let enc = EncryptedStore::new(db.store.clone(), MasterKey::from_bytes([3; 32]).cipher());
    import_customers(&enc, &["1", "2"]).await;
    let d1 = decision("dec_1", "1", 10, "pending_review");
    let d2 = decision("dec_2", "2", 11, "pending_review");
    enc.record_decisions(
        &[d1.clone(), d2.clone()],
        &[review("rev_1", &d1, 10), review("rev_2", &d2, 11)],
        record(0),
    )
    .await
    .unwrap();
    let outcome = ReviewOutcome {
        status: ReviewStatus::Rejected,
        reviewer: "bob".into(),
        note: Some("customer said they are moving abroad".into()),
        modified_payload: None,
        at: 20,
    };
    enc.resolve_review("rev_1", &outcome, record(1))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // Through the decorator: plaintext. Underneath: ciphertext only.
    assert_eq!(
        enc.get_review("rev_1").await.unwrap().unwrap().note,
        outcome.note
    );
    assert_eq!(
        enc.list_reviews(Some(ReviewStatus::Rejected), None, 10)
            .await
            .unwrap()[0]
            .note,
        outcome.note
    );
    let raw = db.store.get_review("rev_1").await.unwrap().unwrap();
    assert!(
        raw.note.as_deref().unwrap().starts_with("enc:v1:"),
        "{raw:?}"
    );

    // The export carries the customer's review cases (decrypted).
    let export = sextant_store::dsr::export_customer(&enc, &cid("1"), &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(export.reviews.len(), 1);
    assert_eq!(export.reviews[0].note, outcome.note);

    let counts = enc.erase_customer(&cid("1"), &[]).await.unwrap().unwrap();
    let n = |t: &str| counts.iter().find(|(name, _)| name == t).map(|(_, n)| *n);
    assert_eq!(
        (n("reviews"), n("decisions"), n("customers")),
        (Some(1), Some(1), Some(1))
    );
    assert!(db.store.get_review("rev_1").await.unwrap().is_none());
    assert!(
        db.store
            .customer_reviews(&cid("1"))
            .await
            .unwrap()
            .is_empty()
    );
    // The other customer's case is untouched, and the audit chain still verifies.
    assert!(db.store.get_review("rev_2").await.unwrap().is_some());
    assert_eq!(verify_audit(db.store.as_ref()).await, 2);
}

#[tokio::test]
async fn sqlite_uses_wal_and_full_sync() {
    let db = fresh(Kind::Sqlite).await;
    db.store.ping().await.unwrap();
    let conn = rusqlite::Connection::open(&db.url).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

on_both_backends!(
    pii_is_encrypted_at_rest_and_rotates,
    audit_chain_detects_tampering,
    api_keys_round_trip,
    idempotency_first_writer_wins,
    rolled_back_and_abandoned_imports_leave_nothing,
    migrations_are_idempotent,
    feedback_events_are_idempotent,
    record_decisions_is_atomic,
    reviews_page_and_resolve,
    bandit_arms_compare_and_swap,
    product_sets_page_by_customer,
    erasure_removes_reviews_and_notes_are_encrypted,
);
