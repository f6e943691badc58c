//! The assistant end to end on both backends, over a generated bank and the shipped knowledge
//! base with the real MiniLM model: a house-saving plan with its roadmap, a product question
//! with citations, a spending question answered with the customer's own figures, a complaint
//! handed to a reviewer; context across turns; scoping; validation; sentiment storage and
//! consent; erasure; and the language-model backend behind the fact guard against a local
//! server speaking the OpenAI chat-completions protocol.

use chrono::{DateTime, TimeZone, Utc};
use sextant_conversation::{
    Assistant, AssistantConfig, ConversationError, Incoming, LlmConfig, Reply,
};
use sextant_core::{ConsentPurpose, ConsentRecord, CustomerId, TxStatus};
use sextant_embed::{Embed, MiniLm};
use sextant_testkit::{TestDb, on_both_backends};
use std::sync::{Arc, OnceLock};

fn model() -> Arc<dyn Embed> {
    static M: OnceLock<Arc<MiniLm>> = OnceLock::new();
    M.get_or_init(|| Arc::new(MiniLm::load_default().expect("run scripts/setup-models.sh")))
        .clone()
}

/// Mid-November 2026: "last month" is October, the generated bank's last month.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 15, 12, 0, 0).unwrap()
}

fn kb_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kb")
}

async fn bank(db: &TestDb) -> tempfile::TempDir {
    sextant_testkit::import_synthetic_bank(db.store.as_ref(), 25, 6, 5).await
}

async fn consent(db: &TestDb, id: &CustomerId, granted: bool) {
    let rec = ConsentRecord {
        customer_id: id.clone(),
        purpose: ConsentPurpose::Profiling,
        granted,
        at: Utc::now(),
        source: "customer".into(),
    };
    db.store.append_consent(&rec).await.unwrap();
}

async fn assistant(db: &TestDb, llm: Option<LlmConfig>) -> Assistant {
    let cfg = AssistantConfig {
        kb_dir: Some(kb_dir()),
        llm,
        ..Default::default()
    };
    Assistant::open(db.store.clone(), model(), cfg, vec![], None)
        .await
        .unwrap()
}

async fn say(a: &Assistant, who: &CustomerId, conv: Option<&str>, text: &str) -> Reply {
    a.message(Incoming {
        conversation_id: conv.map(String::from),
        customer_id: who.clone(),
        channel: "app".into(),
        text: text.into(),
        actor: "test".into(),
        now: now(),
    })
    .await
    .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Every number-looking token of `text` appears in the reply's facts (a weak but independent
/// check of the guard's promise, on the real replies).
fn money_facts(r: &Reply) -> Vec<i64> {
    r.facts
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            f.get("Money")
                .or(Some(f))
                .and_then(|m| m.get("minor"))
                .and_then(|v| v.as_i64())
        })
        .collect()
}

async fn first_customer(db: &TestDb) -> CustomerId {
    db.store.list_customers(None, 1).await.unwrap()[0]
        .id
        .clone()
}

