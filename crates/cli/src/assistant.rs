//! `sextant assistant` (ask, eval, sentiment) and `sextant kb` (list, get, put, delete, search),
//! and attaching the assistant to `serve`.

use crate::config::Config;
use anyhow::{Context, bail};
use clap::Subcommand;
use sextant_embed::{Embed, MiniLm};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Subcommand)]
pub enum AssistantCommand {
    /// Send one message as a customer and print the reply (runs locally against the database).
    Ask {
        #[arg(long)]
        customer: String,
        /// Continue this conversation.
        #[arg(long)]
        conversation: Option<String>,
        #[arg(long, default_value = "app")]
        channel: String,
        /// Print the whole reply as JSON.
        #[arg(long)]
        json: bool,
        text: String,
    },
    /// Measure intent accuracy, entity accuracy and knowledge-base retrieval (hit@1, hit@3).
    Eval {
        /// Labelled utterances (JSON Lines `{"text", "intent", ...}`); the held-out set was written
        /// after the classifier was built, by someone who saw neither it nor the first set.
        #[arg(long, num_args = 1.., default_values = ["eval/intents.jsonl", "eval/intents_holdout.jsonl"])]
        intents: Vec<PathBuf>,
        #[arg(long, default_value = "kb")]
        kb: PathBuf,
        /// Question files (JSON Lines `{"question", "doc_id"}`); the second, held-out set was
        /// written by someone who saw neither the retriever nor the first set.
        #[arg(long, num_args = 1.., default_values = ["eval/kb_questions.jsonl", "eval/kb_questions_holdout.jsonl"])]
        questions: Vec<PathBuf>,
        /// Also list every miss.
        #[arg(long)]
        misses: bool,
    },
    /// Score the sentiment of every stored message that has none (imports carry none), or of
    /// one text given with --text.
    Sentiment {
        #[arg(long)]
        text: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum KbCommand {
    /// List the documents.
    List,
    /// Print one document as Markdown.
    Get { id: String },
    /// Add or replace documents from Markdown files (front matter: id, title, tags), or every
    /// `*.md` in a folder.
    Put { paths: Vec<PathBuf> },
    /// Delete a document.
    Delete { id: String },
    /// Search: the passages an answer would cite.
    Search {
        query: String,
        #[arg(short, default_value_t = 3)]
        k: usize,
    },
}

pub(crate) fn load_model(cfg: &Config) -> anyhow::Result<Arc<dyn Embed>> {
    let dir = cfg
        .assistant
        .model_dir
        .clone()
        .unwrap_or_else(sextant_embed::default_model_dir);
    let m = MiniLm::load(&dir).context(
        "the assistant needs the embedding model ([assistant] enabled = false turns it off)",
    )?;
    Ok(Arc::new(m))
}

/// Load the model and start the assistant on `state`.
pub(crate) async fn attach(
    cfg: &Config,
    state: sextant_server::AppState,
) -> anyhow::Result<sextant_server::AppState> {
    let model = {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || load_model(&cfg)).await??
    };
    let started = std::time::Instant::now();
    let state = state
        .with_assistant(model, cfg.assistant.clone())
        .await
        .context("starting the assistant")?;
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        "assistant started"
    );
    Ok(state)
}

async fn local_state(cfg: &Config) -> anyhow::Result<sextant_server::AppState> {
    let store = crate::open(cfg).await?;
    let master = crate::secrets::load(cfg)?;
    let rules = crate::recommend::rules_text(cfg, None)?;
    let state = sextant_server::AppState::new(store, cfg.server.clone(), &master).with_rules(rules);
    attach(cfg, state).await
}

pub async fn run(cfg: &Config, cmd: AssistantCommand) -> anyhow::Result<()> {
    match cmd {
        AssistantCommand::Ask {
            customer,
            conversation,
            channel,
            json,
            text,
        } => {
            let state = local_state(cfg).await?;
            let a = state.assistant.clone().expect("attached");
            let id = sextant_core::CustomerId::parse(&customer)
                .map_err(|e| anyhow::anyhow!("--customer: {e}"))?;
            let reply = a
                .message(sextant_conversation::Incoming {
                    conversation_id: conversation,
                    customer_id: id,
                    channel,
                    text,
                    actor: "cli".into(),
                    now: chrono::Utc::now(),
                })
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&reply)?);
            } else {
                print_reply(&reply);
            }
            Ok(())
        }
        AssistantCommand::Eval {
            intents,
            kb,
            questions,
            misses,
        } => eval(cfg, &intents, &kb, &questions, misses),
        AssistantCommand::Sentiment { text: Some(t) } => {
            let s = sextant_assistant::sentiment::score(&t);
            println!("{}", serde_json::to_string_pretty(&s)?);
            Ok(())
        }
        AssistantCommand::Sentiment { text: None } => {
            let store = crate::open(cfg).await?;
            let n = sextant_conversation::score_unscored(store.as_ref()).await?;
            println!("scored {n} messages");
            Ok(())
        }
    }
}

