//! The assistant's storage contract on both backends: knowledge-base versions, conversation saves
//! by compare-and-swap (stale and concurrent savers write nothing), recent turns, goals, message
//! insertion and sentiment backfill, encryption at rest of turns, states and messages, and
//! erasure and export of a customer's conversations and goals.

use sextant_core::secrets::MasterKey;
use sextant_core::{CustomerId, CustomerMessage, MessageId};
use sextant_store::crypt::EncryptedStore;
use sextant_store::{ConversationRow, GoalRow, KbDocumentRow, Store, StoreError, TurnRow};
use sextant_testkit::{TestDb, on_both_backends};

fn doc(id: &str, title: &str) -> KbDocumentRow {
    KbDocumentRow {
        id: id.into(),
        title: title.into(),
        tags: vec!["fees".into(), "cards".into()],
        body: format!("{title}: the body"),
        version: 0,
        updated_at: 100,
        updated_by: "editor".into(),
    }
}

fn conv(id: &str, customer: &str, state: &str, at: i64) -> ConversationRow {
    ConversationRow {
        id: id.into(),
        customer_id: customer.into(),
        channel: "chat".into(),
        created_at: at,
        updated_at: at,
        state: state.into(),
        handed_off: false,
        version: 0,
    }
}

fn turn(conv: &str, customer: &str, seq: i64, text: &str) -> TurnRow {
    TurnRow {
        conversation_id: conv.into(),
        seq,
        customer_id: customer.into(),
        at: 1_000 + seq,
        role: if seq % 2 == 1 {
            "customer"
        } else {
            "assistant"
        }
        .into(),
        channel: "chat".into(),
        text: text.into(),
        intent: (seq % 2 == 1).then(|| "balance".to_string()),
        sentiment: (seq % 2 == 1).then_some(-0.25),
        payload: format!("{{\"seq\":{seq}}}"),
    }
}

fn turns(conv: &str, customer: &str, seqs: std::ops::RangeInclusive<i64>) -> Vec<TurnRow> {
    seqs.map(|s| turn(conv, customer, s, &format!("turn {s}")))
        .collect()
}

fn goal(id: &str, customer: &str, created_at: i64) -> GoalRow {
    GoalRow {
        id: id.into(),
        customer_id: customer.into(),
        kind: "savings".into(),
        name: format!("Goal {id}"),
        target_minor: 250_000,
        currency: "EUR".into(),
        start_date: "2025-01-01".into(),
        target_date: "2026-06-30".into(),
        monthly_contribution_minor: 13_889,
        plan: "{\"months\":18}".into(),
        saved_minor: 0,
        status: "active".into(),
        created_at,
        updated_at: created_at,
    }
}

fn message(id: &str, customer: &str, body: &str) -> CustomerMessage {
    CustomerMessage {
        id: MessageId::parse(id).unwrap(),
        customer_id: CustomerId::parse(customer).unwrap(),
        timestamp: chrono::DateTime::from_timestamp_micros(1_700_000_000_000_000).unwrap(),
        channel: "chat".into(),
        body: body.into(),
        sentiment: None,
    }
}

fn cid(id: &str) -> CustomerId {
    CustomerId::parse(id).unwrap()
}