async fn the_four_demo_questions(db: TestDb) {
    let _dir = bank(&db).await;
    let who = first_customer(&db).await;
    consent(&db, &who, true).await;
    let a = assistant(&db, None).await;

    // 1. The house.
    let r = say(&a, &who, None, "I want to save for a house in 3 years").await;
    assert_eq!(r.intent, "goal_planning", "{r:?}");
    let goal = r.goal.clone().expect("a plan");
    assert_eq!(goal.kind, "house");
    assert!(goal.monthly_contribution_minor > 0);
    assert!(
        r.text.contains(&sextant_assistant::language::format_money(
            goal.monthly_contribution_minor,
            "EUR"
        )),
        "{}",
        r.text
    );
    let conv = r.conversation_id.clone();
    let svg = a.roadmap(&who, &goal.id).await.unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the roadmap is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let goals = a.goals(&who, now().date_naive()).await.unwrap();
    assert_eq!(goals.len(), 1);
    assert_eq!(goals[0].id, goal.id);

    // 2. A product question, answered from the knowledge base with citations.
    let r = say(
        &a,
        &who,
        Some(&conv),
        "What interest does the Easy Access Savings account pay?",
    )
    .await;
    assert_eq!(r.intent, "product_question", "{r:?}");
    assert!(!r.citations.is_empty());
    assert!(
        r.citations
            .iter()
            .any(|c| c.excerpt.contains("Easy Access")),
        "{:?}",
        r.citations
    );

    // 3. Spending, from the customer's own transactions.
    let r = say(
        &a,
        &who,
        Some(&conv),
        "How much did I spend on restaurants last month?",
    )
    .await;
    assert_eq!(r.intent, "spending_question", "{r:?}");
    let txs = db.store.all_transactions(&who).await.unwrap();
    let expected: i64 = txs
        .iter()
        .filter(|t| {
            let d = t.timestamp.date_naive();
            t.category == sextant_core::Category::Restaurants
                && t.status == TxStatus::Approved
                && t.amount.minor < 0
                && d >= chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()
                && d <= chrono::NaiveDate::from_ymd_opt(2026, 10, 31).unwrap()
        })
        .map(|t| -t.amount.minor)
        .sum();
    assert!(
        money_facts(&r).contains(&expected),
        "expected {expected} in {:?}",
        r.facts
    );
    assert!(
        r.text
            .contains(&sextant_assistant::language::format_money(expected, "EUR")),
        "{}",
        r.text
    );

    // A follow-up keeps the category: "and in September?"
    let r = say(&a, &who, Some(&conv), "and in September?").await;
    assert_eq!(r.intent, "spending_question", "{r:?}");

    // 4. A complaint goes to a person, once per conversation.
    let r = say(&a, &who, Some(&conv), "I was charged twice and nobody has fixed it. This is unacceptable, I want to make a complaint.").await;
    let h = r.handoff.clone().expect("handed off");
    assert!(h.new_case);
    let review = db
        .store
        .get_review(&h.review_id)
        .await
        .unwrap()
        .expect("a review case");
    assert_eq!(review.customer_id, who);
    assert_eq!(review.reason["conversation_id"], conv.as_str());
    let again = say(
        &a,
        &who,
        Some(&conv),
        "Still nobody? This is the worst bank, I am furious.",
    )
    .await;
    assert!(!again.handoff.expect("still with a person").new_case);

    // The turns are stored in order; the customer's messages carry their sentiment.
    let (c, turns) = a.conversation(&conv, Some(&who)).await.unwrap();
    assert!(c.handed_off);
    assert_eq!(turns.len(), 12);
    assert!(turns.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    let msgs = db.store.list_messages(&who).await.unwrap();
    assert_eq!(
        msgs.iter()
            .filter(|m| m.body.contains("charged twice"))
            .count(),
        1
    );
    assert!(msgs.iter().all(|m| m.sentiment.is_some()));
    let complaint = msgs
        .iter()
        .find(|m| m.body.contains("charged twice"))
        .unwrap();
    assert!(complaint.sentiment.unwrap() < 0.0);
}

async fn context_scoping_and_validation(db: TestDb) {
    let _dir = bank(&db).await;
    let customers = db.store.list_customers(None, 2).await.unwrap();
    let (who, other) = (customers[0].id.clone(), customers[1].id.clone());
    let a = assistant(&db, None).await;

    // A goal without a horizon asks for it; the answer continues the plan.
    let r = say(&a, &who, None, "I'd like to start saving for our wedding").await;
    assert_eq!(r.intent, "goal_planning");
    assert!(r.goal.is_none(), "no horizon yet: {}", r.text);
    // … and the context follows the customer across channels: the answer comes by email.
    let r = a
        .message(Incoming {
            conversation_id: Some(r.conversation_id.clone()),
            customer_id: who.clone(),
            channel: "email".into(),
            text: "in 2 years".into(),
            actor: "test".into(),
            now: now(),
        })
        .await
        .unwrap();
    assert_eq!(r.intent, "goal_planning", "{r:?}");
    let turns = db
        .store
        .assistant()
        .recent_turns(&r.conversation_id, 10)
        .await
        .unwrap();
    let channels: Vec<&str> = turns.iter().map(|t| t.channel.as_str()).collect();
    assert_eq!(channels, ["app", "app", "email", "email"]);
    let g = r.goal.expect("the plan now");
    assert_eq!(g.kind, "wedding");
    assert_eq!(g.plan["horizon_months"], 24);

    // Another customer cannot continue (or see) this conversation.
    let err = a
        .message(Incoming {
            conversation_id: Some(r.conversation_id.clone()),
            customer_id: other.clone(),
            channel: "app".into(),
            text: "hello".into(),
            actor: "test".into(),
            now: now(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, ConversationError::NotYours(_)), "{err}");
    assert!(
        a.conversation(&r.conversation_id, Some(&other))
            .await
            .is_err()
    );

    // Bad input is named.
    for (text, channel, field) in [("   ", "app", "text"), ("hi", "pigeon", "channel")] {
        let err = a
            .message(Incoming {
                conversation_id: None,
                customer_id: who.clone(),
                channel: channel.into(),
                text: text.into(),
                actor: "test".into(),
                now: now(),
            })
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConversationError::Invalid { field: f, .. } if f == field),
            "{err}"
        );
    }
    let long = "a".repeat(sextant_conversation::MAX_MESSAGE_CHARS + 1);
    assert!(
        a.message(Incoming {
            conversation_id: None,
            customer_id: who.clone(),
            channel: "app".into(),
            text: long,
            actor: "t".into(),
            now: now()
        })
        .await
        .is_err()
    );

    // Without profiling consent the profile's rolling sentiment is left alone.
    let before = db
        .store
        .get_customer(&who)
        .await
        .unwrap()
        .unwrap()
        .sentiment_score
        .value();
    say(&a, &who, None, "This is terrible, I hate these fees").await;
    let after = db
        .store
        .get_customer(&who)
        .await
        .unwrap()
        .unwrap()
        .sentiment_score
        .value();
    assert_eq!(before, after);
    consent(&db, &who, true).await;
    say(&a, &who, None, "This is terrible, I hate these fees").await;
    let after = db
        .store
        .get_customer(&who)
        .await
        .unwrap()
        .unwrap()
        .sentiment_score
        .value();
    assert!(after < before, "{before} → {after}");

    // Erasure removes conversations and goals.
    db.store.erase_customer(&who, &[]).await.unwrap();
    assert!(a.conversation(&r.conversation_id, None).await.is_err());
    assert!(
        db.store
            .assistant()
            .goals(who.as_str())
            .await
            .unwrap()
            .is_empty()
    );
}