pub(crate) fn print_reply(r: &sextant_conversation::Reply) {
    println!(
        "[{} · {:.2} · sentiment {:+.2}] {}",
        r.intent, r.confidence, r.sentiment, r.text
    );
    for c in &r.citations {
        println!("    cites: {} › {} ({})", c.title, c.section, c.doc_id);
    }
    if let Some(g) = &r.goal {
        println!("    goal {}: roadmap {}", g.id, g.roadmap_url);
    }
    for o in &r.offers {
        println!(
            "    offer: {} ({}) decision {}",
            o.product_name, o.product_id, o.decision_id
        );
    }
    if let Some(h) = &r.handoff {
        println!(
            "    handed to a person: review {} ({})",
            h.review_id, h.reason
        );
    }
    println!("    conversation {}", r.conversation_id);
}

fn eval(
    cfg: &Config,
    intent_files: &[PathBuf],
    kb: &Path,
    questions: &[PathBuf],
    misses: bool,
) -> anyhow::Result<()> {
    let model = load_model(cfg)?;
    let started = std::time::Instant::now();
    for intents in intent_files {
        intent_report(model.as_ref(), intents, misses)?;
    }
    let reports = sextant_conversation::eval::evaluate_retrieval(model, kb, questions)?;
    for (file, k) in questions.iter().zip(&reports) {
        println!(
            "retrieval on {}: {} questions: hit@1 {:.1}%  hit@3 {:.1}%  MRR {:.3}",
            file.display(),
            k.questions,
            k.hit_at_1 * 100.0,
            k.hit_at_3 * 100.0,
            k.mrr
        );
        if misses {
            for (q, top) in &k.misses {
                println!("  miss: {q:?} → {}", top.join(", "));
            }
        }
    }
    println!("({:.1} s)", started.elapsed().as_secs_f64());
    Ok(())
}

