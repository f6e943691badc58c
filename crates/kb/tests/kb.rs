//! The knowledge base end to end with the real MiniLM model: the shipped `kb/` folder parses and
//! chunks, search finds the right article, updates and deletes are visible at once, and retrieval
//! on the labelled question set `eval/kb_questions.jsonl` clears hit@3 ≥ 0.90.

use sextant_embed::{Embed, MiniLm};
use sextant_kb::{
    Document, KnowledgeBase, MAX_WORDS, chunk, evaluate, load_dir, load_questions, parse_markdown,
    to_markdown,
};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model() -> Arc<dyn Embed> {
    static M: OnceLock<Arc<MiniLm>> = OnceLock::new();
    M.get_or_init(|| Arc::new(MiniLm::load_default().expect("run scripts/setup-models.sh")))
        .clone()
}

fn docs() -> Vec<Document> {
    load_dir(&root().join("kb")).expect("kb/ loads")
}

/// The whole KB, built once per test binary.
fn full_kb() -> &'static KnowledgeBase {
    static KB: OnceLock<KnowledgeBase> = OnceLock::new();
    KB.get_or_init(|| {
        let kb = KnowledgeBase::new(model()).unwrap();
        let docs = docs();
        let t = Instant::now();
        kb.upsert(&docs).unwrap();
        println!(
            "indexed {} documents, {} passages in {:.2} s",
            docs.len(),
            kb.len(),
            t.elapsed().as_secs_f64()
        );
        kb
    })
}

#[test]
fn every_document_parses_chunks_and_round_trips() {
    let docs = docs();
    assert!((25..=35).contains(&docs.len()), "{} documents", docs.len());
    for d in &docs {
        assert!(!d.tags.is_empty(), "{}: no tags", d.id);
        let h1 = d
            .body
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        assert_eq!(
            h1,
            format!("# {}", d.title),
            "{}: first line should be the title",
            d.id
        );
        assert_eq!(parse_markdown(&to_markdown(d)).unwrap(), *d, "{}", d.id);
        let passages = chunk(d);
        assert!(passages.len() >= 2, "{}: {} passages", d.id, passages.len());
        for p in &passages {
            let words = p.text.split_whitespace().count();
            assert!(
                words <= MAX_WORDS,
                "{} / {}: {words} words",
                d.id,
                p.section
            );
        }
        // Each document has at least one titled section below its H1.
        assert!(passages.iter().any(|p| !p.section.is_empty()), "{}", d.id);
    }
}

#[test]
fn a_stolen_card_question_finds_the_lost_and_stolen_article_first() {
    let kb = full_kb();
    let hits = kb.search("how do I report a stolen card", 5).unwrap();
    for h in &hits {
        println!(
            "{:.4} bm25 {:?} vec {:?} {} / {}",
            h.score, h.bm25_rank, h.vector_rank, h.passage.doc_id, h.passage.section
        );
    }
    assert_eq!(hits.len(), 5);
    assert_eq!(hits[0].passage.doc_id, "lost-stolen-cards");
    assert!(
        hits.windows(2).all(|w| w[0].score >= w[1].score),
        "sorted by fused score"
    );
    assert!(hits[0].bm25_rank.is_some() || hits[0].vector_rank.is_some());
}

#[test]
fn updates_replace_old_text_and_deletes_remove_the_document() {
    let kb = KnowledgeBase::new(model()).unwrap();
    let all = docs();
    let pick = |id: &str| all.iter().find(|d| d.id == id).cloned().unwrap();
    kb.upsert(&[
        pick("lost-stolen-cards"),
        pick("savings-accounts"),
        pick("fees-and-charges"),
    ])
    .unwrap();
    let before = kb.len();
    // One line of the file, so the replacement below cannot miss a line break.
    let old = "The sooner you tell us, the sooner we can stop";
    let hits = kb
        .search(
            "the sooner you tell us the sooner we can stop anyone using it",
            3,
        )
        .unwrap();
    assert!(
        hits.iter().any(|h| h.passage.text.contains(old)),
        "the old text is found before"
    );

    let mut changed = pick("lost-stolen-cards");
    let new = "Our card recovery desk in Zwolle can courier a replacement by pigeon, and will stop";
    assert!(changed.body.contains(old));
    changed.body = changed.body.replace(old, new);
    kb.upsert(std::slice::from_ref(&changed)).unwrap();
    assert_eq!(kb.len(), before, "same shape, same number of passages");
    assert_eq!(kb.get("lost-stolen-cards"), Some(changed));

    let hits = kb
        .search("courier a replacement card by pigeon from Zwolle", 3)
        .unwrap();
    assert_eq!(hits[0].passage.doc_id, "lost-stolen-cards");
    assert!(
        hits[0].passage.text.contains(new),
        "{:?}",
        hits[0].passage.text
    );
    assert_eq!(hits[0].bm25_rank, Some(1));
    let hits = kb
        .search(
            "the sooner you tell us the sooner we can stop anyone using it",
            10,
        )
        .unwrap();
    assert!(
        hits.iter().all(|h| !h.passage.text.contains(old)),
        "old text still indexed"
    );

    assert!(kb.delete("lost-stolen-cards").unwrap());
    assert!(!kb.delete("lost-stolen-cards").unwrap());
    assert!(kb.get("lost-stolen-cards").is_none());
    assert_eq!(kb.documents().len(), 2);
    let hits = kb.search("how do I report a stolen card", 10).unwrap();
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|h| h.passage.doc_id != "lost-stolen-cards"));
}

#[test]
fn the_question_set_is_answered_at_3_in_at_least_90_percent() {
    let kb = full_kb();
    let qs = load_questions(&root().join("eval/kb_questions.jsonl")).unwrap();
    assert!(qs.len() >= 60, "{} questions", qs.len());
    let ids: std::collections::BTreeSet<_> = qs.iter().map(|q| q.doc_id.as_str()).collect();
    assert_eq!(
        ids.len(),
        kb.documents().len(),
        "every document has a question"
    );

    let t = Instant::now();
    let report = evaluate(kb, &qs).unwrap();
    let per_query = t.elapsed().as_secs_f64() * 1000.0 / qs.len() as f64;
    println!("{report}");
    println!("mean search latency {per_query:.1} ms, query embedding included");
    assert!(report.hit_at_3 >= 0.90, "hit@3 {:.3}", report.hit_at_3);
    assert!(report.hit_at_1 <= report.hit_at_3 && report.mrr >= report.hit_at_1);
}