/// A local model server speaking the OpenAI chat-completions protocol. `mode`: `faithful`
/// rewrites the draft without new facts, `invent` adds a rate, `error` answers 500.
async fn fake_llm(mode: &'static str) -> String {
    use axum::{Json, Router, routing::post};
    async fn complete(
        axum::extract::State(mode): axum::extract::State<&'static str>,
        Json(req): Json<serde_json::Value>,
    ) -> Result<Json<serde_json::Value>, axum::http::StatusCode> {
        let user = req["messages"][1]["content"].as_str().unwrap_or("");
        assert_eq!(req["messages"][0]["role"], "system");
        let draft = user
            .split("Draft reply:\n")
            .nth(1)
            .unwrap_or("")
            .to_string();
        let content = match mode {
            "faithful" => format!("Thanks for asking. {draft}"),
            "invent" => format!("{draft} You will also earn 7.25% a year on it."),
            _ => return Err(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
        };
        Ok(Json(serde_json::json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": req["model"],
            "choices": [{ "index": 0, "finish_reason": "stop",
                          "message": { "role": "assistant", "content": content } }],
        })))
    }
    let app = Router::new()
        .route("/v1/chat/completions", post(complete))
        .with_state(mode);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn language_model_behind_the_fact_guard(db: TestDb) {
    let _dir = bank(&db).await;
    let who = first_customer(&db).await;
    consent(&db, &who, true).await;
    for (mode, backend, outcome) in [
        ("faithful", "llm", "accepted"),
        ("invent", "template", "rejected"),
        ("error", "template", "failed"),
    ] {
        let url = fake_llm(mode).await;
        let llm = LlmConfig {
            base_url: url,
            model: "bank-llm".into(),
            api_key_env: None,
            timeout_ms: 5_000,
            temperature: 0.2,
            ca_file: None,
        };
        let a = assistant(&db, Some(llm)).await;
        let r = say(&a, &who, None, "I want to save for a house in 3 years").await;
        assert_eq!(r.language.backend, backend, "{mode}: {r:?}");
        let o = serde_json::to_value(&r.language.llm).unwrap();
        assert_eq!(o["outcome"], outcome, "{mode}: {o}");
        assert!(
            !r.text.contains("7.25"),
            "{mode}: an invented rate reached the customer: {}",
            r.text
        );
        if mode == "faithful" {
            assert!(r.text.starts_with("Thanks for asking."));
        }
    }
}