/// Every value of the first column of `sql`, read straight from the database (bypassing the
/// store, as someone with file or database access would).
async fn raw_column(db: &TestDb, sql: &str) -> Vec<String> {
    match &db.schema {
        None => {
            let conn = rusqlite::Connection::open(&db.url).unwrap();
            let mut stmt = conn.prepare(sql).unwrap();
            stmt.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        }
        Some(schema) => {
            let client = sextant_testkit::pg_client().await;
            client
                .batch_execute(&format!("SET search_path = {schema}"))
                .await
                .unwrap();
            client
                .query(sql, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect()
        }
    }
}

fn is_conflict(r: Result<i64, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

async fn kb_documents_are_versioned(db: TestDb) {
    let kb = db.store.assistant();
    assert_eq!(kb.kb_count().await.unwrap(), 0);
    assert!(kb.kb_list().await.unwrap().is_empty());
    assert_eq!(kb.kb_put(&doc("overdraft", "Overdrafts")).await.unwrap(), 1);
    assert_eq!(kb.kb_put(&doc("cards", "Cards")).await.unwrap(), 1);
    // An update replaces every field and moves the version, whatever version the caller sent.
    let mut changed = doc("overdraft", "Arranged overdrafts");
    changed.version = 40;
    changed.tags = vec!["overdraft".into()];
    changed.updated_at = 200;
    changed.updated_by = "reviewer".into();
    assert_eq!(kb.kb_put(&changed).await.unwrap(), 2);
    assert_eq!(kb.kb_put(&changed).await.unwrap(), 3);
    let got = kb.kb_get("overdraft").await.unwrap().unwrap();
    assert_eq!(
        got,
        KbDocumentRow {
            version: 3,
            ..changed.clone()
        }
    );
    let ids: Vec<_> = kb
        .kb_list()
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.id, d.version))
        .collect();
    assert_eq!(
        ids,
        [("cards".to_string(), 1), ("overdraft".to_string(), 3)]
    );
    assert_eq!(kb.kb_count().await.unwrap(), 2);
    assert!(kb.kb_get("nope").await.unwrap().is_none());

    assert!(kb.kb_delete("cards").await.unwrap());
    assert!(!kb.kb_delete("cards").await.unwrap());
    assert_eq!(kb.kb_count().await.unwrap(), 1);
    // A deleted document comes back at version 1.
    assert_eq!(kb.kb_put(&doc("cards", "Cards")).await.unwrap(), 1);
    // Tags survive any characters (stored as a JSON array).
    let mut odd = doc("odd", "Odd");
    odd.tags = vec!["a \"quoted\" tag".into(), "é, ü".into(), String::new()];
    kb.kb_put(&odd).await.unwrap();
    assert_eq!(kb.kb_get("odd").await.unwrap().unwrap().tags, odd.tags);
    assert!(matches!(
        kb.kb_put(&doc("", "No id")).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn save_turns_is_compare_and_swap(db: TestDb) {
    let a = db.store.assistant();
    let c = conv("c1", "1", "{\"step\":1}", 10);
    assert!(a.conversation("c1").await.unwrap().is_none());
    assert_eq!(
        a.save_turns(&c, 0, &turns("c1", "1", 1..=2)).await.unwrap(),
        1
    );
    let stored = a.conversation("c1").await.unwrap().unwrap();
    assert_eq!(
        stored,
        ConversationRow {
            version: 1,
            ..c.clone()
        }
    );

    // A second creator (expected 0) lost: nothing it sent is written.
    let mut rival = conv("c1", "1", "{\"step\":\"rival\"}", 11);
    rival.handed_off = true;
    let err = a
        .save_turns(&rival, 0, &[turn("c1", "1", 3, "rival")])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert!(err.to_string().contains("version 1"), "{err}");

    // The next save moves 1 → 2; its id, customer and creation time stay.
    let mut next = conv("c1", "1", "{\"step\":2}", 99);
    next.updated_at = 20;
    next.handed_off = true;
    next.channel = "app".into();
    assert_eq!(
        a.save_turns(&next, 1, &turns("c1", "1", 3..=3))
            .await
            .unwrap(),
        2
    );
    let stored = a.conversation("c1").await.unwrap().unwrap();
    assert_eq!(
        (
            stored.created_at,
            stored.updated_at,
            stored.state.as_str(),
            stored.handed_off
        ),
        (10, 20, "{\"step\":2}", true)
    );
    assert_eq!((stored.channel.as_str(), stored.version), ("app", 2));

    // Stale (1), future (5) and negative versions: Conflict, nothing written.
    for expected in [1, 5, -1] {
        let stale = conv("c1", "1", "{\"step\":\"stale\"}", 10);
        let r = a
            .save_turns(&stale, expected, &[turn("c1", "1", 4, "stale")])
            .await;
        assert!(is_conflict(r), "expected {expected}");
    }
    // Saving an unknown conversation at a non-zero version is a conflict too.
    assert!(is_conflict(
        a.save_turns(&conv("c9", "1", "{}", 1), 3, &[]).await
    ));
    assert!(a.conversation("c9").await.unwrap().is_none());
    // Another customer cannot take the conversation over.
    let err = a
        .save_turns(&conv("c1", "2", "{}", 1), 2, &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("belongs to customer '1'"), "{err}");

    // A seq already stored rolls the whole save back (state and version included).
    let r = a
        .save_turns(
            &conv("c1", "1", "{\"step\":\"dup\"}", 10),
            2,
            &[turn("c1", "1", 3, "again"), turn("c1", "1", 4, "new")],
        )
        .await;
    assert!(is_conflict(r));
    // Invalid turns are refused before anything is written.
    let mut bad = turn("c1", "1", 4, "bad role");
    bad.role = "bot".into();
    assert!(is_conflict(
        a.save_turns(&conv("c1", "1", "{\"step\":\"bad\"}", 10), 2, &[bad])
            .await
    ));
    let foreign = turn("c1", "2", 4, "someone else's");
    assert!(is_conflict(
        a.save_turns(&conv("c1", "1", "{}", 10), 2, &[foreign])
            .await
    ));

    let stored = a.conversation("c1").await.unwrap().unwrap();
    assert_eq!((stored.version, stored.state.as_str()), (2, "{\"step\":2}"));
    let all = a.recent_turns("c1", 100).await.unwrap();
    assert_eq!(all, turns("c1", "1", 1..=3), "only the winners' turns");

    // A save without new turns still moves the version (a state change).
    assert_eq!(
        a.save_turns(&conv("c1", "1", "{\"step\":3}", 10), 2, &[])
            .await
            .unwrap(),
        3
    );
}

async fn concurrent_savers_exactly_one_wins(db: TestDb) {
    // Eight creators of the same conversation, then eight savers of the same version with a
    // turn each (the same next seq), then eight state-only savers (no turn to collide on).
    for (expected, seq) in [(0, 1), (1, 2), (2, 0)] {
        let mut tasks = Vec::new();
        for w in 0..8 {
            let store = db.store.clone();
            tasks.push(tokio::spawn(async move {
                let c = conv("race", "1", &format!("{{\"writer\":{w}}}"), 1);
                let t: Vec<TurnRow> = (seq > 0)
                    .then(|| turn("race", "1", seq, &format!("writer {w}")))
                    .into_iter()
                    .collect();
                (w, store.assistant().save_turns(&c, expected, &t).await)
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            let (w, r) = t.await.unwrap();
            match r {
                Ok(v) => {
                    assert_eq!(v, expected + 1);
                    winners.push(w);
                }
                Err(StoreError::Conflict(_)) => {}
                Err(e) => panic!("writer {w}: {e}"),
            }
        }
        assert_eq!(winners.len(), 1, "{winners:?}");
        let w = winners[0];
        let a = db.store.assistant();
        let stored = a.conversation("race").await.unwrap().unwrap();
        assert_eq!(stored.version, expected + 1);
        assert_eq!(stored.state, format!("{{\"writer\":{w}}}"));
        let last = a.recent_turns("race", 100).await.unwrap();
        if seq > 0 {
            assert_eq!(last.len() as i64, seq);
            assert_eq!(last[seq as usize - 1].text, format!("writer {w}"));
        } else {
            assert_eq!(last.len(), 2, "a state-only save adds no turn");
        }
    }
}

async fn recent_turns_are_the_last_oldest_first(db: TestDb) {
    let a = db.store.assistant();
    a.save_turns(&conv("c1", "1", "{}", 1), 0, &turns("c1", "1", 1..=4))
        .await
        .unwrap();
    a.save_turns(&conv("c1", "1", "{}", 1), 1, &turns("c1", "1", 5..=9))
        .await
        .unwrap();
    a.save_turns(&conv("c1", "1", "{}", 1), 2, &turns("c1", "1", 10..=10))
        .await
        .unwrap();
    a.save_turns(&conv("c2", "1", "{}", 1), 0, &turns("c2", "1", 1..=2))
        .await
        .unwrap();
    let seqs = |v: Vec<TurnRow>| v.into_iter().map(|t| t.seq).collect::<Vec<_>>();
    assert_eq!(seqs(a.recent_turns("c1", 4).await.unwrap()), [7, 8, 9, 10]);
    assert_eq!(seqs(a.recent_turns("c1", 1).await.unwrap()), [10]);
    assert_eq!(
        seqs(a.recent_turns("c1", 0).await.unwrap()),
        Vec::<i64>::new()
    );
    assert_eq!(
        seqs(a.recent_turns("c1", u32::MAX).await.unwrap()),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(seqs(a.recent_turns("c2", 10).await.unwrap()), [1, 2]);
    assert!(a.recent_turns("none", 10).await.unwrap().is_empty());
    // Every field round-trips, optional ones included.
    let got = a.recent_turns("c1", 2).await.unwrap();
    assert_eq!(
        got,
        vec![turn("c1", "1", 9, "turn 9"), turn("c1", "1", 10, "turn 10")]
    );
    assert_eq!(
        (got[0].intent.as_deref(), got[0].sentiment),
        (Some("balance"), Some(-0.25))
    );
    assert_eq!((got[1].intent.as_deref(), got[1].sentiment), (None, None));
}

async fn customer_conversations_newest_first(db: TestDb) {
    let a = db.store.assistant();
    for (id, customer, at) in [
        ("old", "1", 10),
        ("mid", "1", 20),
        ("new", "1", 30),
        ("x", "2", 40),
    ] {
        a.save_turns(&conv(id, customer, "{}", at), 0, &[])
            .await
            .unwrap();
    }
    let ids = |v: Vec<ConversationRow>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(a.customer_conversations("1", 10).await.unwrap()),
        ["new", "mid", "old"]
    );
    // Activity moves a conversation to the front.
    let mut old = conv("old", "1", "{}", 10);
    old.updated_at = 50;
    a.save_turns(&old, 1, &turns("old", "1", 1..=1))
        .await
        .unwrap();
    assert_eq!(
        ids(a.customer_conversations("1", 2).await.unwrap()),
        ["old", "new"]
    );
    assert_eq!(ids(a.customer_conversations("2", 10).await.unwrap()), ["x"]);
    assert!(a.customer_conversations("3", 10).await.unwrap().is_empty());
}

async fn goals_upsert_and_progress(db: TestDb) {
    let a = db.store.assistant();
    a.goal_put(&goal("g1", "1", 20)).await.unwrap();
    a.goal_put(&goal("g2", "1", 10)).await.unwrap();
    a.goal_put(&goal("g3", "2", 5)).await.unwrap();
    let ids = |v: Vec<GoalRow>| v.into_iter().map(|g| g.id).collect::<Vec<_>>();
    assert_eq!(ids(a.goals("1").await.unwrap()), ["g2", "g1"]);
    assert_eq!(a.goal("g1").await.unwrap().unwrap(), goal("g1", "1", 20));

    // Upsert replaces the goal but keeps its creation time.
    let mut g1 = goal("g1", "1", 999);
    g1.name = "New car".into();
    g1.target_minor = 1_500_000;
    g1.target_date = "2027-01-31".into();
    g1.plan = "{\"months\":24}".into();
    g1.updated_at = 1_000;
    a.goal_put(&g1).await.unwrap();
    let stored = a.goal("g1").await.unwrap().unwrap();
    assert_eq!(
        stored,
        GoalRow {
            created_at: 20,
            ..g1
        }
    );
    assert_eq!(ids(a.goals("1").await.unwrap()), ["g2", "g1"]);

    assert!(
        a.goal_progress("g2", 42_000, "active", 2_000)
            .await
            .unwrap()
    );
    assert!(
        a.goal_progress("g2", 250_000, "achieved", 3_000)
            .await
            .unwrap()
    );
    let g2 = a.goal("g2").await.unwrap().unwrap();
    assert_eq!(
        (g2.saved_minor, g2.status.as_str(), g2.updated_at),
        (250_000, "achieved", 3_000)
    );
    assert!(!a.goal_progress("nope", 1, "active", 1).await.unwrap());

    // Refused: an unknown status, a bad date or currency; nothing changes.
    assert!(matches!(
        a.goal_progress("g2", 0, "paused", 4_000).await,
        Err(StoreError::Conflict(m)) if m.contains("'status' is 'paused'")
    ));
    let mut bad = goal("g3", "2", 5);
    bad.start_date = "01/02/2025".into();
    assert!(a.goal_put(&bad).await.is_err());
    let mut bad = goal("g3", "2", 5);
    bad.currency = "euros".into();
    assert!(a.goal_put(&bad).await.is_err());
    assert_eq!(a.goal("g2").await.unwrap().unwrap(), g2);
    assert_eq!(a.goal("g3").await.unwrap().unwrap(), goal("g3", "2", 5));
    assert!(a.goal("nope").await.unwrap().is_none());
    assert!(a.goals("9").await.unwrap().is_empty());
}

async fn messages_are_idempotent_and_backfilled(db: TestDb) {
    sextant_testkit::import_customers(db.store.as_ref(), &["1", "2"]).await;
    let a = db.store.assistant();
    assert!(
        a.insert_message(&message("m1", "1", "first"))
            .await
            .unwrap()
    );
    // The same id again: nothing changes (the first body stays).
    assert!(
        !a.insert_message(&message("m1", "1", "second"))
            .await
            .unwrap()
    );
    let stored = db.store.list_messages(&cid("1")).await.unwrap();
    assert_eq!(stored, vec![message("m1", "1", "first")]);
    // An unknown customer is refused.
    assert!(matches!(
        a.insert_message(&message("m2", "9", "who?")).await,
        Err(StoreError::UnknownCustomer(c)) if c.as_str() == "9"
    ));
    let mut scored = message("m0", "2", "already scored");
    scored.sentiment = Some(0.5);
    assert!(a.insert_message(&scored).await.unwrap());
    for i in 3..=9 {
        let customer = if i % 2 == 0 { "1" } else { "2" };
        assert!(
            a.insert_message(&message(&format!("m{i}"), customer, "text"))
                .await
                .unwrap()
        );
    }
    let mid = |s: &str| MessageId::parse(s).unwrap();
    assert!(a.set_message_sentiment(&mid("m4"), -0.75).await.unwrap());
    assert!(a.set_message_sentiment(&mid("m7"), 1.0).await.unwrap());
    assert!(!a.set_message_sentiment(&mid("m404"), 0.1).await.unwrap());
    assert!(a.set_message_sentiment(&mid("m5"), 1.5).await.is_err());
    assert!(a.set_message_sentiment(&mid("m5"), f64::NAN).await.is_err());
    let sentiment = |id: &str, list: &[CustomerMessage]| {
        list.iter().find(|m| m.id.as_str() == id).unwrap().sentiment
    };
    let all_1 = db.store.list_messages(&cid("1")).await.unwrap();
    assert_eq!(sentiment("m4", &all_1), Some(-0.75));

    // Backfill pages through the unscored messages by id.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = a.unscored_messages(after.as_deref(), 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.id.as_str().to_string());
        assert!(page.iter().all(|m| m.sentiment.is_none()));
        seen.extend(page.into_iter().map(|m| m.id.as_str().to_string()));
    }
    assert_eq!(seen, ["m1", "m3", "m5", "m6", "m8", "m9"]);
    // Scoring while paging: a scored message leaves the backlog.
    assert!(a.set_message_sentiment(&mid("m1"), 0.0).await.unwrap());
    let first = a.unscored_messages(None, 1).await.unwrap();
    assert_eq!(first[0].id.as_str(), "m3");
    assert_eq!(first[0].body, "text");

    // The customer's score.
    assert!(a.set_customer_sentiment("2", -0.4).await.unwrap());
    let c2 = db.store.get_customer(&cid("2")).await.unwrap().unwrap();
    assert_eq!(c2.sentiment_score.value(), -0.4);
    assert!(!a.set_customer_sentiment("404", 0.2).await.unwrap());
    assert!(a.set_customer_sentiment("2", -1.01).await.is_err());
    let c2 = db.store.get_customer(&cid("2")).await.unwrap().unwrap();
    assert_eq!(c2.sentiment_score.value(), -0.4);
}

async fn turns_states_and_messages_are_encrypted_at_rest(db: TestDb) {
    let enc = EncryptedStore::new(db.store.clone(), MasterKey::from_bytes([7; 32]).cipher());
    sextant_testkit::import_customers(&enc, &["1"]).await;
    let words = "I lost my job and cannot pay the rent this month";
    let state = "{\"slots\":{\"iban\":\"DE89370400440532013000\"}}";
    let a = enc.assistant();
    a.save_turns(
        &conv("c1", "1", state, 1),
        0,
        &[
            turn("c1", "1", 1, words),
            turn("c1", "1", 2, "I am sorry to hear that"),
        ],
    )
    .await
    .unwrap();
    // Through the decorator: plaintext.
    let through = a.recent_turns("c1", 10).await.unwrap();
    assert_eq!(through[0].text, words);
    assert_eq!(through[1].text, "I am sorry to hear that");
    assert_eq!(a.conversation("c1").await.unwrap().unwrap().state, state);
    assert_eq!(
        a.customer_conversations("1", 10).await.unwrap()[0].state,
        state
    );
    // Underneath: ciphertext only (the backend's own reads and the raw tables).
    let raw = db.store.assistant().recent_turns("c1", 10).await.unwrap();
    assert!(raw.iter().all(|t| t.text.starts_with("enc:v1:")), "{raw:?}");
    assert_eq!(
        raw[0].payload, through[0].payload,
        "the payload is not sealed"
    );
    let raw_state = db
        .store
        .assistant()
        .conversation("c1")
        .await
        .unwrap()
        .unwrap()
        .state;
    assert!(raw_state.starts_with("enc:v1:") && !raw_state.contains("DE89"));
    for text in raw_column(&db, "SELECT text FROM conversation_turns").await {
        assert!(
            !text.contains("pay the rent") && !text.contains("sorry"),
            "{text}"
        );
    }
    for s in raw_column(&db, "SELECT state FROM conversations").await {
        assert!(!s.contains("DE89"), "{s}");
    }
    // A later save through the decorator reads back too.
    a.save_turns(
        &conv("c1", "1", "{}", 1),
        1,
        &[turn("c1", "1", 3, "thanks")],
    )
    .await
    .unwrap();
    assert_eq!(a.recent_turns("c1", 1).await.unwrap()[0].text, "thanks");

    // Messages written by the assistant are sealed like imported ones.
    let secret = "my new address is 1 Rue de la Paix";
    assert!(a.insert_message(&message("m1", "1", secret)).await.unwrap());
    assert_eq!(enc.list_messages(&cid("1")).await.unwrap()[0].body, secret);
    assert_eq!(a.unscored_messages(None, 10).await.unwrap()[0].body, secret);
    let raw = db.store.list_messages(&cid("1")).await.unwrap();
    assert!(raw[0].body.starts_with("enc:v1:") && !raw[0].body.contains("Rue"));
    for body in raw_column(&db, "SELECT body FROM messages").await {
        assert!(!body.contains("Rue de la Paix"), "{body}");
    }

    // Knowledge-base documents are public: stored as they are.
    a.kb_put(&doc("fees", "Fees")).await.unwrap();
    assert_eq!(
        db.store
            .assistant()
            .kb_get("fees")
            .await
            .unwrap()
            .unwrap()
            .body,
        "Fees: the body"
    );
}

async fn erasure_and_export_cover_conversations_and_goals(db: TestDb) {
    let enc = EncryptedStore::new(db.store.clone(), MasterKey::from_bytes([9; 32]).cipher());
    sextant_testkit::import_customers(&enc, &["1", "2"]).await;
    let a = enc.assistant();
    a.save_turns(
        &conv("c1", "1", "{\"a\":1}", 10),
        0,
        &turns("c1", "1", 1..=3),
    )
    .await
    .unwrap();
    a.save_turns(
        &conv("c2", "1", "{\"a\":2}", 20),
        0,
        &turns("c2", "1", 1..=1),
    )
    .await
    .unwrap();
    a.save_turns(&conv("c3", "2", "{}", 30), 0, &turns("c3", "2", 1..=2))
        .await
        .unwrap();
    a.goal_put(&goal("g1", "1", 1)).await.unwrap();
    a.goal_put(&goal("g2", "1", 2)).await.unwrap();
    a.goal_put(&goal("g3", "2", 3)).await.unwrap();
    // Customers known only from a conversation, or only from a goal.
    a.save_turns(&conv("c7", "77", "{}", 1), 0, &turns("c7", "77", 1..=1))
        .await
        .unwrap();
    a.goal_put(&goal("g8", "78", 1)).await.unwrap();

    let export = sextant_store::dsr::export_customer(&enc, &cid("1"), &[])
        .await
        .unwrap()
        .unwrap();
    let convs: Vec<_> = export
        .conversations
        .iter()
        .map(|c| {
            (
                c.conversation.id.as_str(),
                c.conversation.state.as_str(),
                c.turns.len(),
            )
        })
        .collect();
    assert_eq!(convs, [("c2", "{\"a\":2}", 1), ("c1", "{\"a\":1}", 3)]);
    assert_eq!(
        export.conversations[1].turns,
        turns("c1", "1", 1..=3),
        "decrypted"
    );
    let goals: Vec<_> = export.goals.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(goals, ["g1", "g2"]);
    let json = serde_json::to_value(&export).unwrap();
    assert_eq!(json["conversations"][1]["turns"][2]["text"], "turn 3");
    assert_eq!(json["goals"][0]["target_minor"], 250_000);

    let counts = enc.erase_customer(&cid("1"), &[]).await.unwrap().unwrap();
    let n = |counts: &[(String, u64)], t: &str| {
        counts.iter().find(|(name, _)| name == t).map(|(_, n)| *n)
    };
    assert_eq!(
        [
            n(&counts, "conversation_turns"),
            n(&counts, "conversations"),
            n(&counts, "goals"),
            n(&counts, "customers")
        ],
        [Some(4), Some(2), Some(2), Some(1)]
    );
    assert!(a.conversation("c1").await.unwrap().is_none());
    assert!(a.recent_turns("c1", 10).await.unwrap().is_empty());
    assert!(a.customer_conversations("1", 10).await.unwrap().is_empty());
    assert!(a.goals("1").await.unwrap().is_empty());
    assert_eq!(
        raw_column(
            &db,
            "SELECT customer_id FROM conversation_turns WHERE customer_id = '1'"
        )
        .await
        .len(),
        0
    );
    // The other customer's rows are untouched.
    assert_eq!(a.recent_turns("c3", 10).await.unwrap().len(), 2);
    assert_eq!(a.goals("2").await.unwrap().len(), 1);

    let counts = enc.erase_customer(&cid("77"), &[]).await.unwrap().unwrap();
    assert_eq!(
        (
            n(&counts, "conversations"),
            n(&counts, "conversation_turns"),
            n(&counts, "customers")
        ),
        (Some(1), Some(1), Some(0))
    );
    let counts = enc.erase_customer(&cid("78"), &[]).await.unwrap().unwrap();
    assert_eq!(n(&counts, "goals"), Some(1));
    assert!(enc.erase_customer(&cid("88"), &[]).await.unwrap().is_none());
    assert!(enc.erase_customer(&cid("77"), &[]).await.unwrap().is_none());
}

on_both_backends!(
    kb_documents_are_versioned,
    save_turns_is_compare_and_swap,
    concurrent_savers_exactly_one_wins,
    recent_turns_are_the_last_oldest_first,
    customer_conversations_newest_first,
    goals_upsert_and_progress,
    messages_are_idempotent_and_backfilled,
    turns_states_and_messages_are_encrypted_at_rest,
    erasure_and_export_cover_conversations_and_goals,
);

/// Not a test: prints the cost of a conversation save (2 turns) and of a `recent_turns(20)`
/// read on both backends. Run with
/// `cargo test -p sextant-store --release --test assistant measure -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn measure_save_and_read() {
    for kind in [
        sextant_testkit::Kind::Sqlite,
        sextant_testkit::Kind::Postgres,
    ] {
        let db = sextant_testkit::fresh(kind).await;
        let a = db.store.assistant();
        let n = 300;
        let started = std::time::Instant::now();
        for i in 0..n {
            let seq = 2 * i + 1;
            a.save_turns(
                &conv("m", "1", "{\"step\":1}", 1),
                i,
                &turns("m", "1", seq..=seq + 1),
            )
            .await
            .unwrap();
        }
        let save = started.elapsed() / n as u32;
        let started = std::time::Instant::now();
        for _ in 0..n {
            assert_eq!(a.recent_turns("m", 20).await.unwrap().len(), 20);
        }
        let read = started.elapsed() / n as u32;
        println!(
            "{kind:?}: save_turns (2 turns) {save:?}/op, recent_turns(20) {read:?}/op, {n} ops each"
        );
    }
}