fn intent_report(model: &dyn Embed, intents: &Path, misses: bool) -> anyhow::Result<()> {
    let r = sextant_conversation::eval::evaluate_intents(model, intents)?;
    println!(
        "intents: {}/{} correct = {:.1}% on {}",
        r.correct,
        r.utterances,
        r.accuracy * 100.0,
        intents.display()
    );
    for (intent, (ok, n)) in &r.per_intent {
        println!(
            "  {intent:<24} {ok:>3}/{n:<3} {:.1}%",
            *ok as f64 / (*n).max(1) as f64 * 100.0
        );
    }
    for (field, (ok, n)) in &r.entities {
        println!(
            "  entity {field:<17} {ok:>3}/{n:<3} {:.1}%",
            *ok as f64 / (*n).max(1) as f64 * 100.0
        );
    }
    if !r.confusion.is_empty() {
        println!(
            "  confusions: {}",
            r.confusion
                .iter()
                .map(|(k, v)| format!("{k} ×{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if misses {
        for (t, e, p) in &r.misses {
            println!("  miss: {t:?} expected {e}, got {p}");
        }
    }
    Ok(())
}

pub async fn kb(cfg: &Config, cmd: KbCommand) -> anyhow::Result<()> {
    let store = crate::open(cfg).await?;
    let a = store.assistant();
    match cmd {
        KbCommand::List => {
            for d in a.kb_list().await? {
                println!("{:<32} v{:<3} {}", d.id, d.version, d.title);
            }
            Ok(())
        }
        KbCommand::Get { id } => {
            let d = a
                .kb_get(&id)
                .await?
                .with_context(|| format!("no document '{id}'"))?;
            print!(
                "{}",
                sextant_kb::to_markdown(&sextant_kb::Document {
                    id: d.id,
                    title: d.title,
                    tags: d.tags,
                    body: d.body
                })
            );
            Ok(())
        }
        KbCommand::Put { paths } => {
            let mut docs = Vec::new();
            for p in &paths {
                if p.is_dir() {
                    docs.extend(sextant_kb::load_dir(p)?);
                } else {
                    let text = std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?;
                    docs.push(
                        sextant_kb::parse_markdown(&text)
                            .with_context(|| p.display().to_string())?,
                    );
                }
            }
            if docs.is_empty() {
                bail!("no documents given");
            }
            for d in docs {
                let v = a
                    .kb_put(&sextant_store::KbDocumentRow {
                        id: d.id.clone(),
                        title: d.title,
                        tags: d.tags,
                        body: d.body,
                        version: 0,
                        updated_at: sextant_store::now_micros(),
                        updated_by: "cli".into(),
                    })
                    .await?;
                store
                    .append_audit(sextant_core::AuditRecord {
                        actor: "cli".into(),
                        action: "kb.put".into(),
                        subject: d.id.clone(),
                        details: serde_json::json!({ "version": v }),
                    })
                    .await?;
                println!("{} v{v}", d.id);
            }
            println!("(running servers pick this up within [assistant] kb_refresh_secs)");
            Ok(())
        }
        KbCommand::Delete { id } => {
            if !a.kb_delete(&id).await? {
                bail!("no document '{id}'");
            }
            store
                .append_audit(sextant_core::AuditRecord {
                    actor: "cli".into(),
                    action: "kb.delete".into(),
                    subject: id.clone(),
                    details: serde_json::json!({}),
                })
                .await?;
            println!("deleted {id}");
            Ok(())
        }
        KbCommand::Search { query, k } => {
            if !(1..=10).contains(&k) {
                bail!("-k: {k} is not between 1 and 10");
            }
            let model = load_model(cfg)?;
            let kb = sextant_kb::KnowledgeBase::new(model)?;
            let docs: Vec<sextant_kb::Document> = a
                .kb_list()
                .await?
                .into_iter()
                .map(|d| sextant_kb::Document {
                    id: d.id,
                    title: d.title,
                    tags: d.tags,
                    body: d.body,
                })
                .collect();
            kb.upsert(&docs)?;
            for h in kb.search(&query, k)? {
                println!(
                    "{:.4}  {} › {}  ({})",
                    h.score, h.passage.title, h.passage.section, h.passage.doc_id
                );
                println!("        {}", sextant_core::text::preview(&h.passage.text));
            }
            Ok(())
        }
    }
}

/// `sextant bench assistant`: latency of each message type through the whole assistant, and
/// embedding throughput, on the configured database.
pub async fn bench(cfg: &Config, conversations: usize) -> anyhow::Result<()> {
    if conversations == 0 {
        bail!("--conversations: must be at least 1");
    }
    let model = {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || load_model(&cfg)).await??
    };
    // Embedding throughput first (no cache hits: distinct sentences).
    let sentences: Vec<String> = (0..256)
        .map(|i| format!("how much did I spend on item number {i} in the shop last month"))
        .collect();
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let t = std::time::Instant::now();
    for s in &refs[..64] {
        model.embed_one(s)?;
    }
    let single = t.elapsed().as_secs_f64() / 64.0;
    let t = std::time::Instant::now();
    model.embed(&refs[64..])?;
    let batched = t.elapsed().as_secs_f64() / 192.0;
    println!(
        "embedding: {:.2} ms per sentence alone, {:.2} ms per sentence in batches of 32",
        single * 1e3,
        batched * 1e3
    );

    let state = local_state(cfg).await?;
    let a = state.assistant.clone().expect("attached");
    let store = state.store.clone();
    let mut who = Vec::new();
    let mut after: Option<sextant_core::CustomerId> = None;
    'outer: loop {
        let page = store.list_customers(after.as_ref(), 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for c in page {
            let ok = store
                .consent_state(&c.id, &cfg.server.consent_defaults)
                .await?
                .is_some_and(|s| s.allows(sextant_core::ConsentPurpose::Profiling));
            if ok {
                who.push(c.id);
                if who.len() == conversations {
                    break 'outer;
                }
            }
        }
    }
    if who.is_empty() {
        bail!("no customer with profiling consent in {}", cfg.database);
    }
    let script = [
        ("goal plan", "I want to save for a house in 3 years"),
        (
            "product question",
            "What interest does the Easy Access Savings account pay?",
        ),
        (
            "spending question",
            "How much did I spend on restaurants last month?",
        ),
        ("greeting", "thanks, bye"),
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); script.len()];
    for c in &who {
        let mut conv = None;
        for (i, (_, text)) in script.iter().enumerate() {
            let t = std::time::Instant::now();
            let r = a
                .message(sextant_conversation::Incoming {
                    conversation_id: conv.clone(),
                    customer_id: c.clone(),
                    channel: "app".into(),
                    // A distinct text per customer defeats the embedding cache (letters only,
                    // so no number is read as an amount).
                    text: format!("{text} (ref {})", letters(c.as_str())),
                    actor: "bench".into(),
                    now: chrono::Utc::now(),
                })
                .await?;
            times[i].push(t.elapsed().as_secs_f64() * 1e3);
            conv = Some(r.conversation_id);
        }
    }
    println!(
        "assistant: {} conversations on {} ({})",
        who.len(),
        crate::redact(&cfg.database),
        store.backend().as_str()
    );
    for ((name, _), t) in script.iter().zip(times.iter_mut()) {
        t.sort_by(f64::total_cmp);
        let q = |p: f64| t[((t.len() as f64 - 1.0) * p).round() as usize];
        println!(
            "  {name:<18} p50 {:>7.1} ms  p99 {:>7.1} ms",
            q(0.5),
            q(0.99)
        );
    }
    Ok(())
}

fn letters(id: &str) -> String {
    id.chars()
        .map(|ch| match ch.to_digit(36) {
            Some(d) => (b'a' + (d % 26) as u8) as char,
            None => 'x',
        })
        .collect()
}