on_both_backends!(
    the_four_demo_questions,
    context_scoping_and_validation,
    language_model_behind_the_fact_guard
);

/// Two servers on one database: an edit through one reaches the other's index on refresh.
async fn knowledge_base_edits_reach_other_processes(db: TestDb) {
    let a = assistant(&db, None).await;
    let b = assistant(&db, None).await;
    let doc = sextant_kb::parse_markdown(
        "---\nid: pet-insurance\ntitle: Pet insurance\ntags: [insurance]\n---\n# Pet insurance\n\n## Cover\n\nPet insurance covers vet bills for rabbits and parrots.\n",
    )
    .unwrap();
    a.kb_put(doc, "test").await.unwrap();
    let found = |k: &Assistant| {
        k.kb().search("rabbits and parrots at the vet", 1).unwrap()[0]
            .passage
            .doc_id
            == "pet-insurance"
    };
    assert!(found(&a));
    assert!(!found(&b), "b has not refreshed yet");
    assert_eq!(b.refresh_kb().await.unwrap(), (1, 0));
    assert!(found(&b));
    assert_eq!(
        b.refresh_kb().await.unwrap(),
        (0, 0),
        "nothing changed since"
    );
    a.kb_delete("pet-insurance").await.unwrap();
    assert_eq!(b.refresh_kb().await.unwrap(), (0, 1));
    assert!(b.kb().get("pet-insurance").is_none());
}

on_both_backends!(knowledge_base_edits_reach_other_processes);

/// Counts the texts that reach the model.
struct Counting(Arc<dyn Embed>, std::sync::atomic::AtomicUsize);

impl Embed for Counting {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn model_id(&self) -> &str {
        self.0.model_id()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, sextant_embed::EmbedError> {
        self.1
            .fetch_add(texts.len(), std::sync::atomic::Ordering::SeqCst);
        self.0.embed(texts)
    }
}

/// The second start reads every intent and passage vector from the store; the model only
/// sees what changed (and the customers' questions, which are never cached).
async fn a_restart_reuses_stored_embeddings(db: TestDb) {
    let cfg = AssistantConfig {
        kb_dir: Some(kb_dir()),
        ..Default::default()
    };
    let first = Arc::new(Counting(model(), Default::default()));
    let a = Assistant::open(db.store.clone(), first.clone(), cfg.clone(), vec![], None)
        .await
        .unwrap();
    let computed = first.1.load(std::sync::atomic::Ordering::SeqCst);
    assert!(computed > 300, "intents and passages embedded: {computed}");
    drop(a);
    let second = Arc::new(Counting(model(), Default::default()));
    let b = Assistant::open(db.store.clone(), second.clone(), cfg.clone(), vec![], None)
        .await
        .unwrap();
    assert_eq!(
        second.1.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "everything came from the store"
    );
    // It still answers, and a question reaches the model (and is not stored).
    let _dir = bank(&db).await;
    let who = first_customer(&db).await;
    let r = say(
        &b,
        &who,
        None,
        "What interest does the Easy Access Savings account pay?",
    )
    .await;
    assert_eq!(r.intent, "product_question");
    assert!(second.1.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    let third = Arc::new(Counting(model(), Default::default()));
    Assistant::open(db.store.clone(), third.clone(), cfg, vec![], None)
        .await
        .unwrap();
    assert_eq!(
        third.1.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the question was not cached"
    );
}

on_both_backends!(a_restart_reuses_stored_embeddings);
