//! The store contract on both backends: keys, idempotency, the audit chain (and tampering with it
//! directly in the database), migrations, and imports that roll back or are abandoned.

use sextant_core::audit::verify_chain;
use sextant_core::{AuditRecord, CustomerId, Role};
use sextant_store::{ApiKeyRecord, Batch, IdempotentResponse, RecordKind, Store, Table};
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
            let (client, conn) =
                tokio_postgres::connect(&sextant_testkit::pg_url(), tokio_postgres::NoTls)
                    .await
                    .unwrap();
            tokio::spawn(conn);
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
    let c = sextant_core::Customer {
        id: CustomerId::parse(id).unwrap(),
        name: format!("Customer_{id}"),
        age: 30,
        income: sextant_core::Money::new(5_000_000, sextant_core::Currency::EUR),
        spending_habit: sextant_core::SpendingHabit::Budget,
        risk_profile: sextant_core::RiskProfile::Low,
        transactions: 1,
        sentiment_score: sextant_core::SentimentScore::new(0.0).unwrap(),
        engagement_level: sextant_core::EngagementLevel::Low,
        email: None,
        phone: None,
        occupation: None,
        joined_on: None,
    };
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

    // Rotation: afterwards the new key alone reads everything and the old key reads nothing.
    let (customers, messages) = rotate(
        db.store.as_ref(),
        &k1.cipher().with_previous(&k2),
        &k2.cipher(),
    )
    .await
    .unwrap();
    assert_eq!((customers, messages), (1, 1));
    let after = EncryptedStore::new(db.store.clone(), k2.cipher());
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
);
